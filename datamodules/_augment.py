"""Optional train-time augmentation of image batches: random shift (pad + crop), flip, random affine.

The transforms are those of torchvision.transforms.v2 (RandomCrop with zero padding,
RandomHorizontalFlip, RandomAffine with nearest sampling and zero fill), and tests hold each one
equal to v2's functional op for the same drawn parameters. They are written here for whole batches
because a v2 transform called on a batch draws ONE set of parameters for all images (every image
would shift the same way), and running v2 image by image costs more per batch than a small
model's step. Here every image gets its own draw in a few whole-batch tensor ops.
Draws come from torch's global generator, which `seed_everything` fixes.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def shift_crop(x: torch.Tensor, offsets: torch.Tensor, padding: int) -> torch.Tensor:
    """v2.RandomCrop(size=(H, W), padding=p, fill=0) for a batch: image b is the (H, W) window of the
    zero-padded image whose top-left corner is offsets[b] = (top, left), each in [0, 2p]."""
    b, c, h, w = x.shape
    padded = F.pad(x, (padding, padding, padding, padding))
    rows = (offsets[:, 0, None] + torch.arange(h, device=x.device))[:, None, :, None]
    cols = (offsets[:, 1, None] + torch.arange(w, device=x.device))[:, None, None, :]
    return padded[torch.arange(b, device=x.device)[:, None, None, None],
                  torch.arange(c, device=x.device)[None, :, None, None], rows, cols]


def affine_nearest(x: torch.Tensor, angles: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    """v2.functional.affine(angle, translate, scale=1, shear=0) per image, nearest sampling, zero fill.

    The output pixel at p (pixel-centre coordinates relative to the image centre, y down) samples the
    input at R(-angle) (p - t): v2 rotates clockwise by `angle` degrees about the centre, then shifts
    by t = shifts[b] = (dx, dy) pixels. affine_grid works in [-1, 1] units, so with S = diag(2/W, 2/H)
    theta = [S R^-1 S^-1 | -S R^-1 t].
    """
    b, _, h, w = x.shape
    rad = angles.to(torch.float64) * (math.pi / 180.0)
    cos, sin = torch.cos(rad), torch.sin(rad)
    # R^-1 for v2's clockwise-in-image-coordinates rotation
    inv = torch.stack([torch.stack([cos, sin], -1), torch.stack([-sin, cos], -1)], -2)  # (B, 2, 2)
    s = torch.tensor([2.0 / w, 2.0 / h], dtype=torch.float64)
    lin = s[:, None] * inv / s[None, :]
    off = -(s * (inv @ shifts.to(torch.float64)[:, :, None]).squeeze(-1))
    theta = torch.cat([lin, off[:, :, None]], dim=2).to(x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="nearest", padding_mode="zeros", align_corners=False)


class BatchAugment:
    """Maps an (images, labels) batch to (augmented images, labels), one random draw per image.

    padding: shift by up to `padding` pixels (RandomCrop of the original size out of the zero-padded image);
    hflip: mirror half of the images; degrees / translate: RandomAffine's rotation range (+-degrees)
    and largest shift as a fraction of width/height (rounded to whole pixels, as v2 does).
    """

    def __init__(self, padding: int = 0, hflip: bool = False, degrees: float = 0.0, translate: float = 0.0):
        if int(padding) != padding or padding < 0 or degrees < 0 or not 0.0 <= translate < 1.0:
            raise ValueError(f"data.augment_*: padding must be an integer >= 0, degrees >= 0 and translate in "
                             f"[0, 1), got padding={padding}, degrees={degrees}, translate={translate}")
        self.padding = int(padding)
        self.hflip = bool(hflip)
        self.degrees = float(degrees)
        self.translate = float(translate)

    @property
    def enabled(self) -> bool:
        return bool(self.padding or self.hflip or self.degrees or self.translate)

    def augment(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        n, _, h, w = x.shape
        if self.padding:
            offsets = torch.randint(0, 2 * self.padding + 1, (n, 2), generator=generator)
            x = shift_crop(x, offsets.to(x.device), self.padding)
        if self.hflip:
            flip = torch.rand(n, generator=generator) < 0.5
            x = torch.where(flip.to(x.device)[:, None, None, None], x.flip(-1), x)
        if self.degrees or self.translate:
            angles = (torch.rand(n, generator=generator, dtype=torch.float64) * 2 - 1) * self.degrees
            limit = torch.tensor([self.translate * w, self.translate * h], dtype=torch.float64)
            shifts = torch.round((torch.rand(n, 2, generator=generator, dtype=torch.float64) * 2 - 1) * limit)
            x = affine_nearest(x, angles, shifts)
        return x

    def __call__(self, batch):
        images, *rest = batch
        return (self.augment(images), *rest)
