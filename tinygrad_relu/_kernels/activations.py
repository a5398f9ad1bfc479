"""The activation kernels (cysrc/activations.pyx), from the build that suits this CPU.

setup.py compiles cysrc/activations.pyx once per instruction set: ``baseline`` (x86-64's SSE2,
what a portable wheel may assume), ``avx2`` and ``avx512`` (AVX-512 F, VL, DQ, BW), the latter two
where the compiler accepts the flags. This module imports the widest build the CPU runs and
exposes its functions, so ``from tinygrad_relu._kernels import activations`` works as before. The
builds compute bit-identical results (no FMA contraction, no reassociation): only the width of
their packed loops differs.

TINYGRAD_RELU_ISA=baseline|avx2|avx512, read once at import, forces a build (to test or measure
each). Forcing one the CPU cannot run, or one that was not built, raises instead of falling back.
"""
import importlib
import importlib.util
import os

from . import cpu

ISAS = ("baseline", "avx2", "avx512")  # narrowest first


def _built(isa):
    try:
        return importlib.import_module(f"{__package__}.activations_{isa}")
    except ImportError:
        return None


def _choose():
    supported = cpu.supported_isas()
    forced = os.environ.get("TINYGRAD_RELU_ISA", "").strip().lower()
    if forced:
        if forced not in ISAS:
            raise ValueError(f"TINYGRAD_RELU_ISA={forced!r}: expected one of {', '.join(ISAS)}")
        if forced not in supported:
            raise RuntimeError(f"TINYGRAD_RELU_ISA={forced!r}: this CPU supports only {', '.join(supported)}")
        module = _built(forced)
        if module is None:
            raise ImportError(f"TINYGRAD_RELU_ISA={forced!r}: the activation kernels were not built for {forced} "
                              "(the compiler rejected its flags; see setup.py's output)")
        return forced, module
    for isa in reversed(supported):
        module = _built(isa)
        if module is not None:
            return isa, module
    raise ImportError("tinygrad_relu: no build of the activation kernels found; build them with "
                      "`python setup.py build_ext --inplace` or `pip install .`")


ISA, _module = _choose()
globals().update({name: value for name, value in vars(_module).items() if not name.startswith("__")})
del _module


def built_isas():
    """The builds present, narrowest first (each importable where the CPU supports it)."""
    return tuple(isa for isa in ISAS if importlib.util.find_spec(f"{__package__}.activations_{isa}") is not None)
