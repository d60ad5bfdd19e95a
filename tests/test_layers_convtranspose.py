"""ConvTranspose2d against torch.nn's: outputs and gradients over the argument combinations (float64
and float32), output_size, gradcheck in float64, same seed same weights, state_dicts both ways,
errors as torch's."""
from __future__ import annotations

import pytest
import torch
from torch import nn

import layers
from _layers_parity import DTYPES, check_parity, twins

CASES = [
    dict(in_channels=3, out_channels=4, kernel_size=3),
    dict(in_channels=4, out_channels=2, kernel_size=4, stride=2, padding=1),  # the zoo's decoders
    dict(in_channels=4, out_channels=6, kernel_size=3, stride=2, padding=1, output_padding=1, groups=2, bias=False),
    dict(in_channels=4, out_channels=4, kernel_size=(3, 2), stride=(2, 1), padding=(1, 0), dilation=(2, 1), groups=4),
    dict(in_channels=2, out_channels=3, kernel_size=3, dilation=2, output_padding=1),  # output padding < dilation
    dict(in_channels=2, out_channels=3, kernel_size=(2, 3), stride=3, padding=(1, 2), output_padding=(2, 0)),
    dict(in_channels=6, out_channels=4, kernel_size=5, stride=2, padding=2, dilation=2, groups=2),
    dict(in_channels=64, out_channels=1, kernel_size=4, stride=2, padding=1),  # the DCGAN's last layer
]
IDS = [",".join(f"{a}={b}" for a, b in k.items()) for k in CASES]


def _x(*shape, dtype):
    return lambda: (torch.randn(*shape, dtype=dtype, requires_grad=True),)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kwargs", CASES, ids=IDS)
def test_conv_transpose2d_matches_torch(dtype, kwargs):
    ours, theirs = twins(layers.ConvTranspose2d, nn.ConvTranspose2d, dtype=dtype, **kwargs)
    check_parity(ours, theirs, _x(2, kwargs["in_channels"], 7, 5, dtype=dtype), dtype)


def test_conv_transpose2d_unbatched_and_output_size():
    ours, theirs = twins(layers.ConvTranspose2d, nn.ConvTranspose2d, 2, 3, 3, stride=2, padding=1)
    check_parity(ours, theirs, _x(2, 6, 5, dtype=torch.float64), torch.float64)
    x = torch.randn(2, 2, 6, 5, dtype=torch.float64)
    for size in ([11, 9], [12, 10], (2, 3, 12, 9)):
        torch.testing.assert_close(ours(x, output_size=size), theirs(x, output_size=size), atol=1e-12, rtol=0)
    assert ours(x, output_size=[12, 10]).shape[2:] == (12, 10)
    for m in (nn, layers):
        conv = ours if m is layers else theirs
        with pytest.raises(ValueError, match=r"requested an output size of \[13, 9\], but valid sizes range from "
                                             r"\[11, 9\] to \[12, 10\]"):
            conv(x, output_size=[13, 9])
        with pytest.raises(ValueError, match="output_size must have 2 or 4 elements"):
            conv(x, output_size=[1, 12, 10])


def test_conv_transpose2d_is_conv2ds_adjoint():
    # <conv(a), b> == <a, conv_transpose(b)> with the same weights: the defining property
    conv_t = layers.ConvTranspose2d(3, 2, 3, stride=2, padding=1, dilation=2, bias=False).double()
    conv = layers.Conv2d(2, 3, 3, stride=2, padding=1, dilation=2, bias=False).double()
    with torch.no_grad():
        conv.weight.copy_(conv_t.weight)
    b = torch.randn(4, 3, 5, 6, dtype=torch.float64)
    a = torch.randn(conv_t(b).shape, dtype=torch.float64)
    torch.testing.assert_close((conv(a) * b).sum(), (a * conv_t(b)).sum(), atol=1e-12, rtol=0)


@pytest.mark.parametrize("kwargs", [CASES[1], CASES[2], CASES[3], CASES[5]], ids=[IDS[1], IDS[2], IDS[3], IDS[5]])
def test_conv_transpose2d_gradcheck(kwargs):
    conv = layers.ConvTranspose2d(**kwargs).double()
    x = torch.randn(2, kwargs["in_channels"], 4, 3, dtype=torch.float64, requires_grad=True)
    names = [n for n, _ in conv.named_parameters()]

    def f(x, *ps):
        return torch.func.functional_call(conv, dict(zip(names, ps)), (x,))

    assert torch.autograd.gradcheck(f, (x, *conv.parameters()))


