"""Every bad value is one line naming the key, exit 2, before training; a failed run's folder says so.

The CLI runs in this process (tests/_train_cli.py): the same argv through Hydra, callbacks and train.py's
handler, without an interpreter start per case. The `slow` twin runs the same cases as subprocesses.
"""
from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from _train_cli import QUICK, cli, run
from conftest import names_dir

CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """One finished MLP run: its best (weights-only) and last checkpoints."""
    folder = tmp_path_factory.mktemp("finished") / "run"
    result = cli(*QUICK, f"hydra.run.dir={folder}")
    assert result.code == 0, result.out[-3000:]
    return folder


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("files")
    not_judge = base / "not_judge.pt"
    not_judge.write_text("not a checkpoint\n")
    a_file = base / "a_file"
    a_file.write_text("x\n")
    names = base / "names"
    shutil.copytree(names_dir(), names)
    (names / "Czech.txt").write_bytes(b"\xff\xfeNov\xe1k\n")  # Latin-1 / UTF-16 bytes, not UTF-8
    cifar = base / "cifar" / "cifar-10-batches-py"
    cifar.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]:
        batch = {"data": rng.integers(0, 256, (20, 3072), dtype=np.uint8), "labels": [i % 10 for i in range(20)]}
        (cifar / name).write_bytes(pickle.dumps(batch, protocol=2))
    (cifar / "batches.meta").write_bytes(pickle.dumps({"label_names": CIFAR_CLASSES}, protocol=2))
    (cifar / "data_batch_3").write_bytes(pickle.dumps({"data": 1}, protocol=2)[:9])  # cut off mid-file
    return {"not_judge": not_judge, "a_file": a_file, "names": names, "cifar": cifar.parent}


def cases(finished: Path, files: dict[str, Path], tmp: Path) -> dict[str, tuple[list[str], str]]:
    """name -> (overrides, what the one line must say)."""
    ckpts = finished / "checkpoints"
    return {
        "lr_text": (["optimizer.lr=abc"], "optimizer.lr must be a number, got 'abc'"),
        "betas_short": (["optimizer.betas=[0.9]"], "optimizer.betas must be a list of 2 numbers"),
        "seed_text": (["seed=abc"], "seed must be an integer, got 'abc'"),
        "val_fraction": (["data.val_fraction=1.5"], "data.val_fraction must be a number in (0, 1), got 1.5"),
        "devices_zero": (["trainer.devices=0"], "trainer.devices must be a positive integer"),
        "optimizer_null": (["optimizer=null"], "optimizer=null: the optimizer group takes one of"),
        "batch_size_text": (["data.batch_size=abc"], "data.batch_size must be a number, got 'abc'"),
        "loss_vs_task": (["loss=mse"], "loss=MSELoss does not fit model=mlp"),
        "compile_maybe": (["model.compile=maybe"], "model.compile must be true or false, got 'maybe'"),
        "clip_negative": (["trainer.gradient_clip_val=-1"], "trainer.gradient_clip_val must be null"),
        "fp16_on_cpu": (["trainer.precision=16-mixed"], "trainer.precision=16-mixed (float16 autocast) needs a CUDA GPU"),
        "ckpt_other_model": (["model=cnn", f"ckpt_path={ckpts / 'last.ckpt'}"],
                             "does not fit model=CNN with these sizes: the model has keys the checkpoint lacks: net."),
        "ckpt_other_shape": (["model.hidden_sizes=[64,128]", f"ckpt_path={ckpts / 'last.ckpt'}"],
                             "shapes differ (checkpoint vs model): net.1.0.weight [256, 64] vs [64, 64]"),
        "ckpt_best_weights": (["trainer.max_epochs=2", f"ckpt_path={ckpts / 'epoch_000.ckpt'}"],
                              f"holds the weights only (the best epoch's checkpoint), not the optimizer and loop "
                              f"state a resume needs; resume from ckpt_path={ckpts / 'last.ckpt'}"),
        "judge_missing": (["model=autoencoder", f"model.judge.path={tmp / 'nope.pt'}"],
                          f"model.judge.path: {tmp / 'nope.pt'} does not exist"),
        "judge_not_judge": (["model=autoencoder", f"model.judge.path={files['not_judge']}"],
                            f"model.judge.path: {files['not_judge']} is not a judge file"),
        "names_not_utf8": (["data=names", "model=rnn", f"data.root={files['names']}", "data.download=false"],
                           f"data error: {files['names'] / 'Czech.txt'} is not UTF-8 text (byte 0xff at offset 0)"),
        "cifar_corrupted": (["data=cifar10", f"data.root={files['cifar']}", "data.download=false", "data.val_size=10"],
                            f"data error: {files['cifar'] / 'cifar-10-batches-py' / 'data_batch_3'} is not a "
                            f"readable CIFAR batch (UnpicklingError"),
        "run_dir_in_proc": (["hydra.run.dir=/proc/refzoo-run"],
                            "hydra.run.dir=/proc/refzoo-run: cannot create the run folder: /proc does not accept "
                            "new folders"),
        "run_dir_under_file": ([f"hydra.run.dir={files['a_file'] / 'run'}"],
                               f"cannot create the run folder: {files['a_file']} is a file, not a folder"),
    }


