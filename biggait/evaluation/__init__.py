"""Evaluation: per-strip distances, retrieval metrics, scoring by the datasets' protocols, bootstrap
intervals, mask quality, embedding extraction, the metrics files, model efficiency, and the
``biggait evaluate`` / ``biggait efficiency`` commands.

The protocol core (:mod:`distance`, :mod:`metrics`, :mod:`protocols`, :mod:`bootstrap`) is pure
numpy/torch and reproduces the released evaluator's numbers exactly (see :mod:`biggait.parity.eval_checks`).
"""

from biggait.evaluation.distance import pairwise_distance
from biggait.evaluation.metrics import RetrievalMetrics, de_diag, first_match_ranks, retrieval_metrics
from biggait.evaluation.metrics_files import MetricRow
from biggait.datasets import PROTOCOLS, get_protocol
from biggait.evaluation.protocols import EvalResult, ViewMatrix, evaluate

__all__ = ["pairwise_distance", "RetrievalMetrics", "de_diag", "first_match_ranks", "retrieval_metrics",
           "PROTOCOLS", "EvalResult", "MetricRow", "ViewMatrix", "evaluate", "get_protocol"]
