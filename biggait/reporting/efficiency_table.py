"""The efficiency table (``biggait tables efficiency``): per model, its size and compute per frame next to
what the run's own trainings and evaluations of it cost.

Its spec is :data:`biggait.reporting.specs.EFFICIENCY` (rows: experiments). Its inputs are files, given
one way (:class:`EfficiencyInputs`; the workflow passes exactly the rule's declared inputs):

- ``--efficiency FILE...``: ``biggait efficiency --json [--throughput]`` of each row,
  ``<experiment>.json`` (``<results>/efficiency/``);
- ``--train-benchmarks FILE...`` (optional): the Snakemake benchmark files of the rows' trainings,
  ``<experiment>_seed<k>.tsv`` (``<results>/benchmarks/train/``): wall time and peak memory;
- ``--eval-benchmark FILE MODEL...`` (optional, one per job): an evaluation job's benchmark file and the
  models ``<experiment>_seed<k>`` it evaluated; each model counts the job's wall time divided by their
  number.

The run-cost cells are mean ± std over seeds with the 95% t-interval, as the accuracy cells; a column no
input provides is left out. The deprecated folder flags (``--efficiency-dir``, ``--benchmarks-dir``) are
turned into these files by :func:`inputs_from_folders`. Written as the accuracy tables are
(:func:`biggait.reporting.tables.write_table`): ``efficiency.{csv,_wide.csv,md,tex}``, two decimals.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from biggait import paths
from biggait.errors import DataError
from biggait.io import read_json
from biggait.reporting.cells import Cell, read_paper_csv
from biggait.reporting.job_times import read_benchmark
from biggait.reporting.specs import (
    EFFICIENCY,
    EFFICIENCY_COLUMNS,
    EVAL_COST_COLUMNS,
    TRAIN_COST_COLUMNS,
    EfficiencySpec,
    Row,
)
from biggait.reporting.tables import demo_note, seed_summary, write_table

log = logging.getLogger(__name__)

DIGITS = 2  # decimals of the wide table, Markdown and LaTeX


@dataclass(frozen=True)
class EfficiencyInputs:
    """The files the efficiency table is built from (module docstring)."""

    efficiency: tuple[Path, ...]  # <experiment>.json of `biggait efficiency --json`
    train_benchmarks: tuple[Path, ...] = ()  # <experiment>_seed<k>.tsv
    eval_benchmarks: tuple[tuple[Path, tuple[str, ...]], ...] = ()  # (job's file, its models <exp>_seed<k>)
    train_jobs: tuple[tuple[Path, tuple[str, ...]], ...] = ()  # (training job's file, the models it trained)


def read_efficiency(path: str | Path) -> dict[str, float]:
    """One ``biggait efficiency --json [--throughput]`` result (a flat JSON object of numbers)."""
    path = Path(path)
    data = read_json(path, "efficiency")
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a JSON object")
    out = {k: float(v) for k, v in data.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    if not out:
        raise DataError(f"{path}: no numbers (expected `biggait efficiency --json` output, e.g. total_params)")
    # Derived columns (the papers count multiply-accumulates as FLOPs: GFLOPs = GMACs).
    if "total_params" in out:
        out.setdefault("params_M", out["total_params"] / 1e6)
    if "trainable_params" in out:
        out.setdefault("trainable_params_M", out["trainable_params"] / 1e6)
    if "gmacs_per_frame" in out:
        out.setdefault("gflops_per_frame", out["gmacs_per_frame"])
    return out


def model_key(text: str, where: str | Path) -> tuple[str, int]:
    """``<experiment>_seed<k>`` (:func:`biggait.paths.model_name`) -> (experiment, k); DataError naming
    ``where`` otherwise."""
    key = paths.parse_model_name(text)
    if key is None:
        raise DataError(f"{where}: expected a model named <experiment>_seed<k>, got {text!r}")
    return key


def train_costs(
    benchmarks: Iterable[str | Path], jobs: Iterable[tuple[str | Path, Iterable[str]]] = ()
) -> pd.DataFrame:
    """One row per trained model: experiment, seed, ``train_s`` (wall seconds) and ``train_max_rss_gb`` (peak
    resident memory, GB). ``benchmarks``: per-training files ``<experiment>_seed<k>.tsv`` (DataError on another
    name); ``jobs``: (file, the models ``<experiment>_seed<k>`` its job trained): a shared job trains its
    models one after another in one process, so each counts the job's wall time divided by their number and
    the job's peak memory."""
    pairs = []
    for path in benchmarks:
        try:
            pairs.append((path, [paths.model_name(*model_key(Path(path).stem, path))]))
        except DataError:
            raise DataError(f"{path}: expected a training benchmark file named <experiment>_seed<k>.tsv") from None
    pairs += [(path, list(models)) for path, models in jobs]
    rows = []
    for path, models in pairs:
        if not models:
            raise DataError(f"{path}: a training benchmark needs the models its job trained")
        b = read_benchmark(path, f"train/{Path(path).stem}")
        for m in models:
            exp, seed = model_key(m, path)
            rows.append(
                {
                    "experiment": exp,
                    "seed": seed,
                    "train_s": b["wall_s"] / len(models),
                    "train_max_rss_gb": b["max_rss_mb"] / 1024.0,
                }
            )
    return pd.DataFrame(rows, columns=["experiment", "seed", *(k for _, k in TRAIN_COST_COLUMNS)])


