import ctypes
import ctypes.util

import pytest

from biggait import cpu_memory


def test_keep_freed_memory_applies_on_glibc_and_is_idempotent():
    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        pytest.skip("not glibc: nothing to tune")
    assert cpu_memory.keep_freed_memory() is True
    assert cpu_memory.keep_freed_memory() is True
