"""Golden checks of the model, the losses and the in-model Pad-and-Resize (``biggait selfcheck``).

Each check reproduces one golden file of the released implementation on CPU in float32 and
compares every array with the README's tolerances (:mod:`biggait.parity.tolerances`): DINOv2 taps
atol 1e-4, probabilities and maps 2e-5, pooled features 2e-5, embeddings / BNNeck / logits 2e-6, loss
scalars rtol 1e-5, the triplet's distances and mean_dist as section 7 says, discrete things
(selection, polarity, validity, active triplet counts) exact.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from biggait.config import LossConfig, ModelConfig
from biggait.errors import BigGaitError
from biggait.models.biggait import build_model
from biggait.models.losses import TripletResult, connect_loss, cross_entropy, diversity_loss, triplet_loss
from biggait.models.padding import needed_widths, pad_and_resize, validity_mask
from biggait.models.weights import load_opengait_state_dict, read_weights
from biggait.parity.golden import CheckResult, compare, compare_distances, compare_exact
from biggait.parity.tolerances import (
    EMB_ATOL,
    LOSS_ATOL,
    LOSS_RTOL,
    MAP_ATOL,
    POOL_ATOL,
    TAP_ATOL,
    TRIPLET_MEAN_DIST_ATOL,
)


@functools.lru_cache(maxsize=2)
def golden_model(weights: str, device: str = "cpu") -> torch.nn.Module:
    """The released CCPG configuration with the golden OpenGait weights (fp16 -> fp32), eval mode."""

    model = build_model(ModelConfig(), 100, load_lvm=False)
    load_opengait_state_dict(model, read_weights(weights, "golden weights"), weights)
    return model.eval().to(device)


def run_forward_case(
    npz: dict, weights: Path, device: str = "cpu", autocast: torch.dtype | None = None
) -> dict[str, np.ndarray]:
    """Our forward on a golden case's inputs -> arrays named like the golden file (on ``device``, fp32
    or under ``autocast``; the results come back as float32/64 numpy arrays)."""
    model = golden_model(str(weights), device)
    seq = torch.from_numpy(npz["seqL"].astype(np.int64)).reshape(-1).to(device) if "seqL" in npz else None
    trace: dict = {}
    dev_type = torch.device(device).type
    with torch.no_grad(), torch.autocast(dev_type, dtype=autocast or torch.float32, enabled=autocast is not None):
        out = model(
            torch.from_numpy(npz["input_norm"]).to(device), torch.from_numpy(npz["ratios"]).to(device), seq, trace=trace
        )
    names = {
        "valid_mask": "valid",
        "foreground_body": "body",
        "flipped_to_channel1": "flipped",
        "denoising_map": "denoising",
        "appearance_map": "appearance",
        "shape_mse": "reconstruction",
    }
    res = {k: trace[v] for k, v in names.items()}
    for k in ("dino_input", "dino_last1", "dino_mid4_ln", "mask_branch_prob", "foreground", "tp_feat", "hpp_feat"):
        res[k] = trace[k]
    res.update(_raw_regulariser_terms(model, trace))
    res.update(embed_1=out.embeddings, bnneck_feat=out.bnneck, logits=out.logits)
    res["dino_input"] = res["dino_input"].cpu()[torch.from_numpy(npz["dino_input_frame_index"])]
    for k in ("dino_last1", "dino_mid4_ln"):
        res[k] = res[k].cpu()[torch.from_numpy(npz["tap_frame_index"])]
    half = (torch.float16, torch.bfloat16)  # autocast outputs: numpy has no bfloat16
    return {k: (v.detach().float() if v.dtype in half else v.detach()).cpu().numpy() for k, v in res.items()}


_FWD_TOLS = {
    "dino_input": MAP_ATOL,
    "dino_last1": TAP_ATOL,
    "dino_mid4_ln": TAP_ATOL,
    "mask_branch_prob": MAP_ATOL,
    "foreground_body": MAP_ATOL,
    "foreground": MAP_ATOL,
    "denoising_map": MAP_ATOL,
    "appearance_map": MAP_ATOL,
    "tp_feat": POOL_ATOL,
    "hpp_feat": POOL_ATOL,
    "embed_1": EMB_ATOL,
    "bnneck_feat": EMB_ATOL,
    "logits": EMB_ATOL,
}
_FWD_SCALARS = ("shape_mse", "loss_shape_connect_raw", "loss_part_connect_raw", "loss_part_diversity_raw")


def _raw_regulariser_terms(model: torch.nn.Module, trace: dict) -> dict[str, torch.Tensor]:
    """The golden's unweighted regularisers of an eval forward, from its trace (the model computes them only
    in training): the mask's smoothness (the released interleaved view of its ``[ns*h*w, 2]`` buffer), the
    denoising map's smoothness without its last channel, and its diversity."""
    h, w = model.map_hw
    den = trace["denoising"]  # [n, C, s, h, w]
    ns = den.shape[0] * den.shape[2]
    den = den.permute(0, 2, 3, 4, 1).reshape(ns, h, w, -1)  # channels-last, as the model holds it
    part = den[..., :-1]
    return {
        "loss_shape_connect_raw": connect_loss(trace["prob"], ns, 2, h, w, "channel_sum"),
        "loss_part_connect_raw": connect_loss(part.permute(0, 3, 1, 2), ns, part.shape[-1], h, w, model.cfg.smoothness),
        "loss_part_diversity_raw": diversity_loss(den.reshape(ns, h * w, -1)),
    }


