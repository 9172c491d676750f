"""Training and test batches (the ``Batch`` contract of ``docs/interfaces.md``).

Training: P x K sequences per iteration, ``frames_per_seq`` unordered frames each, sequence-level
horizontal flip before normalisation. The batch of iteration ``i`` is a pure function of
``(seed, i)`` (see :mod:`biggait.data.sampler`), so ``make_train_loader(exp, start_iter=i)``
resumes exactly, whatever ``data.num_workers`` is. Test: one sequence per batch, natural frame
order, capped at the preset's limit or ``data.test_max_frames``.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from biggait.config import DataConfig, Experiment
from biggait.data.dataset import GaitDataset
from biggait.data.sampler import first_frames, frame_rng, plan_iteration, sample_frames
from biggait.datasets import get_preset
from biggait.errors import DataError

__all__ = [
    "Batch",
    "normalize_rgb",
    "TrainLoader",
    "TestLoader",
    "make_train_loader",
    "make_test_loader",
    "test_frame_cap",
]

logger = logging.getLogger(__name__)

RGB_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float64) * 255.0
RGB_STD = np.array([0.229, 0.224, 0.225], dtype=np.float64) * 255.0
# [3, 256] float32: the normalised value of every uint8 level per channel, computed in float64 and
# cast once, so a table look-up gives bit-for-bit the float64-then-cast result of the reference.
_RGB_LUT = ((np.arange(256, dtype=np.float64)[None, :] - RGB_MEAN[:, None]) / RGB_STD[:, None]).astype(np.float32)


@dataclass
class Batch:
    """One batch of sequences. Shapes: n sequences, s frames each (see docs/interfaces.md)."""

    frames: Tensor  # [n, s, C, H, W] float32 (rgb normalised; silhouettes C=1 in [0, 1])
    ratios: Tensor  # [n, s] float32, w/h of the original crop
    labels: Tensor  # [n] int64, index of the id in the sorted id list of the split
    seq_lengths: Tensor | None  # [n_seq] int64 for packed [1, sum(lengths)] frames, else None
    ids: list[str]
    types: list[str]
    views: list[str]
    sils: Tensor | None = None  # [n, s, H, W] uint8 ground-truth silhouettes, when asked for

    def to(self, device: torch.device | str, non_blocking: bool = False) -> Batch:
        """A copy with every tensor moved to ``device``."""

        def mv(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.to(device, non_blocking=non_blocking)

        return replace(
            self,
            frames=mv(self.frames),
            ratios=mv(self.ratios),
            labels=mv(self.labels),
            seq_lengths=mv(self.seq_lengths),
            sils=mv(self.sils),
        )


def normalize_rgb(x: np.ndarray) -> np.ndarray:
    """``(x - 255*mean) / (255*std)`` of uint8 ``[..., 3, H, W]`` frames, as float32 (float64 maths)."""
    if x.dtype != np.uint8 or x.ndim < 3 or x.shape[-3] != 3:
        raise DataError(f"normalize_rgb: expected uint8 [..., 3, H, W], got {x.dtype} {list(x.shape)}")
    out = np.empty(x.shape, dtype=np.float32)
    for c in range(3):
        np.take(_RGB_LUT[c], x[..., c, :, :], out=out[..., c, :, :])
    return out


def _frames_of(
    data: dict[str, np.ndarray], modality: str, idx: np.ndarray, flip: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Select frames ``idx`` of one loaded sequence, flip, normalise.

    Returns (frames [s, C, H, W] float32, ratios [s] float32, sils [s, H, W] uint8 or None).
    """
    sils = data["sils"][idx] if "sils" in data else None  # [s, H, W] uint8
    if sils is not None and flip:
        sils = np.ascontiguousarray(sils[..., ::-1])
    if modality == "rgb":
        rgb = data["rgb"][idx]  # [s, 3, H, W] uint8
        if flip:
            rgb = rgb[..., ::-1]  # whole-sequence flip, before normalisation
        frames = normalize_rgb(rgb)
    else:
        frames = (sils.astype(np.float32) / np.float32(255.0))[:, None]  # [s, 1, H, W] in [0, 1]
    return frames, data["ratios"][idx], sils


