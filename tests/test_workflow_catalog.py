"""The workflow as the Snakemake catalog expects it: lint-clean, snakefmt-formatted, a conda env per rule,
values through params, logs and benchmarks, every config key documented (static checks and --lint)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers import constraint_pins

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
ENV_FILE = REPO / "workflow" / "envs" / "biggait.yaml"
SMK_FILES = [REPO / "Snakefile", *sorted((REPO / "workflow" / "rules").glob("*.smk"))]
# what a shell command may format: Snakemake's job namespaces, never a global of the Snakefile
SHELL_NAMESPACES = {"input", "output", "params", "wildcards", "threads", "resources", "log"}


def _pip_block(env: dict) -> list[str]:
    return next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))


def test_conda_env_installs_the_project_with_the_pins() -> None:
    env = yaml.safe_load(ENV_FILE.read_text())
    pip = _pip_block(env)
    # Relative paths: conda runs pip in the env file's folder; Snakemake first copies the file to
    # <conda-prefix>/<hash>.yaml, by default .snakemake/conda/ below the repository (docs/workflow.md).
    for folder in (ENV_FILE.parent, REPO / ".snakemake" / "conda"):
        constraints = [item.split(None, 1)[1] for item in pip if item.startswith("-c ")]
        assert [(folder / c).resolve() for c in constraints] == [REPO / "requirements" / "constraints.txt"]
        editable = [item.split(None, 1)[1] for item in pip if item.startswith("-e ")]
        assert len(editable) == 1
        assert (folder / editable[0].split("[")[0]).resolve() == REPO  # the project itself, editable
    # The versions come from the constraints file; a pin written here as well must agree with it.
    pins = constraint_pins()
    pinned = dict(item.split("==") for item in pip if "==" in item)
    assert all(pins.get(name.lower()) == version for name, version in pinned.items()), (pinned, pins)
    # the same Python as environment.yml, the conda environment of a person
    person = yaml.safe_load((REPO / "environment.yml").read_text())["dependencies"]
    assert [d for d in env["dependencies"] if isinstance(d, str)] == [d for d in person if isinstance(d, str)]


FAKE_CONDA = """#!/bin/sh
# answers Snakemake's checks of conda for a dry run; creates nothing
case "$*" in
  "--version") echo "conda 25.1.1";;
  "info --json") echo '{"conda_prefix": "/nonexistent", "platform": "linux-64"}';;
  "config --get channel_priority --json") echo '{"get": {"channel_priority": "strict"}}';;
  *) echo "fake conda: $*" >&2; exit 1;;
esac
"""


def _dry_run_commands(tmp_path: Path, *args: str, env: dict | None = None) -> list[str]:
    out = subprocess.run(
        [
            str(BIN / "snakemake"),
            "table_ccpg",
            "-n",
            "-p",
            "--nolock",
            *args,
            "--configfile",
            "config/ci.yaml",
            "--config",
            f"results={tmp_path}/r",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=180,
        env=env,
    )
    assert out.returncode == 0, out.stdout
    return [
        line.removeprefix("Shell command: ")
        for line in out.stdout.splitlines()
        if line.startswith("Shell command: ") and not line.endswith("None")
    ]


@pytest.mark.dag
def test_sdm_conda_jobs_run_the_environments_biggait(tmp_path: Path) -> None:
    """With --sdm conda every job runs the conda environment's `biggait`/`python` (on its PATH), else the
    venv's. conda itself is not needed for a dry run with a stand-in that answers Snakemake's checks."""
    import os

    venv = _dry_run_commands(tmp_path)
    assert venv and all(str(BIN / "biggait") in c for c in venv)
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "conda").write_text(FAKE_CONDA)
    (tmp_path / "bin" / "conda").chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    conda = _dry_run_commands(tmp_path, "--sdm", "conda", env=env)
    assert len(conda) == len(venv) and not any(str(BIN) in c for c in conda), conda
    assert all(re.search(r"(^|\s)biggait\s", c) for c in conda), conda
    assert all(re.search(r"(^|\s)python -m biggait.gpu_claim", c) for c in conda if "gpu_claim" in c), conda


def _rule_blocks(text: str) -> dict[str, str]:
    """Rule name (or the name: of an anonymous rule, as written) -> the rule's text."""
    blocks: dict[str, str] = {}
    starts = list(re.finditer(r"^[ \t]*rule[ \t]*(\w*)[ \t]*:", text, flags=re.M))
    for i, m in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(text)
        body = text[m.start() : end]
        name = m.group(1) or re.search(r"name:\s*\n?\s*(f?\"[^\"]+\"|\w+)", body).group(1)
        blocks[name] = body
    return blocks


