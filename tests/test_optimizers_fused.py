"""fused=True: the single-tensor rule compiled with torch.compile (optimizers/_fused.py).

Compiling takes seconds per parameter layout, so the default suite compiles a few small layouts;
the table-wide checks are marked slow. Numbers: float64 within 1e-12 (relative) of our
single-tensor path, float32 within rtol 1e-6 of torch's fused kernels (the issue's bars).
"""
from __future__ import annotations

import copy

import pytest
import torch
from hydra.utils import instantiate
from torch.nn import Parameter
from torch.testing import assert_close

import optimizers

FUSED = ["SGD", "Adagrad", "Adam", "AdamW"]
# one case per optimizer for the default suite: every option that changes the compiled code
SMALL = {
    "SGD": dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1),
    "Adagrad": dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.1),
    "Adam": dict(lr=0.01, betas=(0.8, 0.9), weight_decay=0.1, amsgrad=True),
    "AdamW": dict(lr=0.01, weight_decay=0.2, maximize=True),
}
F64 = dict(rtol=1e-12, atol=0.0)      # fused vs our single-tensor path
F32 = dict(rtol=1e-6, atol=1e-7)      # fused vs torch's fused kernels


def small_params(dtype):
    g = torch.Generator().manual_seed(0)
    return [Parameter(torch.randn(4, 3, generator=g, dtype=dtype)),
            Parameter(torch.randn(3, generator=g, dtype=dtype))]


def run(cls, params, kwargs, steps=5, start=0):
    """`steps` steps with fixed, step-dependent gradients; returns the optimizer."""
    opt = cls(params, **kwargs) if not isinstance(cls, torch.optim.Optimizer) else cls
    for i in range(start, start + steps):
        for p in params:
            if p.requires_grad:
                p.grad = torch.sin(3 * p.detach() + i)
        opt.step()
    return opt


def assert_states_close(opt_a, opt_b, tol):
    sa, sb = opt_a.state_dict()["state"], opt_b.state_dict()["state"]
    assert sa.keys() == sb.keys()
    for i in sa:
        assert sa[i].keys() == sb[i].keys()
        for key in sa[i]:
            assert_close(sa[i][key].double(), sb[i][key].double(), **tol)


# ---------------------------------------------------------------- torch's refusals, no compiling

@pytest.mark.parametrize("name", FUSED)
@pytest.mark.parametrize("extra", [dict(foreach=True), dict(differentiable=True)], ids=["foreach", "differentiable"])
def test_fused_with_another_mode_is_refused_as_torch_refuses_it(name, extra):
    errors = []
    for module in (optimizers, torch.optim):
        with pytest.raises(RuntimeError) as err:
            getattr(module, name)(small_params(torch.float32), fused=True, **extra)
        errors.append(str(err.value))
    assert errors[0] == errors[1]


@pytest.mark.parametrize("name", FUSED)
def test_fused_refuses_non_floating_params_at_step_as_torch(name):
    errors = []
    for module in (optimizers, torch.optim):
        p = Parameter(torch.zeros(2, dtype=torch.complex64))
        p.grad = torch.ones_like(p)
        opt = getattr(module, name)([p], fused=True)
        with pytest.raises(RuntimeError) as err:
            opt.step()
        errors.append(str(err.value))
    prefix = "`fused=True` requires all the params to be floating point Tensors of supported devices"
    assert errors[0].startswith(prefix) and errors[1].startswith(prefix)
    assert errors[0].endswith("but torch.complex64 and cpu")


@pytest.mark.parametrize("name", FUSED)
def test_fused_without_a_compiler_says_so_before_compiling(name, monkeypatch):
    monkeypatch.delenv("CXX", raising=False)
    monkeypatch.setenv("PATH", "")
    params = small_params(torch.float32)
    opt = getattr(optimizers, name)(params, fused=True)
    for p in params:
        p.grad = torch.ones_like(p)
    with pytest.raises(RuntimeError, match=r"fused=True compiles the optimizer step with torch\.compile, "
                                           r"which needs a C\+\+ compiler .* use fused=False"):
        opt.step()
    assert torch.equal(params[0], small_params(torch.float32)[0])  # nothing happened


