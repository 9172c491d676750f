"""Checks of our training steps against a BiggerGait ``train_steps`` golden (README sections 6 and 7).

1. step 1, tight: loss terms and per-part triplet losses, embeddings and logits, the active triplet count,
   every buffer (the drifting mask BatchNorm included), every gradient (relative L2; the analytically zero
   HumanSpace conv-bias gradients absolutely) and every parameter (relative to its update);
2. every step: learning rates, iterations and train-mode masks exactly, the zero-gradient biases against
   the momentum + weight-decay + schedule recurrence, the mask head's parameters unchanged;
3. steps 2.., gross errors only: the loss terms (the per-part triplet arrays through their mean, the
   triplet term), final parameters, buffers and embeddings;
4. the optimiser's parameter list, shapes, the buffer list and which parameters got a gradient.
Large tensors are compared at the golden's sample indices, their float64 summaries with their own bounds.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from biggait.parity import biggergait_tolerances as tol
from biggait.parity.biggergait_train import ZERO_GRAD_BIAS, TrainRun, run_train_case
from biggait.parity.golden import CheckResult, compare, compare_exact

HEAD = re.compile(r"\.(FCs|BNNecks)\.")  # heads' FCs / BNNecks: gradients well conditioned


def _ratio(case: str, name: str, value: float, bound: float, note: str) -> CheckResult:
    return CheckResult(case, name, float(value), float(bound), bool(value <= bound), note, float(bound), 0.0)


def _rel_l2(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


def _sample(golden: dict, name: str, ours: np.ndarray) -> np.ndarray:
    idx = golden.get(f"sample_index.{name}")
    return ours.reshape(-1)[idx] if idx is not None else ours


def _summaries(case: str, key: str, ours: np.ndarray, golden: dict, rtol: float) -> list[CheckResult]:
    """``<key>.sum / .abs_sum / .l2`` of a sampled tensor (float64 over the whole tensor), each within ``rtol``
    of the golden's ``abs_sum`` (``.sum``, ``.abs_sum``: a sum may cancel to ~0) or ``l2`` (``.l2``)."""
    x = ours.astype(np.float64)
    vals = {"sum": x.sum(), "abs_sum": np.abs(x).sum(), "l2": np.sqrt((x**2).sum())}
    out = []
    for k, v in vals.items():
        if f"{key}.{k}" not in golden:
            continue
        scale_key = "l2" if k == "l2" else "abs_sum"
        scale = float(golden[f"{key}.{scale_key}"])
        out.append(
            compare(
                case,
                f"{key}.{k}",
                v,
                golden[f"{key}.{k}"],
                rtol * scale,
                note=f"within {rtol:g} x the golden's {scale_key}",
            )
        )
    return out


def _grad_bound(name: str) -> float:
    return tol.STEP1_HEAD_GRAD_REL_L2 if HEAD.search(name) else tol.STEP1_GRAD_REL_L2


def _step1_tensor_checks(case: str, golden: dict, run: TrainRun) -> list[CheckResult]:
    out = []
    for key, ours in run.step1.items():
        kind, name = key.split(".", 1)
        gkey = f"step1.{key}"
        mine = _sample(golden, name, ours)
        ref = golden.get(gkey, golden.get(f"{gkey}.sample"))
        if ref is None:
            continue
        rtol = _grad_bound(name) if kind == "grad" else tol.STEP1_PARAM_SUMMARY_RTOL
        out += _summaries(case, gkey, ours, golden, rtol) if f"{gkey}.sample" in golden else []
        if kind == "buffer":
            exact = name.endswith("num_batches_tracked")
            out.append(
                compare_exact(case, gkey, mine, ref) if exact else compare(case, gkey, mine, ref, tol.STEP1_BUFFER_ATOL)
            )
        elif kind == "grad" and ZERO_GRAD_BIAS.match(name):
            out.append(compare(case, gkey, mine, ref, tol.ZERO_GRAD_ATOL, note="analytically zero"))
        elif kind == "grad":
            out.append(_ratio(case, gkey, _rel_l2(mine, ref), _grad_bound(name), "relative L2"))
        else:
            upd = np.linalg.norm(ref.astype(np.float64) - _sample(golden, name, run.theta0[name]))
            rel = np.linalg.norm(mine.astype(np.float64) - ref) / max(upd, 1e-30)
            out.append(_ratio(case, gkey, rel, tol.STEP1_PARAM_REL_UPDATE, "relative to the update (L2)"))
    return out


