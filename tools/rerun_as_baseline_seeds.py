"""A harmless re-run's metrics relabelled as the baseline's seeds (seed 3 -> 0, 4 -> 1, 5 -> 2), so that
``biggait check-metrics`` compares every re-run number with the baseline seeds' mean (config/rerun_seeds.yaml).

    python tools/rerun_as_baseline_seeds.py results/rerun --out results/rerun/as_seeds_012.csv [--offset 3]
"""

import argparse
import dataclasses
from pathlib import Path

from biggait.evaluation.metrics_files import load_results, write_collected

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("results", type=Path)
ap.add_argument("--out", type=Path, required=True)
ap.add_argument("--offset", type=int, default=3, help="seed s of the re-run is written as seed s - OFFSET")
args = ap.parse_args()
rows = [dataclasses.replace(r, seed=r.seed - args.offset) for r in load_results(args.results)]
if not rows or min(r.seed for r in rows) < 0:
    raise SystemExit(
        f"error: {args.results}: expected the metrics of seeds >= {args.offset}, got "
        f"{sorted({r.seed + args.offset for r in rows}) or 'none'}"
    )
write_collected(rows, args.out)
print(
    f"wrote {len(rows)} metrics of seeds {sorted({r.seed for r in rows})} (re-run seeds + {args.offset}) to {args.out}"
)
