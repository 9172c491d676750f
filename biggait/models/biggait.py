"""BigGait = frozen LVM upstream + GRE + GaitBase downstream; ``build_model`` and ``ModelOutput``.

``build_model(model_cfg, num_classes)`` returns :class:`BigGait` (``arch: biggait``) or
:class:`SilhouetteGaitBase` (``arch: gaitbase``, the baseline on binary silhouettes); both are
called as ``model(frames, ratios, seq_lengths=None, return_maps=False) -> ModelOutput``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from biggait.config import LossConfig, ModelConfig
from biggait.errors import ConfigError, DataError
from biggait.models.backbone import FrozenLVM, get_variant
from biggait.models.extractor import GRE
from biggait.models.gaitbase import GaitBase
from biggait.models.hf_dinov2 import load_upstream_path
from biggait.models.losses import connect_loss, diversity_loss
from biggait.models.output import ModelOutput
from biggait.models.padding import to_canvas, validity_mask
from biggait.models.weights import load_mask_branch

logger = logging.getLogger(__name__)


def check_inputs(frames: Tensor, ratios: Tensor | None, seq_lengths: Tensor | None, channels: int) -> None:
    """Raise DataError unless frames ``[n, s, channels, H, W]`` / ratios ``[n, s]`` fit together."""
    if frames.dim() != 5:
        raise DataError(f"frames: expected [n, s, C, H, W], got shape {tuple(frames.shape)}")
    if frames.shape[2] != channels:
        raise DataError(
            f"frames: expected {channels} channel(s) per frame, got {frames.shape[2]} (shape {tuple(frames.shape)})"
        )
    if ratios is None:
        raise DataError("ratios: missing; the model needs the w/h ratio of every frame ([n, s])")
    if ratios.numel() != frames.shape[0] * frames.shape[1]:
        raise DataError(
            f"ratios: expected {frames.shape[0] * frames.shape[1]} values ([n, s] = "
            f"{list(frames.shape[:2])}), got shape {tuple(ratios.shape)}"
        )
    if seq_lengths is not None:
        if frames.shape[0] != 1 or int(seq_lengths.sum()) != frames.shape[1]:
            raise DataError(
                f"seq_lengths: {seq_lengths.reshape(-1).tolist()} must sum to the {frames.shape[1]} "
                f"packed frames of a [1, sum, ...] batch (got n = {frames.shape[0]})"
            )


class BigGait(nn.Module):
    """The full model. ``lvm`` is frozen; ``gre`` and ``gaitbase`` train."""

    def __init__(self, cfg: ModelConfig, num_classes: int, loss_cfg: LossConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        self.num_classes = num_classes
        self.loss_cfg = loss_cfg or LossConfig()
        self.image_hw = (2 * cfg.image_size, cfg.image_size)
        self.map_hw = (2 * cfg.gre_map_width, cfg.gre_map_width)
        self.lvm = FrozenLVM(cfg.lvm, cfg.lvm_tiny, self.image_hw, cfg.lvm_patch)
        c = self.lvm.embed_dim
        # Taps ablation: "last" or "mid4" alone feeds all three branches.
        self.mask_src = "mid4" if cfg.taps == "mid4" else "last"
        self.feat_src = "last" if cfg.taps == "last" else "mid4"
        dims = {"last": c, "mid4": 4 * c}
        if not (cfg.appearance_branch or cfg.denoising_branch):
            raise ConfigError("model: at least one of appearance_branch / denoising_branch must be on")
        self.gre = GRE(
            dims[self.mask_src],
            dims[self.feat_src],
            cfg.mask_dim,
            cfg.appearance_dim,
            cfg.denoising_dim,
            cfg.mask_branch,
            cfg.appearance_branch,
            cfg.denoising_branch,
        )
        in_ch = tuple(
            d
            for d, on in ((cfg.denoising_dim, cfg.denoising_branch), (cfg.appearance_dim, cfg.appearance_branch))
            if on
        )
        self.gaitbase = GaitBase(in_ch, tuple(cfg.channels), cfg.embed_dim, cfg.parts, num_classes)
        self.gre.apply(_init_linear)
        self.iteration = 0

    # ---- training schedule -------------------------------------------------------------------

    def set_iteration(self, it: int) -> None:
        """Apply the mask schedule: the mask branch trains for ``mask_train_iters`` iterations, then freezes."""
        self.iteration = int(it)
        if self.gre.mask is None or self.gre.mask_frozen or it < self.cfg.mask_train_iters:
            return
        if self.cfg.mask_pretrained:
            load_mask_branch(self.gre.mask, Path(self.cfg.mask_pretrained))
        self.freeze_mask()

    def freeze_mask(self) -> None:
        """Freeze the mask branch (eval mode, no gradients)."""
        self.gre.mask_frozen = True
        self.gre.mask.requires_grad_(False)
        self.gre.mask.eval()

    def train(self, mode: bool = True) -> BigGait:
        super().train(mode)
        if self.gre.mask is not None and self.gre.mask_frozen:
            self.gre.mask.eval()
        return self

    def trainable_parameters(self) -> list[nn.Parameter]:
        """Parameters the optimiser should see (the LVM is excluded; frozen mask excluded)."""
        return [p for name, p in self.named_parameters() if not name.startswith("lvm.") and p.requires_grad]

    # ---- forward -----------------------------------------------------------------------------

    def needed_taps(self) -> set[str]:
        """The upstream maps this model's GRE reads ("last", "mid4")."""
        return {self.feat_src} | ({self.mask_src} if self.gre.mask is not None else set())

    def upstream_signature(self) -> tuple:
        """:meth:`ModelConfig.upstream_signature` (with equal LVM weights: identical upstream maps)."""
        return self.cfg.upstream_signature()

    @torch.no_grad()
    def upstream(
        self, frames: Tensor, ratios: Tensor, needed: set[str] | None = None, trace: dict | None = None
    ) -> dict[str, Tensor]:
        """Frames ``[ns, 3, H, W]`` -> channels-last maps at the GRE resolution (``last``, ``mid4``), the
        same taps at the token grid (``last_tokens``, ``mid4_tokens``) and the valid mask.

        ``needed``: which maps to upsample (default: this model's); several models sharing one frozen
        upstream pass the union and hand the result to ``forward(..., taps=...)``.
        """
        x = to_canvas(frames, ratios, *self.image_hw, pad=self.cfg.pad_and_resize)  # [ns, 3, 448, 224]
        last, mid = self.lvm(x)  # [ns, gh, gw, C], [ns, gh, gw, 4C]
        if trace is not None:
            trace.update(dino_input=x, dino_last1=last.permute(0, 3, 1, 2), dino_mid4_ln=mid.permute(0, 3, 1, 2))
        needed = self.needed_taps() if needed is None else needed
        taps = {}
        for name, t in (("last", last), ("mid4", mid)):
            if name not in needed:
                continue
            # Upsample in channels-last memory (the NCHW view of an NHWC buffer): no layout copies.
            up = F.interpolate(t.permute(0, 3, 1, 2), size=self.map_hw, mode="bilinear", align_corners=False)
            taps[name] = up.permute(0, 2, 3, 1)  # [ns, h, w, C], contiguous
            taps[f"{name}_tokens"] = t  # [ns, gh, gw, C] at the token grid (the GRE heads' first projection)
        # Pad-and-Resize of a ones map gives the valid pixels; the CCPG path (h == 2w) still uses
        # the ratios, so the offline pad columns count as invalid.
        taps["valid"] = validity_mask(ratios, *self.map_hw, enabled=self.cfg.pad_and_resize)
        return taps

    def forward(
        self,
        frames: Tensor,
        ratios: Tensor | None,
        seq_lengths: Tensor | None = None,
        return_maps: bool = False,
        trace: dict | None = None,
        taps: dict[str, Tensor] | None = None,
    ) -> ModelOutput:
        """frames ``[n, s, 3, H, W]`` normalised RGB, ratios ``[n, s]`` -> :class:`ModelOutput`.

        ``seq_lengths`` packs several sequences as ``[1, sum, ...]``. ``trace`` (a dict) receives
        every intermediate of the golden vectors (taps, mask, maps, pooled features). ``taps``: the
        upstream's maps of these frames, already computed by :meth:`upstream` (of this model or of
        one with the same signature and LVM weights); the LVM is then not run.
        """
        check_inputs(frames, ratios, seq_lengths, 3)
        n, s = frames.shape[:2]
        h, w = self.map_hw
        lc = self.loss_cfg
        if taps is None:
            taps = self.upstream(frames.reshape(n * s, *frames.shape[2:]), ratios.reshape(-1), trace=trace)
        elif trace is not None:
            raise ValueError("forward: trace needs the upstream run (do not pass taps)")
        # The mask branch learns before its freeze. Afterwards its two terms carry no gradient but are
        # still computed and reported in the total, as the released trainer does.
        mask_terms = self.training and self.gre.mask is not None and (lc.frozen_mask_terms or not self.gre.mask_frozen)
        sel = self.gre.select_foreground(
            taps.get(self.mask_src),
            taps["valid"],
            want_recon=(mask_terms and lc.reconstruction_weight != 0) or trace is not None,
        )
        maps = self.gre.branch_maps(taps[self.feat_src], sel["select"], taps.get(f"{self.feat_src}_tokens"))
        aux: dict[str, Tensor] = {}
        if self.training:
            if mask_terms and "reconstruction" in sel and lc.reconstruction_weight != 0:
                aux["reconstruction"] = sel["reconstruction"]
            if mask_terms and lc.mask_smoothness_weight != 0:
                aux["mask_smoothness"] = self._smooth(sel["prob"], n * s, 2)
            if "denoising" in maps and lc.denoising_smoothness_weight != 0:
                aux["denoising_smoothness"] = self._smooth(maps["denoising"][..., :-1], n * s, None)
            if "denoising" in maps and lc.diversity_weight != 0:
                aux["diversity"] = diversity_loss(maps["denoising"].reshape(n * s, h * w, -1))
            if self.cfg.black_da:
                maps = self._black_da(maps, n, s)
        sources = [maps[k].permute(0, 3, 1, 2) for k in ("denoising", "appearance") if k in maps]  # NCHW views
        if self.training and sources[0].device.type == "cpu":
            # Train-mode BatchNorm on CPU gathers channels-last batch statistics with a float32-accumulating
            # kernel (1e-4 off; 10x the released code's spread after one step): GaitBase gets NCHW memory.
            sources = [x.contiguous() for x in sources]
        emb, bn, logits = self.gaitbase(sources, n, seq_lengths, trace)
        out_maps: dict[str, Tensor] = {}
        if return_maps or trace is not None:
            out_maps["valid"] = taps["valid"]
            out_maps["foreground"] = sel["foreground"]
            for k, v in maps.items():
                out_maps[k] = v.view(n, s, h, w, -1).permute(0, 4, 1, 2, 3)  # [n, C, s, h, w]
        if trace is not None:
            trace.update(out_maps)
            trace.update({k: v for k, v in sel.items() if k != "select"})
            if "prob" in sel:
                trace["mask_branch_prob"] = sel["prob"].view(n * s, h, w, 2)
        return ModelOutput(emb, logits, bn, aux, out_maps if return_maps else {})

    def _smooth(self, x: Tensor, ns: int, mask_c: int | None) -> Tensor:
        """Smoothness of a map. ``mask_c`` given: x is the mask's ``[ns*h*w, c]`` buffer (released
        quirk: viewed as ``[ns, c, h, w]``); else x is channels-last ``[ns, h, w, c]``."""
        h, w = self.map_hw
        mode = self.cfg.smoothness
        if mask_c is not None and mode == "channel_sum":
            return connect_loss(x, ns, mask_c, h, w, "channel_sum")  # interleaved-memory view
        if mask_c is not None:
            x = x.view(ns, h, w, mask_c)
        return connect_loss(x.permute(0, 3, 1, 2), ns, x.shape[-1], h, w, mode)

    def _black_da(self, maps: dict[str, Tensor], n: int, s: int) -> dict[str, Tensor]:
        """Zero the whole denoising or appearance map of round(ratio*n) random sequences (out of place)."""
        k = int(round(self.cfg.black_da_ratio * n))
        names = [m for m in ("denoising", "appearance") if m in maps]
        if k == 0 or len(names) < 2:
            return maps
        dev = next(iter(maps.values())).device
        seqs = torch.randperm(n)[:k]
        which = torch.randint(0, 2, (k,))
        out = dict(maps)
        for j, name in enumerate(names):
            keep = torch.ones(n, device=dev)
            keep[seqs[which == j].to(dev)] = 0
            keep = keep.repeat_interleave(s).view(n * s, 1, 1, 1)
            out[name] = maps[name] * keep
        return out


