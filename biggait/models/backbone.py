"""The frozen upstream: a DINOv2 ViT from timm's public API and its two feature taps.

Variants (``ModelConfig.lvm``) map to timm model names; ``lvm_tiny`` keeps the variant's family
(LayerScale, SwiGLU for g, registers for ``*_reg4``) but shrinks width and depth so the demo and
the tests run on a CPU, scaled so that S < B < L < G still holds.

Taps (spec section 2):
- ``last``: the final block through the model's affine final LayerNorm -> ``[B, gh, gw, C]``.
- ``mid4``: raw outputs of blocks ``int(i*L/4 + L/4 - 1)``, i = 0..3, concatenated on channels
  and normalised by a parameter-free LayerNorm (eps 1e-6) -> ``[B, gh, gw, 4C]``.
Both are returned channels-last (token order), which is what the GRE and the fast upsampling
want.

Positional embeddings: the checkpoint's 37x37 grid is resampled once and installed: by default the
original DINOv2 way (bicubic, ``scale_factor=((gh+0.1)/37, (gw+0.1)/37)``, no antialias, float32, what
BigGait's vendored copy does); ``pos_embed="size"`` resamples to the output size instead (bicubic
``size=(gh, gw)``, what HuggingFace transformers >= 4.45 does, and so BiggerGait's goldens).
:meth:`FrozenLVM.hidden_states` gives every raw block output (BiggerGait's taps).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from biggait.errors import ConfigError

PATCH = 14  # DINOv2's patch size; the demo's pretrained stand-ins use a smaller one (model.lvm_patch)
PRETRAIN_GRID = 37  # DINOv2 checkpoints are trained at 518 px = 37 x 37 patches


@dataclass(frozen=True)
class LVMVariant:
    """One DINOv2 size: its timm name, its official file and the tiny stand-in's shape."""

    timm_name: str
    meta_file: str
    embed_dim: int
    depth: int
    tiny: dict  # timm kwargs overriding width / depth / heads for the demo stand-in


_TINY = {
    "s": dict(embed_dim=48, depth=4, num_heads=3),
    "b": dict(embed_dim=52, depth=4, num_heads=4),  # B/L/G: one step of width each, so that their pretraining
    "l": dict(embed_dim=56, depth=4, num_heads=4),  # (LVM-size table only) fits the demo's time budget
    "g": dict(embed_dim=60, depth=4, num_heads=6),
}
_SIZES = {"s": ("small", 384, 12), "b": ("base", 768, 12), "l": ("large", 1024, 24), "g": ("giant", 1536, 40)}

# The only registry: variant name -> LVMVariant.
VARIANTS: dict[str, LVMVariant] = {}
for _k, (_name, _dim, _depth) in _SIZES.items():
    for _reg in ("", "_reg4"):
        VARIANTS[f"vit{_k}14{_reg}"] = LVMVariant(
            timm_name=f"vit_{_name}_patch14{_reg}_dinov2",
            meta_file=f"dinov2_vit{_k}14{_reg}_pretrain.pth",
            embed_dim=_dim,
            depth=_depth,
            tiny=_TINY[_k],
        )


def meta_url(variant: str) -> str:
    """Where Meta publishes the official checkpoint of ``variant`` (printed, never fetched)."""
    base = variant.replace("_reg4", "")
    return f"https://dl.fbaipublicfiles.com/dinov2/dinov2_{base}/{VARIANTS[variant].meta_file}"


def get_variant(name: str) -> LVMVariant:
    """The :class:`LVMVariant` of ``name`` or a ConfigError listing the known ones."""
    if name not in VARIANTS:
        raise ConfigError(f"model.lvm: unknown LVM variant {name!r} (expected one of: {', '.join(VARIANTS)})")
    return VARIANTS[name]


def mid4_indices(depth: int) -> list[int]:
    """Blocks tapped for ``mid4``: ``int(i*L/4 + L/4 - 1)`` (2, 5, 8, 11 for L = 12)."""
    return [int(i * depth / 4 + depth / 4 - 1) for i in range(4)]


