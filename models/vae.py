"""Variational autoencoder: a Gaussian encoder q(z|x), a decoder p(x|z), trained on the negative ELBO.

    mu, log sigma^2 = f_enc(x),   z = mu + sigma * eps,  eps ~ N(0, I)      (reparameterization)
    L = sum_j l(xhat_j, x_j) + beta * KL(N(mu, sigma^2) || N(0, I))          (per sample, batch mean)

`arch: conv` is the convolutional VAE (stride-2 convolutions down, transposed convolutions up);
`arch: mlp` with hidden_sizes [400] and latent_dim 20 is pytorch/examples' 784-400-20-400-784 VAE.
The loss is the hand-written losses.VAELoss (loss=vae); with `logits: true` in it the decoder stops
before the sigmoid. A 2-d latent also gets a traversal grid (traversal.png). `layers`: torch | refzoo,
whose classes build the encoder, the Gaussian heads and the decoder (layers.nn_for).
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
from torch import Tensor, nn

from layers import nn_for

from ._blocks import activation as make_activation, mlp_stack, numel
from ._generative import GenerativeModule, check_optimizer, fixed_noise, normal_quantile_grid
from ._loss_kind import require_loss_kind
from .autoencoder import check_arch, check_conv_shape, conv_decoder, conv_encoder


class VAE(GenerativeModule):
    def __init__(self, input_shape: Sequence[int], num_classes: int, optimizer, loss: nn.Module,
                 arch: str = "conv", latent_dim: int = 16, hidden_sizes: Sequence[int] = (256,),
                 channels: Sequence[int] = (32, 64), activation: str = "relu",
                 judge: Mapping[str, Any] | None = None, pictures: int = 16, traversal_steps: int = 15,
                 layers: str = "torch", penalty: dict | None = None, noise: dict | None = None,
                 init: str = "torch", init_bias: float | None = None):
        super().__init__(input_shape, num_classes, judge, pictures,
                         means=("train/loss", "val/loss", "test/loss", "test/elbo", "test/recon", "test/kl"))
        self.save_hyperparameters(ignore=["optimizer", "loss"])
        nn_ = nn_for(self.hparams.layers)
        self.optimizer_factory = check_optimizer(optimizer, "model.optimizer")
        require_loss_kind(loss, ("elbo",), "vae", "vae (the negative ELBO)")
        self.loss_fn = loss
        self.logits = bool(loss.logits)
        self.latent_dim = int(latent_dim)
        if self.latent_dim < 1:
            raise ValueError(f"model.latent_dim must be a positive integer, got {latent_dim}")
        if not hidden_sizes or any(int(h) < 1 for h in hidden_sizes):
            raise ValueError(f"model.hidden_sizes must be a non-empty list of positive integers, got {list(hidden_sizes)}")
        self.traversal_steps = int(traversal_steps)
        d, top = numel(self.input_shape), int(hidden_sizes[-1])
        if check_arch(arch) == "mlp":
            self.encoder = nn.Sequential(nn.Flatten(), mlp_stack(d, list(hidden_sizes)[:-1], top, activation, nn_=nn_),
                                         make_activation(activation))
        else:
            check_conv_shape(self.input_shape, channels)
            self.encoder = nn.Sequential(conv_encoder(self.input_shape, channels, top, activation, nn_),
                                         make_activation(activation))
        self.fc_mu = nn_.Linear(top, self.latent_dim)
        self.fc_logvar = nn_.Linear(top, self.latent_dim)
        if arch == "mlp":
            tail = [] if self.logits else [make_activation("sigmoid")]
            self.decoder = nn.Sequential(mlp_stack(self.latent_dim, list(reversed(hidden_sizes)), d, activation,
                                                   nn_=nn_),
                                         *tail, nn.Unflatten(1, self.input_shape))
        else:
            self.decoder = conv_decoder(self.input_shape, channels, self.latent_dim, activation,
                                        sigmoid=not self.logits, nn_=nn_)
        self.to_image = make_activation("sigmoid") if self.logits else nn.Identity()
        self.register_buffer("fixed_noise", fixed_noise(64, self.latent_dim))
        self.regularize(penalty, noise, init, init_bias)  # model.penalty/noise/init (models/_regularization.py)

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.encoder(x)
        return self.fc_mu(h), self.fc_logvar(h)

    @staticmethod
    def reparameterize(mu: Tensor, logvar: Tensor) -> Tensor:
        """z = mu + sigma * eps: the sample stays differentiable in mu and log sigma^2."""
        return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)

    def decode(self, z: Tensor) -> Tensor:
        """Decoder output: probabilities, or logits when the loss takes logits."""
        return self.decoder(z)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar) if self.training else mu
        return self.decode(z), mu, logvar

    def sample(self, n: int) -> Tensor:
        """Images decoded from codes drawn from the prior N(0, I)."""
        return self.to_image(self.decode(torch.randn(n, self.latent_dim, device=self.device)))

    def training_loss(self, batch):
        x = batch[0]
        recon, mu, logvar = self(x)
        return self.loss_fn(recon, x, mu, logvar), x.shape[0]

    def validation_step(self, batch, batch_idx):
        x = batch[0]
        recon, mu, logvar = self(x)
        self.means.update("val/loss", self.loss_fn(recon, x, mu, logvar), x.shape[0])

    def test_step(self, batch, batch_idx):
        x = batch[0]
        # the ELBO is an expectation over q(z|x): score it with a sampled z, as in training
        mu, logvar = self.encode(x)
        recon = self.decode(self.reparameterize(mu, logvar))
        total, rec, kl = self.loss_fn.parts(recon, x, mu, logvar)
        n = x.shape[0]
        for name, value in (("test/loss", total), ("test/elbo", -total), ("test/recon", rec), ("test/kl", kl)):
            self.means.update(name, value, n)
        mean_recon = self.to_image(self.decode(mu))
        self.collect("real", x)
        self.collect("recon", mean_recon)
        self.collect("samples", self.sample(n), with_probs=True)  # as many samples as real images
        if batch_idx == 0:
            self.save_reconstructions(x, mean_recon)

    def on_test_epoch_end(self) -> None:
        conf, cov = self.class_scores("samples")
        self.log_epoch("test", {"test/fd": self.frechet("real", "recon"),
                                "test/fd_samples": self.frechet("real", "samples"),
                                "test/confidence": conf, "test/coverage": cov})
        self.clear_collected()
        with torch.no_grad():
            self.save_grid("samples.png", self.to_image(self.decode(self.fixed_noise)), nrow=8)
            if self.latent_dim == 2:
                grid = normal_quantile_grid(self.traversal_steps).to(self.device)
                self.save_grid("traversal.png", self.to_image(self.decode(grid)), nrow=self.traversal_steps)

    def configure_optimizers(self):
        return self.optimizer_factory(self.parameters())
