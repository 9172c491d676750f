"""Every ``biggait`` command against bad input (issue #21): one line that names what is wrong, exit 2,
nothing left behind.

The commands come from the parser (:func:`biggait.cli.build_parser`), sub-commands such as ``data check``
included, so a new command is swept without editing this file's logic: :data:`BASE` gives each one a
minimal valid command line over the inputs of the ``inputs`` fixture, and a command missing there fails
:func:`test_every_command_is_swept`. What bad input an argument gets follows from its type: the path
types of :mod:`biggait.cli_paths` carry a ``kind`` (input file / folder / either, output folder / file /
stem) and a format; ``--set`` and ``pretrain-lvm --data`` are recognised by their dest. A path argument
typed ``Path`` (not a :mod:`biggait.cli_paths` type) fails :func:`test_every_path_argument_is_typed`.

Each case swaps one value for a bad one (a missing path, relative and absolute; an empty folder; a file
for a folder and a folder for a file; an output under /proc, which even root cannot create, or under a
file; a results folder with no evaluations; a truncated or wrong-columns CSV / TSV / JSON / YAML, a cut
binary; a wrong ``--set`` key or value), runs ``biggait.cli.main`` in-process and expects exit 2, no
traceback, at most three lines (argparse's usage block aside) naming the path or key, and the tmp tree
exactly as it was.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from biggait import cli, paths
from biggait.cli import COMMANDS, DEPRECATED_COMMANDS, main
from biggait.evaluation.groups import score_groups
from biggait.evaluation.metrics_files import load_results, write_collected
from biggait.models.biggait import build_model
from biggait.models.checkpoints import save_checkpoint
from biggait.reporting.specs import get_table
from tests.helpers import IDS, tiny_experiment, tiny_overrides, write_benchmark, write_tiny_tree
from tests.test_biggergait_dag import biggergait_eval_folder
from tests.test_claims import CLAIMS_YAML, write_eval
from tests.test_reporting_figures import ccpg_embeddings, eval_folder

REPO = Path(__file__).resolve().parent.parent
UNWRITABLE = "/proc/biggait-nope/out"  # root ignores permission bits; nothing can be created under /proc
# Cases that are not bad input by design, with the reason.
ACCEPTED = {
    ("gpu-check", "--golden-dir", "empty-folder"): "without goldens the golden part is skipped and says so in its "
    "JSON; the speed parts still run",
}


# Bad input still taken in, in modules this sweep's change left alone: strict xfails (fix the reader, then
# drop the entry).
KNOWN_GAPS: dict[tuple[str, str, str], str] = {}


# ---- the commands and their arguments ------------------------------------------------------------------


def _leaves(parser: argparse.ArgumentParser, name: str):
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield name, parser
    for sub in subs:
        for child, p in sub.choices.items():
            yield from _leaves(p, f"{name} {child}")


def commands() -> dict[str, argparse.ArgumentParser]:
    """Every runnable command (``"data check"``) -> its parser, from the CLI's own registry."""
    found = {}
    for name in cli.COMMANDS:
        top = cli.build_parser([name])
        (sub,) = [a for a in top._actions if isinstance(a, argparse._SubParsersAction)]
        found.update(_leaves(sub.choices[name], name))
    return found


def flag(action: argparse.Action) -> str:
    """How the test names an argument: its first option string, or a positional's dest."""
    return action.option_strings[0] if action.option_strings else action.dest


def kind_of(action: argparse.Action) -> str | None:
    """What bad input an argument gets: ``set``, ``source`` (``DATASET=ROOT:PARTITION``), the ``kind`` of a
    :mod:`biggait.cli_paths` type (``file``, ``dir``, ``either``, ``out-dir``, ``out-file``, ``out-stem``), or None."""
    if action.dest == "overrides":
        return "set"
    return getattr(action.type, "kind", None)


def format_of(action: argparse.Action) -> str:
    """The file format of an input argument (``bin``: npz and torch files)."""
    fmt = getattr(action.type, "fmt", "") or "bin"
    return "bin" if fmt in ("npz", "pt") else fmt


