"""``biggait tables``: build the paper's tables from collected metrics, next to the paper's values.

For each table of :data:`biggait.reporting.specs.TABLES` this writes, under ``--out``:
``<name>.csv`` (long: one number per line, ours and the paper's side by side), ``<name>_wide.csv``
(rows: method x source paper/ours/diff, columns: conditions), ``<name>.md`` and ``<name>.tex``
(booktabs). Methods of the paper table that are not re-run (GaitSet, ...) are copied from
``paper_reported.csv`` and marked *cited*; a paper value we could not recover reads
``not recovered``. With several seeds, ours is the mean +- the standard deviation over seeds.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Iterable

import numpy as np

from biggait.errors import DataError
from biggait.reporting.collect import MetricRow, load_results, metrics_path
from biggait.reporting.specs import (DATASET_LABELS, EFFICIENCY_COLUMNS, SCORES, Column, TableSpec,
                                     get_table, TABLES)
from biggait.reporting import render
from biggait.io import write_text_atomic

log = logging.getLogger(__name__)

DEMO_NOTE = ("SynthGait demo: these numbers come from synthetic data and a tiny random-weight ViT; "
             "they check that the pipeline runs and are NOT comparable to the paper's.")
PAPER_COLUMNS = ("table", "role", "train", "test", "method", "condition", "metric", "value",
                 "confidence", "provenance")


@dataclass(frozen=True)
class PaperValue:
    value: float
    role: str  # paper | anchor
    confidence: str
    provenance: str


def read_paper_csv(path: str | Path) -> dict[tuple[str, str, str, str, str, str], PaperValue]:
    """``paper_reported.csv`` keyed by (table, train, test, method, condition, metric)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: paper values file not found")
    out = {}
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in PAPER_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"{path}: missing column(s) {', '.join(missing)}")
        for i, r in enumerate(reader, start=2):
            try:
                value = float(r["value"])
            except ValueError:
                raise DataError(f"{path}:{i}: value: expected a number, got {r['value']!r}") from None
            key = (r["table"], r["train"], r["test"], r["method"], r["condition"], r["metric"])
            out[key] = PaperValue(value, r["role"], r["confidence"], r["provenance"])
    return out


@dataclass
class Cell:
    """One number of a table: ours (over seeds) and the paper's, and how they relate."""

    table: str
    method: str
    experiment: str  # "" for cited rows
    train: str  # display names (CCPG, CASIA-B*, ...)
    test: str
    condition: str
    metric: str
    source: str  # ours | cited | anchor
    ours: float = math.nan  # mean over seeds
    ours_std: float = math.nan  # std over seeds (n > 1)
    n_seeds: int = 0
    ci_low: float = math.nan  # bootstrap CI of a single seed
    ci_high: float = math.nan
    paper: float = math.nan
    diff: float = math.nan  # ours - paper
    status: str = ""  # compared | not recovered | cited | missing
    confidence: str = ""
    provenance: str = ""
    note: str = ""


CELL_COLUMNS = tuple(f.name for f in fields(Cell))


def _label(ds: str) -> str:
    return DATASET_LABELS.get(ds, ds)


def _seed_values(metrics: list[MetricRow], experiment: str, test: str, col: Column,
                 seeds: Iterable[int] | None) -> dict[int, MetricRow]:
    score = SCORES[test]
    want = set(seeds) if seeds is not None else None
    return {m.seed: m for m in metrics
            if m.experiment == experiment and m.test_dataset == test and m.protocol == score.protocol
            and m.metric == score.metric and m.condition == col.condition
            and (want is None or m.seed in want)}


def _stats(values: list[float]) -> tuple[float, float]:
    if not values:
        return math.nan, math.nan
    arr = np.asarray(values, dtype=np.float64)
    return float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else math.nan


