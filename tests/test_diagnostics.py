"""Diagnostics (gradient norms, sparsity, dead units, saturation), their callbacks, the graph view and plots."""
import sys

import numpy as np
import pytest

from tinygrad_relu import Tensor, diagnostics, graphviz, plot, utils
from tinygrad_relu.layers import Dense, Input, PReLU
from tinygrad_relu.models import Sequential


def small_model(activation="relu", units=(4,), n_in=3, n_out=2, seed=0):
    utils.set_random_seed(seed)
    layers = [Input(shape=(n_in,))] + [Dense(u, activation=activation) for u in units]
    model = Sequential(layers + [Dense(n_out, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_sparsity_and_dead_units_exact_counts():
    model = small_model(units=(4,))
    hidden = model.layers[0]
    # unit 0 positive for every sample, unit 1 never positive (dead), units 2-3 depend on x0's sign
    kernel = np.array([[0.0, 0.0, 1.0, -1.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]], np.float32)
    hidden.set_weights([kernel, np.array([1.0, -1.0, 0.0, 0.0], np.float32)])
    x = np.array([[1.0, 0, 0], [-2.0, 0, 0], [3.0, 0, 0]], np.float32)
    # outputs: unit0 = 1,1,1; unit1 = 0,0,0; unit2 = 1,0,3; unit3 = 0,2,0 -> zeros: 0+3+1+2 = 6 of 12
    assert diagnostics.activation_sparsity(model, x) == {hidden.name: pytest.approx(0.5)}
    assert diagnostics.dead_fraction(model, x) == {hidden.name: pytest.approx(0.25)}
    assert diagnostics.inactive_fraction(model, x) == {hidden.name: pytest.approx(0.25)}
    # with only the first sample unit 3 is zero too
    assert diagnostics.dead_fraction(model, x[:1]) == {hidden.name: pytest.approx(0.5)}
    report = diagnostics.probe(model, x)
    assert report["dead_fraction"] == pytest.approx(0.25) and report["sparsity"] == pytest.approx(0.5)
    assert [r["sparsity"] is None for r in report["layers"]] == [False, True]  # the softmax output is not hidden


def test_dead_units_masks_and_signal_spread_exact():
    model = small_model(units=(4,))
    hidden = model.layers[0]
    kernel = np.array([[0.0, 0.0, 1.0, -1.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]], np.float32)
    hidden.set_weights([kernel, np.array([1.0, -1.0, 0.0, 0.0], np.float32)])
    x = np.array([[1.0, 0, 0], [-2.0, 0, 0], [3.0, 0, 0]], np.float32)
    masks = diagnostics.dead_units(model, x)
    assert list(masks) == [hidden.name]
    assert masks[hidden.name].tolist() == [False, True, False, False]  # unit 1: 0 for every sample
    # outputs per unit: [1,1,1], [0,0,0], [1,0,3], [0,2,0]: variances 0, 0, 14/9, 8/9 (population)
    expected = np.sqrt(np.mean([0.0, 0.0, 14 / 9, 8 / 9]))
    assert diagnostics.signal_spread(model, x) == {hidden.name: pytest.approx(expected, rel=1e-6)}
    # a constant input has no input-dependent spread at all
    assert diagnostics.signal_spread(model, np.ones((5, 3), np.float32)) == {hidden.name: 0.0}


def test_gradient_norms_per_weight_rms():
    model = small_model(units=(5,), n_in=3, n_out=4, seed=3)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 3)).astype(np.float32)
    y = rng.integers(0, 4, 16)
    norms = diagnostics.gradient_norms(model, x, y)
    rms = diagnostics.gradient_norms(model, x, y, of="weights_rms")
    sizes = {layer.name: layer.weights[0].size for layer in model.layers}
    assert rms == {name: pytest.approx(norm / np.sqrt(sizes[name])) for name, norm in norms.items()}
    with pytest.raises(ValueError, match="weights_rms"):
        diagnostics.gradient_norms(model, x, y, of="kernels")


def test_monitor_progress_line_stays_short(capsys):
    """Per-layer numbers go to History, not to the progress bar (it showed 23 metrics in 686 characters)."""
    model = small_model(units=(8, 8, 8, 8))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=2, callbacks=[diagnostics.ActivationMonitor(x, y)])
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if "loss" in line]
    assert len(lines) == 2 and all(len(line) < 200 for line in lines), lines
    assert "grad_norm/" not in out and "sparsity/" not in out and "dead_fraction: " in lines[0]
    per_layer = [k for k in history.history if k.startswith("grad_norm/")]
    assert len(per_layer) == 5 and all(len(history.history[k]) == 2 for k in per_layer)


