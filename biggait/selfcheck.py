"""``biggait selfcheck``: reproduce every golden case found in a directory and report per array."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from biggait.errors import BigGaitError
from biggait.golden import WEIGHTS_NAME, CheckResult, default_golden_dir

CHECK_MODULES = ("biggait.models.golden_checks", "biggait.data.golden_checks", "biggait.evaluation.golden_checks")


def collect_checks() -> dict:
    checks = {}
    for name in CHECK_MODULES:
        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue  # that part registers no checks yet
            raise
        checks.update(mod.CHECKS)
    return checks


def run_checks(golden_dir: Path, weights: Path | None = None) -> list[CheckResult]:
    """Run every registered check whose golden file exists in ``golden_dir``."""
    if not golden_dir.is_dir():
        raise BigGaitError(f"{golden_dir}: golden directory not found (pass --golden-dir or set BIGGAIT_GOLDEN_DIR)")
    if weights is None and (golden_dir / WEIGHTS_NAME).exists():
        weights = golden_dir / WEIGHTS_NAME
    results: list[CheckResult] = []
    checks = collect_checks()
    found = [f for f in sorted(checks) if (golden_dir / f).exists()]
    if not found:
        raise BigGaitError(f"{golden_dir}: no golden case of a known format (expected e.g. fwd_*.npz, eval_*.npz)")
    for fname in found:
        results.extend(checks[fname](golden_dir, weights))
    return results


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--golden-dir", type=Path, default=None, help="folder of golden vectors (default: %(default)s → $BIGGAIT_GOLDEN_DIR or ../shared/golden/opengait)")
    p.add_argument("--weights", type=Path, default=None, help=f"golden weights file (default: <golden-dir>/{WEIGHTS_NAME})")


def run(args: argparse.Namespace) -> int:
    golden_dir = args.golden_dir or default_golden_dir()
    results = run_checks(golden_dir, args.weights)
    width = max(len(f"{r.case}:{r.name}") for r in results)
    for r in results:
        status = "PASS" if r.passed else "FAIL"
        tol = "exact" if r.tolerance == 0 else f"tol {r.tolerance:.0e}"
        print(f"{status}  {r.case + ':' + r.name:<{width}}  max|diff| {r.max_abs_diff:.3e}  ({tol}){'  ' + r.note if r.note else ''}")
    failed = [r for r in results if not r.passed]
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":  # pragma: no cover
    ns = argparse.ArgumentParser()
    add_arguments(ns)
    sys.exit(run(ns.parse_args()))
