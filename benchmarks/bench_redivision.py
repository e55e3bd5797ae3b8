"""Benchmark: re-division (动态调整) after a change confined to one community (issue 16).

For each dataset: a first plan (v1) is built and written; then, in one community only, three buildings
are added and one building's households change, and the plan is re-divided with ``previous=v1``
(``gridgeo partition --previous``) and written (v2). Measured, from the plans as stored:

- **kept**: the grids of the OTHER communities in v1 that v2 keeps with the same ``grid_code`` and the
  same shape (symmetric difference under 0.01 m² in the metric CRS); issue 16 asks for 100%;
- **invalid**: stored polygons (communities, blocks, grids, small grids) invalid in EPSG:4490 or in the
  plan's ``metadata["metric_crs"]``;
- **types**: whether each layer's geometry types (and the GeoPackage layer type) equal those of a fresh
  plan of the same changed inputs;
- **errors**: ``gridgeo validate`` errors of v2 (``gridgeo.validate.validate_plan`` on the stored plan);
- **seconds**: the re-division (``build_plan(..., previous=v1)``), wall time and CPU time of this process
  (``time.process_time()``, less noisy on a shared machine; with ``--workers 1`` it is all the work), beside the
  CPU time of the first plan (v1) and of the fresh plan of the changed inputs;
- **freed for wraps**: ``metadata["adjustment"]["grids_freed_for_wraps"]``, kept grids a re-divided grid wrapped
  round and the division of their community run again (0: one division).

Datasets (``--datasets``, comma-separated):

- ``sample``, ``sample-messy``: the bundled sample town (``gridgeo.datasets.get_path("sample_town")``),
  and the same with messy footprints added (:func:`messy_buildings`: exact duplicates, building parts
  on top, second-source outlines 1–3 m off, height-band pieces);
- ``wuhan-CODE``, ``wuhan-messy-CODE`` (CODE 420102, 420103, 420104, 420105, 420106, 420107, 420111; ``wuhan`` and
  ``wuhan-messy`` are 420103): ``scripts/build_wuhan_scenario.py`` (real OpenStreetMap streets, SYNTHETIC
  communities and households; ``--footprints messy``);
- ``lujiazui``: ``scripts/build_lujiazui_scenario.py`` (real OSM footprints of Shanghai Lujiazui,
  SYNTHETIC communities, estimated households);
- ``suzhou``: ``scripts/build_suzhou_scenario.py`` (real tile-cut footprints of Suzhou Gusu, four SYNTHETIC
  communities whose boundaries cut buildings, estimated households, no streets).

    .venv/bin/python benchmarks/bench_redivision.py [--datasets sample,sample-messy,lujiazui] [--workers 2]
        [--md out/bench_redivision.md]

The helpers (:func:`messy_buildings`, :func:`change_one_community`, :func:`kept_grids`,
:func:`invalid_geometries`, :func:`geometry_types`) are used by ``tests/test_redivision.py`` too.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely import affinity

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "out"
LAYERS = ("communities", "streets", "buildings")
#: the polygon layers of a plan that tile space (their stored geometry must be valid in both CRSs)
TILING = ("communities", "blocks", "grids", "subgrids")
#: the metric CRS of the comparison of shapes (CGCS2000 3° Gauss-Krüger, CM 114°E: Wuhan, sample town)
SHAPE_CRS = 4547
SAME_SHAPE_M2 = 0.01
DISTRICTS = ("420102", "420103", "420104", "420105", "420106", "420107", "420111")  # as scripts/build_wuhan_scenario.py


# ---------------------------------------------------------------------------------------------- changes


def messy_buildings(buildings: gpd.GeoDataFrame, *, share: float = 0.1, seed: int = 16) -> gpd.GeoDataFrame:
    """``buildings`` plus SYNTHETIC messy copies of a ``share`` of them, as real footprint data looks.

    In turn: an exact duplicate (``-dup``, same households), a building part on top (``-part``, half
    size, 0 households), a second-source outline 1–3 m off (``-src2``, 0 households) and a height-band
    piece overlapping a third of it (``-band``, 0 households). Computed in a metric CRS; returned in the
    CRS of ``buildings``. Nothing of the input is changed or dropped.
    """
    from gridgeo.crs import metric_crs

    m = metric_crs(buildings)
    b = buildings.to_crs(m)
    poly = np.flatnonzero(b.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy())
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(poly, size=max(1, int(len(poly) * share)), replace=False))
    rows = []
    for k, i in enumerate(pick):
        row = b.iloc[i].copy()
        g = row.geometry
        mode = k % 4
        c = g.centroid
        if mode == 0:
            row["building_id"] = f"{row['building_id']}-dup"
        elif mode == 1:
            row["building_id"] = f"{row['building_id']}-part"
            row["households"] = 0
            g = affinity.scale(g, 0.5, 0.5, origin=c)
        elif mode == 2:
            row["building_id"] = f"{row['building_id']}-src2"
            row["households"] = 0
            g = affinity.translate(g, *rng.uniform(1, 3, 2) * rng.choice([-1, 1], 2))
        else:
            row["building_id"] = f"{row['building_id']}-band"
            row["households"] = 0
            x0, y0, x1, y1 = g.bounds
            g = shapely.intersection(g, shapely.box(x0 + (x1 - x0) * 2 / 3, y0, x1, y1))
        row[b.geometry.name] = g
        rows.append(row)
    extra = gpd.GeoDataFrame(rows, columns=b.columns, crs=m).set_geometry(b.geometry.name)
    out = gpd.GeoDataFrame(pd.concat([b, extra], ignore_index=True), geometry=b.geometry.name, crs=m)
    return out.to_crs(buildings.crs)


def change_one_community(inputs, previous, *, community: str | None = None):
    """The inputs with three buildings added and one building's households changed, in one community.

    The community is ``community`` or, by default, the one of the middle grid (by code) of ``previous``
    among urban communities. The three new buildings (4 × 4 m, 30, 40 and 50 households) stand side by
    side, 6 m apart, at a point inside the community's largest block; the households of its first
    building (by id) with households given grow by 7. Returns ``(inputs, community_code)``.
    """
    from gridgeo.io import Inputs

    grids = previous["grids"]
    comms = previous["communities"]
    if community is None:
        kinds = dict(zip(comms["code"], comms["kind"] if "kind" in comms else ["urban"] * len(comms), strict=True))
        urban = grids[grids["community_code"].map(kinds).fillna("urban") == "urban"].sort_values("grid_code")
        pool = urban if len(urban) else grids.sort_values("grid_code")
        community = str(pool["community_code"].iloc[len(pool) // 2])
    metric = previous.metadata.get("metric_crs") or SHAPE_CRS
    blocks = previous["blocks"].to_crs(metric)
    mine = blocks[blocks["community_code"] == community]
    where = shapely.point_on_surface(mine.geometry.to_numpy()[int(np.argmax(mine.area.to_numpy()))])
    new = gpd.GeoDataFrame(
        {"building_id": [f"new-{community}-{i}" for i in range(3)], "households": [30, 40, 50],
         "use": ["residential"] * 3},
        geometry=[shapely.box(where.x + 6 * i, where.y, where.x + 6 * i + 4, where.y + 4) for i in range(3)],
        crs=metric,
    )
    bld = inputs.buildings
    new = new.rename_geometry(bld.geometry.name).to_crs(bld.crs) if bld.geometry.name != "geometry" else new.to_crs(bld.crs)
    prev_b = previous["buildings"]
    in_comm = set(prev_b.loc[prev_b["community_code"] == community, "building_id"].astype(str))
    given = bld[bld["building_id"].astype(str).isin(in_comm) & pd.to_numeric(bld["households"], errors="coerce").notna()]
    bld = bld.copy()
    if len(given):
        bid = sorted(given["building_id"].astype(str))[0]
        sel = bld["building_id"].astype(str) == bid
        bld.loc[sel, "households"] = pd.to_numeric(bld.loc[sel, "households"]) + 7
    else:  # households all estimated (Lujiazui): one building's count is now given, 7 above the estimate
        est = prev_b[(prev_b["community_code"] == community) & (pd.to_numeric(prev_b["households"]) > 0)]
        if len(est):
            bid = sorted(est["building_id"].astype(str))[0]
            h = int(est.loc[est["building_id"].astype(str) == bid, "households"].iloc[0])
            bld["households"] = pd.to_numeric(bld["households"], errors="coerce").astype(object)
            bld.loc[bld["building_id"].astype(str) == bid, "households"] = h + 7
    bld = gpd.GeoDataFrame(pd.concat([bld, new], ignore_index=True), geometry=bld.geometry.name, crs=bld.crs)
    changed = Inputs(communities=inputs.communities, streets=inputs.streets, buildings=bld,
                     villager_groups=inputs.villager_groups, enterprises=inputs.enterprises,
                     findings=inputs.findings, fingerprints=dict(inputs.fingerprints))
    return changed, community


# --------------------------------------------------------------------------------------------- measures


def kept_grids(old, new, community: str, *, crs=SHAPE_CRS) -> tuple[int, int, list[str]]:
    """Grids of communities other than ``community`` in ``old`` that ``new`` keeps with code and shape.

    Returns ``(kept, total, codes not kept)``; shapes compared in ``crs`` (symmetric difference under
    :data:`SAME_SHAPE_M2`).
    """
    og = old["grids"]
    og = og[og["community_code"].astype(str) != str(community)].to_crs(crs)
    ng = new["grids"].to_crs(crs).drop_duplicates("grid_code").set_index("grid_code")
    lost = []
    for code, geom in zip(og["grid_code"], og.geometry, strict=True):
        if code not in ng.index or shapely.area(shapely.symmetric_difference(geom, ng.geometry[code])) >= SAME_SHAPE_M2:
            lost.append(str(code))
    return len(og) - len(lost), len(og), lost


def invalid_geometries(plan, layers=TILING) -> dict[str, int]:
    """Stored polygons invalid in the stored CRS (EPSG:4490) or in the plan's metric CRS, per layer."""
    metric = plan.metadata.get("metric_crs")
    out = {}
    for name in layers:
        if name not in plan.layers:
            continue
        gdf = plan.layers[name]
        g = gdf.geometry.to_numpy()
        bad = ~shapely.is_valid(g) & ~shapely.is_missing(g)
        if metric:
            gm = gdf.to_crs(metric).geometry.to_numpy()
            bad |= ~shapely.is_valid(gm) & ~shapely.is_missing(gm)
        out[name] = int(bad.sum())
    return out


