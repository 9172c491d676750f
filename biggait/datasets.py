"""The dataset registry: every fact about a dataset in one place.

One :class:`Dataset` per dataset holds its file preset (which pickle holds which modality, and in
which convention: :class:`DatasetPreset`, the table in docs/interfaces.md), its evaluation
protocol (conditions as probe / gallery types: :class:`ProtocolSpec`), the label papers use, its
headline score and its table columns. The data readers, the evaluation, the reporting and
SynthGait all read this module; the dicts below the registry (:data:`PRESETS`,
:data:`PROTOCOLS`, :data:`DATASET_LABELS`, ...) are views of it, never edited by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from biggait.errors import DataError, EvaluationError

__all__ = [
    "Column",
    "Dataset",
    "DatasetPreset",
    "ProtocolSpec",
    "Score",
    "DATASETS",
    "PRESETS",
    "PROTOCOLS",
    "DATASET_LABELS",
    "SCORES",
    "WITHIN_COLUMNS",
    "CROSS_COLUMNS",
    "ALIASES",
    "dataset_name",
    "canonical_name",
    "get_preset",
    "get_protocol",
    "known_presets",
]

Types = tuple[str, ...]


@dataclass(frozen=True)
class DatasetPreset:
    """How one dataset stores its sequences.

    Attributes:
        name: preset name (``ccpg``, ``casiab``, ``sustech1k``, ``ccgr_mini``).
        rgb_glob: file-name glob of the RGB pickle inside a view folder.
        rgb_layout: ``chw`` for ``[T,3,H,W]`` or ``hwc`` for ``[T,H,W,3]`` (SUSTech1K).
        ratio_glob: file-name glob of the aspect-ratio pickle.
        ratio_layout: ``wh`` for ``[T]`` w/h values or ``hw`` for ``[T,2]`` (H, W) pairs.
        sil_glob: file-name glob of the (RGB-aligned) silhouette pickle, uint8 ``[T,H,W]``.
        frame_aspect: expected W/H of the stored frames (0.5 pre-padded CCPG, 1.0 squashed squares).
        test_max_frames: frames kept per test sequence, natural order (0 = all).
        num_classes: number of training identities (classifier width).
        types: the sequence types the dataset's evaluation protocol knows (empty = any).
        camera_sep: view folders carry a recording suffix after this separator (CCPG ``01_x`` is
            camera ``01``, as its evaluator reads it); empty = the folder name is the view.
    """

    name: str
    rgb_glob: str
    rgb_layout: Literal["chw", "hwc"]
    ratio_glob: str
    ratio_layout: Literal["wh", "hw"]
    sil_glob: str
    frame_aspect: float
    test_max_frames: int
    num_classes: int
    types: tuple[str, ...] = ()
    camera_sep: str = ""

    def camera(self, view: str) -> str:
        """The camera of a view folder name (``01_x`` -> ``01`` for CCPG)."""
        return view.split(self.camera_sep)[0] if self.camera_sep else view

    def glob(self, modality: str) -> str:
        """File-name glob of ``modality`` (``rgb``, ``ratios`` or ``sils``)."""
        globs = {"rgb": self.rgb_glob, "ratios": self.ratio_glob, "sils": self.sil_glob}
        if modality not in globs:
            raise DataError(f"unknown modality {modality!r} (expected one of: {', '.join(globs)})")
        return globs[modality]


@dataclass(frozen=True)
class ProtocolSpec:
    """One dataset's protocol. ``conditions``: name -> (probe types, gallery types)."""

    kind: Literal["ccpg", "cross_view", "listed_gallery"]
    conditions: dict[str, tuple[Types, Types]]
    match: Literal["exact", "substring"] = "exact"
    view_sep: str | None = None  # keep the view name up to the first separator (CCPG: "_")
    num_rank: int = 1  # per view-pair ranks reported (gait protocols)
    ranks: tuple[int, ...] = (1,)  # CMC ranks reported by the ReID protocols
    max_rank: int = 50

    def has_type(self, seq_type: str, wanted: Types) -> bool:
        """Whether a sequence type is one of ``wanted`` (exactly, or as a substring for ``match="substring"``)."""
        return any(w in seq_type for w in wanted) if self.match == "substring" else seq_type in wanted


@dataclass(frozen=True)
class Column:
    """One condition column: ``label`` as printed (and as in the paper CSV), ``condition`` as
    written by ``biggait evaluate`` in metrics.csv."""

    label: str
    condition: str


@dataclass(frozen=True)
class Score:
    """Which metrics.csv entries a test dataset is scored by (``protocol``, ``metric``)."""

    protocol: str
    metric: str


