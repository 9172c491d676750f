"""``biggait evaluate`` end to end: a tiny checkpoint on a tiny CCPG-layout tree, reuse of saved
embeddings, cross-domain labelling, and bad input."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from biggait import cli
from biggait.config import load_experiment
from biggait.data.pickles import save_array
from biggait.evaluation import metrics_files
from biggait.evaluation.extract import Embeddings
from biggait.evaluation.results import MetricRow

REPO = Path(__file__).resolve().parent.parent

CCPG_TYPES = ("U0_D0_BG", "U0_D0", "U1_D1", "U2_D2", "U3_D3", "U0_D3", "U1_D0")
IDS = ("100", "101")
VIEWS = ("01_x", "02_y")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A demo-scale checkpoint trained 'on sustech1k' and a 28-sequence CCPG-layout test tree."""
    base = tmp_path_factory.mktemp("eval_cli")
    rng = np.random.default_rng(0)
    root = base / "ccpg"
    for sid in IDS:
        for t in CCPG_TYPES:
            for v in VIEWS:
                folder = root / sid / t / v
                rgb = rng.integers(0, 60, size=(5, 3, 32, 16), dtype=np.uint8)
                sils = np.zeros((5, 32, 16), np.uint8)
                sils[:, 6:28, 4:12] = 255
                rgb[:, :, 6:28, 4:12] += np.uint8(150 + 40 * IDS.index(sid))  # a bright "person"
                save_array(folder / f"{v}-aligned-rgbs.pkl", rgb)
                save_array(folder / f"{v}-aligned-sils.pkl", sils)
                save_array(folder / f"{v}-ratios.pkl", np.full(5, 0.45, np.float32))
    part = base / "ccpg.json"
    part.write_text(json.dumps({"TRAIN_SET": [], "TEST_SET": list(IDS)}))
    exp = load_experiment(
        None,
        scale="demo",
        overrides=["name=tiny_sustech", "data.dataset=sustech1k", "data.test_max_frames=4", "eval.bootstrap=20"],
    )
    from biggait.models.biggait import build_model
    from biggait.models.checkpoints import save_checkpoint

    torch.manual_seed(0)
    model = build_model(exp.model, 3)
    ckpt = base / "model.pt"
    save_checkpoint(ckpt, model, exp, 3, iteration=100)
    return {"root": root, "partition": part, "ckpt": ckpt, "base": base}


def _read_csv(path):
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def _evaluate(tiny, out, *extra):
    return cli.main(
        [
            "evaluate",
            "--checkpoint",
            str(tiny["ckpt"]),
            "--dataset",
            "ccpg",
            "--root",
            str(tiny["root"]),
            "--partition",
            str(tiny["partition"]),
            "--out",
            str(out),
            "--device",
            "cpu",
            *extra,
        ]
    )


