"""Mixed precision (torch.autocast): losses and activations follow torch's rules.

Losses: computed in float32 with autocast off, so the value is torch's float32 loss of the upcast
inputs, the result is float32 and input gradients come back in the inputs' dtype. Activations:
elementwise ones round a float32 result once to the input's dtype; Softmax, LogSoftmax and
Softplus return float32. Every model trains a step under Lightning's precision="bf16-mixed".
Run on CPU with bfloat16; on CUDA, when there is a GPU, with bfloat16 and float16 as well.
"""
from __future__ import annotations

import copy
import math

import pytest
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

import activations as A
import losses as L
from conftest import names_dir
from train import train

BF16 = torch.bfloat16
# deselected by default (pyproject addopts); `make test-gpu` runs them on a machine with CUDA
CUDA = pytest.mark.gpu
# (device, autocast's low-precision dtype, which the test inputs take as well)
DEVICES = [pytest.param("cpu", BF16, id="cpu-bf16"),
           pytest.param("cuda", BF16, id="cuda-bf16", marks=CUDA),
           pytest.param("cuda", torch.float16, id="cuda-fp16", marks=CUDA)]


def autocast(device: str, low: torch.dtype):
    return torch.autocast(device, dtype=low)


def on(device: str, low: torch.dtype, t: torch.Tensor) -> torch.Tensor:
    """t on `device`, floating values in `low` (the cases are written in bfloat16)."""
    return t.to(device, low) if t.is_floating_point() else t.to(device)


def tol(reference: torch.Tensor) -> dict:
    """float32 tolerance as in test_losses.py: 1e-6 relative, or relative to the largest entry."""
    finite = reference[torch.isfinite(reference)]
    scale = finite.abs().max().item() if finite.numel() else 0.0
    return dict(atol=1e-6 * scale, rtol=1e-6)


def bf16(*shape: int, seed: int, scale: float = 1.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(*shape, generator=g) * scale).to(BF16)


def probs(*shape: int, seed: int) -> torch.Tensor:
    """bfloat16 values in (0, 1), away from the ends (where BCE's derivative is steep)."""
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(*shape, generator=g) * 0.9 + 0.05).to(BF16)


def labels(*shape: int, classes: int, seed: int) -> torch.Tensor:
    return torch.randint(0, classes, shape, generator=torch.Generator().manual_seed(seed))


W5 = torch.tensor([0.5, 1.0, 2.0, 0.25, 1.5])


def _kl(mu, logvar):
    return (-0.5 * (1 + logvar - mu.square() - logvar.exp())).sum(1).mean()


def _hinge(x, y, margin=0.5):
    sign = torch.where(y == 0, -1, y).to(x.dtype)
    return torch.clamp(margin - sign * x, min=0).mean()


def _spatial_targets():
    t = labels(4, 3, classes=5, seed=9)
    t[0, 1] = -100  # ignored
    return t


