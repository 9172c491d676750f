"""Embedding extraction: order, metadata round trip, and resumption after an interruption."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from biggait.data.loader import Batch
from biggait.device import resolve_device
from biggait.errors import EvaluationError
from biggait.evaluation.extract import Embeddings, extract_embeddings


class _Recorder(nn.Module):
    """Embeds a sequence as its mean frame value per strip; counts forwards; foreground = top half."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def forward(self, frames, ratios, seq_lengths=None, return_maps=False):
        self.calls += 1
        n, s = frames.shape[:2]
        emb = frames.mean(dim=(1, 2, 3, 4)).view(n, 1, 1).expand(n, 4, 2).clone()  # [n, 4, 2]
        maps = {}
        if return_maps:
            fg = torch.zeros(n * s, 8, 4)
            fg[:, :4] = 0.9
            maps["foreground"] = fg
        return type("Out", (), {"embeddings": emb, "maps": maps})()


def _batches(k: int, with_sils: bool = True) -> list[Batch]:
    out = []
    for i in range(k):
        sils = torch.zeros(1, 3, 16, 8, dtype=torch.uint8)
        sils[..., :8, :] = 255  # ground truth = top half, exactly the fake foreground
        out.append(
            Batch(
                frames=torch.full((1, 3, 3, 16, 8), float(i)),
                ratios=torch.full((1, 3), 0.5),
                labels=torch.tensor([i // 2]),
                seq_lengths=None,
                ids=[f"{i // 2:03d}"],
                types=["nm-01"],
                views=[f"{i % 2:03d}"],
                sils=sils if with_sils else None,
            )
        )
    return out


class _Interrupted:
    def __init__(self, batches, stop_after):
        self.batches, self.stop_after = batches, stop_after

    def __len__(self):
        return len(self.batches)

    def __iter__(self):
        for i, b in enumerate(self.batches):
            if i == self.stop_after:
                raise KeyboardInterrupt
            yield b


def test_extraction_order_metadata_and_masks(tmp_path):
    emb = extract_embeddings(_Recorder(), _batches(6), measure_masks=True, meta={"checkpoint": "x"})
    assert emb.features.shape == (6, 4, 2) and emb.features[:, 0, 0].tolist() == [0, 1, 2, 3, 4, 5]
    assert emb.labels.tolist() == ["000", "000", "001", "001", "002", "002"]
    assert (emb.mask_intersection == emb.mask_union).all() and (emb.mask_union == 3 * 4 * 4).all()
    emb.save(tmp_path / "e.npz")
    back = Embeddings.load(tmp_path / "e.npz")
    assert np.array_equal(back.features, emb.features) and back.meta == {"checkpoint": "x"}
    assert back.views.tolist() == emb.views.tolist()


def test_resume_after_interruption_forwards_only_the_rest(tmp_path):
    partial = tmp_path / ".partial.npz"
    meta = {"fingerprint": {"checkpoint": "abc"}}
    model = _Recorder()
    with pytest.raises(KeyboardInterrupt):
        extract_embeddings(model, _Interrupted(_batches(7), 5), meta=meta, partial_path=partial, save_every=2)
    assert partial.exists() and model.calls == 5
    model2 = _Recorder()
    emb = extract_embeddings(model2, _batches(7), meta=meta, partial_path=partial, save_every=2)
    assert model2.calls == 3  # sequences 4..6: the partial file held the first 4
    assert emb.features[:, 0, 0].tolist() == list(range(7)) and not partial.exists()
    # a partial file of another run (other fingerprint) is ignored, not resumed
    model3 = _Recorder()
    Embeddings(
        np.zeros((2, 4, 2), np.float32),
        np.array(["a", "b"]),
        np.array(["t", "t"]),
        np.array(["v", "v"]),
        np.array([-1, -1]),
        np.array([-1, -1]),
        {"fingerprint": {"checkpoint": "old"}},
    ).save(partial)
    extract_embeddings(model3, _batches(3), meta=meta, partial_path=partial)
    assert model3.calls == 3


def test_empty_loader_and_bad_device():
    with pytest.raises(EvaluationError, match="no sequence"):
        extract_embeddings(_Recorder(), [])
    with pytest.raises(EvaluationError, match="--device"):
        resolve_device("tpu:0", what="--device", error=EvaluationError)


def _real_batches(k: int) -> list[Batch]:
    g = torch.Generator().manual_seed(0)
    out = []
    for i in range(k):
        s = 3 + i % 3  # unequal lengths: pooling must stay per sequence
        sils = (torch.rand(1, s, 64, 32, generator=g) > 0.5).to(torch.uint8) * 255
        out.append(
            Batch(
                frames=torch.randn(1, s, 3, 64, 32, generator=g),
                ratios=torch.full((1, s), 0.45),
                labels=torch.tensor([i]),
                seq_lengths=None,
                ids=[f"{i:03d}"],
                types=["U0_D0"],
                views=["01_1"],
                sils=sils,
            )
        )
    return out


def test_packed_extraction_equals_one_sequence_at_a_time():
    from biggait.config import load_experiment
    from biggait.models import build_model

    torch.manual_seed(0)
    model = build_model(load_experiment(scale="demo").model, 5).eval()
    batches = _real_batches(5)
    single = extract_embeddings(model, batches, measure_masks=True, pack_frames=0)
    packed = extract_embeddings(model, batches, measure_masks=True, pack_frames=9)  # packs of 2-3 sequences
    assert np.allclose(single.features, packed.features, atol=1e-5)
    assert list(single.labels) == list(packed.labels) == [f"{i:03d}" for i in range(5)]
    assert np.array_equal(single.mask_intersection, packed.mask_intersection)
    assert np.array_equal(single.mask_union, packed.mask_union)
