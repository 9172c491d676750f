"""The upstream table (demo): what the upstream's self-supervised pretraining brings.

Only when the config pretrains the upstream (`pretrain_lvm`: demo, CI; see WorkflowPlan.upstream_report).
`biggait probe-lvm` probes the random and the pretrained upstream (linear probe for "person"
on the CCPG test split); `biggait lvm-report` reads those probes and the CCPG evaluations of
ccpg_random_upstream (random upstream), biggait_ccpg (pretrained) and gaitbase_ccpg, and writes
tables/upstream.{csv,md}. The random-upstream training and evaluation enter the DAG through it."""

if UPSTREAM_ON:
    UPSTREAM_LVM = _plan(PLAN.lvm_checkpoint, "biggait_ccpg")  # the pretrained stand-in (rule pretrain_lvm)

    rule probe_upstream:
        input:
            partition=dataset_partition("ccpg"),
            lvm=lambda wc: [UPSTREAM_LVM] if wc.kind == "pretrained" else [],
        output:
            paths.upstream_probe(R, "{kind}"),
        log:
            paths.log_file(R, "upstream/probe_{kind}"),
        benchmark:
            paths.benchmark_file(R, "upstream/probe_{kind}")
        wildcard_constraints:
            kind="|".join(paths.UPSTREAM_KINDS),
        conda:
            "../envs/biggait.yaml"
        threads: config["threads"]["evaluate"]
        params:
            biggait=BIGGAIT,
            scale=SCALE,
            root=lambda wc: dataset_root("ccpg"),
            lvm=lambda wc, input: f"--lvm-checkpoint {input.lvm}" if wc.kind == "pretrained" else "",
        shell:
            "OMP_NUM_THREADS={threads} MKL_NUM_THREADS={threads} "
            "{params.biggait} probe-lvm --dataset ccpg --root {params.root} --partition {input.partition} "
            "--scale {params.scale} {params.lvm} --out {output} > {log} 2>&1"

    rule upstream_report:
        input:
            metrics=[metrics_file(e, s, "ccpg") for e, s in PLAN.upstream_evaluations()],
            random=paths.upstream_probe(R, "random"),
            pretrained=paths.upstream_probe(R, "pretrained"),
        output:
            report(
                paths.upstream_files(R).md,
                caption="../report/upstream.rst",
                category="Tables",
                labels={"table": "upstream"},
            ),
            paths.upstream_files(R).csv,
        log:
            paths.log_file(R, "tables/upstream"),
        localrule: True
        conda:
            "../envs/biggait.yaml"
        params:
            biggait=BIGGAIT,
            scale=SCALE,
            tables=lambda wc, output: os.path.dirname(output[0]),
        shell:
            "{params.biggait} lvm-report --metrics {input.metrics} --random-probe {input.random} "
            "--pretrained-probe {input.pretrained} --out {params.tables} --scale {params.scale} > {log} 2>&1"
