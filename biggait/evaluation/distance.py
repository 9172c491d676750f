"""Per-strip distances between gait embeddings.

Embeddings are ``[N, C, P]`` (C channels per strip, P horizontal strips; ``[N, 256, 16]`` for
BigGait). The distance of two sequences is the per-strip distance averaged over the P strips, not
the distance of the concatenated ``C*P`` vectors (spec section 7):

- ``euc``: ``sqrt(relu(|x|^2 + |y|^2 - 2 x.y))`` per strip, summed strip by strip in float32 and
  divided by P, in the same order as the released evaluator (so the golden ``dist_full_euc``
  is reproduced to the last bit on the same machine and thread count);
- ``cos``: ``1 - mean_p cos(x_p, y_p)`` with each strip L2-normalised over its channels.

The work is one matrix product per strip; callers compute a probe x gallery matrix once and slice
it (per view pair, per condition), never recomputing it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from biggait.errors import EvaluationError

Metric = Literal["euc", "cos"]
METRICS: tuple[str, ...] = ("euc", "cos")
CHUNK_ELEMENTS = 1 << 20  # probe rows x gallery per block (4 MiB of float32 per temporary)
MIN_BLOCK_ROWS = 16


def check_features(features: np.ndarray | torch.Tensor, name: str = "features") -> None:
    """Raise :class:`EvaluationError` unless ``features`` is a finite-shaped ``[N, C, P]`` array."""
    shape = tuple(features.shape)
    if len(shape) != 3 or shape[1] == 0 or shape[2] == 0:
        raise EvaluationError(f"{name}: expected embeddings of shape [N, C, P] (e.g. [N, 256, 16]), got {list(shape)}")


def _as_float32_tensor(x: np.ndarray | torch.Tensor) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x.detach().to(device="cpu", dtype=torch.float32)
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))


@dataclass(frozen=True)
class StripMajor:
    """Embeddings prepared once for many distance computations (see :func:`prepare`)."""

    strips: torch.Tensor  # [P, N, C] float32, contiguous (cos: each strip L2-normalised)
    sq_norms: torch.Tensor  # [P, N] squared norm of every strip
    metric: str

    def rows(self, index: np.ndarray) -> StripMajor:
        """The subset of sequences ``index`` (row gathers; values unchanged bit for bit)."""
        idx = torch.from_numpy(np.asarray(index, dtype=np.int64))
        return StripMajor(self.strips.index_select(1, idx), self.sq_norms.index_select(1, idx), self.metric)


def prepare(features: np.ndarray | torch.Tensor, metric: Metric = "euc", name: str = "features") -> StripMajor:
    """Cast to float32, normalise (cos) in the reference's ``[N, C, P]`` layout, go strip-major."""
    if metric not in METRICS:
        raise EvaluationError(f"metric: expected one of {list(METRICS)}, got {metric!r}")
    check_features(features, name)
    xt = _as_float32_tensor(features)
    if metric == "cos":
        xt = F.normalize(xt, p=2, dim=1)
    # Strip-major contiguous copy [P, N, C]: every strip is one plain matmul, and the squared
    # norms are reduced over the last (contiguous) axis, the reference's summation order.
    xs = xt.permute(2, 0, 1).contiguous()
    return StripMajor(xs, (xs * xs).sum(dim=2), metric)


def pairwise_distance(
    x: np.ndarray | torch.Tensor | StripMajor, y: np.ndarray | torch.Tensor | StripMajor, metric: Metric = "euc"
) -> np.ndarray:
    """Distance matrix ``[n, m]`` (float32) between embeddings ``x [n, C, P]`` and ``y [m, C, P]``.

    fp16 inputs are cast exactly to float32 first (what fp16-autocast features look like).
    Inputs may also be :class:`StripMajor` (from :func:`prepare`, same metric) to share the
    layout conversion between many calls.
    """
    xp = x if isinstance(x, StripMajor) else prepare(x, metric, "probe features")
    yp = y if isinstance(y, StripMajor) else prepare(y, metric, "gallery features")
    if xp.metric != metric or yp.metric != metric:
        raise EvaluationError(f"prepared embeddings are for metric {xp.metric!r}/{yp.metric!r}, not {metric!r}")
    if xp.strips.shape[0] != yp.strips.shape[0] or xp.strips.shape[2] != yp.strips.shape[2]:
        raise EvaluationError(
            f"probe features [n, C={xp.strips.shape[2]}, P={xp.strips.shape[0]}] and gallery "
            f"features [m, C={yp.strips.shape[2]}, P={yp.strips.shape[0]}] differ in [C, P]"
        )
    xs, ys, sq_x, sq_y = xp.strips, yp.strips, xp.sq_norms, yp.sq_norms
    parts, n, m = xs.shape[0], xs.shape[1], ys.shape[1]
    out = np.empty((n, m), dtype=np.float32)
    if n == 0 or m == 0:
        return out
    # Probe rows in blocks so the per-strip temporaries stay in cache. Each element's arithmetic
    # is the same whatever the blocking, except that BLAS takes another path (gemv) for a block
    # of very few rows: blocks are therefore never smaller than MIN_BLOCK_ROWS. (Bit for bit with
    # MKL's native dispatch; under MKL_CBWR=COMPATIBLE a block may differ from the whole by 1 ulp.)
    # -2x scales every product and partial sum by an exact power of two, so x' @ y is bitwise
    # -2 (x @ y): the reference's "2 * matmul" without a pass over the [n, m] block.
    xm = xs if metric == "cos" else xs * -2.0
    rows = max(MIN_BLOCK_ROWS, CHUNK_ELEMENTS // m)
    starts = list(range(0, n, rows))
    if len(starts) > 1 and n - starts[-1] < MIN_BLOCK_ROWS:
        starts.pop()  # merge a short tail into the previous block
    ends = starts[1:] + [n]
    widest = max(e - s for s, e in zip(starts, ends))
    mm = torch.empty(widest, m)  # matmul output (torch: the reference's BLAS, so the same rounding)
    d = np.empty((widest, m), dtype=np.float32)
    d_t = torch.from_numpy(d).view(-1)  # the same buffer, flat, for torch's sqrt
    sq_x_np, sq_y_np = sq_x.numpy(), sq_y.numpy()
    with torch.no_grad():
        for r0, r1 in zip(starts, ends):
            b = r1 - r0
            acc = out[r0:r1]  # [b, m], written in place
            acc.fill(0.0)
            mm_b, d_b = mm[:b], d[:b]
            mm_np = mm_b.numpy()
            # Element-wise steps in numpy (IEEE-exact like torch's, single-threaded: no thread-pool
            # synchronisation on every op), except the square root: torch's vectorised float32
            # sqrt is not always correctly rounded (1 ulp), and the reference uses it.
            for p in range(parts):
                torch.mm(xm[p, r0:r1], ys[p].T, out=mm_b)  # [b, m]: -2 x.y (euc) or x.y (cos)
                if metric == "cos":
                    acc += mm_np
                    continue
                np.add(sq_x_np[p, r0:r1, None], sq_y_np[p, None, :], out=d_b)
                d_b += mm_np  # |x|^2 + |y|^2 - 2xy, in the reference's order (mm_np holds -2xy)
                np.maximum(d_b, 0.0, out=d_b)
                d_t[: b * m].sqrt_()  # torch's sqrt: the reference's rounding
                acc += d_b
            acc /= np.float32(parts)
            if metric == "cos":
                np.subtract(np.float32(1.0), acc, out=acc)
    return out
