# Two commands for a fresh clone:  `make demo` (the demo reproduce_all) and `make test`.
# Each creates the project virtual environment at .venv first when it is missing.
PYTHON ?= python3
VENV   := .venv
STAMP  := $(VENV)/.installed
CORES  ?= all

.PHONY: demo test test-fast bench gpu-check setup lock clean-results release-standins

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

# The edit-test loop: the tests that start no Snakemake process and run no end-to-end job (README, "Tests").
test-fast: $(STAMP)
	$(VENV)/bin/python -m pytest -m "not dag and not slow"

bench: $(STAMP)
	$(VENV)/bin/python -m pytest tests/benchmarks --benchmark-enable --benchmark-only

# The GPU acceptance check (one CUDA GPU, no dataset, <= 8 minutes): results/gpu_check.json + a table.
gpu-check: $(STAMP)
	$(VENV)/bin/biggait gpu-check --out results/gpu_check.json

# Re-create the released stand-in upstreams standins/*_tiny.pth (the recipe of biggait.standins.RECIPE,
# one thread per variant, two at a time with `make -j2 release-standins`; the released ones: 750-842 s each), then their SHA256SUMS.
# Commit the eight files and regenerate results/baseline/ (standins/README.md).
STANDIN_VARIANTS := vits14 vitb14 vitl14 vitg14
SYNTH := results/data/synthgait
release-standins: $(STANDIN_VARIANTS:%=standins/%_tiny.pth)
	$(VENV)/bin/python -c "from biggait import standins; standins.write_sums([p.name for p in standins.STANDIN_DIR.glob('*_tiny.pth*')])"

STANDIN_DATA := $(foreach d,ccpg casiab sustech1k,--data $(d)=$(SYNTH)/$(d):$(SYNTH)/$(d).json)
FRAMES := results/pretrain/frames.npz
$(SYNTH)/ccpg.json: $(STAMP)
	$(VENV)/bin/biggait synth --out $(SYNTH) --scale demo

$(FRAMES): $(SYNTH)/ccpg.json
	$(VENV)/bin/biggait pretrain-lvm --frames-only --scale demo $(STANDIN_DATA) --frames-cache $@

standins/%_tiny.pth: $(FRAMES)
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(VENV)/bin/biggait pretrain-lvm --variant $* --objective mae+tcl \
	    --steps 4000 --batch 32 --decoder-depth 2 --seed 0 --scale demo $(STANDIN_DATA) \
	    --frames-cache $(FRAMES) --out $@

clean-results:
	rm -rf results/data results/runs results/eval results/tables results/figures results/report.html