def test_leaky_units_are_inactive_but_not_dead():
    model = small_model(activation="leaky_relu", units=(3,))
    model.layers[0].set_weights([np.zeros((3, 3), np.float32), np.array([-1.0, 1.0, -2.0], np.float32)])
    x = np.ones((5, 3), np.float32)
    report = diagnostics.probe(model, x)
    assert report["dead_fraction"] == 0.0  # a negative output still passes slope 0.2
    assert report["inactive_fraction"] == pytest.approx(2 / 3)
    assert report["sparsity"] == 0.0


def test_prelu_layer_counts_as_hidden_and_starts_like_relu():
    utils.set_random_seed(1)
    model = Sequential([Input(shape=(2,)), Dense(8, bias_initializer="zeros"), PReLU(), Dense(2, activation="softmax")])
    x = np.random.default_rng(0).standard_normal((64, 2)).astype(np.float32)
    sparsity = diagnostics.activation_sparsity(model, x)
    assert list(sparsity) == [model.layers[1].name]  # the PReLU layer, not the linear Dense before it
    assert 0.3 < sparsity[model.layers[1].name] < 0.7  # alpha starts at 0: half the outputs are zero


def test_gradient_norms_match_hand_backprop():
    model = small_model(units=(5,), n_in=3, n_out=4, seed=3)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 3)).astype(np.float32)
    y = rng.integers(0, 4, 16)
    (w1, b1), (w2, b2) = [layer.get_weights() for layer in model.layers]
    # forward and backward by hand, float64
    z1 = x @ w1 + b1
    h = np.maximum(z1, 0)
    logits = h @ w2 + b2
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    g_logits = p.copy()
    g_logits[np.arange(16), y] -= 1
    g_logits /= 16
    g_w2 = h.T @ g_logits
    g_h = g_logits @ w2.T
    g_w1 = x.T @ (g_h * (z1 > 0))
    norms = diagnostics.gradient_norms(model, x, y)
    assert list(norms) == [layer.name for layer in model.layers]
    assert list(norms.values()) == pytest.approx([np.linalg.norm(g_w1), np.linalg.norm(g_w2)], rel=1e-4)
    act_norms = diagnostics.gradient_norms(model, x, y, of="activations")
    assert act_norms[model.layers[0].name] == pytest.approx(np.linalg.norm(g_h), rel=1e-4)
    with pytest.raises(ValueError, match="of must be"):
        diagnostics.gradient_norms(model, x, y, of="biases")


def test_probe_leaves_weights_and_grads_untouched():
    model = small_model(units=(4, 4))
    x = np.random.default_rng(1).standard_normal((8, 3)).astype(np.float32)
    y = np.arange(8) % 2
    before = model.get_weights()
    marker = np.full_like(model.layers[0].weights[0].data, 7.0)
    model.layers[0].weights[0].grad = marker
    diagnostics.probe(model, x, y)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    assert model.layers[0].weights[0].grad is marker
    assert all(w.grad is None for layer in model.layers[1:] for w in layer.weights)


def test_vanishing_gradient_sigmoid_against_relu():
    """The instrument shows claim 2 on its own: 8 sigmoid layers pass far less gradient than 8 ReLU layers."""
    x = np.random.default_rng(2).standard_normal((64, 4)).astype(np.float32)
    y = np.arange(64) % 3
    ratios = {}
    for activation, init in (("relu", "he_normal"), ("sigmoid", "glorot_uniform")):
        utils.set_random_seed(0)
        model = Sequential([Input(shape=(4,))] + [Dense(32, activation=activation, kernel_initializer=init)
                                                  for _ in range(8)] + [Dense(3, activation="softmax")])
        norms = list(diagnostics.gradient_norms(model, x, y, loss="sparse_categorical_crossentropy").values())
        ratios[activation] = norms[0] / norms[-1]
    assert ratios["sigmoid"] < ratios["relu"] / 1000


