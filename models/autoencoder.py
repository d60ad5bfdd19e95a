"""Autoencoder: compress an image to a latent code and decode it back.

    z = f_enc(x),   xhat = sigmoid(f_dec(z)),   L = l(xhat, x)

with l the loss group's reconstruction loss (mse by default, bce on the decoder's probabilities).
`arch: mlp` uses fully connected stacks; `arch: conv` two stride-2 convolutions down and two
transposed convolutions up (height and width must divide by 2^len(channels)). `layers`: torch | refzoo,
whose Linear/Conv2d/ConvTranspose2d classes build both halves (layers.nn_for).
"""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Mapping, Sequence

from torch import Tensor, nn

from layers import nn_for

from ._blocks import TORCH_LAYERS, mlp_stack, numel
from ._blocks import activation as make_activation
from ._generative import GenerativeModule, check_optimizer
from ._loss_kind import require_loss_kind

ARCHS = ("mlp", "conv")


def conv_encoder(input_shape: Sequence[int], channels: Sequence[int], out_features: int, act: str,
                 nn_: SimpleNamespace = TORCH_LAYERS) -> nn.Sequential:
    """[Conv4x4/2 -> act] per channel count, flatten, Linear to out_features."""
    c, h, w = input_shape
    layers: list[nn.Module] = []
    for ch in channels:
        layers += [nn_.Conv2d(c, int(ch), 4, stride=2, padding=1), make_activation(act)]
        c, h, w = int(ch), h // 2, w // 2
    return nn.Sequential(*layers, nn.Flatten(), nn_.Linear(c * h * w, out_features))


def conv_decoder(input_shape: Sequence[int], channels: Sequence[int], latent_dim: int, act: str,
                 sigmoid: bool = True, nn_: SimpleNamespace = TORCH_LAYERS) -> nn.Sequential:
    """Linear -> act -> [ConvTranspose4x4/2 -> act] mirrored, ending in the image's channels (and a sigmoid)."""
    c, h, w = input_shape
    depth = len(channels)
    top_c, top_h, top_w = int(channels[-1]), h >> depth, w >> depth
    layers: list[nn.Module] = [nn_.Linear(latent_dim, top_c * top_h * top_w), make_activation(act),
                               nn.Unflatten(1, (top_c, top_h, top_w))]
    widths = [int(ch) for ch in reversed(channels)][1:] + [c]
    prev = top_c
    for i, ch in enumerate(widths):
        layers.append(nn_.ConvTranspose2d(prev, ch, 4, stride=2, padding=1))
        if i < len(widths) - 1:
            layers.append(make_activation(act))
        prev = ch
    if sigmoid:
        layers.append(make_activation("sigmoid"))
    return nn.Sequential(*layers)


def check_conv_shape(input_shape: Sequence[int], channels: Sequence[int]) -> None:
    if not channels or any(int(c) < 1 for c in channels):
        raise ValueError(f"model.channels must be a non-empty list of positive integers, got {list(channels)}")
    step = 2 ** len(channels)
    if input_shape[1] % step or input_shape[2] % step:
        raise ValueError(f"model.arch=conv with {len(channels)} stride-2 layers needs height and width divisible "
                         f"by {step}; data.input_shape is {list(input_shape)} (use arch=mlp or fewer channels)")


def check_arch(arch: str) -> str:
    if arch not in ARCHS:
        raise ValueError(f"model.arch must be one of {list(ARCHS)}, got {arch!r}")
    return arch


def per_sample_sum(loss_fn: nn.Module, value: Tensor, x: Tensor) -> Tensor:
    """Turn a batch loss into the loss summed over one image's pixels, averaged over images."""
    if loss_fn.reduction == "sum":  # every loss the autoencoder accepts has torch's `reduction`
        return value / x.shape[0]
    return value * (x[0].numel())


class Autoencoder(GenerativeModule):
    def __init__(self, input_shape: Sequence[int], num_classes: int, optimizer, loss: nn.Module,
                 arch: str = "mlp", latent_dim: int = 16, hidden_sizes: Sequence[int] = (256, 128),
                 channels: Sequence[int] = (32, 64), activation: str = "relu",
                 judge: Mapping[str, Any] | None = None, pictures: int = 16, layers: str = "torch",
                 penalty: dict | None = None, noise: dict | None = None, init: str = "torch",
                 init_bias: float | None = None):
        super().__init__(input_shape, num_classes, judge, pictures,
                         means=("train/loss", "val/loss", "test/loss", "test/recon"))
        self.save_hyperparameters(ignore=["optimizer", "loss"])
        nn_ = nn_for(self.hparams.layers)
        self.optimizer_factory = check_optimizer(optimizer, "model.optimizer")
        # the decoder outputs probabilities (its last layer is a sigmoid)
        require_loss_kind(loss, ("regression", "probability"), "autoencoder", "mse, l1, huber, bce")
        self.loss_fn = loss
        if int(latent_dim) < 1:
            raise ValueError(f"model.latent_dim must be a positive integer, got {latent_dim}")
        d = numel(self.input_shape)
        if check_arch(arch) == "mlp":
            self.encoder = nn.Sequential(nn.Flatten(), mlp_stack(d, hidden_sizes, int(latent_dim), activation, nn_=nn_))
            self.decoder = nn.Sequential(mlp_stack(int(latent_dim), list(reversed(hidden_sizes)), d, activation,
                                                   nn_=nn_),
                                         make_activation("sigmoid"), nn.Unflatten(1, self.input_shape))
        else:
            check_conv_shape(self.input_shape, channels)
            self.encoder = conv_encoder(self.input_shape, channels, int(latent_dim), activation, nn_)
            self.decoder = conv_decoder(self.input_shape, channels, int(latent_dim), activation, nn_=nn_)
        self.regularize(penalty, noise, init, init_bias)  # model.penalty/noise/init (models/_regularization.py)

    def forward(self, x: Tensor) -> Tensor:
        return self.decoder(self.encoder(x))

    def training_loss(self, batch):
        x = batch[0]
        return self.loss_fn(self(x), x), x.shape[0]

    def validation_step(self, batch, batch_idx):
        x = batch[0]
        self.means.update("val/loss", self.loss_fn(self(x), x), x.shape[0])

    def test_step(self, batch, batch_idx):
        x = batch[0]
        recon = self(x)
        loss = self.loss_fn(recon, x)
        self.means.update("test/loss", loss, x.shape[0])
        self.means.update("test/recon", per_sample_sum(self.loss_fn, loss, x), x.shape[0])
        self.collect("real", x)
        self.collect("recon", recon)
        if batch_idx == 0:
            self.save_reconstructions(x, recon)

    def on_test_epoch_end(self) -> None:
        self.log_epoch("test", {"test/fd": self.frechet("real", "recon")})
        self.clear_collected()

    def configure_optimizers(self):
        return self.optimizer_factory(self.parameters())
