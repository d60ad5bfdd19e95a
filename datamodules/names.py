"""Surnames from 18 languages (the PyTorch char-RNN tutorial's data/names): classify a name's language.

Source: a folder of `<Language>.txt` files, one name per line (UTF-8): `data.root`, else
`<download folder>/names` where a download lands; with `data.download=true` the tutorial's zip is
fetched and its data/names/*.txt extracted there. Names are folded to ASCII as the tutorial does
(NFD decomposition, combining marks dropped, only ASCII letters and " .,;'" kept, so "Ślusàrski" ->
"Slusarski" and "Groß" -> "Gro"); duplicates are kept, as in the tutorial. Characters are indices
1..57 (0 pads). Every set is held padded to the longest name; each batch is
(indices (B, T) long, lengths (B,) long, labels (B,) long) with T the batch's longest name.
`augment.deletion_p`: training batches lose each character with that probability (the cheatsheet's
random deletion, datamodules/_text_augment.py); validation and test names stay whole.
"""
from __future__ import annotations

import io
import shutil
import string
import unicodedata
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import torch

from ._batch_map import MappedBatchLoader
from ._in_memory import InMemoryDataModule
from ._sources import DataError, default_download_dir, not_found
from ._text_augment import RandomDeletion
from ._split import check_fractions, stratified_split

URL = "https://download.pytorch.org/tutorial/data.zip"
ALPHABET = string.ascii_letters + " .,;'"
LANGUAGES = ("Arabic", "Chinese", "Czech", "Dutch", "English", "French", "German", "Greek", "Irish", "Italian",
             "Japanese", "Korean", "Polish", "Portuguese", "Russian", "Scottish", "Spanish", "Vietnamese")
_INDEX = {c: i + 1 for i, c in enumerate(ALPHABET)}


def fold_to_ascii(name: str) -> str:
    """NFD-decompose, drop combining marks, keep only ALPHABET's characters."""
    return "".join(c for c in unicodedata.normalize("NFD", name)
                   if unicodedata.category(c) != "Mn" and c in _INDEX)


def encode(name: str) -> list[int]:
    """Character indices (1..len(ALPHABET)) of the ASCII-folded name."""
    return [_INDEX[c] for c in fold_to_ascii(name)]


def decode(indices) -> str:
    """Inverse of `encode`; padding (0) is skipped."""
    return "".join(ALPHABET[i - 1] for i in (int(i) for i in indices) if i > 0)


def trim_padding(batch):
    """Cut the padded columns that no name of this batch reaches."""
    x, lengths, *rest = batch
    return (x[:, : int(lengths.max())], lengths, *rest)


