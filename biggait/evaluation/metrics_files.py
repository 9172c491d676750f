"""The metrics files: what ``biggait evaluate`` writes and how the reporting reads it
(:class:`~biggait.evaluation.results.MetricRow` rows).

Per evaluation (``biggait.paths.eval_dir``): ``metrics.csv`` in the long format of
docs/interfaces.md (:data:`METRICS_CSV_COLUMNS`), ``metrics.json`` (the same rows, run details and
provenance), ``view_matrices/<protocol>_<condition>_<metric>.csv`` and ``identity_hits.npz``
(:mod:`biggait.evaluation.identity_hits`, what ``biggait claims`` resamples). The gathered form
(:data:`COLLECTED_COLUMNS`: the rows of many evaluations tagged with ``experiment`` and ``seed``)
is what ``results/baseline/demo_metrics.csv`` stores and ``biggait check-metrics`` compares.
Numbers follow :func:`biggait.io.csv_value`. Reading and gathering go through pandas: every field is
read as text and the numbers are converted with Python's ``float``, so a number reads back as the
exact double that was written.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from biggait import paths
from biggait.errors import DataError
from biggait.evaluation.results import EvalResult, MetricRow
from biggait.io import (
    atomic_path,
    csv_text,
    csv_value,
    git_commit,
    package_versions,
    parse_number,
    write_json_atomic,
    write_text_atomic,
)

VIEW_MATRIX_CORNER = "probe_view\\gallery_view"  # the first header cell of a per-view matrix CSV


# metrics.csv, one evaluation; the gathered CSV adds the evaluation's experiment and seed in front.
METRICS_CSV_COLUMNS = ("train_dataset", "test_dataset", "protocol", "condition", "metric", "value", "ci_low", "ci_high")
COLLECTED_COLUMNS = ("experiment", "seed", *METRICS_CSV_COLUMNS)


# ---- writing (biggait evaluate) ---------------------------------------------------------------------


def metrics_csv_text(rows: list[MetricRow], train_dataset: str, test_dataset: str) -> str:
    """The long-format metrics.csv of one evaluation (NaN written as an empty cell)."""
    return csv_text(
        METRICS_CSV_COLUMNS,
        ([train_dataset, test_dataset, r.protocol, r.condition, r.metric, r.value, r.ci_low, r.ci_high] for r in rows),
    )


def _json_safe(obj: object) -> object:
    if isinstance(obj, float):
        return None if math.isnan(obj) or math.isinf(obj) else obj
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    return obj


def write_metrics(out: Path, result: EvalResult, rows: list[MetricRow], info: dict) -> None:
    """Write metrics.json, identity_hits.npz, metrics.csv and view_matrices/ (each atomically) into ``out``."""
    with atomic_path(out / paths.VIEW_MATRICES_DIR) as tmp:
        tmp.mkdir()
        for m in result.matrices:
            text = csv_text([VIEW_MATRIX_CORNER, *m.views], ([v, *row] for v, row in zip(m.views, m.values)))
            (tmp / f"{m.protocol}_{m.condition}_{m.metric}.csv").write_text(text)
    provenance = {"git_commit": git_commit(), "versions": package_versions()}
    payload = {
        **info,
        "unit": "percent",
        "provenance": provenance,
        "rows": [
            {k: getattr(r, k) for k in ("protocol", "condition", "metric", "value", "ci_low", "ci_high")} for r in rows
        ],
        "details": result.details,
    }
    write_json_atomic(out / paths.METRICS_JSON, _json_safe(payload))
    if result.identity_hits is not None:  # before metrics.csv, the rule's output, written last
        result.identity_hits.save(out / paths.IDENTITY_HITS)
    write_text_atomic(out / paths.METRICS_CSV, metrics_csv_text(rows, info["train_dataset"], info["test_dataset"]))


# ---- reading (biggait tables, check-metrics) ----------------------------------------------------------


def read_text_csv(path: Path, required: Sequence[str], what: str = "metrics file") -> pd.DataFrame:
    """A CSV as text columns (empty stays ""; nothing parsed as NaN), its ``required`` columns checked:
    one-line DataErrors naming the file (``what`` it is) and the missing columns. Like csv.DictReader, a
    line's fields beyond the header are dropped and missing ones are empty."""
    if not path.is_file():
        raise DataError(f"{path}: {what} not found")
    try:
        n_columns = len(pd.read_csv(path, nrows=0).columns)
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, usecols=range(n_columns)).fillna("")
    except pd.errors.EmptyDataError:  # not even a header
        frame = pd.DataFrame()
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)} (expected {', '.join(required)})")
    return frame


