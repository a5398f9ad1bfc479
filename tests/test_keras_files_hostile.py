"""Hostile and corrupt Keras files (issue 14): the .keras and .weights.h5 readers keep the native format's
safety. Every dataset the model needs is checked (links, storage, filters, shape, dtype) before any is read;
class names are looked up, never imported; a Lambda's bytecode loads only with safe_mode=False; bombs end
in a ModelFileError with a small peak under a memory cap; flipped bytes never crash the interpreter."""
import io
import json
import os
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

import tinygrad_relu as tr
from tinygrad_relu import layers as L
from tinygrad_relu.models import load_model
from tinygrad_relu.saving import ModelFileError, h5_weights

h5py = pytest.importorskip("h5py")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
rng = np.random.default_rng(3)


def saved(path):
    model = tr.Sequential([L.Input((12,)), L.Dense(16, activation="relu"), L.Dense(3, activation="softmax")])
    model.compile("adam", "categorical_crossentropy")
    model.train_on_batch(rng.standard_normal((4, 12)).astype(np.float32), np.eye(3, dtype=np.float32)[[0, 1, 2, 0]])
    model.save(path)
    return model


def members(path):
    with zipfile.ZipFile(path) as z:
        return {name: z.read(name) for name in z.namelist()}


def rewrite(path, out, config=None, weights=None):
    """A copy of the .keras file ``path`` with its config changed by ``config(dict)`` and its HDF5 weights by
    ``weights(h5py.File)``."""
    items = members(path)
    if config is not None:
        parsed = json.loads(items["config.json"])
        config(parsed)
        items["config.json"] = json.dumps(parsed).encode()
    if weights is not None:
        buffer = io.BytesIO(items["model.weights.h5"])
        with h5py.File(buffer, "r+") as f:
            weights(f)
        items["model.weights.h5"] = buffer.getvalue()
    with zipfile.ZipFile(out, "w") as z:
        for name, data in items.items():
            z.writestr(name, data)
    return out


def replace(f, name, data, **kwargs):
    del f[name]
    f.create_dataset(name, data=data, **kwargs)


def external_storage(f):
    del f["layers/dense/vars/1"]
    f.create_dataset("layers/dense/vars/1", shape=(16,), dtype="f4", external=[("/etc/hostname", 0, 64)])


def virtual(f):
    layout = h5py.VirtualLayout(shape=(16,), dtype="f4")
    layout[:] = h5py.VirtualSource("other.h5", "data", shape=(16,))
    del f["layers/dense/vars/1"]
    f["layers/dense/vars"].create_virtual_dataset("1", layout)


def unknown_filter(f):
    """A dataset whose filter pipeline names filter 32123: reading it would make HDF5 look for a plugin."""
    del f["layers/dense/vars/1"]
    plist = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    plist.set_chunk((16,))
    plist.set_filter(32123, h5py.h5z.FLAG_OPTIONAL)
    space = h5py.h5s.create_simple((16,))
    h5py.h5d.create(f["layers/dense/vars"].id, b"1", h5py.h5t.IEEE_F32LE, space, dcpl=plist)


EDITS = {
    "wrong shape": (lambda f: replace(f, "layers/dense/vars/0", np.zeros((3, 3), np.float32)),
                    r"variable 0 \('layers/dense/vars/0'\) has shape \(3, 3\) in the file, but \(12, 16\)"),
    "huge claimed shape": (lambda f: replace(f, "layers/dense/vars/0", shape=(1 << 20, 1 << 16), dtype="f4",
                                             chunks=(1024, 1024), compression="gzip", data=None),
                           r"has shape \(1048576, 65536\) in the file, but \(12, 16\) in the model"),
    "an extra variable": (lambda f: f.create_dataset("layers/dense/vars/2", data=np.zeros(3, np.float32)),
                          r"layer 'dense\w*' has 2 variables, but 'layers/dense/vars' in the file holds 3"),
    "a missing layer": (lambda f: f.__delitem__("layers/dense_1"),
                        r"layer 'dense_\d+' has 2 variables, but 'layers/dense_1/vars' in the file holds 0"),
    "integer weights": (lambda f: replace(f, "layers/dense/vars/1", np.zeros(16, np.int32)),
                        r"has dtype int32 in the file; the model needs a float dtype"),
    "string weights": (lambda f: replace(f, "layers/dense/vars/1", np.array([b"x"] * 16)),
                       r"has dtype \|S1 in the file"),
    "a group for a dataset": (lambda f: (f.__delitem__("layers/dense/vars/1"), f.create_group("layers/dense/vars/1")),
                              r"'layers/dense/vars/1' is not an HDF5 dataset"),
    "a soft link": (lambda f: (f.__delitem__("layers/dense/vars/1"),
                               f["layers/dense/vars"].__setitem__("1", h5py.SoftLink("/layers/dense_1/vars/0"))),
                    r"is a SoftLink; a weights file may hold only hard links"),
    "an external link": (lambda f: (f.__delitem__("layers/dense/vars/1"),
                                    f["layers/dense/vars"].__setitem__("1", h5py.ExternalLink("/etc/x.h5", "/d"))),
                         r"is a ExternalLink"),
    "external storage": (external_storage, r"is stored in external files"),
    "a virtual dataset": (virtual, r"is a virtual dataset"),
    "an unknown filter": (unknown_filter, r"uses the HDF5 filter 32123, which is not one of HDF5's built-in"),
    "an optimizer slot of the wrong shape": (lambda f: replace(f, "optimizer/vars/2", np.zeros((4, 4), np.float32)),
                                             r"optimizer 'adam': variable 2 \('optimizer/vars/2'\) has shape \(4, 4\)"),
    "a float iteration count": (lambda f: replace(f, "optimizer/vars/0", np.float32(3)),
                                r"optimizer 'adam': variable 0 .* has dtype float32 in the file; the model needs an "
                                r"integer"),
}


