"""Exclusive lock files (``flock``): held by a process for as long as it keeps the descriptor open and
released by the kernel when it exits, even when killed, so they never go stale. Standard library
only: ``python -m biggait.gpu_claim`` imports it in every workflow job."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


def try_lock(path: str | Path) -> int | None:
    """Lock ``path`` (created if missing) and write our pid into it; the descriptor, or None when
    another process holds the lock."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def holder(path: str | Path) -> str:
    """The pid written in a lock file ('' when unreadable)."""
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""
