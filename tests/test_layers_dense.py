"""Linear, Conv2d, BatchNorm1d/2d, Dropout and Embedding against torch.nn's: outputs, gradients and
buffers over the argument combinations, gradcheck in float64, Dropout's statistics."""
from __future__ import annotations

import pytest
import torch
from torch import nn

import layers
from _layers_parity import DTYPES, check_parity, tol, twins
from layers.linear import linear


def _x(*shape, dtype):
    return lambda: (torch.randn(*shape, dtype=dtype, requires_grad=True),)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(7, 5), (3, 4, 5), (5,)])
def test_linear_matches_torch(dtype, bias, shape):
    ours, theirs = twins(layers.Linear, nn.Linear, 5, 3, bias=bias, dtype=dtype)
    check_parity(ours, theirs, _x(*shape, dtype=dtype), dtype)


def test_linear_gradcheck_and_double_backward():
    lin = layers.Linear(4, 3).double()
    x = torch.randn(5, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, w, b: linear(x, w, b), (x, lin.weight, lin.bias))
    assert torch.autograd.gradgradcheck(lambda x, w, b: linear(x, w, b), (x, lin.weight, lin.bias))


CONV_CASES = [
    dict(in_channels=3, out_channels=4, kernel_size=3),
    dict(in_channels=4, out_channels=6, kernel_size=3, stride=2, padding=1, groups=2, bias=False),
    dict(in_channels=4, out_channels=4, kernel_size=(3, 2), stride=(2, 1), padding=(1, 0), dilation=(2, 1), groups=4),
    dict(in_channels=2, out_channels=3, kernel_size=4, padding="same"),  # asymmetric 'same'
    dict(in_channels=2, out_channels=3, kernel_size=3, padding="same", dilation=2),
    dict(in_channels=2, out_channels=3, kernel_size=(2, 3), padding="valid", stride=3),
    dict(in_channels=6, out_channels=4, kernel_size=5, stride=2, padding=2, dilation=2, groups=2),
    dict(in_channels=1, out_channels=32, kernel_size=3, padding="same", bias=False),  # the zoo's first conv
    dict(in_channels=3, out_channels=2, kernel_size=1, stride=(3, 2)),  # pixels no window reads: zero gradient
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kwargs", CONV_CASES, ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()))
def test_conv2d_matches_torch(dtype, kwargs):
    ours, theirs = twins(layers.Conv2d, nn.Conv2d, dtype=dtype, **kwargs)
    check_parity(ours, theirs, _x(2, kwargs["in_channels"], 11, 9, dtype=dtype), dtype)


def test_conv2d_unbatched_input():
    ours, theirs = twins(layers.Conv2d, nn.Conv2d, 2, 3, 3, padding=1)
    check_parity(ours, theirs, _x(2, 6, 5, dtype=torch.float64), torch.float64)


@pytest.mark.parametrize("kwargs", [CONV_CASES[1], CONV_CASES[3], CONV_CASES[6]])
def test_conv2d_gradcheck(kwargs):
    conv = layers.Conv2d(**kwargs).double()
    x = torch.randn(2, kwargs["in_channels"], 7, 6, dtype=torch.float64, requires_grad=True)
    params = list(conv.parameters())

    def f(x, *ps):
        return torch.func.functional_call(conv, dict(zip([n for n, _ in conv.named_parameters()], ps)), (x,))

    assert torch.autograd.gradcheck(f, (x, *params))


BN_CASES = [dict(), dict(momentum=None), dict(affine=False), dict(track_running_stats=False),
            dict(eps=1e-3, momentum=0.3)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kwargs", BN_CASES, ids=str)
@pytest.mark.parametrize("cls,shape", [("BatchNorm1d", (6, 4)), ("BatchNorm1d", (5, 4, 3)),
                                       ("BatchNorm2d", (3, 4, 5, 2))])
def test_batchnorm_matches_torch_in_training_then_eval(dtype, kwargs, cls, shape):
    ours, theirs = twins(getattr(layers, cls), getattr(nn, cls), 4, dtype=dtype, randomize=True, **kwargs)
    for step, training in enumerate([True, True, True, False]):
        ours.train(training)
        theirs.train(training)
        # scaled and shifted input: the statistics are not near 0 and 1 by chance
        check_parity(ours, theirs, lambda: (torch.randn(*shape, dtype=dtype).mul(3).add(2).requires_grad_(),),
                     dtype, seed=step)
    if kwargs.get("track_running_stats", True):
        assert int(ours.num_batches_tracked) == 3


@pytest.mark.parametrize("cls,shape", [("BatchNorm1d", (6, 3)), ("BatchNorm2d", (3, 3, 4, 2))])
@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_gradcheck(cls, shape, training):
    bn = getattr(layers, cls)(3, track_running_stats=True).double()
    with torch.no_grad():
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.normal_()
        bn.running_mean.normal_()
        bn.running_var.uniform_(0.5, 2)
    bn.train(training)
    bn.momentum = 0.0  # gradcheck calls forward many times: keep the running statistics fixed
    x = torch.randn(*shape, dtype=torch.float64, requires_grad=True)

    def f(x, w, b):
        return torch.func.functional_call(bn, {"weight": w, "bias": b}, (x,))

    assert torch.autograd.gradcheck(f, (x, bn.weight, bn.bias))


def test_batchnorm_errors_match_torch():
    for cls, bad in [("BatchNorm1d", (2, 3, 4, 5)), ("BatchNorm2d", (2, 3))]:
        with pytest.raises(ValueError, match="expected"):
            getattr(layers, cls)(3)(torch.randn(*bad))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        layers.BatchNorm1d(3)(torch.randn(1, 3))
    layers.BatchNorm1d(3).eval()(torch.randn(1, 3))  # eval uses the running statistics: fine


@pytest.mark.parametrize("p", [0.0, 0.3, 0.5, 1.0])
def test_dropout_draws_torchs_mask_on_cpu(p):
    # same seed, same Bernoulli draws as torch.nn.Dropout: outputs and gradients identical
    ours, theirs = layers.Dropout(p), nn.Dropout(p)
    check_parity(ours, theirs, _x(64, 33, dtype=torch.float32), torch.float32)


def test_dropout_statistics_and_backward_through_the_same_mask():
    p, n = 0.3, 200_000
    x = torch.rand(n, dtype=torch.float64).add_(1).requires_grad_()  # no zeros in the input
    y = layers.Dropout(p)(x)
    dropped = (y == 0)
    frac = dropped.double().mean().item()
    assert abs(frac - p) < 4 * (p * (1 - p) / n) ** 0.5
    kept = ~dropped
    torch.testing.assert_close(y[kept], x.detach()[kept] / (1 - p), rtol=0, atol=1e-12)
    up = torch.randn(n, dtype=torch.float64)
    (g,) = torch.autograd.grad(y, x, up)
    torch.testing.assert_close(g, torch.where(kept, up / (1 - p), torch.zeros_like(up)), rtol=0, atol=1e-12)


def test_dropout_eval_is_identity_and_p_is_checked():
    d = layers.Dropout(0.7).eval()
    x = torch.randn(10)
    assert d(x) is x
    for p in (-0.1, 1.5):
        with pytest.raises(ValueError, match="between 0 and 1"):
            layers.Dropout(p)
    z = layers.Dropout(1.0)(torch.tensor([1.0, float("nan")]))
    assert z[0] == 0 and z[1].isnan()  # 0 * x, as torch


def test_dropout_gradcheck():
    x = torch.randn(20, dtype=torch.float64, requires_grad=True)

    def f(x):
        torch.manual_seed(3)  # the same mask on every call
        return layers.Dropout(0.4)(x)

    assert torch.autograd.gradcheck(f, (x,))


EMB_CASES = [dict(), dict(padding_idx=0), dict(padding_idx=-1, scale_grad_by_freq=True), dict(max_norm=1.0),
             dict(max_norm=2.0, norm_type=1.0), dict(sparse=True, padding_idx=2)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kwargs", EMB_CASES, ids=str)
def test_embedding_matches_torch(dtype, kwargs):
    ours, theirs = twins(layers.Embedding, nn.Embedding, 7, 3, dtype=dtype, **kwargs)
    idx = torch.tensor([[0, 1, 2, 1], [6, 6, 2, 3]])
    check_parity(ours, theirs, lambda: (idx,), dtype)
    # max_norm renormalizes the table in place, as torch does
    torch.testing.assert_close(ours.weight, theirs.weight, **tol(dtype))


def test_embedding_padding_row_gets_no_gradient_and_gradcheck():
    emb = layers.Embedding(5, 3, padding_idx=1).double()
    assert not emb.weight[1].any()
    idx = torch.tensor([1, 2, 1, 4])
    emb(idx).sum().backward()
    assert not emb.weight.grad[1].any() and emb.weight.grad[2].all()
    # the padding row's true derivative is not 0 (it is looked up): gradcheck the other rows' lookups
    idx = torch.tensor([0, 2, 2, 4])
    assert torch.autograd.gradcheck(lambda w: torch.func.functional_call(emb, {"weight": w}, (idx,)),
                                    (emb.weight.detach().clone().requires_grad_(),))


def test_embedding_from_pretrained_and_errors():
    table = torch.randn(4, 2)
    for cls in (layers.Embedding, nn.Embedding):
        e = cls.from_pretrained(table, padding_idx=0)
        assert not e.weight.requires_grad and torch.equal(e.weight, table)
    for bad in (5, -6):
        with pytest.raises(AssertionError, match="Padding_idx"):
            layers.Embedding(5, 3, padding_idx=bad)
    with pytest.raises(IndexError):
        layers.Embedding(5, 3)(torch.tensor([5]))
    with pytest.raises(RuntimeError, match="Long, Int"):
        layers.Embedding(5, 3)(torch.tensor([0.5]))


def test_embedding_sparse_with_frequency_scaling_fails_in_backward_as_torchs():
    for cls in (layers.Embedding, nn.Embedding):
        y = cls(5, 3, sparse=True, scale_grad_by_freq=True)(torch.tensor([1, 1, 2]))
        with pytest.raises(RuntimeError, match="scale_grad_by_freq not supported with sparse"):
            y.sum().backward()
