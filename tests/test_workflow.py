"""The Snakemake workflow: targets, config validation, the DAG shape, paper-scale preflight (dry runs)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from biggait.reporting.specs import EFFICIENCY, TABLES

REPO = Path(__file__).resolve().parent.parent
SNAKEMAKE = Path(sys.executable).parent / "snakemake"

pytestmark = pytest.mark.dag  # starts Snakemake (left out by make test-fast)

TABLE_TARGETS = [
    "table_ccpg",
    "table_casiab",
    "table_sustech1k",
    "table_cross_domain",
    "table_ablation_branches",
    "table_ablation_regularisers",
    "table_ablation_design",
    "table_lvm_size",
    "table_efficiency",
]


def smk(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    """Run snakemake; its log goes to stdout and stderr, both end up in ``.stdout``."""
    return subprocess.run(
        [str(SNAKEMAKE), "--nolock", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=180,
    )


def job_counts(text: str) -> dict[str, int]:
    counts, on = {}, False
    for line in text.splitlines():
        if line.startswith("job ") and "count" in line:
            on = True
            continue
        if on:
            parts = line.split()
            if len(parts) == 2 and parts[1].isdigit():
                counts[parts[0]] = int(parts[1])
            elif parts and parts[0] == "total":
                break
    return counts


def evaluations(text: str) -> tuple[int, int]:
    """(evaluate jobs, models they evaluate) of a dry run printed with ``-p``: every evaluation is one
    ``--checkpoint`` of a ``biggait evaluate`` command (several in a shared job)."""
    cmds = [line for line in text.splitlines() if " evaluate --checkpoint " in line]
    return len(cmds), sum(line.count("--checkpoint ") for line in cmds)


def trainings(text: str) -> tuple[int, list[str]]:
    """(train jobs, the run folders they train) of a dry run printed with ``-p``: every training is one
    ``--out`` of a ``biggait train`` command (several, joined by ``--and``, in a shared job)."""
    cmds = [line for line in text.splitlines() if " train " in line and "biggait train " in line]
    runs = [part.split()[0] for line in cmds for part in line.split(" --out ")[1:]]
    return len(cmds), runs


def efficiency_runs(text: str) -> list[str]:
    """The result files of the ``biggait efficiency`` commands of a dry run printed with ``-p``."""
    cmds = [line for line in text.splitlines() if "biggait efficiency " in line]
    return [part.split()[0] for line in cmds for part in line.split(" --out ")[1:]]


def test_target_rules_listed() -> None:
    out = smk("--list-target-rules")
    assert out.returncode == 0, out.stdout
    names = {line.split()[0] for line in out.stdout.splitlines() if line.strip()}
    assert {"reproduce_all", "figures", *TABLE_TARGETS} <= names


def test_demo_dag_trains_each_experiment_once(tmp_path: Path) -> None:
    out = smk("reproduce_all", "-n", "-p", "--config", f"results={tmp_path}")
    assert out.returncode == 0, out.stdout
    counts = job_counts(out.stdout)
    n_exp = len(list((REPO / "config" / "experiments").glob("*.yaml")))
    # every (experiment, seed) once, shared by all its tables: 22 experiments (the 5 BiggerGait ablations of its
    # Table 2 run at paper scale only), and seeds 1 and 2 of the 7 within-domain (BiggerGait's CCPG row too) and
    # 3 branch-ablation experiments (config table_seeds)
    n_jobs, runs = trainings(out.stdout)
    assert n_exp == 27 and len(runs) == len(set(runs)) == (n_exp - 5) + 2 * (7 + 3)
    # train_group_size = 4: the 3 seeds of each of the efficiency table's 3-seed rows in one job; the other 24
    # trainings on the ViT-S stand-in in 6 jobs, the 7 without an LVM file in 2; B/L/G (1 seed) on their own
    assert n_jobs == 3 + 6 + 2 + 3 and counts["train"] == 3
    assert {k for k in counts if k.startswith("train_")} == {
        *(f"train_{e}_1" for e in ("gaitbase_ccpg", "biggait_ccpg", "biggergait_ccpg")),
        *(f"train_vits14_{k}" for k in range(1, 7)),
        "train_no_lvm_1",
        "train_no_lvm_2",
    }
    # the efficiency table's 7 rows counted and timed in one process
    assert counts["synthgait"] == 1 and counts["table"] == 9 and counts["efficiency_rows"] == 1
    assert "efficiency" not in counts and len(efficiency_runs(out.stdout)) == 7
    assert counts["efficiency_table"] == 1
    assert (
        counts["pretrain_lvm_main"] == 1
        and counts["pretrain_lvm"] == 3
        and counts["probe_upstream"] == 2
        and counts["upstream_report"] == 1
    )
    assert counts["pretrain_frames"] == 1  # the frames read once for the four stand-ins
    # one evaluation per (model, seed, test set): 42 on their own test set + 6 models x 2 other test sets
    # (seed 0) + BiggerGait's 2 cross-domain ones, run as shared jobs per (test set, upstream) of at most
    # eval_group_size = 8 models (BiggerGait's frozen upstream pass is its own: 3 more jobs)
    jobs, models = evaluations(out.stdout)
    assert models == 42 + 12 + 2 and "evaluate" not in counts
    assert jobs == sum(v for k, v in counts.items() if k.startswith("evaluate_") and k != "evaluate_groups") == 16
    assert counts["fig_bars"] == 9 and counts["fig_maps"] == 2
    # Figure 5(c): BiggerGait's layer groups scored alone for each of its evaluations, one figure
    assert counts["evaluate_groups"] == 3 + 2 and counts["fig_groups"] == 1


def test_shipped_source_loads_the_released_stand_ins(tmp_path: Path) -> None:
    over = tmp_path / "shipped.yaml"  # merged into config/config.yaml, as a user's --configfile is
    over.write_text("pretrain_lvm: {source: shipped}\n")
    out = smk("reproduce_all", "-n", "-p", "--configfile", str(over), "--config", f"results={tmp_path}")
    assert out.returncode == 0, out.stdout
    counts = job_counts(out.stdout)
    assert not {"pretrain_lvm_main", "pretrain_lvm", "pretrain_frames"} & set(counts)  # inputs, not jobs
    assert counts["probe_upstream"] == 2 and counts["upstream_report"] == 1
    for v in ("vits14", "vitb14", "vitl14", "vitg14"):
        assert f"model.lvm_checkpoint={REPO / 'standins' / f'{v}_tiny.pth'}" in out.stdout
    assert f"{tmp_path}/pretrain/" not in out.stdout


def test_seeds_multiply_trainings(tmp_path: Path) -> None:
    out = smk("table_ccpg", "-n", "-p", "--config", f"results={tmp_path}", "seeds=[0,1,2]", "tables=[ccpg]")
    assert out.returncode == 0, out.stdout
    counts = job_counts(out.stdout)
    assert len(trainings(out.stdout)[1]) == 9 and counts["table"] == 1  # GaitBase, BigGait, BiggerGait x 3 seeds
    assert trainings(out.stdout)[0] == 3  # each row's 3 seeds in one process (train_group_size)
    assert evaluations(out.stdout) == (3, 9)  # each model's 3 seeds share one job (one upstream each)


def test_config_is_validated(tmp_path: Path) -> None:
    out = smk("-n", "--config", f"results={tmp_path}", "scale=huge")
    assert out.returncode != 0 and "scale" in out.stdout and "huge" in out.stdout
    out = smk("-n", "--config", f"results={tmp_path}", "tables=[ccpg,nonsense]")
    assert out.returncode != 0 and "nonsense" in out.stdout


def test_paper_scale_stops_with_missing_inputs_or_runs_only_available(tmp_path: Path) -> None:
    out = smk("-n", "--configfile", "config/paper.yaml", "--config", f"results={tmp_path}/r")
    assert out.returncode != 0
    assert "missing inputs, nothing was run" in out.stdout
    assert "dinov2_vits14_pretrain.pth" in out.stdout and "CCPG dataset root" in out.stdout
    assert "set roots: {ccpg: PATH} in config/scales/paper.yaml" in out.stdout  # the paths' one home
    assert not (tmp_path / "r").exists()
    # Make CCPG and the ViT-S checkpoint available: the branch and regulariser tables can run (and
    # efficiency, which needs no data); cross-domain, design (SUSTech1K), LVM size and CCPG (its BiggerGait
    # row needs the mask-branch file) cannot.
    (tmp_path / "ccpg").mkdir()
    (tmp_path / "ccpg.json").write_text('{"TRAIN_SET": [], "TEST_SET": []}')
    (tmp_path / "vits14.pth").write_bytes(b"x")
    cfg = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())
    cfg.update(
        results=str(tmp_path / "r"),
        only_available=True,
        roots={"ccpg": str(tmp_path / "ccpg")},
        partitions={"ccpg": str(tmp_path / "ccpg.json")},
        lvm_checkpoints={"vits14": str(tmp_path / "vits14.pth")},
    )
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    out = smk("reproduce_all", "-n", "--configfile", str(tmp_path / "cfg.yaml"), "--resources", "gpu=0")
    assert out.returncode == 0, out.stdout
    text = out.stdout
    for skipped in ("cross_domain", "ablation_design", "lvm_size", "casiab"):
        assert f"only_available: skipping table {skipped}" in text
    assert "only_available: skipping table ccpg (1 input(s) missing, e.g. mask-branch file" in text
    counts = job_counts(text)
    assert counts["table"] == 2 and counts["efficiency_table"] == 1 and counts["efficiency_rows"] == 1
    assert counts["train"] == 7  # BigGait on CCPG + 3 branch + 3 regulariser ablations
    assert "--gpus 0 --" in text and "--set model.lvm_checkpoint=" in text  # gpu=0 forces the CPU
    out = smk("reproduce_all", "-n", "--configfile", str(tmp_path / "cfg.yaml"))
    assert "--gpus 1 --" in out.stdout


def test_table_rule_passes_exactly_its_declared_metrics(tmp_path: Path) -> None:
    """The tables command gets the rule's metrics inputs as arguments, never the whole eval folder."""
    out = smk("table_ccpg", "-n", "-p", "--config", f"results={tmp_path}", "tables=[ccpg]")
    assert out.returncode == 0, out.stdout
    cmd = next(line for line in out.stdout.splitlines() if " tables ccpg " in line)
    declared = [
        f"{tmp_path}/eval/{e}/seed{k}/ccpg/metrics.csv"
        for e in ("gaitbase_ccpg", "biggait_ccpg", "biggergait_ccpg")
        for k in (0, 1, 2)
    ]  # the demo's table_seeds: 3 seeds for ccpg
    assert "--results" not in cmd and "--metrics" in cmd
    assert sorted(a for a in cmd.split() if a.endswith("metrics.csv")) == sorted(declared)


