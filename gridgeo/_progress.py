"""Progress of long commands: a bar on a terminal (tqdm), plain log lines otherwise, nothing when quiet.

The pipeline calls a progress callback with the name of each long step as it starts
(:func:`gridgeo.pipeline.build_plan`'s ``progress``); :class:`Progress` is the CLI's callback. On a
terminal it draws one bar over the steps (left off the screen when done); elsewhere (a log file, CI) it
writes one line per step to stderr, ``gridgeo:  12.3 s  building blocks``, so that a long run shows
where it is. Errors stay one line of their own (``gridgeo: error: …``).
"""

from __future__ import annotations

import re
import sys
import time
from typing import IO, Any

__all__ = ["Progress", "LOG_LINE"]

#: what a plain progress line looks like (tests tell them from errors with it)
LOG_LINE = re.compile(r"^gridgeo: +\d+\.\d s  ")


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

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> p = Progress(2, stream=out)
    >>> p("reading inputs"); p("building blocks"); p.close()
    >>> [LOG_LINE.sub("", line) for line in out.getvalue().splitlines()]
    ['reading inputs', 'building blocks']
    """

    def __init__(self, steps: int, *, quiet: bool = False, stream: IO[str] | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet
        self.t0 = time.perf_counter()
        self.done = 0
        self.bar: Any = None
        isatty = getattr(self.stream, "isatty", None)
        if not quiet and callable(isatty) and isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=steps, file=self.stream, leave=False, dynamic_ncols=True,
                            bar_format="gridgeo: {desc} {bar} {n_fmt}/{total_fmt} [{elapsed}]")

    def __call__(self, step: str) -> None:
        if self.quiet:
            return
        if self.bar is not None:
            if self.done:
                self.bar.update(1)
            self.bar.set_description_str(step)
        else:
            print(f"gridgeo: {time.perf_counter() - self.t0:5.1f} s  {step}", file=self.stream, flush=True)
        self.done += 1

    def close(self) -> None:
        """Finish the display (the bar is cleared from the terminal)."""
        if self.bar is not None:
            self.bar.update(max(0, self.done - self.bar.n))
            self.bar.close()
            self.bar = None
