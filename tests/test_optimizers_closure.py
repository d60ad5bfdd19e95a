"""Closure optimizers (LBFGS, BFGS, ConjugateGradient, Newton): parity with torch.optim.LBFGS,
state_dict round trips, known answers (quadratics, logistic regression, Rosenbrock) and errors."""
from __future__ import annotations

import copy
import io

import pytest
import torch

from optimizers import BFGS, LBFGS, ConjugateGradient, Newton
from optimizers.bfgs import bfgs_update

CLOSURE_OPTIMIZERS = [LBFGS, BFGS, ConjugateGradient, Newton]


# ---------------------------------------------------------------- problems

def make_mlp(dtype, seed=0, unused_param=False):
    """A small tanh network on seeded regression data; optionally a parameter the loss never uses."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(48, 4, generator=gen, dtype=dtype)
    y = torch.randn(48, 2, generator=gen, dtype=dtype)
    net = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, 2)).to(dtype)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=dtype))
    params = list(net.parameters())
    if unused_param:
        params.append(torch.nn.Parameter(torch.randn(3, generator=gen, dtype=dtype)))

    def loss_fn():
        return ((net(x) - y) ** 2).mean()
    return params, loss_fn


def make_logistic(dtype, seed=0, l2=1e-3):
    """Logistic regression on 200 x 5 seeded, non-separable data with a small L2 term."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(200, 5, generator=gen, dtype=torch.float64)  # the same data in every dtype
    w_true = torch.randn(5, generator=gen, dtype=torch.float64)
    y = (torch.rand(200, generator=gen, dtype=torch.float64) < 1 / (1 + torch.exp(-x @ w_true))).to(dtype)
    x = x.to(dtype)
    w = torch.zeros(5, dtype=dtype, requires_grad=True)
    b = torch.zeros((), dtype=dtype, requires_grad=True)

    def loss_fn():
        z = x @ w + b
        # log(1 + e^z) - y z, written stably and twice differentiable everywhere (also at z = 0)
        return (torch.logaddexp(torch.zeros_like(z), z) - y * z).mean() + l2 * (w @ w)
    return [w, b], loss_fn


def make_rosenbrock(dtype, start=(-1.5, 2.0)):
    xy = torch.tensor(start, dtype=dtype, requires_grad=True)

    def loss_fn():
        return (1 - xy[0]) ** 2 + 100 * (xy[1] - xy[0] ** 2) ** 2
    return [xy], loss_fn


def make_quadratic(n, seed=0, dtype=torch.float64):
    """f(x) = 1/2 x^T A x - b^T x with A random SPD (eigenvalues 1..10); returns params, f, x*, A."""
    gen = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=dtype))
    a = q @ torch.diag(torch.linspace(1, 10, n, dtype=dtype)) @ q.T
    a = (a + a.T) / 2
    b = torch.randn(n, generator=gen, dtype=dtype)
    x = torch.zeros(n, dtype=dtype, requires_grad=True)

    def loss_fn():
        return 0.5 * x @ a @ x - b @ x
    return [x], loss_fn, torch.linalg.solve(a, b), a


def closure_for(opt, params, loss_fn, backward=True):
    """torch's closure; backward keeps the gradient's graph when the optimizer asks for it (Newton)."""
    def closure():
        opt.zero_grad()
        loss = loss_fn()
        if backward:
            loss.backward(create_graph=getattr(opt, "needs_create_graph", False))
        return loss
    return closure


def flat(params):
    return torch.cat([p.detach().reshape(-1) for p in params])


def grad_norm(params, loss_fn):
    with torch.enable_grad():
        grads = torch.autograd.grad(loss_fn(), params)
    return torch.cat([g.reshape(-1) for g in grads]).norm().item()


def run(cls, make, dtype, steps, **kwargs):
    params, loss_fn = make(dtype)
    opt = cls(params, **kwargs)
    closure = closure_for(opt, params, loss_fn)
    losses = [opt.step(closure).item() for _ in range(steps)]
    return params, opt, losses


# ---------------------------------------------------------------- LBFGS == torch.optim.LBFGS

