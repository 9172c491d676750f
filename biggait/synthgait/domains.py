"""SynthGait's three domains (CCPG-, CASIA-B*- and SUSTech1K-like) and its named scales.

A domain fixes what the real dataset fixes: sequence types and the condition each stands for,
view names and their camera azimuths, the crop format on disk, identity naming, and a visual style
(background kind, light, camera height and distance, render resolution, frame rate, noise). The
styles differ on purpose, so that training on one domain and testing on another is a real
transfer. A scale fixes the sizes: identities per split, frames per sequence and views per domain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from biggait.datasets import DatasetPreset, get_preset
from biggait.errors import ConfigError

__all__ = ["Condition", "DomainStyle", "DOMAINS", "DomainPlan", "SCALES", "get_domain", "scale_plans"]


@dataclass(frozen=True)
class Condition:
    """What a sequence type changes. Outfit indices name per-identity outfits (U0..U3, D0..D3)."""

    upper: int = 0
    lower: int = 0
    bag: bool = False
    coat: bool = False  # the upper outfit is a long coat (CASIA-B cl)
    carry: bool = False  # an object held in both hands
    umbrella: bool = False
    uniform: bool = False  # everybody wears the same outfit
    occlusion: bool = False  # a scene object hides part of the walker
    night: bool = False


@dataclass(frozen=True)
class DomainStyle:
    """One SynthGait domain: naming and file format of the real dataset, plus a visual style."""

    name: str
    types: dict[str, Condition]
    views: dict[str, float]  # view name (camera number for CCPG) -> azimuth in degrees
    size: int  # output height H (pad: H x H/2) or side S (square)
    id_digits: int
    id_start: int
    background: Literal["facade", "indoor", "street"]
    render_px: float  # render pixels per metre of person height at the camera distance
    elevation: tuple[float, float]  # camera elevation range, degrees
    distance: tuple[float, float]  # camera distance range, metres
    horizon: tuple[float, float]  # ground/scene boundary above the feet, fraction of the body height
    fps: float
    ambient: tuple[float, float]
    diffuse: tuple[float, float]
    brightness: tuple[float, float]
    noise: float  # pixel noise sigma (0..255 scale)
    coat_prob: float  # chance an ordinary upper outfit is a coat
    shorts_prob: float

    @property
    def preset(self) -> DatasetPreset:
        """The real dataset's file preset (the registry): file names, array layouts, view folders."""
        return get_preset(self.name)

    @property
    def crop(self) -> Literal["pad", "square", "square_hwc"]:
        """How crops are stored: pre-padded H x H/2 (CCPG), squashed squares, or squares in HWC."""
        pre = self.preset
        return "pad" if pre.frame_aspect == 0.5 else ("square_hwc" if pre.rgb_layout == "hwc" else "square")


_CCPG_TYPES = {
    "U0_D0_BG": Condition(0, 0, bag=True),
    "U0_D0": Condition(0, 0),
    "U1_D1": Condition(1, 1),
    "U2_D2": Condition(2, 2),
    "U3_D3": Condition(3, 3),
    "U0_D3": Condition(0, 3),
    "U1_D0": Condition(1, 0),
}
_CASIAB_TYPES = {
    **{f"nm-{i:02d}": Condition() for i in range(1, 7)},
    "bg-01": Condition(bag=True),
    "bg-02": Condition(bag=True),
    "cl-01": Condition(upper=1, coat=True),
    "cl-02": Condition(upper=1, coat=True),
}
_SUSTECH_TYPES = {
    "00-nm": Condition(),
    "01-nm": Condition(),
    "02-bg": Condition(bag=True),
    "03-cl": Condition(upper=1, lower=1),
    "04-cr": Condition(carry=True),
    "05-ub": Condition(umbrella=True),
    "06-uf": Condition(uniform=True),
    "07-oc": Condition(occlusion=True),
    "08-nt": Condition(night=True),
}
# CCPG has ten cameras around the walkway; the azimuths are ours (the real ones are not published).
_CCPG_VIEWS = {f"{i:02d}": a for i, a in enumerate((0, 30, 60, 90, 120, 150, 180, 225, 270, 315), start=1)}

