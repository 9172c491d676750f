"""Figures drawn from result files: ours-vs-paper bars, per-view rank-1 heatmaps, training curves."""

from __future__ import annotations

import csv
import json
import math
from collections import defaultdict
from pathlib import Path

import numpy as np

from biggait.errors import DataError


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


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


def bars_figure(cells: list[dict], title: str = ""):
    """Ours vs the paper per condition, one panel per train -> test direction.

    Re-run methods get a solid bar (ours, with the std over seeds as an error bar) and a hatched
    bar beside it (the paper's value, when known). Cited methods are not drawn.
    """
    plt = _plt()
    ours = [c for c in cells if c["source"] == "ours"]
    if not ours:
        raise DataError("bars: the table has no re-run rows")
    panels: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for c in ours:
        panels[(c["train"], c["test"])].append(c)
    n = len(panels)
    cols = min(n, 3)
    nrows = math.ceil(n / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(5.2 * cols, 3.4 * nrows), squeeze=False)
    cmap = plt.get_cmap("tab10")
    for ax, ((tr, te), pc) in zip(axes.flat, panels.items()):
        conds = list(dict.fromkeys(c["condition"] for c in pc))
        methods = list(dict.fromkeys(c["method"] for c in pc))
        width = 0.8 / (2 * len(methods))
        x = np.arange(len(conds))
        for m_i, m in enumerate(methods):
            by = {c["condition"]: c for c in pc if c["method"] == m}
            ov = [by[k]["ours"] if k in by else np.nan for k in conds]
            err = [by[k]["ours_std"] if k in by and not math.isnan(by[k]["ours_std"]) else 0 for k in conds]
            pv = [by[k]["paper"] if k in by else np.nan for k in conds]
            off = (2 * m_i - len(methods)) * width + width / 2
            ax.bar(x + off, ov, width, yerr=err, color=cmap(m_i), label=f"{m} (ours)")
            if not all(math.isnan(v) for v in pv):
                ax.bar(x + off + width, pv, width, color="white", edgecolor=cmap(m_i), hatch="//",
                       label=f"{m} (paper)")
        ax.set_xticks(x, conds, rotation=30 if len(conds) > 5 else 0)
        ax.set_ylim(0, 100)
        ax.set_ylabel("rank-1 (%)")
        ax.set_title(f"{tr} → {te}" if tr != te else tr, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 4), fontsize=8, frameon=False)
    fig.suptitle(title, fontsize=11)
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
    """Per (probe view, gallery view) rank-1 heatmaps, one panel per condition."""
    plt = _plt()
    if not matrices:
        raise DataError("heatmap: no per-view matrices given")
    n = len(matrices)
    cols = min(n, 4)
    nrows = math.ceil(n / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(3.6 * cols, 3.4 * nrows), squeeze=False)
    im = None
    for ax, (name, probe, gallery, vals) in zip(axes.flat, matrices):
        im = ax.imshow(vals, vmin=0, vmax=100, cmap="viridis")
        ax.set_xticks(range(len(gallery)), gallery, rotation=90, fontsize=6)
        ax.set_yticks(range(len(probe)), probe, fontsize=6)
        ax.set_xlabel("gallery view", fontsize=8)
        ax.set_ylabel("probe view", fontsize=8)
        ax.set_title(name, fontsize=9)
        if vals.size <= 144:
            for (i, j), v in np.ndenumerate(vals):
                if not math.isnan(v):
                    ax.text(j, i, f"{v:.0f}", ha="center", va="center", fontsize=5,
                            color="white" if v < 50 else "black")
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.8, label="rank-1 (%)")
    fig.suptitle(title, fontsize=10)
    return fig


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
    keys = [k for k in dict.fromkeys(k for r in by_iter.values() for k in r)
            if k != "iteration" and all(isinstance(by_iter[i].get(k), (int, float, type(None)))
                                        and not isinstance(by_iter[i].get(k), bool) for i in its)]
    out = {"iteration": np.array(its, dtype=np.float64)}
    for k in keys:
        out[k] = np.array([np.nan if by_iter[i].get(k) is None else by_iter[i][k] for i in its], dtype=np.float64)
    return out


LOSS_TERMS = ("total", "triplet", "ce", "reconstruction", "mask_smoothness", "denoising_smoothness", "diversity")


def curves_figure(logs: dict[str, dict[str, np.ndarray]], title: str = ""):
    """One panel per loss term; one line per run (``logs``: run name -> read_train_log output)."""
    plt = _plt()
    if not logs:
        raise DataError("curves: no training logs given")
    terms = [t for t in LOSS_TERMS if any(t in lg for lg in logs.values())]
    if not terms:
        raise DataError("curves: the training logs hold none of the loss terms " + ", ".join(LOSS_TERMS))
    cols = min(len(terms), 4)
    nrows = math.ceil(len(terms) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(4.2 * cols, 3.0 * nrows), squeeze=False)
    cmap = plt.get_cmap("tab20")
    for ax, term in zip(axes.flat, terms):
        for k, (name, lg) in enumerate(logs.items()):
            if term in lg:
                ax.plot(lg["iteration"], lg[term], color=cmap(k % 20), lw=1, label=name)
        ax.set_title(term, fontsize=9)
        ax.set_xlabel("iteration", fontsize=8)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(terms):]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 4), fontsize=6, frameon=False)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, min(0.3, 0.03 * math.ceil(len(labels) / 4) + 0.03), 1, 0.95))
    return fig
