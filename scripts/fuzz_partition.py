"""Fuzz fresh partitions (``gridgeo partition``) on seeded random towns cut from the REAL data in ../shared/data.

Each town (:func:`town`, the same for the same seed):

- **real footprints**: a window of 350-800 m of Lujiazui's OSM buildings (tile repeats, building parts,
  address and entrance points as they are), of Suzhou Gusu's footprints, or Suzhou footprints moved under a
  window of real Wuhan OSM streets; streets: Lujiazui's OSM roads, Wuhan's streets, or none (Suzhou);
- **messier footprints**: 2-10% repeated 1.5 m off (half of them with 0 households), up to 5 towers of
  300-600 households, in some towns 5% of households left for gridgeo to estimate;
- **SYNTHETIC imperfect communities**: 1-6 Voronoi cells over the window, each with flaws drawn at random:
  a smooth wave of its own (gaps and overlaps between neighbours; 10% wider than the 2 m tolerance), a jagged
  outline, a hole, a strip 1-12 m wide cut through it (a multipolygon), two vertices swapped (an outline
  crossing itself), and an extra community with no buildings;
- **ESTIMATED households**: footprint x floors / 90 m² (floors from OSM height / 3 m, Suzhou's ``Floor``);
- **dedicated units** in some towns: Lujiazui's POIs and landuse sites, or points and sites drawn from footprints.

Checks (:func:`check`): the run succeeds or fails with a one-line ``InputError``; ``validate`` has no error;
no grid or small grid with a hole inside its community (``hole-*-reported`` when ``grid_encloses_grid`` says
so); every building given is in the plan or in a finding; households conserved; no footprint unit split
between grids or small grids of one community; the same plan (grids, small grids, buildings) with the rows of
every layer shuffled; every ``cli_every``-th town (0: none) also through ``python -m gridgeo partition`` and
``gridgeo validate`` (no traceback, exit 0). A failing town is pickled to ``out/fuzz/failing/town_<seed>.pkl``
(inputs, message, traceback) to minimise.

With ``--redivide``, each town is re-divided (动态调整, ``previous=`` the fresh plan) instead (:func:`run_redivide`):
(i) with nothing changed, every grid and small grid is given back with its code, households and shape; (ii) with
ONE community changed (households of some of its buildings raised or halved, 2–3 buildings added in its free
land: :func:`one_community_changed`), ``validate`` has no error, the plan passes :func:`check`, and every grid
and small grid of the other communities is kept with its code and shape.

    GRIDGEO_SHARED_DATA=../shared/data .venv/bin/python scripts/fuzz_partition.py START BUDGET_S [CLI_EVERY] [STOP]
    GRIDGEO_SHARED_DATA=../shared/data .venv/bin/python scripts/fuzz_partition.py --redivide START BUDGET_S 0 [STOP]   # CLI_EVERY unused
"""
from __future__ import annotations

import argparse
import os
import pickle
import subprocess
import sys
import tempfile
import time
import traceback
from functools import cache
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

import gridgeo
from gridgeo.footprints import footprint_units, split_multipart

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("GRIDGEO_SHARED_DATA", REPO.parent / "shared" / "data"))
FAIL = REPO / "out" / "fuzz" / "failing"
PY = sys.executable


@cache
def lujiazui():
    p = DATA / "shanghai_lujiazui_osm.gpkg"
    b = gpd.read_file(p, layer="buildings").to_crs(32651)
    r = gpd.read_file(p, layer="roads").to_crs(32651)
    r = r[r["kind"].isin(["major_road", "minor_road", "path"])]
    pois = gpd.read_file(p, layer="pois").to_crs(32651)
    lu = gpd.read_file(p, layer="landuse").to_crs(32651)
    return b, r, pois, lu


@cache
def suzhou():
    s = gpd.read_file(DATA / "suzhou_gusu_buildings.geojson").to_crs(32651)
    return s


@cache
def wuhan():
    return gpd.read_parquet(DATA / "wuhan_streets_osm.parquet")


