"""Parity of the hand-written losses with torch: values, input gradients, second derivatives,
extreme inputs, empty batches and argument validation."""
from __future__ import annotations

import itertools
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import losses
from _tolerance import tol

REDUCTIONS = ["mean", "sum", "none"]
DTYPES = [torch.float64, torch.float32]


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def run(module: nn.Module, inputs: list[torch.Tensor], grad_of: tuple[int, ...], seed: int = 1):
    """Loss value and the gradients of `inputs[i]` for i in `grad_of`, with a random upstream grad."""
    leaves = [t.detach().clone().requires_grad_(i in grad_of) for i, t in enumerate(inputs)]
    out = module(*leaves)
    upstream = torch.rand(out.shape, generator=gen(seed), dtype=out.dtype) + 0.5
    grads = torch.autograd.grad(out, [leaves[i] for i in grad_of], upstream, allow_unused=True)
    return out.detach(), grads


def assert_parity(ours: nn.Module, theirs: nn.Module, inputs: list[torch.Tensor],
                  grad_of: tuple[int, ...] = (0,), extreme: bool = False) -> None:
    out_a, grads_a = run(ours, inputs, grad_of)
    out_b, grads_b = run(theirs, inputs, grad_of)
    assert out_a.shape == out_b.shape and out_a.dtype == out_b.dtype
    torch.testing.assert_close(out_a, out_b, equal_nan=True, **tol(out_b, extreme))
    for ga, gb in zip(grads_a, grads_b):
        torch.testing.assert_close(ga, gb, equal_nan=True, **tol(gb, extreme))
        # no nan or inf where torch is finite
        assert torch.isfinite(ga[torch.isfinite(gb)]).all()


# ---------------------------------------------------------------- regression


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name,kwargs", [
    ("MSELoss", {}), ("L1Loss", {}),
    ("HuberLoss", {"delta": 1.0}), ("HuberLoss", {"delta": 0.3}), ("HuberLoss", {"delta": 2.5}),
])
@pytest.mark.parametrize("shape", [(7,), (4, 5), (2, 3, 4)])
def test_regression(name, kwargs, reduction, dtype, shape):
    x = torch.randn(shape, generator=gen(), dtype=dtype) * 2
    y = torch.randn(shape, generator=gen(2), dtype=dtype) * 2
    ours = getattr(losses, name)(reduction=reduction, **kwargs)
    theirs = getattr(nn, name)(reduction=reduction, **kwargs)
    assert_parity(ours, theirs, [x, y], grad_of=(0, 1))


def test_huber_at_exactly_delta():
    x = torch.tensor([-2.0, -1.0, 0.0, 1.0, 2.0], dtype=torch.float64)
    assert_parity(losses.HuberLoss(delta=1.0), nn.HuberLoss(delta=1.0), [x, torch.zeros_like(x)])


@pytest.mark.parametrize("name", ["MSELoss", "L1Loss", "HuberLoss"])
def test_regression_broadcast_target_warns_like_torch(name):
    x = torch.randn(4, 3, generator=gen(), dtype=torch.float64)
    y = torch.randn(4, 1, generator=gen(3), dtype=torch.float64)
    with pytest.warns(UserWarning, match="target size"):
        assert_parity(getattr(losses, name)(), getattr(nn, name)(), [x, y], grad_of=(0, 1))


@pytest.mark.parametrize("name", ["MSELoss", "HuberLoss"])
def test_regression_extreme(name):
    x = torch.tensor([1e4, -1e4, 3.0, 1e-8], dtype=torch.float64)
    y = torch.tensor([-1e4, 1e4, 3.0, 0.0], dtype=torch.float64)
    assert_parity(getattr(losses, name)(), getattr(nn, name)(), [x, y], grad_of=(0, 1), extreme=True)


# ---------------------------------------------------------------- cross-entropy and NLL

C = 5


def logits(shape, dtype, seed=0):
    return torch.randn(shape, generator=gen(seed), dtype=dtype) * 3


