"""Synthetic grid layers for the validation benchmark and cross-check (not part of the package).

``synthetic_plan`` builds communities on a square lattice near Wuhan, each tiled by a Voronoi diagram
of random points (the grids), with buildings and streets; ``damage`` turns it into a hand-drawn-style
layer (vertices jittered per grid, grids deleted, enlarged and duplicated). Everything is seeded.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely import Polygon, box

METRIC = 4547  # CGCS2000 / 3-degree Gauss-Kruger CM 114E
X0, Y0 = 500_000.0, 3_380_000.0


def synthetic_plan(n_communities: int = 50, grids_per_community: int = 100, *, size_m: float = 1000.0,
                   buildings_per_grid: int = 0, streets: bool = False, seed: int = 0, crs: int = 4490):
    """(communities, grids, buildings or None, streets or None) in ``crs``; computed in metres.

    Edges are densified to 10 m before reprojection, as digitised boundaries are, so the plan is clean
    in the stored CRS too.
    """
    rng = np.random.default_rng(seed)
    cols = int(np.ceil(np.sqrt(n_communities * 2)))
    squares, codes, cells = [], [], []
    for k in range(n_communities):
        i, j = k % cols, k // cols
        codes.append(f"4201{i:02d}{j:03d}{k + 1:03d}")
        sq = box(X0 + i * size_m, Y0 + j * size_m, X0 + (i + 1) * size_m, Y0 + (j + 1) * size_m)
        squares.append(sq)
        x0, y0, x1, y1 = sq.bounds
        pts = shapely.multipoints(np.column_stack([rng.uniform(x0, x1, grids_per_community),
                                                   rng.uniform(y0, y1, grids_per_community)]))
        cells.extend(shapely.intersection(shapely.get_parts(shapely.voronoi_polygons(pts, extend_to=sq)), sq))
    # node every boundary once and densify each edge once, so neighbours share identical vertices
    edges = shapely.get_parts(shapely.line_merge(shapely.union_all(shapely.boundary(np.array(cells, dtype=object)))))
    faces = shapely.get_parts(shapely.polygonize(shapely.segmentize(edges, 10.0)))
    tree = shapely.STRtree(np.array(squares, dtype=object))
    fi, si = tree.query(shapely.point_on_surface(faces), predicate="within")
    comm_rows, grid_rows = [], []
    for k, code in enumerate(codes):
        mine = faces[fi[si == k]]
        mine = sorted(mine, key=lambda g: (-round(g.centroid.y, 3), round(g.centroid.x, 3)))
        comm_rows.append({"code": code, "name": f"社区{k + 1}", "kind": "urban",
                          "geometry": shapely.coverage_union_all(np.array(mine, dtype=object))})
        for s, g in enumerate(mine, 1):
            grid_rows.append({"grid_code": f"{code}{s:03d}", "community_code": code, "kind": "base", "geometry": g})
    communities = gpd.GeoDataFrame(comm_rows, crs=METRIC)
    grids = gpd.GeoDataFrame(grid_rows, crs=METRIC)
    buildings = street_layer = None
    if buildings_per_grid:
        n = len(grids) * buildings_per_grid
        # footprints at random points of the communities (some cut by grid boundaries, as in life)
        b = communities.total_bounds
        xy = np.column_stack([rng.uniform(b[0], b[2], n), rng.uniform(b[1], b[3], n)])
        w = rng.uniform(8, 25, n)
        h = rng.uniform(8, 15, n)
        geoms = shapely.box(xy[:, 0], xy[:, 1], xy[:, 0] + w, xy[:, 1] + h)
        buildings = gpd.GeoDataFrame({"building_id": [f"B{i:06d}" for i in range(n)],
                                      "households": rng.integers(0, 40, n)}, geometry=geoms, crs=METRIC)
    if streets:
        keep = edges[rng.random(len(edges)) < 0.7]
        street_layer = gpd.GeoDataFrame({"name": [None] * len(keep), "highway": "residential"}, geometry=keep, crs=METRIC)
    out = [communities, grids, buildings, street_layer]
    return tuple(None if x is None else x.to_crs(crs) for x in out)


def damage(grids: gpd.GeoDataFrame, *, share: float = 0.02, jitter_m: float = 0.5, seed: int = 1) -> gpd.GeoDataFrame:
    """A hand-drawn-style copy: ``share`` of the grids each deleted, enlarged 8 %, duplicated, and
    vertex-jittered by ``jitter_m`` (independently per grid, so shared edges no longer match)."""
    rng = np.random.default_rng(seed)
    crs = grids.crs
    g = grids.to_crs(METRIC).reset_index(drop=True)
    n = len(g)
    pick = rng.permutation(n)
    k = max(1, int(n * share))
    deleted, enlarged, duplicated, jittered = (pick[i * k:(i + 1) * k] for i in range(4))
    geoms = g.geometry.to_numpy().copy()
    for i in enlarged:
        geoms[i] = shapely.affinity.scale(geoms[i], 1.08, 1.08, origin="centroid")
    for i in jittered:
        ring = np.asarray(geoms[i].exterior.coords)
        ring = ring + rng.normal(0, jitter_m, ring.shape)
        ring[-1] = ring[0]
        geoms[i] = Polygon(ring)
    g = g.set_geometry(geoms)
    g = pd.concat([g, g.iloc[duplicated]], ignore_index=True).drop(index=deleted).reset_index(drop=True)
    return g.to_crs(crs)
