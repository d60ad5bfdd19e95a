"""Sample-quality numbers in a judge classifier's feature space: Frechet distance, confidence, coverage.

Frechet distance between two Gaussians fitted to feature sets (the FID formula, with the zoo's own
small classifier in place of Inception, so nothing is downloaded):

    d^2 = |mu_1 - mu_2|^2 + tr(S_1) + tr(S_2) - 2 tr( (S_1^{1/2} S_2 S_1^{1/2})^{1/2} )

tr((S_1 S_2)^{1/2}) equals tr((S_1^{1/2} S_2 S_1^{1/2})^{1/2}) because the two matrices are similar;
the second is symmetric positive semi-definite, so both square roots come from `eigh` with negative
round-off eigenvalues clipped to zero. Everything runs in float64.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor


def sqrtm_psd(a: Tensor) -> Tensor:
    """Principal square root of a symmetric positive semi-definite matrix: V diag(sqrt(max(w, 0))) V^T."""
    sym = (a + a.transpose(-1, -2)) / 2  # remove asymmetric round-off before eigh
    w, v = torch.linalg.eigh(sym)
    return (v * w.clamp_min(0).sqrt().unsqueeze(-2)) @ v.transpose(-1, -2)


def gaussian_stats(features: Tensor) -> tuple[Tensor, Tensor]:
    """Mean and unbiased covariance (rows are samples), in float64."""
    f = features.detach().reshape(features.shape[0], -1).to(torch.float64)
    if f.shape[0] < 2:
        raise ValueError(f"need at least 2 samples for a covariance, got {f.shape[0]}")
    mu = f.mean(0)
    centered = f - mu
    return mu, centered.T @ centered / (f.shape[0] - 1)


def frechet_distance_stats(mu1: Tensor, s1: Tensor, mu2: Tensor, s2: Tensor) -> float:
    """d^2 between N(mu1, s1) and N(mu2, s2)."""
    mu1, s1, mu2, s2 = (t.to(torch.float64) for t in (mu1, s1, mu2, s2))
    root1 = sqrtm_psd(s1)
    cross = sqrtm_psd(root1 @ s2 @ root1)
    d2 = (mu1 - mu2).square().sum() + torch.trace(s1) + torch.trace(s2) - 2 * torch.trace(cross)
    return max(float(d2), 0.0)  # identical sets give tiny negative round-off


def frechet_distance(features1: Tensor, features2: Tensor) -> float:
    """Frechet distance between Gaussians fitted to two feature sets (rows are samples)."""
    return frechet_distance_stats(*gaussian_stats(features1), *gaussian_stats(features2))


def confidence(probs: Tensor) -> float:
    """Mean over samples of the judge's top-class probability: near 1 when samples look like some class."""
    return float(probs.detach().to(torch.float64).max(dim=1).values.mean())


def coverage(predicted: Tensor, num_classes: int) -> float:
    """Entropy of the predicted-class histogram over log(C): 1 when all classes are equally frequent,
    0 when every sample falls into one class (mode collapse)."""
    if num_classes < 2:
        raise ValueError(f"coverage needs at least 2 classes, got {num_classes}")
    counts = torch.bincount(predicted.detach().reshape(-1).long(), minlength=num_classes).to(torch.float64)
    p = counts / counts.sum()
    p = p[p > 0]
    return float(-(p * p.log()).sum() / math.log(num_classes))
