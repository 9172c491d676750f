"""biggait tolerances: per-number tolerances from seed noise, and check-metrics using them."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import scipy.stats

from biggait.cli import main
from biggait.errors import DataError
from biggait.evaluation.metrics_files import MetricRow, write_collected
from biggait.reporting import tolerances as noise_tol


def rows(values: dict[int, float], metric: str = "rank1_exclude_identical_view", cond: str = "CL") -> list[MetricRow]:
    return [
        MetricRow("gait", cond, metric, v, experiment="biggait_ccpg", seed=s, train_dataset="ccpg", test_dataset="ccpg")
        for s, v in values.items()
    ]


def t_at(df: int, checked: int, alpha: float = 0.01) -> float:
    """The two-sided Student-t quantile of a per-number level alpha / checked (Bonferroni)."""
    return scipy.stats.t.ppf(1 - alpha / checked / 2, df)


def test_derive_uses_seed_std_with_a_floor() -> None:
    noise = noise_tol.derive(
        rows({0: 40.0, 1: 44.0, 2: 42.0}) + rows({0: 10.0, 1: 10.01, 2: 10.0}, cond="UP") + rows({0: 5.0}, cond="DN"),
        floor=1,
    )
    by_cond = {n.key[4]: n for n in noise}
    assert set(by_cond) == {"CL", "UP", noise_tol.MEAN_CONDITION}  # DN has one seed: no noise estimate, no row
    assert not by_cond["CL"].checked and not by_cond["UP"].checked  # per condition: reported only
    assert noise_tol.t_quantile(0.01, 10**6) == pytest.approx(scipy.stats.norm.ppf(0.995), rel=1e-4)
    t2 = t_at(2, checked=1)  # one experiment of three seeds: 2 degrees of freedom
    assert by_cond["CL"].std == pytest.approx(2.0) and by_cond["CL"].tolerance == pytest.approx(
        t2 * 2.0 * (4 / 3) ** 0.5
    )
    assert by_cond["CL"].detectable == pytest.approx(by_cond["CL"].tolerance + noise_tol.Z80 * 2.0 * (4 / 3) ** 0.5)
    assert by_cond["CL"].spread == pytest.approx(4.0) and by_cond["CL"].seeds == 3
    assert by_cond["UP"].tolerance == 1.0  # the floor
    with pytest.raises(DataError, match="two or more seeds"):
        noise_tol.derive(rows({0: 1.0}))
    with pytest.raises(DataError, match="alpha"):
        noise_tol.derive(rows({0: 1.0, 1: 2.0}), alpha=1.5)


def test_too_noisy_numbers_are_not_checked() -> None:
    """A checked kind of number whose tolerance exceeds MAX_TOLERANCE covers most of its range: not checked."""
    noisy = [
        r
        for s, (cl, up) in {0: (10.0, 20.0), 1: (60.0, 70.0), 2: (30.0, 90.0)}.items()
        for r in rows({s: cl}) + rows({s: up}, cond="UP")
    ]
    mean = [n for n in noise_tol.derive(noisy) if n.key[4] == noise_tol.MEAN_CONDITION][0]
    assert mean.tolerance > noise_tol.MAX_TOLERANCE and not mean.checked


def _seed_rows(exp: str, values: dict[int, tuple[float, float]]) -> list[MetricRow]:
    return [
        MetricRow(
            "gait",
            cond,
            "rank1_exclude_identical_view",
            v,
            experiment=exp,
            seed=s,
            train_dataset="ccpg",
            test_dataset="ccpg",
        )
        for s, pair in values.items()
        for cond, v in zip(("CL", "UP"), pair)
    ]


def test_check_metrics_fails_only_on_checked_numbers(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    seeds = tmp_path / "seeds.csv"
    write_collected(_seed_rows("biggait_ccpg", {0: (40.0, 10.0), 1: (44.0, 12.0), 2: (42.0, 11.0)}), seeds)
    tol = tmp_path / "tol.csv"
    assert main(["tolerances", str(seeds), "--out", str(tol)]) == 0
    table = {r["condition"]: r for r in csv.DictReader(tol.open())}
    assert [table[c]["checked"] for c in ("CL", "UP", noise_tol.MEAN_CONDITION)] == ["0", "0", "1"]
    mean_tol = float(table[noise_tol.MEAN_CONDITION]["tolerance"])  # seeds' means 25, 28, 26.5: std 1.5
    assert mean_tol == pytest.approx(t_at(2, 1) * 1.5 * (4 / 3) ** 0.5, rel=1e-6)
    baseline = tmp_path / "base.csv"
    write_collected(_seed_rows("biggait_ccpg", {0: (40.0, 10.0)}), baseline)

    def check(cl: float, up: float, *extra: str) -> tuple[int, str]:
        run = tmp_path / f"run_{cl}_{up}.csv"
        write_collected(_seed_rows("biggait_ccpg", {0: (cl, up)}), run)
        capsys.readouterr()
        rc = main(["check-metrics", str(run), "--baseline", str(baseline), "--tolerances", str(tol), *extra])
        return rc, capsys.readouterr().out

    rc, out = check(40.0, 10.0)
    assert rc == 0 and "exact: 3/3 numbers equal the baseline's bit for bit" in out  # CL, UP, their mean
    # CL +30 beyond its per-condition tolerance, UP -30: the mean does not move. Reported, not failed.
    rc, out = check(72.0, -20.0)
    assert rc == 0 and out.count("NOTE") == 2 and "1/1 checked numbers within tolerance" in out, out
    rc, out = check(26.5 * 2 + 2 * mean_tol - 11.0 + 0.5, 11.0)  # the mean beyond its tolerance: fails
    assert rc == 1 and "DEVIATES biggait_ccpg/seed0 ccpg->ccpg gait mean_of_conditions" in out, out
    rc, out = check(40.0, 10.000001 + 1e-3, "--exact")  # inside every tolerance but not bit for bit
    assert rc == 1 and "DIFFERS" in out and "exact: 1/3" in out
    missing = tmp_path / "missing.csv"
    write_collected(_seed_rows("biggait_ccpg", {0: (40.0, 10.0)})[:1], missing)
    capsys.readouterr()
    assert main(["check-metrics", str(missing), "--baseline", str(baseline), "--tolerances", str(tol)]) == 1
    assert "MISSING" in capsys.readouterr().out


def test_unlisted_numbers_are_unchecked(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A number the tolerances file does not list is counted as unchecked, never checked at a default."""
    seeds, tol, baseline, run = (tmp_path / f for f in ("s.csv", "t.csv", "b.csv", "r.csv"))
    write_collected(_seed_rows("biggait_ccpg", {0: (40.0, 10.0), 1: (44.0, 12.0), 2: (42.0, 11.0)}), seeds)
    assert main(["tolerances", str(seeds), "--out", str(tol)]) == 0
    other = [
        MetricRow(
            "gait",
            "CL",
            "rank1_exclude_identical_view",
            v,
            experiment="lvm_b",
            seed=0,
            train_dataset="ccpg",
            test_dataset="ccpg",
        )
        for v in (50.0,)
    ]
    write_collected(_seed_rows("biggait_ccpg", {0: (40.0, 10.0)}) + other, baseline)
    moved = [
        MetricRow(
            "gait",
            "CL",
            "rank1_exclude_identical_view",
            0.0,
            experiment="lvm_b",
            seed=0,
            train_dataset="ccpg",
            test_dataset="ccpg",
        )
    ]
    write_collected(_seed_rows("biggait_ccpg", {0: (40.0, 10.0)}) + moved, run)
    capsys.readouterr()
    assert main(["check-metrics", str(run), "--baseline", str(baseline), "--tolerances", str(tol)]) == 0
    assert "3 unchecked" in capsys.readouterr().out  # CL, UP (reported) and lvm_b's CL (not listed)


