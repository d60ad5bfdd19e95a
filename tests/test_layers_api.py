"""The layers as drop-in replacements: same seed gives torch's weights, state_dicts load both ways,
construction errors as torch's, `nn_for` for model.layers, no torch layer kernel in our graphs,
mixed precision."""
from __future__ import annotations

import pytest
import torch
from torch import nn

import layers

# (name, constructor arguments) covering each class's parameter and buffer layouts
BUILDS = [
    ("Linear", (5, 3), {}),
    ("Linear", (5, 3), {"bias": False}),
    ("Conv2d", (4, 6, 3), {"groups": 2, "padding": "same"}),
    ("Conv2d", (3, 2, (3, 2)), {"bias": False, "stride": 2}),
    ("BatchNorm1d", (4,), {}),
    ("BatchNorm2d", (4,), {"affine": False}),
    ("BatchNorm2d", (4,), {"track_running_stats": False}),
    ("Embedding", (7, 3), {"padding_idx": 2}),
    ("LSTMCell", (3, 4), {}),
    ("GRUCell", (3, 4), {"bias": False}),
    ("LSTM", (3, 4), {"num_layers": 2, "bidirectional": True}),
    ("LSTM", (3, 4), {"proj_size": 2, "bias": False}),
    ("GRU", (3, 4), {"num_layers": 3, "bidirectional": True}),
    ("MaxPool2d", (2,), {}),
    ("AvgPool2d", (2,), {}),
    ("Dropout", (0.2,), {}),
]
IDS = [f"{n}{a}{k}" for n, a, k in BUILDS]


@pytest.mark.parametrize("name,args,kwargs", BUILDS, ids=IDS)
def test_same_seed_gives_torchs_initial_state(name, args, kwargs):
    torch.manual_seed(0)
    theirs = getattr(nn, name)(*args, **kwargs)
    torch.manual_seed(0)
    ours = getattr(layers, name)(*args, **kwargs)
    sd_t, sd_o = theirs.state_dict(), ours.state_dict()
    assert list(sd_o) == list(sd_t)
    for key in sd_t:
        assert sd_o[key].shape == sd_t[key].shape and sd_o[key].dtype == sd_t[key].dtype
        assert torch.equal(sd_o[key], sd_t[key]), key
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]


@pytest.mark.parametrize("name,args,kwargs", BUILDS, ids=IDS)
def test_state_dicts_load_both_ways_strictly(name, args, kwargs):
    theirs = getattr(nn, name)(*args, **kwargs)
    ours = getattr(layers, name)(*args, **kwargs)
    with torch.no_grad():
        for p in list(theirs.parameters()) + list(ours.parameters()):
            p.normal_()
    ours.load_state_dict(theirs.state_dict(), strict=True)
    for (k, a), b in zip(ours.state_dict().items(), theirs.state_dict().values()):
        assert torch.equal(a, b), k
    fresh = getattr(nn, name)(*args, **kwargs)
    ours_state = {k: v.clone() for k, v in ours.state_dict().items()}
    fresh.load_state_dict(ours_state, strict=True)
    for (k, a), b in zip(fresh.state_dict().items(), ours_state.values()):
        assert torch.equal(a, b), k


def test_init_statistics_match_torchs_bounds():
    # beyond equal draws: the bounds are torch's U(-1/sqrt(fan_in), 1/sqrt(fan_in)) and N(0, 1)
    conv = layers.Conv2d(64, 128, 3)
    bound = 1 / (64 * 9) ** 0.5
    assert conv.weight.abs().max() <= bound and conv.weight.abs().max() > 0.99 * bound
    emb = layers.Embedding(1000, 100)
    assert abs(emb.weight.std().item() - 1) < 0.02 and abs(emb.weight.mean().item()) < 0.02


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(groups=0), ValueError, "groups must be a positive integer"),
    (dict(groups=2, in_channels=3), ValueError, "in_channels must be divisible by groups"),
    (dict(groups=2, out_channels=3), ValueError, "out_channels must be divisible by groups"),
    (dict(padding="full"), ValueError, "Invalid padding string 'full'"),
    (dict(padding="same", stride=2), ValueError, "padding='same' is not supported for strided convolutions"),
    (dict(padding_mode="bar"), ValueError, "padding_mode must be one of"),
    (dict(stride=0), RuntimeError, "non-positive stride is not supported"),
    (dict(padding=-1), RuntimeError, "negative padding is not supported"),
    (dict(dilation=0), RuntimeError, "dilation"),
])
def test_conv2d_bad_arguments_raise_what_torch_raises(kwargs, exc, match):
    args = dict(in_channels=4, out_channels=4, kernel_size=3) | kwargs
    x = torch.randn(1, args["in_channels"], 8, 8)
    with pytest.raises(exc, match=match):
        nn.Conv2d(**args)(x)
    with pytest.raises(exc, match=match):
        layers.Conv2d(**args)  # at construction, before any tensor


