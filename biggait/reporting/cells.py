"""The numbers of a result table: :class:`Cell` (ours next to the paper's) and the paper's values
(``config/paper_reported.csv``, read by :func:`read_paper_csv`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from pathlib import Path

import pandas as pd

from biggait.errors import DataError
from biggait.evaluation.metrics_files import read_text_csv

PAPER_COLUMNS = ("table", "role", "train", "test", "method", "condition", "metric", "value", "confidence", "provenance")


@dataclass(frozen=True)
class PaperValue:
    value: float
    role: str  # paper | anchor
    confidence: str
    provenance: str


def read_paper_csv(path: str | Path) -> dict[tuple[str, str, str, str, str, str], PaperValue]:
    """``paper_reported.csv`` keyed by (table, train, test, method, condition, metric)."""
    path = Path(path)
    # Every field as text ("-" and "" stay what they are); the values are converted below.
    df = read_text_csv(path, PAPER_COLUMNS, what="paper values file")
    bad = pd.to_numeric(df["value"], errors="coerce").isna() & df["value"].str.strip().str.lower().ne("nan")
    if bad.any():
        i = int(bad.to_numpy().argmax())
        raise DataError(f"{path}:{i + 2}: value: expected a number, got {df['value'].iloc[i]!r}")
    df["value"] = df["value"].map(float)  # Python's float(): the exact double of the written text
    return {
        (r.table, r.train, r.test, r.method, r.condition, r.metric): PaperValue(
            r.value, r.role, r.confidence, r.provenance
        )
        for r in df.itertuples(index=False)
    }


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
    ci_low: float = math.nan  # the 95% interval of ``ours``: see ci_kind
    ci_high: float = math.nan
    ci_kind: str = ""  # t95: t-interval over seeds (n > 1) | bootstrap: metrics.csv's (one seed) | ""
    paper: float = math.nan
    diff: float = math.nan  # ours - paper
    status: str = ""  # compared | not recovered | cited | missing
    confidence: str = ""
    provenance: str = ""
    note: str = ""


CELL_COLUMNS = tuple(f.name for f in fields(Cell))
