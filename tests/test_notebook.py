"""Jupyter: the progress bar redraws in a notebook kernel, and examples/walkthrough.ipynb runs top to bottom.

The notebook runs in a real kernel (nbclient + ipykernel, ``pip install nbclient ipykernel``),
started in the repository root so that it imports this checkout.
"""
import os
import pathlib
import re
import sys
import types

import numpy as np
import pytest

from tinygrad_relu import layers as L
from tinygrad_relu.models import Sequential
from tinygrad_relu.utils import progbar

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "examples" / "walkthrough.ipynb"


def fit_one_epoch():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 2)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    model = Sequential([L.Input(shape=(2,)), L.Dense(4, activation="relu"), L.Dense(2, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, batch_size=8)


def fake_ipython(monkeypatch, shell):
    module = types.ModuleType("IPython")
    module.get_ipython = lambda: shell
    monkeypatch.setitem(sys.modules, "IPython", module)


def test_in_a_notebook_kernel_the_bar_is_redrawn_in_place(monkeypatch, capsys):
    fake_ipython(monkeypatch, types.SimpleNamespace(kernel=object()))
    assert progbar.in_notebook_kernel()
    fit_one_epoch()
    out = capsys.readouterr().out
    assert out.startswith("\r") and out.endswith("\n") and out.count("\n") == 1
    assert "8/8" in out and "\x1b[32m" in out


@pytest.mark.parametrize("shell", [None, types.SimpleNamespace(kernel=None), types.SimpleNamespace()],
                         ids=["no shell", "terminal IPython", "shell without kernel"])
def test_outside_a_kernel_a_pipe_gets_one_line_per_epoch(monkeypatch, capsys, shell):
    fake_ipython(monkeypatch, shell)
    assert not progbar.in_notebook_kernel()
    fit_one_epoch()
    out = capsys.readouterr().out
    assert "\r" not in out and out.count("\n") == 1 and out.startswith("8/8 ")


def test_the_walkthrough_notebook_runs(monkeypatch):
    nbformat = pytest.importorskip("nbformat", reason="pip install nbclient ipykernel")
    nbclient = pytest.importorskip("nbclient", reason="pip install nbclient ipykernel")
    pytest.importorskip("ipykernel", reason="pip install ipykernel")
    monkeypatch.setenv("PYTHONPATH", str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), \
        "commit the notebook without outputs"
    notebook.cells.insert(0, nbformat.v4.new_code_cell("import tinygrad_relu; print(tinygrad_relu.__file__)"))
    nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT)}}).execute()

    def text(cell):
        return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")

    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert text(code[0]).strip().startswith(str(ROOT / "tinygrad_relu"))
    everything = "\n".join(text(cell) for cell in code)
    assert "relu'(x) [0. 0. 0. 1. 1.]" in everything
    ratios = dict(re.findall(r"(sigmoid|relu)\s+\|dL/dW\| .* first/last ([0-9.e+-]+)", everything))
    assert float(ratios["sigmoid"]) < 1e-3 < float(ratios["relu"])  # the vanishing gradient
    fit_output = next(text(cell) for cell in code if "Epoch 1/4" in text(cell))
    plain = re.sub(r"\x1b\[[0-9;]*m", "", fit_output)
    assert "\r" in plain and re.search(r"\r15/15 ━+ .*accuracy: \d\.\d{4}", plain)  # redrawn in the kernel
    dead = dict(re.findall(r"(relu|leaky_relu)\s+dead units (\d+)% at init", everything))
    assert int(dead["relu"]) > 20 and int(dead["leaky_relu"]) == 0
    accuracy = dict(re.findall(r"(linear stack|one relu layer).*test accuracy ([0-9.]+)%", everything))
    assert float(accuracy["one relu layer"]) > float(accuracy["linear stack"]) + 20
