"""Tolerances for comparing a loss with torch's (shared by test_losses.py and test_losses_fused.py)."""
from __future__ import annotations

import torch


def tol(reference: torch.Tensor, extreme: bool = False) -> dict:
    if reference.dtype == torch.float64:
        # 1e-12 absolute; at logits of 1e4 one rounding step is already ~2e-12, so a relative
        # allowance of a few ulps is added there
        return dict(atol=1e-12, rtol=1e-14 if extreme else 0.0)
    # float32: 1e-6 relative to each element, or to the tensor's largest finite entry where an
    # element is the difference of two larger numbers (softmax minus target)
    finite = reference[torch.isfinite(reference)]
    scale = finite.abs().max().item() if finite.numel() else 0.0
    return dict(atol=1e-6 * scale, rtol=1e-6)
