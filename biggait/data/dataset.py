"""Readers for the OpenGait layout ``<root>/<id>/<type>/<view>/*.pkl`` and partition JSONs.

:class:`GaitDataset` indexes a tree once (directory listings only, no pickle is opened), then
:meth:`GaitDataset.load` reads one sequence and returns it in the package's single convention:
RGB uint8 ``[T,3,H,W]``, ratios float32 ``[T]`` (w/h) and silhouettes uint8 ``[T,H,W]``.
"""

from __future__ import annotations

import fnmatch
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from biggait.data.pickles import load_array
from biggait.datasets import DatasetPreset, get_preset
from biggait.errors import DataError
from biggait.io import read_json

__all__ = ["SequenceRecord", "GaitDataset", "load_partition", "scan_tree", "convert_arrays", "needed_modalities"]

logger = logging.getLogger(__name__)

Split = Literal["train", "test", "all"]


@dataclass(frozen=True)
class SequenceRecord:
    """One sequence folder and the pickle chosen for each modality (``rgb``, ``ratios``, ``sils``)."""

    id: str
    type: str
    view: str
    folder: Path
    files: dict[str, Path] = field(default_factory=dict, compare=False, hash=False)


def load_partition(path: str | Path) -> dict[str, list[str]]:
    """Read ``{"TRAIN_SET": [...], "TEST_SET": [...]}``; ids become strings."""
    path = Path(path)
    raw = read_json(path, "partition")
    if not isinstance(raw, dict):
        raise DataError(f"{path}: expected an object with TRAIN_SET and TEST_SET lists")
    out = {}
    for key in ("TRAIN_SET", "TEST_SET"):
        ids = raw.get(key)
        if not isinstance(ids, list) or not all(isinstance(i, (str, int)) and not isinstance(i, bool) for i in ids):
            raise DataError(f"{path}: {key}: expected a list of id strings, got {type(ids).__name__}")
        out[key] = [str(i) for i in ids]
    return out


def needed_modalities(modality: str, with_sils: bool) -> tuple[str, ...]:
    """The pickles a sequence must provide to be read as ``modality`` (``rgb`` or ``silhouette``)."""
    if modality not in ("rgb", "silhouette"):
        raise DataError(f"unknown input modality {modality!r} (expected 'rgb' or 'silhouette')")
    main = "rgb" if modality == "rgb" else "sils"
    return (main, "ratios") + (("sils",) if with_sils and main != "sils" else ())


def _subdirs(path: Path) -> list[str]:
    with os.scandir(path) as it:
        return sorted(e.name for e in it if e.is_dir() and not e.name.startswith("."))


