"""Figures from hand-made results: files written (byte-stable), PCA rendering, training-log reading, CMC
values against the protocol's metrics, per-view rank-1 and the embeddings' PCA."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from biggait.cli import main
from biggait.errors import DataError
from biggait.evaluation.extract import Embeddings
from biggait.evaluation.protocols import evaluate
from biggait.reporting.fig_cmc import cmc_curves, read_evaluation
from biggait.reporting.fig_embeddings import pca_2d, project
from biggait.reporting.fig_maps import pad_resize_figure, pca_rgb, pick_frames
from biggait.reporting.fig_results import read_train_log, read_view_matrix
from biggait.reporting.fig_views import view_rank1
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
    rows = [
        {"iteration": 10, "total": 5.0, "ce": 4.0, "skipped": False},
        {"iteration": 20, "total": 4.0, "ce": None},
        {"iteration": 20, "total": 3.5, "ce": 3.0},
    ]  # a resumed run logged 20 twice
    log.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    lg = read_train_log(log)
    assert lg["iteration"].tolist() == [10, 20] and lg["total"].tolist() == [5.0, 3.5]
    assert "skipped" not in lg
    log.write_text("{not json\n")
    with pytest.raises(DataError, match="train_log.jsonl:1"):
        read_train_log(log)


def test_cli_bars_heatmap_curves(tmp_path: Path) -> None:
    table = tmp_path / "ccpg.csv"
    table.write_text(
        "table,method,experiment,train,test,condition,metric,source,ours,ours_std,n_seeds,ci_low,"
        "ci_high,paper,diff,status,confidence,provenance,note\n"
        "ccpg,BigGait,biggait_ccpg,CCPG,CCPG,CL,rank1,ours,80,1,2,,,82.6,-2.6,compared,high,s,\n"
        "ccpg,BigGait,biggait_ccpg,CCPG,CCPG,UP,rank1,ours,70,,1,,,,,not recovered,,,\n"
        "ccpg,GaitSet,,CCPG,CCPG,CL,rank1,cited,,,0,,,60.2,,cited,high,s,\n"
    )
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
    (run / "train_log.jsonl").write_text(
        "".join(json.dumps({"iteration": i, "total": 1 / i, "triplet": 0.1}) + "\n" for i in range(1, 6))
    )
    assert main(["figures", "curves", "--runs", str(run), "--out", str(tmp_path / "curves")]) == 0
    assert is_png_pdf(tmp_path / "curves")
    assert main(["figures", "curves", "--runs", str(tmp_path / "nowhere"), "--out", str(tmp_path / "c2")]) == 2
    assert not (tmp_path / "c2.png").exists()


# ---- seaborn figures: byte-stable files, CMC, per-view rank-1, embeddings --------------------------------

CCPG_TYPES = ("U0_D0", "U0_D0_BG", "U1_D1", "U2_D2", "U3_D3", "U0_D3", "U1_D0")  # every CCPG condition's types
CCPG_VIEWS = ("01_1", "02_1", "03_2")


def ccpg_embeddings(n_ids: int = 6, noise: float = 0.8, seed: int = 0) -> Embeddings:
    """Hand-made CCPG test set: one sequence per identity, type and view; identity mean + noise."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_ids, 8, 2))  # [ids, C, P]
    keys = [(i, t, v) for i in range(n_ids) for t in CCPG_TYPES for v in CCPG_VIEWS]
    feats = np.stack([centres[i] + noise * rng.normal(size=(8, 2)) for i, _, _ in keys]).astype(np.float32)
    return Embeddings(
        feats,
        np.array([f"{i:03d}" for i, _, _ in keys]),
        np.array([t for _, t, _ in keys]),
        np.array([v for _, _, v in keys]),
        meta={"test_dataset": "ccpg"},
    )


def eval_folder(root: Path, emb: Embeddings, metric: str = "euc") -> Path:
    """An ``<experiment>/seed0/ccpg`` evaluation folder holding embeddings.npz and metrics.json."""
    folder = root / "eval" / "toy" / "seed0" / "ccpg"
    folder.mkdir(parents=True)
    emb.save(folder / "embeddings.npz")
    (folder / "metrics.json").write_text(json.dumps({"test_dataset": "ccpg", "metric": metric}))
    return folder


def test_cmc_rank1_equals_the_metrics(tmp_path: Path) -> None:
    emb = ccpg_embeddings()
    ev = read_evaluation(eval_folder(tmp_path, emb))
    assert ev.label == "toy seed0 on ccpg" and ev.metric == "euc"
    curves = {(c.protocol, c.condition): c.accuracy for c in cmc_curves(ev, max_rank=8)}
    result = evaluate("ccpg", emb.features, emb.labels, emb.types, emb.views)  # as `biggait evaluate` scores
    assert set(curves) == {(p, c) for p in ("gait", "reid") for c in ("CL", "UP", "DN", "BG")}
    for cond in ("CL", "UP", "DN", "BG"):
        gait, reid = curves[("gait", cond)], curves[("reid", cond)]
        assert gait.shape == (8,) and np.all(np.diff(gait) >= 0) and np.all(np.diff(reid) >= 0)
        for k in range(1, 6):  # the protocol reports rank-1..5: the curve is those numbers
            assert gait[k - 1] == result.value("gait", cond, f"rank{k}_exclude_identical_view")
        assert reid[0] == pytest.approx(result.value("reid", cond, "rank1"), abs=1e-4)
        assert reid[4] == pytest.approx(result.value("reid", cond, "rank5"), abs=1e-4)
    assert 0 < curves[("gait", "CL")][0] < 100  # a case with mistakes, not a trivial one
    # Well separated identities: every probe's nearest true match comes first.
    perfect = {
        (c.protocol, c.condition): c.accuracy
        for c in cmc_curves(read_evaluation(eval_folder(tmp_path / "p", ccpg_embeddings(noise=0.0))), 3)
    }
    assert all(np.all(a == 100) for a in perfect.values())


