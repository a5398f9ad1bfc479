# cython: language_level=3
"""What the running CPU (and OS) supports, for choosing among the per-ISA builds of a kernel
module (tinygrad_relu/_kernels/activations.py).

GCC's and clang's ``__builtin_cpu_supports`` read CPUID once per process and also check that the
OS saves the wide registers (XGETBV), so a True here means the instructions can run. Elsewhere
(other compilers or architectures) every feature reads as absent, and only the baseline build
is used.
"""

cdef extern from *:
    """
    #if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
    static int tgr_cpu_avx2(void) {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    static int tgr_cpu_avx512(void) {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")
            && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw")
            && __builtin_cpu_supports("fma");
    }
    #else
    static int tgr_cpu_avx2(void) { return 0; }
    static int tgr_cpu_avx512(void) { return 0; }
    #endif
    """
    int tgr_cpu_avx2() nogil
    int tgr_cpu_avx512() nogil


def supported_isas():
    """The instruction sets this CPU can run, narrowest first: "baseline", then "avx2" (AVX2 with
    FMA) and "avx512" (AVX-512 F, VL, DQ and BW, with FMA: the sets setup.py builds for) where present."""
    isas = ["baseline"]
    if tgr_cpu_avx2():
        isas.append("avx2")
    if tgr_cpu_avx512():
        isas.append("avx512")
    return tuple(isas)
