"""Base for torchvision's image datasets held in memory: offline first, one clear error, stratified val split.

Search order for the files: `data.root`, the dataset's system folders (Debian's
/usr/share/datasets/... for Fashion-MNIST; `data.system_dirs` replaces them, `[]` for none), then the download folder (`data.download_dir`, default
$REFZOO_DATA_DIR or ~/.cache/refzoo) where earlier downloads land. In each folder both torchvision's
layout (`<folder>/MNIST/raw/...`, `<folder>/cifar-10-batches-py/...`) and the bare files are accepted.
If nothing is found and `data.download=true`, torchvision's dataset class downloads (its mirrors, md5
checks and extraction) in `prepare_data`, into `data.root` when given, else the download folder; a failed
download removes the empty folders it created and is one line naming the places looked and the cause.

The files are read by the subclass's small reader of the original format (IDX, CIFAR's pickled
batches): the Debian package ships gzipped IDX files that torchvision's classes do not read, and
torchvision's CIFAR10 unpickles without restriction. Tests hold each reader equal to torchvision's class.

Images become float32 tensors (N, C, H, W) in [0, 1]; with `normalize=true` each channel is then
standardized with the mean/std of the training split (stored as `channel_mean`/`channel_std`).
The validation set is `val_size` images carved out of the official training set, stratified by class
with `split_seed`; the official test set is the test set.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from ._augment import BatchAugment
from ._batch_map import MappedBatchLoader
from ._in_memory import InMemoryDataModule
from ._sources import DataError, default_download_dir, existing_dirs, not_found, remove_new_empty_dirs


class TorchvisionImageDataModule(InMemoryDataModule):
    #: name used in messages
    dataset_name: str = ""
    #: (folder, why it is looked at) searched after data.root and before the download folder
    system_dirs: tuple[tuple[str, str], ...] = ()
    #: ways to get the data other than data.root / data.download, for the error message
    extra_remedies: tuple[str, ...] = ()
    class_names: tuple[str, ...] = ()

    def __init__(self, root: str | None = None, download: bool = True, download_dir: str | None = None,
                 val_size: int = 5000, split_seed: int = 0, batch_size: int = 128,
                 eval_batch_size: int | None = None, drop_last: bool | None = None, normalize: bool = False,
                 augment: bool = False, augment_padding: int = 0, augment_hflip: bool = False,
                 augment_degrees: float = 0.0, augment_translate: float = 0.0,
                 input_shape=None, num_classes=None, system_dirs: list[str] | None = None, bootstrap: bool = False):
        super().__init__(batch_size=batch_size, eval_batch_size=eval_batch_size, split_seed=split_seed,
                         drop_last=drop_last, input_shape=input_shape, num_classes=num_classes, bootstrap=bootstrap)
        if int(val_size) < 1:
            raise ValueError(f"data.val_size must be a positive number of images, got {val_size}")
        self.root = Path(root).expanduser() if root not in (None, "") else None
        self.download = bool(download)
        if system_dirs is not None:  # the config's folders instead of the class's (tests: [] hides /usr/share)
            self.system_dirs = tuple((str(folder), "data.system_dirs") for folder in system_dirs)
        self.download_dir = Path(download_dir).expanduser() if download_dir else default_download_dir()
        self.val_size = int(val_size)
        self.normalize = bool(normalize)
        # built even when off, so that bad augment_* values fail at construction
        self.augmenter = BatchAugment(augment_padding, augment_hflip, augment_degrees, augment_translate)
        self.augment = bool(augment)
        if self.augment and not self.augmenter.enabled:
            raise ValueError("data.augment=true but every data.augment_* transform is off; set "
                             "data.augment_padding, augment_hflip, augment_degrees or augment_translate")
        self.channel_mean: torch.Tensor | None = None
        self.channel_std: torch.Tensor | None = None
        self._source, self._looked = self._locate()
        if self._source is None and not self.download:
            raise self._not_found()

    # -- what a subclass provides ------------------------------------------------------------------
    def _find(self, folder: Path) -> tuple[object | None, str]:
        """The dataset's files under `folder` (anything `_read` takes), or None and what is missing."""
        raise NotImplementedError

    def _read(self, source) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """uint8 train images (N, C, H, W), int labels (N,), then the same for the test set."""
        raise NotImplementedError

    def _download(self, target: Path) -> None:
        """Download with torchvision's dataset class into `target`."""
        raise NotImplementedError

    # -- lookup --------------------------------------------------------------------------------------
    def _places(self) -> list[tuple[Path, str]]:
        places = []
        if self.root is not None:
            places.append((self.root, f"data.root={self.root}"))
        places += [(Path(folder), f"{folder} ({why})") for folder, why in self.system_dirs]
        places.append((self.download_dir, f"download folder {self.download_dir}"))
        return places

    def _locate(self):
        looked = []
        for folder, label in self._places():
            if not folder.is_dir():
                looked.append((label, "no such folder"))
                continue
            source, why = self._find(folder)
            if source is not None:
                return source, looked
            looked.append((label, why))
        return None, looked

    def _not_found(self, download_error: BaseException | None = None):
        target = self.root or self.download_dir
        # data.download=true was already given when the download itself failed: advise the network instead
        fetch = (f"run once with network access (data.download=true downloads into {target})" if self.download
                 else f"set data.download=true on a machine with network access (it downloads into {target})")
        remedies = list(self.extra_remedies) + ["pass data.root=<folder holding the files>", fetch]
        return not_found(self.dataset_name, self._looked, remedies, download_error)

    def prepare_data(self) -> None:
        if self._source is not None or not self.download:
            return
        target = self.root or self.download_dir
        before = existing_dirs(target)
        try:
            target.mkdir(parents=True, exist_ok=True)
            self._download(target)
        except Exception as err:  # noqa: BLE001 - any failure (offline, read-only folder, bad md5) is reported as one
            remove_new_empty_dirs(target, before)
            raise self._not_found(err) from err

    # -- loading -------------------------------------------------------------------------------------
    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        if self._source is None:
            self._source, self._looked = self._locate()
            if self._source is None:
                raise self._not_found()
        try:
            x_train, y_train, x_test, y_test = self._read(self._source)
        except DataError:
            raise
        except (ValueError, OSError, EOFError) as err:  # the readers name the file in their messages
            raise DataError(f"{self.dataset_name}: {err}") from None
        expected = tuple(self.input_shape)
        for name, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
            if tuple(x.shape[1:]) != expected or x.shape[0] != y.shape[0]:
                raise ValueError(f"{self.dataset_name} {name} files hold images {tuple(x.shape)} and labels "
                                 f"{tuple(y.shape)}; expected (N, {', '.join(map(str, expected))}) and (N,)")
            if y.size and (y.min() < 0 or y.max() >= self.num_classes):
                raise ValueError(f"{self.dataset_name} {name} labels fall outside 0..{self.num_classes - 1}")
        if self.val_size >= len(y_train):
            raise ValueError(f"data.val_size={self.val_size} leaves no training images out of {len(y_train)}")
        tr, va = train_test_split(np.arange(len(y_train)), test_size=self.val_size, random_state=self.split_seed,
                                  stratify=y_train)
        tr, va = np.sort(tr), np.sort(va)
        # index the uint8 arrays first: converting all 60k/50k images to float before the split doubles the peak
        sets = [(_to_float(x_train[tr]), y_train[tr]), (_to_float(x_train[va]), y_train[va]),
                (_to_float(x_test), y_test)]
        if self.normalize:
            self.channel_mean = sets[0][0].mean(dim=(0, 2, 3))
            self.channel_std = sets[0][0].std(dim=(0, 2, 3))
            shape = (1, -1, 1, 1)
            for x, _ in sets:
                x.sub_(self.channel_mean.view(shape)).div_(self.channel_std.view(shape))
        (self.train_set, self.val_set, self.test_set) = [
            (x, torch.as_tensor(y, dtype=torch.long)) for x, y in sets]

    def train_dataloader(self):
        loader = super().train_dataloader()
        return MappedBatchLoader(loader, self.augmenter) if self.augment else loader


def _to_float(images: np.ndarray) -> torch.Tensor:
    # np.array copies: the readers' arrays may be read-only views of the file's bytes
    return torch.from_numpy(np.array(images, dtype=np.uint8, order="C")).to(torch.float32).div_(255.0)
