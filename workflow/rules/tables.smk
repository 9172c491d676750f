"""Tables: one job per table; a target rule table_<name> for each (snakemake --list-target-rules).

The command reads exactly the rule's declared inputs (`--metrics FILE...`, or `--efficiency FILE...`
for the efficiency table): metrics left in the eval folder by an earlier run never fill a cell. The
efficiency table also reads the benchmark files (`--train-benchmarks FILE...`: wall time and peak memory)
of its rows' trainings that the run's other tables train, and (`--eval-benchmark FILE MODEL...`) of the
shared evaluation jobs that evaluate them; it starts no training of its own."""


rule table:
    input:
        metrics=lambda wc: table_metric_inputs(wc.table),
        train_benchmarks=lambda wc: table_train_benchmarks(wc.table),
        eval_benchmarks=lambda wc: [f for f, _ in table_eval_jobs(wc.table)],
        paper=PAPER_CSV,
    output:
        report(
            paths.table_files(R, "{table}").md,
            caption="../report/table.rst",
            category="Tables",
            labels=lambda wc: {"table": wc.table},
        ),
        paths.table_files(R, "{table}").csv,
        paths.table_files(R, "{table}").wide_csv,
        paths.table_files(R, "{table}").tex,
    log:
        paths.log_file(R, "tables/{table}"),
    wildcard_constraints:
        table="|".join(TABLES),
    localrule: True
    conda:
        "../envs/biggait.yaml"
    params:
        biggait=BIGGAIT,
        scale=SCALE,
        out=lambda wc, output: os.path.dirname(output[0]),
        inputs_flag=lambda wc: "--metrics --efficiency" if TABLES[wc.table].kind == "efficiency" else "--metrics",
        seeds=lambda wc: " ".join(str(s) for s in PLAN.table_seeds(wc.table)),
        allow=lambda wc: "--allow-missing" if config["experiments"] else "",
        benchmarks_flag=lambda wc, input: "--train-benchmarks" if input.train_benchmarks else "",
        eval_jobs=lambda wc: " ".join(
            f"--eval-benchmark {shlex.quote(f)} {' '.join(models)}" for f, models in table_eval_jobs(wc.table)
        ),
    shell:
        "{params.biggait} tables {wildcards.table} {params.inputs_flag} {input.metrics} "
        "{params.benchmarks_flag} {input.train_benchmarks} {params.eval_jobs} "
        "--paper {input.paper} --out {params.out} --seeds {params.seeds} --scale {params.scale} {params.allow} "
        "> {log} 2>&1"


rule job_times:
    """Wall time, CPU time and peak memory of every benchmarked job (`biggait job-times`): the trainings,
    evaluations and pretrainings write <results>/benchmarks/<rule>/<job>.tsv; this gathers them once the
    tables (and the upstream table) are built, i.e. after every such job of the run."""
    input:
        [table_outputs(t) for t in RUN_TABLES],
        upstream_outputs(),
    output:
        report(
            paths.job_times_files(R).md,
            caption="../report/job_times.rst",
            category="Tables",
            labels={"table": "job_times"},
        ),
        paths.job_times_files(R).csv,
    log:
        paths.log_file(R, "tables/job_times"),
    localrule: True
    conda:
        "../envs/biggait.yaml"
    params:
        biggait=BIGGAIT,
        benchmarks=paths.benchmarks_dir(R),
        out=lambda wc, output: os.path.dirname(output[0]),
    shell:
        "{params.biggait} job-times {params.benchmarks} --out {params.out} > {log} 2>&1"


for _t in TABLES:

    rule:
        name:
            f"table_{_t}"
        input:
            table_outputs(_t),
            (f"{paths.figure(R, f'bars_{_t}')}.png" if TABLES[_t].kind == "accuracy" else []),
        localrule: True
