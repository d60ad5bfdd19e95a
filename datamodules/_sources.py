"""Where datasets are looked for, and the one error raised when none of those places has them.

Every file-backed datamodule searches offline places first (a user-given `data.root`, system
folders such as Debian's `/usr/share/datasets/...`, earlier downloads in the download folder) and
downloads only when `data.download=true`. When all of that fails, the error lists each place with
what was missing there and how to get the data, in one line.
"""
from __future__ import annotations

import os
from pathlib import Path


class DatasetNotFoundError(FileNotFoundError, ValueError):
    """A dataset is in none of the places looked.

    It is a FileNotFoundError for callers that catch missing files, and a ValueError so that
    train.py reports it like any other bad config value (one line, non-zero exit, before training).
    """


def default_download_dir() -> Path:
    """Downloads land in `$REFZOO_DATA_DIR`, else `~/.cache/refzoo`."""
    env = os.environ.get("REFZOO_DATA_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "refzoo"


def not_found(dataset: str, looked: list[tuple[str, str]], remedies: list[str],
              download_error: BaseException | None = None) -> DatasetNotFoundError:
    """Build the error: `looked` holds (place, what was wrong there); `remedies` the ways to get the data."""
    places = "; ".join(f"{place} ({why})" for place, why in looked) or "nowhere (no place configured)"
    msg = f"{dataset} not found. Looked in: {places}."
    if download_error is not None:
        msg += f" The download failed: {type(download_error).__name__}: {download_error}."
    msg += " To get it: " + "; or ".join(remedies) + "."
    return DatasetNotFoundError(msg)
