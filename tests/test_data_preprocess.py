"""Offline Pad-and-Resize: golden parity, parallel = serial, resume, atomic failures, CLI."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from biggait.cli import main
from biggait.data.pickles import load_array
from biggait.data.preprocess import align_crop, preprocess_tree
from biggait.errors import DataError
from biggait.parity.data_checks import CHECKS, check_pretreatment_rgb
from biggait.parity.selfcheck import CHECKS as ALL_CHECKS


def write_raw(src: Path, sid: str, typ: str, view: str, sizes: list[tuple[int, int]], seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    folder = src / sid / typ / view
    folder.mkdir(parents=True)
    for t, (h, w) in enumerate(sizes):
        cv2.imwrite(str(folder / f"{t:04d}.png"), rng.integers(0, 256, (h, w, 3), dtype=np.uint8))


def tree_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_align_crop_matches_golden_arrays(golden_dir):
    with np.load(golden_dir / "preproc_pretreatment_rgb.npz") as g:
        for i in range(7):
            rgb, ratio = align_crop(g[f"crop_{i}"])
            assert rgb.dtype == np.uint8 and rgb.shape == (3, 256, 128)
            np.testing.assert_array_equal(rgb, g["aligned_rgbs"][i])
            assert ratio == g["ratios"][i]


def test_golden_check_through_files_is_exact(golden_dir):
    results = check_pretreatment_rgb(golden_dir)
    assert {r.name for r in results} >= {"aligned_rgbs", "ratios"}
    assert all(r.passed and r.max_abs_diff == 0 for r in results), results
    assert ALL_CHECKS["preproc_pretreatment_rgb.npz"] is CHECKS["preproc_pretreatment_rgb.npz"]


def test_align_crop_geometry():
    img = np.zeros((100, 30, 3), np.uint8)
    img[..., 2] = 200  # red in BGR
    rgb, ratio = align_crop(img)
    assert ratio == pytest.approx(0.3)
    cols = np.nonzero(rgb[0].max(0))[0]  # red channel is first in RGB
    assert (cols[0], cols[-1]) == ((128 - 76) // 2, (128 - 76) // 2 + 75)  # centred, width int(30*2.56)
    assert rgb[1].max() == 0 and rgb[2].max() == 0
    with pytest.raises(DataError, match="expected a uint8"):
        align_crop(np.zeros((10, 10), np.uint8))


@pytest.fixture()
def raw(tmp_path) -> Path:
    src = tmp_path / "src"
    write_raw(src, "000", "U0_D0", "01_x", [(300, 90), (150, 200), (60, 25)], seed=1)
    write_raw(src, "000", "U1_D1", "02_y", [(200, 103)] * 2, seed=2)
    write_raw(src, "001", "U0_D0", "01_x", [(120, 60)] * 4, seed=3)
    return src


def test_tree_parallel_equals_serial_and_resumes(raw, tmp_path):
    serial = preprocess_tree(raw, tmp_path / "a", workers=0, progress=False)
    assert (serial.written, serial.skipped, serial.frames, serial.failures) == (3, 0, 9, [])
    parallel = preprocess_tree(raw, tmp_path / "b", workers=2, progress=False)
    assert parallel.written == 3 and tree_files(tmp_path / "a") == tree_files(tmp_path / "b")
    rgbs = load_array(tmp_path / "a" / "000" / "U0_D0" / "01_x" / "01_x-aligned-rgbs.pkl")
    ratios = load_array(tmp_path / "a" / "000" / "U0_D0" / "01_x" / "01_x-ratios.pkl")
    assert rgbs.shape == (3, 3, 256, 128) and rgbs.dtype == np.uint8
    assert ratios.dtype == np.float64 and ratios.tolist() == [90 / 300, 200 / 150, 25 / 60]
    stale = tmp_path / "a" / "000" / "U0_D0" / ".01_x.abc.tmp"  # left by a killed run
    (stale / "01_x").mkdir(parents=True)
    again = preprocess_tree(raw, tmp_path / "a", workers=0, progress=False)
    assert not stale.exists()
    assert (again.written, again.skipped) == (0, 3)  # resume: finished sequences are skipped
    (tmp_path / "a" / "001" / "U0_D0" / "01_x" / "01_x-ratios.pkl").unlink()  # an incomplete sequence
    redo = preprocess_tree(raw, tmp_path / "a", workers=0, progress=False)
    assert (redo.written, redo.skipped) == (1, 2)
    assert tree_files(tmp_path / "a") == tree_files(tmp_path / "b")


def test_bad_frames_fail_cleanly(raw, tmp_path):
    (raw / "000" / "U1_D1" / "02_y" / "0001.png").write_bytes(b"not an image")
    (raw / "001" / "U3_D3" / "01_x").mkdir(parents=True)  # a sequence without frames
    out = tmp_path / "out"
    summary = preprocess_tree(raw, out, workers=0, progress=False)
    assert summary.written == 2 and len(summary.failures) == 2
    assert any("02_y/0001.png: unreadable image" in f for f in summary.failures)
    assert any("U3_D3/01_x: no frames" in f for f in summary.failures)
    assert not (out / "000" / "U1_D1").exists() or not any((out / "000" / "U1_D1").rglob("*.pkl"))
    assert not [p for p in out.rglob("*") if p.name.startswith(".")]  # no temporary left behind


def test_cli(raw, tmp_path, capsys):
    assert main(["data", "preprocess", str(raw), str(tmp_path / "o"), "--workers", "2", "--no-progress"]) == 0
    assert "3 sequences written (9 frames), 0 already done, 0 failed" in capsys.readouterr().out
    assert main(["data", "check", str(tmp_path / "o"), "--dataset", "ccpg", "--no-progress"]) == 0
    assert main(["data", "preprocess", str(tmp_path / "missing"), str(tmp_path / "o2")]) == 2
    err = capsys.readouterr().err
    assert "error: " in err and "missing: source folder not found" in err
    assert not (tmp_path / "o2").exists()
    (raw / "001" / "U0_D0" / "01_x" / "0000.png").write_bytes(b"")
    assert main(["data", "preprocess", str(raw), str(tmp_path / "o3"), "--no-progress"]) == 1
    assert "problem: " in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path / "o3")) == ["000"]
