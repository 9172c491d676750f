"""What the upstream's pretraining brings: ``results/tables/upstream.{csv,md}`` (``biggait lvm-report``).

Three CCPG-like trainings are compared: BigGait on the random upstream (``ccpg_random_upstream``),
BigGait on the pretrained upstream (``biggait_ccpg``) and the GaitBase silhouette baseline
(``gaitbase_ccpg``); plus the two ``biggait probe-lvm`` results (random, pretrained). Rows:

- the GRE's unsupervised mask vs the ground-truth silhouettes (``mask_iou`` of metrics.csv;
  ``all`` with a target, per condition without), as a fraction;
- rank-1 (``gait``, ``rank1_exclude_identical_view``) per condition and their mean, in percent;
- the upstream probes: linear probe, PCA-1, the mean-silhouette prior, "every pixel person".

Values are the mean (± std) over the seeds whose metrics files are given; a verdict compares the
pretrained upstream's value with the row's target.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from biggait import paths
from biggait.datasets import PROTOCOLS
from biggait.errors import DataError
from biggait.evaluation.metrics_files import read_metrics_files
from biggait.evaluation.probe import MEASURES
from biggait.evaluation.results import MetricRow
from biggait.io import atomic_path, csv_text, read_json
from biggait.reporting.specs import UPSTREAM_COLUMNS

# column -> the experiment whose evaluations on CCPG fill it
EXPERIMENTS = UPSTREAM_COLUMNS  # column -> experiment (biggait.reporting.specs, which the workflow's plan reads)
TEST = "ccpg"
RANK1 = ("gait", "rank1_exclude_identical_view")
MASK_IOU_TARGET = 0.70  # the unsupervised mask should find the walker (the prior alone: ~0.55)
RANK1_TARGET = 35.0  # percent, on every CCPG condition (chance: 10% with 10 test identities)
CSV_COLUMNS = (
    "measure",
    "condition",
    "unit",
    "random_upstream",
    "random_upstream_std",
    "pretrained_upstream",
    "pretrained_upstream_std",
    "gaitbase",
    "gaitbase_std",
    "pretrained_minus_gaitbase",
    "target",
    "verdict",
)
PROBE_LABELS = {
    "linear_probe": "linear probe IoU (upstream tokens -> person)",
    "pca1": "PCA-1 IoU (unsupervised, border = background)",
    "prior": "mean-silhouette prior IoU (reference)",
    "all_person": "every pixel 'person' IoU (reference)",
}


@dataclass(frozen=True)
class Row:
    """One line of the table: a value (mean, std) per column, a target and its verdict."""

    measure: str
    condition: str
    unit: str  # "fraction" | "%"
    values: dict[str, tuple[float, float]]  # column -> (mean, std); absent = not applicable
    target: str = ""  # e.g. ">= 0.70"
    target_value: float = math.nan
    target_ref: float = math.nan  # a ">" target whose threshold is another number (the probe: the prior)

    def verdict(self) -> str:
        """``met`` / ``not met`` for the pretrained upstream's mean; '' without a target."""
        mean = self.values.get("pretrained_upstream", (math.nan, math.nan))[0]
        if not self.target or math.isnan(mean):
            return ""
        if not math.isnan(self.target_value):
            return "met" if mean >= self.target_value else "not met"
        return "met" if mean > self.target_ref else "not met"


def _mean_std(values: list[float]) -> tuple[float, float]:
    a = np.asarray(values, dtype=np.float64)
    return float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else math.nan


def _by_seed(rows: list[MetricRow], exp: str, protocol: str, metric: str, cond: str) -> dict[int, float]:
    return {
        r.seed: r.value
        for r in rows
        if r.experiment == exp
        and r.test_dataset == TEST
        and r.protocol == protocol
        and r.metric == metric
        and r.condition == cond
    }


def read_probe(path: str | Path, upstream: str) -> dict:
    """A ``biggait probe-lvm`` JSON of the given kind (``random`` / ``file``); DataError naming the file."""
    path = Path(path)
    raw = read_json(path, "probe-lvm result")
    iou = raw.get("iou") if isinstance(raw, dict) else None
    if not isinstance(iou, dict) or not all(isinstance(iou.get(k), (int, float)) for k in MEASURES):
        raise DataError(f"{path}: expected a probe-lvm result with iou.{{{', '.join(MEASURES)}}} numbers")
    if raw.get("upstream") != upstream:
        raise DataError(
            f"{path}: a probe of the {raw.get('upstream')!r} upstream, expected {upstream!r} "
            "(are the random and pretrained probes swapped?)"
        )
    return raw


