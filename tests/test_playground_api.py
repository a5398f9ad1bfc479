"""The playground's web API through Starlette's TestClient, its command, and the exported script run for real."""
import json
import os
import pathlib
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings

import pytest

pytest.importorskip("starlette", reason='the playground extra is not installed: pip install ".[playground]"')
pytest.importorskip("httpx", reason="Starlette's TestClient needs httpx: pip install httpx")

with warnings.catch_warnings():  # Starlette 1.x prefers httpx2 and says so on import; httpx works
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from tinygrad_relu import cli
from tinygrad_relu.lab.common import single_threaded_blas
from tinygrad_relu.playground import settings as pg_settings
from tinygrad_relu.playground.server import create_app

ROOT = pathlib.Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")


class Stream:
    """A tab's event stream, read by a thread into a queue so that a test never blocks forever."""

    def __init__(self, client, query=""):
        self._context = client.stream("GET", "/api/stream" + ("?" + query if query else ""))
        self.response = self._context.__enter__()
        self.events = queue.Queue()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        self.hello = self.expect("hello")
        self.id = self.hello.get("session")

    def _read(self):
        name = None
        try:
            for line in self.response.iter_lines():
                if line.startswith("event:"):
                    name = line[6:].strip()
                elif line.startswith("data:") and name:
                    self.events.put((name, json.loads(line[5:])))
                    name = None
        except Exception:  # the test closed the stream
            pass
        self.events.put(("end", None))

    def next(self, timeout=20):
        return self.events.get(timeout=timeout)

    def expect(self, wanted, timeout=20, where=lambda data: True):
        deadline = time.time() + timeout
        while True:
            name, data = self.next(max(0.01, deadline - time.time()))
            if name == wanted and where(data):
                return data
            if name == "end":
                raise AssertionError(f"the stream ended before a {wanted!r} event")

    def drain(self, seconds):
        """Every event that arrives within ``seconds``."""
        seen, deadline = [], time.time() + seconds
        while time.time() < deadline:
            try:
                seen.append(self.next(max(0.01, deadline - time.time())))
            except queue.Empty:
                break
        return seen

    def close(self):
        self._context.__exit__(None, None, None)
        self._thread.join(timeout=5)


@pytest.fixture
def app():
    return create_app(allowed_hosts=["testserver"])


@pytest.fixture
def client(app):
    with single_threaded_blas(), TestClient(app) as test_client:
        yield test_client


