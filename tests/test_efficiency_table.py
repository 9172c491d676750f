"""The efficiency table: its own spec (specs.EFFICIENCY), builder (reporting/efficiency_table.py) and inputs
(``biggait tables efficiency --efficiency FILE... [--train-benchmarks FILE...] [--eval-benchmark FILE
MODEL...]``); the deprecated folder flags give the same bytes; bad input writes nothing."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from biggait.cli import main
from biggait.errors import ConfigError, DataError
from biggait.reporting.efficiency_table import EfficiencyInputs, build_efficiency_table, inputs_from_folders
from biggait.reporting.specs import EFFICIENCY, TABLE_NAMES, TABLES, EfficiencySpec, TableSpec, get_table
from biggait.reporting.tables import TableInputs, build_tables
from tests.helpers import write_benchmark

REPO = Path(__file__).resolve().parent.parent
PAPER = """table,role,train,test,method,condition,metric,value,confidence,provenance
efficiency,paper,-,-,BigGait,-,params_M,30.8,high,src
"""
OUTPUTS = ("efficiency.csv", "efficiency_wide.csv", "efficiency.md", "efficiency.tex")


def long_rows(path: Path) -> list[dict]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def cells(path: Path) -> dict[tuple[str, str], dict]:
    return {(r["method"], r["metric"]): r for r in long_rows(path)}


def write_effs(folder: Path, values=None) -> tuple[Path, ...]:
    """One ``biggait efficiency --json`` file per row of the table."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for row in EFFICIENCY.rows:
        files.append(folder / f"{row.experiment}.json")
        files[-1].write_text(json.dumps(values(row.experiment) if values else {"total_params": 1_000_000}))
    return tuple(files)


def test_the_efficiency_table_is_its_own_spec() -> None:
    """One registry per kind of table, one lookup over both; the accuracy builders refuse it."""
    assert all(isinstance(s, TableSpec) for s in TABLES.values()) and EFFICIENCY.name not in TABLES
    assert isinstance(get_table("efficiency"), EfficiencySpec) and get_table("efficiency") is EFFICIENCY
    assert TABLE_NAMES == (*TABLES, "efficiency")
    experiments = {p.stem for p in (REPO / "config" / "experiments").glob("*.yaml")}
    assert set(EFFICIENCY.experiments()) <= experiments
    with pytest.raises(ConfigError, match="'efficiency': not an accuracy table"):
        build_tables(["efficiency"], TableInputs(metrics_files=()), REPO / "config" / "paper_reported.csv", "/x")


def test_efficiency_table(tmp_path: Path) -> None:
    (tmp_path / "paper.csv").write_text(PAPER)
    effs = write_effs(
        tmp_path / "eff",
        lambda e: {
            "total_params": 30_800_000 if e == "biggait_ccpg" else 1_000_000,
            "trainable_params": 8_720_000,
            "gmacs_per_frame": 12.7,
            "input_hw": [448, 224],
        },
    )
    build_efficiency_table(EfficiencyInputs(effs), tmp_path / "paper.csv", tmp_path / "t")
    rows = long_rows(tmp_path / "t" / "efficiency.csv")
    p = next(r for r in rows if r["method"] == "BigGait" and r["metric"] == "params_M")
    assert float(p["ours"]) == pytest.approx(30.8) and float(p["diff"]) == pytest.approx(0.0)
    assert {r["metric"] for r in rows} == {"params_M", "trainable_params_M", "gflops_per_frame"}
    # a row without its file reads missing
    build_efficiency_table(EfficiencyInputs(effs[1:]), tmp_path / "paper.csv", tmp_path / "u")
    assert cells(tmp_path / "u" / "efficiency.csv")[("GaitBase", "params_M")]["status"] == "missing"
    with pytest.raises(DataError, match="no efficiency files"):
        build_efficiency_table(EfficiencyInputs(()), tmp_path / "paper.csv", tmp_path / "v")
    assert not (tmp_path / "v").exists()


