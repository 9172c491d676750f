"""SynthGait's articulated walker: identity parameters and gait kinematics.

Identity lives only here: body shape (height, limb proportions, widths) and gait dynamics
(cadence, stride, arm swing, knee flexion, lean, bounce, sway, asymmetry). Every joint angle is a
short harmonic series of the gait phase. The result is a set of capsules (3-D segments with a
radius and a material slot) in a body frame: x forward (walking direction), y left, z up, metres,
the ground at z = 0. Nothing here knows about clothes, cameras or pixels.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

__all__ = ["Identity", "Capsules", "sample_identity", "vary_identity", "walk", "MATERIALS"]


TAU = 2.0 * np.pi
# Material slots; the renderer maps them to the sequence's colours and textures.
# ``forearm`` / ``shin`` take the sleeve / trouser colour or the skin colour, by outfit.
MATERIALS = ("skin", "head", "upper", "lower", "shoes", "bag", "prop", "coat", "forearm", "shin")
SKIN, HEAD, UPPER, LOWER, SHOES, BAG, PROP, COAT, FOREARM, SHIN = range(len(MATERIALS))


@dataclass(frozen=True)
class Identity:
    """Per-person body shape (metres) and gait dynamics (angles in radians, rates in Hz)."""

    height: float
    leg: float  # hip joint to ankle joint
    thigh_frac: float  # thigh share of `leg`
    ankle_h: float  # ankle joint above the sole
    torso: float  # pelvis centre to neck base
    neck: float
    head_r: float
    shoulder_hw: float  # half distance between the shoulder joints
    hip_hw: float  # half distance between the hip joints
    upper_arm: float
    forearm: float
    foot: float
    build: float  # scales every limb radius (slim < 1 < broad)
    chest: float  # extra scale of the trunk radius
    cadence: float  # gait cycles per second (two steps)
    hip_off: float
    hip_amp: float  # stride length
    hip2_amp: float  # second harmonic of hip flexion
    hip2_phase: float
    knee_peak: float  # swing knee flexion
    knee_phase: float
    knee_load: float  # loading-response flexion: the "spring" of the gait
    heel_rise: float  # push-off plantar flexion: raises the body at terminal stance (bounce)
    arm_off: float
    arm_amp: float  # arm swing
    arm_abd: float
    elbow_base: float
    elbow_amp: float
    lean: float  # torso pitch forward
    head_pitch: float
    sway: float  # lateral trunk roll amplitude
    yaw_amp: float  # pelvis rotation amplitude
    asym: float  # left/right amplitude asymmetry (+ = left leg longer strides)
    asym_phase: float  # right leg phase offset from pi
    toe_out: float


def _deg(x: float | np.ndarray) -> float | np.ndarray:
    return np.deg2rad(x)


def sample_identity(rng: np.random.Generator) -> Identity:
    """Draw one person's body shape and gait style."""
    h = float(rng.uniform(1.52, 1.95))
    leg = h * float(rng.normal(0.475, 0.02))
    head_r = h * float(rng.normal(0.064, 0.004))
    neck = h * float(rng.uniform(0.03, 0.05))
    ankle_h = 0.045 * h
    torso = h - leg - ankle_h - neck - 2.0 * head_r
    return Identity(
        height=h,
        leg=leg,
        thigh_frac=float(rng.uniform(0.47, 0.56)),
        ankle_h=ankle_h,
        torso=torso,
        neck=neck,
        head_r=head_r,
        shoulder_hw=h * float(rng.normal(0.108, 0.01)),
        hip_hw=h * float(rng.normal(0.052, 0.006)),
        upper_arm=h * float(rng.normal(0.175, 0.009)),
        forearm=h * float(rng.normal(0.155, 0.008)),
        foot=h * float(rng.normal(0.14, 0.008)),
        build=float(np.clip(rng.normal(1.0, 0.14), 0.72, 1.4)),
        chest=float(np.clip(rng.normal(1.0, 0.1), 0.8, 1.3)),
        cadence=float(rng.uniform(0.82, 1.1)),
        hip_off=_deg(rng.uniform(0.0, 8.0)),
        hip_amp=_deg(rng.uniform(14.0, 30.0)),
        hip2_amp=_deg(rng.uniform(0.0, 5.0)),
        hip2_phase=float(rng.uniform(0, TAU)),
        knee_peak=_deg(rng.uniform(40.0, 70.0)),
        knee_phase=TAU * float(rng.uniform(0.64, 0.78)),
        knee_load=_deg(rng.uniform(0.0, 22.0)),
        heel_rise=_deg(rng.uniform(0.0, 30.0)),
        arm_off=_deg(rng.uniform(-6.0, 10.0)),
        arm_amp=_deg(rng.uniform(5.0, 40.0)),
        arm_abd=_deg(rng.uniform(3.0, 16.0)),
        elbow_base=_deg(rng.uniform(5.0, 40.0)),
        elbow_amp=_deg(rng.uniform(0.0, 30.0)),
        lean=_deg(rng.uniform(-4.0, 12.0)),
        head_pitch=_deg(rng.uniform(-8.0, 18.0)),
        sway=_deg(rng.uniform(0.0, 6.0)),
        yaw_amp=_deg(rng.uniform(1.0, 9.0)),
        asym=float(np.clip(rng.normal(0.0, 0.12), -0.3, 0.3)),
        asym_phase=float(rng.normal(0.0, 0.15)),
        toe_out=_deg(rng.uniform(0.0, 16.0)),
    )


