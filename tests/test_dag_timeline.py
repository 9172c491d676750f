"""tools/dag_timeline.py: core-seconds and idle time of a Snakemake run, read from its log."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SPEC = importlib.util.spec_from_file_location(
    "dag_timeline", Path(__file__).parent.parent / "tools" / "dag_timeline.py"
)
timeline = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(timeline)

LOG = """Building DAG of jobs...
[Mon Dec  7 15:21:39 2026]
localrule synthgait:
    output: results/data/synthgait/ccpg.json
    jobid: 4
    threads: 2
[Mon Dec  7 15:21:49 2026]
Finished jobid: 4 (Rule: synthgait)
[Mon Dec  7 15:21:49 2026]
localrule train_vits14_1:
    jobid: 7
[Mon Dec  7 15:21:49 2026]
rule train:
    jobid: 8
    wildcards: exp=lvm_b, seed=0
[Mon Dec  7 15:22:09 2026]
Finished jobid: 8 (Rule: train)
[Mon Dec  7 15:22:19 2026]
Finished jobid: 7 (Rule: train_vits14_1)
"""


def test_core_seconds_and_idle_time(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    jobs = timeline.parse_log(LOG)
    assert [(j["rule"], j["start"], j["end"], j["threads"]) for j in jobs] == [
        ("synthgait", 0, 10, 2),
        ("train_vits14_1", 10, 40, 1),
        ("train", 10, 30, 1),
    ]
    lines = timeline.summary(jobs, cores=2)
    # 2 x 10 + 30 + 20 reserved; one core idle from 30 s to 40 s
    assert lines[0].startswith("wall 40 s") and "70 core-s reserved, 10 core-s idle of 80" in lines[0]
    assert lines[1].split() == ["train", "2", "jobs", "50", "core-s"]  # a shared job counts with its rule
    log = tmp_path / "demo.log"
    log.write_text(LOG)
    assert timeline.main([str(log), "--jobs"]) == 0
    assert "10     30 1t train exp=lvm_b, seed=0" in capsys.readouterr().out
    log.write_text("nothing\n")
    assert timeline.main([str(log)]) == 2 and capsys.readouterr().err.startswith("error: ")
