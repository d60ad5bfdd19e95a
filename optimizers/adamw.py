"""AdamW: Adam with weight decay decoupled from the gradient statistics."""
from __future__ import annotations

from torch import Tensor

from .adam import Adam


class AdamW(Adam):
    r"""AdamW, a drop-in for ``torch.optim.AdamW``: Adam whose weight decay shrinks the weights
    directly instead of being added to the gradient, so it never enters m or v.

    The cheatsheet's rule, with g the gradient (negated when ``maximize``) and t the step count::

        w = w - lr * weight_decay * w          decoupled decay, before the Adam step
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g^2
        mhat = m / (1 - b1^t);  vhat = v / (1 - b2^t)   (amsgrad: vhat from vmax = max(vmax, v))
        w = w - lr * mhat / (sqrt(vhat) + eps)

    Args: as ``torch.optim.AdamW``: those of :class:`Adam` with weight_decay defaulting to 1e-2 and
    no ``decoupled_weight_decay`` argument (it is always on).
    """

    def __init__(self, params, lr: float | Tensor = 1e-3,
                 betas: tuple[float | Tensor, float | Tensor] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable, differentiable=differentiable,
                         fused=fused, decoupled_weight_decay=True)

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        for group in self.param_groups:  # whatever the loaded dict says, AdamW decouples
            group["decoupled_weight_decay"] = True
