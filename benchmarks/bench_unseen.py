"""Plans on inputs gridgeo was not tuned on: real footprints under other communities, households and flaws.

Every other benchmark runs the repository's fixed scenarios. This one draws variants of the real data in
``../shared/data`` the way another city's data differs, and runs ``gridgeo.divide`` (the plan
``gridgeo partition`` writes) on each:

- **Suzhou Gusu** (``scripts/build_suzhou_scenario.py``: 3,076 REAL tile-cut footprints with floors, no
  streets), under SYNTHETIC communities: Voronoi cells of 3–13 seeded points over the data's extent, so the
  boundaries run through buildings at every angle. Flags add, each seeded:
  ``towers`` households given (400 for 18 floors and more, area × floors ÷ 100 m² below, 5% left null);
  ``bigtowers`` 400 households for 8 floors and more; ``dups`` 5% of the footprints repeated 0.2 m off
  and 5% as building parts (the outline scaled to 0.6, households copied);
  ``parts`` 10% as building parts of 0 households; ``points`` 10% as address points without households;
  ``wobble`` each community's outline moved by its own smooth wave of 0.6 m (gaps and overlaps of up to
  1.7 m between neighbours, inside the 2 m boundary tolerance); ``shuffle`` the rows of both layers
  shuffled (the plan must equal the unshuffled one: the digest column).
- **Lujiazui** (``scripts/build_lujiazui_scenario.py --seed N``: REAL OSM buildings and streets of Shanghai,
  SYNTHETIC communities and ESTIMATED households that change with the seed), with its units carved into
  dedicated grids (``enterprises``).
- **Lujiazui flaws** (``--flaws``; the default scenario's four Puxi communities, its REAL buildings and streets,
  households ESTIMATED from floors unless a flag gives them), flags each seeded: ``hand`` every community outline
  moved by its own smooth wave of 5 m (overlaps and gaps of up to 10 m between neighbours, boundaries through
  buildings), mended with :func:`gridgeo.repair` on the community layer as the partition's error says;
  ``holes`` a campus cut out of one community and given to another as a second part, a lake cut out of a third
  (in no community); ``towers`` 400–900 households on every footprint of 15 floors or more; ``addrpoints`` the
  households on address points (70% of the footprints, the footprints without floors or count); ``village``
  one community rural (村) beside the urban ones; ``footways`` the residential and minor roads dropped (only
  footways, paths and service roads inside the superblocks); ``gcj1`` one community drawn on GCJ-02 (AMap), the
  others on WGS-84 (the row is the one-line error naming it). With ``--redivide``, re-divided as the Suzhou
  variants are.

Figures per variant: the validation errors of the plan (``plan.validate()``, the checks of ``gridgeo
validate``), and from ``plan.quality()`` (the ``gridgeo report`` table) base and small grids in range by
the honest count, grids with holes, median Polsby–Popper; wall time of ``divide``; a digest of the grids and
small grids (codes and geometry at 1 mm). With ``--redivide``, each Suzhou variant is also re-divided after a
change confined to one community (:func:`suzhou_redivision`): the share of the other communities' grids kept with
code and shape, and the re-divided plan's validation errors.

    GRIDGEO_SHARED_DATA=../shared/data .venv/bin/python benchmarks/bench_unseen.py \
        [--suzhou plain:1,towers-dups:7,...] [--lujiazui 310115,7,11,13] [--flaws hand:1,holes:1,...] [--redivide]
        [--md out/unseen.md]
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import time
import traceback
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "out"
sys.path.insert(0, str(REPO / "scripts"))

SUZHOU_DEFAULT = ("plain:1,towers:2,dups:3,wobble:4,towers-dups-wobble:5,towers-dups-wobble-shuffle:5,plain:6,"
                  "towers-dups:7,wobble:8,bigtowers:12,points:13,parts:14,bigtowers-parts-points:15,"
                  "bigtowers-dups-wobble:16,parts-points-wobble:18,dups-points:21,towers-dups:27")
LUJIAZUI_DEFAULT = "310115,7,11,13"
FLAGS = {"towers", "bigtowers", "dups", "parts", "points", "wobble", "shuffle", "plain"}
FLAWS = {"hand", "holes", "towers", "addrpoints", "village", "footways", "gcj1", "plain"}
FLAWS_EXAMPLE = "plain:1,hand:1,holes:1,towers:3,addrpoints:4,village:1,footways:1,gcj1:1"
HAND_M = 5.0
WOBBLE_M = 0.6


def voronoi_communities(b: gpd.GeoDataFrame, k: int, rng: np.random.Generator, wobble_m: float) -> gpd.GeoDataFrame:
    """``k`` communities: Voronoi cells of seeded points over the buildings' extent (30 m margin), each
    outline moved by its own smooth wave of ``wobble_m`` (0: shared edges stay shared)."""
    utm = b.estimate_utm_crs()
    x0, y0, x1, y1 = b.to_crs(utm).total_bounds
    ext = shapely.box(x0 - 30, y0 - 30, x1 + 30, y1 + 30)
    pts = np.column_stack([rng.uniform(x0, x1, k), rng.uniform(y0, y1, k)])
    cells = shapely.intersection(shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=ext)), ext)
    cells = cells[~shapely.is_empty(cells)]
    if wobble_m:
        def wave(phase: np.ndarray):
            return lambda xy: xy + wobble_m * np.column_stack([np.sin(xy[:, 1] / 37.0 + phase[0]),
                                                               np.cos(xy[:, 0] / 41.0 + phase[1])])
        cells = shapely.segmentize(cells, 20.0)
        cells = shapely.make_valid(np.array([shapely.transform(c, wave(rng.uniform(0, 2 * np.pi, 2))) for c in cells],
                                            dtype=object))
    codes = [f"320508{i // 9 + 1:03d}{i % 9 + 1:03d}" for i in range(len(cells))]
    return gpd.GeoDataFrame({"code": codes, "name": [f"姑苏社区{i + 1}" for i in range(len(cells))]},
                            geometry=cells, crs=utm).to_crs(b.crs)


def suzhou_variant(flags: set[str], seed: int) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """(communities, buildings) of one Suzhou variant (see the module docstring)."""
    import build_suzhou_scenario as bs

    _, b = bs.scenario()
    rng = np.random.default_rng(seed)
    k = int(rng.integers(3, 14))
    area = b.to_crs(b.estimate_utm_crs()).area.to_numpy()
    if "towers" in flags:
        hh = np.where(b["floors"] >= 18, 400, np.round(area * b["floors"] / 100)).astype(float)
        hh[rng.random(len(hh)) < 0.05] = np.nan
        b = b.assign(households=hh)
    if "bigtowers" in flags:
        b = b.assign(households=np.where(b["floors"] >= 8, 400, np.round(area * b["floors"] / 100)).astype(float))
    if "dups" in flags:
        d = b.iloc[rng.choice(len(b), size=len(b) // 20, replace=False)].copy()
        d["geometry"] = d.geometry.translate(0.000002, 0.000001)
        part = b.iloc[rng.choice(len(b), size=len(b) // 20, replace=False)].copy()
        part["geometry"] = part.geometry.scale(0.6, 0.6)
        b = pd.concat([b, d, part], ignore_index=True)
    if "points" in flags:
        p = b.iloc[rng.choice(len(b), size=len(b) // 10, replace=False)].copy()
        p["geometry"] = p.geometry.representative_point()
        if "households" in p:
            p["households"] = np.nan
        b = pd.concat([b, p], ignore_index=True)
    if "parts" in flags:
        p = b.iloc[rng.choice(len(b), size=len(b) // 10, replace=False)].copy()
        p = p[p.geometry.geom_type.isin(["Polygon", "MultiPolygon"])]
        p["geometry"] = p.geometry.scale(0.5, 0.5)
        p["households"] = 0.0
        b = pd.concat([b, p], ignore_index=True)
    c = voronoi_communities(b, k, rng, WOBBLE_M if "wobble" in flags else 0.0)
    if "shuffle" in flags:
        b = b.sample(frac=1.0, random_state=seed).reset_index(drop=True)
        c = c.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    return c, b


def _wave(c: gpd.GeoDataFrame, amp_m: float, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """Each outline (metric CRS) moved by its own smooth wave of ``amp_m``: a boundary digitised by hand."""
    geoms = []
    for g in shapely.segmentize(c.geometry.to_numpy(), 15.0):
        ph = rng.uniform(0, 2 * np.pi, 2)
        geoms.append(shapely.make_valid(shapely.transform(g, lambda xy, ph=ph: xy + amp_m * np.column_stack(
            [np.sin(xy[:, 1] / 53.0 + ph[0]), np.cos(xy[:, 0] / 61.0 + ph[1])]))))
    return c.set_geometry(geoms)


def flawed_variant(flags: set[str], seed: int) -> dict:
    """kwargs of :func:`gridgeo.divide` for one Lujiazui flaws variant (see the module docstring)."""
    import gridgeo
    from gridgeo.crs import convert_datum

    path = OUT / "lujiazui_scenario" / "lujiazui_scenario.gpkg"
    if not path.exists():
        subprocess.run([sys.executable, str(REPO / "scripts" / "build_lujiazui_scenario.py"), "--out", str(path.parent)],
                       check=True, capture_output=True)
    rng = np.random.default_rng(seed)
    c = gpd.read_file(path, layer="communities").iloc[1:5].reset_index(drop=True)
    metric = 4550  # CGCS2000 / 3-degree Gauss-Kruger CM 120E, metres
    cm = c.to_crs(metric)
    s = gpd.read_file(path, layer="streets")
    s = s[s.to_crs(metric).intersects(cm.union_all().buffer(30)).to_numpy()].reset_index(drop=True)
    b = gpd.read_file(path, layer="buildings")
    b = b[b.to_crs(metric).intersects(cm.union_all()).to_numpy()].reset_index(drop=True)
    bm = b.to_crs(metric)
    poly = (b.geom_type != "Point").to_numpy()
    if "hand" in flags:
        c = gridgeo.repair(_wave(cm, HAND_M, rng).to_crs(c.crs))[0]
    if "holes" in flags:
        g = cm.geometry.to_numpy().copy()
        campus = g[2].representative_point().buffer(90).intersection(g[2].buffer(-20))
        lake = g[1].representative_point().buffer(60).intersection(g[1].buffer(-15))
        g[2], g[0], g[1] = g[2].difference(campus), shapely.union(g[0], campus), g[1].difference(lake)
        c = cm.set_geometry(g).to_crs(c.crs)
    if "towers" in flags:
        hh = np.where(poly, np.round(bm.area * b["floors"] / 90), np.nan)
        tall = poly & (b["floors"] >= 15).to_numpy()
        hh[tall] = rng.integers(400, 901, tall.sum())
        b = b.assign(households=hh)
    if "addrpoints" in flags:
        fp = b[poly].drop(columns=["floors", "height"]).assign(households=np.nan)
        res = fp.sample(frac=0.7, random_state=seed)
        pts = res.assign(kind="address", building_id=[f"ADDR-{i}" for i in range(len(res))],
                         households=np.round(bm.area[res.index] * b.loc[res.index, "floors"] / 90).clip(lower=1))
        pts = pts.set_geometry(pts.to_crs(metric).representative_point().to_crs(b.crs))
        b = pd.concat([fp, pts], ignore_index=True)
    if "village" in flags:
        c = c.assign(kind=np.where(np.arange(len(c)) == 3, "rural", c["kind"]))
    if "footways" in flags:
        s = s[~s["highway"].isin(["residential", "tertiary", "unclassified", "living_street", "tertiary_link"]).to_numpy()]
    if "gcj1" in flags:
        k = int(rng.integers(0, len(c)))
        moved = convert_datum(c.iloc[[k]].to_crs(4326), src="wgs84", dst="gcj02").to_crs(c.crs)
        c = c.copy()
        c.loc[c.index[k], "geometry"] = moved.geometry.iloc[0]
    return {"communities": c, "streets": s, "buildings": b}


def plan_digest(plan) -> str:
    """Codes and geometry (1 mm) of the grids and small grids, rows ordered by code."""
    d = hashlib.blake2b(digest_size=8)
    for layer, col in ((plan.grids, "grid_code"), (plan.subgrids, "subgrid_code")):
        rows = layer.sort_values(col)
        d.update(repr(rows[col].astype(str).tolist()).encode())
        for wkb in shapely.to_wkb(shapely.normalize(shapely.set_precision(rows.geometry.to_numpy(), 1e-8))):
            d.update(wkb)
    return d.hexdigest()


def suzhou_redivision(kwargs: dict, plan) -> str:
    """Re-divide (动态调整) after a change confined to one community: the middle community (by code) has 17
    more households in each of its first five footprints lying wholly in it. Returns the grids of the other
    communities kept with code and shape (symmetric difference under ``bench_redivision.SAME_SHAPE_M2``) and
    the validation errors of the re-divided plan."""
    from bench_redivision import SAME_SHAPE_M2

    import gridgeo

    c, b = kwargs["communities"], kwargs["buildings"].copy()
    codes = sorted(plan.grids["community_code"].unique())
    code = codes[len(codes) // 2]
    metric = b.estimate_utm_crs()
    bm, cm = b.to_crs(metric), c.to_crs(metric)
    mine = cm.geometry[cm["code"] == code].iloc[0]
    area = bm.area.to_numpy()
    share = np.divide(shapely.area(shapely.intersection(bm.geometry.to_numpy(), mine)), area,
                      out=np.zeros(len(area)), where=area > 0)
    rows = np.flatnonzero(share > 0.99)[:5]
    hh = pd.to_numeric(b["households"], errors="coerce") if "households" in b else pd.Series(np.nan, index=b.index)
    est = pd.to_numeric(plan.buildings["households"], errors="coerce")
    hh.iloc[rows] = hh.iloc[rows].fillna(float(est.median())) + 17
    v2 = gridgeo.divide(c, kwargs.get("streets"), b.assign(households=hh), previous=plan)
    old = plan.grids[plan.grids["community_code"] != code].to_crs(metric)
    new = v2.grids.to_crs(metric).drop_duplicates("grid_code").set_index("grid_code")
    kept = sum(1 for g, geom in zip(old["grid_code"], old.geometry, strict=True)
               if g in new.index and shapely.area(shapely.symmetric_difference(geom, new.geometry[g])) < SAME_SHAPE_M2)
    errors = int((v2.validate()["severity"] == "error").sum())
    return f"{100 * kept / max(len(old), 1):.1f}% ({kept} / {len(old)}), {errors} errors"


def figures(label: str, make, redivide=None) -> dict:
    """Run ``divide`` on ``make()`` (kwargs of :func:`gridgeo.divide`) and gather the figures; ``redivide(kwargs,
    plan)`` adds a re-division column."""
    import gridgeo

    row: dict = {"input": label}
    try:
        kwargs = make()
        t = time.perf_counter()
        plan = gridgeo.divide(**kwargs)
        row["divide s"] = f"{time.perf_counter() - t:.1f}"
        found = plan.validate()
        errors = found[found["severity"] == "error"]
        row["errors"] = len(errors) if not len(errors) else f"{len(errors)} ({', '.join(sorted(set(errors['type'])))})"
        q = plan.quality()
        row["communities"] = len(plan.communities)
        row["buildings"] = f"{len(plan.buildings):,}"
        row["households"] = f"{int(plan.grids['households'].sum()):,}"
        row["base in range"] = f"{q.loc['in range (share of eligible grids)'].iloc[0]} ({q.loc['in range / eligible'].iloc[0]})"
        row["small in range"] = f"{q.loc['in range (share of eligible grids)'].iloc[1]} ({q.loc['in range / eligible'].iloc[1]})"
        holes = q.loc["grids with a hole (wrapped around another grid)"]
        row["holes base / small"] = f"{holes.iloc[0]} / {holes.iloc[1]}"
        pp = q.loc["compactness: median Polsby–Popper"]
        row["median PP base / small"] = f"{pp.iloc[0]} / {pp.iloc[1]}"
        off = "grids not beside a dedicated grid: count, median Polsby–Popper"  # only with dedicated grids
        row["base not beside dedicated: n, PP"] = q.loc[off].iloc[0] if off in q.index else "–"
        row["digest"] = plan_digest(plan)
        if redivide is not None:
            row["re-division: other grids kept"] = redivide(kwargs, plan)
    except Exception as exc:  # noqa: BLE001 - a failing variant is a figure, the others still run
        row["errors"] = f"RAISED {type(exc).__name__}: {str(exc)[:160]}"
        traceback.print_exc()
    print(row, file=sys.stderr, flush=True)
    return row


def lujiazui(seed: str) -> dict:
    out = OUT / f"lujiazui_scenario_seed{seed}"
    cmd = [sys.executable, str(REPO / "scripts" / "build_lujiazui_scenario.py"), "--out", str(out), "--seed", seed]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError((res.stderr.strip().splitlines() or [f"exit status {res.returncode}"])[-1])
    path = out / "lujiazui_scenario.gpkg"
    return {"communities": (path, "communities"), "streets": (path, "streets"), "buildings": (path, "buildings"),
            "enterprises": (path, "units")}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suzhou", default=SUZHOU_DEFAULT, help="flags:seed variants, comma-separated ('' for none)")
    ap.add_argument("--lujiazui", default=LUJIAZUI_DEFAULT, help="builder seeds, comma-separated ('' for none)")
    ap.add_argument("--flaws", default="", help=f"Lujiazui flaws flags:seed variants, e.g. {FLAWS_EXAMPLE}")
    ap.add_argument("--md", type=Path, help="also write the table here (markdown)")
    ap.add_argument("--redivide", action="store_true",
                    help="also re-divide each Suzhou variant after a change in one community (动态调整)")
    args = ap.parse_args(argv)
    import build_suzhou_scenario as bs

    rows = []
    for spec in filter(None, args.suzhou.split(",")):
        name, _, seed = spec.partition(":")
        flags = set(name.split("-"))
        if not flags <= FLAGS:
            ap.error(f"--suzhou {spec}: unknown flag(s) {sorted(flags - FLAGS)}; known: {sorted(FLAGS)}")
        if bs.missing_reason():
            print(f"Suzhou variants skipped: {bs.missing_reason()}", file=sys.stderr)
            break

        def make(flags=flags, seed=int(seed or 0)):
            c, b = suzhou_variant(flags, seed)
            return {"communities": c, "buildings": b}
        rows.append(figures(f"Suzhou {spec}", make, suzhou_redivision if args.redivide else None))
    for spec in filter(None, args.flaws.split(",")):
        name, _, seed = spec.partition(":")
        flags = set(name.split("-"))
        if not flags <= FLAWS:
            ap.error(f"--flaws {spec}: unknown flag(s) {sorted(flags - FLAWS)}; known: {sorted(FLAWS)}")
        rows.append(figures(f"Lujiazui flaws {spec}", lambda flags=flags, seed=int(seed or 0): flawed_variant(flags, seed),
                            suzhou_redivision if args.redivide else None))
    for seed in filter(None, args.lujiazui.split(",")):
        rows.append(figures(f"Lujiazui seed {seed}", lambda seed=seed: lujiazui(seed)))
    frame = pd.DataFrame(rows).fillna("")
    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(str(v) for v in r) + " |" for r in frame.itertuples(index=False)]
    table = "\n".join(lines)
    print(table)
    if args.md:
        args.md.parent.mkdir(parents=True, exist_ok=True)
        args.md.write_text(table + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
