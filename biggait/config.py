"""Typed, frozen experiment configuration.

The dataclasses below are the single source of truth for every hyper-parameter. YAML files only
store them: loading fails on an unknown key or a wrong type, naming the key path and the file,
and dotted overrides (``--set train.lr=0.05``) go through the same checks.

An experiment is resolved from three layers, later ones winning:

1. the dataclass defaults (the released BigGait CCPG configuration, i.e. paper scale);
2. the scale overlay ``config/scales/<scale>.yaml`` (``demo`` shrinks everything for a CPU);
3. the experiment file ``config/experiments/<name>.yaml`` (what distinguishes the experiment);
4. ``--set key=value`` overrides.

A scale overlay may also carry ``roots`` and ``partitions`` maps (dataset preset -> path) that fill
``data.root`` / ``data.partition`` when the layers above leave them empty, and ``lvm_checkpoints``
(variant -> path) that fills ``model.lvm_checkpoint``. Relative paths in a YAML file are resolved
against the directory of that file, never against the working directory.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from biggait.errors import ConfigError
from biggait.io import read_yaml

# --------------------------------------------------------------------------------------------
# The dataclasses
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DataConfig:
    """Which dataset to read and how to sample it."""

    dataset: str = "ccpg"  # preset name: ccpg | casiab | sustech1k | ccgr_mini (biggait.datasets)
    root: str = ""  # dataset root, layout <root>/<id>/<type>/<view>/*.pkl
    partition: str = ""  # partition JSON {"TRAIN_SET": [...], "TEST_SET": [...]}
    modality: Literal["rgb", "silhouette"] = "rgb"  # silhouette = the GaitBase baseline's input
    batch_p: int = 8  # identities per training batch
    batch_k: int = 8  # sequences per identity
    frames_per_seq: int = 30  # unordered frames sampled per training sequence
    test_max_frames: int = 0  # 0 = the preset's limit (250 CCPG, 720 SUSTech1K / CCGR-Mini)
    flip_prob: float = 0.5  # sequence-level horizontal flip at training
    num_workers: int = 2  # DataLoader workers


@dataclass(frozen=True)
class BiggerGaitConfig:
    """``arch: biggergait`` (BiggerGait, NeurIPS 2025; docs/biggergait.md): the released values by default.

    Depth groups J = depth / ``layers_per_group``; group i is scored by head ``i // (J / heads)``.
    Released variants: 1 layer per group / 12 heads and 2 layers per group / 2 heads.
    """

    layers_per_group: int = 1  # adjacent upstream layers concatenated into one projection input
    heads: int = (
        12  # gait heads; J must be a multiple of it (shared heads see J / heads groups each); 0 = J (one per group)
    )
    parts: int = 32  # HPP strips per head (one row of the 32x16 trunk output each)
    map_dim: int = 16  # channels of each projection's output (the heads' input)
    hidden_dim: int = 0  # projection hidden width; 0 = half the upstream width (192 for ViT-S), as released
    chunk_frames: int = 96  # frames are split into s // chunk_frames + 1 time chunks (released torch.chunk)
    # Released quirk: the frozen mask branch's BatchNorm follows the model's train/eval mode (batch statistics and
    # drifting running statistics in training). False keeps it in eval mode (running statistics) always.
    mask_bn_follows_mode: bool = True
    pos_embed_interpolation: Literal["size", "scale_factor"] = "size"  # size: transformers >= 4.45; scale_factor: +0.1
    # Without model.mask_pretrained (the demo has no MaskBranch file): random = the frozen head keeps its random
    # init (a random gate over tokens); foreground = every token is foreground (no mask, like BigGait's ccpg_no_mask)
    mask_fallback: Literal["random", "foreground"] = "random"


@dataclass(frozen=True)
class ModelConfig:
    """BigGait architecture and its ablation switches (released behaviour by default)."""

    arch: Literal["biggait", "gaitbase", "biggergait"] = "biggait"  # gaitbase = silhouette baseline
    lvm: str = "vits14"  # vits14 | vitb14 | vitl14 | vitg14 | *_reg4 (biggait.models.backbone)
    lvm_tiny: bool = False  # a tiny ViT of the variant's shape family (demo: pretrained by pretrain-lvm; tests: random)
    lvm_checkpoint: str = (
        ""  # official Meta file dinov2_<variant>_pretrain.pth or a HuggingFace DINOv2 folder; "" = random
    )
    lvm_random: bool = False  # ablation: keep the upstream's random initialisation; no checkpoint is loaded
    image_size: int = 224  # LVM input width; height is twice it (448x224)
    lvm_patch: int = 14  # ViT patch size; other values only for the tiny stand-ins (demo: 4 -> 16x8 grid)
    gre_map_width: int = 32  # GRE map width; height is twice it (64x32)
    taps: Literal["both", "last", "mid4"] = "both"  # which LVM taps feed the GRE
    mask_branch: bool = True  # off: every valid pixel is foreground
    appearance_branch: bool = True
    denoising_branch: bool = True
    mask_dim: int = 2
    appearance_dim: int = 16
    denoising_dim: int = 16
    smoothness: Literal["channel_sum", "per_channel"] = "channel_sum"  # released vs paper wording
    pad_and_resize: bool = True  # off: squash every frame to the input size
    black_da: bool = True
    black_da_ratio: float = 0.2
    mask_train_iters: int = 500  # mask branch trains for these iterations, then is frozen
    mask_pretrained: str = ""  # optional MaskBranch_vits14.pt loaded when the mask freezes
    channels: tuple[int, ...] = (64, 128, 256, 512)  # GaitBase stem + trunk widths
    embed_dim: int = 256  # per-strip embedding size
    parts: int = 16  # horizontal pyramid strips
    num_classes: int = 0  # 0 = number of training identities of the dataset
    biggergait: BiggerGaitConfig = field(default_factory=BiggerGaitConfig)  # arch: biggergait only

    def upstream_signature(self) -> tuple:
        """What the frozen upstream's maps depend on besides its weights: two models with equal
        signatures and equal LVM weights compute identical maps of the same frames (shared evaluation)."""
        if self.arch == "gaitbase":
            return ("gaitbase", self.gre_map_width, self.pad_and_resize)
        if self.arch == "biggergait":  # no shared upstream pass (it has no ``upstream`` method)
            return (
                "biggergait",
                self.lvm,
                self.lvm_tiny,
                self.lvm_patch,
                self.image_size,
                self.biggergait.pos_embed_interpolation,
            )
        return (
            "biggait",
            self.lvm,
            self.lvm_tiny,
            self.lvm_patch,
            self.image_size,
            self.gre_map_width,
            self.pad_and_resize,
        )


@dataclass(frozen=True)
class LossConfig:
    """Loss weights and constants (the released values)."""

    triplet_weight: float = 1.0
    triplet_margin: float = 0.2
    ce_weight: float = 1.0
    ce_scale: float = 16.0
    label_smoothing: float = 0.1
    reconstruction_weight: float = 1.0
    mask_smoothness_weight: float = 0.02
    denoising_smoothness_weight: float = 0.01
    diversity_weight: float = 5.0
    # After the mask branch freezes, its two terms carry no gradient; the released trainer still computes
    # them every step and reports them in the total. False skips them (same gradients, a smaller total).
    frozen_mask_terms: bool = True


@dataclass(frozen=True)
class TrainConfig:
    """Optimiser, schedule and run-time behaviour of training."""

    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    milestones: tuple[int, ...] = (15000, 25000, 30000, 35000)
    gamma: float = 0.1
    total_iters: int = 40000
    amp: Literal["auto", "off", "bf16", "fp16"] = "auto"  # auto = bf16 on a GPU that has it, else fp16; off on CPU
    sync_bn: bool = True
    save_every: int = 1000  # checkpoint every N iterations (and at the end)
    log_every: int = 10
    max_nonfinite_steps: int = 20  # consecutive skipped steps before training stops
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    deterministic: bool = False  # deterministic algorithms (+ cuBLAS workspace setting), cudnn.benchmark off


@dataclass(frozen=True)
class EvalConfig:
    """How test embeddings are extracted and scored."""

    metric: Literal["euc", "cos"] = "euc"
    autocast: bool = True  # fp16 autocast on GPU, as the released features; ignored on CPU
    pack_frames: int = 256  # test sequences run together (packed, per-sequence pooling) up to this many frames
    bootstrap: int = 1000  # bootstrap resamples of probe identities for rank-1 CIs (0 = off)
    seed: int = 0


@dataclass(frozen=True)
class Experiment:
    """One experiment: what to train, on what, and how to evaluate it."""

    name: str = "biggait_ccpg"
    scale: Literal["demo", "paper"] = "paper"
    description: str = ""
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def test_pass(self) -> tuple:
        """How this model's test set is read and batched: models with equal values can share one pass."""
        d = self.data
        return (d.modality, d.test_max_frames, d.num_workers, self.eval.pack_frames, self.eval.autocast)


