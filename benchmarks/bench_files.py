"""Save and load times of the seed CNN in each file format, and its ONNX export against predict.

    python benchmarks/bench_files.py                 # the seed CNN, Adam state included, 7 repeats
    python benchmarks/bench_files.py --repeats 3 --batch 64

The model (Conv2D 32 -> pool -> Conv2D 64 -> pool -> Flatten -> Dense 128 -> Dense 10 on 28x28x1,
225,034 weights) is compiled with Adam after one training step, so every file holds its three
arrays per weight. For each format, the fastest of ``--repeats`` runs of ``model.save`` and of
``load_model`` (and, where Keras 3 is importable on its torch backend, Keras' ``load_model`` of our
.keras file), with the file's size. Then ``model.export(format="onnx")`` and one batch of
``--batch`` images: the fastest ``model.predict`` here against onnxruntime's session.run.
"""
import argparse
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tinygrad_relu import layers as L  # noqa: E402
from tinygrad_relu.models import Sequential, load_model  # noqa: E402


def seed_cnn():
    model = Sequential([L.Input((28, 28, 1)), L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(),
                        L.Conv2D(64, 3, activation="relu"), L.MaxPooling2D(), L.Flatten(),
                        L.Dense(128, activation="relu"), L.Dense(10, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    model.train_on_batch(np.zeros((8, 28, 28, 1), np.float32), np.zeros(8, np.int64))
    return model


def best(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    model = seed_cnn()
    keras = None
    try:
        os.environ.setdefault("KERAS_BACKEND", "torch")
        import keras
    except ImportError:
        pass
    with tempfile.TemporaryDirectory() as tmp:
        print(f"{'file':<16} {'size kB':>8} {'save ms':>8} {'load ms':>8} {'Keras load ms':>14}")
        for name in ("m.keras", "m.trm", "m.weights.h5"):
            path = os.path.join(tmp, name)
            if name.endswith(".weights.h5"):
                save, load = (lambda p=path: model.save_weights(p)), (lambda p=path: model.load_weights(p))
            else:
                save, load = (lambda p=path: model.save(p)), (lambda p=path: load_model(p))
            save_s, load_s = best(save, args.repeats), best(load, args.repeats)
            theirs = "-"
            if keras is not None and name.endswith(".keras"):
                theirs = f"{1e3 * best(lambda p=path: keras.saving.load_model(p), args.repeats):.1f}"
            print(f"{name:<16} {os.path.getsize(path) / 1e3:>8.0f} {1e3 * save_s:>8.1f} {1e3 * load_s:>8.1f} "
                  f"{theirs:>14}")
        try:
            import onnxruntime
        except ImportError:
            print("onnxruntime is not installed: no export timing")
            return
        path = os.path.join(tmp, "m.onnx")
        export_s = best(lambda: model.export(path, format="onnx"), args.repeats)
        session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
        x = np.random.default_rng(0).standard_normal((args.batch, 28, 28, 1)).astype(np.float32)
        name = session.get_inputs()[0].name
        ours = best(lambda: model.predict(x, batch_size=args.batch, verbose=0), args.repeats)
        theirs = best(lambda: session.run(None, {name: x}), args.repeats)
        diff = np.abs(session.run(None, {name: x})[0] - model.predict(x, verbose=0)).max()
        print(f"ONNX export {1e3 * export_s:.1f} ms ({os.path.getsize(path) / 1e3:.0f} kB); batch of {args.batch}: "
              f"predict {1e3 * ours:.2f} ms, onnxruntime {1e3 * theirs:.2f} ms; largest difference {diff:.1e}")


if __name__ == "__main__":
    main()
