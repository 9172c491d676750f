"""biggait tolerances: per-number tolerances from seed noise, and check-metrics using them."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from biggait.cli import main
from biggait.errors import DataError
from biggait.evaluation.metrics_files import MetricRow, write_collected
from biggait.reporting import tolerances as noise_tol


def rows(values: dict[int, float], metric: str = "rank1_exclude_identical_view", cond: str = "CL") -> list[MetricRow]:
    return [MetricRow("gait", cond, metric, v, experiment="biggait_ccpg", seed=s, train_dataset="ccpg",
                      test_dataset="ccpg") for s, v in values.items()]


def test_derive_uses_seed_std_with_a_floor() -> None:
    noise = noise_tol.derive(rows({0: 40.0, 1: 44.0, 2: 42.0}) + rows({0: 10.0, 1: 10.1}, cond="UP")
                             + rows({0: 5.0}, cond="DN"), factor=4, floor=1)
    by_cond = {n.key[4]: n for n in noise}
    assert set(by_cond) == {"CL", "UP"}  # one seed: no noise estimate, no row
    assert by_cond["CL"].std == pytest.approx(2.0) and by_cond["CL"].tolerance == pytest.approx(8.0)
    assert by_cond["CL"].spread == pytest.approx(4.0) and by_cond["CL"].seeds == 3
    assert by_cond["UP"].tolerance == 1.0  # the floor
    with pytest.raises(DataError, match="two or more seeds"):
        noise_tol.derive(rows({0: 1.0}))


def test_check_metrics_with_measured_tolerances(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    seeds = tmp_path / "seeds.csv"
    write_collected(rows({0: 40.0, 1: 44.0, 2: 42.0}) + rows({0: 10.0, 1: 10.2, 2: 10.1}, cond="UP"), seeds)
    tol = tmp_path / "tol.csv"
    assert main(["tolerances", str(seeds), "--out", str(tol)]) == 0
    table = list(csv.DictReader(tol.open()))
    assert [r["condition"] for r in table] == ["CL", "UP"] and float(table[0]["tolerance"]) == pytest.approx(8.0)
    baseline = tmp_path / "base.csv"
    write_collected(rows({0: 40.0}) + rows({0: 10.0}, cond="UP"), baseline)

    def check(cl: float, up: float) -> int:
        run = tmp_path / f"run_{cl}_{up}.csv"
        write_collected(rows({0: cl}) + rows({0: up}, cond="UP"), run)
        capsys.readouterr()
        return main(["check-metrics", str(run), "--baseline", str(baseline), "--tolerances", str(tol),
                     "--tolerance", "0.1"])

    assert check(47.0, 10.5) == 0  # within 8 (CL) and 1 (UP, the floor)
    assert check(49.0, 10.0) == 1 and "tolerance 8" in capsys.readouterr().out
    assert check(40.0, 11.5) == 1


def test_bad_tolerances_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("experiment,metric\nx,y\n")
    with pytest.raises(DataError, match="missing columns"):
        noise_tol.read(bad)
    with pytest.raises(DataError, match="not found"):
        noise_tol.read(tmp_path / "none.csv")
    good = ",".join(noise_tol.COLUMNS) + "\n" + ",".join(["e", "a", "b", "gait", "CL", "rank1", "3", "1", "1", "1", "-2"])
    bad.write_text(good + "\n")
    with pytest.raises(DataError, match="non-negative"):
        noise_tol.read(bad)
    assert main(["tolerances", str(tmp_path / "none.csv"), "--out", str(tmp_path / "t.csv")]) == 2
    assert not (tmp_path / "t.csv").exists()
