"""Percentile bootstrap confidence intervals that resample probe identities.

Probes of one identity are not independent (same person, same clothes), so the unit of
resampling is the identity: each resample draws ``n_ids`` identities with replacement and every
probe of a drawn identity counts as many times as its identity was drawn. A statistic therefore
sees one weight per identity, and the protocols express their rank-1 numbers as functions of
per-identity sums (hits and probe counts per view pair), which makes a resample a matrix
product instead of a re-evaluation.
"""

from __future__ import annotations

import warnings
from typing import Callable

import numpy as np


Statistic = Callable[[np.ndarray], np.ndarray]  # weights [B, n_ids] -> values [B]
CHUNK = 256  # resamples evaluated together (bounds memory to CHUNK x cells)


def id_sums(values: np.ndarray, id_index: np.ndarray, n_ids: int) -> np.ndarray:
    """Sum ``values [P, ...]`` per identity: ``[n_ids, ...]`` (float64)."""
    out = np.zeros((n_ids,) + values.shape[1:], dtype=np.float64)
    np.add.at(out, id_index, values.astype(np.float64))
    return out


def resample_weights(n_ids: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """``[resamples, n_ids]``: how often each identity is drawn in each resample."""
    draws = rng.integers(0, n_ids, size=(resamples, n_ids))
    weights = np.zeros((resamples, n_ids), dtype=np.float64)
    np.add.at(weights, (np.repeat(np.arange(resamples), n_ids), draws.ravel()), 1.0)
    return weights


def bootstrap_ci(statistic: Statistic, n_ids: int, resamples: int, seed: int,
                 level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of ``statistic`` over ``resamples`` identity resamples.

    Returns ``(nan, nan)`` when ``resamples`` is 0 (off) or there is no identity. Resamples
    whose statistic is NaN (e.g. a view left without probes) are ignored.
    """
    if resamples <= 0 or n_ids == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    values = []
    for start in range(0, resamples, CHUNK):
        b = min(CHUNK, resamples - start)
        values.append(np.asarray(statistic(resample_weights(n_ids, b, rng)), dtype=np.float64))
    vals = np.concatenate(values)
    vals = vals[np.isfinite(vals)]
    if vals.size == 0:
        return float("nan"), float("nan")
    alpha = (1.0 - level) / 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = np.percentile(vals, [100 * alpha, 100 * (1 - alpha)])
    return float(low), float(high)


def ratio_statistic(hits: np.ndarray, totals: np.ndarray,
                    reduce: Callable[[np.ndarray], np.ndarray]) -> Statistic:
    """A statistic ``reduce(100 * (w @ hits) / (w @ totals))`` over per-identity sums.

    Args:
        hits: ``[n_ids, *cells]`` per-identity hit counts.
        totals: ``[n_ids, *cells]`` per-identity probe counts (broadcast to ``hits``' cells).
        reduce: maps percentages ``[B, *cells]`` to ``[B]`` (e.g. round + de_diag).
    """
    cells = hits.shape[1:]
    h = hits.reshape(hits.shape[0], -1)
    t = np.broadcast_to(totals.reshape(totals.shape + (1,) * (hits.ndim - totals.ndim)),
                        hits.shape).reshape(hits.shape[0], -1)

    def stat(weights: np.ndarray) -> np.ndarray:
        num, den = weights @ h, weights @ t  # [B, cells]
        with np.errstate(invalid="ignore", divide="ignore"):
            pct = np.where(den > 0, 100.0 * num / den, np.nan)
        return reduce(pct.reshape((weights.shape[0],) + cells))

    return stat
