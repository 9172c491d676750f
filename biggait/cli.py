"""The ``biggait`` command line: maps each command name to the CLI of its stage.

Every stage has one ``cli.py`` (``biggait.<stage>.cli``) whose ``COMMANDS`` dict maps its command
names to ``(add_arguments(parser), run(args) -> int)``. Stage CLIs are imported lazily, only for
the command that runs, so ``biggait --help`` stays fast. A :class:`~biggait.errors.BigGaitError`
is printed as one ``error: ...`` line with exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from biggait.errors import BigGaitError

# command -> (stage CLI module, one-line help). The dict literal is the only registry.
COMMANDS: dict[str, tuple[str, str]] = {
    "synth": ("biggait.synthgait.cli", "generate the SynthGait demo datasets (and a preview sheet)"),
    "data": ("biggait.data.cli", "check or preprocess a dataset tree"),
    "pretrain-lvm": ("biggait.pretrain.cli", "self-supervised pretraining of a tiny stand-in LVM (demo)"),
    "train": ("biggait.train.cli", "train an experiment into a run folder (resumable)"),
    "evaluate": ("biggait.evaluation.cli", "extract test embeddings and score them by a protocol"),
    "evaluate-groups": (
        "biggait.evaluation.cli",
        "BiggerGait: score each layer group alone from an evaluation's embeddings (separate vs ensemble)",
    ),
    "efficiency": ("biggait.evaluation.cli", "parameters and GFLOPs per frame of a model"),
    "probe-lvm": ("biggait.evaluation.cli", "linear probe of a frozen LVM's patch tokens for 'person' (IoU)"),
    "tables": ("biggait.reporting.cli", "build the result tables from collected metrics"),
    "figures": ("biggait.reporting.cli", "build the result figures"),
    "check-metrics": ("biggait.reporting.cli", "compare metrics with a baseline or the paper"),
    "tolerances": ("biggait.reporting.cli", "per-number tolerances of check-metrics from seed-to-seed noise"),
    "compare": ("biggait.reporting.compare", "paired rank-1 comparison of two evaluated models, per condition"),
    "claims": ("biggait.reporting.cli", "test the paper's claims (config/claims.yaml) with paired bootstraps"),
    "lvm-report": (
        "biggait.reporting.cli",
        "random vs pretrained LVM: mask IoU, rank-1, probes (tables/upstream)",
    ),
    "job-times": ("biggait.reporting.job_times", "wall time and peak memory of the workflow's jobs (tables/job_times)"),
    "selfcheck": ("biggait.parity.cli", "reproduce the golden vectors of the released implementation"),
    "gpu-check": ("biggait.gpu_check", "GPU acceptance: goldens on CUDA, training / extraction speed, GPU claiming"),
}


# Renamed commands: old name -> new name (the old one still runs, after one warning line on stderr).
DEPRECATED_COMMANDS = {"probe-upstream": "probe-lvm", "upstream-report": "lvm-report"}


def _rename_deprecated(argv: list[str]) -> list[str]:
    i = next((k for k, a in enumerate(argv) if not a.startswith("-")), None)
    if i is None or argv[i] not in DEPRECATED_COMMANDS:
        return argv
    new = DEPRECATED_COMMANDS[argv[i]]
    print(f"warning: biggait {argv[i]} is deprecated, use biggait {new} (same arguments)", file=sys.stderr)
    return [*argv[:i], new, *argv[i + 1 :]]


def _version() -> str:
    """The installed package version (and the git commit when run from a checkout)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        v = version("biggait")
    except PackageNotFoundError:
        v = "unknown (not installed)"
    from biggait.io import git_commit

    commit = git_commit()
    return f"{v} (git {commit[:12]})" if commit and commit != "unknown" else v


class _VersionAction(argparse.Action):
    """``--version``, computed only when asked (it runs git)."""

    def __call__(self, parser, namespace, values, option_string=None):  # noqa: D102
        print(f"biggait {_version()}")
        parser.exit()


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser; only the command named in ``argv`` (if any) gets its stage's arguments."""
    parser = argparse.ArgumentParser(
        prog="biggait", description="BigGait reproduction suite: one command per pipeline step"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--version", action=_VersionAction, nargs=0, help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    wanted = next((a for a in argv or [] if not a.startswith("-")), None)
    for name, (module, help_) in COMMANDS.items():
        p = sub.add_parser(name, help=help_, description=help_)
        if name == wanted:
            add_arguments, run = importlib.import_module(module).COMMANDS[name]
            add_arguments(p)
            p.set_defaults(_run=run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = _rename_deprecated(list(sys.argv[1:] if argv is None else argv))
    try:
        from biggait import cpu_kernels

        mode = cpu_kernels.requested_mode()
        if mode == cpu_kernels.REPRODUCIBLE:
            cpu_kernels.pin(mode)  # before the stage's module imports torch
        parser = build_parser(argv)
        cpu_kernels.apply_torch_flags()
        args = parser.parse_args(argv)
        logging.basicConfig(
            level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
        )
        if not getattr(args, "command", None):
            parser.print_help()
            return 2
        return int(args._run(args) or 0)
    except BigGaitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
