"""Distances and retrieval metrics on small hand-made inputs."""

from __future__ import annotations

import os

import numpy as np
import pytest

from biggait.errors import EvaluationError
from biggait.evaluation import distance
from biggait.evaluation.distance import pairwise_distance
from biggait.evaluation.metrics import de_diag, encode_labels, first_match_ranks, retrieval_metrics, view_pair_accuracy
from biggait.parity.tolerances import DIST_RTOL


def test_euclidean_is_mean_of_per_strip_distances():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((5, 8, 3)), rng.standard_normal((4, 8, 3))
    ref = np.linalg.norm(x[:, None] - y[None], axis=2).mean(axis=2)  # [5, 4] per strip, averaged
    d = pairwise_distance(x.astype(np.float32), y.astype(np.float32), "euc")
    assert d.dtype == np.float32 and d.shape == (5, 4)
    np.testing.assert_allclose(d, ref, atol=1e-5)
    concat = np.linalg.norm(x.reshape(5, -1)[:, None] - y.reshape(4, -1)[None], axis=2)
    assert np.abs(d - concat).max() > 0.1  # not the distance of the concatenated vectors


def test_cosine_distance_and_fp16_input():
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((3, 6, 2)), rng.standard_normal((2, 6, 2))
    xn, yn = x / np.linalg.norm(x, axis=1, keepdims=True), y / np.linalg.norm(y, axis=1, keepdims=True)
    ref = 1 - np.einsum("ncp,mcp->nmp", xn, yn).mean(axis=2)
    np.testing.assert_allclose(pairwise_distance(x.astype(np.float16), y.astype(np.float16), "cos"), ref, atol=2e-3)


def test_row_blocks_give_the_whole_matrix_bitwise(monkeypatch):
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((70, 32, 4)).astype(np.float32), rng.standard_normal((50, 32, 4)).astype(np.float32)
    whole = pairwise_distance(x, y)
    monkeypatch.setattr(distance, "CHUNK_ELEMENTS", 17 * 50)  # blocks of 17 rows, short tail merged
    blocked = pairwise_distance(x, y)
    if os.environ.get("MKL_CBWR"):
        # MKL's reproducibility mode (BIGGAIT_CPU_KERNELS=reproducible) takes another path for a
        # 17-row block: measured 1 ulp (9.5e-7) apart, within the cross-CPU distance tolerance.
        np.testing.assert_allclose(blocked, whole, rtol=DIST_RTOL, atol=0)
    else:
        assert np.array_equal(blocked, whole)


@pytest.mark.parametrize("shape", [(4, 256), (4, 256, 16, 1), (4, 0, 16)])
def test_wrong_embedding_shape_is_one_line_error(shape):
    with pytest.raises(EvaluationError, match=r"expected embeddings of shape \[N, C, P\]"):
        pairwise_distance(np.zeros(shape, np.float32), np.zeros((2, 256, 16), np.float32))


def test_mismatched_strip_layout_and_unknown_metric():
    with pytest.raises(EvaluationError, match="differ in"):
        pairwise_distance(np.zeros((2, 8, 4), np.float32), np.zeros((2, 8, 2), np.float32))
    with pytest.raises(EvaluationError, match="metric"):
        pairwise_distance(np.zeros((2, 8, 4), np.float32), np.zeros((2, 8, 4), np.float32), "l1")


# A 2-probe x 5-gallery matrix with labels chosen by hand.
DIST = np.array([[0.1, 0.5, 0.2, 0.9, 0.4], [0.3, 0.2, 0.8, 0.1, 0.6]], dtype=np.float32)
P_LAB = np.array([0, 1])
G_LAB = np.array([1, 0, 0, 2, 1])