LBFGS_CONFIGS = [
    {},
    {"line_search_fn": "strong_wolfe"},
    {"history_size": 2, "max_iter": 7},
    {"history_size": 3, "line_search_fn": "strong_wolfe", "max_iter": 9},
    {"lr": 0.5, "line_search_fn": "strong_wolfe", "max_eval": 15},
    {"lr": 1e-4, "line_search_fn": "strong_wolfe"},  # short first trials: the search extrapolates
    {"lr": 0.3, "tolerance_grad": 1e-3, "tolerance_change": 1e-4, "max_eval": 11},
    {"tolerance_grad": 1e-3, "tolerance_change": 1e-4, "line_search_fn": "strong_wolfe"},
    {"max_iter": 1},
    {"maximize": True, "lr": 0.1},
]

PROBLEMS = {
    "mlp_unused_param": lambda dtype: make_mlp(dtype, unused_param=True),
    "logistic": make_logistic,
    "rosenbrock": make_rosenbrock,
}


def assert_state_close(ours, theirs, **tol):
    assert set(ours) == set(theirs)
    for key in ours:
        a, b = ours[key], theirs[key]
        if isinstance(a, list):
            assert len(a) == len(b), key
            for u, v in zip(a, b):
                if u is None or v is None:
                    assert u is v
                else:
                    torch.testing.assert_close(torch.as_tensor(u), torch.as_tensor(v), **tol)
        elif isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
            torch.testing.assert_close(torch.as_tensor(a), torch.as_tensor(b), **tol)
        else:
            assert a == pytest.approx(b, rel=tol["rtol"], abs=tol["atol"]), key


