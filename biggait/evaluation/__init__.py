"""Evaluation: per-strip distances, retrieval metrics, scoring by the datasets' protocols, bootstrap
intervals, mask quality, embedding extraction, the metrics files, model efficiency, and the
``biggait evaluate`` / ``biggait efficiency`` commands.

The protocol core (:mod:`distance`, :mod:`metrics`, :mod:`protocols`, :mod:`bootstrap`) is pure
numpy/torch and reproduces the released evaluator's numbers exactly (see :mod:`biggait.parity.eval_checks`).
"""

import importlib
from typing import Any

# Exported names -> the module defining them, imported on first use: the reporting commands read
# metrics files (biggait.evaluation.metrics_files) without paying for torch (~1.5 s per workflow job).
_EXPORTS = {
    "pairwise_distance": "biggait.evaluation.distance",
    "RetrievalMetrics": "biggait.evaluation.metrics",
    "de_diag": "biggait.evaluation.metrics",
    "first_match_ranks": "biggait.evaluation.metrics",
    "retrieval_metrics": "biggait.evaluation.metrics",
    "MetricRow": "biggait.evaluation.results",
    "PROTOCOLS": "biggait.datasets",
    "get_protocol": "biggait.datasets",
    "EvalResult": "biggait.evaluation.results",
    "ViewMatrix": "biggait.evaluation.results",
    "evaluate": "biggait.evaluation.protocols",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'biggait.evaluation' has no attribute {name!r}")
