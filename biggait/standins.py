"""The released stand-in upstreams of the demo: tiny DINOv2-shaped ViTs shipped in ``standins/``.

Nobody pretrains DINOv2 inside their experiment: it is a released file. The demo's stand-ins are
released files too, pretrained once by ``biggait pretrain-lvm`` (self-supervised, RGB frames only:
``standins/README.md`` says how, with which command and what they are not) and committed with their
provenance JSON and their sha256 in ``standins/SHA256SUMS``. The demo DAG loads them by default
with config ``pretrain_lvm.source: shipped``; ``source: pretrain`` (still the default: the committed
baseline was made that way) pretrains the DAG's own with the config's recipe.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from biggait.errors import CheckpointError

STANDIN_DIR = Path(__file__).resolve().parent.parent / "standins"
SUMS_FILE = "SHA256SUMS"
# The recipe of the shipped files (``biggait pretrain-lvm`` options; standins/README.md has the command)
RECIPE = {
    "objective": "mae+tcl",
    "steps": 4000,
    "batch": 32,
    "decoder_depth": 2,
    "colour": "jitter",
    "target": "pixels",
    "seed": 0,
}


def standin_path(variant: str, root: Path = STANDIN_DIR) -> Path:
    """The shipped stand-in of LVM ``variant`` (Meta DINOv2 layout); its provenance is ``<path>.json``."""
    return root / f"{variant}_tiny.pth"


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def recorded_sums(root: Path = STANDIN_DIR) -> dict[str, str]:
    """File name -> sha256 from ``SHA256SUMS`` (``sha256sum`` format: ``<hex>  <name>``)."""
    path = root / SUMS_FILE
    if not path.is_file():
        raise CheckpointError(f"{path}: missing (the stand-ins' checksums)")
    out: dict[str, str] = {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        digest, _, name = line.partition("  ")
        if len(digest) != 64 or not name:
            raise CheckpointError(f"{path}:{n}: expected '<sha256>  <file name>', got {line!r}")
        out[name.strip()] = digest
    return out


def verify(root: Path = STANDIN_DIR) -> list[str]:
    """Problems of the shipped files against ``SHA256SUMS`` (empty when every file matches)."""
    problems = []
    for name, digest in recorded_sums(root).items():
        path = root / name
        if not path.is_file():
            problems.append(f"{path}: missing")
        elif sha256(path) != digest:
            problems.append(f"{path}: sha256 {sha256(path)[:12]}... differs from {SUMS_FILE}'s {digest[:12]}...")
    return problems


def write_sums(names: list[str], root: Path = STANDIN_DIR) -> Path:
    """(Re)write ``SHA256SUMS`` for ``names`` (files under ``root``), sorted."""
    path = root / SUMS_FILE
    path.write_text("".join(f"{sha256(root / n)}  {n}\n" for n in sorted(names)))
    return path
