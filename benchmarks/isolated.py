"""Each contender timed alone: one child process per contender and per round, rounds alternated.

Why: timed in one process, our OpenMP/OpenBLAS threads and PyTorch's spin and compete after
every switch, and that slowed PyTorch more than us (issue 18: the lead of issue 6 mostly
disappeared once each side ran alone). Here a round runs one child per contender, one after
the other, in the order ours, peer / peer, ours / ours, peer ... (ABBA), so slow drift in the
machine's load hits both alike; each child imports only what its contender needs, runs its
warm-up and then its timed steps, and prints one JSON line. The comparison uses the median
over rounds of each child's median, and the fastest single step.

The children inherit the parent's environment plus the thread settings, and optionally with
OpenBLAS' kernel choice changed (``blas_env``): on CPUs with AVX-512, OPENBLAS_CORETYPE=Haswell
holds numpy's OpenBLAS to AVX2 kernels, which PyTorch's oneDNN never is.
"""
import json
import os
import subprocess
import sys
import time

import numpy as np

THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
BLAS_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
BLAS_MODES = ("default", "unset", "haswell")


def child_env(threads, blas="default", extra=None):
    """The parent's environment with the thread count set for every runtime, and OpenBLAS' kernel
    choice: "default" (as inherited), "unset" (OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed: the
    kernel for the CPU OpenBLAS detects) or "haswell" (OPENBLAS_CORETYPE=Haswell: the AVX2 kernels)."""
    if blas not in BLAS_MODES:
        raise ValueError(f"blas mode must be one of {BLAS_MODES}, got {blas!r}")
    env = dict(os.environ, **{k: str(threads) for k in THREAD_ENV})
    if blas == "unset":
        for k in BLAS_VARIABLES:
            env.pop(k, None)
    elif blas == "haswell":
        env["OPENBLAS_CORETYPE"] = "Haswell"
    env.update(extra or {})
    return env


def openblas_core(env):
    """The kernel set numpy's OpenBLAS picks under ``env`` ("Core: ..." with OPENBLAS_VERBOSE=2), or None."""
    probe = dict(env, OPENBLAS_VERBOSE="2")
    try:
        run = subprocess.run([sys.executable, "-c", "import numpy"], env=probe, capture_output=True, text=True,
                             timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in (run.stdout + run.stderr).splitlines():
        if line.startswith("Core:"):
            return line.split(":", 1)[1].strip()
    return None


def blas_settings(env):
    """What the children see of OpenBLAS' kernel choice: the two variables and the resulting core."""
    return {"OPENBLAS_CORETYPE": env.get("OPENBLAS_CORETYPE"), "OPENBLAS_L2_SIZE": env.get("OPENBLAS_L2_SIZE"),
            "core": openblas_core(env)}


def import_error(module, env):
    """None if ``module`` imports in a child with ``env``, else why not (the exception's last line).

    Asked of a child so that the parent, which only orchestrates, never loads PyTorch's threads."""
    run = subprocess.run([sys.executable, "-c", f"import {module}"], env=env, capture_output=True, text=True,
                         timeout=300)
    if run.returncode == 0:
        return None
    last = (run.stderr.strip().splitlines() or [f"exit code {run.returncode}"])[-1]
    return f"{module} not importable ({last})"


def run_child(argv, env, timeout=1800):
    """Run one child; its last stdout line starting with "@@" is its JSON answer."""
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("@@"):
            return json.loads(line[2:])
    tail = (proc.stderr.strip().splitlines() or proc.stdout.strip().splitlines() or ["no output"])[-1]
    return {"error": f"child exited with code {proc.returncode}: {tail}"}


def alternate(commands, env, rounds, pause=0.5):
    """{name: [answer per round]} for commands {name: argv}, one child at a time, ABBA order.

    A child that fails ends that contender's rounds (its error is kept as its last answer).
    """
    answers = {name: [] for name in commands}
    names = list(commands)
    failed = set()
    for r in range(rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            if name in failed:
                continue
            time.sleep(pause)  # let the previous child's threads and pages go
            answer = run_child(commands[name], env)
            answers[name].append(answer)
            if "error" in answer:
                failed.add(name)
    return answers


def combine(answers, key="times"):
    """Per contender: median of the rounds' medians, the fastest value, every round's median."""
    good = [a for a in answers if "error" not in a and a.get(key)]
    if not good:
        return None
    medians = [float(np.median(a[key])) for a in good]
    every = np.concatenate([np.asarray(a[key], dtype=float) for a in good])
    return {"median_s": float(np.median(medians)), "min_s": float(every.min()),
            "round_medians_s": medians, "n": int(every.size), "rounds": len(good)}


def first_error(answers):
    for a in answers:
        if "error" in a:
            return a["error"]
    return None
