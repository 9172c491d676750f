"""``biggait compare A B``: does a change beat BigGait? Paired rank-1 differences, per condition.

    biggait compare MY_EXPERIMENT biggait_ccpg --test ccpg [--results results] [--out results/compare]
    biggait compare EVAL_DIR_A EVAL_DIR_B            # two evaluation folders (…/seed<k>/<test>) or their
                                                     # experiment folders (…/eval/<exp>, every seed)

A and B must be evaluated on the same test set. For each condition of the test set's score (and
their mean) it reports A's and B's rank-1 (mean over seeds), the difference A - B and its 95%
interval from the same two-level bootstrap as ``biggait claims``: the test identities resampled
once for both sides (**paired**: what both models find easy or hard cancels out), and each side's
seeds resampled (training variance; void with one seed: scipy's identity bootstrap then gives a
BCa interval where valid; :mod:`biggait.reporting.claims` says why the two levels stay custom).
Verdict: **better** (the interval lies above 0), **worse** (below 0), or **no detectable
difference**. Writes ``<out>/<A>_vs_<B>_<test>.{csv,md}`` (atomically) and prints the Markdown.
"""

from __future__ import annotations

import argparse
import math
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from biggait import paths
from biggait.cli_paths import EvaluationSpec, InputDir, OutputDir
from biggait.datasets import DATASET_LABELS, PROTOCOLS, SCORES, get_protocol
from biggait.errors import DataError
from biggait.io import csv_text, write_text_atomic
from biggait.reporting.claims import EvaluationIndex, Side, bootstrap_effect
from biggait.reporting.claims_config import CellRef

BETTER, WORSE, NO_DIFFERENCE = "better", "worse", "no detectable difference"
COLUMNS = (
    "condition",
    "a",
    "b",
    "seeds_a",
    "seeds_b",
    "value_a",
    "value_b",
    "difference",
    "ci_low",
    "ci_high",
    "pairing",
    "verdict",
)


@dataclass
class Row:
    condition: str
    value_a: float
    value_b: float
    difference: float
    ci_low: float
    ci_high: float
    pairing: str
    verdict: str


def metrics_files(spec: str, test: str | None, results: Path, seeds: list[int] | None = None) -> tuple[str, list[Path]]:
    """``(name, metrics.csv files)`` of one side: an experiment name (every seed of it on ``test`` below
    ``results``), an evaluation folder (``…/seed<k>/<test>``) or an experiment's eval folder."""
    p = Path(spec)
    if p.is_dir():
        if (p / paths.METRICS_CSV).is_file():
            files = [p / paths.METRICS_CSV]
        else:
            files = sorted(p.glob(f"seed*/{test or '*'}/{paths.METRICS_CSV}"))
    elif p.is_absolute() or p.exists() or "/" in spec:  # a path, not an experiment name: it must exist
        raise DataError(
            f"{spec}: evaluation folder not found (expected an experiment name, or a folder "
            f"<experiment>[/seed<k>/<test>] holding {paths.METRICS_CSV})"
        )
    else:
        files = sorted(Path(paths.eval_root(str(results))).glob(f"{spec}/seed*/{test or '*'}/{paths.METRICS_CSV}"))
    if seeds is not None:
        files = [f for f in files if (k := paths.parse_metrics_file(f)) is not None and k[1] in seeds]
    if not files:
        where = spec if p.is_dir() else f"{paths.eval_root(str(results))}/{spec}/seed*/{test or '*'}/"
        raise DataError(
            f"{where}: no evaluation (metrics.csv) found; evaluate the model first (biggait evaluate, or the DAG)"
        )
    keys = [paths.parse_metrics_file(f) for f in files]
    if any(k is None for k in keys):
        raise DataError(f"{files[0]}: expected a path .../<experiment>/seed<k>/<test>/{paths.METRICS_CSV}")
    names, tests = {k[0] for k in keys}, {k[2] for k in keys}
    if len(tests) > 1:
        raise DataError(
            f"{spec}: evaluations on several test sets ({', '.join(sorted(tests))}); choose one with --test"
        )
    return names.pop() if len(names) == 1 else spec, files


def _verdict(low: float, high: float) -> str:
    if not (math.isfinite(low) and math.isfinite(high)):
        return "not computable"
    return BETTER if low > 0 else WORSE if high < 0 else NO_DIFFERENCE