def test_evaluate_writes_every_output_then_reuses_embeddings(tiny, monkeypatch, capsys):
    out = tiny["base"] / "eval"
    assert _evaluate(tiny, out) == 0
    emb = Embeddings.load(out / "embeddings.npz")
    assert emb.features.shape == (28, 64, 16) and emb.features.dtype == np.float32
    assert emb.meta["train_dataset"] == "sustech1k" and emb.meta["test_dataset"] == "ccpg"
    assert emb.meta["experiment"] == "tiny_sustech" and sorted(set(emb.views)) == list(VIEWS)
    assert (emb.mask_union > 0).all()  # silhouettes were compared for every sequence
    rows = _read_csv(out / "metrics.csv")
    assert list(rows[0]) == list(metrics_files.METRICS_CSV_COLUMNS)
    assert {(r["train_dataset"], r["test_dataset"]) for r in rows} == {("sustech1k", "ccpg")}  # cross-domain
    keys = {(r["protocol"], r["condition"], r["metric"]) for r in rows}
    for c in ("CL", "UP", "DN", "BG"):
        assert {("gait", c, "rank1_exclude_identical_view"), ("reid", c, "mAP"), ("mask_iou", c, "iou")} <= keys
    r1 = next(
        r
        for r in rows
        if r["protocol"] == "gait" and r["condition"] == "CL" and r["metric"] == "rank1_exclude_identical_view"
    )
    assert float(r1["ci_low"]) <= float(r1["value"]) <= float(r1["ci_high"])
    iou = [float(r["value"]) for r in rows if r["protocol"] == "mask_iou"]
    assert all(0.0 <= v <= 100.0 for v in iou)
    # the model's own upstream, probed for "person" on the test silhouettes (one number)
    probe = [r for r in rows if r["protocol"] == "upstream_probe"]
    assert [(r["condition"], r["metric"]) for r in probe] == [("all", "iou")]
    assert 0.0 <= float(probe[0]["value"]) <= 100.0
    assert emb.meta["upstream_probe_iou"] == pytest.approx(float(probe[0]["value"]) / 100)
    matrix = (out / "view_matrices" / "gait_CL_rank1.csv").read_text().splitlines()
    assert matrix[0] == "probe_view\\gallery_view,01,02" and len(matrix) == 3
    doc = json.loads((out / "metrics.json").read_text())  # strict JSON: no NaN
    assert doc["train_dataset"] == "sustech1k" and doc["details"]["view_list"] == ["01", "02"]
    assert doc["provenance"]["git_commit"] and doc["provenance"]["versions"]["torch"].startswith("2.")
    assert doc["resolved_experiment"]["data"]["dataset"] == "sustech1k"  # the checkpoint's resolved config

    def boom(*a, **k):
        raise AssertionError("features were recomputed")

    monkeypatch.setattr("biggait.evaluation.extract.extract_shared", boom)
    before = (out / "metrics.csv").read_text()
    assert _evaluate(tiny, out) == 0  # same checkpoint and test set: embeddings reused
    assert (out / "metrics.csv").read_text() == before
    assert _evaluate(tiny, out, "--metric", "cos", "--bootstrap", "0") == 0  # re-scored, not re-extracted
    cos_rows = _read_csv(out / "metrics.csv")
    assert all(r["ci_low"] == "" for r in cos_rows)
    again = tiny["base"] / "from_emb"
    assert (
        cli.main(
            [
                "evaluate",
                "--from-embeddings",
                str(out / "embeddings.npz"),
                "--dataset",
                "ccpg",
                "--out",
                str(again),
                "--bootstrap",
                "0",
            ]
        )
        == 0
    )
    assert _read_csv(again / "metrics.csv")[0]["train_dataset"] == "sustech1k"
    assert [r["value"] for r in _read_csv(again / "metrics.csv") if r["protocol"] == "upstream_probe"] == [
        probe[0]["value"]
    ]  # kept with the embeddings


def _write_embeddings(path, features, n_meta):
    Embeddings(
        features, np.array(["1"] * len(features)), np.array(["U0_D0"] * len(features)), np.array(["01"] * len(features))
    ).save(path)
    if n_meta != len(features):  # rewrite with inconsistent metadata, bypassing the dataclass check
        with np.load(path) as z:
            data = {k: z[k] for k in z.files}
        data["labels"] = data["labels"][:n_meta]
        with open(path, "wb") as fh:
            np.savez(fh, **data)