def test_false_alarm_rate_and_power_by_simulation() -> None:
    """The whole check's false-alarm rate on harmless re-runs is at most FAMILY_ALPHA, measured.

    Each trial draws 3 baseline seeds and 1 re-run seed of 8 experiments x 4 conditions from normal seed
    noise (std 2 per experiment's mean), derives the tolerances from the 3 seeds as ``biggait tolerances``
    does and fails when any checked number of the re-run is beyond its tolerance. 4,000 trials: the
    measured rate must stay within 1% plus three binomial standard errors. Power: a shift of the
    first experiment's mean by its mean ``detectable`` is caught in >= 70% of trials (80% by design:
    the estimated std makes it a little less).
    """
    import numpy as np

    rng = np.random.default_rng(0)
    trials, n_exp, false_alarms, caught, detectable = 4000, 8, 0, 0, []
    for _ in range(trials):
        rows_ = []
        truth = rng.uniform(20, 60, size=(n_exp, 4))
        draws = truth[None] + rng.normal(0, 4.0, size=(4, n_exp, 4))  # condition std 4: the mean's std 2
        for s in range(4):
            for e in range(n_exp):
                rows_ += [
                    MetricRow(
                        "gait",
                        c,
                        "rank1_exclude_identical_view",
                        float(draws[s, e, i]),
                        experiment=f"e{e}",
                        seed=s,
                        train_dataset="ccpg",
                        test_dataset="ccpg",
                    )
                    for i, c in enumerate(("CL", "UP", "DN", "BG"))
                ]
        base = [r for r in rows_ if r.seed < 3]
        tol = {n.key: n for n in noise_tol.derive(base, floor=0.0) if n.checked}
        rerun = {
            noise_tol.noise_key(r): r.value for r in noise_tol.with_condition_means([r for r in rows_ if r.seed == 3])
        }
        false_alarms += any(abs(rerun[k] - t.mean) > t.tolerance for k, t in tol.items())
        first = next(k for k in tol if k[0] == "e0")
        detectable.append(tol[first].detectable)
        caught += abs(rerun[first] + tol[first].detectable - tol[first].mean) > tol[first].tolerance
    rate = false_alarms / trials
    assert rate <= 0.01 + 3 * (0.01 * 0.99 / trials) ** 0.5, f"false-alarm rate {rate:.4f}"
    assert caught / trials >= 0.7, f"power at the detectable shift {caught / trials:.3f}"


