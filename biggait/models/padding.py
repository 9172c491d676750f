"""In-model Pad-and-Resize and the validity mask of the padded columns.

The released model brings every frame to a ``2w x w`` canvas that keeps the person's aspect
ratio: a frame of ratio ``r = w/h`` is resized to ``(H, int(H*r))`` and then either zero-padded
to width ``W`` (narrow crops, pad split ``left = (W-need_w)//2``) or centre-cropped to ``W``
(wide crops, start ``|(W-need_w)//2|`` with floor division, i.e. ``ceil(excess/2)``). The same
function applied to a map of ones gives the validity mask (0 on pad columns).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def needed_widths(ratios: Tensor, height: int) -> Tensor:
    """``int(height * ratio)`` computed in float32, as the released code does. ratios: [N]."""
    return (height * ratios.reshape(-1).to(torch.float32)).int()


@torch.no_grad()
def pad_and_resize(x: Tensor, ratios: Tensor, height: int, width: int) -> Tensor:
    """Resize each frame to its true aspect ratio inside a ``height x width`` canvas.

    Args:
        x: frames ``[N, C, h, w]`` (any size; typically square pickles of squashed crops).
        ratios: ``[N]`` w/h of the original crops.
        height, width: the canvas, e.g. 256 x 128 for the LVM input, 64 x 32 for the mask.
    Returns:
        ``[N, C, height, width]``: bilinear (align_corners=False, no antialias) resize to
        ``(height, need_w)``, then zero pad or centre crop to ``width``.
    """
    n = x.shape[0]
    need = needed_widths(ratios, height)  # [N] int32
    if need.numel() != n:
        raise ValueError(f"pad_and_resize: {need.numel()} ratios for {n} frames")
    if bool((need <= 0).any()):
        bad = float(ratios.reshape(-1)[need <= 0][0])
        raise ValueError(f"pad_and_resize: ratio {bad} gives an empty width at height {height}")
    out = x.new_zeros(n, x.shape[1], height, width)
    # Frames sharing a width are resized together (one interpolate per distinct width).
    for w_need in torch.unique(need).tolist():
        idx = (need == w_need).nonzero(as_tuple=True)[0]
        resized = F.interpolate(x[idx], size=(height, w_need), mode="bilinear", align_corners=False)
        offset = (width - w_need) // 2  # python floor division, like torch >= 1.13
        if w_need < width:
            out[idx, :, :, offset : offset + w_need] = resized
        else:
            start = abs(offset)
            out[idx] = resized[..., start : start + width]
    return out


@torch.no_grad()
def validity_mask(ratios: Tensor, height: int, width: int, enabled: bool = True) -> Tensor:
    """``[N, height, width]`` float map: 1 on real image columns, 0 on pad columns.

    With ``enabled=False`` (Pad-and-Resize off) every pixel is valid.
    """
    n = ratios.numel()
    ones = torch.ones(n, 1, height, width, device=ratios.device, dtype=torch.float32)
    if not enabled:
        return ones[:, 0]
    return pad_and_resize(ones, ratios, height, width)[:, 0]


@torch.no_grad()
def to_canvas(frames: Tensor, ratios: Tensor, height: int, width: int, pad: bool = True) -> Tensor:
    """Bring frames ``[N, C, h, w]`` to ``[N, C, height, width]`` the way the released model does.

    Frames that are already ``h == 2w`` (pre-padded offline, e.g. CCPG) are resized directly;
    others are first pad-and-resized to ``256 x 128`` (scaled by the canvas) unless ``pad`` is off,
    in which case they are squashed to the canvas.
    """
    h, w = frames.shape[-2:]
    if pad and h != 2 * w:
        # The released model pads to 256x128 first, whatever the final canvas (448x224 / 64x32).
        frames = pad_and_resize(frames, ratios, 256, 128)
    return F.interpolate(frames, size=(height, width), mode="bilinear", align_corners=False)
