"""Claims: `biggait claims` tests the paper's claims (config/claims.yaml) on this run's evaluations.

Its inputs are the metrics files and identity hits of the evaluations the claims read, restricted to
those the configured tables make (claims whose cells are not in the run read "not run"), and it
runs after the tables. The same claims file serves every config (demo, CI, paper scale)."""

from biggait.reporting.claims_config import claim_evaluations, load_claims

CLAIMS_FILE = str(REPO / "config" / "claims.yaml")
CLAIMS = _plan(load_claims, CLAIMS_FILE)


def claims_evaluations() -> list[tuple[str, str]]:
    """(experiment, test) evaluations the claims read that the configured tables make."""
    run = {ev for t in RUN_TABLES if TABLES[t].kind == "accuracy" for ev in table_evaluations(t)}
    return [ev for ev in claim_evaluations(CLAIMS) if ev in run]


def claim_seeds(exp: str, test: str) -> list[int]:
    return PLAN.evaluation_seeds(exp, test, [t for t in RUN_TABLES if TABLES[t].kind == "accuracy"])


ALL_SEEDS = sorted({s for t in RUN_TABLES for s in PLAN.table_seeds(t)})


rule claims:
    input:
        metrics=[metrics_file(e, s, t) for e, t in claims_evaluations() for s in claim_seeds(e, t)],
        hits=[paths.identity_hits_file(R, e, s, t) for e, t in claims_evaluations() for s in claim_seeds(e, t)],
        tables=[table_outputs(t)[0] for t in RUN_TABLES],  # after the tables
        claims=CLAIMS_FILE,
        paper=PAPER_CSV,
    output:
        report(paths.claims_files(R)[1], caption="../report/claims.rst", category="Claims"),
        paths.claims_files(R)[0],
    params:
        seeds=" ".join(str(s) for s in ALL_SEEDS),
    log:
        paths.log_file(R, "claims"),
    localrule: True
    shell:
        "{BIGGAIT} claims {R} --claims {input.claims} --metrics {input.metrics} --seeds {params.seeds} "
        "--paper {input.paper} --scale {SCALE} --out {R} 2>&1 | tee {log} >&2"
