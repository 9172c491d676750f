"""Arguments that several ``biggait`` commands share, defined once (their checks: :mod:`biggait.cli_paths`)."""

from __future__ import annotations

import argparse

from biggait.cli_paths import InputDir, InputFile


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
