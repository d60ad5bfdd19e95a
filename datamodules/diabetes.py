"""scikit-learn's diabetes regression set: 442 patients, 10 baseline features, disease progression after a year.

Features are the raw measurements (`load_diabetes(scaled=False)`: scikit-learn's scaled variant is
centred with statistics of all 442 rows, test rows included), standardized here with the training
split's statistics. Targets are float (N, 1); by default they are standardized too, with the
training split's mean/std (`target_mean`, `target_std`; `unscale_target` maps predictions back),
so MSE is in units of the target variance; `standardize_target=false` keeps them raw (25..346).
The split is random (not stratified), fixed by `split_seed`.
"""
from __future__ import annotations

import numpy as np
import torch
from sklearn.datasets import load_diabetes

from ._sklearn_tabular import SklearnTabularDataModule


class DiabetesDataModule(SklearnTabularDataModule):
    input_shape = (10,)
    input_dim = 10
    output_dim = 1
    stratify = False

    def __init__(self, standardize_target: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.standardize_target = bool(standardize_target)
        self.target_mean: torch.Tensor | None = None
        self.target_std: torch.Tensor | None = None

    def _load(self):
        data = load_diabetes(scaled=False)
        return data.data, data.target.astype(np.float64)

    def _targets(self, y: np.ndarray, train: np.ndarray) -> torch.Tensor:
        mean, std = (y[train].mean(), y[train].std()) if self.standardize_target else (0.0, 1.0)
        self.target_mean = torch.tensor(mean, dtype=self.dtype)
        self.target_std = torch.tensor(std, dtype=self.dtype)
        return torch.as_tensor((y - mean) / std, dtype=self.dtype).unsqueeze(1)

    def unscale_target(self, y: torch.Tensor) -> torch.Tensor:
        """Targets/predictions in the original units (disease progression)."""
        return y * self.target_std + self.target_mean
