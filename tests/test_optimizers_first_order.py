"""The first-order optimizers against torch.optim: trajectories, state, state dicts, errors.

Every case of tests/_optim_cases.py runs 20 steps on a small seeded network whose parameters sit in
three groups with different learning rates and include a 0-dim param, a non-contiguous leaf (a
transposed view), a param that never gets a gradient and one that gets its first gradient late.
"""
from __future__ import annotations

import copy

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch.nn import Parameter
from torch.testing import assert_close

import optimizers
from _optim_cases import CASES, CONFIGS, INVALID, Case

TOL = {torch.float64: dict(rtol=0.0, atol=1e-10), torch.float32: dict(rtol=1e-5, atol=1e-7)}
STEPS, LATE = 20, 5  # the `late` param enters the loss at step LATE


# ---------------------------------------------------------------- the seeded problem

def make_params(dtype: torch.dtype) -> list[Parameter]:
    g = torch.Generator().manual_seed(0)

    def randn(*shape):
        return torch.randn(*shape, generator=g, dtype=dtype)

    w1 = Parameter(randn(8, 5) * 0.5)
    b1 = Parameter(randn(8) * 0.1)
    w2 = Parameter(randn(8, 3).t())           # (3, 8) leaf with strides (1, 3)
    b2 = Parameter(randn(3) * 0.1)
    scale = Parameter(torch.tensor(1.2, dtype=dtype))  # 0-dim
    unused = Parameter(randn(4))              # never in the loss: .grad stays None
    late = Parameter(randn(3) * 0.1)          # in the loss only from step LATE on
    return [w1, b1, w2, b2, scale, unused, late]


def make_batches(dtype: torch.dtype, n: int = STEPS) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(1)
    return [(torch.randn(16, 5, generator=g, dtype=dtype), torch.randn(16, 3, generator=g, dtype=dtype))
            for _ in range(n)]


def loss_fn(params: list[Parameter], x: torch.Tensor, y: torch.Tensor, step: int) -> torch.Tensor:
    w1, b1, w2, b2, scale, _unused, late = params
    out = scale * (torch.tanh(x @ w1.t() + b1) @ w2.t()) + b2
    if step >= LATE:
        out = out + late
    return ((out - y) ** 2).mean()


def param_groups(params: list[Parameter], lr: float) -> list[dict]:
    w1, b1, w2, b2, scale, unused, late = params
    return [{"params": [w1, b1]},
            {"params": [w2, scale, unused], "lr": lr * 0.5},
            {"params": [b2, late], "lr": lr * 2.0}]


def default_lr(cls: type) -> float:
    return cls.__init__.__defaults__[0]  # lr is the first argument after params in every class


def build(case: Case, which: str, dtype: torch.dtype, foreach: bool, params=None):
    """(params, optimizer) for our class (which="ours") or torch's (which="theirs")."""
    params = make_params(dtype) if params is None else params
    cls = case.ours if which == "ours" else case.theirs
    lr = case.kwargs.get("lr", default_lr(case.theirs))
    opt = cls(param_groups(params, lr), **{**case.kwargs, "foreach": foreach})
    return params, opt


def train(params, opt, batches, start: int = 0) -> None:
    # maximize runs climb the negated loss, so they follow a trajectory as tame as the others
    sign = -1.0 if opt.param_groups[0]["maximize"] else 1.0
    for i, (x, y) in enumerate(batches, start=start):
        opt.zero_grad()
        (sign * loss_fn(params, x, y, i)).backward()
        opt.step()


def assert_same(params_a, opt_a, params_b, opt_b, tol: dict) -> None:
    """Parameters, hyperparameters and every state tensor agree (keys, dtypes, values)."""
    for a, b in zip(params_a, params_b):
        assert a.stride() == b.stride()
        assert_close(a, b, **tol)
    sa, sb = opt_a.state_dict(), opt_b.state_dict()
    assert sa["param_groups"] == sb["param_groups"]
    assert sa["state"].keys() == sb["state"].keys()
    for i in sa["state"]:
        assert sa["state"][i].keys() == sb["state"][i].keys(), f"param {i}"
        for key, va in sa["state"][i].items():
            vb = sb["state"][i][key]
            if key == "step":
                assert va.dtype == vb.dtype and va.device == vb.device and torch.equal(va, vb)
            else:
                assert va.stride() == vb.stride(), f"param {i} {key}"
                assert_close(va, vb, **tol, msg=lambda m: f"param {i} {key}: {m}")


