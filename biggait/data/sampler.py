"""P x K triplet sampling over iterations, as pure functions of ``(seed, iteration)``.

Every random choice of training iteration ``i`` (identities, sequences, flips, frames) is drawn
from ``np.random.default_rng([seed, i, ...])``. The batch of iteration ``i`` is therefore the same
whatever the number of DataLoader workers, and a run resumed at iteration ``i`` sees exactly the
batches an uninterrupted run would have seen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from biggait.errors import DataError

__all__ = ["IterationPlan", "plan_iteration", "sample_frames", "frame_rng", "first_frames"]


@dataclass(frozen=True)
class IterationPlan:
    """What iteration ``iteration`` draws: P*K sequence indices, grouped by identity, and flips."""

    iteration: int
    seq_indices: np.ndarray  # [P*K] int64, identity-major (K consecutive sequences per identity)
    flips: np.ndarray  # [P*K] bool, horizontal flip of the whole sequence


def plan_iteration(
    seed: int, iteration: int, by_label: list[np.ndarray], batch_p: int, batch_k: int, flip_prob: float
) -> IterationPlan:
    """Draw the sequences and flips of one training iteration.

    P identities are drawn without replacement; for each, K sequences are drawn without
    replacement when it has at least K, else with replacement.

    Args:
        seed: the run's seed.
        iteration: the iteration number (0-based).
        by_label: for each identity, the indices of its sequences (non-empty arrays).
        batch_p: identities per batch (P).
        batch_k: sequences per identity (K).
        flip_prob: probability of flipping a sequence horizontally.
    """
    if batch_p < 1 or batch_k < 1:
        raise DataError(f"batch_p={batch_p}, batch_k={batch_k}: expected positive integers")
    if len(by_label) < batch_p:
        raise DataError(f"the training split has {len(by_label)} identities, fewer than data.batch_p={batch_p}")
    rng = np.random.default_rng([seed, iteration])
    ids = rng.choice(len(by_label), size=batch_p, replace=False)
    chosen = []
    for k in ids:
        pool = by_label[k]
        chosen.append(rng.choice(pool, size=batch_k, replace=len(pool) < batch_k))
    seq = np.concatenate(chosen).astype(np.int64)
    flips = rng.random(len(seq)) < flip_prob
    return IterationPlan(iteration, seq, flips)


def frame_rng(seed: int, iteration: int, slot: int) -> np.random.Generator:
    """The generator of the frame draw of batch slot ``slot`` at ``iteration``."""
    return np.random.default_rng([seed, iteration, slot + 1])


def sample_frames(rng: np.random.Generator, length: int, count: int) -> np.ndarray:
    """``count`` unordered frame indices of a ``length``-frame sequence.

    Without replacement when the sequence is long enough, else with replacement.
    """
    if length < 1:
        raise DataError(f"cannot sample frames from a sequence of {length} frames")
    return rng.choice(length, size=count, replace=length < count).astype(np.int64)


def first_frames(length: int, cap: int) -> np.ndarray:
    """Test frames: natural order, the first ``cap`` frames (``cap`` <= 0 keeps all)."""
    n = length if cap <= 0 else min(length, cap)
    return np.arange(n, dtype=np.int64)
