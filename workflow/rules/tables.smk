"""Tables: one job per table; a target rule table_<name> for each (snakemake --list-target-rules).

Each command reads exactly its rule's declared inputs: metrics left in the eval folder by an earlier run
never fill a cell. An accuracy table (specs.TABLES) reads the metrics files of its evaluations
(`--metrics FILE...`). The efficiency table (specs.EFFICIENCY, its own rule) reads the `biggait
efficiency` result of each row (`--efficiency FILE...`) and the benchmark files (`--train-benchmarks
FILE...`: wall time and peak memory) of its rows' trainings that the run's other tables train, and
(`--eval-benchmark FILE MODEL...`) of the shared evaluation jobs that evaluate them; it starts no training
of its own."""


rule table:
    input:
        metrics=lambda wc: table_metric_inputs(wc.table),
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
        seeds=lambda wc: " ".join(str(s) for s in PLAN.table_seeds(wc.table)),
        allow=lambda wc: "--allow-missing" if config["experiments"] else "",
    shell:
        "{params.biggait} tables {wildcards.table} --metrics {input.metrics} "
        "--paper {input.paper} --out {params.out} --seeds {params.seeds} --scale {params.scale} {params.allow} "
        "> {log} 2>&1"


rule efficiency_table:
    input:
        efficiency=PLAN.efficiency_inputs(),
        train_benchmarks=[f for f, _ in efficiency_train_jobs()],
        eval_benchmarks=[f for f, _ in efficiency_eval_jobs()],
        paper=PAPER_CSV,
    output:
        report(
            paths.table_files(R, EFFICIENCY.name).md,
            caption="../report/table.rst",
            category="Tables",
            labels={"table": EFFICIENCY.name},
        ),
        paths.table_files(R, EFFICIENCY.name).csv,
        paths.table_files(R, EFFICIENCY.name).wide_csv,
        paths.table_files(R, EFFICIENCY.name).tex,
    log:
        paths.log_file(R, f"tables/{EFFICIENCY.name}"),
    localrule: True
    conda:
        "../envs/biggait.yaml"
    params:
        biggait=BIGGAIT,
        scale=SCALE,
        out=lambda wc, output: os.path.dirname(output[0]),
        table=EFFICIENCY.name,
        train_jobs=" ".join(
            f"--train-benchmark {shlex.quote(f)} {' '.join(models)}" for f, models in efficiency_train_jobs()
        ),
        eval_jobs=" ".join(
            f"--eval-benchmark {shlex.quote(f)} {' '.join(models)}" for f, models in efficiency_eval_jobs()
        ),
    shell:
        "{params.biggait} tables {params.table} --efficiency {input.efficiency} "
        "{params.train_jobs} {params.eval_jobs} "
        "--paper {input.paper} --out {params.out} --scale {params.scale} > {log} 2>&1"


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
            f"{paths.figure(R, f'bars_{_t}')}.png",
        localrule: True


rule:
    name:
        f"table_{EFFICIENCY.name}"
    input:
        table_outputs(EFFICIENCY.name),
    localrule: True
