"""Scoring by the evaluation protocols of CCPG, CASIA-B / CASIA-B*, SUSTech1K and CCGR-Mini.

The protocols themselves are data in the dataset registry (:data:`biggait.datasets.PROTOCOLS`):
per dataset its conditions (probe types -> gallery types), how types are matched (exactly, or by
substring for SUSTech1K) and how views are read (CCPG: the folder name up to the first ``_``). :func:`evaluate` turns
features plus metadata into an
:class:`~biggait.evaluation.results.EvalResult`: long-format metric rows, per-view matrices and a JSON-ready detail
dict —
tables, not log lines. One distance matrix is computed per (probe set, gallery) and sliced per
view pair; it is never recomputed per pair.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np

from biggait.datasets import ProtocolSpec, Types, get_protocol
from biggait.errors import EvaluationError
from biggait.evaluation.bootstrap import bootstrap_ci, id_sums, ratio_statistic
from biggait.evaluation.distance import METRICS, check_features, pairwise_distance, prepare
from biggait.evaluation.identity_hits import IdentityHits
from biggait.evaluation.metrics import de_diag, encode_labels, first_match_ranks, retrieval_metrics, view_pair_accuracy
from biggait.evaluation.results import EvalResult, MetricRow, ViewMatrix

logger = logging.getLogger(__name__)


def type_mask(types: np.ndarray, wanted: Types, match: str) -> np.ndarray:
    """Which sequences have one of ``wanted`` types (exact, or as a substring)."""
    if match == "substring":
        return np.any([np.char.find(types, w) >= 0 for w in wanted], axis=0) if wanted else np.zeros(len(types), bool)
    return np.isin(types, list(wanted))


def _check_inputs(features: np.ndarray, labels, types, views) -> tuple[np.ndarray, ...]:
    check_features(features)
    n = features.shape[0]
    lens = {"labels": len(labels), "types": len(types), "views": len(views)}
    bad = {k: v for k, v in lens.items() if v != n}
    if bad:
        raise EvaluationError(
            f"features have {n} sequences but metadata has "
            + ", ".join(f"{k}={v}" for k, v in lens.items())
            + " entries"
        )
    return tuple(np.asarray(a).astype(str) for a in (labels, types, views))


def _nan_rows(protocol: str, cond: str, metrics: list[str]) -> list[MetricRow]:
    return [MetricRow(protocol, cond, m, float("nan")) for m in metrics]


def _empty_condition_rows(spec: ProtocolSpec, cond: str) -> list[MetricRow]:
    """NaN rows for every metric of a condition whose probe or gallery set is empty."""
    rows = []
    if spec.kind in ("ccpg", "cross_view"):
        gait_m = [f"rank{k}_exclude_identical_view" for k in range(1, spec.num_rank + 1)]
        gait_m += ["rank1_include_identical_view"] if spec.kind == "ccpg" else []
        rows += _nan_rows("gait", cond, gait_m)
    if spec.kind in ("ccpg", "listed_gallery"):
        rows += _nan_rows("reid", cond, [f"rank{r}" for r in spec.ranks] + ["mAP", "mINP"])
    return rows


def _condition_masks(
    name: str,
    spec: ProtocolSpec,
    labels: np.ndarray,
    types: np.ndarray,
    views: np.ndarray,
    gallery_keys: set[str] | None,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Probe and gallery masks per condition (a listed gallery: its keys vs every other sequence)."""
    if spec.kind == "listed_gallery":
        if gallery_keys is None:
            raise EvaluationError(f"protocol {name}: needs the gallery list (GALLERY_SET of the partition)")
        keys = np.array([f"{i}-{t}-{v}" for i, t, v in zip(labels, types, views)])
        gallery = np.isin(keys, list(gallery_keys))
        return {"all": ~gallery}, {"all": gallery}
    return (
        {c: type_mask(types, pt, spec.match) for c, (pt, _) in spec.conditions.items()},
        {c: type_mask(types, gt, spec.match) for c, (_, gt) in spec.conditions.items()},
    )


