"""biggait tables: layout, seed statistics and intervals, paper values side by side, cited rows, bad input,
byte-stable output."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

from biggait.cli import main
from biggait.datasets import SCORES, WITHIN_COLUMNS
from biggait.errors import DataError
from biggait.reporting.cells import read_paper_csv
from biggait.reporting.specs import TABLES
from biggait.reporting.tables import DEMO_NOTE, TableInputs, build_tables

HEADER = ["train_dataset", "test_dataset", "protocol", "condition", "metric", "value", "ci_low", "ci_high"]
PAPER = """table,role,train,test,method,condition,metric,value,confidence,provenance
ccpg_within,paper,CCPG,CCPG,GaitSet,CL,rank1_gait_exclude_identical_view,60.2,high,src
ccpg_within,paper,CCPG,CCPG,BigGait,CL,rank1_gait_exclude_identical_view,82.6,high,src
ccpg_within,paper,CCPG,CCPG,BigGait,UP,rank1_gait_exclude_identical_view,85.9,high,src
ccpg_within,anchor,CCPG,CCPG,DenoisingGait,CL,rank1_gait_exclude_identical_view,84.0,high,src
efficiency,paper,-,-,BigGait,-,params_M,30.8,high,src
"""


def write_metrics(root: Path, exp: str, seed: int, test: str, values: dict[str, float]) -> None:
    d = root / "eval" / exp / f"seed{seed}" / test
    d.mkdir(parents=True, exist_ok=True)
    sc = SCORES[test]
    with (d / "metrics.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        for cond, v in values.items():
            w.writerow([exp, test, sc.protocol, cond, sc.metric, v, v - 1, v + 1])
            w.writerow([exp, test, "reid", cond, "rank1", 1.0, "", ""])  # must be ignored


@pytest.fixture()
def results(tmp_path: Path) -> Path:
    conds = [c.condition for c in WITHIN_COLUMNS["ccpg"]]
    for seed, base in ((0, 80.0), (1, 82.0)):
        write_metrics(tmp_path, "biggait_ccpg", seed, "ccpg", {c: base + i for i, c in enumerate(conds)})
        write_metrics(tmp_path, "gaitbase_ccpg", seed, "ccpg", {c: base - 10 for c in conds})
        write_metrics(
            tmp_path, "biggergait_ccpg", seed, "ccpg", {c: base + 5 for c in conds}
        )  # the ccpg table's third row
    (tmp_path / "paper.csv").write_text(PAPER)
    return tmp_path


def long_rows(path: Path) -> list[dict]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def md_rows(md: str) -> list[list[str]]:
    """The cells of each line of the Markdown table (header and alignment line included)."""
    return [[x.strip() for x in line.strip().strip("|").split("|")] for line in md.splitlines() if line.startswith("|")]


# Two-sided 95% t quantiles in closed form (independent of scipy): df 1 is Cauchy, df 2 has
# t = (2p - 1) / sqrt(2 p (1 - p)).
T975_DF1 = math.tan(math.pi * 0.475)
T975_DF2 = 0.95 / math.sqrt(2 * 0.975 * 0.025)


def test_ccpg_table_mean_std_paper_diff_and_cited(results: Path) -> None:
    out = results / "tables"
    paths = build_tables(["ccpg"], TableInputs(results), results / "paper.csv", out, scale="demo")
    assert sorted(p.name for p in paths) == ["ccpg.csv", "ccpg.md", "ccpg.tex", "ccpg_wide.csv"]
    rows = long_rows(out / "ccpg.csv")
    cl = next(r for r in rows if r["method"] == "BigGait" and r["condition"] == "CL")
    assert float(cl["ours"]) == pytest.approx(81.0)  # mean of 80 and 82
    assert float(cl["ours_std"]) == pytest.approx(math.sqrt(2.0), abs=1e-5)  # sample std of the two seeds
    assert cl["n_seeds"] == "2" and cl["status"] == "compared"
    assert float(cl["paper"]) == 82.6 and float(cl["diff"]) == pytest.approx(81.0 - 82.6)
    mean = next(r for r in rows if r["method"] == "BigGait" and r["condition"] == "Mean")
    assert float(mean["ours"]) == pytest.approx(82.5)  # (80+81+82+83 + 82+83+84+85) / 8
    dn = next(r for r in rows if r["method"] == "BigGait" and r["condition"] == "DN")
    assert dn["status"] == "not recovered" and dn["paper"] == ""
    gaitset = [r for r in rows if r["method"] == "GaitSet"]
    assert len(gaitset) == 1 and gaitset[0]["source"] == "cited" and gaitset[0]["ours"] == ""
    assert next(r for r in rows if r["method"] == "DenoisingGait")["source"] == "anchor"
    # Two seeds: the 95% t-interval over seeds, mean -+ t(0.975, 1) * std / sqrt(2).
    half = T975_DF1 * math.sqrt(2.0) / math.sqrt(2.0)
    assert cl["ci_kind"] == "t95"
    assert float(cl["ci_low"]) == pytest.approx(81.0 - half, abs=1e-5)
    assert float(cl["ci_high"]) == pytest.approx(81.0 + half, abs=1e-5)
    md = (out / "ccpg.md").read_text()
    assert DEMO_NOTE in md and "95% t-interval over seeds" in md
    table = md_rows(md)
    assert table[0] == ["method", "source", "CL", "UP", "DN", "BG", "Mean"]
    assert [r[:2] for r in table[2:5]] == [["GaitBase", "ours"], ["GaitBase", "paper"], ["BigGait", "ours"]]
    assert table[5] == ["BigGait", "paper", "82.6", "85.9", "not recovered", "not recovered", "not recovered"]
    assert table[6] == ["BigGait", "diff", "-1.6", "-3.9", "", "", ""]
    assert table[4][2] == f"81.0 ± 1.4 [{81.0 - half:.1f}, {81.0 + half:.1f}]" == "81.0 ± 1.4 [68.3, 93.7]"
    assert table[7][:2] == ["BiggerGait", "ours"]  # no paper value for it in this test's paper file
    assert next(r for r in table if r[0] == "GaitSet")[:3] == ["GaitSet", "paper (cited)", "60.2"]
    assert table[-1][:3] == ["DenoisingGait", "later work (cited)", "84.0"]
    tex = (out / "ccpg.tex").read_text()
    assert r"\toprule" in tex and r"\bottomrule" in tex and r"rank-1 \%" in tex
    assert r"[95\% t-interval over seeds]" in tex  # the caption says what the brackets are
    assert r"BigGait & ours & 81.0 $\pm$ 1.4 [68.3, 93.7] &" in tex
    body = tex[tex.index(r"\midrule") : tex.index(r"\bottomrule")]
    assert body.count(r"\midrule") == 5  # under the header, then between the 5 methods
    with (out / "ccpg_wide.csv").open() as fh:
        wide = list(csv.reader(fh))
    assert wide[0] == ["train", "test", "method", "source", "CL", "UP", "DN", "BG", "Mean"]
    assert wide[3][:5] == ["CCPG", "CCPG", "BigGait", "ours", "81.0 ± 1.4 [68.3, 93.7]"]


def test_three_seed_interval_matches_a_hand_computation(tmp_path: Path) -> None:
    conds = [c.condition for c in WITHIN_COLUMNS["ccpg"]]
    for seed, v in ((0, 27.0), (1, 28.0), (2, 32.0)):
        write_metrics(tmp_path, "biggait_ccpg", seed, "ccpg", {c: v for c in conds})
        write_metrics(tmp_path, "gaitbase_ccpg", seed, "ccpg", {c: 50.0 for c in conds})
        write_metrics(tmp_path, "biggergait_ccpg", seed, "ccpg", {c: 60.0 for c in conds})
    (tmp_path / "paper.csv").write_text(PAPER)
    build_tables(["ccpg"], TableInputs(tmp_path), tmp_path / "paper.csv", tmp_path / "t")
    std = math.sqrt(((27 - 29) ** 2 + (28 - 29) ** 2 + (32 - 29) ** 2) / 2)  # sqrt(7)
    low, high = 29.0 - T975_DF2 * std / math.sqrt(3), 29.0 + T975_DF2 * std / math.sqrt(3)
    rows = [r for r in long_rows(tmp_path / "t" / "ccpg.csv") if r["method"] == "BigGait" and r["source"] == "ours"]
    assert [r["condition"] for r in rows] == ["CL", "UP", "DN", "BG", "Mean"]
    for r in rows:
        assert float(r["ours"]) == pytest.approx(29.0) and float(r["ours_std"]) == pytest.approx(std, abs=1e-5)
        assert (float(r["ci_low"]), float(r["ci_high"])) == pytest.approx((low, high), abs=1e-5)
        assert r["ci_kind"] == "t95" and r["n_seeds"] == "3"
    assert f"29.0 ± 2.6 [{low:.1f}, {high:.1f}]" == "29.0 ± 2.6 [22.4, 35.6]"
    biggait = next(r for r in md_rows((tmp_path / "t" / "ccpg.md").read_text()) if r[:2] == ["BigGait", "ours"])
    assert biggait[2:] == ["29.0 ± 2.6 [22.4, 35.6]"] * 5
    gaitbase = next(r for r in md_rows((tmp_path / "t" / "ccpg.md").read_text()) if r[:2] == ["GaitBase", "ours"])
    assert gaitbase[2] == "50.0 ± 0.0 [50.0, 50.0]"  # no spread over seeds: a zero-width interval


def test_tables_are_byte_stable(results: Path) -> None:
    """Same inputs, same bytes: twice from the folder, once from the files given in reverse order."""
    files = sorted((results / "eval").glob("*/seed*/ccpg/metrics.csv"))
    build_tables(["ccpg"], TableInputs(results), results / "paper.csv", results / "a", scale="demo")
    build_tables(["ccpg"], TableInputs(results), results / "paper.csv", results / "b", scale="demo")
    build_tables(
        ["ccpg"], TableInputs(metrics_files=tuple(reversed(files))), results / "paper.csv", results / "c", scale="demo"
    )
    names = ["ccpg.csv", "ccpg_wide.csv", "ccpg.md", "ccpg.tex"]
    first = [(results / "a" / n).read_bytes() for n in names]
    assert all(first) and [(results / "b" / n).read_bytes() for n in names] == first
    assert [(results / "c" / n).read_bytes() for n in names] == first


def test_only_selected_seeds(results: Path) -> None:
    build_tables(["ccpg"], TableInputs(results), results / "paper.csv", results / "t", seeds=[1])
    cl = next(r for r in long_rows(results / "t" / "ccpg.csv") if r["method"] == "BigGait" and r["condition"] == "CL")
    assert float(cl["ours"]) == 82.0 and cl["ours_std"] == "" and float(cl["ci_low"]) == 81.0
    assert float(cl["ci_high"]) == 83.0 and cl["ci_kind"] == "bootstrap"  # the seed's own, from metrics.csv
    md = (results / "t" / "ccpg.md").read_text()
    assert DEMO_NOTE not in md  # paper scale: no demo note
    biggait = next(r for r in md_rows(md) if r[:2] == ["BigGait", "ours"])
    # One seed: its value and bootstrap interval; the Mean has no interval of its own.
    assert biggait[2:] == ["82.0 [81.0, 83.0]", "83.0 [82.0, 84.0]", "84.0 [83.0, 85.0]", "85.0 [84.0, 86.0]", "83.5"]


def test_missing_evaluation_is_an_error_naming_the_file(results: Path) -> None:
    with pytest.raises(DataError, match=r"casiab.*metrics\.csv"):
        build_tables(["casiab"], TableInputs(results), results / "paper.csv", results / "t")
    assert not (results / "t" / "casiab.md").exists()
    build_tables(["casiab"], TableInputs(results), results / "paper.csv", results / "t", allow_missing=True)
    assert "missing" in (results / "t" / "casiab.md").read_text()


def test_malformed_metrics_csv(results: Path) -> None:
    bad = results / "eval" / "biggait_ccpg" / "seed0" / "ccpg" / "metrics.csv"
    bad.write_text("train_dataset,value\nx,1\n")
    with pytest.raises(DataError, match="missing column"):
        build_tables(["ccpg"], TableInputs(results), results / "paper.csv", results / "t")


def test_paper_csv_checked(tmp_path: Path) -> None:
    (tmp_path / "p.csv").write_text("table,value\nx,1\n")
    with pytest.raises(DataError, match="missing column"):
        read_paper_csv(tmp_path / "p.csv")


def test_cli(results: Path, capsys: pytest.CaptureFixture) -> None:
    assert (
        main(
            [
                "tables",
                "ccpg",
                "--results",
                str(results),
                "--paper",
                str(results / "paper.csv"),
                "--out",
                str(results / "cli"),
                "--scale",
                "demo",
            ]
        )
        == 0
    )
    assert (results / "cli" / "ccpg.tex").is_file()
    assert (
        main(
            [
                "tables",
                "nope",
                "--results",
                str(results),
                "--paper",
                str(results / "paper.csv"),
                "--out",
                str(results / "cli"),
            ]
        )
        == 2
    )
    assert "unknown" in capsys.readouterr().err


def test_every_table_spec_is_consistent() -> None:
    experiments = {p.stem for p in (Path(__file__).resolve().parent.parent / "config" / "experiments").glob("*.yaml")}
    for spec in TABLES.values():
        assert set(spec.experiments()) <= experiments, spec.name
        for row in spec.rows:
            assert spec.columns(row.test), (spec.name, row)


def test_stale_metrics_in_the_eval_folder_never_fill_a_cell(results: Path, capsys: pytest.CaptureFixture) -> None:
    """The workflow passes exactly its declared inputs: a metrics file left by an earlier run (here
    GaitBase's, in the same eval folder) must read 'missing', not fill the GaitBase row."""
    declared = [results / "eval" / "biggait_ccpg" / f"seed{s}" / "ccpg" / "metrics.csv" for s in (0, 1)]
    out = results / "declared"
    rc = main(
        [
            "tables",
            "ccpg",
            "--metrics",
            *map(str, declared),
            "--paper",
            str(results / "paper.csv"),
            "--out",
            str(out),
            "--allow-missing",
        ]
    )
    assert rc == 0, capsys.readouterr().err
    rows = long_rows(out / "ccpg.csv")
    gaitbase = [r for r in rows if r["method"] == "GaitBase" and r["source"] == "ours"]
    assert gaitbase and all(r["status"] == "missing" and r["ours"] == "" for r in gaitbase)
    assert all(
        r["status"] == "compared" or r["status"] == "not recovered"
        for r in rows
        if r["method"] == "BigGait" and r["source"] == "ours"
    )
    # Without --allow-missing the undeclared evaluation is an error naming it, not a silent fill.
    rc = main(
        ["tables", "ccpg", "--metrics", *map(str, declared), "--paper", str(results / "paper.csv"), "--out", str(out)]
    )
    err = capsys.readouterr().err  # GaitBase's and BiggerGait's evaluations are not among the declared files
    assert rc == 2 and "no metrics for 2 evaluation(s), e.g. biggergait_ccpg seed0 on ccpg (not among the 2" in err
    # The search over the results folder (for a person) still finds both.
    assert (
        main(
            [
                "tables",
                "ccpg",
                "--results",
                str(results),
                "--paper",
                str(results / "paper.csv"),
                "--out",
                str(results / "searched"),
            ]
        )
        == 0
    )
    assert all(r["status"] != "missing" for r in long_rows(results / "searched" / "ccpg.csv") if r["source"] == "ours")


def test_metrics_files_must_follow_the_layout(results: Path, tmp_path: Path) -> None:
    stray = tmp_path / "metrics.csv"
    stray.write_text(",".join(HEADER) + "\n")
    with pytest.raises(DataError, match="seed<k>"):
        build_tables(["ccpg"], TableInputs(metrics_files=(stray,)), results / "paper.csv", tmp_path / "t")


def test_lvm_size_demo_note_says_what_the_rows_are() -> None:
    from biggait.reporting.tables import demo_note

    note = demo_note("lvm_size")
    assert note.startswith(DEMO_NOTE) and "stand-ins of increasing capacity" in note and "S: width 48" in note
    assert demo_note("ccpg") == DEMO_NOTE


def test_metrics_csv_is_read_like_the_csv_module(results: Path) -> None:
    """pandas reads every field as text: a trailing extra field is dropped, a bad number names its file
    and line, a number reads back as the exact double that was written, NaN rows compare equal."""
    from biggait.evaluation.metrics_files import read_metrics_csv

    f = results / "eval" / "biggait_ccpg" / "seed0" / "ccpg" / "metrics.csv"
    f.write_text(",".join(HEADER) + "\nccpg,ccpg,gait,CL,rank1_exclude_identical_view,0.1234567,,,\n")
    rows = read_metrics_csv(f, "biggait_ccpg", 0)
    assert len(rows) == 1 and rows[0].value == 0.1234567 and math.isnan(rows[0].ci_low)
    assert rows == read_metrics_csv(f, "biggait_ccpg", 0)
    f.write_text(",".join(HEADER) + "\nccpg,ccpg,gait,CL,m,1,,\nccpg,ccpg,gait,UP,m,x,,\n")
    with pytest.raises(DataError, match=r"metrics\.csv:3: expected a number, got 'x'"):
        read_metrics_csv(f, "biggait_ccpg", 0)
