"""Stratified train/val/test split, fixed by its own seed (independent of the run's seed)."""
from __future__ import annotations

import numpy as np
from sklearn.model_selection import train_test_split


def check_fractions(val_fraction: float, test_fraction: float) -> tuple[float, float]:
    """The two fractions as floats; datamodules call this in __init__, so a bad value fails before training."""
    fractions = []
    for key, frac in (("data.val_fraction", val_fraction), ("data.test_fraction", test_fraction)):
        if isinstance(frac, bool) or not isinstance(frac, (int, float)) or not 0.0 < frac < 1.0:
            raise ValueError(f"{key} must be a number in (0, 1), got {frac!r}")
        fractions.append(float(frac))
    if sum(fractions) >= 1.0:
        raise ValueError(f"data.val_fraction + data.test_fraction must be < 1, got {sum(fractions)}")
    return fractions[0], fractions[1]


def stratified_split(n: int, labels: np.ndarray | None, val_fraction: float, test_fraction: float,
                     seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    val_fraction, test_fraction = check_fractions(val_fraction, test_fraction)
    idx = np.arange(n)
    rest, test = train_test_split(idx, test_size=test_fraction, random_state=seed, stratify=labels)
    rest_labels = None if labels is None else labels[rest]
    train, val = train_test_split(rest, test_size=val_fraction / (1.0 - test_fraction), random_state=seed,
                                  stratify=rest_labels)
    return np.sort(train), np.sort(val), np.sort(test)
