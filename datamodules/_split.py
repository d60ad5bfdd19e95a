"""Stratified train/val/test split, fixed by its own seed (independent of the run's seed)."""
from __future__ import annotations

import numpy as np
from sklearn.model_selection import train_test_split


def stratified_split(n: int, labels: np.ndarray | None, val_fraction: float, test_fraction: float,
                     seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    for key, frac in (("data.val_fraction", val_fraction), ("data.test_fraction", test_fraction)):
        if not 0.0 < frac < 1.0:
            raise ValueError(f"{key} must be in (0, 1), got {frac}")
    if val_fraction + test_fraction >= 1.0:
        raise ValueError(f"data.val_fraction + data.test_fraction must be < 1, got {val_fraction + test_fraction}")
    idx = np.arange(n)
    rest, test = train_test_split(idx, test_size=test_fraction, random_state=seed, stratify=labels)
    rest_labels = None if labels is None else labels[rest]
    train, val = train_test_split(rest, test_size=val_fraction / (1.0 - test_fraction), random_state=seed,
                                  stratify=rest_labels)
    return np.sort(train), np.sort(val), np.sort(test)
