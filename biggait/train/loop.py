"""Training: ``train(experiment, out_dir)`` runs one experiment into a resumable run folder.

:class:`_Trainer` reads top to bottom: build the model, SGD over ``model.trainable_parameters()``
with a multi-step schedule (restored from the newest checkpoint when resuming), then for every iteration take the P x
K batch of that iteration, run the model
under autocast, compose the weighted losses, skip the step when the loss is not finite, else step
the optimiser and the schedule. Checkpoints (``checkpoints/iter_XXXXXX.pt``, the newest two kept)
carry everything needed for an exact resume (:mod:`biggait.train.state`); ``model.pt`` is written
last, atomically.

Run folder: ``config.yaml``, ``git_commit.txt``, ``versions.json``, ``train_log.jsonl``,
``checkpoints/`` and finally ``model.pt``. Under ``torchrun`` only rank 0 writes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from tqdm import tqdm

from biggait import paths
from biggait.config import Experiment, LossConfig, dump_yaml
from biggait.data.loader import make_train_loader
from biggait.errors import BigGaitError, ConfigError
from biggait.io import write_run_info
from biggait.models import losses
from biggait.models.biggait import build_model
from biggait.models.checkpoints import save_checkpoint
from biggait.progress import progress_bar
from biggait.train import distributed as ddp
from biggait.train import state as ts
from biggait.train.preempt import Preempted, StopRequest

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class TrainResult:
    """What :func:`train_model` leaves: the final (or latest) file, the iteration, the model."""

    path: Path  # model.pt when finished, else the newest checkpoint (or the run folder)
    iteration: int  # optimiser steps done
    finished: bool
    model: nn.Module | None = None  # this rank's trained model (None when already finished)


def resolve_amp(amp: str, device: torch.device, bf16_supported: bool | None = None) -> torch.dtype | None:
    """``auto`` -> bf16 on a GPU that supports it, else fp16 (with the gradient scaler); off on CPU.
    ``bf16`` / ``fp16`` as asked; ``off`` -> None. ``bf16_supported`` overrides the GPU query (tests)."""
    if amp == "auto":
        if device.type != "cuda":
            return None
        if bf16_supported is None:
            bf16_supported = torch.cuda.is_bf16_supported()
        return torch.bfloat16 if bf16_supported else torch.float16
    return {"off": None, "bf16": torch.bfloat16, "fp16": torch.float16}[amp]


def set_deterministic(on: bool) -> None:
    """``train.deterministic``: deterministic algorithms (an op without one raises), the cuBLAS workspace
    setting they need, and no cuDNN autotuning. Slower; for bit-exact re-runs on the same machine."""
    if not on:
        return
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True


def _check_experiment(exp: Experiment, world: int) -> None:
    t = exp.train
    if t.total_iters < 1:
        raise ConfigError(f"train.total_iters: expected a positive integer, got {t.total_iters}")
    if t.save_every < 1 or t.log_every < 1 or t.max_nonfinite_steps < 1:
        raise ConfigError("train.save_every, train.log_every and train.max_nonfinite_steps must be >= 1")
    if list(t.milestones) != sorted(t.milestones):
        raise ConfigError(f"train.milestones: expected increasing iterations, got {list(t.milestones)}")
    if exp.data.batch_p % world:
        raise ConfigError(
            f"data.batch_p={exp.data.batch_p} is not divisible by the {world} processes "
            "(each rank takes batch_p/world identities)"
        )


def _compose(out: Any, labels: Tensor, cfg: LossConfig, distributed: bool) -> dict[str, Tensor]:
    """``losses.compose``, with the triplet term over the global batch when distributed."""
    return losses.compose(out, labels, cfg, gather=ddp.gather_embeddings if distributed else None)


def train_step(
    net: nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    frames: Tensor,
    ratios: Tensor,
    labels: Tensor,
    loss_cfg: LossConfig,
    *,
    amp_dtype: torch.dtype | None = None,
    distributed: bool = False,
) -> tuple[dict[str, Tensor], bool]:
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


def train(
    experiment: Experiment,
    out_dir: str | Path,
    *,
    resume: bool = True,
    stop_after: int | None = None,
    progress: bool = True,
) -> Path:
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


def train_model(
    exp: Experiment,
    out_dir: str | Path,
    *,
    resume: bool = True,
    stop_after: int | None = None,
    progress: bool = True,
) -> TrainResult:
    """:func:`train`, returning a :class:`TrainResult` that also holds this rank's model."""
    out_dir = Path(out_dir).resolve()
    info = ddp.init_from_env(exp.train.device)
    _check_experiment(exp, info.world_size)
    final = out_dir / paths.MODEL_NAME
    if resume and final.exists():
        logger.info("%s exists: the run is finished, nothing to do", final)
        return TrainResult(final, exp.train.total_iters, True, None)
    with ts.RunLock(out_dir) if info.is_main else contextlib.nullcontext():  # one training per run folder
        if info.is_main:
            ts.prepare_out_dir(out_dir, resume)
            write_run_info(out_dir, dump_yaml(exp))
        ddp.barrier()
        ckpt_path, ckpt = ts.newest_readable(out_dir) if resume else (None, None)  # every rank reads the same file
        if ckpt is not None:
            ts.check_resumable(ckpt["experiment"], exp, ckpt_path)
        trainer = _Trainer(exp, out_dir, info, ckpt, ckpt_path)
        stop = exp.train.total_iters if stop_after is None else min(exp.train.total_iters, stop_after)
        if trainer.run(stop, progress):
            return TrainResult(final, trainer.step, True, trainer.model)
    last = ts.list_checkpoints(out_dir)
    return TrainResult(last[-1][1] if last else out_dir, trainer.step, False, trainer.model)


