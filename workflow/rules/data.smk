"""Data: the demo generates SynthGait; at paper scale the dataset roots are inputs (checked by the preflight)."""

from biggait.synthgait.domains import DOMAINS

SYNTHGAIT_DOMAINS = list(DOMAINS)


rule synthgait:
    """Generate the three SynthGait domains (ccpg, casiab, sustech1k) and their partitions."""
    output:
        partitions=[paths.synthgait_partition(R, ds) for ds in SYNTHGAIT_DOMAINS],
        roots=[directory(paths.synthgait_root(R, ds)) for ds in SYNTHGAIT_DOMAINS],
    log:
        paths.log_file(R, "synthgait"),
    benchmark:
        paths.benchmark_file(R, "synthgait")
    priority: 1000
    conda:
        "../envs/biggait.yaml"
    threads: 2  # worker processes; first in line (priority), see pretrain.smk
    params:
        biggait=BIGGAIT,
        scale=SCALE,
        out=lambda wc, output: os.path.dirname(output.partitions[0]),
    shell:
        "{params.biggait} synth --out {params.out} --scale {params.scale} --workers {threads} > {log} 2>&1"