def test_saturation_fraction_for_sigmoid_and_tanh():
    for activation, bias, expected in (("sigmoid", 10.0, 1.0), ("sigmoid", 0.0, 0.0), ("tanh", -5.0, 1.0)):
        model = small_model(activation=activation, units=(3,))
        model.layers[0].set_weights([np.zeros((3, 3), np.float32), np.full(3, bias, np.float32)])
        sat = diagnostics.saturation_fraction(model, np.ones((4, 3), np.float32))
        assert list(sat.values()) == [expected]
    relu_model = small_model("relu")
    assert diagnostics.saturation_fraction(relu_model, np.ones((2, 3), np.float32)) == {}


def test_probe_errors():
    with pytest.raises(TypeError, match="Sequential"):
        diagnostics.probe(object(), np.zeros((1, 2)))
    utils.set_random_seed(0)
    model = Sequential([Input(shape=(2,)), Dense(3, activation="relu"), Dense(2, activation="softmax")])
    with pytest.raises(ValueError, match="pass loss="):  # not compiled, float targets
        diagnostics.probe(model, np.ones((2, 2)), np.ones((2, 2), np.float32))
    # uncompiled with integer labels: crossentropy by default
    assert diagnostics.probe(model, np.ones((2, 2)), np.array([0, 1]))["loss"] > 0


def test_activation_monitor_records_into_history():
    model = small_model(units=(8, 8))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    monitor = diagnostics.ActivationMonitor(x, y)
    history = model.fit(x, y, epochs=3, batch_size=8, verbose=0, callbacks=[monitor])
    logs = history.history
    names = [layer.name for layer in model.layers]
    for key in ["grad_ratio", "sparsity", "dead_fraction", "inactive_fraction",
                f"grad_norm/{names[0]}", f"sparsity/{names[1]}"]:
        assert len(logs[key]) == 3, key
    assert model.history.history is logs
    assert set(monitor.initial) == set(monitor.history)
    # the last record is the model as it ended training
    final = diagnostics.probe(model, x, y)
    assert logs["dead_fraction"][-1] == pytest.approx(final["dead_fraction"])
    assert logs[f"grad_norm/{names[0]}"][-1] == pytest.approx(final["grad_norms"][names[0]], rel=1e-5)
    assert logs["grad_ratio"][-1] == pytest.approx(final["grad_norms"][names[0]] / final["grad_norms"][names[-1]],
                                                   rel=1e-5)


def test_gradient_flow_and_dead_units_callbacks():
    model = small_model(units=(6,))
    x = np.random.default_rng(3).standard_normal((20, 3)).astype(np.float32)
    y = np.arange(20) % 2
    flow = diagnostics.GradientFlow(x, y, per_layer=False)
    dead = diagnostics.DeadUnits(x)
    history = model.fit(x, y, epochs=2, batch_size=10, verbose=0, callbacks=[flow, dead])
    assert len(history.history["grad_ratio"]) == 2 and len(history.history["dead_fraction"]) == 2
    assert not any(k.startswith("grad_norm/") for k in history.history)
    assert "grad_ratio" not in dead.history and "dead_fraction" not in flow.history
    with pytest.raises(ValueError, match="need labels"):
        diagnostics.ActivationMonitor(x)
    with pytest.raises(ValueError, match="unknown measures"):
        diagnostics.ActivationMonitor(x, y, measures=("speed",))


def test_monitor_fills_history_when_history_runs_first():
    """Callback order is the caller's business: our record still reaches model.history."""
    model = small_model(units=(4,))
    x = np.random.default_rng(4).standard_normal((10, 3)).astype(np.float32)
    monitor = diagnostics.DeadUnits(x, per_layer=False)
    monitor.set_model(model)

    class FakeHistory:
        history = {"loss": [1.0, 0.5]}
    model.history = FakeHistory()
    monitor.on_train_begin()
    monitor.on_epoch_end(0, logs=None)
    monitor.on_epoch_end(1, logs=None)
    monitor.on_train_end()
    assert len(model.history.history["dead_fraction"]) == 2


# ---- graph view ----------------------------------------------------------------------------

