"""Synthetic communities for tests and measurement: jittered street lattices with buildings.

A seeded generator of realistic-looking inputs: a community polygon bounded by streets, a lattice of
streets with jittered crossings, some street segments missing (bigger, irregular blocks and dead
ends), every few lines an arterial, and slab buildings (or points) with households in each block.
Households are synthetic (a seeded model), never real.

Examples
--------
>>> d = street_lattice(seed=1, nx=3, ny=2)
>>> sorted(d)
['buildings', 'communities', 'streets']
>>> d["communities"]["code"].tolist(), bool(d["buildings"]["households"].ge(0).all())
(['420103001001'], True)
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

__all__ = ["street_lattice", "prepare_lattice"]

#: CGCS2000 3-degree Gauss-Krüger zone CM 114°E (Wuhan): a metric CRS
LATTICE_CRS = "EPSG:4547"


def street_lattice(
    seed: int = 0,
    *,
    nx: int = 6,
    ny: int = 5,
    spacing: tuple[float, float] = (90.0, 170.0),
    jitter: float = 0.12,
    drop: float = 0.2,
    arterial_every: int = 3,
    density: float = 1.0,
    points: bool | float = False,
    empty_share: float = 0.08,
    tower_share: float = 0.03,
    code: str = "420103001001",
    kind: str = "urban",
    origin: tuple[float, float] = (500_000.0, 3_380_000.0),
) -> dict[str, gpd.GeoDataFrame]:
    """A community on a jittered street lattice with buildings and synthetic households.

    Parameters
    ----------
    seed
        Seed of the generator; the same seed gives the same data.
    nx, ny
        Lattice cells across and down.
    spacing
        Range of street spacing, metres.
    jitter
        Displacement of each crossing, as a share of the mean spacing.
    drop
        Probability that an inner street segment is missing.
    arterial_every
        Every so many lattice lines is an arterial (primary or secondary); 0 for none.
    density
        Multiplier of households per building.
    points
        Buildings as points instead of footprints (True), or the share of them that are points.
    empty_share
        Share of lattice cells without housing (parks, schools: buildings of 0 households).
    tower_share
        Share of lattice cells with a few tall towers (hundreds of households each).
    code, kind
        The community's code and kind.
    origin
        South-west corner, in :data:`LATTICE_CRS` metres.

    Returns
    -------
    dict
        ``communities`` (``code``, ``name``, ``kind``), ``streets`` (``highway``, ``name``),
        ``buildings`` (``building_id``, ``households``, ``use``), all in :data:`LATTICE_CRS`.
    """
    rng = np.random.default_rng(seed)
    xs = np.concatenate([[0.0], np.cumsum(rng.uniform(*spacing, size=nx))]) + origin[0]
    ys = np.concatenate([[0.0], np.cumsum(rng.uniform(*spacing, size=ny))]) + origin[1]
    gx, gy = np.meshgrid(xs, ys, indexing="ij")  # (nx+1, ny+1)
    mean_sp = float(np.mean(spacing))
    jx = rng.normal(0, jitter * mean_sp, size=gx.shape)
    jy = rng.normal(0, jitter * mean_sp, size=gy.shape)
    jx = np.clip(jx, -0.3 * spacing[0], 0.3 * spacing[0])
    jy = np.clip(jy, -0.3 * spacing[0], 0.3 * spacing[0])
    nodes = np.stack([gx + jx, gy + jy], axis=-1)

    ring = (
        [tuple(nodes[i, 0]) for i in range(nx + 1)]
        + [tuple(nodes[nx, j]) for j in range(1, ny + 1)]
        + [tuple(nodes[i, ny]) for i in range(nx - 1, -1, -1)]
        + [tuple(nodes[0, j]) for j in range(ny - 1, 0, -1)]
    )
    community = shapely.Polygon(ring)

    streets, classes = [], []

    def cls(line_index: int) -> str:
        if arterial_every and line_index % arterial_every == 0:
            return "primary" if (line_index // arterial_every) % 2 else "secondary"
        return "residential"

    streets.append(shapely.LineString(ring + [ring[0]]))
    classes.append("secondary")
    for i in range(1, nx):  # inner vertical lines, segment by segment (some dropped)
        c = cls(i)
        for j in range(ny):
            if c == "residential" and rng.random() < drop:
                continue
            streets.append(shapely.LineString([nodes[i, j], nodes[i, j + 1]]))
            classes.append(c)
    for j in range(1, ny):
        c = cls(j)
        for i in range(nx):
            if c == "residential" and rng.random() < drop:
                continue
            streets.append(shapely.LineString([nodes[i, j], nodes[i + 1, j]]))
            classes.append(c)
    # a few dead-end internal roads (service)
    for _ in range(max(1, (nx * ny) // 6)):
        i, j = rng.integers(0, nx), rng.integers(0, ny)
        a = (nodes[i, j] + nodes[i + 1, j]) / 2
        b = (nodes[i, j] + nodes[i + 1, j] + nodes[i, j + 1] + nodes[i + 1, j + 1]) / 4
        streets.append(shapely.LineString([a, a + 0.8 * (b - a)]))
        classes.append("service")

    # buildings cell by cell
    geoms, hh, uses = [], [], []
    point_share = float(points) if not isinstance(points, bool) else (1.0 if points else 0.0)
    for i in range(nx):
        for j in range(ny):
            quad = shapely.Polygon([nodes[i, j], nodes[i + 1, j], nodes[i + 1, j + 1], nodes[i, j + 1]])
            if not quad.is_valid or quad.area < 2000:
                continue
            inner = quad.buffer(-9.0, join_style="mitre")
            if inner.is_empty:
                continue
            u = rng.random()
            kind_cell = "empty" if u < empty_share else ("tower" if u < empty_share + tower_share else "slab")
            frame = _frame(inner)
            if frame is None:
                continue
            centre, ax_u, ax_v, half_u, half_v = frame
            if kind_cell == "tower":
                step_u, step_v, w, d = 50.0, 50.0, 24.0, 24.0
            elif kind_cell == "empty":
                step_u, step_v, w, d = 70.0, 60.0, 40.0, 30.0
            else:
                step_u, step_v = rng.uniform(45, 75), rng.uniform(26, 36)
                w, d = step_u - rng.uniform(6, 14), rng.uniform(10, 14)
            cell_density = rng.lognormal(0.0, 0.3)
            us = np.arange(-half_u + w / 2, half_u - w / 2 + 1e-9, step_u)
            vs = np.arange(-half_v + d / 2, half_v - d / 2 + 1e-9, step_v)
            us = us + (half_u - w / 2 - (us[-1] if len(us) else 0)) / 2
            vs = vs + (half_v - d / 2 - (vs[-1] if len(vs) else 0)) / 2
            for cu in us:
                for cv in vs:
                    ou, ov = rng.normal(0, 1.5, 2)
                    corners = [(-w / 2, -d / 2), (w / 2, -d / 2), (w / 2, d / 2), (-w / 2, d / 2)]
                    b = shapely.Polygon([centre + ax_u * (cu + ou + pu) + ax_v * (cv + ov + pv) for pu, pv in corners])
                    if not inner.contains(b):
                        continue
                    if kind_cell == "empty":
                        if rng.random() < 0.5:
                            continue
                        n, use = 0, "school"
                    elif kind_cell == "tower":
                        n, use = int(rng.integers(120, 560) * density), "residential"
                    else:
                        floors = rng.choice([3, 6, 6, 7, 7, 9, 11, 18])
                        stairs = max(1, int(round(w / 16)))
                        n = int(round(floors * stairs * 2 * cell_density * density))
                        use = "residential"
                        if rng.random() < 0.05:
                            n, use = 0, "commercial"
                    geoms.append(b.centroid if rng.random() < point_share else b)
                    hh.append(n)
                    uses.append(use)
    buildings = gpd.GeoDataFrame(
        {
            "building_id": [f"B{seed:03d}-{k:05d}" for k in range(len(geoms))],
            "households": np.asarray(hh, dtype=np.int64),
            "use": uses,
        },
        geometry=geoms,
        crs=LATTICE_CRS,
    )
    communities = gpd.GeoDataFrame({"code": [code], "name": [f"社区{seed}"], "kind": [kind]}, geometry=[community], crs=LATTICE_CRS)
    streets_gdf = gpd.GeoDataFrame({"highway": classes, "name": [None] * len(classes)}, geometry=streets, crs=LATTICE_CRS)
    return {"communities": communities, "streets": streets_gdf, "buildings": buildings}


def _frame(poly: shapely.Geometry):
    """Centre, unit axes and half sizes of the minimum rotated rectangle of ``poly``."""
    rect = shapely.minimum_rotated_rectangle(poly)
    xy = np.asarray(rect.exterior.coords)[:4]
    e1, e2 = xy[1] - xy[0], xy[2] - xy[1]
    l1, l2 = float(np.hypot(*e1)), float(np.hypot(*e2))
    if l1 < 1 or l2 < 1:
        return None
    if l1 < l2:
        e1, e2, l1, l2 = e2, e1, l2, l1
    return xy.mean(axis=0), e1 / l1, e2 / l2, l1 / 2, l2 / 2


def prepare_lattice(data: dict[str, gpd.GeoDataFrame], rules=None) -> dict[str, gpd.GeoDataFrame]:
    """Add ``blocks`` and the buildings' ``community_code``/``block_id`` with :mod:`gridgeo.blocks`."""
    from ..blocks import assign_buildings, block_totals, build_blocks

    blocks = build_blocks(data["communities"], data["streets"], rules=rules)
    buildings = assign_buildings(data["buildings"], blocks)
    blocks = block_totals(blocks, buildings)
    return {**data, "blocks": blocks, "buildings": buildings}