def _gait_tables(
    name: str,
    cond: str,
    dist: np.ndarray,
    p_lab: np.ndarray,
    g_lab: np.ndarray,
    p_view: np.ndarray,
    g_view: np.ndarray,
    views: list[str],
    num_rank: int,
    p_id: np.ndarray,
    n_ids: int,
    include_identical: bool,
    resamples: int,
    seed: int,
) -> tuple[list[MetricRow], ViewMatrix, dict, tuple[np.ndarray, np.ndarray]]:
    """Per view-pair rank-1..k on one condition: rows, the rank-1 matrix, JSON details and the
    per-identity rank-1 (hits, probes) ``[n_ids, V, V]`` of the bootstrap."""
    n_views = len(views)
    ranks = first_match_ranks(dist, p_lab, g_lab, g_view, n_views)  # [P, V]
    acc, n_probe = view_pair_accuracy(ranks, p_view, n_views, num_rank)  # [V, V, K]
    empty_g = np.bincount(g_view, minlength=n_views) == 0
    acc[:, empty_g] = np.nan
    for v in np.flatnonzero(n_probe == 0):
        logger.warning("%s %s: no probe in view %s; its accuracies are NaN", name, cond, views[v])
    for v in np.flatnonzero(empty_g):
        logger.warning("%s %s: no gallery sequence in view %s; its accuracies are NaN", name, cond, views[v])
    per_view = [de_diag(acc[:, :, k], each_angle=True) for k in range(num_rank)]
    means = [
        float(np.mean(pv))
        if not np.isnan(pv).any()
        else float(np.nanmean(pv))
        if np.isfinite(pv).any()
        else float("nan")
        for pv in per_view
    ]
    # Bootstrap of the rank-1 mean: per-identity hits per (probe view, gallery view).
    hits = np.zeros((n_ids, n_views, n_views))
    np.add.at(hits, (p_id, p_view), (ranks == 0).astype(np.float64))
    totals = id_sums(np.eye(n_views)[p_view], p_id, n_ids)  # [n_ids, V] probes per view
    totals = np.broadcast_to(totals[:, :, None], hits.shape) * (~empty_g)[None, None, :]
    stat = ratio_statistic(hits, totals, lambda pct: de_diag(np.round(pct, 2)))
    low, high, ci_method = bootstrap_ci(stat, n_ids, resamples, seed)
    rows = [MetricRow("gait", cond, "rank1_exclude_identical_view", means[0], low, high)]
    rows += [MetricRow("gait", cond, f"rank{k + 1}_exclude_identical_view", means[k]) for k in range(1, num_rank)]
    details = {
        "acc_percent": acc.tolist(),
        "exclude_identical_view_mean": means,
        "rank1_exclude_identical_view_per_view": per_view[0].tolist(),
        "rank1_ci_method": ci_method,
    }  # BCa | percentile | "" (no interval)
    if include_identical:
        a1 = acc[:, :, 0]
        incl = (
            float(np.mean(a1))
            if not np.isnan(a1).any()
            else float(np.nanmean(a1))
            if np.isfinite(a1).any()
            else float("nan")
        )
        stat_i = ratio_statistic(hits, totals, lambda pct: np.nanmean(np.round(pct, 2), axis=(-2, -1)))
        li, hi, mi = bootstrap_ci(stat_i, n_ids, resamples, seed)
        rows.append(MetricRow("gait", cond, "rank1_include_identical_view", incl, li, hi))
        details["rank1_include_identical_view"] = incl
        details["rank1_include_identical_view_ci_method"] = mi
    return rows, ViewMatrix("gait", cond, "rank1", views, acc[:, :, 0].copy()), details, (hits, totals)


