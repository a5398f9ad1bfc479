"""glibc's malloc settings for a process that trains: large arrays reused, not returned.

A training step frees and allocates the same large arrays (activations, gradients) every step.
glibc's defaults give them new pages each time: a block above the mmap threshold (128 KiB at
first, growing up to 32 MiB as such blocks are freed) is a fresh mmap, and once more than the trim
threshold (twice that) is free at the top of the heap, it goes back to the system. Each 4 KiB page
of a new block then costs a page fault when first written, which on a virtual machine costs more
than the arithmetic: relu forward + backward on 4M float32 took 5-35 ms with the defaults and
2.2 ms with these settings (benchmarks/bench_activations.py, docs/performance.md).

So on import, on Linux with glibc, blocks up to 32 MiB (glibc's maximum for this setting) come from
the heap, and up to 256 MiB of free heap is kept for the next step rather than returned. The cost
is resident memory: a process keeps up to 256 MiB it has freed. ``TINYGRAD_RELU_MALLOC_TUNING=0``
leaves glibc's defaults, and so do glibc's own ``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_``
when set (yours win).
"""
import ctypes
import os
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
MMAP_THRESHOLD = 32 << 20
TRIM_THRESHOLD = 256 << 20


def tune_malloc():
    """Apply the settings above; returns whether they were applied."""
    if os.environ.get("TINYGRAD_RELU_MALLOC_TUNING", "1").strip() == "0" or not sys.platform.startswith("linux"):
        return False
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "MALLOC_TRIM_THRESHOLD_" in os.environ:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (musl has no tunable mallopt)
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1


MALLOC_TUNED = tune_malloc()
