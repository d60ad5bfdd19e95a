"""Shared fixtures: configs composed through Hydra's compose API, with outputs under tmp_path."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from runner.compose import compose_config  # noqa: E402  (needs ROOT on sys.path)

# tests share two cores; one intra-op thread each keeps them from fighting over them
os.environ.setdefault("OMP_NUM_THREADS", "1")


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
def _test_device():
    """REFZOO_TEST_DEVICE=cuda makes every tensor a test creates without a device a CUDA tensor, so the
    parity tests of losses, activations and optimizers can run on a GPU too, e.g.
    `REFZOO_TEST_DEVICE=cuda pytest tests/test_losses.py`. Tests that convert to numpy or build CPU-only
    data may fail that way; the CUDA checks that must pass carry the `gpu` marker (`make test-gpu`)."""
    device = os.environ.get("REFZOO_TEST_DEVICE")
    if not device:
        yield
        return
    import torch

    torch.set_default_device(device)
    yield
    torch.set_default_device(None)


@pytest.fixture(autouse=True)
def _one_thread():
    """Test tensors are tiny: extra intra-op threads only add waiting, badly so on a busy machine
    (a descheduled worker thread stalls the whole op)."""
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
