"""Losses: golden values of the released code, ablation modes and the weighted composition."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from biggait.config import LossConfig
from biggait.models.biggait import ModelOutput
from biggait.models.losses import compose, connect_loss, cross_entropy, diversity_loss, triplet_loss
from biggait.parity.model_checks import check_ce, check_connect, check_diversity, check_triplet, triplet_checks


@pytest.mark.parametrize("check", [check_triplet, check_ce, check_connect, check_diversity])
def test_loss_goldens(golden_dir, check):
    results = check(golden_dir, None)
    assert results and all(r.passed for r in results), [r for r in results if not r.passed]


def test_triplet_self_distance_is_not_zero(golden_dir):
    d = np.load(golden_dir / "loss_triplet.npz")
    r = triplet_loss(torch.from_numpy(d["embeddings"]), torch.from_numpy(d["labels"]), 0.2)
    diag = torch.diagonal(r.dist, dim1=1, dim2=2)
    assert diag.max() > 0  # sqrt of rounding residue, as released
    np.testing.assert_array_equal(r.loss_num.numpy(), d["loss_num"])


def test_triplet_tolerances_still_catch_real_errors(golden_dir):
    """The triplet check (the parity check's own helper) passes differences of the size another CPU gives
    (golden README section 7) and fails real errors of the distances and of mean_dist."""
    d = np.load(golden_dir / "loss_triplet.npz")
    r = triplet_loss(torch.from_numpy(d["embeddings"]), torch.from_numpy(d["labels"]), float(d["margin"]))
    n = r.dist.shape[-1]
    eye = torch.eye(n, dtype=torch.bool)

    def failed(dist: torch.Tensor, mean_dist: torch.Tensor | None = None) -> set[str]:
        changed = dataclasses.replace(r, dist=dist, mean_dist=dist.mean((1, 2)) if mean_dist is None else mean_dist)
        return {c.name for c in triplet_checks("loss_triplet.npz", changed, d) if not c.passed}

    assert failed(r.dist) == set()
    # Another CPU: every self-distance 1e-3 off (their residue's size; golden <= 7.7e-4), the strip means
    # by 1e-3 / N = 6.3e-5, the other distances by 3.5e-7 relative.
    assert failed(torch.where(eye, r.dist + 1e-3, r.dist * (1 + 3.5e-7))) == set()
    one_off = r.dist.clone()
    one_off[3, 0, 5] += 1e-3  # one distance 1e-3 off: caught by the distance check (its mean moves 3.9e-6)
    assert failed(one_off) == {"dist (off-diagonal)"}
    assert failed(r.dist, r.mean_dist + 1e-3 * (torch.arange(len(r.mean_dist)) == 7)) == {"mean_dist"}
    assert failed(r.dist, r.dist.sum((1, 2)) / (n * (n - 1))) == {"mean_dist"}  # a wrong normaliser
    padded = torch.sqrt(r.dist**2 + 1e-4)  # an epsilon inside the square root
    assert failed(padded) == {"dist (off-diagonal)", "dist (self-distance)", "mean_dist"}


def test_triplet_handles_unbalanced_batch_and_no_negatives():
    emb = torch.randn(5, 8, 4)
    labels = torch.tensor([0, 0, 0, 1, 2])  # unequal positives per anchor
    r = triplet_loss(emb, labels, 0.2)
    assert r.loss_per_part.shape == (4,) and torch.isfinite(r.loss)
    only_one_id = triplet_loss(emb, torch.zeros(5, dtype=torch.long), 0.2)
    assert float(only_one_id.loss) == 0.0 and float(only_one_id.loss_num.sum()) == 0.0


def test_cross_entropy_scale_and_smoothing():
    logits = torch.zeros(2, 3, 4)
    logits[0, 1] = 1.0
    labels = torch.tensor([1, 2])
    loss, acc = cross_entropy(logits, labels, scale=16.0, smoothing=0.0)
    manual = torch.nn.functional.cross_entropy(16 * logits.permute(0, 2, 1).reshape(-1, 3), labels.repeat_interleave(4))
    assert torch.allclose(loss, manual)
    assert float(acc) == 0.5


def test_connect_modes_differ_and_constant_sum_is_flat():
    x = torch.rand(2, 2, 8, 4)
    x = torch.stack([x[:, 0], 1 - x[:, 0]], 1)  # a 2-way "softmax": the channel sum is constant
    flat = torch.ones(2, 1, 8, 4)
    # Channel sum of a softmax is constant: only the zero-padded border produces gradients.
    assert torch.isclose(connect_loss(x, 2, 2, 8, 4, "channel_sum"), connect_loss(flat, 2, 1, 8, 4) / 2)
    assert connect_loss(x, 2, 2, 8, 4, "per_channel") > connect_loss(x, 2, 2, 8, 4, "channel_sum")
    with pytest.raises(ValueError):
        connect_loss(x, 2, 2, 8, 4, "sideways")


def test_diversity_is_zero_for_uniform_mass_and_positive_otherwise():
    uniform = torch.full((3, 10, 16), 1 / 16)
    assert abs(float(diversity_loss(uniform))) < 1e-4  # only the +1e-6 inside the log remains
    peaked = torch.zeros(3, 10, 16)
    peaked[..., 0] = 1
    assert float(diversity_loss(peaked)) > 3.9  # log2(16) = 4 minus ~0


def _fake_output(requires_grad: bool = True) -> ModelOutput:
    g = torch.Generator().manual_seed(1)
    emb = torch.randn(8, 4, 2, generator=g, requires_grad=requires_grad)
    logits = torch.randn(8, 4, 2, generator=g, requires_grad=requires_grad)
    aux = {
        k: torch.tensor(v, requires_grad=requires_grad)
        for k, v in (
            ("reconstruction", 0.5),
            ("mask_smoothness", 0.3),
            ("denoising_smoothness", 0.1),
            ("diversity", 0.2),
        )
    }
    return ModelOutput(emb, logits, emb, aux, {})


def test_compose_weights_and_skips_zero_terms():
    out, labels = _fake_output(), torch.arange(4).repeat_interleave(2)
    terms = compose(out, labels, LossConfig())
    assert set(terms) == {
        "triplet",
        "ce",
        "reconstruction",
        "mask_smoothness",
        "denoising_smoothness",
        "diversity",
        "total",
    }
    assert torch.isclose(terms["diversity"], torch.tensor(5 * 0.2))
    assert torch.isclose(terms["mask_smoothness"], torch.tensor(0.02 * 0.3))
    assert torch.isclose(terms["total"], sum(v for k, v in terms.items() if k != "total"))
    off = compose(out, labels, LossConfig(diversity_weight=0.0, triplet_weight=0.0))
    assert "diversity" not in off and "triplet" not in off
    off["total"].backward()
    assert out.logits.grad is not None and out.embeddings.grad is None
