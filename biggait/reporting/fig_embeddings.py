"""A 2-D view of test embeddings coloured by identity: PCA (numpy SVD) of an ``embeddings.npz``.

Each sequence's ``[C, P]`` embedding is flattened to one ``C*P`` vector (with ``cos`` scoring each
strip is L2-normalised first, as the distance does) and projected on the two leading principal
axes of the sequences shown. At most ``max_identities`` identities are drawn (the first ones in
sorted order), so the colours stay tellable apart at paper scale.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from biggait.errors import DataError
from biggait.evaluation.extract import Embeddings
from biggait.reporting.fig_style import pyplot, seaborn, style


@dataclass(frozen=True)
class Projection:
    """Sequences projected on two principal axes."""

    coords: np.ndarray  # [N, 2]
    explained: np.ndarray  # [2] fraction of the variance along each axis
    labels: np.ndarray  # [N] identity of each point


def flatten(features: np.ndarray, metric: str = "euc") -> np.ndarray:
    """``[N, C, P]`` -> ``[N, C*P]`` float64 (``cos``: each strip L2-normalised over its channels)."""
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 3:
        raise DataError(f"embeddings: expected features [N, C, P], got {list(x.shape)}")
    if metric == "cos":
        x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return x.reshape(len(x), -1)


def pca_2d(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project ``x [N, D]`` on its two leading principal axes -> (coords ``[N, 2]``, explained ``[2]``).

    Each axis is signed so that its largest loading is positive (SVD signs are arbitrary).
    """
    if x.shape[0] < 2 or x.shape[1] < 2:
        raise DataError(f"embeddings: PCA needs at least 2 sequences of 2 dimensions, got {list(x.shape)}")
    centred = x - x.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)  # vt: [min(N, D), D]
    axes = vt[:2] if vt.shape[0] >= 2 else np.vstack([vt, np.zeros_like(vt)])
    signs = np.sign(axes[np.arange(2), np.abs(axes).argmax(axis=1)])
    axes = axes * np.where(signs == 0, 1.0, signs)[:, None]
    total = float(np.sum(s**2))
    explained = np.array([(s[i] ** 2 / total) if total > 0 and i < s.size else 0.0 for i in range(2)])
    return centred @ axes.T, explained


def project(emb: Embeddings, metric: str = "euc", max_identities: int = 20) -> Projection:
    """The sequences of the first ``max_identities`` identities (sorted), projected by :func:`pca_2d`."""
    if max_identities < 1:
        raise DataError(f"max_identities: expected >= 1, got {max_identities}")
    labels = np.asarray(emb.labels).astype(str)
    shown = np.unique(labels)[:max_identities]
    keep = np.isin(labels, shown)
    coords, explained = pca_2d(flatten(emb.features[keep], metric))
    return Projection(coords, explained, labels[keep])


def embeddings_figure(proj: Projection, title: str = ""):
    """Scatter of the projection, one colour per identity (legend up to 20 identities)."""
    import pandas as pd

    sns = seaborn()
    ids = np.unique(proj.labels).tolist()
    palette = dict(zip(ids, sns.color_palette("tab20" if len(ids) <= 20 else "husl", len(ids))))
    frame = pd.DataFrame({"PC1": proj.coords[:, 0], "PC2": proj.coords[:, 1], "identity": proj.labels})
    with style():
        fig, ax = pyplot().subplots(figsize=(5.6, 4.4))
        sns.scatterplot(
            frame,
            x="PC1",
            y="PC2",
            hue="identity",
            hue_order=ids,
            palette=palette,
            s=18,
            linewidth=0,
            alpha=0.85,
            legend=len(ids) <= 20,
            ax=ax,
        )
        ax.set(
            xlabel=f"PC1 ({100 * proj.explained[0]:.1f}% of variance)",
            ylabel=f"PC2 ({100 * proj.explained[1]:.1f}% of variance)",
            title=title,
        )
        if ax.get_legend() is not None:
            sns.move_legend(
                ax,
                "center left",
                bbox_to_anchor=(1.0, 0.5),
                ncol=1 if len(ids) <= 10 else 2,
                fontsize=6,
                title_fontsize=7,
                frameon=False,
            )
        fig.tight_layout()
    return fig
