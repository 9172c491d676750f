"""SynthGait's renderer: a pinhole camera, a vectorised capsule rasteriser and procedural scenes.

Capsules are drawn as shaded, sphere-swept segments with a z-buffer, for all frames of a sequence
at once (numpy, no external renderer). Each frame is rendered in its own window that just holds
the walker (the crop follows the person, as a detector's box would), over a background that is
defined in scene coordinates and scrolls as the walker moves.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from biggait.synthgait.body import Capsules

__all__ = [
    "Camera",
    "Looks",
    "Light",
    "RenderBuffers",
    "project",
    "rasterise",
    "shade",
    "make_background",
    "random_colour",
]


@dataclass(frozen=True)
class Camera:
    """A pinhole camera looking at the walker from ``azimuth`` (0 = in front, 90 = its left side)."""

    azimuth: float  # radians
    elevation: float  # radians, camera above the person looking down
    distance: float  # metres from the person's centre
    px_per_m: float  # image scale at that distance
    target_z: float = 0.9  # height of the look-at point (m)

    def basis(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Camera position and its right / up / forward unit vectors in the body frame."""
        ch = np.array([np.cos(self.azimuth), np.sin(self.azimuth), 0.0])
        target = np.array([0.0, 0.0, self.target_z])
        pos = target + self.distance * (np.cos(self.elevation) * ch + np.array([0.0, 0.0, np.sin(self.elevation)]))
        fwd = (target - pos) / np.linalg.norm(target - pos)
        right = np.cross(fwd, [0.0, 0.0, 1.0])
        right /= np.linalg.norm(right)
        up = np.cross(right, fwd)
        return pos, right, up, fwd

    def direction(self, v: np.ndarray) -> np.ndarray:
        """A body-frame direction [3] in image terms (x right, y down, z away from the camera)."""
        _, right, up, fwd = self.basis()
        return np.array([v @ right, -(v @ up), v @ fwd])