# --------------------------------------------------------------------------------------------
# Conversion and checking
# --------------------------------------------------------------------------------------------

_SCALE_EXTRAS = ("roots", "partitions", "lvm_checkpoints")


@dataclass(frozen=True)
class ScalePaths:
    """Where a scale's datasets and DINOv2 files are: the ``roots``, ``partitions`` and ``lvm_checkpoints`` of
    its overlay ``config/scales/<scale>.yaml``, the one home of these paths (absolute after loading).
    ``biggait train --scale paper`` and the DAG both read them; a DAG run may override entries
    (:meth:`overridden`)."""

    roots: dict[str, str]
    partitions: dict[str, str]
    lvm_checkpoints: dict[str, str]
    source: str  # the overlay file they came from (named in error messages)

    def overridden(self, **maps: dict[str, str]) -> ScalePaths:
        """These paths with the given entries (``roots=...``, ``partitions=...``, ``lvm_checkpoints=...``)
        replaced or added."""
        return dataclasses.replace(self, **{k: {**getattr(self, k), **(v or {})} for k, v in maps.items()})

    def fill(self, exp: Experiment) -> Experiment:
        """The one fill rule: an experiment's empty ``data.root`` / ``data.partition`` from its dataset's
        entry, and an empty ``model.lvm_checkpoint`` of a full-size upstream from its variant's entry."""
        data, model = exp.data, exp.model
        if not data.root and data.dataset in self.roots:
            data = dataclasses.replace(data, root=self.roots[data.dataset])
        if not data.partition and data.dataset in self.partitions:
            data = dataclasses.replace(data, partition=self.partitions[data.dataset])
        if not model.lvm_checkpoint and not model.lvm_tiny and model.lvm in self.lvm_checkpoints:
            model = dataclasses.replace(model, lvm_checkpoint=self.lvm_checkpoints[model.lvm])
        return dataclasses.replace(exp, data=data, model=model)


