"""Golden checks of the data pipeline, run by ``biggait selfcheck``.

``preproc_pretreatment_rgb.npz``: the golden BGR crops are written as PNG frames (lossless, so
``cv2.imread`` returns them unchanged) into a scratch ``SRC/000/U0_D0/01_x/`` tree, preprocessed
with :func:`biggait.data.preprocess.preprocess_tree`, and the written pickles, read back with the
restricted unpickler, must equal the reference's ``aligned_rgbs`` and ``ratios`` exactly.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import cv2
import numpy as np

from biggait.data.pickles import load_array
from biggait.data.preprocess import output_files, preprocess_tree
from biggait.errors import DataError
from biggait.parity.golden import CheckResult, compare_exact

__all__ = ["CHECKS", "check_pretreatment_rgb"]

CASE = "preproc_pretreatment_rgb.npz"


def check_pretreatment_rgb(golden_dir: Path, weights: Path | None = None) -> list[CheckResult]:
    """Reproduce ``preproc_pretreatment_rgb.npz`` through the files-on-disk preprocessing path."""
    with np.load(Path(golden_dir) / CASE) as g:
        ref = {k: g[k] for k in g.files}
    crops = [ref[f"crop_{i}"] for i in range(len(ref["aligned_rgbs"]))]
    with tempfile.TemporaryDirectory(prefix="biggait-preproc-") as tmp:
        src, out = Path(tmp) / "src", Path(tmp) / "out"
        seq = src / "000" / "U0_D0" / "01_x"
        seq.mkdir(parents=True)
        for t, crop in enumerate(crops):
            if not cv2.imwrite(str(seq / f"{t:03d}.png"), crop):
                raise DataError(f"{seq / f'{t:03d}.png'}: could not write a scratch frame")
        summary = preprocess_tree(src, out, workers=0, progress=False)
        if summary.failures:
            raise DataError(f"{CASE}: preprocessing failed: {summary.failures[0]}")
        rgb_file, ratio_file = output_files(out / "000" / "U0_D0" / "01_x", "01_x")
        rgbs, ratios = load_array(rgb_file), load_array(ratio_file)
    widths = np.array([int(c.shape[1] * 256 / c.shape[0]) for c in crops], dtype=np.int64)
    return [
        compare_exact(CASE, "aligned_rgbs", rgbs, ref["aligned_rgbs"], note=f"{rgbs.dtype} via the pickles"),
        compare_exact(CASE, "ratios", ratios, ref["ratios"], note=f"{ratios.dtype}"),
        compare_exact(CASE, "resized_width", widths, ref["resized_width"]),
        compare_exact(CASE, "crop_hw", np.array([c.shape[:2] for c in crops], dtype=np.int64), ref["crop_hw"]),
    ]


CHECKS = {CASE: check_pretreatment_rgb}
