"""Figures from hand-made results: files written, PCA rendering, training-log reading."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from biggait.cli import main
from biggait.errors import DataError
from biggait.reporting.fig_maps import pad_resize_figure, pca_rgb, pick_frames
from biggait.reporting.fig_results import read_train_log, read_view_matrix
from biggait.reporting.figures import save_figure


def is_png_pdf(stem: Path) -> bool:
    png, pdf = stem.with_name(stem.name + ".png"), stem.with_name(stem.name + ".pdf")
    return png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and pdf.read_bytes()[:5] == b"%PDF-"


def test_pca_rgb_masks_and_scales() -> None:
    rng = np.random.default_rng(0)
    feat = rng.normal(size=(16, 2, 8, 4))  # [C, s, h, w]
    mask = np.zeros((2, 8, 4), dtype=bool)
    mask[:, 2:6, 1:3] = True
    img = pca_rgb(feat, mask)
    assert img.shape == (2, 8, 4, 3)
    assert np.all(img[~mask] == 0) and img[mask].min() == 0.0 and img[mask].max() == 1.0
    # The first component follows the direction of largest variance.
    feat2 = np.zeros((4, 1, 4, 4))
    feat2[2] = np.arange(16).reshape(4, 4)
    img2 = pca_rgb(feat2, np.ones((1, 4, 4), dtype=bool))
    r = img2[0, ..., 0].reshape(-1)
    assert np.allclose(np.abs(np.diff(r)), 1 / 15)
    assert np.all(pca_rgb(feat, np.zeros((2, 8, 4), dtype=bool)) == 0)


def test_pick_frames() -> None:
    assert pick_frames(100, 4).tolist() == [0, 33, 66, 99]
    assert pick_frames(2, 8).tolist() == [0, 1]
    with pytest.raises(DataError):
        pick_frames(0, 3)


def test_pad_resize_figure(tmp_path: Path) -> None:
    rgb = np.full((3, 3, 64, 64), 200, dtype=np.uint8)
    fig = pad_resize_figure(rgb, np.array([0.4, 0.4, 0.4]), 1)
    save_figure(fig, tmp_path / "pr")
    assert is_png_pdf(tmp_path / "pr")


def test_train_log_last_entry_wins(tmp_path: Path) -> None:
    log = tmp_path / "train_log.jsonl"
    rows = [{"iteration": 10, "total": 5.0, "ce": 4.0, "skipped": False}, {"iteration": 20, "total": 4.0, "ce": None},
            {"iteration": 20, "total": 3.5, "ce": 3.0}]  # a resumed run logged 20 twice
    log.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    lg = read_train_log(log)
    assert lg["iteration"].tolist() == [10, 20] and lg["total"].tolist() == [5.0, 3.5]
    assert "skipped" not in lg
    log.write_text("{not json\n")
    with pytest.raises(DataError, match="train_log.jsonl:1"):
        read_train_log(log)


def test_cli_bars_heatmap_curves(tmp_path: Path) -> None:
    table = tmp_path / "ccpg.csv"
    table.write_text("table,method,experiment,train,test,condition,metric,source,ours,ours_std,n_seeds,ci_low,"
                     "ci_high,paper,diff,status,confidence,provenance,note\n"
                     "ccpg,BigGait,biggait_ccpg,CCPG,CCPG,CL,rank1,ours,80,1,2,,,82.6,-2.6,compared,high,s,\n"
                     "ccpg,BigGait,biggait_ccpg,CCPG,CCPG,UP,rank1,ours,70,,1,,,,,not recovered,,,\n"
                     "ccpg,GaitSet,,CCPG,CCPG,CL,rank1,cited,,,0,,,60.2,,cited,high,s,\n")
    assert main(["figures", "bars", "--table", str(table), "--out", str(tmp_path / "bars")]) == 0
    assert is_png_pdf(tmp_path / "bars")
    mat = tmp_path / "view_matrices" / "gait_CL_rank1.csv"
    mat.parent.mkdir()
    mat.write_text("probe_view\\gallery_view,000,018\n000,90.0,\n018,70.5,88.0\n")
    probe, gallery, vals = read_view_matrix(mat)
    assert probe == ["000", "018"] and gallery == ["000", "018"] and np.isnan(vals[0, 1])
    assert main(["figures", "heatmap", "--matrices", str(mat), "--out", str(tmp_path / "views")]) == 0
    assert is_png_pdf(tmp_path / "views")
    run = tmp_path / "runs" / "x" / "seed0"
    run.mkdir(parents=True)
    (run / "train_log.jsonl").write_text("".join(json.dumps({"iteration": i, "total": 1 / i, "triplet": 0.1}) + "\n"
                                                 for i in range(1, 6)))
    assert main(["figures", "curves", "--runs", str(run), "--out", str(tmp_path / "curves")]) == 0
    assert is_png_pdf(tmp_path / "curves")
    assert main(["figures", "curves", "--runs", str(tmp_path / "nowhere"), "--out", str(tmp_path / "c2")]) == 2
    assert not (tmp_path / "c2.png").exists()