def wait_for(condition, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


# ---- the page and its metadata ------------------------------------------------------------------------
def test_the_page_and_its_files_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    for testid in ("play", "pause", "step", "reset", "step-count", "boundary", "neuron-grid", "grad-chart",
                   "dead-count", "dataset", "export"):
        assert f'data-testid="{testid}"' in page.text
    assert "activation-${k}" in client.get("/static/app.js").text  # one per hidden layer, built by the page
    for name in ("app.js", "charts.js", "style.css"):
        assert client.get(f"/static/{name}").status_code == 200
    assert "http" not in "".join(line for line in page.text.splitlines() if "src=" in line or "href=" in line)


def test_meta_lists_the_choices_bounds_and_presets(client):
    meta = client.get("/api/meta").json()
    assert meta["activations"] == list(pg_settings.ACTIVATIONS)
    assert meta["optimizers"] == ["sgd", "sgd_momentum", "adam", "rmsprop"]
    assert meta["max_layers"] == 12 and meta["max_units"] == 64 and meta["max_csv_rows"] == 10_000
    assert {"sparsity", "deep-sigmoid", "deep-relu", "dying-bias", "dying-lr", "linear-stack", "one-relu"} \
        <= set(meta["presets"])


def test_nothing_outside_the_static_folder_is_served(client):
    for path in ("/static/../server.py", "/static/%2e%2e/server.py", "/static/..%2fsettings.py",
                 "/static//etc/passwd"):
        assert client.get(path).status_code == 404, path


def test_an_unknown_host_is_refused(app):
    with TestClient(app, base_url="http://attacker.example") as other:
        assert other.get("/api/meta").status_code == 400


# ---- a tab's session ---------------------------------------------------------------------------------------
def test_opening_the_stream_starts_a_session_with_the_linked_settings(client):
    stream = Stream(client, "dataset=moons&layers=5,3&act=tanh,relu&lr=oops")
    try:
        assert "setting 'lr'" in stream.hello["warnings"][0]
        settings = stream.expect("settings")
        assert settings["settings"]["layers"] == [5, 3] and settings["settings"]["dataset"] == "moons"
        assert settings["query"] == pg_settings.to_query(settings["settings"])
        data = stream.expect("data")
        assert data["source"] == "moons" and len(data["train"]) + len(data["test"]) == 600
        frame = stream.expect("frame")
        assert frame["step"] == 0 and [layer["units"] for layer in frame["layers"]] == [5, 3]
    finally:
        stream.close()


def test_step_play_and_pause(client):
    stream = Stream(client, "layers=8,8,8,8&speed=2")
    try:
        stream.expect("frame")
        assert client.post(f"/api/session/{stream.id}/control", json={"action": "step"}).status_code == 200
        assert stream.expect("frame")["step"] == 1
        client.post(f"/api/session/{stream.id}/control", json={"action": "play"})
        frames = [data for name, data in stream.drain(1.0) if name == "frame"]
        steps = [f["step"] for f in frames]
        assert len(steps) >= 5 and steps == sorted(steps) and all(b - a == 2 for a, b in zip(steps, steps[1:]))
        assert client.post(f"/api/session/{stream.id}/control", json={"action": "pause"}).json()["playing"] is False
        stream.drain(0.4)  # a slice under way may still send its frame
        assert [name for name, _ in stream.drain(0.6) if name == "frame"] == []
        client.post(f"/api/session/{stream.id}/control", json={"action": "reset"})
        assert stream.expect("frame")["step"] == 0
    finally:
        stream.close()


def test_closing_the_tab_stops_its_training(client, app):
    stream = Stream(client)
    session = app.state.scheduler.get(stream.id)
    client.post(f"/api/session/{stream.id}/control", json={"action": "play"})
    stream.expect("frame", where=lambda f: f["step"] > 0)
    stream.close()
    assert wait_for(lambda: not app.state.scheduler.sessions)
    time.sleep(0.3)
    stopped = session.step
    time.sleep(0.5)
    assert session.closed and session.step == stopped
    assert client.post(f"/api/session/{stream.id}/control", json={"action": "play"}).status_code == 404


def test_the_page_leaving_ends_the_session_and_its_stream(client, app):
    stream = Stream(client)
    assert client.post(f"/api/session/{stream.id}/close").status_code == 204
    assert not app.state.scheduler.sessions
    assert stream.expect("end") is None
    stream.close()


def test_the_number_of_sessions_is_capped():
    app = create_app(max_sessions=1, allowed_hosts=["testserver"])
    with TestClient(app) as client:
        first = Stream(client)
        try:
            second_context = client.stream("GET", "/api/stream")
            response = second_context.__enter__()
            text = "".join(response.iter_text())
            second_context.__exit__(None, None, None)
            assert "event: fatal" in text and "1 playground tabs are open" in text
            assert len(app.state.scheduler.sessions) == 1
        finally:
            first.close()


# ---- validation -----------------------------------------------------------------------------------------------
def test_bad_settings_are_refused_one_message_each_and_change_nothing(client, app):
    stream = Stream(client)
    try:
        before = dict(app.state.scheduler.get(stream.id).settings)
        reply = client.post(f"/api/session/{stream.id}/settings", json={"lr": "fast", "layers": "0", "x": 1})
        assert reply.status_code == 422
        errors = reply.json()["errors"]
        assert len(errors) == 3
        assert "'lr'" in errors[0] and "'layers'" in errors[1] and "unknown setting 'x'" in errors[2]
        assert app.state.scheduler.get(stream.id).settings == before
        reply = client.post(f"/api/session/{stream.id}/settings", json={"dataset": "csv"})
        assert reply.status_code == 422 and "upload a CSV first" in reply.json()["error"]
        ok = client.post(f"/api/session/{stream.id}/settings", json={"layers": "3,3", "act": "elu,prelu"})
        assert ok.status_code == 200 and ok.json()["settings"]["act"] == ["elu", "prelu"]
    finally:
        stream.close()


def test_bodies_are_bounded_and_checked(client):
    stream = Stream(client)
    try:
        base = f"/api/session/{stream.id}"
        assert client.post(f"{base}/settings", content=b"{" + b" " * 70_000 + b"}").status_code == 413
        assert client.post(f"{base}/settings", content=b"not json").status_code == 400
        reply = client.post(f"{base}/control", json={"action": "rm -rf"})
        assert reply.status_code == 422 and "unknown action 'rm -rf'" in reply.json()["error"]
        big = b"1,2,0\n" * (pg_settings.MAX_CSV_BYTES // 6 + 1)
        reply = client.post(f"{base}/csv", content=big)
        assert reply.status_code == 413 and "larger than 2,000,000 bytes" in reply.json()["error"]
        assert client.get("/api/session/nope/export.py").status_code == 404
    finally:
        stream.close()


def csv_body(n=300):
    import numpy as np
    rng = np.random.default_rng(3)
    points = rng.normal(size=(n, 2)) * [3.0, 50.0] + [10.0, -200.0]
    labels = np.where(points[:, 0] > 10.0, "yes", "no")
    return ("feature_a,feature_b,answer\n" +
            "".join(f"{a:.5f},{b:.4f},{c}\n" for (a, b), c in zip(points, labels))).encode()


def test_a_csv_upload_trains_and_a_bad_one_changes_nothing(client, app):
    stream = Stream(client)
    try:
        stream.expect("frame")
        base = f"/api/session/{stream.id}"
        bad = client.post(f"{base}/csv", content=b"a,b,c\n1,2\n")
        assert bad.status_code == 422 and bad.json()["error"].startswith("CSV not loaded: ")
        assert app.state.scheduler.get(stream.id).settings["dataset"] == "spirals"
        reply = client.post(f"{base}/csv", content=csv_body())
        assert reply.status_code == 200 and reply.json()["rows"] == 300 and reply.json()["classes"] == ["no", "yes"]
        assert stream.expect("settings")["settings"]["dataset"] == "csv"
        data = stream.expect("data")
        assert data["source"] == "csv" and len(data["train"]) + len(data["test"]) == 300
        client.post(f"{base}/control", json={"action": "play"})
        frame = stream.expect("frame", where=lambda f: f["step"] >= 100)
        assert frame["accuracy"] > 0.9  # one straight border: easy once the features are standardized
    finally:
        stream.close()


# ---- export ----------------------------------------------------------------------------------------------------
def run_script(text, tmp_path):
    path = tmp_path / "playground_run.py"
    path.write_text(text)
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               OPENBLAS_NUM_THREADS="1")
    result = subprocess.run([sys.executable, str(path)], cwd=str(tmp_path), env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def train_and_export(client, stream, steps):
    """`steps` single steps, each waited for by the step count its frame reports (a frame left over from
    before, or one slice taking two pending steps on a busy machine, must not shift the count)."""
    base = f"/api/session/{stream.id}"
    start = client.post(f"{base}/control", json={"action": "pause"}).json()["step"]
    for k in range(start + 1, start + steps + 1):
        client.post(f"{base}/control", json={"action": "step"})
        stream.expect("frame", where=lambda f, k=k: f["step"] >= k)
    return client.get(f"{base}/export.py").text


@pytest.mark.parametrize("query", [
    "dataset=moons&layers=6,5,4&act=leaky_relu,prelu,tanh&slope=0.1&dropout=0.2&l2=0.001&opt=sgd_momentum"
    "&lr=0.05&batch=16&seed=7&bias=-0.1&init=he_uniform",
    "dataset=blobs&layers=4&act=gelu&opt=rmsprop&batch=100&points=300",
])
def test_the_exported_script_reproduces_the_run(client, app, tmp_path, query):
    stream = Stream(client, query)
    try:
        stream.expect("frame")
        script = train_and_export(client, stream, 23)  # crosses epoch boundaries (short last batches too)
        session = app.state.scheduler.get(stream.id)
        result = run_script(script, tmp_path)
        latest = session.latest
        assert (result["step"], result["epoch"]) == (23, session.epoch)
        assert result["loss"] == pytest.approx(latest["loss"], rel=1e-6)
        assert result["test_loss"] == pytest.approx(latest["test_loss"], rel=1e-6)
        assert result["accuracy"] == latest["accuracy"] and result["test_accuracy"] == latest["test_accuracy"]
    finally:
        stream.close()


def test_the_exported_script_of_a_csv_run_embeds_the_data(client, app, tmp_path):
    stream = Stream(client, "seed=3&test=0.3")
    try:
        client.post(f"/api/session/{stream.id}/csv", content=csv_body(120))
        stream.expect("data")
        script = train_and_export(client, stream, 9)
        assert "DATA = " in script and "datasets." not in script  # the file's rows, not a generator
        result = run_script(script, tmp_path)
        latest = app.state.scheduler.get(stream.id).latest
        assert result["step"] == 9
        assert result["loss"] == pytest.approx(latest["loss"], rel=1e-6)
        assert result["test_accuracy"] == latest["test_accuracy"]
    finally:
        stream.close()


def test_the_json_export_holds_the_run(client):
    stream = Stream(client, "layers=4,4")
    try:
        train_and_export(client, stream, 3)
        reply = client.get(f"/api/session/{stream.id}/export.json")
        assert 'filename="playground_run.json"' in reply.headers["content-disposition"]
        document = reply.json()
        assert document["step"] == 3 and document["settings"]["layers"] == [4, 4]
        assert [entry["step"] for entry in document["history"]] == [0, 1, 2, 3]
        assert len(document["history"][-1]["layers"]) == 2 and document["latest"]["layers"][0]["grad_w"] > 0
        assert [len(w) for w in document["weights"]["hidden_1"]] == [2, 4]
    finally:
        stream.close()


# ---- the command --------------------------------------------------------------------------------------------------
def test_without_the_extra_the_command_says_what_to_install(monkeypatch, capsys):
    from tinygrad_relu import playground
    monkeypatch.setattr(playground, "missing_requirements", lambda: ["uvicorn"])
    assert cli.main(["playground", "--no-browser"]) == 2
    assert 'pip install "tinygrad_relu[playground]"' in capsys.readouterr().err
    with pytest.raises(ImportError, match=r"needs uvicorn: pip install \"tinygrad_relu\[playground\]\""):
        playground.serve(open_browser=False)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_command_serves_on_localhost_until_interrupted(tmp_path):
    httpx = pytest.importorskip("httpx")
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    process = subprocess.Popen([sys.executable, "-m", "tinygrad_relu", "playground", "--no-browser", "--port",
                                str(port)], cwd=str(tmp_path), env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == f"playground: http://127.0.0.1:{port}/  (Ctrl-C stops it)"
        assert httpx.get(f"http://127.0.0.1:{port}/api/meta", timeout=10).json()["max_layers"] == 12
        assert httpx.get(f"http://127.0.0.1:{port}/", headers={"Host": "evil.example"}, timeout=10).status_code == 400
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert "Traceback" not in err
