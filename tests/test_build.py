"""How the kernels were built: OpenMP, thread control, and the debug build's bounds checks."""
import os

import numpy as np
import pytest

import tinygrad_relu as tr
from tinygrad_relu._kernels import threads

DEBUG_REQUESTED = os.environ.get("TINYGRAD_RELU_DEBUG", "") not in ("", "0")


def test_debug_flag_matches_the_environment_ci_built_with():
    # CI builds once normally and once with TINYGRAD_RELU_DEBUG=1 and runs the suite on each
    assert threads.debug_build() == DEBUG_REQUESTED


@pytest.mark.skipif(not threads.debug_build(), reason="bounds checks exist only in the debug build")
def test_debug_build_raises_on_out_of_bounds_index():
    values = np.arange(4.0)
    assert threads.bounds_probe(values, 3) == 3.0
    with pytest.raises(IndexError):
        threads.bounds_probe(values, 4)
    with pytest.raises(IndexError):  # wraparound off would read before the start
        threads.bounds_probe(values, -5)


def test_set_num_threads_round_trip():
    before = tr.get_num_threads()
    try:
        tr.set_num_threads(1)
        assert tr.get_num_threads() == 1
    finally:
        tr.set_num_threads(before)
    with pytest.raises(ValueError, match="at least 1"):
        tr.set_num_threads(0)


def test_the_sdist_ships_every_kernel_source(monkeypatch):
    """setup.py cythonizes cysrc/*.pyx, which cimport cysrc/*.pxd and include cysrc/*.h: an sdist
    (what pip builds from when it does not build in the source tree) without one of them fails
    to compile, so MANIFEST.in must select them all."""
    from setuptools.command.egg_info import FileList

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    monkeypatch.chdir(root)
    sources = sorted(os.path.join("cysrc", name) for name in os.listdir("cysrc")
                     if name.endswith((".pyx", ".pxd", ".h")))
    assert any(s.endswith(".h") for s in sources) and any(s.endswith(".pxd") for s in sources)
    selected = FileList()
    selected.set_allfiles(sources)
    with open("MANIFEST.in") as manifest:
        for line in manifest:
            if line.strip() and not line.lstrip().startswith("#"):
                selected.process_template_line(line)
    assert sorted(selected.files) == sources
