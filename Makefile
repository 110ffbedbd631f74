# Quickstart: `make demo` and `make test`. Each creates .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-all bench bench-quick install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/ebmppl demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-all: $(STAMP)
	$(BIN)/python -m pytest -q -m ''

bench: $(STAMP)
	$(BIN)/python benchmarks/lowering.py
	$(BIN)/python benchmarks/sampling.py
	$(BIN)/python benchmarks/fitting.py

bench-quick: $(STAMP)
	$(BIN)/python benchmarks/lowering.py --quick
	$(BIN)/python benchmarks/sampling.py --quick
	$(BIN)/python benchmarks/fitting.py --quick

clean:
	rm -rf $(VENV) build *.egg-info runs