def project(cam: Camera, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Project body-frame points [..., 3] to pixels: x, y (y down) and depth along the view (m)."""
    pos, right, up, fwd = cam.basis()
    rel = pts - pos
    depth = rel @ fwd
    f = cam.px_per_m * cam.distance
    return f * (rel @ right) / depth, -f * (rel @ up) / depth, depth


@dataclass
class RenderBuffers:
    """Results of :func:`rasterise`: a capsule index map and the person pixels' surface terms."""

    index: np.ndarray  # [T, H, W] int16 capsule index, -1 = background
    pix: np.ndarray  # [N] flat indices of the person pixels into index
    t: np.ndarray  # [N] position along the capsule axis, 0..1
    u: np.ndarray  # [N] signed offset across the axis, -1..1 (radius units)
    normal: np.ndarray  # [N, 3] surface normal in image terms (z < 0 faces the camera)
    origin: np.ndarray  # [T, 2] window origin (x, y) in image pixels


def rasterise(caps: Capsules, cam: Camera, margin: int = 2) -> RenderBuffers:
    """Z-buffer the capsules of every frame into a window that tightly holds the walker."""
    K, T = caps.a.shape[:2]
    ax, ay, az = project(cam, caps.a)  # [K, T]
    bx, by, bz = project(cam, caps.b)
    f = cam.px_per_m * cam.distance
    r_px = caps.radius[:, None] * f / (0.5 * (az + bz))  # [K, T]
    lo_x = np.floor(np.minimum(ax, bx) - r_px).min(0) - margin  # [T]
    lo_y = np.floor(np.minimum(ay, by) - r_px).min(0) - margin
    hi_x = np.ceil(np.maximum(ax, bx) + r_px).max(0) + margin
    hi_y = np.ceil(np.maximum(ay, by) + r_px).max(0) + margin
    W, H = int((hi_x - lo_x).max()), int((hi_y - lo_y).max())
    ax, bx, ay, by = ax - lo_x, bx - lo_x, ay - lo_y, by - lo_y  # window-local, [K, T]
    zbuf = np.full((T, H, W), np.inf, np.float32)
    index = np.full((T, H, W), -1, np.int16)
    for k in range(K):
        # Endpoints [T, 1, 1]; only the union of this capsule's boxes over the frames is visited.
        kax, kay, kbx, kby = (v[k][:, None, None].astype(np.float32) for v in (ax, ay, bx, by))
        rk = r_px[k][:, None, None].astype(np.float32)
        x0 = max(int(np.floor(np.minimum(kax, kbx) - rk).min()), 0)
        x1 = min(int(np.ceil(np.maximum(kax, kbx) + rk).max()) + 1, W)
        y0 = max(int(np.floor(np.minimum(kay, kby) - rk).min()), 0)
        y1 = min(int(np.ceil(np.maximum(kay, kby) + rk).max()) + 1, H)
        if x1 <= x0 or y1 <= y0:
            continue
        px = np.arange(x0, x1, dtype=np.float32)[None, None, :] + 0.5 - kax  # [T, 1, w]
        py = np.arange(y0, y1, dtype=np.float32)[None, :, None] + 0.5 - kay  # [T, h, 1]
        dx, dy = kbx - kax, kby - kay
        t = np.clip((px * dx + py * dy) / np.maximum(dx * dx + dy * dy, 1e-6), 0.0, 1.0)  # [T, h, w]
        cx, cy = px - t * dx, py - t * dy
        d2 = (cx * cx + cy * cy) / (rk * rk)
        depth = (
            az[k][:, None, None]
            + t * (bz[k] - az[k])[:, None, None]
            - caps.radius[k] * np.sqrt(np.maximum(1.0 - d2, 0.0))
        )
        sl = (slice(None), slice(y0, y1), slice(x0, x1))
        win = (d2 < 1.0) & (depth < zbuf[sl])  # [T, h, w]
        zbuf[sl][win] = depth[win]
        index[sl][win] = k
    # Surface terms of the winning capsule, for the person pixels only ([N] arrays).
    pix = np.flatnonzero(index >= 0)
    fr, rem = np.divmod(pix, H * W)
    yy, xx = np.divmod(rem, W)
    k = index.ravel()[pix]
    px, py = xx + 0.5 - ax[k, fr], yy + 0.5 - ay[k, fr]
    dx, dy = bx[k, fr] - ax[k, fr], by[k, fr] - ay[k, fr]
    L2 = dx * dx + dy * dy
    t = np.clip((px * dx + py * dy) / np.maximum(L2, 1e-6), 0.0, 1.0)
    cx, cy = (px - t * dx) / r_px[k, fr], (py - t * dy) / r_px[k, fr]
    nz = np.sqrt(np.maximum(1.0 - cx * cx - cy * cy, 0.0))
    L = np.sqrt(np.maximum(L2, 1e-12))
    u = np.where(L2 > 1e-6, (cy * dx - cx * dy) / L, cx)
    normal = np.stack([cx, cy, -nz], 1).astype(np.float32)
    return RenderBuffers(index, pix, t.astype(np.float32), u.astype(np.float32), normal, np.stack([lo_x, lo_y], 1))


@dataclass(frozen=True)
class Looks:
    """Colours and textures per capsule: two colours [K, 3] (0..1) mixed by a stripe/check pattern."""

    c1: np.ndarray  # [K, 3]
    c2: np.ndarray  # [K, 3]
    freq_t: np.ndarray  # [K] stripes along the axis (cycles over the capsule), 0 = none
    freq_u: np.ndarray  # [K] stripes across the axis, 0 = none
    phase: np.ndarray  # [K]
    is_head: np.ndarray  # [K] bool: c1 skin on the face side, c2 hair elsewhere
    face_dir: np.ndarray  # [3] the walker's forward direction in image terms
    hair_line: float = -0.25  # hair above this normal-y on the face side


@dataclass(frozen=True)
class Light:
    """A directional light in image terms (pointing towards the light) plus ambient light."""

    direction: np.ndarray  # [3], z < 0 = from the camera's side
    ambient: float
    diffuse: float


def shade(buf: RenderBuffers, looks: Looks, light: Light) -> tuple[np.ndarray, np.ndarray]:
    """Colour the person's pixels: returns RGB float32 [T, H, W, 3] in 0..1 and the mask [T, H, W]."""
    k = buf.index.ravel()[buf.pix]  # [N]
    st = np.cos(2 * np.pi * looks.freq_t[k] * buf.t + looks.phase[k]) > 0
    su = np.cos(np.pi * looks.freq_u[k] * buf.u) > 0
    m = (st & (looks.freq_t[k] > 0)) ^ (su & (looks.freq_u[k] > 0))
    n = buf.normal  # [N, 3]
    face = n @ looks.face_dir.astype(np.float32) > 0.15
    hair = ~(face & (n[:, 1] > looks.hair_line))
    m = np.where(looks.is_head[k], hair, m)
    base = np.where(m[:, None], looks.c2[k], looks.c1[k])  # [N, 3]
    ldir = (light.direction / np.linalg.norm(light.direction)).astype(np.float32)
    lam = np.maximum(n @ ldir, 0.0)
    rgb = np.zeros(buf.index.shape + (3,), np.float32)
    rgb.reshape(-1, 3)[buf.pix] = base * (light.ambient + light.diffuse * lam)[:, None]
    return rgb, buf.index >= 0


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cell: float) -> np.ndarray:
    """Value noise in 0..1, [h, w], with features about ``cell`` pixels wide."""
    gh, gw = int(h / cell) + 3, int(w / cell) + 3
    grid = rng.random((gh, gw)).astype(np.float32)
    big = cv2.resize(grid, (int(gw * cell), int(gh * cell)), interpolation=cv2.INTER_CUBIC)
    return np.clip(big[:h, :w], 0.0, 1.0)


