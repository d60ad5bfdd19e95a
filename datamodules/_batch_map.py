"""A loader that applies a function to every batch of another loader (augmentation, trimming padding)."""
from __future__ import annotations

from typing import Callable, Iterable


class MappedBatchLoader:
    """Iterates `loader` and yields `fn(batch)`; keeps `len()` so Lightning counts steps as before."""

    def __init__(self, loader: Iterable, fn: Callable):
        self.loader = loader
        self.fn = fn

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        for batch in self.loader:
            yield self.fn(batch)
