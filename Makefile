# Every target sets up .venv on first use from requirements/lock.txt, the exact versions the tests pass with;
# the venv is brought back in line whenever pyproject.toml or the lock changes.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LOCK := requirements/lock.txt
ARGS ?=
PYTEST_ARGS ?=

.PHONY: train test test-slow test-gpu bench lock clean distclean

# --no-deps: the lock alone decides every version; `pip check` then proves it left nothing out, and
# lock.py check that it still matches pyproject.toml. setuptools comes from the lock too (no build isolation).
$(STAMP): pyproject.toml $(LOCK)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@# pip first, so the locked pip (not the one venv bundled) installs the rest
	$(PY) -m pip install -q "$$(grep '^pip==' $(LOCK))"
	$(PY) -m pip install -q --no-deps -r $(LOCK)
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	$(PY) -m pip check
	$(PY) requirements/lock.py check
	touch $(STAMP)

# Resolves pyproject.toml afresh in a throwaway venv (newest releases inside its bounds) and writes the lock;
# the next `make test` installs it into .venv and runs the suite on it.
lock:
	$(PYTHON) requirements/lock.py make $(PYTHON)

train: $(STAMP)
	$(PY) train.py $(ARGS)

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

test-slow: $(STAMP)
	$(PY) -m pytest -m slow $(PYTEST_ARGS)

test-gpu: $(STAMP)
	$(PY) -m pytest -m gpu $(PYTEST_ARGS)

bench: $(STAMP)
	@# one intra-op thread: the comparisons are about per-op cost, and extra threads only add noise here
	@set -e; for f in bench/[!_]*.py; do echo "== $$f"; OMP_NUM_THREADS=1 $(PY) $$f; done
	$(PY) bench/_collect.py

clean:
	rm -rf outputs multirun lightning_logs .pytest_cache

distclean: clean
	rm -rf $(VENV)
