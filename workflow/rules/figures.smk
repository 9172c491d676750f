"""Figures (PNG for the report, PDF for papers), each a report() item with a caption."""

rule fig_pad_resize:
    input:
        partition=lambda wc: dataset_partition(wc.ds),
    output:
        png=report(f"{FIGS}/pad_and_resize_{{ds}}.png", caption="../report/pad_and_resize.rst",
                   category="Figures", subcategory="Inputs"),
        pdf=f"{FIGS}/pad_and_resize_{{ds}}.pdf",
    params:
        biggait=BIGGAIT,
        root=lambda wc: dataset_root(wc.ds),
        out=lambda wc, output: output.png[: -len(".png")],
    wildcard_constraints:
        ds=r"[a-z0-9_]+",
    log:
        paths.log_file(R, "figures/pad_and_resize_{ds}"),
    shell:
        "{params.biggait} figures pad-resize --root {params.root} --dataset {wildcards.ds} "
        "--partition {input.partition} --out {params.out} 2>&1 | tee {log} >&2"


rule fig_maps:
    input:
        model=lambda wc: model_file(wc.exp, FIG_SEED),
        partition=lambda wc: dataset_partition(experiment(wc.exp).data.dataset),
    output:
        masks=report(f"{FIGS}/masks_{{exp}}.png", caption="../report/masks.rst",
                     category="Figures", subcategory="Maps"),
        masks_pdf=f"{FIGS}/masks_{{exp}}.pdf",
        pca=report(f"{FIGS}/pca_{{exp}}.png", caption="../report/pca.rst",
                   category="Figures", subcategory="Maps"),
        pca_pdf=f"{FIGS}/pca_{{exp}}.pdf",
    params:
        biggait=BIGGAIT,
        ds=lambda wc: experiment(wc.exp).data.dataset,
        root=lambda wc: dataset_root(experiment(wc.exp).data.dataset),
        out_masks=lambda wc, output: output.masks[: -len(".png")],
        out_pca=lambda wc, output: output.pca[: -len(".png")],
    threads: config["threads"]["evaluate"]
    log:
        paths.log_file(R, "figures/maps_{exp}"),
    shell:
        "OMP_NUM_THREADS={threads} {params.biggait} figures maps --checkpoint {input.model} --root {params.root} "
        "--dataset {params.ds} --partition {input.partition} "
        "--out-masks {params.out_masks} --out-pca {params.out_pca} 2>&1 | tee {log} >&2"


rule fig_bars:
    input:
        f"{paths.tables_dir(R)}/{{table}}.csv",
    output:
        png=report(f"{FIGS}/bars_{{table}}.png", caption="../report/bars.rst",
                   category="Figures", subcategory="Ours vs paper"),
        pdf=f"{FIGS}/bars_{{table}}.pdf",
    params:
        biggait=BIGGAIT,
        title=lambda wc: TABLES[wc.table].title,
        out=lambda wc, output: output.png[: -len(".png")],
    wildcard_constraints:
        table="|".join(TABLES),
    log:
        paths.log_file(R, "figures/bars_{table}"),
    shell:
        "{params.biggait} figures bars --table {input} --title {params.title:q} --out {params.out} 2>&1 | tee {log} >&2"


rule fig_views:
    input:
        metrics=lambda wc: metrics_file(wc.exp, FIG_SEED, wc.test),
    output:
        png=report(f"{FIGS}/views_{{exp}}_{{test}}.png", caption="../report/views.rst",
                   category="Figures", subcategory="Per-view rank-1"),
        pdf=f"{FIGS}/views_{{exp}}_{{test}}.pdf",
    params:
        biggait=BIGGAIT,
        seed=FIG_SEED,
        matrices=lambda wc: f"{paths.eval_dir(R, wc.exp, FIG_SEED, wc.test)}/{paths.VIEW_MATRIX_GLOB}",
        out=lambda wc, output: output.png[: -len(".png")],
    wildcard_constraints:
        exp=r"[A-Za-z0-9_]+?",
        test="|".join(DATASET_LABELS),
    log:
        paths.log_file(R, "figures/views_{exp}_{test}"),
    shell:
        "{params.biggait} figures heatmap --matrices {params.matrices} "
        "--title 'Per-view rank-1: {wildcards.exp} on {wildcards.test} (seed {params.seed})' "
        "--out {params.out} 2>&1 | tee {log} >&2"


rule fig_curves:
    input:
        [model_file(e, s) for e in RUN_EXPERIMENTS for s in SEEDS],
    output:
        png=report(f"{FIGS}/training_curves.png", caption="../report/curves.rst",
                   category="Figures", subcategory="Training"),
        pdf=f"{FIGS}/training_curves.pdf",
    params:
        biggait=BIGGAIT,
        runs=" ".join(run_dir(e, s) for e in RUN_EXPERIMENTS for s in SEEDS),
        out=lambda wc, output: output.png[: -len(".png")],
    log:
        paths.log_file(R, "figures/training_curves"),
    shell:
        "{params.biggait} figures curves --runs {params.runs} --out {params.out} 2>&1 | tee {log} >&2"


rule figures:
    input:
        figure_targets(),
    localrule: True
