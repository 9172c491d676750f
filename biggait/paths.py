"""The results layout: where every stage's files live under a results folder (the only place it is spelled).

The package and the Snakemake rules (``workflow/rules/*.smk``) build paths with these functions;
given Snakemake wildcards (``"{exp}"``) they return the rules' output patterns. All return strings
joined with ``/`` so patterns and relative paths stay as given.

    <results>/data/synthgait/<domain>/ and <domain>.json     SynthGait (the demo's datasets)
    <results>/pretrain/<variant>_tiny.pth (+ .json)        `biggait pretrain-lvm` (the demo's upstreams)
    <results>/runs/<experiment>/seed<k>/                     a training run folder
        config.yaml, git_commit.txt, versions.json, train_log.jsonl, checkpoints/iter_XXXXXX.pt, model.pt
    <results>/eval/<experiment>/seed<k>/<test>/              one evaluation
        embeddings.npz, metrics.json, metrics.csv, view_matrices/<protocol>_<condition>_<metric>.csv,
        identity_hits.npz (per-identity rank-1 counts, for `biggait claims`)
        groups/g<i>/, groups/best/ (BiggerGait: each layer group scored alone, an evaluation folder each;
        best = the group with the highest score), groups/groups.csv   `biggait evaluate-groups`
    <results>/efficiency/<experiment>.json                   `biggait efficiency --json`
    <results>/tables/<table>{.csv,_wide.csv,.md,.tex}        `biggait tables`
    <results>/figures/<name>{.png,.pdf}                      `biggait figures`
    <results>/claims{.csv,.md}                               `biggait claims` (the paper's claims tested)
    <results>/upstream/probe_<random|pretrained>.json        `biggait probe-lvm` (demo: the upstream's probes)
    <results>/tables/upstream{.csv,.md}                      `biggait lvm-report` (random vs pretrained upstream)
    <results>/logs/...                                       job logs
    <results>/benchmarks/<rule>/<job>.tsv                    Snakemake `benchmark:` files (wall time, peak memory)
    <results>/tables/job_times{.csv,.md}                     `biggait job-times` (those files gathered)
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

MODEL_NAME = "model.pt"  # written last by the trainer: its presence means the run finished
TRAIN_LOG = "train_log.jsonl"
CHECKPOINT_DIR = "checkpoints"
METRICS_CSV = "metrics.csv"
METRICS_JSON = "metrics.json"
EMBEDDINGS_NPZ = "embeddings.npz"
EMBEDDINGS_PARTIAL = ".embeddings.partial.npz"  # extraction's resumable progress, beside embeddings.npz
VIEW_MATRICES_DIR = "view_matrices"
IDENTITY_HITS = "identity_hits.npz"  # next to metrics.csv: per-identity rank-1 counts (paired bootstrap)
GROUPS_DIR = "groups"  # below one evaluation: its layer groups scored alone (biggait.evaluation.groups)
GROUPS_CSV = "groups.csv"  # below GROUPS_DIR: every group's numbers and the ensemble's (the figure's input)
BEST_GROUP = "best"  # the group folder that holds a copy of the best group's evaluation
CLAIMS_REPORT = "claims"  # <results>/claims{.csv,.md}
JOB_TIMES_TABLE = "job_times"  # <results>/tables/job_times{.csv,.md}
VIEW_MATRIX_GLOB = f"{VIEW_MATRICES_DIR}/gait_*_rank1.csv"  # the per-view rank-1 matrices of the figures
TABLE_SUFFIXES = (".csv", "_wide.csv", ".md", ".tex")
UPSTREAM_TABLE = "upstream"  # results/tables/upstream{.csv,.md}
UPSTREAM_KINDS = ("random", "pretrained")  # the probed upstreams
_MODEL_NAME = re.compile(r"(.+)_seed(\d+)")  # <experiment>_seed<k>: one trained model (job and benchmark names)
# <experiment>/seed<k>/<test>/metrics.csv below an eval folder
_METRICS_REL = re.compile(r"(?:^|/)([^/]+)/seed(\d+)/([^/]+)/" + re.escape(METRICS_CSV) + "$")


class TableFiles(NamedTuple):
    """The four files of one ``biggait tables`` table."""

    csv: str  # long: one number per line
    wide_csv: str
    md: str
    tex: str


class ReportFiles(NamedTuple):
    """A report written as ``<stem>.csv`` and ``<stem>.md`` (claims, the upstream table, job times)."""

    csv: str
    md: str


def model_name(exp: str, seed: object) -> str:
    """``<experiment>_seed<k>``: how jobs, logs and benchmark files name one trained model."""
    return f"{exp}_seed{seed}"


def parse_model_name(text: str) -> tuple[str, int] | None:
    """``(experiment, k)`` of ``<experiment>_seed<k>``, else None."""
    m = _MODEL_NAME.fullmatch(text)
    return (m.group(1), int(m.group(2))) if m else None


def train_job(exp: str, seed: object) -> str:
    """The log / benchmark name (``<rule>/<job>``) of one training."""
    return f"train/{model_name(exp, seed)}"


def shared_train_job(group: str) -> str:
    """The log / benchmark name of a shared training job (several seeds of one experiment, one process)."""
    return f"train/shared_{group}"


def evaluate_job(exp: str, seed: object, test: str) -> str:
    """The log / benchmark name of one model's own evaluation job on ``test``."""
    return f"evaluate/{model_name(exp, seed)}_{test}"


