"""BigGait's losses: batch-all triplet, scaled label-smoothed cross-entropy and the GRE regularisers.

``compose(out, labels, cfg)`` weights the terms with :class:`~biggait.config.LossConfig`; a term
whose weight is 0 is not computed (the model also skips its auxiliary terms when built with the
same LossConfig).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from biggait.config import LossConfig

_SOBEL_X = ((1.0, 0.0, -1.0), (2.0, 0.0, -2.0), (1.0, 0.0, -1.0))
_SOBEL_Y = ((1.0, 2.0, 1.0), (0.0, 0.0, 0.0), (-1.0, -2.0, -1.0))


@dataclass
class TripletResult:
    """Per-strip outputs of the batch-all triplet loss (p = strips)."""

    loss: Tensor  # [] mean over strips
    loss_per_part: Tensor  # [p] mean over the non-zero hinge terms of each strip
    hard_loss: Tensor  # [p] largest hinge term
    loss_num: Tensor  # [p] number of non-zero hinge terms (float)
    mean_dist: Tensor  # [p]
    dist: Tensor  # [p, n, n]


def strip_distances(x: Tensor) -> Tensor:
    """Per-strip Euclidean distances ``sqrt(relu(|x|^2 + |y|^2 - 2xy))``. x ``[p, n, c]`` -> ``[p, n, n]``.

    The self-distance is the square root of rounding residue, not exactly 0 (as released).
    """
    sq = (x**2).sum(-1)  # [p, n]
    d2 = sq.unsqueeze(2) + sq.unsqueeze(1) - 2 * x.matmul(x.transpose(1, 2))
    return torch.sqrt(F.relu(d2))


def triplet_loss(embeddings: Tensor, labels: Tensor, margin: float = 0.2) -> TripletResult:
    """Batch-all triplet loss. embeddings ``[n, c, p]``, labels ``[n]``.

    Every (anchor, positive - the anchor itself included -, negative) triple of each strip gives
    ``relu(d_ap - d_an + margin)``; a strip's loss is the mean of its non-zero terms.
    """
    x = embeddings.permute(2, 0, 1).contiguous().float()  # [p, n, c]; contiguous like the release (matmul blocking)
    dist = strip_distances(x)  # [p, n, n]
    same = labels.unsqueeze(1) == labels.unsqueeze(0)  # [n, n]
    valid = same.unsqueeze(2) & ~same.unsqueeze(1)  # [a, pos, neg]
    hinge = F.relu(dist.unsqueeze(3) - dist.unsqueeze(2) + margin) * valid  # [p, a, pos, neg]
    hinge = hinge.flatten(1)
    total = hinge.sum(-1)
    num = (hinge != 0).sum(-1).float()
    per_part = torch.where(num > 0, total / (num + 1e-9), torch.zeros_like(total))
    hard = hinge.max(-1)[0] if hinge.shape[1] else torch.zeros_like(total)
    return TripletResult(per_part.mean(), per_part, hard, num, dist.mean((1, 2)), dist)


def cross_entropy(logits: Tensor, labels: Tensor, scale: float = 16.0, smoothing: float = 0.1) -> tuple[Tensor, Tensor]:
    """CE over ``scale * logits`` ``[n, classes, p]`` with the label repeated per strip.

    Returns (loss ``[]``, accuracy ``[]``: argmax per strip, averaged).
    """
    p = logits.shape[2]
    target = labels.unsqueeze(1).repeat(1, p)  # [n, p]
    loss = F.cross_entropy(logits.float() * scale, target, label_smoothing=smoothing)
    acc = (logits.argmax(dim=1) == target).float().mean()
    return loss, acc


def connect_loss(x: Tensor, ns: int, c: int, h: int, w: int, mode: str = "channel_sum") -> Tensor:
    """Sobel smoothness of a map, normalised by ``ns*c*h*w``.

    Args:
        x: anything that reshapes to ``[ns, c, h, w]``. The released mask term passes the
            contiguous channels-last ``[ns*h*w, c]`` buffer here (interleaved memory: quirk kept).
        mode: ``channel_sum`` (released: a ``[1, c, 3, 3]`` kernel, i.e. the Sobel of the sum over
            channels) or ``per_channel`` (the paper's wording: a Sobel per channel).
    """
    img = x.reshape(ns, c, h, w)
    kx = torch.tensor(_SOBEL_X, dtype=img.dtype, device=img.device)
    ky = torch.tensor(_SOBEL_Y, dtype=img.dtype, device=img.device)
    if mode == "channel_sum":
        gx = F.conv2d(img, kx.expand(1, c, 3, 3), padding=1)
        gy = F.conv2d(img, ky.expand(1, c, 3, 3), padding=1)
    elif mode == "per_channel":
        gx = F.conv2d(img, kx.expand(c, 1, 3, 3), padding=1, groups=c)
        gy = F.conv2d(img, ky.expand(c, 1, 3, 3), padding=1, groups=c)
    else:
        raise ValueError(f"unknown smoothness mode {mode!r} (expected channel_sum or per_channel)")
    return (gx.abs().sum() + gy.abs().sum()) / (ns * c * h * w)


def diversity_loss(x: Tensor) -> Tensor:
    """``mean over frames of log2(C) - H(p)`` with ``p_c = sum_pix x_c / (sum x + 1e-6)``. x ``[ns, hw, C]``."""
    c = x.shape[-1]
    p = x.sum(1) / (x.sum((1, 2)) + 1e-6).unsqueeze(-1)  # [ns, C]
    ent = -(p * torch.log2(p + 1e-6)).sum(-1)  # [ns]
    uniform = torch.full((c,), 1.0 / c, dtype=x.dtype, device=x.device)
    max_ent = -(uniform * torch.log2(uniform)).sum()  # log2(C) computed as released, in x's dtype
    return (max_ent - ent).mean()


_AUX = {
    "reconstruction": "reconstruction_weight",
    "mask_smoothness": "mask_smoothness_weight",
    "denoising_smoothness": "denoising_smoothness_weight",
    "diversity": "diversity_weight",
}


def compose(
    out, labels: Tensor, cfg: LossConfig, gather: Callable[[Tensor, Tensor], tuple[Tensor, Tensor]] | None = None
) -> dict[str, Tensor]:
    """Weighted loss terms of a :class:`~biggait.models.biggait.ModelOutput` and their sum ``total``.

    Keys: ``triplet``, ``ce`` and whichever of ``reconstruction``, ``mask_smoothness``,
    ``denoising_smoothness``, ``diversity`` the model produced (raw values in ``out.aux``).
    Terms with weight 0 are skipped. ``gather(embeddings, labels)``, when given, returns the
    global batch (DDP): the triplet term is then computed over it, as the reference does.
    """
    terms: dict[str, Tensor] = {}
    if cfg.triplet_weight != 0:
        emb, lab = gather(out.embeddings, labels) if gather is not None else (out.embeddings, labels)
        terms["triplet"] = cfg.triplet_weight * triplet_loss(emb, lab, cfg.triplet_margin).loss
    if cfg.ce_weight != 0:
        terms["ce"] = cfg.ce_weight * cross_entropy(out.logits, labels, cfg.ce_scale, cfg.label_smoothing)[0]
    for name, attr in _AUX.items():
        weight = getattr(cfg, attr)
        if weight != 0 and name in out.aux:
            terms[name] = weight * out.aux[name]
    if not terms:
        raise ValueError("every loss weight is 0: nothing to optimise")
    terms["total"] = sum(terms.values())
    return terms
