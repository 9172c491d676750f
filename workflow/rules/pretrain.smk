"""Pretraining (demo): the tiny upstream ViTs learn from the SynthGait training frames by
themselves (`biggait pretrain-lvm`, masked images + time-contrastive; no silhouettes, masks or labels).
One job per LVM variant; every BigGait training of that variant takes its weights file as input.
The job resumes from <weights>.state.pt when it runs again after an interruption."""


def pretrain_variant_rule(variant_pattern: str, priority: int, cores: int):
    """One pretraining rule for the variants matching ``variant_pattern``, on ``cores`` threads."""

    rule:
        name:
            f"pretrain_lvm{'_main' if priority else ''}"
        input:
            partitions=[dataset_partition(ds) for ds in SYNTHGAIT_DOMAINS],
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
        threads: cores
        priority: priority
        wildcard_constraints:
            variant=variant_pattern,
        shell:
            "OMP_NUM_THREADS={threads} MKL_NUM_THREADS={threads} "
            "{params.biggait} pretrain-lvm --variant {wildcards.variant} --scale {params.scale} {params.data} {params.flags} "
            "--frames-cache {input.frames} "
            "--out {output.weights} 2>&1 | tee -a {log} >&2"


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

    # The ViT-S stand-in first: every BigGait training but the LVM-size ones waits for it. One core each:
    # a two-core job starves behind the one-core trainings (Snakemake starts whatever fits the free cores),
    # measured on the demo: the ViT-S pretraining waited 3 minutes while the B/L/G ones ran.
    pretrain_variant_rule(r"vits14(_reg4)?", 100, 1)
    pretrain_variant_rule(r"vit[blg]14(_reg4)?", 0, 1)