# (id, our loss, torch's loss on float32 tensors, inputs (floating ones bfloat16), inputs to differentiate)
LOSS_CASES = [
    ("mse", lambda: L.MSELoss(), nn.MSELoss(), lambda: [bf16(6, 5, seed=0), bf16(6, 5, seed=1)], (0, 1)),
    ("l1-sum", lambda: L.L1Loss(reduction="sum"), nn.L1Loss(reduction="sum"),
     lambda: [bf16(6, 5, seed=0), bf16(6, 5, seed=1)], (0, 1)),
    ("huber-none", lambda: L.HuberLoss(reduction="none", delta=0.5), nn.HuberLoss(reduction="none", delta=0.5),
     lambda: [bf16(6, 5, seed=0), bf16(6, 5, seed=1)], (0, 1)),
    ("ce-index-weight-smooth", lambda: L.CrossEntropyLoss(weight=W5.clone(), label_smoothing=0.1),
     nn.CrossEntropyLoss(weight=W5.clone(), label_smoothing=0.1),
     lambda: [bf16(8, 5, seed=2, scale=3), labels(8, classes=5, seed=3)], (0,)),
    ("ce-probs", lambda: L.CrossEntropyLoss(), nn.CrossEntropyLoss(),
     lambda: [bf16(8, 5, seed=2, scale=3), bf16(8, 5, seed=4).float().softmax(1).to(BF16)], (0, 1)),
    ("ce-spatial-none", lambda: L.CrossEntropyLoss(reduction="none"), nn.CrossEntropyLoss(reduction="none"),
     lambda: [bf16(4, 5, 3, seed=5, scale=2), _spatial_targets()], (0,)),
    ("nll-weight", lambda: L.NLLLoss(weight=W5.clone()), nn.NLLLoss(weight=W5.clone()),
     lambda: [bf16(8, 5, seed=6).float().log_softmax(1).to(BF16), labels(8, classes=5, seed=7)], (0,)),
    ("bce-weight", lambda: L.BCELoss(weight=W5.clone()), nn.BCELoss(weight=W5.clone()),
     lambda: [probs(6, 5, seed=8), probs(6, 5, seed=9)], (0, 1)),
    ("bce-logits-pos-weight", lambda: L.BCEWithLogitsLoss(pos_weight=W5.clone()),
     nn.BCEWithLogitsLoss(pos_weight=W5.clone()), lambda: [bf16(6, 5, seed=10, scale=3), probs(6, 5, seed=11)],
     (0, 1)),
    ("hinge", lambda: L.HingeLoss(margin=0.5), _hinge,
     lambda: [bf16(6, 5, seed=12), labels(6, 5, classes=2, seed=13)], (0,)),
    ("multi-margin-p1-weight", lambda: L.MultiMarginLoss(weight=W5.clone()), nn.MultiMarginLoss(weight=W5.clone()),
     lambda: [bf16(8, 5, seed=14), labels(8, classes=5, seed=15)], (0,)),
    ("multi-margin-p2-sum", lambda: L.MultiMarginLoss(p=2, margin=0.7, reduction="sum"),
     nn.MultiMarginLoss(p=2, margin=0.7, reduction="sum"), lambda: [bf16(8, 5, seed=14), labels(8, classes=5, seed=15)],
     (0,)),
    ("kl-batchmean", lambda: L.KLDivLoss(reduction="batchmean"), nn.KLDivLoss(reduction="batchmean"),
     lambda: [bf16(6, 5, seed=16).float().log_softmax(1).to(BF16), probs(6, 5, seed=17)], (0, 1)),
    ("kl-log-target-sum", lambda: L.KLDivLoss(reduction="sum", log_target=True),
     nn.KLDivLoss(reduction="sum", log_target=True),
     lambda: [bf16(6, 5, seed=16).float().log_softmax(1).to(BF16),
              bf16(6, 5, seed=18).float().log_softmax(1).to(BF16)], (0, 1)),
    ("vae-bce", lambda: L.VAELoss(), lambda r, x, mu, lv: F.binary_cross_entropy(r.reshape(x.shape), x,
                                                                               reduction="sum") / 4 + _kl(mu, lv),
     lambda: [probs(4, 16, seed=19), probs(4, 1, 4, 4, seed=20), bf16(4, 3, seed=21), bf16(4, 3, seed=22)],
     (0, 1, 2, 3)),
    ("vae-logits", lambda: L.VAELoss(logits=True, beta=0.5),
     lambda r, x, mu, lv: F.binary_cross_entropy_with_logits(r.reshape(x.shape), x, reduction="sum") / 4
     + 0.5 * _kl(mu, lv),
     lambda: [bf16(4, 16, seed=19, scale=2), probs(4, 1, 4, 4, seed=20), bf16(4, 3, seed=21), bf16(4, 3, seed=22)],
     (0, 2, 3)),
    ("vae-mse", lambda: L.VAELoss(reconstruction="mse", beta=2.0),
     lambda r, x, mu, lv: F.mse_loss(r.reshape(x.shape), x, reduction="sum") / 4 + 2.0 * _kl(mu, lv),
     lambda: [bf16(4, 16, seed=19), bf16(4, 1, 4, 4, seed=20), bf16(4, 3, seed=21), bf16(4, 3, seed=22)],
     (0, 1, 2, 3)),
]


