"""``biggait train EXPERIMENT_YAML --out DIR [--scale demo|paper] [--set key=value ...] [--resume/--no-resume]``.

Single process: ``biggait train config/experiments/biggait_ccpg.yaml --scale demo --out results/runs/x``.
Several GPUs (or CPU processes with gloo): ``torchrun --nproc_per_node 4 -m biggait.cli train ...``.

Several trainings in one process (the DAG's train groups: each further run saves the ~4 s start-up of a
process, mostly importing torch and timm): ``biggait train A.yaml --out DIR_A [...] --and B.yaml --out DIR_B
[...]``. Every run after ``--and`` takes the same arguments; all are checked before the first one starts, and
each trains exactly as its own command would (same weights, bit for bit: tests/test_train.py).

SIGTERM or SIGUSR1 (SLURM's warnings before preemption or the time limit): the run writes a checkpoint
at the next step boundary and exits with status 75 (:data:`biggait.train.preempt.PREEMPTED_EXIT`);
the same command resumes it.
"""

from __future__ import annotations

import argparse
import sys

from biggait.cli_args import add_and, add_overrides, chained_runs
from biggait.cli_paths import InputFile, OutputDir
from biggait.config import load_experiment


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``biggait train``."""
    p.add_argument(
        "experiment", type=InputFile("experiment YAML", "yaml"), help="experiment YAML (config/experiments/*.yaml)"
    )
    p.add_argument("--out", type=OutputDir("run"), required=True, help="run folder (created; resumable)")
    p.add_argument(
        "--scale",
        choices=("demo", "paper"),
        default=None,
        help="scale overlay (default: the experiment's own, else paper)",
    )
    add_overrides(p, "train.lr=0.05")
    p.add_argument(
        "--resume",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="continue from the newest checkpoint; --no-resume starts the run over",
    )
    p.add_argument(
        "--stop-after",
        type=int,
        default=None,
        metavar="N",
        help="stop once N iterations are done (the run stays resumable)",
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    add_and(p, "train another run")


def run(args: argparse.Namespace) -> int:
    """Load the experiment(s), train each in turn, print where each ``model.pt`` is."""
    from biggait.cpu_memory import keep_freed_memory

    runs = chained_runs(args, add_arguments, "train", "out")
    exps = [load_experiment(r.experiment, scale=r.scale, overrides=r.overrides) for r in runs]  # all checked first
    keep_freed_memory()  # no page faults for the big per-step activations on CPU
    for r, exp in zip(runs, exps):
        status = _train_one(r, exp)
        if status:
            return status
    return 0


def _train_one(args: argparse.Namespace, exp) -> int:
    """Train one run; 0, or the exit status that ends the process (preemption)."""
    from biggait.train import distributed
    from biggait.train.loop import train_model
    from biggait.train.preempt import PREEMPTED_EXIT, Preempted

    try:
        result = train_model(
            exp, args.out, resume=args.resume, stop_after=args.stop_after, progress=not args.no_progress
        )
        main = distributed.rank() == 0
    except Preempted as stop:
        print(f"biggait train: {stop}", file=sys.stderr)
        return PREEMPTED_EXIT
    finally:
        distributed.cleanup()
    if not main:
        return 0
    if result.finished:
        print(result.path)
    else:
        print(
            f"stopped at iteration {result.iteration} of {exp.train.total_iters}; resume with the same command "
            f"(newest checkpoint: {result.path})"
        )
    return 0


# command name -> (add_arguments, run); biggait.cli maps the name to this module.
COMMANDS = {"train": (add_arguments, run)}
