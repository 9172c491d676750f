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
"""

from __future__ import annotations

import dataclasses
import time

import torch
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
    name = "GaitBase (silhouettes)" if m.arch == "gaitbase" else f"BigGait-{m.lvm}{' (tiny)' if m.lvm_tiny else ''}"
    lines = [f"{name} at {res['input_hw'][0]}x{res['input_hw'][1]}"]
    lines.append(f"  total parameters      {res['total_params'] / 1e6:8.2f} M  ({int(res['total_params']):,})")
    lines.append(f"  trainable parameters  {res['trainable_params'] / 1e6:8.2f} M  ({int(res['trainable_params']):,})")
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
    if "frames_per_s" in res:
        lines.append(
            f"  inference             {res['frames_per_s']:8.1f} frames/s ({res['device']}, {res['threads']} threads)"
        )
    return lines