def test_graph_text_and_dot_show_op_shape_and_grad_norm():
    x = Tensor([[1.0, -2.0]], requires_grad=True)
    w = Tensor([[0.5, -1.0], [2.0, 1.0]], requires_grad=True)
    b = Tensor([4.0, 5.0], requires_grad=True)
    hidden = (x @ w + b).relu()
    loss = (hidden * hidden).sum()  # hidden is used twice: a shared node
    graph = graphviz.trace(loss, names={"x": x, "w": w, "b": b, "loss": loss})
    before = graph.to_text()
    assert before.splitlines()[0].startswith("loss Sum shape=()")
    assert graphviz.INNER_NO_GRAD in before and graphviz.LEAF_NO_GRAD in before
    loss.backward()
    text = graph.to_text()
    lines = text.splitlines()
    # x @ w = [-3.5, -3]; hidden = relu([0.5, 2]) = [0.5, 2]; dloss/dhidden = 2 * hidden = [1, 4]
    relu_line = next(line for line in lines if "ReLU" in line)
    assert "shape=(1, 2)" in relu_line and f"|grad|={np.linalg.norm([1.0, 4.0]):.4g}" in relu_line
    assert any("(shared, shown above)" in line for line in lines)
    w_line = next(line for line in lines if line.strip("│ ├└─").startswith("w leaf"))
    assert f"|grad|={np.linalg.norm(w.grad):.4g}" in w_line
    assert text.index("MatMul") < text.index("x leaf")  # output at the top, inputs below
    dot = graph.to_dot()
    assert dot.startswith("digraph autograd {") and dot.rstrip().endswith("}")
    assert dot.count("shape=ellipse") == 5  # MatMul, Add, ReLU, Mul, Sum
    assert 'label="ReLU"' in dot and "fillcolor" in dot
    edges = [line for line in dot.splitlines() if "->" in line]
    assert len(edges) == 5 + 2 + 2 + 1 + 2 + 1  # op->tensor, plus each input edge (Mul takes hidden twice)


def test_graph_traced_after_backward_shows_grads_or_says_why_not():
    x = Tensor([[1.0, -2.0]], requires_grad=True)
    w = Tensor([[0.5, -1.0], [-2.0, 1.0]], requires_grad=True)
    loss = (x @ w).relu().sum()
    loss.backward(retain_graph=True)  # the graph is kept, but no inner tensor kept its gradient
    text = graphviz.trace(loss, names={"x": x, "w": w}).to_text()
    # x @ w = [4.5, -3]: relu passes the first column, so dloss/dw = [[1, 0], [-2, 0]], dloss/dx = [0.5, -2]
    w_line = next(line for line in text.splitlines() if " w leaf" in line or line.startswith("w leaf"))
    assert f"|grad|={np.linalg.norm([1.0, 2.0]):.4g}" in w_line
    assert f"|grad|={np.linalg.norm([0.5, -2.0]):.4g}" in text
    relu_line = next(line for line in text.splitlines() if "ReLU" in line)
    assert graphviz.INNER_NO_GRAD in relu_line and "?" not in text
    # without retain_graph the graph is gone: the root says so instead of posing as a leaf
    loss = (x @ w).relu().sum()
    loss.backward()
    text = graphviz.trace(loss).to_text()
    assert text.startswith("freed ") and graphviz.GRAPH_FREED in text and "leaf" not in text


def test_graph_reprs_for_jupyter(monkeypatch, tmp_path):
    x = Tensor([1.0, 2.0], requires_grad=True)
    graph = graphviz.trace((x * 3.0).sum(), names={"x": x})

    class Printer:  # what IPython's pretty printer passes to _repr_pretty_
        def __init__(self):
            self.parts = []

        def text(self, value):
            self.parts.append(value)
    printer = Printer()
    graph._repr_pretty_(printer, cycle=False)
    assert printer.parts == [graph.to_text()]
    # no `dot` on the PATH: no SVG, so Jupyter falls back to the text
    monkeypatch.setenv("PATH", str(tmp_path))
    assert graph._repr_svg_() is None
    # a stand-in `dot` that checks its arguments and input: the DOT text goes in on stdin, SVG comes out
    fake = tmp_path / "dot"
    fake.write_text('#!/bin/sh\n[ "$1" = "-Tsvg" ] || exit 3\nfound=0\n'  # shell builtins only: PATH is bare
                    'while read -r line; do case "$line" in "digraph autograd {") found=1;; esac; done\n'
                    '[ "$found" = 1 ] || exit 4\n'
                    'echo \'<svg xmlns="http://www.w3.org/2000/svg"><text>Mul</text></svg>\'\n')
    fake.chmod(0o755)
    assert graph._repr_svg_().startswith("<svg")
    fake.write_text("#!/bin/sh\nexit 1\n")  # dot failing: still no exception in the notebook
    assert graph._repr_svg_() is None