def test_cmc_needs_embeddings(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="embeddings.npz: embeddings not found"):
        read_evaluation(tmp_path)
    folder = eval_folder(tmp_path, ccpg_embeddings())
    assert main(["figures", "cmc", "--evaluations", str(folder), "--max-rank", "0", "--out", str(tmp_path / "c")]) == 2


def test_view_rank1_is_the_protocol_mean(tmp_path: Path) -> None:
    mat = tmp_path / "gait_CL_rank1.csv"
    mat.write_text("probe_view\\gallery_view,000,018,036\n000,100,50,70\n018,20,100,40\n036,,10,100\n")
    vr = view_rank1(mat)
    assert vr.condition == "CL" and vr.views == ["000", "018", "036"]
    assert vr.per_view.tolist() == [60.0, 30.0, 10.0]  # the diagonal left out, NaN cells too
    assert vr.mean == pytest.approx(100 / 3)
    bad = tmp_path / "gait_BG_rank1.csv"
    bad.write_text("probe_view\\gallery_view,000,018\n000,1,2\n036,3,4\n")
    with pytest.raises(DataError, match="gait_BG_rank1.csv: probe views"):
        view_rank1(bad)


def test_pca_2d_follows_the_largest_spread() -> None:
    x = np.zeros((5, 3))
    x[:, 1] = [-2.0, -1.0, 0.0, 1.0, 2.0]  # all the variance on axis 1
    x[:, 2] = [0.1, -0.2, 0.2, -0.2, 0.1]  # orthogonal to it, centred
    coords, explained = pca_2d(x)
    assert np.allclose(coords[:, 0], x[:, 1]) and explained[0] > 0.95 and explained.sum() == pytest.approx(1.0)
    with pytest.raises(DataError, match="at least 2 sequences"):
        pca_2d(np.zeros((1, 4)))
    proj = project(ccpg_embeddings(n_ids=6), max_identities=4)
    assert proj.coords.shape == (4 * len(CCPG_TYPES) * len(CCPG_VIEWS), 2)
    assert sorted(set(proj.labels.tolist())) == ["000", "001", "002", "003"]


def draw_every_kind(root: Path, out: Path) -> list[Path]:
    """Run each seaborn figure kind of the CLI on the hand-made inputs under ``root``; the files written."""
    out.mkdir(parents=True)
    mats = [str(p) for p in sorted((root / "view_matrices").glob("*.csv"))]
    calls = [
        ["bars", "--table", str(root / "ccpg.csv")],
        ["heatmap", "--matrices", *mats],
        ["views", "--matrices", *mats, "--title", "per view"],
        ["curves", "--runs", str(root / "runs" / "x" / "seed0")],
        ["cmc", "--evaluations", str(root / "eval" / "toy" / "seed0" / "ccpg"), "--max-rank", "6"],
        ["embeddings", "--evaluation", str(root / "eval" / "toy" / "seed0" / "ccpg")],
    ]
    for call in calls:
        assert main(["figures", *call, "--out", str(out / call[0])]) == 0, call
    return sorted(out.iterdir())


def test_every_kind_is_drawn_and_byte_stable(tmp_path: Path) -> None:
    root = tmp_path / "in"
    (root / "view_matrices").mkdir(parents=True)
    (root / "ccpg.csv").write_text(
        "table,method,experiment,train,test,condition,metric,source,ours,ours_std,n_seeds,ci_low,ci_high,paper,"
        "diff,status,confidence,provenance,note\n"
        "ccpg,BigGait,biggait_ccpg,CCPG,CCPG,CL,rank1,ours,80,1,2,,,82.6,-2.6,compared,high,s,\n"
        "ccpg,BigGait,biggait_ccpg,CCPG,CCPG,UP,rank1,ours,70,,1,,,,,not recovered,,,\n"
        "ccpg,GaitBase,gaitbase_ccpg,CCPG,CCPG,CL,rank1,ours,60,2,2,,,,,not recovered,,,\n"
    )
    for cond, shift in (("CL", 0), ("BG", 20)):
        (root / "view_matrices" / f"gait_{cond}_rank1.csv").write_text(
            f"probe_view\\gallery_view,000,018\n000,90.0,{40 + shift}\n018,{55 + shift},88.0\n"
        )
    run = root / "runs" / "x" / "seed0"
    run.mkdir(parents=True)
    (run / "train_log.jsonl").write_text(
        "".join(json.dumps({"iteration": i, "total": 1 / i, "ce": 0.5 / i}) + "\n" for i in range(1, 8))
    )
    eval_folder(root, ccpg_embeddings())
    first = draw_every_kind(root, tmp_path / "a")
    second = draw_every_kind(root, tmp_path / "b")
    kinds = ("bars", "heatmap", "views", "curves", "cmc", "embeddings")
    assert [p.name for p in first] == sorted(f"{k}{ext}" for k in kinds for ext in (".pdf", ".png"))
    for kind in kinds:
        assert is_png_pdf(tmp_path / "a" / kind)
    for a, b in zip(first, second):
        assert a.read_bytes() == b.read_bytes(), f"{a.name} differs between two runs"
    assert b"CreationDate" not in (tmp_path / "a" / "cmc.pdf").read_bytes()
