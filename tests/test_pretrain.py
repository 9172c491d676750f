"""Self-supervised pretraining of the tiny upstream: export layout, exact resume, bad input, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from biggait.cli import main
from biggait.errors import CheckpointError, ConfigError, DataError
from biggait.models.backbone import FrozenLVM
from biggait.models.weights import load_meta_checkpoint
from biggait.pretrain.frames import Source, load_frames
from biggait.pretrain.loop import PretrainConfig, pretrain, state_path
from biggait.pretrain.mae import MAE, normalize
from tests.helpers import write_tiny_tree

CFG = PretrainConfig(variant="vits14", image_hw=(32, 16), patch=4, steps=6, batch=4, warmup=2)


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_tiny_tree(tmp_path_factory.mktemp("pt"))


def test_frames_are_rgb_of_the_train_split_only(tree: tuple[Path, Path]) -> None:
    data, part = tree
    fs = load_frames([Source("ccpg", data, part)], (32, 16), progress=False)
    assert fs.frames.dtype == torch.uint8 and tuple(fs.frames.shape[1:]) == (3, 32, 16)
    assert len(fs) == 4 * 2 * 5 and int(fs.sequence.max()) == 7
    part.with_name("empty.json").write_text(json.dumps({"TRAIN_SET": [], "TEST_SET": ["000"]}))
    with pytest.raises(DataError, match="no sequence"):
        load_frames([Source("ccpg", data, part.with_name("empty.json"))], (32, 16), progress=False)


def test_frame_workers_give_the_same_bytes(tree: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """Two one-thread processes (`--frame-workers 2`, the workflow's) resize exactly like one process, and
    keep the order of the sources and sequences."""
    from biggait.pretrain import frames as frames_mod

    monkeypatch.setattr(frames_mod, "CHUNK", 3)  # 8 sequences per source: tasks of 3, 3 and 2
    sources = [Source("ccpg", *tree), Source("ccpg", *tree)]
    one = load_frames(sources, (32, 16), progress=False)
    two = load_frames(sources, (32, 16), progress=False, workers=2)
    assert torch.equal(one.frames, two.frames) and torch.equal(one.sequence, two.sequence)
    assert int(two.sequence.max()) == 15 and torch.equal(two.frames[: len(two) // 2], two.frames[len(two) // 2 :])


@pytest.mark.parametrize("variant", ["vits14", "vitg14"])
def test_export_loads_into_the_upstream_exactly(variant: str) -> None:
    """The Meta-layout export, read by the official-checkpoint loader, gives the trained encoder."""
    torch.manual_seed(0)
    mae = MAE(variant, (32, 16), 4)
    with torch.no_grad():
        for p in mae.parameters():
            p.add_(0.05 * torch.randn_like(p))
    lvm = FrozenLVM(variant, True, (32, 16), 4)
    before, _ = lvm(normalize(torch.rand(2, 3, 32, 16) * 255))
    from biggait.models.weights import load_meta_state_dict

    load_meta_state_dict(lvm, mae.meta_state_dict(), "export")
    x = normalize(torch.rand(2, 3, 32, 16) * 255)
    mae.eval()
    with torch.no_grad():
        ref = mae.encode(x)[:, 1:].reshape(2, 8, 4, -1)
    last, _ = lvm(x)
    torch.testing.assert_close(last, ref, rtol=0, atol=1e-6)
    assert not torch.allclose(before, last[:, :, :, :])  # the weights did change


def test_resume_gives_the_same_weights(tree: tuple[Path, Path], tmp_path: Path) -> None:
    data, part = tree
    src = [Source("ccpg", data, part)]
    fs = load_frames(src, CFG.image_hw, progress=False)
    straight, halves = tmp_path / "a.pth", tmp_path / "b.pth"
    assert pretrain(CFG, fs, src, straight, progress=False)
    assert not pretrain(CFG, fs, src, halves, progress=False, stop_after=3, save_every=2)
    assert state_path(halves).is_file() and not halves.exists()
    assert pretrain(CFG, fs, src, halves, progress=False, save_every=2)
    a, b = torch.load(straight, weights_only=True), torch.load(halves, weights_only=True)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert not state_path(halves).exists()
    prov = json.loads(straight.with_name("a.pth.json").read_text())
    assert prov["objective"] == "mae+tcl" and prov["config"]["steps"] == 6 and prov["frames"] == len(fs)
    assert prov["data"][0]["split"] == "train" and "none" in prov["labels_used"]
    # The weights load as a Meta checkpoint of the configured tiny model.
    load_meta_checkpoint(FrozenLVM("vits14", True, (32, 16), 4), straight)
    with pytest.raises(CheckpointError, match="embed_dim"):
        load_meta_checkpoint(FrozenLVM("vitb14", True, (32, 16), 4), straight)


def test_state_of_other_settings_is_refused(tree: tuple[Path, Path], tmp_path: Path) -> None:
    data, part = tree
    src = [Source("ccpg", data, part)]
    fs = load_frames(src, CFG.image_hw, progress=False)
    out = tmp_path / "w.pth"
    pretrain(CFG, fs, src, out, progress=False, stop_after=2, save_every=2)
    other = PretrainConfig(**{**CFG.__dict__, "lr": 0.01})
    with pytest.raises(CheckpointError, match="lr: 0.001 -> 0.01"):
        pretrain(other, fs, src, out, progress=False)


def test_pretraining_lowers_the_reconstruction_loss(tree: tuple[Path, Path], tmp_path: Path) -> None:
    data, part = tree
    src = [Source("ccpg", data, part)]
    fs = load_frames(src, CFG.image_hw, progress=False)
    cfg = PretrainConfig(**{**CFG.__dict__, "steps": 60, "batch": 16, "warmup": 5})
    out = tmp_path / "l.pth"
    pretrain(cfg, fs, src, out, progress=False)
    curve = json.loads(out.with_name("l.pth.json").read_text())["loss_curve"]
    assert curve[0][0] == 1 and curve[-1][1] < 0.93 * curve[0][1], curve


def test_cli_bad_inputs(tree: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    data, part = tree
    assert main(["pretrain-lvm", "--data", "ccpg", "--out", str(tmp_path / "x.pth")]) == 2
    assert "DATASET=ROOT:PARTITION" in capsys.readouterr().err
    assert (
        main(["pretrain-lvm", "--data", f"ccpg={data}:{part}", "--steps", "0", "--out", str(tmp_path / "x.pth")]) == 2
    )
    assert "steps" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())
    with pytest.raises(ConfigError, match="lvm_patch"):
        FrozenLVM("vits14", False, (32, 16), 4)


@pytest.mark.parametrize("objective", ["mae", "tcl", "mae+tcl"])
def test_every_objective_trains(tree: tuple[Path, Path], tmp_path: Path, objective: str) -> None:
    data, part = tree
    src = [Source("ccpg", data, part)]
    fs = load_frames(src, CFG.image_hw, progress=False)
    cfg = PretrainConfig(**{**CFG.__dict__, "objective": objective, "steps": 3})
    out = tmp_path / f"{objective}.pth"
    assert pretrain(cfg, fs, src, out, progress=False)
    curve = json.loads(out.with_name(out.name + ".json").read_text())["loss_curve"]
    assert all(v == v and v > 0 for _, v in curve)  # finite, positive
    with pytest.raises(ConfigError, match="objective"):
        PretrainConfig(objective="dino").check()


def test_hue_rotation_keeps_grey_and_strong_colour_changes_hue() -> None:
    from biggait.pretrain.mae import hue_rotation, strong_colour

    rot = hue_rotation(torch.tensor([0.0, 1.0, 2.0 * torch.pi / 3]))
    torch.testing.assert_close(rot[0], torch.eye(3))
    grey = torch.full((3,), 100.0)
    torch.testing.assert_close(rot[1] @ grey, grey)  # grey stays grey
    torch.testing.assert_close(rot[2] @ torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 1.0, 0.0]), atol=1e-6, rtol=0)
    x = torch.rand(8, 3, 4, 2) * 255
    y = strong_colour(x, torch.Generator().manual_seed(0))
    torch.testing.assert_close(y.mean(1), x.mean(1), atol=1e-3, rtol=0)  # the grey level of every pixel is kept
    assert (y - x).abs().max() > 10  # but the colours moved


@pytest.mark.parametrize("recipe", [{"colour": "strong"}, {"target": "grey"}, {"encoder_pos": False}])
def test_recipe_options_train(tree: tuple[Path, Path], tmp_path: Path, recipe: dict) -> None:
    data, part = tree
    src = [Source("ccpg", data, part)]
    fs = load_frames(src, CFG.image_hw, progress=False)
    cfg = PretrainConfig(**{**CFG.__dict__, "objective": "mae", "steps": 3, **recipe})
    out = tmp_path / "r.pth"
    assert pretrain(cfg, fs, src, out, progress=False)
    sd = torch.load(out, weights_only=True)
    if recipe.get("encoder_pos") is False:  # the exported positional embedding is the untrained zero
        assert not sd["pos_embed"].any()
    lvm = FrozenLVM("vits14", True, CFG.image_hw, 4)
    load_meta_checkpoint(lvm, out)
    with pytest.raises(ConfigError, match="colour"):
        PretrainConfig(colour="vivid").check()
    with pytest.raises(ConfigError, match="target"):
        PretrainConfig(target="hog").check()
