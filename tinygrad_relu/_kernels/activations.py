"""The activation kernels (cysrc/activations.pyx), from the build that suits this CPU.

setup.py compiles cysrc/activations.pyx once per instruction set; this module imports the widest
build the CPU runs (_isa.py: how, and TINYGRAD_RELU_ISA to force one) and exposes its functions,
so ``from tinygrad_relu._kernels import activations`` works as before.
"""
from . import _isa

ISAS = _isa.ISAS
ISA, _module = _isa.load("activations", "activation kernels")
globals().update(_isa.public(_module))
del _module


def built_isas():
    """The builds present, narrowest first (each importable where the CPU supports it)."""
    return _isa.built_isas("activations")