@dataclass(frozen=True)
class Dataset:
    """Everything the suite knows about one dataset.

    Attributes:
        name: the preset name used everywhere (``--dataset``, folder names, experiment configs).
        label: the name papers (and ``paper_reported.csv``) use.
        files: the on-disk conventions.
        protocol: the evaluation protocol.
        score: the headline number of a table cell.
        columns: condition columns of the within-domain tables (empty: not in a table).
        cross_columns: columns of the cross-domain table (default: ``columns``).
        aliases: other spellings ``--dataset`` accepts.
    """

    name: str
    label: str
    files: DatasetPreset
    protocol: ProtocolSpec
    score: Score
    columns: tuple[Column, ...] = ()
    cross_columns: tuple[Column, ...] | None = None
    aliases: tuple[str, ...] = ()


_GAIT = Score("gait", "rank1_exclude_identical_view")  # identical views excluded: the number papers quote


def _cols(*names: str) -> tuple[Column, ...]:
    return tuple(Column(c, c) for c in names)


# CCPG: sequence types U<upper>_D<lower> (+ BG with a bag); view folders <camera>_<recording>.
_CCPG_TYPES = ("U0_D0_BG", "U0_D0", "U1_D1", "U2_D2", "U3_D3", "U0_D3", "U1_D0")
_CCPG_CAMERA_SEP = "_"
_CASIAB_TYPES = tuple(f"nm-{i:02d}" for i in range(1, 7)) + ("bg-01", "bg-02", "cl-01", "cl-02")
_CASIAB_GALLERY = ("nm-01", "nm-02", "nm-03", "nm-04")
_SUSTECH_GALLERY = ("00-nm",)
_SUSTECH_CONDITIONS = ("Normal", "Bag", "Clothing", "Carrying", "Umbrella", "Uniform", "Occlusion", "Night", "Overall")

# The dict literal is the only registry.
DATASETS: dict[str, Dataset] = {
    "ccpg": Dataset(
        name="ccpg",
        label="CCPG",
        files=DatasetPreset(
            name="ccpg",
            rgb_glob="*-aligned-rgbs.pkl",
            rgb_layout="chw",
            ratio_glob="*-ratios.pkl",
            ratio_layout="wh",
            sil_glob="*-aligned-sils.pkl",
            frame_aspect=0.5,
            test_max_frames=250,
            num_classes=100,
            types=_CCPG_TYPES,
            camera_sep=_CCPG_CAMERA_SEP,
        ),
        protocol=ProtocolSpec(
            kind="ccpg",
            view_sep=_CCPG_CAMERA_SEP,
            num_rank=5,
            ranks=(1, 5),
            conditions={
                "CL": (("U0_D0_BG", "U0_D0"), ("U1_D1", "U2_D2", "U3_D3")),
                "UP": (("U3_D3",), ("U0_D3",)),
                "DN": (("U1_D0",), ("U1_D1",)),
                "BG": (("U0_D0_BG",), ("U0_D0",)),
            },
        ),
        score=_GAIT,
        columns=_cols("CL", "UP", "DN", "BG"),
    ),
    "casiab": Dataset(  # CASIA-B and the re-segmented RGB CASIA-B* share the protocol
        name="casiab",
        label="CASIA-B*",
        files=DatasetPreset(
            name="casiab",
            rgb_glob="*-rgbs.pkl",
            rgb_layout="chw",
            ratio_glob="*-ratios.pkl",
            ratio_layout="wh",
            sil_glob="*-sils.pkl",
            frame_aspect=1.0,
            test_max_frames=0,
            num_classes=74,
            types=_CASIAB_TYPES,
        ),
        protocol=ProtocolSpec(
            kind="cross_view",
            num_rank=1,
            conditions={
                "NM": (("nm-05", "nm-06"), _CASIAB_GALLERY),
                "BG": (("bg-01", "bg-02"), _CASIAB_GALLERY),
                "CL": (("cl-01", "cl-02"), _CASIAB_GALLERY),
            },
        ),
        score=_GAIT,
        columns=_cols("NM", "BG", "CL"),
        aliases=("casia-b", "casia_b", "casiab_star", "casia-b*"),
    ),
    "sustech1k": Dataset(
        name="sustech1k",
        label="SUSTech1K",
        files=DatasetPreset(
            name="sustech1k",
            rgb_glob="05-*-Camera-RGB_raw.pkl",
            rgb_layout="hwc",
            ratio_glob="04-*-Camera-Ratios-HW.pkl",
            ratio_layout="hw",
            sil_glob="03-*-Camera-Sils_aligned.pkl",
            frame_aspect=1.0,
            test_max_frames=720,
            num_classes=250,
        ),
        protocol=ProtocolSpec(
            kind="cross_view",
            match="substring",
            num_rank=5,
            conditions={
                "Normal": (("01-nm",), _SUSTECH_GALLERY),
                "Bag": (("bg",), _SUSTECH_GALLERY),
                "Clothing": (("cl",), _SUSTECH_GALLERY),
                "Carrying": (("cr",), _SUSTECH_GALLERY),
                "Umbrella": (("ub",), _SUSTECH_GALLERY),  # printed "Umberalla" by the reference
                "Uniform": (("uf",), _SUSTECH_GALLERY),
                "Occlusion": (("oc",), _SUSTECH_GALLERY),
                "Night": (("nt",), _SUSTECH_GALLERY),
                "Overall": (("01", "02", "03", "04"), _SUSTECH_GALLERY),
            },
        ),
        score=_GAIT,
        columns=_cols(*_SUSTECH_CONDITIONS),
        # the cross-domain table shows fewer columns, under the paper's short names
        cross_columns=(Column("CL", "Clothing"), Column("NT", "Night"), Column("Overall", "Overall")),
    ),
    "ccgr_mini": Dataset(
        name="ccgr_mini",
        label="CCGR-Mini",
        files=DatasetPreset(
            name="ccgr_mini",
            rgb_glob="*-rgbs.pkl",
            rgb_layout="chw",
            ratio_glob="*-ratios.pkl",
            ratio_layout="wh",
            sil_glob="*-sils.pkl",
            frame_aspect=1.0,
            test_max_frames=720,
            num_classes=571,
        ),
        # Gallery = the partition's GALLERY_SET of "id-type-view" keys; every other sequence probes.
        protocol=ProtocolSpec(kind="listed_gallery", ranks=(1, 5, 10), conditions={"all": ((), ())}),
        score=Score("reid", "rank1"),
        cross_columns=(Column("R-1", "all"),),  # a test set of BiggerGait's cross-domain table only
        aliases=("ccgr-mini", "ccgrmini"),
    ),
}