def geometry_types(path: str | Path, layers=("grids", "subgrids", "blocks", "communities", "buildings")) -> dict[str, tuple]:
    """Per layer of a written plan: the GeoPackage layer's declared type and the set of stored types."""
    import pyogrio

    out = {}
    for name in layers:
        try:
            info = pyogrio.read_info(path, layer=name)
        except Exception:  # noqa: BLE001 - a layer the plan does not have
            continue
        gdf = pyogrio.read_dataframe(path, layer=name)
        out[name] = (info["geometry_type"], tuple(sorted(gdf.geometry.geom_type.dropna().unique())))
    return out


def validation_errors(plan) -> pd.DataFrame:
    """Error findings of ``gridgeo validate`` on a plan as stored (the one implementation)."""
    from gridgeo.validate import validate_plan

    found = validate_plan(plan)
    return found[found["severity"] == "error"]


@dataclass
class Result:
    dataset: str
    community: str
    kept: int
    total: int
    lost: list[str]
    seconds: float
    v1_seconds: float
    cpu_s: float
    v1_cpu_s: float
    fresh_cpu_s: float | None
    freed_for_wraps: int
    invalid: dict[str, int]
    types_v2: dict[str, tuple]
    types_fresh: dict[str, tuple]
    errors: int
    error_types: dict[str, int]

    @property
    def kept_share(self) -> float:
        return self.kept / self.total if self.total else float("nan")


