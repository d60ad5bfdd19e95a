"""Failures give one clear line before training, and never destroy earlier outputs."""
from __future__ import annotations

import hashlib
import json

import pytest

from runner import ConfigError
from runner.divergence import DivergedError
from train import train


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_divergence_read_once_an_epoch_reports_the_first_bad_step(make_cfg, monkeypatch):
    """The accelerator path (bad step recorded on the device, read before checkpoints) run on the CPU."""
    from runner.divergence import DivergenceGuard

    overrides = ("optimizer=sgd", "optimizer.lr=1e6", "trainer.max_epochs=3", "~callbacks.progress_bar")
    with pytest.raises(DivergedError) as every_step:
        train(make_cfg(*overrides, tiny=False))
    monkeypatch.setattr(DivergenceGuard, "immediate_devices", ())
    with pytest.raises(DivergedError) as once_an_epoch:
        train(make_cfg(*overrides, tiny=False))
    # the weight check at validation would also stop the run, but at the epoch's last step, with loss nan
    assert once_an_epoch.value.step == every_step.value.step
    assert str(once_an_epoch.value.value) == str(every_step.value.value)


def test_divergence_stops_names_step_and_lr_and_keeps_last_good_checkpoint(make_cfg, tmp_path):
    train(make_cfg("trainer.max_epochs=1", "~callbacks.progress_bar", tiny=False))
    last = tmp_path / "checkpoints" / "last.ckpt"
    before = _digest(last)
    csv_before = (tmp_path / "metrics.csv").read_text()
    with pytest.raises(DivergedError, match=r"at step \d+ \(learning rate 1e\+06\)"):
        train(make_cfg("optimizer=sgd", "optimizer.lr=1e6", "trainer.max_epochs=3", "~callbacks.progress_bar",
                       tiny=False))
    assert _digest(last) == before, "the last good checkpoint was overwritten"
    assert (tmp_path / "metrics.csv").read_text().startswith(csv_before), "earlier metrics.csv rows were lost"
    record = json.loads((tmp_path / "metrics.json").read_text())
    assert record["status"] == "diverged"
    assert record["learning_rate"] == 1e6 and record["diverged_at_step"] >= 1


@pytest.mark.parametrize("overrides, message", [
    (["optimizer=lbfgs", "trainer.accumulate_grad_batches=2"], "cannot accumulate gradients"),
    (["optimizer=bfgs", "trainer.precision=bf16-mixed"], "trainer.precision=bf16-mixed"),
    (["optimizer=torch_lbfgs", "trainer.accumulate_grad_batches=4"], "trainer.accumulate_grad_batches=1"),
    (["trainer.accumulate_grad_batches=0"], "trainer.accumulate_grad_batches must be a positive integer"),
    (["trainer.precision=8-bit"], "trainer.precision=8-bit is not one of"),
    (["optimizer.lr=-1"], "optimizer.lr: Invalid learning rate: -1"),
    (["optimizer.betas=[0.9,1.5]"], "optimizer.betas[1]"),
    (["data.batch_size=0"], "data.batch_size must be a positive integer"),
    (["ckpt_path=last"], "ckpt_path=last: no checkpoint at"),
    (["data=mnist", "data.root=/nonexistent/mnist", "data.download=false"], "/nonexistent/mnist"),
])
def test_bad_config_raises_before_training(make_cfg, tmp_path, overrides, message):
    with pytest.raises((ConfigError, FileNotFoundError)) as info:
        train(make_cfg(*overrides))
    assert message in str(info.value)
    assert not (tmp_path / "metrics.csv").exists(), "training started before the error"


def test_closure_optimizer_refuses_the_gan(make_cfg):
    from omegaconf import open_dict

    from runner.checks import check_closure_optimizer

    cfg = make_cfg("optimizer=lbfgs")
    with open_dict(cfg):
        cfg.model._target_ = "models.GAN"
    with pytest.raises(ConfigError, match="gan model steps two optimizers"):
        check_closure_optimizer(cfg)