# ---- views of the registry ---------------------------------------------------------------------------
PRESETS: dict[str, DatasetPreset] = {n: d.files for n, d in DATASETS.items()}
PROTOCOLS: dict[str, ProtocolSpec] = {n: d.protocol for n, d in DATASETS.items()}
DATASET_LABELS: dict[str, str] = {n: d.label for n, d in DATASETS.items()}
SCORES: dict[str, Score] = {n: d.score for n, d in DATASETS.items()}
WITHIN_COLUMNS: dict[str, tuple[Column, ...]] = {n: d.columns for n, d in DATASETS.items() if d.columns}
CROSS_COLUMNS: dict[str, tuple[Column, ...]] = {
    n: d.cross_columns or d.columns for n, d in DATASETS.items() if d.columns or d.cross_columns
}
ALIASES: dict[str, str] = {a: n for n, d in DATASETS.items() for a in d.aliases}


def canonical_name(name: str) -> str:
    """The registry name of a dataset as users write it: ours (``ccpg``, ``casiab``, ``sustech1k``,
    ``ccgr_mini``) or OpenGait's (``CCPG``, ``CASIA-B``, ``CASIA-B*``, ``SUSTech1K``, ``CCGR-Mini``), any
    case; unknown names come back lower-cased (the caller reports them)."""
    key = str(name).strip().lower()
    return ALIASES.get(key, key)


def known_presets() -> list[str]:
    """Names of the known datasets, sorted."""
    return sorted(DATASETS)


def get_preset(name: str | DatasetPreset) -> DatasetPreset:
    """The file preset of ``name`` (a preset passes through); DataError listing the known ones."""
    if isinstance(name, DatasetPreset):
        return name
    try:
        return PRESETS[canonical_name(name)]
    except (KeyError, TypeError):
        raise DataError(f"unknown dataset preset {name!r} (known: {', '.join(known_presets())})") from None


def get_protocol(name: str) -> tuple[str, ProtocolSpec]:
    """Resolve a protocol (dataset) name or alias, case-insensitively; EvaluationError if unknown."""
    key = canonical_name(name)
    if key not in PROTOCOLS:
        raise EvaluationError(f"protocol {name!r}: unknown (expected one of {sorted(PROTOCOLS)})")
    return key, PROTOCOLS[key]


def dataset_name(label: str) -> str:
    """The dataset name of a paper label (``CASIA-B*`` -> ``casiab``); unknown labels pass through."""
    return next((n for n, d in DATASETS.items() if d.label == label), label)
