"""biggait tolerances: per-number tolerances from seed noise, and check-metrics using them."""

from __future__ import annotations

import csv
import statistics
from pathlib import Path

import pytest
import scipy.stats

from biggait.cli import main
from biggait.errors import DataError
from biggait.evaluation.metrics_files import MetricRow, write_collected
from biggait.reporting import tolerances as noise_tol


def rows(values: dict[int, float], metric: str = "rank1_exclude_identical_view", cond: str = "CL") -> list[MetricRow]:
    return [MetricRow("gait", cond, metric, v, experiment="biggait_ccpg", seed=s, train_dataset="ccpg",
                      test_dataset="ccpg") for s, v in values.items()]


def test_derive_uses_seed_std_with_a_floor() -> None:
    noise = noise_tol.derive(rows({0: 40.0, 1: 44.0, 2: 42.0}) + rows({0: 10.0, 1: 10.01, 2: 10.0}, cond="UP")
                             + rows({0: 5.0}, cond="DN"), factor=3, floor=1)
    by_cond = {n.key[4]: n for n in noise}
    assert set(by_cond) == {"CL", "UP", noise_tol.MEAN_CONDITION}  # DN has one seed: no noise estimate, no row
    t2 = scipy.stats.t.ppf(scipy.stats.norm.cdf(3), 2)  # 3 std's normal tail at 2 degrees of freedom
    assert noise_tol.t_factor(3, 2) == pytest.approx(t2) and noise_tol.t_factor(3, 10**6) == pytest.approx(3, rel=1e-4)
    assert by_cond["CL"].std == pytest.approx(2.0) and by_cond["CL"].tolerance == pytest.approx(t2 * 2.0 * (4 / 3) ** 0.5)
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
    assert [r["condition"] for r in table] == ["CL", "UP", noise_tol.MEAN_CONDITION]
    t2 = noise_tol.t_factor(3, 2)  # one experiment of three seeds: 2 degrees of freedom, t = 19.2
    assert float(table[0]["tolerance"]) == pytest.approx(t2 * 2.0 * (4 / 3) ** 0.5, rel=1e-6)  # 44.36
    assert float(table[0]["mean"]) == pytest.approx(42.0)
    baseline = tmp_path / "base.csv"
    write_collected(rows({0: 40.0}) + rows({0: 10.0}, cond="UP"), baseline)

    def check(cl: float, up: float) -> int:
        run = tmp_path / f"run_{cl}_{up}.csv"
        write_collected(rows({0: cl}) + rows({0: up}, cond="UP"), run)
        capsys.readouterr()
        return main(["check-metrics", str(run), "--baseline", str(baseline), "--tolerances", str(tol),
                     "--tolerance", "0.1"])

    assert check(86.0, 10.5) == 0  # within 44.36 of the seeds' mean 42 (CL) and 2.22 of 10.1 (UP)
    assert check(87.0, 10.0) == 1 and "expected 42, got 87 (diff +45, tolerance 44.356" in capsys.readouterr().out
    assert check(40.0, 12.5) == 1
    assert check(-3.0, 10.1) == 1  # 43 from the baseline's seed 0 (40) but 45 from the seeds' mean: the reference


def test_bad_tolerances_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("experiment,metric\nx,y\n")
    with pytest.raises(DataError, match="missing columns"):
        noise_tol.read(bad)
    with pytest.raises(DataError, match="not found"):
        noise_tol.read(tmp_path / "none.csv")
    good = ",".join(noise_tol.COLUMNS) + "\n" + ",".join(["e", "a", "b", "gait", "CL", "rank1", "3", "1", "1", "1", "1", "-2"])
    bad.write_text(good + "\n")
    with pytest.raises(DataError, match="non-negative"):
        noise_tol.read(bad)
    assert main(["tolerances", str(tmp_path / "none.csv"), "--out", str(tmp_path / "t.csv")]) == 2
    assert not (tmp_path / "t.csv").exists()


