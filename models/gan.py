"""Generative adversarial network with the non-saturating loss, trained by manual optimization.

    D step:  L_D = BCE(D(x), 1) + BCE(D(G(z)), 0)          (D(.) are logits; BCE-with-logits)
    G step:  L_G = BCE(D(G(z)), 1) = -log sigmoid(D(G(z)))  (non-saturating: strong gradients early)

`arch: dcgan` is a DCGAN-style pair for 28x28 / 32x32 images (transposed convolutions up, strided
convolutions down, batch norm, LeakyReLU(0.2) in D); `arch: mlp` a fully connected pair for small
images such as 8x8 digits; `arch: auto` picks mlp below 16 pixels a side. G ends in a sigmoid since
the data are in [0, 1]. `layers`: torch | refzoo, whose Linear/Conv2d/ConvTranspose2d/BatchNorm classes
build both networks (layers.nn_for).

Two optimizers (`optimizer_g`, `optimizer_d`), so Lightning's automatic optimization does not apply
and Lightning refuses `accumulate_grad_batches` and `gradient_clip_val` in manual mode. The GAN has
its own keys for both (`model.accumulate_grad_batches`, `model.clip_val`; train.py's config check
points the trainer's keys there). Accumulating over N micro-batches equals one batch N times as
large: each micro-batch's D loss is scaled by 1/N and back-propagated; after the N-th (or the last of
the epoch, scaled by 1/window) D steps, then G's loss against the updated D is back-propagated for
every noise batch of the window (re-generated from the stored z, so no generator graph is held) and
G steps. Gradients are clipped by norm (`clip_val`) before each step.
"""
from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any, Mapping, Sequence

import torch
from torch import Tensor, nn

from layers import nn_for

from ._blocks import TORCH_LAYERS, numel
from ._blocks import activation as make_activation
from ._generative import GenerativeModule, check_optimizer, fixed_noise
from ._loss_kind import require_loss_kind

ARCHS = ("auto", "mlp", "dcgan")


def mlp_generator(latent_dim: int, hidden: Sequence[int], image_shape: Sequence[int],
                  batch_norm: bool, nn_: SimpleNamespace = TORCH_LAYERS) -> nn.Sequential:
    """[Linear -> (BN) -> ReLU] per width, Linear to the pixels, sigmoid. Batch norm keeps the samples of a
    batch apart, which is what holds off mode collapse on a data set as small as digits."""
    layers: list[nn.Module] = []
    width = latent_dim
    for h in hidden:
        layers.append(nn_.Linear(width, int(h), bias=not batch_norm))
        if batch_norm:
            layers.append(nn_.BatchNorm1d(int(h)))
        layers.append(make_activation("relu"))
        width = int(h)
    return nn.Sequential(*layers, nn_.Linear(width, numel(image_shape)), make_activation("sigmoid"),
                         nn.Unflatten(1, tuple(image_shape)))


def mlp_discriminator(image_shape: Sequence[int], hidden: Sequence[int], slope: float,
                      nn_: SimpleNamespace = TORCH_LAYERS) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Flatten()]
    width = numel(image_shape)
    for h in hidden:
        layers += [nn_.Linear(width, int(h)), make_activation("leaky_relu", negative_slope=slope)]
        width = int(h)
    return nn.Sequential(*layers, nn_.Linear(width, 1))


def dcgan_generator(latent_dim: int, channels: Sequence[int], image_shape: Sequence[int],
                    batch_norm: bool, refine: int = 0, nn_: SimpleNamespace = TORCH_LAYERS) -> nn.Sequential:
    """z -> Linear -> (C_top, H/2^k, W/2^k) -> [ConvT 4x4/2 -> BN -> ReLU] ... -> ConvT to image -> sigmoid."""
    c, h, w = image_shape
    k = len(channels)
    top, sh, sw = int(channels[-1]), h >> k, w >> k
    layers: list[nn.Module] = [nn_.Linear(latent_dim, top * sh * sw, bias=not batch_norm)]
    if batch_norm:
        layers.append(nn_.BatchNorm1d(top * sh * sw))
    layers += [make_activation("relu"), nn.Unflatten(1, (top, sh, sw))]
    widths = [int(ch) for ch in reversed(channels)][1:]
    prev = top
    for ch in widths:
        layers.append(nn_.ConvTranspose2d(prev, ch, 4, stride=2, padding=1, bias=not batch_norm))
        if batch_norm:
            layers.append(nn_.BatchNorm2d(ch))
        layers.append(make_activation("relu"))
        prev = ch
    for _ in range(refine):  # 3x3 convolutions at the last hidden resolution: detail before the final upsampling
        layers.append(nn_.Conv2d(prev, prev, 3, padding=1, bias=not batch_norm))
        if batch_norm:
            layers.append(nn_.BatchNorm2d(prev))
        layers.append(make_activation("relu"))
    layers += [nn_.ConvTranspose2d(prev, c, 4, stride=2, padding=1), make_activation("sigmoid")]
    return nn.Sequential(*layers)


