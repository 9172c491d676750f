"""The plotting back end shared by the result figures: matplotlib (Agg), seaborn, one style, panel grids.

The seaborn style is applied with context managers (never ``sns.set_theme``), so drawing a figure
leaves matplotlib's global settings as they were. Imports are lazy: ``biggait --help`` stays fast.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the non-interactive Agg back end."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def seaborn() -> Any:
    """The ``seaborn`` module (after selecting the Agg back end)."""
    pyplot()
    import seaborn as sns

    return sns


@contextlib.contextmanager
def style() -> Iterator[None]:
    """The figures' look: seaborn's white grid at paper scale. Create the axes inside the block."""
    sns = seaborn()
    with sns.axes_style("whitegrid"), sns.plotting_context("paper"):
        yield


def panel_grid(n: int, max_cols: int, width: float, height: float) -> tuple[Any, list[Any]]:
    """A figure of ``n`` panels, at most ``max_cols`` per row, each ``width`` x ``height`` inches.

    Returns the figure and its first ``n`` axes; the unused cells of the last row are hidden.
    """
    plt = pyplot()
    cols = max(1, min(n, max_cols))
    rows = max(1, math.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    flat = list(axes.flat)
    for ax in flat[n:]:
        ax.axis("off")
    return fig, flat[:n]
