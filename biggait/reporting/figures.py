"""The result figures (``biggait figures KIND ...``), each written as ``OUT.png`` and ``OUT.pdf``.

Kinds:
  pad-resize  a stored crop, squashed vs Pad-and-Resize (``--root --dataset [--partition]``)
  maps        unsupervised masks and PCA of the appearance / denoising maps of a trained model
  bars        ours vs paper per condition, from a ``biggait tables`` long CSV
  heatmap     per-view rank-1 heatmaps from evaluate's per-view matrix CSVs
  views       rank-1 per probe view (identical view excluded), one line per condition, from the same CSVs
  curves      training curves from the ``train_log.jsonl`` of run folders
  cmc         CMC curves per condition, the evaluations' ``embeddings.npz`` scored by the protocol
  embeddings  2-D PCA of an evaluation's test embeddings, coloured by identity
  groups      BiggerGait: each layer group's score vs the ensemble, from ``biggait evaluate-groups``

The files are byte-stable run to run: no dates in the PDF, nothing random in the drawing.
"""

from __future__ import annotations

from pathlib import Path

from biggait import paths
from biggait.errors import DataError

# fig_maps, fig_cmc and fig_embeddings need torch (a model, the protocols): imported by the kinds that
# use them, so that bars / heatmaps / curves jobs start without it.
from biggait.io import atomic_path
from biggait.reporting import fig_results, fig_views

# No creation date (PDF) and no version string (PNG, PDF): the same figure gives the same bytes.
SAVE_METADATA = {".png": {"Software": None}, ".pdf": {"CreationDate": None, "Producer": None, "Creator": None}}


def save_figure(fig, out: str | Path, dpi: int = 150) -> list[Path]:
    """Write ``out.png`` and ``out.pdf`` (atomically, without dates: byte-stable) and close the figure."""
    import matplotlib.pyplot as plt

    out = Path(out)
    if out.suffix in (".png", ".pdf"):
        out = out.with_suffix("")
    paths = []
    try:
        for ext in (".png", ".pdf"):
            dest = out.with_name(out.name + ext)
            with atomic_path(dest) as tmp:
                fig.savefig(tmp, dpi=dpi, format=ext[1:], bbox_inches="tight", metadata=SAVE_METADATA[ext])
            paths.append(dest)
    finally:
        plt.close(fig)
    return paths


def pad_resize(root: Path, dataset: str, partition: Path | None, sequence: int, out: Path) -> list[Path]:
    """A stored crop of a test sequence, squashed vs Pad-and-Resize."""
    from biggait.reporting import fig_maps

    seq, name = fig_maps.load_test_sequence(root, dataset, partition, sequence)
    frame = int(fig_maps.pick_frames(len(seq["ratios"]), 3)[1 if len(seq["ratios"]) > 1 else 0])
    return save_figure(
        fig_maps.pad_resize_figure(seq["rgb"], seq["ratios"], frame, title=f"{dataset}: {name}, frame {frame}"), out
    )


def maps(
    checkpoint: Path,
    root: Path,
    dataset: str,
    partition: Path | None,
    sequence: int,
    frames: int,
    out_masks: Path,
    out_pca: Path,
) -> list[Path]:
    """Unsupervised masks and the PCA of the GRE maps of a trained model on one test sequence."""
    from biggait.reporting import fig_maps

    seq, name = fig_maps.load_test_sequence(root, dataset, partition, sequence)
    picked = fig_maps.pick_frames(len(seq["ratios"]), frames)
    found = fig_maps.model_maps(checkpoint, seq["rgb"], seq["ratios"], picked)
    label = f"{Path(checkpoint).parent.parent.name}, {dataset} {name}"
    written = save_figure(
        fig_maps.masks_figure(seq["rgb"], picked, found["foreground"], title=f"Unsupervised masks: {label}"), out_masks
    )
    written += save_figure(fig_maps.pca_figure(seq["rgb"], picked, found, title=f"PCA of GRE maps: {label}"), out_pca)
    return written


def bars(table: Path, title: str, out: Path) -> list[Path]:
    """Ours vs paper per condition, from a ``biggait tables`` long CSV."""
    cells = fig_results.read_table_cells(table)
    return save_figure(fig_results.bars_figure(cells, title=title or Path(table).stem), out)


def heatmap(matrices: list[Path], title: str, out: Path) -> list[Path]:
    """Per-view rank-1 heatmaps from evaluate's ``view_matrices/<protocol>_<condition>_<metric>.csv``."""
    mats = []
    for p in matrices:
        probe, gallery, vals = fig_results.read_view_matrix(p)
        mats.append((fig_views.condition_name(p), probe, gallery, vals))
    return save_figure(fig_results.heatmap_figure(mats, title=title), out)


def curves(runs: list[Path], title: str, out: Path) -> list[Path]:
    """Training curves from the ``train_log.jsonl`` of run folders (or the files themselves)."""
    logs = {}
    for run in map(Path, runs):
        path = run / paths.TRAIN_LOG if run.is_dir() else run
        logs[f"{path.parent.parent.name}/{path.parent.name}"] = fig_results.read_train_log(path)
    if not logs:
        raise DataError("curves: no run folders given")
    return save_figure(fig_results.curves_figure(logs, title=title), out)


def views(matrices: list[Path], title: str, out: Path) -> list[Path]:
    """Rank-1 per probe view, one line per condition, from evaluate's per-view rank-1 matrix CSVs."""
    return save_figure(fig_views.views_figure([fig_views.view_rank1(p) for p in matrices], title=title), out)


def cmc(
    evaluations: list[Path], max_rank: int, partition: Path | None, metric: str | None, title: str, out: Path
) -> list[Path]:
    """CMC curves per condition of evaluation folders (their ``embeddings.npz`` scored by the protocol)."""
    from biggait.evaluation.pipeline import read_gallery_keys
    from biggait.reporting import fig_cmc

    if not evaluations:
        raise DataError("cmc: no evaluation folders given")
    curves = {}
    for folder in evaluations:
        ev = fig_cmc.read_evaluation(folder, metric)
        keys = read_gallery_keys(partition, ev.test_dataset)
        curves[ev.label] = fig_cmc.cmc_curves(ev, max_rank, keys)
    return save_figure(fig_cmc.cmc_figure(curves, title=title or f"CMC: {', '.join(curves)}"), out)


def groups(files: list[Path], title: str, out: Path, paper: Path | None = None) -> list[Path]:
    """Separate vs ensemble testing (BiggerGait Figure 5(c)) from ``groups.csv`` files (``paper``: the
    paper's numbers as dashed lines, from ``paper_reported.csv``)."""
    from biggait.reporting import fig_groups
    from biggait.reporting.cells import read_paper_csv

    frame = fig_groups.headline_frame(list(files))
    lines = fig_groups.paper_lines(read_paper_csv(paper), list(dict.fromkeys(frame["test"]))) if paper else None
    return save_figure(fig_groups.groups_figure(frame, title=title, paper=lines), out)


def embeddings(evaluation: Path, max_identities: int, metric: str | None, title: str, out: Path) -> list[Path]:
    """2-D PCA of an evaluation folder's test embeddings, coloured by identity."""
    from biggait.reporting import fig_cmc, fig_embeddings

    ev = fig_cmc.read_evaluation(evaluation, metric)
    proj = fig_embeddings.project(ev.embeddings, ev.metric, max_identities)
    shown = len(set(proj.labels.tolist()))
    return save_figure(
        fig_embeddings.embeddings_figure(proj, title=title or f"Test embeddings (PCA): {ev.label}, {shown} identities"),
        out,
    )
