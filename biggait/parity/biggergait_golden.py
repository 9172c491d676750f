"""A BiggerGait golden folder (``manifest.json`` format ``biggergait-golden/1``): its cases and their models.

Everything a check needs is read from the manifest: the upstream's shape and positional-embedding
resampling (``upstream``), the model widths (``model``), the optimiser, schedule and losses (``train``),
the weights files (``weights``: checkpoint, where its ``Backbone.*`` comes from, the mask-branch file,
sha256) and per case its file, kind, weights, ``group_layer_num`` and ``head_num`` (``cases``). No case or
file name is known to the code. Unsupported manifest values are refused, never approximated.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from pathlib import Path

import numpy as np
import torch

from biggait.config import BiggerGaitConfig, LossConfig, ModelConfig
from biggait.errors import DataError
from biggait.models.backbone import VARIANTS
from biggait.models.biggergait import BiggerGait, build_biggergait
from biggait.models.biggergait_weights import backbone_of, load_mask_file, load_released_state_dict, unwrap
from biggait.models.weights import read_weights
from biggait.parity.golden import CheckResult, compare_exact

FORMAT = "biggergait-golden/1"
MANIFEST = "manifest.json"


def read_manifest(golden_dir: Path) -> dict:
    """The folder's manifest (DataError when it is missing, unreadable or of another format)."""
    path = Path(golden_dir) / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: unreadable manifest ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise DataError(
            f"{path}: format {manifest.get('format') if isinstance(manifest, dict) else None!r} (expected {FORMAT!r})"
        )
    for key in ("upstream", "model", "weights", "cases"):
        if key not in manifest:
            raise DataError(f"{path}: no {key!r} entry")
    return manifest


def manifest_format(golden_dir: Path) -> str | None:
    """The ``format`` of the folder's manifest, None without one."""
    path = Path(golden_dir) / MANIFEST
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text()).get("format")
    except (OSError, json.JSONDecodeError, AttributeError):
        return None


def _require(ok: bool, what: str) -> None:
    if not ok:
        raise DataError(f"{MANIFEST}: unsupported {what}")


def _variant(up: dict) -> str:
    names = [
        n
        for n, v in VARIANTS.items()
        if (v.embed_dim, v.depth) == (up["hidden_size"], up["num_hidden_layers"]) and not n.endswith("_reg4")
    ]
    _require(
        bool(names) and up.get("patch_size", 14) == 14 and up.get("kind") == "hf_dinov2",
        f"upstream {up} (expected an HF DINOv2 of S/B/L/G shape, patch 14)",
    )
    return names[0]


def case_model_config(manifest: dict, case: dict) -> ModelConfig:
    """The :class:`ModelConfig` of one case: the manifest's model block plus the case's grouping."""
    up, m = manifest["upstream"], manifest["model"]
    bc, fcs, bnn, mask = m["backbone_cfg"], m["SeparateFCs"], m["SeparateBNNecks"], m["Mask_Branch"]
    _require(
        list(bc["strides"]) == [1, 2, 1, 1]
        and list(bc["layers"]) == [1, 1, 1, 1]
        and not bc.get("maxpool")
        and bc.get("block", "BasicBlock") == "BasicBlock",
        f"backbone_cfg {bc}",
    )
    _require(
        bc["in_channel"] == m["num_unknown"]
        and fcs["in_channels"] == bc["channels"][-1]
        and bnn["in_channels"] == fcs["out_channels"]
        and fcs["parts_num"] == bnn["parts_num"]
        and list(m["bin_num"]) == [fcs["parts_num"]],
        "head widths (in_channel / SeparateFCs / BNNecks / bin_num)",
    )
    _require(
        mask.get("p", 0) == 0
        and mask.get("softmax", True)
        and mask.get("target_dim", 2) == 2
        and m["source_dim"] == up["hidden_size"] == mask["source_dim"],
        f"Mask_Branch {mask}",
    )
    _require(m["total_layer_num"] == up["num_hidden_layers"], "total_layer_num")
    bcfg = BiggerGaitConfig(
        layers_per_group=int(case["group_layer_num"]),
        heads=int(case["head_num"]),
        parts=int(fcs["parts_num"]),
        map_dim=int(m["num_unknown"]),
        pos_embed_interpolation=up.get("pos_embed_interpolation", "size"),
    )
    return ModelConfig(
        arch="biggergait",
        lvm=_variant(up),
        image_size=int(m["image_size"]),
        gre_map_width=int(m["sils_size"]),
        channels=tuple(int(c) for c in bc["channels"]),
        embed_dim=int(fcs["out_channels"]),
        num_classes=int(bnn["class_num"]),
        biggergait=bcfg,
    )


