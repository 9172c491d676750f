"""Foreground-mask IoU against ground-truth silhouettes."""

from __future__ import annotations

import math

import numpy as np
import torch

from biggait.datasets import PROTOCOLS
from biggait.evaluation.mask_quality import mask_iou_rows, sequence_iou, sequence_overlap, silhouettes_on_map


def test_prepadded_silhouettes_are_resized_directly():
    sils = torch.zeros(2, 128, 64, dtype=torch.uint8)
    sils[:, 32:96, 16:48] = 255  # a centred box, 2:1 frame like CCPG
    gt = silhouettes_on_map(sils, torch.full((2,), 0.3), (64, 32))
    assert gt.shape == (2, 64, 32) and gt.dtype == torch.bool
    assert gt[:, 16:48, 8:24].all() and gt.sum() == 2 * 32 * 16


def test_square_silhouettes_are_pad_and_resized_with_the_ratio():
    sils = torch.full((1, 64, 64), 255, dtype=torch.uint8)  # the whole squashed crop is person
    gt = silhouettes_on_map(sils, torch.tensor([0.25]), (64, 32))
    # ratio 0.25 -> need_w = 64 of 128 at 256 px, i.e. 16 of 32 columns at the map, centred
    cols = gt[0].any(dim=0)
    assert cols.sum() == 16 and cols[8:24].all() and not cols[:8].any()


def test_sequence_overlap_counts_pixels_over_frames():
    sils = torch.zeros(2, 64, 32, dtype=torch.uint8)
    sils[:, :, :16] = 255  # left half is person
    fg = torch.zeros(2, 64, 32)
    fg[0, :, :16] = 0.7  # frame 0: perfect (non-zero = selected)
    fg[1, :, 8:24] = 1.0  # frame 1: half overlap
    inter, union = sequence_overlap(fg, sils, torch.full((2,), 0.5))
    assert (inter, union) == (64 * 16 + 64 * 8, 64 * 16 + 64 * 24)


def test_rows_per_condition_and_unmeasured_sequences():
    types = np.array(["U0_D0_BG", "U0_D0", "U1_D1", "U3_D3"])
    inter = np.array([50, 30, -1, 10])
    union = np.array([100, 60, -1, 0])  # 3rd not measured, 4th empty
    assert np.isnan(sequence_iou(inter, union)[2:]).all()
    rows = {r.condition: r.value for r in mask_iou_rows(inter, union, types, PROTOCOLS["ccpg"])}
    assert rows == {"CL": 50.0, "BG": 50.0, "all": 50.0}  # UP/DN have no measured probe
    assert mask_iou_rows(np.full(4, -1), np.full(4, -1), types, PROTOCOLS["ccpg"]) == []
    assert all(
        r.protocol == "mask_iou" and r.metric == "iou" and math.isnan(r.ci_low)
        for r in mask_iou_rows(inter, union, types, PROTOCOLS["ccpg"])
    )
