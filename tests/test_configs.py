"""Each config group stays in its lane; twins and variants inherit instead of repeating; experiments compose."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
import yaml
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
MODELS = sorted(p.stem for p in (CONFIGS / "model").glob("*.yaml"))
EXPERIMENTS = sorted(p.stem for p in (CONFIGS / "experiment").glob("*.yaml"))
OPTIMIZER_TWINS = sorted(p.stem for p in (CONFIGS / "optimizer").glob("torch_*.yaml"))
LOSS_TWINS = sorted(p.stem for p in (CONFIGS / "loss").glob("torch_*.yaml"))
# what a model config may decide besides its own `model` node: its default loss and what the run monitors
MODEL_MAY_SET = {"model", "loss", "optimized_metric", "optimized_mode"}


def _compose(*overrides: str, config_dir: Path = CONFIGS) -> DictConfig:
    with initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
        return compose(config_name="train", overrides=list(overrides))


def _foreign(model: str, config_dir: Path = CONFIGS) -> dict[str, tuple]:
    """Top-level nodes that `model=<model>` changes outside its lane, compared with `model=mlp`
    (unresolved, so an interpolation counts as what it says, not as what it happens to resolve to)."""
    base = OmegaConf.to_container(_compose("model=mlp", config_dir=config_dir), resolve=False)
    got = OmegaConf.to_container(_compose(f"model={model}", config_dir=config_dir), resolve=False)
    return {key: (base.get(key), got.get(key)) for key in base.keys() | got.keys()
            if key not in MODEL_MAY_SET and base.get(key) != got.get(key)}


def _defaults(path: Path) -> list:
    return (yaml.safe_load(path.read_text()) or {}).get("defaults", [])


# --- model configs --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("model", MODELS)
def test_model_config_changes_nothing_outside_its_lane(model):
    """No optimizer hyperparameters, data, batch size, trainer or callback settings from a model config."""
    assert _foreign(model) == {}


@pytest.mark.parametrize("model", MODELS)
def test_model_config_overrides_no_group_but_loss(model):
    """Its defaults list may pick the loss, include its own group's files and subgroups, nothing else."""
    for entry in _defaults(CONFIGS / "model" / f"{model}.yaml"):
        if isinstance(entry, str):
            assert entry == "_self_" or (CONFIGS / "model" / f"{entry}.yaml").is_file(), entry
            continue
        (key, _value), = entry.items()
        if key.startswith("override "):
            assert key == "override /loss", f"model/{model}.yaml: {key} belongs in an experiment/ config"
        else:
            assert not key.startswith("/"), f"model/{model}.yaml: {key} reaches outside configs/model/"


@pytest.mark.parametrize("model", MODELS)
def test_model_config_reads_no_trainer_key(model):
    """Settings the model needs are its own keys (the GAN's accumulate_grad_batches, clip_val)."""
    assert "${trainer." not in (CONFIGS / "model" / f"{model}.yaml").read_text()


def test_lane_check_catches_a_model_that_sets_the_learning_rate(tmp_path):
    configs = tmp_path / "configs"
    shutil.copytree(CONFIGS, configs)
    (configs / "model" / "rogue.yaml").write_text(
        "# @package _global_\ndefaults:\n  - override /data: diabetes\n"
        "model:\n  _target_: models.MLP\noptimizer:\n  lr: 0.02\n")
    assert set(_foreign("rogue", configs)) == {"data", "optimizer"}


def test_vae_mlp_is_vae_with_three_values_changed():
    vae, vae_mlp = _compose("model=vae").model, _compose("model=vae_mlp").model
    assert vae.keys() == vae_mlp.keys()
    changed = {k for k in vae if vae[k] != vae_mlp[k]}
    assert changed == {"arch", "latent_dim", "hidden_sizes"}
    assert (vae_mlp.arch, vae_mlp.latent_dim, list(vae_mlp.hidden_sizes)) == ("mlp", 20, [400])


def test_generative_models_share_one_judge():
    judges = {m: _compose(f"model={m}").model.judge for m in ("autoencoder", "vae", "vae_mlp", "gan")}
    shared = OmegaConf.load(CONFIGS / "model" / "judge" / "default.yaml")
    assert all(j == shared for j in judges.values()), judges
    assert [p.name for p in CONFIGS.rglob("*.yaml") if "min_steps:" in p.read_text()] == ["default.yaml"]


# --- torch twins ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("twin", OPTIMIZER_TWINS)
def test_optimizer_twin_is_ours_with_torch_class(twin):
    ours = _compose(f"optimizer={twin.removeprefix('torch_')}").optimizer
    theirs = _compose(f"optimizer={twin}").optimizer
    assert {k: v for k, v in ours.items() if k != "_target_"} == {k: v for k, v in theirs.items() if k != "_target_"}
    assert ours._target_.startswith("optimizers.") and theirs._target_.startswith("torch.optim.")
    assert set(yaml.safe_load((CONFIGS / "optimizer" / f"{twin}.yaml").read_text())) == {"defaults", "_target_"}
    # torch's class takes every key ours sets (an unknown keyword would raise TypeError here)
    param = torch.nn.Parameter(torch.zeros(3))
    opt = instantiate(theirs)([param])
    assert type(opt).__module__.startswith("torch.optim") and opt.defaults["lr"] == ours.lr
    assert type(instantiate(ours)([param])).__name__ == type(opt).__name__


@pytest.mark.parametrize("twin", LOSS_TWINS)
def test_loss_twin_is_ours_with_torch_class(twin):
    ours = _compose(f"loss={twin.removeprefix('torch_')}").loss
    theirs = _compose(f"loss={twin}").loss
    assert {k: v for k, v in ours.items() if k != "_target_"} == {k: v for k, v in theirs.items() if k != "_target_"}
    assert theirs._target_.startswith("torch.nn.")
    assert set(yaml.safe_load((CONFIGS / "loss" / f"{twin}.yaml").read_text())) == {"defaults", "_target_"}
    assert type(instantiate(theirs)).__name__ == type(instantiate(ours)).__name__


# --- experiments --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_composes_and_instantiates(experiment):
    cfg = _compose(f"experiment={experiment}")
    data = instantiate(cfg.data, _convert_="all")
    model = instantiate(cfg.model, _convert_="all")
    assert data.batch_size == cfg.data.batch_size
    assert sum(p.numel() for p in model.parameters()) > 0


def test_experiments_hold_the_combinations_model_configs_gave_up():
    mlp = _compose("experiment=cheatsheet_mlp")
    assert mlp.data._target_.endswith("FashionMNISTDataModule") and list(mlp.model.hidden_sizes) == [500, 200, 100]
    gan = _compose("experiment=gan_fashion")
    assert gan.data._target_.endswith("FashionMNISTDataModule") and gan.data.batch_size == 16
    assert (gan.optimizer.lr, list(gan.optimizer.betas)) == (0.0002, [0.5, 0.999])
    assert _compose("experiment=logistic_digits").optimizer.lr == 0.02
    assert _compose("experiment=linear_diabetes").data._target_.endswith("DiabetesDataModule")
    # the model alone keeps the optimizer the command line picked, at that optimizer's own settings
    assert _compose("model=logistic", "optimizer=sgd").optimizer == _compose("optimizer=sgd").optimizer
