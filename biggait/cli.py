"""The ``biggait`` command line: one sub-command per task, each in its own module.

Every command module exposes ``add_arguments(parser)`` and ``run(args) -> int``. Modules are
imported lazily so ``biggait --help`` stays fast. A :class:`~biggait.errors.BigGaitError` is
printed as one ``error: ...`` line with exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from biggait.errors import BigGaitError

# name -> (module, one-line help). The dict literal is the only registry.
COMMANDS: dict[str, tuple[str, str]] = {
    "synth": ("biggait.synthgait.cli", "generate the SynthGait demo datasets (and a preview sheet)"),
    "data": ("biggait.data.cli", "check or preprocess a dataset tree"),
    "train": ("biggait.train.cli", "train an experiment into a run folder (resumable)"),
    "evaluate": ("biggait.evaluation.cli", "extract test embeddings and score them by a protocol"),
    "selfcheck": ("biggait.parity.cli", "reproduce the golden vectors of the released implementation"),
    "efficiency": ("biggait.models.efficiency", "parameters and GFLOPs per frame of a model"),
    "check-metrics": ("biggait.check_metrics", "compare metrics with a baseline or the paper"),
    "tables": ("biggait.reporting.tables", "build the result tables from collected metrics"),
    "figures": ("biggait.reporting.figures", "build the result figures"),
}


def build_parser(load: bool = True, argv: list[str] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="biggait", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    wanted = None
    if argv:
        wanted = next((a for a in argv if not a.startswith("-")), None)
    for name, (module, help_) in COMMANDS.items():
        p = sub.add_parser(name, help=help_, description=help_)
        if load and (wanted is None or wanted == name):
            if wanted is None:
                continue  # top-level help: no need to import every module
            mod = importlib.import_module(module)
            mod.add_arguments(p)
            p.set_defaults(_module=mod)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser(argv=argv)
        args = parser.parse_args(argv)
        logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                            format="%(levelname)s %(name)s: %(message)s")
        if not getattr(args, "command", None):
            parser.print_help()
            return 2
        return int(args._module.run(args) or 0)
    except BigGaitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
