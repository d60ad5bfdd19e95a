"""Our losses on the inputs PyTorch's own test suite gives its loss modules, as a user porting torch
code would call them: values, gradients and exception types must be torch's.

The cases are transcribed (shapes, arguments, value ranges) from torch 2.x's
torch/testing/_internal/common_modules.py (`module_inputs_torch_nn_*Loss`, `module_error_inputs_*`)
and common_nn.py (the `*_no_reduce*` and `*_no_batch_dim_*` criterion tests). Importing those
modules needs torch's test-only dependencies (expecttest), which the project does not install.
Further: 0-d and (C,) inputs with every reduction, negative margins, wrong-shape targets and
weights, torch's legacy `size_average`/`reduce` arguments, and float32 at 2^20 elements and more.
"""
from __future__ import annotations

import itertools
import warnings
from typing import Callable

import pytest
import torch
from torch import nn
from torch.testing import make_tensor

import losses
from _tolerance import tol

DTYPES = [torch.float64, torch.float32]
REDUCTIONS = ["mean", "sum", "none"]


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _run(module: nn.Module, inputs: list, grad_of: tuple[int, ...]):
    leaves = [t.detach().clone().requires_grad_(i in grad_of) for i, t in enumerate(inputs)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # KLDivLoss 'mean', broadcast targets: both warn alike
        out = module(*leaves)
    upstream = torch.rand(out.shape, generator=_gen(1), dtype=out.real.dtype) + 0.5
    grads = torch.autograd.grad(out, [leaves[i] for i in grad_of], upstream.to(out.dtype))
    return out.detach(), grads


def assert_same_as_torch(ours: nn.Module, theirs: nn.Module, inputs: list) -> None:
    grad_of = tuple(i for i, t in enumerate(inputs) if t.is_floating_point() or t.is_complex())
    out_a, grads_a = _run(ours, inputs, grad_of)
    out_b, grads_b = _run(theirs, inputs, grad_of)
    assert out_a.shape == out_b.shape and out_a.dtype == out_b.dtype
    torch.testing.assert_close(out_a, out_b, equal_nan=True, **tol(out_b.real))
    for ga, gb in zip(grads_a, grads_b):
        torch.testing.assert_close(ga, gb, equal_nan=True, **tol(gb.real))


# ------------------------------------------------------------------ torch's module inputs

def _uniform(shape, dtype, seed, low=-9.0, high=9.0):
    """make_tensor's default range for floating tensors is [-9, 9)."""
    torch.manual_seed(seed)
    return make_tensor(shape, dtype=dtype, device="cpu", low=low, high=high)


def _classes(shape, n, seed):
    return torch.randint(0, n, shape, generator=_gen(seed))


def _prob(shape, dtype, seed):
    return _uniform(shape, dtype, seed).softmax(dim=1 if len(shape) > 1 else 0)


# (id, class name, constructor kwargs (a function of dtype), inputs (a function of dtype))
Case = tuple[str, str, Callable, Callable]
CASES: list[Case] = []


def _add(case_id: str, name: str, kwargs, inputs) -> None:
    kw = kwargs if callable(kwargs) else (lambda d, k=kwargs: k)
    CASES.append((case_id, name, kw, inputs))


for desc, kw in [("", {}), ("sum", {"reduction": "sum"}), ("batchmean", {"reduction": "batchmean"}),
                 ("none", {"reduction": "none"}), ("log_target", {"log_target": True})]:
    # torch logs make_tensor's [-9, 9) values (nan below 0); positive values keep the case meaningful
    log_t = kw.get("log_target", False)
    _add(f"kl_{desc}", "KLDivLoss", kw, lambda d, lt=log_t: [
        _uniform((10, 10), d, 0, 0.01, 1).log(),
        _uniform((10, 10), d, 1, 0.01, 1).log() if lt else _uniform((10, 10), d, 1, 0.01, 1)])
    _add(f"kl_scalar_{desc}", "KLDivLoss", kw, lambda d: [_uniform((), d, 2, 0.01, 1).log()] * 2)

for desc, kw in [("", {}), ("sum", {"reduction": "sum"}), ("none", {"reduction": "none"}),
                 ("ignore_index", {"ignore_index": 2}),
                 ("weights", lambda d: {"weight": _uniform((4,), d, 7).abs()}),
                 ("weights_ignore_index", lambda d: {"weight": _uniform((4,), d, 7).abs(), "ignore_index": 2}),
                 ("weights_ignore_index_neg", lambda d: {"weight": _uniform((4,), d, 7).abs(),
                                                         "ignore_index": -1})]:
    for shape in [(15, 4), (2, 4, 5, 5), (2, 4, 5, 5, 2, 2), (2, 4, 5)]:
        _add(f"nll_{shape}_{desc}", "NLLLoss", kw, lambda d, s=shape: [
            _uniform(s, d, 3).log_softmax(1), _classes((s[0], *s[2:]), 4, 4)])

for name in ["MSELoss", "L1Loss", "HuberLoss"]:
    shape = {"MSELoss": (2, 3, 4, 5), "L1Loss": (2, 3, 4), "HuberLoss": (5, 10)}[name]
    for reduction in REDUCTIONS:
        _add(f"{name}_{reduction}", name, {"reduction": reduction},
             lambda d, s=shape: [_uniform(s, d, 5), _uniform(s, d, 6)])
        _add(f"{name}_scalar_{reduction}", name, {"reduction": reduction},
             lambda d: [_uniform((), d, 5), _uniform((), d, 6)])
        _add(f"{name}_no_batch_dim_{reduction}", name, {"reduction": reduction},
             lambda d: [_uniform((4,), d, 5), _uniform((4,), d, 6)])

for reduction, (desc, kw) in itertools.product(REDUCTIONS, [
        ("", {}), ("weights", lambda d: {"weight": _uniform((10,), d, 8)})]):
    full = (lambda d, k=kw, r=reduction: {**(k(d) if callable(k) else k), "reduction": r})
    bce_inputs = (lambda d: [_uniform((15, 10), d, 9, 1e-2, 1 - 1e-2), (_uniform((15, 10), d, 10) > 0).to(d)])
    _add(f"bce_{desc}_{reduction}", "BCELoss", full, bce_inputs)
    _add(f"bce_logits_{desc}_{reduction}", "BCEWithLogitsLoss", full, bce_inputs)
_add("bce_scalar_weight", "BCELoss", lambda d: {"weight": _uniform((), d, 8)},
     lambda d: [_uniform((), d, 9, 1e-2, 1 - 1e-2), (_uniform((), d, 10) > 0).to(d)])
_add("bce_logits_scalar_weight", "BCEWithLogitsLoss", lambda d: {"weight": _uniform((), d, 8)},
     lambda d: [_uniform((15, 10), d, 9, 1e-2, 1 - 1e-2), (_uniform((15, 10), d, 10) > 0).to(d)])

for reduction, (desc, kw) in itertools.product(REDUCTIONS, [
        ("", {}), ("weights", "weight"), ("ignore_index", {"ignore_index": 1}),
        ("label_smoothing", {"label_smoothing": 0.15}),
        ("ignore_index_label_smoothing", {"ignore_index": 1, "label_smoothing": 0.15})]):
    # torch's class weights come from make_tensor as well, so some are negative
    full = (lambda d, k=kw, r=reduction: {**({"weight": _uniform((3,), d, 11)} if k == "weight" else k),
                                          "reduction": r})
    for shape in [(2, 3, 5, 5), (2, 3, 5), (2, 3), (2, 3, 5, 5, 2, 2)]:
        _add(f"ce_{shape}_{desc}_{reduction}", "CrossEntropyLoss", full,
             lambda d, s=shape: [_uniform(s, d, 12), _classes((s[0], *s[2:]), 3, 13)])
    if kw == "weight" or "ignore_index" not in kw:
        for shape in [(5, 3, 4, 2), (5, 3, 4), (5, 3), (2, 3, 5, 5, 2, 2)]:
            _add(f"ce_prob_{shape}_{desc}_{reduction}", "CrossEntropyLoss", full,
                 lambda d, s=shape: [_uniform(s, d, 14), _prob(s, d, 15)])
        _add(f"ce_no_batch_dim_{desc}_{reduction}", "CrossEntropyLoss", full,
             lambda d: [_uniform((3,), d, 16), _classes((), 3, 17)])

for desc, kw in [("", {}), ("sum", {"reduction": "sum"}), ("mean", {"reduction": "mean"}),
                 ("none", {"reduction": "none"}), ("p", {"p": 2}), ("margin", {"margin": 0.5}),
                 ("weights", lambda d: {"weight": _uniform((10,), d, 18)})]:
    _add(f"multi_margin_{desc}", "MultiMarginLoss", kw, lambda d: [_uniform((5, 10), d, 19), _classes((5,), 10, 20)])

# common_nn.py: the functional no_reduce tests, as modules
for desc, kw, shape_in, shape_t in [
        ("", {}, (5, 10), (5,)), ("1d", {}, (10,), (1,)), ("1d_input_0d_target", {}, (10,), ()),
        ("p", {"p": 2}, (5, 10), (5,)), ("margin", {"margin": 0.5}, (5, 10), (5,)),
        ("weights", lambda d: {"weight": torch.rand(10, generator=_gen(21), dtype=d)}, (5, 10), (5,))]:
    full = (lambda d, k=kw: {**(k(d) if callable(k) else k), "reduction": "none"})
    _add(f"multi_margin_no_reduce_{desc}", "MultiMarginLoss", full,
         lambda d, si=shape_in, st=shape_t: [torch.randn(si, generator=_gen(22), dtype=d),
                                              _classes(st, 8, 23)])
for desc, kw in [("", {}), ("ignore_index", {"ignore_index": 2}),
                 ("weights", lambda d: {"weight": torch.rand(10, generator=_gen(24), dtype=d)}),
                 ("weights_ignore_index", lambda d: {"weight": torch.rand(10, generator=_gen(24), dtype=d),
                                                     "ignore_index": 2}),
                 ("weights_ignore_index_neg", lambda d: {"weight": torch.rand(10, generator=_gen(24), dtype=d),
                                                         "ignore_index": -1})]:
    full = (lambda d, k=kw: {**(k(d) if callable(k) else k), "reduction": "none"})
    _add(f"nll_no_reduce_{desc}", "NLLLoss", full, lambda d: [
        torch.rand(15, 10, generator=_gen(25), dtype=d).add(1e-2).log(), _classes((15,), 10, 26)])
for shape in [(2, 3, 5, 5), (2, 3, 5, 5, 2, 2)]:
    _add(f"nll_{len(shape) - 2}d_no_reduce", "NLLLoss", {"reduction": "none"}, lambda d, s=shape: [
        torch.rand(s, generator=_gen(27), dtype=d).log(), _classes((s[0], *s[2:]), 3, 28)])
_add("bce_logits_legacy_enum", "BCEWithLogitsLoss", {"reduce": False}, lambda d: [
    torch.rand(15, 10, generator=_gen(29), dtype=d).clamp(2.8e-2, 1 - 2.8e-2),
    (torch.randn(15, 10, generator=_gen(30)) > 0).to(d)])
_add("huber_delta", "HuberLoss", {"reduction": "none", "delta": 0.5},
     lambda d: [torch.randn(2, 3, 4, generator=_gen(31), dtype=d), torch.randn(2, 3, 4, generator=_gen(32), dtype=d)])
_add("l1_no_reduce_complex", "L1Loss", {"reduction": "none"}, lambda d: [
    torch.randn(2, 3, 4, generator=_gen(33), dtype=d).to(torch.complex128 if d == torch.float64 else torch.complex64),
    torch.randn(2, 3, 4, generator=_gen(34), dtype=d).to(torch.complex128 if d == torch.float64 else torch.complex64)])
for desc, kw in [("", {}), ("log_target", {"log_target": True})]:
    for shape in [(10, 10), ()]:
        _add(f"kl_no_reduce_{desc}_{shape}", "KLDivLoss", {**kw, "reduction": "none"}, lambda d, s=shape, lt=bool(kw): [
            torch.rand(s, generator=_gen(35), dtype=d).log(),
            torch.rand(s, generator=_gen(36), dtype=d).log() if lt else torch.rand(s, generator=_gen(36), dtype=d)])
for reduction in REDUCTIONS:
    for name in ["L1Loss", "MSELoss", "HuberLoss"]:
        _add(f"{name}_no_batch_dim_3_{reduction}", name, {"reduction": reduction},
             lambda d: [torch.randn(3, generator=_gen(37), dtype=d), torch.randn(3, generator=_gen(38), dtype=d)])
    _add(f"kl_no_batch_dim_{reduction}", "KLDivLoss", {"reduction": reduction},
         lambda d: [torch.rand(3, generator=_gen(39), dtype=d).log(), torch.rand(3, generator=_gen(40), dtype=d)])
    _add(f"bce_no_batch_dim_{reduction}", "BCELoss", {"reduction": reduction},
         lambda d: [torch.randn(9, generator=_gen(41), dtype=d).sigmoid(), (torch.randn(9, generator=_gen(42)) > 0).to(d)])
    _add(f"bce_logits_no_batch_dim_{reduction}", "BCEWithLogitsLoss", {"reduction": reduction},
         lambda d: [torch.randn(9, generator=_gen(43), dtype=d), torch.randn(9, generator=_gen(44), dtype=d)])
    _add(f"nll_no_batch_dim_{reduction}", "NLLLoss", {"reduction": reduction},
         lambda d: [torch.randn(3, generator=_gen(45), dtype=d).log_softmax(0), torch.tensor(1)])


@pytest.mark.filterwarnings("ignore:size_average and reduce")
@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("case_id,name,kwargs,inputs", CASES, ids=[c[0] for c in CASES])
def test_torch_test_suite_inputs(case_id, name, kwargs, inputs, dtype):
    kw = kwargs(dtype)
    assert_same_as_torch(getattr(losses, name)(**kw), getattr(nn, name)(**kw), inputs(dtype))


# ------------------------------------------------------------------ 0-d and (C,) inputs


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p,margin", [(1, 1.0), (2, 1.0), (1, -0.5), (2, -2.0), (1, 0.0)])
@pytest.mark.parametrize("input_shape,target", [
    ((), torch.tensor(0)), ((), torch.tensor([0])), ((5,), torch.tensor(3)), ((5,), torch.tensor([3])),
    ((1, 5), torch.tensor(2)), ((4, 5), torch.tensor([0, 4, 2, 2])),
], ids=["0d-0d", "0d-1", "C-0d", "C-1", "1xC-0d", "NxC-N"])
def test_multi_margin_every_shape_and_margin(input_shape, target, p, margin, reduction):
    """0-d scores (one class), (C,) with a 0-d or (1,) target, negative margins: torch's values,
    gradients and shapes ((1,) for a (1,) target with reduction='none')."""
    x = torch.randn(input_shape, generator=_gen(0), dtype=torch.float64)
    w = torch.rand(input_shape[-1] if input_shape else 1, generator=_gen(2), dtype=torch.float64) + 0.1
    for weight in (None, w):
        kw = dict(p=p, margin=margin, weight=weight, reduction=reduction)
        assert_same_as_torch(losses.MultiMarginLoss(**kw), nn.MultiMarginLoss(**kw), [x, target])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("target", [torch.tensor(2), torch.tensor([2]), "prob"], ids=["0d", "1", "prob"])
def test_cross_entropy_single_sample(target, smoothing, reduction):
    x = torch.randn(5, generator=_gen(0), dtype=torch.float64)
    t = torch.rand(5, generator=_gen(1), dtype=torch.float64).softmax(0) if isinstance(target, str) else target
    for weight in (None, torch.rand(5, generator=_gen(2), dtype=torch.float64)):
        kw = dict(weight=weight, label_smoothing=smoothing, reduction=reduction)
        _single_sample_same_as_torch(losses.CrossEntropyLoss(**kw), nn.CrossEntropyLoss(**kw), x, t)


def _single_sample_same_as_torch(ours: nn.Module, theirs: nn.Module, x, t) -> None:
    """torch reads a (1,) target for a (C,) input as the 0-d target (a 0-d loss), but only in its
    forward without label smoothing; its backward then fails on the shapes. Ours gives the 0-d
    target's values and gradients for it, always."""
    if t.shape != (1,):
        return assert_same_as_torch(ours, theirs, [x, t])
    want, want_grads = _run(theirs, [x, t.reshape(())], (0,))
    got, grads = _run(ours, [x, t], (0,))
    assert got.shape == want.shape == ()
    torch.testing.assert_close(got, want, atol=1e-12, rtol=0, equal_nan=True)
    torch.testing.assert_close(grads[0], want_grads[0], atol=1e-12, rtol=0, equal_nan=True)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("target", [torch.tensor(2), torch.tensor([2])], ids=["0d", "1"])
def test_nll_single_sample(target, reduction):
    x = torch.randn(5, generator=_gen(0), dtype=torch.float64).log_softmax(0)
    for kw in ({}, {"ignore_index": 2}, {"weight": torch.rand(5, generator=_gen(2), dtype=torch.float64)}):
        _single_sample_same_as_torch(losses.NLLLoss(reduction=reduction, **kw),
                                     nn.NLLLoss(reduction=reduction, **kw), x, target)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ["MSELoss", "L1Loss", "HuberLoss", "BCELoss", "BCEWithLogitsLoss",
                                  "KLDivLoss"])
