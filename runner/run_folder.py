"""A run folder belongs to one run: a Hydra callback that guards it before Hydra writes into it.

Hydra creates the run folder, configures the log file and writes `.hydra/` before train.py's code runs;
its callbacks' `on_run_start` / `on_multirun_start` come before all of that, so the checks live here
(configs/hydra/default.yaml lists this callback):

- the folder must be creatable: `hydra.run.dir=/proc/x` or a path under a regular file is one line;
- a lock file (runner/lock.py) names the process that owns the folder; a second live run into it is
  refused, a stale lock (its process gone) is taken over, the lock is removed when the run ends;
- a new run (no `ckpt_path`) into a folder that holds an earlier run's records (metrics.csv, checkpoints,
  or the metrics.json of a run that trained) is refused unless `overwrite=true`, which removes them;
- a resume (`ckpt_path=...`) may write into a folder that holds records. It keeps the original run's
  `.hydra/{config,hydra,overrides}.yaml` because Hydra writes the resume's into `.hydra/resume-<n>/`
  (`hydra.output_subdir`, chosen by runner/launch.py's `output_subdir`), not because of anything here.

A multirun guards its sweep folder the same way; with `ckpt_path=last` every job resumes its own folder.
Processes of a multi-process run other than the first (Lightning's DDP launcher re-runs the script with
LOCAL_RANK set; torchrun and srun set RANK / SLURM_PROCID) share the first one's folder and are not
checked. Refusals print one line to stderr and exit 2, as train.py does for config errors (a SystemExit
passes Hydra's callback error handling).
"""
from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from .launch import process_rank
from .lock import FolderLockedError, RunFolderLock

# what a run writes that a second run would mix with (the folder's .hydra/ is Hydra's: a new run rewrites it)
RECORDS = ("metrics.csv", "metrics.json", "checkpoints")


def refuse(message: str) -> None:
    print(f"config error: {message}", file=sys.stderr)
    raise SystemExit(2)


def is_secondary_process(env: dict[str, str] | None = None) -> bool:
    """A rank other than the first of a multi-process run (it shares the first one's folder)."""
    env = dict(os.environ) if env is None else env
    for name in ("LOCAL_RANK", "NODE_RANK"):
        if env.get(name, "0") not in ("", "0"):
            return True
    try:
        return process_rank(env) != 0
    except ValueError:
        return False  # unreadable launcher variables are reported by runner/launch.py


def why_not_creatable(folder: Path, err: OSError) -> str:
    """Why mkdir failed, in words: the first existing ancestor is a file, is read-only, or refuses folders."""
    ancestor = folder
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if ancestor.exists() and not ancestor.is_dir():
        return f"{ancestor} is a file, not a folder"
    if not os.access(ancestor, os.W_OK):
        return f"{ancestor} is not writable ({err.strerror})"
    return f"{ancestor} does not accept new folders ({err.strerror})"


def make_folder(key: str, folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        refuse(f"{key}={folder}: cannot create the run folder: {why_not_creatable(folder, err)}")


def earlier_run(folder: Path) -> str | None:
    """What in `folder` shows an earlier run trained there, or None (an empty folder, or one whose run
    failed before training, may be reused)."""
    if (folder / "metrics.csv").is_file():
        return "metrics.csv"
    ckpts = folder / "checkpoints"
    if ckpts.is_dir() and any(ckpts.iterdir()):
        return "checkpoints/"
    record = folder / "metrics.json"
    if record.is_file():
        try:
            status = json.loads(record.read_text()).get("status")
        except (OSError, ValueError, AttributeError):
            status = None
        if status != "failed":
            return f"metrics.json (status {status})"
    return None


def remove_records(folder: Path) -> None:
    for name in RECORDS:
        path = folder / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def _wanted(config: DictConfig, key: str) -> Any:
    try:
        return OmegaConf.select(config, key)
    except Exception:  # noqa: BLE001 - an unresolvable key is Hydra's to report, not ours
        return None


def _is_resume(config: DictConfig) -> bool:
    return _wanted(config, "ckpt_path") not in (None, "", "null")


def _overwrite(config: DictConfig) -> bool:
    value = _wanted(config, "overwrite")
    if value not in (None, True, False):
        refuse(f"overwrite must be true or false, got {value!r}")
    return bool(value)


class RunFolderGuard(Callback):
    def __init__(self) -> None:
        self.lock: RunFolderLock | None = None

    def _take(self, key: str, folder: Path) -> None:
        make_folder(key, folder)
        try:
            self.lock = RunFolderLock(folder).acquire()
        except FolderLockedError as err:
            refuse(f"{key}={folder}: another run is using this folder: {err}; wait for it to end or "
                   f"choose another {key}")

    def _release(self) -> None:
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    def _guard(self, config: DictConfig, key: str) -> tuple[Path, bool] | None:
        """The folder `key` names, made and locked for this run, and the overwrite flag; None when there
        is nothing more to check: a secondary rank, no folder, or a resume (its folder locked all the same)."""
        if is_secondary_process():
            return None
        wanted = _wanted(config, key)
        if wanted is None:
            return None
        folder = Path(str(wanted)).absolute()
        overwrite = _overwrite(config)
        self._take(key, folder)
        if _is_resume(config):  # a sweep's jobs each resume their own folder, as a single run does
            return None
        return folder, overwrite

    # ---------------------------------------------------------------- single run
    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        guarded = self._guard(config, "hydra.run.dir")
        if guarded is None:
            return
        folder, overwrite = guarded
        found = earlier_run(folder)
        if found is None:
            return
        if overwrite:
            remove_records(folder)
            return
        self._release()
        refuse(f"hydra.run.dir={folder} already holds a run ({found}); resume it with ckpt_path=last, replace "
               f"it with overwrite=true, or choose another hydra.run.dir")

    def on_run_end(self, config: DictConfig, **kwargs: Any) -> None:
        self._release()

    # ---------------------------------------------------------------- multirun
    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        guarded = self._guard(config, "hydra.sweep.dir")
        if guarded is None:
            return
        folder, overwrite = guarded
        jobs = [job for job in sorted(folder.iterdir()) if job.is_dir() and earlier_run(job) is not None]
        if not jobs:
            return
        if overwrite:
            for job in jobs:
                remove_records(job)
            return
        self._release()
        refuse(f"hydra.sweep.dir={folder} already holds a sweep ({len(jobs)} run folders with records, e.g. "
               f"{jobs[0].name}/); replace it with overwrite=true, or choose another hydra.sweep.dir")

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        self._release()