def _read_utf8(path: Path) -> str:
    """The tutorial's files are UTF-8 (its own code opens them so); anything else is one error naming the file."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise DataError(f"{path} is not UTF-8 text (byte 0x{err.object[err.start]:02x} at offset {err.start}); the "
                        f"names files are UTF-8, as in {URL}: convert it (e.g. iconv -t UTF-8) or replace it") from None


class NamesDataModule(InMemoryDataModule):
    """Stratified train/val/test split of all names (fractions of the whole set, fixed by `split_seed`)."""

    num_classes = len(LANGUAGES)
    vocab_size = len(ALPHABET) + 1
    class_names = LANGUAGES

    def __init__(self, root: str | None = None, download: bool = True, download_dir: str | None = None,
                 batch_size: int = 64, val_fraction: float = 0.1, test_fraction: float = 0.1, split_seed: int = 0,
                 eval_batch_size: int | None = None, drop_last: bool | None = None, num_classes=None,
                 vocab_size=None, class_names=None, bootstrap: bool = False, augment: dict | None = None):
        super().__init__(batch_size=batch_size, eval_batch_size=eval_batch_size, split_seed=split_seed,
                         drop_last=drop_last, num_classes=num_classes, bootstrap=bootstrap)
        unknown = sorted(set(augment or {}) - {"deletion_p"})
        if unknown:
            raise ValueError(f"data.augment: unknown keys {unknown}; allowed: deletion_p")
        self.deletion = RandomDeletion((augment or {}).get("deletion_p") or 0.0)
        if vocab_size is not None and int(vocab_size) != self.vocab_size:
            raise ValueError(f"data.vocab_size is {vocab_size} but NamesDataModule has {self.vocab_size} "
                             f"(the {len(ALPHABET)} characters {ALPHABET!r} plus padding 0)")
        if class_names is not None and tuple(class_names) != LANGUAGES:
            raise ValueError(f"data.class_names is {list(class_names)}; NamesDataModule's classes are {list(LANGUAGES)}")
        self.root = Path(root).expanduser() if root not in (None, "") else None
        self.download = bool(download)
        self.download_dir = Path(download_dir).expanduser() if download_dir else default_download_dir()
        self.val_fraction, self.test_fraction = check_fractions(val_fraction, test_fraction)
        self.train_names: list[str] = []
        self.val_names: list[str] = []
        self.test_names: list[str] = []
        self._folder, self._looked = self._locate()
        if self._folder is None and not self.download:
            raise self._not_found()

    # -- lookup -------------------------------------------------------------------------------------
    def _locate(self):
        places = ([(self.root, f"data.root={self.root}")] if self.root is not None else [])
        places.append((self.download_dir / "names", f"download folder {self.download_dir / 'names'}"))
        looked = []
        for folder, label in places:
            missing = [lang for lang in LANGUAGES if not (folder / f"{lang}.txt").is_file()]
            if not missing:
                return folder, looked
            looked.append((label, "no such folder" if not folder.is_dir() else
                           f"missing {', '.join(m + '.txt' for m in missing[:3])}"
                           f"{f' and {len(missing) - 3} more' if len(missing) > 3 else ''}"))
        return None, looked

    def _not_found(self, download_error: BaseException | None = None):
        return not_found("The names dataset (18 <Language>.txt files)", self._looked, [
            "pass data.root=<folder holding Arabic.txt ... Vietnamese.txt> (data/names in the zip)",
            f"set data.download=true on a machine with network access (fetches {URL} into "
            f"{self.download_dir / 'names'})",
            f"unzip {URL} yourself and pass data.root=<...>/data/names"], download_error)

    def prepare_data(self) -> None:
        if self._folder is not None or not self.download:
            return
        target = self.download_dir / "names"
        try:
            with urllib.request.urlopen(URL, timeout=60) as response:
                archive = zipfile.ZipFile(io.BytesIO(response.read()))
            target.mkdir(parents=True, exist_ok=True)
            for member in archive.namelist():
                parts = member.split("/")
                # only data/names/<Language>.txt, written under our own name (no path from the archive)
                if len(parts) == 3 and parts[:2] == ["data", "names"] and parts[2].endswith(".txt"):
                    with archive.open(member) as src, open(target / parts[2], "wb") as dst:
                        shutil.copyfileobj(src, dst)
        except Exception as err:  # noqa: BLE001 - offline, proxy, bad zip: all reported as one error
            raise self._not_found(err) from err

    # -- loading ------------------------------------------------------------------------------------
    def read_names(self) -> tuple[list[str], np.ndarray]:
        """All names (ASCII-folded) and their language indices, languages in LANGUAGES order."""
        if self._folder is None:
            self._folder, self._looked = self._locate()
            if self._folder is None:
                raise self._not_found()
        names, labels = [], []
        for label, lang in enumerate(LANGUAGES):
            for line in _read_utf8(self._folder / f"{lang}.txt").strip().split("\n"):
                folded = fold_to_ascii(line)
                if folded:  # a blank line, or a name of characters outside the alphabet only
                    names.append(folded)
                    labels.append(label)
        return names, np.asarray(labels, dtype=np.int64)

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        names, labels = self.read_names()
        lengths = torch.tensor([len(n) for n in names], dtype=torch.long)
        x = torch.zeros(len(names), int(lengths.max()), dtype=torch.long)
        for row, name in enumerate(names):
            x[row, : len(name)] = torch.tensor([_INDEX[c] for c in name])
        y = torch.as_tensor(labels)
        splits = stratified_split(len(names), labels, self.val_fraction, self.test_fraction, self.split_seed)
        sets, kept = [], []
        for idx in splits:
            t = torch.as_tensor(idx)
            sets.append((x[t].contiguous(), lengths[t].contiguous(), y[t].contiguous()))
            kept.append([names[i] for i in idx])
        self.train_set, self.val_set, self.test_set = sets
        self.train_names, self.val_names, self.test_names = kept

    def _loader(self, tensors, batch_size, shuffle, drop_last=False):
        return MappedBatchLoader(super()._loader(tensors, batch_size, shuffle, drop_last), trim_padding)

    def train_dataloader(self):
        loader = super().train_dataloader()
        return MappedBatchLoader(loader, self.deletion) if self.deletion.p > 0 else loader
