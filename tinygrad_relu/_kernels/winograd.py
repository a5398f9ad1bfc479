"""The Winograd transforms (cysrc/winograd.pyx), from the build that suits this CPU.

Built once per instruction set like the activation kernels (_isa.py): the tile transforms work on
16-channel GCC vectors (cysrc/winograd_math.h), one AVX-512 register or four SSE2 ones, and every
build gives the same bits.
"""
from . import _isa

ISAS = _isa.ISAS
ISA, _module = _isa.load("winograd", "Winograd transforms")
globals().update(_isa.public(_module))
del _module


def built_isas():
    """The builds present, narrowest first (each importable where the CPU supports it)."""
    return _isa.built_isas("winograd")
