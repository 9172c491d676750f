"""Evaluation. The tables' evaluations run as shared jobs (evaluate_<test>_<n>): the models of one test set
whose frozen upstream is the same (config `eval_group_size` of them at most) are evaluated in one
`biggait evaluate` call, so the test frames are read once and go through the upstream once. Any other
metrics file comes from the per-model rule `evaluate` (Snakemake prefers the wildcard-free shared rules)."""


rule evaluate:
    input:
        model=paths.model_file(R, "{exp}", "{seed}"),
        partition=lambda wc: dataset_partition(wc.test),
    output:
        metrics=paths.metrics_file(R, "{exp}", "{seed}", "{test}"),
        hits=paths.identity_hits_file(R, "{exp}", "{seed}", "{test}"),
    log:
        paths.log_file(R, paths.evaluate_job("{exp}", "{seed}", "{test}")),
    benchmark:
        paths.benchmark_file(R, paths.evaluate_job("{exp}", "{seed}", "{test}"))
    wildcard_constraints:
        exp=r"[A-Za-z0-9_]+",
        seed=r"\d+",
        test=r"[a-z0-9_]+",
    conda:
        "../envs/biggait.yaml"
    threads: config["threads"]["evaluate"]
    resources:
        gpu=gpus_per_job(),
    params:
        gpu_run=GPU_RUN,
        biggait=BIGGAIT,
        out=lambda wc: paths.eval_dir(R, wc.exp, wc.seed, wc.test),
        root=lambda wc: dataset_root(wc.test),
    shell:
        "OMP_NUM_THREADS={threads} MKL_NUM_THREADS={threads} "
        "{params.gpu_run} --gpus {resources.gpu} -- {params.biggait} evaluate --checkpoint {input.model} --dataset {wildcards.test} "
        "--root {params.root} --partition {input.partition} --out {params.out} >> {log} 2>&1"


rule evaluate_groups:
    """BiggerGait Figure 5(c): each layer group of one evaluation scored alone from its embeddings (no model
    run); groups/g<i>/, groups/best/ and groups/groups.csv (written last) below the evaluation."""
    input:
        metrics=paths.metrics_file(R, "{exp}", "{seed}", "{test}"),
        partition=lambda wc: dataset_partition(wc.test),
    output:
        table=paths.groups_table_file(R, "{exp}", "{seed}", "{test}"),
        best=paths.group_metrics_file(R, "{exp}", "{seed}", "{test}", paths.BEST_GROUP),
    log:
        paths.log_file(R, paths.evaluate_groups_job("{exp}", "{seed}", "{test}")),
    wildcard_constraints:
        exp=r"[A-Za-z0-9_]+",
        seed=r"\d+",
        test=r"[a-z0-9_]+",
    conda:
        "../envs/biggait.yaml"
    threads: config["threads"]["evaluate"]
    params:
        biggait=BIGGAIT,
        eval_dir=lambda wc: paths.eval_dir(R, wc.exp, wc.seed, wc.test),
    shell:
        "OMP_NUM_THREADS={threads} {params.biggait} evaluate-groups {params.eval_dir} "
        "--partition {input.partition} > {log} 2>&1"


rule efficiency:
    """Parameters, GFLOPs per frame and inference frames/s of an experiment's model (`biggait efficiency`); the
    LVM is built without its checkpoint (counts do not depend on the weights)."""
    input:
        experiment=str(PLAN.experiment_file("{exp}")),
    output:
        paths.efficiency_file(R, "{exp}"),
    log:
        paths.log_file(R, "efficiency/{exp}"),
    benchmark:
        paths.benchmark_file(R, "efficiency/{exp}")
    conda:
        "../envs/biggait.yaml"
    threads: config["threads"]["evaluate"]
    resources:
        gpu=gpus_per_job(),
    params:
        gpu_run=GPU_RUN,
        biggait=BIGGAIT,
        scale=SCALE,
    shell:
        "OMP_NUM_THREADS={threads} {params.gpu_run} --gpus {resources.gpu} -- {params.biggait} efficiency "
        "--experiment {input.experiment} --scale {params.scale} --set model.lvm_checkpoint= --json --throughput > {output} 2> {log}"


if len(PLAN.efficiency_experiments()) > 1:

    rule efficiency_rows:
        """Every row of the efficiency table in one `biggait efficiency ... --and ...` process (each row as its
        own job would count and time it; the process start-up, ~4 s, is paid once). Snakemake prefers this
        wildcard-free rule to the per-experiment one for these files."""
        input:
            experiments=[str(PLAN.experiment_file(e)) for e in PLAN.efficiency_experiments()],
        output:
            PLAN.efficiency_inputs(),
        log:
            paths.log_file(R, "efficiency/rows"),
        benchmark:
            paths.benchmark_file(R, "efficiency/rows")
        conda:
            "../envs/biggait.yaml"
        threads: config["threads"]["evaluate"]
        resources:
            gpu=gpus_per_job(),
        params:
            gpu_run=GPU_RUN,
            biggait=BIGGAIT,
            runs=" --and ".join(
                f"--experiment {PLAN.experiment_file(e)} --scale {SCALE} --set model.lvm_checkpoint= --json "
                f"--throughput --out {paths.efficiency_file(R, e)}"
                for e in PLAN.efficiency_experiments()
            ),
        shell:
            "OMP_NUM_THREADS={threads} {params.gpu_run} --gpus {resources.gpu} -- {params.biggait} efficiency "
            "{params.runs} 2> {log}"


for _name, _test, _members in EVAL_GROUPS:

    rule:
        name:
            f"evaluate_{_name}"
        input:
            models=[paths.model_file(R, e, s) for e, s in _members],
            partition=dataset_partition(_test),
        output:
            metrics=[paths.metrics_file(R, e, s, _test) for e, s in _members],
            hits=[paths.identity_hits_file(R, e, s, _test) for e, s in _members],
        log:
            paths.log_file(R, paths.shared_evaluate_job(_name)),
        benchmark:
            paths.benchmark_file(R, paths.shared_evaluate_job(_name))
        conda:
            "../envs/biggait.yaml"
        threads: config["threads"]["evaluate"]
        resources:
            gpu=gpus_per_job(),
        params:
            gpu_run=GPU_RUN,
            biggait=BIGGAIT,
            test=_test,
            root=lambda wc, t=_test: dataset_root(t),
            pairs=lambda wc, input, output: " ".join(
                f"--checkpoint {m} --out {os.path.dirname(o)}" for m, o in zip(input.models, output.metrics)
            ),
        shell:
            "OMP_NUM_THREADS={threads} MKL_NUM_THREADS={threads} "
            "{params.gpu_run} --gpus {resources.gpu} -- {params.biggait} evaluate {params.pairs} --dataset {params.test} "
            "--root {params.root} --partition {input.partition} >> {log} 2>&1"
