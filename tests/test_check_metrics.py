"""biggait check-metrics: baseline regression and paper comparison, tolerances, exit codes."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from biggait.cli import main
from biggait.errors import ConfigError
from biggait.evaluation.metrics_files import MetricRow, load_results, read_collected, write_collected
from biggait.reporting.check_metrics import compare_baseline, parse_tolerances

HEADER = ["train_dataset", "test_dataset", "protocol", "condition", "metric", "value", "ci_low", "ci_high"]


def make_eval(root: Path, values: dict[tuple[str, str], float]) -> Path:
    for (exp, cond), v in values.items():
        d = root / "eval" / exp / "seed0" / "ccpg"
        d.mkdir(parents=True, exist_ok=True)
        new = not (d / "metrics.csv").exists()
        with (d / "metrics.csv").open("a", newline="") as fh:
            w = csv.writer(fh)
            if new:
                w.writerow(HEADER)
            w.writerow(["ccpg", "ccpg", "gait", cond, "rank1_exclude_identical_view", v, "", ""])
            w.writerow(["ccpg", "ccpg", "gait", cond, "rank5_exclude_identical_view", v + 5, "", ""])
    return root


def test_tolerances() -> None:
    tol = parse_tolerances(["2", "rank*=0.5", "rank5=3"])
    assert tol.default == 2.0 and tol.for_metric("mAP") == 2.0
    assert tol.for_metric("rank1") == 0.5 and tol.for_metric("rank5") == 3.0  # longest pattern wins
    for bad in (["x=y"], ["-1"], ["=1"]):
        with pytest.raises(ConfigError):
            parse_tolerances(bad)


def test_compare_baseline_finds_moves_and_missing() -> None:
    base = [
        MetricRow("gait", c, "rank1", v, experiment="e", seed=0, train_dataset="a", test_dataset="b")
        for c, v in (("CL", 50.0), ("UP", 60.0), ("DN", 70.0))
    ]
    res = [
        MetricRow("gait", "CL", "rank1", 50.9, experiment="e", seed=0, train_dataset="a", test_dataset="b"),
        MetricRow("gait", "UP", "rank1", 61.5, experiment="e", seed=0, train_dataset="a", test_dataset="b"),
    ]
    devs = compare_baseline(res, base, parse_tolerances(["1.0"])).deviations
    assert [d.what.split()[-2] for d in devs] == ["UP", "DN"]
    assert "DEVIATES" in devs[0].line() and "+1.5" in devs[0].line()
    assert "MISSING" in devs[1].line()


def test_cli_baseline_roundtrip_and_regression(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    res = make_eval(
        tmp_path / "r", {("biggait_ccpg", "CL"): 80.0, ("biggait_ccpg", "UP"): 70.0, ("gaitbase_ccpg", "CL"): 60.0}
    )
    base = tmp_path / "baseline.csv"
    assert main(["check-metrics", str(res), "--save", str(base)]) == 0
    assert len(read_collected(base)) == 6 and read_collected(base) == load_results(res)
    assert main(["check-metrics", str(res), "--baseline", str(base)]) == 0
    # Move one metric by 2 points: a 1-point tolerance fails, a 3-point one passes.
    make_eval(
        tmp_path / "r2", {("biggait_ccpg", "CL"): 82.0, ("biggait_ccpg", "UP"): 70.0, ("gaitbase_ccpg", "CL"): 60.0}
    )
    capsys.readouterr()
    assert main(["check-metrics", str(tmp_path / "r2"), "--baseline", str(base), "--tolerance", "1"]) == 1
    out = capsys.readouterr().out
    assert (
        "DEVIATES biggait_ccpg/seed0 ccpg->ccpg gait CL rank1_exclude_identical_view:" in out and "4/6" in out
    )  # rank1 + rank5
    assert main(["check-metrics", str(tmp_path / "r2"), "--baseline", str(base), "--tolerance", "3"]) == 0
    # Restricting to the experiments that ran (the reduced CI DAG).
    assert (
        main(
            [
                "check-metrics",
                str(tmp_path / "r2"),
                "--baseline",
                str(base),
                "--experiments",
                "gaitbase_ccpg",
                "--tolerance",
                "0",
            ]
        )
        == 0
    )


def test_cli_paper_comparison(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    res = make_eval(tmp_path / "r", {("biggait_ccpg", "CL"): 82.0})
    paper = tmp_path / "paper.csv"
    paper.write_text(
        "table,role,train,test,method,condition,metric,value,confidence,provenance\n"
        "ccpg_within,paper,CCPG,CCPG,BigGait,CL,rank1_gait_exclude_identical_view,82.6,high,s\n"
        "ccpg_within,paper,CCPG,CCPG,GaitBase,CL,rank1_gait_exclude_identical_view,71.6,high,s\n"
    )
    assert main(["check-metrics", str(res), "--paper", str(paper), "--tolerance", "1"]) == 0
    out = capsys.readouterr().out
    assert "NOT RUN  ccpg: GaitBase CCPG->CCPG CL" in out and "1/1 compared" in out
    assert main(["check-metrics", str(res), "--paper", str(paper), "--tolerance", "0.5"]) == 1
    assert "DEVIATES ccpg: BigGait CCPG->CCPG CL" in capsys.readouterr().out


def test_cli_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["check-metrics", str(tmp_path / "none"), "--baseline", str(tmp_path / "b.csv")]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["check-metrics", str(tmp_path)]) == 2  # neither --baseline nor --paper
    bad = tmp_path / "bad.csv"
    bad.write_text("experiment,seed\nx,zero\n")
    assert main(["check-metrics", str(bad), "--baseline", str(bad)]) == 2


def test_write_collected_is_atomic_and_keeps_nan(tmp_path: Path) -> None:
    rows = [MetricRow("gait", "CL", "rank1", float("nan"), experiment="e", seed=1, train_dataset="a", test_dataset="b")]
    write_collected(rows, tmp_path / "x.csv")
    back = read_collected(tmp_path / "x.csv")
    assert back[0].key() == rows[0].key() and back[0].value != back[0].value
    assert [p.name for p in tmp_path.iterdir()] == ["x.csv"]


def test_subset_compares_only_the_evaluations_present() -> None:
    from biggait.reporting.check_metrics import evaluated_subset

    base = [
        MetricRow("gait", "CL", "rank1", 50.0, experiment="e", seed=0, train_dataset="ccpg", test_dataset=test)
        for test in ("ccpg", "casiab")
    ]
    base.append(
        MetricRow("gait", "UP", "rank1", 40.0, experiment="e", seed=0, train_dataset="ccpg", test_dataset="ccpg")
    )
    res = [MetricRow("gait", "CL", "rank1", 50.0, experiment="e", seed=0, train_dataset="ccpg", test_dataset="ccpg")]
    sub = evaluated_subset(base, res)
    assert {(r.test_dataset, r.condition) for r in sub} == {("ccpg", "CL"), ("ccpg", "UP")}
    devs = compare_baseline(res, sub, parse_tolerances(["1.0"])).deviations
    assert len(devs) == 1 and "MISSING" in devs[0].line() and "UP" in devs[0].line()  # still caught
