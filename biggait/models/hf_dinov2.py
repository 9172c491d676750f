"""HuggingFace-layout DINOv2 weights (``transformers.Dinov2Model``) read without ``transformers``.

Two sources, both converted to Meta's layout and loaded by
:func:`biggait.models.weights.load_meta_state_dict` (so the positional embedding goes through the
upstream's own resampling, :func:`biggait.models.backbone.interpolate_pos_embed`):

- a HuggingFace model folder (``facebook/dinov2-small`` / ``-base`` / ``-large`` / ``-giant``, or
  ``*-with-registers``): ``config.json`` plus ``model.safetensors`` or ``pytorch_model.bin``;
- a state dict in that layout, e.g. the ``Backbone.*`` part of a released BiggerGait checkpoint.

Key names: a file written by transformers 4.x (and the released files) names the attention
``attention.attention.{query,key,value}`` and ``attention.output.dense``; transformers 5 names them
``attention.{q,k,v}_proj`` and ``attention.o_proj`` in memory. Both spellings are read. The three
q/k/v projections become Meta's fused ``attn.qkv`` (rows q, k, v). Anything else that is not a known
DINOv2 key is refused with a CheckpointError naming it: nothing is silently dropped.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch
from torch import Tensor, nn

from biggait.errors import CheckpointError
from biggait.models.weights import load_meta_state_dict, read_weights

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")

# HF key (after the optional ``dinov2.`` prefix) -> Meta key; {i} = block index.
_EMBED_RULES = {
    "embeddings.cls_token": "cls_token",
    "embeddings.mask_token": "mask_token",
    "embeddings.register_tokens": "register_tokens",
    "embeddings.position_embeddings": "pos_embed",
    "embeddings.patch_embeddings.projection.weight": "patch_embed.proj.weight",
    "embeddings.patch_embeddings.projection.bias": "patch_embed.proj.bias",
    "layernorm.weight": "norm.weight",
    "layernorm.bias": "norm.bias",
}
_BLOCK_RULES = [  # within encoder.layer.{i}.
    (r"norm([12])\.(weight|bias)", r"norm\1.\2"),
    (r"attention\.output\.dense\.(weight|bias)", r"attn.proj.\1"),
    (r"attention\.o_proj\.(weight|bias)", r"attn.proj.\1"),
    (r"layer_scale([12])\.lambda1", r"ls\1.gamma"),
    (r"mlp\.fc([12])\.(weight|bias)", r"mlp.fc\1.\2"),
    (r"mlp\.weights_in\.(weight|bias)", r"mlp.w12.\1"),  # SwiGLU (giant)
    (r"mlp\.weights_out\.(weight|bias)", r"mlp.w3.\1"),
]
_QKV = re.compile(r"attention\.(?:attention\.(query|key|value)|(q|k|v)_proj)\.(weight|bias)$")
_QKV_ORDER = {"query": 0, "key": 1, "value": 2, "q": 0, "k": 1, "v": 2}


def _block_key(rest: str, qkv: dict, i: int, value: Tensor) -> str | None:
    """Meta key of one ``encoder.layer.{i}.<rest>`` entry; q/k/v parts go into ``qkv`` (None returned)."""
    m = _QKV.match(rest)
    if m:
        part = _QKV_ORDER[m.group(1) or m.group(2)]
        qkv.setdefault((i, m.group(3)), {})[part] = value
        return None
    for pattern, repl in _BLOCK_RULES:
        if re.fullmatch(pattern, rest):
            return f"blocks.{i}." + re.sub(pattern, repl, rest)
    raise KeyError(rest)


def hf_to_meta(sd: dict[str, Tensor], source: str) -> dict[str, Tensor]:
    """A HuggingFace ``Dinov2Model`` state dict -> Meta's layout (``dinov2_vit*14_pretrain.pth``).

    Raises CheckpointError naming the first keys that are not DINOv2's, or a q/k/v triple that is
    incomplete.
    """
    out: dict[str, Tensor] = {}
    qkv: dict[tuple[int, str], dict[int, Tensor]] = {}
    unknown = []
    for key, value in sd.items():
        k = key[len("dinov2.") :] if key.startswith("dinov2.") else key
        m = re.match(r"encoder\.layer\.(\d+)\.(.+)$", k)
        try:
            if m:
                new = _block_key(m.group(2), qkv, int(m.group(1)), value)
            elif k in _EMBED_RULES:
                new = _EMBED_RULES[k]
            else:
                raise KeyError(k)
        except KeyError:
            unknown.append(key)
            continue
        if new is not None:
            out[new] = value
    if unknown:
        more = f" (+{len(unknown) - 4} more)" if len(unknown) > 4 else ""
        raise CheckpointError(f"{source}: not a HuggingFace DINOv2 key: {', '.join(unknown[:4])}{more}")
    for (i, kind), parts in sorted(qkv.items()):
        if sorted(parts) != [0, 1, 2]:
            raise CheckpointError(
                f"{source}: block {i} attention {kind}: expected query, key and value, found {len(parts)} of them"
            )
        out[f"blocks.{i}.attn.qkv.{kind}"] = torch.cat([parts[0], parts[1], parts[2]], dim=0)
    return out


def read_hf_folder(folder: str | Path) -> tuple[dict, dict[str, Tensor]]:
    """(config.json, state dict) of a HuggingFace DINOv2 folder. ``model.safetensors`` is read with the
    ``safetensors`` package (a dependency of timm), ``pytorch_model.bin`` with ``torch.load(weights_only)``."""
    folder = Path(folder)
    cfg_file = folder / "config.json"
    if not cfg_file.is_file():
        raise CheckpointError(f"{folder}: not a HuggingFace model folder (no config.json)")
    try:
        cfg = json.loads(cfg_file.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{cfg_file}: unreadable ({exc})") from None
    if not isinstance(cfg, dict) or not str(cfg.get("model_type", "")).startswith("dinov2"):
        raise CheckpointError(
            f"{cfg_file}: model_type {cfg.get('model_type') if isinstance(cfg, dict) else None!r} "
            "is not a DINOv2 (expected dinov2 or dinov2_with_registers)"
        )
    weights = next((folder / f for f in WEIGHT_FILES if (folder / f).is_file()), None)
    if weights is None:
        raise CheckpointError(f"{folder}: no weights file (expected {' or '.join(WEIGHT_FILES)})")
    if weights.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return cfg, load_file(str(weights), device="cpu")
        except (SafetensorError, OSError) as exc:
            raise CheckpointError(f"{weights}: not a readable safetensors file ({exc})") from None
    return cfg, read_weights(weights, "HuggingFace DINOv2 weights")


def check_lvm_path(path: str | Path) -> None:
    """Refuse, before any work, an LVM path that cannot load: a folder must be a HuggingFace DINOv2 folder
    (a readable DINOv2 ``config.json`` and a weights file), a file a complete torch archive. One-line
    CheckpointError naming the path; the weights themselves are read once, when the model is built."""
    import zipfile

    path = Path(path)
    if path.is_dir():
        cfg_file = path / "config.json"
        try:
            cfg = json.loads(cfg_file.read_text())
        except (OSError, json.JSONDecodeError):
            raise CheckpointError(
                f"{path}: not a HuggingFace DINOv2 folder (expected a readable config.json and "
                f"{' or '.join(WEIGHT_FILES)})"
            ) from None
        if not isinstance(cfg, dict) or not str(cfg.get("model_type", "")).startswith("dinov2"):
            raise CheckpointError(f"{cfg_file}: not a DINOv2 config (expected model_type dinov2)")
        if not any((path / f).is_file() for f in WEIGHT_FILES):
            raise CheckpointError(f"{path}: no weights file (expected {' or '.join(WEIGHT_FILES)})")
    elif not path.is_file():
        raise CheckpointError(f"{path}: LVM checkpoint not found")
    elif not zipfile.is_zipfile(path):
        raise CheckpointError(f"{path}: not a complete torch checkpoint (truncated, or another format)")


def check_hf_config(cfg: dict, lvm: nn.Module, source: str) -> None:
    """The folder's architecture must be the configured upstream's (width, depth, patch size)."""
    want = {"hidden_size": lvm.embed_dim, "num_hidden_layers": lvm.depth, "patch_size": lvm.patch}
    got = {k: cfg.get(k) for k in want}
    if got != want:
        raise CheckpointError(
            f"{source}: config.json describes {got}, but the model's upstream is {lvm.variant}"
            f"{' (tiny)' if lvm.tiny else ''} with {want}: set model.lvm to match the folder"
        )


def load_hf_folder(lvm: nn.Module, folder: str | Path) -> None:
    """Load a HuggingFace DINOv2 folder into a :class:`~biggait.models.backbone.FrozenLVM`."""
    cfg, sd = read_hf_folder(folder)
    check_hf_config(cfg, lvm, str(folder))
    load_meta_state_dict(lvm, hf_to_meta(sd, str(folder)), str(folder))


def is_hf_folder(path: str | Path) -> bool:
    """Whether ``path`` is a folder with a ``config.json`` (a HuggingFace model folder, not a Meta file)."""
    return Path(path).is_dir() and (Path(path) / "config.json").is_file()


def load_upstream_path(lvm: nn.Module, path: str | Path) -> None:
    """Load an upstream from ``model.lvm_checkpoint``: a HuggingFace folder, else an official Meta file."""
    from biggait.models.weights import load_meta_checkpoint

    if Path(path).is_dir():
        load_hf_folder(lvm, path)
    else:
        load_meta_checkpoint(lvm, Path(path))
