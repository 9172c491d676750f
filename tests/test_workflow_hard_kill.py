"""A DAG killed hard (SIGKILL of Snakemake and its jobs, as on a lost node) leaves Snakemake's lock:
the next run is refused until ``snakemake --unlock``, after which the same command finishes the work
(README, "an interrupted DAG resumes"; docs/workflow.md, "Interrupting and resuming")."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.ci_dag import BIN, REPO

pytestmark = [pytest.mark.slow, pytest.mark.dag]


def _cmd(work: Path, *extra: str) -> list[str]:
    return [
        str(BIN / "snakemake"),
        "-s",
        str(REPO / "Snakefile"),
        "--directory",
        str(work),
        "--cores",
        "1",
        *extra,
        "--configfile",
        str(REPO / "config" / "ci.yaml"),
        "--config",
        f"results={work / 'results'}",
        "tables=[efficiency]",
        "experiments=[gaitbase_ccpg,biggait_ccpg]",
    ]


def test_unlock_then_rerun_after_a_hard_kill(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    proc = subprocess.Popen(
        _cmd(work, "table_efficiency"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    locks = work / ".snakemake" / "locks"
    deadline = time.monotonic() + 120
    while not (locks.is_dir() and any(locks.iterdir()) and (work / "results" / "logs").is_dir()):
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline, "the DAG did not start a job"
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)  # Snakemake and its jobs, no clean-up
    proc.wait()
    refused = subprocess.run(_cmd(work, "table_efficiency"), capture_output=True, text=True)
    assert refused.returncode != 0 and "cannot be locked" in refused.stderr + refused.stdout
    assert subprocess.run(_cmd(work, "--unlock"), capture_output=True, text=True).returncode == 0
    again = subprocess.run(_cmd(work, "table_efficiency"), capture_output=True, text=True)
    assert again.returncode == 0, again.stderr[-2000:]
    assert (work / "results" / "tables" / "efficiency.md").is_file()
