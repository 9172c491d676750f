"""Progress bars: tqdm's redrawn line on a terminal, plain lines in a log file.

A tqdm bar redraws one terminal line with carriage returns, several times a second. Written to a
file (a workflow job's log, ``> {log} 2>&1``) that is one endless line of overwritten states, and
bars of jobs running side by side would mix on a shared terminal. So when its stream is not a
terminal, :func:`progress_bar` writes each state as a line of its own, at most one every
``LOG_INTERVAL_S`` seconds (a new postfix waits for the next one), and its last state when it
closes (``leave`` is forced on).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any, TextIO

from tqdm import tqdm

LOG_INTERVAL_S = 30.0  # seconds between two progress lines in a log file


class _Lines:
    """A text stream for tqdm that writes each redraw (``\\r...``) as one line."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        for part in text.replace("\r", "\n").split("\n"):
            if part.strip():  # tqdm clears a line with blanks: nothing to keep
                self._stream.write(part.rstrip() + "\n")
        return len(text)

    def flush(self) -> None:
        self._stream.flush()


class _LogBar(tqdm):
    """A bar for a log file: a new postfix or description shows on the next line, instead of
    printing a line of its own (the trainers set the loss as postfix every step)."""

    def set_postfix(self, ordered_dict: Any = None, refresh: bool = True, **kwargs: Any) -> None:
        super().set_postfix(ordered_dict, refresh=False, **kwargs)

    def set_description(self, desc: str | None = None, refresh: bool = True) -> None:
        super().set_description(desc, refresh=False)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def progress_bar(iterable: Iterable | None = None, *, file: TextIO | None = None, **kwargs: Any) -> tqdm:
    """``tqdm(iterable, **kwargs)`` on ``file`` (default stderr); line by line when that is not a terminal."""
    stream = sys.stderr if file is None else file
    if _is_terminal(stream):
        return tqdm(iterable, file=stream, **kwargs)
    interval = max(float(kwargs.get("mininterval", 0.1)), LOG_INTERVAL_S)
    kwargs.update(
        mininterval=interval,
        maxinterval=max(float(kwargs.get("maxinterval", 10.0)), interval),
        leave=True,
        dynamic_ncols=False,
        ncols=kwargs.get("ncols") or 100,
        ascii=True,
    )
    return _LogBar(iterable, file=_Lines(stream), **kwargs)
