"""Parameters and compute per frame of a configured model (``biggait efficiency``).

GFLOPs are counted with ``torch.utils.flop_counter.FlopCounterMode`` on one frame at the
configured input size (448x224 at paper scale) in eval mode and reported as multiply-adds
(FlopCounterMode counts FLOPs = 2 x MACs, so we halve), the convention of the BigGait paper
(12.7 G), per part: the LVM's linear and conv layers (its two attention matmuls are reported
apart: module-based counters such as the one the paper's figure matches do not see them), the
GRE (mask head on every map pixel, appearance / denoising heads on a stated share of foreground
pixels, 25% by default) and GaitBase.
The frozen LVM's parameters are counted the way the pretrained DINOv2 file holds them: its 37x37
(+cls) positional embedding and its mask token, even though the model installs the interpolated
32x16 grid (22,056,576 for ViT-S).

BiggerGait (``arch: biggergait``) is counted the way its paper's 45.7 G / 29.8 G are: the released model
runs fvcore's ``FlopCountAnalysis`` (golden README section 1), which counts multiply-adds of the linear,
conv and matmul ops, the attention matmuls included (the release's HuggingFace DINOv2 runs them as
``torch.matmul``; here they are the ops of ``scaled_dot_product_attention``, counted from their shapes),
and a few operations per element of the normalisations and resampling (:data:`FVCORE_PER_ELEMENT`).
"""

from __future__ import annotations

import dataclasses
import math
import time

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from biggait.config import ModelConfig
from biggait.cpu_memory import keep_freed_memory
from biggait.device import resolve_device
from biggait.models.biggait import build_model

# Share of map pixels the mask selects in typical frames (the golden CCPG-like frames select
# 31-40%, a walking person typically fills a quarter of the 64x32 map); the paper does not say
# how it counted: 25% with attention matmuls left out reproduces its 12.7 G.
DEFAULT_FOREGROUND = 0.25


def _numel(params) -> int:
    return sum(p.numel() for p in params)


def _macs(fn, *args, **kwargs) -> float:
    """Multiply-adds (G) of one call, counted by FlopCounterMode (FLOPs / 2)."""
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        fn(*args, **kwargs)
    return fc.get_total_flops() / 2 / 1e9


# fvcore's per-element counts (fvcore.nn.jit_handles): op -> (operations per input element with affine
# parameters, without them, or per output element for the resampling ops). Batch norm in eval mode.
FVCORE_PER_ELEMENT = {
    "native_batch_norm": (2, 1),
    "_native_batch_norm_legit_no_training": (2, 1),
    "native_layer_norm": (5, 4),
    "native_group_norm": (5, 4),
    "upsample_bilinear2d": (4, 4),  # per output element
    "upsample_nearest2d": (1, 1),  # per output element
    "_adaptive_avg_pool2d": (1, 1),
}
_ATTENTION = (
    "_scaled_dot_product_flash_attention_for_cpu",
    "_scaled_dot_product_flash_attention",
    "_scaled_dot_product_efficient_attention",
    "_scaled_dot_product_cudnn_attention",
    "scaled_dot_product_attention",
    "_scaled_dot_product_attention_math",
)


class FvcoreExtras(TorchDispatchMode):
    """What fvcore counts beyond FlopCounterMode's matmuls and convolutions (as multiply-adds, G):
    ``attention`` (QK^T and AV of every fused attention op: 2 x B x heads x Lq x Lk x head_dim) and
    ``elementwise`` (:data:`FVCORE_PER_ELEMENT`)."""

    def __init__(self) -> None:
        super().__init__()
        self.attention = 0.0
        self.elementwise = 0.0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        name = func.overloadpacket.__name__
        if name in _ATTENTION:
            q, k = args[0], args[1]  # [B, heads, L, d]
            self.attention += 2 * math.prod(q.shape[:-1]) * k.shape[-2] * q.shape[-1] / 1e9
        elif name in FVCORE_PER_ELEMENT:
            with_affine, without = FVCORE_PER_ELEMENT[name]
            if name.startswith(("upsample", "_adaptive")):
                first = out[0] if isinstance(out, (tuple, list)) else out
                numel = (args[0] if name.startswith("_adaptive") else first).numel()
                self.elementwise += with_affine * numel / 1e9
            else:
                affine = len(args) > 1 and isinstance(args[1], torch.Tensor)
                if name == "native_layer_norm":
                    affine = len(args) > 2 and isinstance(args[2], torch.Tensor)
                self.elementwise += (with_affine if affine else without) * args[0].numel() / 1e9
        return out


