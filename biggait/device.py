"""Which device a job runs on: detected, never hard-coded."""

from __future__ import annotations

import os

import torch

from biggait.errors import BigGaitError, ConfigError


def resolve_device(
    spec: str, *, local_rank: int = 0, what: str = "train.device", error: type[BigGaitError] = ConfigError
) -> torch.device:
    """``auto`` -> ``cuda:<local_rank>`` when CUDA is available, else ``cpu``; explicit specs are checked.

    ``what`` names the setting in error messages (``train.device``, ``--device``); ``error`` is the
    BigGaitError subclass raised for a bad or unavailable device.
    """
    from biggait.cpu_kernels import apply_torch_flags

    apply_torch_flags()  # torch imported after biggait.cli pinned the kernels: oneDNN off there too
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device(f"cuda:{local_rank}")
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        if visible:  # a GPU was claimed or assigned (gpu_claim, SLURM): never fall back to the CPU silently
            raise error(
                f"{what}: auto: CUDA_VISIBLE_DEVICES={visible} gives this job a GPU but CUDA is not usable "
                f"by torch {torch.__version__} ({cuda_problem()}); install the torch wheel for your "
                "driver (README, 'GPUs'), or set CUDA_VISIBLE_DEVICES= to run on the CPU"
            )
        return torch.device("cpu")
    try:
        dev = torch.device(spec)
    except RuntimeError:
        raise error(f"{what}: expected auto, cpu, cuda or cuda:N, got {spec!r}") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise error(f"{what}: {spec!r} asked for but CUDA is not available")
        if dev.index is None:
            dev = torch.device(f"cuda:{local_rank}")
    elif dev.type != "cpu":
        raise error(f"{what}: expected auto, cpu, cuda or cuda:N, got {spec!r}")
    return dev


def cuda_problem() -> str:
    """Why torch cannot use CUDA, in a few words (the wheel's CUDA build, the driver's complaint)."""
    if torch.version.cuda is None:
        return "this torch wheel is CPU-only"
    try:
        torch.cuda.init()
    except Exception as exc:  # noqa: BLE001 - the driver's own message is the useful part
        return f"built for CUDA {torch.version.cuda}; {str(exc).splitlines()[0]}"
    return f"built for CUDA {torch.version.cuda}; no device visible"
