"""Contact sheets of SynthGait: sample frames and silhouettes per domain and condition (PNG)."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from biggait.io import atomic_path
from biggait.synthgait.domains import DomainPlan, get_domain
from biggait.synthgait.formats import file_names
from biggait.synthgait.generator import SynthSequence, SynthSpec, plan_jobs, render_sequence

__all__ = ["sequence_frames", "contact_sheet", "write_preview"]

logger = logging.getLogger(__name__)


def sequence_frames(seq: SynthSequence) -> tuple[np.ndarray, np.ndarray]:
    """RGB [T, H, W, 3] and silhouettes [T, H, W] of a rendered sequence, whatever its format."""
    style = get_domain(seq.job.domain)
    names = file_names(style.name, seq.job.folder)
    rgb, sils = seq.arrays[names["rgb"]], seq.arrays[names["sils"]]
    if style.crop != "square_hwc":
        rgb = rgb.transpose(0, 2, 3, 1)
    return rgb, sils


def contact_sheet(
    seed: int, domain: str, plan: DomainPlan, *, n_frames: int = 4, zoom: int = 2, ids: int = 2
) -> np.ndarray:
    """One row per (identity, type) at the plan's first two views: frames then silhouettes. RGB uint8."""
    style = get_domain(domain)
    views = plan.views[:2]
    jobs = [j for j in plan_jobs(SynthSpec(seed, {domain: plan})) if j.view in views]
    keep = sorted({j.id for j in jobs})[-ids:]  # test identities
    rows = []
    for sid in keep:
        for typ in style.types:
            cells = []
            for j in (j for j in jobs if j.id == sid and j.type == typ):
                rgb, sil = sequence_frames(render_sequence(seed, j))
                idx = np.linspace(0, len(rgb) - 1, n_frames).round().astype(int)
                cells += [rgb[i] for i in idx] + [np.repeat(sil[i][..., None], 3, 2) for i in idx]
            if not cells:
                continue
            row = np.concatenate([np.pad(c, ((1, 1), (1, 1), (0, 0)), constant_values=90) for c in cells], 1)
            label = np.full((row.shape[0], 70, 3), 255, np.uint8)
            cv2.putText(label, sid, (2, 12), cv2.FONT_HERSHEY_PLAIN, 0.8, (0, 0, 0), 1)
            cv2.putText(label, typ, (2, 28), cv2.FONT_HERSHEY_PLAIN, 0.8, (0, 0, 0), 1)
            rows.append(np.concatenate([label, row], 1))
    width = max(r.shape[1] for r in rows)
    sheet = np.concatenate([np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows], 0)
    return cv2.resize(sheet, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_NEAREST)


def write_preview(out_dir: str | Path, seed: int, plans: dict[str, DomainPlan]) -> list[Path]:
    """Write ``out_dir/preview_<domain>.png`` for every domain; returns the paths."""
    paths = []
    for dom, plan in plans.items():
        sheet = contact_sheet(seed, dom, plan)
        dest = Path(out_dir) / f"preview_{dom}.png"
        with atomic_path(dest) as tmp:
            if not cv2.imwrite(str(tmp), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR)):
                raise OSError(f"cannot write {dest}")
        logger.info("preview: %s", dest)
        paths.append(dest)
    return paths
