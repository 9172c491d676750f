"""How the size of the CCPG test split moves the metric check's power: seed noise and the triplet-off effect.

Trains biggait_ccpg (demo scale) with seeds 0-4 and once with the triplet loss off (seed 0) on a SynthGait
CCPG of 20 training identities and 40 test identities, evaluates every model on the first 10, 20 and 40 test
identities (the training data does not depend on the test split), and prints, per split and headline number
(mean over CL/UP/DN/BG), the 5 seeds' mean and std, the triplet-off effect in points and in seed stds, and
the tolerance `biggait tolerances` would give a 3-seed baseline (df 8, K candidates, 1% family-wise).

    python tools/test_split_power.py --lvm standins/vits14_tiny.pth --out /tmp/split [--K 29]

Two trainings at a time, one thread each (about 4 minutes on 2 cores); rerunning reuses what is there.
"""

import argparse
import csv
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from scipy.special import stdtrit

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent / "biggait"
SPLITS = (10, 20, 40)
RUNS = {f"s{k}": (k, []) for k in range(5)} | {"notrip": (0, ["loss.triplet_weight=0"])}
CONDITIONS = ("CL", "UP", "DN", "BG")
HEADLINES = {  # name -> (protocol, metric)
    "gait rank-1": ("gait", "rank1_exclude_identical_view"),
    "gait rank-5": ("gait", "rank5_exclude_identical_view"),
    "reid rank-1": ("reid", "rank1"),
    "reid mAP": ("reid", "mAP"),
}


def run(cmd: list[str], log: Path) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)


def prepare(out: Path) -> Path:
    data = out / "data"
    if not (data / "ccpg.json").is_file():
        cmd = [str(BIN), "synth", "--out", str(data), "--scale", "demo", "--domains", "ccpg", "--ids", "20,40"]
        assert run(cmd, out / "synth.log").wait() == 0, (out / "synth.log").read_text()[-2000:]
    part = json.loads((data / "ccpg.json").read_text())
    for n in SPLITS:
        (data / f"ccpg_{n}.json").write_text(json.dumps({**part, "TEST_SET": sorted(part["TEST_SET"])[:n]}))
    return data


def train_all(out: Path, data: Path, lvm: Path) -> None:
    pending = [name for name in RUNS if not (out / "runs" / name / "model.pt").is_file()]
    running: list[tuple[str, subprocess.Popen]] = []
    while pending or running:
        while pending and len(running) < 2:
            name = pending.pop(0)
            seed, sets = RUNS[name]
            cmd = [str(BIN), "train", "config/experiments/biggait_ccpg.yaml", "--scale", "demo", "--no-progress"]
            cmd += ["--out", str(out / "runs" / name), "--set", f"train.seed={seed}"]
            for s in (
                f"data.root={data / 'ccpg'}",
                f"data.partition={data / 'ccpg.json'}",
                f"model.lvm_checkpoint={lvm}",
            ):
                cmd += ["--set", s]
            for s in sets:
                cmd += ["--set", s]
            running.append((name, run(cmd, out / f"train_{name}.log")))
        name, proc = running.pop(0)
        assert proc.wait() == 0, (out / f"train_{name}.log").read_text()[-2000:]


def evaluate_all(out: Path, data: Path) -> dict[int, float]:
    seconds = {}
    for n in SPLITS:
        cmd = [str(BIN), "evaluate", "--dataset", "ccpg", "--root", str(data / "ccpg")]
        cmd += ["--partition", str(data / f"ccpg_{n}.json")]
        for name in RUNS:
            cmd += ["--checkpoint", str(out / "runs" / name / "model.pt"), "--out", str(out / f"eval{n}" / name)]
        t0 = time.perf_counter()
        assert run(cmd, out / f"eval{n}.log").wait() == 0, (out / f"eval{n}.log").read_text()[-2000:]
        seconds[n] = time.perf_counter() - t0
    return seconds


def headline(path: Path, protocol: str, metric: str) -> float:
    with path.open(newline="") as fh:
        v = [
            float(r["value"])
            for r in csv.DictReader(fh)
            if r["protocol"] == protocol and r["metric"] == metric and r["condition"] in CONDITIONS
        ]
    assert len(v) == len(CONDITIONS), path
    return statistics.fmean(v)


def report(out: Path, K: int, seconds: dict[int, float]) -> None:
    mult = stdtrit(8, 1 - 0.01 / K / 2) * math.sqrt(1 + 1 / 3)  # tolerance / seed std of a 3-seed baseline
    print(f"tolerance of a 3-seed baseline (df 8, K {K}): {mult:.2f} seed std")
    print("| test ids | number | seeds 0-4 mean | seed std | triplet off | effect | effect / std |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for n in SPLITS:
        for label, (protocol, metric) in HEADLINES.items():
            seeds = [headline(out / f"eval{n}" / f"s{k}" / "metrics.csv", protocol, metric) for k in range(5)]
            broken = headline(out / f"eval{n}" / "notrip" / "metrics.csv", protocol, metric)
            m, sd = statistics.fmean(seeds), statistics.stdev(seeds)
            print(
                f"| {n} | {label} | {m:.1f} | {sd:.2f} | {broken:.1f} | {broken - m:+.1f} | {(broken - m) / sd:+.1f} |"
            )
    for n, s in seconds.items():
        print(f"evaluation of the 6 models on {n} test ids: {s:.1f} s (one thread)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lvm", type=Path, required=True, help="the ViT-S stand-in (e.g. standins/vits14_tiny.pth)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--K", type=int, default=29, help="checked candidates of the tolerances file (default 29)")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    data = prepare(args.out)
    train_all(args.out, data, args.lvm.resolve())
    report(args.out, args.K, evaluate_all(args.out, data))


if __name__ == "__main__":
    main()
