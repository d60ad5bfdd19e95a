"""Base for scikit-learn's bundled tabular sets: stratified (or plain) split, features standardized
with statistics of the training split only.

    x' = (x - mean_train) / std_train   (population std, as StandardScaler; a constant column keeps std 1)

The validation and test rows never contribute to the statistics, so nothing about them leaks into
training. The statistics stay on the datamodule (`feature_mean`, `feature_std`) for reports and for
mapping new inputs. `dtype=float64` keeps the data in double precision (exact solver comparisons).
"""
from __future__ import annotations

import numpy as np
import torch

from ._in_memory import InMemoryDataModule
from ._split import check_fractions, stratified_split

_DTYPES = {"float32": torch.float32, "float64": torch.float64}


class SklearnTabularDataModule(InMemoryDataModule):
    input_dim: int = 0
    output_dim: int | None = None
    #: stratify the split by label (classification) or not (regression)
    stratify: bool = True

    def __init__(self, batch_size: int = 32, val_fraction: float = 0.15, test_fraction: float = 0.15,
                 split_seed: int = 0, eval_batch_size: int | None = None, drop_last: bool | None = None,
                 dtype: str = "float32", input_dim=None, output_dim=None, input_shape=None, num_classes=None,
                 bootstrap: bool = False):
        super().__init__(batch_size=batch_size, eval_batch_size=eval_batch_size, split_seed=split_seed,
                         drop_last=drop_last, input_shape=input_shape, num_classes=num_classes, bootstrap=bootstrap)
        name = type(self).__name__
        if input_dim is not None and int(input_dim) != self.input_dim:
            raise ValueError(f"data.input_dim is {input_dim} but {name} has {self.input_dim} features")
        if output_dim is not None and (self.output_dim is None or int(output_dim) != self.output_dim):
            raise ValueError(f"data.output_dim is {output_dim} but {name} has output_dim {self.output_dim}")
        if dtype not in _DTYPES:
            raise ValueError(f"data.dtype must be one of {sorted(_DTYPES)}, got {dtype!r}")
        self.dtype = _DTYPES[dtype]
        self.val_fraction, self.test_fraction = check_fractions(val_fraction, test_fraction)
        self.feature_mean: torch.Tensor | None = None
        self.feature_std: torch.Tensor | None = None

    def _load(self) -> tuple[np.ndarray, np.ndarray]:
        """Raw features (N, input_dim) and targets from scikit-learn."""
        raise NotImplementedError

    def _targets(self, y: np.ndarray, train: np.ndarray) -> torch.Tensor:
        """Targets as tensors; `train` indexes the training rows (for target statistics)."""
        raise NotImplementedError

    def split(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return stratified_split(len(y), y if self.stratify else None, self.val_fraction, self.test_fraction,
                                self.split_seed)

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        x, y = self._load()
        x = np.asarray(x, dtype=np.float64)
        tr, va, te = self.split(y)
        mean = x[tr].mean(axis=0)
        std = x[tr].std(axis=0)
        std[std == 0] = 1.0
        x = (x - mean) / std
        self.feature_mean = torch.as_tensor(mean, dtype=self.dtype)
        self.feature_std = torch.as_tensor(std, dtype=self.dtype)
        features = torch.as_tensor(x, dtype=self.dtype)
        targets = self._targets(y, tr)
        self.train_set, self.val_set, self.test_set = [
            (features[i].contiguous(), targets[i].contiguous()) for i in (torch.as_tensor(s) for s in (tr, va, te))]
