"""The inputs PyTorch's own test suite gives these modules, on ours and on torch's, as a user
porting torch code would run them: values and input gradients must agree.

Transcribed (as data) from torch/testing/_internal: common_modules.py's module_inputs_torch_nn_<Name>
(constructor arguments and input shapes, 0-d "scalar" and "no_batch_dim" inputs), opinfo/core.py's
elementwise unary inputs (a large and a long tensor, five empty shapes, its small, large and extremal
values, non-contiguous views) and the softmax variants' (shape, dim) cases. Values are drawn with
torch.testing.make_tensor, as there ([-9, 9] for floating types)."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.testing import make_tensor

import activations as A
from _activation_cases import assert_matches, tol

# (id, ours, torch's, input shapes) from module_inputs_torch_nn_<Name>
MODULE_INPUTS = [
    ("ELU-alpha2", lambda: A.ELU(alpha=2.0), lambda: nn.ELU(alpha=2.0), [(3, 2, 5), (), (2, 3, 2, 5)]),
    ("ELU", lambda: A.ELU(), lambda: nn.ELU(), [(3,)]),
    ("GELU", lambda: A.GELU("none"), lambda: nn.GELU("none"), [(), (3, 2, 5), (3,)]),
    ("ReLU", lambda: A.ReLU(), lambda: nn.ReLU(), [(2, 3, 4, 5), (), (4,)]),
    ("LeakyReLU", lambda: A.LeakyReLU(), lambda: nn.LeakyReLU(), [(3, 2, 5), (4,)]),
    ("LeakyReLU-0.5", lambda: A.LeakyReLU(0.5), lambda: nn.LeakyReLU(0.5), [(3, 2, 5), ()]),
    ("LeakyReLU-0", lambda: A.LeakyReLU(0.0), lambda: nn.LeakyReLU(0.0), [(10, 10)]),
    ("Sigmoid", lambda: A.Sigmoid(), lambda: nn.Sigmoid(), [(), (4,), (2, 3, 4, 5), (2, 3, 3, 4, 5)]),
    ("SiLU", lambda: A.SiLU(), lambda: nn.SiLU(), [(), (4,), (5, 6, 7)]),
    ("Tanh", lambda: A.Tanh(), lambda: nn.Tanh(), [(2, 3, 4, 5), (), (4,)]),
    ("Softplus", lambda: A.Softplus(), lambda: nn.Softplus(), [(10, 20), (4,)]),
    ("Softplus-beta2", lambda: A.Softplus(2), lambda: nn.Softplus(2), [(10, 20)]),
    ("Softplus-beta2-threshold-100", lambda: A.Softplus(2, -100), lambda: nn.Softplus(2, -100), [(10, 20), ()]),
    ("Softmax-1", lambda: A.Softmax(1), lambda: nn.Softmax(1), [(10, 20)]),
    ("Softmax-0", lambda: A.Softmax(0), lambda: nn.Softmax(0), [()]),
    ("Softmax-m1", lambda: A.Softmax(-1), lambda: nn.Softmax(-1), [(4, 5)]),
    ("LogSoftmax-1", lambda: A.LogSoftmax(1), lambda: nn.LogSoftmax(1), [(10, 20), (1, 3, 10, 20)]),
    ("LogSoftmax-0", lambda: A.LogSoftmax(0), lambda: nn.LogSoftmax(0), [()]),
    ("LogSoftmax-m1", lambda: A.LogSoftmax(-1), lambda: nn.LogSoftmax(-1), [(4, 5)]),
]

# the softmax variants' (shape, dim) cases (S = 5, M = 10), 0-d included
SOFTMAX_CASES = [((5,), 0), ((5, 5), 0), ((5, 5), 1), ((5, 5), -1), ((5, 10, 5), 2), ((5, 0, 0), -1),
                 ((), 0), ((), -1)]

# the elementwise unary inputs
UNARY_SHAPES = [(1029, 917), (812,), (0,), (0, 3, 3), (1, 0, 5), (6, 0, 0, 0), (3, 0, 1, 0)]
SMALL = [0.0, -0.0, -0.001, 0.001, -0.25, 0.25, -1.0, 1.0, -math.pi / 2, math.pi / 2, -math.pi + 1e-5,
         math.pi - 1e-5, -math.pi, math.pi, -math.pi - 1e-5, math.pi + 1e-5]
LARGE = [-501.0, 501.0, -1001.2, 1001.2, -13437.7, 13437.7, -4988429.2, 4988429.2, -1e20, 1e20]
EXTREMAL = [float("inf"), float("-inf"), float("nan")]

ELEMENTWISE = [
    ("ELU", lambda: A.ELU(alpha=0.8), lambda: nn.ELU(alpha=0.8)),  # the OpInfo's sample alpha
    ("GELU", lambda: A.GELU(), lambda: nn.GELU()),
    ("GELU-tanh", lambda: A.GELU("tanh"), lambda: nn.GELU("tanh")),
    ("ReLU", lambda: A.ReLU(), lambda: nn.ReLU()),
    ("LeakyReLU", lambda: A.LeakyReLU(), lambda: nn.LeakyReLU()),
    ("Sigmoid", lambda: A.Sigmoid(), lambda: nn.Sigmoid()),
    ("SiLU", lambda: A.SiLU(), lambda: nn.SiLU()),
    ("Tanh", lambda: A.Tanh(), lambda: nn.Tanh()),
    ("Softplus", lambda: A.Softplus(), lambda: nn.Softplus()),
]
DTYPES = [pytest.param(torch.float64, id="f64"), pytest.param(torch.float32, id="f32")]


def _check(name: str, ours, theirs, z: torch.Tensor, label: str) -> None:
    assert_matches(ours(), theirs(), z, f"{name} {label}", skip_nan_grad=name.startswith("ELU"),
                   reference64=name == "GELU" and z.isinf().any().item(), rowwise="Softmax" in name)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,ours,theirs,shapes", MODULE_INPUTS, ids=[c[0] for c in MODULE_INPUTS])
def test_module_inputs(name, ours, theirs, shapes, dtype):
    for i, shape in enumerate(shapes):
        z = make_tensor(shape, dtype=dtype, device="cpu", low=-9, high=9)
        _check(name, ours, theirs, z, f"shape {shape}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,dim", SOFTMAX_CASES, ids=[f"{s}-{d}" for s, d in SOFTMAX_CASES])
def test_softmax_variant_inputs(shape, dim, dtype):
    z = make_tensor(shape, dtype=dtype, device="cpu", low=-9, high=9)
    _check("Softmax", lambda: A.Softmax(dim), lambda: nn.Softmax(dim), z, f"{shape} dim {dim}")
    _check("LogSoftmax", lambda: A.LogSoftmax(dim), lambda: nn.LogSoftmax(dim), z, f"{shape} dim {dim}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,ours,theirs", ELEMENTWISE, ids=[c[0] for c in ELEMENTWISE])
def test_elementwise_unary_inputs(name, ours, theirs, dtype):
    for shape in UNARY_SHAPES:
        _check(name, ours, theirs, make_tensor(shape, dtype=dtype, device="cpu", low=-9, high=9), f"shape {shape}")
    for label, values in (("small", SMALL), ("large", LARGE), ("extremal", EXTREMAL)):
        _check(name, ours, theirs, torch.tensor(values, dtype=dtype), label)


def _views(dtype: torch.dtype):
    """(label, leaf tensor, view of it) for the OpInfo's non-contiguous inputs."""
    gen = torch.Generator().manual_seed(0)
    base = (torch.rand(2052, generator=gen, dtype=dtype) * 18 - 9)
    yield "strided", base, lambda t: t[::2]
    base = (torch.rand(1024, 1024, generator=gen, dtype=dtype) * 18 - 9)
    yield "transposed", base, lambda t: t.T
    for shape in ((1, 3), (1, 7), (5, 7)):
        base = (torch.rand(shape, generator=gen, dtype=dtype) * 18 - 9)
        yield f"expanded {shape}", base, lambda t: t.expand(3, -1, -1)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,ours,theirs", ELEMENTWISE, ids=[c[0] for c in ELEMENTWISE])
def test_noncontiguous_inputs(name, ours, theirs, dtype):
    """The view goes in as it is (not copied); gradients flow back to the leaf."""
    for label, base, view in _views(dtype):
        results = []
        for module in (ours(), theirs()):
            leaf = base.clone().requires_grad_(True)
            out = module(view(leaf))
            upstream = torch.ones_like(out) * 0.5
            (grad,) = torch.autograd.grad(out, leaf, upstream)
            results.append((out.detach(), grad))
        (got, got_grad), (want, want_grad) = results
        torch.testing.assert_close(got, want, **tol(dtype), msg=lambda m: f"{name} {label} value: {m}")
        torch.testing.assert_close(got_grad, want_grad, **tol(dtype), msg=lambda m: f"{name} {label} grad: {m}")
