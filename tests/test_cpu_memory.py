"""keep_freed_memory: glibc serves big blocks from the heap and keeps freed memory (checked in fresh
processes, where nothing has applied the setting yet), and it degrades gracefully without glibc."""

import ctypes
import ctypes.util
import json
import subprocess
import sys
import types

import pytest

from biggait import cpu_memory

# Allocate a 64 MiB block in a fresh process and ask glibc how it was served (mallinfo2: hblks =
# blocks served by mmap, arena = heap bytes held); optionally apply keep_freed_memory first.
_PROBE = r"""
import ctypes, ctypes.util, json, sys
from biggait import cpu_memory
libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                               "fsmblks", "uordblks", "fordblks", "keepcost")]
libc.mallinfo2.restype = Info
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
applied = cpu_memory.keep_freed_memory() if sys.argv[1] == "apply" else None
before = libc.mallinfo2().hblks
block = libc.malloc(64 << 20)
mmapped = libc.mallinfo2().hblks - before
libc.free(block)
print(json.dumps({"applied": applied, "mmapped": mmapped, "arena_after_free": libc.mallinfo2().arena}))
"""


def _glibc_with_mallinfo2() -> bool:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return hasattr(libc, "mallopt") and hasattr(libc, "mallinfo2")
    except OSError:
        return False


def _probe(mode: str) -> dict:
    out = subprocess.run([sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.mark.skipif(not _glibc_with_mallinfo2(), reason="not glibc >= 2.33: nothing to tune or observe")
def test_big_blocks_come_from_the_heap_and_stay_after_free():
    before = _probe("plain")
    assert before["mmapped"] >= 1  # the default: a 64 MiB block is a fresh mmap, unmapped on free
    after = _probe("apply")
    assert after["applied"] is True
    assert after["mmapped"] == 0  # served from the heap ...
    assert after["arena_after_free"] >= 64 << 20  # ... and kept after free (no trimming)


def test_mallopt_gets_the_heap_only_settings_once(monkeypatch):
    calls = []

    def mallopt(param, value):
        calls.append((param, value))
        return 1

    monkeypatch.setattr(cpu_memory, "_applied", False)
    monkeypatch.setattr(cpu_memory.ctypes, "CDLL", lambda name: types.SimpleNamespace(mallopt=mallopt))
    assert cpu_memory.keep_freed_memory() is True
    assert sorted(calls) == sorted([(-4, 0), (-1, 2**31 - 1)])  # M_MMAP_MAX=0, M_TRIM_THRESHOLD=max
    assert cpu_memory.keep_freed_memory() is True and len(calls) == 2  # idempotent


def test_refused_or_missing_mallopt_reports_false(monkeypatch):
    monkeypatch.setattr(cpu_memory, "_applied", False)

    def refusing(param, value):
        return 0

    monkeypatch.setattr(cpu_memory.ctypes, "CDLL", lambda name: types.SimpleNamespace(mallopt=refusing))
    assert cpu_memory.keep_freed_memory() is False

    def no_libc(name):
        raise OSError("not glibc")

    monkeypatch.setattr(cpu_memory.ctypes, "CDLL", no_libc)
    assert cpu_memory.keep_freed_memory() is False
