"""The DAG's preflight: which of the configured tables can run, checked against the disk.

At paper scale a table needs its datasets' roots and partitions and its experiments' DINOv2
checkpoints (:class:`biggait.plan.WorkflowPlan` says where they are). With any missing, the DAG stops
before any work and lists what is missing and how to prepare it, unless ``only_available``: then it
runs the tables that have all their inputs. ``workflow/rules/common.smk`` calls :func:`run_tables` once.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from biggait.datasets import DATASET_LABELS
from biggait.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from biggait.plan import WorkflowPlan

_HOWTO = {
    "root": (
        "{label} dataset root {path} is missing: obtain {label} from its authors, convert it to "
        "<root>/<id>/<type>/<view>/*.pkl (see docs/workflow.md, 'Paper scale'), then set "
        "roots: {{{ds}: PATH}} in {home}"
    ),
    "partition": (
        '{label} partition {path} is missing: write the JSON {{"TRAIN_SET": [...], '
        '"TEST_SET": [...]}} (OpenGait ships one per dataset) and set partitions: {{{ds}: PATH}} in {home}'
    ),
    "checkpoint": (
        "DINOv2 checkpoint {path} ({lvm}) is missing: download {name} from the official DINOv2 "
        "release and set lvm_checkpoints: {{{lvm}: PATH}} in {home}"
    ),
}


def missing_inputs(plan: WorkflowPlan, table: str) -> list[str]:
    """Human-readable lines for every dataset root, partition or checkpoint an accuracy table lacks."""
    if plan.config["synthgait"]:
        return _synthgait_lacks(plan, table)
    lines: list[str] = []
    datasets: set[str] = set()
    for exp, test in plan.table_evaluations(table):
        datasets.add(plan.experiment(exp).data.dataset)
        datasets.add(test)
        ckpt = plan.lvm_checkpoint(exp)
        if ckpt and not Path(ckpt).is_file():
            lvm = plan.experiment(exp).model.lvm
            lines.append(_HOWTO["checkpoint"].format(path=ckpt, lvm=lvm, name=Path(ckpt).name, home=_home(plan)))
        mask = plan.experiment(exp).model.mask_pretrained  # BiggerGait's released mask head
        if mask and not Path(mask).is_file():
            lines.append(
                f"mask-branch file {mask} ({exp}) is missing: get {Path(mask).name} (docs/biggergait.md, "
                "'Released files') or set model.mask_pretrained in the experiment"
            )
    for ds in sorted(datasets):
        lines += _missing_data(plan, ds)
    return lines


def _synthgait_lacks(plan: WorkflowPlan, table: str) -> list[str]:
    """The demo: a line per dataset of the table that SynthGait does not generate (e.g. CCGR-MINI)."""
    from biggait.synthgait.domains import DOMAINS

    needed = {d for e, t in plan.table_evaluations(table) for d in (plan.experiment(e).data.dataset, t)}
    return [
        f"SynthGait has no {DATASET_LABELS.get(ds, ds)} ({ds}): table {table} runs at paper scale only"
        for ds in sorted(needed - set(DOMAINS))
    ]


def _home(plan: WorkflowPlan) -> str:
    """Where the user sets the paths: the scale overlay, as a path relative to the repository when inside it."""
    try:
        return str(Path(plan.paths.source).resolve().relative_to(plan.repo.resolve()))
    except ValueError:
        return plan.paths.source


def _missing_data(plan: WorkflowPlan, ds: str) -> list[str]:
    label = DATASET_LABELS.get(ds, ds)
    try:
        root, part = plan.dataset_root(ds), plan.dataset_partition(ds)
    except ConfigError as exc:
        return [str(exc)]
    lines = []
    if not Path(root).is_dir():
        lines.append(_HOWTO["root"].format(label=label, path=root, ds=ds, home=_home(plan)))
    if not Path(part).is_file():
        lines.append(_HOWTO["partition"].format(label=label, path=part, ds=ds, home=_home(plan)))
    return lines


def run_tables(plan: WorkflowPlan) -> list[str]:
    """The tables reproduce_all builds; ConfigError when inputs are missing (unless only_available)."""
    wanted = list(plan.config["tables"])
    # the efficiency table builds the models only (the trainings it times belong to other tables, checked there)
    missing = {t: missing_inputs(plan, t) for t in plan.accuracy_tables(wanted)}
    if not any(missing.values()):
        return wanted
    if plan.config["only_available"]:
        for t, lines in missing.items():
            if lines:
                print(
                    f"only_available: skipping table {t} ({len(lines)} input(s) missing, e.g. {lines[0]})",
                    file=sys.stderr,
                )
        kept = [t for t in wanted if not missing.get(t)]
        if not kept:
            print("only_available: no table has all its inputs; nothing to run", file=sys.stderr)
        return kept
    lines = sorted({line for ls in missing.values() for line in ls})
    raise ConfigError(
        "missing inputs, nothing was run:\n  - "
        + "\n  - ".join(lines)
        + "\nPrepare them, or run only the tables whose inputs exist: --config only_available=true"
    )
