"""Training-step parity with the released code (``train_ccpg_steps.npz``, golden README section 9).

Five SGD steps of our own trainer step (:func:`biggait.train.loop.train_step`), optimiser and
scheduler from the golden weights, on the golden batches (fp32, Black DA off, mask branch frozen at
iteration 1000, milestones [2, 4]), compared with the README's suggested checks:

1. step 1, tight: every loss term and the total, the step's embeddings and logits, the active
   triplet count, the BatchNorm buffers, the gradients (relative L2 per tensor; the two pre-BatchNorm
   biases' gradients, analytically zero, within the rounding bound of their summed terms) and the
   parameters (relative to the update);
2. the optimiser over all five steps: the two pre-BatchNorm biases (their gradient is analytically
   zero, so they follow momentum + weight decay + the schedule alone), the frozen mask branch
   exactly at its initial values, the learning rates, ``num_batches_tracked``;
3. steps 2-5, gross errors only (the released run itself is chaotic there).

The bounds are in :mod:`biggait.parity.tolerances`.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import numpy as np
import torch

from biggait.config import LossConfig, ModelConfig
from biggait.data.loader import normalize_rgb
from biggait.errors import BigGaitError
from biggait.models.biggait import build_model
from biggait.models.losses import triplet_loss
from biggait.models.weights import load_opengait_state_dict, map_opengait_key, read_weights
from biggait.parity.golden import CheckResult, compare, compare_exact, compare_zero
from biggait.parity.tolerances import (
    FINAL_BUFFER_REL_MAX,
    FINAL_PARAM_REL_UPDATE,
    LATER_TERM_RTOL,
    LATER_TOTAL_RTOL,
    LOSS_ATOL,
    PRE_BN_BIAS_PARAM_ATOL,
    STEP1_BUFFER_ATOL,
    STEP1_GRAD_REL_L2,
    STEP1_HEAD_GRAD_REL_L2,
    STEP1_LOSS_RTOL,
    STEP1_OUT_ATOL,
    STEP1_PARAM_ATOL,
    STEP1_PARAM_REL_UPDATE,
    bias_zero_bounds,
)

CASE = "train_ccpg_steps.npz"
ITERATION = 1000  # the golden run's model.iteration at step 1 (mask branch frozen)
MILESTONES = [2, 4]
# The two biases with an analytically zero gradient -> the batch-statistics BatchNorm of ours they feed
PRE_BN_BIASES = {
    "Denoising_Branch.down_sampling.0.bias": "gre.denoising.proj.1",
    "Appearance_Branch.down_sampling.bias": "gre.appearance.bn_out",
}
# loss term of ours -> golden array
TERMS = {
    "total": "loss_total",
    "triplet": "triplet_weighted",
    "ce": "softmax_weighted",
    "mask_smoothness": "loss_shape_connect_weighted",
    "reconstruction": "loss_shape_mse",
    "denoising_smoothness": "loss_part_connect_weighted",
    "diversity": "loss_part_diversity_weighted",
}


@dataclasses.dataclass
class StepRun:
    """What our five steps produced, in golden names where the golden file has them."""

    terms: list[dict[str, float]]  # per step
    embed: list[np.ndarray]
    logits: list[np.ndarray]
    triplet_num: list[np.ndarray]
    lr: list[float]
    lr_after: list[float]
    step1: dict[str, np.ndarray]  # "param.<golden name>", "grad.<...>", "buffer.<...>"
    final: dict[str, np.ndarray]
    theta0: dict[str, np.ndarray]  # initial parameters (golden names)
    zero_bounds: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)  # step-1 bound per PRE_BN_BIASES


def _our_names(model: torch.nn.Module, golden_names: list[str]) -> dict[str, str]:
    """golden name -> our parameter / buffer name (None-mapped golden names are left out)."""
    out = {}
    for g in golden_names:
        ours = map_opengait_key(g)
        if ours is not None:
            out[g] = ours
    return out


def _snapshot(model: torch.nn.Module, names: dict[str, str], buffers: dict[str, str], grads: bool) -> dict:
    params = dict(model.named_parameters())
    bufs = dict(model.named_buffers())
    snap = {}
    for g, o in names.items():
        p = params[o]
        snap[f"param.{g}"] = p.detach().numpy().copy()
        if grads and p.grad is not None:
            snap[f"grad.{g}"] = p.grad.detach().numpy().copy()
    for g, o in buffers.items():
        snap[f"buffer.{g}"] = bufs[o].detach().numpy().copy()
    return snap


def run_steps(golden: dict, weights: Path, steps: int = 5) -> StepRun:
    """Our trainer's step ``steps`` times on the golden batches, from the golden weights."""
    from biggait.train.loop import train_step

    torch.manual_seed(0)
    cfg = dataclasses.replace(ModelConfig(), black_da=False)  # the golden run switched Black DA off
    loss_cfg = LossConfig()
    model = build_model(cfg, 100, loss_cfg, load_lvm=False)
    load_opengait_state_dict(model, read_weights(weights, "golden weights"), str(weights))
    model.freeze_mask()
    model.iteration = ITERATION
    model.train()
    names = _our_names(model, [str(n) for n in golden["optimizer_param_names"]])
    buffers = _our_names(model, [str(n) for n in golden["buffer_names"]])
    theta0 = {g: dict(model.named_parameters())[o].detach().numpy().copy() for g, o in names.items()}
    opt = torch.optim.SGD(model.trainable_parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, MILESTONES, 0.1)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    run = StepRun([], [], [], [], [], [], {}, {}, theta0)
    modules = dict(model.named_modules())
    for k in range(steps):
        frames = torch.from_numpy(normalize_rgb(golden["input_uint8"][k]))
        ratios = torch.from_numpy(golden["ratios"][k].astype(np.float32))
        labels = torch.from_numpy(golden["labels"][k].astype(np.int64))
        run.lr.append(opt.param_groups[0]["lr"])
        captured: dict = {}
        hook = model.gaitbase.register_forward_hook(lambda m, i, o, seen=captured: seen.update(out=o))
        norms = {g: modules[m] for g, m in PRE_BN_BIASES.items()} if k == 0 else {}
        with bias_zero_bounds(norms) as bounds:
            terms, skipped = train_step(model, opt, scaler, frames, ratios, labels, loss_cfg)
        hook.remove()
        if skipped:
            raise BigGaitError(f"{CASE}: step {k + 1} was skipped (non-finite loss)")
        emb, _, logits = captured["out"]
        run.terms.append({t: float(v.detach()) for t, v in terms.items()})
        run.embed.append(emb.detach().numpy().copy())
        run.logits.append(logits.detach().numpy().copy())
        run.triplet_num.append(triplet_loss(emb.detach(), labels, loss_cfg.triplet_margin).loss_num.numpy())
        model.iteration += 1
        sched.step()
        run.lr_after.append(opt.param_groups[0]["lr"])
        if k == 0:
            run.step1 = _snapshot(model, names, buffers, grads=True)
            run.zero_bounds = bounds
    run.final = _snapshot(model, names, buffers, grads=False)
    return run


