"""Released BiggerGait files -> :class:`~biggait.models.biggergait.BiggerGait`, with an explicit coverage check.

A released checkpoint is ``{'model': state_dict, ...}`` with OpenGait's names (spec section 2):
``Backbone.*`` (HuggingFace ``Dinov2Model`` layout, :mod:`biggait.models.hf_dinov2`), ``Mask_Branch.*``,
``HumanSpace_Conv.{j}.{0,1,2,4,6}.*`` and the heads twice: ``Gait_Net.real_gait.{k}.*`` (k < heads) and
``Gait_Net.Gait_List.{i}.*`` (i < J, the same tensors: group i's head is ``real_gait[i // (J/heads)]``).
OpenGait restores it with ``strict=False``, so a key that does not match silently leaves a tensor at
its random init. Here every tensor of the model must be filled: a missing, unexpected or mis-shaped
tensor, or two copies of one head that disagree, raises :class:`CoverageError` (a DataError and a
CheckpointError: one ``error:`` line from the CLI, exit 2) naming it.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import torch
from torch import Tensor, nn

from biggait.config import BiggerGaitConfig, ModelConfig
from biggait.errors import CheckpointError, DataError
from biggait.models.backbone import VARIANTS
from biggait.models.weights import load_meta_state_dict, read_weights

BACKBONE = "Backbone."
_MASK_LEAVES = [
    (r"^bn_s\.", "bn_in."),
    (r"^down_sampling\.", "proj."),
    (r"^bn_t\.", "bn_out."),
    (r"^up_sampling\.", "recon."),
]
_HEAD_LEAVES = [
    (r"^pre_rgb\.forward_block\.conv1\.conv\.", "stem.conv."),
    (r"^pre_rgb\.forward_block\.bn1\.", "stem.bn."),
    (r"^pre_rgb\.forward_block\.layer1\.0\.", "stem.block."),
    (r"^post_backbone\.forward_block\.layer2\.0\.", "trunk.0."),
    (r"^post_backbone\.forward_block\.layer3\.0\.", "trunk.1."),
    (r"^post_backbone\.forward_block\.layer4\.0\.", "trunk.2."),
    (r"^FCs\.", "fcs."),
    (r"^BNNecks\.", "bnneck."),
]
_HEAD_KEY = re.compile(r"^Gait_Net\.(real_gait|Gait_List)\.(\d+)\.(.+)$")


class CoverageError(CheckpointError, DataError):
    """A released file does not fill the model exactly (missing / unexpected / mis-shaped / conflicting)."""


def _leaf(rest: str, rules: list[tuple[str, str]]) -> str:
    for pattern, repl in rules:
        if re.match(pattern, rest):
            return re.sub(pattern, repl, rest)
    raise KeyError(rest)


def _names(keys: list[str], limit: int = 4) -> str:
    more = f" (+{len(keys) - limit} more)" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def map_released(sd: dict[str, Tensor], per_head: float, source: str) -> dict[str, tuple[str, Tensor]]:
    """Our key -> (released key, tensor) for every non-``Backbone`` key. A ``Gait_List.{i}`` copy fills
    head ``i // per_head`` and must equal any other copy of it; an unknown key is a CoverageError."""
    out: dict[str, tuple[str, Tensor]] = {}
    unknown = []
    for key, value in sd.items():
        if key.startswith(BACKBONE):
            continue
        try:
            ours = _our_key(key, per_head)
        except KeyError:
            unknown.append(key)
            continue
        if ours in out and not torch.equal(out[ours][1], value):
            raise CoverageError(
                f"{source}: {key} disagrees with {out[ours][0]} (both fill {ours}: the head "
                f"copies of the two key families must be the same tensor)"
            )
        out.setdefault(ours, (key, value))
    if unknown:
        raise CoverageError(f"{source}: unexpected tensor(s) not in a BiggerGait model: {_names(unknown)}")
    return out


