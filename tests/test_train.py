"""The trainer on CPU with the real BigGait model at a tiny configuration on a tiny CCPG-layout tree."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from helpers import IDS, assert_same_state, state_of, tiny_experiment, tiny_overrides, write_tiny_tree

from biggait.cli import main as cli_main
from biggait.config import replace
from biggait.errors import BigGaitError, CheckpointError, ConfigError
from biggait.models import losses
from biggait.models.biggait import build_model
from biggait.models.checkpoints import load_model
from biggait.train import loop as train_mod
from biggait.train.loop import resolve_amp, train, train_model
from biggait.train.state import list_checkpoints, read_checkpoint


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> tuple[Path, Path]:
    return write_tiny_tree(tmp_path_factory.mktemp("tree"))


@pytest.fixture(scope="module")
def full_run(tree, tmp_path_factory) -> Path:
    """An uninterrupted 6-iteration run (checkpoints at 3 and 6)."""
    out = tmp_path_factory.mktemp("full") / "run"
    assert train(tiny_experiment(*tree), out, progress=False) == out / "model.pt"
    return out


def read_log(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines()]


def test_run_folder_contents(full_run, tree):
    for name in ("config.yaml", "git_commit.txt", "versions.json", "train_log.jsonl", "model.pt"):
        assert (full_run / name).is_file(), name
    assert [it for it, _ in list_checkpoints(full_run)] == [3, 6]  # the newest two are kept
    rows = read_log(full_run)
    assert [r["iteration"] for r in rows] == [1, 2, 3, 4, 5, 6]
    for r in rows:
        assert not r["skipped"] and r["frames_per_s"] > 0
        assert {"triplet", "ce", "diversity", "total"} <= r.keys()
        assert math.isclose(
            r["total"], sum(v for k, v in r.items() if k in losses._AUX or k in ("triplet", "ce")), rel_tol=1e-5
        )
    # multi-step schedule: milestone 4, gamma 0.1 (the lr logged is the one the step used)
    assert [round(r["lr"], 6) for r in rows] == [0.1, 0.1, 0.1, 0.1, 0.01, 0.01]
    # the mask branch trains for 4 iterations, then freezes (the demo scale skips its terms after that)
    assert ["reconstruction" in r for r in rows] == [True] * 4 + [False] * 2
    final = torch.load(full_run / "model.pt", weights_only=True)
    assert final["format"] == "biggait-repro/1" and final["iteration"] == 6 and final["num_classes"] == 4
    assert final["experiment"]["train"]["total_iters"] == 6
    assert "lr" in (full_run / "config.yaml").read_text()
    model, exp = load_model(full_run / "model.pt")  # the evaluation side reads what we wrote
    assert exp == tiny_experiment(*tree) and not model.training
    assert_same_state(model.state_dict(), final["model"])


def test_killed_and_resumed_run_ends_with_identical_weights(full_run, tree, tmp_path):
    exp = tiny_experiment(*tree)
    out = tmp_path / "run"
    first = train_model(exp, out, stop_after=3, progress=False)  # as if killed after iteration 3
    assert not first.finished and first.iteration == 3 and not (out / "model.pt").exists()
    assert first.path == out / "checkpoints" / "iter_000003.pt"
    # resuming crosses the mask-branch freeze (iteration 4) and the lr milestone (4)
    second = train_model(exp, out, progress=False)
    assert second.finished and second.iteration == 6
    assert_same_state(state_of(out / "model.pt"), state_of(full_run / "model.pt"))
    a, b = (
        read_checkpoint(out / "checkpoints" / "iter_000006.pt"),
        read_checkpoint(full_run / "checkpoints" / "iter_000006.pt"),
    )
    assert a["scheduler"]["last_epoch"] == b["scheduler"]["last_epoch"] == 6
    for pa, pb in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values()):
        assert torch.equal(pa["momentum_buffer"], pb["momentum_buffer"])
    assert torch.equal(a["rng"][0]["torch"], b["rng"][0]["torch"])
    assert read_log(out) == [
        {**r, "frames_per_s": x["frames_per_s"]} for r, x in zip(read_log(full_run), read_log(out))
    ]


def test_finished_run_returns_immediately(full_run, tree, monkeypatch):
    before = (full_run / "model.pt").stat().st_mtime_ns
    monkeypatch.setattr(train_mod, "build_model", lambda *a, **k: pytest.fail("a finished run must not rebuild"))
    assert train(tiny_experiment(*tree), full_run, progress=False) == full_run / "model.pt"
    assert (full_run / "model.pt").stat().st_mtime_ns == before


def test_lvm_stays_frozen_and_in_eval_mode(tree, tmp_path):
    exp = tiny_experiment(*tree, **{"train.total_iters": 2, "train.save_every": 2})
    result = train_model(exp, tmp_path / "run", progress=False)
    model = result.model
    assert model.training and model.gaitbase.training and model.gre.training
    assert not model.lvm.training and not any(m.training for m in model.lvm.modules())
    assert all(not p.requires_grad and p.grad is None for p in model.lvm.parameters())
    torch.manual_seed(exp.train.seed)  # the trainer seeds before building: same initial LVM
    fresh = build_model(exp.model, 4, exp.loss)
    for (name, p), q in zip(model.lvm.state_dict().items(), fresh.lvm.state_dict().values()):
        assert torch.equal(p, q), f"LVM tensor {name} changed during training"
    assert not any(p is q for p in model.trainable_parameters() for q in model.lvm.parameters())


def _nan_after(calls: int):
    """compose() whose total turns NaN from its ``calls``-th call on."""
    real, count = losses.compose, {"n": 0}

    def compose(out, labels, cfg, **kw):
        terms = real(out, labels, cfg, **kw)
        count["n"] += 1
        if count["n"] > calls:
            terms["total"] = terms["total"] * float("nan")
        return terms

    return compose


def test_persistent_nonfinite_loss_stops_and_keeps_last_good_checkpoint(tree, tmp_path, monkeypatch):
    exp = tiny_experiment(*tree, **{"train.max_nonfinite_steps": 2})
    monkeypatch.setattr(losses, "compose", _nan_after(4))
    out = tmp_path / "run"
    with pytest.raises(BigGaitError, match=r"not finite for 2 consecutive steps.*iter_000003\.pt"):
        train(exp, out, progress=False)
    assert not (out / "model.pt").exists()
    assert [it for it, _ in list_checkpoints(out)] == [3]
    rows = read_log(out)
    assert [r["skipped"] for r in rows] == [False] * 4 + [True, True]
    assert rows[-1]["total"] is None and rows[-1]["iteration"] == 4


def test_transient_nonfinite_step_is_skipped_without_advancing_the_schedule(tree, tmp_path, monkeypatch):
    real = losses.compose
    calls = {"n": 0}

    def compose(out, labels, cfg, **kw):
        terms = real(out, labels, cfg, **kw)
        calls["n"] += 1
        if calls["n"] == 2:
            terms["total"] = terms["total"] + float("inf")
        return terms

    monkeypatch.setattr(losses, "compose", compose)
    exp = tiny_experiment(*tree, **{"train.total_iters": 3, "train.milestones": "[1]"})
    out = tmp_path / "run"
    train(exp, out, progress=False)
    rows = read_log(out)
    assert [(r["iteration"], r["skipped"]) for r in rows] == [(1, False), (1, True), (2, False), (3, False)]
    assert [round(r["lr"], 6) for r in rows] == [0.1, 0.01, 0.01, 0.01]  # skipped step: no schedule step
    ckpt = read_checkpoint(out / "checkpoints" / "iter_000003.pt")
    assert ckpt["iteration"] == 3 and ckpt["data_iter"] == 4 and ckpt["scheduler"]["last_epoch"] == 3


def test_resume_refuses_a_changed_experiment(full_run, tree, tmp_path):
    exp = tiny_experiment(*tree)
    out = tmp_path / "run"
    train(exp, out, stop_after=3, progress=False)
    with pytest.raises(CheckpointError, match=r"train.lr=0.1 .* train.lr=0.05"):
        train(replace(exp, train={"lr": 0.05}), out, progress=False)
    # --no-resume starts over in the same folder
    result = train_model(replace(exp, train={"total_iters": 1}), out, resume=False, progress=False)
    assert result.finished and [it for it, _ in list_checkpoints(out)] == [1]
    assert [r["iteration"] for r in read_log(out)] == [1]


def test_unreadable_newest_checkpoint_falls_back_then_fails_clearly(tree, tmp_path):
    exp = tiny_experiment(*tree, **{"train.save_every": 1})
    out = tmp_path / "run"
    train(exp, out, stop_after=3, progress=False)
    assert [it for it, _ in list_checkpoints(out)] == [2, 3]
    (out / "checkpoints" / "iter_000003.pt").write_bytes(b"not a checkpoint")
    result = train_model(exp, out, stop_after=3, progress=False)  # resumes from iteration 2
    assert result.iteration == 3 and [it for it, _ in list_checkpoints(out)] == [2, 3]
    for _, p in list_checkpoints(out):
        p.write_bytes(b"junk")
    with pytest.raises(CheckpointError, match=r"iter_000003\.pt: not a readable torch checkpoint"):
        train(exp, out, progress=False)


def test_bad_settings_fail_clearly(tree, tmp_path):
    with pytest.raises(ConfigError, match="total_iters"):
        train(tiny_experiment(*tree, **{"train.total_iters": 0}), tmp_path / "a", progress=False)
    with pytest.raises(ConfigError, match="milestones"):
        train(tiny_experiment(*tree, **{"train.milestones": "[5, 2]"}), tmp_path / "b", progress=False)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_silhouette_gaitbase_baseline_trains(tree, tmp_path):
    exp = tiny_experiment(
        *tree,
        **{"model.arch": "gaitbase", "data.modality": "silhouette", "train.total_iters": 2, "train.save_every": 2},
    )
    result = train_model(exp, tmp_path / "run", progress=False)
    assert result.finished and type(result.model).__name__ == "SilhouetteGaitBase"
    assert [r["iteration"] for r in read_log(tmp_path / "run")] == [1, 2]


def test_amp_resolution():
    assert resolve_amp("auto", torch.device("cpu")) is None
    assert resolve_amp("auto", torch.device("cuda", 0), bf16_supported=True) is torch.bfloat16
    assert resolve_amp("fp16", torch.device("cpu")) is torch.float16
    assert resolve_amp("off", torch.device("cuda", 0)) is None


def test_bf16_autocast_trains_on_cpu(tree, tmp_path):
    exp = tiny_experiment(*tree, **{"train.total_iters": 2, "train.amp": "bf16"})
    result = train_model(exp, tmp_path / "run", progress=False)
    assert result.finished
    assert all(torch.isfinite(v).all() for v in state_of(result.path).values() if v.is_floating_point())


def test_cli_trains_and_prints_model_path(tree, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", str(tmp_path / "none.yaml"), "--out", str(out), "--scale", "demo", "--no-progress"]
    sets = [x for s in tiny_overrides(*tree, **{"train.total_iters": 2}) for x in ("--set", s)]
    (tmp_path / "none.yaml").write_text("name: tiny\n")
    assert cli_main(args + sets) == 0
    assert capsys.readouterr().out.strip() == str(out / "model.pt")
    assert cli_main(args + sets + ["--set", "train.bogus=1"]) == 2
    assert "train.bogus: unknown key" in capsys.readouterr().err


def test_and_trains_several_runs_in_one_process_each_as_on_its_own(full_run, tree, tmp_path, capsys):
    """`biggait train A --out X ... --and B --out Y ...` (the DAG's shared training jobs): every run ends with
    the weights it gets alone, whatever ran before it in the process."""
    (tmp_path / "none.yaml").write_text("name: tiny\n")

    def run_args(out: Path, **extra: object) -> list[str]:
        sets = [x for s in tiny_overrides(*tree, **extra) for x in ("--set", s)]
        return [str(tmp_path / "none.yaml"), "--out", str(out), "--scale", "demo", "--no-progress", *sets]

    a, b = tmp_path / "a", tmp_path / "b"
    assert cli_main(["train", *run_args(a, **{"train.seed": 4}), "--and", *run_args(b)]) == 0
    assert capsys.readouterr().out.split() == [str(a / "model.pt"), str(b / "model.pt")]
    assert_same_state(state_of(b / "model.pt"), state_of(full_run / "model.pt"))  # seed 3, trained alone
    alone = train(tiny_experiment(*tree, **{"train.seed": 4}), tmp_path / "alone", progress=False)
    assert_same_state(state_of(a / "model.pt"), state_of(alone))
    # Snakemake deletes every output of a failed job, the finished runs' model.pt too: the rerun writes them
    # again from their last checkpoint (iteration 6 of 6), the same weights, without training again
    first = state_of(a / "model.pt")
    (a / "model.pt").unlink()
    (b / "model.pt").unlink()
    assert cli_main(["train", *run_args(a, **{"train.seed": 4}), "--and", *run_args(b)]) == 0
    assert_same_state(state_of(a / "model.pt"), first)
    assert_same_state(state_of(b / "model.pt"), state_of(full_run / "model.pt"))
    capsys.readouterr()
    # every run is checked before the first trains: a bad key or a shared folder stops with one line
    c, d = tmp_path / "c", tmp_path / "d"
    assert cli_main(["train", *run_args(c), "--and", *run_args(d, **{"train.bogus": 1})]) == 2
    assert "train.bogus: unknown key" in capsys.readouterr().err and not c.exists()
    assert cli_main(["train", *run_args(c), "--and", *run_args(c, **{"train.seed": 5})]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --out ") and "two runs" in err and not (c / "model.pt").exists()


@pytest.mark.slow  # fp16 on CPU is slow (several scaler-skipped steps)
def test_fp16_grad_scaler_skips_overflowing_steps_without_advancing(tree, tmp_path):
    exp = tiny_experiment(*tree, **{"train.total_iters": 2, "train.amp": "fp16"})
    out = tmp_path / "run"
    assert train_model(exp, out, progress=False).finished
    rows = read_log(out)
    done = [r for r in rows if not r["skipped"]]
    assert [r["iteration"] for r in done] == [1, 2]
    # a scaler skip (inf gradients at the initial scale 2^16) has a finite loss and no schedule step
    assert all(r["total"] is not None for r in rows)
    assert read_checkpoint(out / "checkpoints" / "iter_000002.pt")["scheduler"]["last_epoch"] == 2


def test_tiny_tree_reads_as_a_training_stream(tmp_path):
    from biggait.data.loader import make_train_loader

    data, part = write_tiny_tree(tmp_path)
    exp = tiny_experiment(data, part)
    loader = make_train_loader(exp)
    assert loader.num_classes == len(IDS)
    it, batch = next(iter(loader))
    assert it == 0
    assert batch.frames.shape == (4, 3, 3, 32, 16) and batch.labels.tolist()[0] == batch.labels.tolist()[1]


def test_amp_auto_picks_bf16_only_where_the_gpu_has_it():
    cuda = torch.device("cuda:0")
    assert resolve_amp("auto", cuda, bf16_supported=True) is torch.bfloat16
    assert resolve_amp("auto", cuda, bf16_supported=False) is torch.float16  # with the gradient scaler
    assert resolve_amp("auto", torch.device("cpu")) is None
    assert resolve_amp("fp16", cuda, bf16_supported=True) is torch.float16


def test_auto_device_refuses_a_claimed_gpu_without_cuda(monkeypatch):
    from biggait.device import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    with pytest.raises(ConfigError, match=r"CUDA_VISIBLE_DEVICES=1 gives this job a GPU but CUDA is not usable"):
        resolve_device("auto")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # no GPU for this job: the CPU, as asked
    assert resolve_device("auto").type == "cpu"


def test_deterministic_switch_and_versions(tree, tmp_path):
    exp = tiny_experiment(*tree, **{"train.total_iters": 2, "train.deterministic": True})
    try:
        result = train_model(exp, tmp_path / "run", progress=False)
        assert result.finished and torch.are_deterministic_algorithms_enabled()
    finally:
        torch.use_deterministic_algorithms(False)
    versions = json.loads((tmp_path / "run" / "versions.json").read_text())
    assert {"torch", "torch_cuda", "cudnn", "cuda_driver", "gpus"} <= versions.keys()


def test_frozen_mask_terms_stay_in_the_total_as_released(tree, tmp_path):
    exp = tiny_experiment(*tree, **{"train.total_iters": 6, "loss.frozen_mask_terms": True})
    train_model(exp, tmp_path / "run", progress=False)
    rows = read_log(tmp_path / "run")
    assert all("reconstruction" in r and "mask_smoothness" in r for r in rows)  # after the freeze at 4 too
    for r in rows:
        assert math.isclose(
            r["total"], sum(v for k, v in r.items() if k in losses._AUX or k in ("triplet", "ce")), rel_tol=1e-5
        )


def test_disk_full_while_checkpointing_keeps_the_previous_one(tree, tmp_path, monkeypatch):
    import errno

    from biggait.models import checkpoints

    exp = tiny_experiment(*tree)
    out = tmp_path / "run"
    train_model(exp, out, stop_after=3, progress=False)  # iter_000003.pt exists
    before = (out / "checkpoints" / "iter_000003.pt").read_bytes()

    def full(obj, f, *a, **k):
        with open(f, "wb") as fh:
            fh.write(b"partial")  # a partial write, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoints.torch, "save", full)
    with pytest.raises(
        CheckpointError,
        match=r"iter_000006.pt: could not write the checkpoint of iteration 6 "
        r"\(No space left on device\); the previous checkpoint .*iter_000003.pt "
        r"is intact; free space and run the same command to resume",
    ):
        train_model(exp, out, progress=False)
    assert [it for it, _ in list_checkpoints(out)] == [3]
    assert (out / "checkpoints" / "iter_000003.pt").read_bytes() == before
    assert not list((out / "checkpoints").glob(".*tmp*"))  # no partial file left behind


def test_two_trainings_into_one_run_folder_are_refused(tree, tmp_path):
    from biggait.train.state import RunLock

    out = tmp_path / "run"
    with RunLock(out):  # another training holds the folder
        with pytest.raises(BigGaitError, match=r"another training \(pid \d+\) is writing this run folder"):
            train_model(tiny_experiment(*tree), out, progress=False)
    assert train_model(tiny_experiment(*tree, **{"train.total_iters": 1}), out, progress=False).finished


def test_out_of_memory_is_one_line_and_keeps_the_checkpoint(tree, tmp_path, monkeypatch):
    exp = tiny_experiment(*tree)
    out = tmp_path / "run"
    train_model(exp, out, stop_after=3, progress=False)

    def oom(*a, **k):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(train_mod, "train_step", oom)
    with pytest.raises(
        BigGaitError,
        match=r"out of memory at iteration 4 with a batch of 4 sequences x 3 frames .*"
        r"data.batch_p=2.*the last checkpoint .*iter_000003.pt is intact",
    ):
        train_model(exp, out, progress=False)
    assert [it for it, _ in list_checkpoints(out)] == [3]
