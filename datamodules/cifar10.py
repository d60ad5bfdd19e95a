"""CIFAR-10 (50,000 train + 10,000 test colour images, 3x32x32, 10 classes) from its pickled python batches.

The python version of CIFAR-10 is a folder `cifar-10-batches-py` of pickles: data_batch_1..5 and
test_batch (dicts with 'data', a uint8 array (N, 3072) holding the red, green and blue 32x32 planes
in turn, and 'labels', a list of ints) plus batches.meta ('label_names'). torchvision's CIFAR10
insists on the md5 of every official file and unpickles without restriction; this reader takes any
batches in that format (so tests can write small ones) and unpickles through an allow-list: numpy
arrays and plain containers only, never arbitrary code from a downloaded file.
"""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from ._sources import DataError, short_reason
from ._torchvision_images import TorchvisionImageDataModule

TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
META = "batches.meta"
FOLDER = "cifar-10-batches-py"

# what a batch pickle may reference: numpy's array rebuilding (old and new module paths) and latin-1 bytes
_ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
            ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"a CIFAR batch may not reference {module}.{name}")
        return super().find_class(module, name)


def read_batch(path: Path) -> dict:
    """One pickled batch (Python 2 pickles: byte strings are decoded as latin-1, as torchvision does)."""
    try:
        with open(path, "rb") as f:
            entry = _ArrayUnpickler(f, encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, OSError, AttributeError, IndexError) as err:
        # truncated or corrupted file (any of these, by where the bytes stop making sense)
        raise DataError(f"{path} is not a readable CIFAR batch ({short_reason(err)}); delete it and "
                        f"download again") from None
    if not isinstance(entry, dict):
        raise DataError(f"{path} is not a CIFAR batch (it holds a {type(entry).__name__}, not a dict)")
    return entry


def read_images(path: Path) -> tuple[np.ndarray, np.ndarray]:
    entry = read_batch(path)
    if "data" not in entry or "labels" not in entry:
        raise DataError(f"{path} is not a CIFAR-10 batch (keys {sorted(entry)}; expected 'data' and 'labels')")
    data = np.asarray(entry["data"], dtype=np.uint8)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise DataError(f"{path}: 'data' has shape {data.shape}, expected (N, 3072)")
    return data.reshape(-1, 3, 32, 32), np.asarray(entry["labels"], dtype=np.int64)


class CIFAR10DataModule(TorchvisionImageDataModule):
    """Images float32 (3, 32, 32) in [0, 1]; val = `val_size` images (stratified) of the official train set."""

    dataset_name = "CIFAR-10"
    input_shape = (3, 32, 32)
    num_classes = 10
    class_names = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

    def _find(self, folder: Path):
        wanted = []
        for candidate in (folder / FOLDER, folder):
            paths = [candidate / name for name in (*TRAIN_BATCHES, TEST_BATCH, META)]
            if all(p.is_file() for p in paths):
                return candidate, ""
            wanted.append(str(candidate))
        return None, f"no data_batch_1..5, test_batch and batches.meta in {' or '.join(wanted)}"

    def _read(self, folder: Path):
        names = read_batch(folder / META).get("label_names")
        if names is not None and tuple(names) != self.class_names:
            raise ValueError(f"{folder / META} names the classes {names}, not CIFAR-10's {list(self.class_names)}")
        parts = [read_images(folder / name) for name in TRAIN_BATCHES]
        train_x = np.concatenate([x for x, _ in parts])
        train_y = np.concatenate([y for _, y in parts])
        test_x, test_y = read_images(folder / TEST_BATCH)
        return train_x, train_y, test_x, test_y

    def _download(self, target: Path) -> None:
        from torchvision.datasets import CIFAR10  # imported only to download: torchvision loads slowly

        CIFAR10(str(target), train=True, download=True)