def _stack(parts: list[np.ndarray], what: str, where: Path) -> Tensor:
    shapes = {p.shape[1:] for p in parts}
    if len(shapes) > 1:
        raise DataError(f"{where}: sequences of one batch have different {what} shapes {sorted(shapes)}")
    return torch.from_numpy(np.stack(parts))


class _TrainIterations(Dataset):
    """Map-style view of the training stream: item ``i`` is ``(i, batch of iteration i)``."""

    def __init__(
        self, dataset: GaitDataset, data: DataConfig, seed: int, with_sils: bool, rank: int = 0, world_size: int = 1
    ) -> None:
        self.dataset, self.data, self.seed, self.with_sils = dataset, data, seed, with_sils
        self.rank, self.world_size = rank, world_size
        self.by_label = dataset.indices_by_label()

    def __getitem__(self, it: int) -> tuple[int, Batch]:
        d = self.data
        plan = plan_iteration(self.seed, it, self.by_label, d.batch_p, d.batch_k, d.flip_prob)
        # Under DDP each rank loads only its identity-major share of the P x K slots; the slot
        # number (not the rank) seeds the frame choice, so the union equals the 1-process batch.
        n = len(plan.seq_indices)
        lo, hi = self.rank * n // self.world_size, (self.rank + 1) * n // self.world_size
        seq_indices = plan.seq_indices[lo:hi]
        frames, ratios, sils = [], [], []
        for slot, idx, flip in zip(range(lo, hi), seq_indices.tolist(), plan.flips[lo:hi].tolist()):
            data = self.dataset.load(idx)
            fidx = sample_frames(frame_rng(self.seed, it, slot), len(data["ratios"]), d.frames_per_seq)
            f, r, s = _frames_of(data, d.modality, fidx, flip)
            frames.append(f)
            ratios.append(r)
            sils.append(s)
        recs = [self.dataset.sequences[i] for i in seq_indices]
        batch = Batch(
            frames=_stack(frames, "frame", self.dataset.root),  # [P*K/world, s, C, H, W]
            ratios=torch.from_numpy(np.stack(ratios)),  # [P*K/world, s]
            labels=torch.from_numpy(self.dataset.labels[seq_indices]),
            seq_lengths=None,
            ids=[r.id for r in recs],
            types=[r.type for r in recs],
            views=[r.view for r in recs],
            sils=_stack(sils, "silhouette", self.dataset.root) if self.with_sils else None,
        )
        return it, batch

    def __len__(self) -> int:  # pragma: no cover - the stream is infinite; DataLoader never asks
        raise TypeError("the training stream is infinite")


def _identity(x):
    return x