def _golden_tensor(golden: dict, key: str, sample_index: np.ndarray | None) -> tuple[str, np.ndarray] | None:
    """The golden values of ``key`` (whole or its sample) -> (suffix, values)."""
    if key in golden:
        return "", golden[key]
    if f"{key}.sample" in golden and sample_index is not None:
        return ".sample", golden[f"{key}.sample"]
    return None


def _ours_at(golden: dict, name: str, ours: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    idx = golden.get(f"sample_index.{name}")
    return (ours.reshape(-1)[idx], idx) if idx is not None else (ours, None)


def _rel_l2(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(np.float64), b.astype(np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


def _ratio_check(name: str, value: float, bound: float, note: str) -> CheckResult:
    return CheckResult(CASE, name, value, bound, bool(value <= bound), note)


def _step1_checks(golden: dict, run: StepRun) -> list[CheckResult]:
    res = []
    for ours, gname in TERMS.items():
        if ours in run.terms[0]:
            res.append(
                compare(CASE, f"step1 {gname}", run.terms[0][ours], golden[gname][0], LOSS_ATOL, STEP1_LOSS_RTOL)
            )
    res.append(compare(CASE, "step1 embed_1", run.embed[0], golden["embed_1"][0], STEP1_OUT_ATOL))
    res.append(compare(CASE, "step1 logits", run.logits[0], golden["logits"][0], STEP1_OUT_ATOL))
    res.append(compare_exact(CASE, "step1 triplet_loss_num", run.triplet_num[0], golden["triplet_loss_num"][0]))
    head = ("gait_net.FCs.", "gait_net.BNNecks.")
    worst_grad, worst_head, worst_param = 0.0, 0.0, 0.0
    for key, ours in run.step1.items():
        kind, name = key.split(".", 1)
        ours_s, idx = _ours_at(golden, name, ours)
        found = _golden_tensor(golden, f"step1.{key}", idx)
        if found is None:
            continue
        ref = found[1]
        if kind == "buffer":
            if name.endswith("num_batches_tracked"):
                res.append(compare_exact(CASE, f"step1 buffer {name}", ours_s, ref))
            else:
                res.append(compare(CASE, f"step1 buffer {name}", ours_s, ref, STEP1_BUFFER_ATOL))
        elif kind == "grad":
            if name in PRE_BN_BIASES:  # rounding noise, ours and the golden's alike: bounded at its scale
                res.append(
                    compare_zero(
                        CASE,
                        f"step1 grad {name}",
                        ours_s,
                        run.zero_bounds[name],
                        f"analytically zero (golden |g| {np.abs(ref).max():.1e})",
                    )
                )
            elif name.startswith(head):
                worst_head = max(worst_head, _rel_l2(ours_s, ref))
            else:
                worst_grad = max(worst_grad, _rel_l2(ours_s, ref))
        else:
            theta0 = _ours_at(golden, name, run.theta0[name])[0]
            upd = np.linalg.norm(ref.astype(np.float64) - theta0)
            if upd > 0:
                worst_param = max(worst_param, float(np.linalg.norm(ours_s.astype(np.float64) - ref) / upd))
            res.append(compare(CASE, f"step1 param {name}", ours_s, ref, STEP1_PARAM_ATOL))
    res.append(
        _ratio_check("step1 grad head rel-L2 (max over tensors)", worst_head, STEP1_HEAD_GRAD_REL_L2, "FCs, BNNecks")
    )
    res.append(_ratio_check("step1 grad rel-L2 (max over tensors)", worst_grad, STEP1_GRAD_REL_L2, "trunk, stems, GRE"))
    res.append(_ratio_check("step1 param rel-to-update L2 (max)", worst_param, STEP1_PARAM_REL_UPDATE, ""))
    return res


def _optimiser_checks(golden: dict, run: StepRun) -> list[CheckResult]:
    res = [
        compare_exact(CASE, "lr", np.array(run.lr), golden["lr"][: len(run.lr)]),
        compare_exact(CASE, "lr_after", np.array(run.lr_after), golden["lr_after"][: len(run.lr)]),
    ]
    for snap, prefix in ((run.step1, "step1"), (run.final, "final")):
        for b in PRE_BN_BIASES:
            res.append(
                compare(
                    CASE,
                    f"{prefix} param {b}",
                    snap[f"param.{b}"],
                    golden[f"{prefix}.param.{b}"],
                    PRE_BN_BIAS_PARAM_ATOL,
                    note="momentum, weight decay, schedule",
                )
            )
    for key, ours in run.final.items():
        kind, name = key.split(".", 1)
        if kind == "param" and name.startswith("Mask_Branch."):
            res.append(compare_exact(CASE, f"final param {name}", ours, run.theta0[name], "frozen: theta0"))
        if kind == "buffer" and name.endswith("num_batches_tracked"):
            res.append(compare_exact(CASE, f"final buffer {name}", ours, golden[f"final.buffer.{name}"]))
    return res


def _later_checks(golden: dict, run: StepRun) -> list[CheckResult]:
    res = []
    for k in range(1, len(run.terms)):
        res.append(
            compare(
                CASE,
                f"step{k + 1} loss_total",
                run.terms[k]["total"],
                golden["loss_total"][k],
                0.0,
                LATER_TOTAL_RTOL[k - 1],
            )
        )
        for ours, gname in TERMS.items():
            if ours != "total" and ours in run.terms[k]:
                res.append(
                    compare(
                        CASE, f"step{k + 1} {gname}", run.terms[k][ours], golden[gname][k], 0.0, LATER_TERM_RTOL[k - 1]
                    )
                )
    if len(run.terms) < 5:
        return res
    worst_param, worst_buf = 0.0, 0.0
    for key, ours in run.final.items():
        kind, name = key.split(".", 1)
        ours_s, idx = _ours_at(golden, name, ours)
        found = _golden_tensor(golden, f"final.{key}", idx)
        if found is None or name.endswith("num_batches_tracked"):
            continue
        ref = found[1].astype(np.float64)
        if kind == "param":
            upd = np.linalg.norm(ref - _ours_at(golden, name, run.theta0[name])[0])
            if upd > 0:
                worst_param = max(worst_param, float(np.linalg.norm(ours_s - ref) / upd))
        else:
            worst_buf = max(worst_buf, float(np.max(np.abs(ours_s - ref)) / max(np.max(np.abs(ref)), 1e-30)))
    res.append(
        _ratio_check("final param rel-to-update L2 (max)", worst_param, FINAL_PARAM_REL_UPDATE, "gross errors only")
    )
    res.append(_ratio_check("final buffer rel-to-max (max)", worst_buf, FINAL_BUFFER_REL_MAX, "gross errors only"))
    return res


@functools.lru_cache(maxsize=2)
def _run_cached(golden_path: str, weights: str, steps: int) -> tuple[dict, StepRun]:
    with np.load(golden_path) as z:
        golden = {k: z[k] for k in z.files}
    return golden, run_steps(golden, Path(weights), steps)


def check_train_steps(golden_dir: Path, weights: Path | None, steps: int = 5) -> list[CheckResult]:
    """The README's checks 1-3 of the training-step golden."""
    if weights is None:
        raise BigGaitError(f"{CASE}: needs the golden weights file")
    golden, run = _run_cached(str(golden_dir / CASE), str(weights), steps)
    return _step1_checks(golden, run) + _optimiser_checks(golden, run) + _later_checks(golden, run)


CHECKS = {CASE: check_train_steps}
