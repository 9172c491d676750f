"""BigGait at demo scale: shapes, schedule, ablation switches, the silhouette baseline, bad input."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from biggait.config import LossConfig, ModelConfig, load_experiment
from biggait.errors import ConfigError, DataError
from biggait.models import build_model
from biggait.models.backbone import VARIANTS, FrozenLVM, mid4_indices
from biggait.models.extractor import clean_foreground, resolve_polarity
from biggait.models.gaitbase import horizontal_pooling
from biggait.models.losses import compose

DEMO = load_experiment(None, scale="demo").model


def _batch(n: int = 4, s: int = 3, h: int = 112, w: int = 56, c: int = 3, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    frames = torch.randn(n, s, c, h, w, generator=g)
    ratios = torch.full((n, s), 0.45)
    labels = torch.arange(n // 2).repeat_interleave(2)
    return frames, ratios, labels


def _model(**changes) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(dataclasses.replace(DEMO, **changes), 4)


def test_demo_forward_shapes_and_maps():
    model = _model().eval()
    frames, ratios, _ = _batch()
    out = model(frames, ratios, return_maps=True)
    assert out.embeddings.shape == (4, 64, 16) and out.bnneck.shape == (4, 64, 16)
    assert out.logits.shape == (4, 4, 16)
    assert out.maps["foreground"].shape == (12, 16, 8) and out.maps["valid"].shape == (
        12,
        16,
        8,
    )  # 16x8: the token grid
    assert out.maps["denoising"].shape == (4, 16, 3, 16, 8)
    assert out.aux == {}  # eval mode: no auxiliary losses
    assert torch.isfinite(out.embeddings).all()
    # ratio 0.3 < 0.5: the offline pad columns are invalid (at ratio 0.45 they are under one column of
    # the 8-wide map). (The dilation / erosion clean-up may still reach into them next to the body, as
    # in the released code.)
    out = model(frames, torch.full_like(ratios, 0.3), return_maps=True)
    assert out.maps["valid"][:, :, 0].sum() == 0 and out.maps["valid"][:, :, 4].min() == 1


def test_training_step_mask_schedule_and_frozen_lvm():
    model = _model(mask_train_iters=2)
    frames, ratios, labels = _batch()
    model.train()
    assert not model.lvm.training  # the LVM stays in eval mode
    n_all = len(model.trainable_parameters())
    assert all(not p.requires_grad for p in model.lvm.parameters())
    model.set_iteration(0)
    out = model(frames, ratios)
    assert set(out.aux) == {"reconstruction", "mask_smoothness", "denoising_smoothness", "diversity"}
    terms = compose(out, labels, LossConfig())
    terms["total"].backward()
    mask_grad = model.gre.mask.proj.weight.grad
    assert mask_grad is not None and mask_grad.abs().sum() > 0
    model.set_iteration(2)  # freeze
    assert model.gre.mask_frozen and not model.gre.mask.training
    assert len(model.trainable_parameters()) < n_all
    model.zero_grad(set_to_none=True)
    out = model(frames, ratios)
    # frozen: its two terms are still computed and reported (the released total), without gradient
    assert {"reconstruction", "mask_smoothness"} <= set(out.aux)
    assert not out.aux["reconstruction"].requires_grad and not out.aux["mask_smoothness"].requires_grad
    compose(out, labels, LossConfig())["total"].backward()
    assert model.gre.mask.proj.weight.grad is None
    assert model.gaitbase.fcs.fc_bin.grad is not None
    model.loss_cfg = LossConfig(frozen_mask_terms=False)  # the demo's setting: skipped after the freeze
    out = model(frames, ratios)
    assert "reconstruction" not in out.aux and "mask_smoothness" not in out.aux


def test_zero_weight_terms_are_not_computed():
    model = build_model(DEMO, 4, LossConfig(diversity_weight=0.0, mask_smoothness_weight=0.0)).train()
    out = model(*_batch()[:2])
    assert "diversity" not in out.aux and "mask_smoothness" not in out.aux and "reconstruction" in out.aux


def test_black_da_is_out_of_place_and_backward_works():
    model = _model(black_da_ratio=1.0)  # every sequence gets one map zeroed
    frames, ratios, labels = _batch()
    model.train()
    out = model(frames, ratios, return_maps=True)
    maps = out.maps
    per_seq = [(maps["denoising"][i].abs().sum() == 0) ^ (maps["appearance"][i].abs().sum() == 0) for i in range(4)]
    assert all(per_seq)
    compose(out, labels, LossConfig())["total"].backward()  # no in-place error


@pytest.mark.parametrize(
    "changes",
    [
        dict(mask_branch=False),
        dict(appearance_branch=False),
        dict(denoising_branch=False),
        dict(smoothness="per_channel"),
        dict(pad_and_resize=False),
        dict(black_da=False),
        dict(taps="last"),
        dict(taps="mid4"),
        dict(lvm="vitb14_reg4"),
    ],
)
def test_ablation_switches_train(changes):
    """Every switch still trains (finite loss, a backward); what each one changes is asserted below."""
    model = _model(**changes).train()
    frames, ratios, labels = _batch(h=64, w=64)  # square frames: the Pad-and-Resize path
    terms = compose(model(frames, ratios), labels, LossConfig())
    terms["total"].backward()
    assert torch.isfinite(terms["total"])


def _maps(model, frames, ratios, train=False):
    model.train(train)
    trace: dict = {}
    out = model(frames, ratios, return_maps=True, trace=trace)
    return out, trace


def test_mask_branch_off_makes_every_valid_pixel_foreground():
    frames, ratios, labels = _batch(h=64, w=64)
    model = _model(mask_branch=False)
    assert model.gre.mask is None
    out, _ = _maps(model, frames, ratios, train=True)
    valid, fg = out.maps["valid"], out.maps["foreground"]
    assert (valid == 0).any() and (valid != 0).any()  # ratio 0.45: pad columns exist
    assert torch.equal(fg != 0, valid != 0)  # no mask: the foreground is exactly the valid area
    assert "reconstruction" not in out.aux and "mask_smoothness" not in out.aux
    on, _ = _maps(_model(), frames, ratios, train=True)
    assert not torch.equal(on.maps["foreground"] != 0, valid != 0)  # with the mask branch it selects
    assert "mask_smoothness" in on.aux


@pytest.mark.parametrize("off, kept", [("appearance", "denoising"), ("denoising", "appearance")])
def test_branch_off_leaves_gaitbase_one_source(off, kept):
    model = _model(**{f"{off}_branch": False})
    assert getattr(model.gre, off) is None and len(model.gaitbase.stems) == 1
    assert model.gaitbase.stems[0].conv.in_channels == getattr(DEMO, f"{kept}_dim")
    assert len(_model().gaitbase.stems) == 2  # both branches feed GaitBase by default
    out, _ = _maps(model, *_batch()[:2], train=True)
    assert off not in out.maps and kept in out.maps
    if off == "denoising":
        assert "denoising_smoothness" not in out.aux and "diversity" not in out.aux


def test_black_da_zeroes_whole_maps_only_when_on():
    frames, ratios, _ = _batch()
    for on in (True, False):
        out, _ = _maps(_model(black_da=on, black_da_ratio=1.0), frames, ratios, train=True)
        zeroed = [(out.maps[m][i].abs().sum() == 0).item() for m in ("denoising", "appearance") for i in range(4)]
        assert sum(zeroed) == (4 if on else 0)  # ratio 1: one map of every sequence, or none
    out, _ = _maps(_model(black_da_ratio=1.0), frames, ratios, train=False)
    assert all(out.maps[m][i].abs().sum() > 0 for m in ("denoising", "appearance") for i in range(4))  # eval: never


def test_pad_and_resize_off_squashes_the_canvas():
    frames, ratios, _ = _batch(h=64, w=64)  # square crops of ratio 0.45
    model_on, model_off = _model(), _model(pad_and_resize=False)
    _, on = _maps(model_on, frames, ratios)
    out_off, off = _maps(model_off, frames, ratios)
    squashed = torch.nn.functional.interpolate(
        frames.reshape(-1, 3, 64, 64), size=model_off.image_hw, mode="bilinear", align_corners=False
    )
    assert torch.allclose(off["dino_input"], squashed)  # off: the square crop is squashed
    assert not torch.allclose(on["dino_input"], squashed)  # on: padded to the real aspect first
    assert bool((out_off.maps["valid"] == 1).all())


@pytest.mark.parametrize("taps, mask_dim_factor, feat_dim_factor", [("both", 1, 4), ("last", 1, 1), ("mid4", 4, 4)])
def test_taps_choose_what_feeds_the_branches(taps, mask_dim_factor, feat_dim_factor):
    model = _model(taps=taps)
    c = model.lvm.embed_dim
    assert model.gre.mask.proj.in_features == mask_dim_factor * c
    assert model.gre.appearance.proj.in_features == feat_dim_factor * c


def test_lvm_variant_switch_builds_that_upstream():
    model = _model(lvm="vitb14_reg4")
    assert model.lvm.variant == "vitb14_reg4" and model.lvm.vit.reg_token is not None
    assert _model().lvm.vit.reg_token is None


def test_smoothness_modes_give_different_values():
    frames, ratios, _ = _batch()
    a = _model().train()(frames, ratios).aux["denoising_smoothness"]
    b = _model(smoothness="per_channel").train()(frames, ratios).aux["denoising_smoothness"]
    assert not torch.isclose(a, b)


def test_tiny_variants_grow_and_taps_follow_depth():
    sizes = {}
    for name in ("vits14", "vitb14", "vitl14", "vitg14"):
        lvm = FrozenLVM(name, True, (112, 56))
        sizes[name] = sum(p.numel() for p in lvm.parameters())
        assert lvm.taps == mid4_indices(lvm.depth)
    assert sizes["vits14"] < sizes["vitb14"] < sizes["vitl14"] < sizes["vitg14"]
    assert mid4_indices(12) == [2, 5, 8, 11] and mid4_indices(24) == [5, 11, 17, 23]
    assert set(VARIANTS) >= {"vits14", "vitg14_reg4"}


def test_silhouette_baseline():
    model = _model(arch="gaitbase").train()
    g = torch.Generator().manual_seed(0)
    sils = (torch.rand(4, 3, 1, 64, 64, generator=g) > 0.5).float()
    out = model(sils, torch.full((4, 3), 0.4), return_maps=True)
    assert out.embeddings.shape == (4, 64, 16) and out.maps["silhouette"].shape == (4, 1, 3, 16, 8)
    compose(out, torch.tensor([0, 0, 1, 1]), LossConfig())["total"].backward()
    with pytest.raises(DataError, match="1 channel"):
        model(torch.rand(4, 3, 3, 64, 32), torch.full((4, 3), 0.5))


def test_packed_sequences_match_separate_ones():
    model = _model().eval()
    frames, ratios, _ = _batch(n=2, s=3)
    sep = model(frames, ratios).embeddings
    packed = model(frames.reshape(1, 6, 3, 112, 56), ratios.reshape(1, 6), seq_lengths=torch.tensor([3, 3]))
    assert torch.allclose(sep, packed.embeddings, atol=1e-5)


def test_bad_inputs_raise_clear_errors():
    model = _model().eval()
    frames, ratios, _ = _batch()
    with pytest.raises(DataError, match="3 channel"):
        model(frames[:, :, :1], ratios)
    with pytest.raises(DataError, match="ratios: missing"):
        model(frames, None)
    with pytest.raises(DataError, match=r"expected 12 values"):
        model(frames, ratios[:, :2])
    with pytest.raises(DataError, match="seq_lengths"):
        model(frames.reshape(1, 12, 3, 112, 56), ratios.reshape(1, 12), seq_lengths=torch.tensor([5, 5]))
    with pytest.raises(ConfigError, match="unknown LVM variant 'vitx14'"):
        build_model(dataclasses.replace(DEMO, lvm="vitx14"), 4)


def test_polarity_and_clean_up_semantics():
    prob = torch.zeros(1, 64, 32, 2)
    prob[..., 0] = 0.9  # channel 0 high everywhere, incl. the border rows -> background
    prob[..., 1] = 0.1
    prob[0, 20:40, 10:20, 0], prob[0, 20:40, 10:20, 1] = 0.2, 0.8
    body, flipped = resolve_polarity(prob)
    assert flipped.tolist() == [True] and torch.allclose(body[0, 30, 15], torch.tensor(0.8))
    fg = clean_foreground(body)
    # the person's interior is 1, a thin band outside it keeps p, far pixels are 0
    assert fg[0, 30, 15] == 1 and fg[0, 5, 5] == 0 and torch.isclose(fg[0, 19, 15], torch.tensor(0.1))
    # A full-image foreground is not eroded at the border (+inf padding of the min-pool).
    assert (clean_foreground(torch.full((1, 8, 4), 0.9)) == 1).all()


def test_hpp_released_and_small_maps():
    x = torch.randn(2, 5, 16, 8)
    ref = x.mean(-1) + x.max(-1)[0]
    assert torch.allclose(horizontal_pooling(x, 16), ref, atol=1e-6)
    small = torch.randn(2, 5, 8, 4)
    out = horizontal_pooling(small, 16)  # rows repeated: strips 2k and 2k+1 pool row k
    assert out.shape == (2, 5, 16)
    assert torch.allclose(out[..., 0], out[..., 1]) and torch.allclose(
        out[..., 0], small[:, :, 0].mean(-1) + small[:, :, 0].max(-1)[0]
    )


def test_efficiency_counts_match_the_paper():
    from biggait.evaluation.efficiency import count

    res = count(ModelConfig(), 100)
    assert res["gre_params"] == 1_219_234 and res["gaitbase_params"] == 7_505_056
    assert res["lvm_params"] == 22_056_576
    assert round(res["total_params"] / 1e6, 1) == 30.8
    assert round(res["gmacs_per_frame"], 1) == 12.7
    assert res["gre_all_pixels"] > res["gre"] > 0


def test_efficiency_throughput_and_cli_json(capsys):
    import json

    from biggait.cli import main
    from biggait.evaluation.efficiency import throughput

    cfg = load_experiment(scale="demo").model
    res = throughput(cfg, 10, frames=4, repeats=1, device="cpu")
    assert res["frames_per_s"] > 0 and res["device"] == "cpu"
    assert main(["efficiency", "--scale", "demo", "--json", "--throughput", "--device", "cpu"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["frames_per_s"] > 0 and out["total_params"] > out["trainable_params"] > 0
