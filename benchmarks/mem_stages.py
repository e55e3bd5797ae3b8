"""Where the main process's memory goes in `gridgeo partition` (issue 12): resident set per stage.

Runs ``gridgeo partition`` (the arguments as on the command line) in this process, with the main stages
wrapped: for each, the resident set (``/proc/self/statm``, sampled every 20 ms) on entry, on exit and at its
peak, its seconds, and glibc's bytes in use (``mallinfo2``: GEOS and numpy memory; not Python objects) on
entry and exit. The gap between the resident set and the bytes in use is memory freed but kept by the
allocators. ``TRIM=1`` calls ``malloc_trim(0)`` after each top-level stage (to tell the two apart).

With ``--resume`` and a copy of a finished run's checkpoint folder (``.PLAN.gpkg.communities``, kept while the
run writes) beside ``--out``, the partition is taken from the checkpoint: the main process's own stages only.

Usage::

    .venv/bin/python benchmarks/mem_stages.py partition --quiet --force --no-shift-check \\
        --communities CITY.gpkg --communities-layer communities --streets CITY.gpkg --streets-layer streets \\
        --buildings CITY.gpkg --buildings-layer buildings --workers 2 --resume --out PLAN.gpkg
"""

from __future__ import annotations

import ctypes
import functools
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 2**20


class _MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
                                                 "uordblks", "fordblks", "keepcost")]


_LIBC = ctypes.CDLL("libc.so.6")
_LIBC.mallinfo2.restype = _MallInfo2


def in_use_mb() -> float:
    m = _LIBC.mallinfo2()
    return (m.uordblks + m.hblkhd) / 2**20


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * PAGE_MB


_PEAK = [0.0]
_LOG: list[tuple] = []
_DEPTH = [0]


def _sample() -> None:
    while True:
        _PEAK[0] = max(_PEAK[0], rss_mb())
        time.sleep(0.02)


def _wrap(mod, name: str, label: str) -> None:
    func = getattr(mod, name)

    @functools.wraps(func)
    def wrapped(*args, **kwargs):
        r0, u0, t, outer = rss_mb(), in_use_mb(), time.perf_counter(), _PEAK[0]
        _PEAK[0] = r0
        _DEPTH[0] += 1
        try:
            return func(*args, **kwargs)
        finally:
            _DEPTH[0] -= 1
            if os.environ.get("TRIM") and _DEPTH[0] == 0:
                _LIBC.malloc_trim(0)
            _LOG.append(("  " * _DEPTH[0] + label, r0, rss_mb(), _PEAK[0], time.perf_counter() - t, u0, in_use_mb()))
            _PEAK[0] = max(_PEAK[0], outer)

    setattr(mod, name, wrapped)


def main(argv: list[str]) -> int:
    threading.Thread(target=_sample, daemon=True).start()
    import gridgeo.cli as cli
    import gridgeo.partition as gp
    import gridgeo.partition.engine as engine
    import gridgeo.pipeline as pipeline
    import gridgeo.plan as plan
    import gridgeo.validate as validate

    for mod, name, label in ((pipeline, "prepare", "prepare"), (engine, "_jobs", "partition._jobs"),
                             (engine, "run_jobs", "partition.run_jobs"), (engine, "_assemble", "partition._assemble"),
                             (gp, "partition", "partition (all)"), (pipeline, "assign_codes", "codes"),
                             (pipeline, "self_check", "self_check"), (plan.Plan, "stored", "Plan.stored"),
                             (validate, "validate_plan", "validate_plan"), (plan, "write_gpkg_atomic", "write"),
                             (pipeline, "_Beside", "quality (start/fork)")):
        _wrap(mod, name, label)
    t = time.perf_counter()
    rc = cli.main(argv)
    print(f"rc {rc}, wall {time.perf_counter() - t:.1f} s, final rss {rss_mb():.0f} MB")
    print(f"{'stage':32s} {'rss in':>8s} {'rss out':>8s} {'peak':>8s} {'s':>7s} {'malloc in':>9s} {'malloc out':>10s}")
    for label, r0, r1, peak, secs, u0, u1 in _LOG:
        print(f"{label:32s} {r0:8.0f} {r1:8.0f} {peak:8.0f} {secs:7.1f} {u0:9.0f} {u1:10.0f}")
    return rc


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
