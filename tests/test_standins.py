"""The released stand-in upstreams (standins/): checksums, the Meta-layout round trip, the recorded
recipe, and that the recorded command's first steps come back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from biggait import standins
from biggait.errors import CheckpointError
from biggait.models.backbone import FrozenLVM
from biggait.models.weights import load_meta_checkpoint
from biggait.pretrain.frames import Source, load_frames
from biggait.pretrain.loop import PretrainConfig, pretrain, state_path
from biggait.pretrain.mae import MAE, normalize

REPO = Path(__file__).resolve().parent.parent
VARIANTS = ("vits14", "vitb14", "vitl14", "vitg14")  # the demo's experiments' upstreams (LVM-size table)
HW, PATCH = (64, 32), 4  # the demo canvas (config/scales/demo.yaml)


def provenance(variant: str) -> dict:
    return json.loads(standins.standin_path(variant).with_name(f"{variant}_tiny.pth.json").read_text())


def test_every_shipped_file_matches_its_checksum() -> None:
    sums = standins.recorded_sums()
    assert set(sums) == {f"{v}_tiny.pth{ext}" for v in VARIANTS for ext in ("", ".json")}
    assert standins.verify() == []


def test_a_changed_or_missing_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / "a.pth").write_bytes(b"weights")
    standins.write_sums(["a.pth"], tmp_path)
    assert standins.verify(tmp_path) == []
    (tmp_path / "a.pth").write_bytes(b"weightz")
    assert "differs" in standins.verify(tmp_path)[0]
    (tmp_path / "a.pth").unlink()
    assert "missing" in standins.verify(tmp_path)[0]
    (tmp_path / standins.SUMS_FILE).write_text("abc a.pth\n")
    with pytest.raises(CheckpointError, match="expected '<sha256>  <file name>'"):
        standins.verify(tmp_path)


def _mae_from_meta(variant: str, sd: dict) -> MAE:
    """The Meta-layout file back into the pretraining model's encoder (the inverse of meta_state_dict)."""
    mae = MAE(variant, HW, PATCH)
    vit = {
        k.replace(".mlp.w12.", ".mlp.fc1.").replace(".mlp.w3.", ".mlp.fc2.") if mae._swiglu() else k: v
        for k, v in sd.items()
        if k not in ("pos_embed", "mask_token")
    }
    vit["pos_embed"] = mae.vit.pos_embed.detach()  # unused by MAE.encode (it resamples pos_square)
    mae.vit.load_state_dict(vit)
    with torch.no_grad():
        mae.cls_pos.copy_(sd["pos_embed"][:, :1])
        mae.pos_square.copy_(sd["pos_embed"][:, 1:])
    return mae.eval()


@pytest.mark.parametrize("variant", VARIANTS)
def test_meta_layout_round_trip(variant: str) -> None:
    """File -> pretraining encoder -> Meta layout gives the file back bit for bit, and the upstream that
    the official-checkpoint loader builds from the file computes what that encoder computes."""
    path = standins.standin_path(variant)
    sd = torch.load(path, map_location="cpu", weights_only=True)
    mae = _mae_from_meta(variant, sd)
    again = mae.meta_state_dict()
    assert set(again) == set(sd) and all(torch.equal(again[k], sd[k]) for k in sd)
    lvm = FrozenLVM(variant, True, HW, PATCH)
    load_meta_checkpoint(lvm, path)
    x = normalize(torch.rand(2, 3, *HW, generator=torch.Generator().manual_seed(0)) * 255)
    with torch.no_grad():
        ref = mae.encode(x)[:, 1:].reshape(2, HW[0] // PATCH, HW[1] // PATCH, -1)
        last, _ = lvm(x)
    torch.testing.assert_close(last, ref, rtol=0, atol=1e-5)


@pytest.mark.parametrize("variant", VARIANTS)
def test_provenance_is_the_released_recipe_and_label_free(variant: str) -> None:
    """The shipped file was made with standins.RECIPE (what `pretrain_lvm: {source: pretrain, **RECIPE}`
    re-creates), from the three training splits, without labels."""
    prov = provenance(variant)
    for key, value in standins.RECIPE.items():
        assert prov["config"][key] == value, key
    assert prov["config"]["variant"] == variant and prov["labels_used"].startswith("none")
    assert [d["split"] for d in prov["data"]] == ["train"] * 3
    assert prov["loss_curve"][-1][0] == prov["config"]["steps"]


def test_the_recorded_command_starts_as_it_did(ci_results: Path, tmp_path: Path) -> None:
    """The shipped ViT-S's recorded recipe, seed and data (the demo's SynthGait training frames, here the
    CI DAG's) give the step-1 loss its provenance recorded, and twice the same first steps."""
    prov = provenance("vits14")
    cfg = PretrainConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in prov["config"].items()})
    syn = ci_results / "data" / "synthgait"
    src = [Source(d["dataset"], syn / d["dataset"], syn / f"{d['dataset']}.json") for d in prov["data"]]
    frames = load_frames(src, cfg.image_hw, progress=False)
    assert len(frames) == prov["frames"]
    states = []
    for run in ("a", "b"):
        out = tmp_path / run / "v.pth"
        out.parent.mkdir()
        assert not pretrain(cfg, frames, src, out, progress=False, stop_after=2, save_every=10**9)
        states.append(torch.load(state_path(out), weights_only=True))
    assert all(torch.equal(states[0]["model"][k], states[1]["model"][k]) for k in states[0]["model"])
    step1 = states[0]["curve"][0]
    assert step1[0] == 1 == prov["loss_curve"][0][0]
    # float32 across CPUs: the loss of step 1 to 1e-3 relative (the curve is recorded to 5 decimals)
    assert step1[1] == pytest.approx(prov["loss_curve"][0][1], rel=1e-3)
