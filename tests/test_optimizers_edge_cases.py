"""torch's edge cases, as a user swapping torch.optim for optimizers meets them.

Each test runs torch's optimizer and ours on the same input and asks for the same outcome: the same
numbers, or the same exception type and message.
"""
from __future__ import annotations

import copy

import pytest
import torch
from torch.nn import Parameter
from torch.testing import assert_close

import optimizers
from optimizers._line_search import cubic_minimizer

T = torch.tensor
# float64 runs: what is compared is torch's arithmetic (e.g. a step size rounded to float32 when lr
# is a float32 tensor, ~1e-8 off its float64 value); the update's own op order may differ by an ulp
SAME = dict(rtol=1e-13, atol=1e-15)
FIRST_ORDER = ["SGD", "Adagrad", "Adadelta", "RMSprop", "Adam", "AdamW"]
WITH_STEP = ["Adagrad", "Adadelta", "RMSprop", "Adam", "AdamW"]


def outcome(cls, params_fn, kwargs: dict, steps: int = 4):
    """("ok", params after `steps` steps) or (exception type, message)."""
    params = params_fn()
    try:
        opt = cls(params, **kwargs)
        for i in range(steps):
            for p in params:
                p.grad = torch.sin(3 * p.detach() + i)
            opt.step()
        return "ok", [p.detach().clone() for p in params]
    except Exception as e:  # noqa: BLE001 - the exception is what is compared
        return type(e), str(e)


def two_params():
    g = torch.Generator().manual_seed(0)
    return [Parameter(torch.randn(3, 4, generator=g, dtype=torch.float64)),
            Parameter(torch.randn(5, generator=g, dtype=torch.float64))]


def assert_same_outcome(name: str, params_fn, kwargs: dict) -> None:
    ours = outcome(getattr(optimizers, name), params_fn, kwargs)
    theirs = outcome(getattr(torch.optim, name), params_fn, kwargs)
    assert ours[0] == theirs[0], (ours, theirs)
    if ours[0] == "ok":
        for a, b in zip(ours[1], theirs[1]):
            assert_close(a, b, **SAME)
    else:
        assert ours[1] == theirs[1]


# ---------------------------------------------------------------- Tensor hyperparameters

TENSOR_CASES = [
    ("SGD", dict(lr=T(0.1))), ("SGD", dict(lr=T([0.1]), momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=T(0.1), weight_decay=T(0.05), momentum=0.5)),
    ("SGD", dict(lr=T([0.1, 0.2]))),
    ("Adagrad", dict(lr=T(0.1))), ("Adagrad", dict(lr=T([0.1]), lr_decay=0.3, weight_decay=0.1)),
    ("Adadelta", dict(lr=T(0.5))), ("Adadelta", dict(lr=T([0.5]), weight_decay=0.1)),
    ("RMSprop", dict(lr=T(0.01))), ("RMSprop", dict(lr=T([0.01]), momentum=0.9, centered=True)),
    ("Adam", dict(lr=T(0.01))), ("Adam", dict(lr=T([0.01]), weight_decay=0.1)),
    ("Adam", dict(betas=(T(0.8), T(0.9)))), ("Adam", dict(betas=(T([0.8]), T([0.9])), amsgrad=True)),
    ("Adam", dict(lr=T(0.01), betas=(T(0.8), T(0.9)), weight_decay=0.1, decoupled_weight_decay=True)),
    ("Adam", dict(betas=(0.8, T(0.9)))), ("Adam", dict(betas=(T([0.8, 0.7]), T(0.9)))),
    ("Adam", dict(lr=T([0.01, 0.02]))),
    ("AdamW", dict(lr=T(0.01))), ("AdamW", dict(lr=T(0.01), betas=(T(0.8), T(0.9)), amsgrad=True)),
    ("AdamW", dict(betas=(T(0.8), T(0.9)), maximize=True)),
]


@pytest.mark.parametrize("foreach", [None, False, True], ids=["default", "single", "foreach"])
@pytest.mark.parametrize("name, kwargs", TENSOR_CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(TENSOR_CASES)])
def test_tensor_hyperparameters_follow_torchs_rules(name, kwargs, foreach):
    """Accepted where torch accepts them, with torch's numbers (computed with the same float32
    tensors, not their float64 values); refused where torch refuses them, with its message."""
    assert_same_outcome(name, two_params, {**kwargs, "foreach": foreach})


@pytest.mark.parametrize("name", ["Adam", "AdamW"])
@pytest.mark.parametrize("kwargs", [dict(lr=T(0.01)), dict(betas=(T(0.8), T(0.9)))], ids=["lr", "betas"])
def test_tensor_refusal_comes_before_the_params_are_read(name, kwargs):
    """torch checks the Tensor rules first: even params=None gets the Tensor error."""
    assert_same_outcome(name, lambda: None, {**kwargs, "foreach": True})


