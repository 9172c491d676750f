"""The metric check behind ``biggait check-metrics``: fail when metrics move beyond their tolerance.

Two comparisons, either or both:

* ``--baseline FILE``: every number of a committed baseline (gathered CSV, e.g.
  ``results/baseline/demo_metrics.csv``) must be present in RESULTS and within its tolerance.
  This is the CI regression check of the demo.
* ``--paper FILE``: every number of ``paper_reported.csv`` (role ``paper``) that a re-run row of a
  table maps to is compared with ours (the mean over seeds). Rows we did not run are listed as
  "not run", never counted as failures.

With ``--tolerances FILE`` (measured from seed noise, :mod:`biggait.reporting.tolerances`) only the
few numbers that file marks *checked* can fail, each at a level that keeps the whole check's
false-alarm probability on a harmless re-run at 1%; per-condition numbers are reported as ``NOTE``
lines, numbers without a measured tolerance are counted as unchecked. Every run also says how many
numbers equal the baseline's bit for bit; ``--exact`` fails unless all do (a machine that reproduces
the baseline exactly).

Tolerances are absolute, in the unit of the metric (percentage points for accuracies):
``--tolerance 1.0`` sets the default, ``--tolerance 'rank1*=0.5'`` one for metrics matching a
glob pattern (the most specific, i.e. longest, matching pattern wins); ``--tolerances FILE``
gives per-number tolerances measured from seed noise, which take precedence. Exit status: 0 all within
tolerance, 1 some deviation (each printed), 2 bad input.
"""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass
from pathlib import Path

from biggait.errors import ConfigError
from biggait.evaluation.results import MetricRow
from biggait.reporting.cells import read_paper_csv
from biggait.reporting.specs import TABLES
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
        return (
            f"DEVIATES {self.what}: expected {self.expected:.4g}, got {self.got:.4g} "
            f"(diff {self.got - self.expected:+.4g}, tolerance {self.tolerance:g})"
        )


def _describe(r: MetricRow) -> str:
    return f"{r.experiment}/seed{r.seed} {r.train_dataset}->{r.test_dataset} {r.protocol} {r.condition} {r.metric}"


@dataclass
class BaselineReport:
    """What comparing a run with a baseline found."""

    deviations: list[Deviation]  # checked numbers beyond their tolerance, and missing numbers: the check fails
    notes: list[Deviation]  # per-condition numbers beyond their (per-number) tolerance: reported only
    checked: int  # numbers that can fail the check
    unchecked: int  # numbers with no measured tolerance, or too noisy to check: reported only
    differing: list[str]  # numbers not equal to the baseline's value (bit for bit, as the CSV stores them)
    compared: int  # baseline numbers found in the run


def _same(a: float, b: float) -> bool:
    """Equal as the metrics CSV stores them (6 decimals), NaN equal to NaN."""
    return (math.isnan(a) and math.isnan(b)) or (not math.isnan(a) and not math.isnan(b) and f"{a:.6f}" == f"{b:.6f}")


def compare_baseline(
    results: list[MetricRow], baseline: list[MetricRow], tol: Tolerances, per_number: dict | None = None
) -> BaselineReport:
    """Compare ``results`` with ``baseline`` (a missing number always counts as a deviation).

    Without ``per_number`` every number is checked against the baseline's value within ``tol``.
    With it (:func:`biggait.reporting.tolerances.read`: measured from seed noise) only the numbers it
    marks *checked* can fail, against the baseline seeds' mean; the numbers it lists but does not
    check are reported as notes when they move beyond their tolerance, and those it does not list
    are counted as unchecked, never compared with a default.
    """
    from biggait.reporting.tolerances import noise_key

    ours = {r.key(): r for r in results}
    report = BaselineReport([], [], 0, 0, [], 0)
    for b in baseline:
        r = ours.get(b.key())
        if r is None:
            report.deviations.append(Deviation(_describe(b), b.value, math.nan, 0.0))
            continue
        report.compared += 1
        if not _same(r.value, b.value):
            report.differing.append(f"{_describe(b)}: baseline {b.value:.6f}, here {r.value:.6f}")
        if per_number is None:
            expected, t, checked = b.value, tol.for_metric(b.metric), True
        else:
            row = per_number.get(noise_key(b))
            if row is None:
                report.unchecked += 1
                continue
            expected, t, checked = row.mean, row.tolerance, row.checked
        report.checked += checked
        report.unchecked += not checked
        if math.isnan(expected) and math.isnan(r.value):
            continue
        if math.isnan(r.value) != math.isnan(expected) or abs(r.value - expected) > t + 1e-9:
            (report.deviations if checked else report.notes).append(Deviation(_describe(b), expected, r.value, t))
    return report


def compare_paper(
    results: list[MetricRow], paper_csv: str | Path, tol: Tolerances, seeds: list[int] | None = None
) -> tuple[list[Deviation], list[str], int]:
    """Compare ours with the paper's values: (deviations, 'not run' lines, number compared)."""
    paper = read_paper_csv(paper_csv)
    deviations, not_run, compared = [], [], 0
    for spec in TABLES.values():  # the accuracy tables (the efficiency table has its own spec)
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
