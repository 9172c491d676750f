"""Figures drawn from result files, with seaborn: ours-vs-paper bars (``sns.barplot``), per-view rank-1
heatmaps (``sns.heatmap``) and training curves (``sns.lineplot``)."""

from __future__ import annotations

import csv
import json
import math
from collections import defaultdict
from pathlib import Path

import numpy as np

from biggait.errors import DataError
from biggait.evaluation.metrics_files import VIEW_MATRIX_CORNER
from biggait.reporting.fig_style import panel_grid, seaborn, style


def _f(text: str) -> float:
    try:
        return float(text) if text not in ("", None) else math.nan
    except ValueError:
        return math.nan


def read_table_cells(path: str | Path) -> list[dict]:
    """The long CSV of ``biggait tables`` as dicts (numbers as floats)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: table CSV not found (run `biggait tables` first)")
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        need = {"method", "train", "test", "condition", "source", "ours", "ours_std", "paper"}
        if not need <= set(reader.fieldnames or []):
            raise DataError(f"{path}: not a table CSV of `biggait tables` (needs columns {sorted(need)})")
        rows = list(reader)
    for r in rows:
        for k in ("ours", "ours_std", "paper"):
            r[k] = _f(r[k])
    return rows


def _bar_frame(panel: list[dict], methods: list[str]) -> tuple[list[dict], list[str]]:
    """Long rows (condition, series, value) of one panel and its series, ``"<method> (ours)"`` then
    ``"<method> (paper)"`` per method (the paper's only when one of its values is known)."""
    rows, series = [], []
    for m in methods:
        mine = [c for c in panel if c["method"] == m]
        if not mine:
            continue
        series.append(f"{m} (ours)")
        rows += [{"condition": c["condition"], "series": f"{m} (ours)", "value": c["ours"]} for c in mine]
        if any(not math.isnan(c["paper"]) for c in mine):
            series.append(f"{m} (paper)")
            rows += [{"condition": c["condition"], "series": f"{m} (paper)", "value": c["paper"]} for c in mine]
    return rows, series


def bars_figure(cells: list[dict], title: str = ""):
    """Ours vs the paper per condition, one panel per train -> test direction.

    Re-run methods get a solid bar (ours, with the std over seeds as an error bar) and a hatched
    white bar beside it (the paper's value, when known). Cited methods are not drawn.
    """
    import pandas as pd
    from matplotlib.patches import Patch

    sns = seaborn()
    ours = [c for c in cells if c["source"] == "ours"]
    if not ours:
        raise DataError("bars: the table has no re-run rows")
    panels: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for c in ours:
        panels[(c["train"], c["test"])].append(c)
    methods = list(dict.fromkeys(c["method"] for c in ours))
    colour = dict(zip(methods, sns.color_palette("tab10", len(methods))))
    legend: dict[str, Patch] = {}
    with style():
        fig, axes = panel_grid(len(panels), 3, 5.2, 3.4)
        for ax, ((tr, te), pc) in zip(axes, panels.items()):
            conds = list(dict.fromkeys(c["condition"] for c in pc))
            rows, series = _bar_frame(pc, methods)
            palette = {s: colour[s.rsplit(" (", 1)[0]] for s in series}
            sns.barplot(
                pd.DataFrame(rows),
                x="condition",
                y="value",
                hue="series",
                order=conds,
                hue_order=series,
                palette=palette,
                errorbar=None,
                legend=False,
                ax=ax,
            )
            # One BarContainer per series (hue_order); a bar's condition is its rounded centre.
            for s, bars in zip(series, list(ax.containers)):  # before the error bars add their own
                method, paper = s.rsplit(" (", 1)[0], s.endswith("(paper)")
                if paper:
                    for bar in bars:
                        bar.set(facecolor="white", edgecolor=colour[method], hatch="//")
                    legend.setdefault(s, Patch(facecolor="white", edgecolor=colour[method], hatch="//", label=s))
                    continue
                legend.setdefault(s, Patch(facecolor=colour[method], label=s))
                std = {c["condition"]: c["ours_std"] for c in pc if c["method"] == method}
                for bar in bars:
                    err = std.get(conds[int(round(bar.get_x() + bar.get_width() / 2))], math.nan)
                    if not math.isnan(err) and not math.isnan(bar.get_height()):
                        ax.errorbar(
                            bar.get_x() + bar.get_width() / 2,
                            bar.get_height(),
                            yerr=err,
                            fmt="none",
                            ecolor="black",
                            elinewidth=0.8,
                            capsize=2,
                        )
            if len(conds) > 5:
                ax.tick_params(axis="x", labelrotation=30)
            ax.set(ylim=(0, 100), xlabel="", ylabel="rank-1 (%)", title=f"{tr} → {te}" if tr != te else tr)
        handles = list(legend.values())
        fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 4), frameon=False)
        fig.suptitle(title)
        fig.tight_layout(rect=(0, 0.08, 1, 0.95))
    return fig


