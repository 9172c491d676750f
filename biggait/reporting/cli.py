"""The reporting commands: ``biggait tables``, ``biggait figures``, ``biggait check-metrics``, ``biggait claims``.

biggait tables [TABLE ...] --paper CSV --out DIR
               (accuracy tables) --metrics FILE ... | --results DIR
               (efficiency)      --efficiency FILE ... [--train-benchmark FILE MODEL ...]...
                                 [--eval-benchmark FILE MODEL ...]...
biggait figures KIND ...          (pad-resize, maps, bars, heatmap, views, curves, cmc, embeddings)
biggait check-metrics RESULTS --baseline CSV | --paper CSV [--tolerance ...]
biggait claims RESULTS [--claims config/claims.yaml] [--out RESULTS] [--metrics FILE ...]
biggait lvm-report --metrics FILE ... --random-probe JSON --pretrained-probe JSON --out DIR
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from pathlib import Path

from biggait.cli_args import add_report_scale
from biggait.cli_paths import InputDir, InputFile, InputPath, OutputDir, OutputFile, OutputStem
from biggait.errors import ConfigError
from biggait.reporting.specs import EFFICIENCY, TABLE_NAMES, get_table

__all__ = ["COMMANDS"]

STEM = OutputStem("figure")  # <out>.png and <out>.pdf


# ---- biggait tables ------------------------------------------------------------------------------------


def add_tables_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``biggait tables``."""
    p.add_argument(
        "tables", nargs="*", metavar="TABLE", help=f"tables to build (default: all): {', '.join(TABLE_NAMES)}"
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument(
        "--metrics",
        type=InputFile("metrics", "csv"),
        nargs="*",
        metavar="FILE",
        help="accuracy tables: exactly these <experiment>/seed<k>/<test>/metrics.csv files (the workflow's inputs)",
    )
    src.add_argument(
        "--results",
        type=InputPath("results folder or metrics CSV", "csv", results=True),
        help="accuracy tables: results folder holding eval/<exp>/seed<k>/<test>/metrics.csv, an eval folder, "
        "or a gathered metrics CSV (every metrics file found is used)",
    )
    eff = p.add_argument_group("the efficiency table (its inputs; the workflow passes exactly its declared ones)")
    eff.add_argument(
        "--efficiency",
        type=InputFile("efficiency", "json"),
        nargs="+",
        metavar="FILE",
        help="the `biggait efficiency --json` result of each row, <experiment>.json (results/efficiency/*.json)",
    )
    eff.add_argument(
        "--train-benchmarks",
        type=InputFile("benchmark", "tsv"),
        nargs="*",
        metavar="FILE",
        help="training benchmark files <experiment>_seed<k>.tsv: wall time and peak memory per training "
        "(results/benchmarks/train/*.tsv)",
    )
    for flag, verb, note in (
        ("--train-benchmark", "trained", "; a shared job trains several runs in one process"),
        ("--eval-benchmark", "evaluated", "; a shared job reads the test set and runs each LVM once"),
    ):
        eff.add_argument(
            flag,
            nargs="+",
            action="append",
            metavar=("FILE", "MODEL"),
            help=f"a job's benchmark file and the models it {verb} (<experiment>_seed<k> ...{note}): each model "
            "counts the job's time divided by their number (repeat per job)",
        )
    eff.add_argument(
        "--efficiency-dir",
        type=InputDir("efficiency folder"),
        help="deprecated: the folder's <experiment>.json of every row (give --efficiency FILE... instead)",
    )
    eff.add_argument(
        "--benchmarks-dir",
        type=InputDir("benchmarks folder"),
        help="deprecated: Snakemake's benchmarks folder; its train/<experiment>_seed<k>.tsv and per-model "
        "evaluate/<experiment>_seed<k>_<train set>.tsv files of the rows and --seeds (give "
        "--train-benchmarks / --eval-benchmark instead)",
    )
    p.add_argument("--paper", required=True, type=InputFile("paper numbers", "csv"), help="paper_reported.csv")
    p.add_argument("--out", required=True, type=OutputDir("output"), help="output folder (results/tables)")
    p.add_argument("--seeds", type=int, nargs="+", help="accuracy tables: seeds to average (default: all found)")
    add_report_scale(p)
    p.add_argument("--allow-missing", action="store_true", help="build tables with missing evaluations")


def _efficiency_inputs(args: argparse.Namespace):
    """The efficiency table's files from the command line (the deprecated folder flags turned into files)."""
    from biggait.reporting.efficiency_table import EfficiencyInputs, inputs_from_folders

    for flag, given, folder, folder_given in (
        ("--efficiency", args.efficiency is not None, "--efficiency-dir", args.efficiency_dir is not None),
        ("--train-benchmarks", args.train_benchmarks is not None, "--benchmarks-dir", args.benchmarks_dir is not None),
        ("--train-benchmark", bool(args.train_benchmark), "--benchmarks-dir", args.benchmarks_dir is not None),
        ("--eval-benchmark", bool(args.eval_benchmark), "--benchmarks-dir", args.benchmarks_dir is not None),
    ):
        if given and folder_given:
            raise ConfigError(f"tables: {flag} and {folder} exclude each other (give the files, or the folder)")
    for flag, jobs, verb in (
        ("--train-benchmark", args.train_benchmark, "trained"),
        ("--eval-benchmark", args.eval_benchmark, "evaluated"),
    ):
        for job in jobs or []:
            if len(job) < 2:
                raise ConfigError(
                    f"tables: {flag} {job[0]}: name the models that job {verb} ({flag} FILE <experiment>_seed<k> ...)"
                )
    for old in ("efficiency_dir", "benchmarks_dir"):
        if getattr(args, old) is not None:
            print(f"warning: --{old.replace('_', '-')} is deprecated; give the files instead", file=sys.stderr)
    if args.efficiency is None and args.efficiency_dir is None:
        raise ConfigError(
            f"tables: the {EFFICIENCY.name} table needs its efficiency files (--efficiency <experiment>.json ...)"
        )
    inputs = EfficiencyInputs(
        tuple(args.efficiency or ()),
        tuple(args.train_benchmarks or ()),
        tuple((Path(job[0]), tuple(job[1:])) for job in args.eval_benchmark or []),
        tuple((Path(job[0]), tuple(job[1:])) for job in args.train_benchmark or []),
    )
    return inputs_from_folders(
        inputs, efficiency_dir=args.efficiency_dir, benchmarks_dir=args.benchmarks_dir, seeds=args.seeds
    )


def run_tables(args: argparse.Namespace) -> int:
    """Entry point of ``biggait tables``: the accuracy tables (:data:`TABLES`) and the efficiency table,
    each from its own inputs; every input is checked before any table is written."""
    from biggait.reporting.efficiency_table import efficiency_table, write_efficiency_table
    from biggait.reporting.tables import TableInputs, build_tables

    names = list(dict.fromkeys(args.tables or TABLE_NAMES))
    for n in names:
        get_table(n)  # ConfigError on an unknown name
    accuracy = [n for n in names if n != EFFICIENCY.name]  # the one place the two kinds of table part
    if accuracy and args.metrics is None and args.results is None:
        raise ConfigError(
            f"tables: {', '.join(accuracy)}: give the metrics files (--metrics FILE...) or a results folder "
            "(--results DIR)"
        )
    # the efficiency table is read before any table is written: bad input leaves no partial outputs
    efficiency = (
        efficiency_table(_efficiency_inputs(args), args.paper, scale=args.scale) if len(accuracy) < len(names) else None
    )
    written = []
    if accuracy:
        inputs = TableInputs(results=args.results, metrics_files=None if args.metrics is None else tuple(args.metrics))
        written += build_tables(
            accuracy,
            inputs,
            args.paper,
            args.out,
            seeds=args.seeds,
            scale=args.scale,
            allow_missing=args.allow_missing,
        )
    if efficiency is not None:
        written += write_efficiency_table(efficiency, args.out)
    for p in written:
        print(p)
    return 0


# ---- biggait figures -----------------------------------------------------------------------------------


def _data_args(q: argparse.ArgumentParser) -> None:
    q.add_argument("--root", required=True, type=InputDir("dataset root"), help="dataset root")
    q.add_argument("--dataset", required=True, help="dataset preset (ccpg, casiab, sustech1k, ...)")
    q.add_argument("--partition", type=InputFile("partition", "json"), help="partition JSON (the test split is used)")
    q.add_argument("--sequence", type=int, default=0, help="index of the test sequence shown")


def add_figures_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``biggait figures`` (one sub-command per figure kind)."""
    sub = p.add_subparsers(dest="kind", metavar="KIND", required=True)
    q = sub.add_parser("pad-resize", help="Pad-and-Resize illustration")
    _data_args(q)
    q.add_argument("--out", required=True, type=STEM, help="output path without extension")
    q = sub.add_parser("maps", help="masks and PCA maps of a trained BigGait")
    _data_args(q)
    q.add_argument("--checkpoint", required=True, type=InputFile("checkpoint", "pt"), help="run folder's model.pt")
    q.add_argument("--frames", type=int, default=8, help="frames shown")
    q.add_argument("--out-masks", required=True, type=STEM)
    q.add_argument("--out-pca", required=True, type=STEM)
    q = sub.add_parser("bars", help="ours vs paper bars of a table")
    q.add_argument(
        "--table", required=True, type=InputFile("table", "csv"), help="long CSV written by `biggait tables`"
    )
    q.add_argument("--title", default="")
    q.add_argument("--out", required=True, type=STEM)
    q = sub.add_parser("heatmap", help="per-view rank-1 heatmaps")
    q.add_argument(
        "--matrices", required=True, type=InputFile("view matrix", "csv"), nargs="+", help="per-view matrix CSVs"
    )
    q.add_argument("--title", default="")
    q.add_argument("--out", required=True, type=STEM)
    q = sub.add_parser("views", help="rank-1 per probe view, one line per condition")
    q.add_argument(
        "--matrices", required=True, type=InputFile("view matrix", "csv"), nargs="+", help="per-view rank-1 matrix CSVs"
    )
    q.add_argument("--title", default="")
    q.add_argument("--out", required=True, type=STEM)
    q = sub.add_parser("curves", help="training curves")
    q.add_argument(
        "--runs",
        required=True,
        type=InputPath("run folder or train log", "jsonl"),
        nargs="+",
        help="run folders (or train_log.jsonl files)",
    )
    q.add_argument("--title", default="Training curves")
    q.add_argument("--out", required=True, type=STEM)
    q = sub.add_parser("cmc", help="CMC curves per condition of evaluation folders")
    q.add_argument(
        "--evaluations",
        required=True,
        type=InputDir("evaluation folder"),
        nargs="+",
        help="evaluation folders (<experiment>/seed<k>/<test>/ holding embeddings.npz)",
    )
    q.add_argument("--max-rank", type=int, default=10, help="last rank of the curves")
    q.add_argument(
        "--partition", type=InputFile("partition", "json"), help="partition JSON (CCGR-Mini: its GALLERY_SET)"
    )
    q.add_argument("--metric", choices=("euc", "cos"), help="distance (default: the evaluation's metrics.json)")
    q.add_argument("--title", default="")
    q.add_argument("--out", required=True, type=STEM)
    q = sub.add_parser("groups", help="BiggerGait: each layer group's score vs the ensemble (separate vs ensemble)")
    q.add_argument(
        "--groups",
        required=True,
        type=InputFile("groups table", "csv"),
        nargs="+",
        help="groups.csv files of biggait evaluate-groups (seeds and test sets of one experiment)",
    )
    q.add_argument(
        "--paper", type=InputFile("paper numbers", "csv"), help="paper_reported.csv: the paper's numbers as lines"
    )
    q.add_argument("--title", default="")
    q.add_argument("--out", required=True, type=STEM)
    q = sub.add_parser("embeddings", help="2-D PCA of test embeddings coloured by identity")
    q.add_argument(
        "--evaluation",
        required=True,
        type=InputDir("evaluation folder"),
        help="evaluation folder holding embeddings.npz",
    )
    q.add_argument("--max-identities", type=int, default=20, help="identities shown (the first, sorted)")
    q.add_argument("--metric", choices=("euc", "cos"), help="distance (default: the evaluation's metrics.json)")
    q.add_argument("--title", default="")
    q.add_argument("--out", required=True, type=STEM)


def run_figures(a: argparse.Namespace) -> int:
    """Entry point of ``biggait figures``: draw one kind, print the files written."""
    from biggait.reporting import figures

    kinds = {
        "pad-resize": lambda: figures.pad_resize(a.root, a.dataset, a.partition, a.sequence, a.out),
        "maps": lambda: figures.maps(
            a.checkpoint, a.root, a.dataset, a.partition, a.sequence, a.frames, a.out_masks, a.out_pca
        ),
        "bars": lambda: figures.bars(a.table, a.title, a.out),
        "heatmap": lambda: figures.heatmap(a.matrices, a.title, a.out),
        "views": lambda: figures.views(a.matrices, a.title, a.out),
        "curves": lambda: figures.curves(a.runs, a.title, a.out),
        "cmc": lambda: figures.cmc(a.evaluations, a.max_rank, a.partition, a.metric, a.title, a.out),
        "embeddings": lambda: figures.embeddings(a.evaluation, a.max_identities, a.metric, a.title, a.out),
        "groups": lambda: figures.groups(a.groups, a.title, a.out, a.paper),
    }
    for p in kinds[a.kind]():
        print(p)
    return 0


# ---- biggait check-metrics -----------------------------------------------------------------------------


def add_check_metrics_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``biggait check-metrics``."""
    p.add_argument(
        "results",
        type=InputPath("results folder or metrics CSV", "csv", results=True),
        help="results folder (with eval/), an eval folder, or a gathered metrics CSV",
    )
    p.add_argument(
        "--baseline", type=InputFile("baseline", "csv"), help="gathered metrics CSV to compare with (CI regression)"
    )
    p.add_argument("--paper", type=InputFile("paper numbers", "csv"), help="paper_reported.csv to compare with")
    p.add_argument(
        "--tolerance",
        action="append",
        metavar="[METRIC_GLOB=]NUMBER",
        help="absolute tolerance (default 1.0), repeatable: 2.0, 'mAP=3', 'rank1*=0.5'",
    )
    p.add_argument(
        "--tolerances",
        type=InputFile("tolerances", "csv"),
        metavar="FILE",
        help="per-number tolerances measured from seed noise (`biggait tolerances`), e.g. "
        "results/baseline/demo_tolerances.csv: only its checked numbers can fail (1%% false "
        "alarms over the whole check); the numbers it lacks are reported as unchecked",
    )
    p.add_argument(
        "--exact",
        action="store_true",
        help="also fail unless every baseline number is reproduced bit for bit (as the CSV stores it), "
        "listing those that differ",
    )
    p.add_argument("--seeds", type=int, nargs="+", help="only these seeds")
    p.add_argument(
        "--seed-mean",
        action="store_true",
        help="compare each number's mean over the run's seeds with the baseline seeds' mean, at a tolerance "
        "scaled to a mean of that many seeds (needs --tolerances; the same 1%% false alarms, a shift seen "
        "~sqrt(seeds) times sooner): re-run a change with 3 seeds to see a smaller effect",
    )
    p.add_argument(
        "--experiments",
        nargs="+",
        metavar="NAME",
        help="only these experiments (e.g. the reduced CI DAG's); the baseline is filtered too",
    )
    p.add_argument(
        "--metrics",
        nargs="+",
        metavar="GLOB",
        help="only metrics matching these patterns, e.g. 'rank1_exclude*' iou (fewer numbers, "
        "fewer false alarms from noise)",
    )
    p.add_argument(
        "--subset",
        action="store_true",
        help="RESULTS is a reduced run: compare only the evaluations (experiment, seed, "
        "train->test) it holds; a missing metric within them still fails",
    )
    p.add_argument(
        "--save", type=OutputFile("metrics CSV"), help="also write the gathered metrics CSV here (e.g. a new baseline)"
    )


def _check_baseline(args: argparse.Namespace, results: list, tol) -> tuple[list, bool]:
    """The ``--baseline`` part of check-metrics: prints its report; (the results as compared, failed)."""
    from biggait.evaluation.metrics_files import read_collected
    from biggait.reporting import tolerances as noise_tol
    from biggait.reporting.check_metrics import compare_baseline, evaluated_subset, select

    baseline = select(read_collected(args.baseline), args.seeds, args.experiments)
    if args.metrics:
        import fnmatch

        baseline = [b for b in baseline if any(fnmatch.fnmatchcase(b.metric, g) for g in args.metrics)]
    if args.subset:
        baseline = evaluated_subset(baseline, results)
    if not baseline:
        raise ConfigError(
            f"{args.baseline}: no baseline metrics for the selected experiments / seeds"
            f"{' / evaluations' if args.subset else ''}"
        )

    per_number = None
    if args.tolerances is not None:  # measured noise: also check the less noisy condition means
        per_number = noise_tol.read(args.tolerances)
        results, baseline = noise_tol.with_condition_means(results), noise_tol.with_condition_means(baseline)
    if args.seed_mean:  # one number per key: our seeds' mean against the baseline seeds' mean
        results, counts = noise_tol.seed_means(results)
        baseline = list({noise_tol.noise_key(b): dataclasses.replace(b, seed=0) for b in baseline}.values())
        per_number = noise_tol.for_seed_mean(per_number, counts)
        print(f"seed means: {max(counts.values(), default=0)} seed(s) per number, against the baseline seeds' mean")
    report = compare_baseline(results, baseline, tol, per_number)
    for d in report.deviations:
        print(d.line())
    for d in report.notes:
        print("NOTE     " + d.line()[len("DEVIATES ") :] + " [per condition: reported, not checked]")
    if args.exact:
        for line in report.differing:
            print(f"DIFFERS  {line}")
    failing = [d for d in report.deviations if not math.isnan(d.got)]
    missing = len(report.deviations) - len(failing)
    print(
        f"baseline {args.baseline}: {report.checked - len(failing)}/{report.checked} checked numbers within "
        f"tolerance, {missing} missing, {len(report.notes)} per-condition notes, {report.unchecked} unchecked"
    )
    if not args.seed_mean:
        print(
            f"exact: {report.compared - len(report.differing)}/{report.compared} numbers equal the baseline's "
            f"bit for bit" + ("" if args.exact or not report.differing else " (--exact lists the others)")
        )
    return results, bool(report.deviations) or (args.exact and bool(report.differing))


def run_check_metrics(args: argparse.Namespace) -> int:
    """Entry point of ``biggait check-metrics``."""
    from biggait.evaluation.metrics_files import load_results, write_collected
    from biggait.reporting.check_metrics import compare_paper, parse_tolerances, select

    if args.baseline is None and args.paper is None and args.save is None:
        raise ConfigError("check-metrics: give --baseline FILE and/or --paper FILE (or --save FILE)")
    if args.seed_mean and (args.tolerances is None or args.baseline is None):
        raise ConfigError("check-metrics: --seed-mean needs --baseline FILE and --tolerances FILE (the seeds' noise)")
    if args.seed_mean and args.exact:
        raise ConfigError("check-metrics: --seed-mean compares means, --exact single runs: give one of them")
    tol = parse_tolerances(args.tolerance)
    results = load_results(args.results)
    results = select(results, args.seeds, args.experiments)
    if args.save is not None:
        write_collected(results, args.save)
        print(f"wrote {len(results)} metrics to {args.save}")
    failed = False
    if args.baseline is not None:
        results, failed = _check_baseline(args, results, tol)
    if args.paper is not None:
        devs, not_run, compared = compare_paper(results, args.paper, tol, args.seeds)
        for d in devs:
            print(d.line())
        for line in not_run:
            print(line)
        print(
            f"paper {args.paper}: {compared - len(devs)}/{compared} compared values within tolerance, "
            f"{len(not_run)} not run"
        )
        failed |= bool(devs)
    sys.stdout.flush()
    return 1 if failed else 0


# ---- biggait tolerances ----------------------------------------------------------------------------


def add_tolerances_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``biggait tolerances``."""
    p.add_argument(
        "results",
        type=InputPath("results folder or metrics CSV", "csv", results=True),
        help="results folder (or gathered CSV) with several seeds per experiment",
    )
    p.add_argument(
        "--out",
        type=OutputFile("tolerances CSV"),
        required=True,
        help="tolerances CSV (e.g. results/baseline/demo_tolerances.csv)",
    )
    p.add_argument("--experiments", nargs="+", metavar="NAME", help="only these experiments")
    p.add_argument(
        "--alpha",
        type=float,
        default=0.01,
        help="false-alarm probability of the whole check on a harmless re-run (family-wise over the "
        "checked numbers; default 0.01): tolerance = t(alpha/K, df) * pooled seed std * sqrt(1 + 1/seeds)",
    )
    p.add_argument("--floor", type=float, default=1.0, help="smallest tolerance (default 1.0)")


def run_tolerances(args: argparse.Namespace) -> int:
    """Entry point of ``biggait tolerances``."""
    from biggait.evaluation.metrics_files import load_results
    from biggait.reporting import tolerances as noise_tol
    from biggait.reporting.check_metrics import select

    rows = select(load_results(args.results), None, args.experiments)
    families = noise_tol.architectures(args.results, sorted({r.experiment for r in rows}))
    noise = noise_tol.derive(rows, args.alpha, args.floor, families=families)
    noise_tol.write(noise, args.out)
    checked = [n for n in noise if n.checked]
    print(
        f"wrote {len(noise)} tolerances to {args.out}: {len(checked)} checked numbers, each at "
        f"alpha {args.alpha:g}/{sum(noise_tol.is_checked(n.key) for n in noise)}"
    )
    return 0


# ---- biggait claims ------------------------------------------------------------------------------------


def add_claims_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``biggait claims``."""
    p.add_argument(
        "results",
        type=InputDir("results folder", results=True),
        help="results folder holding eval/<exp>/seed<k>/<test>/",
    )
    p.add_argument(
        "--claims",
        type=InputFile("claims", "yaml"),
        default=None,
        help="claims YAML (default: the repository's config/claims.yaml)",
    )
    p.add_argument(
        "--out", type=OutputDir("output"), default=None, help="folder of claims.csv / claims.md (default: RESULTS)"
    )
    p.add_argument(
        "--metrics",
        type=InputFile("metrics", "csv"),
        nargs="*",
        metavar="FILE",
        help="use exactly these <experiment>/seed<k>/<test>/metrics.csv files (identity_hits.npz "
        "beside each); default: every evaluation below RESULTS/eval",
    )
    p.add_argument("--seeds", type=int, nargs="+", help="only these seeds (default: all found)")
    p.add_argument(
        "--paper",
        type=InputFile("paper numbers", "csv"),
        default=None,
        help="paper_reported.csv: show the paper's effect too",
    )
    p.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples (default %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default %(default)s)")
    add_report_scale(p)


def run_claims(args: argparse.Namespace) -> int:
    """Entry point of ``biggait claims``."""
    from biggait.config import repo_config_file
    from biggait.reporting.claims_report import write_claims

    if args.resamples < 100:
        raise ConfigError(f"--resamples {args.resamples}: expected >= 100 for a 95% interval")
    claims = args.claims or repo_config_file("claims.yaml", what="claims file (the default of --claims)")
    written = write_claims(
        args.results,
        claims,
        args.out or args.results,
        metrics_files=args.metrics,
        seeds=args.seeds,
        paper_csv=args.paper,
        resamples=args.resamples,
        seed=args.seed,
        scale=args.scale,
    )
    for p in written:
        print(p)
    return 0


# ---- biggait lvm-report ---------------------------------------------------------------------------


def add_upstream_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``biggait lvm-report``."""
    p.add_argument(
        "--metrics",
        type=InputFile("metrics", "csv"),
        nargs="+",
        required=True,
        metavar="FILE",
        help="<experiment>/seed<k>/ccpg/metrics.csv of ccpg_random_upstream, biggait_ccpg and "
        "gaitbase_ccpg (every seed to average)",
    )
    p.add_argument(
        "--random-probe",
        type=InputFile("probe", "json"),
        required=True,
        help="probe-lvm JSON of the random upstream",
    )
    p.add_argument(
        "--pretrained-probe",
        type=InputFile("probe", "json"),
        required=True,
        help="probe-lvm JSON of the pretrained upstream",
    )
    p.add_argument(
        "--out",
        type=OutputDir("output"),
        required=True,
        help="output folder of upstream.csv / upstream.md (results/tables)",
    )
    add_report_scale(p)


def run_upstream(args: argparse.Namespace) -> int:
    """Entry point of ``biggait lvm-report``."""
    from biggait.reporting.upstream import write_upstream_report

    for p in write_upstream_report(args.metrics, args.random_probe, args.pretrained_probe, args.out, args.scale):
        print(p)
    return 0


# command name -> (add_arguments, run); biggait.cli maps the names to this module.
COMMANDS = {
    "tables": (add_tables_arguments, run_tables),
    "figures": (add_figures_arguments, run_figures),
    "check-metrics": (add_check_metrics_arguments, run_check_metrics),
    "tolerances": (add_tolerances_arguments, run_tolerances),
    "claims": (add_claims_arguments, run_claims),
    "lvm-report": (add_upstream_arguments, run_upstream),
}