def test_bad_tolerances_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("experiment,metric\nx,y\n")
    with pytest.raises(DataError, match="missing columns"):
        noise_tol.read(bad)
    with pytest.raises(DataError, match="not found"):
        noise_tol.read(tmp_path / "none.csv")
    good = (
        ",".join(noise_tol.COLUMNS)
        + "\n"
        + ",".join(["e", "a", "b", "gait", "CL", "rank1", "3", "1", "1", "1", "1", "-2", "1", "3"])
    )
    bad.write_text(good + "\n")
    with pytest.raises(DataError, match="non-negative"):
        noise_tol.read(bad)
    assert main(["tolerances", str(tmp_path / "none.csv"), "--out", str(tmp_path / "t.csv")]) == 2
    assert not (tmp_path / "t.csv").exists()


def test_condition_means_are_derived() -> None:
    """Conditions that trade off from seed to seed give a quiet mean: it gets its own, tight tolerance."""
    seeds = {0: (40.0, 20.0), 1: (30.0, 30.0), 2: (20.0, 40.05)}  # CL and UP trade off; their mean barely moves
    base_rows = _seed_rows("biggait_ccpg", seeds)
    means = [r for r in noise_tol.with_condition_means(base_rows) if r.condition == noise_tol.MEAN_CONDITION]
    assert sorted(round(r.value, 3) for r in means) == [30.0, 30.0, 30.025]
    tol_rows = {n.key[4]: n.tolerance for n in noise_tol.derive(base_rows)}
    assert tol_rows["CL"] == pytest.approx(t_at(2, 1) * 10.0 * (4 / 3) ** 0.5)
    assert tol_rows[noise_tol.MEAN_CONDITION] == 1.0


def test_noise_is_pooled_over_experiments() -> None:
    """A number whose three seeds happen to agree still gets the noise its kind shows elsewhere."""
    quiet = rows({0: 30.0, 1: 30.1, 2: 30.0})
    noisy = [
        MetricRow(
            "gait",
            "CL",
            "rank1_exclude_identical_view",
            v,
            experiment="ccpg_no_mask",
            seed=s,
            train_dataset="ccpg",
            test_dataset="ccpg",
        )
        for s, v in {0: 20.0, 1: 26.0, 2: 23.0}.items()
    ]
    by_exp = {n.key[0]: n for n in noise_tol.derive(quiet + noisy, floor=1) if n.key[4] == "CL"}
    pooled = ((0.0033 + 9.0) / 2) ** 0.5
    assert by_exp["biggait_ccpg"].pooled_std == pytest.approx(pooled, rel=1e-2)
    t4 = t_at(4, 1)  # two experiments of three seeds: 4 degrees of freedom; no checked number (K = 1)
    assert by_exp["biggait_ccpg"].tolerance == pytest.approx(t4 * pooled * (4 / 3) ** 0.5, rel=1e-2)
    assert by_exp["ccpg_no_mask"].tolerance == by_exp["biggait_ccpg"].tolerance  # one pooled std for both


