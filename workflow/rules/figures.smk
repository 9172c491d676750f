"""Figures (PNG for the report, PDF for papers), each a report() item with a caption."""

# Trained experiments of the tables that run (the efficiency table builds models, trains none).
RUN_EXPERIMENTS = list(dict.fromkeys(e for t in RUN_TABLES if TABLES[t].kind == "accuracy"
                                     for e in table_experiments(t)))
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
            out.append(f"{FIGS}/views_{e}_{t}.png")
    return out


rule fig_pad_resize:
    input:
        partition=lambda wc: dataset_partition(wc.ds),
    output:
        png=report(f"{FIGS}/pad_and_resize_{{ds}}.png", caption="../report/pad_and_resize.rst",
                   category="Figures", subcategory="Inputs"),
        pdf=f"{FIGS}/pad_and_resize_{{ds}}.pdf",
    params:
        root=lambda wc: dataset_root(wc.ds),
    wildcard_constraints:
        ds=r"[a-z0-9_]+",
    shell:
        "{BIGGAIT} figures pad-resize --root {params.root} --dataset {wildcards.ds} "
        "--partition {input.partition} --out {FIGS}/pad_and_resize_{wildcards.ds}"


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
        ds=lambda wc: experiment(wc.exp).data.dataset,
        root=lambda wc: dataset_root(experiment(wc.exp).data.dataset),
    threads: config["threads"]["evaluate"]
    shell:
        "OMP_NUM_THREADS={threads} {BIGGAIT} figures maps --checkpoint {input.model} --root {params.root} "
        "--dataset {params.ds} --partition {input.partition} "
        "--out-masks {FIGS}/masks_{wildcards.exp} --out-pca {FIGS}/pca_{wildcards.exp}"


rule fig_bars:
    input:
        f"{paths.tables_dir(R)}/{{table}}.csv",
    output:
        png=report(f"{FIGS}/bars_{{table}}.png", caption="../report/bars.rst",
                   category="Figures", subcategory="Ours vs paper"),
        pdf=f"{FIGS}/bars_{{table}}.pdf",
    params:
        title=lambda wc: TABLES[wc.table].title,
    wildcard_constraints:
        table="|".join(TABLES),
    shell:
        "{BIGGAIT} figures bars --table {input} --title {params.title:q} --out {FIGS}/bars_{wildcards.table}"


rule fig_views:
    input:
        metrics=lambda wc: metrics_file(wc.exp, FIG_SEED, wc.test),
    output:
        png=report(f"{FIGS}/views_{{exp}}_{{test}}.png", caption="../report/views.rst",
                   category="Figures", subcategory="Per-view rank-1"),
        pdf=f"{FIGS}/views_{{exp}}_{{test}}.pdf",
    params:
        matrices=lambda wc: f"{paths.eval_dir(R, wc.exp, FIG_SEED, wc.test)}/{paths.VIEW_MATRIX_GLOB}",
    wildcard_constraints:
        exp=r"[A-Za-z0-9_]+?",
        test="|".join(DATASET_LABELS),
    shell:
        "{BIGGAIT} figures heatmap --matrices {params.matrices} "
        "--title 'Per-view rank-1: {wildcards.exp} on {wildcards.test} (seed {FIG_SEED})' "
        "--out {FIGS}/views_{wildcards.exp}_{wildcards.test}"


rule fig_curves:
    input:
        [model_file(e, s) for e in RUN_EXPERIMENTS for s in SEEDS],
    output:
        png=report(f"{FIGS}/training_curves.png", caption="../report/curves.rst",
                   category="Figures", subcategory="Training"),
        pdf=f"{FIGS}/training_curves.pdf",
    params:
        runs=" ".join(run_dir(e, s) for e in RUN_EXPERIMENTS for s in SEEDS),
    shell:
        "{BIGGAIT} figures curves --runs {params.runs} --out {FIGS}/training_curves"


rule figures:
    input:
        figure_targets(),
    localrule: True
