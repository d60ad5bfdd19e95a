"""Datamodules: real-format files written here (IDX gz, CIFAR's pickled batches), the Debian
Fashion-MNIST files, the tutorial's names, scikit-learn's tabular sets; no network anywhere."""
from __future__ import annotations

import gzip
import pickle
import re
import shutil
import struct
import unicodedata
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import names_dir
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from datamodules import (BreastCancerDataModule, CIFAR10DataModule, DataError, DatasetNotFoundError, DiabetesDataModule,
                         DigitsDataModule, FashionMNISTDataModule, MNISTDataModule, NamesDataModule)
from datamodules._augment import BatchAugment, affine_nearest, shift_crop
from datamodules._batch_map import MappedBatchLoader
from datamodules.cifar10 import read_batch
from datamodules.mnist import read_idx
from datamodules.names import LANGUAGES, decode, fold_to_ascii

REPO = Path(__file__).resolve().parents[1]
NAMES_DIR = names_dir()
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")
MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


# -- writers of the original formats -----------------------------------------------------------------
def write_idx(path: Path, array: np.ndarray, gz: bool = True) -> None:
    """IDX: 0, 0, type code 0x08 (uint8), ndim, big-endian int32 dims, then the bytes."""
    payload = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}i", *array.shape) + array.tobytes()
    if gz:
        path = path.with_name(path.name + ".gz")
        with gzip.open(path, "wb") as f:
            f.write(payload)
    else:
        path.write_bytes(payload)


def mnist_arrays(seed=0, per_class_train=4, per_class_test=2):
    rng = np.random.default_rng(seed)
    y_train = np.repeat(np.arange(10, dtype=np.uint8), per_class_train)
    y_test = np.repeat(np.arange(10, dtype=np.uint8), per_class_test)
    rng.shuffle(y_train)
    x_train = rng.integers(0, 256, (len(y_train), 28, 28), dtype=np.uint8)
    x_test = rng.integers(0, 256, (len(y_test), 28, 28), dtype=np.uint8)
    return x_train, y_train, x_test, y_test


