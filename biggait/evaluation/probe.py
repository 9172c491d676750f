"""How much "person" an upstream's patch tokens hold: a linear probe against ground-truth silhouettes.

``biggait probe-lvm`` measures the upstream alone, before any GRE training: the frozen LVM
(a Meta-layout checkpoint, or the random tiny ViT with a fixed seed) runs on test frames brought
onto the canvas exactly as BigGait does (:func:`biggait.models.padding.to_canvas`), its ``last``
tap is upsampled (bilinear) to the GRE map and standardised, and per map pixel we ask whether the
pixel belongs to the walker:

- ``linear_probe``: a logistic regression (supervised by silhouettes) fitted on the frames of half
  of the test identities and scored (threshold 0.5) on the other half;
- ``pca1``: the first principal component of the features, thresholded at 0, with the sign that
  makes the map border background (unsupervised: the silhouettes only score it);
- ``prior``: the mean silhouette of the fitting half > 0.5, the same map for every frame (what a
  mask can reach without looking at the frame);
- ``all_person``: every pixel labelled "person".

Beside these (``iou``), ``iou_best_threshold`` scores the probe's probability and the PCA-1
projection at the threshold that is best on the fitting half (a grid of 19): what each map holds
once calibrated, not only at its default threshold.

IoU is computed like the evaluation's ``mask_iou`` (:mod:`biggait.evaluation.mask_quality`): per
sequence over the summed pixel counts of its probed frames, then the mean over sequences; values
are fractions in [0, 1]. Silhouettes are used by this evaluation probe only, never by training.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from biggait.config import ModelConfig
from biggait.data.dataset import GaitDataset
from biggait.data.loader import normalize_rgb
from biggait.errors import EvaluationError
from biggait.evaluation.mask_quality import sequence_iou, silhouettes_on_map
from biggait.models.backbone import FrozenLVM
from biggait.models.padding import to_canvas
from biggait.models.weights import load_meta_checkpoint
from biggait.progress import progress_bar

logger = logging.getLogger(__name__)

MEASURES = ("linear_probe", "pca1", "prior", "all_person")
# `biggait evaluate`'s probe keeps the probed frames' features under this many bytes (float32 [N, h, w, C];
# the standardised copy doubles it): all 1,200 frames on the demo (24 KB a frame), ~680 for ViT-S and ~170
# for ViT-G at paper scale (3 and 12.6 MB a frame on the 64x32 map).
EVAL_PROBE_BYTES = 2 << 30


@dataclass(frozen=True)
class ProbeSettings:
    """What is probed and how (written into the result JSON)."""

    every: int = 4  # every k-th frame of each test sequence
    max_frames: int = 1200  # cap on probed frames (evenly spaced over the sampled ones)
    seed: int = 0  # initialisation seed of the random upstream
    l2: float = 1e-3  # L2 penalty of the logistic regression (on standardised features)
    iters: int = 200  # L-BFGS iterations of the logistic regression
    batch: int = 256  # frames per LVM forward


@dataclass
class ProbeFrames:
    """The probed test frames: LVM input, silhouettes on the GRE map, and whose they are."""

    frames: Tensor  # [N, 3, H, W] normalised RGB on the LVM canvas
    sils: Tensor  # [N, h, w] bool, ground truth on the GRE map
    sequence: Tensor  # [N] int64, index of the frame's sequence
    seq_ids: list[str]  # identity of each sequence


def sample_frames(lengths: list[int], every: int, max_frames: int) -> list[tuple[int, int]]:
    """``(sequence, frame)`` pairs: frames 0, k, 2k, ... of every sequence, then at most
    ``max_frames`` of them, evenly spaced (deterministic, every sequence keeps its share)."""
    if every < 1 or max_frames < 1:
        raise EvaluationError(f"probe: --every {every} and --max-frames {max_frames} must be >= 1")
    picks = [(s, f) for s, n in enumerate(lengths) for f in range(0, n, every)]
    if len(picks) > max_frames:
        keep = np.linspace(0, len(picks) - 1, max_frames).round().astype(int)
        picks = [picks[i] for i in keep]
    return picks


def load_probe_frames(
    dataset: GaitDataset, cfg: ModelConfig, settings: ProbeSettings, progress: bool = True
) -> ProbeFrames:
    """Read the sampled test frames and silhouettes onto BigGait's LVM canvas and GRE map."""
    image_hw, map_hw = (2 * cfg.image_size, cfg.image_size), (2 * cfg.gre_map_width, cfg.gre_map_width)
    picks = sample_frames([dataset.length(i) for i in range(len(dataset))], settings.every, settings.max_frames)
    by_seq: dict[int, list[int]] = {}
    for s, f in picks:
        by_seq.setdefault(s, []).append(f)
    frames, sils, seqs = [], [], []
    for s, idx in progress_bar(by_seq.items(), desc="probe frames", unit="seq", disable=not progress, leave=False):
        item = dataset.load(s)
        idx_a = np.asarray(idx)
        x = torch.from_numpy(normalize_rgb(np.ascontiguousarray(item["rgb"][idx_a])))  # [k, 3, H0, W0]
        r = torch.from_numpy(np.asarray(item["ratios"][idx_a], dtype=np.float32))  # [k]
        frames.append(to_canvas(x, r, *image_hw, pad=cfg.pad_and_resize))  # [k, 3, H, W]
        sils.append(silhouettes_on_map(torch.from_numpy(item["sils"][idx_a]), r, map_hw, cfg.pad_and_resize))
        seqs.append(torch.full((len(idx),), s, dtype=torch.int64))
    return ProbeFrames(torch.cat(frames), torch.cat(sils), torch.cat(seqs), [rec.id for rec in dataset.sequences])


