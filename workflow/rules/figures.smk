"""Figures (PNG for the report, PDF for papers), each a report() item with a caption."""


rule fig_pad_resize:
    input:
        partition=lambda wc: dataset_partition(wc.ds),
    output:
        png=report(
            f"{FIGS}/pad_and_resize_{{ds}}.png",
            caption="../report/pad_and_resize.rst",
            category="Figures",
            subcategory="Inputs",
        ),
        pdf=f"{FIGS}/pad_and_resize_{{ds}}.pdf",
    log:
        paths.log_file(R, "figures/pad_and_resize_{ds}"),
    wildcard_constraints:
        ds=r"[a-z0-9_]+",
    conda:
        "../envs/biggait.yaml"
    params:
        biggait=BIGGAIT,
        root=lambda wc: dataset_root(wc.ds),
        out=lambda wc, output: output.png[: -len(".png")],
    shell:
        "{params.biggait} figures pad-resize --root {params.root} --dataset {wildcards.ds} "
        "--partition {input.partition} --out {params.out} > {log} 2>&1"


rule fig_maps:
    input:
        model=lambda wc: model_file(wc.exp, FIG_SEED),
        partition=lambda wc: dataset_partition(experiment(wc.exp).data.dataset),
    output:
        masks=report(f"{FIGS}/masks_{{exp}}.png", caption="../report/masks.rst", category="Figures", subcategory="Maps"),
        masks_pdf=f"{FIGS}/masks_{{exp}}.pdf",
        pca=report(f"{FIGS}/pca_{{exp}}.png", caption="../report/pca.rst", category="Figures", subcategory="Maps"),
        pca_pdf=f"{FIGS}/pca_{{exp}}.pdf",
    log:
        paths.log_file(R, "figures/maps_{exp}"),
    conda:
        "../envs/biggait.yaml"
    threads: config["threads"]["evaluate"]
    params:
        biggait=BIGGAIT,
        ds=lambda wc: experiment(wc.exp).data.dataset,
        root=lambda wc: dataset_root(experiment(wc.exp).data.dataset),
        out_masks=lambda wc, output: output.masks[: -len(".png")],
        out_pca=lambda wc, output: output.pca[: -len(".png")],
    shell:
        "OMP_NUM_THREADS={threads} {params.biggait} figures maps --checkpoint {input.model} --root {params.root} "
        "--dataset {params.ds} --partition {input.partition} "
        "--out-masks {params.out_masks} --out-pca {params.out_pca} > {log} 2>&1"


rule fig_bars:
    input:
        paths.table_files(R, "{table}").csv,
    output:
        png=report(
            f"{FIGS}/bars_{{table}}.png", caption="../report/bars.rst", category="Figures", subcategory="Ours vs paper"
        ),
        pdf=f"{FIGS}/bars_{{table}}.pdf",
    log:
        paths.log_file(R, "figures/bars_{table}"),
    wildcard_constraints:
        table="|".join(TABLES),
    localrule: True
    conda:
        "../envs/biggait.yaml"
    params:
        biggait=BIGGAIT,
        title=lambda wc: TABLES[wc.table].title,
        out=lambda wc, output: output.png[: -len(".png")],
    shell:
        "{params.biggait} figures bars --table {input} --title {params.title:q} --out {params.out} > {log} 2>&1"


rule fig_views:
    input:
        metrics=lambda wc: metrics_file(wc.exp, FIG_SEED, wc.test),
    output:
        png=report(
            f"{FIGS}/views_{{exp}}_{{test}}.png",
            caption="../report/views.rst",
            category="Figures",
            subcategory="Per-view rank-1",
        ),
        pdf=f"{FIGS}/views_{{exp}}_{{test}}.pdf",
    log:
        paths.log_file(R, "figures/views_{exp}_{test}"),
    wildcard_constraints:
        exp=r"[A-Za-z0-9_]+?",
        test="|".join(DATASET_LABELS),
    localrule: True
    conda:
        "../envs/biggait.yaml"
    params:
        biggait=BIGGAIT,
        seed=FIG_SEED,
        matrices=lambda wc: f"{paths.eval_dir(R, wc.exp, FIG_SEED, wc.test)}/{paths.VIEW_MATRIX_GLOB}",
        out=lambda wc, output: output.png[: -len(".png")],
    shell:
        "{params.biggait} figures heatmap --matrices {params.matrices} "
        "--title 'Per-view rank-1: {wildcards.exp} on {wildcards.test} (seed {params.seed})' "
        "--out {params.out} > {log} 2>&1"


