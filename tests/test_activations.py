"""Hand-written activations against torch's: values, input gradients, gradcheck, errors, registry."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import activations as A

# (id, our module factory, torch's function) for every class and argument combination
CASES = [
    ("linear-1", lambda: A.LinearActivation(), lambda z: z * 1.0),
    ("linear-m2.5", lambda: A.LinearActivation(slope=-2.5), lambda z: z * -2.5),
    ("linear-0", lambda: A.LinearActivation(slope=0.0), lambda z: z * 0.0),
    ("relu", lambda: A.ReLU(), F.relu),
    ("relu-inplace", lambda: A.ReLU(inplace=True), F.relu),
    ("leaky-default", lambda: A.LeakyReLU(), F.leaky_relu),
    ("leaky-0.2", lambda: A.LeakyReLU(0.2), lambda z: F.leaky_relu(z, 0.2)),
    ("leaky-0", lambda: A.LeakyReLU(0.0), lambda z: F.leaky_relu(z, 0.0)),
    ("leaky-1.5", lambda: A.LeakyReLU(negative_slope=1.5), lambda z: F.leaky_relu(z, 1.5)),
    ("leaky-3", lambda: A.LeakyReLU(3.0), lambda z: F.leaky_relu(z, 3.0)),
    ("leaky-m0.3", lambda: A.LeakyReLU(-0.3), lambda z: F.leaky_relu(z, -0.3)),
    ("elu-default", lambda: A.ELU(), F.elu),
    ("elu-0.5", lambda: A.ELU(alpha=0.5), lambda z: F.elu(z, alpha=0.5)),
    ("elu-2", lambda: A.ELU(alpha=2.0), lambda z: F.elu(z, alpha=2.0)),
    ("elu-m0.5", lambda: A.ELU(alpha=-0.5), lambda z: F.elu(z, alpha=-0.5)),
    ("sigmoid", lambda: A.Sigmoid(), torch.sigmoid),
    ("tanh", lambda: A.Tanh(), torch.tanh),
    ("gelu", lambda: A.GELU(), F.gelu),
    ("gelu-tanh", lambda: A.GELU(approximate="tanh"), lambda z: F.gelu(z, approximate="tanh")),
    ("silu", lambda: A.SiLU(), F.silu),
    ("softplus-default", lambda: A.Softplus(), F.softplus),
    ("softplus-b2", lambda: A.Softplus(beta=2.0), lambda z: F.softplus(z, beta=2.0)),
    ("softplus-b0.5-t5", lambda: A.Softplus(0.5, 5.0), lambda z: F.softplus(z, 0.5, 5.0)),
    ("softplus-bm1", lambda: A.Softplus(beta=-1.0), lambda z: F.softplus(z, beta=-1.0)),
    ("softplus-t0", lambda: A.Softplus(threshold=0.0), lambda z: F.softplus(z, threshold=0.0)),
    ("softmax-0", lambda: A.Softmax(dim=0), lambda z: torch.softmax(z, 0)),
    ("softmax-1", lambda: A.Softmax(1), lambda z: torch.softmax(z, 1)),
    ("softmax-m1", lambda: A.Softmax(dim=-1), lambda z: torch.softmax(z, -1)),
    ("log_softmax-0", lambda: A.LogSoftmax(dim=0), lambda z: torch.log_softmax(z, 0)),
    ("log_softmax-1", lambda: A.LogSoftmax(1), lambda z: torch.log_softmax(z, 1)),
    ("log_softmax-m1", lambda: A.LogSoftmax(dim=-1), lambda z: torch.log_softmax(z, -1)),
]
IDS = [c[0] for c in CASES]
TOL = {torch.float64: dict(rtol=1e-12, atol=1e-12), torch.float32: dict(rtol=1e-6, atol=1e-6)}

EXTREMES = [-1e4, -1000.0, -100.0, -30.0, -20.0, -1.0, -1e-10, -0.0, 0.0, 1e-10, 0.5, 1.0, 20.0, 30.0,
            100.0, 1000.0, 1e4, 5.0]


def _inputs(dtype: torch.dtype) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return {
        "random": torch.randn(6, 5, 4, generator=gen, dtype=dtype) * 3,
        "extreme": torch.tensor(EXTREMES, dtype=dtype).reshape(3, 6),
        "extreme_rows": torch.tensor([[1000.0, 1000.0], [-1e4, 1e4], [-1000.0, -1000.0], [0.0, -0.0]],
                                     dtype=dtype),
        "empty": torch.empty(0, 4, dtype=dtype),
        # NaN where torch gives NaN and the same value or gradient where it does not (e.g. torch's ReLU
        # and ELU pass the gradient at a NaN input, Softplus(-inf) = 0)
        "nonfinite": torch.tensor([[float("nan"), float("inf"), -float("inf")], [0.0, -1.0, 2.0],
                                   [float("inf"), 1.0, 3.0], [-float("inf"), -2.0, 0.5]], dtype=dtype),
    }


def _value_and_grad(fn, z: torch.Tensor, upstream: torch.Tensor):
    z = z.clone().requires_grad_(True)
    out = fn(z)
    (grad,) = torch.autograd.grad(out, z, upstream)
    return out.detach(), grad


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("name,ours,theirs", CASES, ids=IDS)
def test_values_and_gradients_match_torch(name, ours, theirs, dtype):
    module = ours()
    for kind, z in _inputs(dtype).items():
        upstream = torch.randn(z.shape, generator=torch.Generator().manual_seed(1), dtype=dtype)
        want, want_grad = _value_and_grad(theirs, z, upstream)
        if dtype == torch.float32:
            # torch's float32 kernels cancel in places (e.g. 1 + tanh(u) in the tanh GELU, whose
            # float32 gradient is exactly 0 where the true one is 1e-6), so float32 is held to
            # torch's answer computed in float64 and rounded to float32
            want64, grad64 = _value_and_grad(theirs, z.double(), upstream.double())
            want, want_grad = want64.float(), grad64.float()
        got, got_grad = _value_and_grad(module, z, upstream)
        assert got.dtype == dtype and got.shape == want.shape, kind
        tol = dict(TOL[dtype], equal_nan=kind == "nonfinite")
        torch.testing.assert_close(got, want, **tol, msg=lambda m: f"{name} {kind} value: {m}")
        torch.testing.assert_close(got_grad, want_grad, **tol, msg=lambda m: f"{name} {kind} grad: {m}")
        # no NaN or inf where torch is finite
        assert torch.isfinite(got[torch.isfinite(want)]).all(), kind
        assert torch.isfinite(got_grad[torch.isfinite(want_grad)]).all(), kind


@pytest.mark.parametrize("name,ours,theirs", CASES, ids=IDS)
def test_gradcheck_and_gradgradcheck(name, ours, theirs):
    module = ours()
    gen = torch.Generator().manual_seed(2)
    z = (torch.randn(3, 4, generator=gen, dtype=torch.float64) * 2).requires_grad_(True)
    assert torch.autograd.gradcheck(module, (z,))
    assert torch.autograd.gradgradcheck(module, (z,))


def test_input_is_not_modified_and_result_is_new():
    z = torch.randn(2, 5, dtype=torch.float64)
    before = z.clone()
    for name, ours, _ in CASES:
        out = ours()(z)
        assert torch.equal(z, before), name
        assert out.data_ptr() != z.data_ptr(), name


def test_named_stability_cases():
    assert A.Sigmoid()(torch.tensor([-1000.0])).item() == 0.0
    assert A.Softmax(dim=0)(torch.tensor([1000.0, 1000.0])).tolist() == [0.5, 0.5]
    assert A.Tanh()(torch.tensor([-1e4, 1e4])).tolist() == [-1.0, 1.0]
    assert A.LogSoftmax(dim=0)(torch.tensor([1e4, -1e4])).tolist() == [0.0, -2e4]


def test_softmax_implicit_dim_follows_torch():
    z = torch.randn(3, 4, dtype=torch.float64)
    with pytest.warns(UserWarning, match="Implicit dimension"):
        got = A.Softmax()(z)
    torch.testing.assert_close(got, torch.softmax(z, 1), rtol=1e-12, atol=1e-12)


def test_bad_approximate():
    with pytest.raises(ValueError, match=r"approximate must be 'none' or 'tanh', got 'foo'"):
        A.GELU(approximate="foo")


@pytest.mark.parametrize("factory,argname", [
    (lambda: A.LeakyReLU(negative_slope="x"), "negative_slope"),
    (lambda: A.ELU(alpha=float("nan")), "alpha"),
    (lambda: A.Softplus(beta=0), "beta"),
    (lambda: A.Softplus(threshold=None), "threshold"),
    (lambda: A.LinearActivation(slope=float("inf")), "slope"),
])
def test_bad_arguments_name_the_argument(factory, argname):
    with pytest.raises(ValueError, match=argname):
        factory()


def test_registry_builds_each_name():
    z = torch.randn(4, 3, dtype=torch.float64)
    for name, cls in A.ACTIVATIONS.items():
        kwargs = {"dim": -1} if "softmax" in name else {}
        module = A.get_activation(name, **kwargs)
        assert type(module) is cls and module(z).shape == z.shape
    elu = A.get_activation("elu", alpha=0.5)
    assert isinstance(elu, A.ELU) and elu.alpha == 0.5
    torch.testing.assert_close(elu(z), F.elu(z, alpha=0.5), rtol=1e-12, atol=1e-12)
    assert set(A.ACTIVATIONS) == {"relu", "leaky_relu", "elu", "sigmoid", "tanh", "gelu", "silu",
                                  "softplus", "linear", "softmax", "log_softmax"}


def test_registry_rejects_unknown_name():
    with pytest.raises(ValueError, match=r"unknown activation 'swishy'.*allowed: elu, gelu"):
        A.get_activation("swishy")


@pytest.mark.parametrize("name,ours,theirs", CASES, ids=IDS)
def test_large_inputs_take_the_blockwise_paths_and_still_match(name, ours, theirs):
    # above 131,072 elements several activations switch to cache-sized blocks: hold those paths to
    # torch as tightly as the small inputs (float64), including rows longer than one block
    module = ours()
    gen = torch.Generator().manual_seed(3)
    for shape in [(300, 700), (3, 90_000)]:
        z = torch.randn(shape, generator=gen, dtype=torch.float64) * 4
        upstream = torch.randn(shape, generator=gen, dtype=torch.float64)
        want, want_grad = _value_and_grad(theirs, z, upstream)
        got, got_grad = _value_and_grad(module, z, upstream)
        torch.testing.assert_close(got, want, **TOL[torch.float64], msg=lambda m: f"{name} {shape} value: {m}")
        torch.testing.assert_close(got_grad, want_grad, **TOL[torch.float64],
                                   msg=lambda m: f"{name} {shape} grad: {m}")
