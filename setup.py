"""Build the Cython kernels in cysrc/ into tinygrad_relu._kernels.

Environment variables:
  TINYGRAD_RELU_NATIVE=1  compile with -march=native (the wheel then only runs on CPUs like this one)
  TINYGRAD_RELU_DEBUG=1   boundscheck/wraparound on, -O0 -g: an out-of-bounds index raises instead of corrupting memory
  TINYGRAD_RELU_NO_OPENMP=1  build without OpenMP even where the compiler supports it

The activation kernels are built once per instruction set (see ISA_VARIANTS) and the widest one
the CPU runs is chosen at import (tinygrad_relu/_kernels/_isa.py); so are the Winograd transforms.
"""
import glob
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

DEBUG = os.environ.get("TINYGRAD_RELU_DEBUG", "") not in ("", "0")
NATIVE = os.environ.get("TINYGRAD_RELU_NATIVE", "") not in ("", "0")
NO_OPENMP = os.environ.get("TINYGRAD_RELU_NO_OPENMP", "") not in ("", "0")

# The generated C and the compiled kernels depend on these settings as well as on their
# sources, and neither cythonize nor build_ext looks beyond file dates: after a debug build,
# a plain rebuild kept the bounds-checked C (4x slower Adam, 80x slower fused ReLU) under
# -O3. So the settings of the last build are kept in a stamp, and a change regenerates and
# recompiles everything.
FLAVOR = f"debug={DEBUG} native={NATIVE} no_openmp={NO_OPENMP}\n"
FLAVOR_STAMP = os.path.join("build", "tinygrad_relu-kernel-flavor")


def flavor_changed():
    try:
        with open(FLAVOR_STAMP) as f:
            return f.read() != FLAVOR
    except OSError:
        return True


FLAVOR_CHANGED = flavor_changed()


def compiler_supports_openmp(compiler):
    """Compile and link a tiny OpenMP program with the compiler setuptools will use."""
    if NO_OPENMP or sys.platform == "win32":
        return False
    tmp = tempfile.mkdtemp()
    try:
        src = os.path.join(tmp, "omp_check.c")
        with open(src, "w") as f:
            f.write("#include <omp.h>\nint main(void){return omp_get_max_threads() > 0 ? 0 : 1;}\n")
        objs = compiler.compile([src], output_dir=tmp, extra_postargs=["-fopenmp"])
        compiler.link_executable(objs, "omp_check", output_dir=tmp, extra_postargs=["-fopenmp"])
        return True
    except Exception:
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# Per-module compile flags, measured. conv: its im2col/col2im inner loops are a few bytes of
# copy/add run millions of times, and on an AMD EPYC (Zen) their speed followed where the
# linker happened to place them: after unrelated changes to conv.pyx the same machine code of
# col2im ran 1.3-1.45x slower (its hot loop now crossed a 64-byte line). Aligning loops to
# 32 bytes makes that deterministic: against the old build, im2col 0.66-0.84x, col2im
# 0.85-0.99x, the fused ReLU 0.67-0.96x, except im2col with one input channel (1.04-1.13x,
# its 3-element rows enter the padded loops often). activations and pool measured better or
# mixed without it, so they keep gcc's default.
MODULE_FLAGS = {"conv": ["-falign-loops=32"]}

# Run-time CPU dispatch: the modules in VARIANT_MODULES are compiled once per instruction set,
# as tinygrad_relu._kernels.<module>_<isa>, and tinygrad_relu/_kernels/<module>.py imports the
# widest one the CPU supports (cpu.pyx asks it). The portable wheel's baseline is SSE2; the same C
# compiled for AVX2 or AVX-512 runs its packed loops 2x or 4x wider. Both wide variants also get
# FMA (every AVX-512 CPU and every AVX2 CPU made has it; cpu.pyx checks): fastmath.h evaluates
# its polynomials with explicit fused multiply-adds there (TGR_MADD). -ffp-contract=off (for every
# variant) keeps gcc from fusing anything else, so the avx2 and avx512 builds give the same bits,
# the winograd transforms are the same bits in every build, and the baseline's activations and
# Winograd products (numpy's BLAS there, not winograd_gemm.h's FMA kernel) differ from the FMA
# builds' by rounding only (tests/test_isa_dispatch.py; the ulp bounds are tested on every
# build). A compiler that rejects a variant's flags gets the baseline only.
VARIANT_MODULES = ("activations", "winograd")
ISA_VARIANTS = {"baseline": [], "avx2": ["-mavx2", "-mfma"],
                "avx512": ["-mavx512f", "-mavx512vl", "-mavx512dq", "-mavx512bw", "-mfma",
                           "-mprefer-vector-width=512"]}
VARIANT_STUBS = os.path.join("build", "isa_variants")