def _reid_tables(
    cond: str,
    dist: np.ndarray,
    p_lab,
    g_lab,
    p_view,
    g_view,
    spec: ProtocolSpec,
    p_id: np.ndarray,
    n_ids: int,
    resamples: int,
    seed: int,
) -> tuple[list[MetricRow], dict, tuple[np.ndarray, np.ndarray]]:
    """ReID protocol on one condition: rank-k from the CMC, mAP, mINP (percent), details and the
    per-identity rank-1 (hits, valid probes) ``[n_ids, 1, 1]``."""
    if dist.shape[1] < spec.max_rank:
        logger.info("reid %s: number of gallery samples is quite small, got %d", cond, dist.shape[1])
    res = retrieval_metrics(dist, p_lab, g_lab, p_view, g_view, spec.max_rank)
    valid = res.first_rank >= 0
    id_hits, id_valid = id_sums((res.first_rank == 0)[:, None], p_id, n_ids), id_sums(valid[:, None], p_id, n_ids)
    stat = ratio_statistic(id_hits, id_valid, lambda pct: pct[:, 0])
    low, high, ci_method = bootstrap_ci(stat, n_ids, resamples, seed)
    rows = []
    for r in spec.ranks:  # percent from the counts in float64 (the float32 CMC stays in details)
        v = (
            100.0 * float(np.sum(valid & (res.first_rank < r))) / res.num_valid
            if r <= res.cmc.size and res.num_valid
            else float("nan")
        )
        rows.append(MetricRow("reid", cond, f"rank{r}", v, *((low, high) if r == 1 else ())))
    rows += [MetricRow("reid", cond, "mAP", res.mAP * 100), MetricRow("reid", cond, "mINP", res.mINP * 100)]
    details = {
        "rank1": res.rank1,
        "cmc": res.cmc.tolist(),
        "mAP": res.mAP,
        "mINP": res.mINP,
        "num_valid": res.num_valid,
        "rank1_ci_method": ci_method,
    }  # BCa | percentile | ""
    return rows, details, (id_hits[:, :, None], id_valid[:, :, None])


class _Encoded:
    """The metadata of the sequences, encoded once for every condition."""

    def __init__(self, labels: np.ndarray, views: np.ndarray) -> None:
        self.view_list = sorted(set(views.tolist()))
        self.lab, self.vw = encode_labels(labels, views)
        self.view_idx = np.searchsorted(np.array(self.view_list), views)
        self.id_list, self.id_idx = np.unique(labels, return_inverse=True)


class _GalleryDistances:
    """One distance matrix per gallery set, over the union of the probes that use it, sliced per condition."""

    def __init__(self, features: np.ndarray, metric: str, p_masks: dict, g_masks: dict) -> None:
        self.strips = prepare(features, metric)  # one layout conversion for every condition
        self.metric, self.p_masks, self.g_masks = metric, p_masks, g_masks
        self.cache: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}  # gallery mask -> (probe rows, distances)

    def of(self, cond: str) -> np.ndarray:
        """The ``[P, G]`` distances of a condition's probes to its gallery."""
        pm, gm = self.p_masks[cond], self.g_masks[cond]
        key = gm.tobytes()
        if key not in self.cache:
            users = np.any([self.p_masks[c] for c in self.p_masks if self.g_masks[c].tobytes() == key], axis=0)
            rows_all = np.flatnonzero(users)
            dist = pairwise_distance(self.strips.rows(rows_all), self.strips.rows(np.flatnonzero(gm)), self.metric)
            self.cache[key] = (rows_all, dist)
        rows_all, dist_all = self.cache[key]
        return dist_all[np.searchsorted(rows_all, np.flatnonzero(pm))]


def _new_result(name: str, metric: str, enc: _Encoded) -> EvalResult:
    result = EvalResult(
        name,
        metric,
        details={
            "protocol": name,
            "metric": metric,
            "view_list": enc.view_list,
            "unit": "percent (reid fractions in details)",
            "conditions": {},
            "gait": {},
            "reid": {},
        },
    )
    result.identity_hits = IdentityHits([str(i) for i in enc.id_list], enc.view_list)
    return result


