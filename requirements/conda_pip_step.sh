#!/usr/bin/env bash
# Replay the pip step of `conda env create -f ENV_FILE` without conda (for machines whose conda channels
# are unreachable): conda writes the env file's `pip:` block to condaenv.<x>.requirements.txt in the env
# file's folder and runs `python -m pip install -U -r <that file>` with that folder as the working
# directory, so `-c` resolves against the file and `-e` against the folder. Here a fresh venv of the
# python3 on PATH (3.11, as the env files ask conda-forge for) stands in for conda's Python.
#
#   requirements/conda_pip_step.sh environment.yml /tmp/env_venv
#   mkdir -p .snakemake/conda && cp workflow/envs/biggait.yaml .snakemake/conda/x.yaml &&
#     requirements/conda_pip_step.sh .snakemake/conda/x.yaml /tmp/rule_venv      # what `--sdm conda` does
#
# Afterwards the venv's `biggait --version` and imports are checked. Installs torch: several GB.
set -euo pipefail
if [ $# -ne 2 ]; then
  echo "usage: $0 ENV_FILE NEW_VENV_DIR" >&2
  exit 2
fi
envfile=$(realpath "$1")
venv=$2
[ -f "$envfile" ] || { echo "$1: env file not found" >&2; exit 1; }
[ ! -e "$venv" ] || { echo "$venv: exists; give a new folder" >&2; exit 1; }
dir=$(dirname "$envfile")
python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip pyyaml
req=$(mktemp "$dir/condaenv.XXXXXX.requirements.txt")
trap 'rm -f "$req"' EXIT
"$venv/bin/python" - "$envfile" "$req" <<'PY'
import sys
import yaml

env = yaml.safe_load(open(sys.argv[1]))
blocks = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
if len(blocks) != 1:
    sys.exit(f"{sys.argv[1]}: expected one pip block, found {len(blocks)}")
open(sys.argv[2], "w").write("\n".join(blocks[0]) + "\n")
PY
(cd "$dir" && "$venv/bin/python" -m pip install -q -U -r "$req")
"$venv/bin/biggait" --version
"$venv/bin/python" -c "import biggait, pandas, scipy, seaborn, snakemake, timm, torch; print('imports ok: torch', torch.__version__)"
"$venv/bin/python" -m pip check