rule fig_view_rank1:
    input:
        metrics=lambda wc: metrics_file(wc.exp, FIG_SEED, wc.test),
    output:
        png=report(
            f"{FIGS}/per_view_rank1_{{exp}}_{{test}}.png",
            caption="../report/per_view_rank1.rst",
            category="Figures",
            subcategory="Per-view rank-1",
        ),
        pdf=f"{FIGS}/per_view_rank1_{{exp}}_{{test}}.pdf",
    log:
        paths.log_file(R, "figures/per_view_rank1_{exp}_{test}"),
    wildcard_constraints:
        exp=r"[A-Za-z0-9_]+?",
        test="|".join(DATASET_LABELS),
    localrule: True
    conda:
        "../envs/biggait.yaml"
    params:
        biggait=BIGGAIT,
        seed=FIG_SEED,
        matrices=lambda wc: f"{paths.eval_dir(R, wc.exp, FIG_SEED, wc.test)}/{paths.VIEW_MATRIX_GLOB}",
        out=lambda wc, output: output.png[: -len(".png")],
    shell:
        "{params.biggait} figures views --matrices {params.matrices} "
        "--title 'Rank-1 per probe view: {wildcards.exp} on {wildcards.test} (seed {params.seed})' "
        "--out {params.out} > {log} 2>&1"


rule fig_cmc:
    input:
        metrics=lambda wc: metrics_file(wc.exp, FIG_SEED, wc.test),  # written after embeddings.npz
        partition=lambda wc: dataset_partition(wc.test),
    output:
        png=report(
            f"{FIGS}/cmc_{{exp}}_{{test}}.png",
            caption="../report/cmc.rst",
            category="Figures",
            subcategory="CMC curves",
        ),
        pdf=f"{FIGS}/cmc_{{exp}}_{{test}}.pdf",
    log:
        paths.log_file(R, "figures/cmc_{exp}_{test}"),
    wildcard_constraints:
        exp=r"[A-Za-z0-9_]+?",
        test="|".join(DATASET_LABELS),
    conda:
        "../envs/biggait.yaml"
    threads: config["threads"]["evaluate"]
    params:
        biggait=BIGGAIT,
        seed=FIG_SEED,
        evaluation=lambda wc: paths.eval_dir(R, wc.exp, FIG_SEED, wc.test),
        out=lambda wc, output: output.png[: -len(".png")],
    shell:
        "OMP_NUM_THREADS={threads} {params.biggait} figures cmc --evaluations {params.evaluation} "
        "--partition {input.partition} "
        "--title 'CMC: {wildcards.exp} on {wildcards.test} (seed {params.seed})' "
        "--out {params.out} > {log} 2>&1"


rule fig_embeddings:
    input:
        metrics=lambda wc: metrics_file(wc.exp, FIG_SEED, wc.test),  # written after embeddings.npz
    output:
        png=report(
            f"{FIGS}/embeddings_{{exp}}_{{test}}.png",
            caption="../report/embeddings.rst",
            category="Figures",
            subcategory="Embeddings",
        ),
        pdf=f"{FIGS}/embeddings_{{exp}}_{{test}}.pdf",
    log:
        paths.log_file(R, "figures/embeddings_{exp}_{test}"),
    wildcard_constraints:
        exp=r"[A-Za-z0-9_]+?",
        test="|".join(DATASET_LABELS),
    conda:
        "../envs/biggait.yaml"
    params:
        biggait=BIGGAIT,
        seed=FIG_SEED,
        evaluation=lambda wc: paths.eval_dir(R, wc.exp, FIG_SEED, wc.test),
        out=lambda wc, output: output.png[: -len(".png")],
    shell:
        "{params.biggait} figures embeddings --evaluation {params.evaluation} "
        "--title 'Test embeddings (PCA): {wildcards.exp} on {wildcards.test} (seed {params.seed})' "
        "--out {params.out} > {log} 2>&1"


rule fig_curves:
    input:
        [model_file(e, s) for e in RUN_EXPERIMENTS for s in SEEDS],
    output:
        png=report(
            f"{FIGS}/training_curves.png", caption="../report/curves.rst", category="Figures", subcategory="Training"
        ),
        pdf=f"{FIGS}/training_curves.pdf",
    log:
        paths.log_file(R, "figures/training_curves"),
    localrule: True
    conda:
        "../envs/biggait.yaml"
    params:
        biggait=BIGGAIT,
        runs=" ".join(run_dir(e, s) for e in RUN_EXPERIMENTS for s in SEEDS),
        out=lambda wc, output: output.png[: -len(".png")],
    shell:
        "{params.biggait} figures curves --runs {params.runs} --out {params.out} > {log} 2>&1"


rule figures:
    input:
        figure_targets(),
    localrule: True


rule fig_groups:
    """BiggerGait Figure 5(c): separate vs ensemble testing, every seed and test set of the groups' experiment."""
    input:
        groups=[paths.groups_table_file(R, e, s, t) for e, s, t in GROUP_EVALS],
        paper=PAPER_CSV,
    output:
        png=report(
            f"{FIGS}/groups_{{exp}}.png", caption="../report/groups.rst", category="Figures", subcategory="BiggerGait"
        ),
        pdf=f"{FIGS}/groups_{{exp}}.pdf",
    log:
        paths.log_file(R, "figures/groups_{exp}"),
    localrule: True
    conda:
        "../envs/biggait.yaml"
    params:
        biggait=BIGGAIT,
        out=lambda wc, output: output.png[: -len(".png")],
    shell:
        "{params.biggait} figures groups --groups {input.groups} --paper {input.paper} "
        "--title 'Separate vs ensemble testing: {wildcards.exp}' "
        "--out {params.out} > {log} 2>&1"
