"""The playground's engine side, without a web server: settings, CSV, network, what a frame measures, fairness.

The frame's numbers are checked against independent computations: the boundary and the units
against ``predict`` and the layers' own outputs, the loss against ``evaluate``, the gradient
norms against PyTorch on the same weights, dead units against hand-set weights.
"""
import base64
import json
import threading
import time

import numpy as np
import pytest

from tinygrad_relu.ops.activation import TABLE
from tinygrad_relu.playground import data as pg_data
from tinygrad_relu.playground import network, views
from tinygrad_relu.playground import settings as pg_settings
from tinygrad_relu.playground.scheduler import Scheduler, TooManySessions
from tinygrad_relu.playground.session import Session
from tinygrad_relu.tensor import Tensor, no_grad


def small(**changes):
    return pg_settings.validate({"points": 200, **changes})


# ---- settings ------------------------------------------------------------------------------------
def test_activations_are_the_table_and_prelu():
    assert pg_settings.ACTIVATIONS == tuple(row.name for row in TABLE) + ("prelu",)


def test_defaults_and_presets_round_trip_through_the_url():
    for settings in [pg_settings.defaults()] + [p["settings"] for p in pg_settings.PRESETS.values()]:
        back, errors = pg_settings.from_query(pg_settings.to_query(settings))
        assert errors == [] and back == settings


def test_values_from_a_url_are_converted_and_one_activation_serves_every_layer():
    settings, errors = pg_settings.from_query("layers=6,3,5&act=tanh&lr=0.03&opt=rmsprop&speed=20&bias=-0.25")
    assert errors == []
    assert settings["layers"] == [6, 3, 5] and settings["act"] == ["tanh"] * 3
    assert settings["lr"] == 0.03 and settings["opt"] == "rmsprop" and settings["speed"] == 20
    assert settings["bias"] == -0.25


@pytest.mark.parametrize("name,value,expected", [
    ("lr", "abc", "setting 'lr' (learning rate) must be a number in [1e-06, 10], got 'abc'"),
    ("lr", "nan", "must be a number"),
    ("lr", "100", "must be a number in [1e-06, 10]"),
    ("points", "99.5", "must be an integer in [20, 5000]"),
    ("layers", "8,65", "each an integer in [1, 64]"),
    ("layers", ",".join(["4"] * 13), "1 to 12 comma-separated layer widths"),
    ("layers", "", "1 to 12 comma-separated"),
    ("act", "relu,swish", "each one of relu, leaky_relu"),
    ("dataset", "/etc/passwd", "setting 'dataset' (data set) must be one of spirals"),
    ("dropout", "0.95", "in [0, 0.9]"),
    ("batch", "0", "in [1, 1024]"),
    ("speed", "3", "one of 1, 2, 5"),
    ("opt", True, "one of sgd"),
])
def test_a_bad_value_is_refused_with_its_name_and_the_allowed_range(name, value, expected):
    with pytest.raises(pg_settings.SettingsError) as info:
        pg_settings.validate({name: value})
    assert expected in str(info.value)


def test_unknown_settings_and_mismatched_activation_counts_are_refused():
    with pytest.raises(pg_settings.SettingsError, match="unknown setting 'path'"):
        pg_settings.validate({"path": "/tmp/x"})
    with pytest.raises(pg_settings.SettingsError, match="gives 2 activations for 3 hidden layers"):
        pg_settings.validate({"layers": "4,4,4", "act": "relu,tanh"})


def test_a_depth_change_keeps_the_activations():
    base = pg_settings.validate({"layers": "4,4", "act": "tanh,elu"})
    assert pg_settings.validate({"layers": "4,4,4"}, base=base)["act"] == ["tanh", "elu", "elu"]
    assert pg_settings.validate({"layers": "4"}, base=base)["act"] == ["tanh"]


def test_a_lenient_read_keeps_the_good_values_of_a_url_with_a_bad_one():
    settings, errors = pg_settings.from_query("dataset=moons&lr=fast&layers=3")
    assert settings["dataset"] == "moons" and settings["layers"] == [3]
    assert settings["lr"] == pg_settings.defaults()["lr"]
    assert len(errors) == 1 and "'lr'" in errors[0]


