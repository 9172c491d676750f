"""Separate vs ensemble testing (BiggerGait, Figure 5(c)): each layer group scored alone, from the same model.

A BiggerGait model's embeddings are ``[n, C, parts * J]``, its J layer groups' parts concatenated in group
order (:mod:`biggait.models.biggergait`): group g owns the parts ``g * parts : (g + 1) * parts``. The model's
own score, the mean of the per-part distances over all of them, is the paper's ensemble. ``biggait
evaluate-groups EVAL_DIR`` scores each group's slice of the saved ``embeddings.npz`` alone, with the
evaluation's own protocol, metric and bootstrap (its ``metrics.json``), no model run and no retraining.
Below ``EVAL_DIR/groups/`` (:mod:`biggait.paths`) it writes one evaluation folder per group (``g1`` ..
``gJ``: metrics.csv, identity_hits.npz, ...), ``best`` (the same files of the group with the highest
headline score: the mean of the dataset's score over its conditions; what the claim "the ensemble beats
the best single group" compares with) and ``groups.csv`` (the long table of every group's numbers and the
ensemble's, the figure's input), written last.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from biggait import paths
from biggait.config import experiment_from_dict
from biggait.datasets import SCORES
from biggait.errors import EvaluationError
from biggait.evaluation.extract import Embeddings
from biggait.evaluation.metrics_files import read_metrics_csv, write_metrics
from biggait.evaluation.pipeline import read_gallery_keys
from biggait.evaluation.protocols import evaluate
from biggait.evaluation.results import EvalResult, MetricRow
from biggait.io import csv_value, read_json, write_text_atomic

ENSEMBLE = "ensemble"  # the group label of the model's own numbers in groups.csv
GROUPS_COLUMNS = ("test_dataset", "group", "protocol", "condition", "metric", "value")
_INFO_KEYS = ("test_dataset", "metric", "bootstrap", "seed", "resolved_experiment")


@dataclass
class GroupScore:
    """One group's evaluation: its name (``g<i>``), the rows and the protocol's result."""

    name: str
    rows: list[MetricRow]
    result: EvalResult


def group_slices(total_parts: int, parts: int) -> list[slice]:
    """The parts of each group: consecutive slices of ``parts`` (EvaluationError unless they tile)."""
    if parts < 1 or total_parts % parts:
        raise EvaluationError(f"embeddings: {total_parts} parts are not groups of {parts} (model.biggergait.parts)")
    return [slice(g * parts, (g + 1) * parts) for g in range(total_parts // parts)]


def headline(rows: list[MetricRow], test: str) -> float:
    """The mean of the dataset's score (:data:`biggait.datasets.SCORES`) over its conditions (NaN if none)."""
    score = SCORES[test]
    values = [r.value for r in rows if r.protocol == score.protocol and r.metric == score.metric]
    return float(np.mean(values)) if values else math.nan


def best_group(scores: list[GroupScore], test: str) -> GroupScore:
    """The group with the highest :func:`headline` (the first of equals)."""
    heads = [headline(s.rows, test) for s in scores]
    if not heads or all(math.isnan(h) for h in heads):
        raise EvaluationError(f"no group has a {SCORES[test].metric} number on {test}")
    return scores[int(np.nanargmax(heads))]


def score_groups(eval_dir: Path, partition: Path | None = None) -> list[GroupScore]:
    """Score every layer group of one BiggerGait evaluation folder and write ``groups/`` (see the module)."""
    eval_dir = Path(eval_dir)
    source = eval_dir / paths.METRICS_JSON
    info = read_json(source, "metrics", EvaluationError)
    missing = [k for k in _INFO_KEYS if not isinstance(info, dict) or k not in info]
    if missing:
        raise EvaluationError(f"{source}: no {missing[0]} (expected the metrics.json of biggait evaluate)")
    test = str(info["test_dataset"])
    if test not in SCORES:
        raise EvaluationError(f"{source}: test_dataset {test!r} is not a known dataset")
    gallery = read_gallery_keys(partition, test)
    if not isinstance(info["resolved_experiment"], dict):
        raise EvaluationError(f"{source}: resolved_experiment: expected the experiment's mapping")
    exp = experiment_from_dict(info["resolved_experiment"], str(source))
    if exp.model.arch != "biggergait":
        raise EvaluationError(f"{eval_dir}: model.arch is {exp.model.arch}; only a BiggerGait model has layer groups")
    emb = Embeddings.load(eval_dir / paths.EMBEDDINGS_NPZ)
    try:
        settings = {"metric": str(info["metric"]), "bootstrap": int(info["bootstrap"]), "seed": int(info["seed"])}
    except (TypeError, ValueError):
        raise EvaluationError(f"{source}: bootstrap and seed must be integers") from None
    keep = ("train_dataset", "test_dataset", "experiment", "checkpoint", "metric", "bootstrap", "seed")
    base = {k: info[k] for k in keep if k in info}
    out = Path(paths.groups_dir_in(eval_dir))
    scores = []
    for g, sl in enumerate(group_slices(emb.features.shape[2], exp.model.biggergait.parts)):
        result = evaluate(
            test, emb.features[:, :, sl], emb.labels, emb.types, emb.views, gallery_keys=gallery, **settings
        )
        scores.append(GroupScore(paths.group_name(g), list(result.rows), result))
        write_metrics(out / scores[-1].name, result, scores[-1].rows, {**base, "group": scores[-1].name})
    best = best_group(scores, test)
    write_metrics(out / paths.BEST_GROUP, best.result, best.rows, {**base, "group": best.name})
    ensemble = read_metrics_csv(eval_dir / paths.METRICS_CSV, exp.name, settings["seed"])
    table = [(ENSEMBLE, r) for r in ensemble] + [(s.name, r) for s in scores for r in s.rows]
    frame = pd.DataFrame(
        [(test, g, r.protocol, r.condition, r.metric, r.value) for g, r in table], columns=list(GROUPS_COLUMNS)
    )
    write_text_atomic(out / paths.GROUPS_CSV, frame.to_csv(index=False, lineterminator="\n", float_format=csv_value))
    return scores


def read_groups_csv(path: str | Path) -> pd.DataFrame:
    """A ``groups.csv`` (:data:`GROUPS_COLUMNS`); EvaluationError naming the file when malformed."""
    path = Path(path)
    try:
        frame = pd.read_csv(path, dtype={"test_dataset": str, "group": str, "condition": str})
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise EvaluationError(f"{path}: cannot read the groups table ({exc})") from None
    missing = [c for c in GROUPS_COLUMNS if c not in frame.columns]
    if missing:
        raise EvaluationError(f"{path}: missing column {missing[0]} (expected {', '.join(GROUPS_COLUMNS)})")
    return frame