def build_upstream(cfg: ModelConfig, checkpoint: str | Path | None, seed: int) -> FrozenLVM:
    """The frozen LVM of ``cfg``: the Meta-layout ``checkpoint``, or (None) random weights from ``seed``."""
    gen_state = torch.get_rng_state()
    torch.manual_seed(seed)  # the random upstream is the same on every run
    try:
        lvm = FrozenLVM(cfg.lvm, cfg.lvm_tiny, (2 * cfg.image_size, cfg.image_size), cfg.lvm_patch)
    finally:
        torch.set_rng_state(gen_state)
    if checkpoint:
        load_meta_checkpoint(lvm, Path(checkpoint))
    return lvm


@torch.no_grad()
def upstream_features(
    lvm: FrozenLVM, frames: Tensor, map_hw: tuple[int, int], batch: int, progress: bool = True
) -> Tensor:
    """The ``last`` tap of ``frames`` ``[N, 3, H, W]``, upsampled (bilinear) to ``[N, h, w, C]``."""
    out = []
    device = next(lvm.parameters()).device
    for i in progress_bar(
        range(0, len(frames), batch), desc="upstream", unit="batch", disable=not progress, leave=False
    ):
        last, _ = lvm(frames[i : i + batch].to(device))  # [b, gh, gw, C]
        up = F.interpolate(last.float().permute(0, 3, 1, 2), size=map_hw, mode="bilinear", align_corners=False)
        out.append(up.permute(0, 2, 3, 1).contiguous().cpu())  # [b, h, w, C]
    return torch.cat(out)


def split_identities(ids: list[str]) -> tuple[list[str], list[str]]:
    """Sorted identities -> (fit half: every other one from the first, eval half: the rest)."""
    uniq = sorted(set(ids))
    if len(uniq) < 2:
        raise EvaluationError(f"probe: needs at least 2 test identities (one to fit, one to score), got {len(uniq)}")
    return uniq[0::2], uniq[1::2]


def fit_logistic(x: Tensor, y: Tensor, l2: float, iters: int) -> tuple[Tensor, Tensor]:
    """Logistic regression ``p = sigmoid(x @ w + b)`` by full-batch L-BFGS. x ``[M, C]``, y ``[M]`` in {0, 1}."""
    x64, y64 = x.double(), y.double()
    w = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS(
        [w, b],
        lr=1.0,
        max_iter=iters,
        tolerance_grad=1e-9,
        tolerance_change=1e-12,
        history_size=20,
        line_search_fn="strong_wolfe",
    )

    def closure() -> Tensor:
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(x64 @ w + b, y64) + l2 * (w * w).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    return w.detach().float(), b.detach().float()


