"""Cheap difficulty proxies for SynthGait: nearest-neighbour rank-1 with two hand-made features.

- ``colour_hist`` (appearance-driven): a joint RGB histogram (4x4x4 bins) of the person pixels of
  the upper and of the lower half of the silhouette, averaged over frames; Hellinger distance.
- ``gei`` (shape- and dynamics-driven): the gait energy image, i.e. the mean silhouette resized to
  32 x 16 (or 32 x 32 for square crops); Euclidean distance.

Each probe is matched against the gallery sequences of the test identities seen from the same
view (the easy half of the real protocols), per condition of the domain's protocol; the GEI is
also scored across views (gallery of the other views only). A useful
dataset puts both well between chance and perfect, and makes clothing changes hurt the colour
feature much more than bags do.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from biggait.data.pickles import load_array
from biggait.datasets import PROTOCOLS
from biggait.errors import DataError
from biggait.synthgait.domains import get_domain
from biggait.synthgait.formats import file_names

__all__ = ["ProxyRecord", "features", "rank1_table", "proxy_rank1"]


@dataclass(frozen=True)
class ProxyRecord:
    """Features of one sequence."""

    id: str
    type: str
    view: str
    colour: np.ndarray  # [128]
    gei: np.ndarray  # [32 * w]


def features(rgb: np.ndarray, sils: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Colour histogram [128] and GEI [32*w] of one sequence (RGB [T,H,W,3] uint8, sils [T,H,W])."""
    T, H, W = sils.shape
    fg = sils > 127
    q = (rgb // 64).astype(np.int32)  # 4 bins per channel
    code = q[..., 0] * 16 + q[..., 1] * 4 + q[..., 2]  # [T, H, W]
    rows = np.arange(H)[None, :, None]
    hists = []
    for part in (rows < H // 2, rows >= H // 2):
        sel = fg & part
        h = np.bincount(code[sel], minlength=64).astype(np.float64)
        hists.append(h / max(h.sum(), 1.0))
    colour = np.sqrt(np.concatenate(hists))  # Hellinger: Euclidean on square roots
    gei_w = 16 if W * 2 == H else 32
    gei = cv2.resize(fg.mean(0).astype(np.float32), (gei_w, 32), interpolation=cv2.INTER_AREA).ravel()
    return colour, gei


def rank1_table(records: list[ProxyRecord], domain: str) -> dict[str, dict[str, float]]:
    """Nearest-neighbour rank-1 (in [0, 1]) per feature and condition.

    ``colour_hist`` and ``gei`` match within the probe's view; ``gei_cross_view`` matches against
    the gallery of the other views only.
    """
    table: dict[str, dict[str, float]] = {"colour_hist": {}, "gei": {}, "gei_cross_view": {}}
    spec = PROTOCOLS[domain]  # the real dataset's protocol conditions
    for cond, (probe_types, gallery_types) in spec.conditions.items():
        for feat, key, cross in (
            ("colour_hist", "colour", False),
            ("gei", "gei", False),
            ("gei_cross_view", "gei", True),
        ):
            hits = []
            for view in sorted({r.view for r in records}):
                probes = [r for r in records if r.view == view and spec.has_type(r.type, probe_types)]
                gallery = [
                    r
                    for r in records
                    if (r.view != view if cross else r.view == view) and spec.has_type(r.type, gallery_types)
                ]
                if not probes or not gallery:
                    continue
                P = np.stack([getattr(r, key) for r in probes])
                G = np.stack([getattr(r, key) for r in gallery])
                d = ((P[:, None, :] - G[None, :, :]) ** 2).sum(-1)
                best = d.argmin(1)
                hits += [probes[i].id == gallery[j].id for i, j in enumerate(best)]
            if hits:
                table[feat][cond] = round(float(np.mean(hits)), 4)
    return table


def proxy_rank1(root: str | Path, partition: str | Path, domain: str) -> dict[str, object]:
    """Score the proxies on the test identities of a generated tree."""
    import json

    style = get_domain(domain)
    root = Path(root)
    try:
        test_ids = json.loads(Path(partition).read_text())["TEST_SET"]
    except (OSError, KeyError, ValueError) as exc:
        raise DataError(f"{partition}: cannot read the TEST_SET of the partition ({exc})") from None
    records = []
    for sid in test_ids:
        for seq_dir in sorted(p for p in (root / sid).glob("*/*") if p.is_dir() and not p.name.startswith(".")):
            names = file_names(style.name, seq_dir.name)
            rgb, sils = load_array(seq_dir / names["rgb"]), load_array(seq_dir / names["sils"])
            if style.crop != "square_hwc":
                rgb = rgb.transpose(0, 2, 3, 1)
            colour, gei = features(rgb, sils)
            records.append(ProxyRecord(sid, seq_dir.parent.name, style.preset.camera(seq_dir.name), colour, gei))
    if not records:
        raise DataError(f"{root}: no test sequences found for the proxies")
    table = rank1_table(records, domain)
    return {"chance": round(1.0 / len(test_ids), 4), **table}