MALFORMED = {  # format -> {case: content}
    "csv": {"truncated": "train_dataset,test_dataset,proto", "wrong-columns": "name,score\nx,1\n"},
    "tsv": {"truncated": "s\th:m", "wrong-columns": "name\tscore\nx\t1\n"},
    "json": {"truncated": '{"TRAIN_SET": ["00', "wrong-columns": '{"unexpected": [1, 2]}\n'},
    "jsonl": {"truncated": '{"iteration": 1, "tot', "wrong-columns": '{"unexpected": 1}\n'},
    "yaml": {"truncated": "name: [x\n", "wrong-columns": "unexpected: {a: 1}\n"},
    "bin": {"truncated": "PK\x03\x04\x14\x00"},  # a cut zip (npz and torch files are zips)
}
SETS = {"set-unknown-key": "no_such.key=1", "set-bad-value": "train.lr=fast", "set-no-equals": "train.lr"}
MISSING = ["missing-relative", "missing-absolute"]
OUTPUTS = ["unwritable", "under-a-file"]


def cases_of(action: argparse.Action) -> list[str]:
    """The bad-input cases of an argument."""
    kind = kind_of(action)
    malformed = list(MALFORMED[format_of(action)])
    evaluations = ["no-evaluations"] if getattr(action.type, "results", False) else []
    return {
        "set": list(SETS),
        "source": [f"root-{c}" for c in (*MISSING, "empty-folder", "file-for-folder")]
        + [f"partition-{c}" for c in (*MISSING, "folder-for-file", *MALFORMED["json"])],
        "out-dir": [*OUTPUTS, "file-for-folder"],
        "out-file": [*OUTPUTS, "folder-for-file"],
        "out-stem": OUTPUTS,
        "dir": [*MISSING, "empty-folder", "file-for-folder", *evaluations],
        "file": [*MISSING, "folder-for-file", *malformed],
        "either": [*MISSING, "empty-folder", *malformed, *evaluations],
    }.get(kind, [])


def sweep_cases() -> list:
    """``(command, argument, case)`` of every swept command (pytest params: the known gaps xfail)."""
    return [
        pytest.param(
            command,
            flag(a),
            case,
            marks=[pytest.mark.xfail(reason=KNOWN_GAPS[key], strict=True)]
            if (key := (command, flag(a), case)) in KNOWN_GAPS
            else [],
        )
        for command, parser in commands().items()
        for a in parser._actions
        for case in cases_of(a)
        if (command, flag(a), case) not in ACCEPTED
    ]


