"""Take apart a fuzz town's grids left wrapped round a dedicated grid's site (专属网格): is the wrap forced by the
land, or could a lane have opened it?

For each seed (a town of ``scripts/fuzz_partition.py``), the town is divided and, for each grid whose hole holds
a dedicated grid, printed: the ring's households and those of its small grids (小网格), the plan's own finding,
the footprints of the ring within 3 m of the site, and for lanes 8, 4 and 2 m wide kept 1 m clear of every
footprint of the ring: whether any lane at all, bent or straight, joins the site to the community's edge (the
ring less the footprints grown by 1 m + half the width, one connected piece touching both), and the shortest
such centreline on a 1 m lattice (its length and its straight pieces, simplified to 1 m). The partition tries
straight lanes 8 or 4 m wide only (``gridgeo.partition.enclosures._lanes``).

    GRIDGEO_SHARED_DATA=../shared/data PYTHONPATH=. .venv/bin/python benchmarks/site_wraps.py 3383 3436 3348
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import fuzz_partition as fz  # noqa: E402

from gridgeo.partition.enclosures import lattice_path  # noqa: E402

WIDTHS = (8.0, 4.0, 2.0)
CLEAR = 1.0


def shortest_centreline(room: shapely.Geometry, site: shapely.Geometry, rim: shapely.Geometry) -> shapely.Geometry | None:
    """The shortest path on a 1 m lattice of ``room`` (8 neighbours) from within 1.5 m of ``site`` to within
    1.5 m of ``rim``, or None: the engine's own lattice path (``enclosures.lattice_path``)."""
    xy = lattice_path(room, site, rim, 1.0, 1.5)
    return None if xy is None else shapely.linestrings(xy)


def take_apart(seed: int) -> None:
    t, desc = fz.town(seed)
    print(f"== seed {seed}: {desc}")
    plan = fz.div(t)
    metric = plan.grids.estimate_utm_crs()
    grids, subs = plan.grids.to_crs(metric), plan.subgrids.to_crs(metric)
    comm = plan.communities.to_crs(metric)
    fp = t["buildings"].to_crs(metric).geometry.to_numpy()
    fp = fp[~(shapely.is_missing(fp) | shapely.is_empty(fp))]
    said = plan.findings[plan.findings["type"] == "grid_encloses_grid"]
    dedicated = grids[grids["kind"] == "dedicated"]
    for code, msg in zip(said["feature_id"].astype(str), said["message"].astype(str), strict=True):
        row = grids[grids["grid_code"].astype(str) == code]
        if not len(row):
            continue
        ring, cc = row.geometry.iloc[0], str(row["community_code"].iloc[0])
        rim = shapely.boundary(comm.geometry[comm["code"].astype(str) == cc].union_all())
        holes = [shapely.Polygon(r) for part in shapely.get_parts(ring) for r in part.interiors]
        sites = [h for h in holes if shapely.within(shapely.point_on_surface(dedicated.geometry.to_numpy()), h).any()]
        small = subs.loc[subs["grid_code"].astype(str) == code, "households"].tolist()
        print(f"grid {code}: {int(row['households'].iloc[0])} households, small grids {small}; "
              f"{int(grids.loc[grids['community_code'].astype(str) == cc, 'kind'].eq('base').sum())} base grids in "
              f"its community")
        print(f"  finding: {msg}")
        for site in sites:
            own = shapely.covered_by(fp, shapely.buffer(site, 1e-3))
            ring_fp = fp[shapely.intersects(fp, ring) & ~own]
            near = int((shapely.distance(ring_fp, site) < 3.0).sum())
            print(f"  site of {shapely.area(site):.0f} m2 ({int(own.sum())} footprints of its own); "
                  f"{near} footprints of the ring within 3 m of it")
            for width in WIDTHS:
                room = shapely.difference(shapely.buffer(ring, 1e-3),
                                          shapely.union_all(shapely.buffer(ring_fp, CLEAR + width / 2)))
                parts = np.asarray(shapely.get_parts(room), dtype=object)
                joins = (shapely.intersects(parts, shapely.buffer(shapely.get_exterior_ring(site), 0.05))
                         & shapely.intersects(parts, shapely.buffer(rim, 0.05)))
                line = shortest_centreline(room, site, rim) if joins.any() else None
                how = (f"a lane joins the site to the community's edge: shortest centreline {shapely.length(line):.0f} m, "
                       f"{shapely.get_num_points(shapely.simplify(line, 1.0)) - 1} straight pieces"
                       if line is not None else "no lane joins the site to the community's edge")
                print(f"    {width:g} m wide, {CLEAR:g} m clear: {how}")


if __name__ == "__main__":
    for s in sys.argv[1:]:
        take_apart(int(s))
