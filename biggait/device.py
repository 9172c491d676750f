"""Which device a job runs on: detected, never hard-coded."""

from __future__ import annotations

import torch

from biggait.errors import BigGaitError, ConfigError


def resolve_device(spec: str, *, local_rank: int = 0, what: str = "train.device",
                   error: type[BigGaitError] = ConfigError) -> torch.device:
    """``auto`` -> ``cuda:<local_rank>`` when CUDA is available, else ``cpu``; explicit specs are checked.

    ``what`` names the setting in error messages (``train.device``, ``--device``); ``error`` is the
    BigGaitError subclass raised for a bad or unavailable device.
    """
    if spec == "auto":
        return torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else torch.device("cpu")
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
