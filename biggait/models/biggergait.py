"""BiggerGait (NeurIPS 2025; ``arch: biggergait``): every upstream layer, grouped, one gait head per group.

The released ``BiggerGait__DINOv2`` as a difference from BigGait (``biggergait-spec.md``; docs/biggergait.md):

1. frames (RGB only: no ratios, no Pad-and-Resize) are resized bilinearly straight to 448x224 and split
   along time into ``s // chunk_frames + 1`` chunks (``torch.chunk``); upstream, mask, projections and the
   heads' per-frame trunks run per chunk, temporal pooling after the chunks are put back together;
2. the frozen upstream (:class:`~biggait.models.backbone.FrozenLVM`, timm) gives the raw output of all its
   blocks; one joint parameter-free LayerNorm over their concatenation, split into groups of
   ``layers_per_group`` adjacent layers (:mod:`biggait.models.humanspace`);
3. the mask (:mod:`biggait.models.token_mask`): a frozen per-token head on LayerNorm(last block);
4. one projection per group (all pixels), multiplied by the mask afterwards;
5. group i through head ``i // (J / heads)`` (:mod:`biggait.models.gait_heads`); per-group embeddings,
   BNNeck features and logits concatenated along the parts axis in group order: ``[n, ., parts * J]``.

Training uses the triplet and cross-entropy terms only (the model returns no auxiliary losses).
Switches (``model.biggergait``, :class:`~biggait.config.BiggerGaitConfig`): ``layers_per_group``,
``heads``, ``mask_bn_follows_mode`` (the frozen mask head's BatchNorm in train mode during training,
as released) and ``pos_embed_interpolation`` (``size`` as the goldens' transformers, or ``scale_factor``).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from biggait.config import ModelConfig
from biggait.errors import ConfigError, DataError
from biggait.models.backbone import FrozenLVM
from biggait.models.gait_heads import SharedHeads, released_init
from biggait.models.humanspace import HumanSpace, group_inputs, joint_layer_norm
from biggait.models.output import ModelOutput
from biggait.models.token_mask import TokenMaskBranch, token_mask


class Trace:
    """Collects a forward's intermediates: ``add(name, value, frames)`` once per time chunk, ``frames`` the
    global ``(n s)`` frame index of ``value``'s first axis (None: a per-sequence value). Subclass it to
    reduce large values as they come (the parity checks do)."""

    def __init__(self) -> None:
        self.items: dict[str, list[tuple[Tensor | None, Any]]] = {}

    def add(self, name: str, value: Any, frames: Tensor | None = None) -> None:
        self.items.setdefault(name, []).append((frames, value))


def check_frames(frames: Tensor, seq_lengths: Tensor | None) -> None:
    """Raise DataError unless frames are ``[n, s, 3, H, W]`` and ``seq_lengths`` packs them."""
    if frames.dim() != 5 or frames.shape[2] != 3:
        raise DataError(f"frames: expected [n, s, 3, H, W] RGB frames, got shape {tuple(frames.shape)}")
    if seq_lengths is not None and (frames.shape[0] != 1 or int(seq_lengths.sum()) != frames.shape[1]):
        raise DataError(
            f"seq_lengths: {seq_lengths.reshape(-1).tolist()} must sum to the {frames.shape[1]} "
            f"packed frames of a [1, sum, ...] batch (got n = {frames.shape[0]})"
        )


class BiggerGait(nn.Module):
    """The model: ``lvm`` and ``mask`` frozen; ``humanspace`` and ``heads`` train."""

    def __init__(self, cfg: ModelConfig, num_classes: int) -> None:
        super().__init__()
        b = cfg.biggergait
        self.cfg, self.num_classes, self.iteration = cfg, num_classes, 0
        self.image_hw = (2 * cfg.image_size, cfg.image_size)
        self.map_hw = (2 * cfg.gre_map_width, cfg.gre_map_width)
        self.lvm = FrozenLVM(cfg.lvm, cfg.lvm_tiny, self.image_hw, cfg.lvm_patch, pos_embed=b.pos_embed_interpolation)
        width, depth = self.lvm.embed_dim, self.lvm.depth
        if b.chunk_frames < 1:
            raise ConfigError(f"model.biggergait.chunk_frames: expected >= 1, got {b.chunk_frames}")
        self.chunk_frames = b.chunk_frames
        try:
            self.humanspace = HumanSpace(
                width, depth, b.layers_per_group, b.hidden_dim or width // 2, b.map_dim, self.map_hw
            )
            self.heads = SharedHeads(
                self.humanspace.groups,
                b.heads or self.humanspace.groups,  # heads 0: one per group
                b.map_dim,
                tuple(cfg.channels),
                cfg.embed_dim,
                b.parts,
                num_classes,
            )
        except ValueError as exc:
            raise ConfigError(f"model.biggergait: {exc}") from None
        self.mask = TokenMaskBranch(width, b.mask_bn_follows_mode)
        for m in (self.humanspace, self.heads, self.mask):
            released_init(m)

    @property
    def groups(self) -> int:
        return self.humanspace.groups

    def set_iteration(self, it: int) -> None:
        """No schedule of its own (the mask is frozen from the start); kept for the trainer's interface."""
        self.iteration = int(it)

    def trainable_parameters(self) -> list[nn.Parameter]:
        """The projections and the heads (the upstream and the mask branch are frozen, as released)."""
        return [p for p in list(self.humanspace.parameters()) + list(self.heads.parameters()) if p.requires_grad]

    def reported_num_params(self) -> int:
        """``sum(numel)`` as the released model counts it (the upstream with its 37x37 grid and mask token)."""
        rest = sum(p.numel() for n, p in self.named_parameters() if not n.startswith("lvm."))
        return self.lvm.reported_num_params() + rest

    def forward(
        self,
        frames: Tensor,
        ratios: Tensor | None = None,
        seq_lengths: Tensor | None = None,
        return_maps: bool = False,
        trace: Trace | None = None,
    ) -> ModelOutput:
        """frames ``[n, s, 3, H, W]`` normalised RGB (``ratios`` are ignored: RGB only, as released)
        -> :class:`~biggait.models.biggait.ModelOutput` with ``[n_out, ., parts * J]`` tensors.
        ``return_maps``: ``maps["foreground"]`` ``[n*s, h, w]``; ``trace`` gets every intermediate."""
        check_frames(frames, seq_lengths)
        n, s = frames.shape[:2]
        per_group: list[list[Tensor]] = [[] for _ in range(self.groups)]  # trunk outputs per chunk
        fg_all, start = [], 0
        for chunk in torch.chunk(frames, s // self.chunk_frames + 1, dim=1):
            sc = chunk.shape[1]
            idx = None if trace is None else (torch.arange(n)[:, None] * s + start + torch.arange(sc)[None]).reshape(-1)
            trunks, fg = self._chunk(chunk.reshape(n * sc, *chunk.shape[2:]), trace, idx)
            for i, t in enumerate(trunks):
                per_group[i].append(t.view(n, sc, *t.shape[1:]))
            fg_all.append(fg.view(n, sc, *fg.shape[1:]))
            start += sc
        outs = []
        for i, parts in enumerate(per_group):
            x = torch.cat(parts, dim=1).transpose(1, 2)  # [n, c3, s, h', w']
            rec: dict | None = {} if trace is not None else None
            outs.append(self.heads.head_of(i).pool(x, seq_lengths, rec))
            if trace is not None:
                trace.add("pooled", (i, rec, outs[-1]))
        emb, bn, logits = (torch.cat([o[k] for o in outs], dim=-1) for k in range(3))
        maps = {"foreground": torch.cat(fg_all, dim=1).reshape(n * s, *self.map_hw)} if return_maps else {}
        return ModelOutput(emb, logits, bn, {}, maps)

    def _chunk(self, x: Tensor, trace: Trace | None, idx: Tensor | None) -> tuple[list[Tensor], Tensor]:
        """One time chunk of frames ``[N, 3, H, W]`` -> (per group the trunk output, mask ``[N, h, w]``)."""
        x = F.interpolate(x, size=self.image_hw, mode="bilinear", align_corners=False)
        first, blocks = self.lvm.hidden_states(x)  # [N, T, C], depth x [N, T, C]
        prefix, grid = self.lvm.num_prefix, self.lvm.grid
        joint = joint_layer_norm(blocks, prefix)  # [N, gh*gw, depth*C]
        mask_in = F.layer_norm(blocks[-1][:, prefix:], (blocks[-1].shape[-1],), eps=1e-6)
        p1 = self.mask(mask_in.reshape(-1, mask_in.shape[-1])).view(x.shape[0], *grid)
        fg_tokens, fg = token_mask(p1, self.map_hw)  # [N, gh, gw], [N, h, w] bool
        stages: list | None = [] if trace is not None else None
        maps = self.humanspace(group_inputs(joint, grid, self.groups), stages)  # J x [N, map_dim, h, w]
        gait_in = [m * fg.unsqueeze(1).to(m.dtype) for m in maps]
        trunks = [self.heads.head_of(i).frames(g) for i, g in enumerate(gait_in)]
        if trace is not None:
            for name, value in (
                ("dino_input", x),
                ("embeddings_output", first),
                ("hidden_states", blocks),
                ("joint_ln", joint),
                ("mask_input", mask_in),
                ("mask_p1", p1),
                ("mask_tokens", fg_tokens),
                ("mask_map", fg),
                ("humanspace_stages", stages),
                ("gait_input", gait_in),
                ("trunk", trunks),
            ):
                trace.add(name, value, idx)
        return trunks, fg


def build_biggergait(cfg: ModelConfig, num_classes: int, *, load_lvm: bool = True) -> BiggerGait:
    """BiggerGait with its external weights: the upstream from ``model.lvm_checkpoint`` (Meta file or
    HuggingFace folder) and the frozen mask head from ``model.mask_pretrained`` (released
    ``MaskBranch_vits14.pt``), unless ``load_lvm`` is False (a checkpoint will fill every tensor)."""
    import logging

    from biggait.models.biggergait_weights import load_mask_file
    from biggait.models.hf_dinov2 import load_upstream_path

    log = logging.getLogger(__name__)
    model = BiggerGait(cfg, num_classes)
    if not load_lvm:
        return model
    if cfg.lvm_checkpoint and not cfg.lvm_random:
        load_upstream_path(model.lvm, cfg.lvm_checkpoint)
    elif not cfg.lvm_tiny and not cfg.lvm_random:
        log.warning("model.lvm_checkpoint is empty: %s starts from random weights", cfg.lvm)
    if cfg.mask_pretrained:
        load_mask_file(model.mask, cfg.mask_pretrained)
    elif cfg.biggergait.mask_fallback == "foreground":
        model.mask.all_foreground()
        log.info("model.mask_pretrained is empty: mask_fallback foreground, every token is foreground (no mask)")
    else:
        log.warning(
            "model.mask_pretrained is empty: BiggerGait's frozen mask head keeps its random init "
            "(the release always loads MaskBranch_vits14.pt)"
        )
    return model
