"""``biggait claims``: each claim of ``config/claims.yaml`` tested on our evaluations, with its uncertainty.

For a claim "A > B" (cells of the result tables, :mod:`biggait.reporting.claims_config`) the effect
is ``mean over seeds of A - mean over seeds of B`` in rank-1 points, the numbers the tables show.
Its 95% interval comes from a two-level bootstrap; each resample

1. draws the test identities with replacement (the protocols' unit of resampling, as the
   intervals of metrics.csv). When both sides were evaluated on the same test identities the
   *same* draw reweights A and B: the comparison is **paired**, so what both models find easy or
   hard cancels out of the effect. Otherwise each side gets its own draw (**unpaired**);
2. draws each side's seeds with replacement (training variance; with one seed this step is
   void and the interval covers the test-set sampling only), and averages the drawn seeds.

A resample recomputes every number exactly as the protocol does, from the per-identity counts of
``identity_hits.npz`` (:mod:`biggait.evaluation.identity_hits`).

When each side has one seed, step 2 is void and the procedure is an ordinary identity bootstrap
(one sample of identities when paired, two when not): :func:`scipy.stats.bootstrap` runs it,
through :func:`biggait.evaluation.bootstrap.identity_bootstrap` (the code of metrics.csv's
intervals: BCa where valid, else percentile). With several seeds the resampling stays custom:
scipy resamples the observations of independent samples at a single level, while here each
resample is nested, first identity weights (shared by every seed of a side, and by both sides
when paired), then seeds whose values were computed under those weights; neither the seed level
nor its dependence on the identity draw can be written as a scipy sample. The interval is then
the percentile interval of the resampled effects, taken with :func:`scipy.stats.quantile`.

Verdicts: **holds** when the interval lies entirely on the claimed side and beyond
``min_effect``; **refuted** when it lies entirely on the other side of 0; **inconclusive**
otherwise; **not run** when a side has no evaluation (with the reason). The generator is seeded
by ``--seed`` and the claim id, so outputs are byte-stable and one claim's numbers do not change
when others are added.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from biggait import paths
from biggait.errors import DataError
from biggait.evaluation.bootstrap import PERCENTILE, Interval, identity_bootstrap, resample_weights
from biggait.evaluation.identity_hits import IdentityHits
from biggait.evaluation.metrics_files import read_metrics_csv
from biggait.reporting.claims_config import CellRef, Claim

VALUE_TOLERANCE = 1e-3  # identity hits must give metrics.csv's number (6 decimals there)
HOLDS, REFUTED, INCONCLUSIVE, NOT_RUN = "holds", "refuted", "inconclusive", "not run"


@dataclass
class Side:
    """The evaluations of one cell: per seed the table's number and the per-identity counts."""

    cell: CellRef
    seeds: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)  # per seed, percent (mean over conditions for Mean)
    hits: list[IdentityHits] = field(default_factory=list)
    problem: str = ""  # why this side cannot be scored ("" = fine)

    def identities(self) -> list[str] | None:
        """The test identities shared by every seed (None when they differ)."""
        ids = [h.identities for h in self.hits]
        return ids[0] if ids and all(i == ids[0] for i in ids) else None

    def statistic(self, weights: np.ndarray) -> np.ndarray:
        """``[n_seeds, B]``: each seed's number under identity weights ``[B, n_ids]``."""
        c = self.cell
        return np.stack(
            [np.mean([h.statistic(c.protocol, cond, weights) for cond in c.conditions], axis=0) for h in self.hits]
        )


@dataclass
class Outcome:
    """What ``biggait claims`` reports for one claim."""

    claim: Claim
    verdict: str
    reason: str = ""
    pairing: str = ""  # paired | unpaired
    seeds_a: tuple[int, ...] = ()
    seeds_b: tuple[int, ...] = ()
    value_a: float = math.nan
    value_b: float = math.nan
    effect: float = math.nan  # A - B, points
    ci_low: float = math.nan
    ci_high: float = math.nan
    ci_method: str = ""  # BCa | percentile ("" = no interval); not a column of claims.csv


