"""The paper's tables (``biggait tables``): our metrics next to the paper's values.

For each table of :data:`biggait.reporting.specs.TABLES` this writes, under ``--out``:
``<name>.csv`` (long: one number per line, ours and the paper's side by side), ``<name>_wide.csv``
(rows: method x source paper/ours/diff, columns: conditions), ``<name>.md`` and ``<name>.tex``
(booktabs). Methods of the paper table that are not re-run (GaitSet, ...) are copied from
``paper_reported.csv`` and marked *cited*; a paper value we could not recover reads
``not recovered``. With several seeds, ours is the mean +- the standard deviation over seeds.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from biggait import paths
from biggait.datasets import DATASET_LABELS, SCORES, Column, dataset_name
from biggait.errors import DataError
from biggait.evaluation.metrics_files import MetricRow, load_results, read_metrics_files
from biggait.io import csv_text, read_json, write_text_atomic
from biggait.reporting import render
from biggait.reporting.cells import CELL_COLUMNS, Cell, read_paper_csv
from biggait.reporting.specs import EFFICIENCY_COLUMNS, TableSpec, get_table

log = logging.getLogger(__name__)

DEMO_NOTE = ("SynthGait demo: synthetic data and tiny stand-in ViTs pretrained on it without labels (not DINOv2); "
             "the numbers show the pipeline and BigGait learning on SynthGait, and are NOT comparable to the paper's.")


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
    data = read_json(path, "efficiency")
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


def build_efficiency_table(spec: TableSpec, files: dict[str, Path], paper: dict, note: str = "") -> list[Cell]:
    """Cells of the efficiency table from ``files``: experiment -> its ``biggait efficiency --json`` file.

    A row whose experiment has no file reads ``missing``.
    """
    cells = []
    effs = {row.experiment: read_efficiency(files[row.experiment]) if row.experiment in files else {}
            for row in spec.rows}
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
    header, rows = render.wide_rows(cells, 2 if spec.kind == "efficiency" else 1)
    texts = {f"{spec.name}.csv": csv_text(list(CELL_COLUMNS), (asdict(c).values() for c in cells)),
             f"{spec.name}_wide.csv": csv_text(header, rows),
             f"{spec.name}.md": render.markdown(spec.title, note, header, rows),
             f"{spec.name}.tex": render.latex(spec.title, note, header, rows)}
    for name, text in texts.items():
        write_text_atomic(out_dir / name, text)
    return [out_dir / n for n in texts]


@dataclass(frozen=True)
class TableInputs:
    """Where ``biggait tables`` reads its numbers: explicit files (the workflow passes exactly the
    rule's declared inputs) or, for a person, a results / eval folder or gathered CSV."""

    results: str | Path | None = None  # searched: every metrics.csv below it
    metrics_files: tuple[str | Path, ...] | None = None  # exactly these <exp>/seed<k>/<test>/metrics.csv
    efficiency_dir: str | Path | None = None  # <dir>/<experiment>.json
    efficiency_files: tuple[str | Path, ...] | None = None  # exactly these <experiment>.json

    def metrics(self) -> list[MetricRow]:
        if self.metrics_files is not None:
            return read_metrics_files(self.metrics_files)
        if self.results is None:
            raise DataError("tables: give the metrics files (--metrics) or a results folder (--results)")
        return load_results(self.results)

    def efficiency(self, spec: TableSpec) -> dict[str, Path]:
        if self.efficiency_files is not None:
            return {Path(f).stem: Path(f) for f in self.efficiency_files}
        if self.efficiency_dir is None:
            raise DataError(f"table {spec.name}: needs the efficiency files (--efficiency or --efficiency-dir)")
        return {row.experiment: Path(self.efficiency_dir) / f"{row.experiment}.json" for row in spec.rows}

    def missing_hint(self, experiment: str, test: str, seed: int) -> str:
        """Where the metrics of a missing evaluation were expected."""
        if self.metrics_files is not None:
            return f"{experiment} seed{seed} on {test} (not among the {len(self.metrics_files)} metrics files given)"
        res = Path(self.results or ".")
        if Path(paths.eval_root(str(res))).is_dir():
            return paths.metrics_file(str(res), experiment, seed, test)
        return f"{res}/{experiment}/seed{seed}/{test}/{paths.METRICS_CSV}"


def demo_note(table: str) -> str:
    """The demo's caveat; the LVM-size table also says what its rows really are."""
    if table != "lvm_size":
        return DEMO_NOTE
    from biggait.models.backbone import VARIANTS

    shapes = "; ".join(f"{name[3].upper()}: width {v.tiny['embed_dim']}, {v.tiny['depth']} blocks"
                       for name, v in VARIANTS.items() if not name.endswith("_reg4"))
    return (DEMO_NOTE + " The rows are tiny stand-ins of increasing capacity for DINOv2 S/B/L/G (" + shapes
            + "), each pretrained on SynthGait frames with the same recipe; they are not DINOv2.")


def build_tables(names: list[str], inputs: TableInputs, paper_csv: str | Path, out_dir: str | Path, *,
                 seeds: list[int] | None = None, scale: str = "paper", allow_missing: bool = False) -> list[Path]:
    """Build and write the named tables; raises DataError when an expected evaluation is missing."""
    paper = read_paper_csv(paper_csv)
    specs = [get_table(n) for n in names]
    metrics = inputs.metrics() if any(s.kind == "accuracy" for s in specs) else []
    written = []
    for spec in specs:
        note = demo_note(spec.name) if scale == "demo" else ""
        if spec.kind == "efficiency":
            cells = build_efficiency_table(spec, inputs.efficiency(spec), paper, note)
        else:
            cells = build_accuracy_table(spec, metrics, paper, seeds, note)
            missing = sorted({(c.experiment, c.test) for c in cells if c.status == "missing"})
            if missing and not allow_missing:
                exp, test = missing[0]
                raise DataError(
                    f"table {spec.name}: no metrics for {len(missing)} evaluation(s), e.g. "
                    f"{inputs.missing_hint(exp, dataset_name(test), (seeds or [0])[0])} "
                    f"(use --allow-missing to build it anyway)")
        written += write_table(cells, spec, out_dir, note)
        log.info("table %s: %d cells -> %s", spec.name, len(cells), out_dir)
    return written
