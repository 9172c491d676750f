"""Checkpoints: our format, official Meta DINOv2 files, OpenGait checkpoints, and refusals."""

from __future__ import annotations

import argparse
import dataclasses

import pytest
import torch

from biggait.config import ModelConfig, load_experiment, replace
from biggait.errors import CheckpointError
from biggait.models import build_model, load_checkpoint, load_model, save_checkpoint
from biggait.models.backbone import FrozenLVM, interpolate_pos_embed
from biggait.models.weights import load_meta_checkpoint, load_opengait_state_dict, map_opengait_key, read_weights

EXP = load_experiment(None, scale="demo")


def _meta_dict(variant: str, seed: int = 0) -> dict:
    """A Meta-layout state dict of a tiny ViT (37x37+cls pos-embed, mask token)."""
    torch.manual_seed(seed)
    lvm = FrozenLVM(variant, True, (112, 56))
    sd = {k: v.clone() for k, v in lvm.vit.state_dict().items()}
    sd["pos_embed"] = torch.randn(1, 1 + 37 * 37, lvm.embed_dim)
    sd["mask_token"] = torch.zeros(1, lvm.embed_dim)
    return sd


def test_meta_checkpoint_loads_with_original_interpolation(tmp_path):
    sd = _meta_dict("vits14")
    path = tmp_path / "dinov2_vits14_pretrain.pth"
    torch.save({k: v.half() for k, v in sd.items()}, path)  # stored fp16 like the goldens
    lvm = FrozenLVM("vits14", True, (112, 56))
    load_meta_checkpoint(lvm, path)
    pos = sd["pos_embed"].half().float()
    expect = torch.cat([pos[:, :1], interpolate_pos_embed(pos[:, 1:], (8, 4))], dim=1)
    assert torch.equal(lvm.vit.pos_embed.data, expect)
    assert torch.equal(lvm.vit.blocks[0].attn.qkv.weight.data, sd["blocks.0.attn.qkv.weight"].half().float())


def test_meta_checkpoint_of_another_size_is_refused(tmp_path):
    path = tmp_path / "dinov2_vitb14_pretrain.pth"
    torch.save(_meta_dict("vitb14"), path)
    with pytest.raises(CheckpointError, match=r"embed_dim 52.*but the model is vits14"):
        load_meta_checkpoint(FrozenLVM("vits14", True, (112, 56)), path)


def test_missing_meta_checkpoint_names_the_official_file(tmp_path):
    cfg = dataclasses.replace(EXP.model, lvm_checkpoint=str(tmp_path / "nope.pth"))
    with pytest.raises(
        CheckpointError,
        match=r"dinov2_vits14_pretrain\.pth.*https://dl\.fbaipublicfiles\.com/dinov2/"
        r"dinov2_vits14/dinov2_vits14_pretrain\.pth",
    ):
        build_model(cfg, 4)


def test_golden_backbone_as_meta_file_equals_opengait_load(golden_weights, tmp_path):
    full = read_weights(golden_weights)
    meta = {k[len("backbone.") :]: v for k, v in full.items() if k.startswith("backbone.")}
    path = tmp_path / "dinov2_vits14_pretrain.pth"
    torch.save(meta, path)
    a = FrozenLVM("vits14", False, (448, 224))
    load_meta_checkpoint(a, path)
    b = build_model(ModelConfig(), 100, load_lvm=False)
    load_opengait_state_dict(b, full)
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.lvm.state_dict()[k]), k


def test_opengait_key_mapping_and_unknown_keys(golden_weights):
    assert map_opengait_key("gait_net.pre_part.forward_block.conv1.conv.weight") == "gaitbase.stems.0.conv.weight"
    assert map_opengait_key("gait_net.pre_rgb.forward_block.layer1.0.bn2.bias") == "gaitbase.stems.1.block.bn2.bias"
    assert map_opengait_key("Denoising_Branch.down_sampling.3.weight") == "gre.denoising.proj.3.weight"
    assert map_opengait_key("Mask_Branch.bn_t.running_mean") is None
    sd = dict(read_weights(golden_weights))
    sd["gait_net.extra_head.weight"] = torch.zeros(3)
    model = build_model(ModelConfig(), 100, load_lvm=False)
    with pytest.raises(CheckpointError, match="unknown OpenGait keys gait_net.extra_head.weight"):
        load_opengait_state_dict(model, {"model": sd})


def test_opengait_checkpoint_into_wrong_architecture(golden_weights):
    sd = read_weights(golden_weights)
    model = build_model(dataclasses.replace(ModelConfig(), appearance_branch=False), 100, load_lvm=False)
    with pytest.raises(CheckpointError, match="unexpected: gre.appearance"):
        load_opengait_state_dict(model, sd)