def test_noise_is_pooled_within_an_architecture(tmp_path: Path) -> None:
    """GaitBase's seed noise does not widen BigGait's tolerance (families from the evaluations' metrics.json);
    an architecture with one experiment there pools over every experiment."""

    def exp_rows(exp: str, values: dict[int, float]) -> list[MetricRow]:
        return [
            MetricRow(
                "gait",
                "CL",
                "rank1_exclude_identical_view",
                v,
                experiment=exp,
                seed=s,
                train_dataset="ccpg",
                test_dataset="ccpg",
            )
            for s, v in values.items()
        ]

    quiet = exp_rows("biggait_ccpg", {0: 30.0, 1: 31.0, 2: 32.0}) + exp_rows(
        "ccpg_no_mask", {0: 30.0, 1: 30.0, 2: 32.0}
    )
    noisy = exp_rows("gaitbase_ccpg", {0: 20.0, 1: 26.0, 2: 23.0})
    for exp, arch in (("biggait_ccpg", "biggait"), ("ccpg_no_mask", "biggait"), ("gaitbase_ccpg", "gaitbase")):
        d = tmp_path / "eval" / exp / "seed0" / "ccpg"
        d.mkdir(parents=True)
        (d / "metrics.json").write_text(
            f'{{"experiment": "{exp}", "resolved_experiment": {{"model": {{"arch": "{arch}"}}}}}}'
        )
    families = noise_tol.architectures(tmp_path)
    assert families == {"biggait_ccpg": "biggait", "ccpg_no_mask": "biggait", "gaitbase_ccpg": "gaitbase"}
    split = {n.key[0]: n for n in noise_tol.derive(quiet + noisy, families=families) if n.key[4] == "CL"}
    together = {n.key[0]: n for n in noise_tol.derive(quiet + noisy) if n.key[4] == "CL"}
    assert split["biggait_ccpg"].pooled_std == pytest.approx(((1.0 + 4 / 3) / 2) ** 0.5)
    assert together["biggait_ccpg"].pooled_std == pytest.approx(((1.0 + 4 / 3 + 9.0) / 3) ** 0.5)
    assert split["gaitbase_ccpg"].pooled_std == together["gaitbase_ccpg"].pooled_std  # alone: every experiment
    assert noise_tol.architectures(tmp_path / "missing.csv") == {}
    assert noise_tol.architectures(tmp_path / "gathered.csv", ["gaitbase_ccpg", "biggait_ccpg"]) == {
        "gaitbase_ccpg": "gaitbase",
        "biggait_ccpg": "biggait",
    }  # a gathered CSV: the experiments' config files


def test_upstream_probe_gets_its_floor() -> None:
    """The upstream probe is the same for every seed of an experiment (one shared upstream): seed
    noise reads 0, so its tolerance is the protocol's floor, not the 1-point default."""
    probe = [
        MetricRow(
            "upstream_probe",
            "all",
            "iou",
            30.8,
            experiment="biggait_ccpg",
            seed=s,
            train_dataset="ccpg",
            test_dataset="ccpg",
        )
        for s in (0, 1, 2)
    ]
    noise = {n.key[3]: n for n in noise_tol.derive(probe + rows({0: 40.0, 1: 44.0, 2: 42.0}))}
    assert noise["upstream_probe"].std == 0.0
    assert noise["upstream_probe"].tolerance == noise_tol.PROTOCOL_FLOORS["upstream_probe"] == 5.0
    assert noise_tol.derive(probe, floors={})[0].tolerance == 1.0  # the default floor without it


