"""Retrieval metrics on a distance matrix: first-match ranks, rank-k, CMC, mAP and mINP.

Everything is vectorised over queries (no per-query Python loop). Numbers follow the released
evaluator exactly:

- per view-pair rank-k accuracy is ``round(100 * hits / n_probe, 2)`` (rounded *before* any mean);
- :func:`de_diag` averages a view x view matrix without its diagonal, per probe view, then over
  probe views, with the reference's summation order;
- :func:`retrieval_metrics` is the ReID evaluation: gallery sorted per query, items of the same id
  (and, when views are given, the same view) removed, CMC truncated to ``min(max_rank, #gallery)``
  and to the kept gallery, CMC in float32, AP and INP per valid query in float64.

Ties: a probe's first-match rank counts the gallery items *strictly* closer than its nearest true
match (the reference's unstable sort leaves ties unspecified; the golden sets have none).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

ROW_CHUNK = 1024  # queries per sorted block in retrieval_metrics (bounds memory to ~ROW_CHUNK x G)


def encode_labels(*arrays: np.ndarray) -> list[np.ndarray]:
    """Integer codes (shared vocabulary) for several label arrays, so comparisons are int compares."""
    joined = np.concatenate([np.asarray(a).astype(str) for a in arrays]) if arrays else np.array([], str)
    _, inverse = np.unique(joined, return_inverse=True)
    out, start = [], 0
    for a in arrays:
        out.append(inverse[start : start + len(a)].astype(np.int64))
        start += len(a)
    return out


def first_match_ranks(
    dist: np.ndarray,
    probe_labels: np.ndarray,
    gallery_labels: np.ndarray,
    gallery_groups: np.ndarray | None = None,
    n_groups: int = 1,
) -> np.ndarray:
    """0-based rank of the nearest true match of every probe, within each gallery group.

    Args:
        dist: ``[P, G]`` distances.
        probe_labels, gallery_labels: integer label codes ``[P]`` / ``[G]``.
        gallery_groups: ``[G]`` group index in ``[0, n_groups)`` (e.g. the gallery view); ``None``
            = one group.
    Returns:
        ``[P, n_groups]`` int64; -1 where the group holds no item of the probe's identity.
    """
    n_probe = dist.shape[0]
    if gallery_groups is None:
        gallery_groups = np.zeros(dist.shape[1], dtype=np.int64)
    ranks = np.full((n_probe, n_groups), -1, dtype=np.int64)
    for g in range(n_groups):
        cols = np.flatnonzero(gallery_groups == g)
        if cols.size == 0 or n_probe == 0:
            continue
        block = dist[:, cols]  # [P, Gg]
        positive = probe_labels[:, None] == gallery_labels[cols][None, :]  # [P, Gg]
        nearest_true = np.where(positive, block, np.inf).min(axis=1)  # [P]
        closer = (block < nearest_true[:, None]).sum(axis=1)  # [P]
        ranks[:, g] = np.where(positive.any(axis=1), closer, -1)
    return ranks


def rank_k_hits(ranks: np.ndarray, num_rank: int) -> np.ndarray:
    """``[..., num_rank]`` bool: whether the first match is within the top k, for k = 1..num_rank."""
    k = np.arange(1, num_rank + 1)
    return (ranks[..., None] >= 0) & (ranks[..., None] < k)


def view_pair_accuracy(
    ranks: np.ndarray, probe_view_idx: np.ndarray, n_views: int, num_rank: int
) -> tuple[np.ndarray, np.ndarray]:
    """Rank-1..num_rank accuracy per (probe view, gallery view), rounded like the reference.

    Args:
        ranks: ``[P, V]`` first-match ranks per gallery view (from :func:`first_match_ranks`).
        probe_view_idx: ``[P]`` probe view index.
    Returns:
        ``acc [V, V, num_rank]`` in percent (NaN where a probe view has no probe) and the probe
        counts ``[V]``.
    """
    hits = rank_k_hits(ranks, num_rank)  # [P, V, K]
    counts = np.zeros((n_views, n_views, num_rank), dtype=np.int64)
    np.add.at(counts, probe_view_idx, hits.astype(np.int64))
    n_probe = np.bincount(probe_view_idx, minlength=n_views)  # [V]
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = np.round(counts * 100 / n_probe[:, None, None].astype(np.float64), 2)
    acc[n_probe == 0] = np.nan
    return acc, n_probe


def de_diag(acc: np.ndarray, each_angle: bool = False) -> np.ndarray | float:
    """Mean of a ``[..., V, V]`` probe-view x gallery-view matrix excluding identical views.

    Per probe view: the mean over the other gallery views; then (unless ``each_angle``) the mean
    over probe views. NaN cells (empty probe or gallery) are left out of both means. Without NaN
    the arithmetic is the reference's: row sums of the matrix with a zeroed diagonal, / (V - 1).
    """
    acc = np.asarray(acc, dtype=np.float64)
    v = acc.shape[-1]
    off = ~np.eye(v, dtype=bool)
    valid = np.isfinite(acc) & off
    zeroed = np.where(valid, acc, 0.0)
    count = valid.sum(axis=-1)
    if v < 2:
        per_view = np.full(acc.shape[:-1], np.nan)
    elif bool(np.all(count == v - 1)):
        per_view = np.sum(zeroed, axis=-1) / (v - 1.0)
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            per_view = np.sum(zeroed, axis=-1) / count
        per_view = np.where(count > 0, per_view, np.nan)
    if each_angle:
        return per_view
    if np.isnan(per_view).any():
        with warnings.catch_warnings():  # all-NaN rows: NaN is the answer, the caller warns
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmean(per_view, axis=-1)
    return np.mean(per_view, axis=-1)


@dataclass(frozen=True)
class RetrievalMetrics:
    """ReID-style metrics of one probe set against one gallery (fractions in [0, 1])."""

    cmc: np.ndarray  # [L] float32, L = min(max_rank, #gallery, kept gallery)
    mAP: float
    mINP: float
    num_valid: int  # probes with at least one kept true match
    first_rank: np.ndarray  # [P] int64, 0-based rank among kept items; -1 = no kept match

    @property
    def rank1(self) -> float:
        return float(self.cmc[0]) if self.cmc.size else float("nan")


def retrieval_metrics(
    dist: np.ndarray,
    probe_labels: np.ndarray,
    gallery_labels: np.ndarray,
    probe_views: np.ndarray | None = None,
    gallery_views: np.ndarray | None = None,
    max_rank: int = 50,
) -> RetrievalMetrics:
    """CMC, mAP and mINP of ``dist [P, G]``; with views, same-id-and-same-view items are removed.

    Labels and views are integer codes (see :func:`encode_labels`). Probes without any kept true
    match are left out (``num_valid``); when none is valid every number is NaN.
    """
    n_probe, n_gallery = dist.shape
    remove_same_view = probe_views is not None and gallery_views is not None
    max_rank = min(max_rank, n_gallery)
    ap = np.full(n_probe, np.nan)
    inp = np.full(n_probe, np.nan)
    first = np.full(n_probe, -1, dtype=np.int64)
    min_kept = n_gallery
    for start in range(0, n_probe, ROW_CHUNK):
        rows = slice(start, min(start + ROW_CHUNK, n_probe))
        order = np.argsort(dist[rows], axis=1)  # [c, G]; numpy's default sort, as the reference
        match = gallery_labels[order] == probe_labels[rows, None]  # [c, G] sorted by distance
        if remove_same_view:
            keep = ~(match & (gallery_views[order] == probe_views[rows, None]))
        else:
            keep = np.ones_like(match)
        hits = match & keep
        kept_pos = np.cumsum(keep, axis=1) - 1  # [c, G] position among kept items
        num_rel = hits.sum(axis=1)  # [c]
        valid = num_rel > 0
        with np.errstate(invalid="ignore", divide="ignore"):  # removed leading items: 0/0, masked
            precision = np.where(hits, np.cumsum(hits, axis=1) / (kept_pos + 1.0), 0.0)  # [c, G]
            ap[rows] = np.where(valid, precision.sum(axis=1) / num_rel, np.nan)
            last = np.where(hits, kept_pos, -1).max(axis=1)
            inp[rows] = np.where(valid, num_rel / (last + 1.0), np.nan)
        first[rows] = np.where(valid, np.where(hits, kept_pos, n_gallery).min(axis=1), -1)
        if valid.any():
            min_kept = min(min_kept, int(keep[valid].sum(axis=1).min()))
    valid_all = first >= 0
    num_valid = int(valid_all.sum())
    if num_valid == 0:
        return RetrievalMetrics(np.full(max(max_rank, 1), np.nan, np.float32), float("nan"), float("nan"), 0, first)
    length = min(max_rank, min_kept)
    counts = np.bincount(first[valid_all], minlength=n_gallery)[:length].cumsum()
    cmc = counts.astype(np.float32) / np.float32(num_valid)  # float32 like the reference
    return RetrievalMetrics(cmc, float(np.mean(ap[valid_all])), float(np.mean(inp[valid_all])), num_valid, first)
