"""Where datasets are looked for, and the one-line errors raised when they are missing or unreadable.

Every file-backed datamodule searches offline places first (a user-given `data.root`, system
folders such as Debian's `/usr/share/datasets/...`, earlier downloads in the download folder) and
downloads only when `data.download=true`. When all of that fails, the error lists each place with
what was missing there and how to get the data, in one line. A file that is found but cannot be
read is one line naming the file.
"""
from __future__ import annotations

import os
from pathlib import Path


class DataError(ValueError):
    """A data file or data setting that cannot work; train.py reports it as one line and exits 2."""


class DatasetNotFoundError(DataError, FileNotFoundError):
    """A dataset is in none of the places looked.

    It is a FileNotFoundError for callers that catch missing files, and a ValueError (through
    DataError) so that train.py reports it like any other bad config value.
    """


def default_download_dir() -> Path:
    """Downloads land in `$REFZOO_DATA_DIR`, else `~/.cache/refzoo`."""
    env = os.environ.get("REFZOO_DATA_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "refzoo"


def short_reason(err: BaseException) -> str:
    """`Type: last line of the message`: libraries' multi-line texts (torchvision's download errors list
    every mirror tried) end with the cause, which is what a user needs."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return f"{type(err).__name__}: {lines[-1]}" if lines else type(err).__name__


def not_found(dataset: str, looked: list[tuple[str, str]], remedies: list[str],
              download_error: BaseException | None = None) -> DatasetNotFoundError:
    """Build the error: `looked` holds (place, what was wrong there); `remedies` the ways to get the data."""
    places = "; ".join(f"{place} ({why})" for place, why in looked) or "nowhere (no place configured)"
    msg = f"{dataset} not found. Looked in: {places}."
    if download_error is not None:
        msg += f" The download failed: {short_reason(download_error)}."
    msg += " To get it: " + "; or ".join(remedies) + "."
    return DatasetNotFoundError(msg)


def existing_dirs(folder: Path) -> set[Path]:
    """The folders at and below `folder` now (empty when it does not exist), to undo a failed download."""
    if not folder.is_dir():
        return set()
    return {folder, *(p for p in folder.rglob("*") if p.is_dir())}


def remove_new_empty_dirs(folder: Path, before: set[Path]) -> None:
    """Remove the empty folders a failed download left at or below `folder` that were not in `before`,
    so an offline attempt leaves no empty `~/.cache/refzoo/<Dataset>/raw` behind."""
    if not folder.is_dir():
        return
    for path in sorted((p for p in folder.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        if path not in before and not any(path.iterdir()):
            path.rmdir()
    if folder not in before and not any(folder.iterdir()):
        folder.rmdir()