@pytest.mark.parametrize("name", ["adam", "adamw", "sgd", "momentum", "nesterov", "adagrad"])
def test_fused_is_a_config_key(name, make_cfg):
    """`optimizer.fused=true` works from the command line for the optimizers that have it."""
    make = instantiate(make_cfg(f"optimizer={name}", "optimizer.fused=true").optimizer)
    assert make(small_params(torch.float32)).defaults["fused"] is True
    assert instantiate(make_cfg(f"optimizer={name}").optimizer)(small_params(torch.float32)).defaults["fused"] is None


# ---------------------------------------------------------------- numbers (compiles a few small layouts)

@pytest.mark.parametrize("name", FUSED)
def test_fused_numbers(name):
    """float64: our single-tensor trajectory within 1e-12; float32: torch's fused within 1e-6;
    the state is laid out as torch's fused state (step: float32 on the param's device)."""
    kwargs = SMALL[name]
    ours_cls, torch_cls = getattr(optimizers, name), getattr(torch.optim, name)
    fused, single = small_params(torch.float64), small_params(torch.float64)
    oa, ob = run(ours_cls, fused, {**kwargs, "fused": True}), run(ours_cls, single, kwargs)
    for a, b in zip(fused, single):
        assert_close(a, b, **F64)
    assert_states_close(oa, ob, F64)

    ours, theirs = small_params(torch.float32), small_params(torch.float32)
    oa, ob = (run(ours_cls, ours, {**kwargs, "fused": True}),
              run(torch_cls, theirs, {**kwargs, "fused": True}))
    for a, b in zip(ours, theirs):
        assert_close(a, b, **F32)
    assert_states_close(oa, ob, F32)
    for i, state in ob.state_dict()["state"].items():
        if "step" in state:
            ours_step = oa.state_dict()["state"][i]["step"]
            assert ours_step.dtype == state["step"].dtype and ours_step.device == state["step"].device


@pytest.mark.parametrize("name", FUSED)
def test_fused_state_dict_resumes_on_the_other_paths(name):
    """Three fused steps, then three on the single-tensor path after load_state_dict (and back)
    equal six steps of the single-tensor path."""
    kwargs = SMALL[name]
    cls = getattr(optimizers, name)
    reference = small_params(torch.float64)
    run(cls, reference, kwargs, steps=6)
    for first, second in ((True, False), (False, True)):
        params = small_params(torch.float64)
        opt = run(cls, params, {**kwargs, "fused": first}, steps=3)
        resumed = cls(params, **{**kwargs, "fused": second})
        resumed.load_state_dict(copy.deepcopy(opt.state_dict()))
        # as in torch, the loaded groups bring their own flags: switching paths is setting one
        assert all(g["fused"] is first for g in resumed.param_groups)
        for g in resumed.param_groups:
            g["fused"] = second
        run(resumed, params, kwargs, steps=3, start=3)
        for a, b in zip(params, reference):
            assert_close(a, b, **F64)


@pytest.mark.parametrize("name", ["Adam", pytest.param("SGD", marks=pytest.mark.slow),
                                  pytest.param("Adagrad", marks=pytest.mark.slow),
                                  pytest.param("AdamW", marks=pytest.mark.slow)])
def test_fused_grad_scale_and_found_inf_as_torch(name):
    """A mixed-precision scaler's attributes: grads unscaled in place, a found inf skips the step."""
    runs = []
    for module in (optimizers, torch.optim):
        params = small_params(torch.float32)
        opt = getattr(module, name)(params, lr=0.01, fused=True, **({"momentum": 0.9} if name == "SGD" else {}))
        for i, inf in enumerate([0.0, 1.0, 0.0]):
            for p in params:
                p.grad = 1024.0 * torch.sin(3 * p.detach() + i)
            opt.grad_scale, opt.found_inf = torch.tensor(1024.0), torch.tensor(inf)
            opt.step()
        runs.append((params, opt))
    (pa, oa), (pb, ob) = runs
    for a, b in zip(pa, pb):
        assert_close(a, b, **F32)
        assert_close(a.grad, b.grad, **F32)
    assert_states_close(oa, ob, F32)
    if name != "SGD":  # the skipped step is not counted
        assert oa.state[pa[0]]["step"].item() == 2.0


# ---------------------------------------------------------------- slow: more cases, the CLI

