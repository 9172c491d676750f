"""A tiny CCPG-layout tree and a tiny BigGait experiment for the trainer tests (real model, real data)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from biggait.config import Experiment, load_experiment
from biggait.data.pickles import save_array

IDS = ("000", "001", "002", "003")
TYPES = ("U0_D0", "U1_D1")


def write_tiny_tree(root: Path, frames: int = 5) -> tuple[Path, Path]:
    """4 identities x 2 types x 1 view, ``[T, 3, 32, 16]`` uint8 frames with an id-specific pattern
    (and ``[T, 32, 16]`` silhouettes for the GaitBase baseline).

    Returns (dataset root, partition JSON).
    """
    rng = np.random.default_rng(0)
    data = root / "ccpg"
    for k, sid in enumerate(IDS):
        base = rng.integers(0, 256, size=(3, 32, 16), dtype=np.uint8)
        for t in TYPES:
            view = data / sid / t / "01"
            noise = rng.integers(0, 40, size=(frames, 3, 32, 16), dtype=np.uint8)
            save_array(view / "01-aligned-rgbs.pkl", (base[None] // 2 + noise + 20 * k).astype(np.uint8))
            save_array(view / "01-ratios.pkl", np.full(frames, 0.4 + 0.02 * k, dtype=np.float32))
            sils = np.zeros((frames, 32, 16), dtype=np.uint8)
            sils[:, 4 + k:28, 5:11 + k % 3] = 255  # a id-dependent box
            save_array(view / "01-aligned-sils.pkl", sils)
    part = root / "ccpg.json"
    part.write_text(json.dumps({"TRAIN_SET": list(IDS), "TEST_SET": []}))
    return data, part


def tiny_overrides(data: Path, part: Path, **extra: object) -> list[str]:
    """``--set`` overrides of the demo scale for a model that trains in a fraction of a second per step."""
    sets = {
        "data.root": str(data), "data.partition": str(part), "data.batch_p": 2, "data.batch_k": 2,
        "data.frames_per_seq": 3, "data.num_workers": 0,
        "model.channels": "[8, 8, 16, 16]", "model.embed_dim": 16, "model.parts": 4,
        "model.mask_train_iters": 4,
        "train.total_iters": 6, "train.save_every": 3, "train.log_every": 1, "train.milestones": "[4]",
        "train.device": "cpu", "train.seed": 3,
    }
    sets.update(extra)
    return [f"{k}={v}" for k, v in sets.items()]


def tiny_experiment(data: Path, part: Path, **extra: object) -> Experiment:
    return load_experiment(None, scale="demo", overrides=tiny_overrides(data, part, **extra))


def state_of(path: Path) -> dict[str, torch.Tensor]:
    """The model state dict stored in a checkpoint / model.pt."""
    return torch.load(path, map_location="cpu", weights_only=True)["model"]


def assert_same_state(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), f"{k} differs"


def test_tiny_tree_reads_as_a_training_stream(tmp_path):
    from biggait.data.loader import make_train_loader

    data, part = write_tiny_tree(tmp_path)
    exp = tiny_experiment(data, part)
    loader = make_train_loader(exp)
    assert loader.num_classes == len(IDS)
    it, batch = next(iter(loader))
    assert it == 0
    assert batch.frames.shape == (4, 3, 3, 32, 16) and batch.labels.tolist()[0] == batch.labels.tolist()[1]
