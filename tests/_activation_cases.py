"""The activation cases the parity tests share: (id, our module factory, torch's module factory;
the linear activation with a slope other than 1 has no torch module, its reference is the product)."""
from __future__ import annotations

import torch
from torch import nn

import activations as A

# every class and argument combination, each next to torch's own module with the same arguments
CASES = [
    ("linear-1", lambda: A.LinearActivation(), lambda: nn.Identity()),
    ("linear-m2.5", lambda: A.LinearActivation(slope=-2.5), lambda: lambda z: z * -2.5),
    ("linear-0", lambda: A.LinearActivation(slope=0.0), lambda: lambda z: z * 0.0),
    ("relu", lambda: A.ReLU(), lambda: nn.ReLU()),
    ("relu-inplace", lambda: A.ReLU(inplace=True), lambda: nn.ReLU()),
    ("leaky-default", lambda: A.LeakyReLU(), lambda: nn.LeakyReLU()),
    ("leaky-0.2", lambda: A.LeakyReLU(0.2), lambda: nn.LeakyReLU(0.2)),
    ("leaky-0", lambda: A.LeakyReLU(0.0), lambda: nn.LeakyReLU(0.0)),
    ("leaky-1.5", lambda: A.LeakyReLU(negative_slope=1.5), lambda: nn.LeakyReLU(1.5)),
    ("leaky-m0.3", lambda: A.LeakyReLU(-0.3), lambda: nn.LeakyReLU(-0.3)),
    ("elu-default", lambda: A.ELU(), lambda: nn.ELU()),
    ("elu-0.5", lambda: A.ELU(alpha=0.5), lambda: nn.ELU(0.5)),
    ("elu-2", lambda: A.ELU(alpha=2.0), lambda: nn.ELU(2.0)),
    ("elu-m0.5", lambda: A.ELU(alpha=-0.5), lambda: nn.ELU(-0.5)),
    ("sigmoid", lambda: A.Sigmoid(), lambda: nn.Sigmoid()),
    ("tanh", lambda: A.Tanh(), lambda: nn.Tanh()),
    ("gelu", lambda: A.GELU(), lambda: nn.GELU()),
    ("gelu-tanh", lambda: A.GELU(approximate="tanh"), lambda: nn.GELU(approximate="tanh")),
    ("silu", lambda: A.SiLU(), lambda: nn.SiLU()),
    ("softplus-default", lambda: A.Softplus(), lambda: nn.Softplus()),
    ("softplus-b2", lambda: A.Softplus(beta=2.0), lambda: nn.Softplus(beta=2.0)),
    ("softplus-b0.5-t5", lambda: A.Softplus(0.5, 5.0), lambda: nn.Softplus(0.5, 5.0)),
    ("softplus-bm1", lambda: A.Softplus(beta=-1.0), lambda: nn.Softplus(beta=-1.0)),
    ("softplus-t0", lambda: A.Softplus(threshold=0.0), lambda: nn.Softplus(threshold=0.0)),
    ("softmax-0", lambda: A.Softmax(dim=0), lambda: nn.Softmax(dim=0)),
    ("softmax-1", lambda: A.Softmax(1), lambda: nn.Softmax(1)),
    ("softmax-m1", lambda: A.Softmax(dim=-1), lambda: nn.Softmax(dim=-1)),
    ("log_softmax-0", lambda: A.LogSoftmax(dim=0), lambda: nn.LogSoftmax(dim=0)),
    ("log_softmax-1", lambda: A.LogSoftmax(1), lambda: nn.LogSoftmax(1)),
    ("log_softmax-m1", lambda: A.LogSoftmax(dim=-1), lambda: nn.LogSoftmax(dim=-1)),
]
IDS = [c[0] for c in CASES]


def tol(dtype: torch.dtype) -> dict:
    """torch's own test tolerance: float32 rtol 1.3e-6, atol 1e-5; float64 held to 1e-12."""
    if dtype == torch.float64:
        return dict(rtol=1e-12, atol=1e-12)
    return dict(rtol=1.3e-6, atol=1e-5)


def value_and_grad(fn, z: torch.Tensor, upstream: torch.Tensor):
    """fn(z) and the gradient of <fn(z), upstream> with respect to z."""
    z = z.detach().clone().requires_grad_(True)
    out = fn(z)
    (grad,) = torch.autograd.grad(out, z, upstream)
    return out.detach(), grad


def assert_matches(fn, reference, z: torch.Tensor, label: str, *, seed: int = 1,
                   skip_nan_grad: bool = False, reference64: bool = False, rowwise: bool = False) -> None:
    """Values and input gradients of fn against reference on z (same dtype), NaN where it is NaN.

    skip_nan_grad: the gradient at NaN inputs is left out (ELU's, which is NaN by choice where
    torch's depends on the tensor's size; tested on its own). reference64: the reference runs in
    float64 and is rounded to z's dtype (torch's float32 GELU is NaN at +inf, its float64 one inf).
    rowwise (softmax, log-softmax): in float32 the reference is torch's float64 answer, and the
    absolute tolerance grows with the largest entry: a float32 row sum is off in proportion to its
    size, torch's own too (its float32 log-softmax gradient on 1025 x 1024 inputs is 1.6e-4 off)."""
    reference64 = reference64 or (rowwise and z.dtype == torch.float32)
    upstream = torch.randn(z.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    if reference64:
        want, want_grad = (t.to(z.dtype) for t in value_and_grad(reference, z.double(), upstream))
    upstream = upstream.to(z.dtype)
    if not reference64:
        want, want_grad = value_and_grad(reference, z, upstream)
    got, got_grad = value_and_grad(fn, z, upstream)
    assert got.dtype == want.dtype and got.shape == want.shape, label
    if skip_nan_grad:
        keep = ~z.isnan()
        got_grad, want_grad = got_grad[keep], want_grad[keep]
    for part, ours, theirs in (("value", got, want), ("grad", got_grad, want_grad)):
        t = dict(tol(z.dtype), equal_nan=True)
        if rowwise and z.dtype == torch.float32:
            finite = theirs[theirs.isfinite()]
            t["atol"] = max(t["atol"], t["rtol"] * finite.abs().max().item() if finite.numel() else 0.0)
        torch.testing.assert_close(ours, theirs, **t, msg=lambda m: f"{label} {part}: {m}")
