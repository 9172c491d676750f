"""The on-disk formats SynthGait writes: the real datasets' crops, file names, dtypes and shapes.

- ``pad`` (CCPG): the offline pad-and-resize of the released preprocessing. The person crop is
  resized to height H keeping its aspect (width ``int(w*H/h)``, OpenCV's bilinear resize); a
  narrower result is centred on a black H x H/2 canvas at ``(H/2 - rw)//2``, a wider one keeps H/2
  columns from ``ceil((rw - H/2)/2)``. RGB uint8 ``[T,3,H,H/2]``, ratios ``[T]`` w/h of the crop.
- ``square`` (CASIA-B*): the crop squashed to S x S (area resize). RGB ``[T,3,S,S]``, ratios w/h.
- ``square_hwc`` (SUSTech1K): the same squash stored HWC ``[T,S,S,3]``, ratios ``[T,2]`` (H, W).

Silhouettes go through the same geometry (then thresholded back to 0/255), so they stay aligned
with every RGB frame. Each pickle holds one numpy array, protocol 4, time first.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import cv2
import numpy as np

from biggait.data.preprocess import pad_and_resize_crop
from biggait.datasets import get_preset

__all__ = ["file_names", "offline_pad_and_resize", "squash", "tight_box", "format_sequence", "write_pickles"]


def file_names(dataset: str, view: str) -> dict[str, str]:
    """File name per modality (``rgb``, ``ratios``, ``sils``) of a view folder, from the dataset's preset."""
    pre = get_preset(dataset)
    return {m: pre.glob(m).replace("*", view, 1) for m in ("rgb", "ratios", "sils")}


def tight_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """Bounding box ``(y0, y1, x0, x1)`` (end exclusive) of a 2-D mask; None when it is empty."""
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    if rows.size == 0:
        return None
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def offline_pad_and_resize(img: np.ndarray, height: int) -> np.ndarray:
    """The CCPG offline pad-and-resize of an [h, w(, C)] crop to [height, height/2(, C)]."""
    return pad_and_resize_crop(img, height, height // 2)


def squash(img: np.ndarray, size: int) -> np.ndarray:
    """An [h, w(, C)] crop squashed to [size, size(, C)] (area resize, like the square datasets)."""
    return cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)


def format_sequence(
    dataset: str, crop: str, size: int, view: str, rgb_crops: list[np.ndarray], sil_crops: list[np.ndarray]
) -> dict[str, np.ndarray]:
    """Turn per-frame person crops (uint8 [h, w, 3] RGB and [h, w] 0/255) into the pickled arrays.

    Returns file name -> array, ready for :func:`write_pickles`.
    """
    names = file_names(dataset, view)
    fit = (lambda im: offline_pad_and_resize(im, size)) if crop == "pad" else (lambda im: squash(im, size))
    rgbs, sils, ratios = [], [], []
    for rgb, sil in zip(rgb_crops, sil_crops):
        h, w = sil.shape
        rgbs.append(fit(rgb))
        sils.append(np.where(fit(sil) >= 128, 255, 0).astype(np.uint8))
        ratios.append((h, w) if crop == "square_hwc" else w / h)
    rgb_arr = np.stack(rgbs)  # [T, H, W, 3]
    if crop != "square_hwc":
        rgb_arr = np.ascontiguousarray(rgb_arr.transpose(0, 3, 1, 2))  # [T, 3, H, W]
    return {names["rgb"]: rgb_arr, names["ratios"]: np.asarray(ratios, np.float64), names["sils"]: np.stack(sils)}


def write_pickles(folder: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write one protocol-4 pickle per array into ``folder`` (which must exist)."""
    for name, arr in arrays.items():
        with open(folder / name, "wb") as fh:
            pickle.dump(np.ascontiguousarray(arr), fh, protocol=4)
