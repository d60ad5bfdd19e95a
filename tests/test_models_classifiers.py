"""The classifier zoo: every model trains on its default data, shapes, the Elman cell, penalties, closures."""
from __future__ import annotations

import functools
import json

import pytest
import torch

from conftest import names_dir
from torch import nn

from losses import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss
from models import CNN, RNN, ElmanCell, LinearRegression, LogisticRegression
from models._recall import RecallTable
from models.elman import Elman
from models.rnn import RecurrentNet
from optimizers import LBFGS, Adam
from train import train

ADAM = functools.partial(Adam, lr=1e-3)


def _names_root():
    from pathlib import Path

    return str(names_dir())


# --- every model on its default data, through train(cfg) -------------------------------------------------
@pytest.mark.parametrize("overrides, expect", [
    (["model=cnn"], "test/acc"),
    (["model=rnn"], "test/acc"),
    (["model=rnn", "model.cell=gru", "data=names", f"data.root={_names_root()}", "data.download=false"], "test/acc"),
    (["model=logistic"], "test/acc"),
    (["model=logistic", "data=breast_cancer", "loss=bce_with_logits"], "test/acc"),
    (["experiment=linear_diabetes"], "test/r2"),
])
def test_train_each_model(make_cfg, tmp_path, overrides, expect):
    metrics = train(make_cfg(*overrides))
    assert expect in metrics and "test/loss" in metrics and "train/loss" in metrics
    record = json.loads((tmp_path / "metrics.json").read_text())
    assert record["status"] == "ok"
    if expect == "test/acc":
        assert 0.0 <= metrics["test/acc"] <= 1.0
        assert (tmp_path / "recall.md").read_text().count("\n|") >= 3


def test_mlp_cheatsheet_config_is_the_784_500_200_100_10_network(make_cfg):
    cfg = make_cfg("experiment=cheatsheet_mlp")
    assert cfg.data._target_.endswith("FashionMNISTDataModule")
    assert list(cfg.model.hidden_sizes) == [500, 200, 100]
    from hydra.utils import instantiate

    model = instantiate(cfg.model, _convert_="all")
    widths = [(m.in_features, m.out_features) for m in model.modules() if isinstance(m, nn.Linear)]
    assert widths == [(784, 500), (500, 200), (200, 100), (100, 10)]


def test_linear_config_selects_diabetes_mse_and_minimizes_val_loss(make_cfg):
    cfg = make_cfg("experiment=linear_diabetes")
    assert cfg.data._target_.endswith("DiabetesDataModule")
    assert cfg.loss._target_ == "losses.MSELoss"
    assert cfg.optimized_metric == "val/loss" and cfg.optimized_mode == "min"
    # the command line still wins over the model config's choices
    assert make_cfg("experiment=linear_diabetes", "loss=huber").loss._target_ == "losses.HuberLoss"


# --- shapes ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 32, 32)])
def test_cnn_shapes(shape):
    model = CNN(shape, 10, ADAM, CrossEntropyLoss(), channels=[8, 16, 16])
    out = model(torch.rand(3, *shape))
    assert out.shape == (3, 10)
    # 'same' convolutions; pooling never shrinks a map below 2x2
    side = min(shape[1:])
    expected = side
    for _ in range(3):
        if expected >= 4:
            expected //= 2
    assert model.net.flat_features == 16 * expected * (expected if shape[1] == shape[2] else 0)


def test_cnn_pool_list_and_bad_values():
    net = CNN((1, 8, 8), 10, ADAM, CrossEntropyLoss(), channels=[4, 4], pool=[False, True]).net
    assert net.flat_features == 4 * 4 * 4
    with pytest.raises(ValueError, match="model.pool"):
        CNN((1, 8, 8), 10, ADAM, CrossEntropyLoss(), channels=[4, 4], pool=[True])
    with pytest.raises(ValueError, match="model.pooling"):
        CNN((1, 8, 8), 10, ADAM, CrossEntropyLoss(), pooling="median")


@pytest.mark.parametrize("cell", ["elman", "lstm", "gru"])
@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 32, 32)])
def test_rnn_image_shapes(cell, shape):
    model = RNN(shape, 10, ADAM, CrossEntropyLoss(), cell=cell, hidden_size=16, num_layers=2, bidirectional=True)
    assert model(torch.rand(2, *shape)).shape == (2, 10)


