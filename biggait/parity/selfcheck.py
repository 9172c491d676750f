"""Every golden check, in one plain dict, and the run over a golden folder (``biggait selfcheck``)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from biggait.errors import BigGaitError
from biggait.parity import data_checks, eval_checks, model_checks, train_checks
from biggait.parity.golden import WEIGHTS_NAME, CheckResult

# golden file name -> check(golden_dir, weights_file) -> results. The dict literal is the only registry.
CHECKS: dict[str, Callable[[Path, Path | None], list[CheckResult]]] = {
    **model_checks.CHECKS,
    **data_checks.CHECKS,
    **eval_checks.CHECKS,
    **train_checks.CHECKS,
}


def run_checks(golden_dir: Path, weights: Path | None = None) -> list[CheckResult]:
    """Run every check whose golden file exists in ``golden_dir``."""
    if not golden_dir.is_dir():
        raise BigGaitError(f"{golden_dir}: golden directory not found (pass --golden-dir or set BIGGAIT_GOLDEN_DIR)")
    if weights is None and (golden_dir / WEIGHTS_NAME).exists():
        weights = golden_dir / WEIGHTS_NAME
    found = [f for f in sorted(CHECKS) if (golden_dir / f).exists()]
    if not found:
        raise BigGaitError(f"{golden_dir}: no golden case of a known format (expected e.g. fwd_*.npz, eval_*.npz)")
    results: list[CheckResult] = []
    for fname in found:
        results.extend(CHECKS[fname](golden_dir, weights))
    return results


def report_lines(results: list[CheckResult]) -> list[str]:
    """One line per compared array (PASS/FAIL, max abs diff, tolerance), then the totals."""
    width = max(len(f"{r.case}:{r.name}") for r in results)
    lines = []
    for r in results:
        status = "PASS" if r.passed else "FAIL"
        tol = "exact" if r.tolerance == 0 else f"tol {r.tolerance:.0e}"
        lines.append(f"{status}  {r.case + ':' + r.name:<{width}}  max|diff| {r.max_abs_diff:.3e}  ({tol})"
                     f"{'  ' + r.note if r.note else ''}")
    failed = sum(not r.passed for r in results)
    lines.append(f"{len(results) - failed} passed, {failed} failed")
    return lines
