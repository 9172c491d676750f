"""Identity-resampling percentile bootstrap."""

from __future__ import annotations

import math

import numpy as np
import pytest

from biggait.evaluation.bootstrap import bootstrap_ci, id_sums, ratio_statistic, resample_weights


def test_resample_weights_draw_n_ids_with_replacement():
    w = resample_weights(7, 50, np.random.default_rng(0))
    assert w.shape == (50, 7) and (w.sum(axis=1) == 7).all()
    assert (w == 0).any() and (w > 1).any()  # some identities dropped, some repeated


def test_id_sums():
    out = id_sums(np.array([[1, 0], [1, 1], [0, 1]]), np.array([0, 1, 0]), 3)
    assert out.tolist() == [[1.0, 1.0], [1.0, 1.0], [0.0, 0.0]]


def _rank1_stat(hit_rate: list[float], probes_per_id: int = 10):
    hits = np.array([[round(r * probes_per_id)] for r in hit_rate], dtype=float)  # [n_ids, 1]
    totals = np.full_like(hits, probes_per_id)
    return ratio_statistic(hits, totals, lambda pct: pct[:, 0])


def test_interval_is_seeded_and_brackets_the_estimate():
    stat = _rank1_stat([0.2, 0.5, 0.9, 0.7, 0.4, 0.6, 0.8, 0.3])
    a = bootstrap_ci(stat, 8, 500, seed=1)
    assert a == bootstrap_ci(stat, 8, 500, seed=1)
    assert a != bootstrap_ci(stat, 8, 500, seed=2)
    assert a[0] < 55.0 < a[1]  # the point estimate (mean hit rate 55 %) lies inside
    assert 10.0 < a[1] - a[0] < 45.0


def test_more_identities_give_a_narrower_interval():
    rates = [0.2, 0.5, 0.9, 0.7, 0.4, 0.6, 0.8, 0.3]
    narrow = bootstrap_ci(_rank1_stat(rates * 8), 64, 400, seed=0)
    wide = bootstrap_ci(_rank1_stat(rates), 8, 400, seed=0)
    assert narrow[1] - narrow[0] < 0.6 * (wide[1] - wide[0])


def test_identical_identities_give_a_zero_width_interval():
    lo, hi = bootstrap_ci(_rank1_stat([0.5] * 6), 6, 100, seed=0)
    assert lo == pytest.approx(50.0) and hi == pytest.approx(50.0)


def test_off_or_empty_is_nan():
    assert all(math.isnan(v) for v in bootstrap_ci(_rank1_stat([0.5]), 1, 0, seed=0))
    assert all(math.isnan(v) for v in bootstrap_ci(_rank1_stat([0.5]), 0, 10, seed=0))
