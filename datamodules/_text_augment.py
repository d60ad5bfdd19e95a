"""Train-time augmentation of character batches: the cheatsheet's random deletion.

Each character of a name is deleted with probability p, independently; a name that would lose every
character keeps one of them, chosen uniformly (a name is never empty), and its label is unchanged.
Batches are (codes (B, T) long, 0 = padding, lengths (B,) long, labels (B,) long); draws come from
torch's global generator, which `seed_everything` fixes.
"""
from __future__ import annotations

import torch


def delete_characters(codes: torch.Tensor, lengths: torch.Tensor, p: float,
                      generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(codes, lengths) with each real character deleted with probability p, the survivors moved left."""
    b, t = codes.shape
    real = torch.arange(t, device=codes.device)[None, :] < lengths[:, None]
    keep = real & (torch.rand(b, t, generator=generator, device=codes.device) >= p)
    empty = ~keep.any(dim=1)
    if empty.any():  # one character of each emptied name survives, at a uniform position of the name
        rows = empty.nonzero().squeeze(1)
        pos = (torch.rand(rows.shape[0], generator=generator, device=codes.device) * lengths[rows]).long()
        keep[rows, pos] = True
    # a stable sort of (not kept) puts each row's kept characters first, in their order
    order = torch.sort((~keep).to(torch.int8), dim=1, stable=True).indices
    new_lengths = keep.sum(dim=1)
    moved = codes.gather(1, order)
    moved = torch.where(torch.arange(t, device=codes.device)[None, :] < new_lengths[:, None], moved, 0)
    return moved[:, : int(new_lengths.max())], new_lengths


class RandomDeletion:
    """Maps a names batch (codes, lengths, labels) to one with characters deleted (p per character)."""

    def __init__(self, p: float):
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= float(p) < 1.0:
            raise ValueError(f"data.augment.deletion_p must be a probability in [0, 1), got {p!r}")
        self.p = float(p)

    def __call__(self, batch):
        codes, lengths, *rest = batch
        return (*delete_characters(codes, lengths, self.p), *rest)
