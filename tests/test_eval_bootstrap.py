"""Identity-resampling bootstrap (scipy.stats.bootstrap: BCa where valid, else percentile)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from biggait.evaluation.bootstrap import (
    BCA,
    CHUNK,
    PERCENTILE,
    bootstrap_ci,
    id_sums,
    identity_bootstrap,
    index_weights,
    ratio_statistic,
    resample_weights,
)


def test_resample_weights_draw_n_ids_with_replacement():
    w = resample_weights(7, 50, np.random.default_rng(0))
    assert w.shape == (50, 7) and (w.sum(axis=1) == 7).all()
    assert (w == 0).any() and (w > 1).any()  # some identities dropped, some repeated


def test_index_weights_count_draws_per_row():
    w = index_weights(np.array([[0, 0, 2], [1, 2, 2]]), 4)
    assert w.tolist() == [[2, 0, 1, 0], [0, 1, 2, 0]]
    assert index_weights(np.array([1, 1, 0]), 3).tolist() == [[1, 2, 0]]  # one resample, no batch axis


def test_id_sums():
    out = id_sums(np.array([[1, 0], [1, 1], [0, 1]]), np.array([0, 1, 0]), 3)
    assert out.tolist() == [[1.0, 1.0], [1.0, 1.0], [0.0, 0.0]]


def _rank1_stat(hit_rate: list[float], probes_per_id: int = 10):
    hits = np.array([[round(r * probes_per_id)] for r in hit_rate], dtype=float)  # [n_ids, 1]
    totals = np.full_like(hits, probes_per_id)
    return ratio_statistic(hits, totals, lambda pct: pct[:, 0])


def _counts(n_ids: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-identity rank-1 hits and probes ``[n_ids]`` (unequal probe counts: a ratio, not a mean)."""
    rng = np.random.default_rng(seed)
    totals = rng.integers(3, 15, n_ids).astype(float)
    return np.floor(totals * rng.uniform(0.1, 0.95, n_ids)), totals


def _scipy_ratio(hits: np.ndarray, totals: np.ndarray, resamples: int, seed: int, method: str):
    """scipy called directly on the per-identity data, paired: the reference interval."""
    return stats.bootstrap(
        (hits, totals),
        lambda h, t, axis=-1: 100.0 * h.sum(axis) / t.sum(axis),
        paired=True,
        vectorized=True,
        n_resamples=resamples,
        batch=CHUNK,
        method=method,
        rng=np.random.default_rng(seed),
    ).confidence_interval


def test_interval_matches_scipy_on_the_per_identity_data():
    hits, totals = _counts(40, seed=3)
    stat = ratio_statistic(hits[:, None], totals[:, None], lambda pct: pct[:, 0])
    ci = bootstrap_ci(stat, 40, 600, seed=7)  # 600 resamples: three scipy batches
    ref = _scipy_ratio(hits, totals, 600, 7, "BCa")
    assert ci.method == BCA
    # integer counts: weighted sums and resampled sums are exact, so the bounds agree to the bit
    assert (ci.low, ci.high) == (float(ref.low), float(ref.high))
    assert ci.low < 100 * hits.sum() / totals.sum() < ci.high


def test_too_few_identities_use_the_percentile_interval():
    hits, totals = _counts(4, seed=1)
    stat = ratio_statistic(hits[:, None], totals[:, None], lambda pct: pct[:, 0])
    ci = bootstrap_ci(stat, 4, 300, seed=0)
    ref = _scipy_ratio(hits, totals, 300, 0, "percentile")
    assert ci.method == PERCENTILE and (ci.low, ci.high) == (float(ref.low), float(ref.high))


def test_two_groups_match_scipy_two_sample_bootstrap():
    rng = np.random.default_rng(0)
    xa, xb = rng.uniform(0, 100, 12), rng.uniform(0, 100, 9)

    def mean_diff(wa: np.ndarray, wb: np.ndarray) -> np.ndarray:  # weighted means (jackknife: n - 1 drawn)
        return wa @ xa / wa.sum(axis=1) - wb @ xb / wb.sum(axis=1)

    ci = identity_bootstrap(mean_diff, (12, 9), 500, np.random.default_rng(4))
    ref = stats.bootstrap(
        (xa, xb),
        lambda a, b, axis=-1: a.mean(axis) - b.mean(axis),
        vectorized=True,
        n_resamples=500,
        batch=CHUNK,
        rng=np.random.default_rng(4),
    ).confidence_interval
    assert ci.method == BCA
    assert ci.low == pytest.approx(float(ref.low), rel=1e-9) and ci.high == pytest.approx(float(ref.high), rel=1e-9)


def test_degenerate_statistic_falls_back_to_percentile():
    ci = bootstrap_ci(_rank1_stat([0.5] * 6), 6, 100, seed=0)  # every identity scores 50 %
    assert ci.method == PERCENTILE
    assert ci.low == pytest.approx(50.0) and ci.high == pytest.approx(50.0)


def test_nan_resamples_fall_back_to_the_percentile_of_the_rest():
    # only identities 0 and 1 have probes: a resample without them has nothing to score (NaN)
    hits, totals = np.array([[3.0], [7.0], [0], [0], [0], [0]]), np.array([[10.0], [10.0], [0], [0], [0], [0]])
    stat = ratio_statistic(hits, totals, lambda pct: pct[:, 0])
    ci = bootstrap_ci(stat, 6, 1000, seed=2)
    assert ci.method == PERCENTILE
    # independent computation: scipy's draws (batches of CHUNK), finite values, linear percentiles
    rng = np.random.default_rng(2)
    draws = np.concatenate([rng.integers(0, 6, (min(CHUNK, 1000 - s), 6)) for s in range(0, 1000, CHUNK)])
    h, t = hits[draws, 0].sum(axis=1), totals[draws, 0].sum(axis=1)
    vals = np.array([100 * a / b for a, b in zip(h, t) if b > 0])
    assert vals.size < 1000  # some resamples were NaN
    assert (ci.low, ci.high) == pytest.approx(tuple(np.percentile(vals, [2.5, 97.5])))


def test_interval_is_seeded_and_brackets_the_estimate():
    stat = _rank1_stat([0.2, 0.5, 0.9, 0.7, 0.4, 0.6, 0.8, 0.3])
    a = bootstrap_ci(stat, 8, 500, seed=1)
    assert a == bootstrap_ci(stat, 8, 500, seed=1)
    assert a != bootstrap_ci(stat, 8, 500, seed=2)
    assert a.low < 55.0 < a.high  # the point estimate (mean hit rate 55 %) lies inside
    assert 10.0 < a.high - a.low < 45.0


def test_more_identities_give_a_narrower_interval():
    rates = [0.2, 0.5, 0.9, 0.7, 0.4, 0.6, 0.8, 0.3]
    narrow = bootstrap_ci(_rank1_stat(rates * 8), 64, 400, seed=0)
    wide = bootstrap_ci(_rank1_stat(rates), 8, 400, seed=0)
    assert narrow.high - narrow.low < 0.6 * (wide.high - wide.low)


def test_one_identity_gives_a_zero_width_interval():
    ci = bootstrap_ci(_rank1_stat([0.3]), 1, 50, seed=0)  # every resample draws that identity
    assert (ci.low, ci.high, ci.method) == (pytest.approx(30.0), pytest.approx(30.0), PERCENTILE)


def test_off_or_empty_is_nan():
    for ci in (bootstrap_ci(_rank1_stat([0.5, 0.2]), 2, 0, seed=0), bootstrap_ci(_rank1_stat([0.5]), 0, 10, seed=0)):
        assert math.isnan(ci.low) and math.isnan(ci.high) and ci.method == ""
