# loadgen developer entry points. Every target that runs code depends on the venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NAME   ?= parallel_insert
ARGS   ?=

.PHONY: venv browser libreoffice scenario test lint bench clean sample_data docs

venv: $(STAMP)

# Re-install when the package metadata changes; the stamp keeps later runs instant.
$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,ray]'
	touch $(STAMP)

scenario: venv
	$(BIN)/loadgen run scenarios/$(NAME).yaml $(ARGS)

# Parquet files of scenarios/custom_schema.yaml's orders table (4 files × 250,000 rows, row groups of 65,536) for
# scenarios/load_files.yaml.
sample_data: venv
	$(BIN)/python -c "from loadgen.datagen.sample import write_parquet_sample as w; \
	  from loadgen.scenario.load import load_scenario; s = load_scenario('scenarios/custom_schema.yaml'); \
	  w(s.data['orders'], 'orders', s.seed, 'sample_data/orders')"

# The HTML report test renders in headless Chromium, Debian's package; install it if it is missing.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && \
	  echo "make test: installing Debian's chromium with apt-get (the HTML report test renders in it)" && \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
	  { echo "make test needs Chromium for the HTML report test: apt-get install chromium"; exit 1; }

# The spreadsheet test imports a run's CSVs in headless LibreOffice Calc, Debian's package; install it if it is
# missing (as root, or through sudo when it needs no password).
SOFFICE ?= soffice
libreoffice:
	@command -v $(SOFFICE) >/dev/null 2>&1 || { \
	  command -v apt-get >/dev/null 2>&1 && \
	  if [ "$$(id -u)" = 0 ]; then AS_ROOT=; elif sudo -n true 2>/dev/null; then AS_ROOT="sudo -n"; else false; fi && \
	  echo "make test: installing Debian's libreoffice-calc-nogui with apt-get (the spreadsheet test imports CSVs in it)" && \
	  $$AS_ROOT apt-get update -qq && \
	  $$AS_ROOT env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    libreoffice-calc-nogui >/dev/null; } || \
	  { echo "make test needs LibreOffice Calc for the spreadsheet test: apt-get install libreoffice-calc-nogui"; exit 1; }

test: venv browser libreoffice
	$(BIN)/python -m pytest -q

lint: venv
	$(BIN)/ruff check loadgen tests $(wildcard benchmarks)
	$(BIN)/ruff format --check loadgen tests $(wildcard benchmarks)

# docs/reference/*.md from the code (scenario models, metric registry); tests/unit/test_docs.py checks them.
docs: venv
	$(BIN)/python -m loadgen.report.reference

bench: venv
	$(BIN)/python benchmarks/bench.py $(ARGS)
	$(BIN)/python benchmarks/bench_arrow_proxy.py
	$(BIN)/python benchmarks/bench_tpch.py
	$(BIN)/python benchmarks/bench_tpcds.py
	$(BIN)/python benchmarks/bench_sessions.py
	$(BIN)/python benchmarks/bench_api.py
	$(BIN)/python benchmarks/bench_report.py
	$(BIN)/python benchmarks/bench_own_data.py
	$(BIN)/python benchmarks/bench_ray.py
	$(BIN)/python benchmarks/bench_hyperd.py
	$(BIN)/python benchmarks/bench_compare.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache
