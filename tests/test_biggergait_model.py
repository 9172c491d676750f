"""BiggerGait's model on a tiny upstream: grouping, head sharing, the mask head's mode quirk and its switch,
time chunking, the mask upsampling, the joint LayerNorm, the pos-embed methods, a training step, the config."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from biggait.config import BiggerGaitConfig, LossConfig, ModelConfig, load_experiment
from biggait.errors import ConfigError
from biggait.models.backbone import interpolate_pos_embed
from biggait.models.biggait import build_model
from biggait.models.biggergait import BiggerGait
from biggait.models.humanspace import joint_layer_norm
from biggait.models.token_mask import token_mask

torch.set_num_threads(1)


def tiny(**bg) -> ModelConfig:
    """A tiny upstream (4 layers of width 48, patch 14) on a 56x28 canvas: 4x2 tokens, 8x4 maps."""
    return ModelConfig(
        arch="biggergait",
        lvm_tiny=True,
        image_size=28,
        gre_map_width=4,
        channels=(4, 4, 8, 8),
        embed_dim=8,
        num_classes=5,
        biggergait=BiggerGaitConfig(**{"parts": 4, "heads": 2, **bg}),
    )


def frames(n: int = 2, s: int = 5, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, s, 3, 32, 16, generator=torch.Generator().manual_seed(seed))


def test_groups_heads_and_output_layout():
    torch.manual_seed(0)
    model = build_model(tiny(layers_per_group=1, heads=2), 5, load_lvm=False).eval()
    assert isinstance(model, BiggerGait) and model.groups == 4
    heads = [model.heads.head_of(i) for i in range(4)]
    assert heads[0] is heads[1] is model.heads.heads[0] and heads[2] is heads[3] is model.heads.heads[1]
    with torch.no_grad():
        out = model(frames())
    assert out.embeddings.shape == (2, 8, 4 * 4) and out.logits.shape == (2, 5, 16) and out.aux == {}


def test_shared_head_batchnorm_updates_once_per_group_and_mask_quirk():
    torch.manual_seed(0)
    model = build_model(tiny(layers_per_group=1, heads=2), 5, load_lvm=False).train()
    before = model.mask.bn_in.running_mean.clone()
    model(frames())
    assert int(model.heads.heads[0].stem.bn.num_batches_tracked) == 2  # two groups share head 0
    assert int(model.humanspace.proj[0][0].num_batches_tracked) == 1
    assert model.mask.training and not torch.equal(model.mask.bn_in.running_mean, before)  # released quirk
    assert all(not p.requires_grad for p in model.mask.parameters()) and not model.lvm.training

    fixed = build_model(tiny(layers_per_group=1, heads=2, mask_bn_follows_mode=False), 5, load_lvm=False).train()
    before = fixed.mask.bn_in.running_mean.clone()
    fixed(frames())
    assert not fixed.mask.training and torch.equal(fixed.mask.bn_in.running_mean, before)


def test_time_chunks_change_nothing_in_eval_but_batch_statistics_in_training():
    torch.manual_seed(0)
    model = build_model(tiny(layers_per_group=2, heads=1, chunk_frames=2), 5, load_lvm=False).eval()
    x = frames(1, 5)
    with torch.no_grad():
        chunked = model(x).embeddings  # 5 // 2 + 1 = 3 chunks
        model.chunk_frames = 96
        whole = model(x).embeddings
    torch.testing.assert_close(chunked, whole, atol=1e-6, rtol=0)
    model.chunk_frames = 2
    model.train()(frames(2, 5))  # BNNeck batch statistics need two sequences
    assert int(model.humanspace.proj[0][0].num_batches_tracked) == 3  # one update per chunk


def test_token_mask_is_the_released_bilinear_then_threshold():
    p1 = torch.rand(6, 32, 16, generator=torch.Generator().manual_seed(1))
    fg, up = token_mask(p1, (64, 32))
    released = F.interpolate((p1 > 0.5).float().unsqueeze(1), size=(64, 32), mode="bilinear", align_corners=False)
    assert torch.equal(fg, p1 > 0.5) and torch.equal(up, released.squeeze(1) > 0.5)


def test_joint_layer_norm_normalises_all_layers_together():
    g = torch.Generator().manual_seed(2)
    blocks = [torch.randn(2, 9, 8, generator=g) * (i + 1) + i for i in range(3)]
    joint = joint_layer_norm(blocks, prefix=1)
    assert joint.shape == (2, 8, 24)
    torch.testing.assert_close(joint, F.layer_norm(torch.cat(blocks, -1), (24,), eps=1e-6)[:, 1:])
    per_layer = torch.cat([F.layer_norm(b, (8,), eps=1e-6) for b in blocks], -1)[:, 1:]
    assert (joint - per_layer).abs().max() > 0.1


def test_pos_embed_methods():
    src = torch.randn(1, 37 * 37, 4, generator=torch.Generator().manual_seed(3))
    by_size = interpolate_pos_embed(src, (32, 16), "size")
    ref = (
        F.interpolate(src.reshape(1, 37, 37, 4).permute(0, 3, 1, 2), size=(32, 16), mode="bicubic", align_corners=False)
        .permute(0, 2, 3, 1)
        .reshape(1, 512, 4)
    )
    assert torch.equal(by_size, ref)
    assert (by_size - interpolate_pos_embed(src, (32, 16), "scale_factor")).abs().max() > 1e-2
    with pytest.raises(ConfigError, match="pos-embed"):
        interpolate_pos_embed(src, (32, 16), "antialias")


def test_training_step_updates_heads_and_projections_only():
    from biggait.train.loop import train_step

    torch.manual_seed(0)
    model = build_model(tiny(layers_per_group=2, heads=2), 5, load_lvm=False).train()
    frozen = {k: v.clone() for k, v in model.state_dict().items() if k.startswith(("lvm.", "mask.proj"))}
    head = model.heads.heads[0].fcs.fc_bin.detach().clone()
    opt = torch.optim.SGD(model.trainable_parameters(), lr=0.1, momentum=0.9)
    terms, skipped = train_step(
        model,
        opt,
        torch.amp.GradScaler("cpu", enabled=False),
        frames(4, 3),
        None,
        torch.tensor([0, 0, 1, 1]),
        LossConfig(),
    )
    assert not skipped and set(terms) == {"triplet", "ce", "total"}
    assert all(torch.equal(model.state_dict()[k], v) for k, v in frozen.items())
    assert not torch.equal(model.heads.heads[0].fcs.fc_bin, head)


def test_config_keys_and_bad_grouping():
    exp = load_experiment(
        None,
        scale="demo",
        overrides=["model.arch=biggergait", "model.biggergait.heads=2", "model.biggergait.layers_per_group=2"],
    )
    assert exp.model.biggergait.heads == 2 and exp.model.biggergait.layers_per_group == 2
    with pytest.raises(ConfigError, match="unknown key"):
        load_experiment(None, scale="demo", overrides=["model.biggergait.groups=3"])
    with pytest.raises(ConfigError, match="layers_per_group"):
        BiggerGait(tiny(layers_per_group=3), 5)  # 3 does not divide 4 layers
    with pytest.raises(ConfigError, match="heads"):
        BiggerGait(dataclasses.replace(tiny(), biggergait=BiggerGaitConfig(parts=4, heads=5)), 5)  # more than J = 4
    # P not dividing J: the released float division i // (J / P) gives heads unequal shares
    m = BiggerGait(dataclasses.replace(tiny(), biggergait=BiggerGaitConfig(parts=4, heads=3)), 5)
    assert [list(m.heads.heads).index(m.heads.head_of(i)) for i in range(4)] == [0, 0, 1, 2]
    assert tiny().upstream_signature() != dataclasses.replace(tiny(), arch="biggait").upstream_signature()
