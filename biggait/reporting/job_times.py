"""``biggait job-times``: what each workflow job cost, from Snakemake's benchmark files.

    biggait job-times results/benchmarks --out results/tables

Training, evaluation, pretraining and data jobs of the workflow write a ``benchmark:`` file,
``<results>/benchmarks/<rule>/<job>.tsv``: Snakemake's format, a header then one row per run of the
job (``s``: wall seconds; ``max_rss``: peak resident memory in MB; ``cpu_time``: CPU seconds; "NA"
where the process ended before it was sampled). This command reads every such file below the folder
(pandas) and writes ``job_times.{csv,md}`` into ``--out``: one row per job (``<stage>/<name>``, the
file's path without ``.tsv``; the stage is its first folder), grouped by stage, longest first, with
a total per stage. A file with several rows (a ``repeat()`` benchmark) counts their mean. A job run
again overwrites its file: a training resumed after an interruption counts the resumed part only.

The efficiency table reads the training jobs' files too (:func:`read_benchmark`): wall time and peak
memory per training, next to the model's size and compute.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import pandas as pd

from biggait import paths
from biggait.cli_paths import InputDir, OutputDir
from biggait.errors import DataError
from biggait.io import csv_value, write_text_atomic

COLUMNS = ("stage", "job", "runs", "wall_s", "cpu_s", "max_rss_mb")
# A job's stage is the first folder of its benchmark file (the file's stem at the top); the workflow's
# stages in pipeline order (workflow/rules/*.smk), any other after them.
STAGES = ("synthgait", "pretrain", "train", "evaluate", "efficiency", "upstream")
# Snakemake's column -> ours (the mean over the file's rows; NaN where never sampled).
_MEASURES = {"s": "wall_s", "cpu_time": "cpu_s", "max_rss": "max_rss_mb"}


def read_benchmark(path: str | Path, job: str = "") -> dict:
    """One benchmark TSV as ``{stage, job, runs, wall_s, cpu_s, max_rss_mb}`` ("NA" or "-" read as unknown).

    ``job`` defaults to the file's stem; DataError naming the file when it is not a benchmark file.
    """
    path = Path(path)
    job = job or path.stem
    try:
        frame = pd.read_csv(path, sep="\t", na_values=["NA", "-"], keep_default_na=False)
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
        frame = pd.DataFrame()
    if frame.empty or "s" not in frame.columns:
        raise DataError(f"{path}: not a Snakemake benchmark file (expected a header with column 's' and a row)")
    out = {"stage": job.split("/", 1)[0], "job": job, "runs": len(frame)}
    for column, name in _MEASURES.items():
        values = frame[column] if column in frame.columns else pd.Series([math.nan] * len(frame))
        try:
            out[name] = float(pd.to_numeric(values, errors="raise").astype(float).mean())
        except (ValueError, TypeError):
            raise DataError(f"{path} column {column}: expected numbers, got {list(values)!r}") from None
    return out


def gather(benchmarks: str | Path) -> pd.DataFrame:
    """Every ``*.tsv`` below ``benchmarks`` (:data:`COLUMNS`), ordered by stage (pipeline order), then
    wall time, longest first."""
    benchmarks = Path(benchmarks)
    files = sorted(benchmarks.rglob("*.tsv")) if benchmarks.is_dir() else []  # none yet: nothing benchmarked
    frame = pd.DataFrame(
        [read_benchmark(p, p.relative_to(benchmarks).with_suffix("").as_posix()) for p in files], columns=list(COLUMNS)
    )
    order = {stage: i for i, stage in enumerate(STAGES)}
    frame["_order"] = frame["stage"].map(lambda s: order.get(s, len(order)))
    frame["_neg_wall"] = -frame["wall_s"].astype(float)
    frame = frame.sort_values(["_order", "stage", "_neg_wall", "job"], kind="stable")
    return frame.drop(columns=["_order", "_neg_wall"]).reset_index(drop=True)


def _hms(seconds: float) -> str:
    """``h:mm:ss`` of a duration in seconds; ``-`` when unknown."""
    if math.isnan(seconds):
        return "-"
    m, s = divmod(round(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}"


def _num(v: float, digits: int = 0) -> str:
    return "-" if math.isnan(v) else f"{v:,.{digits}f}"


def stage_totals(jobs: pd.DataFrame) -> pd.DataFrame:
    """Per stage (pipeline order) and ``all``: jobs, summed wall and CPU seconds, the largest peak RSS."""

    def total(part: pd.DataFrame) -> dict:
        return {
            "jobs": len(part),
            "wall_s": part["wall_s"].sum(),
            "cpu_s": part["cpu_s"].sum(min_count=1),
            "max_rss_mb": part["max_rss_mb"].max(),
        }

    rows = {stage: total(part) for stage, part in jobs.groupby("stage", sort=False)}
    rows["all"] = total(jobs)
    return pd.DataFrame.from_dict(rows, orient="index")


def render(jobs: pd.DataFrame) -> tuple[str, str]:
    """(CSV, Markdown) of the jobs; the Markdown adds a total per stage and overall."""
    csv_out = jobs[list(COLUMNS)].to_csv(index=False, lineterminator="\n", float_format=csv_value)
    md = [
        "### Job times",
        "",
        "Wall time, CPU time and peak resident memory (RSS) of each benchmarked job of the workflow "
        "(Snakemake `benchmark:` files, `<results>/benchmarks/`), on the machine that ran it.",
        "",
        "| stage | jobs | wall (h:m:s) | CPU (s) | max RSS (MB) |",
        "|---|---:|---:|---:|---:|",
    ]
    for t in stage_totals(jobs).itertuples():
        md.append(
            f"| {'**all**' if t.Index == 'all' else t.Index} | {t.jobs} | {_hms(t.wall_s)} | "
            f"{_num(t.cpu_s)} | {_num(t.max_rss_mb)} |"
        )
    md += [
        "",
        "Wall time adds up the jobs one after another; with several jobs at once the workflow takes less.",
        "",
        "| stage | job | wall (h:m:s) | wall (s) | CPU (s) | max RSS (MB) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for j in jobs.itertuples():
        runs = f" ({j.runs} runs, mean)" if j.runs > 1 else ""
        md.append(
            f"| {j.stage} | {j.job}{runs} | {_hms(j.wall_s)} | {_num(j.wall_s, 1)} | {_num(j.cpu_s)} | "
            f"{_num(j.max_rss_mb)} |"
        )
    if jobs.empty:
        md.append("| - | (no benchmark file yet) | - | - | - | - |")
    return csv_out, "\n".join(md) + "\n"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("benchmarks", type=InputDir("benchmarks folder"), help="the benchmarks folder, <results>/benchmarks")
    p.add_argument(
        "--out", type=OutputDir("output"), required=True, help="output folder of job_times.{csv,md} (<results>/tables)"
    )


def run(args: argparse.Namespace) -> int:
    jobs = gather(args.benchmarks)
    if jobs.empty:
        raise DataError(
            f"{args.benchmarks}: no benchmark file found (expected <rule>/<job>.tsv below it, "
            "written by the workflow's benchmarked jobs)"
        )
    csv_out, md = render(jobs)
    files = paths.report_files(str(args.out), paths.JOB_TIMES_TABLE)
    write_text_atomic(files.csv, csv_out)
    write_text_atomic(files.md, md)
    print(md + f"\nwrote {files.csv} and {files.md}")
    return 0


COMMANDS = {"job-times": (add_arguments, run)}
