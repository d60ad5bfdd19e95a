from .autoencoder import Autoencoder
from .cnn import CNN
from .elman import Elman, ElmanCell
from .gan import GAN
from .linear import LinearRegression, LogisticRegression
from .mlp import MLP
from .rnn import RNN
from .vae import VAE

__all__ = ["Autoencoder", "CNN", "Elman", "ElmanCell", "GAN", "LinearRegression", "LogisticRegression", "MLP", "RNN", "VAE"]
