"""``biggait data check``: counts on a good tree, one named problem line per kind of bad input."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest
from helpers import dump, make_seq, write_partition

from biggait.cli import main
from biggait.data.check import check_tree, format_report


class Evil:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture()
def good(tmp_path) -> tuple[Path, Path]:
    root = tmp_path / "ccpg"
    for k, sid in enumerate(["000", "001", "100"]):
        for typ in ("U0_D0", "U1_D1"):
            for view in ("01_x", "02_y"):
                make_seq(root, sid, typ, view, T=3 + k, seed=k)
    return root, write_partition(tmp_path / "part.json", ["000", "001"], ["100"])


def test_good_tree_counts(good, capsys):
    root, part = good
    report = check_tree(root, "ccpg", part, progress=False)
    assert report.ok and report.warnings == []
    assert report.counts == {
        "train": {"ids": 2, "sequences": 8, "frames": 4 * 3 + 4 * 4},
        "test": {"ids": 1, "sequences": 4, "frames": 4 * 5},
    }
    assert dict(report.types) == {"U0_D0": 6, "U1_D1": 6} and dict(report.views) == {"01_x": 6, "02_y": 6}
    assert main(["data", "check", str(root), "--dataset", "ccpg", "--partition", str(part), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "train       2          8           28" in out and "0 problem(s)" in out
    assert "types (2): U0_D0 (6), U1_D1 (6)" in out and "frame size: 3x16x8" in out


def corrupt(root: Path, marker: Path) -> None:
    """One of each kind of bad input, in separate sequences."""
    f = root / "000" / "U0_D0" / "01_x" / "01_x-aligned-rgbs.pkl"
    data = f.read_bytes()
    f.write_bytes(data[: len(data) // 2])  # truncated
    dump(root / "000" / "U0_D0" / "02_y" / "02_y-ratios.pkl", Evil(str(marker)))  # hostile
    dump(root / "000" / "U1_D1" / "01_x" / "01_x-ratios.pkl", np.full(5, 0.5))  # length 5 vs 3
    dump(root / "000" / "U1_D1" / "02_y" / "02_y-aligned-rgbs.pkl", np.zeros((3, 3, 16, 8), np.float64))  # dtype
    dump(root / "001" / "U0_D0" / "01_x" / "01_x-aligned-rgbs.pkl", np.zeros((4, 3, 16, 16), np.uint8))  # aspect
    dump(root / "001" / "U0_D0" / "01_x" / "01_x-aligned-sils.pkl", np.zeros((4, 16, 16), np.uint8))
    for name, arr in (
        ("aligned-rgbs", np.zeros((0, 3, 16, 8), np.uint8)),
        ("ratios", np.zeros(0)),
        ("aligned-sils", np.zeros((0, 16, 8), np.uint8)),
    ):
        dump(root / "001" / "U0_D0" / "02_y" / f"02_y-{name}.pkl", arr)  # 0 frames
    (root / "001" / "U1_D1" / "01_x" / "01_x-ratios.pkl").unlink()  # missing modality
    (root / "001" / "U3_D3" / "01_x").mkdir(parents=True)  # empty folder
    dump(root / "001" / "U1_D1" / "02_y" / "02_y-aligned-rgbs.pkl", {"not": "an array"})


def test_every_problem_is_listed_and_named(good, capsys, tmp_path):
    root, part = good
    marker = tmp_path / "pwned"
    corrupt(root, marker)
    write_partition(part, ["000", "001", "042"], ["100"])
    code = main(["data", "check", str(root), "--dataset", "ccpg", "--partition", str(part), "--no-progress"])
    out = capsys.readouterr().out
    assert code == 1 and not marker.exists()
    problems = [line for line in out.splitlines() if line.startswith("problem: ")]
    expected = [
        r"000/U0_D0/01_x/01_x-aligned-rgbs.pkl: truncated pickle",
        r"000/U0_D0/02_y/02_y-ratios.pkl: unsafe pickle: refused to load global",
        r"000/U1_D1/01_x: modality arrays have different lengths \(01_x-aligned-rgbs.pkl: 3, 01_x-aligned-sils.pkl: 3, "
        r"01_x-ratios.pkl: 5\)",
        r"000/U1_D1/02_y/02_y-aligned-rgbs.pkl: rgb dtype float64, expected uint8",
        r"001/U0_D0/01_x/01_x-aligned-rgbs.pkl: frames 16x16 \(H x W\), expected W/H = 0.5",
        r"001/U0_D0/02_y: sequence has 0 frames",
        r"001/U1_D1/01_x: no ratios pickle matching '\*-ratios.pkl'",
        r"001/U3_D3/01_x: empty sequence folder",
        r"001/U1_D1/02_y/02_y-aligned-rgbs.pkl: holds a dict, expected a numpy array",
        r"ccpg/042: id '042' is in the partition but not on disk",
    ]
    for pattern in expected:
        assert sum(bool(re.search(pattern, p)) for p in problems) == 1, (pattern, problems)
    assert len(problems) == len(expected) + 1  # + the mixed frame sizes line (16x8 and 16x16)
    assert f"{len(problems)} problem(s)" in out
    assert any("different frame sizes" in p for p in problems)
    warnings = [line for line in out.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1 and warnings[0].endswith("ccpg/001: missing 1 of 4 type/camera folders (U1_D1/01)")


def test_unknown_types_and_unlisted_ids_are_warnings(good):
    root, part = good
    make_seq(root, "200", "weird", "01_x", T=2)
    report = check_tree(root, "ccpg", part, progress=False)
    assert report.ok
    text = "\n".join(format_report(report))
    assert "1 ids on disk are in no partition list (e.g. 200)" in text
    assert "types unknown to the ccpg protocol: weird" in text
    assert "other       1          1            2" in text


def test_cli_errors(tmp_path, capsys):
    assert main(["data"]) == 2 and "check" in capsys.readouterr().out  # no sub-command: help
    assert main(["data", "check", str(tmp_path / "none"), "--dataset", "ccpg"]) == 2
    assert "none: dataset root not found" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["data", "check", str(empty), "--dataset", "ccpg"]) == 2  # nothing to check is an error
    assert "empty: no sequences found" in capsys.readouterr().err
    assert main(["data", "check", str(tmp_path), "--dataset", "gait3d"]) == 2
    assert (
        "error: unknown dataset preset 'gait3d' (known: casiab, ccgr_mini, ccpg, sustech1k)" in capsys.readouterr().err
    )
    assert main(["data", "check", str(tmp_path), "--dataset", "ccpg", "--partition", str(tmp_path / "p.json")]) == 2
    assert "p.json: partition file not found" in capsys.readouterr().err