def test_elementwise_0d(name, reduction):
    x, y = torch.rand((), dtype=torch.float64) * 0.8 + 0.1, torch.rand((), dtype=torch.float64)
    assert_same_as_torch(getattr(losses, name)(reduction=reduction), getattr(nn, name)(reduction=reduction),
                         [x, y])


# ------------------------------------------------------------------ bad input: torch's exception types

def _f(*shape, seed=0, dtype=torch.float32):
    return torch.randn(shape, generator=_gen(seed), dtype=dtype)


def _i(*values):
    return torch.tensor(values, dtype=torch.long)


BAD = [  # (id, class name, constructor kwargs, input, target)
    ("ce_int_target_of_input_shape", "CrossEntropyLoss", {}, _f(2, 3), torch.zeros(2, 3, dtype=torch.long)),
    ("ce_float_target_2", "CrossEntropyLoss", {}, _f(2, 3), torch.zeros(2)),
    ("ce_int32_target", "CrossEntropyLoss", {}, _f(2, 3), torch.zeros(2, dtype=torch.int32)),
    ("ce_batch_mismatch", "CrossEntropyLoss", {}, _f(2, 3), _i(0, 1, 2)),
    ("ce_0d_target_for_batch", "CrossEntropyLoss", {}, _f(2, 3), torch.tensor(0)),
    ("ce_target_2x1", "CrossEntropyLoss", {}, _f(2, 3), torch.zeros(2, 1, dtype=torch.long)),
    ("ce_spatial_mismatch", "CrossEntropyLoss", {}, _f(2, 3, 5), torch.zeros(2, 4, dtype=torch.long)),
    ("ce_spatial_missing", "CrossEntropyLoss", {}, _f(2, 3, 5), torch.zeros(2, dtype=torch.long)),
    ("ce_0d_input", "CrossEntropyLoss", {}, _f(), torch.tensor(0)),
    ("ce_weight_length", "CrossEntropyLoss", {"weight": torch.ones(4)}, _f(2, 3), _i(0, 1)),
    ("ce_weight_2d", "CrossEntropyLoss", {"weight": torch.ones(1, 3)}, _f(2, 3), _i(0, 1)),
    ("ce_weight_length_prob", "CrossEntropyLoss", {"weight": torch.ones(2)}, _f(2, 3), _f(2, 3).softmax(1)),
    ("ce_weight_dtype", "CrossEntropyLoss", {"weight": torch.ones(3)}, _f(2, 3, dtype=torch.float64), _i(0, 1)),
    ("ce_ignore_index_prob", "CrossEntropyLoss", {"ignore_index": 1}, _f(2, 3), _f(2, 3).softmax(1)),
    ("ce_target_out_of_range", "CrossEntropyLoss", {}, _f(2, 3), _i(0, 3)),
    ("nll_weight_float16_on_float64", "NLLLoss", {"weight": torch.ones(3, dtype=torch.float16)},
     _f(2, 3, dtype=torch.float64), _i(0, 1)),
    ("nll_weight_float32_on_float64", "NLLLoss", {"weight": torch.ones(3)}, _f(2, 3, dtype=torch.float64), _i(0, 1)),
    ("nll_empty_weight_dtype", "NLLLoss", {"weight": torch.ones(0, dtype=torch.float16)},
     torch.zeros(0, 0), torch.zeros(0, dtype=torch.long)),  # common_modules' NLLLoss error input
    ("nll_weight_length", "NLLLoss", {"weight": torch.ones(4)}, _f(2, 3), _i(0, 1)),
    ("nll_0d_input", "NLLLoss", {}, _f(), torch.tensor(0)),
    ("nll_single_sample_two_targets", "NLLLoss", {}, _f(3), _i(0, 1)),
    ("nll_float_target", "NLLLoss", {}, _f(2, 3), torch.zeros(2)),
    ("nll_target_out_of_range", "NLLLoss", {}, _f(2, 3), _i(-1, 0)),
    ("mm_target_2x3", "MultiMarginLoss", {}, _f(2, 3), torch.zeros(2, 3, dtype=torch.long)),
    ("mm_target_batch", "MultiMarginLoss", {}, _f(5, 10), _i(0, 1, 2)),
    ("mm_target_2x1", "MultiMarginLoss", {}, _f(2, 3), torch.zeros(2, 1, dtype=torch.long)),
    ("mm_0d_input_two_targets", "MultiMarginLoss", {}, _f(), _i(0, 0)),
    ("mm_3d_input", "MultiMarginLoss", {}, _f(2, 3, 4), _i(0, 1)),
    ("mm_no_classes", "MultiMarginLoss", {}, _f(2, 0), _i(0, 1)),
    ("mm_weight_length", "MultiMarginLoss", {"weight": torch.ones(4)}, _f(2, 3), _i(0, 1)),
    ("mm_weight_dtype", "MultiMarginLoss", {"weight": torch.ones(3)}, _f(2, 3, dtype=torch.float64), _i(0, 1)),
    ("mm_float_target", "MultiMarginLoss", {}, _f(2, 3), torch.zeros(2)),
    ("mm_int32_target", "MultiMarginLoss", {}, _f(2, 3), torch.zeros(2, dtype=torch.int32)),
    ("mm_target_out_of_range", "MultiMarginLoss", {}, _f(2, 3), _i(0, 3)),
    ("mm_0d_target_1", "MultiMarginLoss", {}, _f(), torch.tensor(1)),
    ("bce_input_range", "BCELoss", {}, torch.tensor([1.5, 0.5]), torch.tensor([1.0, 0.0])),
    ("bce_target_range", "BCELoss", {}, torch.tensor([0.5, 0.5]), torch.tensor([2.0, -1.0])),
    ("bce_target_shape", "BCELoss", {}, torch.rand(2, 3), torch.rand(2, 1)),
    ("bce_logits_target_shape", "BCEWithLogitsLoss", {}, torch.rand(2, 3), torch.rand(2, 1)),
    ("mse_not_broadcastable", "MSELoss", {}, _f(2, 3), _f(2, 4)),
]