def vary_identity(ident: Identity, rng: np.random.Generator, amount: float = 1.0) -> Identity:
    """Day-to-day variation of one person's gait (a few percent), independent of the condition."""
    n = lambda s: float(rng.normal(0.0, s * amount))  # noqa: E731 - local shorthand
    return dataclasses.replace(
        ident,
        cadence=ident.cadence * (1 + n(0.04)),
        hip_amp=ident.hip_amp * (1 + n(0.08)),
        arm_amp=ident.arm_amp * (1 + n(0.2)),
        knee_peak=ident.knee_peak * (1 + n(0.08)),
        lean=ident.lean + _deg(n(2.5)),
        elbow_base=ident.elbow_base + _deg(n(6.0)),
        head_pitch=ident.head_pitch + _deg(n(5.0)),
        arm_abd=ident.arm_abd + _deg(n(2.0)),
        toe_out=ident.toe_out + _deg(n(2.0)),
        sway=ident.sway * (1 + n(0.2)),
    )


@dataclass
class Capsules:
    """Capsules of a sequence: endpoints ``a``/``b`` [K, T, 3] (m), radii [K] (m), materials [K]."""

    a: np.ndarray
    b: np.ndarray
    radius: np.ndarray
    material: np.ndarray
    names: list[str]

    def add(self, name: str, a: np.ndarray, b: np.ndarray, radius: float, material: int) -> None:
        """Append one capsule whose endpoints are [T, 3] arrays."""
        self.a = np.concatenate([self.a, a[None]], 0)
        self.b = np.concatenate([self.b, b[None]], 0)
        self.radius = np.append(self.radius, radius)
        self.material = np.append(self.material, material)
        self.names.append(name)


def _rot_z(v: np.ndarray, ang: np.ndarray) -> np.ndarray:
    """Rotate [T, 3] vectors about z by angles [T]."""
    c, s = np.cos(ang), np.sin(ang)
    return np.stack([c * v[:, 0] - s * v[:, 1], s * v[:, 0] + c * v[:, 1], v[:, 2]], 1)


def _rot_x(v: np.ndarray, ang: np.ndarray) -> np.ndarray:
    """Rotate [T, 3] vectors about x (positive = y towards z) by angles [T]."""
    c, s = np.cos(ang), np.sin(ang)
    return np.stack([v[:, 0], c * v[:, 1] - s * v[:, 2], s * v[:, 1] + c * v[:, 2]], 1)


