"""Training-batch throughput of the data pipeline (``make bench`` to time it).

A tiny SynthGait CCPG tree is read through ``make_train_loader``: restricted unpickling, P x K
sampling, frame selection, flip and normalisation. By default (``--benchmark-disable``) it runs
once as a smoke test.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from biggait.config import load_experiment
from biggait.data.loader import make_train_loader
from biggait.synthgait.domains import DomainPlan
from biggait.synthgait.generator import SynthSpec, generate


@pytest.fixture(scope="module")
def ccpg_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sg")
    generate(out, SynthSpec(0, {"ccpg": DomainPlan(4, 0, 16, ("01", "02"))}), workers=1, progress=False)
    return out


@pytest.mark.parametrize("workers", [0, 2])
def test_bench_train_batches(benchmark, ccpg_tree: Path, workers: int) -> None:
    exp = load_experiment(
        scale="demo",
        overrides=[
            f"data.root={ccpg_tree / 'ccpg'}",
            f"data.partition={ccpg_tree / 'ccpg.json'}",
            "data.batch_p=4",
            "data.batch_k=4",
            f"data.num_workers={workers}",
        ],
    )

    def ten_batches() -> int:
        return sum(b.frames.shape[0] for _, b in itertools.islice(make_train_loader(exp), 10))

    assert benchmark.pedantic(ten_batches, rounds=2, iterations=1) == 160