# ---- CSV -------------------------------------------------------------------------------------------
def rows_text(n=40, header="x1,x2,label\n", sep=","):
    rng = np.random.default_rng(1)
    lines = [f"{a:.4f}{sep}{b:.4f}{sep}{int(a > b)}" for a, b in rng.normal(size=(n, 2))]
    return header + "\n".join(lines) + "\n"


def test_a_csv_with_a_header_is_read_and_standardized():
    parsed = pg_data.parse_csv(rows_text().encode())
    assert parsed.x.shape == (40, 2) and parsed.x.dtype == np.float32
    np.testing.assert_allclose(parsed.x.mean(axis=0), 0, atol=1e-6)
    np.testing.assert_allclose(parsed.x.std(axis=0), 1, atol=1e-5)
    assert parsed.class_names == ["0", "1"]


def test_separators_bom_and_text_labels():
    text = "\ufeff" + rows_text(header="", sep=";").replace(";0\n", ";cat\n").replace(";1\n", ";dog\n")
    parsed = pg_data.parse_csv(text.encode("utf-8"))
    assert parsed.class_names == ["cat", "dog"]
    assert pg_data.parse_csv(rows_text(header="a\tb\tc\n", sep="\t").encode()).x.shape == (40, 2)


def test_numeric_labels_are_ordered_as_numbers():
    text = "".join(f"{i},{i % 7},{[10, 2, 33][i % 3]}\n" for i in range(30))
    parsed = pg_data.parse_csv(text)
    assert parsed.class_names == ["2", "10", "33"]
    assert parsed.y[:3].tolist() == [1, 0, 2]


@pytest.mark.parametrize("text,message", [
    (b"", "the file is empty"),
    (b"\xff\xfe1,2,3\n", "not UTF-8 text"),
    (b"1,2,0\x00\n", "NUL bytes"),
    ("1 2 0\n" * 20, "found no comma, semicolon or tab"),
    ("1,2,0\n" * 5, "has 5 data rows; the playground needs at least 10"),
    ("1,2,0\n" * 10 + "1,2\n", "line 11: expected 3 columns (x1,x2,label), found 2"),
    ("1,2,0\n" * 10 + "1,abc,1\n", "line 11: column 2 must be a finite number, got 'abc'"),
    ("1,2,0\n" * 10 + "nan,1,1\n", "line 11: column 1 must be a finite number, got 'nan'"),
    ("1,2,0\n" * 10 + "1,2, \n", "line 11: the label (column 3) is empty"),
    ("".join(f"{i},{i * 2 % 5},a\n" for i in range(12)), "every row has the label 'a'"),
    ("".join(f"{i},{i % 5},{i}\n" for i in range(12)), "found 12 different labels in column 3"),
    ("".join(f"1,{i},{i % 2}\n" for i in range(12)), "column 1 has the same value (1) in every row"),
    ('1,2,"0\n' + "1,2,1\n" * 12, "a quoted field is never closed"),
])
def test_every_bad_csv_gets_a_message_that_says_where(text, message):
    with pytest.raises(pg_data.CsvError) as info:
        pg_data.parse_csv(text)
    assert message in str(info.value)


def test_more_rows_than_the_limit_are_refused():
    text = "".join(f"{i % 97},{i % 89},{i % 2}\n" for i in range(pg_settings.MAX_CSV_ROWS + 1))
    with pytest.raises(pg_data.CsvError, match="10,001 data rows; the playground takes at most 10,000"):
        pg_data.parse_csv(text)
    assert len(pg_data.parse_csv(text.split("\n", 1)[1]).x) == pg_settings.MAX_CSV_ROWS