def check_forward(
    golden_dir: Path, weights: Path | None, case: str, device: str = "cpu", autocast: torch.dtype | None = None
) -> list[CheckResult]:
    """Every array of one ``fwd_*.npz`` case (on ``device``, fp32 unless ``autocast``)."""
    if weights is None or not Path(weights).exists():
        raise BigGaitError(f"{case}: the golden weights file is needed (pass --weights)")
    npz = dict(np.load(golden_dir / case))
    ours = run_forward_case(npz, Path(weights), device, autocast)
    results = [compare(case, k, ours[k], npz[k], atol=tol) for k, tol in _FWD_TOLS.items()]
    results += [compare(case, k, ours[k], npz[k], atol=LOSS_ATOL, rtol=LOSS_RTOL) for k in _FWD_SCALARS]
    results.append(compare_exact(case, "valid_mask", ours["valid_mask"], npz["valid_mask"]))
    results.append(compare_exact(case, "flipped_to_channel1", ours["flipped_to_channel1"], npz["flipped_to_channel1"]))
    results.append(compare_exact(case, "selection (foreground != 0)", ours["foreground"] != 0, npz["foreground"] != 0))
    return results


def check_triplet(golden_dir: Path, weights: Path | None) -> list[CheckResult]:
    case = "loss_triplet.npz"
    d = np.load(golden_dir / case)
    r = triplet_loss(torch.from_numpy(d["embeddings"]), torch.from_numpy(d["labels"]), float(d["margin"]))
    return triplet_checks(case, r, d)


def triplet_checks(case: str, r: TripletResult, d) -> list[CheckResult]:
    """Our triplet loss result ``r`` against the golden arrays ``d``: the losses to ``LOSS_RTOL``, the
    distances off the diagonal to ``DIST_RTOL``, the self-distances and what they feed (``mean_dist``,
    the mean of the N x N matrix) at the size of their rounding residue, the active counts exactly."""
    out = [
        compare(case, k, getattr(r, k).numpy(), d[k], atol=LOSS_ATOL, rtol=LOSS_RTOL)
        for k in ("loss", "loss_per_part", "hard_loss")
    ]
    out.append(compare(case, "mean_dist", r.mean_dist.numpy(), d["mean_dist"], atol=TRIPLET_MEAN_DIST_ATOL))
    out += compare_distances(case, "dist", r.dist.numpy(), d["dist"])
    out.append(compare_exact(case, "loss_num", r.loss_num.numpy(), d["loss_num"]))
    return out


