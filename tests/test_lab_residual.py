"""Claim 6's machinery: the residual builder, the instruments on a functional model, the Readings."""
import numpy as np
import pytest

from tinygrad_relu import diagnostics, layers as L, models, utils
from tinygrad_relu.lab import residual as R
from tinygrad_relu.lab.common import build_mlp, build_residual_mlp, residual_branch_initializer


def test_probe_reads_a_functional_model_as_it_reads_its_sequential_twin():
    sequential = build_mlp("relu", 4, 16, 2, 3, "he_normal")
    inputs = L.Input(shape=(2,))
    h = inputs
    for _ in range(4):
        h = L.Dense(16, activation="relu")(h)
    functional = models.Model(inputs, L.Dense(3, activation="softmax")(h))
    functional.set_weights(sequential.get_weights())
    x = np.random.default_rng(0).standard_normal((64, 2)).astype(np.float32)
    y = np.random.default_rng(1).integers(0, 3, 64)
    a, b = diagnostics.probe(sequential, x, y), diagnostics.probe(functional, x, y)
    np.testing.assert_allclose(list(a["grad_norms"].values()), list(b["grad_norms"].values()), rtol=1e-6)
    assert a["sparsity"] == b["sparsity"] and a["dead_fraction"] == b["dead_fraction"]
    rows_a = [r["output_grad_norm"] for r in a["layers"] if r["sparsity"] is not None]
    rows_b = [r["output_grad_norm"] for r in b["layers"] if r["sparsity"] is not None]
    np.testing.assert_allclose(rows_a, rows_b, rtol=1e-6)


def test_diagnostics_refuse_a_model_they_cannot_see_inside():
    class Opaque(models.Model):
        def __init__(self):
            super().__init__()
            self.dense = L.Dense(2)

        def call(self, x):
            return self.dense(x)

    with pytest.raises(TypeError, match="Sequential or a functional model"):
        diagnostics.probe(Opaque(), np.ones((4, 3), np.float32))


def test_residual_blocks_and_their_branch_initializer():
    utils.set_random_seed(0)
    model = build_residual_mlp("relu", 8, 64, 2, 3, "he_normal")
    assert sum(isinstance(layer, L.Add) for layer in model.layers) == 7
    dense = [layer for layer in model.layers if isinstance(layer, L.Dense)]
    assert len(dense) == 9  # 8 hidden (1 from the input, 7 in blocks) + the output layer
    branch = dense[1].kernel.data  # he_normal's variance 2 / fan_in, divided by the 7 blocks
    assert np.var(branch) == pytest.approx(2.0 / 64 / 7, rel=0.15)
    rule = residual_branch_initializer("glorot_uniform", 4)
    assert (rule.scale, rule.mode, rule.distribution) == (0.25, "fan_avg", "uniform")
    with pytest.raises(ValueError, match="VarianceScaling"):
        residual_branch_initializer("orthogonal", 4)


def test_prelu_and_leaky_variants_build_residual_nets():
    for name in ("prelu", "leaky_relu_0.01"):
        model = build_residual_mlp(name, 3, 8, 2, 3)
        assert model.predict(np.ones((5, 2), np.float32), verbose=0).shape == (5, 3)


def test_run_residual_measures_and_reads_what_it_measured():
    result = R.run_residual(depth=12, width=32, samples=300, epochs=2, seed=0)
    results = result["results"]
    assert set(results) == {R.variant_name(*v) for v in R.VARIANTS}
    for r in results.values():
        assert len(r["act_grad_norms"]) == 12 and len(r["forward_spread"]) == 12
        assert len(r["history"]["val_accuracy"]) == 2
    plain = results["plain, glorot_uniform"]["act_grad_norms"]
    skip = results["residual, glorot_uniform"]["act_grad_norms"]
    assert skip[0] / skip[-1] > 20 * (plain[0] / plain[-1])  # the identity path carries the gradient back
    readings = " ".join(R.residual_readings(result))
    assert f"by {R.per_layer(plain):.2f} per layer going back" in readings
    for r in results.values():
        assert pct(r["test_accuracy"]) in readings


def pct(value):
    return f"{100 * value:.1f}%"