def redivide(inputs, workdir: str | Path, *, name: str = "plan", workers: int = 1, fresh: bool = True,
             community: str | None = None, scheme: dict | None = None) -> Result:
    """v1, the change in one community, v2 with ``previous=v1`` (and a fresh plan of the changed inputs)."""
    from gridgeo.pipeline import build_plan
    from gridgeo.plan import Plan

    work = Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    t, c = time.perf_counter(), time.process_time()
    p1 = build_plan(inputs, workers=workers, shift_check=False, scheme=scheme)
    v1_s, v1_cpu = time.perf_counter() - t, time.process_time() - c
    p1.write(work / f"{name}_v1.gpkg", force=True)
    v1 = Plan.read(work / f"{name}_v1.gpkg")
    changed, code = change_one_community(inputs, v1, community=community)
    t, c = time.perf_counter(), time.process_time()
    p2 = build_plan(changed, workers=workers, shift_check=False, previous=v1, scheme=scheme)
    seconds, cpu = time.perf_counter() - t, time.process_time() - c
    p2.write(work / f"{name}_v2.gpkg", force=True)
    v2 = Plan.read(work / f"{name}_v2.gpkg")
    kept, total, lost = kept_grids(v1, v2, code, crs=SHAPE_CRS if _near_wuhan(v1) else v1.metadata["metric_crs"])
    types_fresh, fresh_cpu = {}, None
    if fresh:
        c = time.process_time()
        p3 = build_plan(changed, workers=workers, shift_check=False, scheme=scheme)
        fresh_cpu = time.process_time() - c
        p3.write(work / f"{name}_fresh.gpkg", force=True)
        types_fresh = geometry_types(work / f"{name}_fresh.gpkg")
    errors = validation_errors(v2)
    return Result(name, code, kept, total, lost, seconds, v1_s, cpu, v1_cpu, fresh_cpu,
                  int(p2.metadata["adjustment"].get("grids_freed_for_wraps", 0)), invalid_geometries(v2),
                  geometry_types(work / f"{name}_v2.gpkg"), types_fresh, len(errors),
                  {str(k): int(v) for k, v in errors["type"].value_counts().items()})