def loss_config(manifest: dict) -> LossConfig:
    """The manifest's triplet + cross-entropy terms (no auxiliary terms in BiggerGait)."""
    losses = manifest["train"]["losses"]
    tri, ce = losses["triplet"], losses["softmax"]
    return LossConfig(
        triplet_weight=float(tri["loss_term_weight"]),
        triplet_margin=float(tri["margin"]),
        ce_weight=float(ce["loss_term_weight"]),
        ce_scale=float(ce["scale"]),
        label_smoothing=float(ce["eps"]) if ce.get("label_smooth", True) else 0.0,
        reconstruction_weight=0.0,
        mask_smoothness_weight=0.0,
        denoising_smoothness_weight=0.0,
        diversity_weight=0.0,
    )


def weights_entry(golden_dir: Path, manifest: dict, key: str) -> dict:
    if key not in manifest["weights"]:
        raise DataError(f"{Path(golden_dir) / MANIFEST}: a case names weights {key!r}, not in 'weights'")
    return manifest["weights"][key]


@functools.lru_cache(maxsize=4)
def _state(path: str) -> dict:
    return unwrap(read_weights(path, "golden weights"))


def load_case_model(golden_dir: Path, manifest: dict, case: dict) -> BiggerGait:
    """The case's model with its weights: mask-branch file first (as the release builds it), then the
    checkpoint, its ``Backbone.*`` from ``backbone_from`` when it has none. Not cached: training changes it."""
    w = weights_entry(golden_dir, manifest, case["weights"])
    cfg = case_model_config(manifest, case)
    model = build_biggergait(cfg, cfg.num_classes, load_lvm=False)
    if w.get("mask_branch_file"):
        load_mask_file(model.mask, Path(golden_dir) / w["mask_branch_file"])
    sd = _state(str(Path(golden_dir) / w["file"]))
    other = backbone_of(_state(str(Path(golden_dir) / w["backbone_from"]))) if w.get("backbone_from") else None
    load_released_state_dict(model, sd, w["file"], backbone=other)
    return model


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 22):
            h.update(block)
    return h.hexdigest()


def weights_checks(golden_dir: Path, manifest: dict) -> list[CheckResult]:
    """Per weights entry: the file's sha256 (when listed) and its ``Mask_Branch.*`` = the mask-branch file."""
    out = []
    for w in manifest["weights"].values():
        path = Path(golden_dir) / w["file"]
        if w.get("sha256"):
            ok = sha256(path) == w["sha256"]
            out.append(
                CheckResult(
                    w["file"],
                    "sha256",
                    0.0 if ok else float("inf"),
                    0.0,
                    ok,
                    "" if ok else "file differs from the manifest's sha256",
                    0.0,
                    0.0,
                )
            )
        if w.get("mask_branch_file"):
            sd = _state(str(path))
            mask = unwrap(read_weights(Path(golden_dir) / w["mask_branch_file"], "mask-branch file"))
            for k, v in mask.items():
                name = f"Mask_Branch.{k}"
                ours = sd.get(name)
                out.append(
                    compare_exact(
                        w["file"],
                        name,
                        np.asarray(v.float() if v.is_floating_point() else v),
                        np.asarray(
                            ours.float()
                            if ours is not None and ours.is_floating_point()
                            else (ours if ours is not None else np.zeros(0))
                        ),
                    )
                )
    return out


def param_count_checks(golden_dir: Path, manifest: dict) -> list[CheckResult]:
    """Full-width parameter counts (README section 5): per released variant of the manifest's
    ``param_counts_full_width`` (else of ``meta.json`` beside it, when present) our total equals its total."""
    counts = manifest.get("param_counts_full_width")
    meta = Path(golden_dir) / "meta.json"
    if counts is None and meta.is_file():
        try:
            counts = json.loads(meta.read_text()).get("param_counts_full_width")
        except (OSError, json.JSONDecodeError, AttributeError):
            counts = None
    out = []
    for name, c in (counts or {}).items():
        bcfg = BiggerGaitConfig(layers_per_group=int(c["group_layer_num"]), heads=int(c["heads"]))
        cfg = dataclasses.replace(ModelConfig(), arch="biggergait", biggergait=bcfg)
        model = BiggerGait(cfg, 100)
        out.append(
            compare_exact(
                "param_counts_full_width", f"{name}.total", np.int64(model.reported_num_params()), np.int64(c["total"])
            )
        )
        if "trainable" in c:
            trainable = sum(p.numel() for p in model.trainable_parameters())
            out.append(
                compare_exact(
                    "param_counts_full_width", f"{name}.trainable", np.int64(trainable), np.int64(c["trainable"])
                )
            )
        del model
    return out


def normalised(uint8: np.ndarray) -> torch.Tensor:
    """``BaseRgbTransform``: float64 normalisation, then float32 (README 1)."""
    from biggait.data.loader import normalize_rgb

    return torch.from_numpy(normalize_rgb(uint8))
