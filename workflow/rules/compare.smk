"""Your experiment against a reference, paired per condition (`biggait compare`): put your experiment in
config/experiments/<name>.yaml, then e.g.
    snakemake --cores all results/compare/<name>_vs_biggait_ccpg_ccpg.md
trains and evaluates what is missing (seeds of config `seeds`) and writes the comparison."""


rule compare:
    input:
        a=lambda wc: [metrics_file(wc.a, s, wc.test) for s in SEEDS],
        b=lambda wc: [metrics_file(wc.b, s, wc.test) for s in SEEDS],
    output:
        csv=f"{paths.compare_stem(R, '{a}', '{b}', '{test}')}.csv",
        md=f"{paths.compare_stem(R, '{a}', '{b}', '{test}')}.md",
    log:
        paths.log_file(R, "compare/{a}_vs_{b}_{test}"),
    wildcard_constraints:
        a=r"[A-Za-z0-9_]+?",
        b=r"[A-Za-z0-9_]+",
        test="|".join(DATASET_LABELS),
    localrule: True
    conda:
        "../envs/biggait.yaml"
    params:
        biggait=BIGGAIT,
        a=lambda wc, input: paths.experiment_eval_dir(input.a[0]),
        b=lambda wc, input: paths.experiment_eval_dir(input.b[0]),
        out=lambda wc, output: os.path.dirname(output.csv),
        seeds=" ".join(str(s) for s in SEEDS),
    shell:
        "{params.biggait} compare {params.a} {params.b} --test {wildcards.test} --seeds {params.seeds} "
        "--out {params.out} > {log} 2>&1"
