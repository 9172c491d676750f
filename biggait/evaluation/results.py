"""What an evaluation produces, as data: :class:`MetricRow` (one number), :class:`ViewMatrix` (rank-k
per view pair) and :class:`EvalResult` (what :func:`biggait.evaluation.protocols.evaluate` returns).

The protocols fill them and :mod:`biggait.evaluation.metrics_files` writes and reads them; both import
them from here, so neither imports the other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from biggait.evaluation.identity_hits import IdentityHits


@dataclass(frozen=True)
class MetricRow:
    """One number (percent for accuracies), with its bootstrap interval if any.

    The protocols fill ``protocol`` .. ``ci_high``; rows read back from metrics files also carry
    the evaluation they belong to (``experiment``, ``seed``, ``train_dataset``, ``test_dataset``).
    """

    protocol: str  # gait | reid | mask_iou | upstream_probe
    condition: str
    metric: str  # gait: rank{k}_exclude_identical_view, rank1_include_identical_view;
    #              reid: rank{k}, mAP, mINP; mask_iou, upstream_probe (condition all): iou
    value: float
    ci_low: float = math.nan
    ci_high: float = math.nan
    experiment: str = ""
    seed: int = 0
    train_dataset: str = ""
    test_dataset: str = ""

    def key(self) -> tuple[str, int, str, str, str, str, str]:
        """Identity of the number (everything but the values)."""
        return (
            self.experiment,
            self.seed,
            self.train_dataset,
            self.test_dataset,
            self.protocol,
            self.condition,
            self.metric,
        )


@dataclass(frozen=True)
class ViewMatrix:
    """Rank-k accuracy per (probe view, gallery view), percent, rounded as the reference."""

    protocol: str
    condition: str
    metric: str
    views: list[str]
    values: np.ndarray  # [V, V]: rows = probe views, columns = gallery views


@dataclass
class EvalResult:
    """What :func:`biggait.evaluation.protocols.evaluate` returns: rows for metrics.csv, matrices, and JSON details."""

    protocol: str
    metric: str
    rows: list[MetricRow] = field(default_factory=list)
    matrices: list[ViewMatrix] = field(default_factory=list)
    details: dict = field(default_factory=dict)
    identity_hits: IdentityHits | None = None  # per-identity rank-1 counts (identity_hits.npz)

    def value(self, protocol: str, condition: str, metric: str) -> float:
        """Look one number up (KeyError if absent)."""
        for r in self.rows:
            if (r.protocol, r.condition, r.metric) == (protocol, condition, metric):
                return r.value
        raise KeyError((protocol, condition, metric))
