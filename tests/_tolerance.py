"""Tolerances for comparing a loss with torch's (shared by the loss test files)."""
from __future__ import annotations

import torch


def tol(reference: torch.Tensor, extreme: bool = False) -> dict:
    if reference.dtype == torch.float64:
        # 1e-12 absolute; at logits of 1e4 one rounding step is already ~2e-12, so a relative
        # allowance of a few ulps is added there
        return dict(atol=1e-12, rtol=1e-14 if extreme else 0.0)
    # float32: torch's own test tolerance (rtol 1.3e-6, atol 1e-5), with atol shrunk for a tensor whose
    # largest finite entry is below 1, so that a gradient of a mean over 2^20 elements (entries ~1e-6)
    # is still compared digit by digit rather than passing any value below 1e-5; never looser than torch's
    finite = reference[torch.isfinite(reference)]
    scale = finite.abs().max().item() if finite.numel() else 0.0
    return dict(atol=1e-5 * min(1.0, scale), rtol=1.3e-6)