def dcgan_discriminator(image_shape: Sequence[int], channels: Sequence[int], slope: float,
                        batch_norm: bool, nn_: SimpleNamespace = TORCH_LAYERS) -> nn.Sequential:
    """[Conv 4x4/2 -> (BN) -> LeakyReLU] per channel count (no BN on the first), flatten, Linear to 1 logit."""
    c, h, w = image_shape
    layers: list[nn.Module] = []
    for i, ch in enumerate(int(ch) for ch in channels):
        norm = batch_norm and i > 0
        layers.append(nn_.Conv2d(c, ch, 4, stride=2, padding=1, bias=not norm))
        if norm:
            layers.append(nn_.BatchNorm2d(ch))
        layers.append(make_activation("leaky_relu", negative_slope=slope))
        c, h, w = ch, h // 2, w // 2
    return nn.Sequential(*layers, nn.Flatten(), nn_.Linear(c * h * w, 1))


class GAN(GenerativeModule):
    def __init__(self, input_shape: Sequence[int], num_classes: int, optimizer_g, optimizer_d, loss: nn.Module,
                 arch: str = "auto", latent_dim: int = 64, hidden_sizes: Sequence[int] = (128, 256),
                 channels: Sequence[int] = (64, 128), batch_norm: bool = True, leaky_slope: float = 0.2,
                 accumulate_grad_batches: int | None = None, clip_val: float | None = None,
                 judge: Mapping[str, Any] | None = None, pictures: int = 64, noise_seed: int = 0,
                 refine: int = 0, layers: str = "torch", init: str = "torch", init_bias: float | None = None):
        super().__init__(input_shape, num_classes, judge, pictures, means=("train/loss_d", "train/loss_g"))
        self.save_hyperparameters(ignore=["optimizer_g", "optimizer_d", "loss"])
        nn_ = nn_for(self.hparams.layers)
        self.automatic_optimization = False
        self.optimizer_g_factory = check_optimizer(optimizer_g, "model.optimizer_g")
        self.optimizer_d_factory = check_optimizer(optimizer_d, "model.optimizer_d")
        require_loss_kind(loss, ("binary_logit",), "gan", "bce_with_logits (the non-saturating GAN loss)")
        self.loss_fn = loss
        if arch not in ARCHS:
            raise ValueError(f"model.arch must be one of {list(ARCHS)}, got {arch!r}")
        if isinstance(refine, bool) or not isinstance(refine, int) or refine < 0:
            raise ValueError(f"model.refine must be a non-negative integer, got {refine!r}")
        if arch == "auto":
            arch = "mlp" if min(self.input_shape[1:]) < 16 else "dcgan"
        self.arch = arch
        self.latent_dim = int(latent_dim)
        if self.latent_dim < 1:
            raise ValueError(f"model.latent_dim must be a positive integer, got {latent_dim}")
        if arch == "mlp":
            self.generator = mlp_generator(self.latent_dim, hidden_sizes, self.input_shape, batch_norm, nn_)
            self.discriminator = mlp_discriminator(self.input_shape, list(reversed(hidden_sizes)), leaky_slope, nn_)
        else:
            from .autoencoder import check_conv_shape


            check_conv_shape(self.input_shape, channels)
            self.generator = dcgan_generator(self.latent_dim, channels, self.input_shape, batch_norm, refine, nn_)
            self.discriminator = dcgan_discriminator(self.input_shape, channels, leaky_slope, batch_norm, nn_)
        self.accumulate = self._positive_int(accumulate_grad_batches, "model.accumulate_grad_batches")
        if clip_val is not None and not float(clip_val) >= 0:
            raise ValueError(f"model.clip_val must be null or a non-negative number, got {clip_val}")
        self.clip_val = float(clip_val) if clip_val else None
        self.register_buffer("fixed_noise", fixed_noise(self.pictures, self.latent_dim, seed=noise_seed))
        self._window: list[tuple[Tensor, Tensor | None]] = []
        # model.init/init_bias; the penalty and noise switches are not wired into the two manual losses
        self.regularize(init=init, init_bias=init_bias)

    @staticmethod
    def _positive_int(value: Any, key: str) -> int:
        if value is None:
            return 1
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{key} must be a positive integer, got {value!r}")
        return value

    # ------------------------------------------------------------ sampling
    def forward(self, z: Tensor) -> Tensor:
        return self.generator(z)

    def sample(self, n: int) -> Tensor:
        return self.generator(torch.randn(n, self.latent_dim, device=self.device))

    def _bce(self, logits: Tensor, target: float) -> Tensor:
        return self.loss_fn(logits, torch.full_like(logits, target))

    def _clip(self, module: nn.Module) -> None:
        if self.clip_val:
            torch.nn.utils.clip_grad_norm_(module.parameters(), self.clip_val)

    # ------------------------------------------------------------ training
    def _window_of(self, batch_idx: int) -> tuple[int, int]:
        """(size of the accumulation window holding batch_idx, position of batch_idx in it)."""
        start = batch_idx - batch_idx % self.accumulate
        total = self.trainer.num_training_batches
        size = self.accumulate if not math.isfinite(total) else min(self.accumulate, int(total) - start)
        return size, batch_idx - start

    def training_step(self, batch, batch_idx):
        x = batch[0]
        opt_g, opt_d = self.optimizers()
        size, pos = self._window_of(batch_idx)
        if pos == 0:
            self._window = []
            opt_d.zero_grad()
            opt_g.zero_grad()
        z = torch.randn(x.shape[0], self.latent_dim, device=self.device)
        if size == 1:
            fake = self.generator(z)  # graph kept: the G step reuses it
        else:
            with torch.no_grad():
                fake = self.generator(z)  # re-generated with a graph in the G phase
        self._window.append((z, fake if size == 1 else None))

        # D: real -> 1, fake -> 0, accumulated over the window
        self.toggle_optimizer(opt_d)
        loss_d = self._bce(self.discriminator(x), 1.0) + self._bce(self.discriminator(fake.detach()), 0.0)
        self.manual_backward(loss_d / size)
        self.untoggle_optimizer(opt_d)
        self.means.update("train/loss_d", loss_d, x.shape[0])
        if pos + 1 < size:
            return
        self._clip(self.discriminator)
        opt_d.step()
        opt_d.zero_grad()

        # G: non-saturating, fake -> 1 against the updated D, for every noise batch of the window
        self.toggle_optimizer(opt_g)
        for z_k, fake_k in self._window:
            if fake_k is None:
                fake_k = self.generator(z_k)
            loss_g = self._bce(self.discriminator(fake_k), 1.0)
            self.manual_backward(loss_g / size)
            self.means.update("train/loss_g", loss_g, z_k.shape[0])
        self._clip(self.generator)
        opt_g.step()
        opt_g.zero_grad()
        self.untoggle_optimizer(opt_g)
        self._window = []

    def on_train_epoch_end(self) -> None:
        self.log_epoch("train")
        with torch.no_grad():
            was_training = self.generator.training
            self.generator.eval()
            images = self.generator(self.fixed_noise)
            self.generator.train(was_training)
        nrow = int(math.ceil(math.sqrt(images.shape[0])))
        self.save_grid(f"samples_epoch_{self.current_epoch:03d}.png", images, nrow=nrow)
        self.save_grid("samples.png", images, nrow=nrow)

    # ------------------------------------------------------------ evaluation
    def validation_step(self, batch, batch_idx):
        x = batch[0]
        self.collect("real", x)
        self.collect("fake", self.sample(x.shape[0]))

    def on_validation_epoch_end(self) -> None:
        self.log_epoch("val", {"val/fd": self.frechet("real", "fake")} if "real" in self._features else {})
        self.clear_collected()

    def test_step(self, batch, batch_idx):
        x = batch[0]
        self.collect("real", x)
        self.collect("fake", self.sample(x.shape[0]), with_probs=True)
        # the reference: as many uniform-noise images, which any working generator should beat
        self.collect("noise", torch.rand_like(x))

    def on_test_epoch_end(self) -> None:
        conf, cov = self.class_scores("fake")
        self.log_epoch("test", {"test/fd": self.frechet("real", "fake"),
                                "test/fd_noise": self.frechet("real", "noise"),
                                "test/confidence": conf, "test/coverage": cov})
        self.clear_collected()

    def configure_optimizers(self):
        return [self.optimizer_g_factory(self.generator.parameters()),
                self.optimizer_d_factory(self.discriminator.parameters())]