def class_targets(shape, ignore_index, seed=5):
    t = torch.randint(0, C, shape, generator=gen(seed))
    if ignore_index is not None and t.numel() > 1:
        t.view(-1)[::3] = ignore_index  # every third target ignored
    return t


SHAPES = {"C": ((C,), ()), "NC": ((6, C), (6,)), "NCdd": ((3, C, 2, 4), (3, 2, 4))}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.25, 1.0])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore_index", [None, -100, 2])
@pytest.mark.parametrize("layout", list(SHAPES))
def test_cross_entropy_class_indices(layout, ignore_index, weighted, smoothing, reduction, dtype):
    in_shape, t_shape = SHAPES[layout]
    x = logits(in_shape, dtype)
    t = class_targets(t_shape, ignore_index)
    w = torch.rand(C, generator=gen(9), dtype=dtype) + 0.1 if weighted else None
    kw = dict(weight=w, reduction=reduction, label_smoothing=smoothing)
    if ignore_index is not None:
        kw["ignore_index"] = ignore_index
    assert_parity(losses.CrossEntropyLoss(**kw), nn.CrossEntropyLoss(**kw), [x, t])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.3])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("layout", list(SHAPES))
def test_cross_entropy_probabilities(layout, weighted, smoothing, reduction, dtype):
    in_shape, _ = SHAPES[layout]
    x = logits(in_shape, dtype)
    class_dim = 0 if len(in_shape) == 1 else 1
    t = torch.rand(in_shape, generator=gen(4), dtype=dtype).softmax(class_dim)
    w = torch.rand(C, generator=gen(9), dtype=dtype) + 0.1 if weighted else None
    kw = dict(weight=w, reduction=reduction, label_smoothing=smoothing)
    assert_parity(losses.CrossEntropyLoss(**kw), nn.CrossEntropyLoss(**kw), [x, t], grad_of=(0, 1))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_every_target_ignored(weighted, smoothing, reduction, dtype):
    x = logits((4, C), dtype)
    t = torch.full((4,), -100)
    w = torch.rand(C, generator=gen(9), dtype=dtype) if weighted else None
    kw = dict(weight=w, reduction=reduction, label_smoothing=smoothing)
    ours, theirs = losses.CrossEntropyLoss(**kw), nn.CrossEntropyLoss(**kw)
    assert_parity(ours, theirs, [x, t])
    if reduction == "mean":
        assert torch.isnan(ours(x, t))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("target", ["index", "prob"])
def test_cross_entropy_extreme_logits(target, smoothing, reduction, dtype):
    x = torch.tensor([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4, -1e4], [0.0, 1e4, 1e-3]],
                     dtype=dtype)
    t = torch.tensor([1, 0, 2, 1]) if target == "index" else \
        torch.tensor([[0.0, 1, 0], [0.2, 0.3, 0.5], [0.5, 0.5, 0], [1, 0, 0]], dtype=dtype)
    kw = dict(reduction=reduction, label_smoothing=smoothing)
    assert_parity(losses.CrossEntropyLoss(**kw), nn.CrossEntropyLoss(**kw), [x, t], extreme=True)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("target", ["index", "prob"])
def test_cross_entropy_empty_batch(target, reduction):
    x = torch.randn(0, C, dtype=torch.float64)
    t = torch.zeros(0, dtype=torch.long) if target == "index" else torch.zeros(0, C, dtype=torch.float64)
    kw = dict(reduction=reduction)
    assert_parity(losses.CrossEntropyLoss(**kw), nn.CrossEntropyLoss(**kw), [x, t])


