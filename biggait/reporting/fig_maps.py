"""Figures of the model's inputs and maps: Pad-and-Resize, unsupervised masks, PCA of GRE maps.

The maps come from ``model(frames, ratios, return_maps=True)`` (docs/interfaces.md): ``foreground``
``[ns, h, w]`` (0 = background), ``appearance`` / ``denoising`` ``[n, C, s, h, w]``. A map is
rendered as the paper does: the first three principal components of its foreground pixels
(numpy SVD), each scaled to [0, 1], as RGB; background black.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from biggait.errors import DataError


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def pick_frames(length: int, count: int) -> np.ndarray:
    """``count`` frame indices spread evenly over a sequence of ``length`` frames."""
    if length <= 0:
        raise DataError("sequence has no frames")
    return np.unique(np.linspace(0, length - 1, num=min(count, length)).round().astype(np.int64))


def load_test_sequence(
    root: str | Path, dataset: str, partition: str | Path | None, index: int = 0, with_sils: bool = False
) -> tuple[dict[str, np.ndarray], str]:
    """Sequence ``index`` of the test split (RGB uint8 ``[T,3,H,W]``, ratios ``[T]``) and its name."""
    from biggait.data.dataset import GaitDataset

    ds = GaitDataset(
        root, dataset, partition or None, split="test" if partition else "all", modality="rgb", with_sils=with_sils
    )
    if not 0 <= index < len(ds):
        raise DataError(f"{root}: sequence index {index} out of range (0..{len(ds) - 1})")
    rec = ds.sequences[index]
    return ds.load(index), f"{rec.id}/{rec.type}/{rec.view}"


def pca_rgb(feat: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """PCA rendering of a feature map.

    Args:
        feat: ``[C, s, h, w]`` features of one sequence.
        mask: ``[s, h, w]`` bool, the pixels to fit and render (the foreground).
    Returns:
        ``[s, h, w, 3]`` float in [0, 1]; zero outside ``mask``.
    """
    c = feat.shape[0]
    out = np.zeros(mask.shape + (3,), dtype=np.float64)
    x = feat.reshape(c, -1).T[mask.reshape(-1)].astype(np.float64)  # [N_fg, C]
    if x.shape[0] < 2:
        return out
    x = x - x.mean(axis=0, keepdims=True)
    _, _, vt = np.linalg.svd(x, full_matrices=False)  # vt: [min(N, C), C]
    k = min(3, vt.shape[0])
    proj = x @ vt[:k].T  # [N_fg, k]
    lo, hi = proj.min(axis=0), proj.max(axis=0)
    proj = (proj - lo) / np.where(hi - lo > 1e-12, hi - lo, 1.0)
    rgb = np.zeros((x.shape[0], 3))
    rgb[:, :k] = proj
    out.reshape(-1, 3)[mask.reshape(-1)] = rgb
    return out


def pad_resize_figure(
    rgb: np.ndarray, ratios: np.ndarray, frame: int, canvas: tuple[int, int] = (256, 128), title: str = ""
):
    """The stored crop, a plain squash to the canvas, and Pad-and-Resize to the true aspect ratio.

    rgb: uint8 ``[T, 3, H, W]``; ratios: ``[T]`` w/h of the original crops.
    """
    from biggait.models.padding import pad_and_resize

    plt = _plt()
    x = torch.from_numpy(rgb[frame : frame + 1].astype(np.float32))  # [1, 3, H, W]
    r = torch.from_numpy(np.asarray(ratios[frame : frame + 1], dtype=np.float32))
    squashed = torch.nn.functional.interpolate(x, size=canvas, mode="bilinear", align_corners=False)
    padded = pad_and_resize(x, r, canvas[0], canvas[1])
    panels = [
        ("stored crop\n{}x{}".format(*rgb.shape[2:]), x),
        ("squashed to {}x{}".format(*canvas), squashed),
        (f"Pad-and-Resize (w/h = {float(r[0]):.2f})", padded),
    ]
    fig, axes = plt.subplots(1, 3, figsize=(7.5, 4.2))
    for ax, (name, t) in zip(axes, panels):
        ax.imshow(t[0].permute(1, 2, 0).clamp(0, 255).byte().numpy())
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


@torch.no_grad()
def model_maps(
    checkpoint: str | Path, rgb: np.ndarray, ratios: np.ndarray, frames: np.ndarray
) -> dict[str, np.ndarray]:
    """Run a trained BigGait on some frames of one sequence; returns numpy maps:
    ``foreground`` ``[s, h, w]`` and, when the branch exists, ``appearance`` / ``denoising``
    ``[C, s, h, w]``."""
    from biggait.data.loader import normalize_rgb
    from biggait.models.checkpoints import load_model

    model, exp = load_model(checkpoint)
    if exp.model.arch != "biggait" or exp.data.modality != "rgb":
        raise DataError(
            f"{checkpoint}: maps need an RGB BigGait model (got arch {exp.model.arch}, modality {exp.data.modality})"
        )
    model.eval()
    x = torch.from_numpy(normalize_rgb(rgb[frames]))[None]  # [1, s, 3, H, W]
    r = torch.from_numpy(np.asarray(ratios[frames], dtype=np.float32))[None]  # [1, s]
    out = model(x, r, return_maps=True)
    if "foreground" not in out.maps:
        raise DataError(f"{checkpoint}: the model returned no foreground map")
    maps = {"foreground": out.maps["foreground"].float().numpy()}  # [s, h, w]
    for k in ("appearance", "denoising"):
        if k in out.maps:
            maps[k] = out.maps[k][0].float().numpy()  # [C, s, h, w]
    return maps


def masks_figure(rgb: np.ndarray, frames: np.ndarray, foreground: np.ndarray, title: str = ""):
    """RGB frames above the unsupervised foreground masks (0 = background)."""
    plt = _plt()
    s = len(frames)
    fig, axes = plt.subplots(2, s, figsize=(1.3 * s, 5.0), squeeze=False)
    for j, f in enumerate(frames):
        axes[0, j].imshow(rgb[f].transpose(1, 2, 0))
        axes[1, j].imshow(foreground[j], cmap="gray", vmin=0, vmax=1)
        for ax in axes[:, j]:
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, 0].set_ylabel("RGB", fontsize=8)
    axes[1, 0].set_ylabel("mask", fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def pca_figure(rgb: np.ndarray, frames: np.ndarray, maps: dict[str, np.ndarray], title: str = ""):
    """RGB frames next to the PCA renderings of the appearance and denoising maps."""
    plt = _plt()
    fg = maps["foreground"] != 0  # [s, h, w]
    rows = [("RGB", None)] + [(k, pca_rgb(maps[k], fg)) for k in ("appearance", "denoising") if k in maps]
    s = len(frames)
    fig, axes = plt.subplots(len(rows), s, figsize=(1.3 * s, 2.5 * len(rows)), squeeze=False)
    for i, (name, img) in enumerate(rows):
        for j, f in enumerate(frames):
            ax = axes[i, j]
            ax.imshow(rgb[f].transpose(1, 2, 0) if img is None else img[j])
            ax.set_xticks([])
            ax.set_yticks([])
        axes[i, 0].set_ylabel(name, fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig
