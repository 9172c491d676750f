"""``biggait figures KIND ...``: the result figures, each written as ``OUT.png`` and ``OUT.pdf``.

Kinds:
  pad-resize  a stored crop, squashed vs Pad-and-Resize (``--root --dataset [--partition]``)
  maps        unsupervised masks and PCA of the appearance / denoising maps of a trained model
  bars        ours vs paper per condition, from a ``biggait tables`` long CSV
  heatmap     per-view rank-1 heatmaps from evaluate's per-view matrix CSVs
  curves      training curves from the ``train_log.jsonl`` of run folders
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from biggait.errors import DataError
from biggait.reporting import fig_maps, fig_results
from biggait.io import atomic_path

log = logging.getLogger(__name__)


def save_figure(fig, out: str | Path, dpi: int = 150) -> list[Path]:
    """Write ``out.png`` and ``out.pdf`` (atomically) and close the figure."""
    import matplotlib.pyplot as plt

    out = Path(out)
    if out.suffix in (".png", ".pdf"):
        out = out.with_suffix("")
    paths = []
    try:
        for ext in (".png", ".pdf"):
            dest = out.with_name(out.name + ext)
            with atomic_path(dest) as tmp:
                fig.savefig(tmp, dpi=dpi, format=ext[1:], bbox_inches="tight")
            paths.append(dest)
    finally:
        plt.close(fig)
    return paths


def _pad_resize(a: argparse.Namespace) -> list[Path]:
    seq, name = fig_maps.load_test_sequence(a.root, a.dataset, a.partition, a.sequence)
    frame = int(fig_maps.pick_frames(len(seq["ratios"]), 3)[1 if len(seq["ratios"]) > 1 else 0])
    fig = fig_maps.pad_resize_figure(seq["rgb"], seq["ratios"], frame, title=f"{a.dataset}: {name}, frame {frame}")
    return save_figure(fig, a.out)


def _maps(a: argparse.Namespace) -> list[Path]:
    seq, name = fig_maps.load_test_sequence(a.root, a.dataset, a.partition, a.sequence)
    frames = fig_maps.pick_frames(len(seq["ratios"]), a.frames)
    maps = fig_maps.model_maps(a.checkpoint, seq["rgb"], seq["ratios"], frames)
    label = f"{Path(a.checkpoint).parent.parent.name}, {a.dataset} {name}"
    paths = save_figure(fig_maps.masks_figure(seq["rgb"], frames, maps["foreground"],
                                              title=f"Unsupervised masks: {label}"), a.out_masks)
    paths += save_figure(fig_maps.pca_figure(seq["rgb"], frames, maps, title=f"PCA of GRE maps: {label}"),
                         a.out_pca)
    return paths


def _bars(a: argparse.Namespace) -> list[Path]:
    cells = fig_results.read_table_cells(a.table)
    return save_figure(fig_results.bars_figure(cells, title=a.title or Path(a.table).stem), a.out)


def _heatmap(a: argparse.Namespace) -> list[Path]:
    mats = []
    for p in a.matrices:
        probe, gallery, vals = fig_results.read_view_matrix(p)
        name = Path(p).stem  # evaluate names them <protocol>_<condition>_<metric>.csv
        mats.append((name.removeprefix("gait_").removesuffix("_rank1"), probe, gallery, vals))
    return save_figure(fig_results.heatmap_figure(mats, title=a.title), a.out)


def _curves(a: argparse.Namespace) -> list[Path]:
    logs = {}
    for run in a.runs:
        run = Path(run)
        path = run / "train_log.jsonl" if run.is_dir() else run
        name = f"{path.parent.parent.name}/{path.parent.name}"
        logs[name] = fig_results.read_train_log(path)
    if not logs:
        raise DataError("curves: no run folders given")
    return save_figure(fig_results.curves_figure(logs, title=a.title), a.out)


_KINDS = {"pad-resize": _pad_resize, "maps": _maps, "bars": _bars, "heatmap": _heatmap, "curves": _curves}


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``biggait figures`` (one sub-command per figure kind)."""
    sub = p.add_subparsers(dest="kind", metavar="KIND", required=True)

    def data_args(q: argparse.ArgumentParser) -> None:
        q.add_argument("--root", required=True, type=Path, help="dataset root")
        q.add_argument("--dataset", required=True, help="dataset preset (ccpg, casiab, sustech1k, ...)")
        q.add_argument("--partition", type=Path, help="partition JSON (the test split is used)")
        q.add_argument("--sequence", type=int, default=0, help="index of the test sequence shown")

    q = sub.add_parser("pad-resize", help="Pad-and-Resize illustration")
    data_args(q)
    q.add_argument("--out", required=True, type=Path, help="output path without extension")
    q = sub.add_parser("maps", help="masks and PCA maps of a trained BigGait")
    data_args(q)
    q.add_argument("--checkpoint", required=True, type=Path, help="run folder's model.pt")
    q.add_argument("--frames", type=int, default=8, help="frames shown")
    q.add_argument("--out-masks", required=True, type=Path)
    q.add_argument("--out-pca", required=True, type=Path)
    q = sub.add_parser("bars", help="ours vs paper bars of a table")
    q.add_argument("--table", required=True, type=Path, help="long CSV written by `biggait tables`")
    q.add_argument("--title", default="")
    q.add_argument("--out", required=True, type=Path)
    q = sub.add_parser("heatmap", help="per-view rank-1 heatmaps")
    q.add_argument("--matrices", required=True, type=Path, nargs="+", help="per-view matrix CSVs")
    q.add_argument("--title", default="")
    q.add_argument("--out", required=True, type=Path)
    q = sub.add_parser("curves", help="training curves")
    q.add_argument("--runs", required=True, type=Path, nargs="+", help="run folders (or train_log.jsonl files)")
    q.add_argument("--title", default="Training curves")
    q.add_argument("--out", required=True, type=Path)


def run(args: argparse.Namespace) -> int:
    """Entry point of ``biggait figures``."""
    for p in _KINDS[args.kind](args):
        print(p)
    return 0
