"""Embedding: a lookup table of rows."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import init


class _EmbeddingFn(torch.autograd.Function):
    """y[..., :] = W[idx[...], :]

    backward: dW[r] = sum over positions where idx == r of g[position]  (index_add), except
      - r = padding_idx: no gradient (the row stays as it is);
      - scale_grad_by_freq: each position's g divided by how often its index occurs in idx;
      - sparse: the same sum as a sparse COO tensor (one entry per position); like torch, not
        together with scale_grad_by_freq (a RuntimeError in backward).
    """

    @staticmethod
    def forward(ctx, idx, weight, padding_idx, scale_grad_by_freq, sparse):
        flat = idx.reshape(-1)
        ctx.save_for_backward(flat)
        ctx.conf = (weight.shape, padding_idx, scale_grad_by_freq, sparse)
        return weight.index_select(0, flat).view(*idx.shape, weight.shape[1])

    @staticmethod
    def backward(ctx, g):
        (flat,) = ctx.saved_tensors
        (rows, dim), padding_idx, scale_grad_by_freq, sparse = ctx.conf
        if scale_grad_by_freq and sparse:
            raise RuntimeError("embedding_backward: scale_grad_by_freq not supported with sparse gradients")
        g = g.reshape(-1, dim)
        if padding_idx is not None and sparse:
            keep = flat != padding_idx
            flat, g = flat[keep], g[keep]
        if scale_grad_by_freq:
            counts = torch.bincount(flat, minlength=rows)
            g = g / counts[flat].unsqueeze(1).to(g.dtype)
        if sparse:
            dw = torch.sparse_coo_tensor(flat.unsqueeze(0), g, (rows, dim), check_invariants=True)
        else:
            dw = g.new_zeros(rows, dim).index_add_(0, flat, g)
            if padding_idx is not None:
                dw[padding_idx] = 0  # what the padding positions added is dropped
        return None, dw, None, None, None


class Embedding(nn.Module):
    """y = W[idx]: row idx of the table W (num_embeddings, embedding_dim), W ~ N(0, 1) as torch
    initializes it (same seed, same table), the padding row zero and never updated.

    torch.nn.Embedding's arguments. max_norm: before the lookup, each looked-up row whose
    norm_type-norm exceeds max_norm is rescaled in place to max_norm (torch's renormalization).
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 max_norm: float | None = None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                 sparse: bool = False, _weight: torch.Tensor | None = None, _freeze: bool = False,
                 device=None, dtype=None) -> None:
        super().__init__()
        if padding_idx is not None:
            if padding_idx > 0:
                if padding_idx >= num_embeddings:
                    raise AssertionError("Padding_idx must be within num_embeddings")
            elif padding_idx < 0:
                if padding_idx < -num_embeddings:
                    raise AssertionError("Padding_idx must be within num_embeddings")
                padding_idx = num_embeddings + padding_idx
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = padding_idx
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        self.sparse = sparse
        if _weight is None:
            self.weight = nn.Parameter(torch.empty((num_embeddings, embedding_dim), device=device, dtype=dtype),
                                       requires_grad=not _freeze)
            self.reset_parameters()
        else:
            if list(_weight.shape) != [num_embeddings, embedding_dim]:
                raise AssertionError("Shape of weight does not match num_embeddings and embedding_dim")
            self.weight = nn.Parameter(_weight, requires_grad=not _freeze)

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with torch.no_grad():
                self.weight[self.padding_idx].fill_(0)

    @classmethod
    def from_pretrained(cls, embeddings: torch.Tensor, freeze: bool = True, padding_idx: int | None = None,
                        max_norm: float | None = None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                        sparse: bool = False) -> "Embedding":
        if embeddings.dim() != 2:
            raise AssertionError("Embeddings parameter is expected to be 2-dimensional")
        rows, cols = embeddings.shape
        return cls(rows, cols, padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse,
                   _weight=embeddings, _freeze=freeze)

    def _renorm(self, idx: torch.Tensor) -> None:
        """Rows looked up by idx with norm > max_norm become max_norm / (norm + 1e-7) times themselves."""
        with torch.no_grad():
            rows = torch.unique(idx)
            norms = torch.linalg.vector_norm(self.weight[rows], ord=self.norm_type, dim=1)
            scale = torch.where(norms > self.max_norm, self.max_norm / (norms + 1e-7), torch.ones_like(norms))
            self.weight[rows] *= scale.unsqueeze(1)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        if idx.dtype not in (torch.long, torch.int):
            raise RuntimeError("Expected tensor for argument #1 'indices' to have one of the following scalar "
                               f"types: Long, Int; but got {idx.dtype} instead (while checking arguments for "
                               "embedding)")
        idx = idx.long()  # an index out of range makes index_select raise torch's IndexError
        if self.max_norm is not None:
            self._renorm(idx)
        return _EmbeddingFn.apply(idx, self.weight, self.padding_idx, self.scale_grad_by_freq, self.sparse)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.scale_grad_by_freq:
            s += ", scale_grad_by_freq=True"
        if self.sparse:
            s += ", sparse=True"
        return s
