"""The Gait Representation Extractor (GRE): mask, appearance and denoising branches.

Each branch is a per-pixel head over a flat list of *selected* pixels ``[N_pix, C]`` (1x1
convolutions in effect), so its BatchNorms see the selected pixels only. A head is
``Dropout -> BN(C_in) -> f -> out`` with ``f`` one Linear or ``Linear -> BN -> GELU -> Linear``
and ``out`` a softmax or ``sigmoid(BN(.))``; every GRE BatchNorm is non-affine.

Foreground selection (mask branch, spec section 3): softmax over 2 channels on valid pixels,
per-frame polarity from the top and bottom 5 rows, then a dilation / erosion clean-up; the
pixels where the cleaned map is non-zero feed the other two branches.
"""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F
from torch import Tensor, nn

logger = logging.getLogger(__name__)


class PixelHead(nn.Module):
    """One GRE branch head over selected pixels ``[N, C_in] -> [N, C_out]``."""

    def __init__(self, c_in: int, c_out: int, dropout: float, mlp: bool, out: str, reconstruct: bool = False) -> None:
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.bn_in = nn.BatchNorm1d(c_in, affine=False)
        if mlp:
            hidden = c_in // 2
            self.proj = nn.Sequential(
                nn.Linear(c_in, hidden), nn.BatchNorm1d(hidden, affine=False), nn.GELU(), nn.Linear(hidden, c_out)
            )
        else:
            self.proj = nn.Linear(c_in, c_out)
        if out not in ("softmax", "sigmoid"):
            raise ValueError(f"unknown head output {out!r}")
        self.out = out
        self.bn_out = nn.BatchNorm1d(c_out, affine=False) if out == "sigmoid" else None
        self.recon = nn.Linear(c_out, c_in) if reconstruct else None

    def forward(
        self, x: Tensor, want_recon: bool = True, grid: tuple[Tensor, Tensor, tuple[int, int]] | None = None
    ) -> tuple[Tensor, Tensor | None]:
        """x ``[N, C_in]`` -> (probabilities ``[N, C_out]``, reconstruction MSE or None).

        ``grid``: ``(tokens [ns, gh, gw, C_in], select [ns*h*w] bool, (h, w))`` when ``x`` is the
        ``select`` ed pixels of the bilinear upsampling of ``tokens`` to ``(h, w)``: the first linear
        layer then runs at the token grid (:meth:`_first_at_tokens`).
        """
        first, rest = (self.proj[0], self.proj[1:]) if isinstance(self.proj, nn.Sequential) else (self.proj, None)
        if grid is not None and self._at_tokens_applies(x, grid):
            y = self._first_at_tokens(first, x, *grid)
        else:
            y = first(self.bn_in(self.drop(x)))
        if rest is not None:
            y = rest(y)  # [N, C_out]
        if self.out == "sigmoid":
            return torch.sigmoid(self.bn_out(y)), None
        y = F.softmax(y, dim=1)
        mse = F.mse_loss(self.recon(y), x) if (self.recon is not None and want_recon) else None
        return y, mse

    def _at_tokens_applies(self, x: Tensor, grid: tuple[Tensor, Tensor, tuple[int, int]]) -> bool:
        """Whether :meth:`_first_at_tokens` computes the same function: no dropout, BN with a momentum,
        an input that needs no gradient (the frozen upstream's) and a map larger than the token grid."""
        tokens, _, map_hw = grid
        return (
            (self.drop.p == 0 or not self.training)
            and self.bn_in.momentum is not None
            and not x.requires_grad
            and tuple(tokens.shape[1:3]) != tuple(map_hw)
        )

    def _first_at_tokens(
        self, first: nn.Linear, x: Tensor, tokens: Tensor, select: Tensor, map_hw: tuple[int, int]
    ) -> Tensor:
        """``first(bn_in(x))`` computed at the token grid.

        The map is the bilinear upsampling U of the tokens, and U is linear with weights summing to
        one, so with the BatchNorm's statistics (mean m, inverse std r, taken on the selected pixels
        ``x`` as before) ``first((U t - m) r) = U first((t - m) r)``: the projection (1536 -> 768 for
        the denoising head) and its weight gradient run on the tokens (4x fewer rows at paper scale),
        then its output is upsampled and selected. Equal up to rounding.
        """
        bn = self.bn_in
        if bn.training:
            # BatchNorm's own statistics kernel without its normalised output: the batch's mean and
            # (biased) variance, and the module's running statistics updated in place as BN does.
            with torch.no_grad():
                mean, var = torch.batch_norm_update_stats(x, bn.running_mean, bn.running_var, bn.momentum)
                bn.num_batches_tracked.add_(1)
        else:
            mean, var = bn.running_mean, bn.running_var
        y = first((tokens - mean) * torch.rsqrt(var + bn.eps))  # [ns, gh, gw, C_first]
        up = F.interpolate(y.permute(0, 3, 1, 2), size=map_hw, mode="bilinear", align_corners=False)
        return up.permute(0, 2, 3, 1).reshape(-1, y.shape[-1])[select]


