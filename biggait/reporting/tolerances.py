"""Tolerances of the CI metric check, measured from seed-to-seed noise.

``biggait tolerances RESULTS --out FILE`` reads an evaluation of several seeds of the same
experiments and writes, per number (experiment, train -> test, protocol, condition, metric; plus
the mean over each evaluation's conditions, :func:`with_condition_means`), the seeds' mean,
standard deviation and spread and the tolerance::

    tolerance = max(floor, t(factor, df) * max(std, pooled std) * sqrt(1 + 1 / seeds))

where the pooled std is over every experiment of the same architecture measured on the same test
set, protocol, condition and metric (over every experiment there when an architecture has only
one), df its degrees of freedom, and t(factor, df) the Student-t quantile with the normal tail
beyond ``factor`` std (:func:`derive`; 3 -> 4.3 at 8 df: three seeds estimate a std poorly). ``check-metrics --tolerances FILE`` compares a run with the **seeds'
mean** of that number, not with one seed of the baseline: a re-run that differs like a new seed
would differs from that mean by ~ N(0, std^2 (1 + 1/seeds)), which is what the square root scales
the tolerance to. With the defaults (factor 3, floor 1 point) such a re-run stays inside with
probability ~0.997 per number, and the reference itself is no longer a single draw of the noise.
Numbers the file does not list fall back to ``--tolerance`` against the baseline's own value. The
demo's file is results/baseline/demo_tolerances.csv, next to the baseline it qualifies.
"""

from __future__ import annotations

import csv
import json
import math
import statistics
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from biggait.errors import DataError
from biggait.evaluation.metrics_files import MetricRow
from biggait.io import csv_text, parse_number, write_text_atomic

KEY_COLUMNS = ("experiment", "train_dataset", "test_dataset", "protocol", "condition", "metric")
COLUMNS = (*KEY_COLUMNS, "seeds", "mean", "std", "spread", "pooled_std", "tolerance")

Key = tuple[str, str, str, str, str, str]


# Smallest tolerance of a protocol's numbers, where seed noise cannot measure it. ``upstream_probe``
# (:func:`biggait.evaluation.probe.probe_trained_upstream`) depends on the upstream alone, which every
# seed of an experiment shares, so its seed std is 0; it changes when the upstream's pretraining is
# drawn again, e.g. on another CPU (the demo's ViT-S read 31 on the earlier machine, 30.8 on the Zen 5 of
# 2026-12-01; 31.9 for a variant of its recipe), while a random upstream reads 13-17. 5 points covers the
# first and is a third of the way to the second (docs/workflow.md, "Metric checks").
PROTOCOL_FLOORS = {"upstream_probe": 5.0}

MEAN_CONDITION = "mean_of_conditions"  # derived: the mean over an evaluation's conditions
_AGGREGATES = {"all", "Overall", MEAN_CONDITION}


def with_condition_means(rows: list[MetricRow]) -> list[MetricRow]:
    """``rows`` plus, per evaluation, protocol and metric of the gait / reid protocols, the mean over
    its conditions (condition :data:`MEAN_CONDITION`; aggregates such as ``Overall`` left out).

    Conditions trade off against each other from seed to seed (a seed that gains on UP tends to lose
    on BG), so their mean is far less noisy than any one of them: on the demo the seed std of
    BigGait's CCPG mean rank-1 is 0.8 points, that of its UP rank-1 7.9. It is the number a broken
    method moves clearly beyond its noise.
    """
    groups: dict[tuple, list[float]] = defaultdict(list)
    for r in rows:
        if r.protocol in ("gait", "reid") and r.condition not in _AGGREGATES and not math.isnan(r.value):
            groups[(r.experiment, r.seed, r.train_dataset, r.test_dataset, r.protocol, r.metric)].append(r.value)
    means = [MetricRow(protocol, MEAN_CONDITION, metric, statistics.fmean(v), experiment=exp, seed=seed,
                       train_dataset=train, test_dataset=test)
             for (exp, seed, train, test, protocol, metric), v in groups.items() if len(v) > 1]
    return [r for r in rows if r.condition != MEAN_CONDITION] + means


def noise_key(r: MetricRow) -> Key:
    """A number's identity without its seed."""
    return (r.experiment, r.train_dataset, r.test_dataset, r.protocol, r.condition, r.metric)


@dataclass(frozen=True)
class Noise:
    """Seed-to-seed noise of one number and its tolerance."""

    key: Key
    seeds: int
    mean: float
    std: float
    spread: float
    pooled_std: float
    tolerance: float


def architectures(results: str | Path) -> dict[str, str]:
    """``{experiment: model.arch}`` from the evaluations' metrics.json under a results folder (their
    resolved experiment); empty for a gathered CSV, whose experiments then pool together."""
    root = Path(results)
    if not root.is_dir():
        return {}
    out: dict[str, str] = {}
    for f in sorted((root / "eval" if (root / "eval").is_dir() else root).glob("**/metrics.json")):
        try:
            doc = json.loads(f.read_text())
        except (OSError, ValueError):
            continue  # load_results reports unreadable evaluations; here they only lose their pooling group
        arch = ((doc.get("resolved_experiment") or {}).get("model") or {}).get("arch")
        if isinstance(doc.get("experiment"), str) and isinstance(arch, str):
            out.setdefault(doc["experiment"], arch)
    return out


