"""``results/claims.{csv,md}``: the outcome of every claim, the paper's own effect beside ours.

The CSV has one line per claim (:data:`CLAIMS_COLUMNS`; numbers by :func:`biggait.io.csv_value`),
the Markdown a table for the report and the statements below it. Both are written only after
every claim was evaluated, each through a temporary file renamed into place.
"""

from __future__ import annotations

import contextlib
import logging
import math
from pathlib import Path

from biggait import paths
from biggait.datasets import DATASET_LABELS
from biggait.io import atomic_path, csv_text
from biggait.reporting.cells import read_paper_csv
from biggait.reporting.claims import EvaluationIndex, Outcome, evaluate_claim
from biggait.reporting.claims_config import CellRef, load_claims
from biggait.reporting.specs import TABLES

log = logging.getLogger(__name__)

CLAIMS_COLUMNS = (
    "claim",
    "verdict",
    "direction",
    "min_effect",
    "a",
    "b",
    "pairing",
    "seeds_a",
    "seeds_b",
    "value_a",
    "value_b",
    "effect",
    "ci_low",
    "ci_high",
    "paper_a",
    "paper_b",
    "paper_effect",
    "reason",
    "statement",
)
DEMO_NOTE = (
    "SynthGait demo: these numbers come from synthetic data and tiny stand-in LVMs pretrained on it (not DINOv2); "
    "a verdict here says nothing about the paper's real claims, only that the test runs."
)


def paper_value(cell: CellRef, paper: dict) -> float:
    """The paper's number of a cell (``paper_reported.csv``; a mean from its conditions if need be)."""
    spec = TABLES[cell.table]
    tr, te = DATASET_LABELS.get(cell.train, cell.train), DATASET_LABELS.get(cell.test, cell.test)

    def get(label: str) -> float:
        pv = paper.get((spec.paper_table, tr, te, cell.method, label, spec.paper_metric))
        return pv.value if pv is not None and pv.role == "paper" else math.nan

    direct = get(cell.column)
    if not math.isnan(direct) or len(cell.labels) < 2:
        return direct
    values = [get(label) for label in cell.labels]
    return math.nan if any(math.isnan(v) for v in values) else sum(values) / len(values)


def _row(o: Outcome, paper: dict) -> list[object]:
    pa, pb = paper_value(o.claim.a, paper), paper_value(o.claim.b, paper)
    c = o.claim
    return [
        c.id,
        o.verdict,
        c.direction,
        c.min_effect,
        c.a.label(),
        c.b.label(),
        o.pairing,
        " ".join(map(str, o.seeds_a)),
        " ".join(map(str, o.seeds_b)),
        o.value_a,
        o.value_b,
        o.effect,
        o.ci_low,
        o.ci_high,
        pa,
        pb,
        pa - pb,
        o.reason,
        c.statement,
    ]


def _f(v: float, signed: bool = False) -> str:
    return "" if math.isnan(v) else (f"{v:+.2f}" if signed else f"{v:.2f}")


def markdown(outcomes: list[Outcome], paper: dict, resamples: int, note: str) -> str:
    """The report's page: one table line per claim, then the statements and reasons."""
    lines = ["# The paper's claims, tested", ""]
    if note:
        lines += [f"> {note}", ""]
    lines += [
        f"Effect = A - B in rank-1 points (mean over seeds); 95% interval from {resamples} bootstrap "
        "resamples of the test identities (the same draw for both sides when they share the test "
        "identities: *paired*) and of each side's seeds. **holds**: the interval lies entirely on the "
        "claimed side (and beyond the minimum effect); **refuted**: entirely on the other side of 0; "
        "**inconclusive**: otherwise; **not run**: a side was not evaluated in this run.",
        "",
        "| claim | A | B | claimed | ours A | ours B | effect [95% CI] | paper effect | verdict |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        c = o.claim
        pa, pb = paper_value(c.a, paper), paper_value(c.b, paper)
        claimed = f"A {c.direction} B" + (f" by > {c.min_effect:g}" if c.min_effect else "")
        effect = (
            ""
            if math.isnan(o.effect)
            else f"{_f(o.effect, True)} [{_f(o.ci_low, True)}, {_f(o.ci_high, True)}]"
            + (" (unpaired)" if o.pairing == "unpaired" else "")
        )
        lines.append(
            f"| {c.id} | {c.a.label()} | {c.b.label()} | {claimed} | {_f(o.value_a)} | {_f(o.value_b)} "
            f"| {effect} | {_f(pa - pb, True)} | **{o.verdict}** |"
        )
    lines += ["", "## Statements", ""]
    for o in outcomes:
        lines.append(f"- **{o.claim.id}** ({o.verdict}): {o.claim.statement}" + (f" *{o.reason}*" if o.reason else ""))
    return "\n".join(lines) + "\n"


def write_claims(
    results: str | Path,
    claims_file: str | Path,
    out_dir: str | Path,
    *,
    metrics_files: list[str | Path] | None = None,
    seeds: list[int] | None = None,
    paper_csv: str | Path | None = None,
    resamples: int = 2000,
    seed: int = 0,
    scale: str = "paper",
) -> list[Path]:
    """Evaluate every claim and write ``claims.csv`` / ``claims.md`` into ``out_dir``; returns the paths."""
    claims = load_claims(claims_file)
    paper = read_paper_csv(paper_csv) if paper_csv is not None else {}
    index = EvaluationIndex(results, metrics_files, seeds)
    outcomes = []
    for claim in claims:
        outcomes.append(evaluate_claim(claim, index, resamples=resamples, seed=seed))
        log.info("claim %s: %s %s", claim.id, outcomes[-1].verdict, outcomes[-1].reason)
    texts = [
        csv_text(CLAIMS_COLUMNS, (_row(o, paper) for o in outcomes)),
        markdown(outcomes, paper, resamples, DEMO_NOTE if scale == "demo" else ""),
    ]
    dests = [Path(p) for p in paths.claims_files(str(out_dir))]
    with contextlib.ExitStack() as stack:  # both renamed only once both are written
        for dest, text in zip(dests, texts):
            stack.enter_context(atomic_path(dest)).write_text(text)
    return dests
