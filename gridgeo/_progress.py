"""Progress of long commands: a bar on a terminal (tqdm), plain log lines otherwise, nothing when quiet.

The pipeline calls a progress callback with the name of each long step as it starts
(:func:`gridgeo.pipeline.build_plan`'s ``progress``); :class:`Progress` is the CLI's callback. On a
terminal it draws one bar over the steps (left off the screen when done); elsewhere (a log file, CI) it
writes one line per step to stderr, ``gridgeo:  12.3 s  building blocks``, so that a long run shows
where it is. A step that runs on without a new line (a community of a million households divided for minutes)
is said again every minute, ``gridgeo: 180.0 s  still dividing 438 communities (2 min 0 s in this step)``, so
that a log shows the run alive; on a terminal the bar's clock is redrawn instead. Errors stay one line of their
own (``gridgeo: error: …``).
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from typing import IO, Any

__all__ = ["Progress", "LOG_LINE"]

#: what a plain progress line looks like (tests tell them from errors with it)
LOG_LINE = re.compile(r"^gridgeo: +\d+\.\d s  ")

#: held while a line is said; taken round every fork too, so that a worker process (forked while the heartbeat
#: thread of :class:`Progress` runs) never starts with the stream's lock held by a thread it does not have
_SAY_LOCK = threading.Lock()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_SAY_LOCK.acquire, after_in_parent=_SAY_LOCK.release,
                        after_in_child=_SAY_LOCK.release)


class Progress:
    """Callable progress display for ``steps`` steps.

    Parameters
    ----------
    steps
        Number of steps expected (the bar's length; more are allowed).
    quiet
        Show nothing.
    stream
        Where to show it (default ``sys.stderr``).
    heartbeat_s
        A step running this long without a new one is said again (``still …``), and again after as long; the
        thread doing it starts with the first step and stops at :meth:`close`.

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> p = Progress(2, stream=out)
    >>> p("reading inputs"); p("building blocks"); p.close()
    >>> [LOG_LINE.sub("", line) for line in out.getvalue().splitlines()]
    ['reading inputs', 'building blocks']
    """

    def __init__(self, steps: int, *, quiet: bool = False, stream: IO[str] | None = None,
                 heartbeat_s: float = 60.0) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet
        self.t0 = time.perf_counter()
        self.done = 0
        self.bar: Any = None
        self.heartbeat_s = heartbeat_s
        self._step = ""
        self._began = self._said = self.t0
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None
        isatty = getattr(self.stream, "isatty", None)
        if not quiet and callable(isatty) and isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=steps, file=self.stream, leave=False, dynamic_ncols=True,
                            bar_format="gridgeo: {desc} {bar} {n_fmt}/{total_fmt} [{elapsed}]")

    def __call__(self, step: str) -> None:
        if self.quiet:
            return
        with _SAY_LOCK:
            if self.bar is not None:
                if self.done:
                    self.bar.update(1)
                self.bar.set_description_str(step)
            else:
                print(f"gridgeo: {time.perf_counter() - self.t0:5.1f} s  {step}", file=self.stream, flush=True)
            self.done += 1
            self._step, self._began = step, time.perf_counter()
            self._said = self._began
        if self._beat is None and not self._stop.is_set():
            self._beat = threading.Thread(target=self._heartbeat, name="gridgeo-progress", daemon=True)
            self._beat.start()

    def _heartbeat(self) -> None:
        """Say the running step again each :attr:`heartbeat_s` it runs on without a new one (see the class)."""
        while not self._stop.wait(min(self.heartbeat_s / 4, 5.0)):
            with _SAY_LOCK:
                now = time.perf_counter()
                if self._stop.is_set() or now - self._said < self.heartbeat_s:
                    continue
                self._said = now
                if self.bar is not None:
                    self.bar.refresh()  # the bar's [elapsed] is redrawn only on a change
                    continue
                spent = int(now - self._began)
                print(f"gridgeo: {now - self.t0:5.1f} s  still {self._step} ({spent // 60} min {spent % 60} s in this "
                      "step)", file=self.stream, flush=True)

    def close(self) -> None:
        """Finish the display (the bar is cleared from the terminal) and stop saying the last step again."""
        self._stop.set()
        if self._beat is not None:
            self._beat.join()
            self._beat = None
        if self.bar is not None:
            self.bar.update(max(0, self.done - self.bar.n))
            self.bar.close()
            self.bar = None
