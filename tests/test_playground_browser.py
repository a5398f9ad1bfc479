"""The playground end to end: the real server (uvicorn) and the page in headless Chromium, driven by Playwright.

Skipped, with the reason, when Playwright or a Chromium is missing. Playwright cannot download
its own browsers here; Debian's package works: ``apt-get install -y chromium`` and
``pip install playwright`` (set TINYGRAD_RELU_CHROMIUM to use another Chromium binary).

The screenshot test writes the page to docs/playground.png when that file is missing or
TINYGRAD_RELU_UPDATE_SCREENSHOT=1 (otherwise to a temporary folder, so the tree stays clean).
"""
import json
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import threading
import time

import pytest

pytest.importorskip("starlette", reason='the playground extra is not installed: pip install ".[playground]"')
uvicorn = pytest.importorskip("uvicorn", reason='the playground extra is not installed: pip install ".[playground]"')
sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed: pip install playwright")

from tinygrad_relu.lab.common import single_threaded_blas
from tinygrad_relu.playground.server import create_app

ROOT = pathlib.Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("TINYGRAD_RELU_CHROMIUM") or next(
    (path for path in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if path), None)
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium found: apt-get install -y chromium "
                                                "(Playwright cannot download its own browsers here)"),
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    port = free_port()
    app = create_app(max_sessions=8)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    instance = uvicorn.Server(config)
    with single_threaded_blas():
        thread = threading.Thread(target=instance.run, daemon=True)
        thread.start()
        deadline = time.time() + 20
        while not instance.started and time.time() < deadline:
            time.sleep(0.05)
        assert instance.started, "the playground server did not start"
        yield {"url": f"http://127.0.0.1:{port}/", "app": app}
        instance.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    tab = context.new_page()
    problems = []
    tab.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    tab.on("pageerror", lambda error: problems.append(str(error)))
    tab.expected_problems = []  # a test that provokes an error answer names it here
    yield tab
    context.close()
    unexpected = [p for p in problems if not any(expected in p for expected in tab.expected_problems)]
    assert unexpected == [], f"console errors: {unexpected}"


def open_page(page, server, query=""):
    page.goto(server["url"] + query)
    page.wait_for_selector('[data-testid="neuron-1-1"]')
    wait_step(page, lambda step: step >= 0)


def sel(name):
    return f'[data-testid="{name}"]'


def step_count(page):
    return int(page.text_content(sel("step-count")))