def _near_wuhan(plan) -> bool:
    """Whether EPSG:4547 (CM 114°E) is the plan's own zone or a neighbour's (within 1.5° of 114°E)."""
    x = plan["communities"].to_crs(4490).total_bounds
    return abs((x[0] + x[2]) / 2 - 114.0) <= 1.5 + 1e-9


# --------------------------------------------------------------------------------------------- datasets


def _read(path: Path):
    import pyogrio

    from gridgeo.io import LayerSource, read_inputs

    names = {str(n) for n in pyogrio.list_layers(path)[:, 0]}
    return read_inputs({n: LayerSource(path, layer=n) for n in LAYERS if n in names})


def _run_builder(script: str, args: list[str]) -> str | None:
    # in a subprocess: the builders run scikit-learn (OpenMP), which must not start in this process
    res = subprocess.run([sys.executable, str(REPO / "scripts" / script), *args], capture_output=True, text=True)
    if res.returncode != 0:
        return (res.stderr.strip().splitlines() or [f"exit status {res.returncode}"])[-1]
    return None


def load_inputs(name: str):
    """The inputs of a dataset, or a reason it is skipped."""
    from gridgeo.datasets import get_path

    if name in ("sample", "sample-messy"):
        inputs = _read(Path(get_path("sample_town")))
        if name == "sample-messy":
            inputs = replace(inputs, buildings=messy_buildings(inputs.buildings))
        return inputs
    if name == "wuhan" or name.startswith("wuhan-"):
        rest = name.removeprefix("wuhan").lstrip("-")
        messy = rest.startswith("messy")
        district = rest.removeprefix("messy").lstrip("-") or "420103"
        if district not in DISTRICTS:
            return f"unknown district {district!r}; choose from {DISTRICTS}"
        out = OUT / ("wuhan_scenario" if district == "420103" else f"wuhan_scenario_{district}")
        why = _run_builder("build_wuhan_scenario.py", ["--out", str(out), "--district", district,
                                                        "--footprints", "messy" if messy else "clean"])
        if why:
            return why
        return _read(out / ("wuhan_scenario_messy.gpkg" if messy else "wuhan_scenario.gpkg"))
    if name in ("lujiazui", "suzhou"):
        out = OUT / f"{name}_scenario"
        why = _run_builder(f"build_{name}_scenario.py", ["--out", str(out)])
        if why:
            return why
        return _read(out / f"{name}_scenario.gpkg")
    return f"unknown dataset {name!r}; choose sample, sample-messy, wuhan[-messy][-CODE], lujiazui or suzhou"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", default="sample,sample-messy",
                    help="comma-separated: sample, sample-messy, wuhan-CODE, wuhan-messy-CODE, lujiazui, suzhou (default %(default)s)")
    ap.add_argument("--workers", type=int, default=1, help="partition worker processes (default %(default)s)")
    ap.add_argument("--no-fresh", action="store_true", help="skip the fresh plan that the geometry types are compared with")
    ap.add_argument("--keep", help="folder to keep the plans in (default: a temporary folder)")
    ap.add_argument("--grid-digits", type=int, default=3,
                    help="digits of the grid sequence in the codes (default %(default)s; 4 for a district with a "
                         "community of more than 899 grids, e.g. 洪山区's synthetic superblock)")
    ap.add_argument("--md", help="also write the markdown table to this file")
    args = ap.parse_args(argv)
    rows = ["| dataset | changed community | grids of other communities | kept with code and shape | kept % | "
            "re-division s | first plan s | re-division CPU s | first plan CPU s | fresh plan CPU s | "
            "freed for wraps | invalid stored polygons | types as fresh | validate errors |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|"]
    notes = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.keep or tmp)
        for name in [d for d in args.datasets.split(",") if d]:
            t = time.perf_counter()
            inputs = load_inputs(name)
            if isinstance(inputs, str):
                print(f"[{name}] skipped: {inputs}", file=sys.stderr)
                notes.append(f"{name}: skipped ({inputs})")
                continue
            print(f"[{name}] read in {time.perf_counter() - t:.1f} s: {len(inputs.communities)} communities, "
                  f"{len(inputs.buildings):,} buildings", file=sys.stderr)
            scheme = {"grid_digits": args.grid_digits} if args.grid_digits != 3 else None
            r = redivide(inputs, work, name=name, workers=args.workers, fresh=not args.no_fresh, scheme=scheme)
            same = "n/a" if not r.types_fresh else ("yes" if r.types_v2 == r.types_fresh else "NO")
            rows.append(f"| {name} | {r.community} | {r.total:,} | {r.kept:,} | {100 * r.kept_share:.1f}% | "
                        f"{r.seconds:.1f} | {r.v1_seconds:.1f} | {r.cpu_s:.1f} | {r.v1_cpu_s:.1f} | "
                        f"{'–' if r.fresh_cpu_s is None else f'{r.fresh_cpu_s:.1f}'} | {r.freed_for_wraps} | "
                        f"{sum(r.invalid.values())} | {same} | {r.errors} |")
            print(rows[-1], file=sys.stderr)
            if r.lost:
                notes.append(f"{name}: not kept: {', '.join(r.lost[:12])}{' …' if len(r.lost) > 12 else ''}")
            if same == "NO":
                diff = {k: (r.types_v2.get(k), v) for k, v in r.types_fresh.items() if r.types_v2.get(k) != v}
                notes.append(f"{name}: geometry types (re-divided, fresh): {diff}")
            if r.errors:
                notes.append(f"{name}: validate errors {r.error_types}")
            if any(r.invalid.values()):
                notes.append(f"{name}: invalid stored polygons per layer {r.invalid}")
    text = "\n".join([*rows, "", *[f"- {n}" for n in notes]])
    print(text)
    if args.md:
        Path(args.md).parent.mkdir(parents=True, exist_ok=True)
        Path(args.md).write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