def _score_condition(
    result: EvalResult,
    spec: ProtocolSpec,
    cond: str,
    dist: np.ndarray,
    pm: np.ndarray,
    gm: np.ndarray,
    enc: _Encoded,
    bootstrap: int,
    seed: int,
) -> None:
    """Add one condition's ReID and / or gait rows, matrices, details and identity hits to ``result``."""
    args = dict(p_id=enc.id_idx[pm], n_ids=len(enc.id_list), resamples=bootstrap, seed=seed)
    if spec.kind in ("ccpg", "listed_gallery"):
        pv, gv = (enc.vw[pm], enc.vw[gm]) if spec.kind == "ccpg" else (None, None)
        rows, det, counts = _reid_tables(cond, dist, enc.lab[pm], enc.lab[gm], pv, gv, spec, **args)
        result.rows += rows
        result.details["reid"][cond] = det
        result.identity_hits.cells[("reid", cond)] = counts
    if spec.kind in ("ccpg", "cross_view"):
        rows, mat, det, counts = _gait_tables(
            result.protocol,
            cond,
            dist,
            enc.lab[pm],
            enc.lab[gm],
            enc.view_idx[pm],
            enc.view_idx[gm],
            enc.view_list,
            spec.num_rank,
            include_identical=spec.kind == "ccpg",
            **args,
        )
        result.rows += rows
        result.matrices.append(mat)
        result.details["gait"][cond] = det
        result.identity_hits.cells[("gait", cond)] = counts


def evaluate(
    protocol: str,
    features: np.ndarray,
    labels,
    types,
    views,
    *,
    metric: str = "euc",
    gallery_keys: set[str] | None = None,
    bootstrap: int = 0,
    seed: int = 0,
    num_rank: int | None = None,
) -> EvalResult:
    """Score embeddings ``[N, C, P]`` by a dataset's protocol.

    Args:
        protocol: ``ccpg`` | ``casiab`` | ``sustech1k`` | ``ccgr_mini`` (see :data:`PROTOCOLS`).
        labels, types, views: one string per sequence (identity, type/condition folder, view).
        metric: ``euc`` or ``cos``.
        gallery_keys: CCGR-Mini only, the ``"id-type-view"`` keys of the gallery.
        bootstrap: identity resamples for the rank-1 confidence intervals (0 = off).
        seed: seed of the bootstrap generator.
        num_rank: rank-1..num_rank per view pair (and at least that long a ReID CMC); default: the
            protocol's (the CMC figures ask for more).
    """
    name, spec = get_protocol(protocol)
    if num_rank is not None:
        if num_rank < 1:
            raise EvaluationError(f"num_rank: expected >= 1, got {num_rank}")
        spec = replace(spec, num_rank=num_rank, max_rank=max(spec.max_rank, num_rank))
    if metric not in METRICS:
        raise EvaluationError(f"metric: expected one of {list(METRICS)}, got {metric!r}")
    labels, types, views = _check_inputs(features, labels, types, views)
    if spec.view_sep:
        views = np.array([v.split(spec.view_sep)[0] for v in views], dtype=str)  # a copy, never in place
    enc = _Encoded(labels, views)
    result = _new_result(name, metric, enc)
    p_masks, g_masks = _condition_masks(name, spec, labels, types, views, gallery_keys)
    distances = _GalleryDistances(features, metric, p_masks, g_masks)
    for cond in p_masks:
        pm, gm = p_masks[cond], g_masks[cond]
        probe_types, gallery_types = spec.conditions.get(cond, ((), ()))
        result.details["conditions"][cond] = {
            "probe_types": list(probe_types),
            "gallery_types": list(gallery_types),
            "n_probe": int(pm.sum()),
            "n_gallery": int(gm.sum()),
        }
        if not pm.any() or not gm.any():
            side = "probe" if not pm.any() else "gallery"
            wanted = list(probe_types if side == "probe" else gallery_types)
            logger.warning(
                "%s condition %s: the %s set is empty (types %s); its metrics are NaN", name, cond, side, wanted
            )
            result.rows += _empty_condition_rows(spec, cond)
            continue
        _score_condition(result, spec, cond, distances.of(cond), pm, gm, enc, bootstrap, seed)
    return result
