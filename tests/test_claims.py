"""``biggait claims``: synthetic evaluations with known effects -> holds / refuted / inconclusive / not run;
the paired bootstrap, byte-stable outputs, strict claims files, and the identity hits of ``evaluate``."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from biggait import paths
from biggait.cli import main
from biggait.errors import ConfigError
from biggait.evaluation.identity_hits import IdentityHits
from biggait.evaluation.metrics_files import MetricRow, metrics_csv_text, read_metrics_csv, write_metrics
from biggait.evaluation.protocols import evaluate
from biggait.reporting.claims import EvaluationIndex, bootstrap_effect, evaluate_claim
from biggait.reporting.claims_config import load_claims
from biggait.reporting.claims_report import write_claims

REPO = Path(__file__).resolve().parent.parent
CONDS = ("CL", "UP", "DN", "BG")
N_IDS, PROBES = 40, 10  # identities; probes per identity and (probe view, gallery view) cell
DIFFICULTY = np.random.default_rng(0).uniform(0.15, 0.75, size=N_IDS)  # per identity, shared by all models

CLAIMS_YAML = """
claims:
  - id: cl_better
    statement: A beats B on CL.
    a: {table: ccpg, experiment: biggait_ccpg, column: CL}
    b: {table: ccpg, experiment: gaitbase_ccpg, column: CL}
    direction: ">"
  - id: mean_better
    statement: A beats B on the mean.
    a: {table: ccpg, experiment: biggait_ccpg, column: Mean}
    b: {table: ccpg, experiment: gaitbase_ccpg, column: Mean}
    direction: ">"
  - id: mask_helps
    statement: the mask branch helps.
    a: {table: ablation_branches, experiment: biggait_ccpg, column: Mean}
    b: {table: ablation_branches, experiment: ccpg_no_mask, column: Mean}
    direction: ">"
  - id: b_ahead_by_50
    statement: B ahead by 50 points.
    a: {table: ccpg, experiment: biggait_ccpg, column: CL}
    b: {table: ccpg, experiment: gaitbase_ccpg, column: CL}
    direction: "<"
    min_effect: 50
"""


def hit_counts(shift: float, seed: int) -> np.ndarray:
    """``[N_IDS, 2, 2]`` rank-1 hits: each identity's difficulty + ``shift``, binomial noise."""
    p = np.clip(DIFFICULTY + shift, 0.0, 1.0)
    return np.random.default_rng(seed).binomial(PROBES, np.broadcast_to(p[:, None, None], (N_IDS, 2, 2)))


def write_eval(results: Path, exp: str, seed: int, shift: float, *, hits: bool = True) -> None:
    """metrics.csv and identity_hits.npz of a CCPG evaluation whose numbers follow from the counts."""
    ih = IdentityHits([f"{i:03d}" for i in range(N_IDS)], ["01", "02"])
    for k, cond in enumerate(CONDS):
        ih.cells[("gait", cond)] = (
            hit_counts(shift, 1000 * seed + 10 * k + sum(map(ord, exp)) % 97),
            np.full((N_IDS, 2, 2), PROBES),
        )
    rows = [MetricRow("gait", c, "rank1_exclude_identical_view", ih.value("gait", c)) for c in CONDS]
    out = Path(paths.eval_dir(str(results), exp, seed, "ccpg"))
    out.mkdir(parents=True, exist_ok=True)
    if hits:
        ih.save(out / paths.IDENTITY_HITS)
    (out / paths.METRICS_CSV).write_text(metrics_csv_text(rows, "ccpg", "ccpg"))


@pytest.fixture
def claims_file(tmp_path: Path) -> Path:
    f = tmp_path / "claims.yaml"
    f.write_text(CLAIMS_YAML)
    return f


def outcomes(results: Path, claims_file: Path, **kw) -> dict:
    index = EvaluationIndex(results, kw.pop("metrics_files", None), kw.pop("seeds", None))
    return {c.id: evaluate_claim(c, index, resamples=1000, **kw) for c in load_claims(claims_file)}


def read_csv(path: Path) -> dict[str, dict[str, str]]:
    with path.open(newline="") as fh:
        return {r["claim"]: r for r in csv.DictReader(fh)}


def test_clear_gain_holds_and_missing_side_is_not_run(tmp_path: Path, claims_file: Path) -> None:
    for seed in (0, 1):
        write_eval(tmp_path, "biggait_ccpg", seed, +0.15)
        write_eval(tmp_path, "gaitbase_ccpg", seed, 0.0)
    out = outcomes(tmp_path, claims_file)
    cl = out["cl_better"]
    assert cl.verdict == "holds" and cl.pairing == "paired" and cl.seeds_a == (0, 1)
    # the effect is the tables' number: mean over seeds of metrics.csv
    a = np.mean(
        [read_metrics_csv(paths.metrics_file(str(tmp_path), "biggait_ccpg", s, "ccpg"), "", s)[0].value for s in (0, 1)]
    )
    b = np.mean(
        [
            read_metrics_csv(paths.metrics_file(str(tmp_path), "gaitbase_ccpg", s, "ccpg"), "", s)[0].value
            for s in (0, 1)
        ]
    )
    assert cl.effect == pytest.approx(a - b) and 10 < cl.effect < 20
    assert 0 < cl.ci_low < cl.effect < cl.ci_high
    assert out["mean_better"].verdict == "holds"
    mask = out["mask_helps"]
    assert mask.verdict == "not run" and "no evaluation of ccpg_no_mask on ccpg" in mask.reason
    assert math.isnan(mask.effect)
    # A < B by 50 points is not what the data say: the interval lies on the other side of 0
    assert out["b_ahead_by_50"].verdict == "refuted"


