"""numpy's BLAS threads: the one place this package changes them.

numpy's GEMM runs on the OpenBLAS that numpy links; its thread count is separate from our
OpenMP kernels'. Two controls, both found among the libraries already loaded in this process
(nothing is loaded from elsewhere), both no-ops when numpy's BLAS is not OpenBLAS:

* ``set_num_threads(n)`` / ``get_num_threads()``: the process-wide count;
* ``gemm(a, b, work)``: one matrix product on one BLAS thread when it is small;
* ``cblas_gemm()``: the addresses of its CBLAS sgemm and dgemm, for kernels that call them from
  their own OpenMP threads on products small enough (``CALLER_THREAD_MAX``) that OpenBLAS runs
  them on the calling thread.

And one setting made on import: OpenBLAS's parallel jobs run on our OpenMP team
(``install_runner``; ``TINYGRAD_RELU_BLAS_RUNNER=0`` leaves OpenBLAS's own pool). OpenBLAS's
workers spin for about 2^28 cycles after each threaded product; on a 2-core machine they took a
core from the kernels that ran next (cysrc/threads.pyx says more; docs/performance.md has the
figures). This applies to every product numpy runs in the process, ours and the user's: the
results are the same bits (OpenBLAS splits the work the same way), only the threads differ.

Why the second: OpenBLAS splits a GEMM over its threads from about 2.6e5 multiply-adds on. For
the small layers of a small MLP the split saves a few microseconds on an idle machine, but when
the other core is busy (another process, PyTorch's OpenMP pool spinning) the calling thread waits
for a descheduled worker, and a step takes ten times as long or more (docs/performance.md, "Why
small GEMMs run on one thread"). Below SINGLE_THREAD_BELOW multiply-adds a GEMM therefore runs on
the calling thread alone.
"""
import contextlib
import ctypes
import os
import threading

import numpy as np

SINGLE_THREAD_BELOW = 4_000_000

_SETTERS = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
            "openblas_set_num_threads64_", "openblas_set_num_threads")
_GETTERS = ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads",
            "openblas_get_num_threads64_", "openblas_get_num_threads")
_RUNNER_SETTERS = ("scipy_openblas_set_threads_callback_function64_", "scipy_openblas_set_threads_callback_function",
                   "openblas_set_threads_callback_function64_", "openblas_set_threads_callback_function")
_LOCAL_SETTERS = ("scipy_openblas_set_num_threads_local64_", "scipy_openblas_set_num_threads_local",
                  "openblas_set_num_threads_local64_", "openblas_set_num_threads_local")


def _loaded_openblas():
    """The OpenBLAS library numpy loaded (a ctypes handle), or None."""
    try:
        with open("/proc/self/maps") as maps:
            paths = sorted({line.split()[-1] for line in maps if "openblas" in line.lower()
                            and line.split()[-1].startswith("/")})
    except OSError:
        return None
    for path in paths:
        try:
            lib = ctypes.CDLL(path, mode=os.RTLD_NOLOAD | os.RTLD_LOCAL)
        except (OSError, AttributeError):
            continue
        if any(hasattr(lib, name) for name in _SETTERS):
            return lib
    return None


def _symbol(lib, names, argtypes, restype):
    for name in names:
        fn = getattr(lib, name, None) if lib is not None else None
        if fn is not None:
            fn.argtypes, fn.restype = argtypes, restype
            return fn
    return None


# OpenBLAS runs a GEMM of m*n*k multiply-adds up to this on the calling thread, without its thread
# pool (interface/gemm.c: SMP_THRESHOLD_MIN 65536 * GEMM_MULTITHREAD_THRESHOLD 4), so several of
# our threads may call it at once without contending for that pool.
CALLER_THREAD_MAX = 262_144

_CORENAMES = ("scipy_openblas_get_corename64_", "scipy_openblas_get_corename", "openblas_get_corename64_",
              "openblas_get_corename")
# OpenBLAS's kernel sets with "small matrix" kernels (no packing of the operands, kernel/x86_64/
# *_small_kernel_*_skylakex.c), which they use only below a size. Measured on the Winograd
# backward's products (dV = dM U^T, 128 x 128 filters): up to ~150k multiply-adds they ran at
# twice the speed of the packed path, above it (up to CALLER_THREAD_MAX) slower; the other kernel
# sets pack in every product and do best with the most rows (docs/performance.md, "The third round").
SMALL_KERNEL_CORES = ("skylakex", "cooperlake", "sapphirerapids")
SMALL_KERNEL_MAX = 150_000

np.empty(1) @ np.empty(1)  # make sure numpy's BLAS is loaded before looking for it
_lib = _loaded_openblas()
_set_threads = _symbol(_lib, _SETTERS, [ctypes.c_int], None)
_get_threads = _symbol(_lib, _GETTERS, [], ctypes.c_int)
_set_local_threads = _symbol(_lib, _LOCAL_SETTERS, [ctypes.c_int], ctypes.c_int)
# OpenBLAS's "local" setter acts process-wide here: without the lock, two Python threads
# interleaving save/set/restore could leave BLAS on one thread for good.
_lock = threading.Lock()