def _scale_file(scale: str, scale_file: str | Path | None) -> Path:
    if scale not in ("demo", "paper"):
        raise ConfigError(f"scale: expected one of ['demo', 'paper'], got {scale!r}")
    # The overlay is never optional: a missing one would silently leave the defaults (paper scale).
    if scale_file:
        return Path(scale_file)
    return repo_config_file("scales", f"{scale}.yaml", what=f"scale overlay of scale {scale!r}")


def _split_overlay(scale_raw: dict, source: Path) -> ScalePaths:
    """Pop the path maps out of a raw overlay (in place) into a :class:`ScalePaths`."""
    maps = {k: scale_raw.pop(k, {}) or {} for k in _SCALE_EXTRAS}
    for k, m in maps.items():
        if not isinstance(m, dict) or not all(isinstance(v, str) for v in m.values()):
            raise ConfigError(f"{source}: {k}: expected a mapping of names to paths")
    return ScalePaths(**maps, source=str(source))


def scale_paths(scale: str, scale_file: str | Path | None = None) -> ScalePaths:
    """The data and checkpoint paths of a scale's overlay (``config/scales/<scale>.yaml``)."""
    sf = _scale_file(scale, scale_file)
    return _split_overlay(_resolve_paths(_read_yaml(sf), sf.resolve().parent), sf)


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _check_value(value: Any, tp: Any, where: str) -> Any:
    """Return ``value`` converted to ``tp`` or raise ConfigError naming ``where``."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {type(value).__name__} {value!r}")
        return _build(tp, value, where)
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{where}: expected one of {list(args)}, got {value!r}")
        return value
    if origin in (typing.Union, types.UnionType):  # Optional[...]
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _check_value(value, inner[0], where)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {type(value).__name__} {value!r}")
        item_tp = args[0]
        return tuple(_check_value(v, item_tp, f"{where}[{i}]") for i, v in enumerate(value))
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true/false, got {type(value).__name__} {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {type(value).__name__} {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {type(value).__name__} {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {type(value).__name__} {value!r}")
        return value
    raise ConfigError(f"{where}: unsupported type {tp!r}")  # pragma: no cover


# Renamed keys: old path -> new name. The old one still loads, with one warning line on stderr per process.
DEPRECATED_KEYS = {"model.sils_size": "gre_map_width"}
_warned: set[str] = set()


def _rename_deprecated(layer: dict, where: str) -> dict:
    """``layer`` (one YAML file's or the overrides' raw mapping) with its deprecated keys renamed."""
    for old_path, new in DEPRECATED_KEYS.items():
        section, _, old = old_path.rpartition(".")
        sec = layer.get(section)
        if not isinstance(sec, dict) or old not in sec:
            continue
        if new in sec:
            raise ConfigError(f"{where}: {old_path} is a deprecated alias of {section}.{new}; give only {new}")
        layer = {**layer, section: {(new if k == old else k): v for k, v in sec.items()}}
        if old_path not in _warned:
            _warned.add(old_path)
            print(f"warning: {where}: {old_path} is deprecated, use {section}.{new} (same meaning)", file=sys.stderr)
    return layer


def _build(cls: type, raw: dict, where: str) -> Any:
    hints = _hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in raw.items():
        path = f"{where}.{key}" if where else key
        if key not in names:
            raise ConfigError(f"{path}: unknown key (expected one of: {', '.join(sorted(names))})")
        kwargs[key] = _check_value(value, hints[key], path)
    return cls(**kwargs)


def to_dict(obj: Any) -> dict:
    """A plain, YAML/JSON-ready dict of a config dataclass (tuples become lists)."""

    def plain(v: Any) -> Any:
        if dataclasses.is_dataclass(v):
            return {f.name: plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, tuple):
            return [plain(x) for x in v]
        return v

    return plain(obj)


def _deep_merge(base: dict, top: dict) -> dict:
    out = dict(base)
    for k, v in top.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def _read_yaml(path: Path) -> dict:
    data = read_yaml(path, "config", ConfigError)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def _resolve_paths(raw: dict, base_dir: Path) -> dict:
    """Resolve the known path-valued keys of a raw layer against ``base_dir``."""
    raw = json.loads(json.dumps(raw))  # deep copy of plain data
    for section, key in (
        ("data", "root"),
        ("data", "partition"),
        ("model", "lvm_checkpoint"),
        ("model", "mask_pretrained"),
    ):
        sec = raw.get(section)
        if isinstance(sec, dict) and isinstance(sec.get(key), str) and sec[key]:
            sec[key] = str((base_dir / sec[key]).resolve()) if not Path(sec[key]).is_absolute() else sec[key]
    for extra in _SCALE_EXTRAS:
        m = raw.get(extra)
        if isinstance(m, dict):
            raw[extra] = {
                k: (str((base_dir / v).resolve()) if isinstance(v, str) and v and not Path(v).is_absolute() else v)
                for k, v in m.items()
            }
    return raw


def parse_override(text: str) -> tuple[list[str], Any]:
    """Parse ``a.b.c=value``; the value is read as YAML (so 0.05, true, [1,2] work)."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE, e.g. train.lr=0.05")
    key, value = text.split("=", 1)
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(f"--set {text!r}: expected a dotted key such as train.lr")
    try:
        parsed = yaml.safe_load(value) if value.strip() else ""
    except yaml.YAMLError:
        parsed = value
    return key.split("."), parsed


