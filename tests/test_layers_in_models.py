"""model.layers=refzoo builds every zoo model from the hand-written layers: one training step's loss has
no torch layer backward in its graph and the model holds no torch.nn layer module; with model.layers=torch
the same checks find torch's (so they can fail). Both settings start from the same weights (same seed) and
give the same loss, so a checkpoint of one loads into the other."""
from __future__ import annotations

import pytest
import torch
from hydra.utils import instantiate

import layers
from _train_cli import QUICK, cli

# (id, overrides, whether torch's version of the model leaves torch layer kernels in the graph on the CPU:
# batch norm, convolutions, pooling, embeddings, the CPU LSTM (oneDNN); Linear, dropout and the CPU GRU leave
# elementary ops only, which the module check covers)
CASES = [
    ("mlp", ["model=mlp"], True),
    ("cheatsheet_mlp", ["experiment=cheatsheet_mlp"], True),
    ("cnn", ["model=cnn"], True),
    ("cnn_avg", ["model=cnn", "model.pooling=avg"], True),
    ("rnn_elman", ["model=rnn", "model.cell=elman"], False),
    ("rnn_lstm", ["model=rnn", "model.cell=lstm"], True),
    ("rnn_gru", ["model=rnn", "model.cell=gru"], False),
    ("rnn_lstm_names", ["model=rnn", "data=names", "model.cell=lstm", "model.bidirectional=true"], True),
    ("rnn_gru_names", ["model=rnn", "data=names", "model.cell=gru"], True),
    ("autoencoder", ["model=autoencoder"], False),
    ("autoencoder_conv", ["model=autoencoder", "model.arch=conv"], True),
    ("vae", ["model=vae"], True),
    ("vae_mlp", ["model=vae_mlp"], False),
    ("gan", ["model=gan"], True),
    ("gan_dcgan", ["model=gan", "model.arch=dcgan"], True),
    ("logistic", ["model=logistic"], False),
    ("linear", ["model=linear", "data=diabetes"], False),
]


def _batch(cfg, n: int = 8):
    gen = torch.Generator().manual_seed(0)
    data = cfg.data
    if "vocab_size" in data:  # characters: codes padded with 0 past each length, then the labels
        lengths = torch.tensor([7, 3, 5, 1, 7, 2, 4, 6][:n])
        codes = torch.randint(1, int(data.vocab_size), (n, 7), generator=gen)
        codes[torch.arange(7) >= lengths.unsqueeze(1)] = 0
        return codes, lengths, torch.randint(0, int(data.num_classes), (n,), generator=gen)
    x = torch.rand(n, *data.input_shape, generator=gen)
    if "output_dim" in data:
        return x, torch.randn(n, generator=gen)
    return x, torch.randint(0, int(data.num_classes), (n,), generator=gen)


def _training_loss(model, batch) -> torch.Tensor:
    """The loss one training step back-propagates (the GAN: its D and G losses together)."""
    if hasattr(model, "generator"):
        x = batch[0]
        z = torch.randn(x.shape[0], model.latent_dim)
        real, fake = model.discriminator(x), model.discriminator(model.generator(z))
        return model.loss_fn(real, torch.ones_like(real)) + model.loss_fn(fake, torch.ones_like(fake))
    loss, _ = model.training_loss(batch)
    return loss


def _build_and_loss(make_cfg, overrides, kind):
    cfg = make_cfg(*overrides, f"model.layers={kind}")
    torch.manual_seed(0)
    model = instantiate(cfg.model, _convert_="all")
    model.train()
    initial = {key: value.clone() for key, value in model.state_dict().items()}
    torch.manual_seed(1)  # dropout masks and noise: the same draws for both settings
    return model, initial, _training_loss(model, _batch(cfg))


@pytest.mark.parametrize("overrides,torch_kernels", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_refzoo_layers_leave_no_torch_layer_in_a_training_step(make_cfg, overrides, torch_kernels):
    ours, initial_o, loss = _build_and_loss(make_cfg, overrides, "refzoo")
    assert layers.torch_layer_nodes(loss) == []
    assert layers.torch_layer_modules(ours) == []
    names = layers.graph_nodes(loss)
    assert any(name.startswith("_") and name.endswith("FnBackward") for name in names), names

    theirs, initial_t, loss_t = _build_and_loss(make_cfg, overrides, "torch")
    assert layers.torch_layer_modules(theirs), "the control found no torch layer module"
    assert bool(layers.torch_layer_nodes(loss_t)) == torch_kernels
    # same seed, same weights, same names: the two settings are one model, and one step gives the same
    # loss and the same batch-norm statistics
    assert list(initial_o) == list(initial_t)
    for key, value in initial_t.items():
        assert torch.equal(initial_o[key], value), key
    torch.testing.assert_close(loss, loss_t, rtol=1.3e-6, atol=1e-5)
    for (key, value_o), value_t in zip(ours.state_dict().items(), theirs.state_dict().values()):
        torch.testing.assert_close(value_o, value_t, rtol=1.3e-6, atol=1e-5, msg=key)


def test_bad_layers_value_is_one_line_naming_the_key(tmp_path):
    result = cli(*QUICK, "model=cnn", "model.layers=cudnn", f"hydra.run.dir={tmp_path / 'run'}")
    assert result.code == 2, result.out[-3000:]
    assert len(result.lines) == 1 and "Traceback" not in result.out, result.out
    assert "model.layers must be one of torch, refzoo; got 'cudnn'" in result.out
    assert not (tmp_path / "run" / "metrics.csv").exists()
