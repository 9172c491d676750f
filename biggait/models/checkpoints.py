"""Our checkpoint format (``biggait-repro/1``): write a model with its experiment, read it back, and
rebuild a model from any checkpoint :func:`load_model` accepts (ours or OpenGait's).

Files are read with ``torch.load(weights_only=True)`` (:func:`biggait.models.weights.read_weights`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch
from torch import nn

from biggait.config import Experiment, experiment_from_dict, to_dict
from biggait.errors import BigGaitError, CheckpointError
from biggait.io import atomic_path
from biggait.models.biggait import build_model
from biggait.models.weights import load_opengait_state_dict, load_strict, read_weights

FORMAT = "biggait-repro/1"

LVM_PREFIX = "lvm."


def save_checkpoint(
    path: str | Path,
    model: nn.Module,
    exp: Experiment,
    num_classes: int,
    iteration: int,
    extra: dict[str, Any] | None = None,
) -> None:
    """Write ``{"format", "experiment", "num_classes", "iteration", "model", **extra}`` atomically.

    The frozen LVM's weights are left out when they come from a file (``model.lvm_checkpoint``):
    ``lvm_from_file`` names it and loading rebuilds the LVM from it (88 MB saved per checkpoint at
    ViT-S, 4.4 GB at ViT-g). Random-weight LVMs (demo, tests, ``model.lvm_random``) are stored
    with the model, so ``load_model`` rebuilds exactly the random upstream that was trained with.
    ``extra`` (optimiser / scheduler / RNG state...) must hold only tensors and plain containers so
    the file loads with ``weights_only=True``.
    """
    state = model.state_dict()
    lvm_file = exp.model.lvm_checkpoint if hasattr(model, "lvm") and not exp.model.lvm_random else ""
    if lvm_file:
        state = {k: v for k, v in state.items() if not k.startswith(LVM_PREFIX)}
    payload = {
        "format": FORMAT,
        "experiment": to_dict(exp),
        "num_classes": int(num_classes),
        "iteration": int(iteration),
        "model": state,
    }
    if lvm_file:
        payload["lvm_from_file"] = lvm_file
    for k, v in (extra or {}).items():
        if k in payload:
            raise ValueError(f"save_checkpoint: extra key {k!r} clashes with a reserved key")
        payload[k] = v
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_model_state(model: nn.Module, ckpt: dict, source: str) -> None:
    """Load a checkpoint's ``model`` entry; without its LVM when the checkpoint has ``lvm_from_file``
    (the LVM then already holds the file's weights). Mismatches raise a CheckpointError."""
    sd = ckpt["model"]
    if not ckpt.get("lvm_from_file"):
        load_strict(model, sd, source)
        return
    own = {k for k in model.state_dict() if not k.startswith(LVM_PREFIX)}
    missing = sorted(own - set(sd))
    unexpected = sorted(set(sd) - own)
    if missing or unexpected:
        raise CheckpointError(f"{source}: does not fit the model (missing {missing[:5]}, unexpected {unexpected[:5]})")
    load_strict(nn.ModuleDict({n: m for n, m in model.named_children() if n != "lvm"}), sd, source)


def load_checkpoint(path: str | Path) -> dict:
    """Read one of our checkpoints (weights only); CheckpointError if it is not ours."""
    return _validate(read_weights(path), path)


def _validate(ckpt: dict, path: str | Path) -> dict:
    if ckpt.get("format") != FORMAT:
        hint = " (an OpenGait checkpoint: use load_model, which maps its keys)" if "model" in ckpt else ""
        raise CheckpointError(f"{path}: not a {FORMAT} checkpoint{hint}")
    for key in ("experiment", "num_classes", "iteration", "model"):
        if key not in ckpt:
            raise CheckpointError(f"{path}: checkpoint lacks the {key!r} entry")
    return ckpt


def _is_opengait(sd: object) -> bool:
    return isinstance(sd, dict) and any(isinstance(k, str) and k.startswith("gait_net.") for k in sd)


def load_model(
    path: str | Path,
    map_location: str | torch.device = "cpu",
    exp: Experiment | None = None,
    lvm_file: str | Path | None = None,
) -> tuple[nn.Module, Experiment]:
    """Rebuild a model from a checkpoint -> ``(model in eval mode, experiment)``.

    Our checkpoints carry their experiment. An OpenGait BigGait checkpoint (``{"model": ...}``
    with OpenGait key names, or that state dict alone) is built with ``exp`` (default: the
    released paper configuration) and the class count of its classifier. A released BiggerGait
    checkpoint is built from its own shapes (:func:`load_released_model`);
    ``lvm_file`` (a HuggingFace DINOv2 folder or Meta file) is needed when it holds no ``Backbone.*``.
    """
    return model_from_weights(read_weights(path), path, map_location, exp, lvm_file)


def model_from_weights(
    raw: dict,
    path: str | Path,
    map_location: str | torch.device = "cpu",
    exp: Experiment | None = None,
    lvm_file: str | Path | None = None,
) -> tuple[nn.Module, Experiment]:
    """:func:`load_model` of a checkpoint already read (``raw``: :func:`read_weights` of ``path``)."""
    from biggait.models.biggergait_weights import is_released_biggergait

    if is_released_biggergait(raw.get("model")) or is_released_biggergait(raw):
        model, exp = load_released_model(raw, path, exp, lvm_file)
        if lvm_file and not exp.model.lvm_checkpoint:
            raise CheckpointError(f"{path}: holds its own LVM (Backbone.*); drop --lvm-checkpoint {lvm_file}")
        return model.to(map_location).eval(), exp
    if lvm_file:
        raise CheckpointError(
            f"{path}: carries its LVM; --lvm-checkpoint is only for a released BiggerGait checkpoint without Backbone.*"
        )
    if raw.get("format") == FORMAT:
        ckpt = _validate(raw, path)
        exp = experiment_from_dict(ckpt["experiment"], str(path))
        lvm_file = ckpt.get("lvm_from_file", "")  # the LVM is rebuilt from its file, else stored
        mcfg = dataclasses.replace(exp.model, lvm_checkpoint=lvm_file, mask_pretrained="")
        model = build_model(mcfg, ckpt["num_classes"], load_lvm=bool(lvm_file))
        load_model_state(model, ckpt, str(path))
        gre = getattr(model, "gre", None)
        if gre is not None and gre.mask is not None and ckpt["iteration"] >= exp.model.mask_train_iters:
            model.freeze_mask()
        model.iteration = int(ckpt["iteration"])
    elif _is_opengait(raw.get("model")) or _is_opengait(raw):
        sd = raw["model"] if _is_opengait(raw.get("model")) else raw  # a checkpoint, or its bare state dict
        exp = exp or Experiment()
        classes = int(sd["gait_net.BNNecks.fc_bin"].shape[-1]) if "gait_net.BNNecks.fc_bin" in sd else 0
        mcfg = dataclasses.replace(exp.model, lvm_checkpoint="", mask_pretrained="", num_classes=classes)
        try:
            model = build_model(mcfg, classes, load_lvm=False)
        except BigGaitError as exc:
            raise CheckpointError(f"{path}: {exc}") from None
        load_opengait_state_dict(model, sd, str(path))
    else:
        raise CheckpointError(f"{path}: neither a {FORMAT} checkpoint nor an OpenGait BigGait / BiggerGait checkpoint")
    return model.to(map_location).eval(), exp


def load_released_model(raw: dict, path: str | Path, exp=None, lvm_file: str | Path | None = None):
    """A released BiggerGait checkpoint -> ``(model in eval mode, experiment)``, the architecture read from
    the file (:func:`released_model_config`). A file without ``Backbone.*`` needs ``lvm_file`` (or
    ``exp.model.lvm_checkpoint``): the HuggingFace folder or Meta file of the DINOv2 it was trained on."""
    from biggait.models.biggergait import build_biggergait
    from biggait.models.biggergait_weights import backbone_of, load_released_state_dict, released_model_config, unwrap

    exp = exp or Experiment(name="biggergait_released")
    sd = unwrap(raw)
    mcfg = released_model_config(sd, exp.model, str(path))
    model = build_biggergait(mcfg, mcfg.num_classes, load_lvm=False)
    lvm_file = lvm_file or exp.model.lvm_checkpoint or None
    load_released_state_dict(model, sd, str(path), lvm_file=lvm_file)
    mcfg = dataclasses.replace(mcfg, lvm_checkpoint=str(lvm_file) if lvm_file and not backbone_of(sd) else "")
    return model.eval(), dataclasses.replace(exp, model=mcfg)
