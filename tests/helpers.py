"""Test helpers (not tests): dataset trees in each preset's conventions, a tiny CCPG-layout tree and a
tiny BigGait experiment for the trainer tests (real model, real data), checkpoint comparisons, ports."""

from __future__ import annotations

import importlib.util
import json
import pickle
import socket
from pathlib import Path

import numpy as np
import torch

from biggait.config import Experiment, load_experiment
from biggait.data.pickles import save_array

IDS = ("000", "001", "002", "003")
TYPES = ("U0_D0", "U1_D1")
# A Snakemake benchmark file's header (what `benchmark:` writes; biggait job-times and the efficiency table read it)
BENCHMARK_HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def write_benchmark(path: Path, *rows: str) -> Path:
    """A benchmark file at ``path`` (folders made) with ``rows`` (tab-separated, in the header's order)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(BENCHMARK_HEADER + "".join(r + "\n" for r in rows))
    return path


def constraint_pins() -> dict[str, str]:
    """``{normalised name: version}`` of requirements/constraints.txt, read by requirements/lock.py's own
    parser (what `make lock` checks the environment against)."""
    spec = importlib.util.spec_from_file_location(
        "requirements_lock", Path(__file__).resolve().parent.parent / "requirements" / "lock.py"
    )
    lock = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lock)
    return lock.constraints()


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
            sils[:, 4 + k : 28, 5 : 11 + k % 3] = 255  # a id-dependent box
            save_array(view / "01-aligned-sils.pkl", sils)
    part = root / "ccpg.json"
    part.write_text(json.dumps({"TRAIN_SET": list(IDS), "TEST_SET": []}))
    return data, part


def tiny_overrides(data: Path, part: Path, **extra: object) -> list[str]:
    """``--set`` overrides of the demo scale for a model that trains in a fraction of a second per step."""
    sets = {
        "data.root": str(data),
        "data.partition": str(part),
        "data.batch_p": 2,
        "data.batch_k": 2,
        "data.frames_per_seq": 3,
        "data.num_workers": 0,
        "model.channels": "[8, 8, 16, 16]",
        "model.embed_dim": 16,
        "model.parts": 4,
        "model.mask_train_iters": 4,
        "train.total_iters": 6,
        "train.save_every": 3,
        "train.log_every": 1,
        "train.milestones": "[4]",
        "train.device": "cpu",
        "train.seed": 3,
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


def dump(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        pickle.dump(obj, fh, protocol=4)


def make_seq(
    root: Path,
    sid: str,
    typ: str,
    view: str,
    T: int,
    preset: str = "ccpg",
    H: int = 16,
    sils: bool = True,
    seed: int = 0,
) -> dict:
    """Write one sequence in ``preset``'s file conventions; returns the arrays in our convention."""
    rng = np.random.default_rng(seed)
    W = H // 2 if preset == "ccpg" else H
    rgb = rng.integers(0, 256, (T, 3, H, W), dtype=np.uint8)  # [T,3,H,W]
    ratio = rng.uniform(0.3, 0.7, T)  # w/h, float64
    sil = (rng.random((T, H, W)) > 0.5).astype(np.uint8) * 255
    folder = root / sid / typ / view
    if preset == "sustech1k":
        dump(folder / f"05-{view}-Camera-RGB_raw.pkl", rgb.transpose(0, 2, 3, 1).copy())  # HWC
        hw = np.stack([np.full(T, 100.0), ratio * 100.0], 1)  # (H, W)
        dump(folder / f"04-{view}-Camera-Ratios-HW.pkl", hw)
        if sils:
            dump(folder / f"03-{view}-Camera-Sils_aligned.pkl", sil)
        dump(folder / f"00-{view}-LiDAR-PCDs.pkl", np.zeros(3))  # an unrelated modality
    else:
        rgb_name = "aligned-rgbs" if preset == "ccpg" else "rgbs"
        sil_name = "aligned-sils" if preset == "ccpg" else "sils"
        # Names that sort before the right one, so a sort-order reader would pick the wrong file.
        dump(folder / f"{view}-aaa-extra.pkl", np.zeros((T, 3), np.uint8))
        dump(folder / f"{view}-{rgb_name}.pkl", rgb)
        dump(folder / f"{view}-ratios.pkl", ratio)
        if sils:
            dump(folder / f"{view}-{sil_name}.pkl", sil)
    return {"rgb": rgb, "ratios": ratio.astype(np.float32), "sils": sil}


def write_partition(path: Path, train: list[str], test: list[str]) -> Path:
    path.write_text(json.dumps({"TRAIN_SET": train, "TEST_SET": test}))
    return path


def free_port() -> int:
    """A free TCP port on localhost (for a gloo process group)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
