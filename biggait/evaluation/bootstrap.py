"""Bootstrap confidence intervals that resample probe identities (:func:`scipy.stats.bootstrap`).

Probes of one identity are not independent (same person, same clothes), so the unit of
resampling is the identity: each resample draws ``n_ids`` identities with replacement and every
probe of a drawn identity counts as many times as its identity was drawn. A statistic therefore
sees one weight per identity, and the protocols express their rank-1 numbers as functions of
per-identity sums (hits and probe counts per view pair), which makes a resample a matrix
product instead of a re-evaluation.

scipy resamples the identity *indices* ``0 .. n_ids-1``; :func:`identity_bootstrap` turns each
resample into weights (how often each identity was drawn) and evaluates the weighted statistic.
The interval is BCa (bias-corrected and accelerated, Efron & Tibshirani 1993, ch. 14) where it is
valid, else percentile. BCa is not valid, checked explicitly before it is used, when

- a group has fewer than :data:`MIN_BCA_IDS` identities (the jackknife's acceleration rests on
  too few values);
- the estimate, a resample or a jackknife value is not finite (a view left without probes);
- the bootstrap distribution is constant, or the estimate lies outside it (bias correction
  ``z0 = ±inf``), e.g. every identity scores the same;
- every jackknife value is the same (acceleration ``0 / 0``);

or when scipy's BCa bounds come out non-finite anyway. The percentile fallback ignores the
resamples whose statistic is NaN. :class:`Interval` says which method gave the bounds.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

Statistic = Callable[[np.ndarray], np.ndarray]  # weights [B, n_ids] -> values [B]
CHUNK = 256  # resamples evaluated together (scipy's ``batch``: bounds memory to CHUNK x cells)
MIN_BCA_IDS = 5  # fewer identities (in any resampled group): percentile interval
BCA, PERCENTILE = "BCa", "percentile"


class Interval(NamedTuple):
    """A bootstrap interval and the method that gave it (``""`` when there is none)."""

    low: float
    high: float
    method: str


NO_INTERVAL = Interval(float("nan"), float("nan"), "")


def id_sums(values: np.ndarray, id_index: np.ndarray, n_ids: int) -> np.ndarray:
    """Sum ``values [P, ...]`` per identity: ``[n_ids, ...]`` (float64)."""
    out = np.zeros((n_ids,) + values.shape[1:], dtype=np.float64)
    np.add.at(out, id_index, values.astype(np.float64))
    return out


def index_weights(indices: np.ndarray, n_ids: int) -> np.ndarray:
    """Identity-index resamples ``[..., m]`` -> weights ``[prod(...), n_ids]`` (draws per identity)."""
    rows = np.asarray(indices).reshape(-1, np.shape(indices)[-1])  # [B, m]
    b = rows.shape[0]
    flat = (rows + n_ids * np.arange(b)[:, None]).ravel()  # one bincount for every row at once
    return np.bincount(flat, minlength=b * n_ids).reshape(b, n_ids).astype(np.float64)


def resample_weights(n_ids: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """``[resamples, n_ids]``: how often each identity is drawn in each resample.

    The draws are those scipy makes for one sample (``rng.integers(0, n_ids, (resamples, n_ids))``);
    :mod:`biggait.reporting.claims` uses it for the identity level of its two-level bootstrap.
    """
    return index_weights(rng.integers(0, n_ids, size=(resamples, n_ids)), n_ids)


def _percentile_of(theta: float, dist: np.ndarray) -> float:
    """scipy's BCa percentile of the estimate in the bootstrap distribution (kind 'mean')."""
    return float(np.sum(dist < theta) + np.sum(dist <= theta)) / (2 * dist.size)