POI_CAT = {"school": "school", "kindergarten": "school", "university": "school", "hospital": "hospital",
           "clinic": "hospital", "bank": "enterprise", "hotel": "enterprise", "marketplace": "market",
           "supermarket": "market", "restaurant": "enterprise", "police": "government", "townhall": "government",
           "cafe": "enterprise", "convenience": "market", "office": "office_building"}


def window(rng, bounds, size):
    x0, y0, x1, y1 = bounds
    x = rng.uniform(x0, max(x0 + 1, x1 - size[0]))
    y = rng.uniform(y0, max(y0 + 1, y1 - size[1]))
    return shapely.box(x, y, x + size[0], y + size[1])


def households(rng, geoms, floors):
    area = shapely.area(geoms)
    hh = np.round(area * floors / 90.0)
    hh[area == 0] = 0
    return hh


def communities(rng, win, k, crs, flaws):
    x0, y0, x1, y1 = win.bounds
    ext = win
    pts = np.column_stack([rng.uniform(x0, x1, k), rng.uniform(y0, y1, k)])
    cells = shapely.intersection(shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=ext)), ext)
    cells = list(cells[~shapely.is_empty(cells)])
    notes = []
    if "empty" in flaws:  # a community strip beyond the buildings: no buildings
        cells.append(shapely.box(x1, y0, x1 + rng.uniform(60, 150), y1))
        notes.append("empty")
    out = []
    for i, c in enumerate(cells):
        if "wobble" in flaws:
            a = float(rng.choice([0.15, 0.3, 0.5, 3.0], p=[0.35, 0.35, 0.2, 0.1]))
            ph = rng.uniform(0, 2 * np.pi, 2)
            c = shapely.segmentize(c, float(rng.choice([5.0, 15.0])))
            c = shapely.transform(c, lambda xy, a=a, ph=ph: xy + a * np.column_stack(
                [np.sin(xy[:, 1] / 23.0 + ph[0]), np.cos(xy[:, 0] / 29.0 + ph[1])]))
        if "jitter" in flaws:
            c = shapely.segmentize(c, 25.0)
            ph = rng.uniform(0, 100, 2)
            c = shapely.transform(c, lambda xy, ph=ph: xy + 0.3 * np.column_stack(
                [np.sin(xy[:, 0] * 0.91 + xy[:, 1] * 1.37 + ph[0]), np.cos(xy[:, 0] * 1.13 - xy[:, 1] * 0.77 + ph[1])]))
        if "hole" in flaws and rng.random() < 0.4:
            p = c.representative_point() if not c.is_empty else None
            if p is not None:
                c = c.difference(p.buffer(float(rng.uniform(10, 40)), quad_segs=3))
                notes.append(f"hole{i}")
        if "multi" in flaws and rng.random() < 0.35 and c.area > 0:
            cx, cy = c.centroid.x, c.centroid.y
            ang = rng.uniform(0, np.pi)
            cut = shapely.LineString([(cx - 2000 * np.cos(ang), cy - 2000 * np.sin(ang)),
                                      (cx + 2000 * np.cos(ang), cy + 2000 * np.sin(ang))]).buffer(float(rng.uniform(0.5, 6)))
            c = c.difference(cut)
            notes.append(f"multi{i}")
        if "bowtie" in flaws and rng.random() < 0.3 and c.geom_type == "Polygon":
            xy = np.asarray(c.exterior.coords)
            if len(xy) > 5:
                j = int(rng.integers(1, len(xy) - 3))
                xy[[j, j + 1]] = xy[[j + 1, j]]
                xy[-1] = xy[0]
                c = shapely.Polygon(xy, [r.coords for r in c.interiors])
                notes.append(f"bowtie{i}")
        out.append(c)
    codes = [f"3101150{i // 9 + 1:02d}{i % 9 + 1:03d}" for i in range(len(out))]
    g = gpd.GeoDataFrame({"code": codes, "name": [f"测试社区{i + 1}" for i in range(len(out))]},
                         geometry=out, crs=crs)
    return g, notes


