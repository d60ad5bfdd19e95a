"""requirements/lock.txt: the exact versions the tests pass with, and its agreement with pyproject.toml.

The lock pins every distribution that pyproject.toml's dependencies and all its extras bring, transitively,
pip and setuptools included (the Makefile builds the editable install with the locked setuptools), as
`pip freeze` reports them. The Makefile installs it with `--no-deps` and then checks it with `pip check`,
so a fresh clone gets exactly these versions and nothing else.

    python requirements/lock.py make [PYTHON]   resolve pyproject.toml in a throwaway venv, write the lock
    python requirements/lock.py freeze PYTHON   write the lock from PYTHON's environment as it is
    python requirements/lock.py check           exit 1 naming each disagreement with pyproject.toml

The lock's header carries a hash of pyproject.toml's dependency lists, so an edit there without a new
lock is caught even when the old pins still happen to satisfy the new ranges.
"""
from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
LOCK = ROOT / "requirements" / "lock.txt"
STAMP_PREFIX = "# pyproject-sha256: "
# torch's own metadata requires its CUDA runtime wheels and triton only where platform_system == "Linux";
# the lock repeats that marker so it also installs where those wheels do not exist
LINUX_ONLY = re.compile(r"^(nvidia-|cuda-|triton$)")
LINUX_MARKER = 'platform_system == "Linux"'


def normalize(name: str) -> str:
    """PEP 503 name: `PyYAML` and `pyyaml`, `typing_extensions` and `typing-extensions` are one package."""
    return re.sub(r"[-_.]+", "-", name).lower()


def project(pyproject: Path = PYPROJECT) -> dict:
    return tomllib.loads(pyproject.read_text())["project"]


def requirements(pyproject: Path = PYPROJECT) -> list[str]:
    """Every requirement string of pyproject.toml: the dependencies and those of every extra."""
    proj = project(pyproject)
    reqs = list(proj.get("dependencies", []))
    for extra in proj.get("optional-dependencies", {}).values():
        reqs.extend(extra)
    return reqs


def stamp(pyproject: Path = PYPROJECT) -> str:
    """Hash of what the lock was made from: requires-python, dependencies and extras."""
    proj = project(pyproject)
    what = {key: proj.get(key) for key in ("requires-python", "dependencies", "optional-dependencies")}
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()


def read_lock(path: Path = LOCK) -> tuple[dict[str, tuple[str, str | None]], str | None]:
    """({normalized name: (version, environment marker or None)}, stamp or None) from a lock file."""
    pins, found = {}, None
    for line in path.read_text().splitlines():
        if line.startswith(STAMP_PREFIX):
            found = line[len(STAMP_PREFIX):].strip()
        pin, _, marker = line.split("#", 1)[0].partition(";")
        if pin.strip():
            name, sep, version = pin.partition("==")
            if not sep:
                raise ValueError(f"{path}: every line must pin name==version, got {pin.strip()!r}")
            pins[normalize(name)] = (version.strip(), marker.strip() or None)
    return pins, found


def problems(lock: Path = LOCK, pyproject: Path = PYPROJECT) -> list[str]:
    """Each way pyproject.toml and the lock disagree, as a sentence; empty when they agree."""
    from packaging.requirements import Requirement

    pins, found = read_lock(lock)
    pins = {name: version for name, (version, _) in pins.items()}
    out = []
    if found != stamp(pyproject):
        out.append(f"{lock.name} was made from another pyproject.toml (dependency hash {found} != "
                   f"{stamp(pyproject)}): run `make lock`")
    for text in requirements(pyproject):
        req = Requirement(text)
        name = normalize(req.name)
        operators = {spec.operator for spec in req.specifier}
        if not operators & {">=", "~=", "=="} or not operators & {"<", "~=", "=="}:
            out.append(f"pyproject.toml's {text!r} needs a lower bound (the oldest tested release) and an "
                       "upper bound (before the next release that may break it)")
        if name not in pins:
            out.append(f"pyproject.toml requires {text!r} but {lock.name} has no {req.name}: run `make lock`")
        elif not req.specifier.contains(pins[name], prereleases=True):
            out.append(f"pyproject.toml requires {text!r} but {lock.name} pins {req.name}=={pins[name]}")
    return out


def freeze(python: str) -> None:
    """Write the lock from the environment of the interpreter `python` (the project itself left out)."""
    listed = subprocess.run([python, "-m", "pip", "freeze", "--all", "--exclude-editable"],
                            check=True, capture_output=True, text=True).stdout.splitlines()
    me = normalize(project()["name"])
    lines = []
    for line in sorted(listed, key=lambda s: normalize(s.split("==")[0])):
        name = line.split("==")[0].split(" @ ")[0].strip()
        if not line.strip() or normalize(name) == me:
            continue
        if " @ " in line or "==" not in line:
            raise SystemExit(f"{python}: {line!r} is not a registry release; the lock needs name==version")
        lines.append(f"{line}  ; {LINUX_MARKER}" if LINUX_ONLY.match(normalize(name)) else line)
    info = subprocess.run([python, "-c", "import platform; print(platform.python_implementation(), "
                           "platform.python_version(), platform.system(), platform.machine())"],
                          check=True, capture_output=True, text=True).stdout.strip()
    header = [
        "# Exact versions the test suite passes with: pyproject.toml's dependencies and all its extras,",
        "# transitively. Installed by the Makefile with --no-deps; regenerate with `make lock`.",
        f"# Made on {info} by requirements/lock.py.",
        f"{STAMP_PREFIX}{stamp()}",
    ]
    LOCK.write_text("\n".join(header + lines) + "\n")
    print(f"wrote {LOCK.relative_to(ROOT)}: {len(lines)} pins")


def make(python: str) -> None:
    """Resolve pyproject.toml afresh (newest releases inside its bounds) in a throwaway venv and lock that."""
    with tempfile.TemporaryDirectory(prefix="refzoo-lock-") as tmp:
        venv_python = str(Path(tmp) / "bin" / "python")
        subprocess.run([python, "-m", "venv", tmp], check=True)
        subprocess.run([venv_python, "-m", "pip", "install", "-q", "--upgrade", "pip", "setuptools"], check=True)
        # the requirements themselves, not the project: building it would leave build/ in the source tree
        subprocess.run([venv_python, "-m", "pip", "install", "-q", *requirements()], check=True)
        freeze(venv_python)


def main(argv: list[str]) -> int:
    command = argv[0] if argv else ""
    if command == "make" and len(argv) <= 2:
        make(argv[1] if len(argv) == 2 else sys.executable)
    elif command == "freeze" and len(argv) == 2:
        freeze(argv[1])
    elif command == "check" and len(argv) == 1:
        found = problems()
        for p in found:
            print(p, file=sys.stderr)
        return 1 if found else 0
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
