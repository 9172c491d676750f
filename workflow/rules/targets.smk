"""What the DAG builds beyond one rule: the inputs and targets of pretraining, claims, the upstream
table and the figures, taken from the plan (biggait.plan.WorkflowPlan, common.smk). No rules."""

import os
import sys

from biggait.reporting.claims_config import claim_evaluations, claim_groups, load_claims

# ------------------------------------------------------------------ pretraining (demo)


def pretrain_data() -> str:
    return " ".join(f"--data {ds}={dataset_root(ds)}:{dataset_partition(ds)}" for ds in SYNTHGAIT_DOMAINS)


def pretrain_flags() -> str:
    opts = config["pretrain_lvm"] or {}
    keys = ("objective", "steps", "batch", "lr", "decoder_depth", "colour", "target", "seed")
    return " ".join(f"--{k.replace('_', '-')} {opts[k]}" for k in keys if k in opts)


# ------------------------------------------------------------------ claims

CLAIMS_FILE = str(REPO / "config" / "claims.yaml")
CLAIMS = _plan(load_claims, CLAIMS_FILE)


def claims_evaluations() -> list[tuple[str, str]]:
    """(experiment, test) evaluations the claims read that the configured tables make."""
    return PLAN.claims_evaluations(claim_evaluations(CLAIMS), RUN_TABLES)


def claim_seeds(exp: str, test: str) -> list[int]:
    return PLAN.claim_seeds(exp, test, RUN_TABLES)


def claims_group_files() -> list[str]:
    """The layer-group evaluations (biggait evaluate-groups) that claims with a ``group`` cell read, for the
    evaluations the configured tables make."""
    run = set(claims_evaluations())
    return [
        paths.group_metrics_file(R, e, s, t, g)
        for e, t, g in claim_groups(CLAIMS)
        if (e, t) in run
        for s in claim_seeds(e, t)
    ]


ALL_SEEDS = PLAN.all_seeds(RUN_TABLES)


# ------------------------------------------------------------------ upstream table (demo)

UPSTREAM_ON = _plan(PLAN.upstream_report)


def upstream_outputs() -> list[str]:
    """The upstream table's files when this config builds it, else nothing (reproduce_all's input)."""
    return paths.upstream_files(R) if UPSTREAM_ON else []


# ------------------------------------------------------------------ shared evaluation jobs

EVAL_GROUPS = PLAN.evaluation_groups(RUN_TABLES, int(config["eval_group_size"]))

# ------------------------------------------------------------------ shared training jobs

TRAIN_GROUPS = PLAN.train_groups(RUN_TABLES, int(config["train_group_size"]))


# ------------------------------------------------------------------ figures

RUN_EXPERIMENTS = PLAN.run_experiments(RUN_TABLES)  # the training curves' runs
FIG_SEED = PLAN.figure_seed()
GROUP_EVALS = _plan(PLAN.group_evaluations, RUN_TABLES)  # BiggerGait Figure 5(c): (experiment, seed, test)

# BiggerGait's GPU memory (an analytic estimate) and the GPUs it needs, stated before a paper-scale run starts.
if SCALE == "paper":
    for _line in _plan(PLAN.gpu_memory_lines, RUN_TABLES):
        print(f"plan: {_line}", file=sys.stderr)
FIGS = paths.figures_dir(R)


def figure_targets() -> list[str]:
    """Every figure reproduce_all draws, given the tables that run (the policy: WorkflowPlan.figure_targets)."""
    return _plan(PLAN.figure_targets, RUN_TABLES)
