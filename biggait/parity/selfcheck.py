"""Every golden check, in one plain dict, and the run over a golden folder (``biggait selfcheck``).

A folder whose ``manifest.json`` has format ``biggergait-golden/1`` is a BiggerGait folder: its cases,
models, weights and schedules come from the manifest alone (:func:`run_biggergait`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from biggait.errors import BigGaitError, DataError
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
    from biggait.parity.biggergait_golden import FORMAT, MANIFEST, manifest_format

    fmt = manifest_format(golden_dir)
    if fmt == FORMAT:
        return run_biggergait(golden_dir)
    if (golden_dir / MANIFEST).exists():
        raise DataError(f"{golden_dir / MANIFEST}: unknown golden format {fmt!r} (known: {FORMAT!r})")
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
        lines.append(
            f"{status}  {r.case + ':' + r.name:<{width}}  max|diff| {r.max_abs_diff:.3e}  ({tol})"
            f"{'  ' + r.note if r.note else ''}"
        )
    failed = sum(not r.passed for r in results)
    lines.append(f"{len(results) - failed} passed, {failed} failed")
    return lines


def run_biggergait(golden_dir: Path) -> list[CheckResult]:
    """Every case of a BiggerGait golden folder, as its manifest lists them, then the weights files and
    the full-width parameter counts."""
    from biggait.parity import biggergait_forward, biggergait_golden, biggergait_train_checks

    manifest = biggergait_golden.read_manifest(golden_dir)
    kinds = {"forward": biggergait_forward.check_forward, "train_steps": biggergait_train_checks.check_train_steps}
    for case in manifest["cases"]:
        if case.get("kind") not in kinds:
            raise DataError(
                f"{golden_dir / 'manifest.json'}: case {case.get('file')!r}: unknown kind "
                f"{case.get('kind')!r} (known: {', '.join(kinds)})"
            )
        if not (golden_dir / case["file"]).is_file():
            raise DataError(f"{golden_dir / case['file']}: listed in the manifest but not found")
    results = biggergait_golden.weights_checks(golden_dir, manifest)
    for case in manifest["cases"]:
        results.extend(kinds[case["kind"]](golden_dir, manifest, case))
    return results + biggergait_golden.param_count_checks(golden_dir, manifest)


def write_report(path: Path, results: list[CheckResult]) -> None:
    """``--json``: one record per compared array (:meth:`CheckResult.record`), written atomically."""
    import json

    from biggait.io import atomic_path

    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps([r.record() for r in results], indent=1) + "\n")