@pytest.mark.parametrize("case", sorted(EDITS))
def test_bad_datasets_are_refused_before_any_array_is_read(tmp_path, monkeypatch, case):
    edit, message = EDITS[case]
    saved(tmp_path / "m.keras")
    rewrite(tmp_path / "m.keras", tmp_path / "bad.keras", weights=edit)
    reads = []
    real = h5_weights.Reader.read_into
    monkeypatch.setattr(h5_weights.Reader, "read_into", lambda self, *a: reads.append(a) or real(self, *a))
    with pytest.raises(ModelFileError, match=message):
        load_model(tmp_path / "bad.keras")
    assert reads == []
    model = tr.Sequential([L.Input((12,)), L.Dense(16, activation="relu"), L.Dense(3, activation="softmax")])
    if "optimizer" not in case and "iteration" not in case:  # load_weights checks the same, and changes nothing
        before = model.get_weights()
        with pytest.raises(ModelFileError, match=message):
            model.load_weights(tmp_path / "bad.keras")
        for a, b in zip(before, model.get_weights()):
            np.testing.assert_array_equal(a, b)


def test_class_names_are_looked_up_and_module_paths_never_imported(tmp_path):
    saved(tmp_path / "m.keras")
    plugin = tmp_path / "plugins" / "evil_keras_plugin.py"
    plugin.parent.mkdir()
    plugin.write_text("import os\nos.environ['EVIL_KERAS_PLUGIN_RAN'] = '1'\nclass Payload: pass\n")
    sys.path.insert(0, str(plugin.parent))
    try:
        def unknown(config):
            config["config"]["layers"][1].update(module="evil_keras_plugin", class_name="Payload",
                                                 registered_name="evil>Payload")
        with pytest.raises(ModelFileError, match="Unknown layer class 'Payload'"):
            load_model(rewrite(tmp_path / "m.keras", tmp_path / "a.keras", config=unknown))

        def builtin_function(config):
            config["config"]["layers"][1] = {"module": "os", "class_name": "system", "config": {"command": "true"},
                                             "registered_name": None}
        with pytest.raises(ModelFileError, match="Unknown layer class 'system'"):
            load_model(rewrite(tmp_path / "m.keras", tmp_path / "b.keras", config=builtin_function))

        def model_class(config):
            config.update(module="evil_keras_plugin", class_name="Payload")
        with pytest.raises(ModelFileError, match="names the model class 'Payload'"):
            load_model(rewrite(tmp_path / "m.keras", tmp_path / "c.keras", config=model_class))

        def activation(config):
            config["config"]["layers"][1]["config"]["activation"] = {
                "module": "evil_keras_plugin", "class_name": "function", "config": "Payload",
                "registered_name": "evil>Payload"}
        with pytest.raises(ModelFileError, match="unknown activation 'Payload'"):
            load_model(rewrite(tmp_path / "m.keras", tmp_path / "d.keras", config=activation))
    finally:
        sys.path.remove(str(plugin.parent))
    assert "evil_keras_plugin" not in sys.modules and "EVIL_KERAS_PLUGIN_RAN" not in os.environ


