"""Pretraining (demo): the tiny upstream ViTs learn from the SynthGait training frames by
themselves (`biggait pretrain-lvm`, masked-image modelling; no silhouettes, masks or labels).
One job per LVM variant; every BigGait training of that variant takes its weights file as input.
The job resumes from <weights>.state.pt when it runs again after an interruption."""


def pretrain_data() -> str:
    return " ".join(f"--data {ds}={dataset_root(ds)}:{dataset_partition(ds)}" for ds in SYNTHGAIT_DOMAINS)


def pretrain_flags() -> str:
    opts = config["pretrain_lvm"] or {}
    return " ".join(f"--{k} {opts[k]}" for k in ("objective", "steps", "batch", "lr", "seed") if k in opts)


if config["pretrain_lvm"]:  # the demo; the paper scale loads the official DINOv2 files

    rule pretrain_lvm:
        input:
            partitions=[dataset_partition(ds) for ds in SYNTHGAIT_DOMAINS],
        output:
            weights=paths.pretrained_lvm(R, "{variant}"),
            provenance=paths.pretrained_lvm(R, "{variant}") + ".json",
        params:
            data=pretrain_data(),
            flags=pretrain_flags(),
        log:
            paths.log_file(R, "pretrain/{variant}"),
        threads: 2
        priority: 100  # every BigGait training of the variant waits for it
        wildcard_constraints:
            variant=r"vit[sblg]14(_reg4)?",
        shell:
            "OMP_NUM_THREADS={threads} MKL_NUM_THREADS={threads} "
            "{BIGGAIT} pretrain-lvm --variant {wildcards.variant} --scale {SCALE} {params.data} {params.flags} "
            "--out {output.weights} 2>&1 | tee -a {log} >&2"