def _final_tensor_checks(case: str, golden: dict, run: TrainRun) -> list[CheckResult]:
    out = []
    for key, ours in run.final.items():
        kind, name = key.split(".", 1)
        gkey = f"final.{key}"
        mine = _sample(golden, name, ours)
        ref = golden.get(gkey, golden.get(f"{gkey}.sample"))
        if ref is None:
            continue
        out += _summaries(case, gkey, ours, golden, tol.FINAL_PARAM_SUMMARY_RTOL) if f"{gkey}.sample" in golden else []
        ref64 = ref.astype(np.float64)
        if name.endswith("num_batches_tracked"):
            out.append(compare_exact(case, gkey, mine, ref))
        elif kind == "buffer":
            rel = np.abs(mine - ref64).max() / max(np.abs(ref64).max(), 1e-30)
            out.append(_ratio(case, gkey, rel, tol.FINAL_BUFFER_REL_MAX, "max diff relative to the max (gross only)"))
        else:
            upd = np.linalg.norm(ref64 - _sample(golden, name, run.theta0[name]))
            rel = np.linalg.norm(mine - ref64) / max(upd, 1e-30)
            out.append(_ratio(case, gkey, rel, tol.FINAL_PARAM_REL_UPDATE, "relative to the update (gross only)"))
    return out


def _loss_checks(case: str, golden: dict, run: TrainRun) -> list[CheckResult]:
    s1 = run.steps[0]
    out = [
        compare(case, f"{k}[step 1]", s1[k], golden[k][0], 1e-7, tol.STEP1_LOSS_RTOL)
        for k in (
            "loss_total",
            "triplet_weighted",
            "softmax_loss",
            "softmax_weighted",
            "triplet_loss_per_part",
            "triplet_hard_loss",
        )
    ]
    out.append(
        compare(
            case,
            "triplet_mean_dist[step 1]",
            s1["triplet_mean_dist"],
            golden["triplet_mean_dist"][0],
            tol.mean_dist_atol(s1["embeddings"]),
            note="self-distances included: tolerances.mean_dist_atol",
        )
    )
    out.append(compare_exact(case, "triplet_loss_num[step 1]", s1["triplet_loss_num"], golden["triplet_loss_num"][0]))
    out.append(
        compare_exact(
            case, "softmax_accuracy[step 1]", np.float32(s1["softmax_accuracy"]), golden["softmax_accuracy"][0]
        )
    )
    out.append(compare(case, "step1.embeddings", s1["embeddings"], golden["step1.embeddings"], tol.STEP1_OUT_ATOL))
    out.append(compare(case, "step1.logits", s1["logits"], golden["step1.logits"], tol.STEP1_OUT_ATOL))
    for k, rec in enumerate(run.steps[1:], start=1):
        i = min(k - 1, len(tol.LATER_TOTAL_RTOL) - 1)
        out.append(
            compare(
                case,
                f"loss_total[step {k + 1}]",
                rec["loss_total"],
                golden["loss_total"][k],
                0.0,
                tol.LATER_TOTAL_RTOL[i],
                note="chaotic: gross errors only",
            )
        )
        for name in ("triplet_weighted", "softmax_loss", "softmax_weighted"):
            out.append(compare(case, f"{name}[step {k + 1}]", rec[name], golden[name][k], 0.0, tol.LATER_TERM_RTOL[i]))
        out.append(
            compare(
                case,
                f"softmax_accuracy[step {k + 1}]",
                rec["softmax_accuracy"],
                golden["softmax_accuracy"][k],
                tol.LATER_ACCURACY_ATOL,
            )
        )
    if len(run.steps) == int(golden["loss_total"].shape[0]):
        last = run.steps[-1]["embeddings"].astype(np.float64)
        ref = golden["final.embeddings"].astype(np.float64)
        out.append(
            _ratio(
                case,
                "final.embeddings",
                np.abs(last - ref).max() / np.abs(ref).max(),
                tol.FINAL_EMB_REL_MAX,
                "max diff relative to the max (gross only)",
            )
        )
    return out


