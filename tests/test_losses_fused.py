"""CrossEntropyLoss's fused path (class-index targets on large inputs: compiled row statistics in the
forward, one compiled pass for the gradient): same values and gradients as torch for every argument,
kernels taken only where they should be, eager double backward.

Fusion is forced on with a tiny threshold so that small inputs take it, as in test_activations_fused.py.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import losses as L
from activations import _fused as FZ
from losses import _softmax_ce
from _tolerance import tol

KERNELS = ["cross_entropy.stats", "cross_entropy.grad"]
TOL = dict(rtol=1e-12, atol=1e-12)  # float64, where no logit is extreme
N, C = 40, 7


@pytest.fixture(autouse=True)
def fusion_on(monkeypatch):
    monkeypatch.setattr(FZ, "THRESHOLD", 8)
    FZ.set_fused(True)
    yield
    FZ.set_fused(None)


def _calls() -> list[int]:
    return [FZ.calls.get(k, 0) for k in KERNELS]


def _inputs(dtype: torch.dtype, kind: str, shape=(N, C)):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=gen, dtype=dtype) * 3
    if kind == "extreme":  # logits +-1e4 and a row of equal large values
        x[::3, 0], x[1::3, 2], x[2] = 1e4, -1e4, 1000.0
    target_shape = (shape[0], *shape[2:])
    target = torch.randint(0, shape[1], target_shape, generator=gen)
    return x, target


CASES = [
    ("default", {}),
    ("sum", {"reduction": "sum"}),
    ("none", {"reduction": "none"}),
    ("weight", {"weight": torch.rand(C, generator=torch.Generator().manual_seed(3)) + 0.1}),
    ("ignore", {"ignore_index": 2}),
    ("smoothing", {"label_smoothing": 0.2}),
    ("all", {"weight": torch.rand(C, generator=torch.Generator().manual_seed(4)) + 0.1, "ignore_index": 1,
             "label_smoothing": 0.1}),
    ("all-none", {"weight": torch.rand(C, generator=torch.Generator().manual_seed(6)) + 0.1, "ignore_index": 3,
                  "label_smoothing": 0.3, "reduction": "none"}),
    ("all-sum", {"weight": torch.rand(C, generator=torch.Generator().manual_seed(7)) + 0.1, "ignore_index": 0,
                 "label_smoothing": 0.05, "reduction": "sum"}),
]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("kind", ["random", "extreme"])
@pytest.mark.parametrize("name,kwargs", CASES, ids=[c[0] for c in CASES])
def test_fused_cross_entropy_matches_torch(name, kwargs, kind, dtype):
    x, target = _inputs(dtype, kind)
    kw = {k: (v.to(dtype) if isinstance(v, torch.Tensor) else v) for k, v in kwargs.items()}
    upstream = torch.rand(N, dtype=dtype) if kw.get("reduction") == "none" else torch.tensor(0.7, dtype=dtype)
    # float32 is held to torch's float64 answer rounded to float32, as in test_losses.py
    xd = x.double().requires_grad_(True)
    want = F.cross_entropy(xd, target, **{k: (v.double() if isinstance(v, torch.Tensor) else v)
                                          for k, v in kw.items()})
    (want_grad,) = torch.autograd.grad(want, xd, upstream.double())
    before = _calls()
    xo = x.clone().requires_grad_(True)
    got = L.CrossEntropyLoss(**kw)(xo, target)
    (got_grad,) = torch.autograd.grad(got, xo, upstream)
    assert _calls() == [c + 1 for c in before], "fused path not taken"
    # as tests/test_losses.py: with smoothing, a loss is W (m + log s) - x . w, a difference of terms as
    # large as the logits (1e4 here), so float32 is held to 1e-6 of the tensor's largest entry
    want, want_grad = want.detach().to(dtype), want_grad.to(dtype)
    torch.testing.assert_close(got, want, **tol(want, extreme=kind == "extreme"))
    torch.testing.assert_close(got_grad, want_grad, **tol(want_grad, extreme=kind == "extreme"))
    assert torch.isfinite(got_grad).all()


def test_fused_spatial_input_and_retained_graph():
    """(N, C, d) inputs are reshaped to rows first; a second backward of a retained graph recomputes."""
    x, target = _inputs(torch.float64, "random", shape=(6, C, 5))
    x.requires_grad_(True)
    before = _calls()
    loss = L.CrossEntropyLoss()(x, target)
    want = F.cross_entropy(x, target)
    (g_want,) = torch.autograd.grad(want, x)
    (g1,) = torch.autograd.grad(loss, x, retain_graph=True)
    (g2,) = torch.autograd.grad(loss, x)
    torch.testing.assert_close(loss, want, **TOL)
    torch.testing.assert_close(g1, g_want, **TOL)
    torch.testing.assert_close(g2, g_want, **TOL)
    assert _calls() == [before[0] + 1, before[1] + 2], "fused path not taken"


def test_fused_non_contiguous_logits():
    x, target = _inputs(torch.float64, "random", shape=(C, N))
    xt = x.t().requires_grad_(True)  # (N, C) with strides (1, N)
    before = _calls()
    loss = L.CrossEntropyLoss(label_smoothing=0.1)(xt, target[:C].repeat(N)[:N] % C)
    want = F.cross_entropy(xt, target[:C].repeat(N)[:N] % C, label_smoothing=0.1)
    torch.testing.assert_close(loss, want, **TOL)
    torch.testing.assert_close(torch.autograd.grad(loss, xt)[0], torch.autograd.grad(want, xt)[0],
                               **TOL)
    assert _calls() == [c + 1 for c in before]


def test_double_backward_is_eager_and_matches_torch():
    x, target = _inputs(torch.float64, "random")
    x.requires_grad_(True)
    v = torch.randn(N, C, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    stats, grad = _calls()
    (g1,) = torch.autograd.grad(L.CrossEntropyLoss(label_smoothing=0.1)(x, target), x, create_graph=True)
    assert _calls() == [stats + 1, grad]  # fused forward, composite (differentiable) backward
    (w1,) = torch.autograd.grad(F.cross_entropy(x, target, label_smoothing=0.1), x, create_graph=True)
    torch.testing.assert_close(g1, w1, **TOL)
    torch.testing.assert_close(torch.autograd.grad(g1, x, v)[0], torch.autograd.grad(w1, x, v)[0],
                               **TOL)


def test_small_inputs_stay_eager(monkeypatch):
    """The threshold applies to the logits only: the small row statistics do not veto the kernel."""
    monkeypatch.setattr(FZ, "THRESHOLD", N * C + 1)
    x = torch.randn(N, C)
    with torch.no_grad():
        assert not _softmax_ce._row_stats.ok(x)
    monkeypatch.setattr(FZ, "THRESHOLD", N * C)
    with torch.no_grad():
        assert _softmax_ce._row_stats.ok(x)
        m, s = torch.zeros(N, 1), torch.ones(N, 1)
        assert _softmax_ce._scaled_softmax.ok(x, m, s, torch.ones(N, 1))
        assert not _softmax_ce._scaled_softmax.ok(torch.randn(N, C - 1), m, s, torch.ones(N, 1))
