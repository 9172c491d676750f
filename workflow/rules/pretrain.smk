"""Pretraining (demo): the tiny upstream ViTs learn from the SynthGait training frames by
themselves (`biggait pretrain-lvm`, masked images + time-contrastive; no silhouettes, masks or labels).
One job per LVM variant; every BigGait training of that variant takes its weights file as input.
The job resumes from <weights>.state.pt when it runs again after an interruption."""


if config["pretrain_lvm"]:  # the demo; the paper scale loads the official DINOv2 files

    rule pretrain_frames:
        """The pretraining frames on the LVM canvas, read once from the SynthGait training splits and shared by
        every variant's pretraining."""
        input:
            partitions=[dataset_partition(ds) for ds in SYNTHGAIT_DOMAINS],
        output:
            paths.pretrain_frames(R),
        params:
            biggait=BIGGAIT,
            scale=SCALE,
            data=pretrain_data(),
        log:
            paths.log_file(R, "pretrain/frames"),
        priority: 100
        shell:
            "{params.biggait} pretrain-lvm --frames-only --frames-cache {output} --scale {params.scale} {params.data} "
            "2>&1 | tee -a {log} >&2"

    # The ViT-S stand-in first, on both cores (priority 100): every BigGait training but the LVM-size ones
    # waits for it. The B/L/G stand-ins feed the LVM-size table only: one core each, next in line
    # (priority 50), so they run beside the trainings instead of as a two-core tail (one thread is ~1.4x
    # more work per core-second than two, measured in docs/performance.md "The demo's time").
    for _name, _variants, _priority, _threads in (("pretrain_lvm_main", r"vits14(_reg4)?", 100, 2),
                                                  ("pretrain_lvm", r"vit[blg]14(_reg4)?", 50, 1)):

        rule:
            name:
                _name
            input:
                frames=paths.pretrain_frames(R),
            output:
                weights=paths.pretrained_lvm(R, "{variant}"),
                provenance=paths.pretrained_lvm_provenance(R, "{variant}"),
            params:
                biggait=BIGGAIT,
                scale=SCALE,
                data=pretrain_data(),
                flags=pretrain_flags(),
            log:
                paths.log_file(R, "pretrain/{variant}"),
            threads: _threads
            priority: _priority
            wildcard_constraints:
                variant=_variants,
            shell:
                "OMP_NUM_THREADS={threads} MKL_NUM_THREADS={threads} "
                "{params.biggait} pretrain-lvm --variant {wildcards.variant} --scale {params.scale} {params.data} "
                "{params.flags} --frames-cache {input.frames} --out {output.weights} 2>&1 | tee -a {log} >&2"
