"""The trainer's checkpoints: what they hold beyond the weights, how they are written, found, rotated,
read back and checked before a resume (the file format itself is :mod:`biggait.models.checkpoints`).

Exact resume needs the model, optimiser, LR scheduler, grad scaler, the iteration counters and
every random-number generator that training draws from (dropout and Black DA use torch's global
generator; numpy and Python's ``random`` are saved too in case a component uses them). Everything
is stored as tensors, ints and lists so the file loads with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import logging
import os
import random
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from biggait import paths
from biggait.config import Experiment, to_dict
from biggait.errors import BigGaitError, CheckpointError
from biggait.locks import holder, try_lock
from biggait.models.checkpoints import load_checkpoint, load_model_state, save_checkpoint

logger = logging.getLogger(__name__)

CHECKPOINT_DIR = paths.CHECKPOINT_DIR
KEEP_CHECKPOINTS = 2  # the newest two are kept
_CKPT_RE = re.compile(r"^iter_(\d{6,})\.pt$")

# Keys that may change between a checkpoint and its resumption without changing the mathematics:
# run-time knobs, and the schedule's length (a finished run may be extended).
RESUME_FREE_KEYS = frozenset(
    {
        "name",
        "description",
        "data.num_workers",
        "data.root",
        "data.partition",
        "model.lvm_checkpoint",
        "model.mask_pretrained",
        "train.log_every",
        "train.save_every",
        "train.max_nonfinite_steps",
        "train.device",
        "train.total_iters",
        "eval",
    }
)


def seed_all(seed: int) -> None:
    """Seed torch (CPU and every CUDA device), numpy's global generator and Python's ``random``."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def capture_rng() -> dict[str, Any]:
    """The state of every global generator, in a ``weights_only``-loadable form."""
    np_state = np.random.get_state(legacy=True)  # ('MT19937', key[624] uint32, pos, has_gauss, gauss)
    py_version, py_internal, py_gauss = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy_key": torch.from_numpy(np.asarray(np_state[1], dtype=np.int64)),
        "numpy_rest": [int(np_state[2]), int(np_state[3]), float(np_state[4])],
        "python": [int(py_version), list(py_internal), py_gauss],
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Put every global generator back where :func:`capture_rng` found it."""
    torch.set_rng_state(state["torch"].cpu())
    pos, has_gauss, gauss = state["numpy_rest"]
    key = state["numpy_key"].numpy().astype(np.uint32)
    np.random.set_state(("MT19937", key, int(pos), int(has_gauss), float(gauss)))
    version, internal, py_gauss = state["python"]
    random.setstate((int(version), tuple(int(v) for v in internal), py_gauss))
    if "cuda" in state and torch.cuda.is_available():
        cuda_states = state["cuda"]
        if len(cuda_states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all([s.cpu() for s in cuda_states])
        else:
            logger.warning(
                "CUDA generator states not restored: saved for %d devices, %d visible",
                len(cuda_states),
                torch.cuda.device_count(),
            )


def checkpoint_name(iteration: int) -> str:
    """``iter_000300.pt``."""
    return f"iter_{iteration:06d}.pt"


def list_checkpoints(out_dir: Path) -> list[tuple[int, Path]]:
    """``(iteration, path)`` of the run's checkpoints, oldest first."""
    ckpt_dir = Path(out_dir) / CHECKPOINT_DIR
    if not ckpt_dir.is_dir():
        return []
    found = []
    for p in ckpt_dir.iterdir():
        m = _CKPT_RE.match(p.name)
        if m and p.is_file():
            found.append((int(m.group(1)), p))
    return sorted(found)


def rotate_checkpoints(out_dir: Path, keep: int = 2) -> None:
    """Delete all but the newest ``keep`` checkpoints."""
    for _, path in list_checkpoints(out_dir)[:-keep]:
        path.unlink(missing_ok=True)


def prepare_out_dir(out_dir: Path, resume: bool) -> None:
    """With ``resume=False`` forget a previous run in ``out_dir`` (model, checkpoints, log)."""
    if resume:
        return
    (out_dir / paths.MODEL_NAME).unlink(missing_ok=True)
    (out_dir / paths.TRAIN_LOG).unlink(missing_ok=True)
    shutil.rmtree(out_dir / CHECKPOINT_DIR, ignore_errors=True)