def _numbers(frame: pd.DataFrame, column: str, path: Path) -> pd.Series:
    """A column as floats the way :func:`biggait.io.parse_number` reads one field (empty or absent: NaN)."""
    if column not in frame.columns:
        return pd.Series(math.nan, index=frame.index, dtype=float)
    text = frame[column].str.strip()
    bad = pd.to_numeric(text, errors="coerce").isna() & text.ne("") & text.str.lower().ne("nan")
    if bad.any():
        i = int(bad.to_numpy().argmax())
        parse_number(frame[column].iloc[i], f"{path}:{i + 2}")  # raises, naming the line
    return text.where(text.ne(""), "nan").map(float).astype(float)  # Python's float(): the exact double


def _rows(frame: pd.DataFrame, path: Path) -> list[MetricRow]:
    """MetricRows from a frame with the metrics.csv columns plus ``experiment`` and ``seed``."""
    for col in ("value", "ci_low", "ci_high"):
        frame[col] = _numbers(frame, col, path)
    return [
        MetricRow(
            r.protocol,
            r.condition,
            r.metric,
            _nan(r.value),
            _nan(r.ci_low),
            _nan(r.ci_high),
            experiment=r.experiment,
            seed=int(r.seed),
            train_dataset=r.train_dataset,
            test_dataset=r.test_dataset,
        )
        for r in frame.itertuples(index=False)
    ]


def _nan(v: float) -> float:
    """NaN as the one ``math.nan`` object, as :func:`biggait.io.parse_number` gives it, so rows read
    twice compare equal (tuple equality tries identity before ``==``, and NaN != NaN)."""
    return math.nan if math.isnan(v) else v


def read_metrics_csv(path: str | Path, experiment: str, seed: int) -> list[MetricRow]:
    """Read one evaluate ``metrics.csv`` and tag its rows with the experiment and seed."""
    path = Path(path)
    frame = read_text_csv(path, METRICS_CSV_COLUMNS).assign(experiment=experiment, seed=seed)
    return _rows(frame, path)


def read_metrics_files(files: Iterable[str | Path]) -> list[MetricRow]:
    """Exactly these ``<experiment>/seed<k>/<test>/metrics.csv`` files (experiment and seed from the path)."""
    rows: list[MetricRow] = []
    for f in files:
        where = paths.parse_metrics_file(f)
        if where is None:
            raise DataError(f"{f}: expected a path .../<experiment>/seed<k>/<test>/{paths.METRICS_CSV}")
        rows.extend(read_metrics_csv(f, where[0], where[1]))
    return rows


def collect_eval_dir(eval_dir: str | Path) -> list[MetricRow]:
    """Gather every ``<experiment>/seed<k>/<test>/metrics.csv`` under ``eval_dir``, sorted by path."""
    eval_dir = Path(eval_dir)
    if not eval_dir.is_dir():
        raise DataError(f"{eval_dir}: evaluation folder not found")
    found = [p for p in sorted(eval_dir.glob(paths.metrics_glob())) if paths.parse_metrics_file(p) is not None]
    return read_metrics_files(found)


def write_collected(rows: Iterable[MetricRow], dest: str | Path) -> None:
    """Write gathered rows as CSV (atomically), one number per line."""
    frame = pd.DataFrame([[getattr(r, c) for c in COLLECTED_COLUMNS] for r in rows], columns=list(COLLECTED_COLUMNS))
    write_text_atomic(dest, frame.to_csv(index=False, lineterminator="\n", float_format=csv_value))


def read_collected(path: str | Path) -> list[MetricRow]:
    """Read a gathered CSV (as written by :func:`write_collected`)."""
    path = Path(path)
    frame = read_text_csv(path, COLLECTED_COLUMNS[:8])
    bad = ~frame["seed"].str.fullmatch(r"\s*[+-]?\d+\s*")
    if bad.any():
        i = int(bad.to_numpy().argmax())
        raise DataError(f"{path}:{i + 2}: seed: expected an integer, got {frame['seed'].iloc[i]!r}")
    return _rows(frame, path)


def load_results(path: str | Path) -> list[MetricRow]:
    """Metrics from a gathered CSV, an evaluation folder, or a results folder holding ``eval/``;
    DataError naming where it looked when it finds none."""
    path = Path(path)
    if path.is_file():
        rows = read_collected(path)
        if not rows:
            raise DataError(f"{path}: no metrics in this gathered CSV (expected one line per number)")
        return rows
    if not path.is_dir():
        raise DataError(f"{path}: not found (expected a metrics CSV, a results folder or an eval folder)")
    where = Path(paths.eval_root(str(path)))
    rows = collect_eval_dir(where if where.is_dir() else path)
    if not rows:
        raise DataError(
            f"{where if where.is_dir() else path}: no evaluations found (expected "
            f"<experiment>/seed<k>/<test>/{paths.METRICS_CSV} below it, written by biggait evaluate)"
        )
    return rows
