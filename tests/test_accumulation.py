"""N accumulated micro-batches of B take the same optimizer steps as one batch of N*B, for every
automatically optimized model, the epoch's short last window included (models/_accumulation.py)."""
from __future__ import annotations

import pytest
import pytorch_lightning as pl
import torch
from hydra.utils import instantiate

import models._base
from train import train

# digits with val_fraction 0.16 keeps 1,239 training images: 39 micro-batches of 32, so the last window
# is a single micro-batch of 23 (Lightning would still divide it by 2); with batch 64 that is one step of 23.
# diabetes with val_fraction 0.2 keeps 286: 9 micro-batches, the last window again one micro-batch (of 30).
DIGITS = ["data.val_fraction=0.16"]
CASES = {
    "mlp": [*DIGITS, "model=mlp", "model.dropout=0.0", "model.batch_norm=false"],
    # batch norm normalizes each micro-batch by its own statistics: no accumulation can equal a bigger batch
    "cnn": [*DIGITS, "model=cnn", "model.dropout=0.0", "model.head_dropout=0.0", "model.batch_norm=false",
            "model.channels=[4,8]", "model.hidden_sizes=[16]"],
    "autoencoder": [*DIGITS, "model=autoencoder", "model.hidden_sizes=[32]"],
    # the VAE's noise: the CPU generator gives a batch of 64 codes the same numbers as two batches of 32
    "vae": [*DIGITS, "model=vae", "model.channels=[4,8]", "model.hidden_sizes=[16]"],
    "linear": ["model=linear", "data=diabetes", "data.val_fraction=0.2"],
}
COMMON = ["trainer.max_epochs=1", "test=false", "~callbacks.progress_bar"]
SGD64 = ["optimizer=sgd", "optimizer.lr=0.05", "trainer.precision=64-true"]


def _final_state(make_cfg, out, overrides):
    train(make_cfg(*COMMON, *overrides, tiny=False, output_dir=out))
    state = torch.load(out / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    return state["state_dict"], state["global_step"]


def _batches(make_cfg, tmp_path, overrides, batch_size):
    cfg = make_cfg(*COMMON, *overrides, f"data.batch_size={batch_size}", tiny=False, output_dir=tmp_path / "probe")
    dm = instantiate(cfg.data, _convert_="all")
    dm.setup("fit")
    n = dm.train_set[0].shape[0]
    return -(-n // batch_size), n % batch_size


@pytest.mark.parametrize("model", list(CASES))
def test_accumulated_micro_batches_equal_one_big_batch(make_cfg, tmp_path, model):
    overrides = [*SGD64, *CASES[model]]
    micro, last = _batches(make_cfg, tmp_path, overrides, 32)
    assert micro % 2 == 1 and last, "the data must end in a short, partial window for the test to mean much"
    big, big_steps = _final_state(make_cfg, tmp_path / "big", [*overrides, "data.batch_size=64"])
    acc, acc_steps = _final_state(make_cfg, tmp_path / "acc", [*overrides, "data.batch_size=32",
                                                               "trainer.accumulate_grad_batches=2"])
    assert big_steps == acc_steps == (micro + 1) // 2
    cfg = make_cfg(*COMMON, *overrides, tiny=False, output_dir=tmp_path / "init")
    pl.seed_everything(cfg.seed)
    start = instantiate(cfg.model, _convert_="all").double().state_dict()
    assert any(not torch.equal(big[k], start[k]) for k in big), "nothing moved: the test would prove nothing"
    for name in big:
        torch.testing.assert_close(acc[name], big[name], rtol=0, atol=1e-12,
                                   msg=lambda m, name=name: f"{name}: {m}")


@pytest.mark.parametrize("model", ["mlp", "linear"])
def test_without_the_window_weights_the_last_window_differs(make_cfg, tmp_path, model, monkeypatch):
    """Lightning's plain 1/N (what the models did before) fails the comparison above: it can fail."""
    overrides = [*SGD64, *CASES[model]]
    big, _ = _final_state(make_cfg, tmp_path / "big", [*overrides, "data.batch_size=64"])
    monkeypatch.setattr(models._base, "window_weight", lambda trainer, batch_idx, n: 1.0)
    plain, _ = _final_state(make_cfg, tmp_path / "plain", [*overrides, "data.batch_size=32",
                                                           "trainer.accumulate_grad_batches=2"])
    assert max((plain[k] - big[k]).abs().max().item() for k in big) > 1e-6


# float32: torch's own float32 tolerance (Adam divides by sqrt(v) + eps, so gradients near eps keep their
# rounding differences); float64 the project's 1e-12
@pytest.mark.parametrize("precision, rtol, atol", [("64-true", 0, 1e-12), ("32-true", 1.3e-6, 1e-5)])
def test_adam_accumulates_exactly_too(make_cfg, tmp_path, precision, rtol, atol):
    overrides = [*CASES["mlp"], "optimizer=adam", f"trainer.precision={precision}"]
    big, _ = _final_state(make_cfg, tmp_path / "big", [*overrides, "data.batch_size=64"])
    acc, _ = _final_state(make_cfg, tmp_path / "acc", [*overrides, "data.batch_size=32",
                                                       "trainer.accumulate_grad_batches=2"])
    for name in big:
        torch.testing.assert_close(acc[name], big[name], rtol=rtol, atol=atol, msg=lambda m, name=name: f"{name}: {m}")
