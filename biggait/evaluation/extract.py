"""Test embeddings of a model over a test loader, saved as ``embeddings.npz`` and reloaded.

One sequence per batch (the released test path), in the loader's natural order, with a tqdm bar.
Under CUDA the forward can run in fp16 autocast (``EvalConfig.autocast``, as the released
features); on CPU it is fp32. Long extractions are resumable: every ``save_every`` sequences the
features so far go to a partial file next to the output, and a restart with the same
fingerprint skips the sequences already done (their batches are read but not forwarded).
"""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
import torch
from tqdm import tqdm

from biggait.errors import EvaluationError
from biggait.evaluation.mask_quality import sequence_overlap
from biggait.runinfo import atomic_path

logger = logging.getLogger(__name__)

_ARRAYS = ("features", "labels", "types", "views", "mask_intersection", "mask_union")


@dataclass
class Embeddings:
    """Features of a test set plus their metadata (one entry per sequence)."""

    features: np.ndarray  # [N, C, P] float32 (or float16)
    labels: np.ndarray  # [N] str identities
    types: np.ndarray  # [N] str
    views: np.ndarray  # [N] str
    mask_intersection: np.ndarray | None = None  # [N] int64 pixel counts, -1 = not measured
    mask_union: np.ndarray | None = None  # [N] int64
    meta: dict = field(default_factory=dict)  # checkpoint, experiment, train/test dataset, ...

    def __post_init__(self) -> None:
        if self.features.ndim != 3:
            raise EvaluationError(f"embeddings: expected features [N, C, P], got {list(self.features.shape)}")
        n = self.features.shape[0]
        for name in ("labels", "types", "views", "mask_intersection", "mask_union"):
            a = getattr(self, name)
            if a is not None and len(a) != n:
                raise EvaluationError(f"embeddings: {n} feature rows but {len(a)} {name}")

    def save(self, path: str | Path) -> None:
        """Write ``path`` (npz) atomically; metadata as a JSON string under ``metadata``."""
        arrays = {k: getattr(self, k) for k in _ARRAYS if getattr(self, k) is not None}
        for k in ("labels", "types", "views"):
            arrays[k] = np.asarray(arrays[k]).astype(str)
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:  # a file handle: np.savez would append ".npz" to a bare path
                np.savez(fh, metadata=np.array(json.dumps(self.meta)), **arrays)

    @classmethod
    def load(cls, path: str | Path) -> "Embeddings":
        """Read an ``embeddings.npz`` written by :meth:`save` (EvaluationError if malformed)."""
        path = Path(path)
        if not path.is_file():
            raise EvaluationError(f"{path}: embeddings file not found")
        try:
            with np.load(path, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
        except (OSError, ValueError) as exc:
            raise EvaluationError(f"{path}: not a readable embeddings .npz ({exc})") from None
        missing = [k for k in ("features", "labels", "types", "views") if k not in data]
        if missing:
            raise EvaluationError(f"{path}: missing arrays {missing} (expected features, labels, types, views)")
        try:
            meta = json.loads(str(data["metadata"])) if "metadata" in data else {}
        except json.JSONDecodeError:
            raise EvaluationError(f"{path}: metadata is not a JSON string") from None
        try:
            return cls(data["features"], data["labels"].astype(str), data["types"].astype(str),
                       data["views"].astype(str), data.get("mask_intersection"), data.get("mask_union"), meta)
        except EvaluationError as exc:
            raise EvaluationError(f"{path}: {exc}") from None


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; anything else as given (validated)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise EvaluationError(f"--device {name!r}: expected auto, cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise EvaluationError(f"--device {name}: CUDA is not available on this machine")
    return dev


def _load_partial(path: Path, fingerprint: dict) -> dict[str, list]:
    """Rows already extracted by an interrupted run with the same fingerprint (else empty)."""
    empty: dict[str, list] = {k: [] for k in _ARRAYS}
    if not path.is_file():
        return empty
    try:
        old = Embeddings.load(path)
    except EvaluationError as exc:
        logger.warning("ignoring unreadable partial embeddings %s (%s)", path, exc)
        return empty
    if old.meta.get("fingerprint") != fingerprint:
        logger.info("partial embeddings %s belong to another run; starting over", path)
        return empty
    logger.info("resuming extraction after %d sequences from %s", len(old.labels), path)
    return {"features": list(old.features), "labels": list(old.labels), "types": list(old.types),
            "views": list(old.views), "mask_intersection": list(old.mask_intersection),
            "mask_union": list(old.mask_union)}


def _rows_to_embeddings(rows: dict[str, list], meta: dict, feature_shape: tuple[int, ...] = (0, 0)) -> Embeddings:
    feats = np.stack(rows["features"]) if rows["features"] else np.zeros((0, *feature_shape), np.float32)
    return Embeddings(feats.astype(np.float32), np.array(rows["labels"], dtype=str),
                      np.array(rows["types"], dtype=str), np.array(rows["views"], dtype=str),
                      np.array(rows["mask_intersection"], dtype=np.int64),
                      np.array(rows["mask_union"], dtype=np.int64), meta)


@torch.no_grad()
def extract_embeddings(model: torch.nn.Module, loader: Iterable, *, device: torch.device | str = "cpu",
                       autocast: bool = False, measure_masks: bool = False, pad_and_resize: bool = True,
                       meta: dict | None = None, partial_path: str | Path | None = None,
                       save_every: int = 200) -> Embeddings:
    """Embeddings ``[N, C, P]`` of every sequence of ``loader`` (batches of ``biggait.data.loader.Batch``).

    Args:
        model: returns ``ModelOutput`` with ``.embeddings [n, C, P]`` (and ``.maps["foreground"]``).
        device: where the forward runs; ``autocast`` (fp16) is honoured only on CUDA.
        measure_masks: also count foreground/silhouette overlaps (needs batches with ``sils``).
        meta: stored with the embeddings; its ``fingerprint`` entry keys resumption.
        partial_path: where interrupted progress is kept (deleted when the extraction completes).
    """
    device = torch.device(device)
    meta = dict(meta or {})
    fingerprint = meta.get("fingerprint", {})
    partial = Path(partial_path) if partial_path else None
    rows = _load_partial(partial, fingerprint) if partial else {k: [] for k in _ARRAYS}
    done = len(rows["labels"])
    model.eval().to(device)
    use_amp = autocast and device.type == "cuda"
    total = len(loader) if hasattr(loader, "__len__") else None
    bar = tqdm(loader, total=total, desc="extract", unit="seq", leave=False)
    for i, batch in enumerate(bar):
        key = (batch.ids[0], batch.types[0], batch.views[0])
        if i < done:  # resumed: this sequence is already in the partial file
            if key != (rows["labels"][i], rows["types"][i], rows["views"][i]):
                raise EvaluationError(f"{partial}: sequence {i} was {key} now but "
                                      f"{(rows['labels'][i], rows['types'][i], rows['views'][i])} before; "
                                      "delete the partial file to start over")
            continue
        frames = batch.frames.to(device, non_blocking=True)  # [1, s, C, H, W]
        ratios = batch.ratios.to(device, non_blocking=True)  # [1, s]
        amp = torch.autocast("cuda", dtype=torch.float16) if use_amp else contextlib.nullcontext()
        want_maps = measure_masks and batch.sils is not None
        with amp:
            out = model(frames, ratios, batch.seq_lengths, return_maps=want_maps)
        emb = out.embeddings.float().cpu().numpy()  # [1, C, P]
        inter, union = -1, -1
        if want_maps and "foreground" in out.maps:
            inter, union = sequence_overlap(out.maps["foreground"], batch.sils[0], batch.ratios[0], pad_and_resize)
        for j in range(emb.shape[0]):
            rows["features"].append(emb[j])
            rows["labels"].append(batch.ids[j])
            rows["types"].append(batch.types[j])
            rows["views"].append(batch.views[j])
            rows["mask_intersection"].append(inter)
            rows["mask_union"].append(union)
        if partial and (i + 1) % save_every == 0:
            _rows_to_embeddings(rows, {"fingerprint": fingerprint}).save(partial)
    bar.close()
    if not rows["labels"]:
        raise EvaluationError("the test loader yielded no sequence (empty test split?)")
    result = _rows_to_embeddings(rows, meta)
    if partial and partial.exists():
        partial.unlink()
    return result
