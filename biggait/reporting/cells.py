"""The numbers of a result table: :class:`Cell` (ours next to the paper's) and the paper's values
(``config/paper_reported.csv``, read by :func:`read_paper_csv`)."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, fields
from pathlib import Path

from biggait.errors import DataError

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