def resolve_polarity(prob: Tensor, rows: int = 5) -> tuple[Tensor, Tensor]:
    """Pick the foreground channel per frame.

    Args:
        prob: ``[ns, h, w, 2]`` mask softmax scattered into zeros (0 on invalid pixels).
    Returns:
        (foreground probability ``[ns, h, w]``, flipped ``[ns]`` bool: channel 1 was chosen).
        Channel 0 is background when round(channel 0) has more than ``rows*w`` ones in the top
        ``rows`` plus bottom ``rows`` rows (pad columns included).
    """
    c0 = torch.round(prob[..., 0])  # [ns, h, w]
    border = c0[:, :rows].sum(dim=(1, 2)) + c0[:, -rows:].sum(dim=(1, 2))  # [ns]
    flipped = border > rows * prob.shape[2]
    body = torch.where(flipped[:, None, None], prob[..., 1], prob[..., 0])
    return body, flipped


def clean_foreground(p: Tensor) -> Tensor:
    """Dilation / erosion clean-up of a foreground probability ``[ns, h, w]``.

    B = round(p); D = 3x3 dilation of B; E = 5x5 erosion of D, both ignoring out-of-image pixels
    (max-pool with -inf padding, min-pool with +inf padding). Returns p on D xor E, 1 on E and
    0 elsewhere; pixels where the result is non-zero are the selection.
    """
    b = torch.round(p).unsqueeze(1)  # [ns, 1, h, w]
    d = F.max_pool2d(b, 3, stride=1, padding=1)  # max_pool pads with -inf
    e = -F.max_pool2d(-d, 5, stride=1, padding=2)  # min-pool, +inf padding
    band = (d != e).squeeze(1)
    return torch.where(e.squeeze(1) > 0, torch.ones_like(p), torch.where(band, p, torch.zeros_like(p)))


def scatter_pixels(values: Tensor, select: Tensor, total: int) -> Tensor:
    """Place ``values [N_sel, C]`` at ``select`` (bool ``[total]``) in a zero ``[total, C]`` tensor."""
    out = values.new_zeros(total, values.shape[1])
    return out.index_put((select,), values)