def read_view_matrix(path: str | Path) -> tuple[list[str], list[str], np.ndarray]:
    """A per-view matrix CSV (first column probe view, header = gallery views) -> (probe views,
    gallery views, values [P, G])."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: per-view matrix not found")
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    if len(rows) < 2 or len(rows[0]) < 2:
        raise DataError(f"{path}: expected a header of gallery views and one row per probe view")
    if rows[0][0] != VIEW_MATRIX_CORNER:
        raise DataError(
            f"{path}: header starts with {rows[0][0]!r}, expected {VIEW_MATRIX_CORNER!r} (a per-view "
            "matrix of biggait evaluate)"
        )
    gallery = rows[0][1:]
    probe = [r[0] for r in rows[1:]]
    try:
        values = np.array([[_f(v) for v in r[1:]] for r in rows[1:]], dtype=np.float64)
    except ValueError:
        raise DataError(f"{path}: rows of unequal length") from None
    if values.shape != (len(probe), len(gallery)):
        raise DataError(f"{path}: rows of unequal length")
    return probe, gallery, values


def heatmap_figure(matrices: list[tuple[str, list[str], list[str], np.ndarray]], title: str = ""):
    """Per (probe view, gallery view) rank-1 heatmaps, one panel per condition (NaN cells blank)."""
    sns = seaborn()
    if not matrices:
        raise DataError("heatmap: no per-view matrices given")
    with style():
        fig, axes = panel_grid(len(matrices), 4, 3.6, 3.4)
        for i, (ax, (name, probe, gallery, vals)) in enumerate(zip(axes, matrices)):
            sns.heatmap(
                vals,
                vmin=0,
                vmax=100,
                cmap="viridis",
                square=True,
                cbar=False,
                ax=ax,
                xticklabels=gallery,
                yticklabels=probe,
                annot=vals.size <= 144,
                fmt=".0f",
                annot_kws={"fontsize": 5},
            )
            ax.tick_params(axis="x", labelrotation=90, labelsize=6)
            ax.tick_params(axis="y", labelrotation=0, labelsize=6)
            ax.set(xlabel="gallery view", ylabel="probe view" if i % 4 == 0 else "", title=name)  # 4 per row
        fig.colorbar(axes[0].collections[0], ax=axes, shrink=0.8, label="rank-1 (%)")
        fig.suptitle(title)
    return fig


LOSS_TERMS = ("total", "triplet", "ce", "reconstruction", "mask_smoothness", "denoising_smoothness", "diversity")


def read_train_log(path: str | Path) -> dict[str, np.ndarray]:
    """``train_log.jsonl`` -> {column: values} ordered by iteration (the last entry wins when a
    resumed run logged an iteration twice)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: training log not found")
    by_iter: dict[int, dict] = {}
    for i, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            raise DataError(f"{path}:{i}: not a JSON line") from None
        if "iteration" in row:
            by_iter[int(row["iteration"])] = row
    its = sorted(by_iter)
    if not any(t in r for r in by_iter.values() for t in LOSS_TERMS):
        raise DataError(
            f"{path}: no line with an 'iteration' and a loss term ({', '.join(LOSS_TERMS)}); expected "
            "the train_log.jsonl of biggait train"
        )
    keys = [
        k
        for k in dict.fromkeys(k for r in by_iter.values() for k in r)
        if k != "iteration"
        and all(
            isinstance(by_iter[i].get(k), (int, float, type(None))) and not isinstance(by_iter[i].get(k), bool)
            for i in its
        )
    ]
    out = {"iteration": np.array(its, dtype=np.float64)}
    for k in keys:
        out[k] = np.array([np.nan if by_iter[i].get(k) is None else by_iter[i][k] for i in its], dtype=np.float64)
    return out


def curves_figure(logs: dict[str, dict[str, np.ndarray]], title: str = ""):
    """One panel per loss term; one line per run (``logs``: run name -> read_train_log output)."""
    import pandas as pd
    from matplotlib.lines import Line2D

    sns = seaborn()
    if not logs:
        raise DataError("curves: no training logs given")
    terms = [t for t in LOSS_TERMS if any(t in lg for lg in logs.values())]
    if not terms:
        raise DataError("curves: the training logs hold none of the loss terms " + ", ".join(LOSS_TERMS))
    runs = list(logs)
    colour = dict(
        zip(runs, sns.color_palette("tab20", len(runs)) if len(runs) > 10 else sns.color_palette("tab10", len(runs)))
    )
    with style():
        fig, axes = panel_grid(len(terms), 4, 4.2, 3.0)
        for ax, term in zip(axes, terms):
            rows = [
                {"run": name, "iteration": it, "value": v}
                for name, lg in logs.items()
                if term in lg
                for it, v in zip(lg["iteration"], lg[term])
            ]
            sns.lineplot(
                pd.DataFrame(rows, columns=["run", "iteration", "value"]),
                x="iteration",
                y="value",
                hue="run",
                hue_order=[r for r in runs if term in logs[r]],
                palette=colour,
                estimator=None,
                errorbar=None,
                linewidth=1,
                legend=False,
                ax=ax,
            )
            ax.set(title=term, xlabel="iteration", ylabel="")
        handles = [Line2D([], [], color=colour[r], lw=1, label=r) for r in runs]
        fig.legend(handles=handles, loc="lower center", ncol=min(len(runs), 4), fontsize=6, frameon=False)
        fig.suptitle(title)
        fig.tight_layout(rect=(0, min(0.3, 0.03 * math.ceil(len(runs) / 4) + 0.03), 1, 0.95))
    return fig