# ---- the inputs: one small valid instance of everything the commands read -------------------------------


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp("sweep")
    i = base / "in"
    tree, train_part = write_tiny_tree(i)
    test_part = i / "test.json"
    test_part.write_text(json.dumps({"TRAIN_SET": [], "TEST_SET": list(IDS)}))
    raw = i / "raw" / "000" / "nm" / "000"  # raw frames for `data preprocess`
    raw.mkdir(parents=True)
    import cv2

    cv2.imwrite(str(raw / "0001.png"), np.full((40, 20, 3), 200, np.uint8))
    exp = tiny_experiment(tree, train_part)
    torch.manual_seed(0)
    ckpt = i / "run" / "model.pt"
    save_checkpoint(ckpt, build_model(exp.model, len(IDS)), exp, len(IDS), iteration=1)
    (i / "run" / "train_log.jsonl").write_text(json.dumps({"iteration": 1, "total": 1.0}) + "\n")
    experiment = i / "tiny.yaml"
    experiment.write_text("name: sweep_tiny\nscale: demo\n")

    results = i / "results"
    for exp_name, shift in (("biggait_ccpg", 0.1), ("gaitbase_ccpg", 0.0), ("ccpg_random_upstream", -0.2)):
        for seed in (0, 1):
            write_eval(results, exp_name, seed, shift)
    baseline = i / "baseline.csv"
    write_collected(load_results(results), baseline)
    claims = i / "claims.yaml"
    claims.write_text(CLAIMS_YAML)
    probes = {}
    for upstream, lp in (("random", 0.1), ("file", 0.6)):
        probes[upstream] = i / f"probe_{upstream}.json"
        probes[upstream].write_text(
            json.dumps(
                {
                    "upstream": upstream,
                    "lvm_checkpoint": "pre.pth" if upstream == "file" else "",
                    "settings": {"seed": 0},
                    "frames": {"fit": 10, "eval": 10},
                    "iou": {"linear_probe": lp, "pca1": 0.2, "prior": 0.5, "all_person": 0.3},
                }
            )
        )
    bench = i / "benchmarks"
    write_benchmark(bench / "train" / "biggait_ccpg_seed0.tsv", "10.0\t0:00:10\t100\t1\t1\t1\t0\t0\t1\t9.0")
    efficiency = i / "efficiency"
    efficiency.mkdir()
    for row in get_table("efficiency").rows:
        (efficiency / f"{row.experiment}.json").write_text(json.dumps({"total_params": 1e6, "gmacs_per_frame": 1.5}))
    evaluation = eval_folder(i / "figures", ccpg_embeddings(n_ids=3))
    matrix = i / "figures" / "gait_CL_rank1.csv"
    matrix.write_text("probe_view\\gallery_view,000,018\n000,100,50\n018,20,100\n")
    table = i / "figures" / "ccpg.csv"
    table.write_text(
        "table,method,experiment,train,test,condition,metric,source,ours,ours_std,n_seeds,ci_low,"
        "ci_high,paper,diff,status,confidence,provenance,note\n"
        "ccpg,BigGait,biggait_ccpg,CCPG,CCPG,CL,rank1,ours,80,1,2,,,82.6,-2.6,compared,high,s,\n"
    )
    biggergait_eval = biggergait_eval_folder(i / "biggergait")  # a BiggerGait evaluation: its groups scored alone
    score_groups(biggergait_eval)
    tolerances = i / "tolerances.csv"
    assert cli.main(["tolerances", str(results), "--out", str(tolerances)]) == 0
    golden = i / "golden"
    golden.mkdir()
    (golden / "weights.pt").write_bytes(ckpt.read_bytes())
    return {
        "base": base,
        "tree": tree,
        "train_part": train_part,
        "test_part": test_part,
        "raw": i / "raw",
        "ckpt": ckpt,
        "run": ckpt.parent,
        "experiment": experiment,
        "results": results,
        "baseline": baseline,
        "claims": claims,
        "probes": probes,
        "bench": bench,
        "efficiency": efficiency,
        "evaluation": evaluation,
        "matrix": matrix,
        "table": table,
        "tolerances": tolerances,
        "golden": golden,
        "biggergait_eval": biggergait_eval,
        "groups": biggergait_eval / paths.GROUPS_DIR / paths.GROUPS_CSV,
        "metrics": sorted(results.rglob(paths.METRICS_CSV)),
        "out": base / "out",
    }


def _data(f: dict) -> dict:
    return {"--root": f["tree"], "--dataset": "ccpg", "--partition": f["test_part"]}