def eval_costs(jobs: Iterable[tuple[str | Path, Iterable[str]]]) -> pd.DataFrame:
    """Per model evaluated: experiment, seed, ``eval_s``: the wall seconds of the evaluation job's
    benchmark file divided by the number of models that job evaluated (``jobs``: (file, its models
    ``<experiment>_seed<k>``)). A shared job reads the test frames and runs a shared upstream once for
    all its models, so the share is what evaluating the model cost in that run."""
    rows = []
    for path, models in jobs:
        models = list(models)
        if not models:
            raise DataError(f"{path}: an evaluation benchmark needs the models its job evaluated")
        seconds = read_benchmark(path, f"evaluate/{Path(path).stem}")["wall_s"] / len(models)
        for m in models:
            exp, seed = model_key(m, path)
            rows.append({"experiment": exp, "seed": seed, "eval_s": seconds})
    return pd.DataFrame(rows, columns=["experiment", "seed", *(k for _, k in EVAL_COST_COLUMNS)])


def _cost_cells(spec: EfficiencySpec, row: Row, costs: pd.DataFrame, columns, note: str) -> list[Cell]:
    """The run-cost cells of one row: mean ± std [t-interval] over the seeds found."""
    cells = []
    mine = costs[costs["experiment"] == row.experiment].sort_values("seed")
    for label, key in columns:
        values = pd.DataFrame({"value": mine[key], "ci_low": np.nan, "ci_high": np.nan, "col": key})
        s = seed_summary(values, "col").reindex([key]).iloc[0]
        n = 0 if math.isnan(s["n"]) else int(s["n"])
        cells.append(
            Cell(
                spec.name,
                row.method,
                row.experiment,
                "-",
                "-",
                label,
                key,
                "ours",
                s["mean"],
                s["std"],
                n,
                s["ci_low"],
                s["ci_high"],
                s["ci_kind"] if n else "",
                note=note,
                status="missing" if math.isnan(s["mean"]) else "not recovered",
            )
        )
    return cells


def efficiency_cells(spec: EfficiencySpec, inputs: EfficiencyInputs, paper: dict, note: str = "") -> list[Cell]:
    """Cells of the efficiency table: per row, the columns of its ``<experiment>.json`` and its run costs.

    A row whose experiment has no file reads ``missing``; a column no file provides is left out.
    """
    files = {Path(f).stem: Path(f) for f in inputs.efficiency}
    effs = {
        row.experiment: read_efficiency(files[row.experiment]) if row.experiment in files else {} for row in spec.rows
    }
    # Columns no result file provides (e.g. frames/s from an older `biggait efficiency`) are left out.
    columns = [c for c in EFFICIENCY_COLUMNS if any(c[1] in e for e in effs.values())]
    trains = train_costs(inputs.train_benchmarks, inputs.train_jobs)
    evals = eval_costs(inputs.eval_benchmarks)
    cells = []
    for row in spec.rows:
        eff = effs[row.experiment]
        for label, key, paper_metric in columns:
            v = eff.get(key, math.nan)
            c = Cell(
                spec.name,
                row.method,
                row.experiment,
                "-",
                "-",
                label,
                key,
                "ours",
                v,
                n_seeds=0 if math.isnan(v) else 1,
                note=note,
            )
            pv = paper.get((spec.paper_table, "-", "-", row.method, "-", paper_metric)) if paper_metric else None
            if pv is not None:
                c.paper, c.diff, c.confidence, c.provenance = pv.value, v - pv.value, pv.confidence, pv.provenance
            c.status = "missing" if math.isnan(v) else ("compared" if pv is not None else "not recovered")
            cells.append(c)
        for costs, cost_columns in ((trains, TRAIN_COST_COLUMNS), (evals, EVAL_COST_COLUMNS)):
            if not costs.empty:
                cells += _cost_cells(spec, row, costs, cost_columns, note)
    return cells


