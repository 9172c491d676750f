"""Training-step benchmarks (``pytest tests/benchmarks --benchmark-enable`` to time them).

By default (``--benchmark-disable``) each runs once as a smoke test. This times the trainer's own
step (:func:`biggait.train.loop.train_step`: autocast switch, composed losses, non-finite check, scaler,
SGD) on the demo configuration's full P x K batch. The paper-size BigGait-S step of
``performance.md`` (n=4, s=8, 448x224) is timed in ``test_bench_model.py``.
"""

from __future__ import annotations

import math

import torch

from biggait.config import load_experiment
from biggait.models.biggait import build_model
from biggait.train.loop import train_step


def _step_fn(exp, frames: torch.Tensor, ratios: torch.Tensor, labels: torch.Tensor, num_classes: int, iteration: int):
    torch.manual_seed(0)
    model = build_model(exp.model, num_classes, exp.loss)
    model.set_iteration(iteration)
    model.train()
    opt = torch.optim.SGD(
        model.trainable_parameters(), lr=exp.train.lr, momentum=exp.train.momentum, weight_decay=exp.train.weight_decay
    )
    scaler = torch.amp.GradScaler("cpu", enabled=False)

    def step() -> float:
        terms, skipped = train_step(model, opt, scaler, frames, ratios, labels, exp.loss)
        assert not skipped
        return float(terms["total"].detach())

    return step


def test_bench_train_step_demo(benchmark):
    """One step of the demo configuration: P x K = 4 x 4 sequences of 8 frames, tiny ViT."""
    exp = load_experiment(None, scale="demo", overrides=["train.device=cpu"])
    n, s = exp.data.batch_p * exp.data.batch_k, exp.data.frames_per_seq
    g = torch.Generator().manual_seed(0)
    frames = torch.randn(n, s, 3, 128, 64, generator=g)  # [n, s, C, H, W] normalised RGB
    ratios = torch.full((n, s), 0.45)
    labels = torch.arange(exp.data.batch_p).repeat_interleave(exp.data.batch_k)
    step = _step_fn(exp, frames, ratios, labels, num_classes=20, iteration=0)
    loss = benchmark.pedantic(step, rounds=3, iterations=1, warmup_rounds=1)
    assert math.isfinite(loss)
