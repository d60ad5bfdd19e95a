"""The cheatsheet's regularization and initialization, as switches every zoo model shares.

Penalties (`model.penalty.l1`, `model.penalty.l2`): l1 * sum|w| + l2 * sum w^2 over the weights,
added to the training loss and logged as train/penalty (models/_penalty.py says what a weight is).

Noise injection (`model.noise.*`), in training only (validation and test see the clean model):

    input_std    x -> x + eps,  eps ~ N(0, input_std^2), on the floating-point inputs of the model's forward
    weight_std   w -> w + eps,  eps ~ N(0, weight_std^2) on every weight, drawn afresh for each training
                 forward; the optimizer updates the clean w, since d loss / d w = d loss / d (w + eps)
    label        label noise is label smoothing: `loss.label_smoothing` (cross_entropy)

Initialization (`model.init`, `model.init_bias`) of every Linear, Conv and ConvTranspose layer, torch's
and refzoo's hand-written ones:

    he_normal       w ~ N(0, 2 / fan_in)                        (the cheatsheet: randn * sqrt(2 / n))
    he_uniform      w ~ U(-b, b),  b = sqrt(6 / fan_in)
    xavier_normal   w ~ N(0, 2 / (fan_in + fan_out))
    xavier_uniform  w ~ U(-b, b),  b = sqrt(6 / (fan_in + fan_out))
    torch           each layer's own default
    init_bias       each such layer's bias set to this constant (the cheatsheet's 0.1); null keeps the layer's
"""
from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import Tensor, nn
from torch.func import functional_call

from ._penalty import INIT_NAMES, layer_classes, weight_penalty, weights

INITS = ("torch", "he_normal", "he_uniform", "xavier_normal", "xavier_uniform")
PENALTY_KEYS = ("l1", "l2")
NOISE_KEYS = ("input_std", "weight_std", "label")


def _number(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not float(value) >= 0.0:
        raise ValueError(f"{key} must be a non-negative number, got {value!r}")
    return float(value)


def _settings(node: Mapping[str, Any] | None, keys: tuple[str, ...], key: str) -> dict[str, Any]:
    if node is None:
        return {}
    if not isinstance(node, Mapping):
        raise ValueError(f"{key} must be a mapping with keys {', '.join(keys)}, got {node!r}")
    unknown = sorted(set(node) - set(keys))
    if unknown:
        raise ValueError(f"{key}: unknown keys {unknown}; allowed: {', '.join(keys)}")
    return {k: v for k, v in node.items() if v is not None}


def check_init(init: Any, init_bias: Any) -> None:
    if init not in INITS:
        raise ValueError(f"model.init must be one of {', '.join(INITS)}; got {init!r}")
    if init_bias is not None and (isinstance(init_bias, bool) or not isinstance(init_bias, (int, float))):
        raise ValueError(f"model.init_bias must be a number or null, got {init_bias!r}")


def initialize(module: nn.Module, init: str = "torch", init_bias: float | None = None) -> None:
    """Set every Linear/Conv/ConvTranspose weight by `init` and its bias to `init_bias` (torch.nn.init)."""
    check_init(init, init_bias)
    fill = {"torch": None,
            # fan_in mode with the ReLU gain sqrt(2): std = sqrt(2 / fan_in), bound = sqrt(6 / fan_in)
            "he_normal": lambda w: nn.init.kaiming_normal_(w, mode="fan_in", nonlinearity="relu"),
            "he_uniform": lambda w: nn.init.kaiming_uniform_(w, mode="fan_in", nonlinearity="relu"),
            "xavier_normal": nn.init.xavier_normal_,
            "xavier_uniform": nn.init.xavier_uniform_}[init]
    kinds = layer_classes(INIT_NAMES)
    for layer in module.modules():
        if not isinstance(layer, kinds):
            continue
        if fill is not None:
            fill(layer.weight)
        if init_bias is not None and getattr(layer, "bias", None) is not None:
            nn.init.constant_(layer.bias, float(init_bias))


class InputNoise:
    """Forward pre-hook: x + N(0, std^2) on each floating-point input while the model trains."""

    def __init__(self, std: float):
        self.std = std

    def __call__(self, module: nn.Module, args: tuple) -> tuple | None:
        if not module.training:
            return None
        if not any(torch.is_tensor(a) and a.is_floating_point() for a in args):
            raise ValueError(f"model.noise.input_std={self.std} adds noise to floating-point inputs, but "
                             f"{type(module).__name__} reads integer codes here (data=names: use "
                             f"data.augment.deletion_p instead)")
        return tuple(a + self.std * torch.randn_like(a) if torch.is_tensor(a) and a.is_floating_point() else a
                     for a in args)


class _TrainingLoss(nn.Module):
    """A model's `training_loss` as a forward, so torch.func.functional_call can run it with other weights."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, batch: Any) -> tuple[Tensor, int]:
        return self.model.training_loss(batch)


class Regularization:
    """A model's penalty, noise and init settings, checked once; the zoo's base class calls it."""

    def __init__(self, penalty: Mapping[str, Any] | None = None, noise: Mapping[str, Any] | None = None,
                 init: str = "torch", init_bias: float | None = None):
        p = _settings(penalty, PENALTY_KEYS, "model.penalty")
        n = _settings(noise, NOISE_KEYS, "model.noise")
        self.l1 = _number(p.get("l1", 0.0), "model.penalty.l1")
        self.l2 = _number(p.get("l2", 0.0), "model.penalty.l2")
        self.input_std = _number(n.get("input_std", 0.0), "model.noise.input_std")
        self.weight_std = _number(n.get("weight_std", 0.0), "model.noise.weight_std")
        if n.get("label"):
            raise ValueError(f"model.noise.label={n['label']!r}: label noise is label smoothing; set "
                             f"loss.label_smoothing={n['label']} (loss=cross_entropy) and leave model.noise.label null")
        check_init(init, init_bias)
        self.init, self.init_bias = init, init_bias

    @property
    def penalized(self) -> bool:
        return bool(self.l1 or self.l2)

    def attach(self, model: nn.Module) -> None:
        """Initialize the model's layers and hook the input noise; call once its layers exist."""
        initialize(model, self.init, self.init_bias)
        if self.input_std:
            model.register_forward_pre_hook(InputNoise(self.input_std))

    def penalty(self, model: nn.Module) -> Tensor | None:
        return weight_penalty(weights(model), self.l1, self.l2)

    def noisy_weights(self, model: nn.Module) -> dict[str, Tensor]:
        """{name: w + N(0, weight_std^2)} for every weight, under the names functional_call looks them up by."""
        chosen = {id(w) for w in weights(model)}
        return {f"model.{name}": p + self.weight_std * torch.randn_like(p)
                for name, p in model.named_parameters() if id(p) in chosen}

    def training_loss(self, model: nn.Module, batch: Any) -> tuple[Tensor, int, Tensor | None]:
        """(data loss, samples, penalty or None); with weight noise, the data loss of the noisy weights."""
        if self.weight_std and model.training:
            # tie_weights=False: a module registered under two names (LogisticRegression.linear is net[1]) is one
            # object, set once; with tying, torch restored such an alias to the noisy tensor
            loss, n = functional_call(_TrainingLoss(model), self.noisy_weights(model), (batch,), tie_weights=False)
        else:
            loss, n = model.training_loss(batch)
        return loss, n, self.penalty(model)