def compiler_accepts(compiler, flags):
    """Compile a file that uses __builtin_cpu_supports with ``flags``: does this compiler take them?"""
    tmp = tempfile.mkdtemp()
    try:
        src = os.path.join(tmp, "isa_check.c")
        with open(src, "w") as f:
            f.write("int isa_check(void) { __builtin_cpu_init(); return __builtin_cpu_supports(\"avx2\"); }\n")
        compiler.compile([src], output_dir=tmp, extra_postargs=flags)
        return True
    except Exception:
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def variant_stub(module, isa):
    """build/isa_variants/<module>_<isa>.pyx: cysrc/<module>.pyx included under the variant's module name."""
    os.makedirs(VARIANT_STUBS, exist_ok=True)
    path = os.path.join(VARIANT_STUBS, f"{module}_{isa}.pyx")
    text = (f"# cython: language_level=3\n# Generated by setup.py: the {isa} build of cysrc/{module}.pyx.\n"
            f"include \"{module}.pyx\"\n")
    try:
        with open(path) as f:
            if f.read() == text:
                return path  # unchanged: keep its date, so cythonize does not regenerate it
    except OSError:
        pass
    with open(path, "w") as f:
        f.write(text)
    return path


class BuildExt(build_ext):
    def finalize_options(self):
        super().finalize_options()
        if not self.parallel:  # compile the modules (and their ISA variants) on every core
            self.parallel = os.cpu_count() or 1

    def run(self):
        super().run()
        if self.inplace or getattr(self, "editable_mode", False):
            # a kernel module built in place before it had ISA variants would shadow its dispatcher
            # (Python prefers an extension module to a .py of the same name)
            for module in VARIANT_MODULES:
                for suffix in ("so", "pyd"):
                    for stale in glob.glob(os.path.join("tinygrad_relu", "_kernels", f"{module}.*.{suffix}")):
                        os.remove(stale)

    def build_extensions(self):
        openmp = compiler_supports_openmp(self.compiler)
        opt = ["-O0", "-g"] if DEBUG else ["-O3"]
        if NATIVE:
            opt.append("-march=native")
        skipped = [isa for isa, flags in ISA_VARIANTS.items() if flags and not compiler_accepts(self.compiler, flags)]
        self.extensions = [ext for ext in self.extensions if VARIANT_ISA.get(ext.name) not in skipped]
        for ext in self.extensions:
            module_flags = [] if DEBUG else MODULE_FLAGS.get(ext.name.rsplit(".", 1)[-1], [])
            isa = VARIANT_ISA.get(ext.name)
            isa_flags = [] if isa is None else ISA_VARIANTS[isa] + ["-ffp-contract=off"]
            ext.extra_compile_args = (opt + ["-fno-math-errno", "-fno-trapping-math"] + module_flags + isa_flags
                                      + (["-fopenmp"] if openmp else []))
            ext.extra_link_args = ["-fopenmp"] if openmp else []
        print(f"tinygrad_relu: OpenMP {'on' if openmp else 'off'}, flags {' '.join(opt)}, ISA variants of "
              f"{', '.join(VARIANT_MODULES)}: {', '.join(i for i in ISA_VARIANTS if i not in skipped)}"
              + (f" (the compiler rejects {', '.join(skipped)})" if skipped else ""))
        if FLAVOR_CHANGED:
            self.force = True
        super().build_extensions()
        os.makedirs(os.path.dirname(FLAVOR_STAMP), exist_ok=True)
        with open(FLAVOR_STAMP, "w") as f:
            f.write(FLAVOR)


def extension(name, source):
    return Extension(
        f"tinygrad_relu._kernels.{name}",
        [source],
        include_dirs=[np.get_include(), "cysrc"],  # cysrc: fastmath.h
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]
        + ([("TGR_DEBUG_BUILD", "1")] if DEBUG else []),
    )


extensions = []
VARIANT_ISA = {}  # extension name -> its instruction set
for path in sorted(glob.glob("cysrc/*.pyx")):
    module = os.path.splitext(os.path.basename(path))[0]
    if module not in VARIANT_MODULES:
        extensions.append(extension(module, path))
        continue
    for isa in ISA_VARIANTS:
        extensions.append(extension(f"{module}_{isa}", variant_stub(module, isa)))
        VARIANT_ISA[extensions[-1].name] = isa

directives = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "initializedcheck": DEBUG,
    "cdivision": not DEBUG,
    "embedsignature": True,
}

setup(
    # include_path: the .pyx files cimport the shared argument checks, cysrc/kernel_args.pxd
    ext_modules=cythonize(extensions, compiler_directives=directives, force=DEBUG or FLAVOR_CHANGED,
                          include_path=["cysrc"], nthreads=os.cpu_count() or 1),
    cmdclass={"build_ext": BuildExt},
)