def check_ce(golden_dir: Path, weights: Path | None) -> list[CheckResult]:
    case = "loss_ce.npz"
    d = np.load(golden_dir / case)
    loss, acc = cross_entropy(
        torch.from_numpy(d["logits"]), torch.from_numpy(d["labels"]), float(d["scale"]), float(d["eps"])
    )
    return [
        compare(case, "loss", loss.numpy(), d["loss"], atol=LOSS_ATOL, rtol=LOSS_RTOL),
        compare_exact(case, "accuracy", np.float32(acc.numpy()), d["accuracy"]),
    ]


def check_connect(golden_dir: Path, weights: Path | None) -> list[CheckResult]:
    case = "loss_connect.npz"
    d = np.load(golden_dir / case)
    mask = torch.from_numpy(d["mask_map"])  # [ns, 64, 32, 2] channels-last
    den = torch.from_numpy(d["denoising_map"])  # [ns, 64, 32, 16]
    ns, h, w, _ = mask.shape
    shape = connect_loss(mask.reshape(ns * h * w, 2), ns, 2, h, w, "channel_sum")
    part = connect_loss(den[..., :15].permute(0, 3, 1, 2), ns, 15, h, w, "channel_sum")
    first = connect_loss(mask.permute(0, 3, 1, 2), ns, 2, h, w, "channel_sum")
    w = LossConfig()  # the released weights are the config's defaults
    return [
        compare(case, k, v.numpy(), d[k], atol=LOSS_ATOL, rtol=LOSS_RTOL)
        for k, v in (
            ("loss_shape_connect_raw", shape),
            ("loss_shape_connect_weighted", w.mask_smoothness_weight * shape),
            ("loss_part_connect_raw", part),
            ("loss_part_connect_weighted", w.denoising_smoothness_weight * part),
            ("loss_shape_connect_if_channel_first", first),
        )
    ]


def check_diversity(golden_dir: Path, weights: Path | None) -> list[CheckResult]:
    case = "loss_diversity.npz"
    d = np.load(golden_dir / case)
    den = torch.from_numpy(d["denoising_map"])
    v = diversity_loss(den.reshape(den.shape[0], -1, den.shape[-1]))
    return [
        compare(
            case, "loss_part_diversity_raw", v.numpy(), d["loss_part_diversity_raw"], atol=LOSS_ATOL, rtol=LOSS_RTOL
        ),
        compare(
            case,
            "loss_part_diversity_weighted",
            (LossConfig().diversity_weight * v).numpy(),
            d["loss_part_diversity_weighted"],
            atol=LOSS_ATOL,
            rtol=LOSS_RTOL,
        ),
    ]


def check_padding(golden_dir: Path, weights: Path | None) -> list[CheckResult]:
    case = "preproc_padding_resize.npz"
    d = np.load(golden_dir / case)
    x, r = torch.from_numpy(d["x"]), torch.from_numpy(d["ratios"])
    return [
        compare(case, "out_256x128", pad_and_resize(x, r, 256, 128).numpy(), d["out_256x128"], atol=MAP_ATOL),
        compare(case, "mask_64x32", validity_mask(r, 64, 32).numpy(), d["mask_64x32"], atol=MAP_ATOL),
        compare_exact(case, "valid (mask_64x32 != 0)", validity_mask(r, 64, 32).numpy() != 0, d["mask_64x32"] != 0),
        compare_exact(case, "need_w_256", needed_widths(r, 256).numpy().astype(np.int64), d["need_w_256"]),
        compare_exact(case, "need_w_64", needed_widths(r, 64).numpy().astype(np.int64), d["need_w_64"]),
    ]


CHECKS: dict[str, Callable[[Path, Path | None], list[CheckResult]]] = {
    **{
        case: functools.partial(check_forward, case=case)
        for case in ("fwd_ccpg_prepadded_n2s6.npz", "fwd_padding_resize_128_n2s6.npz", "fwd_ccpg_packed_seqL_3_5.npz")
    },
    "loss_triplet.npz": check_triplet,
    "loss_ce.npz": check_ce,
    "loss_connect.npz": check_connect,
    "loss_diversity.npz": check_diversity,
    "preproc_padding_resize.npz": check_padding,
}