@pytest.mark.parametrize("module,target", [
    (losses.CrossEntropyLoss(), "index"), (losses.CrossEntropyLoss(), "prob"),
    (losses.MultiMarginLoss(p=1), "index"), (losses.MultiMarginLoss(p=2), "index"),
    (losses.MSELoss(), "real"), (losses.HuberLoss(delta=0.5), "real"),
], ids=["ce", "ce_prob", "margin_p1", "margin_p2", "mse", "huber"])
def test_retained_graph_backward_twice(module, target):
    # a retained graph gives the same gradient on a second backward (no state is consumed by the first)
    x = logits((6, C), torch.float64).requires_grad_()
    t = {"index": class_targets((6,), None), "prob": torch.rand(6, C, dtype=torch.float64).softmax(1),
         "real": torch.randn(6, C, dtype=torch.float64)}[target]
    loss = module(x, t)
    g1, = torch.autograd.grad(loss, x, retain_graph=True)
    g2, = torch.autograd.grad(loss, x)
    torch.testing.assert_close(g1, g2, atol=1e-15, rtol=0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore_index", [None, -100, 2, C])  # C: ignored targets past the last class
@pytest.mark.parametrize("layout", list(SHAPES))
def test_nll(layout, ignore_index, weighted, reduction, dtype):
    in_shape, t_shape = SHAPES[layout]
    x = logits(in_shape, dtype).log_softmax(0 if len(in_shape) == 1 else 1)
    t = class_targets(t_shape, ignore_index)
    w = torch.rand(C, generator=gen(9), dtype=dtype) + 0.1 if weighted else None
    kw = dict(weight=w, reduction=reduction)
    if ignore_index is not None:
        kw["ignore_index"] = ignore_index
    assert_parity(losses.NLLLoss(**kw), nn.NLLLoss(**kw), [x, t])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_every_target_ignored_and_empty(reduction):
    x = logits((3, C), torch.float64)
    assert_parity(losses.NLLLoss(reduction=reduction), nn.NLLLoss(reduction=reduction),
                  [x, torch.full((3,), -100)])
    assert_parity(losses.NLLLoss(reduction=reduction), nn.NLLLoss(reduction=reduction),
                  [x[:0], torch.zeros(0, dtype=torch.long)])


@pytest.mark.parametrize("name", ["NLLLoss", "CrossEntropyLoss"])
def test_out_of_range_target_raises_as_torch(name):
    """A target outside [0, C) that is not ignore_index raises torch's IndexError, naming the target."""
    x = logits((4, C), torch.float64).log_softmax(1)
    for bad in (-1, C, -100):
        t = torch.tensor([0, 1, bad, 2])
        kw = {"ignore_index": 3} if bad == -100 else {}
        with pytest.raises(IndexError):
            getattr(nn, name)(**kw)(x, t)
        with pytest.raises(IndexError, match=f"target {bad} is out of bounds"):
            getattr(losses, name)(**kw)(x, t)


# ---------------------------------------------------------------- binary


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weight", [None, "row", "full"])
def test_bce(weight, reduction, dtype):
    p = torch.rand(4, 5, generator=gen(), dtype=dtype) * 0.98 + 0.01
    y = torch.rand(4, 5, generator=gen(2), dtype=dtype)
    w = None if weight is None else torch.rand((5,) if weight == "row" else (4, 5), generator=gen(3),
                                               dtype=dtype)
    kw = dict(weight=w, reduction=reduction)
    assert_parity(losses.BCELoss(**kw), nn.BCELoss(**kw), [p, y], grad_of=(0, 1))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_probabilities_exactly_zero_and_one(reduction, dtype):
    p = torch.tensor([0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.5, 1e-30], dtype=dtype)
    y = torch.tensor([0.0, 1.0, 0.0, 1.0, 0.3, 0.7, 1.0, 1.0], dtype=dtype)
    ours, theirs = losses.BCELoss(reduction=reduction), nn.BCELoss(reduction=reduction)
    assert_parity(ours, theirs, [p, y], extreme=True)
    assert torch.isfinite(ours(p, y)).all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("pos_weighted", [False, True])
def test_bce_with_logits(pos_weighted, weighted, reduction, dtype):
    x = torch.randn(4, 5, generator=gen(), dtype=dtype) * 3
    y = torch.rand(4, 5, generator=gen(2), dtype=dtype)
    w = torch.rand(4, 5, generator=gen(3), dtype=dtype) if weighted else None
    pw = torch.rand(5, generator=gen(4), dtype=dtype) * 3 if pos_weighted else None
    kw = dict(weight=w, reduction=reduction, pos_weight=pw)
    assert_parity(losses.BCEWithLogitsLoss(**kw), nn.BCEWithLogitsLoss(**kw), [x, y], grad_of=(0, 1))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("pos_weighted", [False, True])
def test_bce_with_logits_extreme(pos_weighted, reduction, dtype):
    x = torch.tensor([-1e4, -1e4, 1e4, 1e4, -1e3, 100.0, -100.0, 0.0], dtype=dtype)
    y = torch.tensor([0.0, 1.0, 0.0, 1.0, 0.5, 1.0, 0.0, 0.5], dtype=dtype)
    pw = torch.full((8,), 2.5, dtype=dtype) if pos_weighted else None
    kw = dict(reduction=reduction, pos_weight=pw)
    ours = losses.BCEWithLogitsLoss(**kw)
    assert_parity(ours, nn.BCEWithLogitsLoss(**kw), [x, y], grad_of=(0, 1), extreme=True)
    assert torch.isfinite(ours(x, y)).all()


# ---------------------------------------------------------------- margins


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p,margin", [(1, 1.0), (2, 1.0), (1, 0.4), (2, 2.0), (1, 0.0)])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("layout", ["C", "NC"])
def test_multi_margin(layout, weighted, p, margin, reduction, dtype):
    in_shape, t_shape = SHAPES[layout]
    x = logits(in_shape, dtype) * 0.3
    t = class_targets(t_shape, None)
    w = torch.rand(C, generator=gen(9), dtype=dtype) if weighted else None
    kw = dict(p=p, margin=margin, weight=w, reduction=reduction)
    assert_parity(losses.MultiMarginLoss(**kw), nn.MultiMarginLoss(**kw), [x, t])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p", [1, 2])
def test_multi_margin_non_finite_logits(p, reduction):
    """torch keeps a margin term only when it is > 0, so a NaN logit drops its terms (a NaN target
    logit its whole row) rather than making the loss NaN; +-inf logits give 0 or inf terms."""
    nan, inf = float("nan"), float("inf")
    x = torch.tensor([[inf, 1.0, -inf], [nan, 0.5, 2.0], [3.0, -inf, 1.0], [0.1, nan, 0.3]], dtype=torch.float64)
    t = torch.tensor([0, 1, 2, 1])
    for w in (None, torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64)):
        kw = dict(p=p, weight=w, reduction=reduction)
        assert_parity(losses.MultiMarginLoss(**kw), nn.MultiMarginLoss(**kw), [x, t])


