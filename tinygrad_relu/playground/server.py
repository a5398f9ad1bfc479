"""The playground's web app (Starlette, served by uvicorn): the page, its API, one event stream per tab.

    GET  /                              the page (static/index.html; its CSS and JS under /static/)
    GET  /api/meta                      choices, bounds, defaults and presets for the controls
    GET  /api/stream?<settings>         server-sent events; opening it starts the tab's session,
                                        closing it (the tab closes or reloads) ends the session
    POST /api/session/{id}/control      {"action": "play" | "pause" | "step" | "reset"}
    POST /api/session/{id}/settings     {name: value, ...}: 422 with one message per bad setting
    POST /api/session/{id}/csv          the CSV file as the request body: 413 / 422 with the reason
    GET  /api/session/{id}/export.json  the run's numbers
    GET  /api/session/{id}/export.py    a script that reproduces the run
    POST /api/session/{id}/close        the page leaving (sendBeacon), same as closing the stream

The server never reads or writes a path a request names: the page's files are fixed at start,
uploads stay in memory. Requests whose Host is not the bound one are refused (a web page
elsewhere cannot reach a localhost server through DNS rebinding).
"""
import asyncio
import contextlib
import json
import pathlib

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from . import export
from .data import CsvError
from .scheduler import Scheduler, TooManySessions
from .settings import MAX_CSV_BYTES, SettingsError, describe, from_query

STATIC = pathlib.Path(__file__).resolve().with_name("static")
HEARTBEAT_SECONDS = 15
MAX_JSON_BYTES = 64_000


def _event(event, text):
    return f"event: {event}\ndata: {text}\n\n"


class _SessionStream(StreamingResponse):
    """A tab's event stream; ``on_close`` runs however the stream ends (finished, disconnected, cancelled).

    The generator's own ``finally`` is not enough: a stream cancelled while Starlette sends a chunk
    leaves the generator suspended at its ``yield`` until garbage collection.
    """

    def __init__(self, content, on_close, **kwargs):
        super().__init__(content, **kwargs)
        self.on_close = on_close

    async def __call__(self, scope, receive, send):
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.on_close()


def _error(status, message, **extra):
    return JSONResponse({"error": message, **extra}, status_code=status)