# ---- network ----------------------------------------------------------------------------------------
def test_the_model_follows_the_settings_layer_by_layer():
    settings = small(layers="5,4,3", act="leaky_relu,prelu,tanh", slope=0.1, dropout=0.2, l2=0.001,
                     opt="sgd_momentum", lr=0.05, bias=-0.3)
    model, specs = network.build_model(settings, 3)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Dense", "LeakyReLU", "Dropout", "Dense", "PReLU", "Dropout", "Dense", "Dropout", "Dense"]
    assert model.layers[1].negative_slope == 0.1
    assert model.layers[2].rate == 0.2 and model.layers[2].seed != model.layers[5].seed
    assert np.all(model.layers[0].bias.data == np.float32(-0.3))
    assert model.layers[0].kernel_regularizer.l2 == 0.001
    assert model.layers[6].activation.__name__ == "tanh"
    assert type(model.optimizer).__name__ == "SGD" and model.optimizer.momentum == 0.9
    assert [g.activation for g in views.groups(specs, settings)] == ["leaky_relu", "prelu", "tanh"]


def test_the_exported_source_builds_the_same_model():
    settings = small(layers="6,4", act="relu,prelu", dropout=0.1, l2=0.01, init="lecun_uniform", opt="rmsprop")
    model, specs = network.build_model(settings, 2)
    from tinygrad_relu import initializers, layers, optimizers, regularizers  # noqa: F401  (the source's names)
    from tinygrad_relu.models import Sequential  # noqa: F401
    scope = dict(locals())
    exec(network.source(specs, settings), scope)
    rebuilt = scope["model"]
    assert rebuilt.get_config()["layers"][1:] == model.get_config()["layers"][1:]  # [0]: the Input's automatic name
    for a, b in zip(rebuilt.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert type(rebuilt.optimizer) is type(model.optimizer)


# ---- what a frame measures ----------------------------------------------------------------------------
def decode(text):
    return np.frombuffer(base64.b64decode(text), dtype=np.uint8)


@pytest.fixture
def trained():
    session = Session("t", small(layers="6,5", act="relu,tanh", dataset="moons", noise=0.15))
    session.train(60)
    return session, session.publish_frame()


def test_the_boundary_is_the_predicted_class_on_the_plane(trained):
    session, frame = trained
    grid = views.GRID
    cells = decode(frame["boundary"])
    p = session.model.predict(session.plane.points, verbose=0)
    np.testing.assert_array_equal(cells[:grid * grid], p.argmax(axis=1))
    assert np.abs(cells[grid * grid:].astype(int) - np.rint(p.max(axis=1) * 255)).max() <= 1


def test_each_unit_heatmap_is_that_units_output_on_the_plane(trained):
    session, frame = trained
    side = views.GRID // 2  # a small network: every 2nd cell
    with no_grad():
        h = session.model.layers[0](Tensor(session.plane.points)).data
    expected = h.reshape(views.GRID, views.GRID, -1)[::2, ::2].reshape(side * side, -1)
    layer = frame["layers"][0]
    low, high = np.array(layer["neuron_range"]).T
    np.testing.assert_allclose(low, expected.min(axis=0), rtol=1e-6)
    np.testing.assert_allclose(high, expected.max(axis=0), rtol=1e-6)
    q = decode(layer["neurons"]).reshape(layer["units"], side * side).T.astype(float)
    np.testing.assert_allclose(low + q / 255 * (high - low), expected, atol=(high - low).max() / 255 + 1e-6)


def test_big_networks_get_coarser_heatmaps():
    session = Session("b", small(layers="64,64,8"))
    layer = session.latest["layers"][0]
    assert session.plane.stride == 4 and len(decode(layer["neurons"])) == 64 * (views.GRID // 4) ** 2


def test_loss_and_accuracy_agree_with_evaluate(trained):
    session, frame = trained
    loss, accuracy = session.model.evaluate(session.data.x_train, session.data.y_train, verbose=0)
    assert frame["loss"] == pytest.approx(loss, rel=1e-5)
    assert frame["accuracy"] == pytest.approx(accuracy)
    test_loss, test_accuracy = session.model.evaluate(session.data.x_test, session.data.y_test, verbose=0)
    assert frame["test_loss"] == pytest.approx(test_loss, rel=1e-5)
    assert frame["test_accuracy"] == pytest.approx(test_accuracy)


def test_histograms_count_every_pre_activation_of_the_data(trained):
    session, frame = trained
    x = np.concatenate([session.data.x_train, session.data.x_test])
    first = session.model.layers[0]
    z = x @ first.kernel.data + first.bias.data
    hist = frame["layers"][0]["hist"]
    assert sum(hist["counts"]) == z.size
    assert hist["lo"] == pytest.approx(z.min()) and hist["hi"] == pytest.approx(z.max())


def test_gradient_norms_match_pytorch_on_the_same_weights(trained):
    torch = pytest.importorskip("torch")
    session, frame = trained
    rows = min(views.PROBE_ROWS, len(session.data.x_train))
    x = torch.tensor(session.data.x_train[:rows], dtype=torch.float64)
    y = torch.tensor(session.data.y_train[:rows])
    dense = [layer for layer in session.model.layers]
    weights = [(torch.tensor(d.kernel.data, dtype=torch.float64, requires_grad=True),
                torch.tensor(d.bias.data, dtype=torch.float64)) for d in dense]
    h1 = torch.relu(x @ weights[0][0] + weights[0][1])
    h2 = torch.tanh(h1 @ weights[1][0] + weights[1][1])
    h1.retain_grad()
    h2.retain_grad()
    logits = h2 @ weights[2][0] + weights[2][1]
    torch.nn.functional.cross_entropy(logits, y).backward()
    for k, h in enumerate((h1, h2)):
        assert frame["layers"][k]["grad_w"] == pytest.approx(weights[k][0].grad.norm().item(), rel=1e-3)
        assert frame["layers"][k]["grad_h"] == pytest.approx(h.grad.norm().item(), rel=1e-3)
    assert frame["output_grad_w"] == pytest.approx(weights[2][0].grad.norm().item(), rel=1e-3)


def test_dead_means_zero_on_the_whole_plane_and_every_point():
    session = Session("d", small(layers="4", act="relu"))
    dense = session.model.layers[0]
    x = np.concatenate([session.data.x_train, session.data.x_test])
    edge = float(x[:, 0].max())
    kernel = np.zeros((2, 4), dtype=np.float32)
    kernel[0, 3] = 1.0  # unit 4: x0 - edge, zero on every point but positive on the plane's margin
    dense.kernel.data[...] = kernel
    dense.bias.data[...] = np.array([-1.0, 1.0, -0.01, -edge - 1e-3], dtype=np.float32)
    frame = session.publish_frame()
    assert frame["layers"][0]["dead"] == [1, 0, 1, 0]
    assert frame["layers"][0]["dead_fraction"] == 0.5
    assert frame["layers"][0]["sparsity"] == pytest.approx(0.75)  # on the data, unit 4 is zero too


def test_a_diverged_run_still_gives_valid_json():
    session = Session("n", small(layers="4,4"))
    session.model.layers[0].kernel.data[0, 0] = np.nan
    frame = session.publish_frame()
    assert frame["diverged"] is True and frame["loss"] is None
    json.dumps(frame, allow_nan=False)
    json.dumps(session.history, allow_nan=False)


# ---- the session's loop and the scheduler --------------------------------------------------------------
def test_steps_and_epochs_follow_the_batches():
    session = Session("s", small(batch=64))  # 150 training points: batches of 64, 64, 22
    assert session.train(3) == 3
    assert (session.step, session.epoch, session.cursor) == (3, 1, 0)
    session.train(1)
    assert session.epoch == 1 and session.cursor == 64


def test_a_speed_change_keeps_the_run_and_anything_else_starts_a_new_one():
    session = Session("r", small())
    session.train(5)
    session.update_settings({"speed": 50})
    assert session.step == 5 and session.settings["speed"] == 50
    run = session.run
    session.update_settings({"lr": 0.02})
    assert session.step == 0 and session.run == run + 1


def test_the_trainer_shares_its_time_fairly():
    """A heavy network and a light one, both playing: each gets about half of the slices."""
    scheduler = Scheduler(max_sessions=3, updates_per_second=1000).start()
    try:
        heavy = scheduler.create(small(layers=",".join(["64"] * 12), batch=128, speed=20))
        light = scheduler.create(small(layers="4", speed=1))
        for session in (heavy, light):
            session.notify = session.outbox.clear  # a page that reads every message at once
            session.outbox.clear()
            session.control("play")
        scheduler.poke()
        deadline = time.time() + 60  # a debug build on a busy machine is slow: wait for slices, not a fixed time
        while min(len(heavy.history), len(light.history)) - 1 < 8 and time.time() < deadline:
            time.sleep(0.05)
        for session in (heavy, light):
            session.control("pause")
        slices = {name: len(s.history) - 1 for name, s in (("heavy", heavy), ("light", light))}
        assert min(slices.values()) >= 8, slices
        assert abs(slices["heavy"] - slices["light"]) <= 0.2 * max(slices.values()) + 2, slices
    finally:
        scheduler.stop()


def test_a_request_waiting_for_the_lock_goes_before_the_next_slice():
    """While the page's pause waits for a slice to end, the trainer does not start another one on
    that session (Python's locks are not fair: the trainer used to win them back-to-back)."""
    scheduler = Scheduler(max_sessions=1)
    session = scheduler.create(small())
    session.notify = session.outbox.clear  # a page that reads every message at once
    session.outbox.clear()
    session.control("play")
    assert session.wants_time()
    session.lock.acquire()  # a slice under way
    try:
        pause = threading.Thread(target=session.control, args=("pause",))
        pause.start()
        deadline = time.time() + 5
        while not session.requests and time.time() < deadline:
            time.sleep(0.001)
        assert session.requests == 1 and not session.wants_time()
    finally:
        session.lock.release()
    pause.join(timeout=5)
    assert not pause.is_alive() and session.requests == 0 and not session.playing
    session.control("play")
    assert session.wants_time()
    scheduler.stop()


def test_a_removed_session_trains_no_more_and_the_cap_holds():
    scheduler = Scheduler(max_sessions=2).start()
    try:
        first = scheduler.create(small())
        second = scheduler.create(small())
        with pytest.raises(TooManySessions, match="2 playground tabs are open"):
            scheduler.create(small())
        first.notify = first.outbox.clear
        first.control("play")
        scheduler.poke()
        deadline = time.time() + 5
        while first.step == 0 and time.time() < deadline:
            time.sleep(0.01)
        scheduler.remove(first.id)
        time.sleep(0.3)  # a slice under way may finish
        stopped_at = first.step
        time.sleep(0.5)
        assert first.step == stopped_at and first.closed and stopped_at > 0
        assert list(scheduler.sessions) == [second.id]
        scheduler.create(small())  # the slot is free again
    finally:
        scheduler.stop()


def test_sessions_do_not_share_random_streams():
    """Two sessions built with the same settings in two threads give the same weights as one alone."""
    alone = Session("a", small(dropout=0.3))
    alone.train(20)
    results = {}

    def run(name):
        session = Session(name, small(dropout=0.3))
        session.train(20)
        results[name] = session.model.get_weights()

    threads = [threading.Thread(target=run, args=(n,)) for n in ("x", "y")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for name in ("x", "y"):
        for a, b in zip(results[name], alone.model.get_weights()):
            np.testing.assert_array_equal(a, b)


def test_the_page_files_ship_with_the_package():
    """`pip install .` copies package data only where pyproject.toml says so: every file of static/ must match."""
    import fnmatch
    import pathlib
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    root = pathlib.Path(__file__).resolve().parents[1]
    config = tomllib.loads((root / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["tinygrad_relu.playground"]
    static = root / "tinygrad_relu" / "playground" / "static"
    files = [p.relative_to(static.parent).as_posix() for p in static.rglob("*") if p.is_file()]
    assert {"static/index.html", "static/app.js", "static/charts.js", "static/style.css"} <= set(files)
    assert [f for f in files if not any(fnmatch.fnmatch(f, pattern) for pattern in patterns)] == []
