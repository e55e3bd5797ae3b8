"""Benchmark: the public grid map of the Wuhan scenario plan: file size, build time, load and pan time.

    .venv/bin/python benchmarks/bench_maps.py [--plan PLAN.gpkg] [--scenario-out out/wuhan_scenario] [--repeat 3]

Takes a plan (or partitions the Wuhan scenario — real 江汉区 streets, SYNTHETIC communities and
households, ``scripts/build_wuhan_scenario.py`` — with ``gridgeo.divide``), then writes in the same
process, with ``--tiles none``:

- gridgeo's default site: one page per community plus an index (the plan has more than 300 grids),
  coverage-simplified at 0.5 m, coordinates rounded to 6 decimals;
- the same on one page;
- the peer: one page of the same map, neither simplified nor rounded (what folium writes from the plan).

For each: build seconds, bytes (largest page, all pages), and in headless Chromium (Debian chromium and
chromium-driver) the median over ``--repeat`` loads of the time from navigation to the map being ready,
and of 12 zoom/pan steps drawn without animation. Ratios are against the peer.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_partition import OUT  # noqa: E402

PAN = """
var m = window.gridgeo.map, c = m.getCenter(), z = m.getZoom(), t0 = performance.now();
var steps = [[0, 1], [0.004, 1], [-0.004, 1], [0, 2], [0.003, 2], [0, 0], [0.01, 0], [-0.01, 0], [0, -1], [0.002, 1], [0, 3], [0, 0]];
for (var i = 0; i < steps.length; i++) {
  m.setView([c.lat + steps[i][0], c.lng + steps[i][0]], z + steps[i][1], {animate: false});
  document.body.offsetHeight;  // force layout
}
return performance.now() - t0;
"""


def _driver():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                f"--user-data-dir={tempfile.mkdtemp(prefix='bench-maps-')}", "--window-size=1280,900"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def _load(driver, page: Path, repeat: int) -> tuple[float, float]:
    """Median seconds from navigation to window.gridgeo ready, and median milliseconds of the pan steps."""
    loads, pans = [], []
    for _ in range(repeat):
        driver.get("about:blank")
        t = time.perf_counter()
        driver.get(page.resolve().as_uri())
        while not driver.execute_script("return !!(window.gridgeo && window.gridgeo.map)"):
            time.sleep(0.01)
        loads.append(time.perf_counter() - t)
        pans.append(driver.execute_script(PAN))
    return statistics.median(loads), statistics.median(pans)


def _plan(args):
    import gridgeo

    if args.plan:
        return gridgeo.read_plan(args.plan)
    gpkg = Path(args.scenario_out) / "wuhan_scenario.gpkg"
    if not gpkg.exists():
        from bench_partition import load_dataset

        ds = load_dataset("wuhan", Path(args.scenario_out))
        if isinstance(ds, str):
            sys.exit(f"Wuhan scenario unavailable: {ds}")
    t = time.perf_counter()
    plan = gridgeo.divide((gpkg, "communities"), (gpkg, "streets"), (gpkg, "buildings"), workers=1)
    print(f"partitioned the Wuhan scenario in {time.perf_counter() - t:.1f} s")
    return plan


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plan", help="a plan GeoPackage (default: partition the Wuhan scenario)")
    ap.add_argument("--scenario-out", default=str(OUT / "wuhan_scenario"))
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    from gridgeo.maps import publish_map

    plan = _plan(args)
    print(f"plan: {len(plan.communities)} communities, {len(plan.grids):,} grids, {len(plan.subgrids):,} small grids, "
          f"{len(plan.buildings):,} buildings, streets layer: {'streets' in plan.layers}")
    streets = None
    if "streets" not in plan.layers:
        gpkg = Path(args.scenario_out) / "wuhan_scenario.gpkg"
        streets = (gpkg, "streets") if gpkg.exists() else None
    root = Path(tempfile.mkdtemp(prefix="bench-maps-"))
    variants = [
        ("peer: one page, not simplified, full precision", {"pages": "single", "simplify_m": 0, "digits": 15}),
        ("gridgeo: one page, simplified 0.5 m, 6 decimals", {"pages": "single"}),
        ("gridgeo default: page per community + index", {"pages": "auto"}),
    ]
    driver = _driver()
    rows = []
    try:
        for name, options in variants:
            t = time.perf_counter()
            pages = publish_map(plan, root / str(len(rows)), tiles="none", streets=streets, **options)
            build = time.perf_counter() - t
            sizes = [p.stat().st_size for p in pages]
            big = pages[sizes.index(max(sizes))]
            load, pan = _load(driver, big, args.repeat)
            rows.append((name, build, max(sizes), sum(sizes), len(pages), load, pan))
    finally:
        driver.quit()
        shutil.rmtree(root, ignore_errors=True)
    peer = rows[0]
    print(f"{'variant':<50} {'build s':>8} {'largest page':>13} {'all pages':>10} {'pages':>5} {'load s':>7} {'pan ms':>7}"
          f"  {'size/peer':>9} {'load/peer':>9} {'pan/peer':>8}")
    for name, build, big, total, n, load, pan in rows:
        print(f"{name:<50} {build:>8.1f} {big / 1e6:>10.2f} MB {total / 1e6:>7.2f} MB {n:>5} {load:>7.2f} {pan:>7.0f}"
              f"  {big / peer[2]:>9.2f} {load / peer[5]:>9.2f} {pan / peer[6]:>8.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