def test_efficiency_table_with_training_times(tmp_path: Path) -> None:
    """The trainings' Snakemake benchmark files reach the efficiency table: seconds and peak memory,
    mean ± std [t-interval] over seeds; a row without a training reads missing."""
    (tmp_path / "paper.csv").write_text(PAPER)
    effs = write_effs(tmp_path / "eff", lambda e: {"total_params": 1_000_000, "gmacs_per_frame": 1.0})
    bench = tmp_path / "benchmarks" / "train"
    trains = [
        write_benchmark(bench / f"biggait_ccpg_seed{seed}.tsv", f"{wall}\t0:10:00\t{rss}\t1\t1\t1\t0\t0\t99\t{wall}")
        for seed, (wall, rss) in enumerate([(600.0, 1024.0), (660.0, 2048.0), (720.0, 3072.0)])
    ]
    trains.append(write_benchmark(bench / "gaitbase_ccpg_seed0.tsv", "120.0\t0:02:00\tNA\tNA\tNA\tNA\tNA\tNA\tNA\tNA"))
    out = tmp_path / "t"
    build_efficiency_table(EfficiencyInputs(effs, tuple(trains)), tmp_path / "paper.csv", out)
    rows = cells(out / "efficiency.csv")
    t = rows[("BigGait", "train_s")]
    assert float(t["ours"]) == pytest.approx(660.0) and float(t["ours_std"]) == pytest.approx(60.0)
    assert t["n_seeds"] == "3" and t["ci_kind"] == "t95" and float(t["ci_low"]) < 660.0 < float(t["ci_high"])
    assert float(rows[("BigGait", "train_max_rss_gb")]["ours"]) == pytest.approx(2.0)
    assert float(rows[("GaitBase", "train_s")]["ours"]) == pytest.approx(120.0)
    assert rows[("GaitBase", "train_max_rss_gb")]["status"] == "missing"  # "NA": not sampled
    assert rows[("BigGait (ViT-G/14)", "train_s")]["status"] == "missing"  # no training given
    md = (out / "efficiency.md").read_text()
    assert "train (s)" in md and "660.00 ± 60.00 [" in md
    # exactly the files given
    build_efficiency_table(EfficiencyInputs(effs, (trains[2],)), tmp_path / "paper.csv", out)
    rows = cells(out / "efficiency.csv")
    assert float(rows[("BigGait", "train_s")]["ours"]) == pytest.approx(720.0)
    assert rows[("BigGait", "train_s")]["n_seeds"] == "1"
    # a shared training job (one experiment's seeds in one process): its time split over its models, its peak
    # memory each one's
    group = write_benchmark(bench / "shared_biggait_ccpg_1.tsv", "900.0\t0:15:00\t1536\t1\t1\t1\t0\t0\t99\t890")
    jobs = ((group, ("biggait_ccpg_seed0", "biggait_ccpg_seed1", "biggait_ccpg_seed2")),)
    build_efficiency_table(EfficiencyInputs(effs, (trains[3],), train_jobs=jobs), tmp_path / "paper.csv", out)
    rows = cells(out / "efficiency.csv")
    assert (
        float(rows[("BigGait", "train_s")]["ours"]) == pytest.approx(300.0)
        and rows[("BigGait", "train_s")]["n_seeds"] == "3"
    )
    assert float(rows[("BigGait", "train_max_rss_gb")]["ours"]) == pytest.approx(1.5)
    assert float(rows[("GaitBase", "train_s")]["ours"]) == pytest.approx(120.0)
    # an evaluation job's time is split over the models it evaluated
    ev = tmp_path / "benchmarks" / "evaluate"
    shared = write_benchmark(ev / "shared_ccpg_1.tsv", "240.0\t0:04:00\t900\t1\t1\t1\t0\t0\t99\t230")
    write_benchmark(ev / "lvm_g_seed0_ccpg.tsv", "90.0\t0:01:30\t900\t1\t1\t1\t0\t0\t99\t80")
    jobs = ((shared, ("biggait_ccpg_seed0", "biggait_ccpg_seed1", "gaitbase_ccpg_seed0", "ccpg_no_mask_seed0")),)
    build_efficiency_table(EfficiencyInputs(effs, eval_benchmarks=jobs), tmp_path / "paper.csv", out)
    rows = cells(out / "efficiency.csv")
    assert float(rows[("BigGait", "eval_s")]["ours"]) == pytest.approx(60.0)  # 240 s / 4 models, seeds 0 and 1
    assert rows[("BigGait", "eval_s")]["n_seeds"] == "2" and float(rows[("GaitBase", "eval_s")]["ours"]) == 60.0
    assert rows[("BigGait (ViT-G/14)", "eval_s")]["status"] == "missing"
    assert "train_s" not in {m for _, m in rows}  # no training given
    # the deprecated folder: the rows' training files and per-model evaluation files of the seeds asked for
    folders = inputs_from_folders(EfficiencyInputs(effs), benchmarks_dir=tmp_path / "benchmarks", seeds=[0])
    assert folders.train_benchmarks == (trains[3], trains[0])  # row order: GaitBase, BigGait
    assert folders.eval_benchmarks == ((ev / "lvm_g_seed0_ccpg.tsv", ("lvm_g_seed0",)),)
    build_efficiency_table(folders, tmp_path / "paper.csv", out)
    rows = cells(out / "efficiency.csv")
    assert float(rows[("BigGait (ViT-G/14)", "eval_s")]["ours"]) == pytest.approx(90.0)  # per-model file
    assert rows[("BigGait", "eval_s")]["status"] == "missing"  # a shared file names no models
    assert float(rows[("BigGait", "train_s")]["ours"]) == pytest.approx(600.0)  # seed 0 only
    with pytest.raises(DataError, match="no benchmark file of the efficiency table's experiments"):
        inputs_from_folders(EfficiencyInputs(effs), benchmarks_dir=tmp_path / "eff")
    bad = write_benchmark(tmp_path / "other.tsv", "1\t0:00:01\t1\t1\t1\t1\t0\t0\t1\t1")
    with pytest.raises(DataError, match="other.tsv: expected a model named <experiment>_seed<k>, got 'biggait'"):
        build_efficiency_table(
            EfficiencyInputs(effs, eval_benchmarks=((bad, ("biggait",)),)), tmp_path / "paper.csv", out
        )
    with pytest.raises(DataError, match="other.tsv: expected a training benchmark file named"):
        build_efficiency_table(EfficiencyInputs(effs, (bad,)), tmp_path / "paper.csv", out)


