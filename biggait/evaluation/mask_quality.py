"""How well the learned foreground masks match ground-truth silhouettes (beyond the paper).

The mask branch is trained without any silhouette supervision; where a dataset ships
silhouettes (aligned with the RGB frames), we measure the IoU of the model's foreground
selection (``maps["foreground"] != 0``, at the map resolution, e.g. 64 x 32) against the
silhouette brought to the same map exactly like the RGB frames (Pad-and-Resize with the frame
ratios for square pickles, a direct resize for pre-padded 2:1 frames), thresholded at 0.5.

Per sequence we keep the intersection and union pixel counts summed over its frames; a
sequence's IoU is their ratio, and a condition's IoU is the mean over its sequences.
"""

from __future__ import annotations

import logging

import numpy as np
import torch
from torch import Tensor

from biggait.datasets import ProtocolSpec
from biggait.evaluation.protocols import type_mask
from biggait.evaluation.results import MetricRow
from biggait.models.padding import to_canvas

logger = logging.getLogger(__name__)


@torch.no_grad()
def silhouettes_on_map(sils: Tensor, ratios: Tensor, map_hw: tuple[int, int], pad: bool = True) -> Tensor:
    """Ground-truth silhouettes ``[s, H, W]`` (uint8 0/255 or 0/1) -> bool ``[s, h, w]`` on the map."""
    x = sils.to(torch.float32)
    if x.numel() and float(x.max()) > 1.0:
        x = x / 255.0
    x = to_canvas(x[:, None], ratios.reshape(-1).to(torch.float32), *map_hw, pad=pad)  # [s, 1, h, w]
    return x[:, 0] > 0.5


@torch.no_grad()
def sequence_overlap(foreground: Tensor, sils: Tensor, ratios: Tensor, pad: bool = True) -> tuple[int, int]:
    """(intersection, union) pixel counts of one sequence, summed over frames.

    Args:
        foreground: ``[s, h, w]`` the model's foreground map (0 = background).
        sils: ``[s, H, W]`` ground-truth silhouettes aligned with the RGB frames.
        ratios: ``[s]`` w/h of the original crops.
    """
    if foreground.shape[0] != sils.shape[0]:
        raise ValueError(f"foreground has {foreground.shape[0]} frames, silhouettes {sils.shape[0]}")
    pred = foreground.detach().cpu() != 0  # [s, h, w]
    gt = silhouettes_on_map(sils.cpu(), ratios.cpu(), tuple(pred.shape[-2:]), pad)  # [s, h, w]
    return int((pred & gt).sum()), int((pred | gt).sum())


def sequence_iou(intersection: np.ndarray, union: np.ndarray) -> np.ndarray:
    """Per-sequence IoU ``[N]``; NaN where there is nothing to compare (union 0 or unmeasured)."""
    inter = np.asarray(intersection, dtype=np.float64)
    uni = np.asarray(union, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(uni > 0, inter / uni, np.nan)


def mask_iou_rows(
    intersection: np.ndarray, union: np.ndarray, types: np.ndarray, spec: ProtocolSpec
) -> list[MetricRow]:
    """Rows ``protocol=mask_iou`` (percent): per condition (its probe sequences) and ``all``.

    Conditions without a measured sequence are skipped; nothing is returned when no sequence
    was measured at all (a dataset without silhouettes).
    """
    iou = sequence_iou(intersection, union)
    measured = np.isfinite(iou)
    if not measured.any():
        return []
    types = np.asarray(types).astype(str)
    rows = []
    groups = {c: type_mask(types, probe, spec.match) for c, (probe, _) in spec.conditions.items() if probe}
    groups["all"] = np.ones(len(types), dtype=bool)
    for cond, mask in groups.items():
        sel = mask & measured
        if sel.any():
            rows.append(MetricRow("mask_iou", cond, "iou", float(np.mean(iou[sel]) * 100)))
        else:
            logger.warning("mask_iou %s: no sequence with a ground-truth silhouette", cond)
    return rows
