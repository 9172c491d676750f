"""P x K sampling, frame selection, flips, normalisation, determinism/resume and the test loader."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import make_seq, write_partition

from biggait.config import DataConfig, Experiment, TrainConfig
from biggait.data.loader import Batch, make_test_loader, make_train_loader, normalize_rgb
from biggait.data.sampler import first_frames, plan_iteration, sample_frames
from biggait.errors import DataError

TRAIN = ["a1", "a2", "a3", "a4", "a5"]
TEST = ["b1", "b2"]
LENGTHS = [3, 7, 12]  # shorter and longer than frames_per_seq


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> tuple[Path, Path, dict]:
    root = tmp_path_factory.mktemp("tree")
    ref = {}
    for k, sid in enumerate(TRAIN + TEST):
        n_seq = 1 if sid == "a5" else 3  # a5 has fewer sequences than K
        for j in range(n_seq):
            key = (sid, f"t{j}", "01_x")
            ref[key] = make_seq(root, *key, T=LENGTHS[j] + k, preset="ccpg", seed=100 * k + j)
    return root, write_partition(root.parent / "part.json", TRAIN, TEST), ref


def experiment(root: Path, part: Path, **data) -> Experiment:
    d = DataConfig(
        dataset="ccpg",
        root=str(root),
        partition=str(part),
        batch_p=3,
        batch_k=2,
        frames_per_seq=5,
        num_workers=0,
        **data,
    )
    return Experiment(data=d, train=TrainConfig(seed=7))


def take(loader, n: int) -> list[tuple[int, Batch]]:
    out = []
    for it, batch in loader:
        out.append((it, batch))
        if len(out) == n:
            break
    return out


def test_plan_is_a_pure_pk_draw():
    by_label = [np.array([0, 1, 2]), np.array([3]), np.array([4, 5]), np.array([6, 7, 8, 9])]
    a = plan_iteration(0, 5, by_label, batch_p=3, batch_k=2, flip_prob=0.5)
    b = plan_iteration(0, 5, by_label, batch_p=3, batch_k=2, flip_prob=0.5)
    np.testing.assert_array_equal(a.seq_indices, b.seq_indices)
    np.testing.assert_array_equal(a.flips, b.flips)
    owner = {i: k for k, idx in enumerate(by_label) for i in idx}
    seen = set()
    for it in range(50):
        plan = plan_iteration(0, it, by_label, 3, 2, 0.5)
        groups = plan.seq_indices.reshape(3, 2)
        labels = [{owner[int(i)] for i in g} for g in groups]
        assert all(len(s) == 1 for s in labels)  # K consecutive slots share one identity
        assert len({s.pop() for s in labels}) == 3  # P distinct identities
        for g in groups:
            if len(by_label[owner[int(g[0])]]) >= 2:
                assert g[0] != g[1]  # without replacement when the identity has >= K
        seen.add(tuple(plan.seq_indices))
    assert len(seen) > 40  # iterations differ
    assert (
        plan_iteration(1, 5, by_label, 3, 2, 0.5).seq_indices.tolist() != a.seq_indices.tolist()
        or plan_iteration(2, 5, by_label, 3, 2, 0.5).seq_indices.tolist() != a.seq_indices.tolist()
    )
    assert plan_iteration(0, 0, by_label, 2, 2, 1.0).flips.all()
    assert not plan_iteration(0, 0, by_label, 2, 2, 0.0).flips.any()
    with pytest.raises(DataError, match="has 4 identities, fewer than data.batch_p=5"):
        plan_iteration(0, 0, by_label, 5, 2, 0.5)


def test_frame_sampling_and_test_frames():
    rng = np.random.default_rng(0)
    idx = sample_frames(rng, 10, 6)
    assert len(set(idx.tolist())) == 6 and idx.max() < 10  # without replacement
    assert not np.array_equal(np.sort(sample_frames(rng, 40, 30)), sample_frames(rng, 40, 30))  # unordered
    short = sample_frames(rng, 3, 8)
    assert len(short) == 8 and set(short.tolist()) <= {0, 1, 2}  # with replacement when shorter
    assert first_frames(10, 4).tolist() == [0, 1, 2, 3] and first_frames(3, 0).tolist() == [0, 1, 2]


def test_normalisation_is_float64_then_cast():
    x = np.random.default_rng(0).integers(0, 256, (2, 3, 3, 5, 4), dtype=np.uint8)
    mean = np.array([0.485, 0.456, 0.406])[:, None, None] * 255
    std = np.array([0.229, 0.224, 0.225])[:, None, None] * 255
    expected = ((x.astype(np.float64) - mean) / std).astype(np.float32)
    got = normalize_rgb(x)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, expected)


def test_normalisation_matches_the_golden_input(golden_dir):
    with np.load(golden_dir / "fwd_ccpg_prepadded_n2s6.npz") as g:
        np.testing.assert_array_equal(normalize_rgb(g["input_uint8"]), g["input_norm"])


def test_train_batches_follow_the_contract(tree):
    root, part, ref = tree
    loader = make_train_loader(experiment(root, part))
    assert loader.num_classes == 5 and loader.dataset.ids == TRAIN
    for _, batch in take(loader, 4):
        assert batch.frames.shape == (6, 5, 3, 16, 8) and batch.frames.dtype == torch.float32
        assert batch.ratios.shape == (6, 5) and batch.ratios.dtype == torch.float32
        assert batch.labels.dtype == torch.int64 and batch.seq_lengths is None and batch.sils is None
        assert batch.labels.tolist() == [TRAIN.index(i) for i in batch.ids]
        assert len(set(batch.ids)) == 3 and batch.ids[0::2] == batch.ids[1::2]
        for n in range(6):  # every frame is a frame of its sequence, flipped or not with the sequence
            src = ref[(batch.ids[n], batch.types[n], batch.views[n])]
            rgb = normalize_rgb(src["rgb"])
            flips = set()
            for t in range(5):
                f = batch.frames[n, t].numpy()
                hits = [k for k in range(len(rgb)) if np.array_equal(f, rgb[k])]
                hits_f = [k for k in range(len(rgb)) if np.array_equal(f, rgb[k][..., ::-1])]
                assert hits or hits_f
                flips.add(bool(hits_f) and not hits)
                k = (hits or hits_f)[0]
                assert batch.ratios[n, t].item() == pytest.approx(float(src["ratios"][k]))
            assert len(flips) == 1  # flip is per sequence


def test_resume_and_workers_give_identical_batches(tree):
    root, part, _ = tree
    exp = experiment(root, part)
    full = take(make_train_loader(exp), 5)
    resumed = take(make_train_loader(exp, start_iter=3), 2)
    assert [it for it, _ in full] == [0, 1, 2, 3, 4] and [it for it, _ in resumed] == [3, 4]
    for (_, a), (_, b) in zip(full[3:], resumed):
        assert torch.equal(a.frames, b.frames) and a.ids == b.ids and torch.equal(a.ratios, b.ratios)
    workers = take(
        make_train_loader(dataclasses.replace(exp, data=dataclasses.replace(exp.data, num_workers=2)), start_iter=2), 3
    )
    for (ia, a), (ib, b) in zip(full[2:], workers):
        assert ia == ib and torch.equal(a.frames, b.frames) and a.types == b.types
    other_seed = take(make_train_loader(dataclasses.replace(exp, train=TrainConfig(seed=8))), 1)
    assert not torch.equal(other_seed[0][1].frames, full[0][1].frames)


def test_rank_shares_reassemble_the_single_process_batch(tree):
    root, part, _ = tree
    exp = experiment(root, part)
    ((_, whole),) = take(make_train_loader(exp, start_iter=1), 1)
    shares = [take(make_train_loader(exp, start_iter=1, rank=r, world_size=2), 1)[0][1] for r in (0, 1)]
    assert [len(b.ids) for b in shares] == [len(whole.ids) // 2] * 2
    assert torch.equal(torch.cat([b.frames for b in shares]), whole.frames)
    assert torch.equal(torch.cat([b.labels for b in shares]), whole.labels)
    assert shares[0].ids + shares[1].ids == whole.ids
    with pytest.raises(DataError, match="rank 2 outside world size 2"):
        make_train_loader(exp, rank=2, world_size=2)


def test_silhouette_modality_and_sils(tree):
    root, part, ref = tree
    exp = experiment(root, part, modality="silhouette", flip_prob=1.0)
    ((_, batch),) = take(make_train_loader(exp, with_sils=True), 1)
    assert batch.frames.shape == (6, 5, 1, 16, 8) and batch.sils.dtype == torch.uint8
    assert set(torch.unique(batch.frames).tolist()) <= {0.0, 1.0}
    torch.testing.assert_close(batch.frames[:, :, 0], batch.sils.float() / 255)
    src = ref[(batch.ids[0], batch.types[0], batch.views[0])]["sils"]
    assert any(np.array_equal(batch.sils[0, 0].numpy(), s[:, ::-1]) for s in src)  # flipped (p=1)


def test_test_loader_order_cap_and_labels(tree):
    root, part, ref = tree
    data = experiment(root, part).data
    loader = make_test_loader(data, with_sils=True)
    batches = list(loader)
    assert len(loader) == len(batches) == 6 and loader.cap == 250  # the ccpg preset's cap
    assert [(b.ids[0], b.types[0]) for b in batches] == [(i, f"t{j}") for i in TEST for j in range(3)]
    assert [b.labels.item() for b in batches] == [0, 0, 0, 1, 1, 1]
    for b in batches:
        src = ref[(b.ids[0], b.types[0], b.views[0])]
        np.testing.assert_array_equal(b.frames[0].numpy(), normalize_rgb(src["rgb"]))  # natural order, no flip
        np.testing.assert_array_equal(b.sils[0].numpy(), src["sils"])
        assert b.frames.shape[0] == 1 and b.ratios.shape == (1, len(src["rgb"]))
    capped = list(make_test_loader(dataclasses.replace(data, test_max_frames=4, num_workers=1)))
    assert [b.frames.shape[1] for b in capped] == [
        min(4, len(ref[(b.ids[0], b.types[0], "01_x")]["rgb"])) for b in capped
    ]
    assert capped[2].sils is None
    everything = make_test_loader(data, root=root)  # an explicit root without a partition: every id
    assert len(everything) == len(ref)
    train = make_test_loader(data, split="train")
    assert len(train) == 13 and train.dataset.ids == TRAIN


def test_loader_configuration_errors(tree, tmp_path):
    root, part, _ = tree
    exp = experiment(root, part)
    with pytest.raises(DataError, match=r"data.root is empty"):
        make_train_loader(dataclasses.replace(exp, data=dataclasses.replace(exp.data, root="")))
    with pytest.raises(DataError, match=r"has 5 identities, fewer than data.batch_p=6"):
        make_train_loader(dataclasses.replace(exp, data=dataclasses.replace(exp.data, batch_p=6)))
    with pytest.raises(DataError, match=r"unknown dataset preset 'nope'"):
        make_test_loader(exp.data, dataset="nope")
    with pytest.raises(DataError, match=r"dataset 'casiab' differs from data.dataset 'ccpg'; pass its root"):
        make_test_loader(exp.data, dataset="casiab")
    with pytest.raises(DataError, match=r"dataset root not found"):
        make_test_loader(exp.data, root=tmp_path / "missing")