def build_accuracy_table(spec: TableSpec, metrics: list[MetricRow], paper: dict,
                         seeds: Iterable[int] | None = None, note: str = "") -> list[Cell]:
    """All cells of an accuracy table (re-run rows first, then the cited ones)."""
    cells: list[Cell] = []
    rerun = set()
    for row in spec.rows:
        tr, te = _label(row.train), _label(row.test)
        rerun.add((tr, te, row.method))
        cols = spec.columns(row.test)
        per_seed: dict[int, list[float]] = {}
        for col in cols:
            found = _seed_values(metrics, row.experiment, row.test, col, seeds)
            mean, std = _stats([m.value for m in found.values()])
            single = next(iter(found.values())) if len(found) == 1 else None
            for s, m in found.items():
                per_seed.setdefault(s, []).append(m.value)
            cells.append(Cell(spec.name, row.method, row.experiment, tr, te, col.label,
                              SCORES[row.test].metric, "ours", mean, std, len(found),
                              single.ci_low if single else math.nan,
                              single.ci_high if single else math.nan, note=note))
        if spec.mean_column:
            full = [sum(v) / len(v) for v in per_seed.values() if len(v) == len(cols)]
            mean, std = _stats(full)
            cells.append(Cell(spec.name, row.method, row.experiment, tr, te, "Mean",
                              SCORES[row.test].metric, "ours", mean, std, len(full), note=note))
    for c in cells:
        pv = paper.get((spec.paper_table, c.train, c.test, c.method, c.condition, spec.paper_metric))
        if pv is not None and pv.role == "paper":
            c.paper, c.diff = pv.value, c.ours - pv.value
            c.confidence, c.provenance = pv.confidence, pv.provenance
        c.status = "missing" if c.n_seeds == 0 else ("compared" if pv is not None else "not recovered")
    for (table, tr, te, method, cond, metric), pv in paper.items():
        if table != spec.paper_table or metric != spec.paper_metric or (tr, te, method) in rerun:
            continue
        cells.append(Cell(spec.name, method, "", tr, te, cond, metric,
                          "cited" if pv.role == "paper" else "anchor", paper=pv.value, status="cited",
                          confidence=pv.confidence, provenance=pv.provenance, note=note))
    return cells


