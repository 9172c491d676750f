"""Training: one job per (experiment, seed), or, with config ``train_group_size`` > 1, shared jobs of several
trainings (train_<group>, :meth:`biggait.plan.WorkflowPlan.train_groups`: one ``biggait train ... --and ...``
process, each run bit-identical to its own job; Snakemake prefers these wildcard-free rules to the per-model
one). model.pt, written last by the trainer, is the only
output: the run folder and its checkpoints/ are never deleted by Snakemake, so a killed or failed
training resumes from its last checkpoint when the job runs again."""


rule train:
    input:
        unpack(train_inputs),
    output:
        model=paths.model_file(R, "{exp}", "{seed}"),
    log:
        paths.log_file(R, paths.train_job("{exp}", "{seed}")),
    benchmark:
        paths.benchmark_file(R, paths.train_job("{exp}", "{seed}"))
    wildcard_constraints:
        exp=r"[A-Za-z0-9_]+",
        seed=r"\d+",
    conda:
        "../envs/biggait.yaml"
    threads: config["threads"]["train"]
    resources:
        gpu=gpus_per_job(),
    params:
        gpu_run=GPU_RUN,
        biggait=BIGGAIT,
        scale=SCALE,
        run=lambda wc: run_dir(wc.exp, wc.seed),
        sets=train_sets,
    shell:
        "OMP_NUM_THREADS={threads} MKL_NUM_THREADS={threads} "
        "{params.gpu_run} --gpus {resources.gpu} -- {params.biggait} train {input.experiment} --scale {params.scale} "
        "--out {params.run} {params.sets} "
        ">> {log} 2>&1"


for _name, _members in TRAIN_GROUPS:
    _exp = _members[0][0]

    rule:
        name:
            f"train_{_name}"
        input:
            **experiment_train_inputs(_exp),
        output:
            models=[paths.model_file(R, e, s) for e, s in _members],
        log:
            paths.log_file(R, paths.shared_train_job(_name)),
        benchmark:
            paths.benchmark_file(R, paths.shared_train_job(_name))
        conda:
            "../envs/biggait.yaml"
        threads: config["threads"]["train"]
        resources:
            gpu=gpus_per_job(),
        params:
            gpu_run=GPU_RUN,
            biggait=BIGGAIT,
            runs=" --and ".join(
                f"{PLAN.experiment_file(e)} --scale {SCALE} --out {run_dir(e, s)} {seed_sets(e, s)}"
                for e, s in _members
            ),
        shell:
            "OMP_NUM_THREADS={threads} MKL_NUM_THREADS={threads} "
            "{params.gpu_run} --gpus {resources.gpu} -- {params.biggait} train {params.runs} >> {log} 2>&1"
