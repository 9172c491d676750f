"""Config validation, paths and input functions; everything runs at parse time.

The plan (where the data is, what each table, claim and figure needs) is biggait.plan.WorkflowPlan;
which tables run is the preflight's (biggait.reporting.preflight.run_tables: it stops a paper-scale
DAG with missing inputs); every path below the results folder comes from biggait.paths; the table
layouts from biggait.reporting.specs (TABLES: the accuracy tables; EFFICIENCY: the efficiency table).
"""

import shlex
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.settings.types import DeploymentMethod
from snakemake.utils import validate

from biggait import paths
from biggait.datasets import DATASET_LABELS
from biggait.errors import BigGaitError
from biggait.plan import WorkflowPlan, coerce_cli_values
from biggait.reporting.preflight import run_tables
from biggait.reporting.specs import EFFICIENCY, TABLES

coerce_cli_values(config)
validate(config, "../schemas/config.schema.yaml")

REPO = Path(workflow.basedir)  # the main Snakefile sits at the repository root
PLAN = WorkflowPlan(config, REPO)
SCALE = PLAN.scale
SEEDS = PLAN.seeds
R = PLAN.results  # results folder
PAPER_CSV = str(PLAN.repo_path(config["paper_values"]))


def use_conda() -> bool:
    """`--sdm conda`: every job runs in its rule's environment (workflow/envs/biggait.yaml)."""
    settings = getattr(workflow, "deployment_settings", None)
    return settings is not None and DeploymentMethod.CONDA in settings.deployment_method


# The same CLI a person uses. Under --sdm conda, the job's environment's own `biggait` and `python`
# (first on its PATH); otherwise those next to the Python running Snakemake (the venv, active or not).
_exe = Path(sys.executable).parent / "biggait"
if use_conda():
    BIGGAIT, PYTHON = "biggait", "python"
else:
    BIGGAIT = shlex.quote(str(_exe)) if _exe.exists() else "biggait"
    PYTHON = shlex.quote(sys.executable)
# Command prefix of GPU jobs; rules append `--gpus {resources.gpu} --` and the command.
GPU_RUN = f"{PYTHON} -m biggait.gpu_claim --lock-dir {shlex.quote(config['gpu_lock_dir'])}"


def gpus_per_job() -> int:
    """gpu resource of a GPU job: the config's value, capped by ``--resources gpu=N`` (0 = CPU)."""
    n = int(config["gpus_per_job"])
    try:
        limit = workflow.resource_settings.resources.get("gpu")
    except AttributeError:  # pragma: no cover (other Snakemake versions)
        limit = None
    limit = getattr(limit, "value", limit)  # a Resource object in Snakemake 9
    return min(n, int(limit)) if isinstance(limit, (int, float)) else n


def _plan(method, *args):
    """Call a WorkflowPlan method; a BigGaitError becomes a WorkflowError (one clear message)."""
    try:
        return method(*args)
    except BigGaitError as exc:
        raise WorkflowError(str(exc)) from None


def experiment(name: str):
    return _plan(PLAN.experiment, name)


def table_evaluations(table: str) -> list[tuple[str, str]]:
    return PLAN.table_evaluations(table)


def table_experiments(table: str) -> list[str]:
    return PLAN.table_experiments(table)


def dataset_root(ds: str) -> str:
    return _plan(PLAN.dataset_root, ds)


def dataset_partition(ds: str) -> str:
    return _plan(PLAN.dataset_partition, ds)


RUN_TABLES = _plan(run_tables, PLAN)


# ------------------------------------------------------------------ paths and input functions


def run_dir(exp: str, seed) -> str:
    return paths.run_dir(R, exp, seed)


def model_file(exp: str, seed) -> str:
    return paths.model_file(R, exp, seed)


def metrics_file(exp: str, seed, test: str) -> str:
    return paths.metrics_file(R, exp, seed, test)


def experiment_train_inputs(exp: str) -> dict:
    """The files one training of ``exp`` reads: its experiment YAML, its partition and (demo) its LVM."""
    ds = experiment(exp).data.dataset
    inputs = {"experiment": str(PLAN.experiment_file(exp)), "partition": dataset_partition(ds)}
    ckpt = _plan(PLAN.lvm_checkpoint, exp)
    if ckpt and config["pretrain_lvm"]:  # the demo's stand-in: shipped (standins/) or made by rule pretrain_lvm
        inputs["lvm"] = ckpt
    return inputs


def train_inputs(wc) -> dict:
    return experiment_train_inputs(wc.exp)


def seed_sets(exp: str, seed) -> str:
    """The ``--set`` overrides of one training (seed, data location, LVM checkpoint, config ``set``)."""
    return " ".join(f"--set {shlex.quote(s)}" for s in _plan(PLAN.train_sets, exp, seed))


def train_sets(wc) -> str:
    return seed_sets(wc.exp, wc.seed)


def table_metric_inputs(table: str) -> list[str]:
    return PLAN.table_inputs(table)


def efficiency_train_jobs() -> list[tuple[str, list[str]]]:
    """The efficiency table's training jobs: (benchmark file, the models it trained; the trainings the run's
    other tables make); TRAIN_GROUPS are the shared training jobs (targets.smk)."""
    return PLAN.efficiency_train_jobs(RUN_TABLES, TRAIN_GROUPS)


def efficiency_eval_jobs() -> list[tuple[str, list[str]]]:
    """The efficiency table's evaluation jobs: (benchmark file, the models it evaluated); EVAL_GROUPS are
    the shared evaluation jobs (targets.smk)."""
    return PLAN.efficiency_eval_benchmarks(RUN_TABLES, EVAL_GROUPS)


def table_outputs(table: str) -> paths.TableFiles:
    return paths.table_files(R, table)