def save_trainer_checkpoint(
    out_dir: Path,
    model: torch.nn.Module,
    exp: Experiment,
    num_classes: int,
    step: int,
    data_iter: int,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    scaler: torch.amp.GradScaler,
    rng_states: list[dict[str, Any]],
) -> None:
    """Write ``checkpoints/iter_<step>.pt`` with everything an exact resume needs; keep the newest two."""
    state = {
        "data_iter": data_iter,
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "scaler": scaler.state_dict(),
        "rng": rng_states,
    }
    path = Path(out_dir) / CHECKPOINT_DIR / checkpoint_name(step)
    try:
        save_checkpoint(path, model, exp, num_classes, step, extra=state)
    except OSError as exc:  # e.g. no space left: the write went to a temporary file, nothing was replaced
        previous = list_checkpoints(Path(out_dir))
        kept = f"the previous checkpoint {previous[-1][1]} is intact" if previous else "no earlier checkpoint exists"
        raise CheckpointError(
            f"{path}: could not write the checkpoint of iteration {step} "
            f"({exc.strerror or exc}); {kept}; free space and run the same command to resume"
        ) from None
    rotate_checkpoints(out_dir, KEEP_CHECKPOINTS)


def restore_trainer_state(
    ckpt: dict[str, Any],
    source: str,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    scaler: torch.amp.GradScaler,
) -> None:
    """Load a trainer checkpoint's weights, optimiser, schedule and (when in use) grad-scaler state."""
    load_model_state(model, ckpt, source)
    optimizer.load_state_dict(ckpt["optimizer"])
    scheduler.load_state_dict(ckpt["scheduler"])
    if "scaler" in ckpt and scaler.is_enabled():
        scaler.load_state_dict(ckpt["scaler"])


def rank_rng(saved: Any, rank: int, world_size: int, seed: int) -> dict[str, Any]:
    """This rank's saved generator states (a list with one entry per rank); reseeded when the world changed."""
    states = saved if isinstance(saved, list) else [saved]
    if len(states) != world_size:
        logger.warning(
            "checkpoint holds generator states of %d ranks, this run has %d: reseeding", len(states), world_size
        )
        seed_all(seed + 1000003 * rank + 7)
        return capture_rng()
    return states[rank]


def read_checkpoint(path: Path) -> dict[str, Any]:
    """Load a trainer checkpoint safely (``weights_only``), naming the file on any failure."""
    try:
        ckpt = load_checkpoint(path)
    except CheckpointError:
        raise
    except Exception as exc:  # e.g. struct.error from a truncated pickle
        raise CheckpointError(f"{path}: not a readable torch checkpoint ({type(exc).__name__}: {exc})") from None
    missing = [k for k in ("optimizer", "scheduler", "data_iter", "rng") if k not in ckpt]
    if missing:
        raise CheckpointError(f"{path}: not a resumable trainer checkpoint (missing {', '.join(missing)})")
    return ckpt


def newest_readable(out_dir: Path) -> tuple[Path | None, dict[str, Any] | None]:
    """The newest checkpoint that reads, falling back to the one before it (with a warning).

    Returns ``(None, None)`` when the run has no checkpoint; raises the newest file's
    CheckpointError when none of them reads.
    """
    found = list_checkpoints(out_dir)
    first_error: CheckpointError | None = None
    for _, path in reversed(found):
        try:
            return path, read_checkpoint(path)
        except CheckpointError as exc:
            logger.warning("%s; trying an older checkpoint", exc)
            first_error = first_error or exc
    if first_error is not None:
        raise first_error
    return None, None


def _flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _is_free(key: str) -> bool:
    return any(key == f or key.startswith(f + ".") for f in RESUME_FREE_KEYS)


def check_resumable(saved: dict, exp: Experiment, path: Path) -> None:
    """Raise CheckpointError if ``saved`` (a ``to_dict`` of an experiment) trains differently from ``exp``."""
    old, new = _flatten(saved), _flatten(to_dict(exp))
    # A key added to the config after the checkpoint was written trains as its default did.
    defaults = _flatten(to_dict(Experiment()))
    for key in sorted(set(old) | set(new)):
        if _is_free(key):
            continue
        a, b = old.get(key, defaults.get(key, "<absent>")), new.get(key, "<absent>")
        if isinstance(a, tuple):
            a = list(a)
        if a != b:
            raise CheckpointError(
                f"{path}: was trained with {key}={a!r} but the experiment now says {key}={b!r}; "
                "use --no-resume or another --out folder"
            )


class RunLock:
    """An exclusive lock on a run folder (``<run>/.lock``) for as long as a training writes into it, so
    that two trainings can never write one run (:func:`biggait.locks.try_lock`)."""

    def __init__(self, out_dir: Path) -> None:
        self.path = Path(out_dir) / ".lock"
        self.fd: int | None = None

    def __enter__(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = try_lock(self.path)
        if self.fd is None:
            raise BigGaitError(
                f"{self.path.parent}: another training (pid {holder(self.path) or '?'}) is writing "
                "this run folder; wait for it to finish or give this one another --out"
            )
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