def derive(rows: list[MetricRow], factor: float = 3.0, floor: float = 1.0,
           families: dict[str, str] | None = None, floors: dict[str, float] | None = None) -> list[Noise]:
    """Noise and tolerance of every number measured with at least two seeds.

    Three seeds give a poor standard deviation (one experiment's CCPG mean rank-1 varied by 0.8
    points over seeds 0-2, while a thread-count change of the same seed moved it by 5), so the
    tolerance uses the larger of a number's own std and the std pooled over every experiment of the
    same family (``families``: experiment -> architecture, see :func:`architectures`; one family
    when None) measured on the same test set, protocol, condition and metric (root mean of their
    variances). Pooling stays within an architecture: the silhouette GaitBase's seed noise says
    nothing about BigGait's (on the 2026-12-01 demo its CCPG mean varied 3x more, measured in
    docs/workflow.md "Metric checks"). ``floors`` (protocol -> smallest tolerance; default
    :data:`PROTOCOL_FLOORS`) raises ``floor`` for protocols whose noise the seeds do not show.
    """
    floors = PROTOCOL_FLOORS if floors is None else floors
    families = families or {}
    ALL = object()  # the pooling group of every family
    if factor <= 0 or floor < 0:
        raise DataError(f"tolerances: expected factor > 0 and floor >= 0, got {factor} and {floor}")
    values: dict[Key, dict[int, float]] = defaultdict(dict)
    for r in with_condition_means(rows):
        if not math.isnan(r.value):
            values[noise_key(r)][r.seed] = r.value
    measured = {k: list(v.values()) for k, v in values.items() if len(v) >= 2}
    if not measured:
        raise DataError("tolerances: no number was measured with two or more seeds")
    def group(key: Key) -> tuple:
        return (families.get(key[0], ""), *key[2:])  # (family, test, protocol, condition, metric)

    variances: dict[tuple, list[tuple[float, int]]] = defaultdict(list)
    for key, v in measured.items():
        variances[group(key)].append((statistics.variance(v), len(v) - 1))
        variances[(ALL, *key[2:])].append((statistics.variance(v), len(v) - 1))  # every family
    out = []
    for key in sorted(measured):
        v = measured[key]
        std = statistics.stdev(v)
        pooled_vars = variances[group(key)]
        if len(pooled_vars) < 2:  # the only experiment of its family there: pool over every family
            pooled_vars = variances[(ALL, *key[2:])]
        pooled_df = sum(df for _, df in pooled_vars)
        pooled = math.sqrt(sum(var * df for var, df in pooled_vars) / pooled_df)
        # The noise is estimated from few seeds: scale it by the Student-t quantile (the pooled degrees
        # of freedom) with the normal tail of ``factor`` (3 -> 0.27% two-sided), not by ``factor``.
        smallest = max(floor, floors.get(key[3], 0.0))  # key[3]: the protocol
        out.append(Noise(key, len(v), statistics.fmean(v), std, max(v) - min(v), pooled,
                         max(smallest, t_factor(factor, pooled_df) * max(std, pooled) * math.sqrt(1 + 1 / len(v)))))
    return out


def t_factor(factor: float, df: int) -> float:
    """The Student-t quantile with ``df`` degrees of freedom whose two-sided tail equals the normal
    distribution's beyond ``factor`` standard deviations (``factor`` itself as df grows)."""
    from scipy.special import ndtr, stdtrit

    return float(stdtrit(df, ndtr(factor)))


def write(noise: list[Noise], dest: str | Path) -> None:
    write_text_atomic(dest, csv_text(COLUMNS, ([*n.key, n.seeds, n.mean, n.std, n.spread, n.pooled_std, n.tolerance]
                                               for n in noise)))


def read(path: str | Path) -> dict[Key, tuple[float, float]]:
    """``{key: (seeds' mean, tolerance)}`` of a tolerances CSV; one-line DataErrors naming the file and line."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: tolerances file not found (make one with `biggait tolerances`)")
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"{path}: missing columns {', '.join(missing)} (expected {', '.join(COLUMNS)})")
        out = {}
        for i, row in enumerate(reader, start=2):
            tol = parse_number(row["tolerance"], f"{path}:{i} tolerance")
            if math.isnan(tol) or tol < 0:
                raise DataError(f"{path}:{i}: tolerance: expected a non-negative number, got {row['tolerance']!r}")
            mean = parse_number(row["mean"], f"{path}:{i} mean")
            if math.isnan(mean):
                raise DataError(f"{path}:{i}: mean: expected a number, got {row['mean']!r}")
            out[tuple(row[c] for c in KEY_COLUMNS)] = (mean, tol)
    return out
