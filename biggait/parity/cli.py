"""``biggait selfcheck [--golden-dir DIR] [--weights FILE] [--json OUT]``: reproduce every golden case and report
per array. A folder with a ``manifest.json`` of format ``biggergait-golden/1`` runs the BiggerGait cases it lists."""

from __future__ import annotations

import argparse

from biggait.cli_paths import InputDir, InputFile, OutputFile
from biggait.parity.golden import WEIGHTS_NAME, default_golden_dir

__all__ = ["COMMANDS", "add_arguments", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``biggait selfcheck``."""
    p.add_argument(
        "--golden-dir",
        type=InputDir("golden folder"),
        default=None,
        help="folder of golden vectors (default: $BIGGAIT_GOLDEN_DIR or ../shared/golden/opengait)",
    )
    p.add_argument(
        "--weights",
        type=InputFile("golden weights", "pt"),
        default=None,
        help=f"golden weights file (default: <golden-dir>/{WEIGHTS_NAME}; BigGait folders only)",
    )
    p.add_argument(
        "--json",
        type=OutputFile("selfcheck report", "json"),
        default=None,
        help="also write one JSON record per compared array (case, array, max_abs_diff, atol, rtol, passed)",
    )


def run(args: argparse.Namespace) -> int:
    """Print one line per compared array; exit 1 when any fails."""
    from biggait.models.weights import read_weights
    from biggait.parity.selfcheck import report_lines, run_checks, write_report

    if args.weights is not None:
        read_weights(args.weights, "golden weights file")  # a bad file fails before any case runs
    results = run_checks(args.golden_dir or default_golden_dir(), args.weights)
    for line in report_lines(results):
        print(line)
    if args.json is not None:
        write_report(args.json, results)
    return 0 if all(r.passed for r in results) else 1


# command name -> (add_arguments, run); biggait.cli maps the name to this module.
COMMANDS = {"selfcheck": (add_arguments, run)}
