"""Build the Cython kernels in cysrc/ into tinygrad_relu._kernels.

Environment variables:
  TINYGRAD_RELU_NATIVE=1  compile with -march=native (the wheel then only runs on CPUs like this one)
  TINYGRAD_RELU_DEBUG=1   boundscheck/wraparound on, -O0 -g: an out-of-bounds index raises instead of corrupting memory
  TINYGRAD_RELU_NO_OPENMP=1  build without OpenMP even where the compiler supports it
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


class BuildExt(build_ext):
    def build_extensions(self):
        openmp = compiler_supports_openmp(self.compiler)
        opt = ["-O0", "-g"] if DEBUG else ["-O3"]
        if NATIVE:
            opt.append("-march=native")
        for ext in self.extensions:
            module_flags = [] if DEBUG else MODULE_FLAGS.get(ext.name.rsplit(".", 1)[-1], [])
            ext.extra_compile_args = (opt + ["-fno-math-errno", "-fno-trapping-math"] + module_flags
                                      + (["-fopenmp"] if openmp else []))
            ext.extra_link_args = ["-fopenmp"] if openmp else []
        print(f"tinygrad_relu: OpenMP {'on' if openmp else 'off'}, flags {' '.join(opt)}")
        if FLAVOR_CHANGED:
            self.force = True
        super().build_extensions()
        os.makedirs(os.path.dirname(FLAVOR_STAMP), exist_ok=True)
        with open(FLAVOR_STAMP, "w") as f:
            f.write(FLAVOR)


extensions = [
    Extension(
        f"tinygrad_relu._kernels.{os.path.splitext(os.path.basename(path))[0]}",
        [path],
        include_dirs=[np.get_include(), "cysrc"],  # cysrc: fastmath.h
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]
        + ([("TGR_DEBUG_BUILD", "1")] if DEBUG else []),
    )
    for path in sorted(glob.glob("cysrc/*.pyx"))
]

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
                          include_path=["cysrc"]),
    cmdclass={"build_ext": BuildExt},
)
