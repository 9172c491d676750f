"""What an upstream's leading principal components are: position or person (docs/performance.md).

    python tools/token_components.py [--root results/data/synthgait] CHECKPOINT|random ...

For the probe frames of the CCPG-like test split (those of ``biggait probe-lvm``), the share of
the standardised tokens' variance that is the per-position mean, and for PC-1..5 their variance share
and their per-pixel correlation with the silhouette, the row and the distance from the centre column.
Silhouettes only score; nothing is fitted to them.
"""

import argparse

import numpy as np
import torch

from biggait.config import load_experiment
from biggait.data.dataset import GaitDataset
from biggait.datasets import get_protocol
from biggait.evaluation import probe as P

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("checkpoints", nargs="+")
ap.add_argument("--root", default="results/data/synthgait")
args = ap.parse_args()
cfg = load_experiment(None, scale="demo").model
protocol, _ = get_protocol("ccpg")
ds = GaitDataset(f"{args.root}/ccpg", protocol, f"{args.root}/ccpg.json", split="test", with_sils=True)
data = P.load_probe_frames(ds, cfg, P.ProbeSettings(), progress=False)
h, w = 2 * cfg.gre_map_width, cfg.gre_map_width
for ck in args.checkpoints:
    lvm = P.build_upstream(cfg, None if ck == "random" else ck, 0)
    f = P.upstream_features(lvm, data.frames, (h, w), 256, progress=False)  # [N, h, w, C]
    n, _, _, c = f.shape
    z = (f - f.reshape(-1, c).mean(0)) / f.reshape(-1, c).std(0).clamp_min(1e-6)
    vals, vecs = torch.linalg.eigh((z.reshape(-1, c).double().T @ z.reshape(-1, c).double()) / (n * h * w))
    vals, vecs = vals.flip(0), vecs.flip(1)
    position_share = float((z.mean(0) ** 2).sum() * n / (z**2).sum())
    print(f"{ck}: per-position mean = {position_share:.2f} of the variance")
    rows = torch.arange(h).float()[None, :, None].expand(n, h, w)
    cols = (torch.arange(w).float() - (w - 1) / 2).abs()[None, None, :].expand(n, h, w)
    for k in range(5):
        p = (z @ vecs[:, k].float()).flatten()
        r = [np.corrcoef(p, q.flatten())[0, 1] for q in (data.sils.float(), rows, cols)]
        print(
            f"  PC{k + 1}: variance {vals[k] / vals.sum():.2f}  r(silhouette) {r[0]:+.2f}  r(row) {r[1]:+.2f}  "
            f"r(|column - centre|) {r[2]:+.2f}"
        )
