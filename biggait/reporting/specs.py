"""What each result table holds: rows (experiments or cited methods) and the layout of their numbers.

The dict literal :data:`TABLES` is the only registry of the accuracy tables (:class:`TableSpec`); the
efficiency table is :data:`EFFICIENCY` (:class:`EfficiencySpec`, its own type); :data:`TABLE_NAMES` and
:func:`get_table` cover both. The workflow (``workflow/rules/common.smk``) reads them to know which
trainings and evaluations a table needs, and ``biggait tables`` / ``biggait check-metrics --paper``
read them to lay out and compare the numbers. Method labels and
condition labels match ``paper_reported.csv`` so the paper's values can be looked up by them.
"""

from __future__ import annotations

from dataclasses import dataclass

from biggait.datasets import CROSS_COLUMNS, WITHIN_COLUMNS, Column
from biggait.errors import ConfigError


@dataclass(frozen=True)
class Row:
    """A re-run row: ``method`` label (paper CSV name), the experiment that produces it, and the
    train -> test direction (preset names)."""

    method: str
    experiment: str
    train: str
    test: str


@dataclass(frozen=True)
class TableSpec:
    """One table of the paper. ``paper_table`` / ``paper_metric`` select its rows of
    paper_reported.csv; methods found there but not re-run become cited rows."""

    name: str
    title: str
    rows: tuple[Row, ...]
    paper_table: str = ""
    paper_metric: str = ""
    cross_domain: bool = False
    mean_column: bool = True  # add the mean over the condition columns

    def experiments(self) -> list[str]:
        """Experiments (training runs) this table needs, in row order, without repeats."""
        return list(dict.fromkeys(r.experiment for r in self.rows))

    def evaluations(self) -> list[tuple[str, str]]:
        """(experiment, test dataset) evaluations this table needs."""
        return list(dict.fromkeys((r.experiment, r.test) for r in self.rows))

    def columns(self, test: str) -> tuple[Column, ...]:
        """The condition columns of a test dataset in this table."""
        return (CROSS_COLUMNS if self.cross_domain else WITHIN_COLUMNS)[test]


def _within(ds: str, rows: tuple[tuple[str, str], ...]) -> tuple[Row, ...]:
    return tuple(Row(m, e, ds, ds) for m, e in rows)


_DOMAINS = ("ccpg", "casiab", "sustech1k")
_MAIN = (("GaitBase", "gaitbase"), ("BigGait", "biggait"))
_BIGGER = (("BigGait", "biggait_ccpg"), ("BiggerGait", "biggergait_ccpg"))