def identity_bootstrap(
    statistic: Callable[..., np.ndarray],
    n_ids: Sequence[int],
    resamples: int,
    rng: np.random.Generator,
    level: float = 0.95,
) -> Interval:
    """Interval of ``statistic`` over independent identity resamples of one or more groups.

    Args:
        statistic: maps one weights array ``[B, n_ids[k]]`` per group to values ``[B]`` (NaN where
            nothing is left to score).
        n_ids: identities per group; each group is resampled on its own (two groups: an unpaired
            comparison). A group of one identity always draws that identity.
        resamples: bootstrap resamples (0 = off: no interval).
        rng: the generator scipy draws from (consumed).
        level: confidence level.
    """
    sizes = tuple(int(n) for n in n_ids)
    if resamples <= 0 or not sizes or min(sizes) == 0:
        return NO_INTERVAL
    from scipy import stats  # imported here: ~1 s CPU that every importer of biggait.evaluation would pay

    free = [k for k, n in enumerate(sizes) if n >= 2]  # scipy needs two observations per sample

    def weighted(weights: dict[int, np.ndarray], b: int) -> np.ndarray:
        full = [weights.get(k, np.ones((b, n))) for k, n in enumerate(sizes)]
        return np.asarray(statistic(*full), dtype=np.float64).reshape(b)

    def on_indices(*idx: np.ndarray, axis: int = -1) -> np.ndarray:  # scipy's vectorised statistic
        idx = tuple(np.moveaxis(np.asarray(i), axis, -1) for i in idx)
        lead = np.broadcast_shapes(*(i.shape[:-1] for i in idx))  # (), (B,) or jackknife's (B,)
        b = int(np.prod(lead))
        weights = {k: index_weights(np.broadcast_to(i, lead + i.shape[-1:]), sizes[k]) for k, i in zip(free, idx)}
        return weighted(weights, b).reshape(lead)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        theta = float(weighted({}, 1)[0])
        if not free:  # every resample is the data itself
            return Interval(theta, theta, PERCENTILE) if np.isfinite(theta) else NO_INTERVAL
        data = tuple(np.arange(sizes[k]) for k in free)
        kw = dict(batch=CHUNK, vectorized=True, confidence_level=level)
        res = stats.bootstrap(data, on_indices, n_resamples=resamples, method="percentile", rng=rng, **kw)
        dist = np.asarray(res.bootstrap_distribution, dtype=np.float64)  # [resamples]
        if _bca_valid(theta, dist, free, sizes, weighted):
            bca = stats.bootstrap(data, on_indices, n_resamples=0, method="BCa", bootstrap_result=res, **kw)
            low, high = float(bca.confidence_interval.low), float(bca.confidence_interval.high)
            if np.isfinite(low) and np.isfinite(high) and low <= high:
                return Interval(low, high, BCA)
        finite = dist[np.isfinite(dist)]
        if finite.size == 0:
            return NO_INTERVAL
        if finite.size == dist.size:
            low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
        else:  # resamples that left nothing to score are ignored
            alpha = (1.0 - level) / 2.0
            low, high = (float(v) for v in stats.quantile(finite, np.array([alpha, 1.0 - alpha])))
    return Interval(low, high, PERCENTILE)


def _bca_valid(
    theta: float,
    dist: np.ndarray,
    free: list[int],
    sizes: tuple[int, ...],
    weighted: Callable[[dict[int, np.ndarray], int], np.ndarray],
) -> bool:
    """Whether BCa's bias correction and acceleration are defined (see the module docstring)."""
    if min(sizes[k] for k in free) < MIN_BCA_IDS or not np.isfinite(theta) or not np.isfinite(dist).all():
        return False
    if np.ptp(dist) == 0 or not 0.0 < _percentile_of(theta, dist) < 1.0:
        return False
    varies = False  # scipy sums the groups' jackknife spreads: one varying group is enough
    for k in free:  # jackknife of group k: leave one identity out, the other groups whole
        n = sizes[k]
        jack = []
        for start in range(0, n, CHUNK):
            w = np.ones((min(CHUNK, n - start), n))  # [b, n]
            w[np.arange(w.shape[0]), start + np.arange(w.shape[0])] = 0.0
            jack.append(weighted({k: w}, w.shape[0]))
        values = np.concatenate(jack)
        if not np.isfinite(values).all():
            return False
        varies = varies or bool(np.ptp(values) > 0)
    return varies


def bootstrap_ci(statistic: Statistic, n_ids: int, resamples: int, seed: int, level: float = 0.95) -> Interval:
    """Interval of ``statistic`` over ``resamples`` identity resamples drawn from ``seed``.

    BCa where valid, else percentile (:func:`identity_bootstrap`); NaN bounds and no method when
    ``resamples`` is 0 (off), there is no identity, or no resample gives a finite value.
    """
    return identity_bootstrap(statistic, (n_ids,), resamples, np.random.default_rng(seed), level)


def ratio_statistic(hits: np.ndarray, totals: np.ndarray, reduce: Callable[[np.ndarray], np.ndarray]) -> Statistic:
    """A statistic ``reduce(100 * (w @ hits) / (w @ totals))`` over per-identity sums.

    Args:
        hits: ``[n_ids, *cells]`` per-identity hit counts.
        totals: ``[n_ids, *cells]`` per-identity probe counts (broadcast to ``hits``' cells).
        reduce: maps percentages ``[B, *cells]`` to ``[B]`` (e.g. round + de_diag).
    """
    cells = hits.shape[1:]
    h = hits.reshape(hits.shape[0], -1)
    t = np.broadcast_to(totals.reshape(totals.shape + (1,) * (hits.ndim - totals.ndim)), hits.shape).reshape(
        hits.shape[0], -1
    )

    def stat(weights: np.ndarray) -> np.ndarray:
        num, den = weights @ h, weights @ t  # [B, cells]
        with np.errstate(invalid="ignore", divide="ignore"):
            pct = np.where(den > 0, 100.0 * num / den, np.nan)
        return reduce(pct.reshape((weights.shape[0],) + cells))

    return stat
