"""scikit-learn's Wisconsin breast cancer set: 569 tumours, 30 features, malignant (0) or benign (1).

Labels are long class indices (N,) with num_classes 2 (scikit-learn's coding: 0 malignant, 1
benign), so the set works with softmax cross-entropy as it is; a single-logit model trained with
BCEWithLogits takes `y.float().unsqueeze(1)`. Features are standardized with the training split's
statistics; the split is stratified by label.
"""
from __future__ import annotations

import numpy as np
import torch
from sklearn.datasets import load_breast_cancer

from ._sklearn_tabular import SklearnTabularDataModule


class BreastCancerDataModule(SklearnTabularDataModule):
    input_shape = (30,)
    input_dim = 30
    num_classes = 2
    class_names = ("malignant", "benign")

    def _load(self):
        data = load_breast_cancer()
        return data.data, data.target

    def _targets(self, y: np.ndarray, train: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(y, dtype=torch.long)
