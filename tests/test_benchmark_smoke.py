"""A quick run of each benchmark's workload (tests/benchmarks, timed by `make bench`) at a small size,
so the default `make test` keeps them working without timing anything."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import torch
from benchmarks import test_bench_eval as bench_eval
from benchmarks import test_bench_model as bench_model
from benchmarks import test_bench_synth as bench_synth
from benchmarks import test_bench_train as bench_train

from biggait.config import load_experiment
from biggait.data.loader import make_train_loader
from biggait.evaluation.protocols import evaluate
from biggait.synthgait.domains import DomainPlan
from biggait.synthgait.generator import SynthSpec, generate, plan_jobs, render_sequence


def test_data_pipeline_workload(tmp_path: Path) -> None:  # test_bench_data
    generate(tmp_path, SynthSpec(0, {"ccpg": DomainPlan(4, 0, 4, ("01",))}), workers=1, progress=False)
    exp = load_experiment(
        scale="demo",
        overrides=[
            f"data.root={tmp_path / 'ccpg'}",
            f"data.partition={tmp_path / 'ccpg.json'}",
            "data.batch_p=2",
            "data.batch_k=2",
            "data.num_workers=0",
        ],
    )
    batches = [b for _, b in itertools.islice(make_train_loader(exp), 2)]
    assert [b.frames.shape[0] for b in batches] == [4, 4]


def test_protocol_workloads() -> None:  # test_bench_eval
    ccpg = bench_eval._synthetic(6, bench_eval.CCPG_TYPES, [f"{v:02d}_x" for v in range(1, 4)], None)
    res = evaluate("ccpg", *ccpg, metric="euc", bootstrap=20, seed=0)
    assert {r.protocol for r in res.rows} == {"gait", "reid"} and len(res.matrices) == 4
    casiab = bench_eval._synthetic(4, bench_eval.CASIAB_TYPES, ["000", "090"], None, seed=1)
    res = evaluate("casiab", *casiab, metric="euc", bootstrap=0)
    assert [m.values.shape for m in res.matrices] == [(2, 2)] * 3
    assert all(np.isfinite(r.value) for r in res.rows)


def test_model_step_and_inference_workloads() -> None:  # test_bench_model
    cfg = load_experiment(None, scale="demo").model
    model, frames, ratios, labels = bench_model._setup(cfg, 2, 2, 112, 56)
    model.train()
    opt = torch.optim.SGD(model.trainable_parameters(), lr=0.1)
    assert math.isfinite(bench_model._train_step(model, opt, frames, ratios, labels))
    with torch.no_grad():
        assert model.eval()(frames[:1], ratios[:1]).embeddings.shape == (1, cfg.embed_dim, cfg.parts)


def test_synth_workloads(tmp_path: Path) -> None:  # test_bench_synth
    spec = bench_synth._reduced(1)
    seq = render_sequence(0, plan_jobs(spec)[-50])
    assert all(a.shape[0] == 16 for a in seq.arrays.values())
    small = SynthSpec(0, {"casiab": DomainPlan(0, 1, 2, ("090",))})
    assert generate(tmp_path, small, workers=1, progress=False) == {"written": len(plan_jobs(small)), "skipped": 0}


def test_trainer_step_workload() -> None:  # test_bench_train
    exp = load_experiment(None, scale="demo", overrides=["train.device=cpu"])
    frames = torch.randn(4, 2, 3, 128, 64, generator=torch.Generator().manual_seed(0))
    step = bench_train._step_fn(
        exp, frames, torch.full((4, 2), 0.45), torch.tensor([0, 0, 1, 1]), num_classes=20, iteration=0
    )
    assert math.isfinite(step())