def _our_key(key: str, per_head: float) -> str:
    if key.startswith("Mask_Branch."):
        return "mask." + _leaf(key[len("Mask_Branch.") :], _MASK_LEAVES)
    m = re.match(r"^HumanSpace_Conv\.(\d+)\.(\d+\..+)$", key)
    if m:
        return f"humanspace.proj.{m.group(1)}.{m.group(2)}"
    m = _HEAD_KEY.match(key)
    if m:
        head = int(m.group(2)) if m.group(1) == "real_gait" else int(int(m.group(2)) // per_head)
        return f"heads.heads.{head}." + _leaf(m.group(3), _HEAD_LEAVES)
    raise KeyError(key)


def check_coverage(
    module: nn.Module, mapped: dict[str, tuple[str, Tensor]], source: str, skip_prefix: str = "lvm."
) -> None:
    """Every tensor of ``module`` (but ``skip_prefix``) filled by ``mapped`` with its shape, nothing left over."""
    own = {k: v for k, v in module.state_dict().items() if not k.startswith(skip_prefix)}
    missing = [k for k in own if k not in mapped]
    extra = [f"{mapped[k][0]}" for k in mapped if k not in own]
    shapes = [
        f"{mapped[k][0]} {tuple(mapped[k][1].shape)} vs model {k} {tuple(own[k].shape)}"
        for k in own
        if k in mapped and tuple(mapped[k][1].shape) != tuple(own[k].shape)
    ]
    problems = []
    if shapes:
        problems.append(f"mis-shaped tensor(s): {_names(shapes, 3)}")
    if missing:
        problems.append(f"missing tensor(s): {_names(missing)}")
    if extra:
        problems.append(f"unexpected tensor(s): {_names(extra)}")
    if problems:
        raise CoverageError(f"{source}: does not fill the BiggerGait model ({'; '.join(problems)})")


def _float32(t: Tensor) -> Tensor:
    return t.float() if t.is_floating_point() else t


def load_backbone(model: nn.Module, backbone: dict[str, Tensor], source: str) -> None:
    """``Backbone.*`` (prefix stripped, HuggingFace layout) into ``model.lvm``; its coverage is strict too."""
    from biggait.models.hf_dinov2 import hf_to_meta

    try:
        load_meta_state_dict(model.lvm, hf_to_meta(backbone, source + " [Backbone]"), source + " [Backbone]")
    except CoverageError:
        raise
    except CheckpointError as exc:
        raise CoverageError(str(exc)) from None


def backbone_of(sd: dict[str, Tensor]) -> dict[str, Tensor]:
    return {k[len(BACKBONE) :]: v for k, v in sd.items() if k.startswith(BACKBONE)}


def load_released_state_dict(
    model: nn.Module,
    sd: dict[str, Tensor],
    source: str,
    backbone: dict[str, Tensor] | None = None,
    lvm_file: str | Path | None = None,
) -> None:
    """Load a released state dict into ``model``: every tensor filled exactly once.

    The LVM comes from the file's own ``Backbone.*``, else ``backbone`` (another file's, prefix
    stripped), else the ``lvm_file`` path (HuggingFace folder or Meta file); none of them: CoverageError.
    """
    sd = unwrap(sd)
    mapped = map_released(sd, model.heads.per_head, source)
    check_coverage(model, mapped, source)
    own = backbone_of(sd) or backbone
    if own:
        load_backbone(model, own, source)
    elif lvm_file:
        from biggait.models.hf_dinov2 import load_upstream_path

        load_upstream_path(model.lvm, lvm_file)
    else:
        raise CoverageError(
            f"{source}: no Backbone.* tensors; give the LVM it was trained on "
            "(biggait evaluate --lvm-checkpoint, or model.lvm_checkpoint: a HuggingFace DINOv2 folder or a Meta file)"
        )
    model.load_state_dict(
        {
            **{k: _float32(v) for k, (_, v) in mapped.items()},
            **{k: v for k, v in model.state_dict().items() if k.startswith("lvm.")},
        },
        strict=True,
    )


def unwrap(sd: dict) -> dict:
    """The state dict of a ``{'model': ...}`` checkpoint (or the state dict itself)."""
    return sd["model"] if isinstance(sd.get("model"), dict) else sd


def is_released_biggergait(sd: object) -> bool:
    return isinstance(sd, dict) and any(isinstance(k, str) and k.startswith("HumanSpace_Conv.") for k in sd)


def load_mask_file(mask: nn.Module, path: str | Path) -> None:
    """``MaskBranch_vits14.pt`` (``{'model': infoDistillation state dict}``) into a TokenMaskBranch, exactly."""
    raw = unwrap(read_weights(path, "mask-branch file (model.mask_pretrained)"))
    try:
        mapped = {
            _leaf(k[len("Mask_Branch.") :] if k.startswith("Mask_Branch.") else k, _MASK_LEAVES): (k, v)
            for k, v in raw.items()
        }
    except KeyError as exc:
        raise CoverageError(f"{path}: unexpected tensor {exc.args[0]} in a mask-branch file") from None
    check_coverage(mask, mapped, str(path), skip_prefix="\0")
    mask.load_state_dict({k: _float32(v) for k, (_, v) in mapped.items()}, strict=True)


def _count(sd: dict, pattern: str) -> int:
    return len({m.group(1) for k in sd for m in [re.match(pattern, k)] if m})


def released_model_config(sd: dict[str, Tensor], base: ModelConfig, source: str) -> ModelConfig:
    """The :class:`ModelConfig` of a released state dict, read from its shapes: groups, heads, layers per
    group, widths, parts, classes and the upstream variant (``base`` gives everything else)."""
    sd = unwrap(sd)
    try:
        proj1, proj2 = sd["HumanSpace_Conv.0.1.weight"], sd["HumanSpace_Conv.0.4.weight"]
        width = int(sd["Mask_Branch.down_sampling.weight"].shape[1])
        family = "real_gait" if any(k.startswith("Gait_Net.real_gait.") for k in sd) else "Gait_List"
        h = f"Gait_Net.{family}.0."
        channels = tuple(
            int(sd[h + k].shape[0])
            for k in (
                "pre_rgb.forward_block.conv1.conv.weight",
                "post_backbone.forward_block.layer2.0.conv1.weight",
                "post_backbone.forward_block.layer3.0.conv1.weight",
                "post_backbone.forward_block.layer4.0.conv1.weight",
            )
        )
        parts, _, embed = (int(v) for v in sd[h + "FCs.fc_bin"].shape)
        classes = int(sd[h + "BNNecks.fc_bin"].shape[-1])
    except KeyError as exc:
        raise CoverageError(f"{source}: missing tensor {exc.args[0]} (not a complete BiggerGait checkpoint)") from None
    groups = _count(sd, r"^HumanSpace_Conv\.(\d+)\.")
    heads = _count(sd, r"^Gait_Net\.real_gait\.(\d+)\.") if family == "real_gait" else groups
    per_group = int(proj1.shape[1]) // width
    regs = f"{BACKBONE}embeddings.register_tokens" in sd
    variant = [
        n
        for n, v in VARIANTS.items()
        if (v.embed_dim, v.depth, n.endswith("_reg4")) == (width, groups * per_group, regs)
    ]
    if not variant:
        raise CoverageError(f"{source}: no DINOv2 variant has width {width} and {groups * per_group} layers")
    bcfg = dataclasses.replace(
        base.biggergait if base.arch == "biggergait" else BiggerGaitConfig(),
        layers_per_group=per_group,
        heads=heads,
        parts=parts,
        map_dim=int(proj2.shape[0]),
        hidden_dim=int(proj1.shape[0]),
    )
    return dataclasses.replace(
        base,
        arch="biggergait",
        lvm=variant[0],
        lvm_tiny=False,
        channels=channels,
        embed_dim=embed,
        num_classes=classes,
        biggergait=bcfg,
        lvm_checkpoint="",
        mask_pretrained="",
    )
