"""BiggerGait Figure 5(c), separate vs ensemble testing: each layer group's own score beside the model's.

Input: the ``groups.csv`` files of ``biggait evaluate-groups`` (one per seed and test set of the same
experiment). Per test set one panel: a bar per group (``g1`` .. ``gJ``, shallow to deep layers) and the
ensemble, each the dataset's headline score (:func:`biggait.evaluation.groups.headline`, the mean over the
protocol's conditions) averaged over the files, with the seeds' spread as error bars (seaborn, sd).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from biggait.datasets import DATASET_LABELS, SCORES
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


def _order(groups: list[str]) -> list[str]:
    layers = sorted((g for g in groups if g != ENSEMBLE), key=lambda g: int(g[1:]) if g[1:].isdigit() else 0)
    return layers + ([ENSEMBLE] if ENSEMBLE in groups else [])


def groups_figure(frame: pd.DataFrame, title: str = ""):
    """Bars of each group's and the ensemble's score per test set (one panel each)."""
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
            ax.set_title(DATASET_LABELS.get(test, test))
            ax.set_xlabel("layer group (shallow to deep), ensemble")
            ax.set_ylabel(f"{SCORES[test].metric} (%)")
            ax.tick_params(axis="x", rotation=45)
        fig.suptitle(title or "Separate vs ensemble testing")
        fig.tight_layout()
    return fig