Base = Callable[[dict], dict]
# command -> its minimal valid command line over the inputs: {argument: value, a list of values, or True
# for a flag}, positionals by dest.
BASE: dict[str, Base] = {
    "synth": lambda f: {
        "--out": f["out"] / "synth",
        "--scale": "tiny",
        "--domains": "ccpg",
        "--workers": "1",
        "--no-progress": True,
    },
    "data check": lambda f: {
        "root": f["tree"],
        "--dataset": "ccpg",
        "--partition": f["train_part"],
        "--no-progress": True,
    },
    "data preprocess": lambda f: {"src": f["raw"], "out": f["out"] / "aligned", "--no-progress": True},
    "pretrain-lvm": lambda f: {
        "--data": f"ccpg={f['tree']}:{f['train_part']}",
        "--out": f["out"] / "lvm.pth",
        "--steps": "1",
        "--batch": "2",
        "--no-progress": True,
    },
    "train": lambda f: {
        "experiment": f["experiment"],
        "--out": f["out"] / "run",
        "--stop-after": "1",
        "--set": tiny_overrides(f["tree"], f["train_part"]),
        "--no-progress": True,
    },
    "evaluate": lambda f: {
        "--checkpoint": [f["ckpt"]],
        **_data(f),
        "--out": [f["out"] / "eval"],
        "--device": "cpu",
        "--bootstrap": "0",
        "--no-mask-iou": True,
    },
    "efficiency": lambda f: {"--experiment": f["experiment"], "--scale": "demo"},
    "probe-lvm": lambda f: {
        **_data(f),
        "--every": "2",
        "--max-frames": "8",
        "--out": f["out"] / "probe.json",
        "--no-progress": True,
    },
    "tables": lambda f: {
        "tables": ["ccpg"],
        "--results": f["results"],
        "--paper": REPO / "config" / "paper_reported.csv",
        "--out": f["out"] / "tables",
        "--allow-missing": True,
    },
    "figures pad-resize": lambda f: {**_data(f), "--out": f["out"] / "pad"},
    "figures maps": lambda f: {
        **_data(f),
        "--checkpoint": f["ckpt"],
        "--frames": "2",
        "--out-masks": f["out"] / "masks",
        "--out-pca": f["out"] / "pca",
    },
    "figures bars": lambda f: {"--table": f["table"], "--out": f["out"] / "bars"},
    "figures heatmap": lambda f: {"--matrices": [f["matrix"]], "--out": f["out"] / "heat"},
    "figures views": lambda f: {"--matrices": [f["matrix"]], "--out": f["out"] / "views"},
    "figures curves": lambda f: {"--runs": [f["run"]], "--out": f["out"] / "curves"},
    "figures cmc": lambda f: {"--evaluations": [f["evaluation"]], "--max-rank": "3", "--out": f["out"] / "cmc"},
    "figures embeddings": lambda f: {"--evaluation": f["evaluation"], "--out": f["out"] / "emb"},
    "figures groups": lambda f: {"--groups": [f["groups"]], "--out": f["out"] / "groups"},
    "evaluate-groups": lambda f: {"eval_dir": f["biggergait_eval"], "--partition": f["test_part"]},
    "check-metrics": lambda f: {"results": f["results"], "--baseline": f["baseline"]},
    "tolerances": lambda f: {"results": f["results"], "--out": f["out"] / "tolerances.csv"},
    "compare": lambda f: {
        "a": "biggait_ccpg",
        "b": "gaitbase_ccpg",
        "--results": f["results"],
        "--resamples": "100",
        "--out": f["out"] / "compare",
    },
    "claims": lambda f: {
        "results": f["results"],
        "--claims": f["claims"],
        "--out": f["out"] / "claims",
        "--resamples": "100",
    },
    "lvm-report": lambda f: {
        "--metrics": f["metrics"],
        "--random-probe": f["probes"]["random"],
        "--pretrained-probe": f["probes"]["file"],
        "--out": f["out"] / "upstream",
    },
    "job-times": lambda f: {"benchmarks": f["bench"], "--out": f["out"] / "job_times"},
    "selfcheck": lambda f: {"--golden-dir": f["golden"]},
    # Every case of gpu-check is refused while parsing, before CUDA is needed.
    "gpu-check": lambda f: {"--device": "cuda", "--golden-dir": f["golden"], "--out": f["out"] / "gpu_check.json"},
}


def _efficiency(f: dict) -> dict:
    """The efficiency table's command line (its inputs are read by no other table)."""
    return {
        "tables": ["efficiency"],
        "--results": f["results"],
        "--paper": REPO / "config" / "paper_reported.csv",
        "--out": f["out"] / "tables",
        "--allow-missing": True,
    }


# (command, argument) -> the valid command line its cases start from, where an argument only matters then.
VARIANTS: dict[tuple[str, str], Base] = {
    ("tables", "--metrics"): lambda f: {**BASE["tables"](f), "--metrics": f["metrics"], "--results": None},
    ("tables", "--efficiency"): lambda f: {**_efficiency(f), "--efficiency": [f["efficiency"] / "biggait_ccpg.json"]},
    ("tables", "--efficiency-dir"): lambda f: {**_efficiency(f), "--efficiency-dir": f["efficiency"]},
    ("tables", "--train-benchmarks"): lambda f: {
        **VARIANTS["tables", "--efficiency-dir"](f),
        "--train-benchmarks": sorted(f["bench"].rglob("*.tsv")),
    },
    ("tables", "--benchmarks-dir"): lambda f: {
        **VARIANTS["tables", "--efficiency-dir"](f),
        "--benchmarks-dir": f["bench"],
    },
    ("check-metrics", "--paper"): lambda f: {
        "results": f["results"],
        "--paper": REPO / "config" / "paper_reported.csv",
    },
    ("check-metrics", "--tolerances"): lambda f: {**BASE["check-metrics"](f), "--tolerances": f["tolerances"]},
    ("check-metrics", "--save"): lambda f: {"results": f["results"], "--save": f["out"] / "gathered.csv"},
    ("claims", "--metrics"): lambda f: {**BASE["claims"](f), "--metrics": f["metrics"]},
    ("claims", "--paper"): lambda f: {**BASE["claims"](f), "--paper": REPO / "config" / "paper_reported.csv"},
    ("evaluate", "--from-embeddings"): lambda f: {
        "--from-embeddings": f["evaluation"] / "embeddings.npz",
        "--dataset": "ccpg",
        "--out": [f["out"] / "eval"],
        "--bootstrap": "0",
    },
    ("probe-lvm", "--lvm-checkpoint"): lambda f: {**BASE["probe-lvm"](f), "--lvm-checkpoint": f["ckpt"]},
    ("figures cmc", "--partition"): lambda f: {**BASE["figures cmc"](f), "--partition": f["test_part"]},
    ("pretrain-lvm", "--frames-cache"): lambda f: {**BASE["pretrain-lvm"](f), "--frames-cache": f["out"] / "frames.pt"},
    ("selfcheck", "--weights"): lambda f: {"--golden-dir": f["golden"], "--weights": f["golden"] / "weights.pt"},
}