class _Trainer:
    """One run's model, optimiser, schedule and data stream, positioned at the checkpoint (or the start)."""

    def __init__(
        self, exp: Experiment, out_dir: Path, info: ddp.DistInfo, ckpt: dict | None, ckpt_path: Path | None
    ) -> None:
        self.exp, self.out_dir, self.info = exp, out_dir, info
        self.step = int(ckpt["iteration"]) if ckpt else 0
        self.data_iter = int(ckpt["data_iter"]) if ckpt else 0
        ts.seed_all(exp.train.seed)  # identical initial weights on every rank
        self.loader = make_train_loader(exp, start_iter=self.data_iter, rank=info.rank, world_size=info.world_size)
        self.num_classes = _num_classes(exp, self.loader)
        self.model = build_model(exp.model, self.num_classes, exp.loss).to(info.device)
        if info.distributed and exp.train.sync_bn:
            self.model = ddp.convert_sync_batchnorm(self.model, info.device)
        t = exp.train
        self.optimizer = torch.optim.SGD(
            list(self.model.trainable_parameters()), lr=t.lr, momentum=t.momentum, weight_decay=t.weight_decay
        )
        self.scheduler = torch.optim.lr_scheduler.MultiStepLR(self.optimizer, list(t.milestones), t.gamma)
        self.amp_dtype = resolve_amp(t.amp, info.device)
        if info.device.type == "cuda" and not t.deterministic:
            torch.backends.cudnn.benchmark = True  # training shapes are fixed (P x K x frames)
        set_deterministic(t.deterministic)
        self.scaler = torch.amp.GradScaler(info.device.type, enabled=self.amp_dtype == torch.float16)
        if ckpt is not None:
            ts.restore_trainer_state(ckpt, str(ckpt_path), self.model, self.optimizer, self.scheduler, self.scaler)
            logger.info("resuming %s at iteration %d", ckpt_path, self.step)
        self.net = ddp.wrap_ddp(self.model, info) if info.distributed else self.model
        # The first batch is drawn before the generators are set: creating the DataLoader draws its
        # base seed from torch's generator, which must not shift the stream of a resumed run.
        self.batches = iter(self.loader)
        self.pending: tuple[int, Any] | None = next(self.batches)
        if ckpt is not None:
            ts.restore_rng(ts.rank_rng(ckpt["rng"], info.rank, info.world_size, t.seed))
        else:
            ts.seed_all(t.seed + 1000003 * info.rank)  # dropout / Black DA differ per rank
        self.log_path = out_dir / paths.TRAIN_LOG
        if info.is_main:
            _trim_log(self.log_path, self.data_iter)

    def run(self, stop: int, progress: bool) -> bool:
        """Train up to iteration ``stop``; True when the schedule is complete (``model.pt`` written)."""
        exp, info, total = self.exp, self.info, self.exp.train.total_iters
        self.model.set_iteration(self.step)  # applies the mask-branch schedule before train() sets the modes
        self.net.train()  # the model keeps its frozen LVM (and a frozen mask branch) in eval mode
        bar = progress_bar(
            total=total,
            initial=self.step,
            desc=exp.name,
            file=sys.stderr,
            dynamic_ncols=True,
            disable=not (progress and info.is_main),
        )
        window, bad_run = _Window(), 0
        try:
            with StopRequest() as stop_request:
                self._stop_if_asked(stop_request)
                while self.step < stop:
                    terms, skipped, lr, n_frames = self._one_step()
                    if skipped:
                        bad_run = self._skipped(terms, lr, bad_run + 1)
                        continue
                    bad_run = 0
                    self.scheduler.step()
                    self.step += 1
                    window.add(terms, n_frames)
                    bar.update(1)
                    if self.step % exp.train.log_every == 0 or self.step == total:
                        self._log(window, lr, bar)
                    if self.step % exp.train.save_every == 0 or self.step == total:
                        self._save_checkpoint()
                    if self.step % exp.train.log_every == 0:
                        window = _Window()  # restarted after the checkpoint: frames/s counts training only
                    self._stop_if_asked(stop_request)
            return self._finish()
        finally:
            bar.close()

    def _stop_if_asked(self, request: StopRequest) -> None:
        """At a step boundary: when any rank got SIGTERM / SIGUSR1, checkpoint and raise Preempted."""
        if not ddp.any_true(request.signame is not None, self.info.device):
            return
        last = ts.list_checkpoints(self.out_dir)
        if not last or last[-1][0] != self.step:
            self._save_checkpoint()
            last = ts.list_checkpoints(self.out_dir)
        raise Preempted(request.signame or "a signal on another rank", self.step, str(last[-1][1]) if last else "")

    def _one_step(self) -> tuple[dict[str, Tensor], bool, float, int]:
        """Draw this iteration's batch and take one optimiser step: (terms, skipped, lr, global frames)."""
        data_iter, batch = self.pending if self.pending is not None else next(self.batches)
        self.pending = None
        self.data_iter = data_iter + 1  # next batch to draw
        dev = self.info.device
        frames, ratios, labels = (t.to(dev, non_blocking=True) for t in (batch.frames, batch.ratios, batch.labels))
        self.model.set_iteration(self.step)
        lr = self.optimizer.param_groups[0]["lr"]
        try:
            terms, skipped = train_step(
                self.net,
                self.optimizer,
                self.scaler,
                frames,
                ratios,
                labels,
                self.exp.loss,
                amp_dtype=self.amp_dtype,
                distributed=self.info.distributed,
            )
        except torch.OutOfMemoryError:
            d = self.exp.data
            last = ts.list_checkpoints(self.out_dir)
            kept = f"the last checkpoint {last[-1][1]} is intact" if last else "no checkpoint was written yet"
            raise BigGaitError(
                f"{dev}: out of memory at iteration {self.step + 1} with a batch of {frames.shape[0]} sequences x "
                f"{frames.shape[1]} frames of {frames.shape[-2]}x{frames.shape[-1]} (data.batch_p={d.batch_p}, "
                f"data.batch_k={d.batch_k}, data.frames_per_seq={d.frames_per_seq}, train.amp={self.exp.train.amp}); "
                f"{kept}; lower the batch or frames, or use a GPU with more memory, then resume"
            ) from None
        return terms, skipped, lr, frames.shape[0] * frames.shape[1] * self.info.world_size

    def _skipped(self, terms: dict[str, Tensor], lr: float, bad_run: int) -> int:
        """Log a skipped step; stop the run after ``train.max_nonfinite_steps`` in a row."""
        logger.warning("iteration %d: non-finite loss or gradients, step skipped (%d in a row)", self.step, bad_run)
        if self.info.is_main:
            _append_log(
                self.log_path,
                {
                    "iteration": self.step,
                    "data_iter": self.data_iter,
                    "lr": lr,
                    "skipped": True,
                    **{k: float(v.detach()) for k, v in terms.items()},
                },
            )
        if bad_run >= self.exp.train.max_nonfinite_steps:
            last = ts.list_checkpoints(self.out_dir)
            where = f"the last good checkpoint is {last[-1][1]}" if last else "no checkpoint was written yet"
            raise BigGaitError(
                f"training stopped at iteration {self.step}: the loss was not finite for {bad_run} "
                f"consecutive steps (train.max_nonfinite_steps); {where}"
            )
        return bad_run

    def _log(self, window: _Window, lr: float, bar: tqdm) -> None:
        row = {
            "iteration": self.step,
            "data_iter": self.data_iter,
            "lr": lr,
            "frames_per_s": round(window.fps(), 3),
            "skipped": False,
            **window.means(),
        }
        bar.set_postfix(loss=f"{row['total']:.4f}", lr=f"{lr:.3g}", fps=f"{row['frames_per_s']:.1f}")
        if self.info.is_main:
            _append_log(self.log_path, row)

    def _save_checkpoint(self) -> None:
        rng_states = ddp.gather_objects(ts.capture_rng())  # one state per rank
        if self.info.is_main:
            ts.save_trainer_checkpoint(
                self.out_dir,
                self.model,
                self.exp,
                self.num_classes,
                self.step,
                self.data_iter,
                self.optimizer,
                self.scheduler,
                self.scaler,
                rng_states,
            )
        ddp.barrier()

    def _finish(self) -> bool:
        """Write ``model.pt`` (rank 0, atomically) when the schedule is complete."""
        finished = self.step >= self.exp.train.total_iters
        if finished and self.info.is_main:
            final = self.out_dir / paths.MODEL_NAME
            save_checkpoint(final, self.model, self.exp, self.num_classes, self.step)
            logger.info("finished %d iterations: %s", self.step, final)
        ddp.barrier()
        return finished


def _append_log(path: Path, row: dict[str, Any]) -> None:
    """Append one JSON line; non-finite numbers become ``null`` (strict JSON)."""
    row = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}
    with path.open("a") as f:
        f.write(json.dumps(row) + "\n")
