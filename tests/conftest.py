"""Shared fixtures: configs composed through Hydra's compose API, with outputs under tmp_path."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict, read_write

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# tests share two cores; one intra-op thread each keeps them from fighting over them
os.environ.setdefault("OMP_NUM_THREADS", "1")


def compose_config(overrides: list[str], output_dir: Path) -> DictConfig:
    """The config `python train.py <overrides>` would see, with the run folder set to `output_dir`."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides, return_hydra_config=True)
    with read_write(cfg), open_dict(cfg):
        cfg.paths.output_dir = str(output_dir)
        cfg.hydra.runtime.output_dir = str(output_dir)
        cfg.hydra.job.num = 0
    HydraConfig.instance().set_config(cfg)
    return cfg


TINY = ["trainer.max_epochs=1", "+trainer.limit_train_batches=3", "+trainer.limit_val_batches=2",
        "+trainer.limit_test_batches=2", "callbacks.progress_bar=null"]


@pytest.fixture
def make_cfg(tmp_path):
    """make_cfg(*overrides, tiny=True) -> composed config writing into tmp_path."""

    def _make(*overrides: str, tiny: bool = True, output_dir: Path | None = None) -> DictConfig:
        extra = TINY if tiny else []
        return compose_config([*extra, *overrides], output_dir or tmp_path)

    yield _make
    GlobalHydra.instance().clear()


@pytest.fixture(autouse=True)
def _one_thread():
    import torch

    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(prev)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    """Any test that tries to reach beyond this machine fails loudly instead of waiting on a timeout."""
    import socket

    real_connect = socket.socket.connect

    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and host not in ("127.0.0.1", "::1", "localhost") and self.family != socket.AF_UNIX:
            raise RuntimeError(f"tests must not use the network (tried to connect to {address!r})")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


def names_dir() -> Path:
    """The char-RNN tutorial's surnames beside the project (never copied into it); REFZOO_NAMES_ROOT wins."""
    candidates = [os.environ.get("REFZOO_NAMES_ROOT"), ROOT.parent / "shared" / "data" / "names",
                  "/work/shared/data/names"]
    for c in candidates:
        if c and (Path(c) / "English.txt").is_file():
            return Path(c)
    raise FileNotFoundError(f"names data not found in {[str(c) for c in candidates if c]}; set REFZOO_NAMES_ROOT")
