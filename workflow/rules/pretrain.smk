"""Pretraining (demo, config `pretrain_lvm.source: pretrain` only): the DAG re-creates the tiny upstream
ViTs from the SynthGait training frames by themselves (`biggait pretrain-lvm`, the recipe of config
`pretrain_lvm`; no silhouettes, masks or labels) instead of loading the released stand-ins of standins/
(`source: shipped`, the default). One job per LVM variant; every BigGait training of that variant takes
its weights file as input. The job resumes from <weights>.state.pt when it runs again after an interruption."""

if PLAN.pretrains_lvm():  # the paper scale loads the official DINOv2 files, the demo the shipped stand-ins

    rule pretrain_frames:
        """The pretraining frames on the LVM canvas, read once from the SynthGait training splits and shared by
        every variant's pretraining."""
        input:
            partitions=[dataset_partition(ds) for ds in SYNTHGAIT_DOMAINS],
        output:
            paths.pretrain_frames(R),
        log:
            paths.log_file(R, "pretrain/frames"),
        benchmark:
            paths.benchmark_file(R, "pretrain/frames")
        # two one-thread processes (--frame-workers): one process of two threads made 0.003% of the resized
        # pixels differ by one level (measured); one thread per process gives the same bytes as one process
        priority: 1000
        conda:
            "../envs/biggait.yaml"
        threads: 2  # both cores (and so the two-core ViT-S pretraining after it starts at once, below);
        params:
            biggait=BIGGAIT,
            scale=SCALE,
            data=pretrain_data(),
        shell:
            "OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 {params.biggait} pretrain-lvm --frames-only --frames-cache {output} "
            "--frame-workers {threads} --scale {params.scale} {params.data} "
            ">> {log} 2>&1"

    # The ViT-S stand-in is on the critical path (every BigGait training but the LVM-size ones waits for
    # it): it takes both cores, right after SynthGait and the frames, which hold both cores too. Snakemake
    # fills free cores with whatever fits and weighs jobs by the sum of their priorities, so a two-core job
    # needs a priority above any pair of others (measured: at priority 100 it started 6 minutes late
    # behind one-core jobs of priority 50). Its weights are the two-thread ones the demo's numbers were
    # measured with (another thread count is another draw). The B/L/G stand-ins feed the LVM-size table
    # only: one core each (1.3-1.4x less work per core than two), before the trainings (long jobs first).
    for _name, _variants, _priority, _threads in (
        ("pretrain_lvm_main", r"vits14(_reg4)?", 1000, 2),
        ("pretrain_lvm", r"vit[blg]14(_reg4)?", 10, 1),
    ):

        rule:
            name:
                _name
            input:
                frames=paths.pretrain_frames(R),
            output:
                weights=paths.pretrained_lvm(R, "{variant}"),
                provenance=paths.pretrained_lvm_provenance(R, "{variant}"),
            log:
                paths.log_file(R, "pretrain/{variant}"),
            benchmark:
                paths.benchmark_file(R, "pretrain/{variant}")
            wildcard_constraints:
                variant=_variants,
            priority: _priority
            conda:
                "../envs/biggait.yaml"
            threads: _threads
            params:
                biggait=BIGGAIT,
                scale=SCALE,
                data=pretrain_data(),
                flags=pretrain_flags(),
            shell:
                "OMP_NUM_THREADS={threads} MKL_NUM_THREADS={threads} "
                "{params.biggait} pretrain-lvm --variant {wildcards.variant} --scale {params.scale} {params.data} "
                "{params.flags} --frames-cache {input.frames} --out {output.weights} >> {log} 2>&1"