def _init_linear(m: nn.Module) -> None:
    """Released init of the GRE linears: xavier-uniform weights, zero bias."""
    if isinstance(m, nn.Linear):
        nn.init.xavier_uniform_(m.weight)
        nn.init.zeros_(m.bias)


class SilhouetteGaitBase(nn.Module):
    """GaitBase on binary silhouettes ``[n, s, 1, H, W]`` in [0, 1], resized to the map size."""

    def __init__(self, cfg: ModelConfig, num_classes: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.num_classes = num_classes
        self.map_hw = (2 * cfg.gre_map_width, cfg.gre_map_width)
        self.gaitbase = GaitBase((1,), tuple(cfg.channels), cfg.embed_dim, cfg.parts, num_classes)
        self.iteration = 0

    def set_iteration(self, it: int) -> None:
        """No schedule in the baseline; kept for the trainer's uniform interface."""
        self.iteration = int(it)

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.parameters() if p.requires_grad]

    def upstream_signature(self) -> tuple:
        return self.cfg.upstream_signature()  # no upstream: never shared (it has no ``upstream``)

    def forward(
        self,
        frames: Tensor,
        ratios: Tensor | None,
        seq_lengths: Tensor | None = None,
        return_maps: bool = False,
        trace: dict | None = None,
    ) -> ModelOutput:
        check_inputs(frames, ratios, seq_lengths, 1)
        n, s = frames.shape[:2]
        x = frames.reshape(n * s, *frames.shape[2:]).float()
        x = to_canvas(x, ratios.reshape(-1), *self.map_hw, pad=self.cfg.pad_and_resize)  # [ns, 1, h, w]
        emb, bn, logits = self.gaitbase([x], n, seq_lengths, trace)
        maps = {"silhouette": x.view(n, s, 1, *self.map_hw).transpose(1, 2)} if return_maps else {}
        return ModelOutput(emb, logits, bn, {}, maps)