def assert_equal_exactly(params_a, opt_a, params_b, opt_b) -> None:
    for a, b in zip(params_a, params_b):
        assert torch.equal(a, b)
    sa, sb = opt_a.state_dict(), opt_b.state_dict()
    assert sa["param_groups"] == sb["param_groups"]
    assert sa["state"].keys() == sb["state"].keys()
    for i in sa["state"]:
        assert sa["state"][i].keys() == sb["state"][i].keys()
        for key, va in sa["state"][i].items():
            assert torch.equal(va, sb["state"][i][key]), f"param {i} {key}"


def test_problem_has_the_awkward_params():
    params = make_params(torch.float64)
    w2, scale, unused, late = params[2], params[4], params[5], params[6]
    assert not w2.is_contiguous() and w2.is_leaf and scale.dim() == 0
    opt = optimizers.SGD(param_groups(params, 0.1), lr=0.1)
    train(params, opt, make_batches(torch.float64, LATE))
    assert unused.grad is None and late.grad is None  # both really skipped so far
    assert len({g["lr"] for g in opt.param_groups}) == 3


# ---------------------------------------------------------------- parity with torch.optim

@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("foreach", [False, True], ids=["single", "foreach"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_trajectory_matches_torch(case, foreach, dtype):
    batches = make_batches(dtype)
    pa, oa = build(case, "ours", dtype, foreach)
    pb, ob = build(case, "theirs", dtype, foreach)
    train(pa, oa, batches)
    train(pb, ob, batches)
    assert_same(pa, oa, pb, ob, TOL[dtype])
    assert not torch.equal(pa[0], make_params(dtype)[0])  # something moved


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_foreach_matches_single_tensor(case, dtype):
    batches = make_batches(dtype)
    pa, oa = build(case, "ours", dtype, foreach=True)
    pb, ob = build(case, "ours", dtype, foreach=False)
    train(pa, oa, batches)
    train(pb, ob, batches)
    # the foreach flag itself is part of the groups: compare everything else
    for g in ob.param_groups:
        g["foreach"] = True
    assert_same(pa, oa, pb, ob, TOL[dtype])


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_foreach_over_params_of_two_dtypes_matches_torch(case):
    # one param group, float32 and float64 params interleaved (CPU foreach ops would also take them
    # unsplit; the split itself is checked in test_grouping_splits_by_device_and_dtype)
    def params():
        gen = torch.Generator().manual_seed(3)
        return [torch.randn(*shape, generator=gen, dtype=dtype).requires_grad_()
                for shape, dtype in (((3, 4), torch.float32), ((5,), torch.float64), ((2, 2), torch.float32),
                                     ((3,), torch.float64))]

    runs = []
    for cls in (case.ours, case.theirs):
        ps = params()
        opt = cls(ps, **{"lr": default_lr(case.theirs), **case.kwargs, "foreach": True})
        gen = torch.Generator().manual_seed(4)
        for _ in range(3):
            for p in ps:
                p.grad = torch.randn(p.shape, generator=gen, dtype=p.dtype)
            opt.step()
        runs.append(ps)
    for a, b in zip(*runs):
        assert a.dtype == b.dtype
        assert_close(a, b, **TOL[a.dtype])


def test_grouping_splits_by_device_and_dtype():
    from optimizers._base import group_with_indices
    f32 = [torch.zeros(1) for _ in range(3)]
    f64 = [torch.zeros(1, dtype=torch.float64) for _ in range(2)]
    params = [f32[0], f64[0], f32[1], f32[2], f64[1]]
    grads = [p + i for i, p in enumerate(params)]
    bufs = [None, grads[1], None, grads[3], None]
    parts = list(group_with_indices(params, grads, bufs, []))
    assert [indices for _, indices in parts] == [[0, 2, 3], [1, 4]]
    for (ps, gs, bs, empty), indices in parts:
        assert len({p.dtype for p in ps}) == 1 and empty == []
        assert all(a is params[i] and b is grads[i] and c is bufs[i] for a, b, c, i in zip(ps, gs, bs, indices))
    # one dtype: one part holding every position, in new lists (assigning into them leaves the caller's)
    caller_bufs = [None] * 3
    ((ps, gs, bs, _), indices), = group_with_indices(f32, f32, caller_bufs, [])
    assert indices == [0, 1, 2] and all(a is b for a, b in zip(ps, f32)) and ps is not f32
    bs[0] = f32[0]
    assert caller_bufs[0] is None


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_default_foreach_on_cpu_is_the_single_tensor_path(case, monkeypatch):
    calls = []
    owner = next(c for c in case.ours.__mro__ if "_init_group" in vars(c))  # AdamW -> Adam
    module = __import__(owner.__module__, fromlist=["_"])
    name = next(n for n in vars(module) if n.startswith("_single_tensor_"))
    real = getattr(module, name)
    monkeypatch.setattr(module, name, lambda *a, **k: (calls.append(1), real(*a, **k)))
    params, opt = build(case, "ours", torch.float64, foreach=None)
    train(params, opt, make_batches(torch.float64, 2))
    assert calls


# ---------------------------------------------------------------- state dicts

@pytest.mark.parametrize("foreach", [False, True], ids=["single", "foreach"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_state_dict_resume_is_exact(case, foreach):
    batches = make_batches(torch.float64)
    pa, oa = build(case, "ours", torch.float64, foreach)
    train(pa, oa, batches)

    pb, ob = build(case, "ours", torch.float64, foreach)
    train(pb, ob, batches[:10])
    saved = copy.deepcopy(ob.state_dict())
    params_at_10 = [p.detach().clone() for p in pb]
    del pb, ob
    pc = [Parameter(t) for t in params_at_10]  # clone() kept the transposed strides
    _, oc = build(case, "ours", torch.float64, foreach, params=pc)
    oc.load_state_dict(saved)
    train(pc, oc, batches[10:], start=10)
    assert_equal_exactly(pa, oa, pc, oc)


@pytest.mark.parametrize("direction", ["torch->ours", "ours->torch"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_state_dict_interchange_with_torch(case, direction):
    """Ten steps by one implementation, ten more by the other after load_state_dict, equal the
    uninterrupted run of the first."""
    first, second = ("theirs", "ours") if direction == "torch->ours" else ("ours", "theirs")
    batches = make_batches(torch.float64)
    pa, oa = build(case, first, torch.float64, foreach=False)
    train(pa, oa, batches)

    pb, ob = build(case, first, torch.float64, foreach=False)
    train(pb, ob, batches[:10])
    _, oc = build(case, second, torch.float64, foreach=False, params=pb)
    oc.load_state_dict(copy.deepcopy(ob.state_dict()))
    train(pb, oc, batches[10:], start=10)
    for a, b in zip(pa, pb):
        assert_close(a, b, **TOL[torch.float64])
    sa, sc = oa.state_dict()["state"], oc.state_dict()["state"]
    assert sa.keys() == sc.keys()
    for i in sa:
        assert sa[i].keys() == sc[i].keys()
        for key in sa[i]:
            assert_close(sa[i][key], sc[i][key], **TOL[torch.float64])


# ---------------------------------------------------------------- contract details

@pytest.mark.parametrize("foreach", [False, True], ids=["single", "foreach"])
@pytest.mark.parametrize("ours, theirs, kwargs", [
    (optimizers.SGD, torch.optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True)),
    (optimizers.Adam, torch.optim.Adam, dict(lr=0.01, amsgrad=True)),
    (optimizers.RMSprop, torch.optim.RMSprop, dict(lr=0.01, momentum=0.5, centered=True)),
], ids=["SGD", "Adam", "RMSprop"])
def test_lr_scheduler_drives_ours_as_it_drives_torch(ours, theirs, kwargs, foreach):
    """OneCycleLR rewrites lr and the momentum (or betas) of every group at every step."""
    case = Case(ours, theirs, kwargs)
    batches = make_batches(torch.float64)
    runs = []
    for which in ("ours", "theirs"):
        params, opt = build(case, which, torch.float64, foreach)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=kwargs["lr"], total_steps=STEPS)
        for i, (x, y) in enumerate(batches):
            opt.zero_grad()
            loss_fn(params, x, y, i).backward()
            opt.step()
            sched.step()
        runs.append((params, opt))
    assert_same(*runs[0], *runs[1], TOL[torch.float64])


@pytest.mark.parametrize("case", [c for c in CASES if c.kwargs.get("lr")], ids=lambda c: c.id)
def test_a_tensor_lr_acts_as_its_value(case):
    """torch accepts a 1-element tensor lr; ours reads its value at each step."""
    batches = make_batches(torch.float64)
    pa, oa = build(case, "ours", torch.float64, foreach=False)
    pb = make_params(torch.float64)
    groups = param_groups(pb, case.kwargs["lr"])
    for g in groups:
        g["lr"] = torch.tensor(g.get("lr", case.kwargs["lr"]), dtype=torch.float64)
    ob = case.ours(groups, **{**case.kwargs, "lr": torch.tensor(case.kwargs["lr"])})
    train(pa, oa, batches)
    train(pb, ob, batches)
    for a, b in zip(pa, pb):
        assert_close(a, b, **TOL[torch.float64])


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_step_evaluates_closure_with_grad_and_returns_its_loss(case):
    params, opt = build(case, "ours", torch.float64, foreach=False)
    x, y = make_batches(torch.float64, 1)[0]
    seen = {}

    def closure():
        seen["grad_enabled"] = torch.is_grad_enabled()
        opt.zero_grad()
        loss = loss_fn(params, x, y, 0)
        loss.backward()
        return loss

    with torch.no_grad():
        loss = opt.step(closure)
    assert seen["grad_enabled"] and torch.equal(loss, loss_fn(make_params(torch.float64), x, y, 0))
    assert opt.step() is None


@pytest.mark.parametrize("foreach", [False, True], ids=["single", "foreach"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_updates_in_place_and_treats_grads_and_skipped_params_as_torch(case, foreach):
    pa, oa = build(case, "ours", torch.float64, foreach)
    pb, ob = build(case, "theirs", torch.float64, foreach)
    before = [(p, p.data_ptr(), p.detach().clone()) for p in pa]
    x, y = make_batches(torch.float64, 1)[0]
    loss_fn(pa, x, y, 0).backward()
    loss_fn(pb, x, y, 0).backward()
    grads = [None if p.grad is None else p.grad.clone() for p in pa]
    oa.step()
    ob.step()
    for (p, ptr, old), q, g, t in zip(before, pa, grads, pb):
        assert p is q and p.data_ptr() == ptr and p.grad_fn is None
        if g is None:
            assert torch.equal(p, old) and p.grad is None
        else:
            # whatever the step leaves in .grad, it is what torch leaves (the foreach Nesterov
            # path reuses it, as torch's does; all others only read it)
            assert_close(p.grad, t.grad, **TOL[torch.float64])
            if not (foreach and case.kwargs.get("nesterov", False)):
                assert torch.equal(p.grad, g)
    # the never-used param (index 4) has no state, except in Adagrad whose constructor creates all
    state = oa.state_dict()["state"]
    assert (4 in state) == (case.ours is optimizers.Adagrad)


@pytest.mark.parametrize("ours, theirs, bad", INVALID,
                         ids=[f"{o.__name__}({next(iter(b))})" for o, _, b in INVALID])
def test_invalid_hyperparameters_raise_torchs_message(ours, theirs, bad):
    params = [Parameter(torch.zeros(2))]
    with pytest.raises(ValueError) as theirs_error:
        theirs(params, **bad)
    with pytest.raises(ValueError) as ours_error:
        ours(params, **bad)
    assert str(ours_error.value) == str(theirs_error.value)


MODES = {optimizers.SGD: ("differentiable",), optimizers.Adagrad: ("differentiable",),
         optimizers.Adadelta: ("capturable", "differentiable"),
         optimizers.RMSprop: ("capturable", "differentiable"),
         optimizers.Adam: ("capturable", "differentiable"),
         optimizers.AdamW: ("capturable", "differentiable")}


@pytest.mark.parametrize("cls", list(MODES), ids=lambda c: c.__name__)
def test_unimplemented_modes_are_refused_and_off_values_accepted(cls):
    """(fused mode is implemented: tests/test_optimizers_fused.py)"""
    params = [Parameter(torch.zeros(2))]
    for mode in MODES[cls]:
        cls(params, **{mode: False})
        with pytest.raises(ValueError, match=mode):
            cls(params, **{mode: True})


@pytest.mark.parametrize("cls", [optimizers.Adagrad, optimizers.Adadelta, optimizers.RMSprop,
                                 optimizers.Adam, optimizers.AdamW], ids=lambda c: c.__name__)
def test_sparse_gradients_are_refused(cls):
    p = Parameter(torch.zeros(3))
    p.grad = torch.zeros(3).to_sparse()
    with pytest.raises(RuntimeError, match="sparse"):
        cls([p], lr=0.1).step()


@pytest.mark.parametrize("foreach", [False, True], ids=["single", "foreach"])
@pytest.mark.parametrize("kwargs", [dict(lr=0.1), dict(lr=0.1, momentum=0.9, dampening=0.2),
                                    dict(lr=0.1, momentum=0.9, nesterov=True, maximize=True)])
def test_sgd_sparse_gradients_match_torch(kwargs, foreach):
    """SGD, like torch's, accepts the sparse gradients of nn.Embedding(sparse=True)."""
    runs = []
    for cls in (optimizers.SGD, torch.optim.SGD):
        torch.manual_seed(0)
        emb = torch.nn.Embedding(10, 3, sparse=True, dtype=torch.float64)
        dense = torch.nn.Linear(3, 1, dtype=torch.float64)
        opt = cls([*emb.parameters(), *dense.parameters()], **kwargs, foreach=foreach)
        for i in range(5):
            opt.zero_grad()
            dense(emb(torch.tensor([i, 2 * i % 10, 3]))).pow(2).sum().backward()
            opt.step()
        runs.append([*emb.parameters(), *dense.parameters()])
    for a, b in zip(*runs):
        assert_close(a, b, **TOL[torch.float64])


def test_constructor_signatures_match_torch():
    import inspect
    for name in ("SGD", "Adagrad", "Adadelta", "RMSprop", "Adam", "AdamW"):
        ours = inspect.signature(getattr(optimizers, name))
        theirs = inspect.signature(getattr(torch.optim, name))
        assert [(p.name, p.default, p.kind) for p in ours.parameters.values()] == \
               [(p.name, p.default, p.kind) for p in theirs.parameters.values()], name


# ---------------------------------------------------------------- configs and convergence

def toy_problem_losses(make_optimizer) -> tuple[float, float]:
    """Loss of a seeded 4-32-1 tanh MLP regression before and after 100 full-batch steps."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(128, 4, generator=g)
    y = torch.sin(x @ torch.randn(4, 1, generator=g)) + 0.5 * x[:, :1]
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 32), torch.nn.Tanh(), torch.nn.Linear(32, 1))
    opt = make_optimizer(net.parameters())

    def loss():
        return ((net(x) - y) ** 2).mean()

    start = loss().item()
    for _ in range(100):
        opt.zero_grad()
        loss().backward()
        opt.step()
    return start, loss().item()


def optimizer_config(make_cfg, name: str) -> dict:
    """configs/optimizer/<name>.yaml as Hydra composes it (defaults lists resolved)."""
    return OmegaConf.to_container(make_cfg(f"optimizer={name}").optimizer)


@pytest.mark.parametrize("name", CONFIGS)
def test_config_defaults_at_least_halve_the_toy_loss(name, make_cfg):
    cfg = OmegaConf.create(optimizer_config(make_cfg, name))
    assert cfg._target_.startswith("optimizers.") and cfg._partial_
    make = instantiate(cfg)
    assert isinstance(make(torch.nn.Linear(2, 1).parameters()), torch.optim.Optimizer)
    start, end = toy_problem_losses(make)
    assert end <= 0.5 * start, f"{name}: {start:.4f} -> {end:.4f}"


@pytest.mark.parametrize("name", CONFIGS)
def test_torch_twin_config_has_the_same_arguments(name, make_cfg):
    ours = optimizer_config(make_cfg, name)
    theirs = optimizer_config(make_cfg, f"torch_{name}")
    cls = ours.pop("_target_").split(".")[-1]
    assert theirs.pop("_target_") == f"torch.optim.{cls}"
    assert ours == theirs
    # same trajectory on the toy problem (float32, 100 steps): the twins really are interchangeable
    assert toy_problem_losses(instantiate(OmegaConf.create({**ours, "_target_": f"optimizers.{cls}"}))) \
        == pytest.approx(toy_problem_losses(instantiate(OmegaConf.create({**theirs, "_target_": f"torch.optim.{cls}"}))),
                         rel=1e-5)
