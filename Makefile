# loadgen developer entry points. Every target that runs code depends on the venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NAME   ?= parallel_insert
ARGS   ?=

.PHONY: venv scenario test lint bench clean

venv: $(STAMP)

# Re-install when the package metadata changes; the stamp keeps later runs instant.
$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

scenario: venv
	$(BIN)/loadgen run scenarios/$(NAME).yaml $(ARGS)

test: venv
	$(BIN)/python -m pytest -q

lint: venv
	$(BIN)/ruff check loadgen tests $(wildcard benchmarks)
	$(BIN)/ruff format --check loadgen tests $(wildcard benchmarks)

bench: venv
	$(BIN)/python benchmarks/bench.py $(ARGS)

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache
