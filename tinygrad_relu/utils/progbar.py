"""Keras 3's progress bar: ``32/32 ━━━━━━━━━━━━━━━━━━━━ 0s 2ms/step - accuracy: 0.9000 - loss: 0.3000``."""
import re
import sys
import time

import numpy as np


def _write(text):
    sys.stdout.write(text)
    sys.stdout.flush()


def in_notebook_kernel():
    """Whether this runs in a Jupyter (IPython) kernel, whose output area redraws a line on ``\\r``.

    Its stdout is no terminal (``isatty()`` is False), yet a carriage return there overwrites the
    line as a terminal would, and ANSI colours show: the bar can be redrawn in place.
    """
    ipython = sys.modules.get("IPython")  # never imported here: only a running kernel has it loaded
    get_ipython = getattr(ipython, "get_ipython", None)
    shell = get_ipython() if get_ipython is not None else None
    return getattr(shell, "kernel", None) is not None


def _is_number(value):
    return isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool)


class Progbar:
    """One bar per epoch (verbose=1) or one line per epoch (verbose=2).

    On a terminal and in a Jupyter notebook it is redrawn in place with a carriage return (at
    most every ``interval`` seconds); otherwise (a log file, a pipe) only the final line of each
    epoch is written, so logs stay one line per epoch.
    """

    def __init__(self, target, width=20, verbose=1, interval=0.05):
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.dynamic = (hasattr(sys.stdout, "isatty") and sys.stdout.isatty()) or in_notebook_kernel()
        self.seen = 0
        self.values = {}
        self._start = time.time()
        self._last_update = 0.0
        self._time_after_first_step = None
        self._prev_width = 0

    def _time_per_step(self, current, now):
        if not current:
            return 0.0
        if self._time_after_first_step is not None and current > 1:
            per = (now - self._time_after_first_step) / (current - 1)
        else:
            per = (now - self._start) / current
        if current == 1:
            self._time_after_first_step = now
        return per

    @staticmethod
    def _format_time(per_step):
        if per_step >= 1 or per_step == 0:
            return f"{per_step:.0f}s/step"
        if per_step >= 1e-3:
            return f"{per_step * 1e3:.0f}ms/step"
        return f"{per_step * 1e6:.0f}us/step"

    def _metrics_text(self):
        text = ""
        for key, value in self.values.items():
            text += f" - {key}: {value:.4f}" if abs(value) > 1e-3 else f" - {key}: {value:.4e}"
        return text

    def update(self, current, values=None, finalize=False):
        if values:
            self.values = {k: float(v) for k, v in values.items() if _is_number(v)}
        self.seen = current
        now = time.time()
        per_step = self._time_per_step(current, now)
        if self.verbose == 2:
            if finalize:
                count = f"{current:{len(str(self.target))}d}/{self.target}"
                _write(f"{count} - {now - self._start:.0f}s - {self._format_time(per_step)}{self._metrics_text()}\n")
            return
        if self.verbose != 1 or (not finalize and not self.dynamic):
            return
        if not finalize and now - self._last_update < self.interval:
            return
        self._last_update = now
        digits = len(str(self.target))
        filled = int(self.width * current / self.target) if self.target else self.width
        if not self.target:  # a generator of unknown length: Keras shows the count and the time so far
            head, bar = f"{current:7d}/Unknown", ""
        elif self.dynamic:
            head = f"\x1b[1m{current:{digits}d}/{self.target}\x1b[0m "
            bar = (f"\x1b[32m{'━' * filled}\x1b[0m" if filled else "") + f"\x1b[37m{'━' * (self.width - filled)}\x1b[0m"
        else:
            head = f"{current:{digits}d}/{self.target} "
            bar = "━" * self.width
        if finalize or not self.target:
            timing = f" {now - self._start:.0f}s"
        else:
            eta = per_step * (self.target - current)
            timing = f" {eta // 3600:.0f}:{(eta % 3600) // 60:02.0f}:{eta % 60:02.0f}" if eta > 3600 else \
                f" {eta // 60:.0f}:{eta % 60:02.0f}" if eta > 60 else f" {eta:.0f}s"
        line = f"{head}{bar}{timing} {self._format_time(per_step)}{self._metrics_text()}"
        if self.dynamic:
            visible = len(re.sub(r"\x1b\[[0-9;]*m", "", line))
            pad = " " * max(0, self._prev_width - visible)
            self._prev_width = visible
            _write("\r" + line + pad + ("\n" if finalize else ""))
        else:
            _write(line + "\n")