def wait_step(page, condition, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if page.get_attribute(sel("boundary"), "data-step") is not None and condition(step_count(page)):
            return step_count(page)
        time.sleep(0.05)
    raise AssertionError(f"step-count stayed at {step_count(page)}")


def choose_preset(page, name, wanted_query):
    page.select_option(sel("preset"), name)
    page.wait_for_function("q => location.search.includes(q)", arg=wanted_query)
    page.wait_for_function("() => document.querySelector('[data-testid=step-count]').textContent === '0'")
    page.wait_for_timeout(300)  # the new run's first frame drawn


def test_the_page_loads_without_console_errors(page, server):
    open_page(page, server)
    for k in (1, 2, 3, 4):
        assert page.input_value(sel(f"activation-{k}")) == "relu"
    assert page.input_value(sel("dataset")) == "spirals"
    assert page.locator(".neuron-grid canvas.tile").count() == 32
    assert page.is_disabled(sel("pause")) and not page.is_disabled(sel("play"))


def test_play_advances_the_steps_and_changes_the_boundary(page, server):
    open_page(page, server)
    before = page.eval_on_selector(sel("boundary"), "c => c.toDataURL()")
    page.click(sel("play"))
    wait_step(page, lambda step: step >= 100)
    page.click(sel("pause"))
    page.wait_for_timeout(500)
    stopped = step_count(page)
    page.wait_for_timeout(600)
    assert step_count(page) == stopped
    after = page.eval_on_selector(sel("boundary"), "c => c.toDataURL()")
    assert after != before
    page.click(sel("step"))
    wait_step(page, lambda step: step == stopped + 1)


def dead_tiles(page):
    return page.locator('.neuron-grid canvas.tile[data-dead="true"]')


def test_the_dying_relu_preset_shows_and_marks_dead_units(page, server):
    open_page(page, server)
    choose_preset(page, "dying-bias", "bias=-0.5")
    dead = int(page.get_attribute(sel("dead-count"), "data-dead"))
    assert dead >= 10 and page.get_attribute(sel("dead-count"), "data-units") == "64"
    assert dead_tiles(page).count() == dead
    assert page.locator(".neuron-grid canvas.tile.dead").count() == dead
    assert "dead" in dead_tiles(page).first.get_attribute("title")
    page.click(sel("play"))
    wait_step(page, lambda step: step >= 150)
    page.click(sel("pause"))
    assert int(page.get_attribute(sel("dead-count"), "data-dead")) >= 10  # dead units stay dead
    choose_preset(page, "dying-bias-leaky", "act=leaky_relu")
    assert page.get_attribute(sel("dead-count"), "data-dead") == "0" and dead_tiles(page).count() == 0


def test_the_deep_sigmoid_preset_shows_the_vanishing_gradient(page, server):
    open_page(page, server)
    choose_preset(page, "deep-sigmoid", "act=sigmoid")
    chart = page.locator(sel("grad-chart"))
    grad_w = json.loads(chart.get_attribute("data-grad-w"))
    assert len(grad_w) == 10
    assert float(chart.get_attribute("data-first-last")) < 1e-4  # about 1e-7: sigmoid' <= 0.25 per layer
    assert grad_w == sorted(grad_w)  # every layer nearer the input gets less
    assert "1/" in page.text_content(sel("grad-ratio"))
    choose_preset(page, "deep-relu", "act=relu")
    assert float(page.get_attribute(sel("grad-chart"), "data-first-last")) > 1e-2


def test_a_settings_url_round_trips(page, server, browser):
    query = "?dataset=moons&layers=6,3&act=tanh,elu&lr=0.03&opt=rmsprop&batch=64&seed=5"
    open_page(page, server, query)
    assert page.input_value(sel("dataset")) == "moons"
    assert page.input_value(sel("activation-1")) == "tanh" and page.input_value(sel("activation-2")) == "elu"
    assert page.input_value(sel("lr")) == "0.03" and page.input_value(sel("opt")) == "rmsprop"
    assert page.locator(".neuron-grid canvas.tile").count() == 9
    assert page.evaluate("location.search").startswith("?dataset=moons&noise=")  # the canonical form
    page.select_option(sel("activation-2"), "relu")
    page.wait_for_function("() => location.search.includes('act=tanh,relu')")
    shared = page.url
    other = browser.new_page()
    try:
        other.goto(shared)
        other.wait_for_selector('[data-testid="neuron-2-3"]')
        assert other.input_value(sel("activation-2")) == "relu"
        assert other.input_value(sel("batch")) == "64" and other.input_value(sel("seed")) == "5"
        assert other.url == shared
    finally:
        other.close()


def points_csv(n=300):
    import numpy as np
    rng = np.random.default_rng(5)
    points = rng.normal(size=(n, 2))
    labels = (np.hypot(points[:, 0], points[:, 1]) > 1.1).astype(int)
    return ("x,y,inside\n" + "".join(f"{a:.4f},{b:.4f},{c}\n" for (a, b), c in zip(points, labels))).encode()


def test_a_csv_upload_trains_and_a_bad_csv_shows_an_error(page, server):
    open_page(page, server)
    page.set_input_files(sel("csv-file"), files=[{"name": "points.csv", "mimeType": "text/csv",
                                                       "buffer": points_csv()}])
    page.wait_for_function("() => document.querySelector('[data-testid=data-info]').textContent.includes('300 rows')")
    page.wait_for_function("() => document.querySelector('[data-testid=dataset]').value === 'csv'")
    page.click(sel("play"))
    wait_step(page, lambda step: step >= 50)
    page.click(sel("pause"))
    assert page.is_hidden(sel("data-error"))
    page.expected_problems.append("the server responded with a status of 422")  # the bad files' answers
    page.set_input_files(sel("csv-file"), files=[{"name": "bad.csv", "mimeType": "text/csv",
                                                       "buffer": b"x,y,label\n1,2,0\n3,four,1\n"}])
    page.wait_for_selector(f'{sel("data-error")}:not([hidden])')
    assert "CSV not loaded" in page.text_content(sel("data-error"))
    page.set_input_files(sel("csv-file"), files=[{"name": "bad.csv", "mimeType": "text/csv",
                                                       "buffer": b"1,2,0\n" * 10 + b"3,four,1\n"}])
    page.wait_for_function(
        "() => document.querySelector('[data-testid=data-error]').textContent.includes('line 11: column 2')")
    assert page.input_value(sel("dataset")) == "csv"  # the good file is still the data


def test_export_gives_a_script_that_runs_json_and_png(page, server, tmp_path):
    open_page(page, server, "?layers=5,5&act=relu,prelu&dropout=0.1")
    for _ in range(7):
        page.click(sel("step"))
    wait_step(page, lambda step: step == 7)
    page.click(sel("export"))
    with page.expect_download() as download:
        page.click(sel("export-script"))
    script = tmp_path / "playground_run.py"
    download.value.save_as(script)
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               OPENBLAS_NUM_THREADS="1")
    result = subprocess.run([sys.executable, str(script)], cwd=str(tmp_path), env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1])["step"] == 7
    page.click(sel("export"))
    with page.expect_download() as download:
        page.click(sel("export-json"))
    download.value.save_as(tmp_path / "run.json")
    assert json.loads((tmp_path / "run.json").read_text())["step"] == 7
    page.click(sel("export"))
    with page.expect_download() as download:
        page.click(sel("export-png"))
    download.value.save_as(tmp_path / "figure.png")
    assert (tmp_path / "figure.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_4x8_network_updates_at_least_10_times_a_second(page, server, tmp_path):
    open_page(page, server)  # the default: 4 hidden layers of 8
    page.click(sel("play"))
    wait_step(page, lambda step: step > 0)
    page.wait_for_timeout(4000)
    rate = float(page.get_attribute(sel("update-rate"), "data-rate"))
    page.click(sel("pause"))
    print(f"\nplayground: a 4x8 network updated the page {rate:.1f} times a second")
    assert rate >= 10
    shot = tmp_path / "playground.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    target = ROOT / "docs" / "playground.png"
    if not target.exists() or os.environ.get("TINYGRAD_RELU_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(shot, target)


def test_closing_the_tab_ends_its_session(browser, server):
    sessions = server["app"].state.scheduler.sessions
    tab = browser.new_page()
    tab.goto(server["url"])
    tab.wait_for_selector('[data-testid="neuron-1-1"]')
    before = len(sessions)
    assert before >= 1
    tab.click(sel("play"))
    tab.close()
    deadline = time.time() + 5
    while len(sessions) >= before and time.time() < deadline:
        time.sleep(0.05)
    assert len(sessions) < before