def read_efficiency(path: str | Path) -> dict[str, float]:
    """One ``biggait efficiency --json [--throughput]`` result (a flat JSON object of numbers)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: efficiency file not found")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a JSON object")
    out = {k: float(v) for k, v in data.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    # Derived columns (the paper counts multiply-accumulates as FLOPs: GFLOPs = GMACs).
    if "total_params" in out:
        out.setdefault("params_M", out["total_params"] / 1e6)
    if "trainable_params" in out:
        out.setdefault("trainable_params_M", out["trainable_params"] / 1e6)
    if "gmacs_per_frame" in out:
        out.setdefault("gflops_per_frame", out["gmacs_per_frame"])
    return out


def build_efficiency_table(spec: TableSpec, eff_dir: str | Path, paper: dict, note: str = "") -> list[Cell]:
    """Cells of the efficiency table from ``<eff_dir>/<experiment>.json``."""
    cells = []
    effs = {row.experiment: read_efficiency(Path(eff_dir) / f"{row.experiment}.json") for row in spec.rows}
    # Columns no result file provides (e.g. frames/s from an older `biggait efficiency`) are left out.
    columns = [c for c in EFFICIENCY_COLUMNS if any(c[1] in e for e in effs.values())]
    for row in spec.rows:
        eff = effs[row.experiment]
        for label, key, paper_metric in columns:
            v = eff.get(key, math.nan)
            c = Cell(spec.name, row.method, row.experiment, "-", "-", label, key, "ours", v,
                     n_seeds=0 if math.isnan(v) else 1, note=note)
            pv = paper.get((spec.paper_table, "-", "-", row.method, "-", paper_metric)) if paper_metric else None
            if pv is not None:
                c.paper, c.diff, c.confidence, c.provenance = pv.value, v - pv.value, pv.confidence, pv.provenance
            c.status = "missing" if math.isnan(v) else ("compared" if pv is not None else "not recovered")
            cells.append(c)
    return cells


def write_table(cells: list[Cell], spec: TableSpec, out_dir: str | Path, note: str = "") -> list[Path]:
    """Write the long CSV, the wide CSV, Markdown and LaTeX of one table; returns the paths."""
    out_dir = Path(out_dir)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CELL_COLUMNS)
    for c in cells:
        w.writerow([render.csv_value(v) for v in asdict(c).values()])
    digits = 2 if spec.kind == "efficiency" else 1
    header, rows = render.wide_rows(cells, digits)
    wide = io.StringIO()
    ww = csv.writer(wide, lineterminator="\n")
    ww.writerow(header)
    ww.writerows(rows)
    paths = {f"{spec.name}.csv": buf.getvalue(), f"{spec.name}_wide.csv": wide.getvalue(),
             f"{spec.name}.md": render.markdown(spec.title, note, header, rows),
             f"{spec.name}.tex": render.latex(spec.title, note, header, rows)}
    for name, text in paths.items():
        write_text_atomic(out_dir / name, text)
    return [out_dir / n for n in paths]


def build_tables(names: list[str], results: str | Path, paper_csv: str | Path, out_dir: str | Path, *,
                 efficiency_dir: str | Path | None = None, seeds: list[int] | None = None,
                 scale: str = "paper", allow_missing: bool = False) -> list[Path]:
    """Build and write the named tables; raises DataError when an expected evaluation is missing."""
    paper = read_paper_csv(paper_csv)
    note = DEMO_NOTE if scale == "demo" else ""
    specs = [get_table(n) for n in names]
    metrics: list[MetricRow] = []
    if any(s.kind == "accuracy" for s in specs):
        metrics = load_results(results)
    written = []
    for spec in specs:
        if spec.kind == "efficiency":
            if efficiency_dir is None:
                raise DataError(f"table {spec.name}: needs --efficiency-dir")
            cells = build_efficiency_table(spec, efficiency_dir, paper, note)
        else:
            cells = build_accuracy_table(spec, metrics, paper, seeds, note)
            missing = sorted({(c.experiment, c.test) for c in cells if c.status == "missing"})
            if missing and not allow_missing:
                where = Path(results) / "eval" if (Path(results) / "eval").is_dir() else Path(results)
                first = missing[0]
                raise DataError(
                    f"table {spec.name}: no metrics for {len(missing)} evaluation(s), e.g. "
                    f"{metrics_path(where, first[0], (seeds or [0])[0], _preset(first[1]))} "
                    f"(use --allow-missing to build it anyway)")
        written += write_table(cells, spec, out_dir, note)
        log.info("table %s: %d cells -> %s", spec.name, len(cells), out_dir)
    return written


def _preset(label: str) -> str:
    return {v: k for k, v in DATASET_LABELS.items()}.get(label, label)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``biggait tables``."""
    p.add_argument("tables", nargs="*", metavar="TABLE",
                   help=f"tables to build (default: all): {', '.join(TABLES)}")
    p.add_argument("--results", required=True, type=Path,
                   help="results folder holding eval/<exp>/seed<k>/<test>/metrics.csv, an eval folder, "
                        "or a gathered metrics CSV")
    p.add_argument("--efficiency-dir", type=Path, help="folder of <experiment>.json efficiency results")
    p.add_argument("--paper", required=True, type=Path, help="paper_reported.csv")
    p.add_argument("--out", required=True, type=Path, help="output folder (results/tables)")
    p.add_argument("--seeds", type=int, nargs="+", help="seeds to average (default: all found)")
    p.add_argument("--scale", choices=("demo", "paper"), default="paper",
                   help="demo adds a note that the numbers are synthetic")
    p.add_argument("--allow-missing", action="store_true", help="build tables with missing evaluations")


def run(args: argparse.Namespace) -> int:
    """Entry point of ``biggait tables``."""
    names = args.tables or list(TABLES)
    written = build_tables(names, args.results, args.paper, args.out, efficiency_dir=args.efficiency_dir,
                           seeds=args.seeds, scale=args.scale, allow_missing=args.allow_missing)
    for p in written:
        print(p)
    return 0