async def _read_body(request, limit):
    """The request body, or None when it is longer than ``limit`` bytes (read no further than that)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            return None
    return bytes(body)


def create_app(max_sessions=8, allowed_hosts=("127.0.0.1", "localhost"), scheduler=None):
    """The ASGI app. ``allowed_hosts``: the Host headers it answers ("*" for any)."""
    scheduler = scheduler or Scheduler(max_sessions=max_sessions)

    def session_of(request):
        try:
            return scheduler.get(request.path_params["session_id"])
        except KeyError:
            return None

    def gone():
        return _error(404, "this tab's session has ended (its stream closed); reload the page")

    async def index(request):
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    async def meta(request):
        return JSONResponse(describe())

    async def stream(request):
        settings, warnings = from_query(request.url.query)
        if settings["dataset"] == "csv":  # a link cannot carry the file itself
            warnings.append("dataset=csv needs the file: upload the CSV again (showing spirals until then)")
            settings["dataset"] = "spirals"
        try:
            session = await run_in_threadpool(scheduler.create, settings)
        except TooManySessions as exc:
            message = json.dumps({"message": str(exc)})

            async def refused():
                yield _event("fatal", message)
            return StreamingResponse(refused(), media_type="text/event-stream")
        loop = asyncio.get_running_loop()
        wake = asyncio.Event()
        session.notify = lambda: loop.call_soon_threadsafe(wake.set)

        async def events():
            yield _event("hello", json.dumps({"session": session.id, "warnings": warnings}))
            while not session.closed:
                while session.outbox:
                    name, text = session.outbox.popleft()
                    yield _event(name, text)
                scheduler.poke()  # the page has caught up: its training may go on
                wake.clear()
                if session.outbox:
                    continue
                try:
                    await asyncio.wait_for(wake.wait(), HEARTBEAT_SECONDS)
                except asyncio.TimeoutError:
                    yield ": still here\n\n"

        def end():  # the tab closed, reloaded or navigated away: its training ends with it
            session.notify = None
            scheduler.remove(session.id)

        return _SessionStream(events(), end, media_type="text/event-stream",
                              headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    async def json_body(request):
        body = await _read_body(request, MAX_JSON_BYTES)
        if body is None:
            return None, _error(413, f"request body over {MAX_JSON_BYTES:,} bytes")
        try:
            return json.loads(body or b"{}"), None
        except ValueError as exc:
            return None, _error(400, f"the request body is not JSON: {exc}")

    async def control(request):
        session = session_of(request)
        if session is None:
            return gone()
        payload, problem = await json_body(request)
        if problem:
            return problem
        action = payload.get("action") if isinstance(payload, dict) else None
        try:
            await run_in_threadpool(session.control, action)
        except ValueError as exc:
            return _error(422, str(exc))
        scheduler.poke()
        return JSONResponse({"playing": session.playing, "step": session.step})

    async def update_settings(request):
        session = session_of(request)
        if session is None:
            return gone()
        payload, problem = await json_body(request)
        if problem:
            return problem
        try:
            settings = await run_in_threadpool(session.update_settings, payload)
        except SettingsError as exc:
            return JSONResponse({"error": str(exc), "errors": exc.errors}, status_code=422)
        except ValueError as exc:  # dataset 'csv' with no file uploaded
            return _error(422, str(exc))
        return JSONResponse({"settings": settings})

    async def upload_csv(request):
        session = session_of(request)
        if session is None:
            return gone()
        body = await _read_body(request, MAX_CSV_BYTES)
        if body is None:
            return _error(413, f"the file is larger than {MAX_CSV_BYTES:,} bytes; the playground takes CSVs of up "
                               f"to {MAX_CSV_BYTES // 1_000_000} MB")
        try:
            summary = await run_in_threadpool(session.load_csv, body)
        except CsvError as exc:
            return _error(422, f"CSV not loaded: {exc}")
        return JSONResponse(summary)

    async def export_json(request):
        session = session_of(request)
        if session is None:
            return gone()
        text = await run_in_threadpool(export.run_json, session)
        return Response(text, media_type="application/json",
                        headers={"Content-Disposition": 'attachment; filename="playground_run.json"'})

    async def export_script(request):
        session = session_of(request)
        if session is None:
            return gone()
        text = await run_in_threadpool(export.script, session)
        return Response(text, media_type="text/x-python",
                        headers={"Content-Disposition": 'attachment; filename="playground_run.py"'})

    async def close(request):
        scheduler.remove(request.path_params["session_id"])
        return Response(status_code=204)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        scheduler.start()
        try:
            yield
        finally:
            scheduler.stop()

    routes = [
        Route("/", index),
        Route("/api/meta", meta),
        Route("/api/stream", stream),
        Route("/api/session/{session_id}/control", control, methods=["POST"]),
        Route("/api/session/{session_id}/settings", update_settings, methods=["POST"]),
        Route("/api/session/{session_id}/csv", upload_csv, methods=["POST"]),
        Route("/api/session/{session_id}/export.json", export_json),
        Route("/api/session/{session_id}/export.py", export_script),
        Route("/api/session/{session_id}/close", close, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.scheduler = scheduler
    return app


LOOPBACK_HOSTS = ("127.0.0.1", "localhost")


def run(host="127.0.0.1", port=8765, open_browser=True, max_sessions=8):
    """Serve the app with uvicorn until Ctrl-C; open the page in the default browser once it listens."""
    import threading
    import time
    import webbrowser

    import uvicorn

    from .. import utils

    if host in LOOPBACK_HOSTS:
        allowed = LOOPBACK_HOSTS
    else:
        allowed = ("*",)
        print(f"playground: listening on {host}, not on this machine alone: anyone who can reach port {port} "
              f"can use it")
    # The networks are small: a second BLAS thread buys nothing and would compete with the server's thread.
    utils.set_blas_num_threads(1)
    app = create_app(max_sessions=max_sessions, allowed_hosts=allowed)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::', '') else host}:{port}/"

    def announce():
        while not server.started and not server.should_exit:
            time.sleep(0.05)
        if server.started:
            print(f"playground: {url}  (Ctrl-C stops it)", flush=True)
            if open_browser:
                webbrowser.open(url)

    threading.Thread(target=announce, daemon=True).start()
    server.run()