def _pitch_dir(ang: np.ndarray, side: float = 0.0) -> np.ndarray:
    """Unit vectors [T, 3] pointing down, pitched forward by ``ang`` and outward by ``side``."""
    return np.stack([np.sin(ang) * np.cos(side), np.full_like(ang, np.sin(side)), -np.cos(ang) * np.cos(side)], 1)


def walk(
    ident: Identity,
    phase: np.ndarray,
    *,
    carry: bool = False,
    umbrella: bool = False,
    radius_scale: dict[int, float] | None = None,
) -> tuple[dict[str, np.ndarray], Capsules]:
    """Pose the walker at gait phases ``phase`` [T] (radians, left heel strike at 0).

    ``carry`` holds both forearms forward (an object in the hands); ``umbrella`` raises the right
    hand. ``radius_scale`` widens capsules by material (clothing bulk). Returns the joints
    (name -> [T, 3]) and the body capsules, feet on the ground.
    """
    g, T = ident, len(phase)
    rs = radius_scale or {}
    joints: dict[str, np.ndarray] = {}
    yaw = -g.yaw_amp * np.cos(phase)  # pelvis turns with the forward leg
    roll = g.sway * np.sin(phase)  # trunk leans over the stance leg
    zeros = np.zeros((T, 3))
    for side, sgn, ph, amp in (("l", 1.0, phase, 1 + g.asym), ("r", -1.0, phase + np.pi + g.asym_phase, 1 - g.asym)):
        hip_ang = g.hip_off + amp * (g.hip_amp * np.cos(ph) + g.hip2_amp * np.cos(2 * ph + g.hip2_phase))
        knee = (
            g.knee_peak * ((1 + np.cos(ph - g.knee_phase)) / 2) ** 3
            + g.knee_load * ((1 + np.cos(ph - 0.12 * TAU)) / 2) ** 6
            + _deg(3.0)
        )
        hip = _rot_z(zeros + [0.0, sgn * g.hip_hw, 0.0], yaw)
        knee_p = hip + _rot_z(_pitch_dir(hip_ang), yaw) * g.leg * g.thigh_frac
        shin_ang = hip_ang - knee
        ankle = knee_p + _rot_z(_pitch_dir(shin_ang), yaw) * g.leg * (1 - g.thigh_frac)
        # Foot pitch: perpendicular to the shin, plus push-off plantar flexion before toe-off.
        push = g.heel_rise * ((1 + np.cos(ph - 0.52 * TAU)) / 2) ** 8
        pitch = shin_ang - push
        fwd = np.stack([np.cos(pitch) * np.cos(g.toe_out), sgn * np.cos(pitch) * np.sin(g.toe_out), -np.sin(pitch)], 1)
        heel = ankle + _rot_z(zeros + [-0.035 * g.height, 0.0, -0.6 * g.ankle_h], yaw)
        toe = heel + _rot_z(fwd, yaw) * g.foot
        joints.update(
            {
                f"hip_{side}": hip,
                f"knee_{side}": knee_p,
                f"ankle_{side}": ankle,
                f"heel_{side}": heel,
                f"toe_{side}": toe,
            }
        )
        # Arms swing against the legs of the same side.
        if carry:
            sh_ang, elb = np.full(T, _deg(25.0)), np.full(T, _deg(75.0))
        elif umbrella and side == "r":
            sh_ang, elb = np.full(T, _deg(55.0)), np.full(T, _deg(70.0))
        else:
            sh_ang = g.arm_off - amp * g.arm_amp * np.cos(ph)
            elb = g.elbow_base + g.elbow_amp * (1 - np.cos(ph)) / 2
        joints[f"_arm_{side}"] = np.stack([sh_ang, elb], 1)
    # Trunk: pelvis at the origin, pitched forward by `lean`, rolled by `sway`.
    up = _rot_x(zeros + [np.sin(g.lean), 0.0, np.cos(g.lean)], roll)
    neck = up * g.torso
    joints["pelvis"], joints["neck"] = zeros.copy(), neck
    head_dir = _rot_x(zeros + [np.sin(g.lean + g.head_pitch) * 0.5, 0.0, 1.0], roll)
    head_dir /= np.linalg.norm(head_dir, axis=1, keepdims=True)
    joints["head"] = neck + head_dir * (g.neck + g.head_r)
    for side, sgn in (("l", 1.0), ("r", -1.0)):
        sh_ang, elb = joints.pop(f"_arm_{side}").T
        shoulder = neck + _rot_x(_rot_z(zeros + [0.0, sgn * g.shoulder_hw, -0.05 * g.height], -yaw * 0.7), roll)
        upper_dir = _rot_z(_pitch_dir(sh_ang, sgn * g.arm_abd), -yaw * 0.7)
        elbow = shoulder + upper_dir * g.upper_arm
        wrist = elbow + _rot_z(_pitch_dir(sh_ang + elb, sgn * g.arm_abd * 0.5), -yaw * 0.7) * g.forearm
        joints.update({f"shoulder_{side}": shoulder, f"elbow_{side}": elbow, f"wrist_{side}": wrist})
    # Put the lowest foot point on the ground: the support leg sets the height (natural bounce).
    foot_r = 0.022 * g.height * g.build
    lowest = np.minimum.reduce([joints[k][:, 2] for k in ("heel_l", "toe_l", "heel_r", "toe_r")]) - foot_r
    for k in joints:
        joints[k] = joints[k] + np.stack([np.zeros(T), np.zeros(T), -lowest], 1)
    return joints, _body_capsules(g, joints, rs, foot_r)


