"""Dense sweep of the activations against torch, values and input gradients separately.

Elementwise: z = linspace(-40, 40, 2^20 + 1) and, as a tensor of its own, +-0, +-1e-8, +-1e4.
Softmax / log-softmax: rows of 21 (consecutive and shuffled values of the sweep, rows with one
entry 0..80 above the rest, rows holding the specials) along dim -1 and dim 0, the rows repeated
to more than 2^20 elements. float32 and float64, upstream gradients of ones and of a fixed random
tensor. There is one code path at every size, so the large tensors hold it to the same bar.

float64: |ours - torch| <= 1e-12 + 1e-12 |torch| at every element.

float32, torch's own test tolerance (rtol 1.3e-6, atol 1e-5) against torch's float32 answer
(softmax and log-softmax: against torch's float64 answer rounded, since a float32 row sum's
rounding depends on the order of the sum, torch's included). And the elementwise activations,
which have no such sum, are held tighter: 1.3e-6 relative at every element, however small
(down to float32's smallest normal number);
only on a tensor where torch's own float32 answer misses its float64 answer by more than that
somewhere (e.g. SiLU's gradient s (1 + z (1 - s)) cancels in 1 - s near s = 1) is an absolute
floor of 1.3e-6 * max |torch| over the tensor added. No exceptions are listed.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import activations as A

SPECIALS = [0.0, -0.0, 1e-8, -1e-8, 1e4, -1e4]
ROW = 21
SIZE = (1 << 20) + 1
RTOL, ATOL = 1.3e-6, 1e-5

# (id, our module factory, torch's function)
ELEMENTWISE = [
    ("linear", lambda: A.LinearActivation(), lambda z: z * 1.0),
    ("relu", lambda: A.ReLU(), F.relu),
    ("leaky-0.01", lambda: A.LeakyReLU(0.01), lambda z: F.leaky_relu(z, 0.01)),
    ("leaky-0.2", lambda: A.LeakyReLU(0.2), lambda z: F.leaky_relu(z, 0.2)),
    ("leaky-1.5", lambda: A.LeakyReLU(1.5), lambda z: F.leaky_relu(z, 1.5)),
    ("leaky-m0.5", lambda: A.LeakyReLU(-0.5), lambda z: F.leaky_relu(z, -0.5)),
    ("elu-1", lambda: A.ELU(1.0), lambda z: F.elu(z, 1.0)),
    ("elu-0.5", lambda: A.ELU(0.5), lambda z: F.elu(z, 0.5)),
    ("sigmoid", lambda: A.Sigmoid(), torch.sigmoid),
    ("tanh", lambda: A.Tanh(), torch.tanh),
    ("gelu", lambda: A.GELU(), F.gelu),
    ("gelu-tanh", lambda: A.GELU(approximate="tanh"), lambda z: F.gelu(z, approximate="tanh")),
    ("silu", lambda: A.SiLU(), F.silu),
    ("softplus-b1-t20", lambda: A.Softplus(1.0, 20.0), lambda z: F.softplus(z, 1.0, 20.0)),
    ("softplus-b2-t20", lambda: A.Softplus(2.0, 20.0), lambda z: F.softplus(z, 2.0, 20.0)),
    ("softplus-b1-t5", lambda: A.Softplus(1.0, 5.0), lambda z: F.softplus(z, 1.0, 5.0)),
    ("softplus-b2-t5", lambda: A.Softplus(2.0, 5.0), lambda z: F.softplus(z, 2.0, 5.0)),
]
# (id, our module factory, torch's function, dim): the rows lie along dim
ROWWISE = [
    ("softmax-dim-1", lambda: A.Softmax(dim=-1), lambda z: torch.softmax(z, -1), -1),
    ("softmax-dim0", lambda: A.Softmax(dim=0), lambda z: torch.softmax(z, 0), 0),
    ("log_softmax-dim-1", lambda: A.LogSoftmax(dim=-1), lambda z: torch.log_softmax(z, -1), -1),
    ("log_softmax-dim0", lambda: A.LogSoftmax(dim=0), lambda z: torch.log_softmax(z, 0), 0),
]


def _rows_input() -> torch.Tensor:
    """(n, ROW) float64, n * ROW > 2^20: the sweep in consecutive rows (near-uniform softmax), the
    same values shuffled (rows spanning [-40, 40]: one entry usually dominates), rows of values in
    [-1, 1] with one entry 0..80 above them, and rows holding the specials."""
    z = torch.linspace(-40, 40, 20001, dtype=torch.float64)
    n = z.numel() // ROW * ROW
    gen = torch.Generator().manual_seed(0)
    consecutive = z[:n].reshape(-1, ROW)
    shuffled = z[torch.randperm(z.numel(), generator=gen)[:n]].reshape(-1, ROW)
    lead = torch.linspace(0, 80, 401, dtype=torch.float64)
    dominant = torch.rand(lead.numel(), ROW, generator=gen, dtype=torch.float64) * 2 - 1
    dominant[torch.arange(lead.numel()), torch.arange(lead.numel()) % ROW] = lead
    specials = torch.linspace(-1, 1, ROW, dtype=torch.float64).repeat(2 * len(SPECIALS), 1)
    for i, s in enumerate(SPECIALS):
        specials[i, i] = s
        specials[len(SPECIALS) + i] = s  # a row of equal values
    rows = torch.cat([consecutive, shuffled, dominant, specials])
    return rows.repeat(SIZE // rows.numel() + 1, 1)


def _value_and_grad(fn, z: torch.Tensor, upstream: torch.Tensor):
    z = z.clone().requires_grad_(True)
    out = fn(z)
    (grad,) = torch.autograd.grad(out, z, upstream)
    return out.detach(), grad


def _elementwise_failures(got: torch.Tensor, want: torch.Tensor, want64: torch.Tensor) -> torch.Tensor:
    """The tighter float32 bound of the module docstring: a boolean mask of the failing elements."""
    diff = (got.double() - want.double()).abs()
    # relative to |torch|, or to the smallest normal float32 for subnormal results (7e-40 holds
    # only 15 bits: relative precision ends there)
    bound = RTOL * want.double().abs().clamp_min(torch.finfo(torch.float32).tiny)
    if ((want.double() - want64).abs() > RTOL * want64.abs()).any():  # torch's own float32 is off
        bound = torch.maximum(bound, RTOL * want.double().abs().amax())
    return ~(diff <= bound) & ~(got == want)  # equal infinities (and -0.0 == 0.0) pass


def _check(name: str, part: str, ours, theirs, inputs: dict, dtype: torch.dtype, rowwise: bool):
    """Values (part='value') or input gradients (part='grad', both upstreams) of `ours` against
    `theirs` on each float64 input tensor, cast to dtype."""
    index = 0 if part == "value" else 1
    errors = []
    for label, z64 in inputs.items():
        z = z64.to(dtype)
        gen = torch.Generator().manual_seed(1)
        upstreams = {"ones": torch.ones_like(z),
                     "random": torch.randn(z.shape, generator=gen, dtype=torch.float64).to(dtype)}
        if part == "value":
            upstreams.pop("random")
        for kind, upstream in upstreams.items():
            where = f"{name} {part} ({label}, upstream {kind})"
            got = _value_and_grad(ours, z, upstream)[index]
            want = _value_and_grad(theirs, z, upstream)[index]
            want64 = _value_and_grad(theirs, z.double(), upstream.double())[index]
            assert got.dtype == dtype and got.shape == want.shape
            if part == "value":  # the forward without autograd gives the same
                with torch.no_grad():
                    assert torch.equal(ours(z), got), f"{where}: value without grad differs"
            if dtype == torch.float64:
                torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12, msg=lambda m: f"{where}: {m}")
                continue
            reference = want64.to(dtype) if rowwise else want
            torch.testing.assert_close(got, reference, rtol=RTOL, atol=ATOL, msg=lambda m: f"{where}: {m}")
            if not rowwise:
                bad = _elementwise_failures(got, want, want64)
                if bad.any():
                    i = int(torch.where(bad, (got.double() - want.double()).abs(), -1.0).argmax())
                    errors.append(f"{where}: {int(bad.sum())} elements fail, e.g. z={z.flatten()[i].item():.6g}:"
                                  f" ours {got.flatten()[i].item():.9g}, torch {want.flatten()[i].item():.9g}")
    assert not errors, "\n".join(errors)


def _params(cases):
    return [pytest.param(*case, dtype, part, id=f"{case[0]}-{dt}-{part}")
            for case in cases for dtype, dt in [(torch.float64, "f64"), (torch.float32, "f32")]
            for part in ("value", "grad")]


@pytest.mark.parametrize("name,ours,theirs,dtype,part", _params(ELEMENTWISE))
def test_elementwise_sweep_matches_torch(name, ours, theirs, dtype, part):
    inputs = {"sweep": torch.linspace(-40, 40, SIZE, dtype=torch.float64),
              "specials": torch.tensor(SPECIALS, dtype=torch.float64)}
    _check(name, part, ours(), theirs, inputs, dtype, rowwise=False)


@pytest.mark.parametrize("name,ours,theirs,dim,dtype,part", _params(ROWWISE))
def test_rowwise_sweep_matches_torch(name, ours, theirs, dim, dtype, part):
    z = _rows_input()
    _check(name, part, ours(), theirs, {"rows": z if dim == -1 else z.t().contiguous()}, dtype, rowwise=True)