def evaluate_groups_job(exp: str, seed: object, test: str) -> str:
    """The log name of one evaluation's per-group scoring (``biggait evaluate-groups``)."""
    return f"evaluate_groups/{model_name(exp, seed)}_{test}"


def shared_evaluate_job(group: str) -> str:
    """The log / benchmark name of a shared evaluation job (several models, one test set)."""
    return f"evaluate/shared_{group}"


def report_files(folder: str, stem: str) -> ReportFiles:
    """``<folder>/<stem>.csv`` and ``<folder>/<stem>.md``."""
    return ReportFiles(f"{folder}/{stem}.csv", f"{folder}/{stem}.md")


def synthgait_dir(results: str) -> str:
    return f"{results}/data/synthgait"


def synthgait_root(results: str, domain: str) -> str:
    """One SynthGait domain's dataset root."""
    return f"{synthgait_dir(results)}/{domain}"


def synthgait_partition(results: str, domain: str) -> str:
    """Its partition JSON, beside the domain's folder."""
    return f"{synthgait_dir(results)}/{domain}.json"


def pretrained_lvm(results: str, variant: str) -> str:
    """The demo's self-supervised tiny upstream of ``variant`` (Meta DINOv2 layout)."""
    return f"{results}/pretrain/{variant}_tiny.pth"


def pretrain_frames(results: str) -> str:
    """The pretraining frames on the LVM canvas, shared by the variants' pretrainings (demo)."""
    return f"{results}/pretrain/frames.npz"


def pretrained_lvm_provenance(results: str, variant: str) -> str:
    """Its provenance JSON (what ``biggait pretrain-lvm`` writes next to the weights)."""
    return f"{pretrained_lvm(results, variant)}.json"


def run_dir(results: str, exp: str, seed: object) -> str:
    return f"{results}/runs/{exp}/seed{seed}"


def model_file(results: str, exp: str, seed: object) -> str:
    return f"{run_dir(results, exp, seed)}/{MODEL_NAME}"


def eval_root(results: str) -> str:
    return f"{results}/eval"


def eval_dir(results: str, exp: str, seed: object, test: str) -> str:
    return eval_dir_in(eval_root(results), exp, seed, test)


def eval_dir_in(eval_folder: str | Path, exp: str, seed: object, test: str) -> str:
    """One evaluation's folder below an eval folder (``<results>/eval``, or one given by hand)."""
    return f"{Path(eval_folder).as_posix()}/{exp}/seed{seed}/{test}"


def metrics_file(results: str, exp: str, seed: object, test: str) -> str:
    return f"{eval_dir(results, exp, seed, test)}/{METRICS_CSV}"


def identity_hits_file(results: str, exp: str, seed: object, test: str) -> str:
    return f"{eval_dir(results, exp, seed, test)}/{IDENTITY_HITS}"


def group_name(index: int) -> str:
    """The folder name of layer group ``index`` (0-based): ``g1``, ``g2``, ..."""
    return f"g{index + 1}"


def groups_dir_in(eval_folder: str | Path) -> str:
    """One evaluation's groups folder (``<eval>/groups``)."""
    return f"{Path(eval_folder).as_posix()}/{GROUPS_DIR}"


