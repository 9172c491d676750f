"""Dataset presets: which pickle of a sequence folder holds which modality, and its conventions.

Every dataset uses the OpenGait layout ``<root>/<id>/<type>/<view>/*.pkl`` with one modality per
pickle. Files are chosen by an explicit glob per modality (never by sort order), and the array
conventions differ between datasets (CHW vs HWC frames, w/h vs (H, W) ratios). A preset records
them, exactly as the table in ``docs/interfaces.md``; the readers in :mod:`biggait.data.dataset`
convert everything to one convention (RGB ``[T,3,H,W]`` uint8, ratios float32 ``[T]`` w/h).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from biggait.errors import DataError

__all__ = ["DatasetPreset", "PRESETS", "get_preset", "known_presets"]


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


_CCPG_TYPES = ("U0_D0_BG", "U0_D0", "U1_D1", "U2_D2", "U3_D3", "U0_D3", "U1_D0")
_CASIAB_TYPES = tuple(f"nm-{i:02d}" for i in range(1, 7)) + ("bg-01", "bg-02", "cl-01", "cl-02")

# The dict literal is the only registry.
PRESETS: dict[str, DatasetPreset] = {
    "ccpg": DatasetPreset(
        name="ccpg", rgb_glob="*-aligned-rgbs.pkl", rgb_layout="chw",
        ratio_glob="*-ratios.pkl", ratio_layout="wh", sil_glob="*-aligned-sils.pkl",
        frame_aspect=0.5, test_max_frames=250, num_classes=100, types=_CCPG_TYPES, camera_sep="_",
    ),
    "casiab": DatasetPreset(
        name="casiab", rgb_glob="*-rgbs.pkl", rgb_layout="chw",
        ratio_glob="*-ratios.pkl", ratio_layout="wh", sil_glob="*-sils.pkl",
        frame_aspect=1.0, test_max_frames=0, num_classes=74, types=_CASIAB_TYPES,
    ),
    "sustech1k": DatasetPreset(
        name="sustech1k", rgb_glob="05-*-Camera-RGB_raw.pkl", rgb_layout="hwc",
        ratio_glob="04-*-Camera-Ratios-HW.pkl", ratio_layout="hw", sil_glob="03-*-Camera-Sils_aligned.pkl",
        frame_aspect=1.0, test_max_frames=720, num_classes=250,
    ),
    "ccgr_mini": DatasetPreset(
        name="ccgr_mini", rgb_glob="*-rgbs.pkl", rgb_layout="chw",
        ratio_glob="*-ratios.pkl", ratio_layout="wh", sil_glob="*-sils.pkl",
        frame_aspect=1.0, test_max_frames=720, num_classes=571,
    ),
}


def known_presets() -> list[str]:
    """Names of the known dataset presets, sorted."""
    return sorted(PRESETS)


def get_preset(name: str | DatasetPreset) -> DatasetPreset:
    """The preset called ``name`` (a preset passes through); DataError listing the known ones."""
    if isinstance(name, DatasetPreset):
        return name
    try:
        return PRESETS[name]
    except (KeyError, TypeError):
        raise DataError(f"unknown dataset preset {name!r} (known: {', '.join(known_presets())})") from None