def _loss_and_grads(fn, inputs, grad_of, autocast_to: tuple[str, torch.dtype] | None):
    leaves = [t.detach().clone().requires_grad_(i in grad_of) for i, t in enumerate(inputs)]
    if autocast_to:
        with autocast(*autocast_to):
            out = fn(*leaves)
    else:
        out = fn(*leaves)
    # the backward runs outside the autocast region, as Lightning's automatic optimization does
    upstream = torch.rand(out.shape, generator=torch.Generator().manual_seed(99)) + 0.5
    grads = torch.autograd.grad(out, [leaves[i] for i in grad_of], upstream.to(out.device, out.dtype))
    return out.detach(), grads


@pytest.mark.parametrize("device,low", DEVICES)
@pytest.mark.parametrize("name,ours,theirs,make_inputs,grad_of", LOSS_CASES, ids=[c[0] for c in LOSS_CASES])
def test_loss_under_autocast_is_torchs_float32_loss(name, ours, theirs, make_inputs, grad_of, device, low):
    inputs = [on(device, low, t) for t in make_inputs()]
    upcast = [t.float() if t.is_floating_point() else t for t in inputs]
    ours = ours().to(device)
    theirs = copy.deepcopy(theirs).to(device) if isinstance(theirs, nn.Module) else theirs
    # low-precision inputs: a float32 result, gradients in the inputs' dtype
    out, grads = _loss_and_grads(ours, inputs, grad_of, (device, low))
    assert out.dtype == torch.float32
    assert [g.dtype for g in grads] == [low] * len(grad_of)
    # the same values given as float32: what the loss computes after its upcast, gradients before
    # they are rounded to the inputs' dtype
    out32, grads32 = _loss_and_grads(ours, upcast, grad_of, (device, low))
    assert torch.equal(out, out32)
    for g, g32 in zip(grads, grads32):
        assert torch.equal(g, g32.to(low))
    # both equal torch's loss of the upcast inputs, outside autocast, to float32 precision
    want, want_grads = _loss_and_grads(theirs, upcast, grad_of, None)
    assert out32.dtype == want.dtype and out32.shape == want.shape
    torch.testing.assert_close(out32, want, **tol(want))
    for i, g32, w in zip(grad_of, grads32, want_grads):
        torch.testing.assert_close(g32, w, **tol(w), msg=lambda m: f"{name} grad of input {i}: {m}")


def test_loss_outside_autocast_keeps_the_input_dtype():
    """Only autocast upcasts: a bfloat16 loss computed without it stays bfloat16, as torch's does."""
    x, y = bf16(6, 5, seed=0), bf16(6, 5, seed=1)
    assert L.MSELoss()(x, y).dtype == F.mse_loss(x, y).dtype == BF16


# --- activations -----------------------------------------------------------------------------------------
# (id, our module, torch's function, the dtype under autocast: "input" or float32)
ACT_CASES = [
    ("linear", lambda: A.LinearActivation(0.3), lambda z: 0.3 * z, "input"),
    ("relu", lambda: A.ReLU(), F.relu, "input"),
    ("leaky_relu", lambda: A.LeakyReLU(0.2), lambda z: F.leaky_relu(z, 0.2), "input"),
    ("leaky_relu-1.5", lambda: A.LeakyReLU(1.5), lambda z: F.leaky_relu(z, 1.5), "input"),
    ("elu", lambda: A.ELU(), F.elu, "input"),
    ("elu-1.5", lambda: A.ELU(1.5), lambda z: F.elu(z, 1.5), "input"),
    ("sigmoid", lambda: A.Sigmoid(), torch.sigmoid, "input"),
    ("tanh", lambda: A.Tanh(), torch.tanh, "input"),
    ("gelu", lambda: A.GELU(), F.gelu, "input"),
    ("gelu-tanh", lambda: A.GELU("tanh"), lambda z: F.gelu(z, approximate="tanh"), "input"),
    ("silu", lambda: A.SiLU(), F.silu, "input"),
    ("softmax", lambda: A.Softmax(dim=1), lambda z: torch.softmax(z, 1), torch.float32),
    ("log_softmax", lambda: A.LogSoftmax(dim=0), lambda z: torch.log_softmax(z, 0), torch.float32),
    ("softplus", lambda: A.Softplus(), F.softplus, torch.float32),
    ("softplus-b2-t5", lambda: A.Softplus(2.0, 5.0), lambda z: F.softplus(z, 2.0, 5.0), torch.float32),
]
ACT_IDS = [c[0] for c in ACT_CASES]
SHAPE = (16, 33)


