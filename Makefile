# The verbs people expect. Each works on a fresh machine by itself.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
AXE := $(VENV)/npm/node_modules/axe-core/axe.min.js
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: run test lint eval bench index system-deps clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# The CPU build of torch lies on local disk; installed first so nothing pulls a CUDA build.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

run: $(STAMP)
	$(BIN)/allhours index kb_docs
	$(BIN)/allhours users demo-admin
	$(BIN)/allhours serve

index: $(STAMP)
	$(BIN)/allhours index kb_docs

system-deps:
	bash .ci/system-deps

$(AXE):
	npm install --silent --no-audit --no-fund --prefix $(VENV)/npm axe-core@4

test: $(STAMP) system-deps $(AXE)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

EVALDATA ?= ../shared/evaldata
EVALSETS ?= $(wildcard $(EVALDATA)/*/questions.jsonl) evals/tidewater/questions.jsonl
eval: $(STAMP)
	for ds in $(EVALSETS); do \
	  name=$$(basename $$(dirname $$ds)); \
	  $(BIN)/allhours-eval run --dataset $$(dirname $$ds) --out reports/$$name || exit 1; \
	done

bench: $(STAMP) system-deps
	$(BIN)/python -m evals.bench --out reports/bench.json
	$(BIN)/python -m evals.bench_load --out reports/bench_load.json
	$(BIN)/python -m evals.bench_load --processes 2 --out reports/bench_load_2.json

clean:
	rm -rf $(VENV) data reports
