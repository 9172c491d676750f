"""``biggait compare``: per-condition paired differences between two evaluated models, with verdicts."""

from __future__ import annotations

import csv

import pytest

from biggait import cli, paths
from biggait.reporting.compare import BETTER, NO_DIFFERENCE, WORSE, compare, metrics_files
from tests.test_claims import write_eval  # the claims tests' synthetic evaluations (metrics + identity hits)


@pytest.fixture()
def results(tmp_path):
    r = tmp_path / "results"
    for seed in (0, 1, 2):
        write_eval(r, "strong", seed, 0.2)
        write_eval(r, "weak", seed, -0.2)
        write_eval(r, "strong_twin", seed, 0.2)
    return r


def _rows(path):
    with path.open(newline="") as fh:
        return {r["condition"]: r for r in csv.DictReader(fh)}


def test_a_clearly_better_model_is_better_on_every_condition(results, capsys):
    assert cli.main(["compare", "strong", "weak", "--test", "CCPG", "--results", str(results)]) == 0
    rows = _rows(results / "compare" / "strong_vs_weak_ccpg.csv")
    assert set(rows) == {"CL", "UP", "DN", "BG", "Mean"}
    for r in rows.values():
        assert r["verdict"] == BETTER and r["pairing"] == "paired" and r["seeds_a"] == "0 1 2"
        assert float(r["ci_low"]) <= float(r["difference"]) <= float(r["ci_high"])
        assert float(r["difference"]) == pytest.approx(float(r["value_a"]) - float(r["value_b"]))
    assert "**better**" in capsys.readouterr().out
    _, fa = metrics_files("weak", "ccpg", results)
    _, fb = metrics_files("strong", "ccpg", results)
    assert all(r.verdict == WORSE for r in compare(fa, fb, resamples=500)[3])


def test_two_equal_models_show_no_detectable_difference(results):
    _, fa = metrics_files("strong", "ccpg", results)
    _, fb = metrics_files("strong_twin", "ccpg", results)
    verdicts = {r.condition: r.verdict for r in compare(fa, fb, resamples=500)[3]}
    assert verdicts["Mean"] == NO_DIFFERENCE


def test_evaluation_folders_and_errors(results, capsys):
    a = paths.eval_dir(str(results), "strong", 0, "ccpg")
    b = paths.eval_dir(str(results), "weak", 0, "ccpg")
    out = results / "elsewhere"
    assert cli.main(["compare", a, b, "--out", str(out)]) == 0  # one seed each: identities only
    assert _rows(out / "strong_vs_weak_ccpg.csv")["Mean"]["seeds_a"] == "0"
    assert cli.main(["compare", "missing_exp", "weak", "--results", str(results)]) == 2
    assert "no evaluation (metrics.csv) found" in capsys.readouterr().err
    for missing in (results / "gone" / "folder", "rel/missing/folder"):  # absolute and relative paths
        assert cli.main(["compare", str(missing), b, "--results", str(results)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"{missing}: evaluation folder not found" in err, err