@pytest.fixture
def run(tmp_path: Path) -> dict:
    """A results folder as the DAG leaves it for the efficiency table."""
    effs = write_effs(
        tmp_path / "efficiency", lambda e: {"total_params": 2_000_000, "gmacs_per_frame": 3.0, "frames_per_s": 9.0}
    )
    bench = tmp_path / "benchmarks"
    train = write_benchmark(bench / "train" / "lvm_b_seed0.tsv", "300\t0:05:00\t512\t1\t1\t1\t0\t0\t99\t290")
    job = write_benchmark(bench / "evaluate" / "shared_ccpg_5.tsv", "60\t0:01:00\t512\t1\t1\t1\t0\t0\t99\t50")
    per_model = write_benchmark(bench / "evaluate" / "lvm_l_seed0_ccpg.tsv", "40\t0:00:40\t512\t1\t1\t1\t0\t0\t9\t5")
    (tmp_path / "paper.csv").write_text(PAPER)
    common = ["--paper", str(tmp_path / "paper.csv")]
    return {"root": tmp_path, "effs": effs, "train": train, "job": job, "per_model": per_model, "common": common}


def test_cli_run_costs(run: dict, capsys: pytest.CaptureFixture) -> None:
    """`biggait tables efficiency` takes the run's files as the workflow passes them; the old workflow form
    (`--metrics` empty) still works and gives the same bytes."""
    out = run["root"] / "t"
    base = ["tables", "efficiency", "--efficiency", *map(str, run["effs"]), *run["common"]]
    costs = ["--train-benchmarks", str(run["train"]), "--eval-benchmark", str(run["job"]), "lvm_b_seed0", "lvm_l_seed0"]
    assert main([*base, "--out", str(out), *costs]) == 0
    rows = cells(out / "efficiency.csv")
    assert float(rows[("BigGait (ViT-B/14)", "train_s")]["ours"]) == 300.0
    assert float(rows[("BigGait (ViT-B/14)", "eval_s")]["ours"]) == 30.0
    assert float(rows[("BigGait (ViT-L/14)", "eval_s")]["ours"]) == 30.0
    assert float(rows[("BigGait", "frames_per_s")]["ours"]) == 9.0
    old = run["root"] / "old"
    assert main(["tables", "efficiency", "--metrics", *base[2:], "--out", str(old), *costs, "--seeds", "0"]) == 0
    assert all((out / f).read_bytes() == (old / f).read_bytes() for f in OUTPUTS)
    capsys.readouterr()
    assert main([*base, "--out", str(run["root"] / "bad"), "--eval-benchmark", str(run["job"])]) == 2
    assert "name the models that job evaluated" in capsys.readouterr().err
    assert not (run["root"] / "bad").exists() or not any((run["root"] / "bad").iterdir())


