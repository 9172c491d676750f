"""Per-view rank-1 plots: rank-1 (identical view excluded) per probe view, one line per condition.

The numbers come from evaluate's per-view matrices (``view_matrices/gait_<condition>_rank1.csv``)
through the protocol's own :func:`biggait.evaluation.metrics.de_diag`, so a probe view's point is
the mean over the other gallery views, and the mean over probe views (in the legend) is the
``rank1_exclude_identical_view`` of metrics.csv.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from biggait.errors import DataError
from biggait.evaluation.metrics import de_diag
from biggait.reporting.fig_results import read_view_matrix
from biggait.reporting.fig_style import pyplot, seaborn, style


@dataclass(frozen=True)
class ViewRank1:
    """Rank-1 (%) per probe view of one condition, identical view excluded."""

    condition: str
    views: list[str]
    per_view: np.ndarray  # [V] percent, NaN where the probe view has no probe or no other gallery view
    mean: float  # the condition's rank1_exclude_identical_view


def condition_name(matrix_file: str | Path) -> str:
    """``gait_CL_rank1.csv`` -> ``CL`` (the condition of an evaluate per-view matrix)."""
    return Path(matrix_file).stem.removeprefix("gait_").removesuffix("_rank1")


def view_rank1(matrix_file: str | Path) -> ViewRank1:
    """Read one per-view rank-1 matrix and reduce it per probe view (DataError if not square)."""
    probe, gallery, values = read_view_matrix(matrix_file)
    if probe != gallery:
        raise DataError(f"{matrix_file}: probe views {probe} differ from gallery views {gallery}")
    per_view = np.asarray(de_diag(values, each_angle=True), dtype=np.float64)
    return ViewRank1(condition_name(matrix_file), probe, per_view, float(de_diag(values)))


def views_figure(conditions: list[ViewRank1], title: str = ""):
    """Rank-1 per probe view, one line (points) per condition; the legend gives each mean."""
    import pandas as pd

    sns = seaborn()
    if not conditions:
        raise DataError("views: no per-view matrices given")
    views = list(dict.fromkeys(v for c in conditions for v in c.views))
    labels = [
        f"{c.condition} (mean {c.mean:.1f})" if not math.isnan(c.mean) else f"{c.condition} (no value)"
        for c in conditions
    ]
    rows = [
        {"condition": label, "probe view": v, "rank-1 (%)": x}
        for c, label in zip(conditions, labels)
        for v, x in zip(c.views, c.per_view.tolist())
    ]
    with style():
        fig, ax = pyplot().subplots(figsize=(max(4.5, 0.45 * len(views) + 2.5), 3.4))
        sns.pointplot(
            pd.DataFrame(rows),
            x="probe view",
            y="rank-1 (%)",
            hue="condition",
            order=views,
            hue_order=labels,
            errorbar=None,
            dodge=0.3 if len(labels) > 1 else False,
            markersize=4,
            linewidth=1,
            ax=ax,
        )
        if len(views) > 8:
            ax.tick_params(axis="x", labelrotation=90)
        ax.set(ylim=(0, 100), title=title)
        ax.legend(
            title="condition", fontsize=7, title_fontsize=7, frameon=False, loc="center left", bbox_to_anchor=(1.0, 0.5)
        )
        fig.tight_layout()
    return fig
