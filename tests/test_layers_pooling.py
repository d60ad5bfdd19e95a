"""MaxPool2d and AvgPool2d against torch.nn's: outputs, indices (ties included), gradients, gradcheck."""
from __future__ import annotations

import pytest
import torch
from torch import nn

import layers
from _layers_parity import DTYPES, check_parity

WINDOWS = [
    dict(kernel_size=2),
    dict(kernel_size=2, stride=1),  # overlapping windows: gradients add up
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0), ceil_mode=True),
    dict(kernel_size=3, stride=3, ceil_mode=True),
]
SIZES = [(9, 11), (8, 8), (7, 5)]


def _ids(k):
    return ",".join(f"{a}={b}" for a, b in k.items())


def _rounded(shape, dtype):
    # values on a 0.5 grid: many ties inside windows, which torch resolves to the first maximum
    return lambda: (torch.randint(-4, 5, shape).to(dtype).div_(2).requires_grad_(),)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("kwargs", WINDOWS + [dict(kernel_size=(3, 2), stride=2, padding=1, dilation=(2, 1)),
                                              dict(kernel_size=2, dilation=2, ceil_mode=True)], ids=_ids)
def test_maxpool_matches_torch_with_ties(dtype, size, kwargs):
    ours = layers.MaxPool2d(**kwargs, return_indices=True)
    theirs = nn.MaxPool2d(**kwargs, return_indices=True)
    check_parity(ours, theirs, _rounded((2, 3, *size), dtype), dtype)  # indices compared exactly


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("divisor_override", [None, 3])
@pytest.mark.parametrize("kwargs", WINDOWS, ids=_ids)
def test_avgpool_matches_torch(dtype, size, count_include_pad, divisor_override, kwargs):
    args = dict(kwargs, count_include_pad=count_include_pad, divisor_override=divisor_override)
    check_parity(layers.AvgPool2d(**args), nn.AvgPool2d(**args),
                 lambda: (torch.randn(2, 3, *size, dtype=dtype, requires_grad=True),), dtype)


@pytest.mark.parametrize("cls", ["MaxPool2d", "AvgPool2d"])
def test_pooling_unbatched_input(cls):
    check_parity(getattr(layers, cls)(2), getattr(nn, cls)(2),
                 lambda: (torch.randn(3, 6, 5, dtype=torch.float64, requires_grad=True),), torch.float64)


@pytest.mark.parametrize("kwargs", [WINDOWS[1], WINDOWS[3], WINDOWS[4]], ids=_ids)
@pytest.mark.parametrize("cls", ["MaxPool2d", "AvgPool2d"])
def test_pooling_gradcheck(cls, kwargs):
    # distinct values: max pooling is differentiable away from ties
    x = torch.randperm(2 * 7 * 6, dtype=torch.float64).view(1, 2, 7, 6).div_(10).requires_grad_()
    assert torch.autograd.gradcheck(getattr(layers, cls)(**kwargs), (x,))


@pytest.mark.parametrize("kind", ["MaxPool2d", "AvgPool2d"])
@pytest.mark.parametrize("kwargs,match", [
    (dict(kernel_size=3, padding=2), "pad should be at most half"),
    (dict(kernel_size=0), "kernel size should be greater than zero"),
    (dict(kernel_size=2, stride=0), "stride should not be zero"),
    (dict(kernel_size=2, padding=-1), "pad must be non-negative"),
])
def test_pooling_bad_arguments_raise_torchs_error_at_construction(kind, kwargs, match):
    x = torch.randn(1, 1, 8, 8)
    with pytest.raises(RuntimeError):
        getattr(nn, kind)(**kwargs)(x)  # torch raises at the first forward
    with pytest.raises(RuntimeError, match=match):
        getattr(layers, kind)(**kwargs)


def test_pooling_output_too_small_and_zero_divisor():
    with pytest.raises(RuntimeError, match="Output size is too small"):
        layers.MaxPool2d(9)(torch.randn(1, 1, 8, 8))
    with pytest.raises(RuntimeError, match="divisor must be not zero"):
        layers.AvgPool2d(2, divisor_override=0)
    with pytest.raises(RuntimeError, match="dilation should be greater than zero"):
        layers.MaxPool2d(2, dilation=0)


@pytest.mark.parametrize("kwargs", [WINDOWS[0], WINDOWS[1], WINDOWS[3]], ids=_ids)
def test_maxpool_nan_and_inf_as_torch(kwargs):
    # a NaN propagates to its window's output, and torch's index is that of the window's last NaN
    x = torch.randint(-4, 5, (2, 3, 9, 11)).double().div_(2)
    x.view(-1)[::3] = float("nan")
    x.view(-1)[3::11] = float("inf")
    x.view(-1)[5::13] = float("-inf")
    y, i = layers.MaxPool2d(**kwargs, return_indices=True)(x)
    y_t, i_t = nn.MaxPool2d(**kwargs, return_indices=True)(x)
    assert y.isnan().any()
    torch.testing.assert_close(y, y_t, equal_nan=True, rtol=0, atol=0)
    assert torch.equal(i, i_t)


@pytest.mark.parametrize("cls", ["MaxPool2d", "AvgPool2d"])
def test_pooling_reads_its_attributes_at_each_call_as_torch(cls):
    ours, theirs = getattr(layers, cls)(2), getattr(nn, cls)(2)
    for m in (ours, theirs):
        m.kernel_size, m.padding = 3, 1  # stride stays 2, as set at construction
    x = torch.randn(2, 3, 9, 8, dtype=torch.float64)
    torch.testing.assert_close(ours(x), theirs(x), rtol=0, atol=1e-12)
    assert ours(x).shape == (2, 3, 5, 4)


@pytest.mark.parametrize("kwargs", [dict(kernel_size=2, stride=2, padding=1), WINDOWS[3], WINDOWS[4],
                                    dict(kernel_size=3, stride=2, padding=1, dilation=2)], ids=_ids)
def test_maxpool_windows_of_minus_inf_pick_their_first_input_element_as_torch(kwargs):
    # padding never wins: a window whose input elements are all -inf takes its first input element
    for fill in ("all", "corner"):
        x = torch.randn(1, 2, 7, 6, dtype=torch.float64)
        if fill == "all":
            x.fill_(float("-inf"))
        else:
            x[:, :, 3:, :3] = float("-inf")
        xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
        (y, i), (y_t, i_t) = (layers.MaxPool2d(**kwargs, return_indices=True)(xa),
                              nn.MaxPool2d(**kwargs, return_indices=True)(xb))
        assert torch.equal(i, i_t) and torch.equal(y, y_t)
        y.sum().backward()
        y_t.sum().backward()
        assert torch.equal(xa.grad, xb.grad)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("kernel", [3, 5])
def test_avgpool_half_precision_rounds_once_as_torch(dtype, kernel):
    # the window sum is added up in float32 and rounded once: within one rounding of torch's result
    # (a sum in the input's precision drifts by a rounding per term)
    x = (torch.rand(4, 8, 16, 16, generator=torch.Generator().manual_seed(0)) * 4 + 100).to(dtype)
    ours = layers.AvgPool2d(kernel, 1, padding=kernel // 2)(x)
    theirs = nn.AvgPool2d(kernel, 1, padding=kernel // 2)(x)
    assert ours.dtype == dtype
    torch.testing.assert_close(ours.double(), theirs.double(), rtol=torch.finfo(dtype).eps, atol=0)
