"""Someone who reproduces claim 2 in PyTorch gets the same numbers.

The lab's measurements at initialization (|dL/dh| per hidden layer, the RMS of dL/dW per weight,
the forward spread) for a small deep sigmoid net and a small deep ReLU net, computed again in
PyTorch (float64) from the same initial weights, the same test data and the same loss.
"""
import numpy as np
import pytest

from tinygrad_relu import utils
from tinygrad_relu.lab import compare
from tinygrad_relu.lab.common import build_mlp, load_dataset

torch = pytest.importorskip("torch")

DEPTH, WIDTH, SAMPLES, SEED = 6, 16, 240, 3


def pytorch_measurements(weights, x, y, activation):
    """|dL/dh| per hidden layer, RMS of dL/dW per kernel and the spread of each hidden h, in PyTorch."""
    act = {"sigmoid": torch.sigmoid, "relu": torch.relu}[activation]
    params = [(torch.tensor(w, dtype=torch.float64, requires_grad=True),
               torch.tensor(b, dtype=torch.float64, requires_grad=True)) for w, b in weights]
    h = torch.tensor(x, dtype=torch.float64)
    hidden = []
    for w, b in params[:-1]:
        h = act(h @ w + b)
        h.retain_grad()
        hidden.append(h)
    w, b = params[-1]
    loss = torch.nn.functional.cross_entropy(h @ w + b, torch.tensor(y, dtype=torch.int64))  # softmax + mean NLL
    loss.backward()
    act_grad_norms = [float(t.grad.norm()) for t in hidden]
    weight_grad_rms = [float(w.grad.norm() / np.sqrt(w.numel())) for w, _ in params]
    spreads = [float(t.detach().var(dim=0, unbiased=False).mean().sqrt()) for t in hidden]
    return act_grad_norms, weight_grad_rms, spreads


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_vanishing_gradient_measurements_match_pytorch(activation):
    result = compare.run_compare((activation,), depth=DEPTH, width=WIDTH, samples=SAMPLES, epochs=1, seed=SEED)
    measured = result["results"][activation]
    # run_compare seeds the random stream, then builds the model: the same initial weights again
    (x, _), (x_test, y_test) = load_dataset("spirals", SEED, SAMPLES)
    utils.set_random_seed(SEED)
    model = build_mlp(activation, DEPTH, WIDTH, x.shape[1], result["n_classes"])
    weights = [(layer.weights[0].data, layer.weights[1].data) for layer in model.layers]
    act_grad_norms, weight_grad_rms, spreads = pytorch_measurements(weights, x_test, y_test, activation)
    np.testing.assert_allclose(measured["act_grad_norms"], act_grad_norms, rtol=1e-5)
    np.testing.assert_allclose(measured["weight_grad_rms"], weight_grad_rms, rtol=1e-5)
    np.testing.assert_allclose(measured["forward_spread"], spreads, rtol=1e-4)
    if activation == "sigmoid":  # the claim itself, in PyTorch's numbers: each layer back multiplies by <= 0.25
        factors = np.array(act_grad_norms[:-1]) / np.array(act_grad_norms[1:])
        assert np.all(factors < 0.3) and np.prod(factors) < 1e-2