TABLES: dict[str, TableSpec] = {
    "ccpg": TableSpec(
        "ccpg",
        "CCPG within-domain (gait protocol, rank-1 %, identical views excluded)",
        _within(
            "ccpg", (("GaitBase", "gaitbase_ccpg"), ("BigGait", "biggait_ccpg"), ("BiggerGait", "biggergait_ccpg"))
        ),
        paper_table="ccpg_within",
        paper_metric="rank1_gait_exclude_identical_view",
    ),
    "casiab": TableSpec(
        "casiab",
        "CASIA-B* within-domain (rank-1 %, identical views excluded)",
        _within("casiab", (("GaitBase", "gaitbase_casiab"), ("BigGait", "biggait_casiab"))),
        paper_table="casiab_within",
        paper_metric="rank1",
    ),
    "sustech1k": TableSpec(
        "sustech1k",
        "SUSTech1K within-domain (rank-1 %, identical views excluded)",
        _within("sustech1k", (("GaitBase", "gaitbase_sustech1k"), ("BigGait", "biggait_sustech1k"))),
        paper_table="sustech1k_within",
        paper_metric="rank1",
        mean_column=False,
    ),
    "cross_domain": TableSpec(
        "cross_domain",
        "Cross-domain: train on one dataset, test on another (rank-1 %)",
        tuple(
            Row(m, f"{prefix}_{tr}", tr, te) for tr in _DOMAINS for te in _DOMAINS if te != tr for m, prefix in _MAIN
        ),
        paper_table="cross_domain",
        paper_metric="rank1",
        cross_domain=True,
        mean_column=False,
    ),
    "ablation_branches": TableSpec(
        "ablation_branches",
        "Ablation of the GRE branches on CCPG (rank-1 %)",
        _within(
            "ccpg",
            (
                ("BigGait", "biggait_ccpg"),
                ("w/o mask branch", "ccpg_no_mask"),
                ("w/o appearance branch", "ccpg_no_appearance"),
                ("w/o denoising branch", "ccpg_no_denoising"),
            ),
        ),
        paper_table="ablation_branches",
        paper_metric="rank1",
    ),
    "ablation_regularisers": TableSpec(
        "ablation_regularisers",
        "Ablation of the regularisers on CCPG (rank-1 %)",
        _within(
            "ccpg",
            (
                ("BigGait", "biggait_ccpg"),
                ("w/o reconstruction", "ccpg_no_reconstruction"),
                ("w/o smoothness", "ccpg_no_smoothness"),
                ("w/o diversity", "ccpg_no_diversity"),
            ),
        ),
        paper_table="ablation_regularisers",
        paper_metric="rank1",
    ),
    "ablation_design": TableSpec(
        "ablation_design",
        "Design choices (rank-1 %): Pad-and-Resize on SUSTech1K (square crops), the rest on CCPG",
        _within(
            "ccpg",
            (
                ("BigGait", "biggait_ccpg"),
                ("w/o Black DA", "ccpg_no_black_da"),
                ("taps: last only", "ccpg_taps_last"),
                ("taps: mid4 only", "ccpg_taps_mid4"),
                ("per-channel smoothness", "ccpg_per_channel_smoothness"),
            ),
        )
        + _within("sustech1k", (("BigGait", "biggait_sustech1k"), ("w/o Pad-and-Resize", "sustech1k_no_pad_resize"))),
        paper_table="ablation_design",
        paper_metric="rank1",
        cross_domain=True,
        mean_column=False,
    ),
    "lvm_size": TableSpec(
        "lvm_size",
        "Size of the upstream LVM (DINOv2 S/B/L/G) on CCPG (rank-1 %)",
        _within(
            "ccpg",
            (
                ("BigGait (ViT-S/14)", "biggait_ccpg"),
                ("BigGait (ViT-B/14)", "lvm_b"),
                ("BigGait (ViT-L/14)", "lvm_l"),
                ("BigGait (ViT-G/14)", "lvm_g"),
            ),
        ),
        paper_table="lvm_size",
        paper_metric="rank1",
    ),
    # BiggerGait (NeurIPS 2025; docs/biggergait.md): its Table 1 from CCPG and its Table 2 ablations, on CCPG.
    "biggergait_cross": TableSpec(
        "biggergait_cross",
        "BiggerGait vs BigGait, cross-domain from CCPG (rank-1 %)",
        tuple(Row(m, e, "ccpg", te) for te in ("casiab", "sustech1k") for m, e in _BIGGER),
        paper_table="biggergait_cross",
        paper_metric="rank1",
        cross_domain=True,
        mean_column=False,
    ),
    "biggergait_cross_ccgr": TableSpec(  # paper scale only: SynthGait has no CCGR-MINI
        "biggergait_cross_ccgr",
        "BiggerGait vs BigGait, CCPG to CCGR-MINI (rank-1 %)",
        tuple(Row(m, e, "ccpg", "ccgr_mini") for m, e in _BIGGER),
        paper_table="biggergait_cross_ccgr",
        paper_metric="rank1",
        cross_domain=True,
        mean_column=False,
    ),
    "biggergait_heads": TableSpec(
        "biggergait_heads",
        "BiggerGait Table 2(a): gait heads P with J = 12 groups, on CCPG (rank-1 %)",
        _within(
            "ccpg",
            (
                ("BiggerGait (DINOv2-S) P=12", "biggergait_ccpg"),
                ("BiggerGait (DINOv2-S) P=2", "biggergait_p2"),
                ("BiggerGait (DINOv2-S) P=1", "biggergait_p1"),
            ),
        ),
        paper_table="biggergait_heads",
        paper_metric="rank1",
    ),
    "biggergait_grouping": TableSpec(
        "biggergait_grouping",
        "BiggerGait Table 2(b): layer groups J with P = 2 heads, on CCPG (rank-1 %)",
        _within(
            "ccpg",
            (
                ("BiggerGait (DINOv2-S) J=12", "biggergait_p2"),
                ("BiggerGait (DINOv2-S) J=6", "biggergait_j6"),
                ("BiggerGait (DINOv2-S) J=3", "biggergait_j3"),
            ),
        ),
        paper_table="biggergait_grouping",
        paper_metric="rank1",
    ),
    "biggergait_lvm_size": TableSpec(
        "biggergait_lvm_size",
        "BiggerGait Table 2(c): size of the upstream LVM (DINOv2 S/L) on CCPG (rank-1 %)",
        _within("ccpg", (("BiggerGait (DINOv2-S)", "biggergait_ccpg"), ("BiggerGait (DINOv2-L)", "biggergait_lvm_l"))),
        paper_table="biggergait_lvm_size",
        paper_metric="rank1",
    ),
}


