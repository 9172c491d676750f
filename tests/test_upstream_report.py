"""The upstream measurements: the random-upstream switch (model.lvm_random), `biggait probe-lvm`,
`biggait lvm-report` (tables/upstream.{csv,md}) and their place in the DAG."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from biggait import paths
from biggait.cli import main
from biggait.config import load_experiment
from biggait.data.dataset import GaitDataset
from biggait.data.loader import make_test_loader
from biggait.evaluation.extract import Embeddings, extract_embeddings
from biggait.evaluation.probe import MEASURES, PROB_GRID, ProbeSettings, build_upstream, probe_upstream, sample_frames
from biggait.models import build_model, load_model, save_checkpoint
from biggait.models.weights import read_weights
from biggait.plan import WorkflowPlan
from biggait.pretrain.mae import MAE
from biggait.reporting import upstream as up
from biggait.reporting.specs import UPSTREAM_EXPERIMENTS
from tests.helpers import IDS, write_tiny_tree

REPO = Path(__file__).resolve().parent.parent
DEMO = load_experiment(None, scale="demo").model  # 64x32 frames, patch 4, 16x8 maps (the token grid)
SMALL = ProbeSettings(every=2, max_frames=20)


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The tiny CCPG-layout tree (with silhouettes), its four identities as the test split, and a
    pretrained-like upstream file (Meta layout) of the demo's vits14 stand-in."""
    base = tmp_path_factory.mktemp("upstream")
    data, _ = write_tiny_tree(base)
    part = base / "test.json"
    part.write_text(json.dumps({"TRAIN_SET": [], "TEST_SET": list(IDS)}))
    torch.manual_seed(1)
    mae = MAE("vits14", (2 * DEMO.image_size, DEMO.image_size), DEMO.lvm_patch)
    with torch.no_grad():
        for p in mae.parameters():
            p.add_(0.05 * torch.randn_like(p))
    lvm_file = base / "vits14_tiny.pth"
    torch.save(mae.meta_state_dict(), lvm_file)
    return {"base": base, "root": data, "partition": part, "lvm": lvm_file}


def _lvm_state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in module.state_dict().items()}


