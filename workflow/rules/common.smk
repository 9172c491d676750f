"""Config validation, paths, what each table needs, and the paper-scale preflight check.

Everything here runs at parse time. The table layouts come from biggait.reporting.specs.TABLES;
the experiment switches from config/experiments/<name>.yaml through biggait.config.
"""

import functools
import os
import shlex
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from biggait.config import load_experiment
from biggait.errors import BigGaitError
from biggait.reporting.specs import DATASET_LABELS, TABLES

def _coerce_cli_values(cfg: dict) -> None:
    """`--config only_available=true seeds=[0,1]` arrives as strings; make them booleans / ints."""
    for key in ("only_available", "synthgait"):
        if isinstance(cfg.get(key), str) and cfg[key].lower() in ("true", "false", "1", "0", "yes", "no"):
            cfg[key] = cfg[key].lower() in ("true", "1", "yes")
    for key in ("gpus_per_job",):
        if isinstance(cfg.get(key), str) and cfg[key].isdigit():
            cfg[key] = int(cfg[key])
    if isinstance(cfg.get("seeds"), list):
        cfg["seeds"] = [int(x) if isinstance(x, str) and x.isdigit() else x for x in cfg["seeds"]]
    for key in ("tables", "experiments", "seeds"):  # a single value given on the command line
        if isinstance(cfg.get(key), (str, int)) and not isinstance(cfg.get(key), bool):
            cfg[key] = [cfg[key]]


_coerce_cli_values(config)
validate(config, "../schemas/config.schema.yaml")

REPO = Path(workflow.basedir)  # the main Snakefile sits at the repository root
EXP_DIR = REPO / "config" / "experiments"
SCALE = config["scale"]
SEEDS = list(config["seeds"])


def repo_path(p) -> Path:
    """A config path: absolute as given, relative ones against the repository root."""
    p = Path(os.path.expanduser(str(p)))
    return p if p.is_absolute() else REPO / p


def _as_output(p: Path) -> str:
    """Output paths relative to the working directory when below it (nicer targets and logs)."""
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(p.resolve())


R = _as_output(repo_path(config["results"]))  # results folder
PAPER_CSV = str(repo_path(config["paper_values"]))
# The same CLI a person uses; taken next to the Python running Snakemake when the venv is not active.
_exe = Path(sys.executable).parent / "biggait"
BIGGAIT = shlex.quote(str(_exe)) if _exe.exists() else "biggait"
PYTHON = shlex.quote(sys.executable)


def gpus_per_job() -> int:
    """gpu resource of a GPU job: the config's value, capped by ``--resources gpu=N`` (0 = CPU)."""
    n = int(config["gpus_per_job"])
    try:
        limit = workflow.resource_settings.resources.get("gpu")
    except AttributeError:  # pragma: no cover (other Snakemake versions)
        limit = None
    limit = getattr(limit, "value", limit)  # a Resource object in Snakemake 9
    return min(n, int(limit)) if isinstance(limit, (int, float)) else n


# Command prefix of GPU jobs; rules append `--gpus {resources.gpu} --` and the command.
GPU_RUN = f"{PYTHON} -m biggait.gpu_claim --lock-dir {shlex.quote(config['gpu_lock_dir'])}"


@functools.cache
def experiment(name: str):
    """The resolved Experiment of config/experiments/<name>.yaml at the configured scale."""
    path = EXP_DIR / f"{name}.yaml"
    try:
        return load_experiment(path, scale=SCALE)
    except BigGaitError as exc:
        raise WorkflowError(f"experiment {name}: {exc}") from None


def _selected(exp: str) -> bool:
    return not config["experiments"] or exp in config["experiments"]


def table_evaluations(table: str) -> list[tuple[str, str]]:
    """(experiment, test dataset) pairs a table needs (test '-' for the efficiency table)."""
    return [(e, t) for e, t in TABLES[table].evaluations() if _selected(e)]


def table_experiments(table: str) -> list[str]:
    return list(dict.fromkeys(e for e, _ in table_evaluations(table)))


# ------------------------------------------------------------------ data and checkpoints

def dataset_root(ds: str) -> str:
    if config["synthgait"]:
        return f"{R}/data/synthgait/{ds}"
    if ds not in config["roots"]:
        raise WorkflowError(f"config roots: no root for dataset {ds!r} (add roots: {{{ds}: PATH}})")
    return str(repo_path(config["roots"][ds]))


def dataset_partition(ds: str) -> str:
    if config["synthgait"]:
        return f"{R}/data/synthgait/{ds}.json"
    if ds not in config["partitions"]:
        raise WorkflowError(f"config partitions: no partition for dataset {ds!r}")
    return str(repo_path(config["partitions"][ds]))


def lvm_checkpoint(exp_name: str) -> str:
    """The DINOv2 checkpoint an experiment needs ('' for the tiny random ViT or the GaitBase baseline)."""
    exp = experiment(exp_name)
    if exp.model.arch != "biggait" or exp.model.lvm_tiny:
        return ""
    if exp.model.lvm in config["lvm_checkpoints"]:
        return str(repo_path(config["lvm_checkpoints"][exp.model.lvm]))
    return exp.model.lvm_checkpoint