def _body_capsules(g: Identity, j: dict[str, np.ndarray], rs: dict[int, float], foot_r: float) -> Capsules:
    """The capsules of a posed body (radii scale with build, then clothing bulk by material)."""
    b, h = g.build, g.height
    caps = Capsules(
        np.zeros((0,) + j["pelvis"].shape), np.zeros((0,) + j["pelvis"].shape), np.zeros(0), np.zeros(0, int), []
    )
    r = lambda base, mat: base * h * rs.get(mat, 1.0)  # noqa: E731 - local shorthand
    torso_r = 0.05 * b * g.chest
    for s in ("l", "r"):
        # Two side capsules give a trunk wider than it is deep; the spine capsule fills it.
        hip_top = j[f"hip_{s}"] + (j["neck"] - j["pelvis"]) * 0.12
        sh_in = j["pelvis"] + (j[f"shoulder_{s}"] - j["pelvis"]) * 0.92
        caps.add(f"trunk_{s}", hip_top, sh_in, r(torso_r, UPPER), UPPER)
    caps.add(
        "spine",
        j["pelvis"] + (j["neck"] - j["pelvis"]) * 0.15,
        j["neck"] * 0.95 + j["pelvis"] * 0.05,
        r(0.062 * b * g.chest, UPPER),
        UPPER,
    )
    caps.add("pelvis", j["hip_l"], j["hip_r"], r(0.052 * b, LOWER), LOWER)
    caps.add("neck", j["neck"], j["neck"] + (j["head"] - j["neck"]) * 0.6, 0.026 * h, SKIN)
    caps.add("head", j["head"], j["head"], g.head_r, HEAD)
    for s in ("l", "r"):
        caps.add(f"upper_arm_{s}", j[f"shoulder_{s}"], j[f"elbow_{s}"], r(0.026 * b, UPPER), UPPER)
        caps.add(f"forearm_{s}", j[f"elbow_{s}"], j[f"wrist_{s}"], r(0.021 * b, FOREARM), FOREARM)
        hand = j[f"wrist_{s}"] + (j[f"wrist_{s}"] - j[f"elbow_{s}"]) * 0.25
        caps.add(f"hand_{s}", hand, hand, 0.026 * h, SKIN)
        caps.add(f"thigh_{s}", j[f"hip_{s}"], j[f"knee_{s}"], r(0.04 * b, LOWER), LOWER)
        caps.add(f"shin_{s}", j[f"knee_{s}"], j[f"ankle_{s}"], r(0.029 * b, SHIN), SHIN)
        caps.add(f"foot_{s}", j[f"heel_{s}"], j[f"toe_{s}"], foot_r, SHOES)
    return caps
