"""Arguments that several ``biggait`` commands share, defined once (their checks: :mod:`biggait.cli_paths`)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from biggait.cli_paths import InputDir, InputFile
from biggait.errors import ConfigError


def add_overrides(p: argparse.ArgumentParser, example: str = "model.lvm=vitb14") -> None:
    """``--set KEY=VALUE`` (repeatable) into ``args.overrides``: config keys over the experiment and scale."""
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"override a config key, e.g. --set {example} (repeatable)",
    )


def add_report_scale(p: argparse.ArgumentParser) -> None:
    """``--scale`` of the report builders (tables, claims, the LVM table): the demo's outputs say they are synthetic."""
    p.add_argument(
        "--scale", choices=("demo", "paper"), default="paper", help="demo adds a note that the numbers are synthetic"
    )


def add_dataset(
    p: argparse.ArgumentParser,
    *,
    dataset_help: str,
    root_what: str = "dataset root",
    root_required: bool = False,
    partition_required: bool = False,
    partition_help: str,
) -> None:
    """``--dataset PRESET --root DIR --partition JSON``: the dataset a command reads, checked at parse time."""
    p.add_argument("--dataset", required=True, help=dataset_help)
    p.add_argument(
        "--root",
        type=InputDir(root_what),
        required=root_required,
        help=f"{root_what} <root>/<id>/<type>/<view>/*.pkl",
    )
    p.add_argument(
        "--partition",
        type=InputFile("partition", "json"),
        required=partition_required,
        default=None,
        help=partition_help,
    )


def add_and(p: argparse.ArgumentParser, what: str) -> None:
    """``--and ...``: everything after it is one more run of the same command in the same process (its own
    arguments; it may hold another ``--and``). :func:`chained_runs` parses them."""
    p.add_argument(
        "--and",
        dest="more",
        nargs=argparse.REMAINDER,
        default=None,
        metavar="ARGS",
        help=f"then {what} in the same process, with the arguments that follow (repeatable)",
    )


def chained_runs(
    args: argparse.Namespace, add_arguments: Callable[[argparse.ArgumentParser], None], command: str, out: str
) -> list[argparse.Namespace]:
    """The first run's arguments and those of every run after ``--and`` (:func:`add_and`), each parsed by
    ``add_arguments`` before any run starts; ``out``: the attribute that names each run's output, which two
    runs may not share (ConfigError)."""
    runs, more = [args], args.more
    while more is not None:
        p = argparse.ArgumentParser(prog=f"biggait {command} ... --and", description="one more run of the process")
        add_arguments(p)
        runs.append(p.parse_args(more))
        more = runs[-1].more
    outs = [Path(getattr(r, out)).resolve() for r in runs if getattr(r, out) is not None]
    dup = next((o for o in outs if outs.count(o) > 1), None)
    if dup is not None:
        flag = "--" + out.replace("_", "-")
        raise ConfigError(f"{flag} {dup}: given to two runs of one biggait {command}; every run needs its own")
    return runs
