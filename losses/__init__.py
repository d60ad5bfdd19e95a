"""Hand-written losses with torch's signatures: ``from losses import CrossEntropyLoss``."""
from .binary import BCELoss, BCEWithLogitsLoss
from .cross_entropy import CrossEntropyLoss, NLLLoss
from .hinge import HingeLoss, MultiMarginLoss
from .kl import KLDivLoss
from .regression import HuberLoss, L1Loss, MSELoss
from .vae import VAELoss

__all__ = [
    "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "HingeLoss", "HuberLoss", "KLDivLoss",
    "L1Loss", "MSELoss", "MultiMarginLoss", "NLLLoss", "VAELoss",
]
