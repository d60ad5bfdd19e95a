"""pyproject.toml, requirements/lock.txt and the environment the tests run in agree with one another."""
from __future__ import annotations

import importlib.metadata
import importlib.util
import shutil
from pathlib import Path

import pytest
from packaging.markers import Marker

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("refzoo_lock", ROOT / "requirements" / "lock.py")
lock = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lock)


def test_lock_matches_pyproject():
    assert lock.problems() == []


def test_tests_run_on_the_locked_versions():
    """The versions installed here are the lock's, so "the tests pass" is a statement about the lock."""
    pins, _ = lock.read_lock()
    wrong = {}
    for name, (version, marker) in pins.items():
        if marker and not Marker(marker).evaluate():
            continue
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            installed = None
        if installed != version:
            wrong[name] = (version, installed)
    assert wrong == {}, "locked vs installed (run `make .venv/.installed`): " + repr(wrong)


@pytest.fixture
def copied(tmp_path):
    """A copy of pyproject.toml and the lock to break on purpose."""
    pyproject, locked = tmp_path / "pyproject.toml", tmp_path / "lock.txt"
    shutil.copy(lock.PYPROJECT, pyproject)
    shutil.copy(lock.LOCK, locked)
    return pyproject, locked


def test_check_catches_a_range_the_lock_misses(copied):
    pyproject, locked = copied
    pyproject.write_text(pyproject.read_text().replace('"torch>=2.14,<3"', '"torch>=3,<4"'))
    found = lock.problems(locked, pyproject)
    assert len(found) == 2
    assert "dependency hash" in found[0] and "make lock" in found[0]
    assert found[1] == f"pyproject.toml requires 'torch>=3,<4' but lock.txt pins torch=={lock.read_lock()[0]['torch'][0]}"


def test_check_catches_a_dependency_missing_from_the_lock(copied):
    pyproject, locked = copied
    locked.write_text("".join(l for l in locked.read_text().splitlines(True) if not l.startswith("rich==")))
    assert lock.problems(locked, pyproject) == [
        "pyproject.toml requires 'rich>=15.0,<16' but lock.txt has no rich: run `make lock`"]


def test_check_catches_an_edit_inside_the_old_range(copied):
    """Widening a bound keeps the old pins valid; the hash still says the lock is stale."""
    pyproject, locked = copied
    pyproject.write_text(pyproject.read_text().replace('"torch>=2.14,<3"', '"torch>=2.13,<3"'))
    found = lock.problems(locked, pyproject)
    assert len(found) == 1 and "dependency hash" in found[0]


def test_check_wants_both_bounds(copied):
    pyproject, locked = copied
    pyproject.write_text(pyproject.read_text().replace('"torch>=2.14,<3"', '"torch>=2.14"'))
    found = lock.problems(locked, pyproject)
    assert any(p.startswith("pyproject.toml's 'torch>=2.14' needs a lower bound") for p in found)