def count_biggergait(model, res: dict[str, float]) -> None:
    """Parameters (the released convention: ``reported_num_params``) and fvcore's multiply-adds per frame of
    a BiggerGait model, in ``res``: ``lvm`` (linear and conv layers), ``lvm_attention`` (its attention
    matmuls, counted), ``elementwise`` (normalisations and resampling, fvcore's per-element counts),
    ``humanspace`` (the J projections), ``heads`` (the J groups through their gait heads), ``mask``."""
    ih, iw = model.image_hw
    res.update(input_hw=[ih, iw], lvm_params=model.lvm.reported_num_params())
    res["mask_params"] = _numel(model.mask.parameters())
    res["humanspace_params"] = _numel(model.humanspace.parameters())
    res["heads_params"] = _numel(model.heads.parameters())
    extras = FvcoreExtras()
    with torch.no_grad(), FlopCounterMode(display=False) as fc, extras:
        model(torch.randn(1, 1, 3, ih, iw))
    total = fc.get_total_flops() / 2 / 1e9
    per_module = {k: sum(v.values()) / 2 / 1e9 for k, v in fc.get_flop_counts().items()}
    top = type(model).__name__
    for part in ("mask", "humanspace"):  # called as modules; the LVM and the heads through methods
        res[part] = per_module.get(f"{top}.{part}", 0.0)
    res["lvm"] = _macs(model.lvm.hidden_states, torch.randn(1, 3, ih, iw))
    res["heads"] = total - res["lvm"] - res["mask"] - res["humanspace"]
    res["lvm_attention"], res["elementwise"] = extras.attention, extras.elementwise
    res["trainable_params"] = res["humanspace_params"] + res["heads_params"]
    res["total_params"] = model.reported_num_params()
    res["gmacs_per_frame"] = total + extras.attention + extras.elementwise
    res["flops_convention"] = "fvcore multiply-adds, attention matmuls and per-element norms counted"


def count(
    model_cfg: ModelConfig, num_classes: int = 100, foreground_fraction: float = DEFAULT_FOREGROUND
) -> dict[str, float]:
    """Parameter counts and multiply-adds per frame of ``model_cfg``.

    Returns a dict: ``total_params``, ``trainable_params``, ``lvm_params`` (pretrained-file
    convention), ``gre_params``, ``gaitbase_params``; GMACs per frame of the ``lvm`` (linear and
    conv layers), ``lvm_attention`` (the two attention matmuls, analytic: not in the paper's
    convention), ``gre`` (mask head on every pixel, the other heads on ``foreground_fraction`` of
    them), ``gre_all_pixels`` (upper bound), ``gaitbase``; ``gmacs_per_frame`` = lvm + gre +
    gaitbase; ``input_hw``.
    """
    cfg = dataclasses.replace(model_cfg, lvm_checkpoint="", mask_pretrained="")
    model = build_model(cfg, model_cfg.num_classes or num_classes, load_lvm=False).eval()
    h, w = 2 * cfg.gre_map_width, cfg.gre_map_width
    res: dict[str, float] = {"foreground_fraction": foreground_fraction}
    if cfg.arch == "biggergait":
        count_biggergait(model, res)
        return res
    res["gaitbase_params"] = _numel(model.gaitbase.parameters())
    if cfg.arch == "gaitbase":
        res.update(input_hw=[h, w], lvm_params=0, gre_params=0, lvm=0.0, lvm_attention=0.0, gre=0.0, gre_all_pixels=0.0)
        res["gaitbase"] = _macs(model.gaitbase, [torch.rand(1, 1, h, w)], 1)
    else:
        ih, iw = 2 * cfg.image_size, cfg.image_size
        lvm = model.lvm
        res.update(input_hw=[ih, iw], lvm_params=lvm.reported_num_params(), gre_params=_numel(model.gre.parameters()))
        res["lvm"] = _macs(lvm, torch.randn(1, 3, ih, iw))
        tokens = lvm.grid[0] * lvm.grid[1] + lvm.num_prefix
        res["lvm_attention"] = 2 * lvm.depth * tokens * tokens * lvm.embed_dim / 1e9
        dims = {"last": lvm.embed_dim, "mid4": 4 * lvm.embed_dim}
        k = max(2, round(foreground_fraction * h * w))
        gre_fixed = (
            _macs(model.gre.mask, torch.randn(h * w, dims[model.mask_src])) if model.gre.mask is not None else 0.0
        )
        heads = [hd for hd in (model.gre.appearance, model.gre.denoising) if hd is not None]
        per_pixel = sum(_macs(hd, torch.randn(k, dims[model.feat_src])) for hd in heads) / k
        res["gre"] = gre_fixed + per_pixel * k
        res["gre_all_pixels"] = gre_fixed + per_pixel * h * w
        srcs = [torch.rand(1, st.conv.in_channels, h, w) for st in model.gaitbase.stems]
        res["gaitbase"] = _macs(model.gaitbase, srcs, 1)
    res["trainable_params"] = res["gre_params"] + res["gaitbase_params"]
    res["total_params"] = res["trainable_params"] + res["lvm_params"]
    res["gmacs_per_frame"] = res["lvm"] + res["gre"] + res["gaitbase"]
    return res


