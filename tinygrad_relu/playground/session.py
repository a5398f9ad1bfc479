"""One browser tab's run: its settings, data, model, training loop, history and outgoing messages.

The scheduler's thread trains (``advance``); request handlers change the settings, upload a CSV
or ask for an export. A lock keeps the two apart. The training loop is the exported script's
loop, step for step: a permutation of the training set per epoch drawn from the run's own
seeded generator, one ``train_on_batch`` per batch (the last batch of an epoch may be short,
as in Keras' ``fit``).

Messages for the page (JSON text, one per server-sent event) go to ``outbox``; the server's
stream for this tab drains it, and ``notify`` (set by the stream) wakes that stream up.
"""
import collections
import json
import threading
import time

import numpy as np

from . import views
from .data import make_data, parse_csv
from .network import build_model, seeds
from .settings import resets_run, to_query, validate

MAX_HISTORY = 4000          # entries kept per run; beyond it every other one is dropped
MAX_SLICE_SECONDS = 0.25    # a playing session gives up the trainer after this long, whatever its speed
MAX_OUTBOX = 4              # frames a slow page may leave unread before its training waits
MAX_UNREAD = 200            # messages a page that stopped reading may leave: beyond, the session ends


class Session:
    def __init__(self, session_id, settings):
        self.id = session_id
        self.lock = threading.RLock()
        # Requests from the page (control) waiting for the lock: the trainer leaves the session alone
        # until they are in. Python's locks are not fair: with both cores busy (training, and our
        # OpenMP workers polling after each parallel region) a pause waited while a light session
        # ran dozens of slices, each re-taking the lock first.
        self.requests = 0
        self._requests_lock = threading.Lock()
        self.outbox = collections.deque()
        self.notify = None          # callable: wake the stream that drains outbox
        self.playing = False
        self.pending_steps = 0
        self.closed = False
        self.run = 0
        self.csv = None
        self.last_served = 0.0      # when the scheduler last ran this session (fairness)
        self.configure(settings)

    # ---- setting up a run --------------------------------------------------------------------
    def configure(self, settings):
        """Start a fresh run with ``settings`` (already validated): new data, new network, step 0."""
        with self.lock:
            data = make_data(settings, self.csv)
            model, specs = build_model(settings, len(data.class_names))
            self.settings = settings
            self.data, self.model, self.specs = data, model, specs
            self.groups = views.groups(specs, settings)
            self.plane = views.plane_for(data, views.neuron_stride(settings))
            self.order_rng = np.random.default_rng(seeds(settings)["shuffle"])
            self.order, self.cursor = None, 0
            self.step, self.epoch, self.train_seconds = 0, 0, 0.0
            self.history = []
            self.run += 1
            self.playing, self.pending_steps = False, 0
            self.publish("settings", {"settings": settings, "query": to_query(settings)})
            self.publish("data", views.data_message(data, self.plane))
            self.publish_frame()

    def update_settings(self, raw):
        """Apply the changed settings in ``raw`` (SettingsError when one is bad; then nothing changes)."""
        with self.lock:
            new = validate(raw, base=self.settings)
            if resets_run(self.settings, new):
                self.configure(new)
            else:
                self.settings = new
                self.publish("settings", {"settings": new, "query": to_query(new)})
            return new

    def load_csv(self, content):
        """Train on the learner's CSV from now on (CsvError when the file is unusable; then nothing changes)."""
        csv_data = parse_csv(content)
        with self.lock:
            self.csv = csv_data
            self.configure(dict(self.settings, dataset="csv"))
            return {"rows": len(csv_data.x), "classes": csv_data.class_names,
                    "mean": csv_data.mean, "std": csv_data.std}

    # ---- controls ----------------------------------------------------------------------------
    def control(self, action):
        with self._requests_lock:
            self.requests += 1
        try:
            self._control(action)
        finally:
            with self._requests_lock:
                self.requests -= 1

    def _control(self, action):
        with self.lock:
            if action == "play":
                self.playing = True
            elif action == "pause":
                self.playing = False
            elif action == "step":
                self.playing = False
                self.pending_steps += 1
            elif action == "reset":
                self.configure(self.settings)
            else:
                raise ValueError(f"unknown action {action!r}; one of play, pause, step, reset")
            self.publish("state", {"playing": self.playing})

    def wants_time(self):
        """Whether the scheduler has work here (and the page keeps up with what it was sent)."""
        return (not self.closed and (self.playing or self.pending_steps > 0) and len(self.outbox) < MAX_OUTBOX
                and not self.requests)

    # ---- training ----------------------------------------------------------------------------
    def _next_batch(self):
        n = len(self.data.x_train)
        if self.cursor == 0:
            self.order = self.order_rng.permutation(n)
        batch = self.order[self.cursor:self.cursor + self.settings["batch"]]
        self.cursor += self.settings["batch"]
        if self.cursor >= n:
            self.cursor = 0
            self.epoch += 1
        return batch

    def train(self, steps, budget=MAX_SLICE_SECONDS):
        """Up to ``steps`` training steps, stopping early once ``budget`` seconds have passed."""
        with self.lock:
            start = time.perf_counter()
            done = 0
            with np.errstate(all="ignore"):  # a diverging run shows NaN on the page, not warnings in the log
                while done < steps:
                    batch = self._next_batch()
                    self.model.train_on_batch(self.data.x_train[batch], self.data.y_train[batch])
                    self.step += 1
                    done += 1
                    if time.perf_counter() - start > budget:
                        break
            self.train_seconds += time.perf_counter() - start
            return done

    def advance(self):
        """One slice of the scheduler's time: one pending step (a click of "step" is one step and one
        frame, however fast the clicks come), or ``speed`` steps when playing; then a frame."""
        with self.lock:
            if self.closed:
                return 0
            if self.pending_steps:
                done = self.train(1)
                self.pending_steps -= done
            elif self.playing:
                done = self.train(self.settings["speed"])
            else:
                return 0
            self.publish_frame()
            return done

    # ---- output ------------------------------------------------------------------------------
    def publish_frame(self):
        with self.lock:
            frame = views.measure(self.model, self.groups, self.data, self.plane)
            frame.update({"run": self.run, "step": self.step, "epoch": self.epoch,
                          "seconds": round(self.train_seconds, 4), "playing": self.playing})
            self.history.append(views.history_entry(frame, self.step, self.epoch))
            if len(self.history) > MAX_HISTORY:
                self.history = self.history[::2]
            self.latest = frame
            self.publish("frame", frame)
            return frame

    def publish(self, event, payload):
        if self.closed:
            return
        if len(self.outbox) >= MAX_UNREAD:  # nobody reads this tab's stream: end it rather than grow
            self.closed, self.playing = True, False
            self.outbox.clear()
            return
        self.outbox.append((event, json.dumps(payload, separators=(",", ":"), allow_nan=False)))
        notify = self.notify
        if notify is not None:
            notify()

    def close(self):
        with self.lock:
            self.closed = True
            self.playing = False
            self.outbox.clear()
        notify = self.notify
        if notify is not None:  # let the tab's stream see the end
            notify()
