# Two commands for a fresh machine: `make figures` and `make test`. Both create the pinned environment first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: figures paper test test-slow lint report bench lock clean-results

$(STAMP): envs/requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "nnft pins Python 3.11, found " + sys.version'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r envs/requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

figures: $(STAMP)
	$(BIN)/snakemake --cores all

# The papers' own figures and claims in their own regimes (README table "Papers"); slower than `figures`.
paper: $(STAMP)
	$(BIN)/snakemake --cores all paper

# One HTML report of both targets: the project's figures and a section per paper (figures, captions, claim tables).
report: figures paper
	$(BIN)/snakemake --report results/report.html all paper

# Every test but those marked slow: the library's numbers against independent computations, and the workflow's config,
# DAG, lint and refusal checks (dry runs).
test: $(STAMP)
	$(BIN)/python -m pytest -q --durations=15 -m "not slow"

# The tests marked slow: the workflow run end to end (the tiny DAG, partial reruns, killed and stopped runs, the output
# cache, the report in a browser, a SLURM cluster) and the papers' numbers at n = 1600-3500. CI runs both (.ci/run).
test-slow: $(STAMP)
	$(BIN)/python -m pytest -q --durations=15 -m slow

bench: $(STAMP)
	cd benchmarks && for b in bench_*.py train_throughput.py finite_width.py workflow.py; do ../$(BIN)/python $$b; done

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/snakefmt --check Snakefile workflow && $(BIN)/snakemake --lint

# Re-resolve envs/requirements.in to the newest releases: exact pins in envs/requirements.lock and the conda mirror.
lock:
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip
	.lock-venv/bin/python -m pip install --quiet -r envs/requirements.in
	.lock-venv/bin/python -m pip freeze --all --exclude-editable | grep -v -E '^(pip|setuptools|wheel)==' > envs/requirements.lock
	.lock-venv/bin/python envs/conda_mirror.py
	rm -rf .lock-venv

clean-results:
	rm -rf results/*/ results/figures logs .snakemake