def test_condition_means_are_derived_and_checked(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Conditions that trade off from seed to seed give a quiet mean: it gets its own, tight tolerance."""
    seeds = {0: (40.0, 20.0), 1: (30.0, 30.0), 2: (20.0, 40.05)}  # CL and UP trade off; their mean barely moves
    base_rows = [r for s, (cl, up) in seeds.items() for r in rows({s: cl}) + rows({s: up}, cond="UP")]
    means = [r for r in noise_tol.with_condition_means(base_rows) if r.condition == noise_tol.MEAN_CONDITION]
    assert sorted(round(r.value, 3) for r in means) == [30.0, 30.0, 30.025]
    tol_rows = {n.key[4]: n.tolerance for n in noise_tol.derive(base_rows)}
    assert tol_rows["CL"] == pytest.approx(noise_tol.t_factor(3, 2) * 10.0 * (4 / 3) ** 0.5)
    assert tol_rows[noise_tol.MEAN_CONDITION] == 1.0
    seeds_csv, tol, baseline = tmp_path / "s.csv", tmp_path / "t.csv", tmp_path / "b.csv"
    write_collected(base_rows, seeds_csv)
    assert main(["tolerances", str(seeds_csv), "--out", str(tol)]) == 0
    write_collected([r for r in base_rows if r.seed == 0], baseline)
    run = tmp_path / "run.csv"
    write_collected(rows({0: 35.0}) + rows({0: 20.0}, cond="UP"), run)  # each condition within, the mean 2.5 lower
    capsys.readouterr()
    assert main(["check-metrics", str(run), "--baseline", str(baseline), "--tolerances", str(tol)]) == 1
    assert "mean_of_conditions" in capsys.readouterr().out


def test_noise_is_pooled_over_experiments() -> None:
    """A number whose three seeds happen to agree still gets the noise its kind shows elsewhere."""
    quiet = rows({0: 30.0, 1: 30.1, 2: 30.0})
    noisy = [MetricRow("gait", "CL", "rank1_exclude_identical_view", v, experiment="ccpg_no_mask", seed=s,
                       train_dataset="ccpg", test_dataset="ccpg") for s, v in {0: 20.0, 1: 26.0, 2: 23.0}.items()]
    by_exp = {n.key[0]: n for n in noise_tol.derive(quiet + noisy, factor=4, floor=1) if n.key[4] == "CL"}
    pooled = ((0.0033 + 9.0) / 2) ** 0.5
    assert by_exp["biggait_ccpg"].pooled_std == pytest.approx(pooled, rel=1e-2)
    t4 = noise_tol.t_factor(4, 4)  # two experiments of three seeds: 4 degrees of freedom
    assert by_exp["biggait_ccpg"].tolerance == pytest.approx(t4 * pooled * (4 / 3) ** 0.5, rel=1e-2)
    assert by_exp["ccpg_no_mask"].tolerance == pytest.approx(t4 * 3.0 * (4 / 3) ** 0.5)  # its own std is the larger


def test_noise_is_pooled_within_an_architecture(tmp_path: Path) -> None:
    """GaitBase's seed noise does not widen BigGait's tolerance (families from the evaluations' metrics.json);
    an architecture with one experiment there pools over every experiment."""
    def exp_rows(exp: str, values: dict[int, float]) -> list[MetricRow]:
        return [MetricRow("gait", "CL", "rank1_exclude_identical_view", v, experiment=exp, seed=s,
                          train_dataset="ccpg", test_dataset="ccpg") for s, v in values.items()]

    quiet = exp_rows("biggait_ccpg", {0: 30.0, 1: 31.0, 2: 32.0}) + exp_rows("ccpg_no_mask", {0: 30.0, 1: 30.0, 2: 32.0})
    noisy = exp_rows("gaitbase_ccpg", {0: 20.0, 1: 26.0, 2: 23.0})
    for exp, arch in (("biggait_ccpg", "biggait"), ("ccpg_no_mask", "biggait"), ("gaitbase_ccpg", "gaitbase")):
        d = tmp_path / "eval" / exp / "seed0" / "ccpg"
        d.mkdir(parents=True)
        (d / "metrics.json").write_text(f'{{"experiment": "{exp}", "resolved_experiment": {{"model": {{"arch": "{arch}"}}}}}}')
    families = noise_tol.architectures(tmp_path)
    assert families == {"biggait_ccpg": "biggait", "ccpg_no_mask": "biggait", "gaitbase_ccpg": "gaitbase"}
    split = {n.key[0]: n for n in noise_tol.derive(quiet + noisy, families=families) if n.key[4] == "CL"}
    together = {n.key[0]: n for n in noise_tol.derive(quiet + noisy) if n.key[4] == "CL"}
    assert split["biggait_ccpg"].pooled_std == pytest.approx(((1.0 + 4 / 3) / 2) ** 0.5)
    assert together["biggait_ccpg"].pooled_std == pytest.approx(((1.0 + 4 / 3 + 9.0) / 3) ** 0.5)
    assert split["gaitbase_ccpg"].pooled_std == together["gaitbase_ccpg"].pooled_std  # alone: every experiment
    assert noise_tol.architectures(tmp_path / "missing.csv") == {}


def test_upstream_probe_gets_its_floor() -> None:
    """The upstream probe is the same for every seed of an experiment (one shared upstream): seed
    noise reads 0, so its tolerance is the protocol's floor, not the 1-point default."""
    probe = [MetricRow("upstream_probe", "all", "iou", 30.8, experiment="biggait_ccpg", seed=s,
                       train_dataset="ccpg", test_dataset="ccpg") for s in (0, 1, 2)]
    noise = {n.key[3]: n for n in noise_tol.derive(probe + rows({0: 40.0, 1: 44.0, 2: 42.0}))}
    assert noise["upstream_probe"].std == 0.0
    assert noise["upstream_probe"].tolerance == noise_tol.PROTOCOL_FLOORS["upstream_probe"] == 5.0
    assert noise_tol.derive(probe, floors={})[0].tolerance == 1.0  # the default floor without it
