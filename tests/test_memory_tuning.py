"""tinygrad_relu/_memory.py: on Linux with glibc, a training loop's large arrays are reused from the heap instead of
coming back as new pages (page faults) every step; the switch and glibc's own variables turn it off. And the layers'
scratch buffers ask for 4 KiB pages instead of numpy's huge ones."""
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")

STEPS = """
import resource, numpy as np, tinygrad_relu
x = np.ones(4_000_000, np.float32)  # 16 MB arrays, freed and made again every step, as activations are
def step():
    a = x * 2; b = a + 1; del a, b
for _ in range(3): step()
f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20): step()
print(tinygrad_relu._memory.MALLOC_TUNED, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
"""


def faults(**env):
    run = subprocess.run([sys.executable, "-c", STEPS], env=dict(os.environ, **env), capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    tuned, count = run.stdout.split()
    return tuned == "True", int(count)


def test_large_arrays_are_reused_without_page_faults():
    tuned, count = faults()
    if not tuned:
        pytest.skip("not glibc: mallopt has no effect here")
    assert count < 500  # 20 steps x 2 arrays x 3,900 pages each would fault without it
    untuned, default_count = faults(TINYGRAD_RELU_MALLOC_TUNING="0")
    assert not untuned and default_count > 20 * count + 5000


def test_glibc_variables_set_by_the_user_win():
    tuned, _ = faults(MALLOC_TRIM_THRESHOLD_="131072")
    assert not tuned


# ---- the layers' scratch buffers in 4 KiB pages (_memory.empty) -----------------------------------
VMFLAGS = """
import sys, numpy as np
from tinygrad_relu import _memory
from tinygrad_relu.ops.convolution import Workspace

def flags(array):
    # the VmFlags of the mapping that holds the array's first whole page
    address = -(-array.ctypes.data // 4096) * 4096
    inside = False
    with open("/proc/self/smaps") as f:
        for line in f:
            head = line.split()[0]
            if "-" in head and not head.endswith(":"):
                start, end = (int(v, 16) for v in head.split("-"))
                inside = start <= address < end
            elif inside and head == "VmFlags:":
                return set(line.split()[1:])

big = (3_000_000,)  # 12 MB: numpy asks for huge pages from 4 MB on
print(int("nh" in flags(_memory.empty(big, np.float32))), int("nh" in flags(Workspace().take("t", big, np.float32))),
      int("nh" in flags(np.empty(big, np.float32))), int("nh" in flags(_memory.empty((1000,), np.float64))))
"""


def vm_flags(**env):
    run = subprocess.run([sys.executable, "-c", VMFLAGS], env=dict(os.environ, **env), capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    return [bool(int(v)) for v in run.stdout.split()]


def test_workspace_buffers_ask_for_small_pages_and_nothing_else_does():
    """_memory.empty and the Workspace built on it mark their pages no-huge-page (VmFlags "nh");
    numpy's own arrays and small ones (no whole page to mark, and numpy asks nothing) keep theirs."""
    empty, workspace, numpy_own, small = vm_flags()
    assert empty and workspace
    assert not numpy_own and not small


def test_the_switch_leaves_numpys_huge_pages():
    assert vm_flags(TINYGRAD_RELU_HUGEPAGES="1") == [False, False, False, False]