@pytest.mark.parametrize(
    "features,n_meta,message",
    [
        (np.zeros((4, 256), np.float32), 4, "expected features [N, C, P]"),
        (np.zeros((4, 8, 2), np.float32), 3, "4 feature rows but 3 labels"),
    ],
)
def test_bad_embeddings_fail_in_one_line_without_outputs(tmp_path, capsys, features, n_meta, message):
    src = tmp_path / "emb.npz"
    if features.ndim == 3:
        _write_embeddings(src, features, n_meta)
    else:
        with open(src, "wb") as fh:
            np.savez(
                fh,
                features=features,
                labels=np.array(["1"] * 4),
                types=np.array(["U0_D0"] * 4),
                views=np.array(["01"] * 4),
            )
    out = tmp_path / "out"
    assert cli.main(["evaluate", "--from-embeddings", str(src), "--dataset", "ccpg", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0]
    assert not (out / "metrics.csv").exists() and not (out / "metrics.json").exists()


def test_unknown_dataset_and_missing_inputs(tmp_path, capsys):
    out = tmp_path / "out"
    assert (
        cli.main(["evaluate", "--from-embeddings", str(tmp_path / "x.npz"), "--dataset", "ccpg", "--out", str(out)])
        == 2
    )
    assert "x.npz: embeddings file not found" in capsys.readouterr().err
    emb = tmp_path / "x.npz"
    emb.write_bytes(b"")  # exists: the errors below come before it is read
    assert cli.main(["evaluate", "--from-embeddings", str(emb), "--dataset", "oumvlp", "--out", str(out)]) == 2
    assert "protocol 'oumvlp': unknown" in capsys.readouterr().err
    assert cli.main(["evaluate", "--dataset", "ccpg", "--out", str(out)]) == 2
    assert "--checkpoint" in capsys.readouterr().err
    assert cli.main(["evaluate", "--from-embeddings", str(emb), "--dataset", "ccgr_mini", "--out", str(out)]) == 2
    assert "--partition is required" in capsys.readouterr().err
    assert sorted(tmp_path.iterdir()) == [emb]


def test_nan_cells_are_written_empty():
    text = metrics_files.metrics_csv_text([MetricRow("gait", "CL", "rank1", math.nan)], "a", "b")
    assert text.splitlines()[1] == "a,b,gait,CL,rank1,,,"


def test_several_checkpoints_share_one_pass_and_one_upstream(tiny, monkeypatch):
    """Three checkpoints in one command: A and B have the same frozen upstream (one LVM forward per
    pack for both), C another; every model's embeddings equal those of its own evaluation."""
    from biggait.models.backbone import FrozenLVM
    from biggait.models.biggait import build_model
    from biggait.models.checkpoints import save_checkpoint

    exp = load_experiment(
        None,
        scale="demo",
        overrides=["name=tiny_b", "data.test_max_frames=4", "eval.bootstrap=0", "eval.pack_frames=0"],
    )
    ckpts = {}
    torch.manual_seed(1)
    a = build_model(exp.model, 3)
    torch.manual_seed(2)
    b = build_model(exp.model, 3)
    b.lvm.load_state_dict(a.lvm.state_dict())  # same upstream, other GRE / GaitBase
    torch.manual_seed(3)
    c = build_model(exp.model, 3)  # another random upstream
    for name, m in (("a", a), ("b", b), ("c", c)):
        ckpts[name] = tiny["base"] / f"share_{name}.pt"
        save_checkpoint(ckpts[name], m, exp, 3, iteration=100)
    calls = {"n": 0}
    real = FrozenLVM.forward

    def counting(self, x):
        calls["n"] += 1
        return real(self, x)

    monkeypatch.setattr(FrozenLVM, "forward", counting)
    base = [
        "evaluate",
        "--dataset",
        "ccpg",
        "--root",
        str(tiny["root"]),
        "--partition",
        str(tiny["partition"]),
        "--device",
        "cpu",
    ]
    alone = {}
    for name in ckpts:
        out = tiny["base"] / f"alone_{name}"
        assert cli.main([*base, "--checkpoint", str(ckpts[name]), "--out", str(out)]) == 0
        alone[name] = Embeddings.load(out / "embeddings.npz").features
    per_model = calls["n"] // 3  # forwards of one model's pass (one per sequence)
    calls["n"] = 0
    pairs = [
        x for name in ckpts for x in ("--checkpoint", str(ckpts[name]), "--out", str(tiny["base"] / f"together_{name}"))
    ]
    assert cli.main([*base, *pairs]) == 0
    assert calls["n"] == 2 * per_model  # one upstream pass for A and B, one for C
    for name in ckpts:
        together = Embeddings.load(tiny["base"] / f"together_{name}" / "embeddings.npz").features
        np.testing.assert_allclose(together, alone[name], rtol=0, atol=1e-6)
        assert (tiny["base"] / f"together_{name}" / "metrics.csv").is_file()
    assert not np.allclose(alone["a"], alone["b"])  # the heads differ: a real test of who reads what


def test_checkpoints_and_outs_must_pair(tiny, capsys):
    code = cli.main(
        [
            "evaluate",
            "--checkpoint",
            str(tiny["ckpt"]),
            "--checkpoint",
            str(tiny["ckpt"]),
            "--dataset",
            "ccpg",
            "--root",
            str(tiny["root"]),
            "--out",
            str(tiny["base"] / "x"),
        ]
    )
    assert code != 0
    assert "expected one --out per --checkpoint, got 2 checkpoints and 1 --out" in capsys.readouterr().err


def test_each_checkpoint_is_read_once(tiny, monkeypatch):
    """The checkpoint's bytes give its hash, its experiment and its model: the file is read once, and
    torch.load runs once per checkpoint (not for the experiment, then the model)."""
    import pathlib

    reads, loads = [], []
    real_read, real_load = pathlib.Path.read_bytes, torch.load

    def read_bytes(self):
        reads.append(self.name)
        return real_read(self)

    def load(*a, **k):
        loads.append(1)
        return real_load(*a, **k)

    monkeypatch.setattr(pathlib.Path, "read_bytes", read_bytes)
    monkeypatch.setattr(torch, "load", load)
    assert _evaluate(tiny, tiny["base"] / "read_once", "--no-mask-iou", "--bootstrap", "0") == 0
    assert reads.count(tiny["ckpt"].name) == 1 and len(loads) == 1


def test_biggergait_gets_the_lvm_probe_once_per_lvm_and_no_mask_iou(tiny, monkeypatch):
    """BiggerGait has a frozen LVM but no GRE mask: its evaluation reports ``upstream_probe`` (what the CI check
    reads to see an LVM that was not loaded) and no ``mask_iou``; two BiggerGait models with equal LVM
    weights are probed once, a third with another LVM on its own, and each probe reads its own LVM."""
    from biggait.evaluation import probe as probe_mod
    from biggait.models.biggait import build_model
    from biggait.models.checkpoints import save_checkpoint

    exp = load_experiment(
        REPO / "config" / "experiments" / "biggergait_ccpg.yaml",
        scale="demo",
        overrides=["data.test_max_frames=4", "eval.bootstrap=0"],
    )
    torch.manual_seed(4)
    a = build_model(exp.model, 3)
    torch.manual_seed(5)
    b = build_model(exp.model, 3)
    b.lvm.load_state_dict(a.lvm.state_dict())
    torch.manual_seed(6)
    c = build_model(exp.model, 3)
    pairs = []
    for name, m in (("a", a), ("b", b), ("c", c)):
        ckpt = tiny["base"] / f"bigger_{name}.pt"
        save_checkpoint(ckpt, m, exp, 3, iteration=100)
        pairs += ["--checkpoint", str(ckpt), "--out", str(tiny["base"] / f"bigger_{name}")]
    calls = []
    real = probe_mod.probe_trained_upstream

    def counting(lvm, *args, **kwargs):
        calls.append(lvm)
        return real(lvm, *args, **kwargs)

    monkeypatch.setattr(probe_mod, "probe_trained_upstream", counting)
    argv = ["evaluate", "--dataset", "ccpg", "--root", str(tiny["root"]), "--partition", str(tiny["partition"])]
    assert cli.main([*argv, "--device", "cpu", *pairs]) == 0
    assert len(calls) == 2  # one probe for A and B (equal LVMs), one for C
    probes = {}
    for name in "abc":
        rows = _read_csv(tiny["base"] / f"bigger_{name}" / "metrics.csv")
        assert not [r for r in rows if r["protocol"] == "mask_iou"]
        probes[name] = [float(r["value"]) for r in rows if r["protocol"] == "upstream_probe"]
        assert len(probes[name]) == 1 and 0.0 <= probes[name][0] <= 100.0
    assert probes["a"] == probes["b"]
    probed = [lvm.state_dict() for lvm in calls]  # each probe read its own cluster's LVM
    for weights, model in zip(probed, (a, c)):
        assert all(torch.equal(weights[k], v) for k, v in model.lvm.state_dict().items())
    assert cli.main([*argv, "--device", "cpu", "--no-mask-iou", *pairs[:2], "--out", str(tiny["base"] / "nop")]) == 0
    assert not [r for r in _read_csv(tiny["base"] / "nop" / "metrics.csv") if r["protocol"] == "upstream_probe"]