SLOW_CASES = [
    ("SGD", dict(lr=0.1)), ("SGD", dict(lr=0.05, momentum=0.8, dampening=0.3, maximize=True)),
    ("Adagrad", dict(lr=0.1, eps=1e-6, maximize=True)),
    ("Adam", dict(lr=0.01)), ("Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("Adam", dict(lr=0.01, betas=(0.5, 0.6), eps=1e-6, weight_decay=0.1, amsgrad=True, maximize=True)),
    ("AdamW", dict(lr=0.01, betas=(0.8, 0.9), eps=1e-4, amsgrad=True)),
]


def awkward_params(dtype):
    """A transposed (non-contiguous) leaf, a 0-dim param, one never used, one used late."""
    g = torch.Generator().manual_seed(1)
    return [Parameter(torch.randn(3, 5, generator=g, dtype=dtype).t()),
            Parameter(torch.tensor(1.5, dtype=dtype)),
            Parameter(torch.randn(4, generator=g, dtype=dtype)),
            Parameter(torch.randn(2, generator=g, dtype=dtype))]


def run_awkward(opt, params, steps=8, late=3):
    for i in range(steps):
        opt.zero_grad()
        w, s, _unused, lt = params
        loss = (s * torch.tanh(w + 0.1 * i)).pow(2).sum() + (lt.pow(3).sum() if i >= late else 0)
        loss.backward()
        opt.step()


@pytest.mark.slow
@pytest.mark.parametrize("name, kwargs", SLOW_CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(SLOW_CASES)])
def test_fused_trajectories_on_awkward_params(name, kwargs):
    ours_cls, torch_cls = getattr(optimizers, name), getattr(torch.optim, name)
    # torch's fused SGD with momentum fails (TypeError) on a param whose first gradient comes after
    # the others' (its momentum buffer is still None); ours handles it: compare with torch's
    # single-tensor SGD there
    torch_fused = not (name == "SGD" and kwargs.get("momentum"))
    runs = {}
    for label, cls, dtype, fused in (("f64 fused", ours_cls, torch.float64, True),
                                     ("f64 single", ours_cls, torch.float64, False),
                                     ("f32 fused", ours_cls, torch.float32, True),
                                     ("f32 torch", torch_cls, torch.float32, torch_fused)):
        params = awkward_params(dtype)
        opt = cls(params, **kwargs, fused=fused)
        run_awkward(opt, params)
        runs[label] = (params, opt)
    for (a, b), tol in (((runs["f64 fused"], runs["f64 single"]), F64),
                        ((runs["f32 fused"], runs["f32 torch"]), F32)):
        for x, y in zip(a[0], b[0]):
            assert x.stride() == y.stride()
            assert_close(x, y, **tol)
        assert_states_close(a[1], b[1], tol)
    assert runs["f64 fused"][0][2].grad is None and len(runs["f64 fused"][1].state[runs["f64 fused"][0][2]]) \
        == (2 if name == "Adagrad" else 0)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["Adam", "AdamW", "Adagrad"])
def test_fused_tensor_lr_and_number_steps_as_torch(name):
    """torch's fused mode takes a Tensor lr, and turns a loaded number `step` into a float32
    tensor on the param's device."""
    runs = []
    for module in (optimizers, torch.optim):
        params = small_params(torch.float32)
        opt = run(getattr(module, name), params, dict(lr=torch.tensor(0.01), fused=True), steps=2)
        saved = copy.deepcopy(opt.state_dict())
        for state in saved["state"].values():
            state["step"] = float(state["step"].item())
        opt = getattr(module, name)(params, lr=torch.tensor(0.01), fused=True)
        opt.load_state_dict(saved)
        run(opt, params, {}, steps=2, start=2)
        runs.append((params, opt))
    (pa, oa), (pb, ob) = runs
    for a, b in zip(pa, pb):
        assert_close(a, b, **F32)
    for i, state in ob.state_dict()["state"].items():
        ours = oa.state_dict()["state"][i]["step"]
        assert ours.dtype == state["step"].dtype == torch.float32 and ours.item() == state["step"].item() == 4


@pytest.mark.slow
def test_train_with_fused_adam_from_the_command_line(make_cfg):
    """`python train.py model=cnn optimizer=adam optimizer.fused=true` through the compose API."""
    from train import train
    cfg = make_cfg("model=cnn", "optimizer=adam", "optimizer.fused=true")
    metrics = train(cfg)
    assert torch.isfinite(torch.tensor(metrics["train/loss"]))
