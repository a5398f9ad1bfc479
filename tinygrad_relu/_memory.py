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

import numpy as np

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


# ---- small pages for the workspaces' buffers -----------------------------------------------------
# numpy asks the kernel for transparent huge pages (2 MiB) on every array of 4 MiB or more
# (madvise MADV_HUGEPAGE). On a virtual machine the first write to a fresh huge page cost far more
# than to the same memory in 4 KiB pages: the first training step of a new wide convnet (workload
# (e), ~300 MB of layer buffers) took 0.6-0.7 s with huge pages and 0.25 s without, while later
# steps, which reuse those buffers, ran at the same speed either way (docs/performance.md, "The
# third round"). So the layers' scratch buffers (ops/convolution.py's Workspace) ask for small pages;
# no other array is touched. ``TINYGRAD_RELU_HUGEPAGES=1`` leaves numpy's choice.
MADV_NOHUGEPAGE = 15  # linux/mman.h
PAGE = 4096
SMALL_PAGES_MIN = 4 << 20  # numpy's own threshold for asking for huge pages


def _madvise():
    if os.environ.get("TINYGRAD_RELU_HUGEPAGES", "0").strip() == "1" or not sys.platform.startswith("linux"):
        return None
    try:
        madvise = ctypes.CDLL(None, use_errno=True).madvise
    except (OSError, AttributeError):
        return None
    madvise.argtypes, madvise.restype = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int), ctypes.c_int
    return madvise


_MADVISE = _madvise()
SMALL_PAGES = _MADVISE is not None


def empty(shape, dtype):
    """np.empty(shape, dtype), in 4 KiB pages when it is large enough for numpy to have asked for
    huge ones (the whole pages inside it; a failed request is ignored: the array works either way)."""
    array = np.empty(shape, dtype=dtype)
    if SMALL_PAGES and array.nbytes >= SMALL_PAGES_MIN:
        start = array.ctypes.data
        first = -(-start // PAGE) * PAGE
        _MADVISE(first, (start + array.nbytes - first) // PAGE * PAGE, MADV_NOHUGEPAGE)
    return array