@pytest.mark.parametrize("kwargs", [dict(), dict(groups=2, bias=False, stride=2, output_padding=1)], ids=str)
def test_conv_transpose2d_same_seed_same_weights_and_state_dicts_both_ways(kwargs):
    torch.manual_seed(0)
    theirs = nn.ConvTranspose2d(4, 6, (3, 2), **kwargs)
    torch.manual_seed(0)
    ours = layers.ConvTranspose2d(4, 6, (3, 2), **kwargs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for key, value in theirs.state_dict().items():
        assert torch.equal(ours.state_dict()[key], value), key
    with torch.no_grad():
        for p in theirs.parameters():
            p.normal_()
    ours.load_state_dict(theirs.state_dict(), strict=True)
    fresh = nn.ConvTranspose2d(4, 6, (3, 2), **kwargs)
    fresh.load_state_dict(ours.state_dict(), strict=True)
    for key, value in theirs.state_dict().items():
        assert torch.equal(ours.state_dict()[key], value) and torch.equal(fresh.state_dict()[key], value), key
    assert repr(ours) == repr(theirs)
    for attr in ("kernel_size", "stride", "padding", "dilation", "output_padding", "groups", "transposed"):
        assert getattr(ours, attr) == getattr(theirs, attr), attr


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(groups=0), ValueError, "groups must be a positive integer"),
    (dict(groups=2, in_channels=3), ValueError, "in_channels must be divisible by groups"),
    (dict(groups=2, out_channels=3), ValueError, "out_channels must be divisible by groups"),
    (dict(padding_mode="reflect"), ValueError, 'Only "zeros" padding mode is supported for ConvTranspose2d'),
    (dict(stride=0), RuntimeError, "non-positive stride is not supported"),
    (dict(padding=-1), RuntimeError, "negative padding is not supported"),
    (dict(output_padding=-1), RuntimeError, "negative output_padding is not supported"),
    (dict(dilation=0), RuntimeError, "dilation should be greater than zero"),
    (dict(output_padding=1), RuntimeError, "output padding must be smaller than either stride or dilation"),
    (dict(stride=2, output_padding=(0, 2)), RuntimeError, "output padding must be smaller than either stride"),
    (dict(padding="same"), TypeError, "padding"),
])
def test_conv_transpose2d_bad_arguments_raise_what_torch_raises(kwargs, exc, match):
    args = dict(in_channels=4, out_channels=4, kernel_size=3) | kwargs
    x = torch.randn(1, args["in_channels"], 8, 8)
    with pytest.raises(exc, match=match):
        nn.ConvTranspose2d(**args)(x)
    with pytest.raises(exc, match=match):
        layers.ConvTranspose2d(**args)  # at construction, before any tensor


def test_conv_transpose2d_checks_inputs_as_torch():
    for m in (nn, layers):
        with pytest.raises(RuntimeError, match="to have 4 channels, but got 3 channels"):
            m.ConvTranspose2d(4, 4, 3)(torch.randn(2, 3, 8, 8))
        with pytest.raises(RuntimeError, match="Output size is too small"):
            m.ConvTranspose2d(2, 3, 3, padding=3)(torch.randn(1, 2, 2, 2))
        with pytest.raises(RuntimeError, match="Expected 3D \\(unbatched\\) or 4D \\(batched\\) input"):
            m.ConvTranspose2d(2, 3, 3)(torch.randn(2, 5))


def test_conv_transpose2d_graph_has_no_torch_kernel():
    loss_t = nn.ConvTranspose2d(2, 3, 4, stride=2, padding=1)(torch.randn(2, 2, 5, 5)).square().sum()
    assert "ConvolutionBackward0" in layers.torch_layer_nodes(loss_t)
    conv = layers.nn_for("refzoo").ConvTranspose2d(2, 3, 4, stride=2, padding=1)
    loss = conv(torch.randn(2, 2, 5, 5)).square().sum()
    assert layers.torch_layer_nodes(loss) == [] and layers.torch_layer_modules(conv) == []
    assert "_ConvTranspose2dFnBackward" in layers.graph_nodes(loss)