@pytest.mark.filterwarnings("ignore:.*target size")  # both warn about broadcasting, then raise
@pytest.mark.parametrize("case_id,name,kwargs,input,target", BAD, ids=[b[0] for b in BAD])
def test_bad_input_raises_torchs_exception_type(case_id, name, kwargs, input, target):
    with pytest.raises(Exception) as theirs:
        getattr(nn, name)(**kwargs)(input, target)
    with pytest.raises(Exception) as ours:
        getattr(losses, name)(**kwargs)(input, target)
    assert type(ours.value) is type(theirs.value), (ours.value, theirs.value)
    assert name in str(ours.value) or "target" in str(ours.value) or "tensor" in str(ours.value)


# ------------------------------------------------------------------ legacy size_average / reduce

LEGACY = ["L1Loss", "MSELoss", "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "NLLLoss",
          "MultiMarginLoss", "KLDivLoss"]


@pytest.mark.parametrize("size_average,reduce", [
    (a, b) for a, b in itertools.product([None, True, False], repeat=2) if (a, b) != (None, None)])
@pytest.mark.parametrize("name", LEGACY)
def test_legacy_arguments_mean_what_they_mean_in_torch(name, size_average, reduce):
    kw = dict(size_average=size_average, reduce=reduce, reduction="sum")  # reduction is then ignored
    with pytest.warns(UserWarning, match="size_average and reduce") as ours_warned:
        ours = getattr(losses, name)(**kw)
    with pytest.warns(UserWarning, match="size_average and reduce"):
        theirs = getattr(nn, name)(**kw)
    assert ours.reduction == theirs.reduction
    assert f"reduction='{ours.reduction}'" in str(ours_warned[0].message)
    assert ours_warned[0].filename == __file__  # the warning points at the caller
    x = torch.rand(4, 3, dtype=torch.float64) * 0.8 + 0.1
    t = torch.tensor([0, 2, 1, 1]) if name in ("CrossEntropyLoss", "NLLLoss", "MultiMarginLoss") else torch.rand_like(x)
    assert_same_as_torch(ours, theirs, [x, t])