@pytest.mark.parametrize("name", ["Adam", "AdamW"])
def test_tensor_lr_set_later_on_a_foreach_group_is_refused_at_step(name):
    results = []
    for module in (optimizers, torch.optim):
        params = two_params()
        opt = getattr(module, name)(params, lr=0.01, foreach=True)
        opt.param_groups[0]["lr"] = T(0.01)
        for p in params:
            p.grad = torch.ones_like(p)
        with pytest.raises(RuntimeError) as err:
            opt.step()
        results.append(str(err.value))
    assert results[0] == results[1]


# ---------------------------------------------------------------- `step` stored as a plain number

@pytest.mark.parametrize("foreach", [False, True], ids=["single", "foreach"])
@pytest.mark.parametrize("name", WITH_STEP)
@pytest.mark.parametrize("number", [float, int])
def test_state_dict_with_a_number_step_loads_as_in_torch(name, foreach, number):
    """Older checkpoints store `step` as a number: both load it as a tensor and go on equally."""
    params = two_params()
    first = getattr(torch.optim, name)(params, foreach=foreach)
    for i in range(3):
        for p in params:
            p.grad = torch.cos(p.detach() + i)
        first.step()
    saved = copy.deepcopy(first.state_dict())
    for state in saved["state"].values():
        state["step"] = number(state["step"].item())
    runs = []
    for module in (optimizers, torch.optim):
        ps = [Parameter(p.detach().clone()) for p in params]
        opt = getattr(module, name)(ps, foreach=foreach)
        opt.load_state_dict(copy.deepcopy(saved))
        for i in range(3):
            for p in ps:
                p.grad = torch.cos(p.detach() + 3 + i)
            opt.step()
        runs.append((ps, opt.state_dict()["state"]))
    (ours, ours_state), (theirs, theirs_state) = runs
    for a, b in zip(ours, theirs):
        assert_close(a, b, **SAME)
    for i in theirs_state:
        step_a, step_b = ours_state[i]["step"], theirs_state[i]["step"]
        assert torch.is_tensor(step_a) and step_a.dtype == step_b.dtype and step_a.device == step_b.device
        assert step_a.item() == step_b.item() == 6


# ---------------------------------------------------------------- Adagrad, AdamW details

@pytest.mark.parametrize("foreach", [False, True], ids=["single", "foreach"])
def test_adagrad_starts_every_cache_at_the_constructors_value(foreach):
    """torch ignores a group's own initial_accumulator_value; a drop-in gives torch's numbers."""
    def groups():
        a, b = two_params()
        return [{"params": [a]}, {"params": [b], "initial_accumulator_value": 5.0}]

    runs = []
    for module in (optimizers, torch.optim):
        gs = groups()
        opt = module.Adagrad(gs, lr=0.1, initial_accumulator_value=0.5, foreach=foreach)
        assert opt.param_groups[1]["initial_accumulator_value"] == 5.0  # kept, but not used
        opt.add_param_group({"params": [Parameter(torch.ones(2, dtype=torch.float64))],
                             "initial_accumulator_value": 3.0})
        params = [*gs[0]["params"], *gs[1]["params"], *opt.param_groups[2]["params"]]
        for i in range(3):
            for p in params:
                p.grad = torch.sin(p.detach() + i)
            opt.step()
        runs.append(params)
    for a, b in zip(*runs):
        assert_close(a, b, **SAME)


@pytest.mark.parametrize("name", ["Adam", "AdamW"])
def test_complex_params_refused_naming_the_optimizer(name):
    p = Parameter(torch.zeros(2, dtype=torch.complex64))
    p.grad = torch.ones_like(p)
    with pytest.raises(RuntimeError, match=rf"^refzoo's {name} does not support complex parameters$"):
        getattr(optimizers, name)([p]).step()


# ---------------------------------------------------------------- NaN-safe line search

def test_cubic_minimizer_bisects_when_the_discriminant_is_not_a_number():
    inf, nan = float("inf"), float("nan")
    # an overflowed loss makes d1 = inf - inf = NaN: torch takes the middle of the bounds
    assert cubic_minimizer(0.0, inf, -1.0, 1.0, inf, 1.0, bounds=(0.2, 0.6)) == pytest.approx(0.4)
    assert cubic_minimizer(0.0, 1.0, nan, 2.0, 0.5, 1.0) == 1.0
    assert cubic_minimizer(T(0.0), T(1.0), T(nan), T(2.0), T(0.5), T(1.0)) == 1.0


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_lbfgs_strong_wolfe_stays_with_torch_when_the_loss_grows_without_bound(dtype):
    """Maximizing a quadratic: the line search extrapolates towards overflow; torch bisects at
    a NaN discriminant, and so do we: the same (finite) iterates, step by step."""
    runs = []
    for cls in (optimizers.LBFGS, torch.optim.LBFGS):
        x = Parameter(torch.tensor([1.0, -2.0, 0.5], dtype=dtype))
        opt = cls([x], line_search_fn="strong_wolfe", maximize=True, max_iter=5)

        def closure():
            opt.zero_grad()
            loss = (x ** 2).sum() + x[0] * x[1]
            loss.backward()
            return loss

        path = []
        for _ in range(4):
            opt.step(closure)
            path.append(x.detach().clone())
        runs.append(torch.stack(path))
    ours, theirs = runs
    assert torch.isfinite(theirs).all()
    assert torch.equal(ours, theirs)
