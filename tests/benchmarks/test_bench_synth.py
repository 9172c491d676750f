"""SynthGait generation speed (``pytest tests/benchmarks --benchmark-enable`` to time it).

By default (``--benchmark-disable``) each benchmark runs once as a smoke test. The reduced sets
below are slices of the demo scale (16 frames, the demo views); the full demo scale (3,040
sequences) is timed by hand and recorded in docs/synthgait.md.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from biggait.synthgait.domains import DomainPlan, scale_plans
from biggait.synthgait.generator import SynthSpec, generate, plan_jobs, render_sequence

DEMO = scale_plans("demo")


def _reduced(ids: int) -> SynthSpec:
    """Every demo domain with ``ids`` test identities and no training identities."""
    return SynthSpec(0, {d: DomainPlan(0, ids, p.frames, p.views) for d, p in DEMO.items()})


@pytest.mark.parametrize("workers", [1, 2])
def test_bench_generate_reduced_demo(benchmark, tmp_path: Path, workers: int) -> None:
    """One identity per domain: 7 + 10 + 9 types x 4 views = 104 sequences of 16 frames."""
    spec = _reduced(1)
    out = tmp_path / "sg"

    def setup() -> None:
        shutil.rmtree(out, ignore_errors=True)

    counts = benchmark.pedantic(
        lambda: generate(out, spec, workers=workers, progress=False), setup=setup, rounds=3, iterations=1
    )
    assert counts == {"written": len(plan_jobs(spec)), "skipped": 0} == {"written": 104, "skipped": 0}


def test_bench_render_one_sequence(benchmark) -> None:
    """Render one 16-frame CASIA-B*-like sequence (64 x 64) in memory: the unit of the work."""
    job = plan_jobs(_reduced(1))[-50]
    seq = benchmark(render_sequence, 0, job)
    assert all(a.shape[0] == 16 for a in seq.arrays.values())