def test_legacy_positional_arguments():
    """Old code passes reduction third, after size_average and reduce, without a warning when both are None."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert losses.MSELoss(None, None, "sum").reduction == "sum"
        assert losses.L1Loss(None, None, "none").reduction == "none"
        assert losses.KLDivLoss(None, None, "batchmean").reduction == "batchmean"
        assert losses.NLLLoss(None, None, 3, None, "sum").ignore_index == 3
        ce = losses.CrossEntropyLoss(None, None, -1, None, "sum", 0.1)
        assert (ce.ignore_index, ce.reduction, ce.label_smoothing) == (-1, "sum", 0.1)
        assert losses.MultiMarginLoss(2, 0.5, None, None, None, "none").reduction == "none"
        assert losses.BCEWithLogitsLoss(None, None, None, "sum").reduction == "sum"
    with pytest.warns(UserWarning, match="reduction='sum'"):
        assert losses.MSELoss(False).reduction == "sum"


# ------------------------------------------------------------------ float32 at 2^20 elements and more

N_BIG, C_BIG = 1 << 11, 1 << 10  # 2^21 logits; 2^21 elementwise


def _big_cases():
    x = torch.randn(N_BIG, C_BIG, generator=_gen(0)) * 3
    y = torch.randn(N_BIG, C_BIG, generator=_gen(1))
    p = torch.rand(N_BIG, C_BIG, generator=_gen(2)) * 0.98 + 0.01
    q = torch.rand(N_BIG, C_BIG, generator=_gen(3))
    idx = torch.randint(0, C_BIG, (N_BIG,), generator=_gen(4))
    probs = torch.rand(N_BIG, C_BIG, generator=_gen(5)).softmax(1)
    w = torch.rand(C_BIG, generator=_gen(6)) + 0.1
    return [
        ("mse", "MSELoss", {}, [x, y]), ("l1", "L1Loss", {}, [x, y]), ("huber", "HuberLoss", {}, [x, y]),
        ("bce", "BCELoss", {}, [p, q]), ("bce_logits", "BCEWithLogitsLoss", {}, [x, q]),
        ("bce_logits_pos_weight", "BCEWithLogitsLoss", {"pos_weight": w}, [x, q]),
        ("kl", "KLDivLoss", {"reduction": "batchmean"}, [x.log_softmax(1), probs]),
        ("ce", "CrossEntropyLoss", {}, [x, idx]),
        ("ce_smooth_weight", "CrossEntropyLoss", {"label_smoothing": 0.1, "weight": w}, [x, idx]),
        ("ce_none", "CrossEntropyLoss", {"reduction": "none"}, [x, idx]),
        ("ce_prob", "CrossEntropyLoss", {}, [x, probs]),
        ("nll", "NLLLoss", {}, [x.log_softmax(1), idx]),
        ("multi_margin", "MultiMarginLoss", {}, [x * 0.1, idx]),
        ("multi_margin_p2", "MultiMarginLoss", {"p": 2}, [x * 0.1, idx]),
    ]


@pytest.mark.parametrize("case_id,name,kwargs,inputs", _big_cases(), ids=[c[0] for c in _big_cases()])
def test_float32_at_two_million_elements(case_id, name, kwargs, inputs):
    assert inputs[0].numel() >= 1 << 20 and inputs[0].dtype == torch.float32
    assert_same_as_torch(getattr(losses, name)(**kwargs), getattr(nn, name)(**kwargs), inputs)
