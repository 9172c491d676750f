"""Foreign weights: the official Meta DINOv2 files, OpenGait BigGait checkpoints and the released
pretrained mask branch, converted to our modules; plus the safe reader every checkpoint goes through.

Everything is read with ``torch.load(weights_only=True)``: a file holding pickled objects is
refused with a CheckpointError. Nothing is ever downloaded; a missing official file names where
Meta publishes it.
"""

from __future__ import annotations

import io
import logging
import pickle
import re
import struct
from pathlib import Path

import torch
from torch import Tensor, nn

from biggait.errors import CheckpointError
from biggait.models.backbone import VARIANTS, meta_url

logger = logging.getLogger(__name__)

# OpenGait BigGait key -> our key (first matching rule wins; None = known but unused, dropped).
_OPENGAIT_RULES: list[tuple[str, str | None]] = [
    (r"^(Mask|Denoising)_Branch\.bn_t\.", None),  # allocated but unused in the released forward
    (r"^Mask_Branch\.", "gre.mask."),
    (r"^Appearance_Branch\.", "gre.appearance."),
    (r"^Denoising_Branch\.", "gre.denoising."),
    (r"^gait_net\.pre_part\.forward_block\.", "gaitbase.stems.0."),
    (r"^gait_net\.pre_rgb\.forward_block\.", "gaitbase.stems.1."),
    (r"^gait_net\.post_backbone\.forward_block\.layer2\.0\.", "gaitbase.trunk.0."),
    (r"^gait_net\.post_backbone\.forward_block\.layer3\.0\.", "gaitbase.trunk.1."),
    (r"^gait_net\.post_backbone\.forward_block\.layer4\.0\.", "gaitbase.trunk.2."),
    (r"^gait_net\.fusion\.conv\.forward_block\.", "gaitbase.fusion.score."),
    (r"^gait_net\.FCs\.", "gaitbase.fcs."),
    (r"^gait_net\.BNNecks\.", "gaitbase.bnneck."),
]
# Within a module: OpenGait leaf names -> ours.
_LEAF_RULES = [
    (r"\.bn_s\.", ".bn_in."),
    (r"\.bn_t\.", ".bn_out."),
    (r"\.down_sampling\.", ".proj."),
    (r"\.up_sampling\.", ".recon."),
    (r"(stems\.\d\.)conv1\.conv\.", r"\1conv."),
    (r"(stems\.\d\.)bn1\.", r"\1bn."),
    (r"(stems\.\d\.)layer1\.0\.", r"\1block."),
]


