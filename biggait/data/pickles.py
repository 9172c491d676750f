"""Safe reading and atomic writing of dataset pickles.

Dataset trees are downloaded from third parties, and a plain ``pickle.load`` runs whatever code a
file asks for. :class:`ArrayUnpickler` admits only the globals that numpy arrays and plain
containers need, so loading a hostile file raises :class:`~biggait.errors.DataError` before any
of its code can run.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from biggait.errors import DataError
from biggait.io import atomic_path

__all__ = ["ArrayUnpickler", "RefusedGlobal", "load_pickle", "load_array", "save_array"]


def _numpy_attr(module: str, name: str) -> Any:
    # numpy 2 moved ``numpy.core`` to ``numpy._core``; old pickles still name the former. Resolve
    # both to the current objects without importing the deprecated alias module.
    from numpy._core import multiarray, numeric

    return {"multiarray": multiarray, "numeric": numeric}[module.rsplit(".", 1)[1]].__dict__[name]


# (module, name) -> a zero-argument resolver. Everything else is refused.
_ALLOWED: dict[tuple[str, str], Any] = {
    ("numpy", "ndarray"): lambda: np.ndarray,
    ("numpy", "dtype"): lambda: np.dtype,
    # Builtins that plain containers need in protocols < 4 (protocol 2 pickles sets via a reduce).
    ("builtins", "set"): lambda: set,
    ("builtins", "frozenset"): lambda: frozenset,
    ("builtins", "complex"): lambda: complex,
    ("builtins", "slice"): lambda: slice,
    ("builtins", "bytearray"): lambda: bytearray,
    # Protocol 2 writes ``bytes`` (e.g. an array's raw buffer) as ``_codecs.encode(str, 'latin1')``.
    ("_codecs", "encode"): lambda: __import__("codecs").encode,
}
for _mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
    for _name in ("_reconstruct", "scalar"):
        _ALLOWED[(_mod, _name)] = lambda m=_mod, n=_name: _numpy_attr(m, n)
for _mod in ("numpy.core.numeric", "numpy._core.numeric"):
    # Protocol 5 rebuilds arrays from their buffer with ``_frombuffer``.
    _ALLOWED[(_mod, "_frombuffer")] = lambda m=_mod: _numpy_attr(m, "_frombuffer")


class RefusedGlobal(pickle.UnpicklingError):
    """A pickle asked for a global outside the allowed set."""


class ArrayUnpickler(pickle.Unpickler):
    """An unpickler that only builds numpy arrays, numpy scalars and plain containers."""

    def find_class(self, module: str, name: str) -> Any:  # noqa: D102 - pickle API
        if module == "__builtin__":  # Python 2 name of builtins (protocol <= 2 pickles)
            module = "builtins"
        resolver = _ALLOWED.get((module, name))
        if resolver is None:
            raise RefusedGlobal(
                f"refused to load global {module}.{name} (only numpy arrays and plain containers are allowed)"
            )
        return resolver()


def load_pickle(path: str | Path) -> Any:
    """Load ``path`` with :class:`ArrayUnpickler`; DataError naming the file on any failure."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not data:
        raise DataError(f"{path}: empty file (expected a pickled numpy array)")
    try:
        return ArrayUnpickler(io.BytesIO(data)).load()
    except RefusedGlobal as exc:
        raise DataError(f"{path}: unsafe pickle: {exc}") from None
    except pickle.UnpicklingError as exc:
        what = "truncated" if "truncated" in str(exc) else f"corrupt ({exc})"
        raise DataError(f"{path}: {what} pickle (expected a pickled numpy array)") from None
    except (EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError, MemoryError) as exc:
        # Truncated files end in EOFError; mangled ones in any of the others.
        what = "truncated" if isinstance(exc, EOFError) else f"corrupt ({type(exc).__name__}: {exc})"
        raise DataError(f"{path}: {what} pickle (expected a pickled numpy array)") from None


def load_array(path: str | Path) -> np.ndarray:
    """Load a pickle that must hold one numpy array (a list of equal-shape arrays is stacked)."""
    obj = load_pickle(path)
    if isinstance(obj, np.ndarray):
        return obj
    if isinstance(obj, (list, tuple)) and obj and all(isinstance(a, np.ndarray) for a in obj):
        shapes = {a.shape for a in obj}
        if len(shapes) != 1:
            raise DataError(f"{path}: list of arrays of different shapes {sorted(shapes)} (expected one array)")
        return np.stack(obj)
    raise DataError(f"{path}: holds a {type(obj).__name__}, expected a numpy array")


def save_array(path: str | Path, array: np.ndarray) -> None:
    """Pickle ``array`` to ``path`` atomically (protocol 4, the OpenGait convention)."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            pickle.dump(np.ascontiguousarray(array), fh, protocol=4)
