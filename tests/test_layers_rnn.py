"""LSTMCell, GRUCell, LSTM and GRU against torch.nn's: outputs, final states, gradients of inputs,
initial states and every weight; padded and packed sequences; gradcheck."""
from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

import layers
from _layers_parity import DTYPES, check_parity, twins


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("with_state", [True, False])
@pytest.mark.parametrize("name", ["LSTMCell", "GRUCell"])
def test_cell_matches_torch(dtype, bias, with_state, name):
    ours, theirs = twins(getattr(layers, name), getattr(nn, name), 3, 5, bias=bias, dtype=dtype)

    def inputs():
        x = torch.randn(4, 3, dtype=dtype, requires_grad=True)
        if not with_state:
            return (x,)
        h = torch.randn(4, 5, dtype=dtype, requires_grad=True)
        return (x, (h, torch.randn(4, 5, dtype=dtype, requires_grad=True)) if name == "LSTMCell" else h)

    check_parity(ours, theirs, inputs, dtype)


@pytest.mark.parametrize("name", ["LSTMCell", "GRUCell"])
def test_cell_unbatched_and_gradcheck(name):
    ours, theirs = twins(getattr(layers, name), getattr(nn, name), 3, 4)
    check_parity(ours, theirs, lambda: (torch.randn(3, dtype=torch.float64, requires_grad=True),), torch.float64)
    x = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    h = torch.randn(2, 4, dtype=torch.float64, requires_grad=True)
    if name == "LSTMCell":
        c = torch.randn(2, 4, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(lambda x, h, c, *w: torch.func.functional_call(
            ours, dict(zip([n for n, _ in ours.named_parameters()], w)), (x, (h, c))), (x, h, c, *ours.parameters()))
    else:
        assert torch.autograd.gradcheck(lambda x, h, *w: torch.func.functional_call(
            ours, dict(zip([n for n, _ in ours.named_parameters()], w)), (x, h)), (x, h, *ours.parameters()))


def _rnn_inputs(name, dtype, *, layers_, directions, batch_first, packed, with_state, state=4):
    lengths = torch.tensor([6, 2, 5, 1])  # unsorted: the layer sorts and unsorts

    def make():
        x = torch.randn((4, 6, 3) if batch_first else (6, 4, 3), dtype=dtype, requires_grad=True)
        # packing is part of each module's own graph (pack_padded_sequence is differentiable)
        seq = pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=False) if packed else x
        if not with_state:
            return (seq,)
        h = torch.randn(layers_ * directions, 4, state, dtype=dtype, requires_grad=True)
        if name == "LSTM":
            return (seq, (h, torch.randn(layers_ * directions, 4, 4, dtype=dtype, requires_grad=True)))
        return (seq, h)

    return make


FAST = [  # (num_layers, bias, batch_first, bidirectional, packed, with_state)
    (1, True, False, False, False, False),
    (2, True, True, True, True, True),
    (2, False, False, True, False, True),
    (1, True, True, False, True, False),
    (2, True, True, False, True, False),  # the zoo's names setting
]
ALL = list(itertools.product([1, 2], [True, False], [False, True], [False, True], [False, True], [False, True]))


