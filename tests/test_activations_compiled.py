"""torch.compile of the hand-written activations: the way to make them fast is to compile the same
Functions the eager path runs. Each one traces without a graph break (fullgraph=True), and the
compiled module gives the eager module's values and gradients within torch's float32 tolerance."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from _activation_cases import CASES, IDS, tol

# one case per class (the arguments do not change what is traced)
ONE_PER_CLASS = ["linear-m2.5", "relu", "leaky-0.2", "elu-0.5", "sigmoid", "tanh", "gelu", "gelu-tanh",
                 "silu", "softplus-b2", "softmax-1", "log_softmax-0"]
BY_ID = dict(zip(IDS, CASES))


class Net(nn.Module):
    """A small network holding the activation, as a model would."""

    def __init__(self, activation: nn.Module) -> None:
        super().__init__()
        self.linear = nn.Linear(16, 16)
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.linear(x))


def _assert_close(got, want, name: str) -> None:
    """torch's float32 tolerance; for softmax and log-softmax relative to the largest entry as well,
    since compiled row sums add in another order (the weight's gradient sums over the batch too);
    likewise for GELU(tanh), whose derivative's (1 + tanh u) cancels for negative u, where the
    generated kernel's fused multiply-adds round differently from the eager ops."""
    for g, w in zip(got, want):
        t = tol(torch.float32)
        if "softmax" in name or name == "gelu-tanh":
            t["atol"] = max(t["atol"], t["rtol"] * w.abs().max().item())
        torch.testing.assert_close(g, w, **t, msg=lambda m: f"{name}: {m}")


def _run(net: nn.Module, x: torch.Tensor, upstream: torch.Tensor):
    x = x.detach().clone().requires_grad_(True)
    out = net(x)
    out.backward(upstream)
    return out.detach(), x.grad, net.linear.weight.grad


@pytest.mark.parametrize("name", IDS)
def test_traces_without_graph_break(name):
    """fullgraph=True raises at the first graph break; aot_eager traces forward and backward
    without generating code, so every case is cheap to check."""
    torch.compiler.reset()
    net = Net(BY_ID[name][1]())
    compiled = torch.compile(net, backend="aot_eager", fullgraph=True)
    x = torch.randn(8, 16, generator=torch.Generator().manual_seed(0))
    want = _run(net, x, torch.ones(8, 16))
    net.zero_grad()
    got = _run(compiled, x, torch.ones(8, 16))
    _assert_close(got, want, name)


# each case generates and builds C++ kernels (several seconds): one runs by default, all under -m slow
@pytest.mark.parametrize("name", [n if n == "tanh" else pytest.param(n, marks=pytest.mark.slow)
                                  for n in ONE_PER_CLASS])
def test_inductor_matches_eager(name):
    """The generated kernels (inductor, the default backend) against the eager Functions."""
    torch.compiler.reset()
    net = Net(BY_ID[name][1]())
    compiled = torch.compile(net, fullgraph=True)
    gen = torch.Generator().manual_seed(1)
    x, upstream = torch.randn(64, 16, generator=gen) * 4, torch.randn(64, 16, generator=gen)
    want = _run(net, x, upstream)
    net.zero_grad()
    got = _run(compiled, x, upstream)
    _assert_close(got, want, name)