def test_load_model_of_an_opengait_checkpoint(golden_weights, tmp_path):
    path = tmp_path / "BigGait_CCPG-40000.pt"
    torch.save({"model": read_weights(golden_weights), "iteration": 40000}, path)
    model, exp = load_model(path)
    assert model.num_classes == 100 and not model.training and exp.model.lvm == "vits14"


def test_own_checkpoint_roundtrip(tmp_path):
    torch.manual_seed(0)
    model = build_model(EXP.model, 4)
    opt = torch.optim.SGD(model.trainable_parameters(), lr=0.1, momentum=0.9)
    path = tmp_path / "ckpt" / "model.pt"
    save_checkpoint(path, model, EXP, 4, 120, {"optimizer": opt.state_dict()})
    raw = load_checkpoint(path)
    assert raw["iteration"] == 120 and raw["format"] == "biggait-repro/1" and "optimizer" in raw
    again, exp = load_model(path)
    assert exp == EXP and again.gre.mask_frozen  # 120 >= mask_train_iters (40)
    x, r = torch.randn(1, 2, 3, 112, 56), torch.full((1, 2), 0.5)
    model.eval()
    assert torch.equal(model(x, r).embeddings, again(x, r).embeddings)
    assert [p.name for p in path.parent.iterdir()] == ["model.pt"]  # nothing partial left


def test_checkpoint_of_another_variant_names_mismatching_keys(tmp_path):
    torch.manual_seed(0)
    other = replace(EXP, model={"lvm": "vitb14"})
    path = tmp_path / "b.pt"
    save_checkpoint(path, build_model(other.model, 4), other, 4, 0)
    raw = torch.load(path, weights_only=True)
    raw["experiment"] = dataclasses.asdict(EXP) | {"model": {**raw["experiment"]["model"], "lvm": "vits14"}}
    raw["experiment"]["model"]["channels"] = list(EXP.model.channels)
    torch.save(raw, path)
    with pytest.raises(CheckpointError, match=r"shape mismatch: lvm\.vit\.\S+ \("):
        load_model(path)


def test_pickled_object_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    # Any non-tensor global (here an argparse.Namespace) is rejected by weights_only=True.
    torch.save({"format": "biggait-repro/1", "model": {}, "payload": argparse.Namespace(cmd="rm")}, path)
    with pytest.raises(CheckpointError, match="refusing to load: the file holds pickled Python objects"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "absent.pt")


def test_junk_or_truncated_checkpoint_is_one_clear_error(tmp_path):
    from biggait.errors import CheckpointError
    from biggait.models.weights import read_weights

    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"junk")
    with pytest.raises(CheckpointError, match="junk.pt: not a readable torch checkpoint"):
        read_weights(junk)
    import torch

    good = tmp_path / "good.pt"
    torch.save({"w": torch.ones(1000)}, good)
    cut = tmp_path / "cut.pt"
    cut.write_bytes(good.read_bytes()[:300])
    with pytest.raises(CheckpointError, match="cut.pt: not a readable torch checkpoint"):
        read_weights(cut)


@pytest.mark.slow
def test_load_model_accepts_a_bare_opengait_state_dict(golden_dir, golden_weights):
    """The golden file is OpenGait's ``model`` state dict alone: load_model builds the released
    configuration from it and reproduces the golden embeddings."""
    import numpy as np

    from biggait.parity.tolerances import EMB_ATOL

    model, exp = load_model(golden_weights)
    assert exp.model.lvm == "vits14" and not model.training
    case = np.load(golden_dir / "fwd_ccpg_prepadded_n2s6.npz")
    with torch.no_grad():
        out = model(torch.from_numpy(case["input_norm"]), torch.from_numpy(case["ratios"]))
    assert torch.allclose(out.embeddings, torch.from_numpy(case["embed_1"]), atol=EMB_ATOL)


def test_lvm_from_a_file_is_not_stored_but_rebuilt(tmp_path):
    meta = tmp_path / "dinov2_vits14_pretrain.pth"
    torch.save(_meta_dict("vits14", seed=3), meta)
    exp = replace(EXP, model={"lvm_checkpoint": str(meta)})
    torch.manual_seed(0)
    model = build_model(exp.model, 4)
    path = tmp_path / "model.pt"
    save_checkpoint(path, model, exp, 4, 120)
    raw = load_checkpoint(path)
    assert raw["lvm_from_file"] == str(meta) and not any(k.startswith("lvm.") for k in raw["model"])
    again, _ = load_model(path)
    x, r = torch.randn(1, 2, 3, 112, 56), torch.full((1, 2), 0.5)
    model.eval()
    assert torch.equal(model(x, r).embeddings, again(x, r).embeddings)
    meta.unlink()  # the LVM file is needed to rebuild the model: a clear error names it
    with pytest.raises(CheckpointError, match="dinov2_vits14_pretrain.pth"):
        load_model(path)