class GRE(nn.Module):
    """Mask, appearance and denoising branches (each can be switched off).

    Args:
        last_dim / mid_dim: channels of the ``last`` and ``mid4`` taps (384 / 1536 for ViT-S).
        mask_dim / appearance_dim / denoising_dim: branch outputs (2 / 16 / 16).
    """

    def __init__(
        self,
        last_dim: int,
        mid_dim: int,
        mask_dim: int = 2,
        appearance_dim: int = 16,
        denoising_dim: int = 16,
        mask_branch: bool = True,
        appearance_branch: bool = True,
        denoising_branch: bool = True,
    ) -> None:
        super().__init__()
        if mask_branch and mask_dim != 2:
            raise ValueError("the mask branch needs mask_dim 2 (background / foreground)")
        self.mask = (
            PixelHead(last_dim, mask_dim, 0.5, mlp=False, out="softmax", reconstruct=True) if mask_branch else None
        )
        self.appearance = (
            PixelHead(mid_dim, appearance_dim, 0.0, mlp=False, out="sigmoid") if appearance_branch else None
        )
        self.denoising = PixelHead(mid_dim, denoising_dim, 0.0, mlp=True, out="softmax") if denoising_branch else None
        self.appearance_dim, self.denoising_dim = appearance_dim, denoising_dim
        self.mask_frozen = False

    def select_foreground(self, last: Tensor | None, valid: Tensor, want_recon: bool) -> dict[str, Tensor]:
        """Foreground selection from the ``last`` tap.

        Args:
            last: ``[ns, h, w, C]`` channels-last upsampled tap.
            valid: ``[ns, h, w]`` validity mask (1 = image pixel).
        Returns a dict with ``prob`` ``[ns*h*w, 2]`` (channels-last buffer, zeros off valid pixels),
        ``body`` / ``foreground`` ``[ns, h, w]``, ``flipped`` ``[ns]``, ``select`` bool ``[ns*h*w]``
        and, when asked, ``reconstruction`` (MSE).
        """
        vsel = valid.reshape(-1) != 0
        out: dict[str, Tensor] = {}
        if self.mask is None:  # ablation: every valid pixel is foreground
            out["foreground"] = valid
            out["select"] = vsel
            return out
        ns, h, w, c = last.shape
        flat = last.reshape(ns * h * w, c)
        train_mask = self.training and not self.mask_frozen
        with torch.set_grad_enabled(train_mask and torch.is_grad_enabled()):
            probs, mse = self.mask(flat[vsel], want_recon=want_recon)  # [N_valid, 2]
            prob = scatter_pixels(probs, vsel, ns * h * w)  # [ns*h*w, 2]
        if mse is not None:
            out["reconstruction"] = mse
        out["prob"] = prob
        with torch.no_grad():  # the selection is detached: recognition losses never reach it
            body, flipped = resolve_polarity(prob.detach().view(ns, h, w, 2))
            fg = clean_foreground(body)
        out.update(body=body, flipped=flipped, foreground=fg, select=fg.reshape(-1) != 0)
        return out

    def branch_maps(self, mid: Tensor, select: Tensor, mid_tokens: Tensor | None = None) -> dict[str, Tensor]:
        """Appearance / denoising maps from the ``mid4`` tap ``[ns, h, w, C]`` on ``select``.

        ``mid_tokens``: the same tap at the token grid ``[ns, gh, gw, C]`` before its bilinear
        upsampling; when given, each head's first projection runs there (:meth:`PixelHead.forward`).
        Returns channels-last maps ``[ns, h, w, C_out]`` (0 on unselected pixels).
        """
        ns, h, w, c = mid.shape
        pix = mid.reshape(ns * h * w, c)[select]  # [N_sel, C]
        grid = None if mid_tokens is None else (mid_tokens, select, (h, w))
        out: dict[str, Tensor] = {}
        for name, head in (("appearance", self.appearance), ("denoising", self.denoising)):
            if head is None:
                continue
            if pix.shape[0] < 2 and self.training:
                # BatchNorm cannot take batch statistics of fewer than two pixels.
                logger.warning("GRE: %d foreground pixels in the batch; %s map left empty", pix.shape[0], name)
                vals = pix.new_zeros(
                    pix.shape[0],
                    head.proj[-1].out_features if isinstance(head.proj, nn.Sequential) else head.proj.out_features,
                )
            else:
                vals, _ = head(pix, grid=grid)
            out[name] = scatter_pixels(vals, select, ns * h * w).view(ns, h, w, -1)
        return out
