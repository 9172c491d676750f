"""The unlabelled training frames of the pretraining: every frame of the training sequences.

Frames are brought to the LVM input canvas exactly like BigGait's input (:func:`to_canvas`:
Pad-and-Resize, or a direct resize for pre-padded 2:1 frames) and kept as uint8 in memory
(the demo's ~33k frames at 64x32 take ~200 MB). Only the RGB frames are read: silhouettes,
labels and the test split never reach the pretraining.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from biggait.data.dataset import GaitDataset
from biggait.errors import DataError
from biggait.io import atomic_path, read_npz
from biggait.models.padding import to_canvas
from biggait.progress import progress_bar


@dataclass(frozen=True)
class Source:
    """One dataset's training split: preset name, root and partition file."""

    dataset: str
    root: Path
    partition: Path

    @classmethod
    def parse(cls, text: str) -> Source:
        """``DATASET=ROOT:PARTITION`` (the ``--data`` argument)."""
        name, sep, rest = text.partition("=")
        root, sep2, part = rest.rpartition(":")
        if not sep or not sep2 or not name or not root or not part:
            raise DataError(
                f"--data {text!r}: expected DATASET=ROOT:PARTITION, e.g. ccpg=results/data/synthgait/ccpg:"
                f"results/data/synthgait/ccpg.json"
            )
        return cls(name, Path(root), Path(part))


@dataclass
class FrameSet:
    """uint8 frames ``[N, 3, H, W]`` on the LVM canvas and the sequence index ``[N]`` of each."""

    frames: Tensor
    sequence: Tensor

    def __len__(self) -> int:
        return int(self.frames.shape[0])


CHUNK = 16  # sequences per task of load_frames' worker processes


def _canvas_items(source: Source, indices: range, image_hw: tuple[int, int]) -> list[np.ndarray]:
    """The canvas frames (uint8 ``[s, 3, H, W]``) of the training sequences ``indices`` of ``source``."""
    ds = GaitDataset(source.root, source.dataset, source.partition, split="train")
    out = []
    for i in indices:
        item = ds.load(i)
        x = torch.from_numpy(np.ascontiguousarray(item["rgb"])).float()  # [s, 3, h, w] 0..255
        r = torch.from_numpy(np.asarray(item["ratios"], dtype=np.float32))
        out.append(to_canvas(x, r, *image_hw).round().clamp(0, 255).to(torch.uint8).numpy())
    return out


def _worker_init() -> None:
    torch.set_num_threads(1)  # one thread per process: the same kernels, hence the same bytes, as one process


def load_frames(sources: list[Source], image_hw: tuple[int, int], progress: bool = True, workers: int = 1) -> FrameSet:
    """Read every training frame of ``sources`` onto the ``image_hw`` canvas (uint8).

    ``workers`` > 1 resizes chunks of sequences in that many processes of one thread each; every frame is
    computed by the same one-thread kernels as with ``workers=1``, so the result is the same, byte for byte
    (tests/test_pretrain.py). The demo's 33k frames: 31 s in one process, measured in docs/performance.md."""
    datasets = [GaitDataset(s.root, s.dataset, s.partition, split="train") for s in sources]
    n = CHUNK
    jobs = [(s, range(i, min(i + n, len(d)))) for s, d in zip(sources, datasets) for i in range(0, len(d), n)]
    bar = progress_bar(
        total=sum(len(d) for d in datasets), desc="pretrain frames", unit="seq", disable=not progress, leave=False
    )
    items: list[np.ndarray] = []
    if workers > 1 and len(jobs) > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
        with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_worker_init) as pool:
            futures = [pool.submit(_canvas_items, s, idx, image_hw) for s, idx in jobs]
            for (_, idx), fut in zip(jobs, futures):  # in order: the sequence numbers follow the sources
                items += fut.result()
                bar.update(len(idx))
    else:
        for s, idx in jobs:
            items += _canvas_items(s, idx, image_hw)
            bar.update(len(idx))
    bar.close()
    if not items:
        raise DataError(
            "pretraining: the training splits of " + ", ".join(str(s.root) for s in sources) + " hold no sequences"
        )
    seqs = [torch.full((len(f),), n, dtype=torch.int64) for n, f in enumerate(items)]
    return FrameSet(torch.from_numpy(np.concatenate(items)), torch.cat(seqs))


def cache_key(sources: list[Source], image_hw: tuple[int, int]) -> str:
    """What a frames cache was made from: the sources (and their partitions' mtimes) and the canvas."""
    parts = [
        f"{s.dataset}={Path(s.root).resolve()}:{Path(s.partition).resolve()}@"
        f"{Path(s.partition).stat().st_mtime_ns if Path(s.partition).exists() else 0}"
        for s in sources
    ]
    return ";".join(parts) + f"|{image_hw[0]}x{image_hw[1]}"


def cached_frames(
    sources: list[Source], image_hw: tuple[int, int], cache: Path | None, progress: bool = True, workers: int = 1
) -> FrameSet:
    """:func:`load_frames`, through ``cache`` (an npz written once and shared by every pretraining of
    the same sources and canvas); a cache made from other sources is rebuilt, never used."""
    key = cache_key(sources, image_hw)
    if cache is not None and cache.is_file():
        data = read_npz(cache, "pretraining frames cache", DataError)
        if str(data.get("key", "")) == key and "frames" in data and "sequence" in data:
            return FrameSet(torch.from_numpy(data["frames"]), torch.from_numpy(data["sequence"]))
    frames = load_frames(sources, image_hw, progress, workers)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(cache) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, frames=frames.frames.numpy(), sequence=frames.sequence.numpy(), key=np.array(key))
    return frames
