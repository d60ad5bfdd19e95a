"""model.penalty, model.noise, model.init/init_bias, logistic one-vs-rest and names' random deletion, each
against the formula it implements (models/_regularization.py, models/_penalty.py, datamodules/_text_augment.py)."""
from __future__ import annotations

import math
from functools import partial

import pytest
import torch
from torch import nn

import layers
from datamodules._text_augment import RandomDeletion, delete_characters
from losses import BCEWithLogitsLoss, CrossEntropyLoss
from models import CNN, MLP, RNN, Autoencoder, LogisticRegression
from models._penalty import weights
from models._regularization import INITS, initialize

ADAM = partial(torch.optim.Adam, lr=1e-3)
SGD = partial(torch.optim.SGD, lr=0.5)


def tiny_mlp(kind: str = "torch", **kwargs) -> MLP:
    return MLP([4], 3, ADAM, CrossEntropyLoss(), hidden_sizes=[5], batch_norm=True, dropout=0.0,
               layers=kind, **kwargs).double()


# --- penalty ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["torch", "refzoo"])
def test_penalty_value_and_gradient_follow_the_formula(kind):
    torch.manual_seed(0)
    model = tiny_mlp(kind, penalty={"l1": 0.3, "l2": 0.05})
    linears = [m for m in model.modules() if isinstance(m, (nn.Linear, layers.Linear))]
    assert len(linears) == 2
    ws = [m.weight for m in linears]
    penalty = model.penalty()
    expected = sum(0.3 * w.abs().sum() + 0.05 * (w ** 2).sum() for w in ws)
    torch.testing.assert_close(penalty, expected, rtol=1e-14, atol=0)
    penalty.backward()
    # d/dw [l1 |w| + l2 w^2] = l1 sign(w) + 2 l2 w on the weights; nothing on biases or batch norm's scale/shift
    for w in ws:
        torch.testing.assert_close(w.grad, 0.3 * torch.sign(w) + 2 * 0.05 * w, rtol=1e-12, atol=0)
    weight_ids = {id(w) for w in ws}
    others = [(n, p) for n, p in model.named_parameters() if id(p) not in weight_ids]
    assert {n.rsplit(".", 1)[1] for n, _ in others} == {"bias", "weight"}  # biases and BatchNorm1d's weight
    assert all(p.grad is None for _, p in others)


def test_penalty_is_added_to_the_training_loss_only():
    torch.manual_seed(1)
    model = tiny_mlp(penalty={"l1": 0.0, "l2": 0.2})
    x, y = torch.randn(6, 4, dtype=torch.float64), torch.randint(0, 3, (6,))
    data_loss, n, penalty = model.regularization.training_loss(model, (x, y))
    torch.testing.assert_close(data_loss, model.training_loss((x, y))[0], rtol=0, atol=0)
    w = [p for p in weights(model)]
    torch.testing.assert_close(penalty, 0.2 * sum((v ** 2).sum() for v in w), rtol=1e-14, atol=0)
    assert "train/penalty" in model.means.names
    assert tiny_mlp().penalty() is None and "train/penalty" not in tiny_mlp().means.names


def test_penalty_reaches_recurrent_and_embedding_weights_not_biases():
    model = RNN(None, 5, ADAM, CrossEntropyLoss(), cell="lstm", hidden_size=4, embedding_dim=3, vocab_size=7,
                penalty={"l2": 1.0})
    chosen = {id(p) for p in weights(model)}
    picked = sorted(n for n, p in model.named_parameters() if id(p) in chosen)
    assert picked == ["net.embedding.weight", "net.head.weight", "net.rnn.weight_hh_l0", "net.rnn.weight_ih_l0"]
    elman = RNN([1, 4, 4], 3, ADAM, CrossEntropyLoss(), cell="elman", hidden_size=4, num_layers=2)
    names = sorted(n for n, p in elman.named_parameters() if id(p) in {id(w) for w in weights(elman)})
    assert names and all(n.endswith("weight") for n in names) and len(names) == 3  # two cells and the head


