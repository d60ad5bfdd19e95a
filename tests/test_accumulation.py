"""N accumulated micro-batches of B take the same optimizer steps as one batch of N*B."""
from __future__ import annotations

import pytest
import pytorch_lightning as pl
import torch
from hydra.utils import instantiate

from train import train

NO_NOISE = ["model.dropout=0.0", "model.batch_norm=false", "~callbacks.progress_bar", "test=false"]


def _final_params(make_cfg, out, *overrides):
    train(make_cfg(*NO_NOISE, *overrides, tiny=False, output_dir=out))
    state = torch.load(out / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    return {k: v for k, v in state["state_dict"].items() if k.startswith("net.")}, state["global_step"]


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("precision, tol", [("64-true", 1e-12), ("32-true", 1e-6)])
def test_accumulated_micro_batches_equal_one_big_batch(make_cfg, tmp_path, optimizer, precision, tol):
    # digits' 1,273 training images make 20 steps per epoch: 19 full windows and a partial last one
    # (57 samples: micro-batches of 32 + 25), which refzoo weights so that it too equals one batch
    common = [f"optimizer={optimizer}", f"trainer.precision={precision}", "trainer.max_epochs=1"]
    big, big_steps = _final_params(make_cfg, tmp_path / "big", *common, "data.batch_size=64")
    acc, acc_steps = _final_params(make_cfg, tmp_path / "acc", *common, "data.batch_size=32",
                                   "trainer.accumulate_grad_batches=2")
    assert big_steps == acc_steps == 20
    cfg = make_cfg(*NO_NOISE, *common, tiny=False, output_dir=tmp_path / "init")
    pl.seed_everything(cfg.seed)
    start = {f"net.{k}": v for k, v in instantiate(cfg.model, _convert_="all").net.state_dict().items()}
    for name in big:
        assert not torch.equal(big[name], start[name]), f"{name} did not move: the test would prove nothing"
        torch.testing.assert_close(acc[name], big[name], rtol=0, atol=tol, msg=name)
