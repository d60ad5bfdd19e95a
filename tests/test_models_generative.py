"""Generative zoo: Frechet distance against scipy, confidence/coverage known answers, every model's
pictures in the run folder, and the GAN's gradient accumulation equal to a batch twice as large."""
from __future__ import annotations

import functools
import re

import numpy as np
import pytest
import pytorch_lightning as pl
import scipy.linalg
import torch

from models._feature_metrics import confidence, coverage, frechet_distance, sqrtm_psd
from train import train

JUDGE = ["model.judge.epochs=1", "model.judge.min_steps=0"]


def _scipy_frechet(a: np.ndarray, b: np.ndarray) -> float:
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    cross = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(cross))


@pytest.mark.parametrize("dim", [1, 5, 32])
def test_frechet_distance_matches_scipy(dim):
    g = torch.Generator().manual_seed(dim)
    a = torch.randn(400, dim, generator=g, dtype=torch.float64)
    mix = torch.randn(dim, dim, generator=g, dtype=torch.float64) / dim ** 0.5
    b = torch.randn(300, dim, generator=g, dtype=torch.float64) @ mix + 0.7
    ours = frechet_distance(a, b)
    assert ours == pytest.approx(_scipy_frechet(a.numpy(), b.numpy()), rel=1e-9, abs=1e-10)
    assert ours > 0.1


def test_frechet_distance_of_identical_sets_is_zero():
    x = torch.randn(500, 16, generator=torch.Generator().manual_seed(0)) * 3 + 1
    assert frechet_distance(x, x.clone()) == pytest.approx(0.0, abs=1e-7)
    # a pure shift of the mean costs exactly |delta|^2
    assert frechet_distance(x, x + 0.5) == pytest.approx(16 * 0.25, rel=1e-9)


