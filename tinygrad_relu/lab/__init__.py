"""The ReLU lab: experiments that show, with this engine's own numbers, what ReLU does to backpropagation.

    common.py        output, tables, data, the MLP the experiments train
    compare.py       claims 1-2: sparsity, gradient flow per layer, what SGD and Adam move (`tinygrad-relu compare`)
    dying.py         claim 3: dead ReLU units: dead at init, died, revived (`tinygrad-relu dying`)
    kernels.py       claim 4: kernel cost per element (`tinygrad-relu kernels`)
    nonlinearity.py  claim 5: a linear stack against one ReLU layer
    demo.py          all five and relu_demo.json (`tinygrad-relu demo`)
    figure.py        the demo's figure, relu_demo.png
    sweep.py         the measurements over a grid, on a process pool or Dask (`tinygrad-relu sweep`);
                     sweep_executors.py runs them, sweep_plot.py draws the table
"""


def __getattr__(name):
    # `tinygrad_relu.lab.sweep(grid)` after a bare `import tinygrad_relu.lab`
    if name == "sweep":
        import importlib
        return importlib.import_module(".sweep", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
