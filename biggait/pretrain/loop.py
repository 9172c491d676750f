"""The pretraining loop: resumable, with a progress bar, ending in a Meta-layout weights file.

``<out>``         the encoder in the official DINOv2 layout (``model.lvm_checkpoint`` reads it)
``<out>.json``    provenance: data, seed, objective, steps, time, loss curve, versions
``<out>.state.pt`` while running: model, optimiser, step and generator state every
                  ``save_every`` steps; the same command resumes from it; removed at the end.

Every random draw (batches, masks, augmentation) comes from one seeded generator saved in the
state, so a resumed run ends with the same weights as an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from biggait.errors import CheckpointError, ConfigError
from biggait.io import atomic_path, git_commit, package_versions, write_json_atomic
from biggait.pretrain.frames import FrameSet, Source
from biggait.pretrain.mae import COLOURS, MAE, TARGETS, augment, cosine_lr, normalize
from biggait.progress import progress_bar

logger = logging.getLogger(__name__)


OBJECTIVES = ("mae", "tcl", "mae+tcl")  # masked images, time-contrastive, both (losses summed)


def partner_frames(frames: FrameSet, idx: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """For each frame index, a random frame of the same sequence (frames are stored by sequence)."""
    seq = frames.sequence
    lo = torch.searchsorted(seq, seq[idx])
    hi = torch.searchsorted(seq, seq[idx], right=True)
    return lo + (torch.rand(len(idx), generator=gen) * (hi - lo)).long()


@dataclass(frozen=True)
class PretrainConfig:
    """What is trained and how (everything that changes the weights; saved with the state)."""

    variant: str = "vits14"
    image_hw: tuple[int, int] = (64, 32)
    patch: int = 4
    objective: str = "mae+tcl"  # measured best for the demo (docs/performance.md)
    steps: int = 600
    batch: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup: int = 50
    mask_ratio: float = 0.75
    decoder_depth: int = 2  # blocks of the MAE decoder (it sees every token: most of a step's work)
    colour: str = "jitter"  # augmentation: jitter | strong (+ hue rotation and channel order, mae.augment)
    target: str = "pixels"  # MAE target: pixels (normalised RGB patches) | grey (their grey level)
    encoder_pos: bool = True  # False: the encoder's positional embedding stays 0 (the decoder keeps its own)
    seed: int = 0

    def check(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ConfigError(f"pretrain objective {self.objective!r}: expected one of {', '.join(OBJECTIVES)}")
        if self.colour not in COLOURS:
            raise ConfigError(f"pretrain colour {self.colour!r}: expected one of {', '.join(COLOURS)}")
        if self.target not in TARGETS:
            raise ConfigError(f"pretrain target {self.target!r}: expected one of {', '.join(TARGETS)}")
        for key in ("steps", "batch", "decoder_depth"):
            if getattr(self, key) < 1:
                raise ConfigError(f"pretrain {key}: expected a positive integer, got {getattr(self, key)}")
        if self.lr <= 0:
            raise ConfigError(f"pretrain lr: expected > 0, got {self.lr}")


def state_path(out: Path) -> Path:
    return out.with_name(out.name + ".state.pt")


def provenance_path(out: Path) -> Path:
    return out.with_name(out.name + ".json")


def _save_state(
    path: Path,
    model: MAE,
    opt: torch.optim.Optimizer,
    step: int,
    gen: torch.Generator,
    cfg: PretrainConfig,
    curve: list,
    elapsed: float,
) -> None:
    with atomic_path(path) as tmp:
        torch.save(
            {
                "config": dataclasses.asdict(cfg),
                "step": step,
                "model": model.state_dict(),
                "optimizer": opt.state_dict(),
                "generator": gen.get_state(),
                "curve": curve,
                "elapsed": elapsed,
            },
            tmp,
        )


def _load_state(path: Path, cfg: PretrainConfig) -> dict:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable state is one clear line
        raise CheckpointError(
            f"{path}: unreadable pretraining state ({str(exc).splitlines()[0][:120]}); delete it to start over"
        ) from None
    saved = state.get("config", {})
    mine = dataclasses.asdict(cfg)
    saved = {k: tuple(v) if isinstance(v, list) else v for k, v in saved.items()}
    diff = [f"{k}: {saved.get(k)!r} -> {v!r}" for k, v in mine.items() if saved.get(k) != v and k != "steps"]
    if diff:
        raise CheckpointError(
            f"{path}: a pretraining with other settings ({'; '.join(diff)}); delete it or use the same settings"
        )
    return state


def _write_outputs(
    out: Path, model: MAE, cfg: PretrainConfig, frames: FrameSet, sources: list[Source], curve: list, elapsed: float
) -> None:
    """The Meta-layout weights file and its provenance JSON (each written atomically)."""
    with atomic_path(out) as tmp:
        torch.save(model.meta_state_dict(), tmp)
    write_json_atomic(
        provenance_path(out),
        {
            "weights": out.name,
            "what": f"tiny {cfg.variant}-shaped ViT pretrained on SynthGait frames; a stand-in, not DINOv2",
            "objective": cfg.objective,
            "labels_used": "none (RGB frames only: no silhouettes, masks or identities)",
            "config": dataclasses.asdict(cfg),
            "data": [
                {"dataset": s.dataset, "root": str(s.root), "partition": str(s.partition), "split": "train"}
                for s in sources
            ],
            "frames": len(frames),
            "sequences": int(frames.sequence.max()) + 1,
            "train_seconds": round(elapsed, 1),
            "threads": torch.get_num_threads(),
            "loss_curve": curve,
            "git_commit": git_commit(),
            "versions": package_versions(),
        },
    )


def _resume(spath: Path, cfg: PretrainConfig, model: MAE, opt, gen: torch.Generator) -> tuple[int, list, float]:
    """Restore model, optimiser and generator from ``spath`` when present: (step, loss curve, elapsed seconds)."""
    if not spath.exists():
        return 0, [], 0.0
    state = _load_state(spath, cfg)
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    gen.set_state(state["generator"])
    logger.info("resuming the pretraining of %s at step %d (%s)", cfg.variant, int(state["step"]), spath)
    return int(state["step"]), list(state["curve"]), float(state["elapsed"])


def _batch_loss(model: MAE, cfg: PretrainConfig, frames: FrameSet, idx: torch.Tensor, gen: torch.Generator):
    """The objective on the frames ``idx`` (and, for the contrastive terms, a partner frame of each)."""
    x = normalize(augment(frames.frames[idx].float(), gen, cfg.colour))
    if cfg.objective == "mae":
        return model.loss(x, gen)
    x2 = normalize(augment(frames.frames[partner_frames(frames, idx, gen)].float(), gen, cfg.colour))
    if cfg.objective == "tcl":
        return model.contrastive_loss(x, x2)
    # mae+tcl: both frames masked; reconstruct each, contrast their cls tokens
    (l1, c1), (l2, c2) = model.masked_step(x, gen), model.masked_step(x2, gen)
    return (l1 + l2) / 2 + model.info_nce(c1, c2)


def pretrain(
    cfg: PretrainConfig,
    frames: FrameSet,
    sources: list[Source],
    out: Path,
    *,
    save_every: int = 250,
    progress: bool = True,
    stop_after: int | None = None,
) -> bool:
    """Train, resuming from ``<out>.state.pt`` when present; write ``out`` and its provenance at the end.

    Returns True when the run finished (False when stopped early by ``stop_after`` steps).
    """
    cfg.check()
    torch.manual_seed(cfg.seed)
    model = MAE(
        cfg.variant,
        cfg.image_hw,
        cfg.patch,
        mask_ratio=cfg.mask_ratio,
        decoder_depth=cfg.decoder_depth,
        target=cfg.target,
        encoder_pos=cfg.encoder_pos,
    )
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.95))
    gen = torch.Generator().manual_seed(cfg.seed)
    spath = state_path(out)
    step, curve, elapsed = _resume(spath, cfg, model, opt, gen)
    n = len(frames)
    model.train()
    bar = progress_bar(total=cfg.steps, initial=step, desc=f"pretrain {cfg.variant}", unit="step", disable=not progress)
    t0 = time.perf_counter() - elapsed
    run_loss = None
    while step < cfg.steps:
        if stop_after is not None and step >= stop_after:
            break
        lr = cosine_lr(step, cfg.steps, cfg.lr, cfg.warmup)
        for g in opt.param_groups:
            g["lr"] = lr
        loss = _batch_loss(model, cfg, frames, torch.randint(0, n, (cfg.batch,), generator=gen), gen)
        if not torch.isfinite(loss):
            raise RuntimeError(f"pretraining loss is {loss.item()} at step {step}: lower --lr")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 3.0)
        opt.step()
        step += 1
        run_loss = loss.item() if run_loss is None else 0.9 * run_loss + 0.1 * loss.item()
        if step == 1 or step % 50 == 0 or step == cfg.steps:
            curve.append([step, round(run_loss, 5)])
        bar.update(1)
        bar.set_postfix(loss=f"{run_loss:.4f}")
        if step % save_every == 0 and step < cfg.steps:
            _save_state(spath, model, opt, step, gen, cfg, curve, time.perf_counter() - t0)
    bar.close()
    elapsed = time.perf_counter() - t0
    if step < cfg.steps:
        _save_state(spath, model, opt, step, gen, cfg, curve, elapsed)
        return False
    _write_outputs(out, model, cfg, frames, sources, curve, elapsed)
    spath.unlink(missing_ok=True)
    return True
