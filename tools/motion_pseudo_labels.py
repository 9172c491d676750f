"""Would a motion pretext see the walker? A two-layer motion pseudo-label scored against silhouettes.

    python tools/motion_pseudo_labels.py [--root results/data/synthgait]

For consecutive canvas frames (64x32) of about 60 test sequences per domain: the background's global
shift is the one (within +-3 px, 0 excluded) with the smallest mean residual; a pixel is "walker" where
it matches the previous frame better unshifted than shifted (by a margin of 6 levels), "scene" where the
reverse holds, undecided otherwise. Prints the share of pixels decided and how often a decided pixel
agrees with the silhouette (0.5 = chance). Silhouettes only score it (docs/performance.md).
"""

import argparse

import numpy as np
import torch

from biggait.data.dataset import GaitDataset
from biggait.datasets import get_protocol
from biggait.evaluation.mask_quality import silhouettes_on_map
from biggait.models.padding import to_canvas


def motion_label(a: torch.Tensor, b: torch.Tensor, r: int = 3, margin: float = 6.0) -> torch.Tensor:
    """Frames ``[3, H, W]`` (0..255) at t and t+1 -> ``[H, W]``: 1 walker layer, -1 scene layer, 0 undecided."""
    res = {
        (dy, dx): (b - torch.roll(a, (dy, dx), (1, 2))).abs().mean(0)
        for dy in range(-r, r + 1)
        for dx in range(-r, r + 1)
    }
    shift = min((k for k in res if k != (0, 0)), key=lambda k: float(res[k].mean()))
    still, moved = res[(0, 0)], res[shift]
    out = torch.zeros_like(still)
    out[still + margin < moved], out[moved + margin < still] = 1.0, -1.0
    return out


ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("--root", default="results/data/synthgait")
args = ap.parse_args()
for name in ("ccpg", "casiab", "sustech1k"):
    protocol, _ = get_protocol(name)
    ds = GaitDataset(f"{args.root}/{name}", protocol, f"{args.root}/{name}.json", split="test", with_sils=True)
    decided, agree = [], []
    for i in range(0, len(ds), max(1, len(ds) // 60)):
        item = ds.load(i)
        ratios = torch.from_numpy(np.asarray(item["ratios"], dtype=np.float32))
        frames = to_canvas(torch.from_numpy(np.ascontiguousarray(item["rgb"])).float(), ratios, 64, 32).round()
        sils = silhouettes_on_map(torch.from_numpy(item["sils"]), ratios, (64, 32), True)
        for t in range(len(frames) - 1):
            lab, sil = motion_label(frames[t], frames[t + 1]), sils[t + 1]
            known = lab != 0
            if known.any():
                decided.append(float(known.float().mean()))
                agree.append(float((((lab > 0) & sil) | ((lab < 0) & ~sil)).sum() / known.sum()))
    print(
        f"{name}: {np.mean(decided):.2f} of the pixels decided, {np.mean(agree):.3f} of them agree with the "
        f"silhouette ({len(agree)} frame pairs)"
    )