@dataclass(frozen=True)
class BuiltTable:
    """The efficiency table's cells and the note written above them."""

    cells: list[Cell]
    note: str


def efficiency_table(inputs: EfficiencyInputs, paper_csv: str | Path, *, scale: str = "paper") -> BuiltTable:
    """The efficiency table from its inputs (every file read; nothing written)."""
    if not inputs.efficiency:
        raise DataError(f"table {EFFICIENCY.name}: no efficiency files (expected <experiment>.json files)")
    note = demo_note(EFFICIENCY.name) if scale == "demo" else ""
    return BuiltTable(efficiency_cells(EFFICIENCY, inputs, read_paper_csv(paper_csv), note), note)


def write_efficiency_table(table: BuiltTable, out_dir: str | Path) -> list[Path]:
    """Write ``efficiency.{csv,_wide.csv,md,tex}`` into ``out_dir``; returns the paths."""
    written = write_table(table.cells, EFFICIENCY, out_dir, table.note, digits=DIGITS)
    log.info("table %s: %d cells -> %s", EFFICIENCY.name, len(table.cells), out_dir)
    return written


def build_efficiency_table(
    inputs: EfficiencyInputs, paper_csv: str | Path, out_dir: str | Path, *, scale: str = "paper"
) -> list[Path]:
    """Build and write the efficiency table into ``out_dir``; returns the paths written."""
    return write_efficiency_table(efficiency_table(inputs, paper_csv, scale=scale), out_dir)


# ---- the deprecated folder flags --------------------------------------------------------------------------


def inputs_from_folders(
    inputs: EfficiencyInputs,
    *,
    efficiency_dir: str | Path | None = None,
    benchmarks_dir: str | Path | None = None,
    seeds: Iterable[int] | None = None,
) -> EfficiencyInputs:
    """``inputs`` with the files of the deprecated folder flags added: ``efficiency_dir/<experiment>.json``
    of every row; from Snakemake's ``benchmarks_dir``, the rows' ``train/<experiment>_seed<k>.tsv`` and
    per-model ``evaluate/<experiment>_seed<k>_<train set>.tsv`` of ``seeds`` (all when None; a shared
    job's file does not say which models it evaluated: give it with ``--eval-benchmark``)."""
    effs, trains, evals = inputs.efficiency, inputs.train_benchmarks, inputs.eval_benchmarks
    if efficiency_dir is not None:
        effs = tuple(Path(paths.efficiency_in(efficiency_dir, e)) for e in EFFICIENCY.experiments())
    if benchmarks_dir is not None:
        found_trains = _found(benchmarks_dir, seeds, lambda row, seed: paths.train_job(row.experiment, seed))
        found_evals = _found(
            benchmarks_dir, seeds, lambda row, seed: paths.evaluate_job(row.experiment, seed, row.train)
        )
        if not found_trains and not found_evals:
            raise DataError(
                f"{benchmarks_dir}: no benchmark file of the {EFFICIENCY.name} table's experiments "
                "(expected train/<experiment>_seed<k>.tsv, evaluate/<experiment>_seed<k>_<train>.tsv)"
            )
        trains = tuple(f for f, _ in found_trains)
        evals = tuple((f, (model,)) for f, model in found_evals)
    return EfficiencyInputs(effs, trains, evals, inputs.train_jobs)


def _found(
    benchmarks_dir: str | Path, seeds: Iterable[int] | None, job: Callable[[Row, str], str]
) -> list[tuple[Path, str]]:
    """``(file, <experiment>_seed<k>)`` of the benchmark files ``benchmarks_dir/<job(row, seed)>.tsv`` of
    the rows' experiments and ``seeds`` (all when None)."""
    wanted = None if seeds is None else {int(s) for s in seeds}
    found = []
    for row in dict((r.experiment, r) for r in EFFICIENCY.rows).values():
        pattern = re.escape(paths.benchmark_in(benchmarks_dir, job(row, "<k>"))).replace("<k>", r"(\d+)")
        for f in sorted(Path(paths.benchmark_in(benchmarks_dir, job(row, "*"))).parent.glob("*.tsv")):
            m = re.fullmatch(pattern, f.as_posix())
            if m and (wanted is None or int(m.group(1)) in wanted):
                found.append((f, paths.model_name(row.experiment, m.group(1))))
    return found
