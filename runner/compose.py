"""The config `python train.py <overrides>` would see, composed in-process, writing into a chosen folder.

Tests and benchmarks call train(cfg) without Hydra's CLI; this sets what the CLI would (the run folder,
HydraConfig for the choices that metrics.json records).
"""
from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict, read_write

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def compose_config(overrides: list[str], output_dir: Path | str) -> DictConfig:
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose(config_name="train", overrides=list(overrides), return_hydra_config=True)
    with read_write(cfg), open_dict(cfg):
        cfg.paths.output_dir = str(output_dir)
        cfg.hydra.runtime.output_dir = str(output_dir)
        cfg.hydra.job.num = 0
    HydraConfig.instance().set_config(cfg)
    return cfg
