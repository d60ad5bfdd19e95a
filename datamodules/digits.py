"""scikit-learn's bundled 8x8 digits (1,797 images, 10 classes): the offline default dataset."""
from __future__ import annotations

import torch
from sklearn.datasets import load_digits

from ._in_memory import InMemoryDataModule
from ._split import check_fractions, stratified_split


class DigitsDataModule(InMemoryDataModule):
    """Images as float32 tensors of shape (1, 8, 8) scaled to [0, 1] (raw pixel values are 0..16)."""

    input_shape = (1, 8, 8)
    num_classes = 10

    def __init__(self, batch_size: int = 64, val_fraction: float = 0.15, test_fraction: float = 0.15,
                 split_seed: int = 0, eval_batch_size: int | None = None, drop_last: bool | None = None,
                 input_shape=None, num_classes=None,
                 bootstrap: bool = False):
        super().__init__(batch_size=batch_size, eval_batch_size=eval_batch_size, split_seed=split_seed,
                         drop_last=drop_last, input_shape=input_shape, num_classes=num_classes, bootstrap=bootstrap)
        self.val_fraction, self.test_fraction = check_fractions(val_fraction, test_fraction)

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        digits = load_digits()
        x = torch.as_tensor(digits.images, dtype=torch.float32).div_(16.0).unsqueeze(1)
        y = torch.as_tensor(digits.target, dtype=torch.long)
        tr, va, te = stratified_split(len(y), digits.target, self.val_fraction, self.test_fraction, self.split_seed)
        self.train_set = (x[tr].contiguous(), y[tr].contiguous())
        self.val_set = (x[va].contiguous(), y[va].contiguous())
        self.test_set = (x[te].contiguous(), y[te].contiguous())