def build_model(
    model_cfg: ModelConfig, num_classes: int, loss_cfg: LossConfig | None = None, *, load_lvm: bool = True
) -> nn.Module:
    """Build BigGait, the silhouette GaitBase baseline or BiggerGait (``model_cfg.arch``;
    :func:`biggait.models.biggergait.build_biggergait`).

    Args:
        model_cfg: the architecture and its switches.
        num_classes: training identities (``model_cfg.num_classes`` wins when non-zero).
        loss_cfg: optional; auxiliary terms whose weight is 0 are then not computed.
        load_lvm: load ``model_cfg.lvm_checkpoint`` (off when a checkpoint will overwrite the weights).
    The LVM weights come from ``model_cfg.lvm_checkpoint`` (an official Meta file or a HuggingFace DINOv2
    folder, :mod:`biggait.models.hf_dinov2`) when set, unless
    ``model_cfg.lvm_random`` (the random-upstream ablation) keeps the random initialisation.
    """
    num_classes = model_cfg.num_classes or num_classes
    if num_classes <= 0:
        raise ConfigError(f"model.num_classes: expected a positive number of classes, got {num_classes}")
    if model_cfg.arch == "gaitbase":
        return SilhouetteGaitBase(model_cfg, num_classes)
    if model_cfg.arch == "biggergait":
        from biggait.models.biggergait import build_biggergait  # here: it imports this module

        return build_biggergait(model_cfg, num_classes, load_lvm=load_lvm)
    get_variant(model_cfg.lvm)
    model = BigGait(model_cfg, num_classes, loss_cfg)
    if not load_lvm:
        return model
    if model_cfg.lvm_random:
        if model_cfg.lvm_checkpoint:
            logger.info(
                "model.lvm_random: %s keeps its random weights (%s is not loaded)",
                model_cfg.lvm,
                model_cfg.lvm_checkpoint,
            )
    elif model_cfg.lvm_checkpoint:
        load_upstream_path(model.lvm, model_cfg.lvm_checkpoint)
    elif not model_cfg.lvm_tiny:
        logger.warning("model.lvm_checkpoint is empty: %s starts from random weights", model_cfg.lvm)
    return model