class EvaluationIndex:
    """Where each (experiment, test) evaluation's metrics.csv is, per seed.

    Either exactly the given metrics files (the workflow passes its declared inputs, so an
    evaluation left by an earlier run never counts) or every ``metrics.csv`` below a results folder.
    """

    def __init__(
        self, results: str | Path, metrics_files: Iterable[str | Path] | None = None, seeds: Iterable[int] | None = None
    ) -> None:
        self.results = Path(results)
        if metrics_files is None:
            root = Path(paths.eval_root(str(self.results)))
            metrics_files = sorted(root.glob(paths.metrics_glob())) if root.is_dir() else []
            self.where = f"{root}"
        else:
            metrics_files = list(metrics_files)
            self.where = f"the {len(metrics_files)} metrics files given"
        want = set(seeds) if seeds is not None else None
        self.files: dict[tuple[str, str], dict[int, Path]] = {}
        for f in metrics_files:
            key = paths.parse_metrics_file(f)
            if key is None:
                raise DataError(f"{f}: expected a path .../<experiment>/seed<k>/<test>/{paths.METRICS_CSV}")
            exp, seed, test = key
            if want is None or seed in want:
                self.files.setdefault((exp, test), {})[seed] = Path(f)
        if not self.files:
            seeds_note = f" of seeds {', '.join(map(str, sorted(want)))}" if want is not None else ""
            raise DataError(
                f"{self.where}: no evaluation{seeds_note} found (expected <experiment>/seed<k>/<test>/"
                f"{paths.METRICS_CSV}, written by biggait evaluate)"
            )

    def side(self, cell: CellRef) -> Side:
        """Read one cell's evaluations (every seed found); ``problem`` says why it cannot be scored."""
        side = Side(cell)
        found = self.files.get((cell.experiment, cell.test), {})
        if not found:
            side.problem = f"no evaluation of {cell.experiment} on {cell.test} in {self.where}"
            return side
        for seed in sorted(found):
            metrics = found[seed] if not cell.group else Path(paths.group_metrics_of(found[seed], cell.group))
            if not metrics.is_file():
                side.problem = f"{metrics} missing (the {cell.group} group is scored by biggait evaluate-groups)"
                return side
            rows = {
                r.condition: r.value
                for r in read_metrics_csv(metrics, cell.experiment, seed)
                if r.protocol == cell.protocol and r.metric == cell.metric
            }
            absent = [c for c in cell.conditions if not math.isfinite(rows.get(c, math.nan))]
            if absent:
                side.problem = f"{metrics}: no {cell.metric} number for condition {absent[0]}"
                return side
            hits_file = metrics.parent / paths.IDENTITY_HITS
            if not hits_file.is_file():
                side.problem = (
                    f"{hits_file} missing (evaluated before identity hits were written; re-run biggait evaluate)"
                )
                return side
            hits = IdentityHits.load(hits_file)
            for c in cell.conditions:
                if not hits.has(cell.protocol, c):
                    side.problem = f"{hits_file}: no {cell.protocol} counts for condition {c}"
                    return side
                if abs(hits.value(cell.protocol, c) - rows[c]) > VALUE_TOLERANCE:
                    side.problem = f"{hits_file}: does not give the number of {metrics} for {c} (stale?)"
                    return side
            side.seeds.append(seed)
            side.values.append(float(np.mean([rows[c] for c in cell.conditions])))
            side.hits.append(hits)
        return side