def read_weights(path: str | Path, what: str = "checkpoint") -> dict:
    """``torch.load(path, weights_only=True)`` on CPU with one-line CheckpointErrors."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: {what} not found")
    return _load_weights(path, path)


def weights_from_bytes(data: bytes, source: str | Path) -> dict:
    """:func:`read_weights` of a file's bytes already in memory (``source`` names it in errors): a caller
    that also hashes the file reads it once."""
    return _load_weights(io.BytesIO(data), Path(source))


def _load_weights(src: Path | io.BytesIO, path: Path) -> dict:
    try:
        obj = torch.load(src, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(
            f"{path}: refusing to load: the file holds pickled Python objects, not only "
            f"tensors (torch.load weights_only=True: {first[:160]})"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError, struct.error) as exc:
        detail = (str(exc).splitlines() or [type(exc).__name__])[0][:160]
        raise CheckpointError(f"{path}: not a readable torch checkpoint ({detail})") from None
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: expected a dict of tensors, got {type(obj).__name__}")
    return obj


def _float32(sd: dict) -> dict:
    return {k: (v.float() if torch.is_tensor(v) and v.is_floating_point() else v) for k, v in sd.items()}


def load_strict(module: nn.Module, sd: dict[str, Tensor], source: str) -> None:
    """Load ``sd`` into ``module`` exactly, or raise a CheckpointError naming the mismatches."""
    own = module.state_dict()
    missing = [k for k in own if k not in sd]
    unexpected = [k for k in sd if k not in own]
    shapes = [
        f"{k} {tuple(sd[k].shape)} vs model {tuple(own[k].shape)}"
        for k in own
        if k in sd and tuple(sd[k].shape) != tuple(own[k].shape)
    ]
    if missing or unexpected or shapes:
        parts = []
        for label, keys in (("shape mismatch", shapes), ("missing", missing), ("unexpected", unexpected)):
            if keys:
                more = f" (+{len(keys) - 4} more)" if len(keys) > 4 else ""
                parts.append(f"{label}: {', '.join(keys[:4])}{more}")
        raise CheckpointError(
            f"{source}: does not fit the configured model (wrong architecture or variant?); " + "; ".join(parts)
        )
    module.load_state_dict(_float32(sd), strict=True)


# ---- official Meta DINOv2 files ------------------------------------------------------------------


def _describe_meta(sd: dict) -> tuple[int, int, bool]:
    """(embed_dim, depth, has registers) of a Meta-layout DINOv2 state dict."""
    if "cls_token" not in sd or "pos_embed" not in sd:
        raise CheckpointError("not a DINOv2 state dict (no cls_token / pos_embed)")
    depth = len({int(m.group(1)) for k in sd for m in [re.match(r"blocks\.(\d+)\.", k)] if m})
    return int(sd["cls_token"].shape[-1]), depth, "register_tokens" in sd


def load_meta_state_dict(lvm: nn.Module, sd: dict[str, Tensor], source: str) -> None:
    """Load a Meta-layout DINOv2 state dict into a :class:`~biggait.models.backbone.FrozenLVM`.

    timm's DINOv2 filter converts the layout; the positional embedding is then installed with the
    original DINOv2 interpolation (not timm's antialiased resampling).
    """
    sd = _float32(sd.get("model", sd) if "cls_token" not in sd else sd)
    try:
        dim, depth, reg = _describe_meta(sd)
    except CheckpointError as exc:
        raise CheckpointError(f"{source}: {exc}") from None
    want = (lvm.embed_dim, lvm.depth, lvm.vit.reg_token is not None)
    if (dim, depth, reg) != want:
        guess = [n for n, v in VARIANTS.items() if (v.embed_dim, v.depth, n.endswith("_reg4")) == (dim, depth, reg)]
        raise CheckpointError(
            f"{source}: holds a DINOv2 ViT with embed_dim {dim}, {depth} blocks, registers {reg}"
            f"{' (' + guess[0] + ')' if guess else ''}, but the model is {lvm.variant}{' (tiny)' if lvm.tiny else ''} "
            f"with embed_dim {want[0]}, {want[1]} blocks, registers {want[2]}: set model.lvm to match the file"
        )
    pos = sd["pos_embed"]  # [1, 1 + 37*37, C]
    from timm.models.vision_transformer import checkpoint_filter_fn  # lazy: timm costs ~2 s to import

    filtered = checkpoint_filter_fn(dict(sd), lvm.vit)
    filtered["pos_embed"] = lvm.vit.pos_embed.detach().clone()  # replaced below, the original way
    load_strict(lvm.vit, filtered, source)
    lvm.install_pos_embed(pos[:, 1:], pos[:, :1])


def load_meta_checkpoint(lvm: nn.Module, path: Path) -> None:
    """Load the official ``dinov2_<variant>_pretrain.pth`` from a local path (never downloads)."""
    spec = VARIANTS[lvm.variant]
    if not Path(path).is_file():
        raise CheckpointError(
            f"{path}: official DINOv2 checkpoint not found (expected {spec.meta_file}, published at "
            f"{meta_url(lvm.variant)}; download it yourself and set model.lvm_checkpoint)"
        )
    load_meta_state_dict(lvm, read_weights(path, "DINOv2 checkpoint"), str(path))
    logger.info("loaded %s into the %s upstream", path, lvm.variant)


# ---- OpenGait checkpoints --------------------------------------------------------------------------


def map_opengait_key(key: str) -> str | None:
    """Our key for an OpenGait BigGait key (``None`` = known but unused); KeyError when unknown."""
    for pattern, repl in _OPENGAIT_RULES:
        if re.match(pattern, key):
            if repl is None:
                return None
            new = re.sub(pattern, repl, key)
            for a, b in _LEAF_RULES:
                new = re.sub(a, b, new)
            return new
    raise KeyError(key)


def load_opengait_state_dict(model: nn.Module, sd: dict[str, Tensor], source: str = "OpenGait checkpoint") -> None:
    """Load an OpenGait ``BigGait__Dinov2_Gaitbase`` state dict (its own key names) into ``model``.

    ``backbone.*`` is a Meta-layout DINOv2 and goes through :func:`load_meta_state_dict`; every
    other key is renamed; unmatched keys on either side raise a CheckpointError listing them.
    """
    sd = sd.get("model", sd) if "model" in sd and isinstance(sd["model"], dict) else sd
    backbone = {k[len("backbone.") :]: v for k, v in sd.items() if k.startswith("backbone.")}
    ours, unknown = {}, []
    for k, v in sd.items():
        if k.startswith("backbone."):
            continue
        try:
            new = map_opengait_key(k)
        except KeyError:
            unknown.append(k)
            continue
        if new is not None:
            ours[new] = v
    if unknown:
        raise CheckpointError(
            f"{source}: unknown OpenGait keys {', '.join(unknown[:5])}"
            f"{f' (+{len(unknown) - 5} more)' if len(unknown) > 5 else ''}"
        )
    if not backbone:
        raise CheckpointError(f"{source}: no backbone.* keys (expected an OpenGait BigGait checkpoint)")
    load_meta_state_dict(model.lvm, backbone, source + " [backbone]")
    # The rest loads strictly into everything but the LVM.
    rest = nn.ModuleDict({"gre": model.gre, "gaitbase": model.gaitbase})
    load_strict(rest, ours, source)


def load_mask_branch(head: nn.Module, path: Path) -> None:
    """Load a pretrained mask-branch file (``MaskBranch_vits14.pt``, state dict under ``model``)."""
    raw = read_weights(path, "pretrained mask-branch file (model.mask_pretrained)")
    sd = raw.get("model", raw)
    mapped = {}
    for k, v in sd.items():
        k = k[len("Mask_Branch.") :] if k.startswith("Mask_Branch.") else k
        if k.startswith("bn_t."):
            continue
        for a, b in ((r"^bn_s\.", "bn_in."), (r"^down_sampling\.", "proj."), (r"^up_sampling\.", "recon.")):
            k = re.sub(a, b, k)
        mapped[k] = v
    load_strict(head, mapped, str(path))
    logger.info("mask branch replaced by %s", path)