def _differs(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return any(not torch.equal(a[k], b[k]) for k in a if "blocks.0.attn.qkv.weight" in k)


# ---- model.lvm_random -----------------------------------------------------------------------------------


def test_lvm_random_skips_the_checkpoint(tree: dict) -> None:
    from_file = build_model(dataclasses.replace(DEMO, lvm_checkpoint=str(tree["lvm"])), 4)
    file_lvm = build_upstream(DEMO, tree["lvm"], seed=0).state_dict()
    assert not _differs(_lvm_state(from_file.lvm), file_lvm)  # the file is loaded...
    rnd = build_model(dataclasses.replace(DEMO, lvm_checkpoint=str(tree["lvm"]), lvm_random=True), 4)
    assert _differs(_lvm_state(rnd.lvm), file_lvm)  # ...but not with lvm_random
    # a missing file is not even looked at
    build_model(dataclasses.replace(DEMO, lvm_checkpoint=str(tree["base"] / "nope.pth"), lvm_random=True), 4)


def test_random_upstream_model_pt_reloads_the_same_lvm_and_embeddings(tree: dict, tmp_path: Path) -> None:
    """model.pt of an lvm_random model stores its random LVM (no lvm_from_file): evaluating it
    reproduces the model's own embeddings, even with the upstream file gone."""
    exp = load_experiment(
        None,
        scale="demo",
        overrides=[
            "model.lvm_random=true",
            f"model.lvm_checkpoint={tree['lvm']}",
            "data.test_max_frames=4",
            "eval.bootstrap=0",
        ],
    )
    torch.manual_seed(5)
    model = build_model(exp.model, 4).eval()
    ckpt = tmp_path / "model.pt"
    save_checkpoint(ckpt, model, exp, 4, iteration=exp.model.mask_train_iters)
    raw = read_weights(ckpt)
    assert "lvm_from_file" not in raw and any(k.startswith("lvm.") for k in raw["model"])
    loaded, _ = load_model(ckpt)
    assert not _differs(_lvm_state(model.lvm), _lvm_state(loaded.lvm))

    lvm_copy = tree["base"] / "moved.pth"
    lvm_copy.write_bytes(tree["lvm"].read_bytes())
    loader = make_test_loader(exp.data, dataset="ccpg", root=tree["root"], partition=tree["partition"])
    model.freeze_mask()
    direct = extract_embeddings(model, loader)
    out = tmp_path / "eval"
    assert _evaluate(tree, ckpt, out, "--no-mask-iou") == 0
    via_cli = Embeddings.load(out / "embeddings.npz")
    np.testing.assert_allclose(via_cli.features, direct.features, rtol=0, atol=1e-5)


def _evaluate(tree: dict, ckpt: Path, out: Path, *extra: str) -> int:
    """``biggait evaluate`` of ``ckpt`` on the tree's CCPG test split into ``out``, without bootstrap."""
    argv = ["evaluate", "--checkpoint", str(ckpt), "--dataset", "ccpg", "--root", str(tree["root"])]
    return main([*argv, "--partition", str(tree["partition"]), "--out", str(out), "--bootstrap", "0", *extra])


def test_evaluate_probes_the_model_s_own_upstream(tree: dict, tmp_path: Path) -> None:
    """`biggait evaluate` reports upstream_probe: the linear probe of the trained model's own upstream,
    the number `biggait probe-lvm` gives for the same weights; a random upstream reads otherwise."""
    from biggait.evaluation.probe import probe_trained_upstream

    ds = GaitDataset(tree["root"], "ccpg", tree["partition"], split="test", with_sils=True)
    settings = ProbeSettings()
    values = {}
    for name, sets in (("file", [f"model.lvm_checkpoint={tree['lvm']}"]), ("random", ["model.lvm_random=true"])):
        exp = load_experiment(None, scale="demo", overrides=[*sets, "data.test_max_frames=4", "eval.bootstrap=0"])
        torch.manual_seed(5)
        model = build_model(exp.model, 4).eval()
        ckpt = tmp_path / name / "model.pt"
        save_checkpoint(ckpt, model, exp, 4, iteration=exp.model.mask_train_iters)
        out = tmp_path / name / "eval"
        assert _evaluate(tree, ckpt, out) == 0
        with (out / "metrics.csv").open() as fh:
            probe = [r for r in csv.DictReader(fh) if r["protocol"] == "upstream_probe"]
        assert [(r["condition"], r["metric"]) for r in probe] == [("all", "iou")]
        values[name] = float(probe[0]["value"])
        assert values[name] == pytest.approx(
            100 * probe_trained_upstream(model.lvm, exp.model, ds, settings, progress=False), abs=1e-4
        )
    from_file = probe_upstream(ds, DEMO, tree["lvm"], settings, progress=False)["iou"]["linear_probe"]
    assert values["file"] == pytest.approx(100 * from_file, abs=1e-4)  # = `biggait probe-lvm`
    assert values["random"] != pytest.approx(values["file"], abs=0.1)


def test_workflow_plan_gives_the_random_upstream_no_checkpoint(tmp_path: Path) -> None:
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    cfg["results"] = str(tmp_path)
    plan = WorkflowPlan(cfg, REPO)
    assert plan.lvm_checkpoint("biggait_ccpg") == paths.pretrained_lvm(plan.results, "vits14")
    assert plan.lvm_checkpoint("ccpg_random_upstream") == ""
    assert not any(s.startswith("model.lvm_checkpoint") for s in plan.train_sets("ccpg_random_upstream", 0))
    assert plan.upstream_report()
    seeds = plan.table_seeds("ccpg")
    assert plan.upstream_evaluations() == (
        [("ccpg_random_upstream", seeds[0])] + [(e, s) for e in ("biggait_ccpg", "gaitbase_ccpg") for s in seeds]
    )
    assert not WorkflowPlan({**cfg, "pretrain_lvm": {}}, REPO).upstream_report()  # the paper scale: off
    assert not WorkflowPlan({**cfg, "experiments": ["biggait_ccpg", "gaitbase_ccpg"]}, REPO).upstream_report()
    assert tuple(up.EXPERIMENTS.values()) == UPSTREAM_EXPERIMENTS


# ---- biggait probe-lvm ------------------------------------------------------------------------------


def test_sample_frames_is_deterministic_and_capped() -> None:
    assert sample_frames([5, 3], every=2, max_frames=100) == [(0, 0), (0, 2), (0, 4), (1, 0), (1, 2)]
    picks = sample_frames([16] * 280, every=4, max_frames=1000)
    assert len(picks) == 1000 and picks == sample_frames([16] * 280, every=4, max_frames=1000)
    assert {s for s, _ in picks} == set(range(280))  # every sequence keeps a share


def test_probe_is_sane_and_deterministic(tree: dict) -> None:
    ds = GaitDataset(tree["root"], "ccpg", tree["partition"], split="test", with_sils=True)
    a = probe_upstream(ds, DEMO, None, SMALL, progress=False)
    b = probe_upstream(ds, DEMO, None, SMALL, progress=False)
    assert a == b
    assert set(a["iou"]) == set(MEASURES) and all(0.0 <= v <= 1.0 for v in a["iou"].values())
    assert a["upstream"] == "random" and a["lvm_checkpoint"] == ""
    assert a["fit_identities"] == ["000", "002"] and a["eval_identities"] == ["001", "003"]
    assert sum(a["frames"].values()) == 20 and a["model"]["map_hw"] == [16, 8]  # 8 seqs x 3 frames, capped
    assert a["model"]["token_grid"] == [16, 8] and a["model"]["feature_dim"] == 48
    # every pixel "person": IoU = the silhouettes' share of the map
    assert a["iou"]["all_person"] == pytest.approx(a["person_share"], rel=1e-6)
    # calibrated thresholds: chosen on the fitting half from the grids, scored on the other half
    assert set(a["iou_best_threshold"]) == set(a["best_threshold"]) == {"linear_probe", "pca1"}
    assert all(0.0 <= v <= 1.0 for v in a["iou_best_threshold"].values())
    assert any(abs(a["best_threshold"]["linear_probe"] - t) < 1e-6 for t in PROB_GRID.tolist())
    f = probe_upstream(ds, DEMO, tree["lvm"], SMALL, progress=False)
    assert f["upstream"] == "file" and f["lvm_checkpoint"] == str(tree["lvm"])
    assert f["iou"]["prior"] == a["iou"]["prior"]  # the prior does not look at the upstream
    assert f["iou"]["pca1"] != a["iou"]["pca1"] or f["iou"]["linear_probe"] != a["iou"]["linear_probe"]


def test_build_upstream_random_is_seeded_file_is_the_file(tree: dict) -> None:
    r0, r0b, r1 = (build_upstream(DEMO, None, s).state_dict() for s in (0, 0, 1))
    assert not _differs(r0, r0b) and _differs(r0, r1)
    f = build_upstream(DEMO, tree["lvm"], 0).state_dict()
    assert _differs(r0, f)
    before = torch.get_rng_state()
    build_upstream(DEMO, None, 3)
    assert torch.equal(before, torch.get_rng_state())  # the global generator is left alone


def test_probe_cli_writes_json(tree: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "probe.json"
    assert (
        main(
            [
                "probe-lvm",
                "--dataset",
                "ccpg",
                "--root",
                str(tree["root"]),
                "--partition",
                str(tree["partition"]),
                "--lvm-checkpoint",
                str(tree["lvm"]),
                "--every",
                "2",
                "--max-frames",
                "20",
                "--no-progress",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    res = json.loads(out.read_text())
    assert res["upstream"] == "file" and res["dataset"] == "ccpg" and res["settings"]["every"] == 2
    assert "linear_probe IoU" in capsys.readouterr().out


def test_probe_cli_bad_inputs(tree: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "p.json"
    common = ["probe-lvm", "--dataset", "ccpg", "--root", str(tree["root"]), "--no-progress", "--out", str(out)]
    assert main([*common, "--partition", str(tree["partition"]), "--lvm-checkpoint", str(tmp_path / "nope.pth")]) == 2
    err = capsys.readouterr().err
    assert "nope.pth" in err and len(err.strip().splitlines()) == 1
    assert main([*common, "--partition", str(tmp_path / "none.json")]) == 2
    assert "none.json" in capsys.readouterr().err
    one = tmp_path / "one.json"
    one.write_text(json.dumps({"TRAIN_SET": [], "TEST_SET": ["000"]}))
    assert main([*common, "--partition", str(one)]) == 2
    assert "at least 2 test identities" in capsys.readouterr().err
    assert not out.exists() and not list(tmp_path.glob(".p.json*"))


# ---- biggait lvm-report -----------------------------------------------------------------------------

CONDS = ("CL", "UP", "DN", "BG")


def _metrics(results: Path, exp: str, seed: int, rank1: dict[str, float], iou: dict[str, float] | None) -> Path:
    """A metrics.csv of an evaluation on CCPG: rank-1 per condition, mask IoU (percent) when given."""
    f = Path(paths.metrics_file(str(results), exp, seed, "ccpg"))
    f.parent.mkdir(parents=True, exist_ok=True)
    lines = ["train_dataset,test_dataset,protocol,condition,metric,value,ci_low,ci_high"]
    lines += [f"ccpg,ccpg,gait,{c},rank1_exclude_identical_view,{v},,," for c, v in rank1.items()]
    lines += [f"ccpg,ccpg,gait,{c},rank5_exclude_identical_view,99,,," for c in rank1]
    lines += [f"ccpg,ccpg,mask_iou,{c},iou,{v},,," for c, v in (iou or {}).items()]
    f.write_text("\n".join(lines) + "\n")
    return f


def _probe(path: Path, upstream: str, iou: dict[str, float]) -> Path:
    path.write_text(
        json.dumps(
            {
                "upstream": upstream,
                "lvm_checkpoint": "pre.pth" if upstream == "file" else "",
                "settings": {"seed": 0},
                "frames": {"fit": 10, "eval": 10},
                "iou": iou,
            }
        )
    )
    return path


@pytest.fixture
def report_inputs(tmp_path: Path) -> dict:
    r = tmp_path / "results"
    files = [
        _metrics(
            r,
            "ccpg_random_upstream",
            0,
            dict(zip(CONDS, (11, 12, 13, 14))),
            {"all": 30, "CL": 31, "UP": 29, "DN": 30, "BG": 30},
        ),
        _metrics(r, "biggait_ccpg", 0, dict(zip(CONDS, (40, 36, 50, 60))), {"all": 70, "CL": 72}),
        _metrics(r, "biggait_ccpg", 1, dict(zip(CONDS, (30, 38, 52, 58))), {"all": 74, "CL": 76}),
        _metrics(r, "gaitbase_ccpg", 0, dict(zip(CONDS, (44, 40, 45, 50))), None),
        _metrics(r, "gaitbase_ccpg", 1, dict(zip(CONDS, (46, 42, 47, 52))), None),
    ]
    rnd = _probe(
        tmp_path / "probe_random.json",
        "random",
        {"linear_probe": 0.13, "pca1": 0.18, "prior": 0.52, "all_person": 0.31},
    )
    pre = _probe(
        tmp_path / "probe_pretrained.json",
        "file",
        {"linear_probe": 0.66, "pca1": 0.41, "prior": 0.52, "all_person": 0.31},
    )
    return {"metrics": files, "random": rnd, "pretrained": pre, "out": tmp_path / "tables"}


def _rows(path: Path) -> dict[tuple[str, str], dict[str, str]]:
    with path.open(newline="") as fh:
        return {(r["measure"], r["condition"]): r for r in csv.DictReader(fh)}


def test_report_numbers_and_verdicts(report_inputs: dict) -> None:
    d = report_inputs
    written = up.write_upstream_report(d["metrics"], d["random"], d["pretrained"], d["out"], scale="demo")
    assert [p.name for p in written] == ["upstream.csv", "upstream.md"]
    rows = _rows(d["out"] / "upstream.csv")
    mask = rows[("mask IoU (GRE foreground vs silhouettes)", "all")]
    assert float(mask["random_upstream"]) == pytest.approx(0.30)
    assert float(mask["pretrained_upstream"]) == pytest.approx(0.72)
    assert float(mask["pretrained_upstream_std"]) == pytest.approx(math.sqrt(8) / 100, abs=1e-6)
    assert mask["gaitbase"] == "" and mask["target"] == ">= 0.70" and mask["verdict"] == "met"
    assert rows[("mask IoU (GRE foreground vs silhouettes)", "CL")]["verdict"] == ""
    assert ("mask IoU (GRE foreground vs silhouettes)", "UP") in rows  # the random side has it
    cl = rows[("rank-1", "CL")]
    assert float(cl["pretrained_upstream"]) == 35 and float(cl["gaitbase"]) == 45
    assert float(cl["pretrained_minus_gaitbase"]) == -10 and cl["verdict"] == "met"
    assert rows[("rank-1", "UP")]["verdict"] == "met" and float(rows[("rank-1", "UP")]["random_upstream"]) == 12
    mean = rows[("rank-1", "mean")]
    assert float(mean["pretrained_upstream"]) == pytest.approx((46.5 + 44.5) / 2)
    assert float(mean["random_upstream"]) == pytest.approx(12.5) and mean["random_upstream_std"] == ""
    probe = rows[(up.PROBE_LABELS["linear_probe"], "eval half")]
    assert float(probe["random_upstream"]) == 0.13 and float(probe["pretrained_upstream"]) == 0.66
    assert probe["target"] == "> prior" and probe["verdict"] == "met"
    assert rows[(up.PROBE_LABELS["prior"], "eval half")]["verdict"] == ""
    md = (d["out"] / "upstream.md").read_text()
    assert "SynthGait" in md and "not comparable with the paper" in md and "| 0.72 ± 0.03 |" in md
    assert "biggait_ccpg: seeds 0 1" in md


def test_report_verdict_not_met(report_inputs: dict) -> None:
    d = report_inputs
    _metrics(d["metrics"][1].parents[4], "biggait_ccpg", 0, dict(zip(CONDS, (20, 36, 50, 60))), {"all": 50, "CL": 52})
    _probe(d["pretrained"], "file", {"linear_probe": 0.40, "pca1": 0.41, "prior": 0.52, "all_person": 0.31})
    up.write_upstream_report(d["metrics"], d["random"], d["pretrained"], d["out"])
    rows = _rows(d["out"] / "upstream.csv")
    assert rows[("rank-1", "CL")]["verdict"] == "not met"  # (20 + 30) / 2 = 25 < 35
    assert rows[("mask IoU (GRE foreground vs silhouettes)", "all")]["verdict"] == "not met"
    assert rows[(up.PROBE_LABELS["linear_probe"], "eval half")]["verdict"] == "not met"  # 0.40 < prior 0.52
    assert "SynthGait" not in (d["out"] / "upstream.md").read_text()  # paper scale: no demo note


def test_report_bad_inputs(report_inputs: dict, capsys: pytest.CaptureFixture) -> None:
    d = report_inputs
    args = [
        "lvm-report",
        "--random-probe",
        str(d["random"]),
        "--pretrained-probe",
        str(d["pretrained"]),
        "--out",
        str(d["out"]),
    ]
    gone = d["metrics"][0].with_name("gone") / "metrics.csv"
    missing = Path(str(d["metrics"][0]).replace("seed0", "seed7"))
    cases = [
        ([*args, "--metrics", *map(str, d["metrics"]), str(missing)], str(missing)),  # missing file: named
        ([*args, "--metrics", *map(str, d["metrics"][1:])], "ccpg_random_upstream"),  # an experiment lacks
        ([*args, "--metrics", str(gone)], "gone"),
        (
            [
                "lvm-report",
                "--metrics",
                *map(str, d["metrics"]),
                "--random-probe",
                str(d["pretrained"]),
                "--pretrained-probe",
                str(d["random"]),
                "--out",
                str(d["out"]),
            ],
            "swapped",
        ),
        (
            [
                "lvm-report",
                "--metrics",
                *map(str, d["metrics"]),
                "--random-probe",
                str(d["random"]) + ".x",
                "--pretrained-probe",
                str(d["pretrained"]),
                "--out",
                str(d["out"]),
            ],
            "probe_random.json.x",
        ),
    ]
    for argv, needle in cases:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert needle in err and len(err.strip().splitlines()) == 1, err
    # a number missing from a metrics file: the file is named
    no_rank = _metrics(d["metrics"][0].parents[4], "biggait_ccpg", 1, {"CL": 40}, {"all": 70})
    assert main([*args, "--metrics", *map(str, d["metrics"])]) == 2
    assert str(no_rank) in capsys.readouterr().err
    assert not d["out"].exists()  # nothing partial


# ---- the DAG ---------------------------------------------------------------------------------------------


def _dry_run(*args: str) -> str:
    smk = Path(sys.executable).parent / "snakemake"
    out = subprocess.run(
        [str(smk), "--nolock", "-n", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout
    return out.stdout


@pytest.mark.slow
@pytest.mark.dag
def test_dag_has_the_upstream_table_on_the_demo_only(tmp_path: Path) -> None:
    text = _dry_run("upstream_report", "-p", "--config", f"results={tmp_path}/demo")
    assert "probe-lvm" in text and "--lvm-checkpoint" in text and "lvm-report" in text
    assert "runs/ccpg_random_upstream/seed0/model.pt" in text
    train = next(line for line in text.splitlines() if "biggait train" in line and "ccpg_random_upstream" in line)
    assert "model.lvm_checkpoint" not in train
    (tmp_path / "ccpg").mkdir()
    (tmp_path / "ccpg.json").write_text('{"TRAIN_SET": [], "TEST_SET": []}')
    (tmp_path / "vits14.pth").write_bytes(b"x")
    cfg = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())
    cfg.update(
        results=str(tmp_path / "paper"),
        only_available=True,
        tables=["ccpg"],
        roots={"ccpg": str(tmp_path / "ccpg")},
        partitions={"ccpg": str(tmp_path / "ccpg.json")},
        lvm_checkpoints={"vits14": str(tmp_path / "vits14.pth")},
    )
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    # --replace-workflow-config: the paper config alone (otherwise Snakemake merges config/config.yaml into it)
    text = _dry_run(
        "reproduce_all", "--configfile", str(tmp_path / "cfg.yaml"), "--replace-workflow-config", "--resources", "gpu=0"
    )
    assert "probe_upstream" not in text and "upstream_report" not in text and "ccpg_random_upstream" not in text


def test_resume_treats_a_key_added_later_as_its_default(tmp_path: Path) -> None:
    """A checkpoint written before model.lvm_random existed resumes; one trained with it on does not."""
    from biggait.config import to_dict
    from biggait.errors import CheckpointError
    from biggait.train.state import check_resumable

    exp = load_experiment(None, scale="demo")
    old = to_dict(exp)
    del old["model"]["lvm_random"]
    check_resumable(old, exp, tmp_path / "iter.pt")
    on = to_dict(exp)
    on["model"]["lvm_random"] = True
    with pytest.raises(CheckpointError, match="model.lvm_random"):
        check_resumable(on, exp, tmp_path / "iter.pt")


def test_evaluate_s_probe_keeps_its_features_within_a_memory_budget(tree: dict, monkeypatch) -> None:
    """At paper scale the probed frames' features are large (3 MB a frame for ViT-S on the 64x32 map):
    evaluate's probe takes at most EVAL_PROBE_BYTES of them."""
    from biggait.evaluation import probe as probe_mod

    seen = []
    real = probe_mod.load_probe_frames
    monkeypatch.setattr(
        probe_mod, "load_probe_frames", lambda ds, cfg, s, p=True: seen.append(s.max_frames) or real(ds, cfg, s, p)
    )
    ds = GaitDataset(tree["root"], "ccpg", tree["partition"], split="test", with_sils=True)
    lvm = build_upstream(DEMO, None, seed=0)
    frame_bytes = 4 * (2 * DEMO.gre_map_width) * DEMO.gre_map_width * lvm.embed_dim
    probe_mod.probe_trained_upstream(lvm, DEMO, ds, progress=False)
    monkeypatch.setattr(probe_mod, "EVAL_PROBE_BYTES", 20 * frame_bytes)
    probe_mod.probe_trained_upstream(lvm, DEMO, ds, progress=False)
    monkeypatch.setattr(probe_mod, "EVAL_PROBE_BYTES", 0)
    probe_mod.probe_trained_upstream(lvm, DEMO, ds, progress=False)
    assert seen == [ProbeSettings().max_frames, 20, 16]  # the default; the budget; never fewer than 16


def test_evaluate_probes_each_shared_upstream_once(tree: dict, tmp_path: Path, monkeypatch) -> None:
    """Models evaluated together whose frozen upstream is the same get one probe between them."""
    from biggait.evaluation import probe as probe_mod

    calls = []
    real = probe_mod.probe_trained_upstream
    monkeypatch.setattr(probe_mod, "probe_trained_upstream", lambda *a, **k: calls.append(1) or real(*a, **k))
    args = []
    for name, sets in (
        ("a", [f"model.lvm_checkpoint={tree['lvm']}"]),
        ("b", [f"model.lvm_checkpoint={tree['lvm']}"]),
        ("random", ["model.lvm_random=true"]),
    ):
        exp = load_experiment(None, scale="demo", overrides=[*sets, "data.test_max_frames=4", "eval.bootstrap=0"])
        torch.manual_seed(len(args))
        ckpt = tmp_path / name / "model.pt"
        save_checkpoint(ckpt, build_model(exp.model, 4).eval(), exp, 4, iteration=exp.model.mask_train_iters)
        args += ["--checkpoint", str(ckpt), "--out", str(tmp_path / name / "eval")]
    assert (
        main(
            [
                "evaluate",
                *args,
                "--dataset",
                "ccpg",
                "--root",
                str(tree["root"]),
                "--partition",
                str(tree["partition"]),
                "--bootstrap",
                "0",
            ]
        )
        == 0
    )
    assert len(calls) == 2  # a and b share the file's upstream; the random one is its own
    probe = {}
    for name in ("a", "b", "random"):
        with (tmp_path / name / "eval" / "metrics.csv").open() as fh:
            probe[name] = next(float(r["value"]) for r in csv.DictReader(fh) if r["protocol"] == "upstream_probe")
    assert probe["a"] == probe["b"] != probe["random"]
