"""Where a sweep's runs execute: a local process pool (nothing to install) or a Dask cluster.

Both take a function and a list of items and yield ``(item, result)`` as runs finish, in any
order; ``result`` is the exception when the worker could not return one (a worker process
killed, a lost connection). Neither schedules anything itself: the pool and Dask do.

One thread per run. Each worker pins numpy's OpenBLAS and our OpenMP kernels to one thread, so
N workers keep N cores busy instead of 2N threads fighting for them. Pinned twice over:

* in the environment the workers start with (``OMP_NUM_THREADS=1``, ``OPENBLAS_NUM_THREADS=1``):
  OpenBLAS and the OpenMP runtime read these once, when they load, and then start no extra
  threads at all;
* at run time, around every run (``pinned_threads``): that also holds on an existing Dask
  cluster whose workers started with other settings.

The local pool starts its workers with ``spawn``: a fresh interpreter per worker, started with the
environment above. ``fork`` would copy a parent whose OpenBLAS/OpenMP thread pools already exist,
which can deadlock the child. ``forkserver`` is safe too and was not reliably faster to start
(docs/sweep.md); but its server is one per parent process, started with the environment of
whoever used it first, so the one-thread environment might never reach our workers.
"""
import contextlib
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed

from .. import get_num_threads, set_num_threads, utils

EXECUTORS = ("local", "dask")
START_METHODS = ("spawn", "forkserver")  # never fork: see above
DASK_INSTALL_HINT = 'pip install "tinygrad_relu[dask]"'
ONE_THREAD_ENVIRONMENT = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def available_cores():
    """Cores this process may run on (its affinity mask), else the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@contextlib.contextmanager
def pinned_threads():
    """One OpenBLAS thread and one OpenMP thread inside the block; the previous counts afterwards."""
    previous_blas, previous_omp = utils.get_blas_num_threads(), get_num_threads()
    set_num_threads(1)  # our OpenMP kernels and numpy's OpenBLAS
    try:
        yield
    finally:
        set_num_threads(previous_omp)
        if previous_blas is not None:
            utils.set_blas_num_threads(previous_blas)


def thread_settings(_=None):
    """What this process runs with: the one-thread environment variables and the current OpenBLAS and
    OpenMP thread counts. Submit it to a pool or cluster to see what its workers start with."""
    return {"pid": os.getpid(), **{name: os.environ.get(name) for name in ONE_THREAD_ENVIRONMENT},
            "blas_threads": utils.get_blas_num_threads(), "omp_threads": get_num_threads()}


@contextlib.contextmanager
def one_thread_environment():
    """OMP_NUM_THREADS=1 and OPENBLAS_NUM_THREADS=1 in os.environ inside the block, for the
    worker processes started there to inherit (spawned interpreters copy the parent's
    environment when they start); the parent's values are put back afterwards."""
    saved = {name: os.environ.get(name) for name in ONE_THREAD_ENVIRONMENT}
    os.environ.update(ONE_THREAD_ENVIRONMENT)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def check_executor(executor, workers, scheduler):
    """ValueError for settings that cannot work together; returns the number of local workers."""
    if executor not in EXECUTORS:
        raise ValueError(f"sweep: unknown executor {executor!r}; choose from {', '.join(EXECUTORS)}")
    if scheduler is not None and executor != "dask":
        raise ValueError(f"sweep: scheduler={scheduler!r} needs executor='dask' (got executor={executor!r})")
    if scheduler is not None and workers is not None:
        raise ValueError(f"sweep: workers={workers} does not apply to an existing Dask cluster "
                         f"(scheduler={scheduler!r}): its workers are already started")
    if workers is None:
        return available_cores()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"sweep: workers must be a positive integer, got {workers!r}")
    return workers


def run_all(fn, items, executor="local", workers=None, scheduler=None, start_method="spawn"):
    """Yield (item, fn(item) or the exception that lost it) as each finishes, on the chosen executor.

    ``start_method`` is how the local pool starts its workers (benchmarks/bench_sweep.py compares them).
    """
    workers = check_executor(executor, workers, scheduler)
    if start_method not in START_METHODS:
        raise ValueError(f"sweep: start_method must be one of {', '.join(START_METHODS)}, got {start_method!r}")
    if executor == "dask":
        require_dask()  # the install hint now, before anything starts
    if not items:
        return iter(())
    if executor == "dask":
        return _dask_map(fn, items, workers, scheduler)
    return _local_map(fn, items, min(workers, len(items)), start_method)


def _local_map(fn, items, workers, start_method):
    # All submits happen inside the environment block: the pool starts a worker per submit
    # until it has `workers` of them, so every worker inherits the one-thread settings.
    with one_thread_environment():
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(start_method))
        futures = {pool.submit(fn, item): item for item in items}
    try:
        for future in as_completed(futures):
            try:
                yield futures[future], future.result()
            except Exception as exc:  # the worker died (BrokenProcessPool) or the result did not unpickle
                yield futures[future], exc
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def require_dask():
    """Import dask.distributed or raise an ImportError that says how to install it."""
    try:
        import distributed
    except ImportError as exc:
        raise ImportError(f"sweep: executor='dask' needs dask.distributed, which is not installed: "
                          f"run  {DASK_INSTALL_HINT}  (or pip install \"dask[distributed]\")") from exc
    return distributed


def _dask_map(fn, items, workers, scheduler):
    distributed = require_dask()
    cluster = None
    if scheduler is None:
        # processes, not threads: the library's random generator is per process, and a run
        # holds a core for seconds without releasing the GIL for long
        cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                           dashboard_address=None, env=dict(ONE_THREAD_ENVIRONMENT))
    client = distributed.Client(cluster if cluster is not None else scheduler)
    try:
        futures = {client.submit(fn, item, pure=False): i for i, item in enumerate(items)}
        for future in distributed.as_completed(futures):
            item = items[futures[future]]
            try:
                yield item, future.result()
            except Exception as exc:  # KilledWorker, a lost connection
                yield item, exc
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