def test_rows_are_time_steps():
    x = torch.arange(2 * 3 * 4 * 5, dtype=torch.float32).view(2, 3, 4, 5)
    seq = RecurrentNet.rows_as_steps(x)
    assert seq.shape == (2, 4, 15)
    # step t holds row t of channel 0, then of channel 1, then of channel 2
    assert torch.equal(seq[1, 2], torch.cat([x[1, 0, 2], x[1, 1, 2], x[1, 2, 2]]))


def test_bad_cell_name():
    with pytest.raises(ValueError, match=r"model.cell must be one of elman, lstm, gru; got 'transformer'"):
        RNN((1, 8, 8), 10, ADAM, CrossEntropyLoss(), cell="transformer")


def test_bad_cell_name_from_cli_is_a_config_error(make_cfg):
    from runner import ConfigError

    with pytest.raises(ConfigError, match="model.cell"):
        train(make_cfg("model=rnn", "model.cell=lstmm"))


# --- the Elman cell ----------------------------------------------------------------------------------------
def test_elman_cell_equals_the_formula_float64():
    torch.manual_seed(0)
    cell = ElmanCell(5, 7).double()
    x, h = torch.randn(4, 5, dtype=torch.float64), torch.randn(4, 7, dtype=torch.float64)
    expected = torch.tanh(torch.cat([x, h], 1) @ cell.weight.T + cell.bias)  # h_t = tanh(W [x_t, h_{t-1}] + b)
    torch.testing.assert_close(cell(x, h), expected, rtol=1e-12, atol=1e-12)


def test_elman_layer_equals_torch_rnn_float64():
    torch.manual_seed(1)
    ours = Elman(5, 6, num_layers=2, bidirectional=True).double()
    ref = nn.RNN(5, 6, num_layers=2, batch_first=True, bidirectional=True, nonlinearity="tanh").double()
    with torch.no_grad():
        for layer in range(2):
            for d, suffix in enumerate(["", "_reverse"]):
                cell = ours.cells[layer * 2 + d]
                getattr(ref, f"weight_ih_l{layer}{suffix}").copy_(cell.w_x)
                getattr(ref, f"weight_hh_l{layer}{suffix}").copy_(cell.w_h)
                getattr(ref, f"bias_ih_l{layer}{suffix}").copy_(cell.bias)
                getattr(ref, f"bias_hh_l{layer}{suffix}").zero_()
    x = torch.randn(3, 9, 5, dtype=torch.float64)
    lengths = torch.tensor([9, 4, 1])
    packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    _, h_n = ref(packed)
    expected = torch.cat([h_n[-2], h_n[-1]], 1)
    torch.testing.assert_close(ours(x, lengths), expected, rtol=1e-12, atol=1e-12)
    # gradients flow through the hand-written loop as through torch's
    ours(x, lengths).sum().backward()
    assert all(c.weight.grad is not None and torch.isfinite(c.weight.grad).all() for c in ours.cells)


# --- names batches ---------------------------------------------------------------------------------------
def _names_batch():
    torch.manual_seed(2)
    lengths = torch.tensor([6, 2, 9, 1])
    chars = torch.randint(1, 58, (4, 9))
    chars[torch.arange(9) >= lengths.unsqueeze(1)] = 0
    return chars, lengths, torch.tensor([0, 5, 17, 3])


