"""CMC curves: rank-k accuracy for k = 1..K per condition, scored from an evaluation's embeddings.

The curves are not re-derived: an evaluation folder's ``embeddings.npz`` is scored again by
:func:`biggait.evaluation.protocols.evaluate` (no bootstrap) with ``num_rank=K``, and the curve of
a condition is what the protocol reports for it:

- gait protocols: ``exclude_identical_view_mean`` (rank-k per view pair, identical views excluded,
  averaged as ``rank{k}_exclude_identical_view`` of metrics.csv);
- ReID protocols (CCPG, CCGR-Mini): the CMC of the retrieval metrics (``rank{k}`` of metrics.csv).

So each curve's rank-1 is the evaluation's rank-1 (same embeddings, same distance metric, read
from ``metrics.json``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from biggait import paths
from biggait.errors import DataError
from biggait.evaluation.extract import Embeddings
from biggait.evaluation.protocols import evaluate
from biggait.io import read_json
from biggait.reporting.fig_style import panel_grid, seaborn, style

PROTOCOL_TITLES = {"gait": "gait (identical views excluded)", "reid": "ReID"}


@dataclass(frozen=True)
class Evaluation:
    """One evaluation folder's embeddings and how they were scored."""

    label: str  # "<experiment> seed<k> on <test>" (or the folder name)
    embeddings: Embeddings
    test_dataset: str  # the protocol
    metric: str  # euc | cos


@dataclass(frozen=True)
class CmcCurve:
    """Accuracy (%) at ranks 1..len(accuracy) of one condition of one protocol."""

    protocol: str  # gait | reid
    condition: str
    accuracy: np.ndarray  # [K] percent


def evaluation_label(folder: str | Path) -> str:
    """``<experiment> seed<k> on <test>`` of an ``.../<experiment>/seed<k>/<test>`` folder, else its name."""
    where = paths.parse_metrics_file(Path(folder) / paths.METRICS_CSV)
    return f"{where[0]} seed{where[1]} on {where[2]}" if where else Path(folder).name


def read_evaluation(folder: str | Path, metric: str | None = None) -> Evaluation:
    """An evaluation folder: ``embeddings.npz`` plus the test set and distance of ``metrics.json``."""
    folder = Path(folder)
    npz = folder / paths.EMBEDDINGS_NPZ
    if not npz.is_file():
        raise DataError(f"{npz}: embeddings not found (`biggait evaluate` writes them)")
    emb = Embeddings.load(npz)
    info = read_json(folder / paths.METRICS_JSON, "metrics") if (folder / paths.METRICS_JSON).is_file() else {}
    info = info if isinstance(info, dict) else {}
    test = emb.meta.get("test_dataset") or info.get("test_dataset")
    if not test:
        raise DataError(f"{npz}: no test_dataset in its metadata nor in {paths.METRICS_JSON}")
    return Evaluation(evaluation_label(folder), emb, str(test), metric or str(info.get("metric") or "euc"))


def cmc_curves(ev: Evaluation, max_rank: int, gallery_keys: set[str] | None = None) -> list[CmcCurve]:
    """The CMC curves (ranks 1..``max_rank``) of every non-empty condition, gait then ReID."""
    if max_rank < 1:
        raise DataError(f"max_rank: expected >= 1, got {max_rank}")
    emb = ev.embeddings
    result = evaluate(
        ev.test_dataset,
        emb.features,
        emb.labels,
        emb.types,
        emb.views,
        metric=ev.metric,
        gallery_keys=gallery_keys,
        bootstrap=0,
        num_rank=max_rank,
    )
    curves = [
        CmcCurve("gait", cond, np.asarray(d["exclude_identical_view_mean"][:max_rank], dtype=np.float64))
        for cond, d in result.details["gait"].items()
    ]
    # The ReID CMC is a float32 fraction, truncated to the gallery's length.
    curves += [
        CmcCurve("reid", cond, 100.0 * np.asarray(d["cmc"][:max_rank], dtype=np.float64))
        for cond, d in result.details["reid"].items()
    ]
    curves = [c for c in curves if c.accuracy.size and not np.isnan(c.accuracy).all()]
    if not curves:
        raise DataError(f"{ev.label}: no condition of {ev.test_dataset} has both probes and a gallery")
    return curves


def cmc_figure(curves: dict[str, list[CmcCurve]], title: str = ""):
    """One panel per protocol; one line per condition (and line style per evaluation when several)."""
    import pandas as pd
    from matplotlib.ticker import MaxNLocator

    sns = seaborn()
    rows = [
        {"evaluation": label, "protocol": c.protocol, "condition": c.condition, "rank": k, "accuracy (%)": v}
        for label, cs in curves.items()
        for c in cs
        for k, v in enumerate(c.accuracy.tolist(), start=1)
        if not math.isnan(v)
    ]
    if not rows:
        raise DataError("cmc: no curve to draw")
    frame = pd.DataFrame(rows)
    protocols = [p for p in PROTOCOL_TITLES if p in set(frame["protocol"])]
    conditions = list(dict.fromkeys(frame["condition"]))
    evaluations = list(curves)
    palette = dict(zip(conditions, sns.color_palette("tab10" if len(conditions) <= 10 else "husl", len(conditions))))
    with style():
        fig, axes = panel_grid(len(protocols), 2, 4.6, 3.4)
        for i, (ax, proto) in enumerate(zip(axes, protocols)):
            part = frame[frame["protocol"] == proto]
            # Several evaluations: one line style (and marker) each; one: round markers.
            styles = (
                dict(style="evaluation", style_order=evaluations, markers=True)
                if len(evaluations) > 1
                else dict(marker="o")
            )
            sns.lineplot(
                part,
                x="rank",
                y="accuracy (%)",
                hue="condition",
                palette=palette,
                hue_order=[c for c in conditions if c in set(part["condition"])],
                estimator=None,
                errorbar=None,
                linewidth=1,
                markersize=4,
                legend=i == len(protocols) - 1,
                ax=ax,
                **styles,
            )
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set(ylim=(0, 100), title=PROTOCOL_TITLES[proto])
        if axes[-1].get_legend() is not None:
            sns.move_legend(axes[-1], "center left", bbox_to_anchor=(1.0, 0.5), fontsize=7, frameon=False)
        fig.suptitle(title)
        fig.tight_layout()
    return fig
