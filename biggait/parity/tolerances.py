"""Every tolerance of the golden parity checks, in one place (``biggait selfcheck`` and the tests).

The goldens were made on one AMD machine; float32 results are never bit-exact across CPUs (another
matmul / conv / softmax kernel: AVX2 vs AVX-512, Intel vs AMD). The bounds follow the golden
README: section 7 ("Reproducibility and tolerances") for the forward, losses and evaluator, section 9
for the training steps. Each comment gives the measurement behind the bound. Discrete outputs
(selections, flips, counts, validity), uint8 pre-processing and evaluator numbers are compared
exactly (:func:`biggait.parity.golden.compare_exact`) and need no constant here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np

EPS32 = float(np.finfo(np.float32).eps)  # 2^-23: float32 machine epsilon

# --- Forward and losses (README section 7; "fp64" = the goldens vs a float64 run of the same network)
TAP_ATOL = 1e-4  # DINOv2 taps: fp64 7.8e-6 (values up to ~5), one thread instead of two 2.9e-6
MAP_ATOL = 2e-5  # GRE maps / probabilities, padding_resize: fp64 1.9e-6, one thread 6.6e-7 (4.8e-7)
POOL_ATOL = 2e-5  # tp_feat / hpp_feat: fp64 6.0e-7, one thread 6e-7
EMB_ATOL = 2e-6  # embed_1 / bnneck_feat / logits: fp64 2.2e-7, one thread 9e-8
LOSS_RTOL = 1e-5  # loss scalars: fp64 <= 1.2e-7 (relative 1e-7 and below)
LOSS_ATOL = 1e-7  # loss scalars near 0 (a relative bound alone would demand exactness there)

# --- Distances (README section 7; sqrt(|x|^2 + |y|^2 - 2 x.y) per strip, averaged over strips)
DIST_RTOL = 2e-6  # off the diagonal: Xeon AVX-512 vs the golden machine 3.5e-7 relative (2.4e-6 abs)
DIST_ATOL = 0.0  # none needed: no off-diagonal entry is near 0 (smallest 4.99 in eval_*, 0.88 in loss_triplet)
SELF_DIST_ATOL = 5e-3  # self-distances = sqrt(cancellation error) ~ sqrt(eps |x|^2) ~ 1e-3, never exact:
#                        golden diagonal up to 1.8e-3, 1.6e-3 apart on a Xeon (AVX-512)
TRIPLET_MEAN_DIST_ATOL = 1e-4  # triplet mean_dist, self-distances included: (self noise ~1e-3) / N, N = 16;
#                                measured 1.4e-5 on a Xeon
METRIC_ATOL = 1e-12  # mAP / mINP: functions of the rankings (identical on every CPU) summed in float64;
#                      1e-12 is summation order only, 9 decimals below the printed 3: exact in effect

# --- Training steps (README section 9: about 3x the spread under a batch permutation or one thread)
STEP1_LOSS_RTOL = 2e-5  # step-1 loss terms and total: measured 3.4e-6 (diversity), total 4.0e-7
STEP1_OUT_ATOL = 2e-5  # step-1 embed_1 / logits: measured 5.4e-6 / 3.4e-6
STEP1_BUFFER_ATOL = 1e-5  # step-1 BatchNorm running statistics: measured 3.2e-6
STEP1_HEAD_GRAD_REL_L2 = 1e-4  # step-1 FCs / BNNecks gradients, relative L2: measured 1.7e-5
STEP1_GRAD_REL_L2 = 3e-2  # step-1 trunk / stem / GRE gradients (ill-conditioned BN backward): up to 1.0e-2
STEP1_PARAM_ATOL = 1.5e-3  # step-1 parameters: measured 4.0e-4 (stem conv1, update up to 5.3e-2)
STEP1_PARAM_REL_UPDATE = 3e-2  # step-1 |theta - golden| / |golden - theta0|: measured 9.9e-3
PRE_BN_BIAS_PARAM_ATOL = 5e-7  # the two pre-BN biases after steps 1 and 5 (momentum + weight decay
#                                only): measured 4e-8 / 9e-8; no momentum 8e-6, no weight decay 2.1e-5
LATER_TOTAL_RTOL = (1e-3, 3e-2, 0.1, 0.2)  # loss_total, steps 2..5 (chaotic): 3.0e-4, 7.6e-3, 2.2e-2, 5.5e-2
LATER_TERM_RTOL = (1e-2, 0.1, 0.15, 0.5)  # single terms, steps 2..5: 2.5e-3, 3.3e-2, 4.8e-2, 1.6e-1
FINAL_PARAM_REL_UPDATE = 0.75  # after step 5, relative to the update: measured 0.26 (gross errors only)
FINAL_BUFFER_REL_MAX = 0.6  # after step 5, BN buffers relative to their max: measured 0.2


def analytic_zero_bound(x: np.ndarray, grad_out: np.ndarray, bn_eps: float = 1e-5) -> np.ndarray:
    """Per-channel bound on the rounding noise of the gradient of a bias that feeds a batch-statistics,
    non-affine BatchNorm (``x`` ``[N, C]`` the BatchNorm's input, ``grad_out`` ``[N, C]`` the gradient
    at its output). Such a gradient is analytically 0; what is computed is rounding noise.

    BatchNorm's backward gives the bias ``sum_i r (g_i - mean(g) - (x_i - mu) k)`` with
    ``r = 1/sqrt(var + eps)`` and ``k = r^2 mean((x - mu) g)``: the terms cancel exactly, since
    ``sum_i (g_i - mean(g)) = 0`` and ``sum_i (x_i - mu) = 0``. In float32 each term carries a relative
    error of about eps, ``mu`` itself an error of up to ``eps log2(N) sum|x_i| / N`` (which enters
    ``N`` times through ``N k mu``), and a cascade sum of N terms (ATen's reductions) errs by up to
    ``eps log2(N) sum|terms|`` (Higham, Accuracy and Stability, section 4.2). Hence the bound
    ``log2(N) eps r sum_i (|g_i| + |mean(g)| + (|x_i - mu| + |x_i|) |k|)``, computed in float64.
    Measured: the noise reaches at most 0.19 of it (the GRE token-projection test over 60 steps, with
    the AVX-512, AVX2 and default kernels) and 0.09 in the training golden (ours and the golden's own).
    """
    x, g = np.asarray(x, np.float64), np.asarray(grad_out, np.float64)
    if x.ndim != 2 or x.shape != g.shape or x.shape[0] < 2:
        raise ValueError(f"analytic_zero_bound: expected two [N >= 2, C] arrays, got {x.shape} and {g.shape}")
    n = x.shape[0]
    centred = x - x.mean(axis=0)
    r = 1.0 / np.sqrt((centred**2).mean(axis=0) + bn_eps)
    k = r**2 * (centred * g).mean(axis=0)
    terms = np.abs(g).sum(axis=0) + n * np.abs(g.mean(axis=0)) + (np.abs(centred) + np.abs(x)).sum(axis=0) * np.abs(k)
    return np.log2(n) * EPS32 * r * terms


@contextlib.contextmanager
def bias_zero_bounds(norms: dict[str, Any]) -> Iterator[dict[str, np.ndarray]]:
    """Within the block, every backward through one of the BatchNorm modules ``norms`` (name -> module)
    stores :func:`analytic_zero_bound` of that BatchNorm's input and output gradient in the yielded dict,
    under its name: the bound for the gradient of the bias in front of it. The hooks go at exit."""
    inputs: dict[str, Any] = {}
    bounds: dict[str, np.ndarray] = {}

    def keep_input(name: str):
        return lambda module, args, out: inputs.__setitem__(name, args[0].detach())

    def bound(name: str):
        return lambda module, grad_in, grad_out: bounds.__setitem__(
            name,
            analytic_zero_bound(
                inputs[name].cpu().numpy(), grad_out[0].detach().cpu().numpy(), getattr(module, "eps", 1e-5)
            ),
        )

    handles = [
        h
        for name, m in norms.items()
        for h in (m.register_forward_hook(keep_input(name)), m.register_full_backward_hook(bound(name)))
    ]
    try:
        yield bounds
    finally:
        for h in handles:
            h.remove()
