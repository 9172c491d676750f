"""Golden vectors of the released implementation: where they are and how a check reports.

The golden folder is ``$BIGGAIT_GOLDEN_DIR`` when set, else ``../shared/golden/opengait`` beside
the repository. The checks (:mod:`biggait.parity.model_checks`, :mod:`~biggait.parity.data_checks`,
:mod:`~biggait.parity.eval_checks`) each map a golden file name (e.g. ``fwd_ccpg_prepadded_n2s6.npz``)
to a function of ``(golden_dir, weights_file)`` returning :class:`CheckResult` s;
:data:`biggait.parity.selfcheck.CHECKS` gathers them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

WEIGHTS_NAME = "biggait_ccpg_opengait_fp16.pt"


def default_golden_dir() -> Path:
    env = os.environ.get("BIGGAIT_GOLDEN_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "shared" / "golden" / "opengait"  # beside the repository


@dataclass(frozen=True)
class CheckResult:
    """One compared array (or number) of one golden case."""

    case: str  # golden file name
    name: str  # array or field name
    max_abs_diff: float
    tolerance: float  # the allowed max abs diff (0 = exact)
    passed: bool
    note: str = ""


# Tolerances that hold across CPUs (the golden README, section 7: float32 arrays are never bit-exact across
# machines; discrete outputs and evaluator numbers are, and are compared exactly).
# Euclidean distances between different vectors: measured 3.5e-7 relative on an Intel Xeon vs the golden machine.
DIST_RTOL = 2e-6
# A self-distance sqrt(|x|^2 + |y|^2 - 2x.y) at x = y is the square root of pure cancellation error,
# ~sqrt(eps * |x|^2) ~ 1e-3 here, and changes with the CPU's matmul kernel (1.6e-3 apart, measured): its size
# is all that is meaningful.
SELF_DIST_ATOL = 5e-3
# The triplet loss's mean_dist averages an N x N matrix including N self-distances: (largest self-distance
# noise) / N with N = 16 (measured 1.4e-5 across CPUs).
TRIPLET_MEAN_DIST_ATOL = 1e-4


def compare_distances(case: str, name: str, ours, ref) -> list[CheckResult]:
    """A distance matrix ``[..., N, N]`` of a set against itself: off the diagonal within :data:`DIST_RTOL`
    (relative; the smallest distances here are ~1e2 x DIST_RTOL away from 0), the self-distances within
    :data:`SELF_DIST_ATOL`."""
    a, b = np.asarray(ours), np.asarray(ref)
    if a.shape != b.shape or a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        return [CheckResult(case, name, float("inf"), 0.0, False, f"shape {a.shape} != golden {b.shape} (or not square)")]
    off = ~np.eye(a.shape[-1], dtype=bool)
    return [compare(case, f"{name} (off-diagonal)", a[..., off], b[..., off], atol=0.0, rtol=DIST_RTOL),
            compare(case, f"{name} (self-distance)", a[..., ~off], b[..., ~off], atol=SELF_DIST_ATOL)]


def compare(case: str, name: str, ours, ref, atol: float, rtol: float = 0.0, note: str = "") -> CheckResult:
    """Compare arrays elementwise: pass when ``|a-b| <= atol + rtol*|b|`` everywhere."""
    a = np.asarray(ours, dtype=np.float64)
    b = np.asarray(ref, dtype=np.float64)
    if a.shape != b.shape:
        return CheckResult(case, name, float("inf"), atol, False, f"shape {a.shape} != golden {b.shape}")
    if a.size == 0:
        return CheckResult(case, name, 0.0, atol, True, note or "empty")
    diff = np.abs(a - b)
    bad = ~(diff <= atol + rtol * np.abs(b))  # NaN counts as a failure
    return CheckResult(case, name, float(np.nanmax(diff)) if np.isfinite(diff).any() else float("nan"),
                       atol, not bool(bad.any()), note)


def compare_exact(case: str, name: str, ours, ref, note: str = "") -> CheckResult:
    a, b = np.asarray(ours), np.asarray(ref)
    if a.shape != b.shape:
        return CheckResult(case, name, float("inf"), 0.0, False, f"shape {a.shape} != golden {b.shape}")
    same = bool(np.array_equal(a, b))
    diff = 0.0 if same else (float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))))
                             if a.dtype.kind in "biuf" and b.dtype.kind in "biuf" else float("inf"))
    return CheckResult(case, name, diff, 0.0, same, note)
