"""Benchmark: dedicated grids (专属网格, issue 14) — time and ordinary-grid quality with and without units.

For each dataset the same inputs are divided twice in this process (``gridgeo.pipeline.build_plan``, the
code of ``gridgeo partition``), without and with the units layer (``--enterprises``), alternating the
order over ``--repeat`` rounds; the best time of each is kept and their ratio reported. Quality figures
are those stored in the plan (``metadata["quality"]["base"]``: ordinary grids only, recomputed from the
buildings); ``errors`` is what ``gridgeo validate`` finds in the stored plan (``metadata["validation"]``).

Datasets (``--datasets``):

- ``sample``: the bundled sample town with its ``enterprises`` layer (39 units);
- ``wuhan``: the Wuhan scenario (real 江汉区 streets, SYNTHETIC communities and households) built by
  ``scripts/build_wuhan_scenario.py --units`` with its SYNTHETIC seeded units layer (``units.gpkg``).

    .venv/bin/python benchmarks/bench_dedicated.py [--datasets sample,wuhan] [--workers 2] [--repeat 1]
        [--md out/bench_dedicated.md]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "out"


def _sources(path: Path, units: Path | None, units_layer: str) -> dict:
    from gridgeo.io import LayerSource

    src = {n: LayerSource(path, layer=n) for n in ("communities", "streets", "buildings")}
    if units is not None:
        src["enterprises"] = LayerSource(units, layer=units_layer)
    return src


def dataset(name: str) -> tuple[str, Path, Path, str] | str:
    if name == "sample":
        path = REPO / "data" / "sample_town.gpkg"
        return "sample town", path, path, "enterprises"
    if name == "wuhan":
        out = OUT / "wuhan_scenario"
        res = subprocess.run([sys.executable, str(REPO / "scripts" / "build_wuhan_scenario.py"), "--out", str(out), "--units"],
                             capture_output=True, text=True)
        if res.returncode != 0:
            return (res.stderr.strip().splitlines() or [f"exit status {res.returncode}"])[-1]
        return "Wuhan scenario (江汉区)", out / "wuhan_scenario.gpkg", out / "units.gpkg", "units"
    return f"unknown dataset {name!r}"


def run(name: str, workers: int, repeat: int) -> dict | str:
    from gridgeo.pipeline import build_plan

    got = dataset(name)
    if isinstance(got, str):
        return got
    label, path, upath, ulayer = got
    best: dict[bool, float] = {}
    plans = {}
    for r in range(repeat):
        for with_units in ((False, True) if r % 2 == 0 else (True, False)):
            t = time.perf_counter()
            plan = build_plan(_sources(path, upath if with_units else None, ulayer), workers=workers)
            dt = time.perf_counter() - t
            best[with_units] = min(best.get(with_units, dt), dt)
            plans[with_units] = plan
    rows = {}
    for with_units, plan in plans.items():
        q = plan.metadata["quality"]["base"]
        g = plan.layers["grids"]
        ded = g[g["kind"] == "dedicated"]
        u = plan.layers.get("units")
        rows[with_units] = {
            "seconds": best[with_units], "base_grids": int((g["kind"] == "base").sum()), "dedicated_grids": len(ded),
            "in_range": q["in_range_share"], "cv": q["households_cv"], "dev": q["mean_abs_deviation"],
            "pp": q["median_polsby_popper"], "errors": plan.metadata["validation"]["error"],
            "units": 0 if u is None else len(u), "units_dedicated": 0 if u is None else int(u["dedicated"].sum()),
            "hh_dedicated": int(ded["households"].sum()), "hh": int(g["households"].sum()),
        }
    return {"label": label, "rows": rows}


def markdown(results: dict, workers: int) -> str:
    lines = [f"| dataset | units | seconds (workers {workers}) | ratio | base grids in range | CV | mean abs dev | median PP | "
             "dedicated grids | units in dedicated grids | households in dedicated grids | validate errors |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, res in results.items():
        if isinstance(res, str):
            lines.append(f"| {name} | skipped: {res} |")
            continue
        base = res["rows"][False]["seconds"]
        for with_units in (False, True):
            r = res["rows"][with_units]
            lines.append(
                f"| {res['label']} | {'with' if with_units else 'without'} ({r['units']}) | {r['seconds']:.1f} | "
                f"{r['seconds'] / base:.2f} | {r['in_range']:.1%} of {r['base_grids']} | {r['cv']:.3f} | {r['dev']:.1f} | "
                f"{r['pp']:.3f} | {r['dedicated_grids']} | {r['units_dedicated']} | {r['hh_dedicated']:,} of {r['hh']:,} | "
                f"{r['errors']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", default="sample,wuhan")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--md", default=None, help="also write the table to this Markdown file")
    args = ap.parse_args(argv)
    results = {}
    for name in args.datasets.split(","):
        results[name] = run(name.strip(), args.workers, args.repeat)
        print(f"{name}: done", file=sys.stderr)
    text = markdown(results, args.workers)
    print(text)
    if args.md:
        Path(args.md).parent.mkdir(parents=True, exist_ok=True)
        Path(args.md).write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