def hinge_formula(x, y, margin):
    sign = torch.where(y == 0, -1.0, y.to(x.dtype))
    return torch.clamp(margin - sign * x, min=0)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [1.0, 0.5, 0.0])
@pytest.mark.parametrize("labels", ["pm1", "01"])
def test_hinge_against_formula(labels, margin, reduction):
    x = torch.randn(4, 3, generator=gen(), dtype=torch.float64)
    y = torch.randint(0, 2, (4, 3), generator=gen(2))
    if labels == "pm1":
        y = y * 2 - 1
    ours = losses.HingeLoss(margin=margin, reduction=reduction)
    out, (gx,) = run(ours, [x, y], (0,))
    ref = nn.Module()
    ref.forward = lambda a, b: {"mean": torch.mean, "sum": torch.sum, "none": lambda v: v}[reduction](
        hinge_formula(a, b, margin))
    ref_out, (ref_gx,) = run(ref, [x, y], (0,))
    torch.testing.assert_close(out, ref_out, atol=1e-12, rtol=0)
    torch.testing.assert_close(gx, ref_gx, atol=1e-12, rtol=0)


def test_hinge_known_answers():
    x = torch.tensor([2.0, 0.5, -0.5, -3.0, 0.25])
    y = torch.tensor([1, 1, 0, 1, -1])
    # max(0, 1 - y x): 0, 0.5, 0.5, 4, 1.25
    torch.testing.assert_close(losses.HingeLoss(reduction="none")(x, y),
                               torch.tensor([0.0, 0.5, 0.5, 4.0, 1.25]))
    assert losses.HingeLoss()(x, y).item() == pytest.approx(6.25 / 5)
    assert losses.HingeLoss(margin=2.0, reduction="sum")(x, y).item() == pytest.approx(0 + 1.5 + 1.5 + 5 + 2.25)