def build_rows(
    metrics: list[MetricRow], probes: dict[str, dict], sources: dict[tuple[str, int], str] | None = None
) -> tuple[list[Row], dict[str, list[int]]]:
    """The table's rows from CCPG metrics of the three experiments and the two probes (by column).

    ``sources`` maps (experiment, seed) to its metrics file, to name it when a number is missing.
    """
    sources = sources or {}
    seeds = {
        col: sorted({r.seed for r in metrics if r.experiment == exp and r.test_dataset == TEST})
        for col, exp in EXPERIMENTS.items()
    }
    for col, exp in EXPERIMENTS.items():
        if not seeds[col]:
            raise DataError(
                f"no {exp}/seed<k>/{TEST}/metrics.csv among the metrics files (needed for the {col} column)"
            )
    conds = list(PROTOCOLS[TEST].conditions)

    def column(col: str, protocol: str, metric: str, cond: str, required: bool) -> tuple[float, float] | None:
        got = _by_seed(metrics, EXPERIMENTS[col], protocol, metric, cond)
        lacking = [s for s in seeds[col] if s not in got]
        if lacking:
            if not required and len(lacking) == len(seeds[col]):
                return None
            where = sources.get((EXPERIMENTS[col], lacking[0]), f"{EXPERIMENTS[col]} seed {lacking[0]}")
            raise DataError(f"{where}: no {protocol} {metric} for condition {cond} on {TEST}")
        return _mean_std([got[s] for s in seeds[col]])

    rows: list[Row] = []
    for cond in ["all", *conds]:
        vals = {}
        for col in ("random_upstream", "pretrained_upstream"):
            m, s = column(col, "mask_iou", "iou", cond, required=cond == "all") or (math.nan, math.nan)
            vals[col] = (m / 100, s / 100)
        if cond == "all":
            rows.append(
                Row(
                    "mask IoU (GRE foreground vs silhouettes)",
                    cond,
                    "fraction",
                    vals,
                    f">= {MASK_IOU_TARGET:.2f}",
                    MASK_IOU_TARGET,
                )
            )
        elif not all(math.isnan(v[0]) for v in vals.values()):
            rows.append(Row("mask IoU (GRE foreground vs silhouettes)", cond, "fraction", vals))
    per_seed_means: dict[str, list[float]] = {}
    for cond in conds:
        vals = {col: column(col, *RANK1, cond, required=True) for col in EXPERIMENTS}
        rows.append(Row("rank-1", cond, "%", vals, f">= {RANK1_TARGET:.0f}", RANK1_TARGET))
    for col, exp in EXPERIMENTS.items():
        by_cond = [_by_seed(metrics, exp, *RANK1, c) for c in conds]
        per_seed_means[col] = [float(np.mean([bc[s] for bc in by_cond])) for s in seeds[col]]
    rows.append(
        Row(
            "rank-1",
            "mean",
            "%",
            {c: _mean_std(v) for c, v in per_seed_means.items()},
            f">= {RANK1_TARGET:.0f}",
            RANK1_TARGET,
        )
    )
    prior = probes["pretrained_upstream"]["iou"]["prior"]
    for k in MEASURES:
        vals = {col: (float(p["iou"][k]), math.nan) for col, p in probes.items()}
        if k == "linear_probe":
            rows.append(Row(PROBE_LABELS[k], "eval half", "fraction", vals, "> prior", target_ref=prior))
        else:
            rows.append(Row(PROBE_LABELS[k], "eval half", "fraction", vals))
    return rows, seeds


def _fmt(v: tuple[float, float] | None, unit: str) -> str:
    if v is None or math.isnan(v[0]):
        return "n/a"
    d = 2 if unit == "fraction" else 1
    return f"{v[0]:.{d}f}" + ("" if math.isnan(v[1]) else f" ± {v[1]:.{d}f}")


def _diff(row: Row) -> float:
    if row.unit != "%" or "gaitbase" not in row.values:
        return math.nan
    return row.values["pretrained_upstream"][0] - row.values["gaitbase"][0]


def csv_table(rows: list[Row]) -> str:
    """The long CSV: one line per row, mean and std per column (fractions for IoU, percent for rank-1)."""

    def cells(r: Row) -> list[object]:
        out: list[object] = [r.measure, r.condition, r.unit]
        for col in EXPERIMENTS:
            m, s = r.values.get(col, (math.nan, math.nan))
            out += [m, s]
        return out + [_diff(r), r.target, r.verdict()]

    return csv_text(CSV_COLUMNS, (cells(r) for r in rows))


