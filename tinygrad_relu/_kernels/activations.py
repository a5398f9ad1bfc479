"""The activation kernels (cysrc/activations.pyx), from the build that suits this CPU.

setup.py compiles cysrc/activations.pyx once per instruction set; this module imports the widest
build the CPU runs (_isa.py: how, and TINYGRAD_RELU_ISA to force one) and exposes its functions,
``ISA`` and ``built_isas()``, so ``from tinygrad_relu._kernels import activations`` works as before.
"""
from . import _isa

_isa.install(globals(), "activations", "activation kernels")
