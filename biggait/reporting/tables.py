"""The paper's tables (``biggait tables``): our metrics next to the paper's values.

For each table of :data:`biggait.reporting.specs.TABLES` this writes, under ``--out``:
``<name>.csv`` (long: one number per line, ours and the paper's side by side), ``<name>_wide.csv``
(rows: method x source paper/ours/diff, columns: conditions), ``<name>.md`` and ``<name>.tex``
(booktabs). Methods of the paper table that are not re-run (GaitSet, ...) are copied from
``paper_reported.csv`` and marked *cited*; a paper value we could not recover reads
``not recovered``. With several seeds, ours is the mean +- the standard deviation over seeds and the
95% t-interval of the mean over seeds; with one seed, the seed's value and the bootstrap interval
(over test identities) that ``biggait evaluate`` wrote into its metrics.csv. The interval is a
column pair of the long CSV (``ci_low``, ``ci_high``, ``ci_kind``: t95 | bootstrap) and is printed as
``[low, high]`` in the wide CSV, Markdown and LaTeX. Same inputs, same bytes: orders follow the
table spec and paper_reported.csv, numbers are written with fixed decimals.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import stdtrit  # Student t quantile (= scipy.stats.t.ppf), without importing scipy.stats

from biggait import paths
from biggait.datasets import DATASET_LABELS, SCORES, dataset_name
from biggait.errors import ConfigError, DataError
from biggait.evaluation.metrics_files import load_results, read_metrics_files
from biggait.evaluation.results import MetricRow
from biggait.io import csv_value, write_text_atomic
from biggait.reporting import render
from biggait.reporting.cells import CELL_COLUMNS, Cell, read_paper_csv
from biggait.reporting.specs import TABLES, EfficiencySpec, TableSpec, get_table

log = logging.getLogger(__name__)

LEVEL = 0.95  # of the t-interval over seeds (evaluate's one-seed bootstrap intervals are 95% too)

DEMO_NOTE = (
    "SynthGait demo: synthetic data and tiny stand-in ViTs pretrained on it without labels (not DINOv2); "
    "the numbers show the pipeline and BigGait learning on SynthGait, and are NOT comparable to the paper's."
)


def _label(ds: str) -> str:
    return DATASET_LABELS.get(ds, ds)


def metrics_frame(metrics: list[MetricRow], seeds: Iterable[int] | None = None) -> pd.DataFrame:
    """The metric rows as a DataFrame (one row per number), only ``seeds`` when given.

    A number given twice for one evaluation (same experiment, seed, test, protocol, condition,
    metric) keeps the last.
    """
    frame = pd.DataFrame([asdict(m) for m in metrics], columns=[f.name for f in fields(MetricRow)])
    if seeds is not None:
        frame = frame[frame["seed"].isin(list(seeds))]
    return frame.drop_duplicates(["experiment", "seed", "test_dataset", "protocol", "condition", "metric"], keep="last")


def t_interval(mean: pd.Series, std: pd.Series, n: pd.Series, level: float = LEVEL) -> tuple[pd.Series, pd.Series]:
    """The ``level`` t-interval of a mean over ``n`` seeds: mean -+ t(n-1) * std / sqrt(n); NaN where n < 2."""
    df = (n - 1).astype(float).where(n > 1)  # degrees of freedom
    half = pd.Series(stdtrit(df, 0.5 + level / 2.0), index=n.index) * std / np.sqrt(n)
    return mean - half, mean + half


def seed_summary(values: pd.DataFrame, by: str) -> pd.DataFrame:
    """Per ``by``: mean, std (ddof 1; NaN for one seed) and n of ``values["value"]`` over seeds, the
    95% t-interval over seeds (``ci_low``, ``ci_high``, ``ci_kind`` t95; n > 1) or, for one seed,
    the bootstrap interval its metrics.csv gives (``ci_kind`` bootstrap), if any."""
    g = values.groupby(by, sort=False)
    out = pd.DataFrame(
        {
            "mean": g["value"].mean(skipna=False),
            "std": g["value"].std(ddof=1, skipna=False),
            "n": g["value"].size(),
            "boot_low": g["ci_low"].first(skipna=False),
            "boot_high": g["ci_high"].first(skipna=False),
        }
    )
    out["ci_low"], out["ci_high"] = t_interval(out["mean"], out["std"], out["n"])
    single = out["n"] == 1
    out.loc[single, "ci_low"], out.loc[single, "ci_high"] = out["boot_low"], out["boot_high"]
    out["ci_kind"] = np.where(out["ci_low"].isna(), "", np.where(single, "bootstrap", "t95"))
    return out


def _row_summary(spec: TableSpec, row, frame: pd.DataFrame) -> tuple[list[str], pd.DataFrame]:
    """The column labels of one re-run row and its per-column seed summary (``Mean`` last, when the table has it)."""
    score = SCORES[row.test]
    conditions = [c.condition for c in spec.columns(row.test)]
    found = frame[
        (frame["experiment"] == row.experiment)
        & (frame["test_dataset"] == row.test)
        & (frame["protocol"] == score.protocol)
        & (frame["metric"] == score.metric)
        & frame["condition"].isin(conditions)
    ]
    summary = seed_summary(found, "condition").reindex(conditions)
    summary["n"] = summary["n"].fillna(0).astype(int)
    labels = [c.label for c in spec.columns(row.test)]
    if spec.mean_column:
        per_seed = found.pivot(index="seed", columns="condition", values="value")  # seeds x conditions
        complete = found.groupby("seed")["condition"].nunique() == len(conditions)
        seed_means = per_seed[complete.reindex(per_seed.index)].mean(axis=1, skipna=False)
        mean = seed_summary(
            pd.DataFrame({"value": seed_means, "ci_low": np.nan, "ci_high": np.nan, "all": "Mean"}), "all"
        ).reindex(["Mean"])
        mean["n"] = mean["n"].fillna(0).astype(int)
        summary, labels = pd.concat([summary, mean]), labels + ["Mean"]
    return labels, summary


def _cited_cells(spec: TableSpec, paper: dict, rerun: set, note: str) -> list[Cell]:
    """The paper's rows of the table that no re-run row stands for."""
    cells = []
    for (table, tr, te, method, cond, metric), pv in paper.items():
        if table != spec.paper_table or metric != spec.paper_metric or (tr, te, method) in rerun:
            continue
        role = "cited" if pv.role == "paper" else "anchor"
        cells.append(
            Cell(spec.name, method, "", tr, te, cond, metric, role, paper=pv.value, status="cited",
                 confidence=pv.confidence, provenance=pv.provenance, note=note)
        )  # fmt: skip
    return cells


