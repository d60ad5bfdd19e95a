"""Base LightningDataModule for datasets held as tensors in memory."""
from __future__ import annotations

import pytorch_lightning as pl
import torch

from ._tensor_loader import TensorBatchLoader


class InMemoryDataModule(pl.LightningDataModule):
    """Subclasses fill `self.train_set`, `self.val_set`, `self.test_set` (tuples of tensors) in `setup`."""

    #: what the data really is; configs declare the same facts for models to interpolate
    input_shape: tuple[int, ...] | None = None
    num_classes: int | None = None

    def __init__(self, batch_size: int = 64, eval_batch_size: int | None = None, split_seed: int = 0,
                 drop_last: bool = False, input_shape=None, num_classes=None):
        super().__init__()
        # the config's declarations feed model sizes; a mismatch with the real data is a config bug
        if input_shape is not None and self.input_shape is not None and tuple(input_shape) != tuple(self.input_shape):
            raise ValueError(f"data.input_shape is {list(input_shape)} but {type(self).__name__} yields {list(self.input_shape)}")
        if num_classes is not None and self.num_classes is not None and int(num_classes) != self.num_classes:
            raise ValueError(f"data.num_classes is {num_classes} but {type(self).__name__} has {self.num_classes} classes")
        if int(batch_size) < 1:
            raise ValueError(f"data.batch_size must be a positive integer, got {batch_size}")
        self.batch_size = int(batch_size)
        self.eval_batch_size = int(eval_batch_size or max(batch_size, 512))
        self.split_seed = split_seed
        self.drop_last = drop_last
        self.train_set: tuple[torch.Tensor, ...] | None = None
        self.val_set: tuple[torch.Tensor, ...] | None = None
        self.test_set: tuple[torch.Tensor, ...] | None = None

    def _epoch(self) -> int:
        trainer = getattr(self, "trainer", None)
        return trainer.current_epoch if trainer is not None else 0

    def _dist(self) -> tuple[int, int]:
        trainer = getattr(self, "trainer", None)
        if trainer is None:
            return 0, 1
        return trainer.global_rank, trainer.world_size

    def _loader(self, tensors, batch_size: int, shuffle: bool, drop_last: bool = False) -> TensorBatchLoader:
        rank, world = self._dist()
        # the shuffle seed follows the global seed (seed_everything) so `seed=1` changes the order
        seed = torch.initial_seed() % (2**31)
        return TensorBatchLoader(tensors, batch_size, shuffle=shuffle, drop_last=drop_last, seed=seed,
                                 epoch_fn=self._epoch, rank=rank, world_size=world)

    def train_dataloader(self):
        return self._loader(self.train_set, self.batch_size, shuffle=True, drop_last=self.drop_last)

    def val_dataloader(self):
        return self._loader(self.val_set, self.eval_batch_size, shuffle=False)

    def test_dataloader(self):
        return self._loader(self.test_set, self.eval_batch_size, shuffle=False)
