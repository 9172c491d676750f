"""Tolerances of the CI metric check, measured from seed-to-seed noise, with a family-wise false-alarm rate.

``biggait tolerances RESULTS --out FILE`` reads an evaluation of several seeds of the same
experiments and writes, per number (experiment, train -> test, protocol, condition, metric; plus
the mean over each evaluation's conditions, :func:`with_condition_means`), the seeds' mean,
standard deviation and spread, whether the number is **checked**, its tolerance and the smallest
shift it detects::

    tolerance = max(floor, t(alpha / K, df) * pooled std * sqrt(1 + 1 / seeds))

A harmless re-run (another CPU, thread count or summation order: it redraws a CPU training like a
new seed) differs from the seeds' mean by ~ N(0, std^2 (1 + 1/seeds)). ``check-metrics`` fails only on
the K **checked** numbers (:func:`is_checked`: per evaluation the mean over conditions of the headline
metrics, the mask IoU and the upstream probe), each tested at ``alpha / K`` two-sided (Bonferroni), so
the whole check of a harmless re-run fails with probability at most ``alpha`` (default 1%), however
many numbers it reads; t(p, df) is the Student-t quantile at the pooled degrees of freedom (few seeds
estimate a std poorly). Per-condition numbers get a tolerance at the same per-number level but are
only reported (conditions trade off against each other from seed to seed). A checked number whose
tolerance exceeds its plausible range (:data:`MAX_TOLERANCE`: a quarter of the 0-100 scale) cannot
catch a breakage and is written as not checked. ``detectable`` is the shift of the mean that the
check catches with 80% probability (tolerance + z(0.8) * predictive std). The pooled std is over every
experiment of the same architecture on the same test set, protocol, condition and metric (over every
experiment there when an architecture has only one). The demo's file is
results/baseline/demo_tolerances.csv, next to the baseline it qualifies.
"""

from __future__ import annotations

import csv
import json
import math
import statistics
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from biggait import paths
from biggait.errors import DataError
from biggait.evaluation.results import MetricRow
from biggait.io import csv_text, parse_number, write_text_atomic

KEY_COLUMNS = ("experiment", "train_dataset", "test_dataset", "protocol", "condition", "metric")
COLUMNS = (*KEY_COLUMNS, "seeds", "mean", "std", "spread", "pooled_std", "tolerance", "checked", "detectable")

Key = tuple[str, str, str, str, str, str]


# Smallest tolerance of a protocol's numbers, where seed noise cannot measure it. ``upstream_probe``
# (:func:`biggait.evaluation.probe.probe_trained_upstream`) depends on the upstream alone, which every
# seed of an experiment shares, so its seed std is 0; it changes when the upstream's pretraining is
# drawn again, e.g. on another CPU (the demo's ViT-S read 31 on the earlier machine, 30.8 on the Zen 5 of
# 2026-12-01; 31.9 for a variant of its recipe), while a random upstream reads 13-17. 5 points covers the
# first and is a third of the way to the second (docs/workflow.md, "Metric checks").
PROTOCOL_FLOORS = {"upstream_probe": 5.0}

# The whole check's false-alarm probability on a harmless re-run (family-wise, over the checked numbers).
FAMILY_ALPHA = 0.01
# A checked number's tolerance beyond this (points on the 0-100 scale) covers most of the range it can
# take: such a number is too noisy to catch a breakage and is reported, not checked.
MAX_TOLERANCE = 25.0
# The metrics whose condition mean is checked, per protocol; mask_iou / upstream_probe: their "all" number.
HEADLINE_METRICS = {"gait": ("rank1_exclude_identical_view",), "reid": ("mAP",)}
OVERALL_PROTOCOLS = ("mask_iou", "upstream_probe")

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
    means = [
        MetricRow(
            protocol,
            MEAN_CONDITION,
            metric,
            statistics.fmean(v),
            experiment=exp,
            seed=seed,
            train_dataset=train,
            test_dataset=test,
        )
        for (exp, seed, train, test, protocol, metric), v in groups.items()
        if len(v) > 1
    ]
    return [r for r in rows if r.condition != MEAN_CONDITION] + means


def noise_key(r: MetricRow) -> Key:
    """A number's identity without its seed."""
    return (r.experiment, r.train_dataset, r.test_dataset, r.protocol, r.condition, r.metric)