# The dict literal is the only registry.
DOMAINS: dict[str, DomainStyle] = {
    "ccpg": DomainStyle(
        name="ccpg",
        types=_CCPG_TYPES,
        views=_CCPG_VIEWS,
        size=64,
        id_digits=3,
        id_start=0,
        background="facade",
        render_px=80.0,
        elevation=(8.0, 18.0),
        distance=(7.0, 10.0),
        horizon=(0.3, 0.7),
        fps=15.0,
        ambient=(0.35, 0.55),
        diffuse=(0.45, 0.7),
        brightness=(0.85, 1.15),
        noise=2.5,
        coat_prob=0.3,
        shorts_prob=0.25,
    ),
    "casiab": DomainStyle(
        name="casiab",
        types=_CASIAB_TYPES,
        views={f"{a:03d}": float(a) for a in range(0, 181, 18)},
        size=64,
        id_digits=3,
        id_start=1,
        background="indoor",
        render_px=72.0,
        elevation=(0.0, 6.0),
        distance=(4.0, 6.0),
        horizon=(0.02, 0.12),
        fps=14.0,
        ambient=(0.5, 0.65),
        diffuse=(0.3, 0.45),
        brightness=(0.9, 1.05),
        noise=1.5,
        coat_prob=0.0,
        shorts_prob=0.1,
    ),
    "sustech1k": DomainStyle(
        name="sustech1k",
        types=_SUSTECH_TYPES,
        views={f"{a:03d}": float(a) for a in (0, 45, 90, 135, 180, 225, 270, 315)},
        size=64,
        id_digits=4,
        id_start=0,
        background="street",
        render_px=46.0,
        elevation=(18.0, 30.0),
        distance=(9.0, 14.0),
        horizon=(0.5, 1.0),
        fps=16.0,
        ambient=(0.25, 0.45),
        diffuse=(0.55, 0.85),
        brightness=(0.8, 1.25),
        noise=4.0,
        coat_prob=0.15,
        shorts_prob=0.35,
    ),
}


def _check_registry() -> None:
    """A domain writes the real dataset's files: its name is a dataset and its types the dataset's types."""
    for name, style in DOMAINS.items():
        known = style.preset.types
        if known and set(style.types) != set(known):
            raise ConfigError(
                f"SynthGait domain {name}: types {sorted(style.types)} differ from the dataset "
                f"registry's {sorted(known)}"
            )


_check_registry()


def get_domain(name: str) -> DomainStyle:
    """The domain called ``name``; ConfigError listing the known ones otherwise."""
    try:
        return DOMAINS[name]
    except KeyError:
        raise ConfigError(f"unknown SynthGait domain {name!r} (expected one of: {', '.join(DOMAINS)})") from None


@dataclass(frozen=True)
class DomainPlan:
    """How much of one domain to generate."""

    train_ids: int
    test_ids: int
    frames: int
    views: tuple[str, ...]
    types: tuple[str, ...] = field(default=())  # () = every type of the domain
    size: int = 0  # stored frame size (H of CCPG's H x H/2, side of the squares); 0 = the domain style's


# Named scales. Demo: at least 16 training identities per domain and test splits of a few hundred
# sequences, 16 frames (about one gait cycle). Tiny: for tests, every type, few of everything else.
SCALES: dict[str, dict[str, DomainPlan]] = {
    "demo": {
        "ccpg": DomainPlan(20, 10, 16, ("01", "03", "04", "06")),
        "casiab": DomainPlan(20, 8, 16, ("018", "054", "090", "144")),
        "sustech1k": DomainPlan(20, 10, 16, ("000", "090", "180", "270")),
    },
    # The real datasets' stored frame sizes (CCPG 256x128 pre-padded, CASIA-B* / SUSTech1K 64x64 squares),
    # a handful of sequences: the paper-scale path's shapes end to end on a CPU (tests/test_paper_shapes.py).
    "paper_shapes": {
        "ccpg": DomainPlan(4, 3, 3, ("01", "04"), size=256),
        "casiab": DomainPlan(4, 3, 3, ("036", "090"), size=64),
        "sustech1k": DomainPlan(4, 3, 3, ("000", "090"), size=64),
    },
    "tiny": {
        "ccpg": DomainPlan(4, 3, 6, ("01", "04")),
        "casiab": DomainPlan(4, 3, 6, ("036", "090")),
        "sustech1k": DomainPlan(4, 3, 6, ("000", "090")),
    },
}


def scale_plans(scale: str) -> dict[str, DomainPlan]:
    """The per-domain plans of a named scale; ConfigError listing the known ones otherwise."""
    try:
        return dict(SCALES[scale])
    except KeyError:
        raise ConfigError(f"unknown SynthGait scale {scale!r} (expected one of: {', '.join(SCALES)})") from None
