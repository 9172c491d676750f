"""Claims: `biggait claims` tests the paper's claims (config/claims.yaml) on this run's evaluations.

Its inputs are the metrics files and identity hits of the evaluations the claims read, restricted to
those the configured tables make (claims whose cells are not in the run read "not run"), and it
runs after the tables. The same claims file serves every config (demo, CI, paper scale)."""


rule claims:
    input:
        metrics=[metrics_file(e, s, t) for e, t in claims_evaluations() for s in claim_seeds(e, t)],
        hits=[paths.identity_hits_file(R, e, s, t) for e, t in claims_evaluations() for s in claim_seeds(e, t)],
        groups=claims_group_files(),  # a claim's layer group alone (read beside its evaluation's metrics.csv)
        tables=[table_outputs(t).csv for t in RUN_TABLES],  # after the tables
        claims=CLAIMS_FILE,
        paper=PAPER_CSV,
    output:
        report(paths.claims_files(R).md, caption="../report/claims.rst", category="Claims"),
        paths.claims_files(R).csv,
    log:
        paths.log_file(R, "claims"),
    localrule: True
    conda:
        "../envs/biggait.yaml"
    params:
        biggait=BIGGAIT,
        scale=SCALE,
        results=lambda wc, output: os.path.dirname(output[1]),  # <results>/claims.csv (output 0: claims.md)
        seeds=" ".join(str(s) for s in ALL_SEEDS),
    shell:
        "{params.biggait} claims {params.results} --claims {input.claims} --metrics {input.metrics} --seeds {params.seeds} "
        "--paper {input.paper} --scale {params.scale} --out {params.results} > {log} 2>&1"