POS_EMBED_METHODS = ("scale_factor", "size")


def interpolate_pos_embed(patch_pos: Tensor, grid: tuple[int, int], method: str = "scale_factor") -> Tensor:
    """Resample a square patch positional embedding (bicubic, align_corners False, no antialias, float32).

    Args:
        patch_pos: ``[1, M*M, C]`` (no prefix tokens), e.g. M = 37.
        grid: the target ``(gh, gw)`` patch grid, e.g. (32, 16) for 448x224.
        method: ``scale_factor`` (the original DINOv2 code: the sampling grid is set by
            ``scale_factor=((gh+0.1)/M, (gw+0.1)/M)``) or ``size`` (HuggingFace transformers >= 4.45:
            ``size=(gh, gw)``). They differ by up to 0.36 on real weights.
    Returns:
        ``[1, gh*gw, C]`` in the input's dtype.
    """
    if method not in POS_EMBED_METHODS:
        raise ConfigError(f"pos-embed interpolation {method!r}: expected one of {list(POS_EMBED_METHODS)}")
    n_tok, dim = patch_pos.shape[1], patch_pos.shape[2]
    m = int(math.sqrt(n_tok))
    if m * m != n_tok:
        raise ValueError(f"positional embedding of {n_tok} tokens is not a square grid")
    gh, gw = grid
    src = patch_pos.float().reshape(1, m, m, dim).permute(0, 3, 1, 2)  # [1, C, M, M]
    how = dict(size=(gh, gw)) if method == "size" else dict(scale_factor=((gh + 0.1) / m, (gw + 0.1) / m))
    out = F.interpolate(src, mode="bicubic", align_corners=False, antialias=False, **how)  # [1, C, gh, gw]
    if tuple(out.shape[-2:]) != (gh, gw):
        raise ValueError(f"pos-embed interpolation gave {tuple(out.shape[-2:])}, expected {(gh, gw)}")
    return out.permute(0, 2, 3, 1).reshape(1, gh * gw, dim).to(patch_pos.dtype)


def build_vit(
    variant: str, tiny: bool, image_hw: tuple[int, int], patch: int = PATCH, init_values: float | None = None
) -> nn.Module:
    """The timm DINOv2 ViT of ``variant`` (tiny: the demo's shrunken stand-in) for ``image_hw`` frames.

    ``patch`` other than 14 is for the tiny stand-ins only (the demo's 16x8 token grid at 64x32);
    ``init_values`` overrides timm's LayerScale init (1e-5) for a model that is going to be trained.
    """
    spec = get_variant(variant)
    if image_hw[0] % patch or image_hw[1] % patch:
        raise ConfigError(f"model.image_size: {image_hw} is not a multiple of the patch size {patch}")
    if patch != PATCH and not tiny:
        raise ConfigError(f"model.lvm_patch: {patch} needs model.lvm_tiny (the official {variant} has patch {PATCH})")
    kwargs = dict(spec.tiny) if tiny else {}
    if patch != PATCH:
        kwargs["patch_size"] = patch
    if init_values is not None:
        kwargs["init_values"] = init_values
    import timm  # here, not at the top: the silhouette baseline's jobs never pay its import (~2 s)

    return timm.create_model(spec.timm_name, pretrained=False, img_size=image_hw, num_classes=0, **kwargs)


