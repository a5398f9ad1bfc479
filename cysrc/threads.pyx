"""How many OpenMP threads the kernels' prange loops use (always 1 when built without OpenMP),
how the kernels were built, and the OpenMP runner for numpy's OpenBLAS (tinygrad_relu/_blas.py).

The runner: OpenBLAS (0.3.28 on) lets a program run its parallel jobs instead of its own thread
pool (``openblas_set_threads_callback_function``). Its pool's workers spin for about 2^28 cycles
after each threaded product before they sleep, and on a 2-core machine that spinning took a core
from our OpenMP kernels running next: on the wide convnet's training step (benchmarks, workload
e) blas_thread_server was 42% of the samples. Run on our OpenMP team instead, the products and
the kernels share one pool, whose threads spin only briefly (libgomp's GOMP_SPINCOUNT).

OpenBLAS's threaded level-3 jobs wait on one another (each packs a block the others read), so
all ``numjobs`` must run at the same time: a team smaller than asked (inside a parallel region,
or an OpenMP limit) would deadlock. The runner checks the team it got and otherwise runs the
jobs on POSIX threads of their own.
"""
import numpy as np

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    static void tgr_set_threads(int n) { omp_set_num_threads(n); }
    static int tgr_get_threads(void) { return omp_get_max_threads(); }
    static int tgr_openmp(void) { return 1; }
    #else
    static void tgr_set_threads(int n) { (void)n; }
    static int tgr_get_threads(void) { return 1; }
    static int tgr_openmp(void) { return 0; }
    #endif
    #include <pthread.h>
    #include <stddef.h>
    #include <stdlib.h>
    typedef void (*tgr_dojob_t)(int thread_num, void *jobdata, int dojob_data);
    typedef void (*tgr_blas_runner_t)(int sync, tgr_dojob_t dojob, int numjobs, size_t jobdata_elsize,
                                      void *jobdata, int dojob_data);
    typedef void (*tgr_set_runner_t)(tgr_blas_runner_t runner);
    typedef struct { tgr_dojob_t dojob; int i; void *data; int dojob_data; } tgr_job_t;
    static void *tgr_job_main(void *arg) {
        tgr_job_t *j = (tgr_job_t *)arg;
        j->dojob(j->i, j->data, j->dojob_data);
        return NULL;
    }
    static int tgr_blas_jobs_run = 0, tgr_blas_jobs_fallback = 0;  /* counters for the tests */
    /* Every job at once on threads of its own (job 0 on the caller). A thread that cannot be
       created (or a failed allocation) leaves its job to the caller after job 0, which can only
       deadlock where OpenBLAS's own pool could not have started its threads either. */
    static void tgr_run_on_pthreads(tgr_dojob_t dojob, int numjobs, size_t elsize, void *jobdata, int dojob_data) {
        tgr_job_t *jobs = (tgr_job_t *)calloc((size_t)numjobs, sizeof(tgr_job_t));
        pthread_t *ids = (pthread_t *)calloc((size_t)numjobs, sizeof(pthread_t));
        char *started = (char *)calloc((size_t)numjobs, 1);
        int i, ok = jobs != NULL && ids != NULL && started != NULL;
        for (i = 1; ok && i < numjobs; i++) {
            jobs[i].dojob = dojob; jobs[i].i = i; jobs[i].dojob_data = dojob_data;
            jobs[i].data = (char *)jobdata + (size_t)i * elsize;
            started[i] = pthread_create(&ids[i], NULL, tgr_job_main, &jobs[i]) == 0;
        }
        dojob(0, jobdata, dojob_data);
        for (i = 1; i < numjobs; i++) {
            if (ok && started[i]) pthread_join(ids[i], NULL);
            else dojob(i, (char *)jobdata + (size_t)i * elsize, dojob_data);
        }
        free(jobs); free(ids); free(started);
    }
    static void tgr_blas_runner(int sync, tgr_dojob_t dojob, int numjobs, size_t elsize, void *jobdata,
                                int dojob_data) {
        (void)sync;  /* OpenBLAS always waits for the jobs: so do we */
        if (numjobs <= 0) return;
    #ifdef _OPENMP
        if (!omp_in_parallel()) {
            int team = 0;
            #pragma omp parallel num_threads(numjobs)
            {
                #pragma omp single
                team = omp_get_num_threads();
                /* the single's barrier: every thread sees team */
                if (team == numjobs) {
                    int i = omp_get_thread_num();
                    dojob(i, (char *)jobdata + (size_t)i * elsize, dojob_data);
                }
            }
            if (team == numjobs) {
                __atomic_add_fetch(&tgr_blas_jobs_run, 1, __ATOMIC_RELAXED);
                return;
            }
        }
    #endif
        __atomic_add_fetch(&tgr_blas_jobs_fallback, 1, __ATOMIC_RELAXED);
        tgr_run_on_pthreads(dojob, numjobs, elsize, jobdata, dojob_data);
    }
    /* A forked child inherits the runner but not the OpenMP team: libgomp's pool would wait for
       threads that no longer exist, and the child's first parallel product would hang. So the
       child goes back to OpenBLAS's own pool, which OpenBLAS itself restarts after fork. */
    static size_t tgr_runner_setter = 0;
    static int tgr_runner_on = 0, tgr_atfork_registered = 0;
    static void tgr_runner_after_fork_in_child(void) {
        if (tgr_runner_on) ((tgr_set_runner_t)tgr_runner_setter)(NULL);
        tgr_runner_on = 0;
    }
    static int tgr_install_blas_runner(size_t setter, int on) {
        if (!tgr_atfork_registered) {
            if (pthread_atfork(NULL, NULL, tgr_runner_after_fork_in_child) != 0) return -1;
            tgr_atfork_registered = 1;
        }
        ((tgr_set_runner_t)setter)(on ? tgr_blas_runner : NULL);
        tgr_runner_setter = setter;
        tgr_runner_on = on;
        return 0;
    }
    static int tgr_blas_runner_on(void) { return tgr_runner_on; }
    static int tgr_blas_runs(int fallback) {
        return __atomic_load_n(fallback ? &tgr_blas_jobs_fallback : &tgr_blas_jobs_run, __ATOMIC_RELAXED);
    }
    #ifdef TGR_DEBUG_BUILD
    static int tgr_debug(void) { return 1; }
    #else
    static int tgr_debug(void) { return 0; }
    #endif
    """
    void tgr_set_threads(int n) nogil
    int tgr_get_threads() nogil
    int tgr_openmp() nogil
    int tgr_debug() nogil
    int tgr_install_blas_runner(size_t setter, int on) nogil
    int tgr_blas_runner_on() nogil
    int tgr_blas_runs(int fallback) nogil


def set_num_threads(int n):
    if n < 1:
        raise ValueError(f"set_num_threads: n must be at least 1, got {n}")
    tgr_set_threads(n)


def get_num_threads():
    return tgr_get_threads()


def install_blas_runner(size_t setter, bint on=True):
    """Hand OpenBLAS's parallel jobs to this module's runner (on=False: back to OpenBLAS's pool).

    setter: the address of a loaded OpenBLAS's ``openblas_set_threads_callback_function``
    (_blas.py finds it; an address is trusted, so this is not for user code)."""
    if setter == 0:
        raise ValueError("install_blas_runner: setter is a null address")
    if tgr_install_blas_runner(setter, on) != 0:
        raise OSError("install_blas_runner: pthread_atfork failed, so a forked child could hang: not installed")


def blas_runner_on():
    """Whether OpenBLAS's jobs run on the runner now (a forked child starts without it)."""
    return bool(tgr_blas_runner_on())


def blas_runs():
    """(runs on an OpenMP team, runs on POSIX threads) of OpenBLAS's parallel products so far."""
    return tgr_blas_runs(0), tgr_blas_runs(1)


def openmp_enabled():
    return bool(tgr_openmp())


def debug_build():
    """True when built with TINYGRAD_RELU_DEBUG=1 (bounds checks on, -O0 -g)."""
    return bool(tgr_debug())


def bounds_probe(values, Py_ssize_t index):
    """values[index] (a 1-D float64 array) with this build's checks: IndexError out of bounds on a
    debug build, from Cython's memoryview bounds check.

    The release build has no such check, so it refuses an index outside [0, len) itself
    (ValueError) instead of reading past the end.
    """
    cdef const double[::1] view
    if not isinstance(values, np.ndarray) or values.dtype != np.float64 or values.ndim != 1:
        raise TypeError(f"bounds_probe: values must be a 1-D float64 array, got {values!r:.60}")
    view = np.ascontiguousarray(values)
    if not tgr_debug() and not 0 <= index < view.shape[0]:
        raise ValueError(f"bounds_probe: index {index} is outside [0, {view.shape[0]}) and this release "
                         f"build has no bounds checks")
    return view[index]