def scan_tree(
    root: str | Path,
    preset: DatasetPreset,
    ids: list[str] | None,
    modalities: tuple[str, ...],
    optional: tuple[str, ...] = (),
) -> tuple[list[SequenceRecord], list[str], list[Path]]:
    """List the sequences of ``ids`` (``None`` = every id folder) under ``root``.

    Every modality of ``modalities`` must have exactly one file per sequence; those of
    ``optional`` are recorded when exactly one file matches.

    Returns ``(records, problems, skipped)``: records sorted by (id, type, view); one problem line
    per missing id or missing / ambiguous modality file, naming the path; and the view folders
    skipped because they hold no ``.pkl`` at all (OpenGait skips those too).
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: dataset root not found (expected <root>/<id>/<type>/<view>/*.pkl)")
    on_disk = _subdirs(root)
    problems: list[str] = []
    if ids is None:
        ids = on_disk
    else:
        present = set(on_disk)
        problems += [f"{root / i}: id {i!r} is in the partition but not on disk" for i in ids if i not in present]
        ids = [i for i in ids if i in present]
    records: list[SequenceRecord] = []
    skipped: list[Path] = []
    for sid in sorted(ids):
        n_before = len(records)
        for typ in _subdirs(root / sid):
            for view in _subdirs(root / sid / typ):
                folder = root / sid / typ / view
                with os.scandir(folder) as it:
                    pkls = sorted(e.name for e in it if e.name.endswith(".pkl") and e.is_file())
                if not pkls:
                    skipped.append(folder)
                    continue
                files: dict[str, Path] = {}
                for mod in modalities:
                    pattern = preset.glob(mod)
                    hits = fnmatch.filter(pkls, pattern)
                    if len(hits) == 1:
                        files[mod] = folder / hits[0]
                    elif not hits:
                        problems.append(f"{folder}: no {mod} pickle matching {pattern!r} (found: {', '.join(pkls)})")
                    else:
                        problems.append(
                            f"{folder}: {len(hits)} files match the {mod} pattern {pattern!r} "
                            f"({', '.join(hits)}); expected exactly one"
                        )
                for mod in optional:
                    hits = fnmatch.filter(pkls, preset.glob(mod))
                    if len(hits) == 1:
                        files[mod] = folder / hits[0]
                    elif hits:
                        problems.append(
                            f"{folder}: {len(hits)} files match the {mod} pattern "
                            f"{preset.glob(mod)!r} ({', '.join(hits)}); expected at most one"
                        )
                if all(m in files for m in modalities):
                    records.append(SequenceRecord(sid, typ, view, folder, files))
        if len(records) == n_before and not any(p.startswith(str(root / sid) + os.sep) for p in problems):
            problems.append(f"{root / sid}: id {sid!r} has no sequence (expected <type>/<view>/*.pkl inside)")
    return records, problems, skipped


def convert_arrays(preset: DatasetPreset, raw: dict[str, np.ndarray], files: dict[str, Path]) -> dict[str, np.ndarray]:
    """Check the raw arrays of one sequence and convert them to the package convention.

    ``raw`` maps ``rgb`` / ``ratios`` / ``sils`` to the arrays read from ``files``. Returns
    ``rgb`` uint8 ``[T,3,H,W]``, ``ratios`` float32 ``[T]`` (w/h), ``sils`` uint8 ``[T,H,W]``.
    Raises DataError naming the file for a wrong dtype or shape, an empty sequence or modality
    arrays of different lengths.
    """
    out: dict[str, np.ndarray] = {}
    if "rgb" in raw:
        x, f = raw["rgb"], files["rgb"]
        want = "[T,H,W,3]" if preset.rgb_layout == "hwc" else "[T,3,H,W]"
        if x.dtype != np.uint8:
            raise DataError(f"{f}: rgb dtype {x.dtype}, expected uint8 {want}")
        c_axis = 3 if preset.rgb_layout == "hwc" else 1
        if x.ndim != 4 or x.shape[c_axis] != 3:
            raise DataError(f"{f}: rgb shape {list(x.shape)}, expected uint8 {want} ({preset.name} preset)")
        out["rgb"] = x.transpose(0, 3, 1, 2) if preset.rgb_layout == "hwc" else x  # -> [T,3,H,W]
    if "sils" in raw:
        s, f = raw["sils"], files["sils"]
        if s.dtype != np.uint8:
            raise DataError(f"{f}: silhouette dtype {s.dtype}, expected uint8 [T,H,W]")
        if s.ndim != 3:
            raise DataError(f"{f}: silhouette shape {list(s.shape)}, expected uint8 [T,H,W]")
        if "rgb" in out and s.shape[1:] != out["rgb"].shape[2:]:
            raise DataError(
                f"{f}: silhouette frames {list(s.shape[1:])} differ from the RGB frames "
                f"{list(out['rgb'].shape[2:])} (expected aligned crops)"
            )
        out["sils"] = s
    if "ratios" in raw:
        r, f = raw["ratios"], files["ratios"]
        if r.dtype.kind != "f":
            raise DataError(f"{f}: ratio dtype {r.dtype}, expected a float array")
        if preset.ratio_layout == "hw":
            if r.ndim != 2 or r.shape[1] != 2:
                raise DataError(f"{f}: ratio shape {list(r.shape)}, expected float [T,2] (H, W)")
            with np.errstate(divide="ignore", invalid="ignore"):
                r = r[:, 1].astype(np.float64) / r[:, 0].astype(np.float64)  # (H, W) -> W/H
        elif r.ndim != 1:
            raise DataError(f"{f}: ratio shape {list(r.shape)}, expected float [T] (w/h)")
        r = r.astype(np.float32)
        if r.size and not (np.isfinite(r).all() and (r > 0).all()):
            raise DataError(f"{f}: ratios must be finite and > 0 (w/h of the crop)")
        out["ratios"] = r
    lengths = {m: len(a) for m, a in out.items()}
    first = next(iter(files.values()))
    if len(set(lengths.values())) > 1:
        desc = ", ".join(f"{files[m].name}: {n}" for m, n in lengths.items())
        raise DataError(f"{first.parent}: modality arrays have different lengths ({desc}); expected equal")
    if lengths and next(iter(lengths.values())) == 0:
        raise DataError(f"{first.parent}: sequence has 0 frames (expected at least 1)")
    return out


class GaitDataset:
    """Index of one split of a dataset tree; loads sequences on demand.

    Args:
        root: dataset root, ``<root>/<id>/<type>/<view>/*.pkl``.
        preset: preset name or object (:mod:`biggait.datasets`).
        partition: partition JSON; required for ``split`` ``train`` / ``test``.
        split: ``train``, ``test`` or ``all`` (every id on disk, or both partition lists).
        modality: ``rgb`` or ``silhouette`` (which frames :meth:`load` returns).
        with_sils: also return the ground-truth silhouettes (rgb modality).

    Attributes: ``sequences`` (sorted :class:`SequenceRecord` list), ``ids`` (sorted ids of the
    split; a sequence's label is the index of its id here), ``labels`` (int64 ``[N]``).
    """

    def __init__(
        self,
        root: str | Path,
        preset: str | DatasetPreset,
        partition: str | Path | None = None,
        split: Split = "all",
        modality: str = "rgb",
        with_sils: bool = False,
    ) -> None:
        self.root = Path(root)
        self.preset = get_preset(preset)
        self.modality = modality
        self.modalities = needed_modalities(modality, with_sils)
        if split not in ("train", "test", "all"):
            raise DataError(f"unknown split {split!r} (expected 'train', 'test' or 'all')")
        ids: list[str] | None = None
        if partition:
            part = load_partition(partition)
            ids = {"train": part["TRAIN_SET"], "test": part["TEST_SET"], "all": part["TRAIN_SET"] + part["TEST_SET"]}[
                split
            ]
        elif split != "all":
            raise DataError(f"{self.root}: split {split!r} needs a partition file (TRAIN_SET / TEST_SET)")
        records, problems, skipped = scan_tree(self.root, self.preset, ids, self.modalities)
        if problems:
            more = f" (and {len(problems) - 1} more problems; run `biggait data check`)" if len(problems) > 1 else ""
            raise DataError(problems[0] + more)
        if skipped:
            logger.warning(
                "%s: skipped %d view folders without .pkl files (e.g. %s)", self.root, len(skipped), skipped[0]
            )
        if not records:
            raise DataError(f"{self.root}: no sequence found for split {split!r} (expected <id>/<type>/<view>/*.pkl)")
        self.sequences: list[SequenceRecord] = records
        self.ids: list[str] = sorted({r.id for r in records})
        index = {sid: k for k, sid in enumerate(self.ids)}
        self.labels = np.array([index[r.id] for r in records], dtype=np.int64)
        self._lengths: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self.sequences)

    def __repr__(self) -> str:
        return f"GaitDataset({str(self.root)!r}, {self.preset.name!r}, {len(self.ids)} ids, {len(self)} sequences)"

    def indices_by_label(self) -> list[np.ndarray]:
        """For each label (index into ``ids``), the sequence indices of that identity."""
        order = np.argsort(self.labels, kind="stable")
        bounds = np.searchsorted(self.labels[order], np.arange(len(self.ids) + 1))
        return [order[bounds[k] : bounds[k + 1]] for k in range(len(self.ids))]

    def load(self, i: int) -> dict[str, np.ndarray]:
        """Read sequence ``i``: ``rgb`` [T,3,H,W] uint8 and/or ``sils`` [T,H,W] uint8, ``ratios`` [T] float32."""
        rec = self.sequences[i]
        raw = {m: load_array(p) for m, p in rec.files.items()}
        out = convert_arrays(self.preset, raw, rec.files)
        self._lengths[i] = len(out["ratios"])
        return out

    def length(self, i: int) -> int:
        """Number of frames of sequence ``i`` (reads only its small ratio pickle; cached)."""
        if i not in self._lengths:
            rec = self.sequences[i]
            r = convert_arrays(
                self.preset, {"ratios": load_array(rec.files["ratios"])}, {"ratios": rec.files["ratios"]}
            )
            self._lengths[i] = len(r["ratios"])
        return self._lengths[i]