def town(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    src = str(rng.choice(["lujiazui", "suzhou", "wuhan"]))
    size = (float(rng.uniform(350, 800)), float(rng.uniform(350, 800)))
    flaws = {f for f in ("wobble", "jitter", "hole", "multi", "bowtie", "empty") if rng.random() < 0.35}
    units = None
    if src == "lujiazui":
        b, r, pois, lu = lujiazui()
        c0 = b.geometry.iloc[int(rng.integers(len(b)))].centroid
        win = shapely.box(c0.x - size[0] / 2, c0.y - size[1] / 2, c0.x + size[0] / 2, c0.y + size[1] / 2)
        bb = b[b.intersects(win)].copy()
        hgt = pd.to_numeric(bb["height"], errors="coerce").to_numpy()
        floors = np.where(hgt > 0, np.maximum(1, np.round(hgt / 3)), rng.integers(1, 30, len(bb)))
        bb["households"] = households(rng, bb.geometry.to_numpy(), floors)
        bb.loc[bb["kind"].isin(["address", "entrance"]).to_numpy(), "households"] = np.nan
        bb.loc[(bb["kind"] == "building_part").to_numpy(), "households"] = 0
        bb["building_id"] = [f"L{o}-{t}-{i}" for i, (o, t) in enumerate(zip(bb["osm_id"], bb["tile"]))]
        bb = bb[["building_id", "households", "kind", "geometry"]]
        st = r[r.intersects(win.buffer(20))].clip(win.buffer(20))
        st = st[~st.is_empty].explode(ignore_index=True)
        st = gpd.GeoDataFrame({"name": st["name"], "highway": st["kind_detail"].fillna("residential")},
                              geometry=st.geometry, crs=st.crs)
        if rng.random() < 0.6:
            pp = pois[pois.within(win) & pois["kind"].isin(POI_CAT)]
            pol = lu[lu.intersects(win) & lu["kind"].isin(["school", "commercial", "hospital", "retail", "university"])].clip(win)
            pol = pol[pol.area > 50]
            units = gpd.GeoDataFrame(
                {"name": list(pp["name"].fillna("无名单位")) + list(pol["name"].fillna("园区")),
                 "category": [POI_CAT[k] for k in pp["kind"]] + [{"commercial": "business_district", "retail": "market"}.get(k, k) for k in pol["kind"]],
                 "employees": rng.integers(5, 600, len(pp) + len(pol))},
                geometry=list(pp.geometry) + list(pol.geometry), crs=b.crs)
    else:
        s = suzhou()
        c0 = s.geometry.iloc[int(rng.integers(len(s)))].centroid
        win = shapely.box(c0.x - size[0] / 2, c0.y - size[1] / 2, c0.x + size[0] / 2, c0.y + size[1] / 2)
        bb = s[s.intersects(win)].copy()
        bb["households"] = households(rng, bb.geometry.to_numpy(), bb["Floor"].to_numpy().astype(float))
        bb["building_id"] = [f"S{i}" for i in bb["Id"]] if bb["Id"].is_unique else [f"S{i}" for i in range(len(bb))]
        bb = bb[["building_id", "households", "geometry"]]
        st = None
        if src == "wuhan":
            w = wuhan()
            c0 = w.geometry.iloc[int(rng.integers(len(w)))].centroid
            wwin = shapely.box(c0.x - size[0] / 2, c0.y - size[1] / 2, c0.x + size[0] / 2, c0.y + size[1] / 2)
            st = w[w.intersects(wwin.buffer(20))].clip(wwin.buffer(20))
            st = st[~st.is_empty].explode(ignore_index=True)
            dx, dy = wwin.bounds[0] - win.bounds[0], wwin.bounds[1] - win.bounds[1]
            bb = bb.set_geometry(bb.geometry.translate(dx, dy)).set_crs(w.crs, allow_override=True)
            win = shapely.affinity.translate(win, dx, dy)
            st = gpd.GeoDataFrame({"name": None, "highway": st["highway"].astype(str)}, geometry=st.geometry, crs=w.crs)
        if rng.random() < 0.5 and len(bb):
            pick = bb.iloc[rng.choice(len(bb), size=min(len(bb), int(rng.integers(1, 8))), replace=False)]
            geoms = [g if rng.random() < 0.5 else g.representative_point() for g in pick.geometry]
            units = gpd.GeoDataFrame({"name": [f"单位{i}" for i in range(len(geoms))],
                                      "category": rng.choice(["school", "enterprise", "office_building", "hospital", "market"], len(geoms)),
                                      "employees": rng.integers(5, 600, len(geoms))}, geometry=geoms, crs=bb.crs)
    if units is not None and len(units) == 0:
        units = None
    # messy footprints: duplicates, shifted copies, parts, towers
    bb = bb.reset_index(drop=True)
    extra = []
    poly = np.flatnonzero(bb.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy())
    if len(poly):
        dup = rng.choice(poly, size=len(poly) // int(rng.choice([10, 20, 50])), replace=False)
        d = bb.iloc[dup].copy()
        d["geometry"] = d.geometry.translate(*rng.uniform(-1.5, 1.5, 2))
        d["households"] = np.where(rng.random(len(d)) < 0.5, 0, d["households"])
        d["building_id"] = d["building_id"] + "-dup"
        extra.append(d)
        nt = int(rng.integers(0, 6))
        big = poly[np.argsort(-bb.geometry.iloc[poly].area.to_numpy(), kind="stable")[: max(nt * 3, 1)]]
        tw = rng.choice(big, size=min(nt, len(big)), replace=False)
        bb.loc[tw, "households"] = rng.integers(300, 601, len(tw))
    if extra:
        bb = pd.concat([bb, *extra], ignore_index=True)
    if rng.random() < 0.2:
        bb.loc[rng.random(len(bb)) < 0.05, "households"] = np.nan
    k = int(rng.integers(1, 7))
    comm, notes = communities(rng, win, k, bb.crs, flaws)
    crs_out = int(rng.choice([4490, 0]))
    t = {"communities": comm, "streets": st, "buildings": gpd.GeoDataFrame(bb, geometry="geometry", crs=bb.crs),
         "enterprises": units}
    if crs_out:
        t = {n: (v.to_crs(crs_out) if v is not None else None) for n, v in t.items()}
    desc = f"{src} {size[0]:.0f}x{size[1]:.0f} k={len(comm)} flaws={sorted(flaws)} {notes} n={len(bb)} units={0 if units is None else len(units)}"
    return t, desc


def div(t, **kw):
    return gridgeo.divide(t["communities"], t["streets"], t["buildings"], enterprises=t["enterprises"], **kw)


def _digest(plan):
    import hashlib
    d = hashlib.sha256()
    for name in ("grids", "subgrids", "buildings"):
        f = plan[name]
        cols = sorted(c for c in f.columns if c != f.geometry.name)
        idc = {"grids": "grid_code", "subgrids": "subgrid_code", "buildings": "building_id"}[name]
        rows = f.sort_values(idc, kind="stable").reset_index(drop=True)
        for c in cols:
            d.update(repr(list(rows[c].astype(str))).encode())
        for w in shapely.to_wkb(shapely.normalize(shapely.set_precision(rows.geometry.to_numpy(), 1e-8))):
            d.update(w)
    return d.hexdigest()[:16]


class Fail(AssertionError):
    def __init__(self, kind, msg):
        super().__init__(f"[{kind}] {msg}")
        self.kind = kind


def check(plan, t):
    found = plan.validate()
    err = found[found["severity"] == "error"]
    if len(err):
        raise Fail("validate-errors", f"{len(err)} errors {err['type'].value_counts().to_dict()}")
    metric = plan.grids.estimate_utm_crs()
    comm = plan.communities.to_crs(metric)
    cg = dict(zip(comm["code"].astype(str), comm.geometry))
    reported = set(found.loc[found["type"] == "grid_encloses_grid", "feature_id"].astype(str))
    for layer, c in (("grids", "grid_code"), ("subgrids", "subgrid_code")):
        g = plan[layer].to_crs(metric)
        for code, cc, geom in zip(g[c].astype(str), g["community_code"].astype(str), g.geometry):
            for part in shapely.get_parts(geom):
                for ring in part.interiors:
                    hole = shapely.Polygon(ring)
                    inside = hole.intersection(cg[cc]).area
                    if inside > 1.0:
                        tag = "reported" if code in reported or code[:15] in reported else "unreported"
                        # what the hole holds: dedicated grids (专属网格, a site inside the blocks) or others
                        held = g[g.geometry.representative_point().within(hole)]
                        kinds = held["kind"].astype(str).tolist() if "kind" in held.columns else []
                        what = ",".join(sorted(set(kinds))) or "?"
                        raise Fail(f"hole-{layer}-{tag}", f"{code} hole of {hole.area:.0f} m2, {inside:.0f} m2 in its "
                                                          f"community, holding {what}")
            if shapely.get_num_geometries(geom) > 1 and layer == "grids":
                pass
    bld = plan.buildings
    src = t["buildings"]
    ids_in = set(src["building_id"])
    ids_out = {i.rsplit("#", 1)[0] if "#" in i and i.rsplit("#", 1)[0] in ids_in else i for i in bld["building_id"]}
    fids = set(found["feature_id"].astype(str))
    missing = [i for i in ids_in - ids_out if i not in fids]
    if missing:
        raise Fail("dropped", f"{len(missing)} buildings neither in the plan nor in a finding: {sorted(missing)[:5]}")
    if bld["grid_code"].isna().any() and "outside" not in "".join(found["type"].astype(str)):
        raise Fail("no-grid", f"{int(bld['grid_code'].isna().sum())} buildings without grid")
    hb = pd.to_numeric(bld["households"], errors="coerce").fillna(0)
    if int(plan.grids["households"].sum()) != int(hb[bld["grid_code"].notna()].sum()):
        raise Fail("households", f"grids {int(plan.grids['households'].sum())} != buildings {int(hb[bld['grid_code'].notna()].sum())}")
    given = pd.to_numeric(src["households"], errors="coerce")
    tot_in = given[given.notna()].sum()
    bb = bld.assign(base=[i.rsplit("#", 1)[0] if "#" in i and i.rsplit("#", 1)[0] in ids_in else i for i in bld["building_id"]])
    sub = bb[bb["base"].isin(set(src.loc[given.notna(), "building_id"]))]
    tot_out = pd.to_numeric(sub["households"], errors="coerce").fillna(0).sum()
    if abs(tot_in - tot_out) > 0.5 and len(missing) == 0 and set(sub["base"]) == set(src.loc[given.notna(), "building_id"]):
        raise Fail("households", f"given {tot_in} != plan {tot_out}")
    # units split between grids within a community
    s2 = src.to_crs(metric).reset_index(drop=True)
    split = {i.rsplit("#", 1)[0] for i in bld["building_id"] if "#" in i}
    s2 = split_multipart(s2, corners=s2["building_id"].isin(split).to_numpy())[0]
    units, _ = footprint_units(s2)
    u = bld["building_id"].map(dict(zip(s2["building_id"], units)))
    b2 = bld.assign(unit=u.to_numpy())
    b2 = b2[b2["unit"].notna() & b2["grid_code"].notna()]
    per = b2.groupby(["unit", "community_code"])[["grid_code", "subgrid_code"]].nunique(dropna=False)
    sp = per[(per["grid_code"] > 1) | (per["subgrid_code"] > 1)]
    if len(sp):
        raise Fail("unit-split", f"{len(sp)} units split, e.g. {sp.index.tolist()[:3]}")
    return found


def shuffled(t, seed):
    rng = np.random.default_rng(seed + 99)
    return {k: (v.iloc[rng.permutation(len(v))].reset_index(drop=True) if v is not None else None) for k, v in t.items()}


def cli(t, tmp: Path):
    paths = {}
    for n, v in t.items():
        if v is not None:
            p = tmp / f"{n}.gpkg"
            v.to_file(p, layer=n)
            paths[n] = p
    args = [PY, "-m", "gridgeo", "partition", "--workers", "1", "-q", "--out", str(tmp / "plan.gpkg"), "--force"]
    for n, p in paths.items():
        args += [f"--{n}", str(p)]
    r = subprocess.run(args, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    if "Traceback" in r.stderr:
        raise Fail("cli-traceback", r.stderr.strip().splitlines()[-1])
    if r.returncode != 0:
        lines = [x for x in r.stderr.strip().splitlines() if x.strip()]
        if r.returncode == 1 and (tmp / "plan.gpkg").exists():
            raise Fail("cli-exit1", " | ".join(lines[-3:]))
        return f"cli-error {r.returncode}: {lines[-1] if lines else ''}"
    v = subprocess.run([PY, "-m", "gridgeo", "validate", str(tmp / "plan.gpkg")], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(REPO)})
    if v.returncode != 0:
        raise Fail("cli-validate", (v.stdout + v.stderr).strip().splitlines()[-1])
    return None


def households_changed(t, seed):
    """The town with the households of about 30% of its buildings raised by 40%: grids freed and re-divided."""
    b = t["buildings"].copy()
    hh = pd.to_numeric(b["households"], errors="coerce")
    pick = (np.random.default_rng(seed).random(len(b)) < 0.3) & hh.notna().to_numpy()
    b.loc[pick, "households"] = np.round(hh[pick] * 1.4)
    return {**t, "buildings": b}


def one_community_changed(t, plan, seed):
    """The town with ONE community (drawn by ``seed`` among those whose buildings the plan places) changed: the
    households of about 40% of its buildings raised by 40% or halved, and 2–3 new buildings (12 × 10 m, 20–80
    households) in its free land, 15 m inside its outline and 6 m clear of every footprint and street. Returns the
    town and that community's code. Buildings the plan also places in another community are left as they are."""
    rng = np.random.default_rng(seed + 7)
    bld = plan.buildings
    src = t["buildings"]
    ids = set(src["building_id"])
    base = bld["building_id"].map(lambda i: i.rsplit("#", 1)[0] if "#" in i and i.rsplit("#", 1)[0] in ids else i)
    placed = bld.assign(base=base.to_numpy())[bld["community_code"].notna()]
    codes = sorted(placed["community_code"].astype(str).unique())
    if not codes:
        return t, None
    code = codes[int(rng.integers(len(codes)))]
    per = placed.groupby("base")["community_code"].agg(lambda c: set(c.astype(str)))
    mine = {i for i, cc in per.items() if cc == {code}}
    b = src.copy()
    hh = pd.to_numeric(b["households"], errors="coerce")
    pick = b["building_id"].isin(mine).to_numpy() & hh.notna().to_numpy() & (rng.random(len(b)) < 0.4)
    b.loc[pick, "households"] = np.round(hh[pick] * np.where(rng.random(int(pick.sum())) < 0.5, 1.4, 0.5))
    metric = plan.grids.estimate_utm_crs()
    comm = plan.communities.to_crs(metric)
    inner = shapely.buffer(comm.geometry[comm["code"].astype(str) == code].union_all(), -15.0)
    near = [src.to_crs(metric).geometry.buffer(6.0).union_all()]
    if t["streets"] is not None and len(t["streets"]):
        near.append(t["streets"].to_crs(metric).geometry.buffer(6.0).union_all())
    free = shapely.difference(inner, shapely.union_all(near))
    new = []
    if not free.is_empty:
        x0, y0, x1, y1 = free.bounds
        pts = shapely.points(rng.uniform(x0, x1, 400), rng.uniform(y0, y1, 400))
        boxes = shapely.buffer(pts, 6.0, cap_style="square")
        want = int(rng.integers(2, 4))
        for bx in boxes[shapely.within(boxes, free)]:
            if len(new) == want:
                break
            if all(bx.distance(o) > 20 for o in new):
                new.append(shapely.affinity.scale(bx, 1.0, 10.0 / 12.0))
    if new:
        add = gpd.GeoDataFrame({"building_id": [f"NEW{seed}-{i}" for i in range(len(new))],
                                "households": rng.integers(20, 81, len(new)).astype(float)},
                               geometry=new, crs=metric).to_crs(src.crs)
        b = pd.concat([b, add], ignore_index=True)
    return {**t, "buildings": gpd.GeoDataFrame(b, geometry=src.geometry.name, crs=src.crs)}, code


def _layers_by_code(p1, p2, where=None):
    """Pairs of the grids and small grids of ``p1`` and ``p2`` (in a metric CRS, by code; with ``where``, only
    those of the communities it keeps)."""
    metric = p1.grids.estimate_utm_crs()
    for layer, code in (("grids", "grid_code"), ("subgrids", "subgrid_code")):
        a, b = p1[layer].to_crs(metric), p2[layer].to_crs(metric)
        if where is not None:
            a, b = a[where(a["community_code"].astype(str))], b[where(b["community_code"].astype(str))]
        yield layer, a.set_index(code).sort_index(), b.set_index(code).sort_index()


SHAPE_TOL = 0.001  # m: a grid given back lies within 1 mm of its outline (stored in degrees: drift of ~0.1 mm)


def moved_off(a, b, tol=SHAPE_TOL):
    """Per pair of shapes (arrays, a metric CRS): True where the outlines are more than ``tol`` apart, i.e. their
    Hausdorff distance exceeds ``tol``: some point of one outline (vertex or not) lies over ``tol`` from the other.
    Decided exactly as each outline covered by the other's ``tol`` band (``buffer``, whose arcs lie inside the true
    band, so never looser), not by ``hausdorff_distance``, which measures from vertices only."""
    ra, rb = shapely.boundary(a), shapely.boundary(b)
    within = shapely.covered_by(ra, shapely.buffer(rb, tol)) & shapely.covered_by(rb, shapely.buffer(ra, tol))
    return ~within & ~(shapely.is_empty(a) & shapely.is_empty(b))


def given_back(p1, same, where=None, kind="given-back"):
    """Every grid and small grid of ``p1`` back in ``same`` with its code, households and shape (outlines within
    1 mm, :func:`moved_off`: the plan is stored in degrees, so a long outline drifts by a fraction of a millimetre
    and its area by more than 0.01 m²), and no other; every building with the same codes. With ``where`` (a test
    of community codes), only those of the communities it keeps."""
    for layer, a, b in _layers_by_code(p1, same, where):
        if list(b.index) != list(a.index):
            raise Fail(kind, f"{layer}: codes {sorted(set(b.index) ^ set(a.index))[:6]} changed")
        if not (b["households"] == a["households"]).all():
            raise Fail(kind, f"{layer}: households changed")
        ga, gb = a.geometry.to_numpy(), b.geometry.to_numpy()
        off = moved_off(ga, gb)
        if off.any():
            far = shapely.hausdorff_distance(ga[off], gb[off], densify=0.01)
            raise Fail(kind, f"{layer}: {a.index[off].tolist()[:6]} reshaped (outlines up to {far.max():.3f} m apart)")
    cols = ["building_id", "grid_code", "subgrid_code"]
    ba, bb = p1.buildings, same.buildings
    if where is not None:
        ba = ba[where(ba["community_code"].astype(str))]
        bb = bb[bb["building_id"].isin(set(ba["building_id"]))]
    a = ba[cols].astype(str).sort_values("building_id").reset_index(drop=True)
    b = bb[cols].astype(str).sort_values("building_id").reset_index(drop=True)
    if not a.equals(b):
        raise Fail(kind, "buildings: codes changed")


def _record(seed, t, desc, stage, exc):
    kind = exc.kind if isinstance(exc, Fail) else f"crash-{type(exc).__name__}"
    msg = f"{stage}: {kind}: {str(exc)[:300]}"
    FAIL.mkdir(parents=True, exist_ok=True)
    with open(FAIL / f"town_{seed}.pkl", "wb") as fh:
        pickle.dump({"seed": seed, "town": t, "desc": desc, "stage": stage, "kind": kind, "msg": msg,
                     "tb": traceback.format_exc()}, fh)
    return desc, "FAIL " + msg


def _divided(t):
    """The fresh plan, or the one-line message of its ``InputError`` (a multi-line one fails)."""
    try:
        return div(t), None
    except gridgeo.InputError as exc:
        m = str(exc)
        if "\n" in m.strip():
            raise Fail("multiline-error", m[:300]) from exc
        return None, f"input-error: {m[:200]}"


def run_one(seed, tmp: Path, do_cli=False):
    t, desc = town(seed)
    stage = "divide"
    try:
        p1, err = _divided(t)
        if err:
            return desc, err
        stage = "check"
        check(p1, t)
        stage = "shuffle"
        ps = div(shuffled(t, seed))
        if _digest(ps) != _digest(p1):
            raise Fail("shuffle", "plan differs when the input rows are shuffled")
        if do_cli:
            stage = "cli"
            r = cli(t, tmp)
            if r:
                return desc, r
        return desc, None
    except Exception as exc:  # noqa: BLE001 - every failure is a finding of the fuzz run
        return _record(seed, t, desc, stage, exc)


def run_redivide(seed):
    """Re-division (动态调整) of the town's fresh plan: (i) with nothing changed, every grid and small grid given
    back with its code and shape; (ii) with one community changed (:func:`one_community_changed`), ``validate``
    with no error, the checks of :func:`check`, and every grid and small grid of the other communities kept with
    its code and shape. When the fresh plan itself fails :func:`check` (a fresh-fuzz finding, e.g. a reported
    wrap), the re-divided plans need only validate with no error; the result names the fresh plan's flaw."""
    t, desc = town(seed)
    stage = "divide"
    try:
        p1, err = _divided(t)
        if err:
            return desc, err
        stage = "fresh-check"
        try:
            check(p1, t)
            flaw = None
        except Fail as exc:
            flaw = exc.kind

        def checked(plan, tt):
            if flaw is None:
                return check(plan, tt)
            found = plan.validate()
            if (found["severity"] == "error").any():
                raise Fail("validate-errors", str(found.loc[found["severity"] == "error", "type"].value_counts().to_dict()))
            return found

        stage = "same"
        same = div(t, previous=p1)
        base = same.grids[same.grids["kind"] != "dedicated"]
        freed = base.loc[~base["grid_id"].astype(str).str.startswith("K"), "grid_code"].tolist()
        if freed:
            raise Fail("freed", f"grids {freed[:6]} freed and drawn again with nothing changed")
        given_back(p1, same)
        checked(same, t)
        stage = "changed"
        t2, code = one_community_changed(t, p1, seed)
        if code is None:
            return desc, "no community with buildings to change"
        p2 = div(t2, previous=p1)
        checked(p2, t2)
        given_back(p1, p2, where=lambda c: c != code, kind="others-changed")
        added = len(t2["buildings"]) - len(t["buildings"])
        return desc, (f"ok (community {code}, {added} buildings added)"
                      + (f"; the fresh plan's own flaw: {flaw}" if flaw else ""))
    except Exception as exc:  # noqa: BLE001 - every failure is a finding of the fuzz run
        return _record(seed, t, desc, stage, exc)


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line (``--help`` prints it; a missing or non-numeric argument exits with argparse's one line)."""
    parser = argparse.ArgumentParser(
        prog="fuzz_partition.py", description=__doc__.split("\n\n", 1)[0],
        epilog="towns START, START+1, ... are run until BUDGET_S seconds have passed or STOP is reached")
    parser.add_argument("--redivide", action="store_true",
                        help="re-divide each town (动态调整, previous= its fresh plan) instead of checking it fresh")
    parser.add_argument("start", type=int, metavar="START", help="first seed")
    parser.add_argument("budget", type=float, metavar="BUDGET_S", help="seconds to go on starting towns")
    parser.add_argument("cli_every", type=int, nargs="?", default=5, metavar="CLI_EVERY",
                        help="every CLI_EVERY-th town also through the CLI (0: none; unused with --redivide; default 5)")
    parser.add_argument("stop", type=int, nargs="?", default=10**9, metavar="STOP", help="seed to stop before")
    return parser.parse_args(argv)


if __name__ == "__main__":
    a = parse_args(sys.argv[1:])
    redivide, start, budget, cli_every, stop = a.redivide, a.start, a.budget, a.cli_every, a.stop
    t0 = time.time()
    s = start
    with tempfile.TemporaryDirectory() as d:
        while time.time() - t0 < budget and s < stop:
            ts = time.time()
            if redivide:
                desc, m = run_redivide(s)
            else:
                desc, m = run_one(s, Path(d), do_cli=cli_every > 0 and s % cli_every == 0)
            print(f"seed {s} {time.time() - ts:.1f}s {desc} :: {m or 'ok'}", flush=True)
            s += 1