def core_name():
    """The kernel set numpy's OpenBLAS runs ("SkylakeX", "Haswell", ...), or None."""
    fn = _symbol(_lib, _CORENAMES, [], ctypes.c_char_p)
    name = fn() if fn is not None else None
    return name.decode("ascii", "replace") if name else None


def product_max():
    """The multiply-adds per product to group small images up to in the Winograd backward's data
    gradient: SMALL_KERNEL_MAX where numpy's OpenBLAS runs small-matrix kernels, CALLER_THREAD_MAX otherwise."""
    core = (core_name() or "").lower()
    return SMALL_KERNEL_MAX if core in SMALL_KERNEL_CORES else CALLER_THREAD_MAX


def set_num_threads(n):
    """Limit numpy's OpenBLAS to n threads; returns False when no OpenBLAS is found (then nothing changes)."""
    if _set_threads is None or _get_threads is None:
        return False
    with _lock:
        _set_threads(int(n))
    return True


def get_num_threads():
    """Threads numpy's OpenBLAS uses, or None when no OpenBLAS is found."""
    return None if _get_threads is None else int(_get_threads())


def gemm(a, b, work, out=None):
    """a @ b (into ``out`` if given), on one BLAS thread when ``work`` (m*n*k multiply-adds) is below
    SINGLE_THREAD_BELOW."""
    if _set_local_threads is None or work >= SINGLE_THREAD_BELOW:
        return np.matmul(a, b, out=out)
    with _lock:
        previous = _set_local_threads(1)
        try:
            return np.matmul(a, b, out=out)
        finally:
            _set_local_threads(previous)


@contextlib.contextmanager
def one_thread_below(work):
    """A block of GEMMs of ``work`` multiply-adds each (a recurrent layer's time loop) on one BLAS thread
    when they are small, by gemm's rule; the setting is made once for the block, not per product."""
    if _set_local_threads is None or work >= SINGLE_THREAD_BELOW:
        yield
        return
    with _lock:
        previous = _set_local_threads(1)
        try:
            yield
        finally:
            _set_local_threads(previous)


# (sgemm name, dgemm name, 64-bit integers): numpy >= 2's scipy-openblas64, older numpy's
# openblas64_, and 32-bit-integer builds
_CBLAS_NAMES = (("scipy_cblas_sgemm64_", "scipy_cblas_dgemm64_", True), ("cblas_sgemm64_", "cblas_dgemm64_", True),
                ("scipy_cblas_sgemm", "scipy_cblas_dgemm", False), ("cblas_sgemm", "cblas_dgemm", False))


def cblas_gemm():
    """(sgemm address, dgemm address, integers are 64-bit) of numpy's OpenBLAS, or None without OpenBLAS."""
    for sname, dname, int64 in _CBLAS_NAMES:
        sgemm, dgemm = getattr(_lib, sname, None), getattr(_lib, dname, None)
        if sgemm is not None and dgemm is not None:
            return (ctypes.cast(sgemm, ctypes.c_void_p).value, ctypes.cast(dgemm, ctypes.c_void_p).value, int64)
    return None


def _runner_setter():
    return getattr(_lib, next((n for n in _RUNNER_SETTERS if hasattr(_lib, n)), ""), None) if _lib else None


def install_runner(on=True):
    """Run OpenBLAS's parallel jobs on our OpenMP team (on=False: on OpenBLAS's own pool again).

    Returns whether it could: it needs an OpenBLAS with ``openblas_set_threads_callback_function``
    (0.3.28 on) and kernels built with OpenMP.
    """
    from ._kernels import threads
    setter = _runner_setter()
    if setter is None or not threads.openmp_enabled():
        return False
    threads.install_blas_runner(ctypes.cast(setter, ctypes.c_void_p).value, bool(on))
    return True


def runner_installed():
    """Whether numpy's OpenBLAS runs its parallel jobs on our OpenMP team now (not in a forked child:
    libgomp's team does not survive fork, so the child is handed back to OpenBLAS's pool)."""
    from ._kernels import threads
    return threads.blas_runner_on()


# The team's workers sleep as soon as a parallel region ends (tinygrad_relu/__init__.py sets
# OMP_WAIT_POLICY=PASSIVE, so that they never spin against OpenBLAS's own threads). With the runner
# there are no such threads, and a product's jobs then waited for a futex wake-up each time (about
# 100 us here): a 7.5M multiply-add product took 242 us against 127 us on OpenBLAS's spinning pool,
# and the MLP and MNIST-1D CNN steps (benchmarks, workloads a and d) lost 20-40%. So the workers
# poll GOMP_SPINCOUNT=300000 times (libgomp's own default without OMP_WAIT_POLICY; a few ms) before
# they sleep: with it, steps alternated in one process ran as fast on the runner as on OpenBLAS's
# pool (a: 3.22 / 3.16 ms, d: 3.42 / 3.43 ms; 30000 polls still lost 15%). libgomp reads it once,
# when our first kernel module loads, which is next; a value the user set wins.
if os.environ.get("TINYGRAD_RELU_BLAS_RUNNER", "1").strip() != "0" and _runner_setter() is not None:
    os.environ.setdefault("GOMP_SPINCOUNT", "300000")
    install_runner()
