"""Evaluation: per-strip distances, retrieval metrics, scoring by the datasets' protocols, bootstrap
intervals, mask quality, embedding extraction, the metrics files, model efficiency, and the
``biggait evaluate`` / ``biggait efficiency`` commands.

The protocol core (:mod:`distance`, :mod:`metrics`, :mod:`protocols`, :mod:`bootstrap`) is pure
numpy/torch and reproduces the released evaluator's numbers exactly (see :mod:`biggait.parity.eval_checks`).
Import the modules themselves (``from biggait.evaluation import metrics_files``): this package exports
nothing, so the reporting commands that read metrics files never pay for torch.
"""
