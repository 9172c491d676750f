"""Test embeddings of a model over a test loader, saved as ``embeddings.npz`` and reloaded.

One sequence per batch (the released test path), in the loader's natural order, with a progress bar (biggait.progress).
Under CUDA the forward can run in fp16 autocast (``EvalConfig.autocast``, as the released
features); on CPU it is fp32. Long extractions are resumable: every ``save_every`` sequences the
features so far go to a partial file next to the output, and a restart with the same
fingerprint skips the sequences already done (their batches are read but not forwarded).
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from biggait.errors import EvaluationError
from biggait.evaluation.mask_quality import sequence_overlap
from biggait.io import atomic_path, read_npz
from biggait.progress import progress_bar

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
    def load(cls, path: str | Path) -> Embeddings:
        """Read an ``embeddings.npz`` written by :meth:`save` (EvaluationError if malformed)."""
        path = Path(path)
        data = read_npz(path, "embeddings", EvaluationError)
        missing = [k for k in ("features", "labels", "types", "views") if k not in data]
        if missing:
            raise EvaluationError(f"{path}: missing arrays {missing} (expected features, labels, types, views)")
        try:
            meta = json.loads(str(data["metadata"])) if "metadata" in data else {}
        except json.JSONDecodeError:
            raise EvaluationError(f"{path}: metadata is not a JSON string") from None
        try:
            return cls(
                data["features"],
                data["labels"].astype(str),
                data["types"].astype(str),
                data["views"].astype(str),
                data.get("mask_intersection"),
                data.get("mask_union"),
                meta,
            )
        except EvaluationError as exc:
            raise EvaluationError(f"{path}: {exc}") from None


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
    return {
        "features": list(old.features),
        "labels": list(old.labels),
        "types": list(old.types),
        "views": list(old.views),
        "mask_intersection": list(old.mask_intersection),
        "mask_union": list(old.mask_union),
    }


def _rows_to_embeddings(rows: dict[str, list], meta: dict, feature_shape: tuple[int, ...] = (0, 0)) -> Embeddings:
    feats = np.stack(rows["features"]) if rows["features"] else np.zeros((0, *feature_shape), np.float32)
    return Embeddings(
        feats.astype(np.float32),
        np.array(rows["labels"], dtype=str),
        np.array(rows["types"], dtype=str),
        np.array(rows["views"], dtype=str),
        np.array(rows["mask_intersection"], dtype=np.int64),
        np.array(rows["mask_union"], dtype=np.int64),
        meta,
    )


def _packs(loader: Iterable, pack_frames: int, skip: int) -> Iterator[tuple[int, list]]:
    """Group the loader's one-sequence batches into packs of at most ``pack_frames`` frames.

    Yields ``(index of the first sequence, [Batch, ...])``; the first ``skip`` sequences (already
    extracted by an interrupted run) come alone so that they can be checked and skipped.
    """
    pack: list = []
    first, frames = 0, 0
    for i, batch in enumerate(loader):
        s = batch.frames.shape[1]
        if pack and frames + s > pack_frames:
            yield first, pack
            pack, frames = [], 0
        if not pack:
            first = i
        pack.append(batch)
        frames += s
        if i < skip or frames >= pack_frames:  # full (or a done sequence): run it now
            yield first, pack
            pack, frames = [], 0
    if pack:
        yield first, pack


def same_lvm_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    """Whether two models' frozen LVMs hold equal weights (the same module, or equal tensors)."""
    if a.lvm is b.lvm:
        return True
    sa, sb = a.lvm.state_dict(), b.lvm.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def _same_upstream(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    if not (hasattr(a, "upstream") and hasattr(b, "upstream")) or a.upstream_signature() != b.upstream_signature():
        return False
    return same_lvm_weights(a, b)


def upstream_clusters(models: list[torch.nn.Module]) -> list[list[int]]:
    """Indices of ``models`` grouped by their frozen upstream: BigGait models with equal upstream
    signatures and equal LVM weights share a cluster (their upstream maps are identical); any other
    model is alone. Within a cluster the later models' LVM modules are replaced by the first's (one
    copy in memory)."""
    clusters: list[list[int]] = []
    for i, m in enumerate(models):
        for c in clusters:
            if _same_upstream(models[c[0]], m):
                c.append(i)
                m.lvm = models[c[0]].lvm
                break
        else:
            clusters.append([i])
    return clusters


def _pack_tensors(pack: list) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Frames ``[1, sum(s), C, H, W]``, ratios ``[1, sum(s)]`` and lengths (None for one sequence)."""
    if len(pack) == 1:
        return pack[0].frames, pack[0].ratios, pack[0].seq_lengths  # [1, s, C, H, W]
    frames = torch.cat([b.frames for b in pack], dim=1)
    ratios = torch.cat([b.ratios for b in pack], dim=1)
    return frames, ratios, torch.tensor([b.frames.shape[1] for b in pack])


@torch.no_grad()
def _forward_pack(
    models: list[torch.nn.Module],
    pack: list,
    device: torch.device,
    use_amp: bool,
    measure_masks: bool,
    clusters: list[list[int]],
) -> list[tuple[np.ndarray, torch.Tensor | None]]:
    """One forward per model over a pack of sequences -> for each model the embeddings
    ``[n_seq, C, P]`` and foregrounds ``[sum(s), h, w]``. The upstream runs once per cluster of
    :func:`upstream_clusters` (on its first model) and every model of the cluster reads its maps."""
    frames, ratios, lengths = _pack_tensors(pack)
    frames = frames.to(device, non_blocking=True)
    ratios = ratios.to(device, non_blocking=True)
    lengths = None if lengths is None else lengths.to(device)
    amp = torch.autocast("cuda", dtype=torch.float16) if use_amp else contextlib.nullcontext()
    want_maps = measure_masks and all(b.sils is not None for b in pack)
    results: list = [None] * len(models)
    with amp:
        for cluster in clusters:
            taps = None
            if len(cluster) > 1:
                n, s = frames.shape[:2]
                needed = set().union(*(models[i].needed_taps() for i in cluster))
                taps = models[cluster[0]].upstream(frames.reshape(n * s, *frames.shape[2:]), ratios.reshape(-1), needed)
            for i in cluster:
                kw = {"taps": taps} if taps is not None else {}
                out = models[i](frames, ratios, lengths, return_maps=want_maps, **kw)
                fg = out.maps["foreground"] if want_maps and "foreground" in out.maps else None
                results[i] = (out.embeddings.float().cpu().numpy(), fg)
    return results


def _append_pack(
    rows: dict[str, list], pack: list, emb: np.ndarray, fg: torch.Tensor | None, pad_and_resize: bool
) -> None:
    """Add one row per sequence of the pack (features, metadata, mask overlaps or -1)."""
    start = 0
    for j, batch in enumerate(pack):
        s = batch.frames.shape[1]
        inter, union = -1, -1
        if fg is not None:
            inter, union = sequence_overlap(fg[start : start + s], batch.sils[0], batch.ratios[0], pad_and_resize)
        start += s
        rows["features"].append(emb[j])
        rows["labels"].append(batch.ids[0])
        rows["types"].append(batch.types[0])
        rows["views"].append(batch.views[0])
        rows["mask_intersection"].append(inter)
        rows["mask_union"].append(union)


def extract_embeddings(
    model: torch.nn.Module,
    loader: Iterable,
    *,
    device: torch.device | str = "cpu",
    autocast: bool = False,
    measure_masks: bool = False,
    pad_and_resize: bool = True,
    meta: dict | None = None,
    partial_path: str | Path | None = None,
    save_every: int = 200,
    pack_frames: int = 0,
) -> Embeddings:
    """Embeddings ``[N, C, P]`` of every sequence of ``loader`` (batches of ``biggait.data.loader.Batch``).

    Args:
        model: returns ``ModelOutput`` with ``.embeddings [n, C, P]`` (and ``.maps["foreground"]``).
        device: where the forward runs; ``autocast`` (fp16) is honoured only on CUDA.
        measure_masks: also count foreground/silhouette overlaps (needs batches with ``sils``).
        meta: stored with the embeddings; its ``fingerprint`` entry keys resumption.
        partial_path: where interrupted progress is kept (deleted when the extraction completes).
        pack_frames: run consecutive sequences together, packed as ``[1, sum(lengths), ...]`` with
            ``seq_lengths`` (temporal pooling stays per sequence), up to this many frames per
            forward; 0 or a value below a sequence's length = one sequence per forward.
    """
    return extract_shared(
        [model],
        loader,
        device=device,
        autocast=autocast,
        measure_masks=measure_masks,
        pad_and_resize=[pad_and_resize],
        metas=[meta],
        partial_paths=[partial_path],
        save_every=save_every,
        pack_frames=pack_frames,
    )[0]


def extract_shared(
    models: list[torch.nn.Module],
    loader: Iterable,
    *,
    device: torch.device | str = "cpu",
    autocast: bool = False,
    measure_masks: bool = False,
    pad_and_resize: list[bool],
    metas: list[dict | None],
    partial_paths: list[str | Path | None],
    save_every: int = 200,
    pack_frames: int = 0,
) -> list[Embeddings]:
    """:func:`extract_embeddings` of several models in one pass over ``loader`` (one entry per model
    in ``pad_and_resize``, ``metas`` and ``partial_paths``).

    The test frames are read once; models that share their frozen upstream
    (:func:`upstream_clusters`: same signature, same LVM weights) run it once per pack and each reads
    its maps, so every model's embeddings are those of its own forward. A resumed run restarts
    after the sequences every model has in its partial file.
    """
    device = torch.device(device)
    metas = [dict(m or {}) for m in metas]
    fingerprints = [m.get("fingerprint", {}) for m in metas]
    partials = [Path(p) if p else None for p in partial_paths]
    rows = [_load_partial(p, f) if p else {k: [] for k in _ARRAYS} for p, f in zip(partials, fingerprints)]
    done = min(len(r["labels"]) for r in rows)
    rows = [{k: v[:done] for k, v in r.items()} for r in rows]
    for model in models:
        model.eval().to(device)
    clusters = upstream_clusters(models)
    if len(models) > 1:
        logger.info(
            "%d models in one pass over the test set; %d upstream forward(s) per pack", len(models), len(clusters)
        )
    use_amp = autocast and device.type == "cuda"
    total = len(loader) if hasattr(loader, "__len__") else None
    bar = progress_bar(total=total, desc="extract", unit="seq", leave=False)
    saved_at = done
    for first, pack in _packs(loader, pack_frames, done):
        bar.update(len(pack))
        if first < done:  # resumed: this sequence is already in the partial files
            _check_resumed(pack[0], rows[0], first, partials[0])
            continue
        for r, (emb, fg), pr in zip(
            rows, _forward_pack(models, pack, device, use_amp, measure_masks, clusters), pad_and_resize
        ):
            _append_pack(r, pack, emb, fg, pr)
        if len(rows[0]["labels"]) - saved_at >= save_every:
            for r, p, f in zip(rows, partials, fingerprints):
                if p:
                    _rows_to_embeddings(r, {"fingerprint": f}).save(p)
            saved_at = len(rows[0]["labels"])
    bar.close()
    if not rows[0]["labels"]:
        raise EvaluationError("the test loader yielded no sequence (empty test split?)")
    results = [_rows_to_embeddings(r, m) for r, m in zip(rows, metas)]
    for p in partials:
        if p and p.exists():
            p.unlink()
    return results


def _check_resumed(batch, rows: dict[str, list], first: int, partial: Path | None) -> None:
    """The loader's sequence ``first`` must be the one the partial file holds at that position."""
    key = (batch.ids[0], batch.types[0], batch.views[0])
    was = (rows["labels"][first], rows["types"][first], rows["views"][first])
    if key != was:
        raise EvaluationError(
            f"{partial}: sequence {first} was {was} before but {key} now; delete the partial file to start over"
        )
