"""``biggait data``: check a dataset tree, or preprocess raw frames into OpenGait pickles.

biggait data check ROOT --dataset NAME [--partition FILE]
biggait data preprocess SRC OUT [--workers N]
"""

from __future__ import annotations

import argparse
import sys

from biggait.cli_paths import InputDir, InputFile, OutputDir
from biggait.datasets import known_presets

__all__ = ["COMMANDS", "add_arguments", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Add the ``check`` and ``preprocess`` sub-commands to ``p``."""
    sub = p.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    c = sub.add_parser(
        "check",
        help="validate a dataset tree against its preset and partition",
        description="Open every pickle of ROOT and check it against the preset; "
        "print counts; exit 1 when a problem is found.",
    )
    c.add_argument("root", type=InputDir("dataset root"), help="dataset root <root>/<id>/<type>/<view>/*.pkl")
    c.add_argument("--dataset", required=True, metavar="NAME", help=f"dataset preset ({', '.join(known_presets())})")
    c.add_argument(
        "--partition", type=InputFile("partition", "json"), default=None, help="partition JSON {TRAIN_SET, TEST_SET}"
    )
    c.add_argument("--no-progress", action="store_true", help="no progress bar")
    pp = sub.add_parser(
        "preprocess",
        help="pad-and-resize raw crops into aligned RGB pickles (resumable)",
        description="Turn SRC/<id>/<type>/<view>/*.jpg|png into OUT/<id>/<type>/<view>/"
        "<view>-aligned-rgbs.pkl and <view>-ratios.pkl; finished sequences are skipped.",
    )
    pp.add_argument("src", type=InputDir("source folder"), help="raw frames <src>/<id>/<type>/<view>/*.jpg|png")
    pp.add_argument("out", type=OutputDir("output root"), help="output root")
    pp.add_argument("--workers", type=int, default=1, help="worker processes (default: %(default)s)")
    pp.add_argument("--height", type=int, default=256, help="aligned frame height (default: %(default)s)")
    pp.add_argument("--width", type=int, default=128, help="aligned frame width (default: %(default)s)")
    pp.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(_data_parser=p)


def run(args: argparse.Namespace) -> int:
    """Run the chosen sub-command; 0 when everything is fine, 1 when problems were found."""
    if args.data_command == "check":
        from biggait.data.check import check_tree, format_report

        report = check_tree(args.root, args.dataset, args.partition, progress=not args.no_progress)
        for line in format_report(report):
            print(line)
        return 0 if report.ok else 1
    if args.data_command == "preprocess":
        from biggait.data.preprocess import preprocess_tree

        summary = preprocess_tree(
            args.src,
            args.out,
            workers=args.workers,
            height=args.height,
            width=args.width,
            progress=not args.no_progress,
        )
        for line in summary.failures:
            print(f"problem: {line}", file=sys.stderr)
        print(
            f"{summary.written} sequences written ({summary.frames} frames), {summary.skipped} already done, "
            f"{len(summary.failures)} failed"
        )
        return 1 if summary.failures else 0
    args._data_parser.print_help()
    return 2


# command name -> (add_arguments, run); biggait.cli maps the name to this module.
COMMANDS = {"data": (add_arguments, run)}