def test_penalty_errors_name_the_key():
    with pytest.raises(ValueError, match=r"model.penalty.l2 must be a non-negative number, got -1.0"):
        tiny_mlp(penalty={"l2": -1.0})
    with pytest.raises(ValueError, match=r"model.penalty: unknown keys \['l3'\]; allowed: l1, l2"):
        tiny_mlp(penalty={"l3": 1.0})


# --- noise --------------------------------------------------------------------------------------------------
def test_input_and_weight_noise_only_in_training():
    torch.manual_seed(2)
    model = tiny_mlp(noise={"input_std": 0.5, "weight_std": 0.1})
    x, y = torch.randn(8, 4, dtype=torch.float64), torch.randint(0, 3, (8,))
    model.eval()
    first, second = model(x), model(x)
    torch.testing.assert_close(first, second, rtol=0, atol=0)
    assert torch.equal(model.regularization.training_loss(model, (x, y))[0], model.training_loss((x, y))[0])
    model.train()
    a, b = model.regularization.training_loss(model, (x, y))[0], model.regularization.training_loss(model, (x, y))[0]
    assert not torch.equal(a, b)
    assert not torch.equal(model(x), model(x))  # input noise: the forward itself


def test_weight_noise_trains_the_clean_weights():
    """loss(w + eps) with eps ~ N(0, s^2): the gradient reaches w and equals the gradient at w + eps."""
    torch.manual_seed(3)
    model = LogisticRegression([4], 3, SGD, CrossEntropyLoss(), penalty={"l1": 0.0}, noise={"weight_std": 0.2})
    model.double()
    x, y = torch.randn(10, 4, dtype=torch.float64), torch.randint(0, 3, (10,))
    torch.manual_seed(7)
    eps = model.regularization.noisy_weights(model)["model.net.1.weight"].detach() - model.linear.weight.detach()
    clean = [model.linear.weight, model.linear.bias]
    torch.manual_seed(7)
    loss, _, _ = model.regularization.training_loss(model, (x, y))
    loss.backward()
    # the clean parameters are back in place (LogisticRegression's `linear` is an alias of net[1])
    assert model.linear.weight is clean[0] and model.net[1].weight is clean[0] and model.linear.bias is clean[1]
    w = (model.linear.weight.detach() + eps).requires_grad_(True)
    expected = CrossEntropyLoss()(x @ w.T + model.linear.bias.detach(), y)
    expected.backward()
    torch.testing.assert_close(loss, expected, rtol=1e-14, atol=0)
    torch.testing.assert_close(model.linear.weight.grad, w.grad, rtol=1e-12, atol=0)
    assert model.linear.bias.grad is not None and bool((eps != 0).all())


def test_noise_errors():
    with pytest.raises(ValueError, match=r"label noise is label smoothing; set loss.label_smoothing=0.1"):
        tiny_mlp(noise={"label": 0.1})
    with pytest.raises(ValueError, match=r"model.noise.input_std must be a non-negative number"):
        tiny_mlp(noise={"input_std": -0.1})
    model = RNN(None, 5, ADAM, CrossEntropyLoss(), cell="gru", hidden_size=4, vocab_size=7,
                noise={"input_std": 0.1})
    with pytest.raises(ValueError, match=r"data.augment.deletion_p"):
        model(torch.randint(1, 7, (2, 3)), torch.tensor([3, 2]))


def test_autoencoder_input_noise_denoises_against_the_clean_target():
    torch.manual_seed(4)
    model = Autoencoder([1, 4, 4], 10, ADAM, torch.nn.MSELoss(), hidden_sizes=[8], latent_dim=2,
                        noise={"input_std": 0.3})
    x = torch.rand(5, 1, 4, 4)
    torch.manual_seed(9)
    loss, _ = model.training_loss((x, torch.zeros(5)))
    torch.manual_seed(9)
    noisy = x + 0.3 * torch.randn_like(x)
    model.eval()
    torch.testing.assert_close(loss, torch.nn.MSELoss()(model(noisy), x))


