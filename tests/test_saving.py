"""Model files: save/load identity, continued training, weights-only files, and hostile or broken files."""
import io
import json
import os
import subprocess
import sys
import textwrap
import time
import zipfile

import numpy as np
import pytest

import tinygrad_relu as tr
from tinygrad_relu import layers as L
from tinygrad_relu.models import Sequential, load_model
from tinygrad_relu.saving import ModelFileError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


SEED = 3  # conftest.py seeds every test with it


def data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6, 6, 1)).astype(np.float32)
    labels = (x[:, :3].sum(axis=(1, 2, 3)) > 0).astype(np.int64) + 2 * (x[:, :, :3].sum(axis=(1, 2, 3)) > 0)
    return x, labels


def make_model():
    model = Sequential([L.Conv2D(4, 3, activation="relu", input_shape=(6, 6, 1)), L.BatchNormalization(),
                        L.Flatten(), L.Dense(8, activation="relu", kernel_regularizer="l2"),
                        L.PReLU(), L.Dense(4, activation="softmax")])
    model.compile(tr.optimizers.Adam(learning_rate=0.01), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_save_load_predicts_identically_and_keeps_config(tmp_path):
    x, labels = data()
    model = make_model()
    model.fit(x, labels, epochs=2, verbose=0)
    path = tmp_path / "my model.anything"
    model.save(path)
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert loaded.get_config() == model.get_config()
    assert [l.name for l in loaded.layers] == [l.name for l in model.layers]
    assert loaded.metrics_names == ["loss", "accuracy"]
    assert loaded.optimizer.iterations == model.optimizer.iterations
    assert loaded.evaluate(x, labels, verbose=0) == pytest.approx(model.evaluate(x, labels, verbose=0))
    with zipfile.ZipFile(path) as archive:  # the documented layout, JSON + .npy only
        names = set(archive.namelist())
        assert {"metadata.json", "config.json", "weights.json", "optimizer.json"} <= names
        assert all(n.endswith((".json", ".npy")) for n in names)
        assert json.loads(archive.read("metadata.json"))["format_version"] == tr.saving.FORMAT_VERSION


def test_loaded_model_continues_training_exactly(tmp_path):
    x, labels = data()
    model = make_model()
    model.fit(x, labels, epochs=1, shuffle=False, verbose=0)
    model.save(tmp_path / "m.trm")
    loaded = load_model(tmp_path / "m.trm")
    model.fit(x, labels, epochs=2, shuffle=False, verbose=0)
    loaded.fit(x, labels, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)  # Adam moments and iteration count were restored


def test_save_weights_load_weights_into_a_fresh_copy(tmp_path):
    x, _ = data(n=10)
    model = make_model()
    model.save_weights(tmp_path / "w.bin")
    twin = make_model()  # automatic names differ (conv2d_1, ...): matched by position and class
    assert twin.layers[0].name != model.layers[0].name
    twin.load_weights(tmp_path / "w.bin")
    np.testing.assert_array_equal(twin.predict(x, verbose=0), model.predict(x, verbose=0))
    other = Sequential([L.Conv2D(4, 3, input_shape=(6, 6, 1)), L.Flatten(), L.Dense(3)])
    with pytest.raises(ValueError, match="holds 11 weight arrays, model 'sequential_2' has 4"):
        other.load_weights(tmp_path / "w.bin")
    with pytest.raises(ValueError, match="only weights"):
        load_model(tmp_path / "w.bin")


def test_load_without_compile_and_uncompiled_model(tmp_path):
    model = Sequential([L.Dense(3, input_shape=(2,))])
    model.save(tmp_path / "u")
    loaded = load_model(tmp_path / "u")
    assert not loaded.compiled
    np.testing.assert_array_equal(loaded.get_weights()[0], model.get_weights()[0])
    compiled = make_model()
    compiled.save(tmp_path / "c")
    assert not load_model(tmp_path / "c", compile=False).compiled


# ---- broken and hostile files ----------------------------------------------------------------------
def saved(tmp_path):
    model = make_model()
    x, labels = data(n=32)
    model.fit(x, labels, verbose=0)
    path = tmp_path / "good.trm"
    model.save(path)
    return path


def rewrite(src, dst, replace):
    """Copy the zip, replacing members by name (value None drops the member)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            if info.filename in replace:
                if replace[info.filename] is not None:
                    zout.writestr(info.filename, replace[info.filename])
            else:
                zout.writestr(info, zin.read(info.filename))
        for name, value in replace.items():
            if name not in zin.namelist() and value is not None:
                zout.writestr(name, value)


def test_truncated_file(tmp_path):
    path = saved(tmp_path)
    blob = path.read_bytes()
    for cut in (len(blob) // 2, len(blob) - 10, 100):
        (tmp_path / "cut").write_bytes(blob[:cut])
        with pytest.raises(ModelFileError, match="truncated or corrupt"):
            load_model(tmp_path / "cut")


def test_not_a_model_file(tmp_path):
    (tmp_path / "junk").write_bytes(os.urandom(300))
    with pytest.raises(ValueError, match="not a complete zip"):
        load_model(tmp_path / "junk")
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as archive:
        archive.writestr("hello.txt", "hi")
    with pytest.raises(ValueError, match="metadata.json"):
        load_model(tmp_path / "other.zip")
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "missing")


def test_object_array_is_refused_without_unpickling(tmp_path):
    path = saved(tmp_path)
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"evil": 1}, None], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read("weights.json"))
    target = manifest[0]["path"]
    rewrite(path, tmp_path / "evil.trm", {target: buffer.getvalue()})
    with pytest.raises(ModelFileError, match="pickle|dtype"):
        load_model(tmp_path / "evil.trm")
    manifest[0]["dtype"] = "object"
    rewrite(path, tmp_path / "evil2.trm", {"weights.json": json.dumps(manifest), target: buffer.getvalue()})
    with pytest.raises(ModelFileError, match="dtype object"):
        load_model(tmp_path / "evil2.trm")


def test_wrong_shapes_are_named(tmp_path):
    path = saved(tmp_path)
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read("weights.json"))
        config = json.loads(archive.read("config.json"))
    # an array whose shape disagrees with its manifest entry
    buffer = io.BytesIO()
    np.save(buffer, np.zeros((3, 3, 1, 5), np.float32))
    rewrite(path, tmp_path / "a.trm", {manifest[0]["path"]: buffer.getvalue()})
    with pytest.raises(ModelFileError, match=r"shape \(3, 3, 1, 5\).*\(3, 3, 1, 4\)"):
        load_model(tmp_path / "a.trm")
    # a config whose layer no longer matches the stored weights
    config["config"]["layers"][-1]["config"]["units"] = 5
    rewrite(path, tmp_path / "b.trm", {"config.json": json.dumps(config)})
    with pytest.raises(ModelFileError, match=r"dense_1/kernel.*\[8, 4\].*\(8, 5\)"):
        load_model(tmp_path / "b.trm")


def test_hostile_configs_fail_fast_and_clean(tmp_path):
    path = saved(tmp_path)
    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))
        metadata = json.loads(archive.read("metadata.json"))
    huge = json.loads(json.dumps(config))
    huge["config"]["layers"][-1]["config"]["units"] = 10 ** 12  # would be 32 TB if allocated for real
    rewrite(path, tmp_path / "huge.trm", {"config.json": json.dumps(huge)})
    start = time.perf_counter()
    with pytest.raises(ModelFileError):
        load_model(tmp_path / "huge.trm")
    assert time.perf_counter() - start < 5
    unknown = json.loads(json.dumps(config))
    unknown["config"]["layers"][1]["class_name"] = "os.system"
    rewrite(path, tmp_path / "unknown.trm", {"config.json": json.dumps(unknown)})
    with pytest.raises(ModelFileError, match="Unknown layer class 'os.system'"):
        load_model(tmp_path / "unknown.trm")
    rewrite(path, tmp_path / "deep.trm", {"config.json": "[" * 100000 + "]" * 100000})
    with pytest.raises(ModelFileError):
        load_model(tmp_path / "deep.trm")
    future = dict(metadata, format_version=99)
    rewrite(path, tmp_path / "future.trm", {"metadata.json": json.dumps(future)})
    with pytest.raises(ModelFileError, match="format version 99"):
        load_model(tmp_path / "future.trm")
    rewrite(path, tmp_path / "nooptimizer.trm", {"optimizer/2.npy": None})
    with pytest.raises(ModelFileError, match="optimizer/2.npy' is missing"):
        load_model(tmp_path / "nooptimizer.trm")


def test_duplicate_members_are_refused(tmp_path):
    path = saved(tmp_path)
    with zipfile.ZipFile(path) as archive:
        target = json.loads(archive.read("weights.json"))[0]["path"]
    buffer = io.BytesIO()
    np.save(buffer, np.full((3, 3, 1, 4), 7, np.float32))
    # zipfile writes it (with a warning), and would read the last one
    with pytest.warns(UserWarning, match="Duplicate name"), zipfile.ZipFile(path, "a") as archive:
        archive.writestr(target, buffer.getvalue())
    with pytest.raises(ModelFileError, match=rf"it holds the member '{target}' twice"):
        load_model(path)


@pytest.mark.parametrize("learning_rate", [-1e6, float("nan"), float("inf")])
def test_learning_rate_in_the_optimizer_state_is_checked_like_the_config(tmp_path, learning_rate):
    path = saved(tmp_path)
    with zipfile.ZipFile(path) as archive:
        lr_path = json.loads(archive.read("optimizer.json"))["state"][1]["path"]
        config = json.loads(archive.read("config.json"))
    buffer = io.BytesIO()
    np.save(buffer, np.array(learning_rate))
    rewrite(path, tmp_path / "lr.trm", {lr_path: buffer.getvalue()})
    with pytest.raises(ModelFileError, match=rf"Adam.set_state: learning_rate must be a finite non-negative number, "
                                             rf"received {learning_rate}"):
        load_model(tmp_path / "lr.trm")
    config["compile_config"]["optimizer"]["config"]["learning_rate"] = learning_rate
    rewrite(path, tmp_path / "config.trm", {"config.json": json.dumps(config)})
    with pytest.raises(ModelFileError, match=rf"learning_rate must be a finite non-negative number, "
                                             rf"received {learning_rate}"):
        load_model(tmp_path / "config.trm")


def test_a_metric_without_a_name_or_its_function_gives_a_clear_error(tmp_path):
    class AbsoluteError:  # a callable without __name__
        def __call__(self, y_true, y_pred):
            return np.abs(y_true - y_pred).mean(axis=-1)

    assert tr.metrics.MeanMetricWrapper(AbsoluteError()).name == "mean_metric_wrapper"  # Keras' fallback name
    with pytest.raises(TypeError, match=r"MeanMetricWrapper: `fn` must be a function fn\(y_true, y_pred\), "
                                        r"received 3 of type int"):
        tr.metrics.MeanMetricWrapper(3)
    model = Sequential([L.Dense(2, input_shape=(3,))])
    model.compile("sgd", "mse", metrics=[AbsoluteError()])
    model.save(tmp_path / "m.trm")
    assert model.metrics_names == ["loss", "absolute_error"]  # Keras names it by its class
    # the file names the metric's class, which is neither built in nor registered: a clear refusal
    with pytest.raises(ModelFileError, match=r"invalid compile settings: Unknown metric 'AbsoluteError'"):
        load_model(tmp_path / "m.trm")
    assert not load_model(tmp_path / "m.trm", compile=False).compiled
    with zipfile.ZipFile(tmp_path / "m.trm") as archive:
        config = json.loads(archive.read("config.json"))
    for metric in ({"class_name": "MeanMetricWrapper", "config": {"fn": 3}},
                   {"class_name": "MeanMetricWrapper", "config": {}}):
        config["compile_config"]["metrics"] = [metric]
        rewrite(tmp_path / "m.trm", tmp_path / "bad.trm", {"config.json": json.dumps(config)})
        with pytest.raises(ModelFileError, match="invalid compile settings: .*MeanMetricWrapper"):
            load_model(tmp_path / "bad.trm")


# ---- file modes ------------------------------------------------------------------------------------
@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_saved_files_get_the_umask_default_or_keep_the_mode_they_replace(tmp_path):
    model = Sequential([L.Dense(2, input_shape=(3,))])
    previous = os.umask(0o022)
    try:
        model.save(tmp_path / "new.trm")
        model.save_weights(tmp_path / "new.weights")
        assert os.stat(tmp_path / "new.trm").st_mode & 0o777 == 0o644
        assert os.stat(tmp_path / "new.weights").st_mode & 0o777 == 0o644
        os.chmod(tmp_path / "new.trm", 0o640)
        model.save(tmp_path / "new.trm")  # replaced: keeps its mode
        assert os.stat(tmp_path / "new.trm").st_mode & 0o777 == 0o640
        os.umask(0o077)
        model.save(tmp_path / "private.trm")
        assert os.stat(tmp_path / "private.trm").st_mode & 0o777 == 0o600
    finally:
        os.umask(previous)
    load_model(tmp_path / "new.trm")


# ---- atomic saving ----------------------------------------------------------------------------------
def test_failed_save_leaves_previous_file_and_no_temporaries(tmp_path, monkeypatch):
    path = saved(tmp_path)
    before = path.read_bytes()
    model = make_model()
    from tinygrad_relu import saving

    def explode(*args):
        raise OSError("disk full")
    monkeypatch.setattr(saving.native, "write_npy", explode)
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["good.trm"]
    with pytest.raises(FileExistsError):
        monkeypatch.undo()
        model.save(path, overwrite=False)


# A driver process imports the library once, then forks savers and kills each at a random moment
# while it saves: dozens of kills cost well under a second each. After every kill the file must be
# complete, loadable, and one snapshot (every weight carries the same step marker, never a mix).
KILL_DRIVER = textwrap.dedent("""
    import os, signal, sys, time
    sys.path.insert(0, {repo!r})
    import numpy as np
    from tinygrad_relu import layers as L
    from tinygrad_relu.callbacks import ModelCheckpoint
    from tinygrad_relu.models import Sequential, load_model
    path, mode, kills = {path!r}, {mode!r}, {kills}
    rng = np.random.default_rng(0)

    def saver(write_end):
        model = Sequential([L.Dense(128, input_shape=(128,)), L.Dense(128), L.Dense(10)])
        model.compile("adam", "mse")
        x, y = np.ones((8, 128), np.float32), np.ones((8, 10), np.float32)
        model.train_on_batch(x, y)
        step = 0
        if mode == "checkpoint":  # ModelCheckpoint saving after every batch, through model.save
            class Mark(ModelCheckpoint):
                def on_train_batch_end(self, batch, logs=None):
                    nonlocal step
                    step += 1
                    for w in self.model.weights:
                        w.data.flat[0] = step
                    super().on_train_batch_end(batch, logs)
            callback = Mark(path, save_freq=1, monitor="loss")
            model.optimizer.learning_rate = 0.0  # keep the markers exact
        while True:
            if mode == "checkpoint":
                model.fit(x, y, batch_size=1, epochs=1, verbose=0, callbacks=[callback], shuffle=False)
            else:
                step += 1
                for w in model.weights:
                    w.data.flat[0] = step
                model.save(path) if mode == "save" else model.save_weights(path)
            if write_end is not None:
                os.write(write_end, b"x")  # one complete file exists from here on
                os.close(write_end)
                write_end = None

    checked = 0
    for attempt in range(kills):
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            try:
                saver(write_end)
            finally:
                os._exit(1)
        os.close(write_end)
        assert os.read(read_end, 1) == b"x"
        os.close(read_end)
        time.sleep(rng.random() * 0.05)  # kill somewhere inside a later save
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        if mode == "weights":
            model = Sequential([L.Dense(128, input_shape=(128,)), L.Dense(128), L.Dense(10)])
            model.load_weights(path)
        else:
            model = load_model(path)
            assert model.optimizer.iterations >= 1
        markers = {{float(w.data.flat[0]) for w in model.weights}}
        assert len(markers) == 1, f"attempt {{attempt}}: weights from different saves {{markers}}"
        checked += 1
    leftovers = [n for n in os.listdir(os.path.dirname(path)) if n.endswith(".tmp")]
    print(checked, len(leftovers))
""")


@pytest.mark.parametrize("mode", ["save", "weights", "checkpoint"])
def test_killing_a_saving_process_repeatedly_leaves_a_complete_snapshot(tmp_path, mode):
    if not hasattr(os, "fork"):
        pytest.skip("needs os.fork")
    path = tmp_path / "ckpt.trm"
    kills = 15
    script = KILL_DRIVER.format(repo=REPO, path=str(path), mode=mode, kills=kills)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert out.returncode == 0, out.stderr
    checked, leftovers = map(int, out.stdout.split())
    assert checked == kills
    assert leftovers <= 1  # only the last killed save's temporary: the next save removes stale ones
    assert sorted(n for n in os.listdir(tmp_path) if not n.endswith(".tmp")) == ["ckpt.trm"]


def test_stale_temporaries_of_dead_savers_are_removed_live_ones_kept(tmp_path):
    from tinygrad_relu import saving
    path = saved(tmp_path)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / (saving.archive._temporary_prefix(path.name, dead.pid) + "abc.tmp")
    live = tmp_path / (saving.archive._temporary_prefix(path.name, os.getppid()) + "abc.tmp")  # our parent runs
    other = tmp_path / ".unrelated.host.1.abc.tmp"
    for f in (stale, live, other):
        f.write_bytes(b"partial")
    make_model().save(path)
    assert not stale.exists()
    assert live.exists() and other.exists()
    load_model(path)


def test_npy_header_claiming_a_huge_shape_is_refused_before_allocation(tmp_path):
    path = saved(tmp_path)
    with zipfile.ZipFile(path) as archive:
        target = json.loads(archive.read("weights.json"))[0]["path"]
    bomb = io.BytesIO()
    np.lib.format.write_array_header_1_0(bomb, {"descr": "<f4", "fortran_order": False, "shape": (2 ** 40,)})
    bomb.write(b"\0" * 64)  # a few bytes of data for a 4 TiB claim
    rewrite(path, tmp_path / "bomb.trm", {target: bomb.getvalue()})
    with pytest.raises(ModelFileError, match=r"shape \(1099511627776,\), the manifest says \(3, 3, 1, 4\)"):
        load_model(tmp_path / "bomb.trm")


def test_random_byte_corruption_gives_model_file_error_or_a_valid_model(tmp_path):
    path = saved(tmp_path)
    blob = path.read_bytes()
    rng = np.random.default_rng(0)
    outcomes = {"loaded": 0, "refused": 0}
    for _ in range(300):
        damaged = bytearray(blob)
        for position in rng.integers(0, len(blob), size=rng.integers(1, 4)):
            damaged[position] = rng.integers(0, 256)
        (tmp_path / "damaged").write_bytes(bytes(damaged))
        try:
            model = load_model(tmp_path / "damaged")  # anything but ModelFileError fails the test
        except ModelFileError:
            outcomes["refused"] += 1
        else:
            assert model.count_params() == make_model().count_params()
            outcomes["loaded"] += 1
    assert outcomes["refused"] > 200  # CRCs and the manifest catch nearly every flipped byte
