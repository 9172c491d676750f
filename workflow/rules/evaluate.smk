"""Evaluation: one job per (experiment, seed, test dataset); cross-domain tests reuse the model."""


rule evaluate:
    input:
        model=paths.model_file(R, "{exp}", "{seed}"),
        partition=lambda wc: dataset_partition(wc.test),
    output:
        metrics=paths.metrics_file(R, "{exp}", "{seed}", "{test}"),
        hits=paths.identity_hits_file(R, "{exp}", "{seed}", "{test}"),
    params:
        gpu_run=GPU_RUN,
        biggait=BIGGAIT,
        out=lambda wc: paths.eval_dir(R, wc.exp, wc.seed, wc.test),
        root=lambda wc: dataset_root(wc.test),
    log:
        paths.log_file(R, "evaluate/{exp}_seed{seed}_{test}"),
    threads: config["threads"]["evaluate"]
    resources:
        gpu=gpus_per_job(),
    wildcard_constraints:
        exp=r"[A-Za-z0-9_]+",
        seed=r"\d+",
        test=r"[a-z0-9_]+",
    shell:
        "OMP_NUM_THREADS={threads} MKL_NUM_THREADS={threads} "
        "{params.gpu_run} --gpus {resources.gpu} -- {params.biggait} evaluate --checkpoint {input.model} --dataset {wildcards.test} "
        "--root {params.root} --partition {input.partition} --out {params.out} 2>&1 | tee -a {log} >&2"


rule efficiency:
    """Parameters, GFLOPs per frame and inference frames/s of an experiment's model (`biggait efficiency`); the
    LVM is built without its checkpoint (counts do not depend on the weights)."""
    input:
        experiment=str(PLAN.experiment_file("{exp}")),
    output:
        paths.efficiency_file(R, "{exp}"),
    params:
        gpu_run=GPU_RUN,
        biggait=BIGGAIT,
        scale=SCALE,
    log:
        paths.log_file(R, "efficiency/{exp}"),
    threads: config["threads"]["evaluate"]
    resources:
        gpu=gpus_per_job(),
    shell:
        "OMP_NUM_THREADS={threads} {params.gpu_run} --gpus {resources.gpu} -- {params.biggait} efficiency "
        "--experiment {input.experiment} --scale {params.scale} --set model.lvm_checkpoint= --json --throughput > {output} 2> {log}"
