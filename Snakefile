"""BigGait (CVPR 2024) reproduction suite.

    snakemake --cores all reproduce_all                                  # the demo (config/config.yaml)
    snakemake --configfile config/paper.yaml --resources gpu=4 --cores 32 reproduce_all
    snakemake --report results/report.html                               # HTML report afterwards

Targets: reproduce_all, table_<name> for each table, claims, figures (snakemake --list-target-rules);
results/compare/<exp>_vs_<reference>_<test>.md compares your experiment with a reference.
Rules by stage live in workflow/rules/*.smk; see docs/workflow.md.
"""

from pathlib import Path

from snakemake.utils import min_version

min_version("9.0")


configfile: str(Path(workflow.basedir) / "config" / "config.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/targets.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/pretrain.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/tables.smk"
include: "workflow/rules/upstream.smk"
include: "workflow/rules/claims.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/compare.smk"


rule reproduce_all:
    """Every table of config `tables` (or the available ones), the upstream table (when the config pretrains the
    upstream), the claims, every figure, the job times; then run --report."""
    default_target: True
    input:
        [table_outputs(t) for t in RUN_TABLES],
        upstream_outputs(),
        paths.claims_files(R),
        figure_targets(),
        paths.job_times_files(R),
    localrule: True