def test_graph_svg_with_the_real_dot():
    import shutil
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed")
    x = Tensor([1.0, 2.0], requires_grad=True)
    svg = graphviz.trace((x * 3.0).sum(), names={'x "quoted" \\': x})._repr_svg_()
    assert svg is not None and "<svg" in svg and "Mul" in svg


def test_graph_is_gone_after_backward_unless_retained():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (x * 3.0).sum()
    y.backward(retain_graph=True)
    assert "Mul" in graphviz.to_text(y)
    y.backward()
    assert graphviz.to_text(y).count("\n") == 0  # freed: only the root is left
    with pytest.raises(TypeError, match="Tensor"):
        graphviz.trace([1.0])


def test_graph_of_a_deep_chain_does_not_recurse():
    x = Tensor([1.0], requires_grad=True)
    y = x
    for _ in range(3000):
        y = y * 1.0
    text = graphviz.to_text(y)
    assert text.count("Mul") == 3000


# ---- plots ----------------------------------------------------------------------------------

def test_plot_without_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    assert plot.available() is False
    with pytest.raises(ImportError, match=r'pip install "tinygrad_relu\[plot\]"'):
        plot.gradient_norms([1.0, 0.1])


def test_plots_draw_and_save(tmp_path):
    pytest.importorskip("matplotlib")
    history = {"loss": [1.0, 0.5, 0.2], "val_loss": [1.1, 0.6, 0.4], "accuracy": [0.5, 0.8, 0.9],
               "dead_fraction": [0.1, 0.2, 0.3], "grad_norm/dense": [1, 2, 3]}
    ax = plot.training_curves(history)
    assert {line.get_label() for line in ax.get_lines()} == {"loss", "val_loss", "accuracy"}
    ax = plot.gradient_norms({"relu": [0.1, 0.2], "sigmoid": [1e-6, 0.3]})
    assert ax.get_yscale() == "log" and len(ax.get_lines()) == 2
    ax = plot.gradient_norms({"dense": 0.5, "dense_1": 0.05})
    assert len(ax.patches) == 2
    ax = plot.dead_fraction({"relu": history, "leaky": {"dead_fraction": [0, 0, 0]}})
    assert list(ax.get_lines()[0].get_ydata()) == [0.1, 0.2, 0.3]
    plot.activation_histograms({"relu": np.maximum(np.random.default_rng(0).standard_normal(500), 0)})
    ax = plot.activation_functions(("relu", "sigmoid"), derivative=True)
    relu_slope = ax.get_lines()[0].get_ydata()
    assert relu_slope[0] == 0 and relu_slope[-1] == 1
    ax = plot.decision_boundary(lambda pts: (pts[:, 0] > 0).astype(int), np.array([[-1.0, 0], [1, 0]]), [0, 1])
    path = tmp_path / "boundary.png"
    ax.figure.savefig(path)
    assert path.stat().st_size > 1000
    with pytest.raises(TypeError, match="History"):
        plot.training_curves([1, 2])


def test_derivative_plot_has_no_vertical_segment_at_a_jump():
    pytest.importorskip("matplotlib")
    ax = plot.activation_functions(("relu", "leaky_relu", "sigmoid"), derivative=True)
    lines = [line for line in ax.get_lines() if line.get_label() in ("relu", "leaky_relu", "sigmoid")]
    for line in lines:
        y = line.get_ydata()
        finite = np.isfinite(y[:-1]) & np.isfinite(y[1:])
        assert np.all(np.abs(np.diff(y))[finite] < 0.1), line.get_label()  # no segment joins 0 and 1
    relu = lines[0]
    assert np.isnan(relu.get_ydata()).sum() == 1  # one break, at 0
    dots = [line for line in ax.get_lines() if line.get_label().startswith("_") and len(line.get_xdata()) == 1]
    assert [(d.get_xdata()[0], d.get_ydata()[0]) for d in dots][0] == (0.0, 0.0)  # relu'(0) = 0, drawn as a dot
    assert not np.isnan(lines[2].get_ydata()).any()  # a smooth derivative is one unbroken line