def _check_rnn(name, dtype, case, proj_size=0, dropout=0.0):
    num_layers, bias, batch_first, bidirectional, packed, with_state = case
    kwargs = dict(num_layers=num_layers, bias=bias, batch_first=batch_first, bidirectional=bidirectional,
                  dropout=dropout)
    if proj_size:
        kwargs["proj_size"] = proj_size
    torch.manual_seed(0)
    theirs = getattr(nn, name)(3, 4, **kwargs).to(dtype)
    torch.manual_seed(0)
    ours = getattr(layers, name)(3, 4, **kwargs).to(dtype)
    # same seed, same registration order: the same weights without copying anything
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    for a, b in zip(ours.parameters(), theirs.parameters()):
        assert torch.equal(a, b)
    check_parity(ours, theirs, _rnn_inputs(name, dtype, layers_=num_layers, directions=2 if bidirectional else 1,
                                           batch_first=batch_first, packed=packed, with_state=with_state,
                                           state=proj_size or 4), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", FAST, ids=str)
@pytest.mark.parametrize("name", ["LSTM", "GRU"])
def test_rnn_matches_torch(dtype, case, name):
    _check_rnn(name, dtype, case)


@pytest.mark.slow
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", ALL, ids=str)
@pytest.mark.parametrize("name", ["LSTM", "GRU"])
def test_rnn_matches_torch_every_combination(dtype, case, name):
    _check_rnn(name, dtype, case)


@pytest.mark.parametrize("case", [FAST[0], FAST[1]], ids=str)
def test_lstm_projection_matches_torch(case):
    _check_rnn("LSTM", torch.float64, case, proj_size=2)


@pytest.mark.parametrize("name", ["LSTM", "GRU"])
def test_rnn_dropout_between_layers_matches_torch_in_eval_and_is_random_in_training(name):
    ours, theirs = twins(getattr(layers, name), getattr(nn, name), 3, 4, num_layers=3, dropout=0.5)
    ours.eval()
    theirs.eval()
    check_parity(ours, theirs, lambda: (torch.randn(5, 2, 3, dtype=torch.float64, requires_grad=True),), torch.float64)
    ours.train()
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    a, b = ours(x)[0], ours(x)[0]
    assert not torch.equal(a, b)  # a new mask each call
    ours.dropout = 0.0
    torch.testing.assert_close(ours(x)[0], theirs(x)[0], rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", ["LSTM", "GRU"])
def test_rnn_unbatched(name):
    ours, theirs = twins(getattr(layers, name), getattr(nn, name), 3, 4, num_layers=2, bidirectional=True)
    check_parity(ours, theirs, lambda: (torch.randn(5, 3, dtype=torch.float64, requires_grad=True),), torch.float64)


@pytest.mark.parametrize("name", ["LSTM", "GRU"])
def test_rnn_gradcheck_packed_bidirectional(name):
    rnn = getattr(layers, name)(2, 3, bidirectional=True, batch_first=True).double()
    lengths = torch.tensor([3, 1, 2])
    x = torch.randn(3, 3, 2, dtype=torch.float64, requires_grad=True)

    def f(x, *w):
        seq = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, state = torch.func.functional_call(rnn, dict(zip([n for n, _ in rnn.named_parameters()], w)), (seq,))
        return out.data, state[0] if name == "LSTM" else state

    assert torch.autograd.gradcheck(f, (x, *rnn.parameters()))


@pytest.mark.parametrize("make,exc,match", [
    (lambda m: m(3, 0), ValueError, "hidden_size must be greater than zero"),
    (lambda m: m(3, 4, num_layers=0), ValueError, "num_layers must be greater than zero"),
    (lambda m: m(3, 4, dropout=1.5), ValueError, "dropout should be a number in range"),
    (lambda m: m(3, 4, dropout=True), ValueError, "dropout should be a number in range"),
    (lambda m: m(3, 4.0), TypeError, "hidden_size should be of type int"),
    (lambda m: m(3, 4)(torch.randn(2, 3, 5)), RuntimeError, "input.size\\(-1\\) must be equal to input_size"),
    (lambda m: m(3, 4)(torch.randn(2, 3, 3, 3)), ValueError, "Expected input to be 2D or 3D"),
])
@pytest.mark.parametrize("name", ["LSTM", "GRU"])
def test_rnn_bad_arguments_raise_what_torch_raises(name, make, exc, match):
    with pytest.raises(exc, match=match):
        make(getattr(nn, name))
    with pytest.raises(exc, match=match):
        make(getattr(layers, name))


def test_rnn_state_shape_and_projection_errors_match_torch():
    for m in (nn, layers):
        with pytest.raises(RuntimeError, match=r"Expected hidden\[0\] size \(1, 3, 4\), got \[1, 2, 4\]"):
            m.LSTM(3, 4)(torch.randn(2, 3, 3), (torch.zeros(1, 2, 4), torch.zeros(1, 3, 4)))
        with pytest.raises(RuntimeError, match=r"Expected hidden size \(1, 3, 4\), got \[2, 3, 4\]"):
            m.GRU(3, 4)(torch.randn(2, 3, 3), torch.zeros(2, 3, 4))
        with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
            m.LSTM(3, 4, proj_size=4)
        with pytest.raises(ValueError, match="proj_size argument is only supported for LSTM"):
            m.GRU(3, 4, proj_size=1)
        with pytest.raises(ValueError, match="Expected input to be 1D or 2D"):
            m.LSTMCell(3, 4)(torch.randn(2, 2, 3))
        with pytest.raises(RuntimeError, match="input has inconsistent input_size"):
            m.GRUCell(3, 4)(torch.randn(2, 5))
        with pytest.raises(RuntimeError, match="hidden0 has inconsistent hidden_size"):
            m.GRUCell(3, 4)(torch.randn(2, 3), torch.zeros(2, 5))
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        layers.LSTM(3, 4, dropout=0.5)
