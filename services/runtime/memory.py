"""The C allocator's thresholds, for processes that move megabyte buffers.

Bulk reads allocate and free buffers of a megabyte and more many times a second: DuckDB's
results, Arrow batches, each chunk's wire bytes and gRPC's copy of them. With glibc's defaults a
block that large is mapped fresh from the kernel and unmapped when freed, and freed memory at the
top of the heap goes back to the kernel past 128 KiB, so every such buffer pays the page faults
of memory the process just returned. Raising the mmap threshold keeps those blocks in the heap;
raising the trim threshold keeps the freed heap for the next ones. Measured on the dow30 read
(docs/benchmarks.md, ingest): GetBars 21-23 ms -> 15-16 ms, and the same DuckDB query in a
plain process 12 -> 9.5 ms. The cost is up to the trim threshold of freed memory kept.
"""

from __future__ import annotations

import ctypes
import logging
import sys

log = logging.getLogger("quantmesh.runtime")

# mallopt parameters (glibc's malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MIB = 1024 * 1024


def tune_malloc(mmap_threshold_mb: int, trim_threshold_mb: int) -> bool:
    """Set glibc's mmap and trim thresholds (MiB); 0 leaves both as glibc has them. False where
    the C library is not glibc, or refuses a value (glibc caps the mmap threshold; 32 MiB is
    accepted everywhere)."""
    if mmap_threshold_mb <= 0 or trim_threshold_mb <= 0 or not sys.platform.startswith("linux"):
        return False
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is None:
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    done: bool = mallopt(_M_MMAP_THRESHOLD, mmap_threshold_mb * MIB) == 1
    done = mallopt(_M_TRIM_THRESHOLD, trim_threshold_mb * MIB) == 1 and done
    if not done:
        log.warning(
            "malloc thresholds not applied (mmap %d MiB, trim %d MiB): the C library refused",
            mmap_threshold_mb,
            trim_threshold_mb,
        )
    return done
