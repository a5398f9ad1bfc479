"""tinygrad_relu/_memory.py: on Linux with glibc, a training loop's large arrays are reused from the heap instead of
coming back as new pages (page faults) every step; the switch and glibc's own variables turn it off."""
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