def sequence_mean_iou(pred: Tensor, gt: Tensor, sequence: Tensor) -> float:
    """Mean over sequences of (summed intersection / summed union) of their frames; pred, gt ``[N, h, w]`` bool."""
    inter = (pred & gt).flatten(1).sum(1).double()  # [N]
    union = (pred | gt).flatten(1).sum(1).double()
    seqs, inv = torch.unique(sequence, return_inverse=True)
    si = torch.zeros(len(seqs), dtype=torch.float64).index_add_(0, inv, inter)
    su = torch.zeros(len(seqs), dtype=torch.float64).index_add_(0, inv, union)
    iou = sequence_iou(si.numpy(), su.numpy())  # NaN where a sequence has nothing to compare
    return float(np.nanmean(iou)) if np.isfinite(iou).any() else float("nan")


PROB_GRID = torch.linspace(0.05, 0.95, 19)  # thresholds of the probe's probability
PCA_QUANTILES = torch.linspace(0.05, 0.95, 19, dtype=torch.float32)  # of the PCA-1 projection (fit half)


def best_threshold(score: Tensor, data: ProbeFrames, fit: Tensor, grid: Tensor) -> tuple[float, float]:
    """(eval-half IoU, threshold) of ``score > t`` with ``t`` of ``grid`` chosen on the fitting half: how
    much a map holds once the threshold is calibrated (the 0.5 / 0 thresholds of ``iou`` are not)."""
    ev = ~fit
    fit_scores = [sequence_mean_iou(score[fit] > t, data.sils[fit], data.sequence[fit]) for t in grid.tolist()]
    t = float(grid[int(np.nanargmax(fit_scores))])
    return sequence_mean_iou(score[ev] > t, data.sils[ev], data.sequence[ev]), t


def border_mask(h: int, w: int) -> Tensor:
    """``[h, w]`` bool: the outermost rows and columns of the map."""
    m = torch.zeros(h, w, dtype=torch.bool)
    m[0], m[-1], m[:, 0], m[:, -1] = True, True, True, True
    return m


def probe_scores(feats: Tensor, data: ProbeFrames, settings: ProbeSettings) -> dict:
    """Fit on one half of the identities, score on the other. feats ``[N, h, w, C]`` -> result dict."""
    n, h, w, c = feats.shape
    fit_ids, eval_ids = split_identities([data.seq_ids[int(s)] for s in data.sequence])
    frame_ids = np.asarray([data.seq_ids[int(s)] for s in data.sequence])
    fit = torch.from_numpy(np.isin(frame_ids, fit_ids))  # [N] bool
    ev = ~fit
    x_fit = feats[fit].reshape(-1, c)  # [Mf, C]
    mean, std = x_fit.mean(0), x_fit.std(0).clamp_min(1e-6)
    z = (feats - mean) / std  # [N, h, w, C] standardised by the fitting half
    y_fit = data.sils[fit].reshape(-1)  # [Mf]

    w_lin, b_lin = fit_logistic(z[fit].reshape(-1, c), y_fit, settings.l2, settings.iters)
    lin = (z @ w_lin + b_lin) > 0  # [N, h, w], probability > 0.5

    # PCA-1 of the fitting half (no labels); the border of the map is background.
    zf = z[fit].reshape(-1, c).double()
    _, vecs = torch.linalg.eigh(zf.T @ zf / max(len(zf) - 1, 1))  # ascending eigenvalues
    pc = vecs[:, -1].float()
    proj = z @ pc  # [N, h, w]
    if float(proj[fit][:, border_mask(h, w)].mean()) > 0:
        proj = -proj
    pca = proj > 0

    best = {
        "linear_probe": best_threshold(torch.sigmoid(z @ w_lin + b_lin), data, fit, PROB_GRID),
        "pca1": best_threshold(proj, data, fit, torch.quantile(proj[fit].flatten()[::7], PCA_QUANTILES)),
    }

    prior_map = data.sils[fit].float().mean(0) > 0.5  # [h, w]
    preds = {
        "linear_probe": lin,
        "pca1": pca,
        "prior": prior_map.expand(n, h, w),
        "all_person": torch.ones(n, h, w, dtype=torch.bool),
    }
    iou = {k: sequence_mean_iou(p[ev], data.sils[ev], data.sequence[ev]) for k, p in preds.items()}
    fit_iou = {k: sequence_mean_iou(p[fit], data.sils[fit], data.sequence[fit]) for k, p in preds.items()}
    return {
        "iou": iou,
        "fit_iou": fit_iou,
        "iou_best_threshold": {k: v[0] for k, v in best.items()},
        "best_threshold": {k: v[1] for k, v in best.items()},
        "fit_identities": fit_ids,
        "eval_identities": eval_ids,
        "frames": {"fit": int(fit.sum()), "eval": int(ev.sum())},
        "person_share": float(data.sils[ev].float().mean()),
    }


