"""Argument checks shared by the activation modules."""
from __future__ import annotations

import math


def check_real(name: str, value: object) -> float:
    """The argument as a float; ValueError naming it when it is not a finite real number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite real number, got {value!r}")
    return float(value)