# ---------------------------------------------------------------- KL divergence


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["batchmean", "sum", "none", "mean"])
@pytest.mark.parametrize("log_target", [False, True])
@pytest.mark.parametrize("shape", [(6, C), (2, C, 3)])
def test_kl_div(shape, log_target, reduction, dtype):
    x = logits(shape, dtype).log_softmax(1)
    t = torch.rand(shape, generator=gen(4), dtype=dtype).softmax(1)
    t[0, 0] = 0.0  # 0 log 0 = 0
    if log_target:
        t = t.log()
    kw = dict(reduction=reduction, log_target=log_target)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # both warn about reduction='mean'
        assert_parity(losses.KLDivLoss(**kw), nn.KLDivLoss(**kw), [x, t], grad_of=(0, 1) if log_target else (0,))


def test_kl_div_mean_warns():
    with pytest.warns(UserWarning, match="batchmean"):
        losses.KLDivLoss()(torch.zeros(2, 3), torch.full((2, 3), 1 / 3))


# ---------------------------------------------------------------- VAE


def vae_inputs(dtype=torch.float64, logits_recon=False):
    x = torch.rand(4, 1, 3, 3, generator=gen(), dtype=dtype)
    z = torch.randn(4, 9, generator=gen(1), dtype=dtype)
    recon = z if logits_recon else z.sigmoid()
    mu = torch.randn(4, 2, generator=gen(2), dtype=dtype)
    logvar = torch.randn(4, 2, generator=gen(3), dtype=dtype) * 0.5
    return recon, x, mu, logvar


def test_vae_kl_equals_torch_distributions():
    _, _, mu, logvar = vae_inputs()
    ours = losses.VAELoss.kl(mu, logvar)
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    p = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    torch.testing.assert_close(ours, torch.distributions.kl_divergence(q, p).sum(1), atol=1e-12, rtol=0)


@pytest.mark.parametrize("reconstruction,logits_flag", [("bce", False), ("bce", True), ("mse", False)])
@pytest.mark.parametrize("beta", [1.0, 0.25])
def test_vae_parts_and_total(reconstruction, logits_flag, beta):
    recon, x, mu, logvar = vae_inputs(logits_recon=logits_flag)
    loss = losses.VAELoss(reconstruction=reconstruction, beta=beta, logits=logits_flag)
    total, rec, kl = loss.parts(recon, x, mu, logvar)
    flat = x.reshape(4, -1)
    if reconstruction == "mse":
        ref_rec = F.mse_loss(recon, flat, reduction="sum") / 4
    elif logits_flag:
        ref_rec = F.binary_cross_entropy_with_logits(recon, flat, reduction="sum") / 4
    else:
        ref_rec = F.binary_cross_entropy(recon, flat, reduction="sum") / 4
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    ref_kl = torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0)).sum(1).mean()
    torch.testing.assert_close(rec, ref_rec, atol=1e-12, rtol=0)
    torch.testing.assert_close(kl, ref_kl, atol=1e-12, rtol=0)
    torch.testing.assert_close(total, ref_rec + beta * ref_kl, atol=1e-12, rtol=0)
    torch.testing.assert_close(loss(recon, x, mu, logvar), total, atol=0, rtol=0)


# ---------------------------------------------------------------- gradcheck / gradgradcheck


