"""MNIST handwritten digits (60,000 train + 10,000 test, 1x28x28, 10 classes) from the original IDX files."""
from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

from ._sources import DataError, short_reason
from ._torchvision_images import TorchvisionImageDataModule

# IDX type codes (the third byte of the magic number) and their big-endian numpy types
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file, gzipped (`*.gz`) or not.

    Layout: two zero bytes, a type code, the number of dimensions d, then d big-endian int32 sizes,
    then the values in row-major order.
    """
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as err:  # a truncated or corrupted gzip stream
        raise DataError(f"{path} cannot be read ({short_reason(err)}); delete it and download again") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
        raise DataError(f"{path} is not an IDX file (its first bytes are {data[:4].hex()})")
    ndim = data[3]
    header = 4 + 4 * ndim
    dims = struct.unpack(f">{ndim}i", data[4:header])
    values = np.frombuffer(data, dtype=_IDX_TYPES[data[2]], offset=header)
    if values.size != int(np.prod(dims)):
        raise DataError(f"{path} is truncated or padded: header says {dims}, found {values.size} values")
    # a writable copy in native byte order (the buffer view is read-only)
    return values.reshape(dims).astype(values.dtype.newbyteorder("="))


class MNISTDataModule(TorchvisionImageDataModule):
    """Images float32 (1, 28, 28) in [0, 1]; val = `val_size` images (stratified) of the official train set."""

    dataset_name = "MNIST"
    #: torchvision's class name: its download layout is <root>/<name>/raw/
    torchvision_name = "MNIST"
    files = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
    input_shape = (1, 28, 28)
    num_classes = 10
    class_names = tuple(str(d) for d in range(10))

    def _find(self, folder: Path):
        wanted = []
        for candidate in (folder / self.torchvision_name / "raw", folder):
            paths = [_plain_or_gz(candidate / name) for name in self.files]
            if all(paths):
                return paths, ""
            wanted.append(str(candidate))
        return None, f"no {self.files[0]}[.gz] and the other three IDX files in {' or '.join(wanted)}"

    def _read(self, source):
        train_x, train_y, test_x, test_y = (read_idx(p) for p in source)
        return train_x[:, None], train_y.astype(np.int64), test_x[:, None], test_y.astype(np.int64)

    def _download(self, target: Path) -> None:
        import torchvision.datasets  # imported only to download: torchvision loads slowly

        getattr(torchvision.datasets, self.torchvision_name)(str(target), train=True, download=True)


def _plain_or_gz(path: Path) -> Path | None:
    for candidate in (path, path.with_name(path.name + ".gz")):
        if candidate.is_file():
            return candidate
    return None
