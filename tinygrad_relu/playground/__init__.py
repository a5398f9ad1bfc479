"""The ReLU playground: train a small network on this engine and watch backpropagation live in the browser.

``tinygrad-relu playground`` (or ``playground.serve()``) starts a local web app: pick a data set,
the depth, width and activation of each hidden layer, the initializer, bias, dropout, L2 and
optimizer, press play, and watch the decision boundary, every unit's output, the gradient
reaching each layer, dead and saturated units, and the loss, update while the server trains.

It needs the ``playground`` extra (Starlette and uvicorn): ``pip install "tinygrad_relu[playground]"``.

Modules: ``settings`` (names, bounds, presets), ``data`` (synthetic sets, CSV upload),
``network`` (the Keras-style model as layer specs), ``session`` (one tab's run), ``views``
(what a frame measures), ``scheduler`` (the trainer thread shared fairly by the tabs),
``export`` (JSON and the reproducing script), ``server`` (the Starlette app).
"""
import importlib.util

REQUIREMENTS = ("starlette", "uvicorn")
INSTALL_HINT = 'pip install "tinygrad_relu[playground]"  (or: pip install starlette uvicorn)'


def missing_requirements():
    """The playground's optional requirements that are not installed."""
    return [name for name in REQUIREMENTS if importlib.util.find_spec(name) is None]


def serve(host="127.0.0.1", port=8765, open_browser=True, max_sessions=8):
    """Run the playground's server until interrupted (ImportError naming the install when the extra is missing)."""
    missing = missing_requirements()
    if missing:
        raise ImportError(f"the playground needs {' and '.join(missing)}: {INSTALL_HINT}")
    from .server import run
    run(host=host, port=port, open_browser=open_browser, max_sessions=max_sessions)
