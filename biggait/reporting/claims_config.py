"""``config/claims.yaml``: the paper's qualitative claims as comparisons between table cells.

Each claim names two cells of the result tables (:data:`biggait.reporting.specs.TABLES`), side A
and side B, and the direction the paper says they go. A cell is a table row (by ``experiment`` or
by ``method`` label, with ``train`` / ``test`` when the label is not unique in the table) and a
column (a condition label of that table, or ``Mean`` where the table has a mean column)::

    claims:
      - id: ccpg_cl_biggait_beats_gaitbase
        statement: On CCPG with clothing changes, BigGait is better than GaitBase.
        a: {table: ccpg, experiment: biggait_ccpg, column: CL}
        b: {table: ccpg, experiment: gaitbase_ccpg, column: CL}
        direction: ">"          # the paper says A > B ("<": A < B)
        min_effect: 0           # optional, points: "holds" needs the whole interval beyond it

A cell of :data:`~biggait.reporting.specs.GROUP_EXPERIMENT` (BiggerGait) may name one of its layer groups
scored alone (``group: g<i>``, or ``best``: the group with the highest score, ``biggait evaluate-groups``)
instead of the whole model (the ensemble)::

        a: {table: ccpg, experiment: biggergait_ccpg, column: Mean}
        b: {table: ccpg, experiment: biggergait_ccpg, column: Mean, group: best}

The file is read strictly (:func:`load_claims`): unknown keys, wrong types and cells that are not
in a table fail with one line naming the claim id and the key.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from biggait import paths
from biggait.datasets import SCORES, Column
from biggait.errors import ConfigError
from biggait.io import read_yaml
from biggait.reporting.specs import GROUP_EXPERIMENT, TABLES, Row

MEAN = "Mean"
_ID = re.compile(r"^[A-Za-z0-9_.-]+$")
_CLAIM_KEYS = {"id": True, "statement": True, "a": True, "b": True, "direction": True, "min_effect": False}
_CELL_KEYS = {"table", "experiment", "method", "train", "test", "column", "group"}
_GROUP = re.compile(rf"^(g[1-9][0-9]*|{paths.BEST_GROUP})$")


@dataclass(frozen=True)
class CellRef:
    """One table cell: the row's evaluation and the conditions its number is the mean of."""

    table: str
    method: str
    experiment: str
    train: str
    test: str
    column: str  # the column label as printed (CL, Overall, Mean, ...)
    conditions: tuple[str, ...]  # metrics.csv conditions; several for the mean column
    labels: tuple[str, ...]  # their column labels (paper_reported.csv conditions)
    group: str = ""  # a layer group scored alone (g<i> | best; biggait evaluate-groups), "" = the whole model

    @property
    def protocol(self) -> str:
        return SCORES[self.test].protocol

    @property
    def metric(self) -> str:
        return SCORES[self.test].metric

    def label(self) -> str:
        """Short text for the reports: ``BigGait (ccpg, CCPG->SUSTech1K) Overall``."""
        from biggait.datasets import DATASET_LABELS as L

        direction = (
            L.get(self.test, self.test)
            if self.train == self.test
            else f"{L.get(self.train, self.train)}->{L.get(self.test, self.test)}"
        )
        group = f" ({self.group} group alone)" if self.group else ""
        return f"{self.method}{group} [{self.table}, {direction}] {self.column}"


@dataclass(frozen=True)
class Claim:
    id: str
    statement: str
    a: CellRef
    b: CellRef
    direction: str  # ">" (A > B) or "<"
    min_effect: float = 0.0  # points, >= 0

    @property
    def sign(self) -> int:
        """+1 when the claim is A > B, -1 when A < B."""
        return 1 if self.direction == ">" else -1


def _err(where: str, key: str, msg: str) -> ConfigError:
    return ConfigError(f"{where}: {key}: {msg}")


def _text(raw: dict, key: str, where: str) -> str:
    v = raw.get(key)
    if not isinstance(v, str) or not v.strip():
        raise _err(where, key, f"expected a non-empty string, got {v!r}")
    return v.strip()


