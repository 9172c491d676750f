"""`biggait job-times`: Snakemake benchmark files gathered into tables/job_times.{csv,md}."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

from biggait.cli import main
from biggait.errors import DataError
from biggait.reporting.job_times import gather, read_benchmark, render
from tests.helpers import write_benchmark


def test_gather_orders_by_stage_then_wall_time(tmp_path: Path) -> None:
    b = tmp_path / "benchmarks"
    write_benchmark(b / "train" / "a_seed0.tsv", "10.00\t0:00:10\t500.5\t1\t1\t1\t0\t0\t90.0\t9.5")
    write_benchmark(b / "train" / "b_seed0.tsv", "30.00\t0:00:30\t700.0\t1\t1\t1\t0\t0\t90.0\t29.0")
    write_benchmark(b / "evaluate" / "shared_ccpg_0.tsv", "5.00\t0:00:05\tNA\tNA\tNA\tNA\tNA\tNA\tNA\tNA")
    write_benchmark(
        b / "synthgait.tsv", "2.00\t0:00:02\t100\t1\t1\t1\t0\t0\t50\t1", "4.00\t0:00:04\t300\t1\t1\t1\t0\t0\t50\t3"
    )
    jobs = gather(b)
    assert list(jobs["job"]) == ["synthgait", "train/b_seed0", "train/a_seed0", "evaluate/shared_ccpg_0"]
    first, last = jobs.iloc[0], jobs.iloc[3]
    assert first.runs == 2 and first.wall_s == 3.0 and first.max_rss_mb == 200.0  # mean of the repeats
    assert math.isnan(last.cpu_s) and math.isnan(last.max_rss_mb)  # "NA": not sampled
    assert gather(tmp_path / "none").empty


def test_command_writes_csv_and_markdown(tmp_path: Path) -> None:
    b = tmp_path / "benchmarks"
    write_benchmark(b / "train" / "biggait_ccpg_seed0.tsv", "3725.50\t1:02:05\t2048.0\t1\t1\t1\t0\t0\t99.0\t3700.0")
    write_benchmark(b / "pretrain" / "vits14.tsv", "60.00\t0:01:00\t900.0\t1\t1\t1\t0\t0\t99.0\t118.0")
    assert main(["job-times", str(b), "--out", str(tmp_path / "tables")]) == 0
    rows = list(csv.DictReader((tmp_path / "tables" / "job_times.csv").open()))
    assert [(r["stage"], r["job"], r["wall_s"], r["max_rss_mb"]) for r in rows] == [
        ("pretrain", "pretrain/vits14", "60", "900"),
        ("train", "train/biggait_ccpg_seed0", "3725.5", "2048"),
    ]
    md = (tmp_path / "tables" / "job_times.md").read_text()
    assert "| train/biggait_ccpg_seed0 | 1:02:06 | 3,725.5 | 3,700 | 2,048 |" in md
    assert "| **all** | 2 | 1:03:06 | 3,818 | 2,048 |" in md


def test_not_a_benchmark_file(tmp_path: Path) -> None:
    (tmp_path / "x.tsv").write_text("a\tb\n1\t2\n")
    with pytest.raises(DataError, match="not a Snakemake benchmark file"):
        read_benchmark(tmp_path / "x.tsv", "x")
    (tmp_path / "empty.tsv").write_text("")
    with pytest.raises(DataError, match="empty.tsv: not a Snakemake benchmark file"):
        read_benchmark(tmp_path / "empty.tsv")
    write_benchmark(tmp_path / "bad.tsv", "ten\t0:00:10\t1\t1\t1\t1\t0\t0\t1\t1")
    with pytest.raises(DataError, match="bad.tsv column s: expected numbers"):
        read_benchmark(tmp_path / "bad.tsv")


def test_no_benchmark_yet_renders_an_empty_table(tmp_path: Path, capsys) -> None:
    csv_out, md = render(gather(tmp_path / "none"))
    assert "| **all** | 0 | 0:00:00 | - | - |" in md and "(no benchmark file yet)" in md
    assert csv_out == "stage,job,runs,wall_s,cpu_s,max_rss_mb\n"
    # The command refuses to write that table: nothing benchmarked is an error, naming the folder.
    (tmp_path / "empty").mkdir()
    for folder in ("none", "empty"):
        assert main(["job-times", str(tmp_path / folder), "--out", str(tmp_path / "tables")]) == 2
        assert f"{tmp_path / folder}: " in capsys.readouterr().err
    assert not (tmp_path / "tables").exists()
