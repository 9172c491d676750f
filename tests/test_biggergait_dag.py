"""BiggerGait run by the DAG like BigGait: its experiments (recipe at paper scale, shrunk at demo scale),
tables and paper values, the per-group scoring of Figure 5(c) and its figure, the claims, the plan."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from biggait import paths
from biggait.config import load_experiment, to_dict
from biggait.errors import ConfigError, EvaluationError
from biggait.evaluation.extract import Embeddings
from biggait.evaluation.groups import ENSEMBLE, best_group, group_slices, read_groups_csv, score_groups
from biggait.evaluation.metrics_files import read_metrics_csv
from biggait.plan import WorkflowPlan
from biggait.reporting.cells import read_paper_csv
from biggait.reporting.claims_config import claim_groups, load_claims, parse_claim
from biggait.reporting.preflight import missing_inputs
from biggait.reporting.specs import GROUP_EXPERIMENT, TABLES
from biggait.reporting.tables import build_accuracy_table

REPO = Path(__file__).resolve().parent.parent
EXPERIMENTS = REPO / "config" / "experiments"
BIGGER_TABLES = [t for t in TABLES if t.startswith("biggergait")]


def _exp(name: str, scale: str):
    return load_experiment(EXPERIMENTS / f"{name}.yaml", scale=scale)


# ---- experiments -------------------------------------------------------------------------------------------


def test_paper_scale_runs_the_released_recipe_and_the_demo_shrinks_it() -> None:
    paper, demo = _exp("biggergait_ccpg", "paper"), _exp("biggergait_ccpg", "demo")
    assert paper.model.arch == "biggergait" and paper.model.biggergait.layers_per_group == 1
    t, d = paper.train, paper.data
    assert (t.lr, t.milestones, t.total_iters, t.amp, t.sync_bn) == (0.1, (15000, 25000), 30000, "auto", True)
    assert (d.batch_p, d.batch_k, d.frames_per_seq) == (8, 4, 30)
    assert paper.model.mask_pretrained.endswith("checkpoints/MaskBranch_vits14.pt")
    # the demo overlay's schedule, sampling and weight files beat the experiment's recipe
    assert (demo.train.total_iters, demo.train.milestones) == (120, (90,))
    assert (demo.data.batch_p, demo.data.frames_per_seq) == (4, 4)
    assert demo.model.mask_pretrained == "" and demo.model.biggergait.mask_fallback == "foreground"


def test_an_experiments_model_keys_still_beat_the_overlay(tmp_path: Path) -> None:
    f = tmp_path / "e.yaml"
    f.write_text("model:\n  gre_map_width: 6\ntrain:\n  total_iters: 7\n")
    exp = load_experiment(f, scale="demo")
    assert exp.model.gre_map_width == 6  # model: the experiment's
    assert exp.train.total_iters == 120  # train: the overlay's
    assert load_experiment(f, scale="demo", overrides=["train.total_iters=3"]).train.total_iters == 3  # --set last


@pytest.mark.parametrize(
    ("name", "layers_per_group", "heads", "groups_paper"),
    [
        ("biggergait_ccpg", 1, 12, 12),  # heads 0 = one per group
        ("biggergait_p2", 1, 2, 12),
        ("biggergait_p1", 1, 1, 12),
        ("biggergait_j6", 2, 2, 6),
        ("biggergait_j3", 4, 2, 3),
        ("biggergait_lvm_l", 1, 12, 24),
    ],
)
def test_the_ablation_experiments_are_the_papers_configurations(name, layers_per_group, heads, groups_paper) -> None:
    from biggait.models.backbone import VARIANTS

    m = _exp(name, "paper").model
    groups = VARIANTS[m.lvm].depth // m.biggergait.layers_per_group
    assert (m.biggergait.layers_per_group, m.biggergait.heads or groups, groups) == (
        layers_per_group,
        heads,
        groups_paper,
    )


def test_the_demo_model_builds_with_one_head_per_group_and_no_mask() -> None:
    from biggait.models.biggait import build_model

    exp = _exp("biggergait_ccpg", "demo")
    model = build_model(exp.model, 10)  # the 4-block stand-in: J = P = 4
    assert model.groups == 4 and len(model.heads.heads) == 4
    model.eval()
    with torch.no_grad():
        out = model(torch.randn(1, 2, 3, 64, 32), return_maps=True)
    assert out.embeddings.shape[-1] == exp.model.biggergait.parts * 4
    assert bool(out.maps["foreground"].all())  # mask_fallback foreground: every token


# ---- tables and paper values --------------------------------------------------------------------------------


def test_biggergait_sits_beside_biggait_in_the_ccpg_table() -> None:
    rows = {r.method: r.experiment for r in TABLES["ccpg"].rows}
    assert rows["BiggerGait"] == "biggergait_ccpg" and rows["BigGait"] == "biggait_ccpg"


def test_every_rerun_biggergait_cell_finds_its_paper_value() -> None:
    paper = read_paper_csv(REPO / "config" / "paper_reported.csv")
    unreported = {("SUSTech1K", "NT")}  # BiggerGait's Table 1 gives SUSTech1K CL and Overall only
    for name in ["ccpg", *BIGGER_TABLES]:
        cells = build_accuracy_table(TABLES[name], [], paper)
        ours = [c for c in cells if c.source == "ours" and c.condition != "Mean"]
        assert ours, name
        for c in ours:
            if (c.test, c.condition) in unreported:
                continue
            assert math.isfinite(c.paper), (name, c.method, c.test, c.condition)
    heads = {
        c.method: c.paper for c in build_accuracy_table(TABLES["biggergait_heads"], [], paper) if c.condition == "CL"
    }
    assert heads["BiggerGait (DINOv2-S) P=12"] == 89.8 and heads["BiggerGait (DINOv2-S) P=1"] == 86.3
    assert heads["BiggerGait (SAM-S) P=12"] == 86.8  # a cited row


def test_paper_rows_carry_their_provenance() -> None:
    paper = read_paper_csv(REPO / "config" / "paper_reported.csv")
    ours = {
        k: v
        for k, v in paper.items()
        if k[0].startswith("biggergait") or (k[0] == "ccpg_within" and k[3] == "BiggerGait")
    }
    assert len(ours) > 300
    assert all("biggergait_reported.csv:" in v.provenance and v.confidence for v in ours.values())


# ---- Figure 5(c): the groups scored alone --------------------------------------------------------------------


def biggergait_eval_folder(tmp_path: Path, arch: str = "biggergait") -> Path:
    """A CCPG evaluation folder whose embeddings hold 3 groups of 2 parts: group 2 separates the identities."""
    rng = np.random.default_rng(0)
    ids, types = [], []
    for i in range(6):
        for t in ("U0_D0", "U0_D0_BG", "U1_D1", "U3_D3", "U0_D3", "U1_D0"):
            ids.append(f"{i:03d}")
            types.append(t)
    n = len(ids)
    feats = rng.normal(size=(n, 8, 6)).astype(np.float32)
    centre = rng.normal(size=(6, 8, 2)).astype(np.float32) * 10
    feats[:, :, 2:4] += centre[[int(i) for i in ids]]
    views = np.array([f"{k % 2 + 1:02d}_1" for k in range(n)])
    out = tmp_path / "eval" / GROUP_EXPERIMENT / "seed0" / "ccpg"
    out.mkdir(parents=True)
    Embeddings(feats, np.array(ids), np.array(types), views).save(out / paths.EMBEDDINGS_NPZ)
    exp = load_experiment(EXPERIMENTS / "biggergait_ccpg.yaml", scale="demo", overrides=["model.biggergait.parts=2"])
    raw = to_dict(exp)
    raw["model"]["arch"] = arch
    info = {"train_dataset": "ccpg", "test_dataset": "ccpg", "metric": "euc", "bootstrap": 0, "seed": 0}
    (out / paths.METRICS_JSON).write_text(json.dumps({**info, "resolved_experiment": raw}))
    (out / paths.METRICS_CSV).write_text(
        "protocol,condition,metric,value,ci_low,ci_high,train_dataset,test_dataset\n"
        "gait,CL,rank1_exclude_identical_view,99.0,,,ccpg,ccpg\n"
    )
    return out


def test_each_group_is_scored_alone_and_the_best_one_is_kept(tmp_path: Path) -> None:
    folder = biggergait_eval_folder(tmp_path)
    scores = score_groups(folder)
    assert [s.name for s in scores] == ["g1", "g2", "g3"]
    assert best_group(scores, "ccpg").name == "g2"
    best = read_metrics_csv(Path(paths.group_metrics_of(folder / paths.METRICS_CSV, "best")), "x", 0)
    g2 = read_metrics_csv(folder / paths.GROUPS_DIR / "g2" / paths.METRICS_CSV, "x", 0)
    assert [(r.condition, r.metric, r.value) for r in best] == [(r.condition, r.metric, r.value) for r in g2]
    assert (folder / paths.GROUPS_DIR / "best" / paths.IDENTITY_HITS).is_file()
    table = read_groups_csv(folder / paths.GROUPS_DIR / paths.GROUPS_CSV)
    assert set(table["group"]) == {ENSEMBLE, "g1", "g2", "g3"}
    assert table[table["group"] == ENSEMBLE]["value"].tolist() == [99.0]  # the model's own metrics.csv


def test_groups_need_a_biggergait_evaluation_whose_parts_tile(tmp_path: Path) -> None:
    with pytest.raises(EvaluationError, match="only a BiggerGait model"):
        score_groups(biggergait_eval_folder(tmp_path, arch="biggait"))
    with pytest.raises(EvaluationError, match="not groups of 32"):
        group_slices(48, 32)
    assert group_slices(96, 32)[2] == slice(64, 96)


def test_the_groups_figure_is_drawn(tmp_path: Path) -> None:
    from biggait.reporting.figures import groups

    folder = biggergait_eval_folder(tmp_path)
    score_groups(folder)
    written = groups([folder / paths.GROUPS_DIR / paths.GROUPS_CSV], "t", tmp_path / "fig")
    assert [p.suffix for p in written] == [".png", ".pdf"] and all(p.stat().st_size > 1000 for p in written)


# ---- claims ---------------------------------------------------------------------------------------------------


def test_the_biggergait_claims_read_the_right_cells() -> None:
    claims = {c.id: c for c in load_claims(REPO / "config" / "claims.yaml")}
    a = claims["ccpg_mean_biggergait_beats_biggait"]
    assert (a.a.experiment, a.b.experiment, a.a.column) == ("biggergait_ccpg", "biggait_ccpg", "Mean")
    e = claims["biggergait_ensemble_beats_best_group"]
    assert (e.a.group, e.b.group, e.a.experiment, e.b.experiment) == ("", "best", GROUP_EXPERIMENT, GROUP_EXPERIMENT)
    h = claims["biggergait_more_heads_no_worse"]
    assert (h.a.experiment, h.b.experiment, h.direction) == ("biggergait_ccpg", "biggergait_p1", ">")
    assert claim_groups(list(claims.values())) == [(GROUP_EXPERIMENT, "ccpg", "best")]


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ({"table": "ccpg", "experiment": "biggait_ccpg", "column": "Mean", "group": "best"}, "only the layer groups"),
        ({"table": "ccpg", "experiment": "biggergait_ccpg", "column": "Mean", "group": "g0"}, "expected g<i>"),
        ({"table": "ccpg", "experiment": "biggergait_ccpg", "column": "Mean", "group": 3}, "expected g<i>"),
    ],
)
def test_a_bad_group_cell_is_one_error(cell, message) -> None:
    raw = {
        "id": "x",
        "statement": "s",
        "a": {"table": "ccpg", "experiment": "biggergait_ccpg", "column": "Mean"},
        "b": cell,
        "direction": ">",
    }
    with pytest.raises(ConfigError, match=message):
        parse_claim(raw, 0, "claims.yaml")


def test_a_group_claim_reads_the_groups_evaluation(tmp_path: Path) -> None:
    from biggait.reporting.claims import EvaluationIndex

    folder = biggergait_eval_folder(tmp_path)
    claim = next(
        c for c in load_claims(REPO / "config" / "claims.yaml") if c.id == "biggergait_ensemble_beats_best_group"
    )
    index = EvaluationIndex(tmp_path, [folder / paths.METRICS_CSV])
    assert "evaluate-groups" in index.side(claim.b).problem  # not scored yet
    score_groups(folder)
    side = index.side(claim.b)
    assert side.problem == "" and side.seeds == [0]


# ---- the plan -------------------------------------------------------------------------------------------------


def _plan(tmp_path: Path, **cfg) -> WorkflowPlan:
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config.update(results=str(tmp_path), **cfg)
    return WorkflowPlan(config, REPO)


def test_the_groups_figure_follows_the_tables_that_evaluate_biggergait(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    evs = plan.group_evaluations(["ccpg", "biggergait_cross"])
    assert {t for _, _, t in evs} == {"ccpg", "casiab", "sustech1k"}
    assert sorted(s for _, s, t in evs if t == "ccpg") == plan.table_seeds("ccpg")
    assert paths.figure(plan.results, f"groups_{GROUP_EXPERIMENT}") + ".png" in plan.figure_targets(["ccpg"])
    assert plan.group_evaluations(["casiab"]) == []


def test_the_demo_leaves_out_a_table_whose_dataset_synthgait_lacks(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    assert missing_inputs(plan, "biggergait_cross") == []
    lines = missing_inputs(plan, "biggergait_cross_ccgr")
    assert lines and "CCGR-Mini" in lines[0] and "paper scale only" in lines[0]


def _paper_plan(tmp_path: Path) -> WorkflowPlan:
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config.update(yaml.safe_load((REPO / "config" / "paper.yaml").read_text()))  # as --configfile merges it
    config["results"] = str(tmp_path)
    return WorkflowPlan(config, REPO)


def test_the_paper_plan_states_memory_and_gpus(tmp_path: Path) -> None:
    lines = _paper_plan(tmp_path).gpu_memory_lines(["ccpg", "biggergait_grouping"])
    by_exp = {line.split(":")[0]: line for line in lines}
    assert set(by_exp) == {"biggergait_ccpg", "biggergait_p2", "biggergait_j6", "biggergait_j3"}  # BigGait: none
    assert "960 frames needs ~119 GiB" in by_exp["biggergait_ccpg"] and "2 x 80 GB" in by_exp["biggergait_ccpg"]
    assert "1 x 80 GB" in by_exp["biggergait_j3"] and "estimate" in by_exp["biggergait_j3"]


def test_the_paper_preflight_names_a_missing_mask_branch_file(tmp_path: Path) -> None:
    lines = missing_inputs(_paper_plan(tmp_path), "biggergait_heads")
    assert any("mask-branch file" in line and "MaskBranch_vits14.pt" in line for line in lines)
    assert not any("mask-branch" in line for line in missing_inputs(_paper_plan(tmp_path), "lvm_size"))


def test_the_groups_figure_reads_the_papers_separate_and_ensemble(tmp_path: Path) -> None:
    from biggait.reporting.fig_groups import paper_lines
    from biggait.reporting.figures import groups

    lines = paper_lines(read_paper_csv(REPO / "config" / "paper_reported.csv"), ["ccpg", "casiab", "sustech1k"])
    assert lines["ccpg"]["ensemble"] == pytest.approx((89.8 + 92.1 + 93.7 + 97.5) / 4)
    assert lines["ccpg"]["separate"] == pytest.approx((84.7 + 88.2 + 89.5 + 95.5) / 4)
    assert lines["casiab"]["ensemble"] == pytest.approx((93.0 + 90.8 + 55.6) / 3)
    assert "sustech1k" not in lines  # the paper gives CL and Overall only, not the table's nine conditions
    folder = biggergait_eval_folder(tmp_path)
    score_groups(folder)
    table = folder / paths.GROUPS_DIR / paths.GROUPS_CSV
    written = groups([table], "t", tmp_path / "fig", paper=REPO / "config" / "paper_reported.csv")
    assert all(p.stat().st_size > 1000 for p in written)