def _seed_means(stat: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``stat [n_seeds, B]`` -> ``[B]``: per resample the mean of n_seeds seeds drawn with replacement."""
    n, b = stat.shape
    draws = rng.integers(0, n, size=(b, n))  # [B, n_seeds]
    return np.take_along_axis(stat.T, draws, axis=1).mean(axis=1)


def effect_interval(
    a: Side, b: Side, *, paired: bool, resamples: int, rng: np.random.Generator, level: float = 0.95
) -> Interval:
    """Interval of ``A - B`` over identity (shared when ``paired``) and seed resamples, with its method."""
    n_a, n_b = len(a.hits[0].identities), len(b.hits[0].identities)
    if len(a.hits) == 1 and len(b.hits) == 1:  # no seed level: scipy's identity bootstrap
        if paired:  # one sample of identities reweights both sides
            return identity_bootstrap(lambda w: a.statistic(w)[0] - b.statistic(w)[0], (n_a,), resamples, rng, level)
        return identity_bootstrap(
            lambda wa, wb: a.statistic(wa)[0] - b.statistic(wb)[0], (n_a, n_b), resamples, rng, level
        )
    w_a = resample_weights(n_a, resamples, rng)  # [B, n_ids]
    w_b = w_a if paired else resample_weights(n_b, resamples, rng)
    diff = _seed_means(a.statistic(w_a), rng) - _seed_means(b.statistic(w_b), rng)
    diff = diff[np.isfinite(diff)]  # a resample may leave a view without probes: left out
    if diff.size == 0:
        return Interval(math.nan, math.nan, "")
    from scipy import stats  # here, not at import: scipy.stats costs ~1 s CPU (see evaluation.bootstrap)

    alpha = (1.0 - level) / 2.0
    low, high = stats.quantile(diff, np.array([alpha, 1.0 - alpha]))
    return Interval(float(low), float(high), PERCENTILE)


def bootstrap_effect(
    a: Side, b: Side, *, paired: bool, resamples: int, rng: np.random.Generator, level: float = 0.95
) -> tuple[float, float]:
    """``(low, high)`` of :func:`effect_interval`."""
    ci = effect_interval(a, b, paired=paired, resamples=resamples, rng=rng, level=level)
    return ci.low, ci.high


def verdict(claim: Claim, low: float, high: float) -> tuple[str, str]:
    """holds / refuted / inconclusive from the interval of A - B, with a note."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return NOT_RUN, "the bootstrap gave no finite value"
    lo, hi = (low, high) if claim.sign > 0 else (-high, -low)  # oriented: positive = the claimed side
    if lo > claim.min_effect:
        return HOLDS, ""
    if hi < 0:
        return REFUTED, ""
    if lo > 0:
        return INCONCLUSIVE, f"on the claimed side, but not beyond the minimum effect of {claim.min_effect:g} points"
    return INCONCLUSIVE, "the interval includes no difference"


def evaluate_claim(
    claim: Claim, index: EvaluationIndex, *, resamples: int = 2000, seed: int = 0, level: float = 0.95
) -> Outcome:
    """Evaluate one claim (never raises for a missing side: the outcome reads ``not run``)."""
    a, b = index.side(claim.a), index.side(claim.b)
    out = Outcome(claim, NOT_RUN, seeds_a=tuple(a.seeds), seeds_b=tuple(b.seeds))
    problems = [f"{k}: {s.problem}" for k, s in (("A", a), ("B", b)) if s.problem]
    if problems:
        out.reason = "; ".join(problems)
        return out
    ids_a, ids_b = a.identities(), b.identities()
    if ids_a is None or ids_b is None:
        out.reason = f"{'A' if ids_a is None else 'B'}: its seeds were evaluated on different test identities"
        return out
    paired = claim.a.test == claim.b.test and ids_a == ids_b
    out.pairing = "paired" if paired else "unpaired"
    out.value_a, out.value_b = float(np.mean(a.values)), float(np.mean(b.values))
    out.effect = out.value_a - out.value_b
    rng = np.random.default_rng([seed, zlib.crc32(claim.id.encode())])
    out.ci_low, out.ci_high, out.ci_method = effect_interval(
        a, b, paired=paired, resamples=resamples, rng=rng, level=level
    )
    out.verdict, out.reason = verdict(claim, out.ci_low, out.ci_high)
    return out