def test_seed_mean_keeps_the_false_alarm_rate_and_sees_smaller_shifts() -> None:
    """`check-metrics --seed-mean`: a re-run of 3 seeds compared by its mean at the scaled tolerance
    (:func:`for_seed_mean`). Measured by simulation as above (3 baseline seeds, 8 experiments x 4 conditions,
    the mean's seed std 2): the whole check's false-alarm rate stays within 1% plus three binomial standard
    errors, and a shift of the first experiment's mean by its one-seed tolerance (what a one-seed check catches
    about half the time) is caught in >= 90% of trials (measured: 93.8%), against <= 60% by one seed (50.9%)."""
    import numpy as np

    rng = np.random.default_rng(1)
    trials, n_exp, false_alarms, caught_mean, caught_one = 2000, 8, 0, 0, 0
    conds = ("CL", "UP", "DN", "BG")
    for _ in range(trials):
        truth = rng.uniform(20, 60, size=(n_exp, 4))
        draws = truth[None] + rng.normal(0, 4.0, size=(6, n_exp, 4))
        rows_ = [
            MetricRow("gait", c, "rank1_exclude_identical_view", float(draws[s, e, i]), experiment=f"e{e}", seed=s,
                      train_dataset="ccpg", test_dataset="ccpg")
            for s in range(6) for e in range(n_exp) for i, c in enumerate(conds)
        ]  # fmt: skip
        noise = [n for n in noise_tol.derive([r for r in rows_ if r.seed < 3], floor=0.0) if n.checked]
        tol = {
            n.key: noise_tol.Tolerance(n.mean, n.tolerance, True, n.detectable, n.seeds, n.pooled_std) for n in noise
        }
        rerun, counts = noise_tol.seed_means(noise_tol.with_condition_means([r for r in rows_ if r.seed >= 3]))
        assert set(counts.values()) == {3}
        means = {noise_tol.noise_key(r): r.value for r in rerun}
        scaled = noise_tol.for_seed_mean(tol, counts, floor=0.0)
        false_alarms += any(abs(means[k] - t.mean) > scaled[k].tolerance for k, t in tol.items())
        first = next(k for k in tol if k[0] == "e0")
        shift = tol[first].tolerance  # the one-seed tolerance
        caught_mean += abs(means[first] + shift - tol[first].mean) > scaled[first].tolerance
        one = {
            noise_tol.noise_key(r): r.value for r in noise_tol.with_condition_means([r for r in rows_ if r.seed == 3])
        }
        caught_one += abs(one[first] + shift - tol[first].mean) > tol[first].tolerance
    rate = false_alarms / trials
    assert rate <= 0.01 + 3 * (0.01 * 0.99 / trials) ** 0.5, f"false-alarm rate {rate:.4f}"
    assert caught_mean / trials >= 0.9 and caught_one / trials <= 0.6, (caught_mean / trials, caught_one / trials)
    # the scaling: m = n = 3 seeds -> sqrt(2/3) / sqrt(4/3) = 0.707 of the one-seed tolerance; a floor stays
    t = noise_tol.Tolerance(27.0, 13.2, True, 15.0, 3, 1.92)
    key = ("biggait_ccpg", "ccpg", "ccpg", "gait", noise_tol.MEAN_CONDITION, "rank1_exclude_identical_view")
    assert noise_tol.for_seed_mean({key: t}, {key: 3})[key].tolerance == pytest.approx(13.2 * 0.5**0.5)
    probe = ("biggait_ccpg", "ccpg", "ccpg", "upstream_probe", "all", "iou")
    floored = noise_tol.Tolerance(30.8, 5.0, True, 5.0, 3, 0.0)
    assert noise_tol.for_seed_mean({probe: floored}, {probe: 3})[probe].tolerance == 5.0


def test_seed_mean_cli(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A shift between the scaled and the one-seed tolerance, in every one of 3 seeds: each seed alone
    passes, their mean fails; --seed-mean needs the tolerances file."""
    seeds = tmp_path / "seeds.csv"
    write_collected(_seed_rows("biggait_ccpg", {0: (40.0, 10.0), 1: (44.0, 12.0), 2: (42.0, 11.0)}), seeds)
    tol = tmp_path / "tol.csv"
    assert main(["tolerances", str(seeds), "--out", str(tol)]) == 0
    one = float(next(r for r in csv.DictReader(tol.open()) if r["condition"] == noise_tol.MEAN_CONDITION)["tolerance"])
    shift = 0.85 * one  # > 0.707 of it: beyond the 3-seed mean's tolerance, within each seed's
    run = tmp_path / "run.csv"
    base = {0: (40.0, 10.0), 1: (44.0, 12.0), 2: (42.0, 11.0)}
    write_collected(
        _seed_rows("biggait_ccpg", {s: (cl - 2 * shift + (2 * 26.5 - cl - up), up) for s, (cl, up) in base.items()}),
        run,
    )
    capsys.readouterr()
    args = ["check-metrics", str(run), "--baseline", str(seeds), "--tolerances", str(tol)]
    assert main(args) == 0, capsys.readouterr().out
    capsys.readouterr()
    assert main([*args, "--seed-mean"]) == 1
    out = capsys.readouterr().out
    assert (
        "seed means: 3 seed(s) per number" in out
        and "DEVIATES biggait_ccpg/seed0 ccpg->ccpg gait mean_of_conditions" in out
    )
    assert main(["check-metrics", str(run), "--baseline", str(seeds), "--seed-mean"]) == 2
    assert "--seed-mean needs --baseline FILE and --tolerances FILE" in capsys.readouterr().err