def _resolve_cell(raw: object, where: str, key: str) -> CellRef:
    """A cell mapping -> :class:`CellRef`, checked against the table's rows and columns."""
    if not isinstance(raw, dict):
        raise _err(where, key, f"expected a mapping with table, experiment|method, column, got {raw!r}")
    unknown = sorted(set(raw) - _CELL_KEYS)
    if unknown:
        raise _err(where, f"{key}.{unknown[0]}", f"unknown key (expected: {', '.join(sorted(_CELL_KEYS))})")
    table = _text(raw, "table", f"{where}: {key}")
    if table not in TABLES:
        raise _err(where, f"{key}.table", f"unknown accuracy table {table!r} (expected one of: {', '.join(TABLES)})")
    spec = TABLES[table]
    if ("experiment" in raw) == ("method" in raw):
        raise _err(where, key, "give exactly one of experiment or method")
    by = "experiment" if "experiment" in raw else "method"
    name = _text(raw, by, f"{where}: {key}")
    rows: list[Row] = [
        r
        for r in spec.rows
        if getattr(r, by) == name and all(raw.get(k) in (None, getattr(r, k)) for k in ("train", "test"))
    ]
    if not rows:
        choices = sorted({getattr(r, by) for r in spec.rows})
        raise _err(
            where,
            f"{key}.{by}",
            f"{name!r} is not a row of table {table} (with the train/test given); rows: {', '.join(choices)}",
        )
    if len(rows) > 1:
        tests = ", ".join(f"{r.train}->{r.test}" for r in rows)
        raise _err(where, key, f"{name!r} has several rows in table {table} ({tests}): give train and/or test")
    row = rows[0]
    column = _text(raw, "column", f"{where}: {key}")
    cols: tuple[Column, ...] = spec.columns(row.test)
    if column == MEAN and spec.mean_column:
        match = list(cols)
    else:
        match = [c for c in cols if c.label == column]
        if not match:
            allowed = [c.label for c in cols] + ([MEAN] if spec.mean_column else [])
            raise _err(
                where,
                f"{key}.column",
                f"{column!r} is not a column of table {table} for test "
                f"{row.test} (expected one of: {', '.join(allowed)})",
            )
    group = raw.get("group", "")
    if group != "":
        if not isinstance(group, str) or not _GROUP.match(group):
            raise _err(where, f"{key}.group", f"expected g<i> (1, 2, ...) or {paths.BEST_GROUP}, got {group!r}")
        if row.experiment != GROUP_EXPERIMENT:
            raise _err(where, f"{key}.group", f"only the layer groups of {GROUP_EXPERIMENT} are scored alone")
    return CellRef(
        table,
        row.method,
        row.experiment,
        row.train,
        row.test,
        column,
        tuple(c.condition for c in match),
        tuple(c.label for c in match),
        group,
    )


def parse_claim(raw: object, index: int, source: str) -> Claim:
    """One entry of ``claims:``; ConfigError naming the claim id (or its position) and the key."""
    where = f"{source}: claims[{index}]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping, got {raw!r}")
    if isinstance(raw.get("id"), str) and raw["id"].strip():
        where = f"{source}: claim {raw['id'].strip()}"
    unknown = sorted(set(raw) - set(_CLAIM_KEYS))
    if unknown:
        raise _err(where, unknown[0], f"unknown key (expected: {', '.join(_CLAIM_KEYS)})")
    missing = [k for k, required in _CLAIM_KEYS.items() if required and k not in raw]
    if missing:
        raise _err(where, missing[0], "missing")
    cid = _text(raw, "id", where)
    if not _ID.match(cid):
        raise _err(where, "id", f"expected letters, digits, '_', '.', '-' only, got {cid!r}")
    direction = raw["direction"]
    if direction not in (">", "<"):
        raise _err(where, "direction", f"expected '>' (A > B) or '<' (A < B), got {direction!r}")
    min_effect = raw.get("min_effect", 0.0)
    if (
        isinstance(min_effect, bool)
        or not isinstance(min_effect, (int, float))
        or not math.isfinite(min_effect)
        or min_effect < 0
    ):
        raise _err(where, "min_effect", f"expected a number of points >= 0, got {min_effect!r}")
    a, b = _resolve_cell(raw["a"], where, "a"), _resolve_cell(raw["b"], where, "b")
    if a == b:
        raise _err(where, "b", "the same cell as a")
    return Claim(cid, _text(raw, "statement", where), a, b, direction, float(min_effect))


def load_claims(path: str | Path) -> list[Claim]:
    """Read and check ``claims.yaml``; ConfigError (one line) on the first problem."""
    path = Path(path)
    raw = read_yaml(path, "claims", ConfigError)
    if not isinstance(raw, dict) or set(raw) != {"claims"} or not isinstance(raw["claims"], list):
        raise ConfigError(f"{path}: expected one top-level key 'claims' holding a list of claims")
    claims = [parse_claim(c, i, str(path)) for i, c in enumerate(raw["claims"])]
    seen: set[str] = set()
    for c in claims:
        if c.id in seen:
            raise ConfigError(f"{path}: claim {c.id}: id: used twice")
        seen.add(c.id)
    return claims


def claim_groups(claims: list[Claim]) -> list[tuple[str, str, str]]:
    """(experiment, test dataset, group) of the cells that read a layer group alone, without repeats."""
    return list(dict.fromkeys((c.experiment, c.test, c.group) for cl in claims for c in (cl.a, cl.b) if c.group))


def claim_evaluations(claims: list[Claim]) -> list[tuple[str, str]]:
    """(experiment, test dataset) evaluations the claims read, without repeats (the workflow's inputs)."""
    return list(dict.fromkeys((cell.experiment, cell.test) for c in claims for cell in (c.a, c.b)))
