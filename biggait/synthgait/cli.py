"""``biggait synth``: generate the SynthGait datasets, a preview sheet and difficulty proxies.

Examples::

    biggait synth --out results/data/synthgait                  # demo scale, all three domains
    biggait synth --out /tmp/sg --scale tiny --domains ccpg --workers 1
    biggait synth --out /tmp/sg --ids 8,4 --frames 12 --views casiab=000,090
    biggait synth --out results/data/synthgait --preview-only    # only preview_<domain>.png
    biggait synth --out results/data/synthgait --proxy           # also proxy_<domain>.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from biggait.cli_paths import OutputDir
from biggait.errors import ConfigError
from biggait.synthgait.domains import DOMAINS, SCALES, scale_plans

if TYPE_CHECKING:
    from biggait.synthgait.generator import SynthSpec

__all__ = ["COMMANDS", "add_arguments", "run", "spec_from_args"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Register the ``synth`` options."""
    p.add_argument(
        "--out", required=True, type=OutputDir("output"), help="output folder: OUT/<domain>/ trees + OUT/<domain>.json"
    )
    p.add_argument("--scale", default="demo", help=f"named sizes: {', '.join(SCALES)} (default demo)")
    p.add_argument("--domains", default=",".join(DOMAINS), help="comma-separated subset of: " + ", ".join(DOMAINS))
    p.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    p.add_argument("--workers", type=int, default=None, help="processes (default: CPU count)")
    p.add_argument("--ids", default=None, help="identities per domain: TRAIN[,TEST] (default: the scale's)")
    p.add_argument("--frames", type=int, default=None, help="frames per sequence (default: the scale's)")
    p.add_argument(
        "--views",
        action="append",
        default=[],
        metavar="DOMAIN=V1,V2",
        help="views of a domain (repeatable), e.g. casiab=000,018,090",
    )
    p.add_argument("--preview", action="store_true", help="also write OUT/preview_<domain>.png")
    p.add_argument("--preview-only", action="store_true", help="write only the preview sheets")
    p.add_argument(
        "--proxy", action="store_true", help="score nearest-neighbour difficulty proxies into OUT/proxy_<domain>.json"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _positive(value: str, what: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise ConfigError(f"{what}: {value!r} is not an integer") from None
    if n < 1:
        raise ConfigError(f"{what}: {n} must be at least 1")
    return n


def spec_from_args(args: argparse.Namespace) -> SynthSpec:
    """Resolve the scale, domain subset and overrides into a :class:`SynthSpec`."""
    from biggait.synthgait.generator import SynthSpec

    plans = scale_plans(args.scale)
    domains = [d.strip() for d in args.domains.split(",") if d.strip()]
    unknown = [d for d in domains if d not in DOMAINS]
    if unknown or not domains:
        raise ConfigError(
            f"--domains: unknown domain {', '.join(unknown) or '(none)'!s} "
            f"(expected a comma-separated subset of: {', '.join(DOMAINS)})"
        )
    plans = {d: plans[d] for d in domains}
    if args.ids:
        parts = args.ids.split(",")
        if len(parts) > 2:
            raise ConfigError(f"--ids: {args.ids!r} (expected TRAIN or TRAIN,TEST)")
        train = _positive(parts[0], "--ids")
        test = _positive(parts[1], "--ids") if len(parts) == 2 else max(1, train // 2)
        plans = {d: dataclasses.replace(p, train_ids=train, test_ids=test) for d, p in plans.items()}
    if args.frames is not None:
        frames = _positive(str(args.frames), "--frames")
        plans = {d: dataclasses.replace(p, frames=frames) for d, p in plans.items()}
    for item in args.views:
        dom, _, views = item.partition("=")
        if dom not in plans or not views:
            raise ConfigError(f"--views {item!r}: expected DOMAIN=V1,V2 with DOMAIN one of {', '.join(plans)}")
        vs = tuple(v.strip() for v in views.split(",") if v.strip())
        bad = [v for v in vs if v not in DOMAINS[dom].views]
        if bad:
            raise ConfigError(
                f"--views: unknown {dom} view {bad[0]!r} (expected one of: {', '.join(DOMAINS[dom].views)})"
            )
        plans[dom] = dataclasses.replace(plans[dom], views=vs)
    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers: {args.workers} must be at least 1")
    return SynthSpec(seed=args.seed, plans=plans)


def run(args: argparse.Namespace) -> int:
    """Generate (resumably), then optionally preview and score proxies."""
    from biggait.synthgait.generator import generate
    from biggait.synthgait.preview import write_preview

    spec = spec_from_args(args)
    out: Path = args.out.resolve()
    if not args.preview_only:
        counts = generate(out, spec, workers=args.workers or os.cpu_count(), progress=not args.no_progress)
        print(f"SynthGait: {counts['written']} sequences written, {counts['skipped']} already present, in {out}")
    if args.preview or args.preview_only:
        for path in write_preview(out, spec.seed, spec.plans):
            print(f"preview: {path}")
    if args.proxy and not args.preview_only:
        from biggait.io import write_json_atomic
        from biggait.synthgait.proxy import proxy_rank1

        for dom in spec.plans:
            table = proxy_rank1(out / dom, out / f"{dom}.json", dom)
            write_json_atomic(out / f"proxy_{dom}.json", table)
            print(f"proxy {dom}: " + json.dumps(table))
    return 0


# command name -> (add_arguments, run); biggait.cli maps the name to this module.
COMMANDS = {"synth": (add_arguments, run)}
