"""Released BiggerGait files: the explicit coverage check, both head key families, the mask-branch file, and
HuggingFace DINOv2 folders (safetensors / pytorch_model.bin, both attention spellings) as upstreams."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from biggait.errors import CheckpointError, DataError
from biggait.models.biggergait_weights import (
    CoverageError,
    backbone_of,
    load_mask_file,
    load_released_state_dict,
    released_model_config,
)
from biggait.models.checkpoints import load_model
from biggait.models.hf_dinov2 import hf_to_meta, load_hf_folder
from tests.biggergait_golden import full_parity, golden_folder

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def biggergait_dir() -> Path:
    return golden_folder()


GROUP = "biggergait_group_ccpg_opengait_fp16.pt"
DEFAULT = "biggergait_ccpg_opengait_fp16_nobackbone.pt"
HF_CONFIG = {
    "model_type": "dinov2",
    "hidden_size": 384,
    "num_hidden_layers": 12,
    "num_attention_heads": 6,
    "patch_size": 14,
    "image_size": 518,
    "use_swiglu_ffn": False,
}


@pytest.fixture(scope="module")
def group(biggergait_dir):
    """(the Group state dict, a model built from it)."""
    sd = torch.load(biggergait_dir / GROUP, map_location="cpu", weights_only=True)["model"]
    model, _ = load_model(biggergait_dir / GROUP)
    return sd, model


def _hf_folder(path, backbone: dict, weights: str = "model.safetensors", cfg: dict | None = None):
    path.mkdir()
    (path / "config.json").write_text(json.dumps(cfg or HF_CONFIG))
    tensors = {k: v.float().contiguous() for k, v in backbone.items()}
    if weights.endswith(".safetensors"):
        save_file(tensors, str(path / weights))
    else:
        torch.save(tensors, path / weights)
    return path


def test_released_group_checkpoint_fills_every_tensor(group):
    sd, model = group
    cfg = model.cfg
    assert (model.groups, len(model.heads.heads), cfg.lvm, cfg.num_classes) == (6, 2, "vits14", 100)
    assert cfg.biggergait.layers_per_group == 2 and cfg.channels == (16, 32, 64, 128) and cfg.embed_dim == 64
    own = model.state_dict()
    assert torch.equal(own["heads.heads.1.fcs.fc_bin"], sd["Gait_Net.real_gait.1.FCs.fc_bin"].float())
    assert torch.equal(own["humanspace.proj.5.4.bias"], sd["HumanSpace_Conv.5.4.bias"].float())
    assert torch.equal(own["mask.bn_in.running_var"], sd["Mask_Branch.bn_s.running_var"].float())
    qkv = own["lvm.vit.blocks.3.attn.qkv.weight"]
    assert torch.equal(qkv[384:768], sd["Backbone.encoder.layer.3.attention.attention.key.weight"].float())


@pytest.mark.parametrize(
    "edit, message",
    [
        (
            lambda sd: [
                sd.pop(k)
                for k in (
                    "Gait_Net.real_gait.1.FCs.fc_bin",
                    "Gait_Net.Gait_List.3.FCs.fc_bin",
                    "Gait_Net.Gait_List.4.FCs.fc_bin",
                    "Gait_Net.Gait_List.5.FCs.fc_bin",
                )
            ],
            "missing tensor.*heads.heads.1.fcs.fc_bin",
        ),
        (
            lambda sd: sd.__setitem__("HumanSpace_Conv.0.9.weight", torch.zeros(1)),
            "unexpected.*HumanSpace_Conv.0.9.weight",
        ),
        (
            lambda sd: sd.__setitem__("HumanSpace_Conv.2.4.bias", torch.zeros(17)),
            "mis-shaped.*HumanSpace_Conv.2.4.bias",
        ),
        (
            lambda sd: sd.__setitem__("Gait_Net.Gait_List.4.BNNecks.bn1d.bias", torch.ones(2048)),
            "Gait_List.4.BNNecks.bn1d.bias disagrees with Gait_Net.real_gait.1",
        ),
        (lambda sd: sd.pop("Backbone.encoder.layer.7.mlp.fc1.bias"), "blocks.7.mlp.fc1.bias"),
        (lambda sd: sd.__setitem__("Backbone.pooler.weight", torch.zeros(1)), "Backbone.*pooler.weight"),
    ],
)
def test_a_missing_extra_misshaped_or_conflicting_tensor_is_named(group, edit, message):
    sd, model = group
    broken = dict(sd)
    edit(broken)
    with pytest.raises(CoverageError, match=message) as err:
        load_released_state_dict(model, broken, "ckpt.pt")
    assert isinstance(err.value, DataError) and isinstance(err.value, CheckpointError)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("family", ["real_gait", "Gait_List"])
def test_either_head_key_family_alone_fills_the_heads(group, family):
    sd, model = group
    other = "Gait_List" if family == "real_gait" else "real_gait"
    only = {k: v for k, v in sd.items() if not k.startswith(f"Gait_Net.{other}.")}
    fresh = type(model)(model.cfg, 100)
    load_released_state_dict(fresh, only, "one-family.pt")
    assert all(torch.equal(a, b) for a, b in zip(fresh.state_dict().values(), model.state_dict().values()))
    assert released_model_config(only, model.cfg, "x").biggergait.layers_per_group == 2


def test_checkpoint_without_backbone_needs_an_upstream_folder(group, biggergait_dir, tmp_path):
    sd, group_model = group
    with pytest.raises(CoverageError, match="no Backbone"):
        load_model(biggergait_dir / DEFAULT)
    folder = _hf_folder(tmp_path / "dinov2-small", backbone_of(sd))
    model, exp = load_model(biggergait_dir / DEFAULT, lvm_file=folder)
    assert model.groups == 12 and len(model.heads.heads) == 12 and exp.model.lvm_checkpoint == str(folder)
    lvm_a, lvm_b = model.lvm.state_dict(), group_model.lvm.state_dict()
    assert all(torch.equal(lvm_a[k], lvm_b[k]) for k in lvm_a)


def test_hf_folder_as_bin_with_transformers5_names_and_mismatches(group, tmp_path):
    sd, model = group
    renamed = {
        re.sub(r"attention\.attention\.(query|key|value)\.", lambda m: f"attention.{m.group(1)[0]}_proj.", k).replace(
            "attention.output.dense.", "attention.o_proj."
        ): v
        for k, v in backbone_of(sd).items()
    }
    folder = _hf_folder(tmp_path / "bin", renamed, "pytorch_model.bin")
    fresh = type(model)(model.cfg, 100)
    load_hf_folder(fresh.lvm, folder)
    assert torch.equal(fresh.lvm.vit.blocks[11].attn.proj.weight, model.lvm.vit.blocks[11].attn.proj.weight)
    wide = _hf_folder(tmp_path / "base", backbone_of(sd), cfg={**HF_CONFIG, "hidden_size": 768})
    with pytest.raises(CheckpointError, match="hidden_size.*768"):
        load_hf_folder(fresh.lvm, wide)
    with pytest.raises(CheckpointError, match="query, key and value"):
        hf_to_meta({k: v for k, v in backbone_of(sd).items() if ".0.attention.attention.value." not in k}, "x")


def test_mask_branch_file_loads_exactly(group, biggergait_dir, tmp_path):
    sd, model = group
    fresh = type(model)(model.cfg, 100)
    load_mask_file(fresh.mask, biggergait_dir / "MaskBranch_vits14.pt")
    assert torch.equal(fresh.mask.recon.weight, sd["Mask_Branch.up_sampling.weight"].float())
    raw = torch.load(biggergait_dir / "MaskBranch_vits14.pt", weights_only=True)
    raw["model"].pop("bn_t.running_var")
    torch.save(raw, tmp_path / "mask.pt")
    with pytest.raises(CoverageError, match="missing tensor.*bn_out.running_var"):
        load_mask_file(fresh.mask, tmp_path / "mask.pt")


def _tiny_ccpg(tmp_path: Path) -> tuple[Path, Path]:
    """A CCPG tree of 2 identities x 7 types x 2 views, one 32x16 frame each, and its partition."""
    import numpy as np

    from biggait.data.pickles import save_array

    rng = np.random.default_rng(0)
    root, ids = tmp_path / "ccpg", ("100", "101")
    for sid in ids:
        for t in ("U0_D0_BG", "U0_D0", "U1_D1", "U2_D2", "U3_D3", "U0_D3", "U1_D0"):
            for v in ("01_x", "02_y"):
                rgb = rng.integers(0, 60, size=(1, 3, 32, 16), dtype=np.uint8)
                rgb[:, :, 6:28, 4:12] += np.uint8(150 + 40 * ids.index(sid))
                save_array(root / sid / t / v / f"{v}-aligned-rgbs.pkl", rgb)
                save_array(root / sid / t / v / f"{v}-ratios.pkl", np.full(1, 0.45, np.float32))
    part = tmp_path / "ccpg.json"
    part.write_text(json.dumps({"TRAIN_SET": [], "TEST_SET": list(ids)}))
    return root, part


def _evaluate(checkpoint: Path, root: Path, part: Path, out: Path, *extra: str) -> int:
    from biggait.cli import main

    args = ["evaluate", "--checkpoint", str(checkpoint), "--dataset", "ccpg", "--root", str(root)]
    args += ["--partition", str(part), "--out", str(out), "--device", "cpu", "--bootstrap", "0"]
    return main([*args, "--pack-frames", "28", "--no-mask-iou", *extra])


@full_parity  # ~15 s: 28 frames through the full-size ViT-S
def test_biggait_evaluate_scores_a_released_checkpoint(biggergait_dir, tmp_path):
    """`biggait evaluate` on the golden Group checkpoint, as released (no conversion step), on a tiny CCPG tree."""
    import csv

    import numpy as np

    root, part = _tiny_ccpg(tmp_path)
    out = tmp_path / "eval"
    assert _evaluate(biggergait_dir / GROUP, root, part, out) == 0
    emb = np.load(out / "embeddings.npz")
    assert emb["features"].shape == (28, 64, 192)
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    assert any(r["metric"].startswith("rank1") for r in rows)


def test_biggait_evaluate_asks_for_the_lvm_of_a_checkpoint_without_backbone(group, biggergait_dir, tmp_path, capsys):
    """The released 12-head checkpoint holds no Backbone.*: `biggait evaluate` stops with one error line naming
    --lvm-checkpoint; given the HuggingFace folder of the LVM it was trained on, it scores the checkpoint."""
    sd, _ = group
    root, part = _tiny_ccpg(tmp_path)
    assert _evaluate(biggergait_dir / DEFAULT, root, part, tmp_path / "eval") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no Backbone.* tensors" in err[0] and "--lvm-checkpoint" in err[0]
    assert not (tmp_path / "eval").exists()
    if not os.environ.get("BIGGAIT_FULL_PARITY"):
        return  # the scoring run: ~30 s of the 12-head model
    folder = _hf_folder(tmp_path / "dinov2-small", backbone_of(sd))
    assert _evaluate(biggergait_dir / DEFAULT, root, part, tmp_path / "eval", "--lvm-checkpoint", str(folder)) == 0
    assert (tmp_path / "eval" / "metrics.csv").is_file()


def test_lvm_checkpoint_is_refused_for_a_checkpoint_that_carries_its_lvm(biggergait_dir, tmp_path, capsys):
    """--lvm-checkpoint never silently replaces weights a checkpoint holds: the Group checkpoint has its
    Backbone.*, so the flag is an error naming the checkpoint (before any extraction)."""
    root, part = _tiny_ccpg(tmp_path)
    folder = tmp_path / "dinov2-small"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "dinov2"}))
    (folder / "model.safetensors").write_bytes(b"")
    assert _evaluate(biggergait_dir / GROUP, root, part, tmp_path / "eval", "--lvm-checkpoint", str(folder)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "holds its own LVM" in err[0] and GROUP in err[0]
    assert not (tmp_path / "eval").exists()