def write_mnist(folder: Path, arrays, gz=True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in zip(MNIST_FILES, arrays):
        write_idx(folder / name, array, gz=gz)
    return folder


def write_cifar(folder: Path, seed=0, per_batch=10, n_test=20) -> tuple[np.ndarray, ...]:
    """cifar-10-batches-py: data_batch_1..5, test_batch, batches.meta as protocol-2 pickles of dicts."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    xs, ys = [], []
    for i in range(1, 7):
        n = per_batch if i < 6 else n_test
        labels = [int(v) for v in rng.permutation(np.arange(n) % 10)]
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        name = f"data_batch_{i}" if i < 6 else "test_batch"
        entry = {"batch_label": f"batch {i}", "labels": labels, "data": data,
                 "filenames": [f"img_{i}_{j}.png" for j in range(n)]}
        with open(folder / name, "wb") as f:
            pickle.dump(entry, f, protocol=2)
        xs.append(data.reshape(-1, 3, 32, 32))
        ys.append(np.asarray(labels))
    meta = {"label_names": list(CIFAR10DataModule.class_names), "num_cases_per_batch": per_batch, "num_vis": 3072}
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump(meta, f, protocol=2)
    return np.concatenate(xs[:5]), np.concatenate(ys[:5]), xs[5], ys[5]


def rows(x: torch.Tensor) -> set[bytes]:
    return {r.numpy().tobytes() for r in x}


# -- MNIST / IDX ----------------------------------------------------------------------------------------
def test_mnist_reads_torchvision_raw_layout_with_gz_files(tmp_path):
    arrays = mnist_arrays()
    write_mnist(tmp_path / "MNIST" / "raw", arrays)
    dm = MNISTDataModule(root=str(tmp_path), download=False, download_dir=str(tmp_path / "cache"), val_size=10)
    dm.setup()
    x_train, y_train, x_test, y_test = arrays
    (xt, yt), (xv, yv), (xs, ys) = dm.train_set, dm.val_set, dm.test_set
    assert xt.shape == (30, 1, 28, 28) and xv.shape == (10, 1, 28, 28) and xs.shape == (20, 1, 28, 28)
    assert xt.dtype == torch.float32 and yt.dtype == torch.long
    # val is stratified: one image of each class out of four per class
    assert np.bincount(yv.numpy(), minlength=10).tolist() == [1] * 10
    # train + val is exactly the official train set, pixels scaled by 1/255
    expected = torch.from_numpy(x_train).float().div(255).unsqueeze(1)
    assert rows(torch.cat([xt, xv])) == rows(expected)
    assert torch.equal(xs, torch.from_numpy(x_test).float().div(255).unsqueeze(1))
    assert torch.equal(ys, torch.from_numpy(y_test).long())
    # labels travel with their images
    lookup = {r.numpy().tobytes(): int(y) for r, y in zip(expected, y_train)}
    assert all(lookup[r.numpy().tobytes()] == int(y) for r, y in zip(xt, yt))


def test_idx_reader_matches_torchvision_mnist(tmp_path):
    from torchvision.datasets import MNIST

    arrays = mnist_arrays(seed=1)
    raw = write_mnist(tmp_path / "MNIST" / "raw", arrays, gz=False)
    for train, (xi, yi) in ((True, (0, 1)), (False, (2, 3))):
        ref = MNIST(str(tmp_path), train=train, download=False)
        assert torch.equal(torch.from_numpy(read_idx(raw / MNIST_FILES[xi])), ref.data)
        assert torch.equal(torch.from_numpy(read_idx(raw / MNIST_FILES[yi]).astype(np.int64)), ref.targets)


def test_idx_reader_rejects_bad_files(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x01\x02\x08\x01")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "bad")
    (tmp_path / "short").write_bytes(bytes([0, 0, 8, 1]) + struct.pack(">i", 5) + b"abc")
    with pytest.raises(ValueError, match="truncated"):
        read_idx(tmp_path / "short")


def test_bare_idx_files_in_root_are_found(tmp_path):
    write_mnist(tmp_path / "flat", mnist_arrays())
    dm = FashionMNISTDataModule(root=str(tmp_path / "flat"), download=False, download_dir=str(tmp_path / "c"),
                                val_size=10)
    dm.setup()
    assert len(dm.train_set[0]) == 30 and len(dm.test_set[0]) == 20


def test_normalize_uses_train_split_channel_stats(tmp_path):
    write_mnist(tmp_path / "MNIST" / "raw", mnist_arrays())
    dm = MNISTDataModule(root=str(tmp_path), download=False, download_dir=str(tmp_path / "c"), val_size=10,
                         normalize=True)
    dm.setup()
    x = dm.train_set[0].double()
    assert x.mean().abs().item() < 1e-6 and abs(x.std().item() - 1) < 1e-5
    raw = MNISTDataModule(root=str(tmp_path), download=False, download_dir=str(tmp_path / "c"), val_size=10)
    raw.setup()
    back = dm.val_set[0] * dm.channel_std.view(1, -1, 1, 1) + dm.channel_mean.view(1, -1, 1, 1)
    torch.testing.assert_close(back, raw.val_set[0], atol=1e-6, rtol=0)
    torch.testing.assert_close(dm.channel_mean, raw.train_set[0].mean(dim=(0, 2, 3)))


# -- CIFAR-10 --------------------------------------------------------------------------------------------
def test_cifar10_reads_pickled_batches(tmp_path):
    x_train, y_train, x_test, y_test = write_cifar(tmp_path / "cifar-10-batches-py")
    dm = CIFAR10DataModule(root=str(tmp_path), download=False, download_dir=str(tmp_path / "c"), val_size=10)
    dm.setup()
    (xt, yt), (xv, yv), (xs, ys) = dm.train_set, dm.val_set, dm.test_set
    assert xt.shape == (40, 3, 32, 32) and xv.shape == (10, 3, 32, 32) and xs.shape == (20, 3, 32, 32)
    assert np.bincount(yv.numpy(), minlength=10).tolist() == [1] * 10
    expected = torch.from_numpy(x_train).float().div(255)
    assert rows(torch.cat([xt, xv])) == rows(expected)
    assert torch.equal(xs, torch.from_numpy(x_test).float().div(255)) and torch.equal(ys, torch.from_numpy(y_test))


def test_cifar_reader_matches_torchvision_cifar10(tmp_path, monkeypatch):
    # torchvision checks the md5 of the official files; for these small files the check is switched off,
    # everything else (unpickling, stacking, HWC layout) is torchvision's own code
    import torchvision.datasets.cifar as tv_cifar

    write_cifar(tmp_path / "cifar-10-batches-py", seed=3)
    monkeypatch.setattr(tv_cifar, "check_integrity", lambda *args, **kwargs: True)
    dm = CIFAR10DataModule(root=str(tmp_path), download=False, download_dir=str(tmp_path / "c"), val_size=10)
    x_train, y_train, x_test, y_test = dm._read(tmp_path / "cifar-10-batches-py")
    for train, x, y in ((True, x_train, y_train), (False, x_test, y_test)):
        ref = tv_cifar.CIFAR10(str(tmp_path), train=train, download=False)
        assert np.array_equal(x.transpose(0, 2, 3, 1), ref.data)
        assert y.tolist() == ref.targets
        assert ref.classes == list(CIFAR10DataModule.class_names)


def test_cifar_reader_refuses_code_in_pickles(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({"data": Evil(), "labels": []}, protocol=2))
    with pytest.raises(DataError, match=f"{path} is not a readable CIFAR batch .*may not reference .*print"):
        read_batch(path)


# -- Fashion-MNIST from the Debian package -----------------------------------------------------------------
@pytest.mark.skipif(not (DEBIAN_FASHION / "train-images-idx3-ubyte.gz").is_file(),
                    reason="Debian package dataset-fashion-mnist is not installed (/usr/share/datasets/fashion-mnist)")
def test_fashion_mnist_from_debian_package(tmp_path):
    dm = FashionMNISTDataModule(download=False, download_dir=str(tmp_path / "none"))
    dm.setup()
    (xt, yt), (xv, yv), (xs, ys) = dm.train_set, dm.val_set, dm.test_set
    assert xt.shape == (55000, 1, 28, 28) and xv.shape == (5000, 1, 28, 28) and xs.shape == (10000, 1, 28, 28)
    assert len(xt) + len(xv) == 60000
    assert np.bincount(yt.numpy()).tolist() == [5500] * 10
    assert np.bincount(yv.numpy()).tolist() == [500] * 10
    assert np.bincount(ys.numpy()).tolist() == [1000] * 10
    assert xt.min().item() == 0.0 and xt.max().item() == 1.0
    # the official test set keeps its order: first test label of Fashion-MNIST is an ankle boot (9)
    first = read_idx(DEBIAN_FASHION / "t10k-labels-idx1-ubyte.gz")[:5]
    assert ys[:5].tolist() == first.tolist()


# -- missing data: one error naming each place looked ------------------------------------------------------
def test_missing_mnist_names_places_and_remedies(tmp_path):
    root, cache = tmp_path / "empty", tmp_path / "cache"
    root.mkdir()
    with pytest.raises(DatasetNotFoundError) as info:
        MNISTDataModule(root=str(root), download=False, download_dir=str(cache))
    msg = str(info.value)
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, ValueError)
    assert "\n" not in msg
    assert f"data.root={root}" in msg and str(root / "MNIST" / "raw") in msg and str(cache) in msg
    assert "data.download=true" in msg and "data.root=" in msg


def test_missing_fashion_mnist_names_debian_folder(tmp_path, monkeypatch):
    nodeb = tmp_path / "usr-share-datasets-fashion-mnist"
    monkeypatch.setattr(FashionMNISTDataModule, "system_dirs", ((str(nodeb), "Debian package dataset-fashion-mnist"),))
    with pytest.raises(DatasetNotFoundError) as info:
        FashionMNISTDataModule(root=str(tmp_path / "nope"), download=False, download_dir=str(tmp_path / "c"))
    msg = str(info.value)
    assert str(nodeb) in msg and str(tmp_path / "nope") in msg and str(tmp_path / "c") in msg
    assert "apt-get install dataset-fashion-mnist" in msg and "data.download=true" in msg


def test_failed_download_reports_places_and_cause(tmp_path, monkeypatch):
    def offline(self, target):
        raise OSError("network is unreachable")

    monkeypatch.setattr(CIFAR10DataModule, "_download", offline)
    dm = CIFAR10DataModule(root=None, download=True, download_dir=str(tmp_path / "c"))
    with pytest.raises(DatasetNotFoundError, match="download failed: OSError: network is unreachable"):
        dm.prepare_data()


def test_download_goes_through_torchvision_class_into_download_dir(tmp_path, monkeypatch):
    # stands in for torchvision.datasets.MNIST(root, download=True): same folder layout, no network
    import torchvision.datasets

    calls = []

    def fake_mnist(root, train=True, download=False):
        calls.append((root, train, download))
        write_mnist(Path(root) / "MNIST" / "raw", mnist_arrays(seed=5))

    monkeypatch.setattr(torchvision.datasets, "MNIST", fake_mnist)
    cache = tmp_path / "cache"
    dm = MNISTDataModule(root=None, download=True, download_dir=str(cache), val_size=10)
    dm.prepare_data()
    assert calls == [(str(cache), True, True)]
    dm.setup()
    assert len(dm.train_set[0]) == 30 and len(dm.test_set[0]) == 20
    # the next run finds the download offline
    again = MNISTDataModule(root=None, download=False, download_dir=str(cache), val_size=10)
    again.prepare_data()
    assert len(calls) == 1


# -- names ---------------------------------------------------------------------------------------------------
def _raw_names():
    return {lang: (NAMES_DIR / f"{lang}.txt").read_text(encoding="utf-8").strip().split("\n") for lang in LANGUAGES}


def test_names_counts_split_and_folding():
    raw = _raw_names()
    dm = NamesDataModule(root=str(NAMES_DIR), download=False, download_dir="/nonexistent")
    names, labels = dm.read_names()
    assert len(names) == sum(len(v) for v in raw.values()) == 20075
    assert len(set(labels.tolist())) == 18 == dm.num_classes
    # majority class: Russian, 46.9% of the set
    assert LANGUAGES[np.bincount(labels).argmax()] == "Russian"
    assert abs(np.bincount(labels).max() / len(labels) - 0.469) < 5e-4
    # folding as the tutorial: NFD, no combining marks, only ASCII letters and " .,;'"
    assert fold_to_ascii("Ślusàrski") == "Slusarski"
    assert "Belanger" in names and "Belanger" not in raw["French"] and "Bélanger" in raw["French"]
    assert "Adlersflugel" in names and "Groe" in names  # ü -> u; ß has no decomposition and is dropped
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ .,;'")
    assert all(set(n) <= allowed for n in names)
    for lang in ("French", "German", "Polish"):
        folded = ["".join(c for c in unicodedata.normalize("NFD", s) if not unicodedata.combining(c) and c in allowed)
                  for s in raw[lang]]
        idx = LANGUAGES.index(lang)
        assert [n for n, y in zip(names, labels) if y == idx] == folded

    dm.setup()
    overall = np.bincount(labels, minlength=18) / len(labels)
    sizes = [len(s[2]) for s in (dm.train_set, dm.val_set, dm.test_set)]
    assert sum(sizes) == 20075 and sizes == [16059, 2008, 2008]
    for (_, _, y), n in zip((dm.train_set, dm.val_set, dm.test_set), sizes):
        # stratified: each class's count within one name of its share
        assert np.all(np.abs(np.bincount(y.numpy(), minlength=18) - overall * n) <= 1.0)
    assert [decode(x[: int(n)]) for x, n in zip(dm.test_set[0][:50], dm.test_set[1][:50])] == dm.test_names[:50]


def test_names_batches_are_trimmed_and_padded_with_zero():
    dm = NamesDataModule(root=str(NAMES_DIR), download=False, download_dir="/nonexistent", batch_size=32)
    dm.setup()
    for loader in (dm.train_dataloader(), dm.val_dataloader()):
        x, lengths, y = next(iter(loader))
        assert x.dtype == lengths.dtype == y.dtype == torch.long
        assert x.shape[0] == lengths.shape[0] == y.shape[0] and x.shape[1] == int(lengths.max())
        positions = torch.arange(x.shape[1])[None, :]
        assert torch.all((x == 0) == (positions >= lengths[:, None]))
        assert int(x.max()) < dm.vocab_size == 58
    assert len(dm.train_dataloader()) == -(-16059 // 32)


def test_missing_names_folder(tmp_path):
    with pytest.raises(DatasetNotFoundError) as info:
        NamesDataModule(root=str(tmp_path), download=False, download_dir=str(tmp_path / "c"))
    msg = str(info.value)
    assert f"data.root={tmp_path}" in msg and "missing Arabic.txt" in msg and str(tmp_path / "c" / "names") in msg
    assert "https://download.pytorch.org/tutorial/data.zip" in msg


# -- tabular: train-split statistics only ------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [DiabetesDataModule, BreastCancerDataModule])
def test_tabular_standardizes_with_train_stats_only(cls, monkeypatch):
    dm = cls(dtype="float64")
    dm.setup()
    x, y = dm._load()
    tr, va, te = dm.split(y)
    assert np.allclose(dm.feature_mean.numpy(), x[tr].mean(0), rtol=1e-12)
    assert np.allclose(dm.feature_std.numpy(), x[tr].std(0), rtol=1e-12)
    xt = dm.train_set[0]
    torch.testing.assert_close(xt.mean(0), torch.zeros(dm.input_dim, dtype=torch.float64), atol=1e-12, rtol=0)
    torch.testing.assert_close(xt.std(0, unbiased=False), torch.ones(dm.input_dim, dtype=torch.float64))
    # blow up the val/test rows: the training data must not move at all
    x_bad = x.astype(np.float64).copy()
    x_bad[np.concatenate([va, te])] *= 1000.0
    monkeypatch.setattr(cls, "_load", lambda self: (x_bad, y))
    other = cls(dtype="float64")
    other.setup()
    assert torch.equal(other.train_set[0], dm.train_set[0]) and torch.equal(other.feature_mean, dm.feature_mean)
    torch.testing.assert_close(other.val_set[0] * other.feature_std + other.feature_mean,
                               torch.as_tensor(x_bad[va]), rtol=1e-12, atol=1e-9)


def test_diabetes_targets_and_breast_cancer_labels():
    d = DiabetesDataModule()
    d.setup()
    assert d.train_set[0].shape == (308, 10) and d.train_set[1].shape == (308, 1)
    assert [len(s[0]) for s in (d.val_set, d.test_set)] == [67, 67] and d.train_set[1].dtype == torch.float32
    raw = DiabetesDataModule(standardize_target=False)
    raw.setup()
    torch.testing.assert_close(d.unscale_target(d.test_set[1]), raw.test_set[1], rtol=1e-5, atol=1e-3)
    assert abs(d.train_set[1].mean().item()) < 1e-5 and abs(d.val_set[1].mean().item()) > 1e-3
    b = BreastCancerDataModule()
    b.setup()
    (xt, yt), (xv, yv), (xs, ys) = b.train_set, b.val_set, b.test_set
    assert xt.shape == (397, 30) and yt.shape == (397,) and yt.dtype == torch.long
    assert len(yv) == len(ys) == 86 and set(yt.tolist()) == {0, 1}
    for y in (yt, yv, ys):  # stratified: 212 malignant out of 569
        assert abs(float((y == 0).double().mean()) - 212 / 569) < 0.01


# -- augmentation ---------------------------------------------------------------------------------------------
def test_augment_ops_equal_torchvision_v2():
    from torchvision.transforms.v2 import functional as TF

    g = torch.Generator().manual_seed(0)
    x = torch.rand(16, 3, 28, 32, generator=g)
    off = torch.randint(0, 9, (16, 2), generator=g)
    ref = torch.stack([TF.crop(TF.pad(x[i], [4]), int(off[i, 0]), int(off[i, 1]), 28, 32) for i in range(16)])
    assert torch.equal(shift_crop(x, off, 4), ref)
    angles = (torch.rand(16, generator=g, dtype=torch.float64) * 2 - 1) * 30
    shifts = torch.round((torch.rand(16, 2, generator=g, dtype=torch.float64) * 2 - 1) * 5)
    ref = torch.stack([TF.affine(x[i], angle=float(angles[i]), translate=[int(shifts[i, 0]), int(shifts[i, 1])],
                                 scale=1.0, shear=[0.0, 0.0]) for i in range(16)])
    ours = affine_nearest(x, angles, shifts)
    # nearest sampling: a grid point that lands on a pixel boundary could round the other way
    assert (ours != ref).double().mean().item() < 1e-3
    zero = torch.zeros(16, dtype=torch.float64)
    ref = torch.stack([TF.affine(x[i], angle=0.0, translate=[int(shifts[i, 0]), int(shifts[i, 1])], scale=1.0,
                                 shear=[0.0, 0.0]) for i in range(16)])
    assert torch.equal(affine_nearest(x, zero, shifts), ref)


def test_augment_off_by_default_and_train_only(tmp_path):
    write_mnist(tmp_path / "MNIST" / "raw", mnist_arrays(per_class_train=8))
    common = dict(root=str(tmp_path), download=False, download_dir=str(tmp_path / "c"), val_size=10, batch_size=16)
    plain = MNISTDataModule(**common)
    plain.setup()
    assert not isinstance(plain.train_dataloader(), MappedBatchLoader)
    train_rows = rows(plain.train_set[0])
    assert all(rows(x) <= train_rows for x, _ in plain.train_dataloader())

    aug = MNISTDataModule(**common, augment=True, augment_padding=3)
    aug.setup()
    torch.manual_seed(0)
    loader = aug.train_dataloader()
    assert isinstance(loader, MappedBatchLoader) and len(loader) == len(plain.train_dataloader())
    x, y = next(iter(loader))
    assert x.shape == (16, 1, 28, 28)
    # every augmented image is a training image shifted by some offset in [-3, 3]^2, offsets differ per image
    shifted = {}
    for dy in range(7):
        for dx in range(7):
            offsets = torch.tensor([[dy, dx]]).expand(len(aug.train_set[0]), 2)
            for img in shift_crop(aug.train_set[0], offsets, 3):
                shifted.setdefault(img.numpy().tobytes(), (dy, dx))
    found = [shifted.get(img.numpy().tobytes()) for img in x]
    assert None not in found, "an augmented image is not a shift of any training image"
    assert len(set(found)) > 1
    # val and test are never augmented
    assert torch.equal(next(iter(aug.val_dataloader()))[0], aug.val_set[0][:512])
    assert torch.equal(next(iter(aug.test_dataloader()))[0], aug.test_set[0][:512])


def test_augment_bad_values_fail_at_construction(tmp_path):
    write_mnist(tmp_path / "MNIST" / "raw", mnist_arrays())
    with pytest.raises(ValueError, match="augment"):
        MNISTDataModule(root=str(tmp_path), download=False, augment=True, augment_padding=-1)
    with pytest.raises(ValueError, match="every data.augment_"):
        MNISTDataModule(root=str(tmp_path), download=False, augment=True, augment_padding=0)
    assert BatchAugment(padding=2).enabled and not BatchAugment().enabled


# -- configs -------------------------------------------------------------------------------------------------------
def _compose(overrides):
    with initialize_config_dir(config_dir=str(REPO / "configs"), version_base="1.3"):
        return compose(config_name="train", overrides=overrides)


def test_every_data_config_composes_and_instantiates(tmp_path):
    write_mnist(tmp_path / "mnist" / "MNIST" / "raw", mnist_arrays(per_class_train=6))
    write_mnist(tmp_path / "fashion", mnist_arrays(per_class_train=6))
    write_cifar(tmp_path / "cifar" / "cifar-10-batches-py")
    small = ["data.download=false", f"data.download_dir={tmp_path / 'cache'}", "data.val_size=10"]
    cases = {
        "fashion_mnist": (FashionMNISTDataModule, [f"data.root={tmp_path / 'fashion'}", *small]),
        "mnist": (MNISTDataModule, [f"data.root={tmp_path / 'mnist'}", *small]),
        "cifar10": (CIFAR10DataModule, [f"data.root={tmp_path / 'cifar'}", *small]),
        "names": (NamesDataModule, [f"data.root={NAMES_DIR}", "data.download=false",
                                    f"data.download_dir={tmp_path / 'cache'}"]),
        "diabetes": (DiabetesDataModule, []),
        "breast_cancer": (BreastCancerDataModule, []),
    }
    for name, (cls, overrides) in cases.items():
        cfg = _compose([f"data={name}", *overrides])
        dm = instantiate(cfg.data, _convert_="all")
        assert type(dm) is cls, name
        if "input_shape" in cfg.data:
            assert tuple(cfg.data.input_shape) == dm.input_shape, name
            assert list(cfg.model.input_shape) == list(cfg.data.input_shape), name  # the model interpolates it
        for key in ("num_classes", "input_dim", "output_dim", "vocab_size"):
            if key in cfg.data:
                assert cfg.data[key] == getattr(dm, key), (name, key)
        if "class_names" in cfg.data:
            assert tuple(cfg.data.class_names) == dm.class_names
        dm.setup()
        assert len(dm.train_set[0]) > len(dm.val_set[0]) > 0 and len(dm.test_set[0]) > 0, name


def test_config_declaration_mismatch_is_an_error(tmp_path):
    cfg = _compose(["data=breast_cancer", "data.input_dim=31"])
    with pytest.raises(Exception, match="data.input_dim is 31"):
        instantiate(cfg.data, _convert_="all")
    write_mnist(tmp_path / "MNIST" / "raw", mnist_arrays())
    cfg = _compose(["data=mnist", f"data.root={tmp_path}", "data.download=false", "data.input_shape=[3,32,32]"])
    with pytest.raises(Exception, match=r"data.input_shape is \[3, 32, 32\]"):
        instantiate(cfg.data, _convert_="all")
    cfg = _compose(["data=names", f"data.root={NAMES_DIR}", "data.download=false", "data.vocab_size=57"])
    with pytest.raises(Exception, match="data.vocab_size is 57"):
        instantiate(cfg.data, _convert_="all")


def test_train_runs_on_written_mnist_files_with_augmentation(tmp_path):
    from train import train

    write_mnist(tmp_path / "data" / "MNIST" / "raw", mnist_arrays(per_class_train=6))
    cfg = _compose(["data=mnist", f"data.root={tmp_path / 'data'}", "data.download=false", "data.val_size=10",
                    "data.batch_size=16", "data.augment=true", "trainer.max_epochs=1", "callbacks.progress_bar=null",
                    f"paths.output_dir={tmp_path / 'run'}", "logger=csv"])
    metrics = train(cfg)
    assert "test/acc" in metrics and np.isfinite(metrics["train/loss"])


# -- unreadable files, offline downloads, fractions: one error naming the file or key -------------------------
def test_truncated_cifar_batch_names_the_file(tmp_path):
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({"data": np.zeros((2, 3072), np.uint8), "labels": [0, 1]}, protocol=2)[:40])
    with pytest.raises(DataError, match=f"{path} is not a readable CIFAR batch"):
        read_batch(path)


def test_corrupted_gzip_idx_names_the_file(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(DataError, match=f"{path} cannot be read"):
        read_idx(path)


def test_names_file_that_is_not_utf8_is_named(tmp_path):
    root = tmp_path / "names"
    shutil.copytree(NAMES_DIR, root)
    (root / "Greek.txt").write_bytes("Papadopoulos\nΑλέξης\n".encode("utf-16"))
    dm = NamesDataModule(root=str(root), download=False, download_dir=str(tmp_path / "c"))
    with pytest.raises(DataError, match=f"{root / 'Greek.txt'} is not UTF-8 text"):
        dm.read_names()


def test_offline_download_is_one_line_and_removes_the_folders_it_made(tmp_path, monkeypatch):
    def torchvision_offline(self, target):
        (target / "FashionMNIST" / "raw").mkdir(parents=True, exist_ok=True)
        raise RuntimeError("Error downloading t10k-images-idx3-ubyte.gz:\nTried http://a/, got:\n<urlopen error timed out>\n")

    monkeypatch.setattr(FashionMNISTDataModule, "_download", torchvision_offline)
    cache = tmp_path / "cache"
    (cache / "other").mkdir(parents=True)  # a folder that was there before stays
    dm = FashionMNISTDataModule(download=True, download_dir=str(cache), system_dirs=[])
    with pytest.raises(DatasetNotFoundError) as info:
        dm.prepare_data()
    msg = str(info.value)
    assert "\n" not in msg and "Tried" not in msg
    assert "The download failed: RuntimeError: <urlopen error timed out>." in msg
    assert "set data.download=true" not in msg and "run once with network access" in msg
    assert "/usr/share" not in msg.split("To get it")[0]
    assert sorted(p.name for p in cache.iterdir()) == ["other"]


@pytest.mark.parametrize("kwargs, key", [({"val_fraction": 1.5}, "data.val_fraction"),
                                         ({"test_fraction": "abc"}, "data.test_fraction"),
                                         ({"val_fraction": 0.5, "test_fraction": 0.5}, "data.val_fraction + data.test_fraction"),
                                         ({"batch_size": "abc"}, "data.batch_size"),
                                         ({"drop_last": "maybe"}, "data.drop_last")])
def test_bad_split_and_batch_values_fail_at_construction(kwargs, key):
    with pytest.raises(ValueError, match=re.escape(key)):
        DigitsDataModule(**kwargs)


def _bn_model(layer):
    return torch.nn.Sequential(torch.nn.Linear(64, 8), layer)


@pytest.mark.parametrize("model, expected", [
    (torch.nn.Sequential(torch.nn.Linear(4, 2)), False),
    (_bn_model(torch.nn.BatchNorm1d(8)), True),
    (torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2)), True),
])
def test_normalizes_over_batch_finds_torch_batch_norm(model, expected):
    from datamodules import normalizes_over_batch

    assert normalizes_over_batch(model) is expected


def test_normalizes_over_batch_finds_refzoo_batch_norm_and_the_model_attribute():
    import layers
    from datamodules import normalizes_over_batch

    assert normalizes_over_batch(_bn_model(layers.BatchNorm1d(8)))
    said = _bn_model(torch.nn.BatchNorm1d(8))
    said.normalizes_over_batch = False  # a model may say so itself
    assert not normalizes_over_batch(said)


@pytest.mark.parametrize("batch_size, drop_last, batch_norm, batches, last", [
    (8, None, True, 1257 // 8, 8),        # 1257 = 157 * 8 + 1: the one-sample batch is dropped
    (8, None, False, 1257 // 8 + 1, 1),   # no batch norm: kept
    (8, True, False, 1257 // 8, 8),
    (4, None, True, 1257 // 4, 4),
    (3, None, True, 1257 // 3, 3),        # divides evenly: nothing to drop
    (10, None, True, 1257 // 10 + 1, 7),  # a last batch of 7 trains fine
])
def test_drop_last_auto_drops_only_a_one_sample_batch_under_batch_norm(batch_size, drop_last, batch_norm, batches, last):
    from types import SimpleNamespace

    dm = DigitsDataModule(batch_size=batch_size, drop_last=drop_last)
    dm.setup()
    assert len(dm.train_set[0]) == 1257
    model = _bn_model(torch.nn.BatchNorm1d(8)) if batch_norm else torch.nn.Linear(64, 8)
    dm.trainer = SimpleNamespace(lightning_module=model, current_epoch=0, global_rank=0, world_size=1)
    sizes = [len(y) for _, y in dm.train_dataloader()]
    assert len(sizes) == batches == len(dm.train_dataloader()) and sizes[-1] == last


@pytest.mark.parametrize("batch_size, drop_last, message", [
    (1, None, "data.batch_size=1: Sequential normalizes over the batch"),
    (8, False, "data.drop_last=false with data.batch_size=8 leaves a last batch of 1 of 1257"),
])
def test_batch_norm_cannot_train_on_one_sample(batch_size, drop_last, message):
    from types import SimpleNamespace

    dm = DigitsDataModule(batch_size=batch_size, drop_last=drop_last)
    dm.setup()
    dm.trainer = SimpleNamespace(lightning_module=_bn_model(torch.nn.BatchNorm1d(8)), current_epoch=0,
                                 global_rank=0, world_size=1)
    with pytest.raises(DataError, match=re.escape(message)):
        dm.train_dataloader()
