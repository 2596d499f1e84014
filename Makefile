# routebench: two commands on a fresh machine with python3 and make: `make demo`, `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
RB     := $(BIN)/routebench
STAMP  := $(VENV)/.installed
DATASET ?= synthetic

.PHONY: install demo test test-slow lint bench paper docs-results clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## demo: install, run the whole pipeline on the embedded synthetic default, print where outputs went
DEMO := results/demo
demo: $(STAMP)
	$(RB) download synthetic
	$(RB) info synthetic
	$(RB) build-index synthetic
	ROUTEBENCH_RESULTS=$(DEMO) $(RB) simulate synthetic --seeds 0-9
	$(RB) report $(DEMO) --out $(DEMO)/report
	$(RB) plot $(DEMO) --out $(DEMO)/figures
	@echo
	@echo "dataset:  data/synthetic/ (table.parquet, card.json)"
	@echo "index:    data/synthetic/indexes/"
	@echo "results:  $$(ls -d $(DEMO)/synthetic-*)/ (results.parquet, summary.md, manifest.json)"
	@echo "tables:   $(DEMO)/report/ (report.md, report.csv, report.tex)"
	@echo "figures:  $(DEMO)/figures/ (PNG and SVG; index in figures.md)"

## test: the fast suite (under 10 minutes on 2 cores)
test: $(STAMP)
	$(BIN)/python -m pytest -q

## test-slow: the end-to-end suite (CI runs it too)
# One file per worker, handed out in file order (no reordering by size), so the two longest
# files, tests/test_docs_estimators.py and tests/test_docs_results.py, start on different
# workers.
test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow -n 2 --dist loadfile --no-loadscope-reorder --durations=10

lint: $(STAMP)
	$(BIN)/ruff check routebench tests bench

## bench: speed and accuracy benchmarks; writes results/bench/*.csv
bench: $(STAMP)
	$(BIN)/python -m bench

## paper: every paper experiment (configs/*.yaml) on DATASET; report and figures in results/paper/DATASET/
##   SET="test_size=1500" fixes base parameters (e.g. for a small dataset); JOBS=2 runs 2 points at once
PAPER_CONFIGS := table1 budget volume splits deployments orders
PAPER ?= results/paper/$(DATASET)
JOBS ?= 1
SET ?=
paper: $(STAMP)
	@test -f "$${ROUTEBENCH_DATA:-data}/$(DATASET)/card.json" || $(RB) download $(DATASET)
	for c in $(PAPER_CONFIGS); do \
	  $(RB) sweep configs/$$c.yaml --dataset $(DATASET) --out $(PAPER)/$$c --jobs $(JOBS) $(foreach s,$(SET),--set $(s)) --no-report || exit 1; \
	done
	$(RB) report $(PAPER)/table1 --out $(PAPER)
	$(RB) plot $(addprefix $(PAPER)/,$(PAPER_CONFIGS)) --out $(PAPER)/figures --no-per-run
	@echo "report: $(PAPER)/report.md  figures: $(PAPER)/figures/"

## docs-results: regenerate the README's results blocks (the slice and the synthetic default,
##   run into results/docs/; the performance tables from results/bench/); FIGURES=1 also reruns
##   the paper's sweeps on the slice and refreshes docs/figures/
FIGURES ?=
docs-results: $(STAMP)
	$(BIN)/python docs/generate.py $(if $(FIGURES),--figures,)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
