"""Data: the demo generates SynthGait; at paper scale the dataset roots are inputs (checked in common.smk)."""


rule synthgait:
    """Generate the three SynthGait domains (ccpg, casiab, sustech1k) and their partitions."""
    output:
        partitions=[f"{R}/data/synthgait/{ds}.json" for ds in ("ccpg", "casiab", "sustech1k")],
        roots=[directory(f"{R}/data/synthgait/{ds}") for ds in ("ccpg", "casiab", "sustech1k")],
    params:
        out=f"{R}/data/synthgait",
    log:
        f"{R}/logs/synthgait.log",
    shell:
        "{BIGGAIT} synth --out {params.out} --scale {SCALE} 2>&1 | tee {log} >&2"