def _per_step_checks(case: str, golden: dict, run: TrainRun, manifest: dict) -> list[CheckResult]:
    k = len(run.steps)
    out = [
        compare_exact(case, name, np.array([r[name] for r in run.steps], dtype=golden[name].dtype), golden[name][:k])
        for name in ("lr", "lr_after", "iteration")
    ]
    out.append(
        compare_exact(case, "mask_32x16", np.stack([r["mask_32x16"] for r in run.steps]), golden["mask_32x16"][:k])
    )
    out.append(
        compare_exact(
            case, "mask_coverage", np.stack([r["mask_coverage"] for r in run.steps]), golden["mask_coverage"][:k]
        )
    )
    out.append(
        compare(
            case,
            "mask_min_abs_p1_minus_half",
            [r["mask_min_abs_p1_minus_half"] for r in run.steps],
            golden["mask_min_abs_p1_minus_half"][:k],
            tol.MASK_PROB_ATOL,
        )
    )
    opt = manifest["train"]["optimizer"]
    wd, mom = float(opt["weight_decay"]), float(opt["momentum"])
    for name in run.biases[0]:
        b, buf, worst = run.theta0[name].astype(np.float64), None, 0.0
        for step in range(len(run.steps)):
            buf = wd * b if buf is None else mom * buf + wd * b
            b = b - float(golden["lr"][step]) * buf
            worst = max(worst, float(np.abs(run.biases[step][name] - b).max()))
        out.append(
            CheckResult(
                case,
                f"{name} vs momentum + weight decay recurrence",
                worst,
                tol.BIAS_RECURRENCE_ATOL,
                worst <= tol.BIAS_RECURRENCE_ATOL,
                "every step, float64 recurrence",
                tol.BIAS_RECURRENCE_ATOL,
                0.0,
            )
        )
        for prefix, snap in (("step1", run.biases[0]), ("final", run.biases[-1])):
            if f"{prefix}.param.{name}" in golden and (prefix == "step1" or k == golden["lr"].shape[0]):
                out.append(
                    compare(
                        case,
                        f"{prefix}.param.{name} (absolute)",
                        snap[name],
                        golden[f"{prefix}.param.{name}"],
                        tol.BIAS_VS_GOLDEN_ATOL,
                    )
                )
    for name, v in run.mask0.items():
        out.append(compare_exact(case, f"mask head {name} unchanged", run.mask_final[name], v, "frozen"))
    return out


def _name_checks(case: str, golden: dict, run: TrainRun) -> list[CheckResult]:
    def names(key: str) -> np.ndarray:
        return np.array(sorted(str(x) for x in np.atleast_1d(golden[key])))

    out = [
        compare_exact(
            case, "optimizer_param_names", np.array(sorted(run.optimizer_names)), names("optimizer_param_names")
        ),
        compare_exact(case, "buffer_names", np.array(sorted(run.buffer_names)), names("buffer_names")),
        compare_exact(case, "step1.params_with_grad", np.array(sorted(run.with_grad)), names("step1.params_with_grad")),
    ]
    shapes = json.loads(str(golden["optimizer_param_shapes"]))
    out.append(
        compare_exact(
            case,
            "optimizer_param_shapes",
            np.array([json.dumps(run.optimizer_shapes, sort_keys=True)]),
            np.array([json.dumps(shapes, sort_keys=True)]),
        )
    )
    large = {n for n in run.optimizer_names if int(np.prod(run.optimizer_shapes[n])) > 50000}
    out.append(compare_exact(case, "large_param_names", np.array(sorted(large)), names("large_param_names")))
    return out


def check_train_steps(golden_dir: Path, manifest: dict, case: dict, steps: int | None = None) -> list[CheckResult]:
    """Every check of one ``train_steps`` case (``steps``: fewer than the case's, for quick tests)."""
    name = case["file"]
    with np.load(Path(golden_dir) / name) as z:
        golden = {k: z[k] for k in z.files}
    run = run_train_case(golden_dir, manifest, case, golden, steps)
    out = (
        _loss_checks(name, golden, run)
        + _per_step_checks(name, golden, run, manifest)
        + _name_checks(name, golden, run)
    )
    out += _step1_tensor_checks(name, golden, run)
    if len(run.steps) == int(golden["lr"].shape[0]):
        out += _final_tensor_checks(name, golden, run)
    return out