def test_decision_boundary_takes_probabilities_or_classes():
    pytest.importorskip("matplotlib")
    points = np.array([[-1.0, 0.0], [1.0, 0.5], [0.5, -1.0]])
    labels = [0, 1, 1]

    def probabilities(p):  # what model.predict returns: one row of class probabilities per point
        p1 = 1 / (1 + np.exp(-4 * p[:, 0]))
        return np.stack([1 - p1, p1], axis=1)
    arrays = []
    for predict in (probabilities, lambda p: probabilities(p)[:, 1], lambda p: probabilities(p)[:, 1:],
                    lambda p: (p[:, 0] > 0).astype(int), lambda p: (p[:, 0] > 0).astype(np.float32)):
        ax = plot.decision_boundary(predict, points, labels, resolution=40, data_label="test set")
        arrays.append(np.asarray(ax.collections[0].get_array()))
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["class 0", "class 1"]
        assert any("dots: test set" in t.get_text() for t in ax.texts)
    for other in arrays[1:]:  # all five forms colour the plane the same way
        np.testing.assert_array_equal(other, arrays[0])
    with pytest.raises(ValueError, match="for 1600 points it returned shape"):
        plot.decision_boundary(lambda p: np.zeros(7), points, labels, resolution=40)
    with pytest.raises(ValueError, match="class indices >= 0"):
        plot.decision_boundary(lambda p: np.zeros(len(p)), points, [0, -1, 1], resolution=40)


def test_dead_fraction_plot_counts_epochs_trained():
    pytest.importorskip("matplotlib")
    ax = plot.dead_fraction({"dead_fraction": [0.2, 0.3]})
    assert list(ax.get_lines()[0].get_xdata()) == [1, 2] and ax.get_xlabel() == "epochs trained"
    model = small_model(units=(6,))
    x = np.random.default_rng(3).standard_normal((20, 3)).astype(np.float32)
    monitor = diagnostics.DeadUnits(x, per_layer=False)
    model.fit(x, np.arange(20) % 2, epochs=2, batch_size=10, verbose=0, callbacks=[monitor])
    ax = plot.dead_fraction({"relu": monitor, "zeros a": {"dead_fraction": [0, 0]},
                             "zeros b": {"dead_fraction": [0, 0]}})
    first, second, third = ax.get_lines()
    assert list(first.get_xdata()) == [0, 1, 2]  # the callback knows the state at initialization
    assert first.get_ydata()[0] == monitor.initial["dead_fraction"]
    assert ax.get_xlabel() == "epochs trained (0 = initialization)"
    # coinciding lines stay distinguishable: own marker, markers at staggered epochs
    assert second.get_marker() != third.get_marker() and second.get_markevery() != third.get_markevery()


def test_plots_show_inline_in_jupyter():
    pytest.importorskip("matplotlib")
    ax = plot.gradient_norms({"relu": [0.1, 0.2], "sigmoid": [1e-6, 0.3]})
    png = ax._repr_png_()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000
    assert ax.figure._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"
    IPython = pytest.importorskip("IPython")
    from IPython.core.formatters import DisplayFormatter
    data, _ = DisplayFormatter().format(ax)  # what a notebook cell ending in `plot....` shows
    assert data["image/png"][:8] == b"\x89PNG\r\n\x1a\n" or data["image/png"].startswith("iVBOR")
    x = Tensor([1.0], requires_grad=True)
    data, _ = DisplayFormatter().format(graphviz.trace((x * 2.0).sum()))
    assert data["text/plain"].startswith("Sum shape=()")
    assert IPython is not None


@pytest.mark.slow
def test_a_notebook_shows_plots_and_graphs_inline():
    """End to end in a real Jupyter kernel: a cell ending in a plot shows a PNG, one ending in a trace shows the graph."""
    for module in ("matplotlib", "nbclient", "nbformat", "ipykernel"):
        pytest.importorskip(module)
    import pathlib
    import nbformat
    from nbclient import NotebookClient
    root = pathlib.Path(__file__).resolve().parents[1]
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(f"import sys; sys.path.insert(0, {str(root)!r})\n"
                                  "from tinygrad_relu import Tensor, graphviz, plot\n"
                                  "plot.series({'relu': [0.5, 0.4, 0.45]}, 'zeros')"),
        nbformat.v4.new_code_cell("x = Tensor([1.0, 2.0], requires_grad=True)\n"
                                  "graphviz.trace((x * 3.0).sum(), names={'x': x})")]
    NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    plot_output, graph_output = (cell.outputs[-1]["data"] for cell in notebook.cells)
    assert "image/png" in plot_output
    assert graph_output["text/plain"].startswith("Sum shape=()")
    import shutil
    assert ("image/svg+xml" in graph_output) == (shutil.which("dot") is not None)