def test_a_lambda_is_refused_unless_safe_mode_is_off_and_its_code_does_not_run(tmp_path, monkeypatch):
    monkeypatch.delenv("LAMBDA_RAN", raising=False)
    model = tr.Sequential([L.Input((3,)), L.Lambda(lambda v: __import__("os").environ.setdefault("LAMBDA_RAN", "1")
                                                   and v * 2.0)])
    model.save(tmp_path / "lambda.keras")
    del os.environ["LAMBDA_RAN"]  # (building the model ran it once, on zeros, to learn its output shape)
    with pytest.raises(ModelFileError, match="Python lambda .* safe_mode=False"):
        load_model(tmp_path / "lambda.keras")
    with pytest.raises(ValueError, match="safe_mode=False"):
        tr.models.model_from_json(model.to_json())
    assert "LAMBDA_RAN" not in os.environ
    loaded = load_model(tmp_path / "lambda.keras", safe_mode=False)
    np.testing.assert_array_equal(loaded.predict(np.ones((2, 3), np.float32), verbose=0), np.full((2, 3), 2.0))
    with pytest.raises(ModelFileError, match="safe_mode"):  # the switch was only for that call
        load_model(tmp_path / "lambda.keras")


def test_compile_settings_that_cannot_be_honoured_are_refused(tmp_path):
    saved(tmp_path / "m.keras")

    def weighted(config):  # honoured here: loads with them
        config["compile_config"]["weighted_metrics"] = ["accuracy"]
    assert load_model(rewrite(tmp_path / "m.keras", tmp_path / "w.keras", config=weighted))._compile_args[3] == [
        "accuracy"]

    def steps(config):
        config["compile_config"]["steps_per_execution"] = 4
    with pytest.raises(ModelFileError, match=r"compile_config has steps_per_execution=4"):
        load_model(rewrite(tmp_path / "m.keras", tmp_path / "s.keras", config=steps))
    assert load_model(tmp_path / "s.keras", compile=False).compiled is False

    def optimizer(config):  # Keras 3 has Muon; this package does not
        config["compile_config"]["optimizer"]["class_name"] = "Muon"
    with pytest.raises(ModelFileError, match="Unknown optimizer class 'Muon'"):
        load_model(rewrite(tmp_path / "m.keras", tmp_path / "o.keras", config=optimizer))

    def accumulation(config):
        config["compile_config"]["optimizer"]["config"]["gradient_accumulation_steps"] = 4
    with pytest.raises(ModelFileError, match="gradient_accumulation_steps"):
        load_model(rewrite(tmp_path / "m.keras", tmp_path / "e.keras", config=accumulation))


def test_a_config_declaring_too_many_layers_is_refused_before_building(tmp_path):
    saved(tmp_path / "m.keras")

    def many(config):
        config["config"]["layers"] += [{"module": "keras.layers", "class_name": "ReLU", "config": {"name": f"r{i}"}}
                                       for i in range(50_001)]
    with pytest.raises(ModelFileError, match=r"declares 50004 layers"):
        load_model(rewrite(tmp_path / "m.keras", tmp_path / "many.keras", config=many))


def test_a_missing_h5py_says_which_install_fixes_it(tmp_path, monkeypatch):
    model = saved(tmp_path / "m.keras")
    monkeypatch.setitem(sys.modules, "h5py", None)
    for call in (lambda: model.save(tmp_path / "x.keras"), lambda: load_model(tmp_path / "m.keras"),
                 lambda: model.save_weights(tmp_path / "x.weights.h5")):
        with pytest.raises(ImportError, match=r'pip install "tinygrad_relu\[keras\]"'):
            call()
    model.save(tmp_path / "native.trm")  # the native format needs no HDF5
    assert isinstance(load_model(tmp_path / "native.trm"), tr.Sequential)