def build_accuracy_table(
    spec: TableSpec, metrics: list[MetricRow], paper: dict, seeds: Iterable[int] | None = None, note: str = ""
) -> list[Cell]:
    """All cells of an accuracy table (re-run rows first, then the cited ones).

    A re-run cell is the mean over seeds with its std and 95% t-interval (several seeds) or the
    seed's own bootstrap interval (one seed, see :func:`seed_summary`); ``Mean`` averages each seed's
    conditions first (seeds with every condition only), then summarises over seeds the same way.
    """
    frame = metrics_frame(metrics, seeds)
    cells: list[Cell] = []
    rerun = set()
    for row in spec.rows:
        tr, te = _label(row.train), _label(row.test)
        rerun.add((tr, te, row.method))
        labels, summary = _row_summary(spec, row, frame)
        metric = SCORES[row.test].metric
        for label, s in zip(labels, summary.itertuples()):
            cells.append(
                Cell(spec.name, row.method, row.experiment, tr, te, label, metric, "ours", s.mean, s.std,
                     int(s.n), s.ci_low, s.ci_high, s.ci_kind if s.n else "", note=note)
            )  # fmt: skip
    for c in cells:
        pv = paper.get((spec.paper_table, c.train, c.test, c.method, c.condition, spec.paper_metric))
        if pv is not None and pv.role == "paper":
            c.paper, c.diff = pv.value, c.ours - pv.value
            c.confidence, c.provenance = pv.confidence, pv.provenance
        c.status = "missing" if c.n_seeds == 0 else ("compared" if pv is not None else "not recovered")
    return cells + _cited_cells(spec, paper, rerun, note)


def long_csv(cells: list[Cell]) -> str:
    """The long CSV: one cell a line, :data:`CELL_COLUMNS`, numbers as :func:`biggait.io.csv_value` writes them."""
    frame = pd.DataFrame([asdict(c) for c in cells], columns=list(CELL_COLUMNS))
    return frame.to_csv(index=False, lineterminator="\n", float_format=csv_value)


