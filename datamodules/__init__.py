from ._batch_norm import normalizes_over_batch, one_sample_batch_error
from ._sources import DataError, DatasetNotFoundError
from .breast_cancer import BreastCancerDataModule
from .cifar10 import CIFAR10DataModule
from .diabetes import DiabetesDataModule
from .digits import DigitsDataModule
from .fashion_mnist import FashionMNISTDataModule
from .mnist import MNISTDataModule
from .names import NamesDataModule

__all__ = ["BreastCancerDataModule", "CIFAR10DataModule", "DataError", "DatasetNotFoundError", "DiabetesDataModule",
           "DigitsDataModule", "FashionMNISTDataModule", "MNISTDataModule", "NamesDataModule", "normalizes_over_batch",
           "one_sample_batch_error"]
