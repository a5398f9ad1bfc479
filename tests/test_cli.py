"""The `tinygrad-relu` command: the demo's JSON shows claims 1-5; every subcommand runs and explains itself.

The demo runs once per session with seed 0 (conftest's demo_run; test_lab_readings.py reads the same run).
"""
import io
import json
import pathlib

import numpy as np
import pytest

from tinygrad_relu import cli, plot, utils
from tinygrad_relu.lab import common, demo as demo_module

ROOT = pathlib.Path(__file__).resolve().parents[1]
ACTIVATIONS = ("relu", "leaky_relu", "elu", "gelu", "sigmoid", "tanh")
DYING = ("relu", "leaky_relu_0.01", "leaky_relu_0.2", "prelu", "elu")


@pytest.fixture(scope="module")
def demo(demo_run):
    return demo_run(0)


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
    # the stable names of issue 15: lists per layer, input side first
    for optimizer in ("sgd", "adam"):
        for name in ACTIVATIONS:
            entry = report["vanishing"][optimizer][name]
            assert len(entry["act_grad_norms"]) == 10  # |dL/dh| of the 10 hidden layers
            assert len(entry["weight_grad_rms"]) == 11 and len(entry["weight_rel_change"]) == 11
            assert all(v > 0 for v in entry["act_grad_norms"] + entry["weight_grad_rms"] + entry["weight_rel_change"])
            assert 0.0 <= entry["test_accuracy"] <= 1.0
        assert report["settings"]["vanishing"][optimizer]["optimizer"] == optimizer
    assert report["vanishing"]["adam"]["relu"]["test_accuracy"] == report["activations"]["relu"]["test_accuracy"]
    for scenario in ("bias", "lr"):
        for name in DYING:
            entry = report["dying"][scenario][name]
            for key in ("dead_at_init", "died_in_training", "revived", "dead_trained", "test_accuracy"):
                assert 0.0 <= entry[key] <= 1.0, (scenario, name, key)
            # the split adds up: dead at the end = dead at init - revived + died
            assert entry["dead_trained"] == pytest.approx(entry["dead_at_init"] - entry["revived"]
                                                          + entry["died_in_training"])
            assert entry["dead_trained"] == pytest.approx(entry["dead_fraction"])  # the monitor's last record
    assert set(report["kernels"]) >= {"relu", "sigmoid", "tanh", "gelu", "silu", "elu", "leaky_relu"}
    assert report["settings"]["compare"]["depth"] >= 8


def test_same_initial_weights_for_both_optimizers(demo):
    """Claim 2's measurements at initialization do not depend on the optimizer that trains afterwards."""
    vanishing = demo["report"]["vanishing"]
    for name in ACTIVATIONS:
        assert vanishing["sgd"][name]["act_grad_norms"] == vanishing["adam"][name]["act_grad_norms"]
        assert vanishing["sgd"][name]["weight_rel_change"] != vanishing["adam"][name]["weight_rel_change"]


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
    bias, large_lr = demo["report"]["dying"]["bias"], demo["report"]["dying"]["lr"]
    assert bias["relu"]["dead_trained"] >= 0.2 and bias["relu"]["revived"] == 0.0
    for name in ("leaky_relu_0.01", "leaky_relu_0.2", "elu", "prelu"):
        assert bias[name]["dead_trained"] < 0.05
    assert bias["leaky_relu_0.2"]["inactive_fraction"] < bias["leaky_relu_0.2"]["inactive_fraction_init"]
    assert large_lr["relu"]["died_in_training"] > 0.2  # units alive at init die during training


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
    assert stdout.count("Reading:") >= 8
    assert "|dL/dh| 1" in stdout and "died in training" in stdout
    assert "relu_demo.json" in stdout


@pytest.mark.slow
def test_demo_quick_runs_the_same_claims(tmp_path):
    """--quick: fewer epochs and a smaller kernel benchmark, the same report (here without the slow parts)."""
    report = demo_module.demo(out=str(tmp_path), quick=True, figures=False, say=common.Out(quiet=True))
    assert report["quick"] is True and report["settings"]["compare"]["epochs"] == 15
    assert set(report["dying"]) == {"bias", "lr"} and set(report["vanishing"]) == {"sgd", "adam"}
    assert json.loads((tmp_path / "relu_demo.json").read_text())["seed"] == 0


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
    assert "first/last" in out and "Reading:" in out and "per layer" in out
    result = json.loads(path.read_text())
    assert list(result["results"]) == ["relu", "sigmoid"]
    assert len(result["results"]["relu"]["grad_norms"]) == 4
    assert len(result["results"]["relu"]["act_grad_norms"]) == 3
    assert result["settings"]["dataset"] == "moons"


def test_compare_readings_without_sigmoid(capsys):
    assert cli.main(["compare", "--activations", "relu,tanh", "--depth", "3", "--width", "8", "--epochs", "1",
                     "--samples", "120"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "going back one layer, |dL/dh| is multiplied on average by: relu" in out
    assert "sigmoid" not in out.split("Reading:")[1]  # nothing said about a net that was not trained


def test_leaky_relu_with_a_slope_in_the_name():
    x = np.random.default_rng(0).standard_normal((16, 2)).astype(np.float32)
    outputs = {}
    for name in ("leaky_relu", "leaky_relu_0.2", "leaky_relu_0.01"):
        utils.set_random_seed(0)
        model = common.build_mlp(name, 2, 8, 2, 3)
        outputs[name] = model.predict(x, verbose=0)
    slopes = [layer.negative_slope for layer in model.layers if type(layer).__name__ == "LeakyReLU"]
    assert slopes == [0.01, 0.01]
    # plain leaky_relu is Keras' function, slope 0.2: the same net as leaky_relu_0.2
    np.testing.assert_allclose(outputs["leaky_relu"], outputs["leaky_relu_0.2"], rtol=1e-6, atol=1e-7)
    assert not np.allclose(outputs["leaky_relu_0.01"], outputs["leaky_relu_0.2"])
    assert common.leaky_slope("relu") is None and common.leaky_slope("leaky_relu_0.05") == 0.05
    for bad in ("leaky_relu_x", "leaky_relu_-1", "leaky_relu_nan"):
        with pytest.raises(ValueError, match="slope after 'leaky_relu_' must be a number >= 0"):
            common.check_activation(bad)


def test_dying_and_kernels_small_runs(capsys, tmp_path):
    path = tmp_path / "dying.json"
    assert cli.main(["dying", "--activations", "relu,leaky_relu_0.01,leaky_relu", "--epochs", "1", "--samples", "90",
                     "--depth", "2", "--width", "8", "--scenario", "lr", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    assert "dead at init" in out and "revived" in out and "learning rate 0.05" in out
    result = json.loads(path.read_text())
    assert list(result["results"]) == ["relu", "leaky_relu_0.01", "leaky_relu"]
    assert cli.main(["dying", "--activations", "leaky_relu_x", "--epochs", "1"]) == 2
    assert "leaky_relu_x" in capsys.readouterr().err
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
