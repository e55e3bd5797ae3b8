"""Memory of storing a plan: the main-process RSS rise while :meth:`gridgeo.plan.Plan.stored` runs (issue 12).

Reads a plan written by ``gridgeo partition`` (e.g. a plan kept by ``bench_scale.py --keep``), projects its
layers back to the plan's metric CRS (as the pipeline holds them), then samples the resident set every 10 ms
while ``stored()`` reprojects, snaps and densifies them again; prints the RSS before, the peak, after, and a
digest of the stored layers (every column and the ISO WKB of every geometry), so that two commits can be shown
to store the same layers.

Usage::

    .venv/bin/python benchmarks/bench_stored_memory.py out/bench/plan800-2.gpkg
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
import time
from pathlib import Path

import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gridgeo.plan import Plan  # noqa: E402

PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 2**20


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * PAGE_MB


def main(path: str) -> None:
    plan = Plan.read(path)
    metric = plan.metadata["metric_crs"]
    plan = Plan({k: (v.to_crs(metric) if v.crs is not None else v) for k, v in plan.layers.items()}, plan.metadata)
    peak = [0.0]

    def sample() -> None:
        while True:
            peak[0] = max(peak[0], rss_mb())
            time.sleep(0.01)

    threading.Thread(target=sample, daemon=True).start()
    time.sleep(0.1)
    before = rss_mb()
    peak[0] = before
    t = time.perf_counter()
    stored = plan.stored()
    print(f"stored: rss before {before:.0f} peak {peak[0]:.0f} after {rss_mb():.0f} MB, rise {peak[0] - before:.0f} MB, "
          f"{time.perf_counter() - t:.1f} s")
    h = hashlib.sha256()
    for name, gdf in stored.layers.items():
        h.update(name.encode())
        h.update(str(list(gdf.columns)).encode())
        h.update(b"".join(w or b"-" for w in shapely.to_wkb(gdf.geometry.to_numpy(), flavor="iso")))
        h.update(gdf.drop(columns=gdf.geometry.name).to_csv().encode())
    print("digest of the stored layers", h.hexdigest()[:16])


if __name__ == "__main__":
    main(sys.argv[1])