def test_efficiency_table_reads_the_timed_trainings_of_the_run(tmp_path: Path) -> None:
    """The trainings and evaluations the run's tables need anyway reach the efficiency table through their
    benchmark files (wall time, peak memory); the efficiency table alone starts no training."""
    out = smk("table_efficiency", "-n", "-p", "--config", f"results={tmp_path}", "tables=[ccpg,lvm_size,efficiency]")
    assert out.returncode == 0, out.stdout
    cmd = next(line for line in out.stdout.splitlines() if " tables efficiency " in line)
    # its own rule and one way to give its inputs: no accuracy-table flags
    assert job_counts(out.stdout)["efficiency_table"] == 1 and " --metrics" not in cmd and " --seeds" not in cmd
    assert cmd.split(" tables efficiency --efficiency ", 1)[1].split(" --train-benchmark ")[0].split() == [
        f"{tmp_path}/efficiency/{e}.json"
        for e in ("gaitbase_ccpg", "biggait_ccpg", "lvm_b", "lvm_l", "lvm_g", "biggergait_ccpg", "biggergait_j6")
    ]
    timed = [part.split() for part in cmd.split(" --eval-benchmark ")[0].split(" --train-benchmark ")[1:]]
    # CCPG table: its rows at seeds 0-2; LVM size: B/L/G at seed 0 (config/config.yaml); only the efficiency
    # rows these two tables train (BiggerGait* J=6 is in neither)
    seeds = {"ccpg": (0, 1, 2), "lvm_size": (0,)}
    trained = {
        e: sorted({s for t, ss in seeds.items() if e in TABLES[t].experiments() for s in ss})
        for e in EFFICIENCY.experiments()
    }
    assert trained["gaitbase_ccpg"] == trained["biggait_ccpg"] == [0, 1, 2] and trained["lvm_g"] == [0]
    assert trained["biggergait_j6"] == []
    # each training job once, with the models it trains: one experiment's 3 seeds share a job (train_group_size)
    bench = f"{tmp_path}/benchmarks/train"
    assert timed == [
        [f"{bench}/{e}_seed0.tsv", f"{e}_seed0"]
        if ss == [0]
        else [f"{bench}/shared_{e}_1.tsv", *(f"{e}_seed{s}" for s in ss)]
        for e, ss in trained.items()
        if ss
    ]
    runs = {(e, k) for t, ss in seeds.items() for e in TABLES[t].experiments() for k in ss}
    assert len(runs) >= 9 and len(trainings(out.stdout)[1]) == len(runs)  # those two tables' trainings only
    # the shared evaluation jobs on CCPG that evaluate those models, each with every model it evaluates
    jobs = [part.split() for part in cmd.split(" --eval-benchmark ")[1:]]
    jobs[-1] = jobs[-1][: jobs[-1].index("--paper")]
    evaluated = [m for job in jobs for m in job[1:]]
    assert all(job[0].startswith(f"{tmp_path}/benchmarks/evaluate/shared_ccpg_") for job in jobs)
    assert {
        f"{e}_seed{s}"
        for e, seeds in (
            ("gaitbase_ccpg", (0, 1, 2)),
            ("biggait_ccpg", (0, 1, 2)),
            ("lvm_b", (0,)),
            ("lvm_l", (0,)),
            ("lvm_g", (0,)),
        )
        for s in seeds
    } <= set(evaluated)
    assert len(evaluated) == len(set(evaluated))  # each model in one job
    alone = smk("table_efficiency", "-n", "-p", "--config", f"results={tmp_path}", "tables=[efficiency]")
    assert alone.returncode == 0, alone.stdout
    assert "train" not in job_counts(alone.stdout) and "--train-benchmark" not in alone.stdout
    assert "--eval-benchmark" not in alone.stdout
