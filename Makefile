# vigil: the two set-up commands are `make run` and `make test`; both work on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test system-deps lint typecheck unit eval bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# vigil's main job on the bundled samples, with the embedded default store.
run: $(STAMP)
	$(BIN)/vigil analyze --store samples/*.log

test: system-deps lint typecheck unit

# Real firewalls and an OpenSSH server for the response tests (apt-get, only what is missing).
system-deps:
	.ci/system-deps

lint: $(STAMP)
	$(BIN)/ruff check src tests bench eval
	$(BIN)/ruff format --check src tests bench eval

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest

# Evaluations over the public datasets in ../shared/datasets (or $$VIGIL_DATASETS).
eval: $(STAMP)
	$(BIN)/python -m eval

bench: $(STAMP)
	$(BIN)/python bench/parse.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
