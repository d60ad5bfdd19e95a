"""Shared by tests/test_layers_*.py: run one of our layers and torch's twin on the same input, with
the same weights (torch's state_dict loaded into ours, strictly), and compare everything."""
from __future__ import annotations

import torch
from torch.nn.utils.rnn import PackedSequence

DTYPES = [torch.float64, torch.float32]


def tol(dtype: torch.dtype) -> dict:
    """float64: 1e-12 absolute; float32: torch's own default tolerance (rtol 1.3e-6, atol 1e-5)."""
    return dict(atol=1e-12, rtol=0.0) if dtype == torch.float64 else dict(atol=1e-5, rtol=1.3e-6)


def tensors(out) -> list[torch.Tensor]:
    """The tensors of a layer's output: a tensor, a PackedSequence's data, nested tuples."""
    if out is None:
        return []
    if isinstance(out, PackedSequence):
        return [out.data]
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in tensors(o)]
    return [out]


def twins(ours_cls, theirs_cls, *args, dtype=torch.float64, randomize=False, **kwargs):
    """(ours, theirs) built with the same arguments, ours holding theirs' state (strict load)."""
    theirs = theirs_cls(*args, **kwargs).to(dtype)
    if randomize:  # BatchNorm starts at gamma = 1, beta = 0: make the affine part count
        with torch.no_grad():
            for p in theirs.parameters():
                p.uniform_(0.5, 1.5)
    ours = ours_cls(*args, **kwargs).to(dtype)
    ours.load_state_dict(theirs.state_dict(), strict=True)
    return ours, theirs


def check_parity(ours, theirs, make_inputs, dtype, *, seed: int = 0, check_buffers: bool = True) -> None:
    """Forward both on the same inputs (make_inputs() is called once per module, so packed
    sequences get their own graph); compare outputs, input and parameter gradients, buffers."""
    # reseeded before each: random layers (dropout) draw the same numbers for both
    torch.manual_seed(seed)
    inputs_t = make_inputs()
    out_t = tensors(theirs(*inputs_t))
    torch.manual_seed(seed)
    inputs_o = make_inputs()
    out_o = tensors(ours(*inputs_o))
    assert len(out_t) == len(out_o)
    for a, b in zip(out_o, out_t):
        assert a.shape == b.shape and a.dtype == b.dtype
        torch.testing.assert_close(a, b, **tol(dtype))
    leaves_t = [t for t in tensors(inputs_t) if t.requires_grad] + [p for p in theirs.parameters() if p.requires_grad]
    leaves_o = [t for t in tensors(inputs_o) if t.requires_grad] + [p for p in ours.parameters() if p.requires_grad]
    diff = [k for k, t in enumerate(out_t) if t.requires_grad]
    if leaves_t and diff:
        gen = torch.Generator().manual_seed(seed + 1)
        ups = [torch.randn(out_t[k].shape, generator=gen, dtype=dtype) for k in diff]
        g_t = torch.autograd.grad([out_t[k] for k in diff], leaves_t, ups, allow_unused=True)
        g_o = torch.autograd.grad([out_o[k] for k in diff], leaves_o, ups, allow_unused=True)
        for a, b in zip(g_o, g_t):
            if b is None:
                assert a is None or not a.any()
                continue
            if b.is_sparse:
                a, b = a.to_dense(), b.to_dense()
            torch.testing.assert_close(a, b, **tol(dtype))
    if check_buffers:
        for (name, a), (_, b) in zip(ours.named_buffers(), theirs.named_buffers()):
            torch.testing.assert_close(a, b, **tol(dtype), msg=f"buffer {name}")
