"""Pick a free GPU for one job, so several single-GPU jobs share a multi-GPU node without colliding.

Snakemake only counts ``gpu`` resources; it does not say *which* GPU a job gets. Each training or
evaluation job therefore claims one itself: it lists the GPUs (``nvidia-smi``), skips those whose
memory is already mostly in use by someone else, and takes an exclusive ``flock`` on
``<lock_dir>/gpu<index>.lock`` of the least-used remaining one. The lock belongs to the job's
process and is released by the kernel when it exits (also when it is killed), so no stale locks.

Used as a command prefix by the workflow (the wrapped command is then ``exec``-ed, keeping the lock):

    python -m biggait.gpu_claim --gpus 1 --lock-dir /tmp/biggait-gpu-locks -- biggait train ...

With ``--gpus 0``, or on a machine without GPUs, the command runs on the CPU
(``CUDA_VISIBLE_DEVICES`` set empty). A ``CUDA_VISIBLE_DEVICES`` the job already has (SLURM sets one)
limits the claim to those devices (indices, UUIDs, MIG instances); the claimed one is passed on in
the same form, with ``CUDA_DEVICE_ORDER=PCI_BUS_ID`` so that CUDA's numbering is nvidia-smi's.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from biggait.locks import try_lock

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GpuInfo:
    """One GPU as ``nvidia-smi`` reports it."""

    index: int
    memory_used_mib: float
    memory_total_mib: float
    utilization: float  # percent
    uuid: str = ""  # GPU-...; a MIG instance: its MIG-... identifier (index -1)

    @property
    def used_fraction(self) -> float:
        return self.memory_used_mib / self.memory_total_mib if self.memory_total_mib > 0 else 1.0

    @property
    def token(self) -> str:
        """What ``CUDA_VISIBLE_DEVICES`` names this device by (the index; a MIG instance by its id)."""
        return self.uuid if self.index < 0 else str(self.index)

    @property
    def lock_name(self) -> str:
        return f"gpu{self.index}.lock" if self.index >= 0 else f"{self.uuid.replace('/', '_')}.lock"


def parse_nvidia_smi(text: str) -> list[GpuInfo]:
    """Parse ``nvidia-smi --query-gpu=index,uuid,memory.used,memory.total,utilization.gpu
    --format=csv,noheader,nounits`` output (the uuid column may be absent); lines that do not parse
    are skipped."""
    gpus = []
    for line in text.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        uuid = parts.pop(1) if len(parts) >= 5 else ""
        if len(parts) < 4:
            continue
        try:
            util = float(parts[3]) if parts[3] not in ("[N/A]", "N/A") else 0.0
            gpus.append(GpuInfo(int(parts[0]), float(parts[1]), float(parts[2]), util, uuid))
        except ValueError:
            continue
    return gpus


def list_gpus() -> list[GpuInfo]:
    """The GPUs of this machine (empty without ``nvidia-smi`` or when it fails), in PCI bus order:
    nvidia-smi's index, which :func:`child_env` makes CUDA use too (``CUDA_DEVICE_ORDER=PCI_BUS_ID``)."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return []
    try:
        out = subprocess.run(
            [exe, "--query-gpu=index,uuid,memory.used,memory.total,utilization.gpu", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    return parse_nvidia_smi(out.stdout) if out.returncode == 0 else []


def visible_gpus(gpus: list[GpuInfo], visible: str | None) -> list[GpuInfo]:
    """The GPUs a job may claim among ``gpus``: all of them when ``CUDA_VISIBLE_DEVICES`` is unset,
    else those it names (indices, ``GPU-`` UUIDs or their prefixes, ``MIG-`` instances), in its order;
    none when it is empty. A MIG instance is claimable as a device of its own (its memory is not
    reported by ``--query-gpu``, so it counts as free)."""
    if visible is None:
        return gpus
    out = []
    for tok in (t.strip() for t in visible.split(",")):
        if not tok:
            continue
        if tok.startswith("MIG-"):
            out.append(GpuInfo(-1, 0.0, 1.0, 0.0, tok))
            continue
        match = [g for g in gpus if (tok.isdigit() and g.index == int(tok)) or (g.uuid and g.uuid.startswith(tok))]
        if not match:
            break  # CUDA ignores the first invalid entry and everything after it
        out.append(dataclasses.replace(match[0]))
    return out


def claim_gpu(
    lock_dir: str | Path,
    *,
    max_used_fraction: float = 0.5,
    wait_s: float = 0.0,
    poll_s: float = 10.0,
    gpus: Callable[[], list[GpuInfo]] = list_gpus,
    visible: str | None = None,
) -> tuple[int | str, int] | None:
    """Lock the least-used free GPU among the ``visible`` ones (``CUDA_VISIBLE_DEVICES`` as the job got
    it, None = every GPU); returns ``(gpu, lock_fd)`` (the index, or a MIG id) or ``None`` when the
    job has no GPU. Keep ``lock_fd`` open for as long as the GPU is used.

    A GPU is free when no other job holds its lock and less than ``max_used_fraction`` of its
    memory is in use. When none is free, retry every ``poll_s`` seconds for up to ``wait_s``
    seconds (0 = wait for ever), then raise TimeoutError.
    """
    lock_dir = Path(lock_dir)
    lock_dir.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    while True:
        found = visible_gpus(gpus(), visible)
        if not found:
            return None
        for g in sorted(
            found, key=lambda g: (g.used_fraction > max_used_fraction, g.memory_used_mib, g.utilization, g.index)
        ):
            if g.used_fraction > max_used_fraction:
                continue
            fd = try_lock(lock_dir / g.lock_name)
            if fd is not None:
                log.info("claimed GPU %s (%.0f of %.0f MiB in use)", g.token, g.memory_used_mib, g.memory_total_mib)
                return (g.index if g.index >= 0 else g.token), fd
        if wait_s and time.monotonic() - start > wait_s:
            raise TimeoutError(f"no free GPU among {len(found)} after {wait_s:.0f} s (locks in {lock_dir})")
        log.info("all %d GPUs busy; waiting %.0f s", len(found), poll_s)
        time.sleep(poll_s)


def child_env(gpu: int | str | None, base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for the wrapped command: only the claimed GPU visible, or none (CPU); CUDA numbers
    devices in PCI bus order like nvidia-smi, so the claimed index is the GPU the command uses."""
    env = dict(os.environ if base is None else base)
    env["CUDA_VISIBLE_DEVICES"] = "" if gpu is None else str(gpu)
    if gpu is not None:
        env["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID"
    return env


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m biggait.gpu_claim [options] -- COMMAND ...``: claim a GPU, exec COMMAND."""
    p = argparse.ArgumentParser(prog="python -m biggait.gpu_claim", description=__doc__.splitlines()[0])
    p.add_argument("--gpus", type=int, default=1, help="GPUs the job asked for (0 = run on CPU)")
    p.add_argument("--lock-dir", type=Path, required=True, help="shared folder of per-GPU lock files")
    p.add_argument(
        "--max-used-fraction", type=float, default=0.5, help="skip GPUs with more of their memory in use than this"
    )
    p.add_argument("--wait", type=float, default=0.0, help="seconds to wait for a free GPU (0 = for ever)")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command to run")
    args = p.parse_args(argv)
    cmd = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not cmd:
        p.error("no command given (put it after --)")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.gpus > 1:
        p.error("--gpus: one GPU per job is supported")
    claimed = None
    if args.gpus > 0:
        try:
            claimed = claim_gpu(
                args.lock_dir,
                max_used_fraction=args.max_used_fraction,
                wait_s=args.wait,
                visible=os.environ.get("CUDA_VISIBLE_DEVICES"),
            )
        except TimeoutError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        if claimed is None:
            log.info("no GPU found: running on the CPU")
    if claimed is not None:
        os.set_inheritable(claimed[1], True)  # the lock lives as long as the exec-ed command
    env = child_env(claimed[0] if claimed else None)
    try:
        os.execvpe(cmd[0], cmd, env)
    except OSError as exc:
        print(f"error: cannot run {cmd[0]!r}: {exc}", file=sys.stderr)
        return 127
    return 0  # pragma: no cover (exec does not return)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