def test_sqrtm_psd_squares_back():
    m = torch.randn(6, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    psd = m @ m.T
    root = sqrtm_psd(psd)
    torch.testing.assert_close(root @ root, psd, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(root, root.T)


def test_confidence_and_coverage_known_answers():
    probs = torch.tensor([[0.9, 0.1], [0.4, 0.6], [0.5, 0.5]])
    assert confidence(probs) == pytest.approx((0.9 + 0.6 + 0.5) / 3)
    assert coverage(torch.arange(10).repeat(7), 10) == pytest.approx(1.0)
    assert coverage(torch.full((50,), 3), 10) == pytest.approx(0.0)
    # two of four classes, equally often: log 2 / log 4
    assert coverage(torch.tensor([0, 1, 0, 1]), 4) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        coverage(torch.tensor([0]), 1)


@pytest.mark.parametrize("model,extra,pictures,metrics", [
    ("autoencoder", [], ["recon.png"], ["test/loss", "test/recon", "test/fd"]),
    ("autoencoder", ["model.arch=conv", "loss=bce"], ["recon.png"], ["test/recon", "test/fd"]),
    ("vae", ["model.latent_dim=2"], ["recon.png", "samples.png", "traversal.png"],
     ["test/elbo", "test/recon", "test/kl", "test/fd", "test/confidence", "test/coverage"]),
    ("vae_mlp", [], ["recon.png", "samples.png"], ["test/elbo", "test/recon", "test/kl"]),
    ("gan", [], ["samples.png", "samples_epoch_000.png"],
     ["test/fd", "test/confidence", "test/coverage", "val/fd", "train/loss_g", "train/loss_d"]),
])
def test_model_trains_and_writes_pictures(make_cfg, tmp_path, model, extra, pictures, metrics):
    cfg = make_cfg(f"model={model}", *extra, *JUDGE, f"model.judge.cache_dir={tmp_path / 'cache'}")
    out = train(cfg)
    for name in pictures:
        assert (tmp_path / name).stat().st_size > 100, name
    for key in metrics:
        assert key in out and np.isfinite(out[key]), key
    assert len(list((tmp_path / "cache" / "judges").glob("digits_1x8x8_e*.pt"))) == 1
    if model == "vae":
        assert out["test/elbo"] == pytest.approx(-out["test/loss"])
        assert out["test/loss"] == pytest.approx(out["test/recon"] + out["test/kl"], rel=1e-5)


def test_judge_given_by_path_is_used(make_cfg, tmp_path):
    from datamodules import DigitsDataModule
    from models._judge import save_judge, train_judge

    dm = DigitsDataModule()
    dm.setup("fit")
    path = save_judge(train_judge(dm, (1, 8, 8), 10, epochs=1, min_steps=0), tmp_path / "mine.pt")
    cfg = make_cfg("model=autoencoder", f"model.judge.path={path}", f"model.judge.cache_dir={tmp_path / 'cache'}")
    assert "test/fd" in train(cfg)
    assert not (tmp_path / "cache").exists()


def test_bad_judge_path_is_one_clear_error(make_cfg, tmp_path):
    cfg = make_cfg("model=autoencoder", f"model.judge.path={tmp_path / 'nope.pt'}")
    with pytest.raises(ValueError, match="judge.path"):
        train(cfg)


# ---------------------------------------------------------------- GAN accumulation and clipping
def _make_gan(accumulate: int = 1, clip: float | None = None):
    from losses import BCEWithLogitsLoss
    from models import GAN
    from optimizers import SGD

    pl.seed_everything(0)
    return GAN((1, 8, 8), 10, functools.partial(SGD, lr=0.1), functools.partial(SGD, lr=0.1),
               BCEWithLogitsLoss(), arch="mlp", latent_dim=16, hidden_sizes=[32, 64], batch_norm=False,
               pictures=4, accumulate_grad_batches=accumulate, clip_val=clip)


def _gan_after(tmp_path, batch_size: int, accumulate: int, micro_batches: int, clip: float | None = None):
    from datamodules import DigitsDataModule

    model = _make_gan(accumulate, clip)
    trainer = pl.Trainer(accelerator="cpu", max_epochs=1, limit_train_batches=micro_batches, limit_val_batches=0,
                         logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         default_root_dir=str(tmp_path / f"b{batch_size}a{accumulate}"), deterministic=True)
    trainer.fit(model, datamodule=DigitsDataModule(batch_size=batch_size))
    return model, trainer


def test_gan_accumulation_equals_a_larger_batch(tmp_path):
    big, t_big = _gan_after(tmp_path, 64, 1, 10)
    acc, t_acc = _gan_after(tmp_path, 32, 2, 20)
    small, _ = _gan_after(tmp_path, 32, 1, 10)
    assert acc.accumulate == 2 and t_acc.accumulate_grad_batches == 1  # the model's key, not the trainer's
    assert t_big.global_step == t_acc.global_step == 20  # 10 steps of each optimizer
    for (name, p), q in zip(big.named_parameters(), acc.parameters()):
        torch.testing.assert_close(q, p, rtol=0, atol=1e-5, msg=name)
    # the comparison can fail: a batch of 32 per step lands elsewhere
    assert max((p - r).abs().max().item() for p, r in zip(big.parameters(), small.parameters())) > 1e-3


def test_gan_steps_the_last_partial_window(tmp_path):
    _, trainer = _gan_after(tmp_path, 32, 2, 5)
    assert trainer.global_step == 2 * 3  # windows [0, 1], [2, 3], [4]


def test_gan_clips_gradients_itself(tmp_path):
    init = _make_gan()
    clipped, trainer = _gan_after(tmp_path, 64, 1, 3, clip=1e-4)
    free, _ = _gan_after(tmp_path, 64, 1, 3)
    assert clipped.clip_val == 1e-4 and trainer.gradient_clip_val is None  # the model's key, not the trainer's

    def moved(model, part):
        a, b = getattr(model, part).parameters(), getattr(init, part).parameters()
        return torch.cat([(p - q).flatten() for p, q in zip(a, b)]).norm().item()

    for part in ("generator", "discriminator"):
        # SGD(lr=0.1), 3 steps of a gradient whose norm is at most 1e-4
        assert moved(clipped, part) <= 3 * 0.1 * 1e-4 * (1 + 1e-4)
        assert moved(free, part) > 1e-3


def test_dcgan_refine_adds_3x3_convolutions_before_the_last_upsampling():
    from models.gan import dcgan_generator

    plain = dcgan_generator(16, [8, 16], (1, 28, 28), batch_norm=True)
    refined = dcgan_generator(16, [8, 16], (1, 28, 28), batch_norm=True, refine=2)
    convs = [m for m in refined if isinstance(m, torch.nn.Conv2d) and not isinstance(m, torch.nn.ConvTranspose2d)]
    assert len(convs) == 2 and all(c.kernel_size == (3, 3) and c.in_channels == c.out_channels == 8 for c in convs)
    assert len(refined) == len(plain) + 2 * 3  # conv, batch norm, ReLU each
    assert refined(torch.randn(3, 16)).shape == plain(torch.randn(3, 16)).shape == (3, 1, 28, 28)


@pytest.mark.parametrize("override, key", [("trainer.accumulate_grad_batches=2", "model.accumulate_grad_batches"),
                                           ("trainer.gradient_clip_val=1.0", "model.clip_val")])
def test_gan_refuses_the_trainers_accumulation_and_clipping_naming_its_own_keys(make_cfg, tmp_path, override, key):
    from runner import ConfigError

    with pytest.raises(ConfigError, match=rf"{re.escape(override)} does not apply to model=gan.*use {key}") as info:
        train(make_cfg("model=gan", override, *JUDGE))
    assert "\n" not in str(info.value)
    assert not (tmp_path / "metrics.csv").exists(), "training started before the error"


@pytest.mark.parametrize("value", ["-1", "1.5"])
def test_gan_bad_refine_is_one_clear_error(make_cfg, value):
    from runner import ConfigError

    with pytest.raises(ConfigError, match="model.refine must be a non-negative integer"):
        train(make_cfg("model=gan", f"model.refine={value}", *JUDGE))  # checked whatever the arch
