"""``biggait check-metrics``: fail when metrics move beyond their tolerance.

Two comparisons, either or both:

* ``--baseline FILE``: every number of a committed baseline (gathered CSV, e.g.
  ``results/baseline/demo_metrics.csv``) must be present in RESULTS and within its tolerance.
  This is the CI regression check of the demo.
* ``--paper FILE``: every number of ``paper_reported.csv`` (role ``paper``) that a re-run row of a
  table maps to is compared with ours (the mean over seeds). Rows we did not run are listed as
  "not run", never counted as failures.

Tolerances are absolute, in the unit of the metric (percentage points for accuracies):
``--tolerance 1.0`` sets the default, ``--tolerance 'rank1*=0.5'`` one for metrics matching a
glob pattern (the most specific, i.e. longest, matching pattern wins). Exit status: 0 all within
tolerance, 1 some deviation (each printed), 2 bad input.
"""

from __future__ import annotations

import argparse
import fnmatch
import logging
import math
import sys
from dataclasses import dataclass
from pathlib import Path

from biggait.errors import ConfigError
from biggait.reporting.collect import MetricRow, load_results, read_collected, write_collected
from biggait.reporting.specs import TABLES
from biggait.reporting.tables import build_accuracy_table, read_paper_csv

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Tolerances:
    """Default absolute tolerance and per-metric glob overrides."""

    default: float = 1.0
    patterns: tuple[tuple[str, float], ...] = ()

    def for_metric(self, metric: str) -> float:
        """The tolerance of ``metric``: the longest matching pattern, else the default."""
        hits = [(len(p), tol) for p, tol in self.patterns if fnmatch.fnmatchcase(metric, p)]
        return max(hits)[1] if hits else self.default


def parse_tolerances(items: list[str] | None, default: float = 1.0) -> Tolerances:
    """``["2", "rank1*=0.5"]`` -> Tolerances; ConfigError on a malformed item."""
    patterns = []
    for item in items or []:
        pattern, sep, value = item.rpartition("=")
        try:
            tol = float(value)
        except ValueError:
            raise ConfigError(f"--tolerance {item!r}: expected NUMBER or METRIC_GLOB=NUMBER") from None
        if tol < 0 or math.isnan(tol):
            raise ConfigError(f"--tolerance {item!r}: expected a non-negative number")
        if sep:
            if not pattern:
                raise ConfigError(f"--tolerance {item!r}: empty metric pattern")
            patterns.append((pattern, tol))
        else:
            default = tol
    return Tolerances(default, tuple(patterns))


@dataclass(frozen=True)
class Deviation:
    """One number outside its tolerance (or missing)."""

    what: str
    expected: float
    got: float
    tolerance: float

    def line(self) -> str:
        if math.isnan(self.got):
            return f"MISSING  {self.what}: expected {self.expected:.4g}, not found in the results"
        return (f"DEVIATES {self.what}: expected {self.expected:.4g}, got {self.got:.4g} "
                f"(diff {self.got - self.expected:+.4g}, tolerance {self.tolerance:g})")


def _describe(r: MetricRow) -> str:
    return (f"{r.experiment}/seed{r.seed} {r.train_dataset}->{r.test_dataset} {r.protocol} "
            f"{r.condition} {r.metric}")


def compare_baseline(results: list[MetricRow], baseline: list[MetricRow], tol: Tolerances) -> list[Deviation]:
    """Deviations of ``results`` from ``baseline`` (missing numbers count as deviations)."""
    ours = {r.key(): r for r in results}
    out = []
    for b in baseline:
        t = tol.for_metric(b.metric)
        r = ours.get(b.key())
        got = r.value if r is not None else math.nan
        both_nan = math.isnan(b.value) and r is not None and math.isnan(got)
        if both_nan:
            continue
        if r is None or math.isnan(got) != math.isnan(b.value) or abs(got - b.value) > t + 1e-9:
            out.append(Deviation(_describe(b), b.value, got, t))
    return out