@pytest.mark.parametrize("cell", ["elman", "lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_rnn_on_names_batches_ignores_padding(cell, bidirectional):
    chars, lengths, labels = _names_batch()
    model = RNN(None, 18, ADAM, CrossEntropyLoss(), cell=cell, hidden_size=12, num_layers=2, embedding_dim=8,
                vocab_size=58, bidirectional=bidirectional).eval()
    out = model(chars, lengths)
    assert out.shape == (4, 18)
    # each name alone, without padding, gives the same logits: padding never reaches the state
    for i in range(4):
        alone = model(chars[i:i + 1, : lengths[i]], lengths[i:i + 1])
        torch.testing.assert_close(alone[0], out[i], rtol=1e-5, atol=1e-6)
    loss, n = model.training_loss((chars, lengths, labels))
    assert n == 4
    loss.backward()
    assert model.net.embedding.weight.grad[0].abs().sum() == 0  # padding_idx=0 gets no gradient


# --- penalties -------------------------------------------------------------------------------------------
def test_l1_l2_penalties_follow_the_cheatsheet():
    torch.manual_seed(3)
    model = LinearRegression([4], ADAM, MSELoss(), penalty={"l1": 0.3, "l2": 0.05}).double()
    w, b = model.linear.weight, model.linear.bias
    torch.testing.assert_close(model.penalty(), 0.3 * w.abs().sum() + 0.05 * (w ** 2).sum(), rtol=1e-14, atol=0)
    x, y = torch.randn(8, 4, dtype=torch.float64), torch.randn(8, 1, dtype=torch.float64)
    loss, _, penalty = model.regularization.training_loss(model, (x, y))  # what training_step adds up
    loss = loss + penalty
    data = ((x @ w.T + b - y) ** 2).mean()
    torch.testing.assert_close(loss, data + 0.3 * w.abs().sum() + 0.05 * (w ** 2).sum(), rtol=1e-14, atol=0)
    # the bias is never penalized
    loss.backward()
    torch.testing.assert_close(b.grad, (2 * (x @ w.T + b - y)).mean(0), rtol=1e-12, atol=1e-14)

    clf = LogisticRegression([4], 3, ADAM, CrossEntropyLoss(), penalty={"l1": 0.1, "l2": 0.2}).double()
    w = clf.linear.weight
    torch.testing.assert_close(clf.penalty(), 0.1 * w.abs().sum() + 0.2 * (w ** 2).sum(), rtol=1e-14, atol=0)
    assert LogisticRegression([4], 3, ADAM, CrossEntropyLoss()).penalty() is None
    with pytest.raises(ValueError, match="model.penalty.l2"):
        LogisticRegression([4], 3, ADAM, CrossEntropyLoss(), penalty={"l2": -1.0})


def test_logistic_picks_binary_or_multinomial_and_checks_the_loss():
    binary = LogisticRegression([5], 2, ADAM, BCEWithLogitsLoss())
    assert binary.linear.out_features == 1
    x, y = torch.randn(6, 5), torch.tensor([0, 1, 1, 0, 1, 0])
    z = binary(x)
    expected = nn.functional.binary_cross_entropy_with_logits(z.squeeze(-1), y.float())
    torch.testing.assert_close(binary.compute_loss(z, y), expected)
    assert torch.equal(binary.metric_input(z), (torch.sigmoid(z.squeeze(-1)) > 0.5).long())
    assert LogisticRegression([5], 2, ADAM, CrossEntropyLoss(), multinomial=True).linear.out_features == 2
    assert LogisticRegression([5], 10, ADAM, CrossEntropyLoss()).linear.out_features == 10
    with pytest.raises(ValueError, match="loss=bce_with_logits"):
        LogisticRegression([5], 2, ADAM, CrossEntropyLoss())
    with pytest.raises(ValueError, match="loss=BCEWithLogitsLoss does not fit model=logistic; allowed: cross_entropy"):
        LogisticRegression([5], 10, ADAM, BCEWithLogitsLoss())
    with pytest.raises(ValueError, match="loss=CrossEntropyLoss does not fit model=linear; allowed: mse, l1, huber"):
        LinearRegression([5], ADAM, CrossEntropyLoss())


def test_loss_kind_knows_ours_and_torchs_classes_and_models_refuse_other_kinds():
    import losses
    from models import MLP, VAE, Autoencoder
    from models._loss_kind import KINDS, loss_kind

    assert loss_kind(CrossEntropyLoss()) == loss_kind(nn.CrossEntropyLoss()) == "class_index"
    assert loss_kind(BCEWithLogitsLoss()) == loss_kind(nn.BCEWithLogitsLoss()) == "binary_logit"
    assert loss_kind(MSELoss()) == loss_kind(nn.SmoothL1Loss()) == "regression"
    assert loss_kind(losses.VAELoss()) == "elbo" and loss_kind(nn.Identity()) is None
    # every hand-written loss has exactly one kind
    for name in losses.__all__:
        assert sum(issubclass(getattr(losses, name), classes) for classes in KINDS.values()) == 1, name
    with pytest.raises(ValueError, match="loss=MSELoss does not fit model=mlp; allowed: cross_entropy"):
        MLP([1, 8, 8], 10, ADAM, MSELoss())
    with pytest.raises(ValueError, match="loss=BCEWithLogitsLoss does not fit model=autoencoder; allowed: mse, l1, hu"):
        Autoencoder([1, 8, 8], 10, ADAM, BCEWithLogitsLoss())
    with pytest.raises(ValueError, match="loss=MSELoss does not fit model=vae"):
        VAE([1, 8, 8], 10, ADAM, MSELoss())
    MLP([1, 8, 8], 10, ADAM, nn.CrossEntropyLoss())  # torch's own loss is as welcome as ours


def test_classifier_loss_of_another_kind_fails_before_training(make_cfg, tmp_path):
    from runner import ConfigError

    with pytest.raises(ConfigError, match="loss=MSELoss does not fit model=mlp"):
        train(make_cfg("loss=mse"))
    assert not (tmp_path / "metrics.csv").exists()


def test_backward_keeps_the_graph_when_the_optimizer_asks_for_it(tmp_path):
    """Newton's Hessian-vector products differentiate the gradient: models/_base.py's backward hook passes
    create_graph=True when an optimizer has `needs_create_graph`, and only then."""
    import pytorch_lightning as pl

    seen = []

    class Probe(torch.optim.SGD):
        needs_create_graph = False

        def step(self, closure=None):
            loss = closure()
            seen.append(all(p.grad is not None and p.grad.requires_grad for p in self.param_groups[0]["params"]))
            return loss

    class Asks(Probe):
        needs_create_graph = True

    for opt, expect in ((Probe, False), (Asks, True)):
        model = LinearRegression([3], functools.partial(opt, lr=0.1), MSELoss())
        data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(4, 3), torch.randn(4)),
                                           batch_size=4)
        pl.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                   enable_model_summary=False, default_root_dir=str(tmp_path)).fit(model, data)
        assert seen.pop() is expect


