"""SynthGait: procedurally generated RGB walking sequences in the real datasets' layouts.

Identity lives only in body shape and gait dynamics (:mod:`~biggait.synthgait.body`); clothing,
bags, carried objects, view, background and light are drawn independently of it
(:mod:`~biggait.synthgait.scene`). Each sequence is a pure function of
``(seed, domain, id, type, view)``: its random streams come from :class:`numpy.random.SeedSequence`
over those keys, so the files are byte-identical whatever the number of workers, and a sequence
folder is written atomically (temporary folder, then rename), so generation resumes by skipping
the folders that exist.

Entry points: :func:`render_sequence` (one sequence in memory) and :func:`generate` (a whole
tree: ``OUT/<domain>/<id>/<type>/<view>/*.pkl`` plus ``OUT/<domain>.json`` partitions).
"""

from __future__ import annotations

import json
import logging
import multiprocessing as mp
import os
import shutil
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from biggait.errors import DataError
from biggait.io import atomic_path, write_json_atomic
from biggait.progress import progress_bar
from biggait.synthgait.body import COAT, FOREARM, LOWER, SHIN, UPPER, Identity, sample_identity, vary_identity, walk
from biggait.synthgait.domains import DOMAINS, Condition, DomainPlan, DomainStyle, get_domain
from biggait.synthgait.formats import format_sequence, tight_box, write_pickles
from biggait.synthgait.render import Camera, Light, make_background, project, rasterise, shade
from biggait.synthgait.scene import add_props, build_looks, sample_garment

__all__ = [
    "GENERATOR",
    "SynthSpec",
    "SeqJob",
    "SynthSequence",
    "rng_for",
    "split_ids",
    "plan_jobs",
    "render_sequence",
    "generate",
]

logger = logging.getLogger(__name__)

GENERATOR = "synthgait/1"  # bump when the same seed would give different files


def rng_for(seed: int, *keys: str) -> np.random.Generator:
    """A random stream keyed by ``seed`` and string keys (stable across processes and runs)."""
    return np.random.default_rng(np.random.SeedSequence([seed] + [zlib.crc32(k.encode()) for k in keys]))


@dataclass(frozen=True)
class SynthSpec:
    """What to generate: a seed and a plan per domain."""

    seed: int
    plans: dict[str, DomainPlan] = field(default_factory=dict)


@dataclass(frozen=True)
class SeqJob:
    """One sequence to render: its keys and the view folder name it is written under."""

    domain: str
    id: str
    type: str
    view: str  # view key (camera number for CCPG)
    folder: str  # view folder on disk (CCPG: "<camera>_<suffix>")
    frames: int
    size: int = 0  # stored frame size; 0 = the domain style's


def split_ids(style: DomainStyle, plan: DomainPlan) -> tuple[list[str], list[str]]:
    """Train and test identity names of a domain (disjoint; test ids follow the train ids)."""
    names = [f"{style.id_start + i:0{style.id_digits}d}" for i in range(plan.train_ids + plan.test_ids)]
    return names[: plan.train_ids], names[plan.train_ids :]


def plan_jobs(spec: SynthSpec) -> list[SeqJob]:
    """Every sequence of the spec, in a fixed order."""
    jobs = []
    for dom, plan in spec.plans.items():
        style = get_domain(dom)
        for v in plan.views:
            if v not in style.views:
                raise DataError(f"unknown {dom} view {v!r} (expected one of: {', '.join(style.views)})")
        types = plan.types or tuple(style.types)
        train, test = split_ids(style, plan)
        for sid in train + test:
            for typ in types:
                for v in plan.views:
                    folder = v
                    sep = style.preset.camera_sep
                    if sep:  # CCPG camera folders carry a recording suffix
                        folder = f"{v}{sep}{int(rng_for(spec.seed, dom, sid, typ, v, 'folder').integers(1, 3))}"
                    jobs.append(SeqJob(dom, sid, typ, v, folder, plan.frames, plan.size))
    return jobs


@dataclass
class SynthSequence:
    """A rendered sequence: the arrays to pickle (file name -> array) and what was drawn."""

    job: SeqJob
    arrays: dict[str, np.ndarray]
    condition: Condition
    info: dict[str, object]


