"""Protocols: parity with the released evaluator's goldens (numbers exact), and bad input."""

from __future__ import annotations

import json
import logging
import math

import numpy as np
import pytest

from biggait.datasets import get_protocol
from biggait.errors import EvaluationError
from biggait.evaluation.distance import pairwise_distance
from biggait.evaluation.protocols import evaluate
from biggait.parity.eval_checks import CHECKS
from biggait.parity.golden import compare_distances


def _golden(golden_dir, stem):
    z = np.load(golden_dir / f"{stem}.npz")
    return ({k: z[k] for k in z.files}, json.loads((golden_dir / f"{stem}.json").read_text()))


@pytest.mark.parametrize("case", sorted(CHECKS))
def test_golden_evaluator_parity(golden_dir, case):
    """Every number of the golden json and the printed transcript exact; dist_full_euc within the
    cross-CPU tolerances (off the diagonal 2e-6 relative, self-distances 5e-3)."""
    results = CHECKS[case](golden_dir, None)
    assert len(results) >= 10
    failed = [f"{r.name}: {r.note or r.max_abs_diff}" for r in results if not r.passed]
    assert not failed, failed
    assert any(r.name == "stdout_transcript" for r in results)


def test_ccpg_public_numbers_as_rows(golden_dir):
    data, ref = _golden(golden_dir, "eval_ccpg")
    views = list(data["views"])
    res = evaluate("CCPG", data["features"], data["labels"], data["types"], views)
    assert views == list(data["views"])  # the caller's views are not rewritten in place
    got = {c: round(res.value("reid", c, "rank1"), 3) for c in ("CL", "UP", "DN", "BG")}
    assert got == {"CL": 53.75, "UP": 42.5, "DN": 42.5, "BG": 45.0}
    gait = [round(res.value("gait", c, "rank1_exclude_identical_view"), 2) for c in ("CL", "UP", "DN", "BG")]
    assert gait == [66.67, 57.50, 45.00, 53.33]
    assert res.value("gait", "CL", "rank1_include_identical_view") == ref["rank1_include_identical_view"]["CL"]
    (cl,) = [m for m in res.matrices if m.condition == "CL"]
    assert cl.views == ["01", "02", "03", "04"]
    assert cl.values.tolist() == ref["returned"]["scalar/test_accuracy/CL"]


def test_sustech1k_substring_conditions_and_ranks(golden_dir):
    data, ref = _golden(golden_dir, "eval_sustech1k")
    res = evaluate("sustech1k", data["features"].astype(np.float32), data["labels"], data["types"], data["views"])
    assert res.details["conditions"]["Overall"]["n_probe"] == 4 * 8 * 4  # 01-nm, 02-bg, 03-cl, 04-cr
    assert res.details["conditions"]["Bag"]["n_probe"] == 8 * 4
    assert [res.value("gait", "Overall", f"rank{k}_exclude_identical_view") for k in range(1, 6)] == ref[
        "exclude_identical_view_mean"
    ]["Overall"]


def test_bootstrap_intervals_bracket_point_estimates(golden_dir):
    data, _ = _golden(golden_dir, "eval_casiab")
    a = evaluate("casiab", data["features"], data["labels"], data["types"], data["views"], bootstrap=200, seed=3)
    b = evaluate("casiab", data["features"], data["labels"], data["types"], data["views"], bootstrap=200, seed=3)
    for r in a.rows:
        assert r.ci_low <= r.value <= r.ci_high and r.ci_high - r.ci_low > 1.0
    assert [(r.ci_low, r.ci_high) for r in a.rows] == [(r.ci_low, r.ci_high) for r in b.rows]
    off = evaluate("casiab", data["features"], data["labels"], data["types"], data["views"], bootstrap=0)
    assert all(math.isnan(r.ci_low) for r in off.rows)


def _toy(types, views, ids=("a", "b", "c"), seed=0):
    rng = np.random.default_rng(seed)
    lab, typ, vw = zip(*[(i, t, v) for i in ids for t in types for v in views])
    centres = {i: rng.standard_normal((16, 4)) for i in ids}
    feats = np.stack([centres[i] + 0.3 * rng.standard_normal((16, 4)) for i in lab]).astype(np.float32)
    return feats, list(lab), list(typ), list(vw)


def test_ccgr_mini_listed_gallery():
    feats, lab, typ, vw = _toy(("01", "02"), ("v1", "v2"))
    gallery = {f"{i}-01-{v}" for i in ("a", "b", "c") for v in ("v1", "v2")}
    res = evaluate("ccgr_mini", feats, lab, typ, vw, gallery_keys=gallery)
    assert res.details["conditions"]["all"] == {"probe_types": [], "gallery_types": [], "n_probe": 6, "n_gallery": 6}
    assert res.value("reid", "all", "rank1") == 100.0  # well separated identities
    assert math.isnan(res.value("reid", "all", "rank10"))  # beyond the 6-item gallery
    with pytest.raises(EvaluationError, match="GALLERY_SET"):
        evaluate("ccgr_mini", feats, lab, typ, vw)