# --- initialization -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["torch", "refzoo"])
def test_he_normal_std_and_bias(kind):
    torch.manual_seed(5)
    model = MLP([512], 512, ADAM, CrossEntropyLoss(), hidden_sizes=[512], batch_norm=False, layers=kind,
                init="he_normal", init_bias=0.1)
    linears = [m for m in model.modules() if isinstance(m, (nn.Linear, layers.Linear))]
    assert len(linears) == 2 and all(tuple(m.weight.shape) == (512, 512) for m in linears)
    for m in linears:
        assert abs(m.weight.std().item() / math.sqrt(2 / 512) - 1) < 0.03
        assert abs(m.weight.mean().item()) < 0.03 * math.sqrt(2 / 512) * 10
        assert torch.equal(m.bias, torch.full_like(m.bias, 0.1))


@pytest.mark.parametrize("init, std", [("he_uniform", lambda i, o: math.sqrt(2 / i)),
                                       ("xavier_normal", lambda i, o: math.sqrt(2 / (i + o))),
                                       ("xavier_uniform", lambda i, o: math.sqrt(2 / (i + o)))])
def test_other_inits_have_their_std(init, std):
    torch.manual_seed(6)
    layer = nn.Sequential(nn.Linear(256, 768), layers.Linear(768, 256))
    initialize(layer, init)
    for m, (i, o) in zip(layer, [(256, 768), (768, 256)]):
        assert abs(m.weight.std().item() / std(i, o) - 1) < 0.03
    if init.endswith("uniform"):  # U(-b, b) with b = sqrt(3) std
        assert layer[0].weight.abs().max().item() <= math.sqrt(3) * std(256, 768)


def test_init_reaches_conv_layers_of_both_kinds_and_leaves_norms():
    torch.manual_seed(7)
    for kind in ("torch", "refzoo"):
        model = CNN((1, 8, 8), 10, ADAM, CrossEntropyLoss(), channels=[64], batch_norm=True, layers=kind,
                    init="he_normal", init_bias=0.1)
        conv = next(m for m in model.modules() if isinstance(m, (nn.Conv2d, layers.Conv2d)))
        assert abs(conv.weight.std().item() / math.sqrt(2 / 9) - 1) < 0.05  # 64*9 draws
        norm = next(m for m in model.modules() if isinstance(m, (nn.BatchNorm2d, layers.BatchNorm2d)))
        assert torch.equal(norm.weight, torch.ones(64)) and torch.equal(norm.bias, torch.zeros(64))
    deconv = nn.Sequential(nn.ConvTranspose2d(3, 4, 2), layers.ConvTranspose2d(4, 3, 2))
    initialize(deconv, "torch", init_bias=0.1)
    assert all(torch.equal(m.bias, torch.full_like(m.bias, 0.1)) for m in deconv)


def test_bad_init_is_one_line():
    with pytest.raises(ValueError, match=f"model.init must be one of {', '.join(INITS)}; got 'lecun'"):
        tiny_mlp(init="lecun")
    with pytest.raises(ValueError, match="model.init_bias must be a number or null"):
        tiny_mlp(init_bias="x")