def render_sequence(seed: int, job: SeqJob, *, background_salt: int = 0) -> SynthSequence:
    """Render one sequence exactly as :func:`generate` writes it.

    ``background_salt`` draws a different background (and nothing else): tests use it to check
    that silhouettes cover exactly the pixels the person was drawn on.
    """
    style = get_domain(job.domain)
    cond = style.types[job.type]
    keys = (job.domain, job.id, job.type, job.view)
    rng = rng_for(seed, *keys, "sequence")
    # Identity: body and gait from (seed, domain, id) only; a little day-to-day variation per sequence.
    ident = vary_identity(sample_identity(rng_for(seed, job.domain, job.id, "identity")), rng)
    # Outfits: per (id, slot), or the domain-wide uniform.
    if cond.uniform:
        upper = sample_garment(rng_for(seed, job.domain, "uniform", "upper"), style, "upper", coat=False)
        lower = sample_garment(rng_for(seed, job.domain, "uniform", "lower"), style, "lower")
    else:
        coat = True if cond.coat else (False if style.name == "casiab" else None)
        upper = sample_garment(
            rng_for(seed, job.domain, job.id, "upper", str(cond.upper), str(coat)), style, "upper", coat=coat
        )
        lower = sample_garment(rng_for(seed, job.domain, job.id, "lower", str(cond.lower)), style, "lower")
    # Pose: T frames at the domain's frame rate from a random gait phase.
    t = np.arange(job.frames)
    phase = rng.uniform(0, 2 * np.pi) + 2 * np.pi * ident.cadence * t / style.fps
    bulk = {
        UPPER: upper.bulk,
        COAT: upper.bulk,
        FOREARM: upper.bulk if upper.covers else 1.0,
        LOWER: lower.bulk,
        SHIN: lower.bulk if lower.covers else 1.0,
    }
    joints, caps = walk(ident, phase, carry=cond.carry, umbrella=cond.umbrella, radius_scale=bulk)
    add_props(caps, joints, ident, rng, upper=upper, bag=cond.bag, carry=cond.carry, umbrella=cond.umbrella)
    # Camera at the view's azimuth, with the domain's height, distance and resolution.
    cam = Camera(
        azimuth=np.deg2rad(style.views[job.view] + rng.normal(0, 4.0)),
        elevation=np.deg2rad(rng.uniform(*style.elevation)),
        distance=float(rng.uniform(*style.distance)),
        px_per_m=style.render_px / 1.75,
        target_z=0.5 * ident.height,
    )
    buf = rasterise(caps, cam, margin=4)
    looks, info = build_looks(caps, cam, rng, upper, lower)
    ldir = np.array([rng.uniform(-0.9, 0.9), rng.uniform(-1.0, -0.3), rng.uniform(-1.0, -0.2)])
    light = Light(ldir, float(rng.uniform(*style.ambient)), float(rng.uniform(*style.diffuse)))
    person, mask = shade(buf, looks, light)  # [T, H, W, 3] 0..1, [T, H, W]
    frames, visible = _compose(
        style, cond, cam, ident, buf.origin, person, mask, rng_for(seed, *keys, "background", str(background_salt)), t
    )
    # Global light, sensor noise, quantisation.
    nrng = rng_for(seed, *keys, "noise")
    gain = nrng.uniform(*style.brightness) * nrng.uniform(0.92, 1.08, 3)
    noise = style.noise
    if cond.night:
        gain = gain * nrng.uniform(0.22, 0.4) * np.array([0.8, 0.9, 1.15])
        noise *= 2.0
    img = frames * (255.0 * gain).astype(np.float32) + nrng.standard_normal(frames.shape, np.float32) * np.float32(
        noise
    )
    img = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    jitter = nrng.integers(0, 3, (job.frames, 4))
    rgb_crops, sil_crops = [], []
    for f in range(job.frames):
        y0, y1, x0, x1 = tight_box(visible[f]) or tight_box(mask[f])
        # Detector jitter: the person box is a pixel or two loose on each side, at random.
        j = jitter[f]
        y0, x0 = max(y0 - j[0], 0), max(x0 - j[1], 0)
        y1, x1 = min(y1 + j[2], img.shape[1]), min(x1 + j[3], img.shape[2])
        rgb_crops.append(img[f, y0:y1, x0:x1])
        sil_crops.append(np.where(visible[f, y0:y1, x0:x1], 255, 0).astype(np.uint8))
    arrays = format_sequence(style.name, style.crop, job.size or style.size, job.folder, rgb_crops, sil_crops)
    info.update(height=ident.height, cadence=ident.cadence)
    return SynthSequence(job, arrays, cond, info)


