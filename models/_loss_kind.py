"""What a loss compares a model's output with: the one question a zoo model asks about its loss.

Models accept a loss by its kind, decided here by isinstance against refzoo's classes and torch's:

    class_index    scores (N, C) against class indices     cross_entropy, nll, multi_margin
    binary_logit   one logit against 0/1 targets           bce_with_logits
    probability    probabilities against 0/1 or [0, 1]     bce
    regression     a value against a target value          mse, l1, huber (and torch's SmoothL1Loss)
    margin         a score against -1/1 (or 0/1) labels    hinge
    distribution   log-probabilities against a target      kl_div
    elbo           the VAE's reconstruction + KL           vae
"""
from __future__ import annotations

from torch import nn

import losses

KINDS: dict[str, tuple[type, ...]] = {
    "class_index": (losses.CrossEntropyLoss, losses.NLLLoss, losses.MultiMarginLoss,
                    nn.CrossEntropyLoss, nn.NLLLoss, nn.MultiMarginLoss),
    "binary_logit": (losses.BCEWithLogitsLoss, nn.BCEWithLogitsLoss),
    "probability": (losses.BCELoss, nn.BCELoss),
    "regression": (losses.MSELoss, losses.L1Loss, losses.HuberLoss,
                   nn.MSELoss, nn.L1Loss, nn.HuberLoss, nn.SmoothL1Loss),
    "margin": (losses.HingeLoss,),
    "distribution": (losses.KLDivLoss, nn.KLDivLoss),
    "elbo": (losses.VAELoss,),
}


def loss_kind(loss: object) -> str | None:
    """The kind of `loss` (a key of KINDS), or None for a loss refzoo does not know."""
    for kind, classes in KINDS.items():
        if isinstance(loss, classes):
            return kind
    return None


def require_loss_kind(loss: object, kinds: tuple[str, ...], model: str, allowed: str) -> str:
    """The loss's kind when it is one of `kinds`; otherwise one ValueError naming the model and the allowed losses."""
    kind = loss_kind(loss)
    if kind not in kinds:
        raise ValueError(f"loss={type(loss).__name__} does not fit model={model}; allowed: {allowed}")
    return kind