# --- one-vs-rest --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("optimizer", [SGD, partial(torch.optim.Adam, lr=0.05)])
def test_one_vs_rest_equals_independent_binary_regressions(optimizer):
    torch.manual_seed(8)
    x = torch.randn(60, 4, dtype=torch.float64)
    y = (x @ torch.randn(4, 3, dtype=torch.float64)).argmax(1)
    ovr = LogisticRegression([4], 3, optimizer, BCEWithLogitsLoss(), multiclass="ovr", penalty={"l2": 0.01}).double()
    binaries = []
    for c in range(3):
        b = LogisticRegression([4], 2, optimizer, BCEWithLogitsLoss(), penalty={"l2": 0.01}).double()
        with torch.no_grad():
            b.linear.weight.copy_(ovr.linear.weight[c:c + 1])
            b.linear.bias.copy_(ovr.linear.bias[c:c + 1])
        binaries.append(b)
    for model, target in [(ovr, y)] + [(b, (y == c).long()) for c, b in enumerate(binaries)]:
        opt = model.configure_optimizers()
        for _ in range(25):  # full batch, the same steps
            opt.zero_grad()
            loss, _, penalty = model.regularization.training_loss(model, (x, target))
            (loss + penalty).backward()
            opt.step()
    for c, b in enumerate(binaries):
        torch.testing.assert_close(ovr.linear.weight[c:c + 1], b.linear.weight, rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(ovr.linear.bias[c:c + 1], b.linear.bias, rtol=1e-12, atol=1e-14)
    # the prediction: argmax over the C binary classifiers' probabilities
    probs = torch.stack([torch.sigmoid(b(x).squeeze(-1)) for b in binaries], dim=1)
    assert torch.equal(ovr.metric_input(ovr(x)).argmax(1), probs.argmax(1))
    torch.testing.assert_close(ovr.predict_proba(x), probs / probs.sum(1, keepdim=True), rtol=1e-12, atol=0)


def test_one_vs_rest_needs_bce_with_logits():
    with pytest.raises(ValueError, match="model.multiclass=ovr .* loss=bce_with_logits; got CrossEntropyLoss"):
        LogisticRegression([4], 3, SGD, CrossEntropyLoss(), multiclass="ovr")
    with pytest.raises(ValueError, match="model.multiclass must be one of multinomial, ovr; got 'ova'"):
        LogisticRegression([4], 3, SGD, BCEWithLogitsLoss(), multiclass="ova")


# --- random deletion ----------------------------------------------------------------------------------------
def _names(codes, lengths):
    return [codes[i, : int(lengths[i])].tolist() for i in range(codes.shape[0])]


def _is_subsequence(short, long):
    it = iter(long)
    return all(c in it for c in short)


@pytest.mark.parametrize("p", [0.0, 0.3, 0.9, 0.999])
def test_deletion_never_empties_a_name_and_keeps_labels(p):
    torch.manual_seed(9)
    lengths = torch.randint(1, 12, (400,))
    codes = torch.randint(1, 58, (400, 11)) * (torch.arange(11)[None, :] < lengths[:, None])
    labels = torch.randint(0, 18, (400,))
    out_codes, out_lengths, out_labels = RandomDeletion(p)((codes, lengths, labels))
    assert torch.equal(out_labels, labels)
    assert int(out_lengths.min()) >= 1 and out_codes.shape[1] == int(out_lengths.max())
    assert torch.equal(out_codes != 0, torch.arange(out_codes.shape[1])[None, :] < out_lengths[:, None])
    assert all(_is_subsequence(a, b) for a, b in zip(_names(out_codes, out_lengths), _names(codes, lengths)))
    if p == 0.0:
        assert torch.equal(out_lengths, lengths)
    kept = out_lengths.sum().item() / lengths.sum().item()
    if p in (0.3, 0.9):  # ~1,900 characters: the kept share is 1 - p within a few standard errors
        assert abs(kept - (1 - p)) < 0.05 + (0.05 if p == 0.9 else 0)  # p = 0.9 also keeps emptied names' one


def test_deletion_probability_is_checked():
    with pytest.raises(ValueError, match=r"data.augment.deletion_p must be a probability in \[0, 1\), got 1.0"):
        RandomDeletion(1.0)
    codes, lengths = torch.tensor([[5, 6, 7]]), torch.tensor([3])
    assert torch.equal(delete_characters(codes, lengths, 0.0)[0], codes)


# --- through train.py ---------------------------------------------------------------------------------------
def test_switches_train_through_the_config(make_cfg):
    from train import train

    metrics = train(make_cfg("model.penalty.l2=0.01", "model.penalty.l1=0.001", "model.noise.input_std=0.1",
                             "model.noise.weight_std=0.01", "model.init=he_normal", "model.init_bias=0.1"))
    assert metrics["train/penalty"] > 0 and math.isfinite(metrics["test/acc"])


def test_names_deletion_and_bootstrap_train(make_cfg):
    from conftest import names_dir
    from train import train

    metrics = train(make_cfg("model=rnn", "data=names", f"data.root={names_dir()}", "data.augment.deletion_p=0.2",
                             "data.bootstrap=true", "model.hidden_size=8", "model.num_layers=1"))
    assert math.isfinite(metrics["test/acc"])