def _act_value_and_grad(module, z, upstream, autocast_to: tuple[str, torch.dtype] | None):
    z = z.detach().clone().requires_grad_(True)
    if autocast_to:
        with autocast(*autocast_to):
            out = module(z)
    else:
        out = module(z)
    (grad,) = torch.autograd.grad(out, z, upstream.to(out.dtype))
    return out.detach(), grad


def _act_inputs(device: str, low: torch.dtype, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(z, upstream gradient), both in `low`: so the upstream is the same whatever the output's dtype."""
    z = on(device, low, bf16(*SHAPE, seed=seed, scale=4))
    upstream = torch.rand(SHAPE, generator=torch.Generator().manual_seed(seed + 1)) + 0.5
    return z, upstream.to(device, low)


@pytest.mark.parametrize("device,low", DEVICES)
@pytest.mark.parametrize("name,ours,theirs,policy", ACT_CASES, ids=ACT_IDS)
def test_activation_under_autocast(name, ours, theirs, policy, device, low):
    z, upstream = _act_inputs(device, low, seed=0)
    module = ours()
    out, grad = _act_value_and_grad(module, z, upstream, (device, low))
    assert out.dtype == (low if policy == "input" else policy)
    assert grad.dtype == low
    # one rounding: exactly the float32 formula's result (and gradient) rounded to out's dtype
    out32, grad32 = _act_value_and_grad(module, z.float(), upstream, None)
    assert torch.equal(out, out32.to(out.dtype)), name
    assert torch.equal(grad, grad32.to(low)), name
    # and torch's float32 answer within low-precision rounding
    want, want_grad = _act_value_and_grad(theirs, z.float(), upstream, None)
    torch.testing.assert_close(out.float(), want, rtol=1e-2, atol=1e-5)
    torch.testing.assert_close(grad.float(), want_grad, rtol=1e-2, atol=1e-5)


class _OpLog(TorchFunctionMode):
    """Records (op name, dtypes of its tensor arguments, autocast on for `device`?) for each torch call."""

    def __init__(self, device: str = "cpu") -> None:
        super().__init__()
        self.device = device
        self.calls: list[tuple[str, list[torch.dtype], bool]] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", str(func))
        if name != "__get__":  # attribute reads (.dtype, .device) compute nothing
            dtypes = [a.dtype for a in args if isinstance(a, torch.Tensor)]
            self.calls.append((name, dtypes, torch.is_autocast_enabled(self.device)))
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("device,low", DEVICES)
@pytest.mark.parametrize("name,ours,theirs,policy", ACT_CASES, ids=ACT_IDS)
def test_activation_formula_runs_in_float32_with_autocast_off(name, ours, theirs, policy, device, low):
    """Even where bfloat16 arithmetic happens to give the same answer (ReLU), the formula's ops see
    float32 tensors and no autocast: one upcast on the way in, at most one cast on the way out."""
    module = ours()
    z = on(device, low, bf16(*SHAPE, seed=0)).requires_grad_(True)
    with autocast(device, low), _OpLog(device) as log:
        module(z)
    calls = log.calls
    assert calls[0][:2] == ("float", [low]), calls[:3]
    inner = calls[1:-1] if policy == "input" else calls[1:]
    if policy == "input":
        assert calls[-1][:2] == ("to", [torch.float32]), calls[-3:]
    assert inner, calls
    for op, dtypes, autocast_on in inner:
        # every floating tensor float32 (a bool select mask is no arithmetic)
        floats = [d for d in dtypes if d.is_floating_point]
        assert not autocast_on and floats and all(d == torch.float32 for d in floats), (name, op, dtypes)


@pytest.mark.parametrize("name,ours,theirs,policy", ACT_CASES[:3], ids=ACT_IDS[:3])
def test_activation_outside_autocast_keeps_bfloat16(name, ours, theirs, policy):
    z = bf16(*SHAPE, seed=0)
    with _OpLog() as log:
        out = ours()(z)
    assert out.dtype == BF16 and log.calls[0][1] == [BF16]  # no upcast without autocast


# --- every model trains under Lightning's bf16-mixed ------------------------------------------------------
JUDGE = ["model.judge.epochs=1", "model.judge.min_steps=0"]
MODELS = ["mlp", "cnn", "linear", "logistic", "autoencoder", "vae", "vae_mlp", "gan", "rnn"]
GENERATIVE = {"autoencoder", "vae", "vae_mlp", "gan"}


LOSS_TYPES = tuple(getattr(L, n) for n in L.__all__)
ACT_TYPES = tuple(A.ACTIVATIONS.values())
FLOAT32_ACTS = (A.Softmax, A.LogSoftmax, A.Softplus)


class _DtypeProbe(pl.Callback):
    """Records (module, input dtype, output dtype, rounded once?) for each loss and activation call
    made while autocast is on (forward hooks run outside our decorators, so they see what the model
    sees). "Rounded once": the output equals the float32 formula's result cast to the output dtype."""

    def __init__(self, device: str) -> None:
        self.device = device
        self.calls: list[tuple[nn.Module, torch.dtype, torch.dtype, bool]] = []
        self._hooked: set[int] = set()

    def setup(self, trainer, pl_module, stage):
        for m in pl_module.modules():
            if isinstance(m, LOSS_TYPES + ACT_TYPES) and id(m) not in self._hooked:
                self._hooked.add(id(m))
                m.register_forward_hook(self._record)

    def _record(self, module, args, output):
        if not torch.is_autocast_enabled(self.device):
            return
        once = True
        if isinstance(module, ACT_TYPES):
            with torch.no_grad(), torch.autocast(self.device, enabled=False):
                once = torch.equal(module(args[0].float()).to(output.dtype), output)
        self.calls.append((module, args[0].dtype, output.dtype, once))


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=CUDA)])
@pytest.mark.parametrize("model", MODELS)
def test_model_trains_under_bf16_mixed(make_cfg, tmp_path, model, device):
    """A few steps (conftest's TINY limits) of each model on its default data, the RNN on names:
    finite metrics, every loss the model called under autocast took bfloat16 and gave float32, and
    every activation followed the policy."""
    extra = ["trainer=gpu"] if device == "cuda" else []
    if model in GENERATIVE:  # a one-epoch judge, cached inside tmp_path
        extra += [*JUDGE, f"model.judge.cache_dir={tmp_path / 'cache'}"]
    if model == "rnn":
        extra += ["data=names", f"data.root={names_dir()}", "data.download=false"]
    if model == "linear":
        extra += ["data=diabetes"]
    probe = _DtypeProbe(device)
    metrics = train(make_cfg(f"model={model}", "trainer.precision=bf16-mixed", *extra), extra_callbacks=[probe])
    assert "train/loss" in metrics or "train/loss_g" in metrics, sorted(metrics)
    numbers = {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    bad = {k: v for k, v in numbers.items() if not math.isfinite(v)}
    assert "test/loss" in numbers or "test/fd" in numbers, sorted(metrics)
    assert not bad, bad
    loss_calls = [(type(m).__name__, i, o) for m, i, o, _ in probe.calls if isinstance(m, LOSS_TYPES)]
    assert any(i == BF16 for _, i, _ in loss_calls), loss_calls[:3]  # autocast reached the loss
    assert all(o == torch.float32 for _, _, o in loss_calls), sorted(set(loss_calls))
    for m, i, o, once in probe.calls:
        if isinstance(m, ACT_TYPES):
            assert o == (torch.float32 if isinstance(m, FLOAT32_ACTS) else i), (type(m).__name__, i, o)
            assert once, f"{type(m).__name__}: not the float32 result rounded once"