def caption(seeds: dict[str, list[int]], probes: dict[str, dict], scale: str) -> str:
    """The honest caption of the Markdown table."""
    pre = probes["pretrained_upstream"]
    frames = pre.get("frames", {})
    s = "; ".join(f"{EXPERIMENTS[c]}: seeds {' '.join(map(str, v))}" for c, v in seeds.items())
    text = (
        "What the upstream's self-supervised pretraining brings, measured by the run itself. The *pretrained* "
        "upstream learnt from the RGB training frames alone (`biggait pretrain-lvm`: no silhouettes, masks or "
        "labels); the *random* one keeps its initialisation (`model.lvm_random`). Both feed the same GRE + "
        "GaitBase, trained on the CCPG-like training split. Mask IoU: the GRE's unsupervised foreground against "
        "the ground-truth silhouettes of the test split (silhouettes are only used to score). Rank-1: the CCPG "
        "gait protocol, identical views excluded (chance 10% with 10 test identities); the last columns give "
        "BigGait (pretrained) minus GaitBase, the silhouette baseline. Probes: the frozen upstream's `last`-tap "
        f"tokens on the GRE map, fitted on half of the test identities and scored on the other half "
        f"({frames.get('fit', '?')} / {frames.get('eval', '?')} frames): a logistic-regression linear probe "
        "(silhouette-supervised; it asks whether the tokens *hold* the person), the first principal component "
        "(unsupervised), the mean-silhouette prior and the 'every pixel person' labelling as references. "
        f"Values: mean ± std over seeds ({s}); IoU as fractions, rank-1 in percent. Verdicts read the "
        "pretrained upstream's mean against the target."
    )
    if scale == "demo":
        text += (
            " These are SynthGait numbers from tiny stand-in ViTs (a few hundred pretraining steps on a CPU): "
            "they show whether the demo's upstream learns to see the walker, not how DINOv2 or BigGait "
            "perform; they are not comparable with the paper."
        )
    return text


def markdown_table(rows: list[Row], seeds: dict[str, list[int]], probes: dict[str, dict], scale: str) -> str:
    """``upstream.md``: title, caption, the table."""
    head = [
        "measure",
        "condition",
        "random upstream",
        "pretrained upstream",
        "GaitBase",
        "pretrained - GaitBase",
        "target",
        "verdict",
    ]
    lines = [
        "# Upstream: random vs pretrained",
        "",
        caption(seeds, probes, scale),
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for r in rows:
        diff = _diff(r)
        cells = [r.measure, r.condition] + [_fmt(r.values.get(c), r.unit) for c in EXPERIMENTS]
        cells += ["" if math.isnan(diff) else f"{diff:+.1f}", r.target, r.verdict()]
        lines.append("| " + " | ".join(cells) + " |")
    ckpt = probes["pretrained_upstream"].get("lvm_checkpoint", "")
    lines += [
        "",
        f"Pretrained upstream: `{ckpt}`; random upstream: seed "
        f"{probes['random_upstream'].get('settings', {}).get('seed', '?')} of the probe "
        "(the trainings' random upstreams come from their own seeds).",
    ]
    return "\n".join(lines) + "\n"


def upstream_files(out_dir: str | Path) -> list[Path]:
    """``upstream.csv`` and ``upstream.md`` in ``out_dir`` (results/tables)."""
    return [Path(p) for p in paths.report_files(str(out_dir), paths.UPSTREAM_TABLE)]


def write_upstream_report(
    metrics_files: Iterable[str | Path],
    random_probe: str | Path,
    pretrained_probe: str | Path,
    out_dir: str | Path,
    scale: str = "paper",
) -> list[Path]:
    """Read everything, build the table, then write ``upstream.csv`` and ``upstream.md`` (each atomically)."""
    files = [str(f) for f in metrics_files]
    metrics = read_metrics_files(files)
    sources = {paths.parse_metrics_file(f)[:2]: f for f in files}  # read_metrics_files checked the paths
    probes = {
        "random_upstream": read_probe(random_probe, "random"),
        "pretrained_upstream": read_probe(pretrained_probe, "file"),
    }
    rows, seeds = build_rows(metrics, probes, sources)
    texts = [csv_table(rows), markdown_table(rows, seeds, probes, scale)]
    dests = upstream_files(out_dir)
    for dest, text in zip(dests, texts):
        with atomic_path(dest) as tmp:
            tmp.write_text(text)
    return dests