def test_empty_condition_is_nan_with_a_warning(caplog):
    feats, lab, typ, vw = _toy(("nm-01", "nm-05", "bg-01"), ("000", "090"))  # no cl-01/02 probes
    with caplog.at_level(logging.WARNING):
        res = evaluate("casiab", feats, lab, typ, vw)
    assert math.isnan(res.value("gait", "CL", "rank1_exclude_identical_view"))
    assert res.value("gait", "NM", "rank1_exclude_identical_view") == 100.0
    assert any("condition CL" in m and "probe set is empty" in m for m in caplog.messages)


def test_empty_view_pair_is_nan_not_a_crash(caplog):
    feats, lab, typ, vw = _toy(("nm-01", "nm-05"), ("000", "090", "180"))
    keep = [k for k in range(len(lab)) if not (typ[k] == "nm-01" and vw[k] == "180")]  # no gallery at 180
    with caplog.at_level(logging.WARNING):
        res = evaluate("casiab", feats[keep], [lab[k] for k in keep], [typ[k] for k in keep], [vw[k] for k in keep])
    (nm,) = [m for m in res.matrices if m.condition == "NM"]
    assert np.isnan(nm.values[:, 2]).all() and np.isfinite(nm.values[:, :2]).all()
    assert np.isfinite(res.value("gait", "NM", "rank1_exclude_identical_view"))
    assert any("no gallery sequence in view 180" in m for m in caplog.messages)


def test_bad_input_is_one_line_evaluation_error():
    feats, lab, typ, vw = _toy(("U0_D0",), ("01_x",))
    with pytest.raises(EvaluationError, match=r"3 sequences but metadata has labels=2"):
        evaluate("ccpg", feats, lab[:2], typ, vw)
    with pytest.raises(EvaluationError, match=r"unknown .*expected one of"):
        evaluate("oumvlp", feats, lab, typ, vw)
    with pytest.raises(EvaluationError, match=r"shape \[N, C, P\]"):
        evaluate("ccpg", feats.reshape(3, -1), lab, typ, vw)
    with pytest.raises(EvaluationError, match="metric"):
        evaluate("ccpg", feats, lab, typ, vw, metric="manhattan")


def test_protocols_are_found_by_opengait_spellings():
    """OpenGait's dataset names, in any case, select our protocols (the condition tables themselves are
    checked by the golden evaluator parity above)."""
    for spelling, name in [
        ("CASIA-B*", "casiab"),
        ("casia-b", "casiab"),
        ("CCGR-Mini", "ccgr_mini"),
        ("SUSTech1K", "sustech1k"),
        ("CCPG", "ccpg"),
    ]:
        assert get_protocol(spelling)[0] == name, spelling
    with pytest.raises(EvaluationError):
        get_protocol("no-such-dataset")


def test_distance_tolerances_still_catch_real_errors(golden_dir):
    """dist_full_euc is compared (the parity check's own helper) within the cross-CPU tolerances of the
    golden README section 7: the differences measured on an Intel Xeon pass, real errors fail."""
    data, _ = _golden(golden_dir, "eval_ccpg")
    feats, ref = data["features"].astype(np.float32), data["dist_full_euc"]

    def failed(ours, golden=ref):
        return {r.name for r in compare_distances("eval_ccpg.npz", "d", ours, golden) if not r.passed}

    ours = pairwise_distance(feats, feats)
    assert failed(ours) == set()
    other_cpu = ours * np.float32(1 + 3.5e-7)  # the Xeon's differences: 3.5e-7 relative off the diagonal,
    np.fill_diagonal(other_cpu, np.diag(ours) + 1.6e-3)  # the self-distances 1.6e-3 apart
    assert failed(other_cpu) == set()
    for nudge in (lambda f: f * np.float32(1 + 1e-4), lambda f: f + np.float32(1e-4)):
        nudged = feats.copy()
        nudged[3] = nudge(nudged[3])  # one sequence's features moved by 1e-4 (relative, absolute)
        assert failed(pairwise_distance(nudged, nudged)) == {"d (off-diagonal)"}
    swapped = feats.copy()
    swapped[[0, 1]] = swapped[[1, 0]]  # two sequences swapped: in both orders, then in the probes only
    assert failed(pairwise_distance(swapped, swapped)) == {"d (off-diagonal)"}
    assert failed(pairwise_distance(swapped, feats)) == {"d (off-diagonal)", "d (self-distance)"}
    wrong_self = ours.copy()
    np.fill_diagonal(wrong_self, 0.05)  # self-distances beyond any rounding residue
    assert failed(wrong_self) == {"d (self-distance)"}