def _compose(
    style: DomainStyle,
    cond: Condition,
    cam: Camera,
    ident: Identity,
    origin: np.ndarray,
    person: np.ndarray,
    mask: np.ndarray,
    rng: np.random.Generator,
    t: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Put the person over a scrolling background (and an occluder); returns frames and visibility."""
    T, H, W = mask.shape
    # Walking speed (m/s) projected on the image: the background scrolls against the walker.
    speed = 2.0 * ident.leg * np.sin(ident.hip_amp) * ident.cadence * 1.6
    fx = cam.direction(np.array([1.0, 0.0, 0.0]))[0]
    shift = origin[:, 0] + fx * speed * t / style.fps * cam.px_per_m * 0.6  # [T] scene column of window col 0
    sx = np.floor(shift - shift.min()).astype(int)
    sy = (origin[:, 1] - origin[:, 1].min()).astype(int)
    feet_y = project(cam, np.zeros(3))[1] - origin[:, 1].min()
    horizon = int(feet_y - rng.uniform(*style.horizon) * ident.height * cam.px_per_m)
    scene = make_background(
        style.background, rng, H + int(sy.max()) + 1, W + int(sx.max()) + 1, int(np.clip(horizon, 0, H + sy.max()))
    )
    bg = np.stack([scene[sy[f] : sy[f] + H, sx[f] : sx[f] + W] for f in range(T)])  # [T, H, W, 3]
    frames = np.where(mask[..., None], person, bg)
    visible = mask.copy()
    if cond.occlusion:
        occ = np.zeros((T, H, W), bool)
        colour = rng.uniform(0.1, 0.7, 3).astype(np.float32)
        if rng.random() < 0.5:  # a pole passing in front of the walker
            width = int(W * rng.uniform(0.15, 0.3))
            x = int(W * rng.uniform(0.2, 0.6))
            for f in range(T):
                x0 = x - (sx[f] - sx[0]) // 2
                occ[f, :, max(x0, 0) : max(x0 + width, 0)] = True
        else:  # a low wall or hedge hiding the legs
            top = int(H * rng.uniform(0.6, 0.78))
            occ[:, top:, :] = True
        frames = np.where(occ[..., None], colour * (0.8 + 0.2 * bg), frames)
        visible &= ~occ
        empty = ~visible.reshape(T, -1).any(1)  # never hide the whole walker
        visible[empty] = mask[empty]
    return frames.astype(np.float32), visible


def _partition(style: DomainStyle, plan: DomainPlan) -> dict[str, list[str]]:
    train, test = split_ids(style, plan)
    return {"TRAIN_SET": train, "TEST_SET": test}


def _meta(spec: SynthSpec, dom: str) -> dict[str, object]:
    meta: dict[str, object] = {"generator": GENERATOR, "seed": spec.seed, "frames": spec.plans[dom].frames}
    if spec.plans[dom].size:  # a size other than the domain's own (scale paper_shapes)
        meta["size"] = spec.plans[dom].size
    return meta


def _write_job(args: tuple[int, SeqJob, str]) -> str:
    """Worker: render and write one sequence atomically (temporary folder, then rename)."""
    seed, job, root = args
    dest = Path(root) / job.id / job.type / job.folder
    if dest.is_dir():
        return "skipped"
    seq = render_sequence(seed, job)
    with atomic_path(dest) as tmp:
        tmp.mkdir()
        write_pickles(tmp, seq.arrays)
    return "written"


def _init_worker() -> None:
    import cv2

    cv2.setNumThreads(1)  # tiny images: threads only add overhead and contention


def generate(out: str | Path, spec: SynthSpec, *, workers: int | None = None, progress: bool = True) -> dict[str, int]:
    """Generate (or resume) every domain of ``spec`` under ``out``; returns written/skipped counts.

    Writes ``out/<domain>/<id>/<type>/<view>/*.pkl``, ``out/<domain>.json`` (partition) and
    ``out/<domain>.synth.json`` (generator, seed and frame count, checked when resuming).
    """
    out = Path(out).resolve()
    for dom in spec.plans:
        get_domain(dom)
        meta_path = out / f"{dom}.synth.json"
        if meta_path.exists():
            old = json.loads(meta_path.read_text())
            if old != _meta(spec, dom):
                raise DataError(
                    f"{meta_path}: the existing tree was generated with {old}, not {_meta(spec, dom)};"
                    " use another --out or the same settings"
                )
        write_json_atomic(meta_path, _meta(spec, dom))
        for stale in (out / dom).glob("*/*/.*.tmp"):  # left by an interrupted run
            shutil.rmtree(stale, ignore_errors=True)
    jobs = plan_jobs(spec)
    todo = [j for j in jobs if not (out / j.domain / j.id / j.type / j.folder).is_dir()]
    counts = {"written": 0, "skipped": len(jobs) - len(todo)}
    if counts["skipped"]:
        logger.info("resuming: %d of %d sequences already exist", counts["skipped"], len(jobs))
    workers = max(1, min(workers or os.cpu_count() or 1, len(todo) or 1))
    args = [(spec.seed, j, str(out / j.domain)) for j in todo]
    bar = progress_bar(total=len(todo), desc="synthgait", unit="seq", disable=not progress or not todo)
    try:
        if workers == 1:
            for a in args:
                counts[_write_job(a)] += 1
                bar.update()
        else:
            ctx = mp.get_context("forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn")
            with ctx.Pool(workers, initializer=_init_worker) as pool:
                for res in pool.imap_unordered(_write_job, args, chunksize=4):
                    counts[res] += 1
                    bar.update()
    finally:
        bar.close()
    for dom, plan in spec.plans.items():
        write_json_atomic(out / f"{dom}.json", _partition(DOMAINS[dom], plan))
    logger.info("SynthGait: %d sequences written, %d skipped, under %s", counts["written"], counts["skipped"], out)
    return counts