def argv_of(command: str, parser: argparse.ArgumentParser, args: dict) -> list[str]:
    """The command line of ``{argument: value}`` (None: left out): positionals in the parser's order, then
    the options (a list is one option's values, or the option repeated where it appends)."""
    actions = {flag(a): a for a in parser._actions}
    args = {k: v for k, v in args.items() if v is not None}
    argv = command.split()
    for a in parser._actions:
        if not a.option_strings and a.dest in args:
            v = args[a.dest]
            argv += [str(x) for x in v] if isinstance(v, list) else [str(v)]
    for name, v in args.items():
        if v is True:
            argv.append(name)
        elif isinstance(actions[name], argparse._AppendAction) and isinstance(v, list):
            argv += [x for item in v for x in (name, str(item))]
        elif name.startswith("-"):
            argv += [name, *map(str, v if isinstance(v, list) else [v])]
    return argv


def make_bad(case: str, action: argparse.Action, good, f: dict, where: Path) -> str:
    """The bad value of ``case``, its files made under ``where`` (a relative path is relative to the cwd).
    It keeps the ``good`` value's path below the inputs (else its name), so that a file is read for its
    content, not refused for its name or place (``<experiment>/seed<k>/<test>/metrics.csv``)."""
    if case in SETS:
        return SETS[case]
    if case.startswith("root-"):
        return f"ccpg={make_bad(case[5:], action, f['tree'], f, where)}:{f['train_part']}"
    if case.startswith("partition-"):
        return f"ccpg={f['tree']}:{make_bad(case[10:], action, f['train_part'], f, where)}"
    if case == "unwritable":
        return UNWRITABLE
    good = Path(str(good[0] if isinstance(good, list) else good or f"input.{format_of(action)}"))
    name = str(good.relative_to(f["base"] / "in") if good.is_relative_to(f["base"] / "in") else good.name)
    if case == "missing-relative":
        return f"no/such/{name}"
    if case == "missing-absolute":
        return str(where / "gone" / name)
    target = where / name
    if case in ("empty-folder", "folder-for-file"):
        target.mkdir(parents=True)
    elif case == "no-evaluations":  # a results folder with an empty eval/<exp> folder and nothing else to read
        (target / "eval" / "biggait_ccpg").mkdir(parents=True)
        (target / "logs").mkdir()
    elif case == "under-a-file":
        where.mkdir(parents=True)
        (where / "a_file").write_text("a file, not a folder\n")
        return str(where / "a_file" / name)
    else:
        target.parent.mkdir(parents=True)
        target.write_text("a file, not a folder\n" if case == "file-for-folder" else MALFORMED[format_of(action)][case])
    return str(target)


def _without_usage(err: str) -> list[str]:
    """stderr's lines without argparse's usage block (``usage: ...`` up to ``prog: error: ...``)."""
    lines = [ln for ln in err.splitlines() if ln.strip()]
    if lines and lines[0].startswith("usage:"):
        lines = lines[next((k for k, ln in enumerate(lines) if re.match(r"\S.*: error: ", ln)), 0) :]
    return lines


def _needle(action: argparse.Action, case: str, value: str) -> str:
    """What the message must name: the ``--set`` key (its head), /proc, the bad part of ``--data``, or the path."""
    if kind_of(action) == "set":
        return value.split("=")[0].split(".")[0]
    if case == "unwritable":
        return "/proc/biggait-nope"
    if kind_of(action) == "source":  # DATASET=ROOT:PARTITION
        return re.split(r"[=:]", value)[1 if case.startswith("root-") else 2]
    return value