def test_cli_deprecated_folders_give_the_same_bytes(run: dict, capsys: pytest.CaptureFixture) -> None:
    """--efficiency-dir / --benchmarks-dir (deprecated, one warning line each) = the files they stand for."""
    root = run["root"]
    files = root / "files"
    per_model = ["--eval-benchmark", str(run["per_model"]), "lvm_l_seed0"]
    argv = ["tables", "efficiency", "--efficiency", *map(str, run["effs"]), "--train-benchmarks", str(run["train"])]
    assert main([*argv, *per_model, *run["common"], "--out", str(files)]) == 0
    capsys.readouterr()
    folders = root / "folders"
    assert (
        main(
            [
                "tables",
                "efficiency",
                "--efficiency-dir",
                str(root / "efficiency"),
                "--benchmarks-dir",
                str(root / "benchmarks"),
                *run["common"],
                "--out",
                str(folders),
            ]
        )
        == 0
    )
    err = capsys.readouterr().err
    assert "warning: --efficiency-dir is deprecated" in err and "warning: --benchmarks-dir is deprecated" in err
    assert all((files / f).read_bytes() == (folders / f).read_bytes() for f in OUTPUTS)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["efficiency"], "the efficiency table needs its efficiency files"),
        (["ccpg", "--efficiency", "E"], "ccpg: give the metrics files (--metrics FILE...) or a results folder"),
        (["efficiency", "--efficiency", "E", "--efficiency-dir", "D"], "--efficiency and --efficiency-dir exclude"),
        (["efficiency", "--efficiency", "E", "--train-benchmarks", "T", "--benchmarks-dir", "D"], "exclude each"),
        (["nope", "--efficiency", "E"], "table 'nope': unknown"),
    ],
)
def test_cli_bad_input_writes_nothing(run: dict, capsys: pytest.CaptureFixture, argv: list[str], message: str) -> None:
    root = run["root"]
    subs = {"E": str(run["effs"][0]), "D": str(root / "benchmarks"), "T": str(run["train"])}
    out = root / "out"
    assert main(["tables", *(subs.get(a, a) for a in argv), *run["common"], "--out", str(out)]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(err) == 1 and message in err[0], err
    assert not out.exists() or not any(out.iterdir())


def test_all_tables_check_every_input_before_writing(run: dict, capsys: pytest.CaptureFixture) -> None:
    """The default (every table) with the metrics but no efficiency files: an error and no partial tables."""
    metrics = run["root"] / "eval" / "gaitbase_ccpg" / "seed0" / "ccpg"
    metrics.mkdir(parents=True)
    (metrics / "metrics.csv").write_text(
        "train_dataset,test_dataset,protocol,condition,metric,value,ci_low,ci_high\n"
        "ccpg,ccpg,gait,CL,rank1_gait_exclude_identical_view,50,49,51\n"
    )
    out = run["root"] / "out"
    assert main(["tables", "--results", str(run["root"]), *run["common"], "--out", str(out), "--allow-missing"]) == 2
    assert "needs its efficiency files" in capsys.readouterr().err
    assert not out.exists() or not any(out.iterdir())


def test_biggergait_rows_meet_the_papers_numbers(tmp_path: Path) -> None:
    """BiggerGait's two released variants are rows, and config/paper_reported.csv's Table 2(d) numbers
    reach them (the method labels match)."""
    from biggait.config import load_experiment

    rows = {r.method: r.experiment for r in EFFICIENCY.rows}
    for method, (groups, heads) in (("BiggerGait", (1, 0)), ("BiggerGait*", (2, 2))):
        model = load_experiment(REPO / "config" / "experiments" / f"{rows[method]}.yaml", scale="paper").model
        assert model.arch == "biggergait" and (model.biggergait.layers_per_group, model.biggergait.heads) == (
            groups,
            heads,
        )
    ours = {"biggergait_ccpg": (142_208_450, 45.68), "biggergait_j6": (42_833_890, 29.80)}
    effs = write_effs(
        tmp_path / "eff",
        lambda e: dict(zip(("total_params", "gmacs_per_frame"), ours.get(e, (1_000_000, 1.0)), strict=True)),
    )
    build_efficiency_table(EfficiencyInputs(effs), REPO / "config" / "paper_reported.csv", tmp_path / "t")
    got = cells(tmp_path / "t" / "efficiency.csv")
    for method, params, gflops in (("BiggerGait", 142.2, 45.7), ("BiggerGait*", 43.6, 29.8)):
        assert got[(method, "params_M")]["status"] == got[(method, "gflops_per_frame")]["status"] == "compared"
        assert float(got[(method, "params_M")]["paper"]) == params
        assert float(got[(method, "gflops_per_frame")]["paper"]) == gflops
    assert float(got[("BiggerGait", "gflops_per_frame")]["diff"]) == pytest.approx(-0.02)
