"""Fashion-MNIST (Zalando's clothing images: 60,000 train + 10,000 test, 1x28x28, 10 classes).

Offline source: the Debian package `dataset-fashion-mnist` installs the four original gzipped IDX
files in /usr/share/datasets/fashion-mnist, searched after `data.root`.
"""
from __future__ import annotations

from .mnist import MNISTDataModule


class FashionMNISTDataModule(MNISTDataModule):
    """Images float32 (1, 28, 28) in [0, 1]; val = `val_size` images (stratified) of the official train set."""

    dataset_name = "Fashion-MNIST"
    torchvision_name = "FashionMNIST"
    system_dirs = (("/usr/share/datasets/fashion-mnist", "Debian package dataset-fashion-mnist"),)
    extra_remedies = ("`sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu; files land in "
                      "/usr/share/datasets/fashion-mnist)",)
    class_names = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot")
