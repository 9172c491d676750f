"""Preemption: SIGTERM / SIGUSR1 (what SLURM sends before it preempts a job or reaches its time
limit) ask the trainer to stop at the next step boundary, write a checkpoint and exit with
:data:`PREEMPTED_EXIT`; running the same command again resumes exactly there.

The handler only sets a flag: the step in flight finishes, so the checkpoint is a consistent one.
A second signal while the flag is set restores the default action (a second Ctrl-C-like stop).
"""

from __future__ import annotations

import logging
import signal
from types import FrameType

logger = logging.getLogger(__name__)

PREEMPTED_EXIT = 75  # EX_TEMPFAIL: "try again later"; the workflow's retries rerun (and so resume) the job
SIGNALS = (signal.SIGTERM, signal.SIGUSR1)


class Preempted(Exception):
    """The run stopped on a signal after writing its checkpoint (``iteration``, ``path``)."""

    def __init__(self, signame: str, iteration: int, path: str) -> None:
        super().__init__(
            f"{signame} received: checkpoint of iteration {iteration} written to {path}; "
            "run the same command again to resume"
        )
        self.signame, self.iteration, self.path = signame, iteration, path


class StopRequest:
    """Context manager that turns SIGTERM / SIGUSR1 into :attr:`signame` (None until one arrives)."""

    def __init__(self) -> None:
        self.signame: str | None = None
        self._previous: dict[int, object] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.signame is not None:  # asked twice: give the signal its default action back
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)
            return
        self.signame = name
        logger.warning("%s received: stopping after the current step with a checkpoint", name)

    def __enter__(self) -> StopRequest:
        try:
            for s in SIGNALS:
                self._previous[s] = signal.signal(s, self._handle)
        except ValueError:  # not the main thread (e.g. a test runner thread): no handlers
            self._previous.clear()
        return self

    def __exit__(self, *exc: object) -> None:
        for s, h in self._previous.items():
            signal.signal(s, h)
        self._previous.clear()
