"""The variational autoencoder's negative ELBO: reconstruction plus beta times the KL term."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from ._autocast import float32_under_autocast
from ._reduction import check_non_negative
from .binary import BCELoss, BCEWithLogitsLoss
from .regression import MSELoss


class VAELoss(nn.Module):
    r"""Negative evidence lower bound of a Gaussian VAE, averaged over the batch.

    .. math::
        \mathcal{L} = \frac{1}{N} \sum_n \Big[ \sum_j \ell(\hat{x}_{nj}, x_{nj})
        - \frac{\beta}{2} \sum_k (1 + \log\sigma_{nk}^2 - \mu_{nk}^2 - \sigma_{nk}^2) \Big]

    The KL term is the closed form of KL(N(mu, sigma^2) || N(0, 1)). ``reconstruction='bce'``
    expects ``recon`` as probabilities in [0, 1] (the decoder ends in a sigmoid), or as logits when
    ``logits=True``; ``'mse'`` takes any real values. ``recon`` may be flat as long as it has as
    many elements as ``x``. ``forward`` returns the total; ``parts`` returns (total, recon, kl)
    for logging.
    """

    def __init__(self, reconstruction: str = "bce", beta: float = 1.0, logits: bool = False) -> None:
        super().__init__()
        if reconstruction not in ("bce", "mse"):
            raise ValueError(f"reconstruction must be 'bce' or 'mse', got {reconstruction!r}")
        self.reconstruction = reconstruction
        self.beta = check_non_negative("beta", beta)
        self.logits = logits
        if reconstruction == "mse":
            self._recon = MSELoss(reduction="sum")
        else:
            self._recon = BCEWithLogitsLoss(reduction="sum") if logits else BCELoss(reduction="sum")

    @staticmethod
    def kl(mu: Tensor, logvar: Tensor) -> Tensor:
        """Per-sample KL(N(mu, exp(logvar)) || N(0, 1)) summed over the latent dimensions."""
        return -0.5 * (1 + logvar - mu.square() - logvar.exp()).flatten(1).sum(1)

    @float32_under_autocast
    def parts(self, recon: Tensor, x: Tensor, mu: Tensor, logvar: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(total, reconstruction, kl), each averaged over the batch."""
        batch = x.shape[0]
        recon_term = self._recon(recon.reshape(x.shape), x) / batch
        kl_term = self.kl(mu, logvar).mean()
        return recon_term + self.beta * kl_term, recon_term, kl_term

    @float32_under_autocast
    def forward(self, recon: Tensor, x: Tensor, mu: Tensor, logvar: Tensor) -> Tensor:
        return self.parts(recon, x, mu, logvar)[0]