@pytest.mark.parametrize("config", LBFGS_CONFIGS, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()) or "defaults")
@pytest.mark.parametrize("problem", list(PROBLEMS))
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_lbfgs_matches_torch(config, problem, dtype):
    if config.get("maximize"):
        # maximize -f: the same path as minimizing f
        make = PROBLEMS[problem]

        def negated(dt):
            params, f = make(dt)
            return params, lambda: -f()
        problem_fn = negated
    else:
        problem_fn = PROBLEMS[problem]
    ours, opt_a, losses_a = run(LBFGS, problem_fn, dtype, 3, **config)
    theirs, opt_b, losses_b = run(torch.optim.LBFGS, problem_fn, dtype, 3, **config)
    tol = dict(atol=1e-10, rtol=0) if dtype == torch.float64 else dict(atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(flat(ours), flat(theirs), **tol)
    assert losses_a == pytest.approx(losses_b, rel=tol["rtol"], abs=tol["atol"])
    assert_state_close(opt_a.state[ours[0]], opt_b.state[theirs[0]], **tol)


def test_lbfgs_moves_the_parameters():
    # parity with an optimizer that does nothing would be worthless: check the problems do move
    params, opt, losses = run(LBFGS, make_mlp, torch.float64, 3, line_search_fn="strong_wolfe")
    start, _ = make_mlp(torch.float64)
    assert (flat(params) - flat(start)).abs().max() > 0.1
    assert losses[-1] < 0.5 * losses[0]


def test_lbfgs_unused_parameter_stays_put():
    params, opt, _ = run(LBFGS, PROBLEMS["mlp_unused_param"], torch.float64, 3)
    fresh, _ = PROBLEMS["mlp_unused_param"](torch.float64)
    assert params[-1].grad is None
    assert torch.equal(params[-1].detach(), fresh[-1].detach())


def test_lbfgs_state_loads_into_torch_and_back():
    """Our state_dict drives torch.optim.LBFGS on (and vice versa) exactly as if it had run all along."""
    for first, second in [(LBFGS, torch.optim.LBFGS), (torch.optim.LBFGS, LBFGS)]:
        params, loss_fn = make_mlp(torch.float64)
        opt = first(params, history_size=4, max_iter=3, line_search_fn="strong_wolfe")
        closure = closure_for(opt, params, loss_fn)
        for _ in range(3):
            opt.step(closure)
        saved = copy.deepcopy(opt.state_dict())
        resumed_params = [p.detach().clone().requires_grad_(True) for p in params]
        resumed = second(resumed_params, history_size=4, max_iter=3, line_search_fn="strong_wolfe")
        resumed.load_state_dict(saved)
        for _ in range(3):
            opt.step(closure)
        closure2 = closure_for(resumed, resumed_params, lambda: _mlp_loss_with(resumed_params))
        for _ in range(3):
            resumed.step(closure2)
        torch.testing.assert_close(flat(resumed_params), flat(params), atol=1e-12, rtol=0)


def _mlp_loss_with(params):
    """The loss of make_mlp(float64) evaluated with the given parameter tensors."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(48, 4, generator=gen, dtype=torch.float64)
    y = torch.randn(48, 2, generator=gen, dtype=torch.float64)
    w1, b1, w2, b2 = params
    return (((torch.tanh(x @ w1.T + b1) @ w2.T + b2) - y) ** 2).mean()


# ---------------------------------------------------------------- state_dict round trips

ROUND_TRIP = [
    (LBFGS, {"max_iter": 2, "history_size": 3}),
    (LBFGS, {"max_iter": 2, "line_search_fn": "strong_wolfe"}),
    (BFGS, {"max_iter": 2}),
    (BFGS, {"max_iter": 2, "line_search_fn": "strong_wolfe"}),
    (ConjugateGradient, {"max_iter": 2, "restart": 5}),
    (Newton, {}),
    (Newton, {"exact_threshold": 0, "line_search_fn": None, "lr": 0.5}),
]


@pytest.mark.parametrize("cls,kwargs", ROUND_TRIP, ids=lambda v: getattr(v, "__name__", str(v)))
def test_state_dict_round_trip(cls, kwargs):
    make = make_logistic if cls is Newton else make_mlp
    params, loss_fn = make(torch.float64)
    opt = cls(params, **kwargs)
    closure = closure_for(opt, params, loss_fn)
    for _ in range(10):
        opt.step(closure)
    buffer = io.BytesIO()
    torch.save({"params": [p.detach().clone() for p in params], "opt": opt.state_dict()}, buffer)
    for _ in range(10):
        opt.step(closure)

    buffer.seek(0)
    saved = torch.load(buffer, weights_only=False)
    params2, loss_fn2 = make(torch.float64)
    with torch.no_grad():
        for p, s in zip(params2, saved["params"]):
            p.copy_(s)
    opt2 = cls(params2, **kwargs)
    opt2.load_state_dict(saved["opt"])
    closure2 = closure_for(opt2, params2, loss_fn2)
    for _ in range(10):
        opt2.step(closure2)
    assert torch.equal(flat(params2), flat(params))
    assert opt2.state[params2[0]]["func_evals"] == opt.state[params[0]]["func_evals"]


# ---------------------------------------------------------------- known answers

@pytest.mark.parametrize("n,seed", [(10, 0), (16, 1)])
def test_cg_solves_quadratic_in_n_iterations(n, seed):
    params, loss_fn, x_star, _ = make_quadratic(n, seed)
    opt = ConjugateGradient(params, max_iter=n, max_eval=10 * n, tolerance_grad=1e-14, tolerance_change=1e-20)
    opt.step(closure_for(opt, params, loss_fn))
    assert opt.state[params[0]]["n_iter"] <= n
    assert (params[0].detach() - x_star).norm() < 1e-8


def test_cg_without_conjugacy_is_slower():
    # the same method with every iteration a restart is steepest descent: far from done in n steps
    n = 10
    params, loss_fn, x_star, _ = make_quadratic(n, 0)
    opt = ConjugateGradient(params, max_iter=n, max_eval=10 * n, tolerance_grad=1e-14, restart=1)
    opt.step(closure_for(opt, params, loss_fn))
    assert (params[0].detach() - x_star).norm() > 1e-4


def test_bfgs_converges_superlinearly_on_quadratic():
    n = 12
    params, loss_fn, x_star, a = make_quadratic(n, 3)
    opt = BFGS(params, max_iter=3 * n, max_eval=10 * n, line_search_fn="strong_wolfe",
               tolerance_grad=1e-13, tolerance_change=1e-20)
    opt.step(closure_for(opt, params, loss_fn))
    # x to 1e-6 is where f itself stops changing in float64 (f - f* ~ |x - x*|^2)
    assert (params[0].detach() - x_star).norm() < 1e-6
    assert opt.state[params[0]]["n_iter"] <= 2 * n


def test_bfgs_update_secant_equation():
    gen = torch.Generator().manual_seed(0)
    n = 7
    m = torch.randn(n, n, generator=gen, dtype=torch.float64)
    h = m @ m.T + n * torch.eye(n, dtype=torch.float64)
    s = torch.randn(n, generator=gen, dtype=torch.float64)
    y = s + 0.1 * torch.randn(n, generator=gen, dtype=torch.float64)
    ys = y.dot(s)
    h_new = bfgs_update(h, s, y, ys)
    rho = 1 / ys
    eye = torch.eye(n, dtype=torch.float64)
    expected = (eye - rho * torch.outer(s, y)) @ h @ (eye - rho * torch.outer(y, s)) + rho * torch.outer(s, s)
    torch.testing.assert_close(h_new, expected, atol=1e-12, rtol=0)
    torch.testing.assert_close(h_new @ y, s, atol=1e-12, rtol=0)  # secant equation H y = s
    torch.testing.assert_close(h_new, h_new.T, atol=1e-12, rtol=0)


@pytest.mark.parametrize("exact_threshold", [100, 0], ids=["exact", "newton_cg"])
@pytest.mark.parametrize("line_search_fn", ["strong_wolfe", None])
@pytest.mark.parametrize("backward", [True, False], ids=["closure_backward", "closure_returns_loss"])
def test_newton_solves_quadratic_in_one_step(exact_threshold, line_search_fn, backward):
    params, loss_fn, x_star, _ = make_quadratic(12, 2)
    opt = Newton(params, exact_threshold=exact_threshold, cg_tol=1e-13, line_search_fn=line_search_fn)
    opt.step(closure_for(opt, params, loss_fn, backward=backward))
    assert opt.state[params[0]]["n_iter"] == 1
    assert (params[0].detach() - x_star).norm() < 1e-10


@pytest.mark.parametrize("exact_threshold", [100, 0], ids=["exact", "newton_cg"])
def test_newton_logistic_regression(exact_threshold):
    params, loss_fn = make_logistic(torch.float64)
    opt = Newton(params, exact_threshold=exact_threshold, tolerance_grad=1e-14)
    closure = closure_for(opt, params, loss_fn)
    for step in range(1, 11):
        opt.step(closure)
        if grad_norm(params, loss_fn) < 1e-10:
            break
    assert grad_norm(params, loss_fn) < 1e-10, step
    assert step <= 10


def test_newton_closure_styles_agree_and_fill_grad():
    runs = []
    for backward in (True, False):
        params, loss_fn = make_mlp(torch.float64)
        opt = Newton(params, max_iter=3, exact_threshold=100)
        for _ in range(3):
            opt.step(closure_for(opt, params, loss_fn, backward=backward))
        runs.append(params)
    torch.testing.assert_close(flat(runs[0]), flat(runs[1]), atol=1e-12, rtol=0)
    # plain gradients: no parameter -> .grad -> graph -> parameter cycle outlives the step
    assert all(p.grad is not None and p.grad.grad_fn is None and not p.grad.requires_grad
               for p in runs[0])


def test_only_newton_asks_for_the_gradients_graph():
    assert Newton.needs_create_graph is True
    for cls in (LBFGS, BFGS, ConjugateGradient):
        assert getattr(cls, "needs_create_graph", False) is False


def test_newton_leaves_torch_autograd_alone():
    """No process-wide routing of backward: inside the closure it is torch's own function."""
    params, loss_fn = make_logistic(torch.float64)
    opt = Newton(params)
    seen = []
    real_backward = torch.autograd.backward

    def closure():
        seen.append(torch.autograd.backward is real_backward)
        opt.zero_grad()
        loss = loss_fn()
        loss.backward(create_graph=True)
        return loss

    opt.step(closure)
    assert seen and all(seen)


def test_newton_with_a_plain_backward_says_to_keep_the_graph():
    params, loss_fn = make_logistic(torch.float64)
    opt = Newton(params)

    def closure():
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss

    with pytest.raises(RuntimeError, match=r"loss\.backward\(create_graph=True\)"):
        opt.step(closure)


def test_newton_does_not_warn_about_the_reference_cycle_it_breaks():
    import warnings
    params, loss_fn = make_mlp(torch.float64)
    opt = Newton(params, max_iter=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt.step(closure_for(opt, params, loss_fn))


def test_newton_skips_frozen_and_unused_parameters():
    params, loss_fn = make_logistic(torch.float64)
    frozen = torch.ones(2, dtype=torch.float64)  # requires_grad=False
    unused = torch.nn.Parameter(torch.ones(3, dtype=torch.float64))
    opt = Newton(params + [frozen, unused], tolerance_grad=1e-14)
    closure = closure_for(opt, params, loss_fn)
    for _ in range(8):
        opt.step(closure)
    assert grad_norm(params, loss_fn) < 1e-10
    assert torch.equal(frozen, torch.ones(2, dtype=torch.float64))
    assert torch.equal(unused.detach(), torch.ones(3, dtype=torch.float64))


@pytest.mark.parametrize("exact_threshold", [100, 0], ids=["exact", "newton_cg"])
def test_newton_flat_direction_stays_finite(exact_threshold):
    # f(x) = (x0 - 1)^2 does not depend on x1: the Hessian is singular
    x = torch.tensor([3.0, 5.0], dtype=torch.float64, requires_grad=True)
    opt = Newton([x], exact_threshold=exact_threshold)
    closure = closure_for(opt, [x], lambda: (x[0] - 1) ** 2)
    for _ in range(3):
        opt.step(closure)
    assert torch.isfinite(x).all()
    assert abs(x[0].item() - 1) < 1e-10


def test_newton_maximize():
    params, loss_fn, x_star, _ = make_quadratic(5, 4)
    opt = Newton(params, maximize=True)
    opt.step(closure_for(opt, params, lambda: -loss_fn()))
    assert (params[0].detach() - x_star).norm() < 1e-10


ROSENBROCK = [
    (LBFGS, {"line_search_fn": "strong_wolfe"}, 20),
    (BFGS, {"line_search_fn": "strong_wolfe"}, 20),
    (ConjugateGradient, {}, 30),
    (Newton, {}, 60),
    (Newton, {"exact_threshold": 0}, 60),
]


@pytest.mark.parametrize("cls,kwargs,steps", ROSENBROCK, ids=lambda v: getattr(v, "__name__", str(v)))
def test_rosenbrock_minimum(cls, kwargs, steps):
    params, loss_fn = make_rosenbrock(torch.float64)
    opt = cls(params, tolerance_grad=1e-12, tolerance_change=1e-15, **kwargs)
    closure = closure_for(opt, params, loss_fn)
    for _ in range(steps):
        opt.step(closure)
    assert (params[0].detach() - 1).abs().max() < 1e-6


@pytest.mark.parametrize("cls", CLOSURE_OPTIMIZERS)
def test_float32_reaches_logistic_minimum(cls):
    params, loss_fn = make_logistic(torch.float32)
    opt = cls(params, line_search_fn="strong_wolfe")
    closure = closure_for(opt, params, loss_fn)
    for _ in range(10):
        opt.step(closure)
    reference, ref_loss = make_logistic(torch.float64)
    ref = Newton(reference, tolerance_grad=1e-14)
    for _ in range(10):
        ref.step(closure_for(ref, reference, ref_loss))
    # float32 losses stop resolving progress (f - f* below an ulp of f) a few 1e-4 from the optimum
    torch.testing.assert_close(flat(params).double(), flat(reference), atol=1e-3, rtol=1e-3)


def test_closure_runs_with_grad_enabled_under_no_grad():
    for cls in CLOSURE_OPTIMIZERS:
        params, loss_fn = make_logistic(torch.float64)
        opt = cls(params)
        with torch.no_grad():
            loss = opt.step(closure_for(opt, params, loss_fn))
        assert torch.isfinite(loss.detach())


def test_lightning_closure_trains_logistic_regression():
    """Lightning's automatic optimization hands the optimizer a closure that calls backward."""
    import pytorch_lightning as pl
    x_best = None
    for cls in CLOSURE_OPTIMIZERS:
        gen = torch.Generator().manual_seed(0)
        x = torch.randn(200, 5, generator=gen)
        y = (torch.rand(200, generator=gen) < 1 / (1 + torch.exp(-x @ torch.randn(5, generator=gen)))).float()

        class Logistic(pl.LightningModule):
            def __init__(self):
                super().__init__()
                self.linear = torch.nn.Linear(5, 1)

            def training_step(self, batch, _):
                xb, yb = batch
                z = self.linear(xb).squeeze(1)
                return (torch.clamp(z, min=0) + torch.log1p(torch.exp(-z.abs())) - yb * z).mean()

            def configure_optimizers(self):
                return cls(self.parameters(), line_search_fn="strong_wolfe")

            def backward(self, loss, *args, **kwargs):
                # the public hook refzoo's models use: keep the gradient's graph when asked
                if any(getattr(o, "needs_create_graph", False) for o in self.trainer.optimizers):
                    kwargs["create_graph"] = True
                super().backward(loss, *args, **kwargs)

        model = Logistic()
        data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=200)
        trainer = pl.Trainer(max_epochs=6, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                             enable_model_summary=False, accelerator="cpu", devices=1)
        trainer.fit(model, data)
        weights = torch.cat([model.linear.weight.detach().reshape(-1), model.linear.bias.detach()])
        if x_best is None:
            x_best = weights
        torch.testing.assert_close(weights, x_best, atol=1e-3, rtol=1e-3)


# ---------------------------------------------------------------- errors

@pytest.mark.parametrize("cls", CLOSURE_OPTIMIZERS)
def test_step_without_closure_says_it_needs_one(cls):
    params, _ = make_logistic(torch.float64)
    opt = cls(params)
    # TypeError: what torch.optim.LBFGS.step() raises without its closure argument
    with pytest.raises(TypeError) as theirs:
        torch.optim.LBFGS(make_logistic(torch.float64)[0]).step()
    assert "closure" in str(theirs.value)
    with pytest.raises(TypeError, match=rf"{cls.__name__} requires a closure .* optimizer.step\(closure\)"):
        opt.step()


@pytest.mark.parametrize("cls", CLOSURE_OPTIMIZERS)
def test_invalid_learning_rate_in_torch_wording(cls):
    params, _ = make_logistic(torch.float64)
    with pytest.raises(ValueError) as theirs:
        torch.optim.LBFGS(params, lr=-0.1)
    with pytest.raises(ValueError) as ours:
        cls(params, lr=-0.1)
    assert str(ours.value) == str(theirs.value) == "Invalid learning rate: -0.1"


@pytest.mark.parametrize("cls", CLOSURE_OPTIMIZERS)
def test_parameter_groups_refused_like_torch(cls):
    (w, b), _ = make_logistic(torch.float64)
    groups = [{"params": [w]}, {"params": [b], "lr": 0.1}]
    with pytest.raises(ValueError) as theirs:
        torch.optim.LBFGS(groups)
    with pytest.raises(ValueError) as ours:
        cls(groups)
    assert str(ours.value) == str(theirs.value).replace("LBFGS", cls.__name__)


@pytest.mark.parametrize("cls", CLOSURE_OPTIMIZERS)
def test_unknown_line_search_refused_at_construction(cls):
    params, _ = make_logistic(torch.float64)
    with pytest.raises(ValueError, match="strong_wolfe"):
        cls(params, line_search_fn="backtracking")


def test_bfgs_refuses_too_many_parameters_and_points_to_lbfgs():
    big = torch.nn.Linear(100, 60)  # 6060 parameters
    with pytest.raises(ValueError, match=r"6060 parameters exceed max_params=5000.*LBFGS"):
        BFGS(big.parameters())
    BFGS(big.parameters(), max_params=7000)  # allowed when raised on purpose


@pytest.mark.parametrize("kwargs,message", [
    ({"damping": -1.0}, "Invalid damping value: -1.0"),
    ({"cg_tol": 0.0}, "Invalid cg_tol value: 0.0"),
    ({"cg_max_iter": 0}, "Invalid cg_max_iter value: 0"),
    ({"max_iter": 0}, "Invalid max_iter value: 0"),
])
def test_newton_invalid_hyperparameters(kwargs, message):
    params, _ = make_logistic(torch.float64)
    with pytest.raises(ValueError, match=message):
        Newton(params, **kwargs)


def test_newton_needs_a_differentiable_loss():
    params, loss_fn = make_logistic(torch.float64)
    opt = Newton(params)
    with pytest.raises(RuntimeError, match="Newton needs the gradient"):
        opt.step(lambda: loss_fn().detach())


# ---------------------------------------------------------------- Hydra configs

@pytest.mark.parametrize("name,cls", [("lbfgs", LBFGS), ("bfgs", BFGS), ("cg", ConjugateGradient),
                                      ("newton", Newton), ("torch_lbfgs", torch.optim.LBFGS)])
def test_config_builds_the_optimizer(name, cls, make_cfg):
    from hydra.utils import instantiate
    cfg = make_cfg(f"optimizer={name}").optimizer
    params, loss_fn = make_logistic(torch.float64)
    opt = instantiate(cfg)(params)
    assert type(opt) is cls
    first = opt.step(closure_for(opt, params, loss_fn)).item()
    assert loss_fn().item() < first


def test_torch_lbfgs_twin_has_the_same_arguments(make_cfg):
    from omegaconf import OmegaConf
    ours = OmegaConf.to_container(make_cfg("optimizer=lbfgs").optimizer)
    theirs = OmegaConf.to_container(make_cfg("optimizer=torch_lbfgs").optimizer)
    assert ours.pop("_target_") == "optimizers.LBFGS"
    assert theirs.pop("_target_") == "torch.optim.LBFGS"
    assert ours == theirs
