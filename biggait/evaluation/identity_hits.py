"""Per-identity hit counts of the headline rank-1 numbers: what a paired bootstrap needs.

``biggait evaluate`` writes ``identity_hits.npz`` next to ``metrics.csv``
(:func:`biggait.paths.identity_hits_file`). For every (protocol, condition) whose rank-1 carries a
bootstrap interval in metrics.csv it holds, per test identity, the rank-1 hits and the probe counts
per (probe view, gallery view) cell, so that any reweighting of the identities recomputes the
number exactly as the protocol does:

- ``gait`` (``rank1_exclude_identical_view``): per cell ``round(100 * hits / probes, 2)``, then the
  mean without the diagonal per probe view, then over probe views (:func:`~biggait.evaluation.metrics.de_diag`);
- ``reid`` (``rank1``): one cell, ``100 * hits / probes`` over the valid probes.

With every identity weighted once this is the value of metrics.csv. Arrays in the file:

    identities            [n_ids] str       test identities (sorted), the unit of resampling
    views                 [V] str           views (gait; ``["all"]`` for reid)
    <protocol>.<condition>.hits    [n_ids, V, V] int32   rank-1 hits (reid: V = 1)
    <protocol>.<condition>.probes  [n_ids, V, V] int32   probes counted in the cell (0 = cell empty)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from biggait.errors import DataError
from biggait.evaluation.metrics import de_diag
from biggait.io import atomic_path, read_npz

METRICS = {"gait": "rank1_exclude_identical_view", "reid": "rank1"}  # protocol -> the metric the hits give


@dataclass
class IdentityHits:
    """The per-identity counts of one evaluation (see the module docstring)."""

    identities: list[str]
    views: list[str]
    cells: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    # (protocol, condition) -> (hits, probes), each [n_ids, V, V]

    def has(self, protocol: str, condition: str) -> bool:
        return (protocol, condition) in self.cells

    def statistic(self, protocol: str, condition: str, weights: np.ndarray) -> np.ndarray:
        """The metric (percent) under identity weights ``[B, n_ids]`` -> ``[B]`` (NaN: nothing to score)."""
        hits, probes = self.cells[(protocol, condition)]
        b = weights.shape[0]
        num = weights @ hits.reshape(hits.shape[0], -1).astype(np.float64)  # [B, V*V]
        den = weights @ probes.reshape(probes.shape[0], -1).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            pct = np.where(den > 0, 100.0 * num / den, np.nan)
        if protocol == "gait":
            return np.asarray(de_diag(np.round(pct.reshape((b,) + hits.shape[1:]), 2)), dtype=np.float64)
        return pct[:, 0]

    def value(self, protocol: str, condition: str) -> float:
        """The metric with every identity counted once (the number of metrics.csv)."""
        return float(self.statistic(protocol, condition, np.ones((1, len(self.identities))))[0])

    def save(self, dest: str | Path) -> None:
        """Write the ``.npz`` atomically."""
        arrays: dict[str, np.ndarray] = {
            "identities": np.asarray(self.identities, dtype=str),
            "views": np.asarray(self.views, dtype=str),
        }
        for (protocol, cond), (hits, probes) in self.cells.items():
            arrays[f"{protocol}.{cond}.hits"] = hits.astype(np.int32)
            arrays[f"{protocol}.{cond}.probes"] = probes.astype(np.int32)
        with atomic_path(dest) as tmp:
            with tmp.open("wb") as fh:
                np.savez_compressed(fh, **arrays)

    @classmethod
    def load(cls, path: str | Path) -> IdentityHits:
        """Read an ``identity_hits.npz``; DataError naming the file when it is missing or malformed."""
        path = Path(path)
        data = read_npz(path, "identity hits")
        if "identities" not in data or "views" not in data:
            raise DataError(f"{path}: missing the 'identities' / 'views' arrays")
        out = cls([str(s) for s in data["identities"]], [str(s) for s in data["views"]])
        n = len(out.identities)
        for key in sorted(data):
            if not key.endswith(".hits"):
                continue
            protocol, cond = key[: -len(".hits")].split(".", 1)
            hits, probes = data[key], data.get(f"{protocol}.{cond}.probes")
            if probes is None or hits.shape != probes.shape or hits.ndim != 3 or hits.shape[0] != n:
                raise DataError(f"{path}: {protocol}.{cond}: expected hits and probes of shape [{n}, V, V]")
            out.cells[(protocol, cond)] = (hits, probes)
        return out