def test_loss_is_refuted_and_no_difference_is_inconclusive(tmp_path: Path, claims_file: Path) -> None:
    write_eval(tmp_path / "loss", "biggait_ccpg", 0, -0.15)
    write_eval(tmp_path / "loss", "gaitbase_ccpg", 0, 0.0)
    loss = outcomes(tmp_path / "loss", claims_file)
    assert loss["cl_better"].verdict == "refuted" and loss["cl_better"].ci_high < 0
    # A < B holds in direction but not by 50 points: inconclusive, with the reason
    ahead = loss["b_ahead_by_50"]
    assert ahead.verdict == "inconclusive" and "minimum effect of 50" in ahead.reason
    write_eval(tmp_path / "same", "biggait_ccpg", 0, 0.0)
    write_eval(tmp_path / "same", "gaitbase_ccpg", 0, 0.0)
    same = outcomes(tmp_path / "same", claims_file)["cl_better"]
    assert same.verdict == "inconclusive" and same.ci_low < 0 < same.ci_high


def test_paired_interval_is_narrower_than_unpaired(tmp_path: Path, claims_file: Path) -> None:
    write_eval(tmp_path, "biggait_ccpg", 0, +0.05)
    write_eval(tmp_path, "gaitbase_ccpg", 0, 0.0)
    claim = load_claims(claims_file)[0]
    index = EvaluationIndex(tmp_path)
    a, b = index.side(claim.a), index.side(claim.b)
    widths = {}
    for paired in (True, False):
        low, high = bootstrap_effect(a, b, paired=paired, resamples=2000, rng=np.random.default_rng(0))
        widths[paired] = high - low
    # identities' difficulty is shared by both models: pairing cancels it out of the effect
    assert widths[True] < 0.5 * widths[False]


def test_outputs_are_byte_stable_and_seeds_selectable(tmp_path: Path, claims_file: Path) -> None:
    for seed in (0, 1):
        write_eval(tmp_path, "biggait_ccpg", seed, +0.1)
        write_eval(tmp_path, "gaitbase_ccpg", seed, 0.0)
    first = write_claims(
        tmp_path,
        claims_file,
        tmp_path / "o1",
        resamples=500,
        scale="demo",
        paper_csv=REPO / "config" / "paper_reported.csv",
    )
    second = write_claims(
        tmp_path,
        claims_file,
        tmp_path / "o2",
        resamples=500,
        scale="demo",
        paper_csv=REPO / "config" / "paper_reported.csv",
    )
    assert [p.name for p in first] == ["claims.csv", "claims.md"]
    for p, q in zip(first, second):
        assert p.read_bytes() == q.read_bytes()
    rows = read_csv(tmp_path / "o1" / "claims.csv")
    assert rows["cl_better"]["verdict"] == "holds" and rows["cl_better"]["seeds_a"] == "0 1"
    assert rows["mask_helps"]["verdict"] == "not run"
    assert float(rows["cl_better"]["paper_effect"]) == pytest.approx(82.6 - 71.6)  # from paper_reported.csv
    md = (tmp_path / "o1" / "claims.md").read_text()
    assert "SynthGait demo" in md and "| cl_better |" in md and "**holds**" in md
    # --seeds 0 and an explicit metrics list restrict the evaluations read
    only0 = outcomes(tmp_path, claims_file, seeds=[0])["cl_better"]
    assert only0.seeds_a == (0,) and only0.effect != pytest.approx(float(rows["cl_better"]["effect"]))
    listed = [paths.metrics_file(str(tmp_path), e, 1, "ccpg") for e in ("biggait_ccpg", "gaitbase_ccpg")]
    assert outcomes(tmp_path, claims_file, metrics_files=listed)["cl_better"].seeds_b == (1,)


def test_missing_or_stale_identity_hits_is_not_run(tmp_path: Path, claims_file: Path) -> None:
    write_eval(tmp_path, "biggait_ccpg", 0, +0.15, hits=False)
    write_eval(tmp_path, "gaitbase_ccpg", 0, 0.0)
    cl = outcomes(tmp_path, claims_file)["cl_better"]
    assert cl.verdict == "not run" and "identity_hits.npz missing" in cl.reason
    write_eval(tmp_path, "biggait_ccpg", 0, +0.15)
    write_eval(tmp_path / "other", "biggait_ccpg", 0, -0.2)  # hits of another model: do not give metrics.csv
    src = Path(paths.identity_hits_file(str(tmp_path / "other"), "biggait_ccpg", 0, "ccpg"))
    Path(paths.identity_hits_file(str(tmp_path), "biggait_ccpg", 0, "ccpg")).write_bytes(src.read_bytes())
    cl = outcomes(tmp_path, claims_file)["cl_better"]
    assert cl.verdict == "not run" and "stale" in cl.reason


