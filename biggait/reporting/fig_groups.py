"""BiggerGait Figure 5(c), separate vs ensemble testing: each layer group's own score beside the model's.

Input: the ``groups.csv`` files of ``biggait evaluate-groups`` (one per seed and test set of the same
experiment). Per test set one panel: a bar per group (``g1`` .. ``gJ``, shallow to deep layers) and the
ensemble, each the dataset's headline score (:func:`biggait.evaluation.groups.headline`, the mean over the
protocol's conditions) averaged over the files, with the seeds' spread as error bars (seaborn, sd). With a
``paper_reported.csv``, the paper's DINOv2-S separate and ensemble numbers of that test set (its Figure 5(c):
table ``biggergait_fig5c``) are dashed lines, where the paper gives every condition of the dataset's table.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from biggait.datasets import DATASET_LABELS, SCORES, WITHIN_COLUMNS
from biggait.errors import DataError
from biggait.evaluation.groups import ENSEMBLE, read_groups_csv
from biggait.reporting.fig_style import pyplot, seaborn, style


def headline_frame(files: list[Path]) -> pd.DataFrame:
    """One row per (file, test set, group): the headline score (columns ``run``, ``test``, ``group``, ``value``)."""
    if not files:
        raise DataError("groups: no groups.csv files given")
    out = []
    for i, f in enumerate(files):
        frame = read_groups_csv(f)
        for (test, group), g in frame.groupby(["test_dataset", "group"], sort=False):
            if test not in SCORES:
                raise DataError(f"{f}: unknown test dataset {test!r}")
            score = SCORES[test]
            values = g[(g["protocol"] == score.protocol) & (g["metric"] == score.metric)]["value"]
            if len(values):
                out.append({"run": i, "test": test, "group": group, "value": float(values.mean())})
    if not out:
        raise DataError(f"groups: no headline scores in {len(files)} groups.csv file(s)")
    return pd.DataFrame(out)


PAPER_TABLE = "biggergait_fig5c"
PAPER_METHODS = {"separate": "BiggerGait (DINOv2-S) separate", "ensemble": "BiggerGait (DINOv2-S) ensemble"}


def paper_lines(paper: dict, tests: list[str]) -> dict[str, dict[str, float]]:
    """Per test set, the paper's separate / ensemble mean over the dataset's table conditions (keyed as
    :func:`biggait.reporting.cells.read_paper_csv` keys them); a test set missing a condition gets none."""
    out: dict[str, dict[str, float]] = {}
    for test in tests:
        labels = [c.label for c in WITHIN_COLUMNS.get(test, ())]
        for kind, method in PAPER_METHODS.items():
            keys = [(PAPER_TABLE, "CCPG", DATASET_LABELS.get(test, test), method, c, "rank1") for c in labels]
            if labels and all(k in paper for k in keys):
                out.setdefault(test, {})[kind] = sum(paper[k].value for k in keys) / len(keys)
    return out


def _order(groups: list[str]) -> list[str]:
    layers = sorted((g for g in groups if g != ENSEMBLE), key=lambda g: int(g[1:]) if g[1:].isdigit() else 0)
    return layers + ([ENSEMBLE] if ENSEMBLE in groups else [])


def groups_figure(frame: pd.DataFrame, title: str = "", paper: dict[str, dict[str, float]] | None = None):
    """Bars of each group's and the ensemble's score per test set (one panel each); ``paper``: the
    :func:`paper_lines` drawn as dashed lines."""
    plt, sns = pyplot(), seaborn()
    tests = list(dict.fromkeys(frame["test"]))
    with style():
        fig, axes = plt.subplots(1, len(tests), figsize=(max(4.0, 0.45 * frame["group"].nunique()) * len(tests), 3.2))
        axes = [axes] if len(tests) == 1 else list(axes)
        for ax, test in zip(axes, tests):
            sub = frame[frame["test"] == test]
            order = _order(list(dict.fromkeys(sub["group"])))
            palette = {g: ("#c0392b" if g == ENSEMBLE else "#5d8aa8") for g in order}
            sns.barplot(
                data=sub,
                x="group",
                y="value",
                hue="group",
                order=order,
                palette=palette,
                errorbar="sd",
                ax=ax,
                legend=False,
            )
            for kind, value in (paper or {}).get(test, {}).items():
                ax.axhline(value, ls="--", lw=1, color="#c0392b" if kind == ENSEMBLE else "#5d8aa8")
                ax.annotate(
                    f"paper {kind} {value:.1f}",
                    (0, value),
                    textcoords="offset points",
                    xytext=(2, 2 if kind == ENSEMBLE else -8),  # the ensemble's above its line, separate below
                    fontsize=6,
                )
            ax.set_title(DATASET_LABELS.get(test, test))
            ax.set_xlabel("layer group (shallow to deep), ensemble")
            ax.set_ylabel(f"{SCORES[test].metric} (%)")
            ax.tick_params(axis="x", rotation=45)
        fig.suptitle(title or "Separate vs ensemble testing")
        fig.tight_layout()
    return fig
