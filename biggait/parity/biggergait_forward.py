"""Eval-forward checks of a BiggerGait golden case (``kind: forward``; README sections 3 and 7).

Our forward runs on the case's ``input_uint8`` (normalised as the release does) with the case's
``seqL``, recorded by :class:`~biggait.parity.biggergait_trace.GoldenRecorder`; every array the README
lists is compared with its tolerance (:mod:`biggait.parity.biggergait_tolerances`). Masks are exact except
on tokens whose golden probability is within ``MASK_MARGIN`` of 0.5; if such a token flips, the rest is
computed again with the golden decision on it (README 3.2), so one borderline token cannot fail
everything downstream.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from biggait.errors import DataError
from biggait.models.backbone import interpolate_pos_embed
from biggait.models.biggergait import BiggerGait
from biggait.parity import biggergait_tolerances as tol
from biggait.parity.biggergait_golden import _state, load_case_model, normalised, sha256, weights_entry
from biggait.parity.biggergait_trace import GoldenRecorder
from biggait.parity.golden import CheckResult, compare, compare_exact

ATOL = {
    "dino_input": tol.DINO_INPUT_ATOL,
    "hidden_states_tokens": tol.TOKEN_ATOL,
    "joint_ln_tokens": tol.TOKEN_ATOL,
    "mask_branch_input_tokens": tol.TOKEN_ATOL,
    "mask_prob1_32x16": tol.MASK_PROB_ATOL,
    "mask_min_abs_p1_minus_half": tol.MASK_PROB_ATOL,
    "humanspace_out_tap": tol.MAP_ATOL,
    "hpp": tol.MAP_ATOL,
    "embed_per_group": tol.EMB_ATOL,
    "embeddings": tol.EMB_ATOL,
    "bnneck_feat": tol.EMB_ATOL,
    "logits": tol.EMB_ATOL,
}
SAMPLED = {
    "humanspace_out_sample": "humanspace_out_full",
    "gait_input_sample": "gait_input_full",
    "trunk_sample": "trunk_full",
    "tp_sample": "tp_full",
}
SUMS = (
    "hidden_states_sum",
    "hidden_states_abs_sum",
    "embeddings_output_sum",
    "joint_ln_sum_per_layer",
    "joint_ln_abs_sum_per_layer",
    "mask_branch_input_sum",
    "mask_branch_input_abs_sum",
    "humanspace_stage_sum",
    "humanspace_stage_abs_sum",
    "gait_input_sum",
    "gait_input_abs_sum",
    "trunk_sum",
    "trunk_abs_sum",
    "trunk_l2",
    "tp_sum",
    "tp_abs_sum",
)
EXACT = ("chunk_lengths", "mask_64x32_equals_nearest_x2", "embeddings_equals_concat_of_groups")
ELSEWHERE = (
    "mask_32x16",
    "mask_64x32",
    "mask_64x32_bilinear",
    "mask_coverage_32x16",
    "pos_embed_used",
    "pos_embed_scale_factor_plus_0_1",
    "pos_embed_methods_max_abs_diff",
    "embeddings_one_chunk",
    "one_chunk_max_abs_diff",
)  # compared by their own functions below
INPUTS = (
    "input_uint8",
    "input_norm_verify_max_abs",
    "labels",
    "seqL",
    "tap_frame_index",
    "token_index",
    "meta_json",
    "humanspace_out_sample_index",
    "gait_input_sample_index",
    "trunk_sample_index",
    "tp_sample_index",
)


def compare_sums(case: str, name: str, ours, ref) -> CheckResult:
    """float64 sums: rtol ``SUM_RTOL``, plus ``SUM_ATOL_SMALL`` where the golden sum is below ``SUM_SMALL``."""
    a, b = np.asarray(ours, np.float64), np.asarray(ref, np.float64)
    if a.shape != b.shape:
        return CheckResult(
            case,
            name,
            float("inf"),
            0.0,
            False,
            f"shape {a.shape} != golden {b.shape}",
            tol.SUM_ATOL_SMALL,
            tol.SUM_RTOL,
        )
    allowed = tol.SUM_RTOL * np.abs(b) + np.where(np.abs(b) < tol.SUM_SMALL, tol.SUM_ATOL_SMALL, 0.0)
    diff = np.abs(a - b)
    return CheckResult(
        case,
        name,
        float(diff.max()) if diff.size else 0.0,
        float(allowed.max()) if diff.size else 0.0,
        bool((diff <= allowed).all()),
        f"atol only where |golden| < {tol.SUM_SMALL:g}",
        tol.SUM_ATOL_SMALL,
        tol.SUM_RTOL,
    )


def compare_masked(case: str, name: str, ours, ref, skip: np.ndarray, atol: float = 0.0) -> CheckResult:
    """Exact (or within ``atol``) except where ``skip`` (the golden's borderline tokens)."""
    a, b = np.asarray(ours, np.float64), np.asarray(ref, np.float64)
    if a.shape != b.shape:
        return CheckResult(case, name, float("inf"), atol, False, f"shape {a.shape} != golden {b.shape}", atol, 0.0)
    keep = ~skip
    diff = np.abs(a - b)[keep]
    worst = float(diff.max()) if diff.size else 0.0
    flips = int((np.abs(a - b)[skip] > atol).sum())
    return CheckResult(
        case,
        name,
        worst,
        atol,
        worst <= atol,
        f"{int(skip.sum())} borderline entries not held to it ({flips} differ)",
        atol,
        0.0,
    )


def _margin_masks(golden: dict, map_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Borderline tokens (golden |p1 - 0.5| < MASK_MARGIN) at the token grid, the map, and the bilinear map."""
    tok = np.abs(golden["mask_prob1_32x16"].astype(np.float64) - 0.5) < tol.MASK_MARGIN
    t = torch.from_numpy(tok.astype(np.float32)).unsqueeze(1)
    near = F.interpolate(t, size=map_hw, mode="nearest").squeeze(1).numpy() > 0
    bil = F.interpolate(t, size=map_hw, mode="bilinear", align_corners=False).squeeze(1).numpy() > 0
    return tok, near, bil


class _GoldenDecision:
    """Forward hook on the mask head: on ``flip`` tokens (global frame order) use the golden p1 instead."""

    def __init__(self, golden_p1: np.ndarray, flip: np.ndarray, n: int, s: int, chunk_frames: int) -> None:
        self.p1, self.flip = torch.from_numpy(golden_p1), torch.from_numpy(flip)
        lengths = [len(c) for c in torch.chunk(torch.arange(s), s // chunk_frames + 1)]
        starts = np.cumsum([0] + lengths)[:-1]
        self.chunks = [
            (np.arange(n)[:, None] * s + t0 + np.arange(sc)[None]).reshape(-1) for t0, sc in zip(starts, lengths)
        ]
        self.calls = 0

    def __call__(self, module, args, out):
        idx = torch.from_numpy(self.chunks[self.calls])
        self.calls += 1
        flip, gold = self.flip[idx].reshape(-1), self.p1[idx].reshape(-1).to(out.dtype)
        return torch.where(flip, gold, out)


def run_case(model: BiggerGait, golden: dict, hook=None) -> dict[str, np.ndarray]:
    """Our traced eval forward on the golden inputs -> golden-named arrays."""
    x = normalised(golden["input_uint8"])
    n, s = x.shape[:2]
    seq = torch.from_numpy(golden["seqL"].astype(np.int64)).reshape(-1) if "seqL" in golden else None
    rec = GoldenRecorder(n, s, golden.get("tap_frame_index", np.zeros(0, np.int64)), golden.get("token_index"))
    handle = model.mask.register_forward_hook(hook) if hook is not None else None
    try:
        with torch.no_grad():
            out = model.eval()(x, None, seq, trace=rec)
    finally:
        if handle is not None:
            handle.remove()
    arrays = rec.arrays(out.embeddings, out.bnneck, out.logits)
    arrays["input_norm"] = x.numpy()
    return arrays


def _pos_embeds(model: BiggerGait, raw_pos: torch.Tensor) -> dict[str, np.ndarray]:
    """The installed positional embedding (cls + grid) and the other resampling method's, from the file's
    37x37 ``position_embeddings``."""
    used = model.lvm.vit.pos_embed.detach()[0].numpy().copy()
    other_method = "scale_factor" if model.lvm.pos_embed_method == "size" else "size"
    other = interpolate_pos_embed(raw_pos[:, 1:].float(), model.lvm.grid, other_method)[0]
    other = torch.cat([raw_pos[0, :1].float(), other]).numpy()
    sf = used if model.lvm.pos_embed_method == "scale_factor" else other
    return {
        "pos_embed_used": used,
        "pos_embed_scale_factor_plus_0_1": sf,
        "pos_embed_methods_max_abs_diff": np.float64(np.abs(used - other).max()),
    }


def pos_embed_checks(case: str, ours: dict, golden: dict, method: str) -> list[CheckResult]:
    return [
        compare(
            case, k, ours[k], golden[k], tol.POS_EMBED_ATOL, note=f"installed: {method}" if k.endswith("used") else ""
        )
        for k in ("pos_embed_used", "pos_embed_scale_factor_plus_0_1", "pos_embed_methods_max_abs_diff")
        if k in golden
    ]


def _mask_checks(case: str, ours: dict, golden: dict, map_hw: tuple[int, int]) -> list[CheckResult]:
    tok, near, bil = _margin_masks(golden, map_hw)
    per_frame = tok.reshape(tok.shape[0], -1)
    cov_atol = float(per_frame.sum(1).max() / per_frame.shape[1]) if per_frame.size else 0.0
    return [
        compare_masked(case, "mask_32x16", ours["mask_32x16"], golden["mask_32x16"], tok),
        compare_masked(case, "mask_64x32", ours["mask_64x32"], golden["mask_64x32"], near),
        compare_masked(case, "mask_64x32_bilinear", ours["mask_64x32_bilinear"], golden["mask_64x32_bilinear"], bil),
        compare(
            case,
            "mask_coverage_32x16",
            ours["mask_coverage_32x16"],
            golden["mask_coverage_32x16"],
            cov_atol,
            note="exact unless a borderline token flips",
        ),
    ]


def compare_arrays(case: str, ours: dict, golden: dict) -> list[CheckResult]:
    """Every golden array of a forward case that is not an input (masks: see :func:`_mask_checks`)."""
    out = []
    for name in golden:
        if name in INPUTS or name in ELSEWHERE:
            continue
        ref = golden[name]
        if name in SAMPLED:
            idx = golden[f"{name}_index"]
            mine = ours[SAMPLED[name]]
            mine = mine[:, idx] if mine.ndim == 2 else mine[idx]
            out.append(compare(case, name, mine, ref, tol.MAP_ATOL, note="at the golden's sample indices"))
        elif name in SUMS:
            out.append(compare_sums(case, name, ours[name], ref))
        elif name in ATOL:
            out.append(compare(case, name, ours[name], ref, ATOL[name]))
        elif name in EXACT or name == "input_norm":
            out.append(compare_exact(case, name, ours[name], ref))
        else:
            out.append(
                CheckResult(case, name, float("nan"), 0.0, True, "not described by the README: not compared", 0.0, 0.0)
            )
    return out


def _raw_pos_embed(golden_dir: Path, manifest: dict, case: dict) -> torch.Tensor:
    """The checkpoint's 37x37 (+cls) ``position_embeddings`` as loaded (fp16 files cast to float32)."""
    w = weights_entry(golden_dir, manifest, case["weights"])
    key = "Backbone.embeddings.position_embeddings"
    for f in (w["file"], w.get("backbone_from")):
        if f and key in _state(str(Path(golden_dir) / f)):
            return _state(str(Path(golden_dir) / f))[key].float()
    raise KeyError(key)


def _one_chunk(model: BiggerGait, golden: dict) -> np.ndarray:
    """The embeddings of the same call with every frame in one time chunk."""
    x = normalised(golden["input_uint8"])
    seq = torch.from_numpy(golden["seqL"].astype(np.int64)).reshape(-1) if "seqL" in golden else None
    keep, model.chunk_frames = model.chunk_frames, x.shape[1] + 1
    try:
        with torch.no_grad():
            return model.eval()(x, None, seq).embeddings.numpy()
    finally:
        model.chunk_frames = keep


def _one_chunk_checks(name: str, ours: dict, golden: dict) -> list[CheckResult]:
    one = ours["_one_chunk"]
    out = [compare(name, "embeddings_one_chunk", one, golden["embeddings_one_chunk"], tol.EMB_ATOL)]
    if "one_chunk_max_abs_diff" in golden:
        out.append(
            compare(
                name,
                "one_chunk_max_abs_diff",
                np.abs(one - ours["embeddings"]).max(),
                golden["one_chunk_max_abs_diff"],
                tol.EMB_ATOL,
                note="chunking changes nothing in eval",
            )
        )
    return out


_CACHE: dict[tuple, tuple[tuple[int, int], str, dict]] = {}  # the last two cases' results (ours)
_SHA: dict[tuple, str] = {}


def _file_sha(path: Path) -> str:
    st = path.resolve().stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _SHA:
        _SHA[key] = sha256(path)
    return _SHA[key]


def _key(golden_dir: Path, manifest: dict, case: dict, golden: dict) -> tuple:
    """What our results depend on: the manifest's model, the case's grouping, the weights files' bytes, the
    inputs and the golden mask decision (used on borderline tokens). Not the golden outputs."""
    w = weights_entry(golden_dir, manifest, case["weights"])
    shas = tuple(_file_sha(Path(golden_dir) / w[k]) for k in ("file", "backbone_from", "mask_branch_file") if w.get(k))
    h = hashlib.sha256()
    for k in ("input_uint8", "seqL", "tap_frame_index", "token_index", "mask_prob1_32x16", "mask_32x16"):
        if k in golden:
            h.update(k.encode() + np.ascontiguousarray(golden[k]).tobytes())
    spec = json.dumps(
        [
            manifest["upstream"],
            manifest["model"],
            {k: v for k, v in case.items() if k != "file"},
            "embeddings_one_chunk" in golden,
        ],
        sort_keys=True,
    )
    return spec, shas, h.hexdigest()


def _ours(golden_dir: Path, manifest: dict, case: dict, golden: dict) -> tuple[tuple[int, int], str, dict]:
    """(map size, pos-embed method, our arrays) of a case, computed once per distinct :func:`_key`."""
    key = _key(golden_dir, manifest, case, golden)
    if key in _CACHE:
        return _CACHE[key]
    model = load_case_model(golden_dir, manifest, case)
    ours = run_case(model, golden)
    tok, _, _ = _margin_masks(golden, model.map_hw)
    flip = tok & (ours["mask_32x16"] != golden["mask_32x16"])
    if flip.any():  # README 3.2: feed the golden decision on the flipped borderline tokens, check the rest
        n, s = golden["input_uint8"].shape[:2]
        masks = {k: ours[k] for k in ("mask_32x16", "mask_64x32", "mask_64x32_bilinear", "mask_coverage_32x16")}
        ours = {
            **run_case(model, golden, _GoldenDecision(golden["mask_prob1_32x16"], flip, n, s, model.chunk_frames)),
            **masks,
        }
    ours.update(_pos_embeds(model, _raw_pos_embed(golden_dir, manifest, case)))
    if "embeddings_one_chunk" in golden:
        ours["_one_chunk"] = _one_chunk(model, golden)
    while len(_CACHE) >= 2:
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[key] = (model.map_hw, model.lvm.pos_embed_method, ours)
    return _CACHE[key]


def check_forward(golden_dir: Path, manifest: dict, case: dict) -> list[CheckResult]:
    """Every array of one forward case of the manifest."""
    name = case["file"]
    if case.get("mode", "eval") != "eval":
        raise DataError(f"{name}: forward mode {case.get('mode')!r} is not supported (expected eval)")
    with np.load(Path(golden_dir) / name) as z:
        golden = {k: z[k] for k in z.files}
    map_hw, method, ours = _ours(golden_dir, manifest, case, golden)
    results = _mask_checks(name, ours, golden, map_hw) + compare_arrays(name, ours, golden)
    results += pos_embed_checks(name, ours, golden, method)
    if "embeddings_one_chunk" in golden:
        results += _one_chunk_checks(name, ours, golden)
    want = case.get("seqL")
    have = golden["seqL"].reshape(-1).tolist() if "seqL" in golden else None
    results.append(compare_exact(name, "seqL (manifest vs file)", np.array(want or []), np.array(have or [])))
    return results
