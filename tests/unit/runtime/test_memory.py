"""glibc malloc thresholds: applied where the C library is glibc, left alone when turned off."""

from __future__ import annotations

import ctypes
import platform

import pytest

from services.runtime.memory import tune_malloc

GLIBC = platform.libc_ver()[0] == "glibc"


def test_zero_leaves_the_allocator_as_it_is() -> None:
    assert tune_malloc(0, 128) is False
    assert tune_malloc(32, 0) is False


@pytest.mark.skipif(not GLIBC, reason="mallopt thresholds are glibc's")
def test_glibc_takes_the_thresholds() -> None:
    assert tune_malloc(32, 128) is True
    # A 4 MiB block now comes from the heap: freeing and taking it again reuses the address
    # instead of mapping fresh pages (glibc maps blocks over the threshold on their own).
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    first = libc.malloc(4 * 1024 * 1024)
    libc.free(first)
    second = libc.malloc(4 * 1024 * 1024)
    libc.free(second)
    assert first == second
