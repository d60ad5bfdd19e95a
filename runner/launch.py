"""One run, one folder, whatever starts the processes: torchrun, srun, or Lightning's own launcher.

Under torchrun or srun every process composes its own config, and Hydra's default run folder
(`outputs/<date>/<time>`) comes from each process's own clock: two ranks a second apart, or on two nodes,
would name two folders. A multi-process run is therefore named after the id its launcher gives every
process:

    torchrun --rdzv-id=ID (or --standalone)  ->  outputs/torchrun-<ID>/
    srun (SLURM_NTASKS > 1)                   ->  outputs/slurm-<SLURM_JOB_ID>.<SLURM_STEP_ID>/

With no such id (torchrun's default rdzv id is the literal "none") the run is refused before anything is
written, unless `hydra.run.dir` was given: an explicit folder never reaches these resolvers.
Lightning's own launcher (`trainer=ddp_cpu` started with plain `python`) is a single process when Hydra
names the folder; it passes that folder to the children it starts (`hydra.run.dir=...`).

The resolvers below are used by configs/hydra/default.yaml. They are registered on import because Hydra
resolves the run folder and the log file name before train() runs, also in processes that only unpickle
the task (submitit jobs import this package then).
"""
from __future__ import annotations

import logging
import os
import re
import sys
from pathlib import Path
from typing import Any, Mapping

import torch
from omegaconf import OmegaConf

from .checks import ConfigError

log = logging.getLogger("refzoo")

# torchrun's value of TORCHELASTIC_RUN_ID when no --rdzv-id was given: the same word on every node of
# every run, so it cannot name a folder
_NO_RDZV_ID = "none"


class LaunchError(ConfigError):
    """A multi-process launch that gives its processes no shared run id, or unreadable launcher variables."""


def _int_var(env: Mapping[str, str], name: str, default: int) -> int:
    value = env.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise LaunchError(f"{name}={value!r}: the launcher variable must be an integer") from None


def process_rank(env: Mapping[str, str] | None = None) -> int:
    """This process's global rank as its launcher set it: RANK (torchrun), SLURM_PROCID (srun), else 0."""
    env = os.environ if env is None else env
    if "RANK" in env:
        return _int_var(env, "RANK", 0)
    if "SLURM_PROCID" in env and _int_var(env, "SLURM_NTASKS", 1) > 1:
        return _int_var(env, "SLURM_PROCID", 0)
    return 0


def launch_world_size(env: Mapping[str, str] | None = None) -> int:
    """How many processes an external launcher started: WORLD_SIZE beside RANK or TORCHELASTIC_RUN_ID
    (torchrun), SLURM_NTASKS beside SLURM_PROCID (srun), else 1.

    Lightning's own launcher sets WORLD_SIZE but not RANK, and only after Hydra named the run folder,
    so its first process counts as one.
    """
    env = os.environ if env is None else env
    if "RANK" in env or "TORCHELASTIC_RUN_ID" in env:
        return _int_var(env, "WORLD_SIZE", 1)
    if "SLURM_PROCID" in env:
        return _int_var(env, "SLURM_NTASKS", 1)
    return 1


def _folder_safe(text: str) -> str:
    # an id is user text (torchrun --rdzv-id): keep it to one path component
    return re.sub(r"[^-\w.]", "_", text).strip(".") or "_"


def run_name(default: str, env: Mapping[str, str] | None = None) -> str:
    """The run folder's name below outputs/: `default` for one process, else the launcher's shared id.

    torchrun's rendezvous id comes first (torchrun may itself run inside a SLURM job); a SLURM job id
    serves a torchrun without --rdzv-id too, since every node of the job sees the same one.
    """
    env = os.environ if env is None else env
    world = launch_world_size(env)
    if world <= 1:
        return default
    rdzv_id = env.get("TORCHELASTIC_RUN_ID", _NO_RDZV_ID)
    if rdzv_id not in ("", _NO_RDZV_ID):
        return "torchrun-" + _folder_safe(rdzv_id)
    job = env.get("SLURM_JOB_ID")
    if job:
        step = env.get("SLURM_STEP_ID")
        return "slurm-" + _folder_safe(f"{job}.{step}" if step else job)
    launcher = "torchrun" if "TORCHELASTIC_RUN_ID" in env else "a launcher setting RANK and WORLD_SIZE"
    raise LaunchError(
        f"hydra.run.dir: {world} processes started by {launcher} share no run id, so each would name its own "
        f"run folder from its own clock; pass hydra.run.dir=<folder> (the same on every node) or torchrun "
        f"--rdzv-id=<name>")