def write_table(
    cells: list[Cell], spec: TableSpec | EfficiencySpec, out_dir: str | Path, note: str = "", digits: int = 1
) -> list[Path]:
    """Write the long CSV, the wide CSV, Markdown and LaTeX of one table (``digits`` decimals in the
    wide forms); returns the paths."""
    files = paths.table_files_in(out_dir, spec.name)
    wide = render.wide_table(cells, digits)
    texts = {
        files.csv: long_csv(cells),
        files.wide_csv: wide.to_csv(index=False, lineterminator="\n"),
        files.md: render.markdown(spec.title, note, wide),
        files.tex: render.latex(spec.title, note, wide),
    }
    for name, text in texts.items():
        write_text_atomic(name, text)
    return [Path(n) for n in texts]


@dataclass(frozen=True)
class TableInputs:
    """Where ``biggait tables`` reads the accuracy tables' metrics: explicit files (the workflow passes
    exactly the rule's declared inputs) or, for a person, a results / eval folder or gathered CSV (the
    efficiency table's inputs: :class:`biggait.reporting.efficiency_table.EfficiencyInputs`)."""

    results: str | Path | None = None  # searched: every metrics.csv below it
    metrics_files: tuple[str | Path, ...] | None = None  # exactly these <exp>/seed<k>/<test>/metrics.csv

    def metrics(self) -> list[MetricRow]:
        if self.metrics_files is not None:
            return read_metrics_files(self.metrics_files)
        if self.results is None:
            raise DataError("tables: give the metrics files (--metrics) or a results folder (--results)")
        return load_results(self.results)

    def missing_hint(self, experiment: str, test: str, seed: int) -> str:
        """Where the metrics of a missing evaluation were expected."""
        if self.metrics_files is not None:
            return f"{experiment} seed{seed} on {test} (not among the {len(self.metrics_files)} metrics files given)"
        res = Path(self.results or ".")
        evals = Path(paths.eval_root(str(res)))
        return f"{paths.eval_dir_in(evals if evals.is_dir() else res, experiment, seed, test)}/{paths.METRICS_CSV}"


def demo_note(table: str) -> str:
    """The demo's caveat; the LVM-size table also says what its rows really are."""
    if table != "lvm_size":
        return DEMO_NOTE
    from biggait.models.backbone import VARIANTS

    shapes = "; ".join(
        f"{name[3].upper()}: width {v.tiny['embed_dim']}, {v.tiny['depth']} blocks"
        for name, v in VARIANTS.items()
        if not name.endswith("_reg4")
    )
    return (
        DEMO_NOTE
        + " The rows are tiny stand-ins of increasing capacity for DINOv2 S/B/L/G ("
        + shapes
        + "), each pretrained on SynthGait frames with the same recipe; they are not DINOv2."
    )


def build_tables(
    names: list[str],
    inputs: TableInputs,
    paper_csv: str | Path,
    out_dir: str | Path,
    *,
    seeds: list[int] | None = None,
    scale: str = "paper",
    allow_missing: bool = False,
) -> list[Path]:
    """Build and write the named accuracy tables (:data:`TABLES`; the efficiency table is
    :func:`biggait.reporting.efficiency_table.build_efficiency_table`); raises DataError when an expected
    evaluation is missing, before any table is written."""
    paper = read_paper_csv(paper_csv)
    for n in names:
        if n not in TABLES:
            get_table(n)  # ConfigError on an unknown name
            raise ConfigError(f"table {n!r}: not an accuracy table (expected one of: {', '.join(TABLES)})")
    specs = [TABLES[n] for n in names]
    metrics = inputs.metrics()
    built = []
    for spec in specs:
        note = demo_note(spec.name) if scale == "demo" else ""
        cells = build_accuracy_table(spec, metrics, paper, seeds, note)
        missing = sorted({(c.experiment, c.test) for c in cells if c.status == "missing"})
        if missing and not allow_missing:
            exp, test = missing[0]
            raise DataError(
                f"table {spec.name}: no metrics for {len(missing)} evaluation(s), e.g. "
                f"{inputs.missing_hint(exp, dataset_name(test), (seeds or [0])[0])} "
                f"(use --allow-missing to build it anyway)"
            )
        built.append((cells, spec, note))
    written = []
    for cells, spec, note in built:
        written += write_table(cells, spec, out_dir, note)
        log.info("table %s: %d cells -> %s", spec.name, len(cells), out_dir)
    return written
