"""BiggerGait's per-depth-group projections ("HumanSpace") and the joint LayerNorm that feeds them.

The 12 raw block outputs of the upstream are concatenated per token (12 * C channels) and normalised
by **one** parameter-free LayerNorm (eps 1e-6) over all of them, then split back into per-layer slices
of C channels; ``layers_per_group`` adjacent slices are concatenated into one group (spec section 1,
quirk 2: a per-layer LayerNorm is a different model).

Each group has its own projection, run on every pixel (BatchNorm statistics include the background),
with the released stage order (indices as in the released ``HumanSpace_Conv.{j}``):
``0 BN(C_in) -> 1 Conv1x1(C_in, hidden) -> 2 BN(hidden) -> 3 GELU (erf) -> 4 Conv1x1(hidden, out) ->
5 bilinear resize to the map size -> 6 BN(out) -> 7 sigmoid``; every BatchNorm is non-affine.
The foreground mask multiplies the output afterwards (:mod:`biggait.models.biggergait`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class Resize(nn.Module):
    """Bilinear resize (align_corners False, no antialias) to a fixed size."""

    def __init__(self, size: tuple[int, int]) -> None:
        super().__init__()
        self.size = tuple(size)

    def forward(self, x: Tensor) -> Tensor:
        return F.interpolate(x, size=self.size, mode="bilinear", align_corners=False)


def projection(c_in: int, hidden: int, c_out: int, map_hw: tuple[int, int]) -> nn.Sequential:
    """One group's projection ``[N, c_in, gh, gw] -> [N, c_out, *map_hw]`` in (0, 1)."""
    return nn.Sequential(
        nn.BatchNorm2d(c_in, affine=False),
        nn.Conv2d(c_in, hidden, 1),
        nn.BatchNorm2d(hidden, affine=False),
        nn.GELU(),
        nn.Conv2d(hidden, c_out, 1),
        Resize(map_hw),
        nn.BatchNorm2d(c_out, affine=False),
        nn.Sigmoid(),
    )


def joint_layer_norm(blocks: list[Tensor], prefix: int) -> Tensor:
    """Raw block outputs ``L x [B, T, C]`` -> the joint LayerNorm of their concatenation, patch tokens
    only: ``[B, T - prefix, L*C]`` (channel = C * layer + c)."""
    cat = torch.cat(blocks, dim=-1)
    return F.layer_norm(cat, (cat.shape[-1],), eps=1e-6)[:, prefix:]


def group_inputs(joint: Tensor, grid: tuple[int, int], groups: int) -> list[Tensor]:
    """Joint-LN tokens ``[B, gh*gw, L*C]`` -> ``groups`` NCHW-contiguous maps ``[B, L*C/groups, gh, gw]``
    of adjacent layers (train-mode BatchNorm on CPU is exact on NCHW memory only)."""
    b, _, c = joint.shape
    maps = joint.transpose(1, 2).reshape(b, c, *grid)  # [B, L*C, gh, gw]
    return [x.contiguous() for x in maps.chunk(groups, dim=1)]


class HumanSpace(nn.Module):
    """``groups`` projections of ``layers_per_group * width`` channels each (released ``HumanSpace_Conv``)."""

    def __init__(
        self, width: int, depth: int, layers_per_group: int, hidden: int, c_out: int, map_hw: tuple[int, int]
    ) -> None:
        super().__init__()
        if layers_per_group < 1 or depth % layers_per_group:
            raise ValueError(f"layers_per_group {layers_per_group} does not divide the upstream's {depth} layers")
        self.groups = depth // layers_per_group
        self.proj = nn.ModuleList(
            [projection(width * layers_per_group, hidden, c_out, map_hw) for _ in range(self.groups)]
        )

    def forward(self, inputs: list[Tensor], stages: list | None = None) -> list[Tensor]:
        """inputs: per group ``[N, C_in, gh, gw]`` -> per group ``[N, c_out, h, w]``. ``stages`` (a list),
        when given, receives per group the outputs of all 8 stages (the golden's ``humanspace_stage_*``)."""
        outs = []
        for x, seq in zip(inputs, self.proj):
            kept = []
            for stage in seq:
                x = stage(x)
                if stages is not None:
                    kept.append(x)
            if stages is not None:
                stages.append(kept)
            outs.append(x)
        return outs
