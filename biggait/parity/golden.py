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

from biggait.parity.tolerances import DIST_ATOL, DIST_RTOL, SELF_DIST_ATOL

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
    tolerance: float  # the largest allowed abs diff (atol + rtol * max|golden|; 0 = exact)
    passed: bool
    note: str = ""
    atol: float | None = None  # the bound's parts, when it has them (None: ``tolerance`` is the bound)
    rtol: float = 0.0

    def record(self) -> dict:
        """One JSON record (``biggait selfcheck --json``); non-finite numbers become null."""

        def num(v: float) -> float | None:
            return float(v) if np.isfinite(v) else None

        return {
            "case": self.case,
            "array": self.name,
            "max_abs_diff": num(self.max_abs_diff),
            "atol": num(self.tolerance if self.atol is None else self.atol),
            "rtol": float(self.rtol),
            "passed": bool(self.passed),
            "note": self.note,
        }


def compare_distances(case: str, name: str, ours, ref) -> list[CheckResult]:
    """A distance matrix ``[..., N, N]`` of a set against itself: off the diagonal within ``DIST_RTOL``
    (relative, plus ``DIST_ATOL``), the self-distances (rounding residue) within ``SELF_DIST_ATOL``
    (:mod:`biggait.parity.tolerances`)."""
    a, b = np.asarray(ours), np.asarray(ref)
    if a.shape != b.shape or a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        return [
            CheckResult(case, name, float("inf"), 0.0, False, f"shape {a.shape} != golden {b.shape} (or not square)")
        ]
    off = ~np.eye(a.shape[-1], dtype=bool)
    return [
        compare(case, f"{name} (off-diagonal)", a[..., off], b[..., off], atol=DIST_ATOL, rtol=DIST_RTOL),
        compare(case, f"{name} (self-distance)", a[..., ~off], b[..., ~off], atol=SELF_DIST_ATOL),
    ]


def compare(case: str, name: str, ours, ref, atol: float, rtol: float = 0.0, note: str = "") -> CheckResult:
    """Compare arrays elementwise: pass when ``|a-b| <= atol + rtol*|b|`` everywhere."""
    a = np.asarray(ours, dtype=np.float64)
    b = np.asarray(ref, dtype=np.float64)
    if a.shape != b.shape:
        return CheckResult(case, name, float("inf"), atol, False, f"shape {a.shape} != golden {b.shape}")
    if a.size == 0:
        return CheckResult(case, name, 0.0, atol, True, note or "empty")
    diff = np.abs(a - b)
    allowed = atol + rtol * np.abs(b)
    bad = ~(diff <= allowed)  # NaN counts as a failure
    return CheckResult(
        case,
        name,
        float(np.nanmax(diff)) if np.isfinite(diff).any() else float("nan"),
        float(np.nanmax(allowed)) if rtol else atol,
        not bool(bad.any()),
        note,
        atol,
        rtol,
    )


def compare_zero(case: str, name: str, value, bound, note: str = "analytically zero") -> CheckResult:
    """An analytically zero quantity (rounding noise only): pass when ``|value| <= bound`` elementwise, the
    bound derived from the scale of what feeds it (:func:`biggait.parity.tolerances.analytic_zero_bound`)."""
    v = np.abs(np.asarray(value, dtype=np.float64))
    bnd = np.asarray(bound, dtype=np.float64)
    if v.shape != bnd.shape:
        return CheckResult(case, name, float("inf"), 0.0, False, f"shape {v.shape} != bound {bnd.shape}")
    worst = float(np.max(v)) if v.size else 0.0
    return CheckResult(case, name, worst, float(np.max(bnd)) if v.size else 0.0, bool((v <= bnd).all()), note)


def compare_exact(case: str, name: str, ours, ref, note: str = "") -> CheckResult:
    a, b = np.asarray(ours), np.asarray(ref)
    if a.shape != b.shape:
        return CheckResult(case, name, float("inf"), 0.0, False, f"shape {a.shape} != golden {b.shape}")
    same = bool(np.array_equal(a, b))
    diff = (
        0.0
        if same
        else (
            float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))))
            if a.dtype.kind in "biuf" and b.dtype.kind in "biuf"
            else float("inf")
        )
    )
    return CheckResult(case, name, diff, 0.0, same, note, 0.0, 0.0)
