# Two commands work on a fresh clone with only Python 3.11 and make:
#   make quickstart   creates .venv, installs, and runs the golden path
#   make test         creates .venv, installs with test extras, runs lint, types and tests
# Both install the exact versions in constraints.txt (what the suite passed on);
#   make lock         re-resolves them: a fresh venv with the newest versions pyproject.toml
#                     allows, the whole suite on it, and only then a new constraints.txt

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
LOCK   := constraints.txt
FRESH  := .venv-lock

.PHONY: quickstart test lint typecheck pytest mutants bench bench-feast-env bench-mlflow-env lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml $(LOCK) | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(LOCK) | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e '.[dev]'
	touch $(VENV)/.installed $@

quickstart: $(VENV)/.installed
	$(BIN)/gp quickstart

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests tools $(wildcard benchmarks)
	$(BIN)/ruff format --check src tests tools $(wildcard benchmarks)

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

# Two workers (this machine has 2 cores), each test file on one worker: a file's module-scoped
# fixtures (trained workspaces, running deployments) are built once. PYTEST_WORKERS=0 runs
# the suite in this process alone. The 25 slowest tests are printed, to keep the suite short.
PYTEST_WORKERS ?= 2
pytest: $(VENV)/.installed-dev
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile --durations=25

test: lint typecheck pytest

# Mutation testing (mutmut 3) of the modules that decide correctness; not part of make test
# (about an hour here). MODULE=serving/traffic runs one target; python tools/mutants.py --list
# names them. Scores and every surviving mutant: docs/testing.md.
MODULE ?=

$(VENV)/.installed-mutants: pyproject.toml $(LOCK) | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e '.[mutants]'
	touch $(VENV)/.installed $(VENV)/.installed-dev $@

mutants: $(VENV)/.installed-mutants
	nice -n 10 $(BIN)/python tools/mutants.py $(MODULE)

bench: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/validation.py

# Feast, for benchmarks/training_set.py, materialize.py and online_lookup.py, in its own
# virtualenv (never a project dependency): the version measured in benchmarks/RESULTS.md, with
# its DuckDB offline store and its Redis online store (online_lookup.py needs both).
FEAST := .venv-feast
FEAST_VERSION := 0.67.0

bench-feast-env: $(FEAST)/bin/feast

$(FEAST)/bin/feast:
	$(PYTHON) -m venv $(FEAST)
	$(FEAST)/bin/python -m pip install --quiet --upgrade pip
	$(FEAST)/bin/python -m pip install --quiet 'feast[duckdb,redis]==$(FEAST_VERSION)'

# MLflow, for benchmarks/runs.py and benchmarks/registry.py, in its own virtualenv (never a
# project dependency): the version measured in benchmarks/RESULTS.md, on a SQLite backend.
MLFLOW := .venv-mlflow
MLFLOW_VERSION := 3.17.0

bench-mlflow-env: $(MLFLOW)/bin/mlflow

$(MLFLOW)/bin/mlflow:
	$(PYTHON) -m venv $(MLFLOW)
	$(MLFLOW)/bin/python -m pip install --quiet --upgrade pip
	$(MLFLOW)/bin/python -m pip install --quiet 'mlflow==$(MLFLOW_VERSION)' scikit-learn skl2onnx

# Re-resolve the lock: constraints.txt changes only if lint, types and the whole suite pass on
# the newly resolved set (then the next make reinstalls .venv from it).
lock:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11) and "make lock needs Python 3.11 (set PYTHON=)")'
	rm -rf $(FRESH)
	$(PYTHON) -m venv $(FRESH)
	$(FRESH)/bin/python -m pip install --quiet --upgrade pip
	$(FRESH)/bin/python -m pip install --quiet -e '.[mutants]'
	$(FRESH)/bin/ruff check src tests tools $(wildcard benchmarks)
	$(FRESH)/bin/ruff format --check src tests tools $(wildcard benchmarks)
	$(FRESH)/bin/mypy
	$(FRESH)/bin/pytest
	sed -n '/^#/p' $(LOCK) > $(LOCK).new
	$(FRESH)/bin/python -m pip freeze --exclude-editable | grep -v '^goldenpath' >> $(LOCK).new
	mv $(LOCK).new $(LOCK)
	rm -rf $(FRESH)
	@echo "constraints.txt re-resolved; review with: git diff $(LOCK)"

clean:
	rm -rf $(VENV) $(FRESH) $(FEAST) $(MLFLOW) .mutants .pytest_cache .mypy_cache .ruff_cache
