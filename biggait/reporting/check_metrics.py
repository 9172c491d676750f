"""The metric check behind ``biggait check-metrics``: fail when metrics move beyond their tolerance.

Two comparisons, either or both:

* ``--baseline FILE``: every number of a committed baseline (gathered CSV, e.g.
  ``results/baseline/demo_metrics.csv``) must be present in RESULTS and within its tolerance.
  This is the CI regression check of the demo.
* ``--paper FILE``: every number of ``paper_reported.csv`` (role ``paper``) that a re-run row of a
  table maps to is compared with ours (the mean over seeds). Rows we did not run are listed as
  "not run", never counted as failures.

Tolerances are absolute, in the unit of the metric (percentage points for accuracies):
``--tolerance 1.0`` sets the default, ``--tolerance 'rank1*=0.5'`` one for metrics matching a
glob pattern (the most specific, i.e. longest, matching pattern wins); ``--tolerances FILE``
gives per-number tolerances measured from seed noise (:mod:`biggait.reporting.tolerances`),
which take precedence. Exit status: 0 all within
tolerance, 1 some deviation (each printed), 2 bad input.
"""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass
from pathlib import Path

from biggait.errors import ConfigError
from biggait.evaluation.metrics_files import MetricRow
from biggait.reporting.specs import TABLES
from biggait.reporting.cells import read_paper_csv
from biggait.reporting.tables import build_accuracy_table


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


def compare_baseline(results: list[MetricRow], baseline: list[MetricRow], tol: Tolerances,
                     per_number: dict | None = None) -> list[Deviation]:
    """Deviations of ``results`` from ``baseline`` (missing numbers count as deviations).

    ``per_number`` (:func:`biggait.reporting.tolerances.read`) gives, for the numbers measured
    with several seeds, the seeds' mean and the tolerance around it: those numbers are compared
    with that mean; the others with the baseline's value, within ``tol``.
    """
    from biggait.reporting.tolerances import noise_key

    ours = {r.key(): r for r in results}
    out = []
    for b in baseline:
        expected, t = (per_number or {}).get(noise_key(b), (b.value, tol.for_metric(b.metric)))
        r = ours.get(b.key())
        got = r.value if r is not None else math.nan
        both_nan = math.isnan(expected) and r is not None and math.isnan(got)
        if both_nan:
            continue
        if r is None or math.isnan(got) != math.isnan(expected) or abs(got - expected) > t + 1e-9:
            out.append(Deviation(_describe(b), expected, got, t))
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


def select(rows: list[MetricRow], seeds: list[int] | None, experiments: list[str] | None) -> list[MetricRow]:
    """The rows of these seeds and experiments (None or empty: all)."""
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
