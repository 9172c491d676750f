# Two commands for a fresh clone:  `make demo` (the demo reproduce_all) and `make test`.
# Each creates the project virtual environment at .venv first when it is missing.
PYTHON ?= python3
VENV   := .venv
STAMP  := $(VENV)/.installed
CORES  ?= all

.PHONY: demo test bench gpu-check setup lock clean-results

$(STAMP): pyproject.toml requirements/constraints.txt
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q -c requirements/constraints.txt -e '.[dev,slurm]'
	@touch $(STAMP)

setup: $(STAMP)

# requirements/lock.txt: every package of .venv that biggait[dev,slurm] installs, exact versions (after
# changing a pin: make setup, make test, then make lock and commit both files).
lock: $(STAMP)
	$(VENV)/bin/python requirements/lock.py

demo: $(STAMP)
	$(VENV)/bin/snakemake --cores $(CORES) reproduce_all
	$(VENV)/bin/snakemake --report results/report.html

test: $(STAMP)
	$(VENV)/bin/python -m pytest

bench: $(STAMP)
	$(VENV)/bin/python -m pytest tests/benchmarks --benchmark-enable --benchmark-only

# The GPU acceptance check (one CUDA GPU, no dataset, <= 8 minutes): results/gpu_check.json + a table.
gpu-check: $(STAMP)
	$(VENV)/bin/biggait gpu-check --out results/gpu_check.json

clean-results:
	rm -rf results/data results/runs results/eval results/tables results/figures results/report.html
