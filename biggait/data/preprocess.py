"""Offline Pad-and-Resize: raw person-crop frames to OpenGait RGB pickles (the CCPG path).

Input: ``<src>/<id>/<type>/<view>/*.jpg|png`` (one person crop per frame, frames in file-name
order). Output, per sequence: ``<out>/<id>/<type>/<view>/<view>-aligned-rgbs.pkl`` (uint8
``[T,3,256,128]`` RGB) and ``<view>-ratios.pkl`` (float64 ``[T]``, w/h of each crop).

Each crop is read with ``cv2.imread`` (BGR), resized with OpenCV's INTER_LINEAR to height 256
keeping its aspect (width ``int(w*256/h)``), then centred on a black 256x128 canvas when narrower
(left offset ``(128-rw)//2``) or cut to its centre 128 columns when wider (first column
``ceil((rw-128)/2)``), converted to RGB and to CHW. This reproduces the released
``datasets/pretreatment_rgb.py`` bit for bit (golden ``preproc_pretreatment_rgb.npz``).

Sequences are written atomically (the whole view folder appears at once), processed in parallel,
and a rerun skips the finished ones, so an interrupted run resumes.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from biggait.errors import BigGaitError, DataError
from biggait.io import atomic_path
from biggait.progress import progress_bar

__all__ = [
    "align_crop",
    "frame_files",
    "preprocess_sequence",
    "list_raw_sequences",
    "preprocess_tree",
    "PreprocessSummary",
    "IMAGE_EXTENSIONS",
]

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")


def pad_and_resize_crop(img: np.ndarray, height: int, width: int) -> np.ndarray:
    """The released offline Pad-and-Resize of a crop ``[h, w(, C)]`` to ``[height, width(, C)]``.

    Resize to ``height`` keeping the aspect (width ``int(w*height/h)``, OpenCV INTER_LINEAR), then
    centre it on a black canvas (left pad ``(width - rw)//2``) or keep the centre ``width`` columns
    starting at ``ceil(excess/2)`` (the reference's ``|(width - rw)//2|``).
    """
    h, w = img.shape[:2]
    rw = int(w * height / h)  # resized width, truncated like the reference
    if rw < 1:
        raise DataError(f"pad-and-resize: a {h}x{w} crop is too thin to resize to height {height}")
    resized = cv2.resize(img, (rw, height), interpolation=cv2.INTER_LINEAR)  # [height, rw(, C)]
    if rw < width:
        canvas = np.zeros((height, width) + img.shape[2:], dtype=img.dtype)
        left = (width - rw) // 2
        canvas[:, left : left + rw] = resized
        return canvas
    start = (rw - width + 1) // 2
    return np.ascontiguousarray(resized[:, start : start + width])


def align_crop(img_bgr: np.ndarray, height: int = 256, width: int = 128) -> tuple[np.ndarray, float]:
    """Pad-and-resize one BGR crop ``[h, w, 3]`` uint8 to RGB ``[3, height, width]`` uint8.

    Returns the aligned frame and the crop's aspect ratio ``w/h`` (a Python float, i.e. float64).
    """
    if img_bgr.dtype != np.uint8 or img_bgr.ndim != 3 or img_bgr.shape[2] != 3 or min(img_bgr.shape[:2]) < 1:
        raise DataError(f"align_crop: expected a uint8 [h, w, 3] BGR image, got {img_bgr.dtype} {list(img_bgr.shape)}")
    h, w = img_bgr.shape[:2]
    canvas = pad_and_resize_crop(img_bgr, height, width)  # [height, width, 3] BGR
    rgb = canvas[:, :, ::-1].transpose(2, 0, 1)  # BGR [H, W, 3] -> RGB [3, H, W]
    return np.ascontiguousarray(rgb), w / h


def frame_files(folder: Path) -> list[Path]:
    """The image files of a raw sequence folder, in file-name order."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())


def output_files(out_folder: Path, view: str) -> tuple[Path, Path]:
    """The two pickles a preprocessed sequence consists of: (aligned RGBs, ratios)."""
    return out_folder / f"{view}-aligned-rgbs.pkl", out_folder / f"{view}-ratios.pkl"


def preprocess_sequence(src_folder: str | Path, out_folder: str | Path, height: int = 256, width: int = 128) -> int:
    """Pad-and-resize every frame of ``src_folder`` into ``out_folder`` atomically; returns T."""
    src_folder, out_folder = Path(src_folder), Path(out_folder)
    files = frame_files(src_folder)
    if not files:
        raise DataError(f"{src_folder}: no frames (expected {'/'.join(IMAGE_EXTENSIONS)} files)")
    rgbs = np.empty((len(files), 3, height, width), dtype=np.uint8)  # [T, 3, H, W]
    ratios = np.empty(len(files), dtype=np.float64)  # [T] w/h
    for t, f in enumerate(files):
        img = cv2.imread(str(f), cv2.IMREAD_COLOR)
        if img is None:
            raise DataError(f"{f}: unreadable image (expected a JPEG or PNG person crop)")
        rgbs[t], ratios[t] = align_crop(img, height, width)
    view = out_folder.name
    with atomic_path(out_folder) as tmp:
        tmp.mkdir()
        for arr, dest in zip((rgbs, ratios), output_files(tmp, view)):
            with open(dest, "wb") as fh:
                pickle.dump(arr, fh, protocol=4)
    return len(files)


def list_raw_sequences(src: str | Path) -> list[tuple[str, str, str]]:
    """``(id, type, view)`` of every ``<src>/<id>/<type>/<view>/`` folder, sorted."""
    src = Path(src)
    if not src.is_dir():
        raise DataError(f"{src}: source folder not found (expected <src>/<id>/<type>/<view>/*.jpg|png)")

    def dirs(p: Path) -> list[str]:
        return sorted(e.name for e in os.scandir(p) if e.is_dir() and not e.name.startswith("."))

    return [(i, t, v) for i in dirs(src) for t in dirs(src / i) for v in dirs(src / i / t)]


@dataclass
class PreprocessSummary:
    """What :func:`preprocess_tree` did: sequences written, skipped (already done), failures."""

    written: int = 0
    skipped: int = 0
    frames: int = 0
    failures: list[str] = field(default_factory=list)  # one line per failed sequence, naming the file


def _job(args: tuple[Path, Path, int, int]) -> tuple[str, int | str]:
    src_folder, out_folder, height, width = args
    try:
        return str(out_folder), preprocess_sequence(src_folder, out_folder, height, width)
    except (BigGaitError, OSError, cv2.error) as exc:
        return str(out_folder), str(exc)


def preprocess_tree(
    src: str | Path, out: str | Path, workers: int = 0, height: int = 256, width: int = 128, progress: bool = True
) -> PreprocessSummary:
    """Preprocess every sequence of ``src`` into ``out`` (see the module docstring).

    Args:
        src: raw tree ``<src>/<id>/<type>/<view>/*.jpg|png``.
        out: output root; finished sequences already there are skipped (resume).
        workers: worker processes (0 or 1 = in this process).
        height, width: the aligned frame size (256x128 for CCPG).
        progress: show a tqdm bar on stderr.
    """
    src, out = Path(src), Path(out)
    if workers < 0:
        raise DataError(f"--workers {workers}: expected 0 or more")
    seqs = list_raw_sequences(src)
    if not seqs:
        raise DataError(f"{src}: no sequence folders (expected <src>/<id>/<type>/<view>/*.jpg|png)")
    for stale in out.glob("*/*/.*.tmp"):  # temporaries of a run that was killed mid-sequence
        shutil.rmtree(stale, ignore_errors=True)
    summary = PreprocessSummary()
    jobs = []
    for sid, typ, view in seqs:
        dest = out / sid / typ / view
        if all(p.is_file() for p in output_files(dest, view)):
            summary.skipped += 1
        else:
            jobs.append((src / sid / typ / view, dest, height, width))
    logger.info("%s: %d sequences to preprocess, %d already done", src, len(jobs), summary.skipped)
    bar = progress_bar(total=len(jobs), desc="preprocess", unit="seq", disable=not progress or not jobs)
    if workers > 1 and len(jobs) > 1:
        with multiprocessing.get_context().Pool(min(workers, len(jobs))) as pool:
            results = pool.imap_unordered(_job, jobs, chunksize=1)
            _collect(results, summary, bar)
    else:
        _collect(map(_job, jobs), summary, bar)
    bar.close()
    summary.failures.sort()
    return summary


def _collect(results, summary: PreprocessSummary, bar: tqdm) -> None:
    for _, res in results:
        if isinstance(res, int):
            summary.written += 1
            summary.frames += res
        else:
            summary.failures.append(res)
        bar.update(1)