def is_checked(key: Key) -> bool:
    """Whether a number is one of the few that the metric check fails on (the others are reported)."""
    protocol, condition, metric = key[3:]
    if protocol in OVERALL_PROTOCOLS:
        return condition == "all"
    return condition == MEAN_CONDITION and metric in HEADLINE_METRICS.get(protocol, ())


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
    checked: bool = False
    detectable: float = math.nan


def architectures(results: str | Path, experiments: list[str] | None = None) -> dict[str, str]:
    """``{experiment: model.arch}`` from the evaluations' metrics.json under a results folder (their
    resolved experiment); for a gathered CSV, from ``experiments``' files in the repository's
    config/experiments/ (``model.arch``, else the default, BigGait)."""
    root = Path(results)
    if not root.is_dir():
        return {e: _configured_arch(e) for e in experiments or []}
    out: dict[str, str] = {}
    evals = Path(paths.eval_root(str(root)))
    for f in sorted((evals if evals.is_dir() else root).glob(f"**/{paths.METRICS_JSON}")):
        try:
            doc = json.loads(f.read_text())
        except (OSError, ValueError):
            continue  # load_results reports unreadable evaluations; here they only lose their pooling group
        arch = ((doc.get("resolved_experiment") or {}).get("model") or {}).get("arch")
        if isinstance(doc.get("experiment"), str) and isinstance(arch, str):
            out.setdefault(doc["experiment"], arch)
    return out


def _configured_arch(experiment: str) -> str:
    import yaml

    from biggait.config import config_dir

    f = config_dir() / "experiments" / f"{experiment}.yaml"
    doc = yaml.safe_load(f.read_text()) if f.is_file() else None
    arch = ((doc or {}).get("model") or {}).get("arch") if isinstance(doc, dict) else None
    return arch if isinstance(arch, str) else "biggait"


def derive(
    rows: list[MetricRow],
    alpha: float = FAMILY_ALPHA,
    floor: float = 1.0,
    families: dict[str, str] | None = None,
    floors: dict[str, float] | None = None,
) -> list[Noise]:
    """Noise and tolerance of every number measured with at least two seeds.

    Three seeds give a poor standard deviation (one experiment's CCPG mean rank-1 varied by 0.8
    points over seeds 0-2, while a thread-count change of the same seed moved it by 5), so the
    tolerance uses the std pooled over every experiment of the same family (``families``: experiment -> architecture,
    see :func:`architectures`; one family
    when None) measured on the same test set, protocol, condition and metric (root mean of their
    variances). Pooling stays within an architecture: the silhouette GaitBase's seed noise says
    nothing about BigGait's (on the 2026-12-01 demo its CCPG mean varied 3x more, measured in
    docs/workflow.md "Metric checks"). ``floors`` (protocol -> smallest tolerance; default
    :data:`PROTOCOL_FLOORS`) raises ``floor`` for protocols whose noise the seeds do not show.
    """
    floors = PROTOCOL_FLOORS if floors is None else floors
    families = families or {}
    ALL = object()  # the pooling group of every family
    if not 0 < alpha < 1 or floor < 0:
        raise DataError(f"tolerances: expected 0 < alpha < 1 and floor >= 0, got {alpha} and {floor}")
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
    per_number = alpha / max(1, sum(is_checked(k) for k in measured))  # Bonferroni over the checked numbers
    out = []
    for key in sorted(measured):
        v = measured[key]
        std = statistics.stdev(v)
        pooled_vars = variances[group(key)]
        if len(pooled_vars) < 2:  # the only experiment of its family there: pool over every family
            pooled_vars = variances[(ALL, *key[2:])]
        pooled_df = sum(df for _, df in pooled_vars)
        pooled = math.sqrt(sum(var * df for var, df in pooled_vars) / pooled_df)
        # The noise is estimated from few seeds: the Student-t quantile at the pooled degrees of freedom.
        smallest = max(floor, floors.get(key[3], 0.0))  # key[3]: the protocol
        predictive = pooled * math.sqrt(1 + 1 / len(v))  # the pooled estimate: its df is what t is taken at
        tol = max(smallest, t_quantile(per_number, pooled_df) * predictive)
        checked = is_checked(key) and tol <= MAX_TOLERANCE
        out.append(
            Noise(key, len(v), statistics.fmean(v), std, max(v) - min(v), pooled, tol, checked, tol + Z80 * predictive)
        )
    return out