def rank_suffix(env: Mapping[str, str] | None = None) -> str:
    """'' on rank 0, '.rank<r>' elsewhere: each rank's log file beside rank 0's in the one run folder."""
    rank = process_rank(env)
    return f".rank{rank}" if rank else ""


def rank_zero_only(value: Any, env: Mapping[str, str] | None = None) -> Any:
    """`value` on rank 0, None elsewhere (Hydra writes .hydra/ once, not once per rank)."""
    return value if process_rank(env) == 0 else None


HYDRA_SUBDIR = ".hydra"
_RESUME_SUBDIR = re.compile(r"resume-(\d+)")


def output_subdir(ckpt_path: Any, output_dir: str, env: Mapping[str, str] | None = None) -> str | None:
    """Where Hydra writes this run's config.yaml, hydra.yaml and overrides.yaml, relative to its folder.

    None on ranks other than the first (one copy per run). `.hydra` for a new run, and for a resume with
    no earlier `.hydra/config.yaml` to keep. A resume (`ckpt_path` set) into a folder whose `.hydra/`
    holds the original run's files gets `.hydra/resume-<n>`, n one above the highest already there, so
    the original files are never written over. Registered with use_cache=True: the answer is kept in the
    composed config, so every later read of hydra.output_subdir names the folder Hydra wrote, even once
    that folder exists and would count as taken.
    """
    if process_rank(env) != 0:
        return None
    hydra_dir = Path(str(output_dir)) / HYDRA_SUBDIR
    if ckpt_path in (None, "", "null") or not (hydra_dir / "config.yaml").is_file():
        return HYDRA_SUBDIR
    taken = (int(m.group(1)) for path in hydra_dir.iterdir()
             if path.is_dir() and (m := _RESUME_SUBDIR.fullmatch(path.name)))
    return f"{HYDRA_SUBDIR}/resume-{1 + max(taken, default=0)}"


def _run_name_or_exit(default: str) -> str:
    try:
        return run_name(str(default))
    except LaunchError as err:
        # raised while Hydra names the folder, before logging is set up and outside train.py's handler:
        # one line and exit 2, as train.py does for every config error (SystemExit passes OmegaConf and Hydra)
        print(f"config error: {err}", file=sys.stderr)
        raise SystemExit(2) from None


def register_resolvers() -> None:
    """${refzoo.run_name:<default>}, ${refzoo.rank_suffix:}, ${refzoo.rank_zero:<value>},
    ${refzoo.output_subdir:<ckpt_path>,<run folder>}."""
    OmegaConf.register_new_resolver("refzoo.run_name", _run_name_or_exit, replace=True)
    OmegaConf.register_new_resolver("refzoo.rank_suffix", lambda: rank_suffix(), replace=True)
    OmegaConf.register_new_resolver("refzoo.rank_zero", lambda value: rank_zero_only(value), replace=True)
    OmegaConf.register_new_resolver("refzoo.output_subdir", lambda ckpt_path, output_dir: output_subdir(
        ckpt_path, output_dir), replace=True, use_cache=True)


def process_facts(trainer: Any) -> dict[str, Any]:
    """World size and the cluster environment Lightning detected (TorchElastic, SLURM, Lightning's own),
    for metrics.json; each process also logs its rank, into its own log file in the run folder."""
    env = getattr(trainer.strategy, "cluster_environment", None)  # single-device strategies have none
    facts = {"world_size": trainer.world_size, "cluster_environment": type(env).__name__ if env is not None else None}
    if facts["world_size"] > 1:
        log.info("process %d of %d (%s)", trainer.global_rank, facts["world_size"], facts["cluster_environment"])
    return facts


def end_process_group(trainer: Any) -> None:
    """Close torch.distributed's process group once every rank is done with it (train.py, end of a run).

    Lightning closes it at exit only for NCCL; a gloo group left to the interpreter's shutdown can abort a
    rank that has finished (seen once in the two-node torchrun test: SIGABRT, "terminate called without
    an active exception", after the run's last collective), and torchrun then fails the whole launch.
    """
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        trainer.strategy.barrier("refzoo.end")  # no rank closes its sockets while another still reads them
        torch.distributed.destroy_process_group()


register_resolvers()
