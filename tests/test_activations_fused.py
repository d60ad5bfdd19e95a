"""The fused (torch.compile) path of the activations: same values and gradients as torch, taken only
when it should be, switched off by set_fused(False) / REFZOO_FUSED=0, and a failing compile falls
back to the eager formulas with one warning.

Fusion is forced on with a tiny threshold so that 64 x 33 inputs take it; each kernel compiles once
per dtype (inductor caches the code on disk, so later runs are faster).
"""
from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F

import activations as A
from activations import _fused as FZ
from activations import gelu, relu, sigmoid, silu, softmax, softplus

SHAPE = (64, 33)
SMALL_THRESHOLD = 8  # 64 x 33 and the 3 x 4 gradgradcheck input are both above it

# (id, our module factory, torch's function, the kernels it must run)
LEAKY = ["leaky_relu.fwd", "leaky_relu.bwd"]
LEAKY_MAX = ["leaky_relu.fwd_max", "leaky_relu.bwd_sign"]
CASES = [
    ("leaky-default", lambda: A.LeakyReLU(), F.leaky_relu, LEAKY_MAX),
    ("leaky-0.2", lambda: A.LeakyReLU(0.2), lambda z: F.leaky_relu(z, 0.2), LEAKY_MAX),
    ("leaky-0", lambda: A.LeakyReLU(0.0), lambda z: F.leaky_relu(z, 0.0), LEAKY),
    ("leaky-1.5", lambda: A.LeakyReLU(1.5), lambda z: F.leaky_relu(z, 1.5), LEAKY),
    ("leaky-m0.3", lambda: A.LeakyReLU(-0.3), lambda z: F.leaky_relu(z, -0.3), LEAKY),
    ("relu", lambda: A.ReLU(), F.relu, ["relu.bwd"]),
    ("sigmoid", lambda: A.Sigmoid(), torch.sigmoid, ["sigmoid.fwd", "sigmoid.bwd"]),
    ("tanh", lambda: A.Tanh(), torch.tanh, ["tanh.fwd", "tanh.bwd"]),
    ("gelu", lambda: A.GELU(), F.gelu, ["gelu.fwd", "gelu.bwd"]),
    ("gelu-tanh", lambda: A.GELU(approximate="tanh"), lambda z: F.gelu(z, approximate="tanh"),
     ["gelu_tanh.fwd", "gelu_tanh.bwd"]),
    ("silu", lambda: A.SiLU(), F.silu, ["silu.fwd", "silu.bwd"]),
    ("softplus-default", lambda: A.Softplus(), F.softplus, ["softplus.fwd", "softplus.bwd"]),
    ("softplus-b2", lambda: A.Softplus(beta=2.0), lambda z: F.softplus(z, beta=2.0),
     ["softplus.fwd", "softplus.bwd"]),
    ("softplus-b0.5-t5", lambda: A.Softplus(0.5, 5.0), lambda z: F.softplus(z, 0.5, 5.0),
     ["softplus.fwd", "softplus.bwd"]),
    ("softplus-bm1", lambda: A.Softplus(beta=-1.0), lambda z: F.softplus(z, beta=-1.0),
     ["softplus.fwd", "softplus.bwd"]),
    ("softplus-t0", lambda: A.Softplus(threshold=0.0), lambda z: F.softplus(z, threshold=0.0),
     ["softplus.fwd", "softplus.bwd"]),
    ("softmax-0", lambda: A.Softmax(dim=0), lambda z: torch.softmax(z, 0), ["softmax.fwd", "softmax.bwd"]),
    ("softmax-m1", lambda: A.Softmax(dim=-1), lambda z: torch.softmax(z, -1), ["softmax.fwd", "softmax.bwd"]),
    ("log_softmax-0", lambda: A.LogSoftmax(dim=0), lambda z: torch.log_softmax(z, 0),
     ["log_softmax.fwd", "log_softmax.bwd"]),
    ("log_softmax-1", lambda: A.LogSoftmax(1), lambda z: torch.log_softmax(z, 1),
     ["log_softmax.fwd", "log_softmax.bwd"]),
]
IDS = [c[0] for c in CASES]
TOL = {torch.float64: dict(rtol=1e-12, atol=1e-12), torch.float32: dict(rtol=1e-6, atol=1e-6)}
EXTREMES = [-1e4, -1000.0, -100.0, -30.0, -20.0, -1.0, -1e-10, -0.0, 0.0, 1e-10, 0.5, 1.0, 20.0, 30.0,
            100.0, 1000.0, 1e4, 5.0]


