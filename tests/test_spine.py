"""The spine: every config option composes, train(cfg) runs and records, runs are deterministic."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from conftest import CONFIGS
from train import train
from runner import ConfigError

def _options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONFIGS / group).glob("*.yaml"))


@pytest.mark.parametrize("group", ["data", "model", "optimizer", "loss", "trainer", "callbacks", "logger"])
def test_every_option_of_a_group_composes(make_cfg, group):
    options = _options(group)
    assert options, f"configs/{group} is empty"
    for opt in options:
        cfg = make_cfg(f"{group}={opt}", tiny=False)
        assert cfg.get(group) is not None, f"{group}={opt} composed to nothing"


def test_train_writes_run_folder(make_cfg, tmp_path):
    cfg = make_cfg()
    metrics = train(cfg)
    record = json.loads((tmp_path / "metrics.json").read_text())
    for key in ("model", "data", "optimizer", "seed", "epochs", "wall_seconds", "status"):
        assert key in record, key
    assert record["status"] == "ok"
    assert record["model"] == "mlp" and record["data"] == "digits" and record["optimizer"] == "adam"
    assert record["metrics"]["test/acc"] == pytest.approx(metrics["test/acc"])
    assert 0.0 <= metrics["test/acc"] <= 1.0
    assert (tmp_path / "metrics.csv").is_file()
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file()
    assert any(p.name.startswith("epoch_") for p in (tmp_path / "checkpoints").iterdir())


def test_same_seed_same_numbers(make_cfg, tmp_path):
    runs = []
    for name in ("a", "b"):
        out = tmp_path / name
        train(make_cfg("trainer.max_epochs=2", "seed=3", output_dir=out))
        metrics = json.loads((out / "metrics.json").read_text())["metrics"]
        # wall-clock timings (time/*) differ by nature; every learned number must not
        runs.append({k: v for k, v in metrics.items() if not k.startswith("time/")})
    assert runs[0] == runs[1] and "test/acc" in runs[0]


def test_different_seed_different_numbers(make_cfg, tmp_path):
    losses = []
    for seed in (1, 2):
        out = tmp_path / str(seed)
        losses.append(train(make_cfg(f"seed={seed}", output_dir=out))["train/loss"])
    assert losses[0] != losses[1]


def test_digits_split_is_stratified_and_disjoint():
    from datamodules import DigitsDataModule

    dm = DigitsDataModule()
    dm.setup()
    sizes = [s[0].shape[0] for s in (dm.train_set, dm.val_set, dm.test_set)]
    assert sum(sizes) == 1797
    x = dm.train_set[0]
    assert x.shape[1:] == (1, 8, 8) and x.min() >= 0 and x.max() <= 1
    for split in (dm.val_set, dm.test_set):
        counts = torch.bincount(split[1], minlength=10).float()
        assert counts.min() >= counts.max() - 2  # stratified: every class about equally present


def test_split_indices_are_disjoint_and_cover_everything():
    import numpy as np
    from datamodules._split import stratified_split

    labels = np.repeat(np.arange(4), 25)
    tr, va, te = stratified_split(100, labels, 0.2, 0.2, seed=0)
    assert len(set(tr) | set(va) | set(te)) == 100 and len(tr) + len(va) + len(te) == 100
    assert np.bincount(labels[te]).tolist() == [5, 5, 5, 5]
    with pytest.raises(ValueError, match="data.val_fraction"):
        stratified_split(100, labels, 0.0, 0.2, seed=0)


def test_loader_serves_every_sample_once_per_epoch():
    from datamodules._tensor_loader import TensorBatchLoader

    x = torch.arange(103)
    loader = TensorBatchLoader((x,), 10, shuffle=True, seed=0)
    seen = torch.cat([b[0] for b in loader])
    assert len(loader) == 11 and sorted(seen.tolist()) == list(range(103))
    again = torch.cat([b[0] for b in loader])
    assert not torch.equal(seen, again)  # a new order each epoch
    shards = [torch.cat([b[0] for b in TensorBatchLoader((x,), 10, rank=r, world_size=2)]) for r in (0, 1)]
    assert len(shards[0]) == len(shards[1]) == 52
    assert set(torch.cat(shards).tolist()) == set(range(103))


def test_declared_shape_must_match_data(make_cfg):
    cfg = make_cfg("data.num_classes=7")
    with pytest.raises(ConfigError, match="data.num_classes"):
        train(cfg)


def test_missing_checkpoint_is_a_config_error(make_cfg, tmp_path):
    cfg = make_cfg(f"ckpt_path={tmp_path / 'nope.ckpt'}")
    with pytest.raises(ConfigError, match="ckpt_path"):
        train(cfg)


def test_not_a_checkpoint_is_a_config_error(make_cfg, tmp_path):
    bogus = tmp_path / "bogus.ckpt"
    bogus.write_text("not a checkpoint")
    with pytest.raises(ConfigError, match="not a readable Lightning checkpoint"):
        train(make_cfg(f"ckpt_path={bogus}"))


def test_datamodule_reshuffles_every_epoch_and_shards_by_rank():
    from types import SimpleNamespace

    from datamodules import DigitsDataModule

    dm = DigitsDataModule(batch_size=2000)
    dm.setup()
    dm.trainer = SimpleNamespace(current_epoch=0, global_rank=0, world_size=1, lightning_module=None)
    first = next(iter(dm.train_dataloader()))[1]
    dm.trainer.current_epoch = 1
    second = next(iter(dm.train_dataloader()))[1]
    assert not torch.equal(first, second) and torch.equal(first.sort().values, second.sort().values)
    dm.trainer.current_epoch = 0
    assert torch.equal(next(iter(dm.train_dataloader()))[1], first)  # a function of the epoch: resumable
    dm.trainer.world_size = 2
    shard = next(iter(dm.train_dataloader()))[1]
    assert len(shard) == (len(first) + 1) // 2


def test_threads_setting(monkeypatch):
    import os

    from runner.threads import resolve_threads

    assert resolve_threads(3) == 3
    assert resolve_threads(None) == torch.get_num_threads()
    monkeypatch.setattr(os, "getloadavg", lambda: (1e6, 0.0, 0.0))
    assert resolve_threads("auto") == 1  # a saturated machine still gets one thread
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    assert resolve_threads("auto") == min(torch.get_num_threads(), len(os.sched_getaffinity(0)))
    with pytest.raises(ValueError, match="threads must be"):
        resolve_threads("many")


def test_bad_threads_is_a_config_error(make_cfg):
    with pytest.raises(ConfigError, match="threads must be"):
        train(make_cfg("threads=0"))