def throughput(
    model_cfg: ModelConfig, num_classes: int = 100, *, frames: int = 16, repeats: int = 3, device: str = "auto"
) -> dict[str, float]:
    """Inference speed of the test path: one sequence of ``frames`` frames, eval mode, no autograd.

    The model is built with random weights (speed does not depend on them) on ``device`` (``auto``
    = CUDA when available); the median of ``repeats`` timed calls after one warm-up is returned
    as ``frames_per_s`` with ``device`` and ``threads``.
    """
    keep_freed_memory()  # as biggait evaluate does
    dev = resolve_device(device, what="--device")
    cfg = dataclasses.replace(model_cfg, lvm_checkpoint="", mask_pretrained="")
    model = build_model(cfg, model_cfg.num_classes or num_classes, load_lvm=False).eval().to(dev)
    if cfg.arch == "gaitbase":
        x = torch.rand(1, frames, 1, 2 * cfg.gre_map_width, cfg.gre_map_width, device=dev)
    else:
        x = torch.randn(1, frames, 3, 2 * cfg.image_size, cfg.image_size, device=dev)
    ratios = torch.full((1, frames), 0.5, device=dev)
    times = []
    with torch.inference_mode():
        for i in range(repeats + 1):
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            t0 = time.perf_counter()
            model(x, ratios)
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            if i:  # the first call is a warm-up
                times.append(time.perf_counter() - t0)
    times.sort()
    return {"frames_per_s": frames / times[len(times) // 2], "device": str(dev), "threads": torch.get_num_threads()}


def report_lines(model_cfg: ModelConfig, res: dict) -> list[str]:
    """The human-readable report of :func:`count` (and :func:`throughput`) results."""
    m = model_cfg
    tiny = " (tiny)" if m.lvm_tiny else ""
    name = {"gaitbase": "GaitBase (silhouettes)", "biggergait": f"BiggerGait-{m.lvm}{tiny}"}.get(
        m.arch, f"BigGait-{m.lvm}{tiny}"
    )
    lines = [f"{name} at {res['input_hw'][0]}x{res['input_hw'][1]}"]
    lines.append(f"  total parameters      {res['total_params'] / 1e6:8.2f} M  ({int(res['total_params']):,})")
    lines.append(f"  trainable parameters  {res['trainable_params'] / 1e6:8.2f} M  ({int(res['trainable_params']):,})")
    if m.arch == "biggergait":
        return lines + _biggergait_lines(res)
    lines.append(f"    GRE                 {int(res['gre_params']):,}")
    lines.append(f"    GaitBase            {int(res['gaitbase_params']):,}")
    lines.append(f"  frozen LVM            {int(res['lvm_params']):,}")
    lines.append(
        f"  compute per frame     {res['gmacs_per_frame']:8.2f} GMACs"
        f" (multiply-adds; {res['foreground_fraction']:.0%} foreground)"
    )
    lines.append(
        f"    LVM                 {res['lvm']:8.2f}  (+{res['lvm_attention']:.2f} in attention matmuls, not counted)"
    )
    lines.append(
        f"    GRE                 {res['gre']:8.2f}  ({res['gre_all_pixels']:.2f} with every pixel foreground)"
    )
    lines.append(f"    GaitBase            {res['gaitbase']:8.2f}")
    return lines + _throughput_lines(res)


def _biggergait_lines(res: dict) -> list[str]:
    lines = [
        f"    projections         {int(res['humanspace_params']):,}",
        f"    gait heads          {int(res['heads_params']):,}",
        f"  frozen LVM            {int(res['lvm_params']):,}  (+ mask head {int(res['mask_params']):,})",
        f"  compute per frame     {res['gmacs_per_frame']:8.2f} GMACs (multiply-adds, fvcore's count as released)",
        f"    LVM                 {res['lvm']:8.2f}  (+{res['lvm_attention']:.2f} in attention matmuls, counted)",
        f"    projections         {res['humanspace']:8.2f}",
        f"    gait heads          {res['heads']:8.2f}",
        f"    norms, resampling   {res['elementwise']:8.2f}",
    ]
    return lines + _throughput_lines(res)


def _throughput_lines(res: dict) -> list[str]:
    if "frames_per_s" not in res:
        return []
    return [f"  inference             {res['frames_per_s']:8.1f} frames/s ({res['device']}, {res['threads']} threads)"]