def _all_rules() -> dict[str, str]:
    rules = {}
    for f in SMK_FILES:
        rules.update(_rule_blocks(f.read_text()))
    return rules


def _shell_text(block: str) -> str | None:
    m = re.search(r"^([ \t]*)shell:[ \t]*\n((?:\1[ \t]+.*\n?)+)", block, flags=re.M)
    return m.group(2) if m else None


def test_every_command_rule_has_log_and_conda_and_training_rules_benchmark() -> None:
    rules = _all_rules()
    commands = {n: b for n, b in rules.items() if _shell_text(b) is not None}
    assert len(commands) >= 15
    for name, block in commands.items():
        assert re.search(r"^\s*log:", block, flags=re.M), f"rule {name}: no log:"
        assert '"../envs/biggait.yaml"' in block, f"rule {name}: no conda: ../envs/biggait.yaml"
    for name in (
        "train",
        "evaluate",
        'f"evaluate_{_name}"',
        "efficiency",
        "pretrain_frames",
        "_name",
        "synthgait",
        "probe_upstream",
    ):
        assert re.search(r"^\s*benchmark:", commands[name], flags=re.M), f"rule {name}: no benchmark:"


def test_cheap_jobs_are_local_rules() -> None:
    """Tables, claims, reports and figures drawn from CSVs run on the submitting host (no cluster job)."""
    rules = _all_rules()
    for name in (
        "table",
        "job_times",
        "claims",
        "upstream_report",
        "compare",
        "fig_bars",
        "fig_views",
        "fig_curves",
        "reproduce_all",
        "figures",
    ):
        assert re.search(r"^\s*localrule:\s*True", rules[name], flags=re.M), f"rule {name}: not a localrule"
    for name in ("train", "evaluate", "fig_maps"):
        assert "localrule" not in rules[name], f"rule {name}: a heavy job must not be local"


def test_shell_commands_take_values_through_params() -> None:
    for name, block in _all_rules().items():
        shell = _shell_text(block)
        if shell is None:
            continue
        assert not re.search(r"\bf\"", shell), f"rule {name}: an f-string shell command formats globals"
        literal = "".join(re.findall(r"\"((?:[^\"\\]|\\.)*)\"", shell)).replace("{{", "").replace("}}", "")
        used = set(re.findall(r"\{(\w+)", literal))
        assert used <= SHELL_NAMESPACES, f"rule {name}: shell formats {used - SHELL_NAMESPACES} (use params:)"
        assert "| tee" not in literal, f"rule {name}: output goes to the terminal too (write it to {{log}} only)"
        assert "{log}" in literal, f"rule {name}: the command's output does not go to its log"


def test_config_readme_documents_every_key() -> None:
    readme = (REPO / "config" / "README.md").read_text()
    documented = set(re.findall(r"`([A-Za-z_][\w.]*)", readme))
    keys: set[str] = set()
    for name in ("config.yaml", "ci.yaml", "paper.yaml"):
        cfg = yaml.safe_load((REPO / "config" / name).read_text())
        for key, value in cfg.items():
            keys.add(key)
            if isinstance(value, dict) and key not in ("roots", "partitions", "lvm_checkpoints"):
                keys |= {f"{key}.{sub}" for sub in value}  # roots etc.: keyed by dataset / variant
    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    for key, spec in schema["properties"].items():
        keys.add(key)
        keys |= {f"{key}.{sub}" for sub in spec.get("properties", {})}
    nested = {k for k in keys if "." in k}
    missing = {k for k in keys - nested if k not in documented}
    # nested keys are documented as `table_seeds.<table>`, `pretrain_lvm.steps`, ...
    missing |= {k for k in nested if k not in documented and f"`{k.split('.')[0]}.<table>`" not in readme}
    assert not missing, f"config/README.md does not document {sorted(missing)}"


@pytest.mark.dag
def test_lint_reports_nothing() -> None:
    out = subprocess.run(
        [str(BIN / "snakemake"), "--lint"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=180,
    )
    assert out.returncode == 0 and "Lints for" not in out.stdout, out.stdout


def test_snakefmt_check() -> None:
    snakefmt = BIN / "snakefmt" if (BIN / "snakefmt").exists() else shutil.which("snakefmt")
    assert snakefmt, (
        "snakefmt is not installed (a dev dependency: pip install -c requirements/constraints.txt -e '.[dev]')"
    )
    out = subprocess.run(
        [str(snakefmt), "--check", "--diff", *(str(f.relative_to(REPO)) for f in SMK_FILES)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout
