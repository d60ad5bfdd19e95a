"""A run folder's lock: `<folder>/run.lock` names the process (host and pid) that owns the folder.

Taken before Hydra writes anything into the folder, removed when the run ends (also on exit and on
errors). A lock whose process is gone (killed, machine rebooted) is stale and taken over; a lock held
by a live process means a second run is aimed at the same folder, which is refused.
"""
from __future__ import annotations

import atexit
import errno
import json
import os
import socket
from pathlib import Path

LOCK_NAME = "run.lock"


class FolderLockedError(RuntimeError):
    """Another live process owns the folder."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: existence check only
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by another user
    return True


def _owner(path: Path) -> dict | None:
    try:
        owner = json.loads(path.read_text())
    except (OSError, ValueError):
        return None  # half-written or unreadable: treated as stale
    return owner if isinstance(owner, dict) else None


def _is_stale(owner: dict | None) -> bool:
    if owner is None or not isinstance(owner.get("pid"), int):
        return True
    if owner.get("host") != socket.gethostname():
        return False  # another machine's process cannot be checked from here: assume it is alive
    return not _alive(owner["pid"])


class RunFolderLock:
    """`acquire()` takes `<folder>/run.lock` or raises FolderLockedError naming the owner; `release()` removes it."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self.held = False

    def acquire(self) -> "RunFolderLock":
        self.folder.mkdir(parents=True, exist_ok=True)
        me = {"pid": os.getpid(), "host": socket.gethostname()}
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)  # atomic: one winner
            except FileExistsError:
                owner = _owner(self.path)
                if owner is not None and owner.get("pid") == me["pid"] and owner.get("host") == me["host"]:
                    self.held = True  # this process already owns it (a second job of the same process)
                    return self
                if not _is_stale(owner):
                    raise FolderLockedError(
                        f"{self.folder} is in use by process {owner['pid']} on {owner['host']} "
                        f"(lock file {self.path})") from None
                try:
                    self.path.unlink()  # stale: its process is gone
                except FileNotFoundError:
                    pass
                continue
            with os.fdopen(fd, "w") as f:
                json.dump(me, f)
            self.held = True
            atexit.register(self.release)  # also on sys.exit and unhandled errors
            return self
        raise FolderLockedError(f"{self.folder}: could not take {self.path} (another run keeps taking it)")

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        owner = _owner(self.path)
        if owner is not None and owner.get("pid") != os.getpid():
            return  # not ours any more
        try:
            self.path.unlink()
        except OSError as err:
            if err.errno != errno.ENOENT:
                raise
