"""Nuisances of a SynthGait sequence: outfits, carried objects, light, background, occluders.

Everything here is drawn independently of identity: an identity's outfits come from random
streams keyed by (seed, domain, id, outfit slot), never from its body parameters, and head/skin
colour, bags, light and backgrounds are drawn per sequence. The only link between a person and
their clothes is that the same outfit slot (U0, D3, ...) is the same garment in every sequence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from biggait.synthgait.body import BAG, COAT, FOREARM, HEAD, LOWER, PROP, SHIN, SHOES, SKIN, UPPER, Capsules, Identity
from biggait.synthgait.domains import DomainStyle
from biggait.synthgait.render import Camera, Looks, random_colour

__all__ = ["Garment", "sample_garment", "add_props", "build_looks"]


@dataclass(frozen=True)
class Garment:
    """One upper or lower garment: two colours, a pattern, its cut and bulk."""

    c1: tuple[float, float, float]
    c2: tuple[float, float, float]
    pattern: str  # solid | stripes | checks | vstripes
    freq: float  # pattern cycles per metre
    covers: bool  # long sleeves / long trousers
    coat: bool  # upper only: a long coat over the thighs
    bulk: float  # radius scale of the covered capsules


def sample_garment(rng: np.random.Generator, style: DomainStyle, kind: str, coat: bool | None = None) -> Garment:
    """Draw a garment (``kind`` is ``upper`` or ``lower``); ``coat`` forces a coat or forbids one."""
    is_coat = bool(rng.random() < style.coat_prob) if coat is None else coat
    is_coat = is_coat and kind == "upper"
    c1 = random_colour(rng, (0.0, 1.0), (0.05, 0.9), (0.12, 0.95))
    c2 = random_colour(rng, (0.0, 1.0), (0.05, 0.9), (0.12, 0.95))
    pattern = str(rng.choice(["solid", "solid", "stripes", "checks", "vstripes"]))
    covers = True if is_coat else bool(rng.random() > (0.35 if kind == "upper" else style.shorts_prob))
    bulk = float(rng.uniform(1.25, 1.45) if is_coat else rng.uniform(1.0, 1.2))
    return Garment(tuple(c1), tuple(c2), pattern, float(rng.uniform(6.0, 16.0)), covers, is_coat, bulk)


def add_props(
    caps: Capsules,
    joints: dict[str, np.ndarray],
    ident: Identity,
    rng: np.random.Generator,
    *,
    upper: Garment,
    bag: bool,
    carry: bool,
    umbrella: bool,
) -> None:
    """Append coat skirts, bags, a carried box or an umbrella to the body capsules (in place)."""
    h, T = ident.height, len(joints["pelvis"])
    if upper.coat:
        for s in ("l", "r"):
            hem = joints[f"hip_{s}"] + (joints[f"knee_{s}"] - joints[f"hip_{s}"]) * float(rng.uniform(0.55, 0.85))
            caps.add(f"coat_{s}", joints[f"hip_{s}"], hem, 0.052 * h * ident.build * upper.bulk, COAT)
    if bag:
        kind = rng.choice(["backpack", "shoulder", "hand"])
        back = np.array([-1.0, 0.0, 0.0]) * (0.11 * h * ident.build)
        if kind == "backpack":
            top = joints["neck"] * 0.85 + joints["pelvis"] * 0.15 + back
            bottom = joints["neck"] * 0.35 + joints["pelvis"] * 0.65 + back
            caps.add("bag", top, bottom, float(rng.uniform(0.08, 0.13)), BAG)
        elif kind == "shoulder":
            side = 1.0 if rng.random() < 0.5 else -1.0
            c = joints["pelvis"] + [0.0, side * (ident.hip_hw + 0.14), 0.05]
            caps.add("bag", c + [-0.1, 0, 0], c + [0.1, 0, 0], float(rng.uniform(0.06, 0.1)), BAG)
            caps.add("strap", c, joints["shoulder_l" if side < 0 else "shoulder_r"], 0.012, BAG)
        else:
            w = joints["wrist_l" if rng.random() < 0.5 else "wrist_r"]
            caps.add("bag", w + [0, 0, -0.08], w + [0, 0, -0.3], float(rng.uniform(0.06, 0.1)), BAG)
    if carry:
        mid = (joints["wrist_l"] + joints["wrist_r"]) / 2 + [0.08, 0.0, 0.0]
        half = np.array([0.0, float(rng.uniform(0.12, 0.22)), 0.0])
        caps.add("box", mid - half, mid + half, float(rng.uniform(0.1, 0.17)), PROP)
    if umbrella:
        grip = joints["wrist_r"]
        top = joints["head"] + [0.05, 0.0, ident.head_r + float(rng.uniform(0.2, 0.35))]
        caps.add("pole", grip, top, 0.012, PROP)
        r = float(rng.uniform(0.45, 0.6))
        for axis in ([r, 0.0, 0.0], [0.0, r, 0.0], [0.7 * r, 0.7 * r, 0.0], [0.7 * r, -0.7 * r, 0.0]):
            caps.add("canopy", top - axis + [0, 0, -0.05], top + axis + [0, 0, -0.05], 0.06, PROP)
    assert caps.a.shape[1] == T


def build_looks(
    caps: Capsules, cam: Camera, rng: np.random.Generator, upper: Garment, lower: Garment
) -> tuple[Looks, dict[str, object]]:
    """Colours and textures per capsule; head, skin, shoes, bag and prop colours drawn per sequence.

    Returns the looks and a small description of the colours used (for tests and the docs).
    """
    skin = random_colour(rng, (0.02, 0.09), (0.2, 0.65), (0.3, 0.95))
    hair = random_colour(rng, (0.0, 1.0), (0.0, 0.6), (0.03, 0.6))
    shoes = random_colour(rng, (0.0, 1.0), (0.0, 0.5), (0.05, 0.7))
    bag = random_colour(rng, (0.0, 1.0), (0.1, 0.9), (0.1, 0.8))
    prop = random_colour(rng, (0.0, 1.0), (0.1, 0.9), (0.1, 0.8))
    K = len(caps.radius)
    c1, c2 = np.zeros((K, 3), np.float32), np.zeros((K, 3), np.float32)
    ft, fu, ph = np.zeros(K, np.float32), np.zeros(K, np.float32), np.zeros(K, np.float32)
    length = np.linalg.norm(caps.b - caps.a, axis=2).mean(1)  # [K] metres
    solid = {SKIN: skin, SHOES: shoes, BAG: bag, PROP: prop}
    for k, mat in enumerate(caps.material):
        g = upper if mat in (UPPER, COAT) or (mat == FOREARM and upper.covers) else None
        g = lower if mat == LOWER or (mat == SHIN and lower.covers) else g
        if mat == HEAD:
            c1[k], c2[k] = skin, hair
        elif g is not None:
            c1[k], c2[k] = g.c1, g.c2
            if g.pattern in ("stripes", "checks"):
                ft[k], ph[k] = g.freq * length[k], float(rng.uniform(0, 2 * np.pi))
            if g.pattern in ("vstripes", "checks"):
                fu[k] = 3.0
        else:
            c1[k] = c2[k] = solid.get(int(mat), skin)
    face = cam.direction(np.array([1.0, 0.0, 0.0])).astype(np.float32)
    looks = Looks(c1, c2, ft, fu, ph, caps.material == HEAD, face, float(rng.uniform(-0.45, -0.1)))
    return looks, {"upper": upper, "lower": lower, "skin": skin.tolist(), "hair": hair.tolist()}
