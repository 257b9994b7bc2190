# Two commands for a fresh machine: `make figures` and `make test`. Both create the pinned environment first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: figures test lint report bench clean-results

$(STAMP): envs/requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "nnft pins Python 3.11, found " + sys.version'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r envs/requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

figures: $(STAMP)
	$(BIN)/snakemake --cores all

report: figures
	$(BIN)/snakemake --report results/report.html

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	cd benchmarks && for b in bench_*.py train_throughput.py; do ../$(BIN)/python $$b; done

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/snakefmt --check Snakefile workflow && $(BIN)/snakemake --lint

clean-results:
	rm -rf results/*/ results/figures logs .snakemake
