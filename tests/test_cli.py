"""The `tinygrad-relu` command: the demo's JSON shows claims 1-5; every subcommand runs and explains itself.

The demo runs once per session (module fixture, --quick: fewer epochs, same settings otherwise).
"""
import io
import json
import os
import pathlib
import subprocess
import sys

import pytest

from tinygrad_relu import cli, plot
from tinygrad_relu.lab import common, demo as demo_module

ROOT = pathlib.Path(__file__).resolve().parents[1]
ACTIVATIONS = ("relu", "leaky_relu", "elu", "gelu", "sigmoid", "tanh")


def run_module(args, cwd, timeout=300):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               MPLBACKEND="Agg")
    return subprocess.run([sys.executable, "-m", "tinygrad_relu", *args], cwd=str(cwd), env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    result = run_module(["demo", "--quick", "--seed", "0", "--out", str(out)], cwd=out)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    with open(out / "relu_demo.json") as f:
        report = json.load(f)
    return {"out": out, "stdout": result.stdout, "report": report}


def ratio(entry):
    norms = entry["grad_norms"]
    return norms[0] / norms[-1]


def test_demo_json_has_the_documented_keys(demo):
    report = demo["report"]
    for name in ACTIVATIONS:
        entry = report["activations"][name]
        for key in ("test_accuracy", "grad_norms", "sparsity", "dead_fraction", "seconds"):
            assert key in entry, (name, key)
        assert len(entry["grad_norms"]) == 11  # 10 hidden Dense layers + the output layer, input side first
        assert all(n > 0 for n in entry["grad_norms"])
        assert 0.0 <= entry["test_accuracy"] <= 1.0 and entry["seconds"] > 0
    for name in ("relu", "leaky_relu", "prelu", "elu"):
        assert 0.0 <= report["dying"][name]["dead_fraction"] <= 1.0
    assert set(report["kernels"]) >= {"relu", "sigmoid", "tanh", "gelu", "silu", "elu", "leaky_relu"}
    assert report["settings"]["compare"]["depth"] >= 8


def test_claim1_relu_is_sparse(demo):
    relu = demo["report"]["activations"]["relu"]
    assert 0.3 <= relu["sparsity"] <= 0.9
    assert all(0.3 <= s <= 0.7 for s in relu["sparsity_per_layer"])  # about half in every layer at init
    assert demo["report"]["activations"]["sigmoid"]["sparsity"] == 0.0  # sigmoid never outputs an exact 0


def test_claim2_vanishing_gradients_and_learning(demo):
    acts = demo["report"]["activations"]
    assert ratio(acts["sigmoid"]) <= ratio(acts["relu"]) / 10
    assert ratio(acts["relu"]) > 0.01  # "of order one", within the input-width factor
    assert acts["relu"]["test_accuracy"] > acts["sigmoid"]["test_accuracy"]
    assert acts["relu"]["test_accuracy"] > 0.8


def test_claim3_dying_relu(demo):
    dying = demo["report"]["dying"]
    assert dying["relu"]["dead_fraction"] >= 0.2
    assert dying["leaky_relu"]["dead_fraction"] < 0.05
    assert dying["elu"]["dead_fraction"] < 0.05 and dying["prelu"]["dead_fraction"] < 0.05
    # ReLU's dead units never recover; Leaky ReLU's inactive units do
    assert dying["relu"]["dead_fraction"] >= dying["relu"]["dead_fraction_init"] - 0.05
    assert dying["leaky_relu"]["inactive_fraction"] < dying["leaky_relu"]["inactive_fraction_init"]
    large_lr = demo["report"]["dying_large_lr"]["relu"]
    assert large_lr["dead_fraction"] > large_lr["dead_fraction_init"]  # units die during training


def test_claim4_and_5(demo):
    report = demo["report"]
    for entry in report["kernels"].values():
        assert entry["total_ns"] > 0 and entry["forward_ns"] > 0 and entry["backward_ns"] > 0
    nonlin = report["nonlinearity"]
    assert nonlin["linear_stack"]["test_accuracy"] < 0.7
    assert nonlin["one_relu_layer"]["test_accuracy"] > nonlin["linear_stack"]["test_accuracy"] + 0.2


def test_demo_prints_tables_and_readings(demo):
    stdout = demo["stdout"]
    for claim in range(1, 6):
        assert f"Claim {claim} -" in stdout
    assert stdout.count("Reading:") >= 5
    assert "of the gradient its last layer gets" in stdout
    assert "relu_demo.json" in stdout


def test_demo_figure_or_one_line_note(demo):
    png = demo["out"] / "relu_demo.png"
    if plot.available():
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert demo["report"]["figure"] == "relu_demo.png"
    else:
        assert not png.exists()
        assert 'pip install "tinygrad_relu[plot]"' in demo["stdout"]


def test_write_figure_without_matplotlib_says_so(monkeypatch, tmp_path):
    monkeypatch.setattr(plot, "available", lambda: False)
    messages = []
    assert demo_module.write_figure({}, {}, str(tmp_path / "relu_demo.png"), messages.append) is False
    assert len(messages) == 1 and 'pip install "tinygrad_relu[plot]"' in messages[0]
    assert not (tmp_path / "relu_demo.png").exists()


def test_help_explains_every_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    top = capsys.readouterr().out
    for command in ("demo", "compare", "dying", "kernels"):
        assert command in top
        with pytest.raises(SystemExit):
            cli.main([command, "--help"])
        text = capsys.readouterr().out
        description = text.split("\n\n")[1]  # usage, blank line, the two-line explanation
        assert len(description.strip().splitlines()) == 2, (command, description)


def test_no_command_prints_help(capsys):
    assert cli.main([]) == 0
    assert "demo" in capsys.readouterr().out


def test_compare_small_run_writes_json(tmp_path, capsys):
    path = tmp_path / "compare.json"
    code = cli.main(["compare", "--activations", "relu,sigmoid", "--depth", "3", "--width", "8", "--epochs", "2",
                     "--samples", "120", "--dataset", "moons", "--json", str(path)])
    assert code == 0
    out = capsys.readouterr().out
    assert "first/last" in out and "Reading:" in out
    result = json.loads(path.read_text())
    assert list(result["results"]) == ["relu", "sigmoid"]
    assert len(result["results"]["relu"]["grad_norms"]) == 4
    assert result["settings"]["dataset"] == "moons"


def test_dying_and_kernels_small_runs(capsys):
    assert cli.main(["dying", "--activations", "relu,leaky_relu", "--epochs", "1", "--samples", "90",
                     "--depth", "2", "--width", "8", "--scenario", "lr"]) == 0
    out = capsys.readouterr().out
    assert "dead at init" in out and "learning rate 0.05" in out
    assert cli.main(["kernels", "--activations", "relu,tanh", "--size", "4096", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "ns/el" in out and "tanh" in out


def test_errors_exit_2_with_a_message(capsys):
    assert cli.main(["compare", "--activations", "relu,swishy", "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert "swishy" in err
    with pytest.raises(SystemExit):
        cli.main(["compare", "--depth", "0"])
    assert "must be positive" in capsys.readouterr().err


def test_one_in_reads_small_ratios():
    assert common.one_in(1 / 4000) == "1/4,000"
    assert common.one_in(7.63e-8) == "1/13,000,000"
    assert common.one_in(0.29) == "0.29 times"
    assert common.one_in(0.0) == "nothing"


def test_console_script_declared():
    assert 'tinygrad-relu = "tinygrad_relu.cli:main"' in (ROOT / "pyproject.toml").read_text()


def test_out_stream_flushes():
    stream = io.StringIO()
    common.Out(stream)("hello", end="")
    assert stream.getvalue() == "hello"
