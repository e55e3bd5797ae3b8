"""Ribbons without households (the land between the carriageways of a dual road) are cut across, so that the
grids beside one each take the stretch along them instead of one grid taking it whole as an arm.

Synthetic community, synthetic households.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from shapely import LineString, Point, box

from gridgeo.partition import partition
from gridgeo.partition.units import RIBBON_PIECE_M, ribbon_blocks, strip_pieces

CRS = "EPSG:4547"
X0, Y0 = 526_000.0, 3_385_000.0
CODE = "420103001001"


def dual_carriageway_town():
    """A 400 × 210 m community crossed by a dual carriageway 10 m apart (y 100 and 110 m): four blocks of
    100 × 100 m south of it, four north of it (side streets ending at the carriageways), and the ribbon between
    them, 400 × 10 m, without buildings. Each block has two buildings of 100 households (1,600 in all)."""
    def b(x0, y0, x1, y1):
        return box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)

    south = [b(x, 0, x + 100, 100) for x in range(0, 400, 100)]
    north = [b(x, 110, x + 100, 210) for x in range(0, 400, 100)]
    ribbon = b(0, 100, 400, 110)
    blocks = gpd.GeoDataFrame({"block_id": [f"{CODE}-B{i:04d}" for i in range(9)], "community_code": CODE},
                              geometry=[*south, *north, ribbon], crs=CRS)
    pts, bid = [], []
    for i, blk in enumerate([*south, *north]):
        x, y = blk.bounds[0], blk.bounds[1]
        pts += [Point(x + 30, y + 50), Point(x + 70, y + 50)]
        bid += [f"{CODE}-B{i:04d}"] * 2
    buildings = gpd.GeoDataFrame({"building_id": [f"b{i:02d}" for i in range(len(pts))], "households": 100,
                                  "community_code": CODE, "block_id": bid}, geometry=pts, crs=CRS)
    lines = [LineString([(X0, Y0 + 100), (X0 + 400, Y0 + 100)]), LineString([(X0, Y0 + 110), (X0 + 400, Y0 + 110)])]
    lines += [LineString([(X0 + x, Y0), (X0 + x, Y0 + 100)]) for x in (100, 200, 300)]
    lines += [LineString([(X0 + x, Y0 + 110), (X0 + x, Y0 + 210)]) for x in (100, 200, 300)]
    streets = gpd.GeoDataFrame({"highway": ["primary", "primary"] + ["residential"] * 6}, geometry=lines, crs=CRS)
    community = gpd.GeoDataFrame({"code": [CODE], "name": ["x"], "kind": ["urban"]},
                                 geometry=[b(0, 0, 400, 210)], crs=CRS)
    return community, blocks, buildings, streets, ribbon


def test_a_ribbon_between_carriageways_is_not_given_whole_to_one_grid():
    community, blocks, buildings, streets, ribbon = dual_carriageway_town()
    res = partition(community, blocks, buildings, streets=streets)
    grids = res.grids
    assert len(grids) == 4 and grids["households"].between(300, 500).all()
    assert shapely.union_all(grids.geometry.to_numpy()).symmetric_difference(community.geometry.iloc[0]).area < 1e-3
    share = shapely.area(shapely.intersection(grids.geometry.to_numpy(), ribbon)) / ribbon.area
    # before, the ribbon was one cell: one grid took all 400 m of it (share 1.0) as an arm along the others
    assert share.max() < 0.75, share.round(3).tolist()
    assert (share > 0.1).sum() >= 2
    # each grid's stretch of the ribbon lies along its own blocks: no grid reaches along it past them
    for geom, s in zip(grids.geometry, share):
        if s > 0:
            blocks_x = shapely.bounds(shapely.difference(geom, ribbon))[[0, 2]]
            along = shapely.bounds(shapely.intersection(geom, ribbon))[[0, 2]]
            assert along[0] >= blocks_x[0] - RIBBON_PIECE_M and along[1] <= blocks_x[1] + RIBBON_PIECE_M
    # the cut is told: the ribbon divided between grids, as a ribbon
    f = res.findings
    told = f[(f["type"] == "block_divided") & (f["feature_id"] == f"{CODE}-B0008")]
    assert len(told) == 1 and "ribbon" in told["message"].iloc[0]


def test_ribbons_are_the_long_thin_blocks_and_are_cut_across():
    rib = box(0, 100, 400, 110)
    square, short = box(0, 0, 100, 100), box(0, 0, 60, 10)
    assert ribbon_blocks(np.array([rib, square, short])).tolist() == [0]
    # the ribbon between four blocks south and four north: pieces along each, then cut across
    south = [box(x, 0, x + 100, 100) for x in range(0, 400, 100)]
    north = [box(x, 110, x + 100, 210) for x in range(0, 400, 100)]
    blocks = np.array([*south, *north, rib], dtype=object)
    plain, _ = strip_pieces(blocks, np.array([8]))
    cut, of = strip_pieces(blocks, np.array([8]), across=np.array([8]))
    assert len(plain) == 8 and (of == 8).all()
    assert len(cut) == 16  # each 100 m half-ribbon piece in two of 50 m
    assert abs(sum(shapely.area(cut)) - rib.area) < 1e-6
    assert shapely.length(cut).max() <= 2 * (RIBBON_PIECE_M + 5) + 1e-6
