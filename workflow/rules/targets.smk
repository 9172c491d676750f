"""What the DAG builds beyond one rule: the inputs and targets of pretraining, claims, the upstream
table and the figures, derived from the plan (common.smk). Functions only, no rules."""

import os

from biggait.reporting.claims_config import claim_evaluations, load_claims

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
    run = {ev for t in RUN_TABLES if TABLES[t].kind == "accuracy" for ev in table_evaluations(t)}
    return [ev for ev in claim_evaluations(CLAIMS) if ev in run]


def claim_seeds(exp: str, test: str) -> list[int]:
    return PLAN.evaluation_seeds(exp, test, [t for t in RUN_TABLES if TABLES[t].kind == "accuracy"])


ALL_SEEDS = sorted({s for t in RUN_TABLES for s in PLAN.table_seeds(t)})


# ------------------------------------------------------------------ upstream table (demo)

UPSTREAM_ON = _plan(PLAN.upstream_report)


def upstream_outputs() -> list[str]:
    """The upstream table's files when this config builds it, else nothing (reproduce_all's input)."""
    return paths.upstream_files(R) if UPSTREAM_ON else []


# ------------------------------------------------------------------ shared evaluation jobs

EVAL_GROUPS = PLAN.evaluation_groups(RUN_TABLES, int(config["eval_group_size"]))


# ------------------------------------------------------------------ figures

# Trained experiments of the tables that run (the efficiency table builds models, trains none).
RUN_EXPERIMENTS = list(
    dict.fromkeys(e for t in RUN_TABLES if TABLES[t].kind == "accuracy" for e in table_experiments(t))
)
RUN_EVALUATIONS = {(e, t) for tb in RUN_TABLES for e, t in table_evaluations(tb) if t != "-"}
FIG_SEED = SEEDS[0]
FIGS = paths.figures_dir(R)


def figure_targets() -> list[str]:
    """Every figure reproduce_all draws, given the tables that run."""
    out = [f"{FIGS}/bars_{t}.png" for t in RUN_TABLES if TABLES[t].kind == "accuracy"]
    if RUN_EXPERIMENTS:
        out.append(f"{FIGS}/training_curves.png")
    pad_ds = next((d for d in ("sustech1k", "casiab") if any(t == d for _, t in RUN_EVALUATIONS)), None)
    if pad_ds:
        out.append(f"{FIGS}/pad_and_resize_{pad_ds}.png")
    for e in config["figures"]["maps_experiments"]:
        if e in RUN_EXPERIMENTS and experiment(e).model.arch == "biggait":
            out += [f"{FIGS}/masks_{e}.png", f"{FIGS}/pca_{e}.png"]
    for item in config["figures"]["heatmap_evaluations"]:
        e, t = item.split(":")
        if (e, t) in RUN_EVALUATIONS:
            # heatmaps, rank-1 per probe view, CMC curves, PCA of the test embeddings (rules in figures.smk)
            out += [f"{FIGS}/{kind}_{e}_{t}.png" for kind in ("views", "per_view_rank1", "cmc", "embeddings")]
    return out
