"""Training: one job per (experiment, seed). model.pt, written last by the trainer, is the only
output: the run folder and its checkpoints/ are never deleted by Snakemake, so a killed or failed
training resumes from its last checkpoint when the job runs again."""


rule train:
    input:
        unpack(train_inputs),
    output:
        model=paths.model_file(R, "{exp}", "{seed}"),
    params:
        gpu_run=GPU_RUN,
        biggait=BIGGAIT,
        scale=SCALE,
        run=lambda wc: run_dir(wc.exp, wc.seed),
        sets=train_sets,
    log:
        paths.log_file(R, "train/{exp}_seed{seed}"),
    threads: config["threads"]["train"]
    resources:
        gpu=gpus_per_job(),
    wildcard_constraints:
        exp=r"[A-Za-z0-9_]+",
        seed=r"\d+",
    shell:
        "OMP_NUM_THREADS={threads} MKL_NUM_THREADS={threads} "
        "{params.gpu_run} --gpus {resources.gpu} -- {params.biggait} train {input.experiment} --scale {params.scale} "
        "--out {params.run} {params.sets} "
        "2>&1 | tee -a {log} >&2"
