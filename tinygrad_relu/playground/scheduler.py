"""The sessions of one server and the one thread that trains them, in turn.

Fairness: the trainer thread runs one slice at a time (``Session.advance``: at most ``speed``
steps and ``MAX_SLICE_SECONDS``, then a frame) and always picks, among the sessions that have
work and are due, the one it served longest ago. So every playing tab gets a slice per round,
however heavy the others' networks are, and none can hold the trainer for more than a slice.
A playing session is due again ``1 / MAX_UPDATES_PER_SECOND`` after its last slice began: the
page gets a steady stream of frames, not as many as the CPU could draw.

At most ``max_sessions`` sessions live at once; each ends with its tab's stream (``remove``).
"""
import secrets
import threading
import time
import traceback

from .session import Session

MAX_UPDATES_PER_SECOND = 25


class TooManySessions(RuntimeError):
    pass


class Scheduler:
    def __init__(self, max_sessions=8, updates_per_second=MAX_UPDATES_PER_SECOND):
        self.max_sessions = max_sessions
        self.interval = 1.0 / updates_per_second
        self.sessions = {}
        self._due = {}
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._stopping = False
        self._thread = None

    # ---- sessions ----------------------------------------------------------------------------
    def create(self, settings):
        """A new session with ``settings`` (validated); TooManySessions at the cap."""
        with self._lock:
            if len(self.sessions) >= self.max_sessions:
                raise TooManySessions(f"{len(self.sessions)} playground tabs are open, the most this server "
                                      f"runs at once; close one and reload")
            session_id = secrets.token_urlsafe(12)
            self.sessions[session_id] = None  # hold the slot while the model is built
        try:
            session = Session(session_id, settings)
        except BaseException:
            with self._lock:
                del self.sessions[session_id]
            raise
        with self._lock:
            self.sessions[session_id] = session
        return session

    def get(self, session_id):
        with self._lock:
            session = self.sessions.get(session_id)
        if session is None:
            raise KeyError(session_id)
        return session

    def remove(self, session_id):
        """End a session: its training stops before the next slice (the running one finishes)."""
        with self._lock:
            session = self.sessions.pop(session_id, None)
            self._due.pop(session_id, None)
        if session is not None:
            session.close()

    def poke(self):
        """A session got work (play, step): wake the trainer."""
        with self._wake:
            self._wake.notify()

    # ---- the trainer thread ------------------------------------------------------------------
    def start(self):
        if self._thread is None:
            self._stopping = False
            self._thread = threading.Thread(target=self._loop, name="playground-trainer", daemon=True)
            self._thread.start()
        return self

    def stop(self):
        with self._wake:
            self._stopping = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        for session_id in list(self.sessions):
            self.remove(session_id)

    def _pick(self, now):
        """The due session served longest ago, or (None, seconds until one may be due)."""
        best, wait = None, 0.5
        for session_id, session in self.sessions.items():
            if session is None or not session.wants_time():
                continue
            due = self._due.get(session_id, 0.0) if not session.pending_steps else 0.0
            if due <= now:
                if best is None or session.last_served < best.last_served:
                    best = session
            else:
                wait = min(wait, due - now)
        return best, wait

    def _loop(self):
        while True:
            with self._wake:
                if self._stopping:
                    return
                session, wait = self._pick(time.perf_counter())
                if session is None:
                    self._wake.wait(timeout=wait)
                    continue
            started = time.perf_counter()
            session.last_served = started
            with self._lock:
                self._due[session.id] = started + self.interval
            try:
                session.advance()
            except Exception as exc:  # one broken run must not stop the others' training
                traceback.print_exc()
                with session.lock:
                    session.playing = False
                    session.publish("problem", {"message": f"training stopped: {type(exc).__name__}: {exc}"})