class TrainLoader:
    """Infinite stream of ``(iteration, Batch)`` starting at ``start_iter``.

    Attributes: ``dataset`` (the training :class:`GaitDataset`), ``num_classes`` (its id count).
    """

    def __init__(
        self,
        dataset: GaitDataset,
        data: DataConfig,
        seed: int,
        start_iter: int = 0,
        with_sils: bool = False,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        self.dataset = dataset
        self.num_classes = len(dataset.ids)
        self.start_iter = start_iter
        self._items = _TrainIterations(dataset, data, seed, with_sils, rank, world_size)
        self._workers = data.num_workers
        # Fail here, with a clear message, rather than inside a worker.
        plan_iteration(seed, start_iter, self._items.by_label, data.batch_p, data.batch_k, data.flip_prob)

    def __iter__(self) -> Iterator[tuple[int, Batch]]:
        loader = DataLoader(
            self._items,
            batch_size=None,
            sampler=itertools.count(self.start_iter),
            num_workers=self._workers,
            collate_fn=_identity,
            prefetch_factor=2 if self._workers > 0 else None,
        )
        yield from loader


def _require(value: str | Path | None, key: str) -> Path:
    if not value:
        raise DataError(f"{key} is empty: set it in the experiment / scale file or with --set {key}=PATH")
    return Path(value)


def make_train_loader(
    exp: Experiment, start_iter: int = 0, *, with_sils: bool = False, rank: int = 0, world_size: int = 1
) -> TrainLoader:
    """The training stream of ``exp`` (``exp.data``, seeded by ``exp.train.seed``) from ``start_iter``.

    With ``world_size > 1`` each batch holds this rank's contiguous share of the P x K sequences
    (the batch of a 1-process run, split identity-major).
    """
    d = exp.data
    if not 0 <= rank < world_size:
        raise DataError(f"rank {rank} outside world size {world_size}")
    if d.num_workers < 0 or d.frames_per_seq < 1:
        raise DataError(
            f"data.num_workers={d.num_workers}, data.frames_per_seq={d.frames_per_seq}: "
            "expected num_workers >= 0 and frames_per_seq >= 1"
        )
    dataset = GaitDataset(
        _require(d.root, "data.root"),
        d.dataset,
        _require(d.partition, "data.partition"),
        split="train",
        modality=d.modality,
        with_sils=with_sils,
    )
    logger.info("training on %s", dataset)
    return TrainLoader(dataset, d, exp.train.seed, start_iter, with_sils, rank, world_size)


def test_frame_cap(data: DataConfig, dataset: GaitDataset) -> int:
    """Frames kept per test sequence: ``data.test_max_frames`` when > 0, else the preset's (0 = all)."""
    return data.test_max_frames if data.test_max_frames > 0 else dataset.preset.test_max_frames


test_frame_cap.__test__ = False  # not a pytest test, despite the name


class _TestSequences(Dataset):
    def __init__(self, dataset: GaitDataset, modality: str, cap: int, with_sils: bool) -> None:
        self.dataset, self.modality, self.cap, self.with_sils = dataset, modality, cap, with_sils

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> Batch:
        data = self.dataset.load(i)
        idx = first_frames(len(data["ratios"]), self.cap)
        frames, ratios, sils = _frames_of(data, self.modality, idx, flip=False)
        rec = self.dataset.sequences[i]
        return Batch(
            frames=torch.from_numpy(frames)[None],  # [1, s, C, H, W]
            ratios=torch.from_numpy(ratios)[None],  # [1, s]
            labels=torch.tensor([self.dataset.labels[i]], dtype=torch.int64),
            seq_lengths=None,
            ids=[rec.id],
            types=[rec.type],
            views=[rec.view],
            sils=torch.from_numpy(np.ascontiguousarray(sils))[None] if self.with_sils else None,
        )


class TestLoader:
    """Iterable of one-sequence :class:`Batch` es in dataset order; ``len()`` = number of sequences."""

    __test__ = False  # not a pytest test class

    def __init__(
        self, dataset: GaitDataset, modality: str, cap: int, num_workers: int, with_sils: bool = False
    ) -> None:
        self.dataset, self.cap = dataset, cap
        self._items = _TestSequences(dataset, modality, cap, with_sils)
        self._workers = num_workers

    def __len__(self) -> int:
        return len(self.dataset)

    def __iter__(self) -> Iterator[Batch]:
        yield from DataLoader(
            self._items, batch_size=None, shuffle=False, num_workers=self._workers, collate_fn=_identity
        )


def make_test_loader(
    data: DataConfig,
    dataset: str | None = None,
    root: str | Path | None = None,
    partition: str | Path | None = None,
    *,
    with_sils: bool = False,
    split: str = "test",
) -> TestLoader:
    """Test batches of ``dataset`` at ``root`` (defaults: ``data.dataset``, ``data.root``).

    ``partition`` defaults to ``data.partition`` only when neither ``root`` nor another dataset is
    given; without a partition every id on disk is read (split ``all``). Frames cap, modality and
    workers follow ``data``; ``split`` may be ``test``, ``train`` or ``all``.
    """
    name = get_preset(dataset or data.dataset).name
    if root is None and name != data.dataset:
        raise DataError(f"make_test_loader: dataset {name!r} differs from data.dataset {data.dataset!r}; pass its root")
    if partition is None and root is None:
        partition = data.partition  # the configured dataset: its configured partition
    root = _require(root or data.root, "data.root")
    if data.num_workers < 0:
        raise DataError(f"data.num_workers={data.num_workers}: expected >= 0")
    ds = GaitDataset(
        root,
        name,
        partition or None,
        split=split if partition else "all",  # type: ignore[arg-type]
        modality=data.modality,
        with_sils=with_sils,
    )
    return TestLoader(ds, data.modality, test_frame_cap(data, ds), data.num_workers, with_sils)