class FrozenLVM(nn.Module):
    """A frozen timm DINOv2 ViT that returns the ``last`` and ``mid4`` taps.

    Always in eval mode (``train()`` is a no-op for it) and run without an autograd graph.
    ``pos_embed``: how a checkpoint's positional embedding is resampled (:func:`interpolate_pos_embed`).
    """

    def __init__(
        self, variant: str, tiny: bool, image_hw: tuple[int, int], patch: int = PATCH, pos_embed: str = "scale_factor"
    ) -> None:
        super().__init__()
        if pos_embed not in POS_EMBED_METHODS:
            raise ConfigError(f"pos-embed interpolation {pos_embed!r}: expected one of {list(POS_EMBED_METHODS)}")
        self.pos_embed_method = pos_embed
        self.vit = build_vit(variant, tiny, image_hw, patch)
        self.variant, self.tiny, self.patch = variant, tiny, patch
        self.grid = (image_hw[0] // patch, image_hw[1] // patch)
        self.embed_dim = self.vit.embed_dim
        self.depth = len(self.vit.blocks)
        self.taps = mid4_indices(self.depth)
        self.num_prefix = self.vit.num_prefix_tokens
        # A random model still gets its positional embedding through the original resampling,
        # from a 37x37 grid initialised like timm's (trunc-normal 0.02).
        src = torch.empty(1, PRETRAIN_GRID * PRETRAIN_GRID, self.embed_dim)
        nn.init.trunc_normal_(src, std=0.02)
        self.install_pos_embed(src, cls_pos=torch.zeros(1, 1, self.embed_dim))
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> FrozenLVM:  # noqa: D401 - frozen: stays in eval mode
        return super().train(False)

    @property
    def no_embed_class(self) -> bool:
        return bool(getattr(self.vit, "no_embed_class", False))

    @torch.no_grad()
    def install_pos_embed(self, patch_pos: Tensor, cls_pos: Tensor) -> None:
        """Install a ``[1, M*M, C]`` pretrain-grid patch embedding, resampled to this grid.

        ``cls_pos`` ``[1, 1, C]`` is the cls token's own positional embedding: kept as the first
        entry for plain models; for register models (timm ``no_embed_class``) it is folded into
        the cls token by the caller, like timm's DINOv2 conversion does.
        """
        patch = interpolate_pos_embed(patch_pos, self.grid, self.pos_embed_method).to(self.vit.pos_embed.dtype)
        new = patch if self.no_embed_class else torch.cat([cls_pos.to(patch.dtype), patch], dim=1)
        if new.shape != self.vit.pos_embed.shape:
            raise ValueError(f"pos_embed {tuple(new.shape)} does not fit the model's {tuple(self.vit.pos_embed.shape)}")
        self.vit.pos_embed.copy_(new)

    @torch.no_grad()
    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x ``[B, 3, H, W]`` normalised frames -> (last ``[B, gh, gw, C]``, mid4 ``[B, gh, gw, 4C]``)."""
        b = x.shape[0]
        final, inter = self.vit.forward_intermediates(x, indices=self.taps, norm=False, output_fmt="NLC")
        gh, gw = self.grid
        last = final[:, self.num_prefix :].reshape(b, gh, gw, self.embed_dim)  # final norm applied
        mid = torch.cat(inter, dim=-1)  # [B, gh*gw, 4C], raw block outputs, prefix tokens dropped
        mid = F.layer_norm(mid, (mid.shape[-1],), eps=1e-6).reshape(b, gh, gw, -1)
        return last, mid

    @torch.no_grad()
    def hidden_states(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """x ``[B, 3, H, W]`` -> (embedding output ``[B, T, C]``: patch embedding + prefix tokens + positions,
        the raw output of every block ``depth x [B, T, C]``); T = prefix + gh*gw tokens, prefix first.
        No final norm (HuggingFace ``hidden_states[0]`` and ``hidden_states[1:]``)."""
        v = self.vit
        h = v.norm_pre(v.patch_drop(v._pos_embed(v.patch_embed(x))))
        first, outs = h, []
        for blk in v.blocks:
            h = blk(h)
            outs.append(h)
        return first, outs

    def reported_num_params(self) -> int:
        """Parameters as the pretrained DINOv2 counts them: 37x37 (+cls) pos-embed and mask token."""
        n = sum(p.numel() for p in self.parameters())
        n -= self.vit.pos_embed.numel()
        n += (PRETRAIN_GRID * PRETRAIN_GRID + 1) * self.embed_dim  # original pos_embed with cls entry
        n += self.embed_dim  # DINOv2's mask_token (unused for features; timm drops it)
        return n
