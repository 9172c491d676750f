"""How busy the cores were during a Snakemake run, from its log (docs/performance.md, "The demo's time").

    python tools/dag_timeline.py LOG [--cores 2] [--jobs]

LOG is what `snakemake --cores N ...` printed (e.g. `make demo > demo.log 2>&1`): each job's start
("[date]" then "rule NAME:" with its "jobid:" and "threads:") and its end ("Finished jobid: N"). Prints the
run's wall time, the core-seconds the jobs reserved (threads x wall, per rule family) and the idle
core-seconds; --jobs lists every job with its start, end and threads. A run whose cores are busy throughout
can only get faster by doing less work, not by scheduling it differently.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
from collections import defaultdict
from pathlib import Path

_STAMP = re.compile(r"^\[(.+)\]$")
_RULE = re.compile(r"^(?:local)?rule (\S+):")
_DONE = re.compile(r"^Finished jobid: (\d+)")


def parse_log(text: str) -> list[dict]:
    """Jobs of a Snakemake log: rule, wildcards, threads, start and end (seconds from the first stamp)."""
    lines = text.splitlines()
    jobs: dict[int, dict] = {}
    t0 = None
    for i, line in enumerate(lines[:-1]):
        m = _STAMP.match(line)
        if not m:
            continue
        try:
            t = dt.datetime.strptime(" ".join(m.group(1).split()), "%a %b %d %H:%M:%S %Y")
        except ValueError:
            continue
        t0 = t0 or t
        at = (t - t0).total_seconds()
        if rule := _RULE.match(lines[i + 1]):
            job = {"rule": rule.group(1), "start": at, "end": None, "threads": 1, "wildcards": ""}
            jid = None
            for extra in lines[i + 2 :]:
                if not extra.startswith("    "):
                    break
                key, _, value = extra.strip().partition(": ")
                if key == "jobid":
                    jid = int(value)
                elif key == "threads":
                    job["threads"] = int(value)
                elif key == "wildcards":
                    job["wildcards"] = value
            if jid is not None:
                jobs[jid] = job
        elif (done := _DONE.match(lines[i + 1])) and int(done.group(1)) in jobs:
            jobs[int(done.group(1))]["end"] = at
    return sorted(jobs.values(), key=lambda j: j["start"])


def family(rule: str) -> str:
    """The rule family of a job: shared jobs (train_<group>, evaluate_<test>_<n>) with their per-model rule."""
    for prefix in ("train", "evaluate_groups", "evaluate", "fig", "pretrain_lvm"):
        if rule == prefix or rule.startswith(prefix + "_"):
            return prefix
    return rule


def summary(jobs: list[dict], cores: int) -> list[str]:
    """Wall time, reserved and idle core-seconds, core-seconds per rule family."""
    end = max((j["end"] for j in jobs if j["end"] is not None), default=0.0)
    busy = [0] * int(end)  # second s holds the threads of the jobs running from s to s + 1
    per_family: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    for j in jobs:
        stop = j["end"] if j["end"] is not None else end
        threads = min(j["threads"], cores)
        for s in range(int(j["start"]), int(stop)):
            busy[s] += threads
        per_family[family(j["rule"])] += threads * (stop - j["start"])
        counts[family(j["rule"])] += 1
    idle = sum(max(0, cores - b) for b in busy)
    out = [
        f"wall {end:.0f} s (first job start to last job end), {len(jobs)} jobs, "
        f"{sum(per_family.values()):.0f} core-s reserved, {idle} core-s idle of {cores * int(end)}"
    ]
    for name, cs in sorted(per_family.items(), key=lambda kv: -kv[1]):
        out.append(f"  {name:<22} {counts[name]:>4} jobs {cs:>7.0f} core-s")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("log", type=Path, help="the output of a snakemake run")
    p.add_argument("--cores", type=int, default=2, help="the run's --cores (default 2)")
    p.add_argument("--jobs", action="store_true", help="also list every job")
    args = p.parse_args(argv)
    if not args.log.is_file():
        print(f"error: {args.log}: no such file (expected the output of a snakemake run)", file=sys.stderr)
        return 2
    jobs = parse_log(args.log.read_text(errors="replace"))
    if not jobs:
        print(f"error: {args.log}: no Snakemake job found (expected '[date]' then 'rule NAME:' lines)", file=sys.stderr)
        return 2
    print("\n".join(summary(jobs, args.cores)))
    if args.jobs:
        for j in jobs:
            end = "-" if j["end"] is None else f"{j['end']:.0f}"
            print(f"{j['start']:>6.0f} {end:>6} {j['threads']}t {j['rule']} {j['wildcards']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
