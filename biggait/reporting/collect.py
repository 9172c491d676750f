"""Read the metrics that ``biggait evaluate`` wrote and gather them into one long table.

Layout read (the workflow writes it): ``<eval_dir>/<experiment>/seed<k>/<test_dataset>/metrics.csv``
in the long format of docs/interfaces.md. The gathered form adds ``experiment`` and ``seed``
columns; it is what ``results/baseline/demo_metrics.csv`` stores and what
``biggait check-metrics`` compares.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Iterable

from biggait.errors import DataError
from biggait.evaluation.protocols import METRICS_CSV_COLUMNS
from biggait.io import write_text_atomic

log = logging.getLogger(__name__)

_SEED_DIR = re.compile(r"^seed(\d+)$")


@dataclass(frozen=True)
class MetricRow:
    """One number of one evaluation (values in the unit evaluate writes: percent for accuracies)."""

    experiment: str
    seed: int
    train_dataset: str
    test_dataset: str
    protocol: str
    condition: str
    metric: str
    value: float
    ci_low: float = math.nan
    ci_high: float = math.nan

    def key(self) -> tuple[str, int, str, str, str, str, str]:
        """Identity of the number (everything but the values)."""
        return (self.experiment, self.seed, self.train_dataset, self.test_dataset, self.protocol,
                self.condition, self.metric)


COLLECTED_COLUMNS = tuple(f.name for f in fields(MetricRow))


def _float(text: str, where: str) -> float:
    if text is None or str(text).strip() == "":
        return math.nan
    try:
        return float(text)
    except ValueError:
        raise DataError(f"{where}: expected a number, got {text!r}") from None


def _read_csv(path: Path, required: Iterable[str]) -> list[dict[str, str]]:
    if not path.is_file():
        raise DataError(f"{path}: metrics file not found")
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"{path}: missing column(s) {', '.join(missing)} "
                            f"(expected {', '.join(required)})")
        return list(reader)


def read_metrics_csv(path: str | Path, experiment: str, seed: int) -> list[MetricRow]:
    """Read one evaluate ``metrics.csv`` and tag its rows with the experiment and seed."""
    path = Path(path)
    rows = []
    for i, r in enumerate(_read_csv(path, METRICS_CSV_COLUMNS), start=2):
        where = f"{path}:{i}"
        rows.append(MetricRow(experiment, seed, r["train_dataset"], r["test_dataset"], r["protocol"],
                              r["condition"], r["metric"], _float(r["value"], where),
                              _float(r["ci_low"], where), _float(r["ci_high"], where)))
    return rows


def metrics_path(eval_dir: str | Path, experiment: str, seed: int, test: str) -> Path:
    """Where the workflow puts the metrics of one evaluation."""
    return Path(eval_dir) / experiment / f"seed{seed}" / test / "metrics.csv"


def collect_eval_dir(eval_dir: str | Path, experiments: Iterable[str] | None = None,
                     seeds: Iterable[int] | None = None) -> list[MetricRow]:
    """Gather every ``<experiment>/seed<k>/<test>/metrics.csv`` under ``eval_dir`` (optionally only
    some experiments / seeds), sorted by experiment, seed and test dataset."""
    eval_dir = Path(eval_dir)
    if not eval_dir.is_dir():
        raise DataError(f"{eval_dir}: evaluation folder not found")
    want_exp = set(experiments) if experiments is not None else None
    want_seed = set(seeds) if seeds is not None else None
    rows: list[MetricRow] = []
    for path in sorted(eval_dir.glob("*/seed*/*/metrics.csv")):
        test_dir, seed_dir, exp_dir = path.parent, path.parent.parent, path.parent.parent.parent
        m = _SEED_DIR.match(seed_dir.name)
        if not m:
            continue
        exp, seed = exp_dir.name, int(m.group(1))
        if (want_exp is not None and exp not in want_exp) or (want_seed is not None and seed not in want_seed):
            continue
        rows.extend(read_metrics_csv(path, exp, seed))
    return rows


def write_collected(rows: Iterable[MetricRow], dest: str | Path) -> None:
    """Write gathered rows as CSV (atomically), one number per line."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLLECTED_COLUMNS)
    for r in rows:
        w.writerow([_fmt(getattr(r, c)) for c in COLLECTED_COLUMNS])
    write_text_atomic(dest, buf.getvalue())


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return "" if math.isnan(v) else repr(round(v, 6))
    return str(v)


def read_collected(path: str | Path) -> list[MetricRow]:
    """Read a gathered CSV (as written by :func:`write_collected`)."""
    path = Path(path)
    rows = []
    for i, r in enumerate(_read_csv(path, COLLECTED_COLUMNS[:8]), start=2):
        where = f"{path}:{i}"
        try:
            seed = int(r["seed"])
        except ValueError:
            raise DataError(f"{where}: seed: expected an integer, got {r['seed']!r}") from None
        rows.append(MetricRow(r["experiment"], seed, r["train_dataset"], r["test_dataset"], r["protocol"],
                              r["condition"], r["metric"], _float(r["value"], where),
                              _float(r.get("ci_low", ""), where), _float(r.get("ci_high", ""), where)))
    return rows


def load_results(path: str | Path) -> list[MetricRow]:
    """Metrics from a gathered CSV, an evaluation folder, or a results folder holding ``eval/``."""
    path = Path(path)
    if path.is_file():
        return read_collected(path)
    if (path / "eval").is_dir():
        return collect_eval_dir(path / "eval")
    if path.is_dir():
        return collect_eval_dir(path)
    raise DataError(f"{path}: not found (expected a metrics CSV, a results folder or an eval folder)")