def _gradcheck_cases():
    d = torch.float64
    x = torch.randn(3, 4, generator=gen(), dtype=d)
    y = torch.randn(3, 4, generator=gen(2), dtype=d)
    t = torch.tensor([0, 3, 1])
    probs = torch.rand(3, 4, generator=gen(3), dtype=d).softmax(1)
    p = torch.rand(3, 4, generator=gen(4), dtype=d) * 0.8 + 0.1
    w = torch.rand(4, generator=gen(5), dtype=d) + 0.1
    return [
        ("mse", losses.MSELoss(), (x, y)),
        ("mse_none", losses.MSELoss(reduction="none"), (x, y)),
        ("l1", losses.L1Loss(), (x, y)),
        ("huber", losses.HuberLoss(delta=0.7), (x, y)),
        ("ce", losses.CrossEntropyLoss(weight=w, label_smoothing=0.2), (x, torch.tensor([0, -100, 2]))),
        ("ce_none", losses.CrossEntropyLoss(reduction="none"), (x, t)),
        ("ce_4d", losses.CrossEntropyLoss(label_smoothing=0.1), (x.reshape(1, 4, 3, 1).contiguous(),
                                                                 torch.tensor([[[0], [3], [1]]]))),
        ("ce_prob", losses.CrossEntropyLoss(weight=w, label_smoothing=0.1), (x, probs)),
        ("nll", losses.NLLLoss(weight=w), (x, t)),
        ("nll_plain", losses.NLLLoss(), (x, t)),
        ("nll_sum", losses.NLLLoss(reduction="sum"), (x, t)),
        ("bce_none", losses.BCELoss(reduction="none"), (p, probs)),
        ("multi_margin_negative", losses.MultiMarginLoss(margin=-0.3, weight=w), (x, t)),
        ("bce", losses.BCELoss(weight=w), (p, probs)),
        ("bce_logits", losses.BCEWithLogitsLoss(pos_weight=w * 2), (x, probs)),
        ("bce_logits_none", losses.BCEWithLogitsLoss(reduction="none"), (x, probs)),
        ("hinge", losses.HingeLoss(margin=0.5), (x, torch.tensor([[1, -1, 0, 1]] * 3))),
        ("multi_margin", losses.MultiMarginLoss(margin=0.9, weight=w), (x, t)),
        ("multi_margin_p2", losses.MultiMarginLoss(p=2), (x, t)),
        ("kl_div", losses.KLDivLoss(reduction="batchmean", log_target=True), (x, y)),
        ("kl_div_prob", losses.KLDivLoss(reduction="sum"), (x, probs)),
        ("vae", losses.VAELoss(), (p, probs, x[:, :2], y[:, :2])),
        ("vae_mse", losses.VAELoss(reconstruction="mse", beta=0.5), (x, y, x[:, :2], y[:, :2])),
    ]


@pytest.mark.parametrize("name,module,args", _gradcheck_cases(), ids=[c[0] for c in _gradcheck_cases()])
def test_gradcheck_and_gradgradcheck(name, module, args):
    inputs = tuple(a.clone().requires_grad_(a.is_floating_point()) for a in args)
    assert torch.autograd.gradcheck(module, inputs)
    assert torch.autograd.gradgradcheck(module, inputs)


# ---------------------------------------------------------------- empty batches, validation


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ["MSELoss", "L1Loss", "HuberLoss", "BCELoss", "BCEWithLogitsLoss",
                                  "KLDivLoss"])
@pytest.mark.filterwarnings("ignore:.*batchmean")
def test_empty_batch(name, reduction):
    x = torch.rand(0, 3, dtype=torch.float64)
    assert_parity(getattr(losses, name)(reduction=reduction), getattr(nn, name)(reduction=reduction),
                  [x, x.clone()], grad_of=(0, 1))


# VAELoss takes no reduction: it always averages over the batch
@pytest.mark.parametrize("name", [n for n in losses.__all__ if n != "VAELoss"])
def test_unknown_reduction_names_the_argument(name):
    with pytest.raises(ValueError, match="bogus is not a valid value for reduction"):
        getattr(losses, name)(reduction="bogus")


