"""Typed path arguments of the ``biggait`` commands: each checks its path while the command line is parsed.

``p.add_argument("--partition", type=InputFile("partition", "json"))`` refuses a missing file, or a folder
where the file is expected, before the command does anything; an output (:class:`OutputDir`,
:class:`OutputFile`, :class:`OutputStem`) must be creatable: no file where a folder is needed, and its
nearest existing folder writable (probed by creating and removing a temporary file, since root ignores
permission bits). A refused path raises :class:`~biggait.errors.DataError`, which :func:`biggait.cli.main`
prints as one ``error: <path>: ...`` line with exit code 2 (argparse passes other exceptions than its own
through). ``kind`` (and ``fmt``, ``results``) say what the argument holds: the CLI sweep
(tests/test_cli_sweep.py) reads them to choose its bad input.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from biggait.errors import DataError

__all__ = ["EvaluationSpec", "InputDir", "InputFile", "InputPath", "OutputDir", "OutputFile", "OutputStem"]


class _PathType:
    """A path argument's type: ``what`` names it in messages; ``kind`` says what it holds."""

    kind = ""

    def __init__(self, what: str, fmt: str = "", *, results: bool = False) -> None:
        self.what, self.fmt, self.results = what, fmt, results

    def __repr__(self) -> str:  # argparse names the type in some messages
        return f"{type(self).__name__}({self.what!r})"

    def __call__(self, text: str) -> Path:
        if not text:
            raise DataError(f"{self.what}: empty path given")
        path = Path(text)
        self.check(path)
        return path

    def check(self, path: Path) -> None:  # pragma: no cover - every subclass has its own
        raise NotImplementedError


def _check_existing(path: Path, what: str, *, folder: bool) -> None:
    """``path`` exists and is a folder (``folder``) or a file, else one message naming it and what was expected."""
    want, other = ("folder", "file") if folder else ("file", "folder")
    if path.exists() and path.is_dir() != folder:
        raise DataError(f"{path}: is a {other}, not a {want} (expected the {what})")
    if not path.exists():
        raise DataError(f"{path}: {what} not found (expected a {want})")


class InputFile(_PathType):
    """An existing file (``fmt``: csv, tsv, json, jsonl, yaml, npz or pt, its format)."""

    kind = "file"

    def check(self, path: Path) -> None:
        _check_existing(path, f"{self.what} file", folder=False)


class InputDir(_PathType):
    """An existing folder (``results``: one holding evaluations, ``eval/<exp>/seed<k>/<test>/``)."""

    kind = "dir"

    def check(self, path: Path) -> None:
        _check_existing(path, self.what, folder=True)


class InputPath(_PathType):
    """An existing folder or file (e.g. a results folder or a gathered metrics CSV)."""

    kind = "either"

    def check(self, path: Path) -> None:
        if not path.exists():
            raise DataError(f"{path}: {self.what} not found")


class EvaluationSpec(_PathType):
    """An experiment name, or an existing evaluation folder: a text that looks like a path (absolute, with
    a ``/``, or existing) must be a folder; a bare name is returned as it is (a ``str``)."""

    kind = "dir"

    def __call__(self, text: str) -> str:  # type: ignore[override]
        path = Path(text)
        if path.is_absolute() or "/" in text or path.exists():
            if path.exists() and not path.is_dir():
                raise DataError(f"{text}: is a file (expected an experiment name or a {self.what} folder)")
            if not path.is_dir():
                raise DataError(
                    f"{text}: {self.what} folder not found (expected an experiment name, or a folder "
                    "<experiment>[/seed<k>/<test>])"
                )
        return text


def _nearest_existing(path: Path) -> Path:
    return next((p for p in (path, *path.parents) if p.exists() or p.is_symlink()), Path("."))


def _check_creatable(path: Path, what: str, folder: bool) -> None:
    """``path`` can be made: a folder (``folder``) or a file; its nearest existing folder is writable."""
    if path.is_dir() and not folder:
        raise DataError(f"{path}: is a folder (expected a file to write the {what} to)")
    if path.exists() and not path.is_dir() and folder:
        raise DataError(f"{path}: is a file (expected a folder to write the {what} into)")
    base = _nearest_existing(path if path.is_dir() else path.parent)
    if not base.is_dir():
        raise DataError(f"{path}: cannot be created, {base} is a file (expected a writable {what} path)")
    try:
        fd, probe = tempfile.mkstemp(prefix=".biggait-probe-", dir=base)
    except OSError as exc:
        raise DataError(
            f"{path}: cannot be written ({exc.strerror or exc} in {base}; expected a writable {what} path)"
        ) from None
    os.close(fd)
    os.unlink(probe)


class OutputDir(_PathType):
    """A folder to write into (it may exist; it is created when needed)."""

    kind = "out-dir"

    def check(self, path: Path) -> None:
        _check_creatable(path, self.what, folder=True)


class OutputFile(_PathType):
    """A file to write (it may exist and is replaced)."""

    kind = "out-file"

    def check(self, path: Path) -> None:
        _check_creatable(path, self.what, folder=False)


class OutputStem(_PathType):
    """A path without extension: ``<stem>.png`` and ``<stem>.pdf`` are written."""

    kind = "out-stem"

    def check(self, path: Path) -> None:
        _check_creatable(path.parent / (path.name + ".png"), self.what, folder=False)