_HOWTO = {
    "root": ("{label} dataset root {path} is missing: obtain {label} from its authors, convert it to "
             "<root>/<id>/<type>/<view>/*.pkl (see docs/workflow.md, 'Paper scale'), then set "
             "roots: {{{ds}: PATH}} in config/paper.yaml"),
    "partition": ("{label} partition {path} is missing: write the JSON {{\"TRAIN_SET\": [...], "
                  "\"TEST_SET\": [...]}} (OpenGait ships one per dataset) and set partitions: {{{ds}: PATH}}"),
    "checkpoint": ("DINOv2 checkpoint {path} ({lvm}) is missing: download {name} from the official DINOv2 "
                   "release and set lvm_checkpoints: {{{lvm}: PATH}}"),
}


def missing_inputs(table: str) -> list[str]:
    """Human-readable lines for every dataset root, partition or checkpoint a table lacks."""
    if config["synthgait"]:
        return []
    lines = []
    datasets = set()
    needs_data = TABLES[table].kind != "efficiency"  # efficiency builds the model only
    for exp, test in table_evaluations(table):
        if needs_data:
            datasets.add(experiment(exp).data.dataset)
        if needs_data and test != "-":
            datasets.add(test)
        ckpt = lvm_checkpoint(exp) if needs_data else ""
        if ckpt and not Path(ckpt).is_file():
            lvm = experiment(exp).model.lvm
            lines.append(_HOWTO["checkpoint"].format(path=ckpt, lvm=lvm, name=Path(ckpt).name))
    for ds in sorted(datasets):
        label = DATASET_LABELS.get(ds, ds)
        try:
            root, part = dataset_root(ds), dataset_partition(ds)
        except WorkflowError as exc:
            lines.append(str(exc))
            continue
        if not Path(root).is_dir():
            lines.append(_HOWTO["root"].format(label=label, path=root, ds=ds))
        if not Path(part).is_file():
            lines.append(_HOWTO["partition"].format(label=label, path=part, ds=ds))
    return lines


def _preflight() -> list[str]:
    """The tables reproduce_all builds; stops the DAG when inputs are missing (unless only_available)."""
    wanted = list(config["tables"])
    missing = {t: missing_inputs(t) for t in wanted}
    if not any(missing.values()):
        return wanted
    if config["only_available"]:
        for t, lines in missing.items():
            if lines:
                print(f"only_available: skipping table {t} ({len(lines)} input(s) missing, e.g. {lines[0]})",
                      file=sys.stderr)
        kept = [t for t in wanted if not missing[t]]
        if not kept:
            print("only_available: no table has all its inputs; nothing to run", file=sys.stderr)
        return kept
    lines = sorted({l for ls in missing.values() for l in ls})
    raise WorkflowError(
        "missing inputs, nothing was run:\n  - " + "\n  - ".join(lines)
        + "\nPrepare them, or run only the tables whose inputs exist: --config only_available=true")


RUN_TABLES = _preflight()


# ------------------------------------------------------------------ input functions

def run_dir(exp: str, seed) -> str:
    return f"{R}/runs/{exp}/seed{seed}"


def model_file(exp: str, seed) -> str:
    return f"{run_dir(exp, seed)}/model.pt"


def metrics_file(exp: str, seed, test: str) -> str:
    return f"{R}/eval/{exp}/seed{seed}/{test}/metrics.csv"


def train_inputs(wc) -> dict:
    ds = experiment(wc.exp).data.dataset
    return {"experiment": str(EXP_DIR / f"{wc.exp}.yaml"), "partition": dataset_partition(ds)}


def train_sets(wc) -> str:
    """The --set overrides of one training: seed, data location, checkpoint, config `set`."""
    ds = experiment(wc.exp).data.dataset
    sets = [f"train.seed={wc.seed}", f"data.root={dataset_root(ds)}",
            f"data.partition={dataset_partition(ds)}"]
    ckpt = lvm_checkpoint(wc.exp)
    if ckpt:
        sets.append(f"model.lvm_checkpoint={ckpt}")
    sets += list(config["set"])
    return " ".join(f"--set {shlex.quote(s)}" for s in sets)


def table_metric_inputs(table: str) -> list[str]:
    if TABLES[table].kind == "efficiency":
        return [f"{R}/efficiency/{e}.json" for e in table_experiments(table)]
    return [metrics_file(e, s, t) for e, t in table_evaluations(table) for s in SEEDS]


def table_outputs(table: str) -> list[str]:
    return [f"{R}/tables/{table}{ext}" for ext in (".csv", "_wide.csv", ".md", ".tex")]


# Per-view rank-1 matrices that `biggait evaluate` writes next to metrics.csv.
VIEW_MATRIX_GLOB = "view_matrices/gait_*_rank1.csv"
