"""BiggerGait's foreground mask: a frozen per-token head on the upstream's last layer.

The released model (spec ``biggergait-spec.md`` section 1) feeds a parameter-free LayerNorm(C) of the
raw last block output, per patch token at the 32x16 grid, through ``BN1d(C, non-affine) -> Linear(C, 2)
-> softmax``; foreground = softmax channel 1 > 0.5 (no polarity check), upsampled x2 by nearest
neighbour (exactly the released bilinear resize of the 0/1 map followed by ``> 0.5``). The weights
always come from ``MaskBranch_vits14.pt`` and never train.

Mode quirk (kept by default, ``mask_bn_follows_mode``): the released trainer leaves this frozen head
in train mode, so in training its BatchNorm normalises with batch statistics over every token of the
batch and its running statistics drift (the evaluation of a trained checkpoint then uses the drifted
ones). ``follows_mode=False`` keeps the head in eval mode, always using its running statistics: what a
frozen, pretrained head is meant to do.

``recon`` and ``bn_out`` are the released module's ``up_sampling`` and ``bn_t``: unused in the forward
(no reconstruction loss), held so that the released files load one to one and the parameter count
is the released one (1,922 for C = 384).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class TokenMaskBranch(nn.Module):
    """``[N, C]`` normalised tokens -> foreground probability ``[N]`` (softmax channel 1)."""

    def __init__(self, c: int, follows_mode: bool = True) -> None:
        super().__init__()
        self.bn_in = nn.BatchNorm1d(c, affine=False)
        self.proj = nn.Linear(c, 2)
        self.bn_out = nn.BatchNorm1d(2, affine=False)  # released bn_t: unused
        self.recon = nn.Linear(2, c)  # released up_sampling: unused
        self.follows_mode = follows_mode
        self.requires_grad_(False)

    def train(self, mode: bool = True) -> TokenMaskBranch:
        return super().train(mode and self.follows_mode)

    @torch.no_grad()
    def all_foreground(self) -> None:
        """A head that marks every token foreground (p1 = softmax(0, 1)[1] = 0.73): no mask. For runs without
        ``MaskBranch_vits14.pt`` (the demo: ``model.biggergait.mask_fallback: foreground``)."""
        self.proj.weight.zero_()
        self.proj.bias.copy_(torch.tensor([0.0, 1.0]))

    @torch.no_grad()
    def forward(self, tokens: Tensor) -> Tensor:
        """tokens ``[N, C]`` (already LayerNorm-ed) -> p1 ``[N]``."""
        return F.softmax(self.proj(self.bn_in(tokens)), dim=1)[:, 1]


def token_mask(p1: Tensor, map_hw: tuple[int, int]) -> tuple[Tensor, Tensor]:
    """p1 ``[ns, gh, gw]`` -> (mask at the token grid ``[ns, gh, gw]`` bool, mask at ``map_hw`` bool).

    The map is the nearest-neighbour upsampling of the token mask, which is what the released
    bilinear resize of the float 0/1 map followed by ``> 0.5`` computes at an integer factor (the
    nearest source pixel always carries a bilinear weight >= 0.5625 at x2).
    """
    fg = p1 > 0.5
    gh, gw = fg.shape[-2:]
    h, w = map_hw
    if h % gh or w % gw:  # not an integer factor: do what the released code does
        up = F.interpolate(fg.float().unsqueeze(1), size=map_hw, mode="bilinear", align_corners=False)
        return fg, up.squeeze(1) > 0.5
    return fg, fg.repeat_interleave(h // gh, dim=1).repeat_interleave(w // gw, dim=2)
