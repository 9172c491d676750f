"""``biggait job-times``: what each workflow job cost, from Snakemake's benchmark files.

    biggait job-times results/benchmarks --out results/tables

Training, evaluation, pretraining and data jobs of the workflow write a ``benchmark:`` file,
``<results>/benchmarks/<rule>/<job>.tsv``: Snakemake's format, a header then one row per run of the
job (``s``: wall seconds; ``max_rss``: peak resident memory in MB; ``cpu_time``: CPU seconds; "NA"
where the process ended before it was sampled). This command reads every such file below the folder
and writes ``job_times.{csv,md}`` into ``--out``: one row per job (``<stage>/<name>``, the file's
path without ``.tsv``; the stage is its first folder), grouped by stage, longest first, with a
total per stage. A file with several rows (a ``repeat()`` benchmark) counts their mean. A job run
again overwrites its file: a training resumed after an interruption counts the resumed part only.
"""

from __future__ import annotations

import argparse
import csv
import math
from dataclasses import dataclass
from pathlib import Path

from biggait.errors import DataError
from biggait.io import csv_text, parse_number, write_text_atomic

COLUMNS = ("stage", "job", "runs", "wall_s", "cpu_s", "max_rss_mb")
# A job's stage is the first folder of its benchmark file (the file's stem at the top); the workflow's
# stages in pipeline order (workflow/rules/*.smk), any other after them.
STAGES = ("synthgait", "pretrain", "train", "evaluate", "efficiency", "upstream")


@dataclass(frozen=True)
class JobTime:
    stage: str
    job: str  # <rule folder>/<file stem>
    runs: int
    wall_s: float
    cpu_s: float  # NaN when not sampled
    max_rss_mb: float  # NaN when not sampled


def _mean(values: list[float]) -> float:
    known = [v for v in values if not math.isnan(v)]
    return sum(known) / len(known) if known else math.nan


def read_benchmark(path: Path, job: str) -> JobTime:
    """One benchmark TSV (Snakemake's columns; "NA" or "-" read as unknown)."""
    try:
        with path.open(newline="") as fh:
            rows = list(csv.DictReader(fh, delimiter="\t"))
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    if not rows or "s" not in rows[0]:
        raise DataError(f"{path}: not a Snakemake benchmark file (expected a header with column 's' and a row)")

    def column(name: str) -> list[float]:
        return [parse_number(None if r.get(name) in ("NA", "-") else r.get(name), f"{path} column {name}")
                for r in rows]

    return JobTime(stage=job.split("/", 1)[0], job=job, runs=len(rows), wall_s=_mean(column("s")),
                   cpu_s=_mean(column("cpu_time")), max_rss_mb=_mean(column("max_rss")))


def gather(benchmarks: Path) -> list[JobTime]:
    """Every ``*.tsv`` below ``benchmarks``, ordered by stage (pipeline order), then wall time, longest first."""
    if not benchmarks.is_dir():  # no benchmarked job has run yet (or its outputs predate benchmarks)
        return []
    jobs = [read_benchmark(p, p.relative_to(benchmarks).with_suffix("").as_posix())
            for p in sorted(benchmarks.rglob("*.tsv"))]
    order = {stage: i for i, stage in enumerate(STAGES)}
    return sorted(jobs, key=lambda j: (order.get(j.stage, len(order)), j.stage, -j.wall_s, j.job))


def _hms(seconds: float) -> str:
    if math.isnan(seconds):
        return "-"
    m, s = divmod(round(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}"


def _num(v: float, digits: int = 0) -> str:
    return "-" if math.isnan(v) else f"{v:,.{digits}f}"


def render(jobs: list[JobTime]) -> tuple[str, str]:
    """(CSV, Markdown) of the jobs; the Markdown adds a total per stage and overall."""
    csv_out = csv_text(COLUMNS, [[getattr(j, c) for c in COLUMNS] for j in jobs])
    md = ["### Job times", "",
          "Wall time, CPU time and peak resident memory (RSS) of each benchmarked job of the workflow "
          "(Snakemake `benchmark:` files, `<results>/benchmarks/`), on the machine that ran it.", "",
          "| stage | jobs | wall (h:m:s) | CPU (s) | max RSS (MB) |", "|---|---:|---:|---:|---:|"]
    stages = list(dict.fromkeys(j.stage for j in jobs))
    for stage in stages + ["all"]:
        part = [j for j in jobs if stage in ("all", j.stage)]
        cpu = [j.cpu_s for j in part if not math.isnan(j.cpu_s)]
        rss = [j.max_rss_mb for j in part if not math.isnan(j.max_rss_mb)]
        md.append(f"| {'**all**' if stage == 'all' else stage} | {len(part)} | {_hms(sum(j.wall_s for j in part))} | "
                  f"{_num(sum(cpu) if cpu else math.nan)} | {_num(max(rss) if rss else math.nan)} |")
    md += ["", "Wall time adds up the jobs one after another; with several jobs at once the workflow takes less.",
           "", "| stage | job | wall (h:m:s) | wall (s) | CPU (s) | max RSS (MB) |",
           "|---|---|---:|---:|---:|---:|"]
    for j in jobs:
        runs = f" ({j.runs} runs, mean)" if j.runs > 1 else ""
        md.append(f"| {j.stage} | {j.job}{runs} | {_hms(j.wall_s)} | {_num(j.wall_s, 1)} | {_num(j.cpu_s)} | "
                  f"{_num(j.max_rss_mb)} |")
    if not jobs:
        md.append("| - | (no benchmark file yet) | - | - | - | - |")
    return csv_out, "\n".join(md) + "\n"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("benchmarks", type=Path, help="the benchmarks folder, <results>/benchmarks")
    p.add_argument("--out", type=Path, required=True, help="output folder of job_times.{csv,md} (<results>/tables)")


def run(args: argparse.Namespace) -> int:
    jobs = gather(args.benchmarks)
    csv_out, md = render(jobs)
    write_text_atomic(args.out / "job_times.csv", csv_out)
    write_text_atomic(args.out / "job_times.md", md)
    print(md + f"\nwrote {args.out}/job_times.csv and {args.out}/job_times.md")
    return 0


COMMANDS = {"job-times": (add_arguments, run)}