Z80 = 0.8416212335729143  # the standard normal's 80% quantile: detectable = tolerance + Z80 * predictive std


def t_quantile(p: float, df: int) -> float:
    """The Student-t quantile with ``df`` degrees of freedom beyond which lies ``p`` of the mass, two-sided."""
    from scipy.special import stdtrit

    return float(stdtrit(df, 1 - p / 2))


def write(noise: list[Noise], dest: str | Path) -> None:
    write_text_atomic(
        dest,
        csv_text(
            COLUMNS,
            (
                [*n.key, n.seeds, n.mean, n.std, n.spread, n.pooled_std, n.tolerance, int(n.checked), n.detectable]
                for n in noise
            ),
        ),
    )


@dataclass(frozen=True)
class Tolerance:
    """One row of a tolerances file, as check-metrics uses it."""

    mean: float
    tolerance: float
    checked: bool
    detectable: float
    seeds: int = 0  # the baseline seeds the mean is over
    pooled_std: float = math.nan


def seed_means(rows: list[MetricRow]) -> tuple[list[MetricRow], dict[Key, int]]:
    """Each number averaged over the seeds that hold it (as seed 0), and how many seeds that is per number:
    what ``check-metrics --seed-mean`` compares with the baseline seeds' mean. NaN values are left out."""
    groups: dict[Key, list[MetricRow]] = defaultdict(list)
    for r in rows:
        if not math.isnan(r.value):
            groups[noise_key(r)].append(r)
    out, counts = [], {}
    for key, rs in groups.items():
        first = rs[0]
        out.append(
            MetricRow(
                first.protocol,
                first.condition,
                first.metric,
                statistics.fmean(r.value for r in rs),
                experiment=first.experiment,
                seed=0,
                train_dataset=first.train_dataset,
                test_dataset=first.test_dataset,
            )
        )
        counts[key] = len({r.seed for r in rs})
    return out, counts


def for_seed_mean(per_number: dict[Key, Tolerance], counts: dict[Key, int], floor: float = 1.0) -> dict[Key, Tolerance]:
    """The tolerances of a mean over ``counts[key]`` seeds (m) against the baseline seeds' mean (n seeds): the
    predictive std ``pooled * sqrt(1 + 1/n)`` of one seed becomes ``pooled * sqrt(1/m + 1/n)`` at the same
    t quantile, so the family-wise false-alarm rate stays the file's while a shift is seen ~sqrt(m) times
    sooner. A tolerance at its floor (:data:`PROTOCOL_FLOORS`, else ``floor``: :func:`derive`'s default) stays
    there; a number without seeds in the file, or not in ``counts``, keeps its tolerance."""
    out = {}
    for key, t in per_number.items():
        m, n = counts.get(key, 1), t.seeds
        smallest = max(floor, PROTOCOL_FLOORS.get(key[3], 0.0))
        if m <= 1 or n < 1 or t.tolerance <= smallest + 1e-12:
            out[key] = t
            continue
        factor = math.sqrt(1 / m + 1 / n) / math.sqrt(1 + 1 / n)
        out[key] = Tolerance(t.mean, max(smallest, t.tolerance * factor), t.checked, math.nan, n, t.pooled_std)
    return out


def read(path: str | Path) -> dict[Key, Tolerance]:
    """``{key: Tolerance}`` of a tolerances CSV; one-line DataErrors naming the file and line."""
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
            if row["checked"] not in ("0", "1"):
                raise DataError(f"{path}:{i}: checked: expected 0 or 1, got {row['checked']!r}")
            detectable = parse_number(row["detectable"], f"{path}:{i} detectable")
            try:
                seeds = int(row["seeds"])
            except ValueError:
                raise DataError(f"{path}:{i}: seeds: expected a whole number, got {row['seeds']!r}") from None
            pooled = parse_number(row["pooled_std"], f"{path}:{i} pooled_std")
            out[tuple(row[c] for c in KEY_COLUMNS)] = Tolerance(
                mean, tol, row["checked"] == "1", detectable, seeds, pooled
            )
    return out
