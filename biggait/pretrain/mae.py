"""The pretraining objectives of the tiny DINOv2-shaped ViTs: masked-image modelling (MAE, He et
al. 2022, :meth:`MAE.masked_step`) and a time-contrastive term (InfoNCE between the cls tokens of
two frames of one sequence, :meth:`MAE.info_nce`); the demo uses both (loop.py, ``mae+tcl``).

The encoder is the very timm model BigGait's upstream builds (:func:`build_vit`), so its weights
export 1:1. Two differences from a plain timm ViT while training:

- the positional embedding is a square ``M x M`` grid (``M = max(grid)``) resampled to the
  token grid at every step with :func:`interpolate_pos_embed`, the function the checkpoint
  loader uses; the exported square grid therefore loads back to exactly the trained embedding;
- 75 % of the patches are dropped before the encoder; a 2-block decoder (width 48 for every
  variant) predicts the per-patch-normalised pixels of the dropped patches from the kept ones.

Augmentation: brightness / contrast / saturation jitter, 20 % greyscale and horizontal flips
(:func:`augment`), on uint8-range frames before the ImageNet normalisation of BigGait's loader.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from timm.models.vision_transformer import Block
from torch import Tensor, nn

from biggait.data.loader import RGB_MEAN, RGB_STD
from biggait.models.backbone import build_vit, interpolate_pos_embed

# The MAE decoder of every stand-in: the ViT-S stand-in's width and heads (models/backbone.py).
DECODER_WIDTH, DECODER_HEADS = 48, 3
_MEAN = torch.tensor(RGB_MEAN, dtype=torch.float32).view(1, 3, 1, 1)
_STD = torch.tensor(RGB_STD, dtype=torch.float32).view(1, 3, 1, 1)


def normalize(x: Tensor) -> Tensor:
    """uint8-range ``[B, 3, H, W]`` -> ImageNet-normalised float (BigGait's loader does the same)."""
    return (x.float() - _MEAN) / _STD


COLOURS = ("jitter", "strong")  # augment(): photometric jitter only, or jitter + hue rotation + channel order
TARGETS = ("pixels", "grey")  # what the MAE decoder predicts: normalised RGB patches, or their grey level


def hue_rotation(angle: Tensor) -> Tensor:
    """``[B]`` angles (radians) -> ``[B, 3, 3]`` rotations of RGB about the grey axis (1, 1, 1)/sqrt(3)
    (Rodrigues): a hue shift that keeps every pixel's grey level."""
    k = torch.full((3,), 3**-0.5)
    kx = torch.tensor([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    c, s = angle.cos()[:, None, None], angle.sin()[:, None, None]
    return c * torch.eye(3) + s * kx + (1 - c) * torch.outer(k, k)


def strong_colour(x: Tensor, gen: torch.Generator) -> Tensor:
    """A random hue rotation and a random channel order per frame of float ``[B, 3, H, W]`` in 0..255:
    a walker's clothes and the scene's colours no longer tell two frames (or two sequences) apart."""
    b = x.shape[0]
    rot = hue_rotation(torch.rand(b, generator=gen) * (2 * math.pi))  # [B, 3, 3]
    x = torch.einsum("bij,bjhw->bihw", rot, x)
    perm = torch.rand(b, 3, generator=gen).argsort(dim=1)  # [B, 3]
    return torch.gather(x, 1, perm[:, :, None, None].expand_as(x))


def augment(x: Tensor, gen: torch.Generator, colour: str = "jitter") -> Tensor:
    """Photometric jitter and flips of float ``[B, 3, H, W]`` frames in 0..255 (no geometry change
    besides the flip: the token grid of the frames is the one BigGait sees); ``colour="strong"``
    first rotates the hue and shuffles the channels (:func:`strong_colour`)."""
    b = x.shape[0]
    if colour == "strong":
        x = strong_colour(x, gen)

    def u(lo: float, hi: float) -> Tensor:
        return torch.empty(b, 1, 1, 1).uniform_(lo, hi, generator=gen)

    x = x * u(0.6, 1.4)  # brightness
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * u(0.6, 1.4) + mean  # contrast
    grey = x.mean(dim=1, keepdim=True)
    x = grey + (x - grey) * u(0.5, 1.5)  # saturation
    to_grey = (torch.rand(b, 1, 1, 1, generator=gen) < 0.2).float()
    x = to_grey * grey + (1 - to_grey) * x
    flip = torch.rand(b, generator=gen) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    return x.clamp(0, 255)


class MAE(nn.Module):
    """Encoder (the upstream ViT) + decoder; :meth:`loss` is the training objective."""

    def __init__(
        self,
        variant: str,
        image_hw: tuple[int, int],
        patch: int,
        mask_ratio: float = 0.75,
        decoder_depth: int = 2,
        layerscale_init: float = 0.1,
        target: str = "pixels",
        encoder_pos: bool = True,
    ) -> None:
        super().__init__()
        if not 0.0 < mask_ratio < 1.0:
            raise ValueError(f"mask_ratio must be in (0, 1), got {mask_ratio}")
        if target not in TARGETS:
            raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
        self.target = target
        self.vit = build_vit(variant, True, image_hw, patch, init_values=layerscale_init)
        self.vit.pos_embed.requires_grad_(False)  # replaced by the square grid below
        self.grid = (image_hw[0] // patch, image_hw[1] // patch)
        self.patch, self.mask_ratio = patch, mask_ratio
        dim = self.vit.embed_dim
        side = max(self.grid)
        self.pos_square = nn.Parameter(torch.empty(1, side * side, dim))
        nn.init.trunc_normal_(self.pos_square, std=0.02)
        self.cls_pos = nn.Parameter(torch.zeros(1, 1, dim))
        if not encoder_pos:  # a bag of patches: the encoder's tokens carry content, not their position
            nn.init.zeros_(self.pos_square)
            self.pos_square.requires_grad_(False)
            self.cls_pos.requires_grad_(False)
        n_tok = self.grid[0] * self.grid[1]
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dim))
        # The decoder belongs to the recipe, not to the encoder: one width for every stand-in (the ViT-S
        # stand-in's, as MAE keeps its decoder width fixed), so B/L/G are pretrained with the same decoder
        # and their cost grows with the encoder only. Wider encoder tokens enter it through a linear map.
        self.decoder_pos = nn.Parameter(torch.empty(1, n_tok, DECODER_WIDTH))
        nn.init.trunc_normal_(self.decoder_pos, std=0.02)
        self.decoder_embed = nn.Identity() if dim == DECODER_WIDTH else nn.Linear(dim, DECODER_WIDTH)
        self.decoder = nn.Sequential(*[Block(DECODER_WIDTH, DECODER_HEADS) for _ in range(decoder_depth)])
        self.predict = nn.Linear(DECODER_WIDTH, patch * patch * (1 if target == "grey" else 3))
        # time-contrastive head: the cls tokens of two frames of one sequence are the positive pair
        self.contrast = nn.Sequential(nn.Linear(dim, 128), nn.GELU(), nn.Linear(128, 64))

    def patch_pos(self) -> Tensor:
        """The square grid resampled to the token grid ``[1, gh*gw, C]`` (differentiable)."""
        return interpolate_pos_embed(self.pos_square, self.grid)

    def encode(self, x: Tensor, keep: Tensor | None = None) -> Tensor:
        """Normalised frames ``[B, 3, H, W]`` -> tokens ``[B, 1 + n, C]`` after the final norm.
        ``keep`` ``[B, n]`` indexes the patches that enter the encoder (all when None)."""
        t = self.vit.patch_embed(x) + self.patch_pos()  # [B, L, C]
        if keep is not None:
            t = torch.gather(t, 1, keep[..., None].expand(-1, -1, t.shape[-1]))
        cls = (self.vit.cls_token + self.cls_pos).expand(t.shape[0], -1, -1)
        t = self.vit.norm_pre(torch.cat([cls, t], dim=1))
        for blk in self.vit.blocks:
            t = blk(t)
        return self.vit.norm(t)

    def loss(self, x: Tensor, gen: torch.Generator) -> Tensor:
        """MSE on the masked patches of normalised frames ``x`` (per-patch normalised targets)."""
        return self.masked_step(x, gen)[0]

    def masked_step(self, x: Tensor, gen: torch.Generator) -> tuple[Tensor, Tensor]:
        """(MAE loss, cls token ``[B, C]`` of the masked encoding) of normalised frames ``x``."""
        b = x.shape[0]
        n_tok = self.grid[0] * self.grid[1]
        n_keep = max(1, int(round(n_tok * (1 - self.mask_ratio))))
        order = torch.rand(b, n_tok, generator=gen).argsort(dim=1)
        keep = order[:, :n_keep]
        tokens = self.encode(x, keep)
        enc = tokens[:, 1:]  # [B, n_keep, C]
        full = self.mask_token.expand(b, n_tok, -1).scatter(1, keep[..., None].expand(-1, -1, enc.shape[-1]), enc)
        pred = self.predict(self.decoder(self.decoder_embed(full) + self.decoder_pos))  # [B, L, p*p*3]
        img = x.mean(dim=1, keepdim=True) if self.target == "grey" else x
        target = F.unfold(img, self.patch, stride=self.patch).transpose(1, 2)  # [B, L, 3*p*p] (grey: p*p)
        target = (target - target.mean(-1, keepdim=True)) / (target.var(-1, keepdim=True) + 1e-6).sqrt()
        masked = torch.ones(b, n_tok, dtype=torch.bool).scatter(1, keep, False)
        return ((pred - target) ** 2).mean(-1)[masked].mean(), tokens[:, 0]

    def contrastive_loss(self, x1: Tensor, x2: Tensor, temperature: float = 0.1) -> Tensor:
        """InfoNCE between two frames of each sequence (``x1[i]``, ``x2[i]``); the other pairs of
        the batch are the negatives (time-contrastive learning, Sermanet et al. 2018)."""
        return self.info_nce(self.encode(x1)[:, 0], self.encode(x2)[:, 0], temperature)

    def info_nce(self, c1: Tensor, c2: Tensor, temperature: float = 0.1) -> Tensor:
        """Symmetric InfoNCE between the projected cls tokens ``c1[i]`` and ``c2[i]``."""
        z1 = F.normalize(self.contrast(c1), dim=-1)
        z2 = F.normalize(self.contrast(c2), dim=-1)
        logits = z1 @ z2.T / temperature
        target = torch.arange(len(z1))
        return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2

    def meta_state_dict(self) -> dict[str, Tensor]:
        """The encoder in the official Meta DINOv2 key layout (what ``model.lvm_checkpoint`` reads)."""
        out: dict[str, Tensor] = {}
        for k, v in self.vit.state_dict().items():
            if k == "pos_embed":
                continue
            k = k.replace(".mlp.fc1.", ".mlp.w12.").replace(".mlp.fc2.", ".mlp.w3.") if self._swiglu() else k
            out[k] = v.detach().clone()
        out["pos_embed"] = torch.cat([self.cls_pos, self.pos_square], dim=1).detach().clone()
        out["mask_token"] = torch.zeros(1, self.vit.embed_dim)  # DINOv2 files carry one; unused for features
        return out

    def _swiglu(self) -> bool:
        return type(self.vit.blocks[0].mlp).__name__.startswith("SwiGLU")


def cosine_lr(step: int, total: int, base: float, warmup: int) -> float:
    """Linear warm-up then cosine decay to 0."""
    if step < warmup:
        return base * (step + 1) / warmup
    return base * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))
