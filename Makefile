# routebench: two commands on a fresh machine with python3 and make: `make demo`, `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
RB     := $(BIN)/routebench
STAMP  := $(VENV)/.installed
DATASET ?= synthetic

.PHONY: install demo test test-slow lint bench paper clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## demo: install, run the main job on the embedded synthetic default, print where outputs went
demo: $(STAMP)
	$(RB) download synthetic
	$(RB) info synthetic
	@echo
	@echo "Dataset: data/synthetic/table.parquet, card: data/synthetic/card.json"

## test: the fast suite (under 10 minutes on 2 cores)
test: $(STAMP)
	$(BIN)/python -m pytest -q

## test-slow: the end-to-end suite (CI runs it too)
test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

lint: $(STAMP)
	$(BIN)/ruff check routebench tests bench

## bench: speed and accuracy benchmarks; writes results/bench/*.csv
bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
