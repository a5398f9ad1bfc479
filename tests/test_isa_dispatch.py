"""Run-time CPU dispatch of the activation kernels and the Winograd transforms (setup.py's ISA_VARIANTS,
_kernels/_isa.py).

The avx2 and avx512 builds of the activations evaluate fastmath.h's polynomials with fused
multiply-adds and must give the same bits as each other; the baseline (SSE2, no FMA) must agree
with them to rounding, for every kernel, forward and backward, float32 and float64, on random
values, the exp/erfc tails and the special values. tests/test_activations.py's ulp bounds and
references run on the build the machine picks, and once more under each build forced with
TINYGRAD_RELU_ISA, in a subprocess. The Winograd builds fuse nothing: all give the same bits.
"""
import importlib
import os
import subprocess
import sys

import numpy as np
import pytest

from tinygrad_relu._kernels import activations, cpu

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNNABLE = [isa for isa in activations.built_isas() if isa in cpu.supported_isas()]


def build(isa):
    return importlib.import_module(f"tinygrad_relu._kernels.activations_{isa}")


def kernels(K):
    """name -> (forward(x), backward(g, x, y)) of one build, every def with its settings."""
    return {
        "relu": (K.relu_forward, lambda g, x, y: K.relu_backward(g, y)),
        "leaky_relu": (lambda x: K.leaky_relu_forward(x, 0.2), lambda g, x, y: K.leaky_relu_backward(g, y, 0.2)),
        "relu6": (lambda x: K.clipped_relu_forward(x, 6.0), lambda g, x, y: K.clipped_relu_backward(g, y, 6.0)),
        "relu_general": (lambda x: K.relu_general_forward(x, 0.1, 5.0, 0.5),
                         lambda g, x, y: K.relu_general_backward(g, x, 0.1, 5.0, 0.5)),
        "elu": (K.elu_forward, lambda g, x, y: K.elu_backward(g, x)),
        "selu": (lambda x: K.elu_forward(x, K.SELU_ALPHA, K.SELU_SCALE),
                 lambda g, x, y: K.elu_backward(g, x, K.SELU_ALPHA, K.SELU_SCALE)),
        "gelu": (K.gelu_forward, lambda g, x, y: K.gelu_backward(g, x)),
        "gelu_tanh": (lambda x: K.gelu_forward(x, True), lambda g, x, y: K.gelu_backward(g, x, True)),
        "silu": (K.silu_forward, lambda g, x, y: K.silu_backward(g, x)),
        "sigmoid": (K.sigmoid_forward, lambda g, x, y: K.sigmoid_backward(g, y)),
        "hard_sigmoid": (K.hard_sigmoid_forward, lambda g, x, y: K.hard_sigmoid_backward(g, x)),
        "tanh": (K.tanh_forward, lambda g, x, y: K.tanh_backward(g, y)),
        "softplus": (K.softplus_forward, lambda g, x, y: K.softplus_backward(g, x)),
        "softsign": (K.softsign_forward, lambda g, x, y: K.softsign_backward(g, x)),
        "mish": (K.mish_forward, lambda g, x, y: K.mish_backward(g, x)),
        "softmax": (K.softmax_forward, lambda g, x, y: K.softmax_backward(g, y)),
        "log_softmax": (K.log_softmax_forward, lambda g, x, y: K.log_softmax_backward(g, y)),
    } | {f"fast_{name}": (lambda x, name=name: K.fast_math(name, x), None) for name in K.PRIMITIVES}


def inputs(dtype):
    """(37, 100) values: random of several scales, a linear sweep over the tails, and the specials.

    37 rows of 100 cover a vector body, remainders and, for the softmax family, whole rows.
    """
    rng = np.random.default_rng(11)
    big = 700.0 if dtype == np.float64 else 88.0
    parts = [rng.standard_normal(1200) * 3, rng.standard_normal(600) * 30, rng.uniform(-1e-3, 1e-3, 300),
             np.linspace(-big * 1.05, big * 1.05, 1500),
             np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-40, -1e-40, 6.0, -3.0, 3.0, 40.0, -1.0] * 25)]
    return np.concatenate(parts)[:3700].astype(dtype).reshape(37, 100)


def outputs(K, dtype):
    """name -> the forward output and, where there is one, the backward's, of every kernel of build K."""
    x = inputs(dtype)
    g = np.random.default_rng(12).standard_normal(x.shape).astype(dtype)
    out = {}
    with np.errstate(all="ignore"):
        for name, (forward, backward) in kernels(K).items():
            y = forward(x)
            out[name] = (y,) if backward is None else (y, backward(g, x, y))
    return out