@dataclass(frozen=True)
class EfficiencySpec:
    """The efficiency table (``biggait.reporting.efficiency_table``): per model, its size and compute
    (``biggait efficiency``, :data:`EFFICIENCY_COLUMNS`) and what the run's own trainings and evaluations
    of it cost (:data:`TRAIN_COST_COLUMNS`, :data:`EVAL_COST_COLUMNS`). A row's ``train`` is the dataset
    its cost is measured on (the training set; its evaluation there); ``test`` is ``-``."""

    name: str
    title: str
    rows: tuple[Row, ...]
    paper_table: str = ""

    def experiments(self) -> list[str]:
        """Experiments this table measures, in row order, without repeats."""
        return list(dict.fromkeys(r.experiment for r in self.rows))


EFFICIENCY = EfficiencySpec(
    "efficiency",
    "Model size, compute per frame (biggait efficiency) and measured training cost",
    tuple(
        Row(m, e, "ccpg", "-")
        for m, e in (
            ("GaitBase", "gaitbase_ccpg"),
            ("BigGait", "biggait_ccpg"),
            ("BigGait (ViT-B/14)", "lvm_b"),
            ("BigGait (ViT-L/14)", "lvm_l"),
            ("BigGait (ViT-G/14)", "lvm_g"),
            ("BiggerGait", "biggergait_ccpg"),  # 12 groups, 12 heads (the release's default)
            ("BiggerGait*", "biggergait_j6"),  # 6 groups of 2 layers, 2 heads (the release's Group variant)
        )
    ),
    paper_table="efficiency",
)
# Every table by name: the accuracy tables of TABLES, then the efficiency table.
TABLE_NAMES: tuple[str, ...] = (*TABLES, EFFICIENCY.name)

# Figure 5(c), separate vs ensemble testing: the experiment whose layer groups are scored one by one (each
# group's parts of the same embeddings, no retraining), on every test set the run evaluates it on.
GROUP_EXPERIMENT = "biggergait_ccpg"

# The upstream table (demo, `biggait lvm-report`): its columns -> the experiments they read, the
# random upstream first.
UPSTREAM_COLUMNS: dict[str, str] = {
    "random_upstream": "ccpg_random_upstream",
    "pretrained_upstream": "biggait_ccpg",
    "gaitbase": "gaitbase_ccpg",
}
UPSTREAM_EXPERIMENTS: tuple[str, ...] = tuple(UPSTREAM_COLUMNS.values())

# Efficiency columns: (label, key in the efficiency JSON, paper_reported.csv metric or "").
EFFICIENCY_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("params (M)", "params_M", "params_M"),
    ("trainable (M)", "trainable_params_M", ""),
    ("GFLOPs/frame", "gflops_per_frame", "gflops_448x224"),
    ("frames/s", "frames_per_s", ""),
)
# Run-cost columns of the efficiency table: (label, key), mean over the seeds the run trained. From the
# Snakemake benchmark files of the rows' trainings (wall time, peak memory) and of the evaluation jobs
# on their training set (a shared job's wall time split evenly over the models it evaluated); each
# group is left out when no such file is given.
TRAIN_COST_COLUMNS: tuple[tuple[str, str], ...] = (
    ("train (s)", "train_s"),
    ("train peak RSS (GB)", "train_max_rss_gb"),
)
EVAL_COST_COLUMNS: tuple[tuple[str, str], ...] = (("eval (s, share of job)", "eval_s"),)


def get_table(name: str) -> TableSpec | EfficiencySpec:
    """The spec of a table by name (``ccpg``, ``cross_domain``, ..., ``efficiency``); ConfigError if unknown."""
    if name == EFFICIENCY.name:
        return EFFICIENCY
    if name not in TABLES:
        raise ConfigError(f"table {name!r}: unknown (expected one of: {', '.join(TABLE_NAMES)})")
    return TABLES[name]
