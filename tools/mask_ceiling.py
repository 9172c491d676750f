"""The ceiling of the GRE mask IoU at a map size: the ground-truth silhouette fed through the mask
branch's own polarity choice and clean-up (docs/performance.md, issue #19).

    python tools/mask_ceiling.py [--root results/data/synthgait] [--every 6]

For every 6th sequence of the CCPG-like test split, the silhouette is brought to the map like the
frames (``silhouettes_on_map``), used as a perfect 2-channel mask, and scored as ``mask_iou`` scores
a model's foreground (``clean_foreground(...) != 0`` against the silhouette).
"""

import argparse
import glob
import json
import pickle

import numpy as np
import torch

from biggait.evaluation.mask_quality import silhouettes_on_map
from biggait.models.extractor import clean_foreground, resolve_polarity

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("--root", default="results/data/synthgait")
ap.add_argument("--every", type=int, default=6)
args = ap.parse_args()
test = json.load(open(f"{args.root}/ccpg.json"))["TEST_SET"]
files = [f for sid in test for f in sorted(glob.glob(f"{args.root}/ccpg/{sid}/*/*/*-aligned-sils.pkl"))]
for hw in [(16, 8), (32, 16), (64, 32)]:
    after, before, wrong, frames = [], [], 0, 0
    for f in files[:: args.every]:
        with open(f, "rb") as fh:
            sils = torch.as_tensor(np.asarray(pickle.load(fh)))
        with open(f.replace("aligned-sils", "ratios"), "rb") as fh:
            ratios = torch.as_tensor(np.asarray(pickle.load(fh)), dtype=torch.float32)
        gt = silhouettes_on_map(sils, ratios, hw)  # [s, h, w] bool
        p = gt.float()
        body, flipped = resolve_polarity(torch.stack([p, 1 - p], -1))
        wrong += int(flipped.sum())
        frames += len(flipped)
        fg = clean_foreground(body) != 0
        after.append(float((fg & gt).sum()) / float((fg | gt).sum()))
        before.append(float(((body > 0.5) & gt).sum()) / float(((body > 0.5) | gt).sum()))
    print(
        f"map {hw[0]}x{hw[1]}: IoU after the clean-up {np.mean(after):.3f}, before {np.mean(before):.3f}, "
        f"polarity wrong on {wrong} of {frames} frames"
    )