@pytest.mark.parametrize(
    "edit, message",
    [
        (("column: CL}\n    b:", "column: XL}\n    b:"), "claim cl_better: a.column: 'XL' is not a column"),
        (('direction: ">"\n  - id: mean', 'direction: "=>"\n  - id: mean'), "claim cl_better: direction"),
        (
            ("experiment: ccpg_no_mask", "experiment: ccpg_no_mask, colour: red"),
            "claim mask_helps: b.colour: unknown key",
        ),
        (("min_effect: 50", "min_effect: -1"), "claim b_ahead_by_50: min_effect"),
        (("    statement: A beats B on CL.\n", ""), "claim cl_better: statement: missing"),
        (
            ("table: ablation_branches, experiment: ccpg_no_mask", "table: ccpg, experiment: ccpg_no_mask"),
            "claim mask_helps: b.experiment: 'ccpg_no_mask' is not a row of table ccpg",
        ),
    ],
)
def test_bad_claims_file_is_one_line_error_and_writes_nothing(tmp_path: Path, capsys, edit, message) -> None:
    bad = tmp_path / "bad.yaml"
    assert edit[0] in CLAIMS_YAML
    bad.write_text(CLAIMS_YAML.replace(edit[0], edit[1], 1))
    write_eval(tmp_path, "biggait_ccpg", 0, 0.1)
    write_eval(tmp_path, "gaitbase_ccpg", 0, 0.0)
    capsys.readouterr()
    rc = main(["claims", str(tmp_path), "--claims", str(bad), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and err[0].startswith("error: ") and message in err[0], err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_cli_writes_both_files(tmp_path: Path, claims_file: Path, capsys) -> None:
    write_eval(tmp_path, "biggait_ccpg", 0, 0.15)
    write_eval(tmp_path, "gaitbase_ccpg", 0, 0.0)
    assert main(["claims", str(tmp_path), "--claims", str(claims_file), "--resamples", "300"]) == 0
    assert (tmp_path / "claims.csv").is_file() and (tmp_path / "claims.md").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # no temporary left behind


def test_repository_claims_file_is_valid() -> None:
    claims = load_claims(REPO / "config" / "claims.yaml")
    ids = {c.id for c in claims}
    assert {
        "ccpg_cl_biggait_beats_gaitbase",
        "mask_branch_helps",
        "pad_and_resize_helps_sustech1k",
        "cross_ccpg_to_sustech1k_biggait_beats_gaitbase",
        "lvm_g_beats_s",
    } <= ids
    cross = next(c for c in claims if c.id == "cross_ccpg_to_sustech1k_biggait_beats_gaitbase")
    assert (cross.a.train, cross.a.test, cross.a.conditions) == ("ccpg", "sustech1k", ("Overall",))
    with pytest.raises(ConfigError, match="claims file not found"):
        load_claims(REPO / "config" / "nope.yaml")


@pytest.mark.parametrize(
    "protocol, types, views",
    [
        ("casiab", ["nm-01", "nm-02", "nm-05", "bg-01", "cl-01"], ["000", "090", "180"]),
        ("ccpg", ["U0_D0", "U1_D1", "U3_D3", "U0_D3", "U1_D0", "U0_D0_BG"], ["01_1", "02_1", "03_2"]),
    ],
)
def test_evaluate_writes_identity_hits_that_give_metrics(tmp_path: Path, protocol, types, views) -> None:
    rng = np.random.default_rng(1)
    meta = [(f"{i:03d}", t, v) for i in range(8) for t in types for v in views]
    ids = [m[0] for m in meta]
    feats = (
        rng.normal(size=(len(meta), 4, 2)).astype(np.float32)
        + np.array([int(i) for i in ids], dtype=np.float32)[:, None, None] * 0.3
    )
    res = evaluate(protocol, feats, ids, [m[1] for m in meta], [m[2] for m in meta], bootstrap=0)
    write_metrics(tmp_path, res, res.rows, {"train_dataset": protocol, "test_dataset": protocol})
    hits = IdentityHits.load(tmp_path / paths.IDENTITY_HITS)
    assert hits.identities == sorted(set(ids))
    gait = [r for r in res.rows if r.metric == "rank1_exclude_identical_view"]
    assert gait and all(hits.value("gait", r.condition) == r.value for r in gait)
    if protocol == "ccpg":
        reid = [r for r in res.rows if r.protocol == "reid" and r.metric == "rank1"]
        assert reid and all(hits.value("reid", r.condition) == pytest.approx(r.value) for r in reid)