NAMES = ["lr_text", "betas_short", "seed_text", "val_fraction", "devices_zero", "optimizer_null", "batch_size_text",
         "loss_vs_task", "compile_maybe", "clip_negative", "fp16_on_cpu", "ckpt_other_model", "ckpt_other_shape",
         "ckpt_best_weights", "judge_missing", "judge_not_judge", "names_not_utf8", "cifar_corrupted",
         "run_dir_in_proc", "run_dir_under_file"]
# raised after the run folder exists, so the folder must say how the run ended
RECORDED = {"val_fraction", "names_not_utf8", "cifar_corrupted", "ckpt_other_shape", "lr_text"}


def _check(name: str, result, expected: str, folder: Path) -> None:
    assert result.code == 2, result.out[-3000:]
    assert len(result.lines) == 1, result.out
    assert expected in result.out, result.out
    assert "Traceback" not in result.out
    assert not (folder / "metrics.csv").exists(), "training started before the error"
    if name in RECORDED:
        record = json.loads((folder / "metrics.json").read_text())
        assert record["status"] == "failed" and expected.replace("data error: ", "") in record["error"]


def _run_case(launch, name, finished, files, tmp_path):
    """Run case `name` through `launch` (in process or as a subprocess) into its own folder, then check it."""
    overrides, expected = cases(finished, files, tmp_path)[name]
    folder = tmp_path / "run"
    given = [o for o in overrides if o.startswith("hydra.run.dir=")]
    result = launch(*QUICK, *overrides, *([] if given else [f"hydra.run.dir={folder}"]))
    _check(name, result, expected, folder)


@pytest.mark.parametrize("name", NAMES)
def test_bad_value_is_one_line_exit_2(name, finished, files, tmp_path):
    _run_case(cli, name, finished, files, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_bad_value_is_one_line_exit_2_as_a_subprocess(name, finished, files, tmp_path):
    _run_case(run, name, finished, files, tmp_path)


def _offline_like_torchvision(self, target: Path) -> None:
    """What torchvision's FashionMNIST(download=True) does offline: makes <target>/FashionMNIST/raw, then
    raises a multi-line RuntimeError listing the mirrors (no network is touched here)."""
    (target / "FashionMNIST" / "raw").mkdir(parents=True, exist_ok=True)
    raise RuntimeError("Error downloading train-images-idx3-ubyte.gz:\nTried http://fashion-mnist.example/, got:\n"
                       "<urlopen error [Errno 111] Connection refused>\n")


def test_fashion_mnist_offline_is_one_line_and_leaves_no_folder(tmp_path, monkeypatch):
    from datamodules import FashionMNISTDataModule

    monkeypatch.setattr(FashionMNISTDataModule, "_download", _offline_like_torchvision)
    downloads = tmp_path / "cache" / "refzoo"
    result = cli(*QUICK, "data=fashion_mnist", f"data.download_dir={downloads}", "+data.system_dirs=[]",
                 f"hydra.run.dir={tmp_path / 'run'}")
    assert result.code == 2 and len(result.lines) == 1, result.out
    assert "data error: Fashion-MNIST not found. Looked in: download folder" in result.out
    assert "The download failed: RuntimeError: <urlopen error [Errno 111] Connection refused>." in result.out
    assert "Tried http" not in result.out and "set data.download=true" not in result.out  # it is already true
    assert "/usr/share/datasets" not in result.out.split("To get it")[0]  # data.system_dirs=[] hid it
    assert not downloads.exists(), "the failed download left folders behind"


def test_copied_last_checkpoint_of_a_deleted_run_resumes_and_tests(tmp_path):
    """The checkpoint remembers its old folder's best checkpoint; that file is gone: test the final weights."""
    old, new, elsewhere = tmp_path / "old", tmp_path / "new", tmp_path / "elsewhere"
    assert cli(*QUICK, f"hydra.run.dir={old}").code == 0
    elsewhere.mkdir()
    shutil.copy(old / "checkpoints" / "last.ckpt", elsewhere / "last.ckpt")
    shutil.rmtree(old)
    result = cli(*QUICK, f"ckpt_path={elsewhere / 'last.ckpt'}", f"hydra.run.dir={new}")
    assert result.code == 0, result.out[-3000:]
    assert "no longer exists" in (new / "train.log").read_text()
    record = json.loads((new / "metrics.json").read_text())
    assert record["status"] == "ok" and "test/acc" in record["metrics"]


def test_unreadable_data_in_a_sweep_job_is_a_failed_row(tmp_path, files):
    """The same one-line error inside a multirun: the job is recorded failed, the sweep goes on."""
    sweep = tmp_path / "sweep"
    result = cli("-m", *QUICK, "data=cifar10", f"data.root={files['cifar']}", "data.download=false",
                 "data.val_size=10", f"hydra.sweep.dir={sweep}")
    assert result.code == 0, result.out[-3000:]
    record = json.loads((sweep / "0" / "metrics.json").read_text())
    assert record["status"] == "failed" and "data_batch_3 is not a readable CIFAR batch" in record["error"]