def compare(
    a_files: list[Path], b_files: list[Path], *, resamples: int = 2000, seed: int = 0, level: float = 0.95
) -> tuple[str, str, str, list[Row], tuple[list[int], list[int]]]:
    """Per condition (and the mean) of the test set's score: A - B with its paired bootstrap interval."""
    ka = {paths.parse_metrics_file(f) for f in a_files}
    kb = {paths.parse_metrics_file(f) for f in b_files}
    tests = {k[2] for k in ka | kb}
    if len(tests) != 1:
        raise DataError(f"A and B must be evaluated on the same test set, got {', '.join(sorted(tests))}")
    test = tests.pop()
    exp_a, exp_b = sorted({k[0] for k in ka})[0], sorted({k[0] for k in kb})[0]
    conditions = tuple(PROTOCOLS[get_protocol(test)[0]].conditions)
    rows: list[Row] = []
    seeds = ([], [])
    indices = ((exp_a, EvaluationIndex(Path("."), a_files)), (exp_b, EvaluationIndex(Path("."), b_files)))
    for cond in (*conditions, "Mean") if len(conditions) > 1 else conditions:
        conds = conditions if cond == "Mean" else (cond,)
        sides = []
        for exp, index in indices:
            cell = CellRef(
                table="compare",
                method=exp,
                experiment=exp,
                train="",
                test=test,
                column=cond,
                conditions=conds,
                labels=conds,
            )
            side: Side = index.side(cell)
            if side.problem:
                raise DataError(side.problem)
            sides.append(side)
        a, b = sides
        ids_a, ids_b = a.identities(), b.identities()
        if ids_a is None or ids_b is None:
            raise DataError(f"{'A' if ids_a is None else 'B'}: its seeds were evaluated on different test identities")
        paired = ids_a == ids_b
        rng = np.random.default_rng([seed, zlib.crc32(f"{exp_a}|{exp_b}|{test}|{cond}".encode())])
        low, high = bootstrap_effect(a, b, paired=paired, resamples=resamples, rng=rng, level=level)
        va, vb = float(np.mean(a.values)), float(np.mean(b.values))
        rows.append(Row(cond, va, vb, va - vb, low, high, "paired" if paired else "unpaired", _verdict(low, high)))
        seeds = (a.seeds, b.seeds)
    return exp_a, exp_b, test, rows, seeds


def render(
    exp_a: str, exp_b: str, test: str, rows: list[Row], seeds: tuple[list[int], list[int]], metric: str
) -> tuple[str, str]:
    """The CSV and the Markdown of a comparison."""
    sa, sb = " ".join(map(str, seeds[0])), " ".join(map(str, seeds[1]))
    csv = csv_text(
        COLUMNS,
        [
            (
                r.condition,
                exp_a,
                exp_b,
                sa,
                sb,
                r.value_a,
                r.value_b,
                r.difference,
                r.ci_low,
                r.ci_high,
                r.pairing,
                r.verdict,
            )
            for r in rows
        ],
    )
    label = DATASET_LABELS.get(test, test)
    md = [
        f"### {exp_a} vs {exp_b} on {label} ({metric}, %)",
        "",
        f"A = {exp_a} (seeds {sa}), B = {exp_b} (seeds {sb}). Difference A - B with its 95% interval "
        "(bootstrap over test identities, paired when both sides share them, and over seeds).",
        "",
        "| condition | A | B | A - B | 95% interval | verdict |",
        "|---|---:|---:|---:|---|---|",
    ]
    for r in rows:
        md.append(
            f"| {r.condition} | {r.value_a:.2f} | {r.value_b:.2f} | {r.difference:+.2f} | "
            f"[{r.ci_low:+.2f}, {r.ci_high:+.2f}] | **{r.verdict}** |"
        )
    return csv, "\n".join(md) + "\n"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "a",
        type=EvaluationSpec("evaluation", results=True),
        help="your experiment's name, or an evaluation folder (…/seed<k>/<test>, …/eval/<exp>)",
    )
    p.add_argument(
        "b", type=EvaluationSpec("evaluation", results=True), help="the reference, e.g. biggait_ccpg (same forms as A)"
    )
    p.add_argument("--test", default=None, help="test dataset (needed when a side has several)")
    p.add_argument(
        "--results",
        type=InputDir("results folder", results=True),
        default=Path("results"),
        help="results folder for experiment names",
    )
    p.add_argument("--out", type=OutputDir("output"), default=None, help="output folder (default: <results>/compare)")
    p.add_argument("--seeds", type=int, nargs="+", default=None, help="only these seeds (default: every one found)")
    p.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples (default %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default %(default)s)")


def run(args: argparse.Namespace) -> int:
    test = get_protocol(args.test)[0] if args.test else None
    if args.resamples < 100:
        raise DataError(f"--resamples {args.resamples}: expected >= 100")
    _, fa = metrics_files(args.a, test, args.results, args.seeds)
    _, fb = metrics_files(args.b, test, args.results, args.seeds)
    exp_a, exp_b, test, rows, seeds = compare(fa, fb, resamples=args.resamples, seed=args.seed)
    csv, md = render(exp_a, exp_b, test, rows, seeds, SCORES[test].metric)
    stem = Path(paths.compare_stem(str(args.results), exp_a, exp_b, test))
    if args.out is not None:
        stem = args.out / stem.name
    write_text_atomic(stem.with_suffix(".csv"), csv)
    write_text_atomic(stem.with_suffix(".md"), md)
    print(md + f"\nwrote {stem}.csv and {stem}.md")
    return 0


COMMANDS = {"compare": (add_arguments, run)}