@pytest.fixture(autouse=True)
def fusion_on(monkeypatch):
    monkeypatch.setattr(FZ, "THRESHOLD", SMALL_THRESHOLD)
    FZ.set_fused(True)
    yield
    FZ.set_fused(None)


def _inputs(dtype: torch.dtype) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    n = SHAPE[0] * SHAPE[1]
    extreme = torch.tensor(EXTREMES * (n // len(EXTREMES) + 1), dtype=dtype)[:n].reshape(SHAPE)
    extreme[0] = 1000.0  # softmax of a row (and a column) of equal large values: 1/33, 1/64
    extreme[:, 0] = 1000.0
    extreme[1] = -1000.0
    extreme[2, ::2], extreme[2, 1::2] = -1e4, 1e4
    nan = torch.randn(SHAPE, generator=gen, dtype=dtype)
    nan[5, 7] = float("nan")
    nan[6, 3], nan[7, 4] = float("inf"), -float("inf")
    return {"random": torch.randn(SHAPE, generator=gen, dtype=dtype) * 3, "extreme": extreme, "nan": nan}


def _value_and_grad(fn, z: torch.Tensor, upstream: torch.Tensor):
    z = z.clone().requires_grad_(True)
    out = fn(z)
    (grad,) = torch.autograd.grad(out, z, upstream)
    return out.detach(), grad


def _calls(names: list[str]) -> list[int]:
    return [FZ.calls.get(n, 0) for n in names]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("name,ours,theirs,kernels", CASES, ids=IDS)
def test_fused_values_and_gradients_match_torch(name, ours, theirs, kernels, dtype):
    module = ours()
    for kind, z in _inputs(dtype).items():
        upstream = torch.randn(z.shape, generator=torch.Generator().manual_seed(1), dtype=dtype)
        # float32 is held to torch's float64 answer rounded to float32, as in test_activations.py
        want, want_grad = _value_and_grad(theirs, z.double(), upstream.double())
        want, want_grad = want.to(dtype), want_grad.to(dtype)
        before = _calls(kernels)
        got, got_grad = _value_and_grad(module, z, upstream)
        assert [c + 1 for c in before] == _calls(kernels), f"{name} {kind}: fused path not taken"
        tol = dict(TOL[dtype], equal_nan=kind == "nan")
        torch.testing.assert_close(got, want, **tol, msg=lambda m: f"{name} {kind} value: {m}")
        torch.testing.assert_close(got_grad, want_grad, **tol, msg=lambda m: f"{name} {kind} grad: {m}")
        assert torch.isfinite(got[torch.isfinite(want)]).all(), kind
        assert torch.isfinite(got_grad[torch.isfinite(want_grad)]).all(), kind
        if kind == "nan":  # NaN where torch has NaN, and only there
            assert torch.equal(got.isnan(), want.isnan()) and torch.equal(got_grad.isnan(), want_grad.isnan())


def test_named_stability_cases_fused():
    z = torch.full(SHAPE, 1000.0)
    assert torch.equal(A.Softmax(dim=1)(z), torch.full(SHAPE, 1.0 / SHAPE[1]))
    assert (A.Sigmoid()(torch.full(SHAPE, -1000.0)) == 0).all()
    assert FZ.calls.get("softmax.fwd", 0) > 0 and FZ.calls.get("sigmoid.fwd", 0) > 0


@pytest.mark.parametrize("name,ours,theirs,kernels", CASES, ids=IDS)
def test_double_backward_uses_the_eager_path(name, ours, theirs, kernels):
    module = ours()
    gen = torch.Generator().manual_seed(2)
    z = (torch.randn(3, 4, generator=gen, dtype=torch.float64) * 2).requires_grad_(True)
    up = torch.randn(3, 4, generator=gen, dtype=torch.float64)
    v = torch.randn(3, 4, generator=gen, dtype=torch.float64)
    # the forward is fused where it has a kernel (3 x 4 is above the test threshold) ...
    before = _calls(kernels)
    out = module(z)
    # ... the backward under create_graph is not: it runs the eager, differentiable ops
    (g1,) = torch.autograd.grad(out, z, up, create_graph=True)
    assert _calls(kernels) == [c + (".fwd" in k) for c, k in zip(before, kernels)]
    (want1,) = torch.autograd.grad(theirs(z), z, up, create_graph=True)
    torch.testing.assert_close(g1, want1, **TOL[torch.float64])
    want = torch.autograd.grad(want1, z, v)[0]
    # LeakyReLU with a slope outside [0, 1] (eager as well) returns a first gradient with no graph:
    # its derivative in z is 0 anyway
    got = torch.autograd.grad(g1, z, v)[0] if g1.requires_grad else torch.zeros_like(z)
    torch.testing.assert_close(got, want, **TOL[torch.float64])
    assert torch.autograd.gradcheck(module, (z,))
    assert torch.autograd.gradgradcheck(module, (z,))


def _run_sigmoid(n_calls: int = 2):
    z = torch.randn(SHAPE, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    up = torch.ones(SHAPE, dtype=torch.float64)
    for _ in range(n_calls):
        got, got_grad = _value_and_grad(A.Sigmoid(), z, up)
        want, want_grad = _value_and_grad(torch.sigmoid, z, up)
        torch.testing.assert_close(got, want, **TOL[torch.float64])
        torch.testing.assert_close(got_grad, want_grad, **TOL[torch.float64])


@pytest.mark.parametrize("how", [
    pytest.param(lambda: FZ.set_fused(False), id="set_fused-False"),
    pytest.param(None, id="REFZOO_FUSED-0"),
])
def test_switched_off_runs_eager(how, monkeypatch):
    if how is None:
        FZ.set_fused(None)
        monkeypatch.setenv("REFZOO_FUSED", "0")
    else:
        how()
    before = dict(FZ.calls)
    _run_sigmoid()
    A.Softmax(dim=1)(torch.randn(SHAPE, requires_grad=True)).sum().backward()
    assert FZ.calls == before
    assert not FZ.enabled("cpu")


def test_env_and_auto(monkeypatch):
    FZ.set_fused(None)
    monkeypatch.setenv("REFZOO_FUSED", "1")
    assert FZ.enabled("cpu") and FZ.enabled("meta")
    monkeypatch.setenv("REFZOO_FUSED", "auto")
    assert FZ.enabled("cpu") == FZ._inductor_works("cpu")  # on here: gcc is installed
    assert not FZ.enabled("meta")  # no inductor backend: "auto" keeps it eager
    monkeypatch.delenv("REFZOO_FUSED")
    assert FZ.enabled("cpu") == FZ._inductor_works("cpu")
    FZ.set_fused("auto")
    assert FZ.enabled("cpu") == FZ._inductor_works("cpu")
    with pytest.raises(ValueError, match="set_fused"):
        FZ.set_fused("yes")


def test_small_tensors_and_grad_mode_stay_eager(monkeypatch):
    monkeypatch.setattr(FZ, "THRESHOLD", 1 << 20)
    z = torch.randn(SHAPE)
    with torch.no_grad():  # grad mode alone would keep it eager: this checks the threshold
        assert not sigmoid._fwd.ok(z)
    monkeypatch.setattr(FZ, "THRESHOLD", SMALL_THRESHOLD)
    with torch.no_grad():
        assert sigmoid._fwd.ok(z) and not sigmoid._fwd.ok(z.long())
        assert not sigmoid._bwd.ok(z, torch.randn(2))  # every tensor must be large
    with torch.enable_grad():
        assert not sigmoid._fwd.ok(z)


def _raise(*args, **kwargs):
    raise RuntimeError("no compiler today\nsecond line of a long log")


@pytest.mark.parametrize("where", ["compile", "run"])
def test_failure_falls_back_with_one_warning(where, monkeypatch):
    kernels = (sigmoid._fwd, sigmoid._bwd)
    for k in kernels:  # fresh state, restored afterwards
        monkeypatch.setattr(k, "broken", False)
        monkeypatch.setattr(k, "_compiled", _raise if where == "run" else None)
    if where == "compile":
        monkeypatch.setattr(torch, "compile", _raise)
    before = dict(FZ.calls)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _run_sigmoid(n_calls=3)
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    for k in kernels:
        assert sum(k.name in m for m in messages) == 1, messages
        assert k.broken
    assert all("RuntimeError: no compiler today)" in m for m in messages), messages
    assert FZ.calls == before


def test_whole_model_compile_traces_the_eager_formulas():
    # inside torch.compile the fused kernels must not be called: dynamo traces the eager formulas
    net = torch.nn.Sequential(torch.nn.Linear(33, 33), A.LeakyReLU(0.1), A.Softmax(dim=1))
    compiled = torch.compile(net, backend="eager", fullgraph=True)
    z = torch.randn(SHAPE)
    want = net(z)  # eager call: fused
    before = dict(FZ.calls)
    torch.testing.assert_close(compiled(z), want, rtol=1e-6, atol=1e-6)
    assert FZ.calls == before
