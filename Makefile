# Every target sets up .venv on first use; the venv is rebuilt only when pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
ARGS ?=
PYTEST_ARGS ?=

.PHONY: train test test-slow test-gpu bench clean distclean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

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
