"""Cross-check the overlaps and gaps of gridgeo.validate against independent implementations.

    .venv/bin/python benchmarks/crosscheck_coverage.py [--grids G --communities C]
        [--method postgis|faces|both] [--communities-n 12 --grids-per-community 60]

Without ``--grids``, a synthetic hand-drawn layer is used (Voronoi grids in EPSG:4490, with grids
deleted, enlarged, duplicated and jittered). Two independent checks:

``postgis``
    A throwaway PostgreSQL cluster in a temporary folder, on a unix socket only (``initdb`` and
    ``pg_ctl``; run as the ``postgres`` user when started by root). The layers are loaded as WKB
    through ``psql`` (no Python driver needed), reprojected by ``ST_Transform`` and checked with SQL:
    pairwise ``ST_Intersection`` of intersecting grids (overlaps) and ``ST_Difference`` of each
    community and the ``ST_Union`` of the grids touching it (gaps). PostGIS uses its own GEOS
    (the system library), not shapely's. Needs the Debian packages ``postgresql`` and ``postgis``.
``faces``
    A GEOS-only method that shares no code with gridgeo.validate: all grid and community boundaries
    are noded and polygonized into faces; each face counts the grids containing it. Faces in a
    community and in no grid are gaps; faces in two or more grids are overlaps (compared with the
    union of gridgeo's overlap pieces, since a face counts once however many grids share it).

Both apply gridgeo's noise rule to the pieces (area >= 0.01 m2 and mean width 2A/P >= 0.01 m).
Prints counts and areas side by side and the relative differences; exits 1 when they disagree by
more than 0.1 % in area or in the number of overlapping pairs / gap pieces.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _postgres import Cluster  # noqa: E402 - the throwaway PostgreSQL cluster shared with the tests
from _synthetic_grids import damage, synthetic_plan  # noqa: E402

from gridgeo.validate import validate_grids  # noqa: E402
from gridgeo.validate.layers import _choose_metric, _metric_geoms  # noqa: E402

TOL_M2, TOL_M = 0.01, 0.01


def gridgeo_figures(grids, comms, metric):
    t = time.perf_counter()
    f = validate_grids(grids, communities=comms, tolerance_m2=TOL_M2, tolerance_m=TOL_M)
    sec = time.perf_counter() - t
    ov = f[(f["type"] == "overlap") & (f["layer"] == "grids")].to_crs(metric)
    gap = f[f["type"] == "gap"].to_crs(metric)
    pairs: dict[tuple[str, ...], float] = {}
    for x, a in zip(ov["feature_id"], ov["measure"]):  # a duplicated code names two pairs alike: add up
        pairs[tuple(x.split(","))] = pairs.get(tuple(x.split(",")), 0.0) + a
    union = shapely.union_all(ov.geometry.to_numpy()) if len(ov) else shapely.Polygon()
    return {"overlap_pairs": len(pairs), "overlap_area": float(ov["measure"].sum()), "overlap_union_area": float(shapely.area(union)),
            "gap_pieces": len(gap), "gap_area": float(gap["measure"].sum()), "pairs": pairs, "seconds": sec}


# --------------------------------------------------------------------------------------------------
# PostGIS


def _copy_rows(table: str, ids, geoms) -> str:
    wkb = shapely.to_wkb(geoms, hex=True)
    rows = "\n".join(f"{i}\t{w}" for i, w in zip(ids, wkb))
    return f"COPY {table}(id, wkb) FROM STDIN;\n{rows}\n\\.\n"


def postgis_figures(grids, comms, metric):
    cl = Cluster()
    try:
        t = time.perf_counter()
        srid_in = grids.crs.to_epsg()
        srid_m = metric.to_epsg()
        ids = [c if c else f"#{i}" for c, i in zip(grids["grid_code"], grids.index)]
        # a duplicated code is two grids: give each row its own key, keep the code for the pair name
        keys = [f"{i}|{c}" for i, c in enumerate(ids)]
        sql = [
            "CREATE TABLE g_in (id text, wkb text); CREATE TABLE c_in (id text, wkb text);",
            _copy_rows("g_in", keys, grids.geometry.to_numpy()),
            _copy_rows("c_in", list(comms["code"]), comms.geometry.to_numpy()),
            f"""CREATE TABLE g AS SELECT id, ST_CollectionExtract(ST_MakeValid(ST_Transform(
                    ST_SetSRID(ST_GeomFromWKB(decode(wkb, 'hex')), {srid_in}), {srid_m}), 'method=structure'), 3) AS geom FROM g_in;
                CREATE TABLE c AS SELECT id, ST_CollectionExtract(ST_MakeValid(ST_Transform(
                    ST_SetSRID(ST_GeomFromWKB(decode(wkb, 'hex')), {comms.crs.to_epsg()}), {srid_m})), 3) AS geom FROM c_in;
                CREATE INDEX ON g USING gist(geom); CREATE INDEX ON c USING gist(geom); ANALYZE g; ANALYZE c;""",
        ]
        cl.psql("\n".join(sql))
        keep = f"ST_Area(p) >= {TOL_M2} AND 2 * ST_Area(p) / NULLIF(ST_Perimeter(p), 0) >= {TOL_M}"
        out = cl.psql(f"""
            WITH pieces AS (
              SELECT a.id AS a, b.id AS b,
                     (ST_Dump(ST_CollectionExtract(ST_Intersection(a.geom, b.geom), 3))).geom AS p
              FROM g a JOIN g b ON a.id < b.id AND ST_Intersects(a.geom, b.geom))
            SELECT a, b, sum(ST_Area(p)) FROM pieces WHERE {keep} GROUP BY a, b;""")
        pairs = {}
        for line in out.splitlines():
            a, b, area = line.split("\t")
            pair = tuple(sorted([a.split("|", 1)[1], b.split("|", 1)[1]]))
            pairs[pair] = pairs.get(pair, 0.0) + float(area)
        out = cl.psql(f"""
            WITH d AS (
              SELECT c.id, ST_Difference(c.geom, coalesce(
                (SELECT ST_Union(g.geom) FROM g WHERE ST_Intersects(g.geom, c.geom)), 'POLYGON EMPTY'::geometry)) AS diff
              FROM c),
            pieces AS (SELECT id, (ST_Dump(ST_CollectionExtract(diff, 3))).geom AS p FROM d)
            SELECT count(*), coalesce(sum(ST_Area(p)), 0) FROM pieces WHERE {keep};""")
        n_gap, gap_area = out.strip().split("\t")
        version, geos = cl.psql("SELECT postgis_lib_version(), postgis_geos_version();").strip().split("\t")
        return {"overlap_pairs": len(pairs), "overlap_area": sum(pairs.values()), "gap_pieces": int(n_gap),
                "gap_area": float(gap_area), "pairs": pairs, "seconds": time.perf_counter() - t,
                "engine": f"PostGIS {version} (GEOS {geos.split('-')[0]})"}
    finally:
        cl.stop()


# --------------------------------------------------------------------------------------------------
# GEOS faces


def faces_figures(grids, comms, metric):
    t = time.perf_counter()
    g = shapely.make_valid(_metric_geoms(grids, metric), method="structure", keep_collapsed=False)
    g = np.array([shapely.union_all([p for p in shapely.get_parts(x) if p.geom_type == "Polygon"]) for x in g], dtype=object)
    c = shapely.make_valid(_metric_geoms(comms, metric))
    lines = shapely.get_parts(shapely.boundary(np.concatenate([g[~shapely.is_empty(g)], c])))
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(shapely.union_all(lines))))
    pts = shapely.point_on_surface(faces)
    gi, _ = shapely.STRtree(g).query(pts, predicate="within")
    count = np.bincount(gi, minlength=len(faces))
    # faces are cut by every boundary: a gap is the union of adjacent empty faces of one community
    comm_of = np.full(len(faces), -1)
    ci2, cj2 = shapely.STRtree(c).query(pts, predicate="within")
    comm_of[ci2] = cj2
    empty = (count == 0) & (comm_of >= 0)
    gap = shapely.multipolygons(shapely.get_parts(np.array(
        [shapely.union_all(faces[empty & (comm_of == k)]) for k in range(len(c))], dtype=object)))
    over = shapely.union_all(faces[count >= 2])

    def significant(geom):
        parts = shapely.get_parts(geom)
        parts = parts[shapely.get_type_id(parts) == 3] if len(parts) else parts
        a, p = shapely.area(parts), shapely.length(parts)
        return parts[(a >= TOL_M2) & (2 * a / np.where(p > 0, p, 1) >= TOL_M)]

    gaps = significant(gap)
    overs = significant(over)
    return {"overlap_union_area": float(shapely.area(overs).sum()), "gap_pieces": len(gaps),
            "gap_area": float(shapely.area(gaps).sum()), "seconds": time.perf_counter() - t,
            "engine": f"GEOS {shapely.geos_version_string} polygonize faces"}


# --------------------------------------------------------------------------------------------------


def rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(a), abs(b), 1e-12)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grids")
    ap.add_argument("--communities")
    ap.add_argument("--method", choices=["postgis", "faces", "both"], default="both")
    ap.add_argument("--communities-n", type=int, default=12)
    ap.add_argument("--grids-per-community", type=int, default=60)
    args = ap.parse_args(argv)

    if args.grids:
        grids = gpd.read_file(args.grids)
        comms = gpd.read_file(args.communities)
    else:
        comms, clean, _, _ = synthetic_plan(args.communities_n, args.grids_per_community, seed=7)
        grids = damage(clean, share=0.04, jitter_m=0.6, seed=8)
    metric = _choose_metric(grids)
    print(f"layer: {len(grids)} grids in {len(comms)} communities ({grids.crs.to_string()}); metric CRS {metric.to_string()}")
    ours = gridgeo_figures(grids, comms, metric)
    ok = True
    if args.method in ("postgis", "both"):
        try:
            pg = postgis_figures(grids, comms, metric)
        except (RuntimeError, FileNotFoundError) as exc:
            print(f"PostGIS check not run: {exc}")
            if args.method == "postgis":
                return 2
        else:
            common = set(ours["pairs"]) & set(pg["pairs"])
            worst = max((abs(ours["pairs"][p] - pg["pairs"][p]) for p in common), default=0.0)
            print(f"\n{'':26s}{'gridgeo':>16s}{pg['engine'][:34]:>36s}{'rel. diff':>12s}")
            for key in ("overlap_pairs", "overlap_area", "gap_pieces", "gap_area"):
                print(f"{key:26s}{ours[key]:16.3f}{pg[key]:36.3f}{rel(ours[key], pg[key]):12.2e}")
            print(f"pairs found by both: {len(common)}; only gridgeo: {len(set(ours['pairs']) - common)}; "
                  f"only PostGIS: {len(set(pg['pairs']) - common)}; largest per-pair area difference {worst:.4f} m2")
            print(f"time: gridgeo {ours['seconds']:.2f} s (all checks), PostGIS {pg['seconds']:.2f} s (load + 2 queries)")
            ok &= all(rel(ours[k], pg[k]) <= 1e-3 for k in ("overlap_area", "gap_area", "overlap_pairs", "gap_pieces"))
    if args.method in ("faces", "both"):
        fc = faces_figures(grids, comms, metric)
        print(f"\n{'':26s}{'gridgeo':>16s}{fc['engine'][:34]:>36s}{'rel. diff':>12s}")
        for key in ("overlap_union_area", "gap_pieces", "gap_area"):
            print(f"{key:26s}{ours[key]:16.3f}{fc[key]:36.3f}{rel(ours[key], fc[key]):12.2e}")
        ok &= all(rel(ours[k], fc[k]) <= 1e-3 for k in ("overlap_union_area", "gap_area", "gap_pieces"))
    print("\nAGREE" if ok else "\nDISAGREE")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