def _set_in(raw: dict, keys: list[str], value: Any) -> None:
    node = raw
    for k in keys[:-1]:
        node = node.setdefault(k, {})
        if not isinstance(node, dict):
            raise ConfigError(f"--set {'.'.join(keys)}: {k} is not a section")
    node[keys[-1]] = value


INSTALL_HINT = "clone the repository and `pip install -e .` there"


def config_dir() -> Path:
    """The repository's ``config/`` directory (next to the ``biggait`` package).

    It is not part of the package: a non-editable install (``pip install .``, a wheel) has none
    beside it, and :func:`repo_config_file` says so instead of falling back to anything.
    """
    return Path(__file__).resolve().parent.parent / "config"


def repo_config_file(*parts: str, what: str) -> Path:
    """``config/<parts...>`` of the repository, or a one-line ConfigError naming what is missing.

    ``what`` names the file in the message (``"scale overlay of scale 'demo'"``).
    """
    d = config_dir()
    if not d.is_dir():
        raise ConfigError(f"biggait was installed without its repository (config/ not found at {d}): {INSTALL_HINT}")
    path = d.joinpath(*parts)
    if not path.is_file():
        raise ConfigError(f"{path}: {what} not found")
    return path


# Where a scale overlay's keys beat the experiment file's (None: the whole section): the overlay sets its scale's
# schedule and sampling, and which weight files exist (the demo has no released ones).
OVERLAY_WINS: dict[str, tuple[str, ...] | None] = {
    "data": None,
    "train": None,
    "model": ("lvm_checkpoint", "mask_pretrained"),
}