def test_not_a_weights_file(tmp_path):
    model = saved(tmp_path / "m.keras")
    (tmp_path / "junk.weights.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(range(256)) * 4)
    with pytest.raises(ModelFileError, match="not a readable HDF5 file"):
        model.load_weights(tmp_path / "junk.weights.h5")
    no_weights = {k: v for k, v in members(tmp_path / "m.keras").items() if k != "model.weights.h5"}
    with zipfile.ZipFile(tmp_path / "npz.keras", "w") as z:
        for name, data in no_weights.items():
            z.writestr(name, data)
        z.writestr("model.weights.npz", b"")
    with pytest.raises(ModelFileError, match="weights_format='npz'"):
        load_model(tmp_path / "npz.keras")


# ---- bombs, under a memory cap in a child process ---------------------------------------------------------


def bomb_files(tmp_path):
    saved(tmp_path / "m.keras")
    bombs = {}

    def layer_of_32_gib(config):
        config["config"]["layers"][-1]["config"]["units"] = 2 ** 29
    bombs["a layer of 32 GiB"] = rewrite(tmp_path / "m.keras", tmp_path / "b0.keras", config=layer_of_32_gib)

    def wide(config):
        config["config"]["layers"][1]["config"]["units"] = 8192
        config["config"]["layers"][2]["build_config"]["input_shape"] = [None, 8192]
        config["config"]["layers"][1]["build_config"]["input_shape"] = [None, 8192]
        config["config"]["layers"][0]["config"]["batch_shape"] = [None, 8192]

    def gzip_bomb(f):  # the 8192 x 8192 kernel (256 MiB) as gzip of zeros, a few hundred KB
        replace(f, "layers/dense/vars/0", shape=(8192, 8192), dtype="f4", chunks=(1024, 1024), compression="gzip",
                compression_opts=9, fillvalue=0.0, data=np.zeros((8192, 8192), np.float32))
    bombs["a gzip dataset of 256 MiB"] = rewrite(tmp_path / "m.keras", tmp_path / "b1.keras", config=wide,
                                               weights=gzip_bomb)
    # the weights member of the zip, deflated, followed by 1 GiB of zeros
    bombs["a weights member of 1 GiB"] = _deflated_member(tmp_path / "b2.keras", members(tmp_path / "m.keras"),
                                                          1 << 30)
    for path in bombs.values():
        assert os.path.getsize(path) < 2_000_000, path
    return bombs


def _deflated_member(path, items, size):
    """The .keras file at ``path`` whose weights member inflates to ``size`` zero bytes after the real file."""
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("metadata.json", items["metadata.json"])
        z.writestr("config.json", items["config.json"])
        info = zipfile.ZipInfo("model.weights.h5")
        info.compress_type = zipfile.ZIP_DEFLATED
        with z.open(info, "w", force_zip64=True) as member:
            member.write(items["model.weights.h5"])
            zeros = bytes(1 << 20)
            for _ in range(size >> 20):
                member.write(zeros)
    return path


BOMBS = ["a layer of 32 GiB", "a gzip dataset of 256 MiB", "a weights member of 1 GiB"]


@pytest.fixture(scope="module")
def bombs(tmp_path_factory):
    return bomb_files(tmp_path_factory.mktemp("keras_bombs"))


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS and ru_maxrss in KiB: Linux")
@pytest.mark.parametrize("bomb", BOMBS)
def test_bombs_are_refused_under_a_memory_cap_with_a_small_peak(bombs, bomb, load_under_memory_cap):
    result = load_under_memory_cap(bombs[bomb])
    assert result["outcome"].startswith("ModelFileError"), result
    assert result["growth_mb"] < 100, result


# ---- flipped and cut bytes never crash: in a child, so that a crash fails the test instead of pytest -------
FUZZER = textwrap.dedent("""
    import json, os, sys, random
    sys.path.insert(0, {repo!r})
    from tinygrad_relu.models import load_model
    from tinygrad_relu.saving import ModelFileError
    source = open({path!r}, "rb").read()
    weights = {path!r}.endswith(".weights.h5")
    if weights:
        import tinygrad_relu as tr
        model = tr.Sequential([tr.layers.Input((12,)), tr.layers.Dense(16, activation="relu"),
                               tr.layers.Dense(3, activation="softmax")])
    rng = random.Random({seed})
    outcomes = {{"loaded": 0, "ModelFileError": 0}}
    target = {path!r} + (".fuzzed.weights.h5" if weights else ".fuzzed.keras")
    for i in range({count}):
        data = bytearray(source)
        if i % 10 == 9:
            data = data[:rng.randrange(len(data))]
        else:
            for _ in range(rng.randint(1, 4)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        open(target, "wb").write(bytes(data))
        try:
            model.load_weights(target) if weights else load_model(target)
            outcomes["loaded"] += 1
        except ModelFileError:
            outcomes["ModelFileError"] += 1
    print(json.dumps(outcomes))
""")


@pytest.mark.parametrize("kind,seed", [("weights.h5", 0), pytest.param("weights.h5", 1, marks=pytest.mark.slow),
                                       pytest.param("keras", 0, marks=pytest.mark.slow)])
def test_flipped_and_cut_bytes_give_model_file_errors_never_a_crash(tmp_path, kind, seed):
    model = saved(tmp_path / "m.keras")
    model.save_weights(tmp_path / "m.weights.h5")
    script = FUZZER.format(repo=REPO, path=str(tmp_path / f"m.{kind}"), seed=seed, count=150)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    outcomes = json.loads(out.stdout.strip().splitlines()[-1])
    assert sum(outcomes.values()) == 150 and outcomes["ModelFileError"] > 0, outcomes