def test_conv2d_refuses_other_padding_modes_and_checks_inputs_as_torch():
    with pytest.raises(ValueError, match="padding_mode='zeros' only"):
        layers.Conv2d(2, 2, 3, padding_mode="reflect")
    for m in (nn, layers):
        with pytest.raises(RuntimeError, match="to have 4 channels, but got 3 channels"):
            m.Conv2d(4, 4, 3)(torch.randn(2, 3, 8, 8))
        with pytest.raises(RuntimeError, match="Kernel size can't be greater than actual input size"):
            m.Conv2d(3, 4, 9)(torch.randn(2, 3, 8, 8))


def test_nn_for_switches_every_layer_and_names_the_key():
    ours, theirs = layers.nn_for("refzoo"), layers.nn_for("torch")
    for name in layers.LAYER_NAMES:
        assert getattr(ours, name) is getattr(layers, name)
        assert getattr(theirs, name) is getattr(nn, name)
    with pytest.raises(ValueError, match="model.layers must be one of torch, refzoo; got 'cudnn'"):
        layers.nn_for("cudnn")


def _small_net(nn_):
    return nn.ModuleDict(dict(
        conv=nn_.Conv2d(1, 4, 3, padding="same"), bn=nn_.BatchNorm2d(4), pool=nn_.MaxPool2d(2),
        avg=nn_.AvgPool2d(2), drop=nn_.Dropout(0.5), bn1=nn_.BatchNorm1d(16), lin=nn_.Linear(16, 3),
        emb=nn_.Embedding(6, 5, padding_idx=0), lstm=nn_.LSTM(5, 16, batch_first=True), gru=nn_.GRU(5, 16),
    ))


def _loss(net, packed=False):
    torch.manual_seed(0)
    x = torch.randn(4, 1, 8, 8)
    h = net["avg"](net["pool"](torch.relu(net["bn"](net["conv"](x))))).flatten(1)
    h = net["drop"](net["bn1"](h))
    seq = net["emb"](torch.tensor([[1, 2, 3], [4, 5, 0], [1, 0, 0], [2, 2, 2]]))
    if packed:
        seq = nn.utils.rnn.pack_padded_sequence(seq, torch.tensor([3, 2, 1, 3]), batch_first=True,
                                                enforce_sorted=False)
    _, (h_lstm, _) = net["lstm"](seq)
    _, h_gru = net["gru"](seq if packed else seq.transpose(0, 1))
    return net["lin"](h + h_lstm[-1] + h_gru[-1]).square().mean()


def test_our_graph_has_no_torch_layer_kernel_and_the_check_can_fail():
    found = layers.torch_layer_nodes(_loss(_small_net(nn)))
    # torch's graph has its layer kernels (on the CPU its dropout and packed RNN are elementary ops)
    for node in ("ConvolutionBackward0", "NativeBatchNormBackward0", "MaxPool2DWithIndicesBackward0",
                 "AvgPool2DBackward0", "EmbeddingBackward0"):
        assert node in found
    assert layers.torch_layer_modules(_small_net(nn))
    for packed in (False, True):
        ours = _small_net(layers.nn_for("refzoo"))
        assert layers.torch_layer_nodes(_loss(ours, packed)) == []
        assert layers.torch_layer_modules(ours) == []
        names = layers.graph_nodes(_loss(ours, packed))
        assert {"_Conv2dFnBackward", "_BatchNormFnBackward", "_MaxPool2dFnBackward", "_AvgPool2dFnBackward",
                "_DropoutFnBackward", "_LinearFnBackward", "_EmbeddingFnBackward", "_LSTMStepFnBackward",
                "_GRUStepFnBackward"} <= names


@pytest.mark.parametrize("name,args,make,same_dtype", [
    ("Linear", (8, 4), lambda: (torch.randn(6, 8),), True),
    ("Conv2d", (2, 4, 3), lambda: (torch.randn(2, 2, 6, 6),), True),
    ("LSTM", (3, 4), lambda: (torch.randn(5, 2, 3),), True),
    # torch's CPU cells are composite ops: bf16 products plus float32 state give float32; ours, like
    # torch's CUDA cells (on autocast's list), answer in bf16
    ("GRUCell", (3, 4), lambda: (torch.randn(2, 3),), False),
    ("BatchNorm2d", (2,), lambda: (torch.randn(3, 2, 4, 4),), True),
])
def test_under_cpu_autocast_dtypes_follow_torch(name, args, make, same_dtype):
    torch.manual_seed(0)
    theirs = getattr(nn, name)(*args)
    ours = getattr(layers, name)(*args)
    ours.load_state_dict(theirs.state_dict())
    inputs = make()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out_t = theirs(*inputs)
        out_o = ours(*inputs)
    out_t = out_t[0] if isinstance(out_t, tuple) else out_t
    out_o = out_o[0] if isinstance(out_o, tuple) else out_o
    assert out_o.dtype == out_t.dtype if same_dtype else out_o.dtype == torch.bfloat16
    # bfloat16 results, whose products sum in another order than torch's kernels: torch.testing's
    # bfloat16 rtol, and one bfloat16 step (2^-8) of the largest output as atol for entries near 0
    scale = out_t.float().abs().max().item()
    torch.testing.assert_close(out_o.float(), out_t.float(), rtol=1.6e-2, atol=2.0 ** -8 * scale)
    out_o.float().sum().backward()
    assert all(p.grad.dtype == torch.float32 for p in ours.parameters())
