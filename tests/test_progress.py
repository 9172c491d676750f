"""Progress bars: redrawn on a terminal, one line per state in a log file."""

from __future__ import annotations

import io

from biggait.progress import LOG_INTERVAL_S, progress_bar


def test_log_file_gets_whole_lines() -> None:
    log = io.StringIO()  # not a terminal, like a job's log file
    bar = progress_bar(total=3, desc="extract", unit="seq", file=log, leave=False)
    for i in range(3):
        bar.update(1)
        bar.set_postfix(loss=f"{1 / (i + 1):.4f}")  # every step, as the trainers do: no line of its own
    bar.close()
    text = log.getvalue()
    assert "\r" not in text and text.endswith("\n")
    lines = text.splitlines()
    assert lines and all(line.startswith("extract") for line in lines)
    assert "3/3" in lines[-1] and "loss=0.3333" in lines[-1]  # the final state stays, even with leave=False
    assert len(lines) <= 3  # updates closer than LOG_INTERVAL_S are not printed
    assert bar.mininterval == LOG_INTERVAL_S


def test_iterable_and_disable() -> None:
    log = io.StringIO()
    assert list(progress_bar(range(4), file=log, desc="x")) == [0, 1, 2, 3]
    assert list(progress_bar(range(2), file=log, disable=True)) == [0, 1]
