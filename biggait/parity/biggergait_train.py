"""Our training steps on a BiggerGait golden case (``kind: train_steps``; README section 6).

The case's model and weights as in :mod:`biggait.parity.biggergait_golden`, ``model.train()`` once (the
frozen upstream stays in eval, a no-op with its zero dropout; the frozen mask head follows the mode, the
released quirk), then the project's own :func:`biggait.train.loop.train_step` with SGD and MultiStepLR as the
manifest says, on the case's batches. What the golden file stores is recorded under its names
(released parameter and buffer names); :mod:`biggait.parity.biggergait_train_checks` compares it.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import torch

from biggait.errors import DataError
from biggait.models.biggergait_weights import map_released
from biggait.models.losses import cross_entropy, triplet_loss
from biggait.parity.biggergait_golden import _state, load_case_model, loss_config, normalised, weights_entry

ZERO_GRAD_BIAS = re.compile(r"^HumanSpace_Conv\.\d+\.[14]\.bias$")  # feed batch-statistics BatchNorms


@dataclasses.dataclass
class TrainRun:
    steps: list[dict] = dataclasses.field(default_factory=list)  # per step: losses, triplet info, mask, lr
    step1: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)  # "param.<name>", "grad.", "buffer."
    final: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    theta0: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)  # initial parameters (released names)
    biases: list[dict[str, np.ndarray]] = dataclasses.field(default_factory=list)  # zero-grad biases after each step
    mask0: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)  # mask-head parameters before / after
    mask_final: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    optimizer_names: list[str] = dataclasses.field(default_factory=list)
    optimizer_shapes: dict[str, list[int]] = dataclasses.field(default_factory=dict)
    buffer_names: list[str] = dataclasses.field(default_factory=list)
    with_grad: list[str] = dataclasses.field(default_factory=list)


def released_names(model: torch.nn.Module, sd: dict) -> dict[str, str]:
    """Our parameter / buffer name -> its released name (``real_gait`` spelling for the heads)."""
    mapped = map_released(sd, model.heads.per_head, "golden weights")
    names = {}
    for ours, (rel, _) in mapped.items():
        if ours not in names or "real_gait" in rel:
            names[ours] = rel
    return names


def _snapshot(model: torch.nn.Module, names: dict[str, str], grads: bool) -> dict[str, np.ndarray]:
    snap = {}
    for n, p in model.named_parameters():
        if n in names and p.requires_grad:
            snap[f"param.{names[n]}"] = p.detach().numpy().copy()
            if grads and p.grad is not None:
                snap[f"grad.{names[n]}"] = p.grad.detach().numpy().copy()
    for n, b in model.named_buffers():
        if n in names:
            snap[f"buffer.{names[n]}"] = b.detach().numpy().copy()
    return snap


def _optimiser(model: torch.nn.Module, manifest: dict, case: dict):
    opt_cfg, sch = manifest["train"]["optimizer"], manifest["train"]["scheduler"]
    if opt_cfg.get("solver") != "SGD" or sch.get("type") != "MultiStepLR":
        raise DataError(f"manifest train: only SGD with MultiStepLR is supported, got {opt_cfg} / {sch}")
    opt = torch.optim.SGD(
        model.trainable_parameters(),
        lr=float(opt_cfg["lr"]),
        momentum=float(opt_cfg["momentum"]),
        weight_decay=float(opt_cfg["weight_decay"]),
    )
    return opt, torch.optim.lr_scheduler.MultiStepLR(opt, [int(m) for m in case["milestones"]], float(sch["gamma"]))


def _step_record(out, p1: torch.Tensor, labels: torch.Tensor, terms: dict, loss_cfg, grid) -> dict:
    emb, logits = out.embeddings.detach(), out.logits.detach()
    tri = triplet_loss(emb, labels, loss_cfg.triplet_margin)
    _, acc = cross_entropy(logits, labels, loss_cfg.ce_scale, loss_cfg.label_smoothing)
    mask = (p1 > 0.5).reshape(-1, *grid)
    return {
        "loss_total": float(terms["total"].detach()),
        "triplet_weighted": float(terms["triplet"].detach()),
        "softmax_weighted": float(terms["ce"].detach()),
        "softmax_loss": float(terms["ce"].detach()) / loss_cfg.ce_weight,
        "softmax_accuracy": float(acc),
        "triplet_loss_per_part": tri.loss_per_part.numpy(),
        "triplet_hard_loss": tri.hard_loss.numpy(),
        "triplet_loss_num": tri.loss_num.numpy(),
        "triplet_mean_dist": tri.mean_dist.numpy(),
        "mask_32x16": mask.numpy(),
        "mask_coverage": mask.float().mean((1, 2)).numpy(),
        "mask_min_abs_p1_minus_half": float((p1.double() - 0.5).abs().min()),
        "embeddings": emb.numpy().copy(),
        "logits": logits.numpy().copy(),
    }


def run_train_case(golden_dir: Path, manifest: dict, case: dict, golden: dict, steps: int | None = None) -> TrainRun:
    """``steps`` (default: the case's) optimisation steps of ours on the case's batches."""
    from biggait.train.loop import train_step

    model = load_case_model(golden_dir, manifest, case)
    sd = _state(str(Path(golden_dir) / weights_entry(golden_dir, manifest, case["weights"])["file"]))
    names, loss_cfg = released_names(model, sd), loss_config(manifest)
    run = TrainRun(mask0={n: p.detach().numpy().copy() for n, p in model.mask.named_parameters()})
    run.theta0 = {v[len("param.") :]: a for v, a in _snapshot(model, names, False).items() if v.startswith("param.")}
    opt, sched = _optimiser(model, manifest, case)
    ids = {id(p) for g in opt.param_groups for p in g["params"]}
    run.optimizer_names = [names[n] for n, p in model.named_parameters() if id(p) in ids]
    run.optimizer_shapes = {names[n]: list(p.shape) for n, p in model.named_parameters() if id(p) in ids}
    run.buffer_names = [names[n] for n, _ in model.named_buffers() if n in names]
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    model.train()
    for k in range(int(case["steps"]) if steps is None else steps):
        seen: dict = {}
        hooks = [
            model.register_forward_hook(lambda m, a, o, seen=seen: seen.update(out=o)),
            model.mask.register_forward_hook(lambda m, a, o, seen=seen: seen.setdefault("p1", []).append(o)),
        ]
        model.set_iteration(k)
        lr = opt.param_groups[0]["lr"]
        frames = normalised(golden["input_uint8"][k])
        labels = torch.from_numpy(golden["labels"][k].astype(np.int64))
        try:
            terms, skipped = train_step(model, opt, scaler, frames, None, labels, loss_cfg)
        finally:
            for h in hooks:
                h.remove()
        if skipped:
            raise DataError(f"{case['file']}: step {k + 1} was skipped (non-finite loss)")
        rec = _step_record(seen["out"], torch.cat(seen["p1"]), labels, terms, loss_cfg, model.lvm.grid)
        sched.step()
        rec.update(lr=lr, lr_after=opt.param_groups[0]["lr"], iteration=model.iteration)
        run.steps.append(rec)
        run.biases.append(
            {
                names[n]: p.detach().numpy().copy()
                for n, p in model.named_parameters()
                if n in names and ZERO_GRAD_BIAS.match(names[n])
            }
        )
        if k == 0:
            run.step1 = _snapshot(model, names, True)
            run.with_grad = [names[n] for n, p in model.named_parameters() if p.grad is not None and n in names]
    run.final = _snapshot(model, names, False)
    run.mask_final = {n: p.detach().numpy().copy() for n, p in model.mask.named_parameters()}
    return run