def _run(argv: list[str]) -> int:
    """``biggait.cli.main(argv)``; argparse's own errors exit (SystemExit) instead of returning."""
    try:
        return cli.main(argv)
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else 1


def test_every_command_is_swept() -> None:
    """A new command needs its valid base command line here; every path argument gets bad input."""
    found = commands()
    assert set(found) - set(BASE) == set(), "add these commands to BASE"
    assert set(BASE) <= set(found), "BASE names commands that no longer exist"
    assert {(c, a) for c, a in VARIANTS} <= {(c, flag(a)) for c, p in found.items() for a in p._actions}
    swept = {tuple(p.values[:2]) for p in sweep_cases()}
    assert len(swept) >= 75 and ("data check", "root") in swept and ("compare", "a") in swept
    assert ("pretrain-lvm", "--data") in swept and ("train", "--set") in swept


# Path arguments without a biggait.cli_paths type, with the reason (they are not swept).
UNTYPED = {
    ("tables", "--eval-benchmark"): "FILE MODEL ... groups: read_benchmark names a missing or malformed "
    "FILE when the efficiency table is built",
    ("tables", "--train-benchmark"): "FILE MODEL ... groups, as --eval-benchmark",
}


def test_every_path_argument_is_typed() -> None:
    """A path argument uses a :mod:`biggait.cli_paths` type (its ``kind`` tells the sweep what to try)."""
    untyped = [
        (c, flag(a))
        for c, p in commands().items()
        for a in p._actions
        if a.type is Path or (kind_of(a) is None and re.search(r"FILE|DIR|ROOT|PATH", str(a.metavar or "")))
    ]
    assert set(untyped) == set(UNTYPED), "give these arguments a biggait.cli_paths type"


@pytest.mark.parametrize("command,argument,case", sweep_cases(), ids=lambda x: x.replace(" ", "_"))
def test_bad_input_is_one_line_and_leaves_nothing(
    command: str, argument: str, case: str, inputs: dict, capsys: pytest.CaptureFixture, monkeypatch
) -> None:
    parser = commands()[command]
    action = next(a for a in parser._actions if flag(a) == argument)
    args = VARIANTS.get((command, argument), BASE[command])(inputs)
    where = inputs["base"] / "bad" / re.sub(r"\W+", "_", f"{command}_{argument}_{case}")
    value = make_bad(case, action, args.get(argument), inputs, where)
    for group in parser._mutually_exclusive_groups:  # the bad argument replaces the base's alternative
        if action in group._group_actions:
            for other in group._group_actions:
                args.pop(flag(other), None)
    args[argument] = [value] if action.nargs in ("*", "+") or isinstance(action, argparse._AppendAction) else value
    argv = argv_of(command, parser, args)
    monkeypatch.chdir(inputs["base"])
    capsys.readouterr()
    before = set(inputs["base"].rglob("*"))
    rc = _run(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err, err
    assert rc == 2, f"{argv}: exit {rc}\n{out}\n{err}"
    message = _without_usage(err)
    assert 1 <= len(message) <= 3, f"{argv}:\n{out}\n{err}"
    needle = _needle(action, case, value)
    assert needle in "\n".join(message), f"{argv}: the message does not name {needle}:\n{err}"
    after = set(inputs["base"].rglob("*"))
    assert after == before, f"{argv} left {sorted(after - before)}"


@pytest.mark.parametrize("old", sorted(DEPRECATED_COMMANDS))
def test_a_renamed_command_still_runs_under_its_old_name(old, capsys):
    """probe-upstream / upstream-report were renamed (the frozen model is the LVM everywhere): the old name
    runs the new command after one warning line, and is not listed as a command of its own."""
    with pytest.raises(SystemExit) as stop:
        main([old, "--help"])
    out = capsys.readouterr()
    assert stop.value.code == 0 and f"usage: biggait {DEPRECATED_COMMANDS[old]}" in out.out
    assert out.err.strip().splitlines() == [
        f"warning: biggait {old} is deprecated, use biggait {DEPRECATED_COMMANDS[old]} (same arguments)"
    ]
    assert old not in COMMANDS and DEPRECATED_COMMANDS[old] in COMMANDS
