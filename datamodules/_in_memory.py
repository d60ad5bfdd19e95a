"""Base LightningDataModule for datasets held as tensors in memory."""
from __future__ import annotations

import pytorch_lightning as pl
import torch

from ._batch_norm import normalizes_over_batch, one_sample_batch_error
from ._sources import DataError
from ._tensor_loader import TensorBatchLoader, bootstrap_sample


class InMemoryDataModule(pl.LightningDataModule):
    """Subclasses fill `self.train_set`, `self.val_set`, `self.test_set` (tuples of tensors) in `setup`.

    `drop_last` (training batches only): true drops a last, smaller batch each epoch; false keeps it;
    null (the default) drops it only when it would hold a single sample and the model normalizes over
    the batch (batch norm), which cannot train on one sample. With such a model a batch size of 1, or
    drop_last=false leaving a one-sample batch, is refused before the first step.

    `bootstrap` (bagging): the training set is a bootstrap sample of the training split, n rows drawn with
    replacement, seeded by the run's seed (`seed_everything`), so each seed of a sweep trains on its own
    sample; validation and test keep their splits.
    """

    #: what the data really is; configs declare the same facts for models to interpolate
    input_shape: tuple[int, ...] | None = None
    num_classes: int | None = None

    def __init__(self, batch_size: int = 64, eval_batch_size: int | None = None, split_seed: int = 0,
                 drop_last: bool | None = None, input_shape=None, num_classes=None, bootstrap: bool = False):
        super().__init__()
        # the config's declarations feed model sizes; a mismatch with the real data is a config bug
        if input_shape is not None and self.input_shape is not None and tuple(input_shape) != tuple(self.input_shape):
            raise ValueError(f"data.input_shape is {list(input_shape)} but {type(self).__name__} yields {list(self.input_shape)}")
        if num_classes is not None and self.num_classes is not None and int(num_classes) != self.num_classes:
            raise ValueError(f"data.num_classes is {num_classes} but {type(self).__name__} has {self.num_classes} classes")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"data.batch_size must be a positive integer, got {batch_size!r}")
        if drop_last not in (None, True, False):
            raise ValueError(f"data.drop_last must be true, false or null (automatic), got {drop_last!r}")
        self.batch_size = batch_size
        self.eval_batch_size = int(eval_batch_size or max(batch_size, 512))
        self.split_seed = split_seed
        self.drop_last = drop_last
        if bootstrap not in (True, False):
            raise ValueError(f"data.bootstrap must be true or false, got {bootstrap!r}")
        self.bootstrap = bootstrap
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

    def train_drop_last(self) -> bool:
        """The drop_last the training loader uses (the rule in the class docstring)."""
        trainer = getattr(self, "trainer", None)
        model = trainer.lightning_module if trainer is not None else None
        if not normalizes_over_batch(model):
            return bool(self.drop_last)
        _, world = self._dist()
        per_rank = -(-self.train_set[0].shape[0] // world)  # each rank's shard (padded as DistributedSampler)
        if self.batch_size == 1:
            raise DataError(one_sample_batch_error(model))
        if per_rank % self.batch_size != 1:
            return bool(self.drop_last)
        if self.drop_last is False:
            raise DataError(f"data.drop_last=false with data.batch_size={self.batch_size} leaves a last batch of "
                            f"1 of {per_rank} training samples, which {type(model).__name__}'s batch norm cannot "
                            f"normalize; use data.drop_last=null (drops it) or another batch size")
        return True

    def training_tensors(self) -> tuple[torch.Tensor, ...]:
        """The tensors training batches come from: the training split, or its bootstrap sample."""
        if not self.bootstrap:
            return self.train_set
        # the run's seed, as the shuffle's: a sample of the same size n, the same on every DDP rank
        return bootstrap_sample(self.train_set, torch.initial_seed() % (2**31))

    def train_dataloader(self):
        return self._loader(self.training_tensors(), self.batch_size, shuffle=True, drop_last=self.train_drop_last())

    def val_dataloader(self):
        return self._loader(self.val_set, self.eval_batch_size, shuffle=False)

    def test_dataloader(self):
        return self._loader(self.test_set, self.eval_batch_size, shuffle=False)
