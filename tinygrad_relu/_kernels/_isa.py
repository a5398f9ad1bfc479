"""Choosing among the per-instruction-set builds of a kernel module (setup.py's VARIANT_MODULES).

setup.py compiles such a module once per instruction set: ``baseline`` (x86-64's SSE2, what a
portable wheel may assume), ``avx2`` and ``avx512`` (AVX-512 F, VL, DQ, BW), the latter two where
the compiler accepts the flags, as ``tinygrad_relu._kernels.<module>_<isa>``. The avx2 and avx512
builds also use FMA: the activations' polynomials (fastmath.h) and the Winograd kernels' float32
products (winograd_gemm.h; the baseline multiplies through numpy's BLAS) are fused multiply-adds
there, so those two builds give the same bits and the baseline agrees with them to rounding;
nothing else is contracted or reassociated, and the Winograd transforms are the same bits in
every build.
``load`` imports the widest build the CPU runs.

TINYGRAD_RELU_ISA=baseline|avx2|avx512, read once per module at import, forces a build (to test or
measure each). Forcing one the CPU cannot run, or one that was not built, raises instead of
falling back.
"""
import importlib
import importlib.util
import os

from . import cpu

ISAS = ("baseline", "avx2", "avx512")  # narrowest first


def _built(module, isa):
    try:
        return importlib.import_module(f"{__package__}.{module}_{isa}")
    except ImportError:
        return None


def load(module, what):
    """(isa, the module's build for it); ``what`` names the kernels in error messages."""
    supported = cpu.supported_isas()
    forced = os.environ.get("TINYGRAD_RELU_ISA", "").strip().lower()
    if forced:
        if forced not in ISAS:
            raise ValueError(f"TINYGRAD_RELU_ISA={forced!r}: expected one of {', '.join(ISAS)}")
        if forced not in supported:
            raise RuntimeError(f"TINYGRAD_RELU_ISA={forced!r}: this CPU supports only {', '.join(supported)}")
        built = _built(module, forced)
        if built is None:
            raise ImportError(f"TINYGRAD_RELU_ISA={forced!r}: the {what} were not built for {forced} "
                              "(the compiler rejected its flags; see setup.py's output)")
        return forced, built
    for isa in reversed(supported):
        built = _built(module, isa)
        if built is not None:
            return isa, built
    raise ImportError(f"tinygrad_relu: no build of the {what} found; build them with "
                      "`python setup.py build_ext --inplace` or `pip install .`")


def built_isas(module):
    """The builds of ``module`` present, narrowest first (each importable where the CPU supports it)."""
    return tuple(isa for isa in ISAS if importlib.util.find_spec(f"{__package__}.{module}_{isa}") is not None)


def install(namespace, module, what):
    """Fill a dispatcher module's namespace: every public name of the chosen build, ``ISA`` (which
    build), ``ISAS`` and ``built_isas()``."""
    isa, built = load(module, what)
    namespace.update({name: value for name, value in vars(built).items() if not name.startswith("__")})

    def present():
        """The builds present, narrowest first (each importable where the CPU supports it)."""
        return built_isas(module)
    namespace.update(ISA=isa, ISAS=ISAS, built_isas=present)
