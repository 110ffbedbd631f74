# Quickstart: `make demo` and `make test`. Each creates .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo demo-rbm figures test test-all bench bench-quick bench-memory install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/ebmppl demo

demo-rbm: $(STAMP)
	$(BIN)/ebmppl demo rbm

# The README's gallery: run both demos and copy the chosen figures to docs/img/.
figures: $(STAMP)
	$(BIN)/ebmppl demo --no-progress
	$(BIN)/ebmppl demo rbm --no-progress
	install -m 644 runs/demo/density.png docs/img/demo_density.png
	install -m 644 runs/demo/trace.png docs/img/demo_trace.png
	install -m 644 runs/demo/rank.png docs/img/demo_rank.png
	install -m 644 runs/demo-rbm/digits.png docs/img/demo_rbm_digits.png

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-all: $(STAMP)
	$(BIN)/python -m pytest -q -m ''

bench: $(STAMP)  # every comparison, full size; rewrites benchmarks/RESULTS.md
	$(BIN)/python benchmarks/run.py

bench-quick: $(STAMP)  # every comparison, small sizes; writes runs/bench/RESULTS-quick.md
	$(BIN)/python benchmarks/run.py --quick

bench-memory: $(STAMP)  # peak RSS of 1 000 chains x 1 000 draws of a 10-D model (budget 2 GB)
	$(BIN)/python benchmarks/memory.py

clean:
	rm -rf $(VENV) build *.egg-info runs