def test_first_match_ranks_per_group():
    # probe 0 (id 0): sorted gallery 0(1),2(0),4(1),1(0),3(2) -> first true match at rank 1
    # probe 1 (id 1): sorted 3(2),1(0),0(1) -> rank 2
    assert first_match_ranks(DIST, P_LAB, G_LAB).ravel().tolist() == [1, 2]
    groups = np.array([0, 0, 1, 1, 1])  # e.g. two gallery views
    ranks = first_match_ranks(DIST, P_LAB, G_LAB, groups, 2)
    assert ranks.tolist() == [[1, 0], [1, 1]]
    assert first_match_ranks(DIST, np.array([7, 1]), G_LAB).ravel().tolist() == [-1, 2]


def test_retrieval_metrics_by_hand():
    res = retrieval_metrics(DIST, P_LAB, G_LAB, max_rank=50)
    # probe 0: hits at ranks 1 and 3 -> AP = (1/2 + 2/4)/2 = 0.5, INP = 2/4
    # probe 1: sorted 3(2),1(0),0(1),4(1),2(0): hits at ranks 2 and 3 -> AP = (1/3 + 2/4)/2, INP = 2/4
    assert res.num_valid == 2 and res.cmc.dtype == np.float32 and res.cmc.size == 5
    assert res.cmc.tolist() == [0.0, 0.5, 1.0, 1.0, 1.0]
    assert res.mAP == pytest.approx((0.5 + (1 / 3 + 2 / 4) / 2) / 2)
    assert res.mINP == pytest.approx((2 / 4 + 2 / 4) / 2)
    assert res.first_rank.tolist() == [1, 2]


def test_retrieval_removes_same_id_and_same_view_only():
    p_view, g_view = np.array([0, 0]), np.array([0, 0, 1, 0, 1])
    res = retrieval_metrics(DIST, P_LAB, G_LAB, p_view, g_view)
    # probe 0 (view 0): gallery 1 (id 0, view 0) removed; kept order 0(1),2(0),4(1),3(2) -> rank 1
    # probe 1 (view 0): gallery 0 (id 1, view 0) removed; kept 3(2),1(0),4(1),2(0) -> rank 2
    assert res.first_rank.tolist() == [1, 2]
    assert res.cmc.size == 4  # truncated to the kept gallery
    assert res.mAP == pytest.approx((1 / 2 + 1 / 3) / 2)


def test_retrieval_without_any_valid_probe_is_nan():
    res = retrieval_metrics(DIST, np.array([8, 9]), G_LAB)
    assert res.num_valid == 0 and np.isnan(res.mAP) and np.isnan(res.rank1)


def test_view_pair_accuracy_rounds_before_averaging():
    # 3 probes in view 0, 0 in view 1; 3 gallery views. Probe ranks per gallery view:
    ranks = np.array([[0, 1, -1], [0, 0, 3], [2, 0, 0]])
    acc, n = view_pair_accuracy(ranks, np.array([0, 0, 0]), 3, num_rank=2)
    assert n.tolist() == [3, 0, 0]
    assert acc[0, :, 0].tolist() == [66.67, 66.67, 33.33]  # 2/3 and 1/3 rounded to 2 decimals
    assert acc[0, :, 1].tolist() == [66.67, 100.0, 33.33]
    assert np.isnan(acc[1]).all()


def test_de_diag_reference_arithmetic_and_nan():
    acc = np.array([[90.0, 60.0, 30.0], [10.0, 80.0, 20.0], [40.0, 50.0, 70.0]])
    assert de_diag(acc, each_angle=True).tolist() == [45.0, 15.0, 45.0]
    assert de_diag(acc) == pytest.approx(35.0)
    acc[1, 2] = np.nan  # an empty gallery view for probe view 1
    assert de_diag(acc, each_angle=True).tolist() == [45.0, 10.0, 45.0]
    acc[1, 0] = np.nan
    per_view = de_diag(acc, each_angle=True)
    assert np.isnan(per_view[1]) and de_diag(acc) == pytest.approx(45.0)


def test_encode_labels_shares_one_vocabulary():
    a, b = encode_labels(np.array(["x", "y"]), np.array(["y", "z", "x"]))
    assert a.tolist() == [0, 1] and b.tolist() == [1, 2, 0]