def probe_trained_upstream(
    lvm: FrozenLVM,
    cfg: ModelConfig,
    dataset: GaitDataset,
    settings: ProbeSettings = ProbeSettings(),
    progress: bool = True,
) -> float:
    """The linear-probe IoU (fraction) of a trained model's own frozen upstream ``lvm`` on ``dataset``
    (test split, with silhouettes): what ``biggait evaluate`` reports as ``upstream_probe``. It tells
    whether the upstream the model was trained on holds the walker, e.g. whether the pretrained
    weights were loaded at all (a random upstream reads far lower)."""
    if "sils" not in dataset.modalities:
        raise EvaluationError("probe: the dataset must be opened with its silhouettes (with_sils=True)")
    map_hw = (2 * cfg.gre_map_width, cfg.gre_map_width)
    frame_bytes = 4 * map_hw[0] * map_hw[1] * lvm.embed_dim
    settings = replace(settings, max_frames=max(16, min(settings.max_frames, EVAL_PROBE_BYTES // frame_bytes)))
    data = load_probe_frames(dataset, cfg, settings, progress)
    feats = upstream_features(lvm, data.frames, map_hw, settings.batch, progress)
    return float(probe_scores(feats, data, settings)["iou"]["linear_probe"])


def probe_upstream(
    dataset: GaitDataset,
    cfg: ModelConfig,
    checkpoint: str | Path | None,
    settings: ProbeSettings = ProbeSettings(),
    progress: bool = True,
) -> dict:
    """Probe one upstream on a dataset split with silhouettes -> the result dict (see module doc)."""
    if "sils" not in dataset.modalities:
        raise EvaluationError("probe: the dataset must be opened with its silhouettes (with_sils=True)")
    map_hw = (2 * cfg.gre_map_width, cfg.gre_map_width)
    lvm = build_upstream(cfg, checkpoint, settings.seed)
    data = load_probe_frames(dataset, cfg, settings, progress)
    logger.info(
        "probing %s (%s) on %d frames of %d sequences",
        cfg.lvm,
        checkpoint or "random",
        len(data.frames),
        len(torch.unique(data.sequence)),
    )
    feats = upstream_features(lvm, data.frames, map_hw, settings.batch, progress)
    res = probe_scores(feats, data, settings)
    return {
        "upstream": "file" if checkpoint else "random",
        "lvm_checkpoint": str(checkpoint or ""),
        "model": {
            "lvm": cfg.lvm,
            "lvm_tiny": cfg.lvm_tiny,
            "image_size": cfg.image_size,
            "lvm_patch": cfg.lvm_patch,
            "gre_map_width": cfg.gre_map_width,
            "pad_and_resize": cfg.pad_and_resize,
            "tap": "last",
            "token_grid": list(lvm.grid),
            "map_hw": list(map_hw),
            "feature_dim": int(feats.shape[-1]),
        },
        "settings": asdict(settings),
        "sequences": int(len(torch.unique(data.sequence))),
        **res,
    }
