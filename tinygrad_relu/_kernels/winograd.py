"""The Winograd transforms (cysrc/winograd.pyx), from the build that suits this CPU.

Built once per instruction set like the activation kernels (_isa.py): the tile transforms work on
16-channel GCC vectors (cysrc/winograd_math.h), one AVX-512 register or four SSE2 ones, and every
build gives the same bits.
"""
from . import _isa

_isa.install(globals(), "winograd", "Winograd transforms")