def random_colour(
    rng: np.random.Generator, h: tuple[float, float], s: tuple[float, float], v: tuple[float, float]
) -> np.ndarray:
    """One RGB colour [3] (0..1) drawn uniformly in an HSV box (hue in 0..1, may wrap)."""
    hsv = np.array([[[rng.uniform(*h) % 1.0 * 180.0, rng.uniform(*s) * 255.0, rng.uniform(*v) * 255.0]]], np.float32)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32) / 255.0


def make_background(kind: str, rng: np.random.Generator, h: int, w: int, horizon: int) -> np.ndarray:
    """A scene image [h, w, 3] (0..1): ``facade`` (outdoor campus), ``indoor`` (lab wall) or ``street``.

    Rows above ``horizon`` are the far scene, rows below it the ground.
    """
    rows = np.arange(h)[:, None, None]
    img = np.empty((h, w, 3), np.float32)
    n1 = _smooth_noise(rng, h, w, 9.0)[..., None]
    n2 = _smooth_noise(rng, h, w, 3.0)[..., None]
    if kind == "facade":
        ground = random_colour(rng, (0.05, 0.15), (0.0, 0.25), (0.35, 0.65))
        img[:] = ground * (0.85 + 0.3 * n1)
        # Facade: vertical panels of brick / concrete colours with dark windows.
        x, panels = 0, []
        while x < w:
            pw = int(rng.integers(6, 22))
            panels.append((x, pw, random_colour(rng, (-0.05, 0.12), (0.1, 0.6), (0.3, 0.85))))
            x += pw
        wall = np.empty((h, w, 3), np.float32)
        for x0, pw, col in panels:
            wall[:, x0 : x0 + pw] = col
        win_h, win_w = int(rng.integers(5, 10)), int(rng.integers(4, 9))
        yy, xx = np.mgrid[0:h, 0:w]
        windows = ((yy % (2 * win_h)) < win_h) & ((xx % (2 * win_w)) < win_w) & (yy < horizon - 4)
        wall[windows] *= rng.uniform(0.25, 0.5)
        wall *= 0.85 + 0.3 * n2
        img[:horizon] = wall[:horizon]
        tiles = ((np.arange(w)[None, :] % int(rng.integers(8, 16))) == 0) | ((rows[..., 0] % 7) == 0)
        img[horizon:][tiles[horizon:]] *= 0.8
    elif kind == "indoor":
        wall = random_colour(rng, (0.2, 0.55), (0.05, 0.3), (0.45, 0.8))
        floor = random_colour(rng, (0.0, 1.0), (0.0, 0.3), (0.2, 0.5))
        grad = 1.0 - 0.15 * rows / max(h, 1)
        img[:] = np.where(rows < horizon, wall * grad, floor) * (0.93 + 0.1 * n1)
        img[max(horizon - 2, 0) : horizon] *= 0.6  # skirting board
    elif kind == "street":
        road = random_colour(rng, (0.5, 0.7), (0.0, 0.15), (0.25, 0.5))
        far = random_colour(rng, (0.15, 0.4), (0.2, 0.7), (0.25, 0.6))
        sky = random_colour(rng, (0.5, 0.65), (0.05, 0.4), (0.6, 0.95))
        trees = n1[..., 0] > rng.uniform(0.45, 0.6)
        top = np.where(trees[..., None], far * (0.7 + 0.6 * n2), sky)
        img[:] = np.where(rows < horizon, top, road * (0.85 + 0.3 * n2))
        lane = (np.abs(rows[..., 0] - (horizon + (h - horizon) * 0.6)) < 1.0) & ((np.arange(w)[None, :] // 6) % 2 == 0)
        img[lane & (rows[..., 0] >= horizon)] = 0.9
    else:  # pragma: no cover - the domain table only names the kinds above
        raise ValueError(f"unknown background kind {kind!r}")
    return np.clip(img, 0.0, 1.0)
