"""TensorBoard (event files read back record by record), SwapEMAWeights, RemoteMonitor and ProgbarLogger, each
with Keras 3's constructor and behaviour."""
import glob
import http.server
import json
import os
import struct
import threading
import urllib.parse

import numpy as np
import pytest

from tinygrad_relu import callbacks, layers, models, optimizers, utils


def data(n=48):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((n, 4)).astype(np.float32)
    y = (x[:, :1] - x[:, 2:3] > 0).astype(np.float32)
    return x, y


def make_model(optimizer="adam"):
    model = models.Sequential([layers.Input((4,)), layers.Dense(8, activation="relu"),
                               layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=optimizer, loss="binary_crossentropy", metrics=["accuracy"])
    return model


# ---- TensorBoard ------------------------------------------------------------------------------------
def read_events(directory):
    """Every Event in the event files of ``directory``: the TFRecord framing and both masked CRC-32C checksums
    of each record verified, the payload parsed with tensorboardX's Event protobuf."""
    record_writer = pytest.importorskip("tensorboardX.record_writer")
    from tensorboardX.proto import event_pb2
    files = glob.glob(os.path.join(directory, "events.out.tfevents.*"))
    assert files, f"no event file in {directory}"
    events = []
    for path in files:
        blob = open(path, "rb").read()
        offset = 0
        while offset < len(blob):
            header = blob[offset:offset + 8]
            (length,) = struct.unpack("<Q", header)
            (length_crc,) = struct.unpack("<I", blob[offset + 8:offset + 12])
            assert length_crc == record_writer.masked_crc32c(header)
            payload = blob[offset + 12:offset + 12 + length]
            (payload_crc,) = struct.unpack("<I", blob[offset + 12 + length:offset + 16 + length])
            assert payload_crc == record_writer.masked_crc32c(payload)
            events.append(event_pb2.Event.FromString(payload))
            offset += 16 + length
    return events


def scalars(events):
    """{tag: [(step, value)]}"""
    out = {}
    for event in events:
        for value in event.summary.value:
            if value.HasField("simple_value"):
                out.setdefault(value.tag, []).append((event.step, value.simple_value))
    return out


def test_tensorboard_writes_keras_tags_to_real_event_files(tmp_path):
    pytest.importorskip("tensorboardX")
    x, y = data()
    model = make_model(optimizers.Adam(learning_rate=0.01))
    board = callbacks.TensorBoard(log_dir=tmp_path, histogram_freq=2, update_freq=2, write_steps_per_second=True)
    history = model.fit(x, y, epochs=3, batch_size=8, validation_split=0.25, verbose=0, shuffle=False,
                        callbacks=[board])
    train_events = read_events(tmp_path / "train")
    assert train_events[0].file_version == "brain.Event:2"
    train = scalars(train_events)
    validation = scalars(read_events(tmp_path / "validation"))
    np.testing.assert_allclose([v for _, v in train["epoch_loss"]], history.history["loss"], rtol=1e-6)
    assert [s for s, _ in train["epoch_loss"]] == [0, 1, 2]
    np.testing.assert_allclose([v for _, v in train["epoch_accuracy"]], history.history["accuracy"], rtol=1e-6)
    np.testing.assert_allclose([v for _, v in train["epoch_learning_rate"]], [0.01] * 3, rtol=1e-6)
    assert "epoch_steps_per_second" in train
    np.testing.assert_allclose([v for _, v in validation["epoch_loss"]], history.history["val_loss"], rtol=1e-6)
    assert [s for s, _ in validation["evaluation_loss_vs_iterations"]] == [5, 10, 15]  # optimizer steps
    assert [s for s, _ in train["batch_loss"]] == [2, 4, 6, 8, 10, 12, 14]  # every 2nd of the 15 steps
    histograms = {(e.step, v.tag) for e in train_events for v in e.summary.value if v.HasField("histo")}
    names = [f"{owner.name}/{name}/histogram" for owner, name, _ in model.named_weights()]
    assert histograms == {(epoch, tag) for epoch in (0, 2) for tag in names}
    texts = [v for e in train_events for v in e.summary.value if v.tag.startswith("keras")]
    assert texts and b"Sequential" in texts[0].tensor.string_val[0]


def test_tensorboard_epoch_only_by_default_and_refuses_what_it_cannot_do(tmp_path):
    pytest.importorskip("tensorboardX")
    x, y = data()
    make_model().fit(x, y, epochs=2, verbose=0, callbacks=[callbacks.TensorBoard(log_dir=tmp_path)])
    train = scalars(read_events(tmp_path / "train"))
    assert sorted(train) == ["epoch_accuracy", "epoch_learning_rate", "epoch_loss"]
    assert not (tmp_path / "validation").exists()  # no validation data: no empty run
    for kwargs, error in [({"profile_batch": 2}, ValueError), ({"write_images": True}, NotImplementedError),
                          ({"embeddings_freq": 1}, NotImplementedError), ({"update_freq": 0}, ValueError),
                          ({"histogram_freq": -1}, ValueError)]:
        with pytest.raises(error, match=next(iter(kwargs))):
            callbacks.TensorBoard(log_dir=tmp_path, **kwargs)


def test_tensorboard_says_what_to_install_without_tensorboardx(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_tensorboardx(name, *args, **kwargs):
        if name.startswith("tensorboardX"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", no_tensorboardx)
    with pytest.raises(ImportError, match=r'pip install "tinygrad_relu\[tensorboard\]"'):
        callbacks.TensorBoard()


# ---- SwapEMAWeights -----------------------------------------------------------------------------------
def test_swap_ema_weights_validates_with_the_averages_and_trains_on_the_weights():
    x, y = data()
    model = make_model(optimizers.SGD(learning_rate=0.5, use_ema=True, ema_momentum=0.9))
    seen = []

    class Recorder(callbacks.Callback):  # runs after SwapEMAWeights: sees what validation computes with
        def on_test_begin(self, logs=None):
            seen.append([w.copy() for w in self.model.get_weights()])

    history = model.fit(x, y, epochs=2, batch_size=8, validation_split=0.25, shuffle=False, verbose=0,
                        callbacks=[callbacks.SwapEMAWeights(), Recorder()])
    assert len(seen) == 2
    # at the end fit sets the weights to their averages; the last validation computed with them as well
    for a, b in zip(seen[-1], model.get_weights()):
        np.testing.assert_array_equal(a, b)
    again = make_model(optimizers.SGD(learning_rate=0.5, use_ema=True, ema_momentum=0.9))
    again.set_weights(model.get_weights())  # the swap is exact: the weights trained on are untouched by it
    assert history.history["val_loss"][-1] == pytest.approx(again.evaluate(x[36:], y[36:], verbose=0)[0], rel=1e-6)


def test_swap_ema_weights_matches_keras_validation_loss(keras):
    """The same model, data, initial weights and batch order in Keras 3 and here: the validation loss computed
    with the swapped-in averages agrees."""
    import torch
    x, y = data()
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    init = [w.astype(np.float64) for w in make_model().get_weights()]
    cfg = {"learning_rate": 0.25, "use_ema": True, "ema_momentum": 0.5}
    ours = models.Sequential([layers.Input((4,), dtype="float64"), layers.Dense(8, activation="relu", dtype="float64"),
                              layers.Dense(1, activation="sigmoid", dtype="float64")])
    ours.set_weights(init)
    ours.compile(optimizers.SGD(**cfg), "mse")
    ours_history = ours.fit(x64[:36], y64[:36], epochs=3, batch_size=12, shuffle=False, verbose=0,
                            validation_data=(x64[36:], y64[36:]), callbacks=[callbacks.SwapEMAWeights()])
    old = keras.config.floatx()
    keras.config.set_floatx("float64")
    try:
        theirs = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                                   keras.layers.Dense(1, activation="sigmoid")])
        theirs.set_weights(init)
        theirs.compile(keras.optimizers.SGD(**cfg), "mse")
        keras_history = theirs.fit(torch.tensor(x64[:36]), torch.tensor(y64[:36]), epochs=3, batch_size=12,
                                   shuffle=False, verbose=0, callbacks=[keras.callbacks.SwapEMAWeights()],
                                   validation_data=(torch.tensor(x64[36:]), torch.tensor(y64[36:])))
    finally:
        keras.config.set_floatx(old)
    np.testing.assert_allclose(ours_history.history["val_loss"], keras_history.history["val_loss"], rtol=1e-5)
    np.testing.assert_allclose(ours_history.history["loss"], keras_history.history["loss"], rtol=1e-5)


def test_swap_ema_weights_needs_use_ema():
    x, y = data()
    with pytest.raises(ValueError, match="use_ema=True"):
        make_model("adam").fit(x, y, epochs=1, verbose=0, callbacks=[callbacks.SwapEMAWeights()])


def test_swap_on_epoch_leaves_the_averages_in_the_model_for_the_callbacks_after_it():
    """Against the same run without swapping: at each epoch's end the model holds what the optimizer's averages
    hold there, and the averages slots hold the weights; training itself is not changed by the swaps."""
    x, y = data()

    def run(swap):
        utils.set_random_seed(5)
        model = make_model(optimizers.Adam(learning_rate=0.05, use_ema=True, ema_momentum=0.5))
        snapshots = []
        record = callbacks.LambdaCallback(on_epoch_end=lambda e, logs: snapshots.append(
            (model.get_weights(), [a.copy() for a in model.optimizer.get_state()[2:6]])))
        extra = [callbacks.SwapEMAWeights(swap_on_epoch=True)] if swap else []
        model.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0, callbacks=extra + [record])
        return model, snapshots

    swapped, with_swaps = run(True)
    plain, without = run(False)
    for epoch in range(2):
        (weights, slots), (plain_weights, plain_averages) = with_swaps[epoch], without[epoch]
        for a, b in zip(weights, plain_averages):
            np.testing.assert_array_equal(a, b)
        for a, b in zip(slots, plain_weights):
            np.testing.assert_array_equal(a, b)
    for a, b, c in zip(with_swaps[2][0], without[2][1], swapped.get_weights()):  # the last epoch: the averages
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(c, b)
    for a, b in zip(swapped.get_weights(), plain.get_weights()):
        np.testing.assert_array_equal(a, b)