def load_experiment(
    path: str | Path | None = None,
    *,
    scale: str | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    scale_file: str | Path | None = None,
) -> Experiment:
    """Resolve an experiment from its YAML file, a scale overlay and dotted overrides.

    Args:
        path: experiment YAML (``None`` = defaults only).
        scale: ``demo`` or ``paper``; defaults to the experiment file's ``scale`` or ``paper``.
        overrides: ``["train.lr=0.05", ...]``, checked like YAML keys.
        scale_file: explicit overlay path (default ``config/scales/<scale>.yaml``).

    Raises:
        ConfigError: on a bad key or value, or when the scale's overlay file is missing (a
            non-editable install has no ``config/``: the message says so).
    """
    exp_raw: dict = {}
    if path is not None:
        p = Path(path)
        exp_raw = _rename_deprecated(_resolve_paths(_read_yaml(p), p.resolve().parent), str(p))
        for extra in _SCALE_EXTRAS:
            if extra in exp_raw:
                raise ConfigError(f"{p}: {extra}: only allowed in a scale overlay")
    over_raw: dict = {}
    for text in overrides:
        keys, value = parse_override(text)
        _set_in(over_raw, keys, value)
    over_raw = _rename_deprecated(over_raw, "--set")
    scale = scale or over_raw.get("scale") or exp_raw.get("scale") or "paper"
    sf = _scale_file(scale, scale_file)
    scale_raw = _rename_deprecated(_resolve_paths(_read_yaml(sf), sf.resolve().parent), str(sf))
    where_paths = _split_overlay(scale_raw, sf)

    # defaults < overlay < experiment < --set, except OVERLAY_WINS: an experiment's schedule and weight files are
    # its full-scale recipe (e.g. BiggerGait's), and the overlay's (demo: short schedules, no released files) beat them
    merged = _deep_merge(scale_raw, exp_raw)
    for sec, keys in OVERLAY_WINS.items():
        top = scale_raw.get(sec)
        if isinstance(top, dict) and isinstance(merged.get(sec), dict):
            merged[sec] = _deep_merge(merged[sec], {k: v for k, v in top.items() if keys is None or k in keys})
    merged = _deep_merge(merged, over_raw)
    merged["scale"] = scale
    where = str(path) if path is not None else "<defaults>"
    try:
        exp = _build(Experiment, merged, "")
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    from biggait.datasets import DATASETS, canonical_name  # here: the registry imports nothing of ours but errors

    if canonical_name(exp.data.dataset) in DATASETS:  # OpenGait's spellings (CASIA-B*, SUSTech1K, ...), any case
        exp = dataclasses.replace(exp, data=dataclasses.replace(exp.data, dataset=canonical_name(exp.data.dataset)))
    return where_paths.fill(exp)  # dataset roots / partitions / checkpoints from the scale's maps when left empty


def experiment_from_dict(raw: dict, where: str = "<dict>") -> Experiment:
    """Rebuild an Experiment from :func:`to_dict` output (e.g. a run folder's config.yaml)."""
    try:
        return _build(Experiment, _rename_deprecated(raw, where), "")
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def replace(exp: Experiment, **sections: dict) -> Experiment:
    """``replace(exp, train={"total_iters": 10})``: a checked copy with some fields changed."""
    raw = _deep_merge(to_dict(exp), sections)
    return experiment_from_dict(raw, "<replace>")


def dump_yaml(exp: Experiment) -> str:
    return yaml.safe_dump(to_dict(exp), sort_keys=False)
