"""Training: ``train(experiment, out_dir)`` runs one experiment into a resumable run folder.

The loop reads top to bottom: build the model, SGD over ``model.trainable_parameters()`` with a
multi-step schedule, then for every iteration take the P x K batch of that iteration, run the model
under autocast, compose the weighted losses, skip the step when the loss is not finite, else step
the optimiser and the schedule. Checkpoints (``checkpoints/iter_XXXXXX.pt``, the newest two kept)
carry everything needed for an exact resume; ``model.pt`` is written last, atomically.

Run folder: ``config.yaml``, ``git_commit.txt``, ``versions.json``, ``train_log.jsonl``,
``checkpoints/`` and finally ``model.pt``. Under ``torchrun`` only rank 0 writes.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Optional

import torch
from torch import Tensor, nn
from tqdm import tqdm

from biggait.train import distributed as ddp
from biggait.models import losses
from biggait.train import state as ts
from biggait.config import Experiment, LossConfig, dump_yaml
from biggait.data.loader import make_train_loader
from biggait.errors import BigGaitError, ConfigError
from biggait.models import checkpoints
from biggait.models.biggait import build_model
from biggait.io import write_run_info

logger = logging.getLogger(__name__)

LOG_NAME = "train_log.jsonl"
MODEL_NAME = "model.pt"
KEEP_CHECKPOINTS = 2


@dataclasses.dataclass
class TrainResult:
    """What :func:`train_model` leaves: the final (or latest) file, the iteration, the model."""

    path: Path  # model.pt when finished, else the newest checkpoint (or the run folder)
    iteration: int  # optimiser steps done
    finished: bool
    model: Optional[nn.Module] = None  # this rank's trained model (None when already finished)


def resolve_amp(amp: str, device: torch.device) -> Optional[torch.dtype]:
    """``auto`` -> bf16 on CUDA, off on CPU; ``bf16`` / ``fp16`` as asked; ``off`` -> None."""
    if amp == "auto":
        return torch.bfloat16 if device.type == "cuda" else None
    return {"off": None, "bf16": torch.bfloat16, "fp16": torch.float16}[amp]


def _check_experiment(exp: Experiment, world: int) -> None:
    t = exp.train
    if t.total_iters < 1:
        raise ConfigError(f"train.total_iters: expected a positive integer, got {t.total_iters}")
    if t.save_every < 1 or t.log_every < 1 or t.max_nonfinite_steps < 1:
        raise ConfigError("train.save_every, train.log_every and train.max_nonfinite_steps must be >= 1")
    if list(t.milestones) != sorted(t.milestones):
        raise ConfigError(f"train.milestones: expected increasing iterations, got {list(t.milestones)}")
    if exp.data.batch_p % world:
        raise ConfigError(f"data.batch_p={exp.data.batch_p} is not divisible by the {world} processes "
                          "(each rank takes batch_p/world identities)")


def _compose(out: Any, labels: Tensor, cfg: LossConfig, distributed: bool) -> dict[str, Tensor]:
    """``losses.compose``, with the triplet term over the global batch when distributed."""
    return losses.compose(out, labels, cfg, gather=ddp.gather_embeddings if distributed else None)


def train_step(net: nn.Module, optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler, frames: Tensor,
               ratios: Tensor, labels: Tensor, loss_cfg: LossConfig, *, amp_dtype: Optional[torch.dtype] = None,
               distributed: bool = False) -> tuple[dict[str, Tensor], bool]:
    """One optimisation step: forward, weighted losses, backward, SGD. The schedule is the caller's.

    Args:
        net: the model (or its DDP wrapper), in training mode.
        frames: ``[n, s, C, H, W]``; ratios ``[n, s]``; labels ``[n]`` (this rank's share).
    Returns:
        the loss terms (``total`` included) and whether the step was skipped: a non-finite loss on
        any rank (no backward, no update), or fp16 gradients the scaler found non-finite.
    """
    optimizer.zero_grad(set_to_none=True)
    with torch.autocast(frames.device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
        out = net(frames, ratios)  # ModelOutput; embeddings [n, D, parts]
        terms = _compose(out, labels, loss_cfg, distributed)
    loss = terms["total"]
    if ddp.any_true(not bool(torch.isfinite(loss.detach()).item()), frames.device):
        return terms, True
    scale_before = scaler.get_scale() if scaler.is_enabled() else 1.0
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    # fp16: the scaler skipped the update (inf/nan gradients) when it lowered its scale
    return terms, bool(scaler.is_enabled() and scaler.get_scale() < scale_before)


def _num_classes(exp: Experiment, loader: Any) -> int:
    if exp.model.num_classes > 0:
        return exp.model.num_classes
    return int(loader.num_classes)  # the number of training identities


def _prepare_out_dir(out_dir: Path, resume: bool) -> None:
    """With ``resume=False`` forget a previous run in ``out_dir`` (model, checkpoints, log)."""
    if resume:
        return
    (out_dir / MODEL_NAME).unlink(missing_ok=True)
    (out_dir / LOG_NAME).unlink(missing_ok=True)
    shutil.rmtree(out_dir / ts.CHECKPOINT_DIR, ignore_errors=True)


def _trim_log(path: Path, data_iter: int) -> None:
    """Drop the log lines of batches after ``data_iter`` (an interrupted run's tail) before appending."""
    if not path.exists():
        return
    keep = [ln for ln in path.read_text().splitlines() if ln.strip() and json.loads(ln)["data_iter"] <= data_iter]
    path.write_text("".join(ln + "\n" for ln in keep))


class _Window:
    """Running sums of the loss terms between two log lines (tensors: no sync per step)."""

    def __init__(self) -> None:
        self.sums: dict[str, Tensor] = {}
        self.steps = 0
        self.frames = 0
        self.start = time.perf_counter()

    def add(self, terms: dict[str, Tensor], frames: int) -> None:
        for k, v in terms.items():
            v = v.detach().float()
            self.sums[k] = self.sums[k] + v if k in self.sums else v
        self.steps += 1
        self.frames += frames

    def fps(self) -> float:
        return self.frames / max(time.perf_counter() - self.start, 1e-9)

    def means(self) -> dict[str, float]:
        return {k: float(v) / max(self.steps, 1) for k, v in self.sums.items()}


def train(experiment: Experiment, out_dir: str | Path, *, resume: bool = True,
          stop_after: Optional[int] = None, progress: bool = True) -> Path:
    """Train ``experiment`` into ``out_dir`` and return the path of ``model.pt``.

    Args:
        experiment: the resolved experiment (:func:`biggait.config.load_experiment`).
        out_dir: the run folder; everything the run writes goes below it.
        resume: continue from the newest checkpoint (and return at once when ``model.pt`` exists);
            ``False`` discards a previous run in ``out_dir``.
        stop_after: stop (as if killed) once this many iterations are done; returns the newest
            checkpoint instead of ``model.pt``.
        progress: show the tqdm progress bar (rank 0, stderr).
    """
    return train_model(experiment, out_dir, resume=resume, stop_after=stop_after, progress=progress).path


def train_model(exp: Experiment, out_dir: str | Path, *, resume: bool = True,
                stop_after: Optional[int] = None, progress: bool = True) -> TrainResult:
    """:func:`train`, returning a :class:`TrainResult` that also holds this rank's model."""
    out_dir = Path(out_dir).resolve()
    info = ddp.init_from_env(exp.train.device)
    _check_experiment(exp, info.world_size)
    final = out_dir / MODEL_NAME
    if resume and final.exists():
        logger.info("%s exists: the run is finished, nothing to do", final)
        return TrainResult(final, exp.train.total_iters, True, None)
    if info.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        _prepare_out_dir(out_dir, resume)
        write_run_info(out_dir, dump_yaml(exp))
    ddp.barrier()

    # ---- state to resume from (every rank reads the same file) ----
    ckpt_path, ckpt = ts.newest_readable(out_dir) if resume else (None, None)
    if ckpt is not None:
        ts.check_resumable(ckpt["experiment"], exp, ckpt_path)
    step = int(ckpt["iteration"]) if ckpt else 0
    data_iter = int(ckpt["data_iter"]) if ckpt else 0

    # ---- model, optimiser, schedule (seeded: identical initial weights on every rank) ----
    ts.seed_all(exp.train.seed)
    loader = make_train_loader(exp, start_iter=data_iter, rank=info.rank, world_size=info.world_size)
    num_classes = _num_classes(exp, loader)
    model = build_model(exp.model, num_classes, exp.loss).to(info.device)
    if info.distributed and exp.train.sync_bn:
        model = ddp.convert_sync_batchnorm(model, info.device)
    params = [p for p in model.trainable_parameters()]
    optimizer = torch.optim.SGD(params, lr=exp.train.lr, momentum=exp.train.momentum,
                                weight_decay=exp.train.weight_decay)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, list(exp.train.milestones), exp.train.gamma)
    amp_dtype = resolve_amp(exp.train.amp, info.device)
    if info.device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # training shapes are fixed (P x K x frames)
    scaler = torch.amp.GradScaler(info.device.type, enabled=amp_dtype == torch.float16)
    if ckpt is not None:
        checkpoints.load_model_state(model, ckpt, str(ckpt_path))
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        if "scaler" in ckpt and scaler.is_enabled():
            scaler.load_state_dict(ckpt["scaler"])
        logger.info("resuming %s at iteration %d", ckpt_path, step)
    net = ddp.wrap_ddp(model, info) if info.distributed else model

    # The first batch is drawn before the generators are set: creating the DataLoader draws its
    # base seed from torch's generator, which must not shift the stream of a resumed run.
    batches = iter(loader)
    pending: Optional[tuple[int, Any]] = next(batches)
    if ckpt is not None:
        ts.restore_rng(_rank_rng(ckpt["rng"], info, exp.train.seed))
    else:
        ts.seed_all(exp.train.seed + 1000003 * info.rank)  # dropout / Black DA differ per rank
    log_path = out_dir / LOG_NAME
    if info.is_main:
        _trim_log(log_path, data_iter)

    model.set_iteration(step)  # applies the mask-branch schedule before train() sets the modes
    net.train()  # the model keeps its frozen LVM (and a frozen mask branch) in eval mode
    total = exp.train.total_iters
    stop = total if stop_after is None else min(total, stop_after)
    bar = tqdm(total=total, initial=step, desc=exp.name, file=sys.stderr, dynamic_ncols=True,
               disable=not (progress and info.is_main))
    window, bad_run, finished = _Window(), 0, False
    try:
        while step < stop:
            data_iter, batch = pending if pending is not None else next(batches)
            pending = None
            data_iter += 1  # next batch to draw
            frames, ratios, labels = (t.to(info.device, non_blocking=True) for t in (batch.frames, batch.ratios, batch.labels))
            model.set_iteration(step)
            lr = optimizer.param_groups[0]["lr"]
            terms, skipped = train_step(net, optimizer, scaler, frames, ratios, labels, exp.loss,
                                        amp_dtype=amp_dtype, distributed=info.distributed)
            n_frames = frames.shape[0] * frames.shape[1] * info.world_size
            if skipped:
                bad_run += 1
                logger.warning("iteration %d: non-finite loss or gradients, step skipped (%d in a row)", step, bad_run)
                if info.is_main:
                    _append_log(log_path, {"iteration": step, "data_iter": data_iter, "lr": lr, "skipped": True,
                                           **{k: float(v.detach()) for k, v in terms.items()}})
                if bad_run >= exp.train.max_nonfinite_steps:
                    last = ts.list_checkpoints(out_dir)
                    where = f"the last good checkpoint is {last[-1][1]}" if last else "no checkpoint was written yet"
                    raise BigGaitError(f"training stopped at iteration {step}: the loss was not finite for {bad_run} "
                                       f"consecutive steps (train.max_nonfinite_steps); {where}")
                continue
            bad_run = 0
            scheduler.step()
            step += 1
            window.add(terms, n_frames)
            bar.update(1)
            if step % exp.train.log_every == 0 or step == total:
                row = {"iteration": step, "data_iter": data_iter, "lr": lr, "frames_per_s": round(window.fps(), 3),
                       "skipped": False, **window.means()}
                bar.set_postfix(loss=f"{row['total']:.4f}", lr=f"{lr:.3g}", fps=f"{row['frames_per_s']:.1f}")
                if info.is_main:
                    _append_log(log_path, row)
            if step % exp.train.save_every == 0 or step == total:
                rng_states = ddp.gather_objects(ts.capture_rng())  # one state per rank
                if info.is_main:
                    state = {"data_iter": data_iter, "optimizer": optimizer.state_dict(),
                             "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(),
                             "rng": rng_states}
                    checkpoints.save_checkpoint(out_dir / ts.CHECKPOINT_DIR / ts.checkpoint_name(step), model, exp,
                                                num_classes, step, extra=state)
                    ts.rotate_checkpoints(out_dir, KEEP_CHECKPOINTS)
                ddp.barrier()
            if step % exp.train.log_every == 0:
                window = _Window()  # restarted after the checkpoint: frames/s counts training only
        finished = step >= total
        if finished and info.is_main:
            checkpoints.save_checkpoint(final, model, exp, num_classes, step)  # atomic
            logger.info("finished %d iterations: %s", step, final)
        ddp.barrier()
    finally:
        bar.close()
    if finished:
        return TrainResult(final, step, True, model)
    last = ts.list_checkpoints(out_dir)
    return TrainResult(last[-1][1] if last else out_dir, step, False, model)


def _rank_rng(saved: Any, info: ddp.DistInfo, seed: int) -> dict[str, Any]:
    """This rank's saved generator states (a list with one entry per rank)."""
    states = saved if isinstance(saved, list) else [saved]
    if len(states) != info.world_size:
        logger.warning("checkpoint holds generator states of %d ranks, this run has %d: reseeding",
                       len(states), info.world_size)
        ts.seed_all(seed + 1000003 * info.rank + 7)
        return ts.capture_rng()
    return states[info.rank]


def _append_log(path: Path, row: dict[str, Any]) -> None:
    """Append one JSON line; non-finite numbers become ``null`` (strict JSON)."""
    row = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}
    with path.open("a") as f:
        f.write(json.dumps(row) + "\n")