# ---- RemoteMonitor -----------------------------------------------------------------------------------
class Collector(http.server.BaseHTTPRequestHandler):
    received = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Collector.received.append((self.path, self.headers["Content-Type"], self.headers.get("X-Run"), body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("send_as_json", [False, True])
def test_remote_monitor_posts_each_epochs_logs(send_as_json, monkeypatch):
    for proxy in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(proxy, raising=False)  # the local server is reached directly
    Collector.received = []
    server = http.server.HTTPServer(("127.0.0.1", 0), Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        x, y = data()
        root = f"http://127.0.0.1:{server.server_address[1]}"
        history = make_model().fit(x, y, epochs=2, verbose=0, callbacks=[callbacks.RemoteMonitor(
            root=root, path="/publish/", field="payload", headers={"X-Run": "7"}, send_as_json=send_as_json)])
    finally:
        server.shutdown()
        server.server_close()
    assert len(Collector.received) == 2
    for epoch, (path, content_type, run, body) in enumerate(Collector.received):
        assert path == "/publish/" and run == "7"
        if send_as_json:
            assert content_type == "application/json"
            sent = json.loads(body)
        else:
            assert content_type == "application/x-www-form-urlencoded"
            sent = json.loads(urllib.parse.parse_qs(body.decode())["payload"][0])
        assert sent["epoch"] == epoch
        assert sent["loss"] == pytest.approx(history.history["loss"][epoch])


def test_remote_monitor_warns_when_the_server_is_unreachable():
    x, y = data()
    with pytest.warns(UserWarning, match="Could not reach RemoteMonitor root server"):
        make_model().fit(x, y, epochs=1, verbose=0,
                         callbacks=[callbacks.RemoteMonitor(root="http://127.0.0.1:9", timeout=2)])
    with pytest.raises(ValueError, match="http"):
        callbacks.RemoteMonitor(root="file:///etc")


# ---- ProgbarLogger -----------------------------------------------------------------------------------
def test_progbar_logger_takes_no_arguments_as_in_keras_3(keras, capsys):
    """Keras 3's ProgbarLogger() has no constructor arguments (its docstring's count_mode is gone); a given one
    replaces fit's own, and follows fit's verbose."""
    import inspect
    assert list(inspect.signature(keras.callbacks.ProgbarLogger.__init__).parameters) == ["self"]
    assert list(inspect.signature(callbacks.ProgbarLogger.__init__).parameters) == ["self"]
    with pytest.raises(TypeError):
        callbacks.ProgbarLogger(count_mode="samples")
    x, y = data()
    logger = callbacks.ProgbarLogger()
    make_model().fit(x, y, epochs=2, batch_size=16, verbose=2, callbacks=[logger])
    out = capsys.readouterr().out
    assert out.count("Epoch 1/2") == 1 and out.count("Epoch 2/2") == 1  # one logger, not two
    assert "3/3" in out and "loss:" in out
    make_model().fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[callbacks.ProgbarLogger()])
    assert capsys.readouterr().out == ""