def group_metrics_of(metrics_file: str | Path, group: str) -> str:
    """The metrics.csv of ``group`` (``g<i>`` or ``best``) of the evaluation whose metrics.csv is given."""
    return f"{groups_dir_in(Path(metrics_file).parent)}/{group}/{METRICS_CSV}"


def groups_table_file(results: str, exp: str, seed: object, test: str) -> str:
    """``<eval>/groups/groups.csv`` of one evaluation (written last by ``biggait evaluate-groups``)."""
    return f"{groups_dir_in(eval_dir(results, exp, seed, test))}/{GROUPS_CSV}"


def group_metrics_file(results: str, exp: str, seed: object, test: str, group: str) -> str:
    return group_metrics_of(metrics_file(results, exp, seed, test), group)


def experiment_eval_dir(metrics_file: str | Path) -> str:
    """``.../eval/<experiment>`` of one of its ``.../<experiment>/seed<k>/<test>/metrics.csv`` files."""
    return str(Path(metrics_file).parent.parent.parent)


def metrics_glob() -> str:
    """Every evaluation's metrics.csv below an eval folder."""
    return f"*/seed*/*/{METRICS_CSV}"


def parse_metrics_file(path: str | Path) -> tuple[str, int, str] | None:
    """``(experiment, seed, test)`` of a ``.../<experiment>/seed<k>/<test>/metrics.csv`` path, else None."""
    m = _METRICS_REL.search(Path(path).as_posix())
    return (m.group(1), int(m.group(2)), m.group(3)) if m else None


def efficiency_file(results: str, exp: str) -> str:
    return efficiency_in(f"{results}/efficiency", exp)


def efficiency_in(folder: str | Path, exp: str) -> str:
    """``biggait efficiency --json`` of ``exp`` in a folder of them (``<results>/efficiency``)."""
    return f"{Path(folder).as_posix()}/{exp}.json"


def tables_dir(results: str) -> str:
    return f"{results}/tables"


def table_files(results: str, table: str) -> TableFiles:
    return table_files_in(tables_dir(results), table)


def table_files_in(folder: str | Path, table: str) -> TableFiles:
    """A table's files in a tables folder (``biggait tables --out``)."""
    return TableFiles(*(f"{Path(folder).as_posix()}/{table}{s}" for s in TABLE_SUFFIXES))


def compare_stem(results: str, a: str, b: str, test: str) -> str:
    """``biggait compare`` of experiment ``a`` against ``b`` on ``test``: <stem>.csv and <stem>.md."""
    return f"{results}/compare/{a}_vs_{b}_{test}"


def claims_files(results: str) -> ReportFiles:
    """``claims.csv`` and ``claims.md`` of ``biggait claims``, at the top of the results folder."""
    return report_files(results, CLAIMS_REPORT)


def upstream_probe(results: str, kind: str) -> str:
    """``biggait probe-lvm`` result of the ``random`` or ``pretrained`` upstream."""
    return f"{results}/upstream/probe_{kind}.json"


def upstream_files(results: str) -> ReportFiles:
    """``upstream.csv`` and ``upstream.md`` of ``biggait lvm-report``, beside the tables."""
    return report_files(tables_dir(results), UPSTREAM_TABLE)


def figures_dir(results: str) -> str:
    return f"{results}/figures"


def figure(results: str, name: str) -> str:
    """A figure's path without extension (``biggait figures`` writes ``.png`` and ``.pdf``)."""
    return f"{figures_dir(results)}/{name}"


def log_file(results: str, name: str) -> str:
    return f"{results}/logs/{name}.log"


def benchmarks_dir(results: str) -> str:
    return f"{results}/benchmarks"


def benchmark_file(results: str, name: str) -> str:
    """A job's Snakemake ``benchmark:`` file (``name``: ``<rule>/<job>``, like its log's)."""
    return benchmark_in(benchmarks_dir(results), name)


def benchmark_in(folder: str | Path, name: str) -> str:
    """A benchmark file below a benchmarks folder (``<results>/benchmarks``)."""
    return f"{Path(folder).as_posix()}/{name}.tsv"


def job_times_files(results: str) -> ReportFiles:
    """``biggait job-times``' table (``job_times.csv``, ``job_times.md``), beside the tables."""
    return report_files(tables_dir(results), JOB_TIMES_TABLE)
