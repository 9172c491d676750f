"""The ceiling of the GRE mask IoU at a map size: the ground-truth silhouette fed through the mask
branch's own polarity choice and clean-up (docs/performance.md, issue #19).

    python tools/mask_ceiling.py [--root results/data/synthgait] [--every 6]

For every 6th sequence of the CCPG-like test split, the silhouette is brought to each map like the
frames (``silhouettes_on_map``), used as a perfect 2-channel mask, and scored exactly as ``mask_iou``
scores a model's foreground (``sequence_overlap`` of ``clean_foreground(...)``, mean over sequences).
"""

import argparse

import numpy as np
import torch

from biggait.data.dataset import GaitDataset
from biggait.evaluation.mask_quality import sequence_iou, sequence_overlap, silhouettes_on_map
from biggait.models.extractor import clean_foreground, resolve_polarity

MAPS = [(16, 8), (32, 16), (64, 32)]

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("--root", default="results/data/synthgait")
ap.add_argument("--every", type=int, default=6)
args = ap.parse_args()
ds = GaitDataset(f"{args.root}/ccpg", "ccpg", f"{args.root}/ccpg.json", split="test", modality="silhouette")
overlaps = {hw: [] for hw in MAPS}  # (intersection, union) per sequence
wrong = {hw: 0 for hw in MAPS}
frames = 0
for i in range(0, len(ds), args.every):
    seq = ds.load(i)
    sils, ratios = torch.from_numpy(seq["sils"]), torch.from_numpy(seq["ratios"])
    frames += len(ratios)
    for hw in MAPS:
        p = silhouettes_on_map(sils, ratios, hw).float()  # [s, h, w]
        body, flipped = resolve_polarity(torch.stack([p, 1 - p], -1))
        wrong[hw] += int(flipped.sum())
        overlaps[hw].append(sequence_overlap(clean_foreground(body), sils, ratios))
for hw in MAPS:
    inter, union = np.asarray(overlaps[hw]).T
    print(
        f"map {hw[0]}x{hw[1]}: IoU after the clean-up {np.nanmean(sequence_iou(inter, union)):.3f}, "
        f"polarity wrong on {wrong[hw]} of {frames} frames"
    )
