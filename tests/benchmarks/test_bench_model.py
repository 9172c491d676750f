"""Speed of BigGait's training step and inference (performance.md).

Reference on the project's 2-core machine (released code, fp32): training step n=4 x s=8 frames
of 3x256x128 12.1 s; inference 1 x 16 frames 4.73 s (3.38 frames/s). Goals: step <= 0.75x, and
inference >= 1.3x the frames/s. Run with ``--benchmark-enable`` to time (the paper shapes: median of 3
after a warm-up, as performance.md reports); by default each runs once as a smoke test. The frames/s figure is stored
in ``extra_info``.
"""

from __future__ import annotations

import pytest
import torch

from biggait.config import LossConfig, ModelConfig, load_experiment
from biggait.models import build_model
from biggait.models.losses import compose


def _setup(cfg: ModelConfig, n: int, s: int, h: int, w: int, num_classes: int = 100):
    torch.manual_seed(0)
    model = build_model(cfg, num_classes, LossConfig())
    frames = torch.randn(n, s, 3, h, w)
    ratios = torch.full((n, s), 0.5)
    labels = torch.arange(n // 2 or 1).repeat_interleave(2)[:n]
    return model, frames, ratios, labels


def _train_step(model, opt, frames, ratios, labels) -> float:
    out = model(frames, ratios)
    terms = compose(out, labels, LossConfig())
    opt.zero_grad(set_to_none=True)
    terms["total"].backward()
    opt.step()
    return float(terms["total"].detach())


def _bench_train(benchmark, cfg: ModelConfig, n: int, s: int, h: int, w: int, rounds: int, warmup: int = 0) -> None:
    model, frames, ratios, labels = _setup(cfg, n, s, h, w)
    model.train()
    model.set_iteration(cfg.mask_train_iters)  # after the mask freeze, as in performance.md
    opt = torch.optim.SGD(model.trainable_parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    loss = benchmark.pedantic(
        _train_step, args=(model, opt, frames, ratios, labels), rounds=rounds, iterations=1, warmup_rounds=warmup
    )
    benchmark.extra_info["frames_per_step"] = n * s
    assert loss == loss  # finite number returned (NaN != NaN)


def _bench_infer(benchmark, cfg: ModelConfig, s: int, h: int, w: int, rounds: int, warmup: int = 0) -> None:
    model, frames, ratios, _ = _setup(cfg, 1, s, h, w)
    model.eval()

    def infer():
        with torch.no_grad():
            return model(frames, ratios).embeddings

    emb = benchmark.pedantic(infer, rounds=rounds, iterations=1, warmup_rounds=warmup)
    if benchmark.stats is not None and benchmark.stats.stats.median:
        benchmark.extra_info["frames_per_s"] = s / benchmark.stats.stats.median
    assert emb.shape == (1, cfg.embed_dim, cfg.parts) and torch.isfinite(emb).all()


@pytest.mark.slow
def test_bench_paper_train_step(benchmark):
    """BigGait-S, n=4 x s=8 frames of 3x256x128, forward + losses + backward + SGD."""
    _bench_train(benchmark, ModelConfig(), 4, 8, 256, 128, rounds=3, warmup=1)


@pytest.mark.slow
def test_bench_paper_inference(benchmark):
    """BigGait-S test path, 1 sequence x 16 frames of 3x256x128."""
    _bench_infer(benchmark, ModelConfig(), 16, 256, 128, rounds=3, warmup=1)


def test_bench_demo_train_step(benchmark):
    cfg = load_experiment(None, scale="demo").model
    _bench_train(benchmark, cfg, 8, 8, 112, 56, rounds=3)


def test_bench_demo_inference(benchmark):
    cfg = load_experiment(None, scale="demo").model
    _bench_infer(benchmark, cfg, 24, 112, 56, rounds=3)
