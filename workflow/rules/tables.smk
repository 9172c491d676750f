"""Tables: one job per table; a target rule table_<name> for each (snakemake --list-target-rules)."""


rule table:
    input:
        metrics=lambda wc: table_metric_inputs(wc.table),
        paper=PAPER_CSV,
    output:
        report(f"{R}/tables/{{table}}.md", caption="../report/table.rst", category="Tables",
               labels=lambda wc: {"table": wc.table}),
        f"{R}/tables/{{table}}.csv",
        f"{R}/tables/{{table}}_wide.csv",
        f"{R}/tables/{{table}}.tex",
    params:
        seeds=" ".join(str(s) for s in SEEDS),
        allow=lambda wc: "--allow-missing" if config["experiments"] else "",
    log:
        f"{R}/logs/tables/{{table}}.log",
    wildcard_constraints:
        table="|".join(TABLES),
    shell:
        "{BIGGAIT} tables {wildcards.table} --results {R} --efficiency-dir {R}/efficiency "
        "--paper {input.paper} --out {R}/tables --seeds {params.seeds} --scale {SCALE} {params.allow} "
        "2>&1 | tee {log} >&2"


for _t in TABLES:

    rule:
        name:
            f"table_{_t}"
        input:
            table_outputs(_t),
            (f"{R}/figures/bars_{_t}.png" if TABLES[_t].kind == "accuracy" else []),
        localrule: True