# torch checks these when the loss is called (or at construction: HuberLoss's delta type); we check
# at construction, with the exception type torch raises (ValueError for our own HingeLoss and VAELoss)
@pytest.mark.parametrize("factory,error,match", [
    (lambda: losses.HuberLoss(delta=-1.0), RuntimeError, "delta"),
    (lambda: losses.HuberLoss(delta=0.0), RuntimeError, "delta"),
    (lambda: losses.HuberLoss(delta=1.0 + 0j), TypeError, "delta"),
    (lambda: losses.HingeLoss(margin=-0.5), ValueError, "margin"),
    (lambda: losses.MultiMarginLoss(p=3), ValueError, "p == 1 and p == 2"),
    (lambda: losses.MultiMarginLoss(weight=torch.ones(2, 3)), ValueError, "1-D"),
    (lambda: losses.CrossEntropyLoss(label_smoothing=-0.1), RuntimeError, "label_smoothing"),
    (lambda: losses.CrossEntropyLoss(label_smoothing=1.5), RuntimeError, "label_smoothing"),
    (lambda: losses.VAELoss(reconstruction="l1"), ValueError, "reconstruction"),
    (lambda: losses.VAELoss(beta=-1.0), ValueError, "beta"),
])
def test_invalid_arguments(factory, error, match):
    with pytest.raises(error, match=match):
        factory()


def test_shape_and_range_errors():
    with pytest.raises(RuntimeError, match="input should be between 0 and 1"):
        losses.BCELoss()(torch.tensor([1.5]), torch.tensor([1.0]))
    with pytest.raises(RuntimeError, match="target should be between 0 and 1"):
        losses.BCELoss()(torch.tensor([0.5]), torch.tensor([-0.5]))
    with pytest.raises(ValueError, match="target size"):
        losses.BCELoss()(torch.rand(2, 3), torch.rand(2, 1))
    with pytest.raises(ValueError, match="target size"):
        losses.BCEWithLogitsLoss()(torch.rand(2, 3), torch.rand(2, 1))


def test_defaults_match_torch():
    for ours, theirs in [(losses.CrossEntropyLoss(), nn.CrossEntropyLoss()),
                         (losses.NLLLoss(), nn.NLLLoss()), (losses.HuberLoss(), nn.HuberLoss()),
                         (losses.MultiMarginLoss(), nn.MultiMarginLoss()),
                         (losses.KLDivLoss(), nn.KLDivLoss()), (losses.BCEWithLogitsLoss(), nn.BCEWithLogitsLoss())]:
        for attr in ("reduction", "ignore_index", "label_smoothing", "delta", "p", "margin", "log_target"):
            if hasattr(theirs, attr):
                assert getattr(ours, attr) == getattr(theirs, attr), (type(ours).__name__, attr)


def test_buffers_follow_the_module():
    w = torch.rand(C)
    m = losses.CrossEntropyLoss(weight=w).double()
    assert m.weight.dtype == torch.float64 and "weight" in m.state_dict()


# ---------------------------------------------------------------- Hydra configs

CONFIG_DIR = __import__("pathlib").Path(__file__).resolve().parents[1] / "configs" / "loss"
CONFIG_CLASSES = {
    "cross_entropy": "CrossEntropyLoss", "nll": "NLLLoss", "mse": "MSELoss", "l1": "L1Loss",
    "huber": "HuberLoss", "bce": "BCELoss", "bce_with_logits": "BCEWithLogitsLoss", "hinge": "HingeLoss",
    "multi_margin": "MultiMarginLoss", "kl_div": "KLDivLoss", "vae": "VAELoss",
}


@pytest.mark.parametrize("name,cls", list(CONFIG_CLASSES.items()))
def test_hydra_configs_build_the_loss_and_its_torch_twin(name, cls, make_cfg):
    from hydra.utils import instantiate

    ours = instantiate(make_cfg(f"loss={name}").loss)
    assert type(ours) is getattr(losses, cls)
    if (CONFIG_DIR / f"torch_{name}.yaml").exists():
        theirs = instantiate(make_cfg(f"loss=torch_{name}").loss)
        assert type(theirs) is getattr(nn, cls)
        assert_parity(ours, theirs, [torch.randn(3, 4, dtype=torch.float64),
                                     torch.rand(3, 4, dtype=torch.float64)], grad_of=(0, 1))