# --- closure optimizers through Lightning's automatic optimization -----------------------------------------
@pytest.mark.parametrize("optimizer", ["lbfgs", "newton"])
def test_closure_optimizer_trains_logistic_regression_full_batch(make_cfg, optimizer):
    cfg = make_cfg("model=logistic", "data=breast_cancer", "loss=bce_with_logits", f"optimizer={optimizer}",
                   "optimizer.lr=1.0", "model.penalty.l1=0.0", "model.penalty.l2=1e-3", "data.batch_size=1000",
                   "trainer.max_epochs=3", tiny=False)
    cfg.callbacks.progress_bar = None
    metrics = train(cfg)
    assert metrics["test/acc"] >= 0.93
    assert metrics["train/loss"] < 0.15


def test_compile_flag_reaches_the_net():
    model = CNN((1, 8, 8), 10, ADAM, CrossEntropyLoss(), channels=[4], compile=True)
    model.setup("fit")
    assert isinstance(model.net, torch._dynamo.eval_frame.OptimizedModule)
    lin = LinearRegression([3], ADAM, MSELoss(), compile=True)
    lin.setup("fit")
    assert isinstance(lin.net, torch._dynamo.eval_frame.OptimizedModule)


def test_recall_table_counts_every_test_image_and_matches_a_direct_count(make_cfg, tmp_path):
    import hydra
    import pytorch_lightning as pl

    cfg = make_cfg(tiny=False)
    dm = hydra.utils.instantiate(cfg.data, _convert_="all")
    model = hydra.utils.instantiate(cfg.model, _convert_="all")
    trainer = pl.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False,
                         default_root_dir=str(tmp_path))
    trainer.test(model, datamodule=dm, verbose=False)  # untrained: recall differs from class to class
    x, y = dm.test_set
    with torch.no_grad():
        pred = model.eval()(x).argmax(1)
    # the model brings the callback itself (configure_callbacks): a plain Trainer writes recall.md too
    table = next(cb for cb in trainer.callbacks if isinstance(cb, RecallTable)).report
    assert (tmp_path / "recall.md").read_text() == "# Test recall per class\n\n" + table + "\n"
    rows = [line.split("|")[1:-1] for line in table.splitlines()[2:]]
    support = torch.tensor([int(r[1]) for r in rows])
    recall = torch.tensor([float(r[2]) for r in rows])
    assert int(support.sum()) == len(y)
    assert torch.equal(support, torch.bincount(y, minlength=10))
    direct = torch.stack([(pred[y == c] == c).float().mean() for c in range(10)])
    torch.testing.assert_close(recall, direct, rtol=0, atol=5e-4)  # the table shows 3 decimals


def test_linear_regression_on_classification_data_is_one_line_before_training(make_cfg, tmp_path):
    """model.yaml no longer switches the data (configs stay in their lane), so model=linear alone
    composes with digits: refused, pointing to regression data, before anything is trained."""
    from runner import ConfigError
    from train import train

    with pytest.raises(ConfigError, match="model=linear needs regression data.*data=diabetes") as info:
        train(make_cfg("model=linear"))
    assert "\n" not in str(info.value)
    assert not (tmp_path / "metrics.csv").exists()
    assert "metrics.csv" not in {p.name for p in tmp_path.rglob("*")}