def compare_paper(results: list[MetricRow], paper_csv: str | Path, tol: Tolerances,
                  seeds: list[int] | None = None) -> tuple[list[Deviation], list[str], int]:
    """Compare ours with the paper's values: (deviations, 'not run' lines, number compared)."""
    paper = read_paper_csv(paper_csv)
    deviations, not_run, compared = [], [], 0
    for spec in TABLES.values():
        if spec.kind != "accuracy":
            continue
        for c in build_accuracy_table(spec, results, paper, seeds):
            if c.source != "ours" or math.isnan(c.paper):
                continue
            what = f"{spec.name}: {c.method} {c.train}->{c.test} {c.condition} {c.metric}"
            if c.status == "missing":
                not_run.append(f"NOT RUN  {what} (paper {c.paper:g})")
                continue
            compared += 1
            t = tol.for_metric(c.metric)
            if abs(c.diff) > t + 1e-9:
                deviations.append(Deviation(what, c.paper, c.ours, t))
    return deviations, list(dict.fromkeys(not_run)), compared


def _filter(rows: list[MetricRow], seeds: list[int] | None, experiments: list[str] | None) -> list[MetricRow]:
    return [r for r in rows if (not seeds or r.seed in seeds) and (not experiments or r.experiment in experiments)]


def _evaluation(r: MetricRow) -> tuple:
    return (r.experiment, r.seed, r.train_dataset, r.test_dataset)


def evaluated_subset(baseline: list[MetricRow], results: list[MetricRow]) -> list[MetricRow]:
    """The baseline rows of the evaluations (experiment, seed, train -> test) that ``results`` holds.

    A reduced DAG (CI) runs some of the baseline's evaluations; a metric missing *within* one of
    them still counts as a deviation.
    """
    present = {_evaluation(r) for r in results}
    return [b for b in baseline if _evaluation(b) in present]


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``biggait check-metrics``."""
    p.add_argument("results", type=Path,
                   help="results folder (with eval/), an eval folder, or a gathered metrics CSV")
    p.add_argument("--baseline", type=Path, help="gathered metrics CSV to compare with (CI regression)")
    p.add_argument("--paper", type=Path, help="paper_reported.csv to compare with")
    p.add_argument("--tolerance", action="append", metavar="[METRIC_GLOB=]NUMBER",
                   help="absolute tolerance (default 1.0), repeatable: 2.0, 'mAP=3', 'rank1*=0.5'")
    p.add_argument("--seeds", type=int, nargs="+", help="only these seeds")
    p.add_argument("--experiments", nargs="+", metavar="NAME",
                   help="only these experiments (e.g. the reduced CI DAG's); the baseline is filtered too")
    p.add_argument("--subset", action="store_true",
                   help="RESULTS is a reduced run: compare only the evaluations (experiment, seed, "
                        "train->test) it holds; a missing metric within them still fails")
    p.add_argument("--save", type=Path, help="also write the gathered metrics CSV here (e.g. a new baseline)")


def run(args: argparse.Namespace) -> int:
    """Entry point of ``biggait check-metrics``."""
    if args.baseline is None and args.paper is None and args.save is None:
        raise ConfigError("check-metrics: give --baseline FILE and/or --paper FILE (or --save FILE)")
    tol = parse_tolerances(args.tolerance)
    results = load_results(args.results)
    results = _filter(results, args.seeds, args.experiments)
    if args.save is not None:
        write_collected(results, args.save)
        print(f"wrote {len(results)} metrics to {args.save}")
    failed = False
    if args.baseline is not None:
        baseline = _filter(read_collected(args.baseline), args.seeds, args.experiments)
        if args.subset:
            baseline = evaluated_subset(baseline, results)
        if not baseline:
            raise ConfigError(f"{args.baseline}: no baseline metrics for the selected experiments / seeds"
                              f"{' / evaluations' if args.subset else ''}")
        devs = compare_baseline(results, baseline, tol)
        for d in devs:
            print(d.line())
        print(f"baseline {args.baseline}: {len(baseline) - len(devs)}/{len(baseline)} metrics within tolerance")
        failed |= bool(devs)
    if args.paper is not None:
        devs, not_run, compared = compare_paper(results, args.paper, tol, args.seeds)
        for d in devs:
            print(d.line())
        for line in not_run:
            print(line)
        print(f"paper {args.paper}: {compared - len(devs)}/{compared} compared values within tolerance, "
              f"{len(not_run)} not run")
        failed |= bool(devs)
    sys.stdout.flush()
    return 1 if failed else 0
