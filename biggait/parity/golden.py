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