FMA_BUILDS = [isa for isa in RUNNABLE if isa != "baseline"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.skipif(len(FMA_BUILDS) < 2, reason="needs a CPU that runs both the avx2 and the avx512 build")
def test_the_fma_builds_give_the_same_bits(dtype):
    """avx2 and avx512 fuse the same multiply-adds (fastmath.h's TGR_MADD) and nothing else."""
    first, *rest = FMA_BUILDS
    want = outputs(build(first), dtype)
    for isa in rest:
        for name, arrays in outputs(build(isa), dtype).items():
            for i, (got, ref) in enumerate(zip(arrays, want[name])):
                np.testing.assert_array_equal(got, ref, err_msg=f"{name} {('forward', 'backward')[i]}, {isa}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("isa", FMA_BUILDS)
def test_every_build_agrees_with_the_baseline_to_rounding(isa, dtype):
    """The baseline rounds each polynomial step twice, the FMA builds once: the same NaN, the same
    infinities, finite values within 4 eps (relative, or absolute where a backward's terms cancel;
    the values here are of order 1 to 30). Each build's own ulp bounds against float64 references
    are checked by test_activation_accuracy_tests_pass_on_every_build."""
    eps = np.finfo(dtype).eps
    base, other = outputs(build("baseline"), dtype), outputs(build(isa), dtype)
    for name, arrays in base.items():
        for i, (ref, got) in enumerate(zip(arrays, other[name])):
            what = f"{name} {('forward', 'backward')[i]}, {isa}"
            finite = np.isfinite(ref)
            np.testing.assert_array_equal(got[~finite], ref[~finite], err_msg=what)
            np.testing.assert_allclose(got[finite], ref[finite], rtol=4 * eps, atol=4 * eps, err_msg=what)
    # and the fused multiply-adds are there: exp's polynomial rounds differently somewhere
    assert not np.array_equal(base["fast_exp"][0], other["fast_exp"][0])


def test_the_widest_runnable_build_is_chosen():
    assert activations.ISA == RUNNABLE[-1]
    assert activations.relu_forward.__module__ == f"tinygrad_relu._kernels.activations_{activations.ISA}"


def test_this_machine_has_the_variants_the_compiler_could_build():
    """setup.py builds all three with gcc or clang on x86-64; a missing one here means the build
    silently dropped it (it prints which ones it skipped)."""
    import platform
    if platform.machine() not in ("x86_64", "AMD64"):
        pytest.skip("ISA variants exist for x86-64 only")
    from tinygrad_relu._kernels import winograd
    assert activations.built_isas() == ("baseline", "avx2", "avx512")
    assert winograd.built_isas() == ("baseline", "avx2", "avx512")


def run_forced(isa, code):
    env = dict(os.environ, TINYGRAD_RELU_ISA=isa)
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.parametrize("isa", RUNNABLE)
def test_the_environment_variable_forces_a_build(isa):
    run = run_forced(isa, "from tinygrad_relu._kernels import activations as A; print(A.ISA, A.gelu_forward.__module__)")
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == [isa, f"tinygrad_relu._kernels.activations_{isa}"]


def test_forcing_an_unknown_or_unsupported_build_raises():
    run = run_forced("sse9", "import tinygrad_relu")
    assert run.returncode != 0 and "TINYGRAD_RELU_ISA='sse9': expected one of baseline, avx2, avx512" in run.stderr
    missing = [isa for isa in ("avx2", "avx512") if isa not in cpu.supported_isas()]
    if missing:
        run = run_forced(missing[0], "import tinygrad_relu")
        assert run.returncode != 0 and "this CPU supports only" in run.stderr


@pytest.mark.slow
@pytest.mark.parametrize("isa", RUNNABLE)
def test_activation_accuracy_tests_pass_on_every_build(isa):
    """tests/test_activations.py's ulp bounds and references, with the build forced."""
    env = dict(os.environ, TINYGRAD_RELU_ISA=isa)
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x",
                          "tests/test_activations.py"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert " passed" in run.stdout


def winograd_outputs(K, dtype, own=False):
    """Every Winograd kernel def of one build on the same random problems: the fused forward and
    backward (both m, partial tiles, a channel count 16 does not divide, two problems in sixteens) and
    the unfused transforms. own: let the fused kernels multiply in the build's own kernel where it
    applies."""
    from tinygrad_relu.ops import winograd as ops
    rng = np.random.default_rng(5)
    out = []
    for (H, C, Kc, m, pad) in [(10, 16, 16, 4, 0), (9, 20, 24, 4, 1), (12, 16, 35, 2, 1), (7, 3, 5, 2, 0),
                               (8, 32, 48, 2, 1)]:
        x = rng.standard_normal((2, H, H, C)).astype(dtype)
        U = ops.filter_transform(rng.standard_normal((3, 3, C, Kc)).astype(dtype), m)
        bias = rng.standard_normal(Kc).astype(dtype)
        oh = H + 2 * pad - 2
        th = -(-oh // m)
        T, cells = 2 * th * th, (m + 2) ** 2
        y, V = np.empty((2, oh, oh, Kc), dtype), np.empty((cells, T, C), dtype)
        K.winograd_forward_fused(x, U, y, bias, V, m, pad, pad, True, ops.GEMM, 262144, 2, True, own)
        dy = rng.standard_normal(y.shape).astype(dtype)
        dM, dx, dU = np.empty((cells, T, Kc), dtype), np.empty_like(x), np.empty((cells, C, Kc), dtype)
        K.winograd_backward_fused(dy, U, V, dM, dx, dU, m, pad, pad, ops.GEMM, 262144, 2, True, y, 0, own)  # y: ReLU
        V2, y2 = np.empty_like(V), np.empty_like(y)
        K.winograd_input(x, V2, m, pad, pad, oh, oh, False)
        K.winograd_output(rng.standard_normal((cells, T, Kc)).astype(dtype), y2, bias, m, True, False)
        dM2, dx2 = np.empty_like(dM), np.empty_like(x)
        K.winograd_output_grad(dy, dM2, m, False)
        K.winograd_input_grad(rng.standard_normal(V.shape).astype(dtype), dx2, m, pad, pad, oh, oh, False)
        out += [y, V, dM, dx, dU, V2, y2, dM2, dx2]
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_winograd_build_the_cpu_runs_is_bit_identical_to_the_baseline(dtype):
    """The transforms, and the fused kernels with numpy's CBLAS multiplying (own=False)."""
    from tinygrad_relu._kernels import winograd
    from tinygrad_relu.ops import winograd as ops
    if ops.GEMM is None:
        pytest.skip("no CBLAS for the fused kernels")
    runnable = [isa for isa in winograd.built_isas() if isa in cpu.supported_isas()]
    assert runnable[0] == "baseline" and winograd.ISA == runnable[-1]
    reference = winograd_outputs(importlib.import_module("tinygrad_relu._kernels.winograd_baseline"), dtype)
    for isa in runnable[1:]:
        for i, (a, b) in enumerate(zip(winograd_outputs(importlib.import_module(f"tinygrad_relu._kernels.winograd_{isa}"),
                                                        dtype), reference)):
            np.testing.assert_array_equal(a, b, err_msg=f"output {i}, {isa}")


def test_the_fma_builds_own_products_agree_with_each_other_bit_for_bit_and_with_the_baseline():
    """float32 with the own kernel (cysrc/winograd_gemm.h): one FMA chain per element in the same
    order under AVX2 and AVX-512, so the same bits; the baseline multiplies through numpy's CBLAS
    (no FMA build of the kernel), equal to rounding."""
    from tinygrad_relu._kernels import winograd
    from tinygrad_relu.ops import winograd as ops
    if ops.GEMM is None:
        pytest.skip("no CBLAS for the fused kernels")
    fma = [isa for isa in winograd.built_isas() if isa in cpu.supported_isas() and isa != "baseline"]
    if not fma:
        pytest.skip("the CPU runs no FMA build")
    first_module = importlib.import_module(f"tinygrad_relu._kernels.winograd_{fma[0]}")
    assert first_module.own_gemm(np.float32, 16, 16)  # the first problem below is the own kernel's
    reference = winograd_outputs(importlib.import_module("tinygrad_relu._kernels.winograd_baseline"), np.float32, True)
    first = winograd_outputs(first_module, np.float32, True)
    for i, (a, b) in enumerate(zip(first, reference)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * max(1.0, np.abs(b).max()), err_msg=f"output {i}")
    for isa in fma[1:]:
        other = winograd_outputs(importlib.import_module(f"tinygrad_relu._kernels.winograd_{isa}"), np.float32, True)
        for i, (a, b) in enumerate(zip(other, first)):
            np.testing.assert_array_equal(a, b, err_msg=f"output {i}, {isa} against {fma[0]}")
