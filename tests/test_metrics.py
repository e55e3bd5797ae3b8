"""Tests for gridgeo.partition.metrics: every DESIGN §5 figure on tiny crafted layers, asserted exactly."""

from __future__ import annotations

import json
import math

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely import LineString, MultiPolygon, Point, box

from gridgeo import InputError
from gridgeo.partition.metrics import format_quality, quality, quality_by_community, quality_rows

CRS = 4547  # CGCS2000 / 3-degree Gauss-Kruger CM 114E (metres); coordinates below are small offsets
A, B, C, D = "420103001001", "420103001002", "420103001003", "420103001004"


def communities(*rows):
    """rows: (code, geometry[, kind])"""
    return gpd.GeoDataFrame(
        {"code": [r[0] for r in rows], "kind": [r[2] if len(r) > 2 else "urban" for r in rows]},
        geometry=[r[1] for r in rows], crs=CRS,
    )


def grids(*rows, **cols):
    """rows: (grid_id, community_code, geometry)"""
    data = {"grid_id": [r[0] for r in rows], "community_code": [r[1] for r in rows], **cols}
    return gpd.GeoDataFrame(data, geometry=[r[2] for r in rows], crs=CRS)


def buildings(*rows):
    """rows: (households, geometry)"""
    return gpd.GeoDataFrame({"households": [r[0] for r in rows]}, geometry=[r[1] for r in rows], crs=CRS)


# ------------------------------------------------------------------------------------------- in range


def test_in_range_share_with_infeasible_community_and_exemption():
    comms = communities(
        (A, box(0, 0, 100, 50)),        # 800 households in 2 grids: both in range
        (B, box(200, 0, 300, 50)),      # 550: no grid count fits (500 < H < 600)
        (C, box(400, 0, 550, 50)),      # 1120: k = 3; one single-building grid over the ceiling
        (D, box(600, 0, 650, 50)),      # 250 < 300: no grid count fits
    )
    g = grids(
        ("a1", A, box(0, 0, 50, 50)), ("a2", A, box(50, 0, 100, 50)),
        ("b1", B, box(200, 0, 300, 50)),
        ("c1", C, box(400, 0, 450, 50)), ("c2", C, box(450, 0, 500, 50)), ("c3", C, box(500, 0, 550, 50)),
        ("d1", D, box(600, 0, 650, 50)),
    )
    b = buildings(
        (350, Point(25, 25)), (450, Point(75, 25)),
        (300, Point(250, 25)), (250, Point(260, 25)),
        (520, Point(425, 25)), (300, Point(475, 25)), (10, Point(476, 26)), (290, Point(525, 25)),
        (250, Point(625, 25)),
    )
    q = quality(comms, g, b)["base"]
    assert q["grids"] == 7
    assert q["exemptions"] == 1  # c1: one building of 520 households
    assert q["eligible"] == 4  # a1, a2, c2, c3
    assert q["in_range"] == 3
    assert q["in_range_share"] == 0.75
    assert q["below_min"] == 1 and q["above_max"] == 0  # c3 has 290
    assert q["infeasible_containers"] == 2 and q["grids_in_infeasible"] == 2
    assert q["households_range"] == [250, 550]  # d1, b1


def test_grid_one_building_over_but_with_others_is_not_exempt():
    comms = communities((A, box(0, 0, 100, 50)))
    g = grids(("a1", A, box(0, 0, 50, 50)), ("a2", A, box(50, 0, 100, 50)))
    b = buildings((510, Point(10, 10)), (20, Point(20, 20)), (400, Point(75, 25)))
    q = quality(comms, g, b)["base"]
    assert q["exemptions"] == 0
    assert (q["in_range"], q["eligible"], q["above_max"]) == (1, 2, 1)


@pytest.mark.parametrize(
    ("households", "feasible"),
    [(0, False), (299, False), (300, True), (500, True), (501, False), (550, False), (599, False),
     (600, True), (1000, True), (1001, True)],
)
def test_feasible_grid_count(households, feasible):
    comms = communities((A, box(0, 0, 10, 10)))
    g = grids(("a1", A, box(0, 0, 10, 10)))
    # two buildings with households (two footprint units): never an exemption
    b = buildings((households - households // 2, Point(5, 5)), (households // 2, Point(6, 6)))
    by = quality_by_community(comms, g, b)
    assert bool(by.loc[A, "feasible"]) is feasible
    q = quality(comms, g, b)["base"]
    assert q["eligible"] == int(feasible)


def test_rural_community_uses_rural_bounds():
    comms = communities((A, box(0, 0, 100, 50), "rural"))
    g = grids(("a1", A, box(0, 0, 50, 50)), ("a2", A, box(50, 0, 100, 50)))
    b = buildings((40, Point(25, 25)), (60, Point(75, 25)))
    q = quality(comms, g, b)["base"]
    assert (q["in_range"], q["eligible"]) == (2, 2)
    assert q["mean_abs_deviation"] == 10.0  # rural target 50


def test_dedicated_grids_are_not_counted_in_range_but_covered():
    comms = communities((A, box(0, 0, 100, 50)))
    g = grids(("a1", A, box(0, 0, 50, 50)), ("x1", A, box(50, 0, 100, 50)), kind=["base", "dedicated"])
    b = buildings((400, Point(25, 25)), (5, Point(75, 25)))
    q = quality(comms, g, b)["base"]
    assert (q["grids"], q["dedicated_grids"], q["in_range"], q["eligible"]) == (1, 1, 1, 1)
    assert q["gap_m2_total"] == 0.0


def test_compactness_of_base_grids_leaves_dedicated_grids_apart():
    # two thin base grids (100 × 10 m) and three square dedicated grids: the base column's median and count under
    # 0.25 are the base grids' own (dedicated squares lifted the median to π/4 before), the dedicated row says theirs
    comms = communities((A, box(0, 0, 100, 25)))
    g = grids(("a1", A, box(0, 0, 100, 10)), ("a2", A, box(0, 10, 100, 20)), ("x1", A, box(0, 20, 5, 25)),
              ("x2", A, box(5, 20, 10, 25)), ("x3", A, box(10, 20, 100, 25)),
              kind=["base", "base", "dedicated", "dedicated", "dedicated"])
    b = buildings((400, Point(50, 5)), (400, Point(50, 15)))
    q = quality(comms, g, b)
    thin = 4 * math.pi * 1000 / 220**2  # 0.26
    assert q["base"]["median_polsby_popper"] == round(thin, 4)
    assert q["base"]["polsby_popper_under_025"] == 0
    assert q["base"]["dedicated_median_polsby_popper"] == round(math.pi / 4, 4)
    assert q["base"]["dedicated_polsby_popper_under_025"] == 1  # x3, 90 × 5 m
    by = quality_by_community(comms, g, b)
    assert by["median_polsby_popper"].tolist() == [round(thin, 4)]
    rows = {r[0].strip(): r[1] for r in quality_rows(q)}
    assert rows["compactness: median Polsby–Popper"] == f"{thin:.3f}"
    assert rows["dedicated grids (专属网格): count, median Polsby–Popper"] == f"3, {math.pi / 4:.3f}"
    # a plan without dedicated grids keeps its table as it was
    q2 = quality(comms, grids(("a1", A, box(0, 0, 100, 10)), ("a2", A, box(0, 10, 100, 25))), b)
    assert not any(r[0].startswith("dedicated") for r in quality_rows(q2))


def test_median_compactness_of_base_grids_not_beside_a_dedicated_grid():
    # two square dedicated grids, an L-shaped base grid round each (the first L borders both) and a square base grid
    # touching none: the figure beside the median is the square's, the goal's median stays that of all three
    comms = communities((A, box(0, 0, 300, 100)))
    ell1 = shapely.difference(box(0, 0, 100, 100), box(0, 50, 50, 100))
    ell2 = shapely.difference(box(100, 0, 200, 100), box(100, 50, 150, 100))
    g = grids(("x1", A, box(0, 50, 50, 100)), ("x2", A, box(100, 50, 150, 100)), ("a1", A, ell1), ("a2", A, ell2),
              ("a3", A, box(200, 0, 300, 100)), kind=["dedicated", "dedicated", "base", "base", "base"])
    b = buildings((400, Point(75, 25)), (400, Point(175, 25)), (400, Point(250, 50)))
    q = quality(comms, g, b)["base"]
    l_pp = 4 * math.pi * 7500 / 400**2  # 0.589
    assert q["median_polsby_popper"] == round(l_pp, 4)  # the goal's median, of all three
    assert q["median_polsby_popper_off_dedicated"] == round(math.pi / 4, 4)
    assert q["beside_dedicated"] == 2
    rows = {r[0].strip(): r[1] for r in quality_rows({"base": q, "small": None})}
    assert rows["compactness: median Polsby–Popper"] == f"{l_pp:.3f}"
    assert rows["grids not beside a dedicated grid: count, median Polsby–Popper"] == f"1, {math.pi / 4:.3f}"
    # without dedicated grids the figure is not given, nor its row
    q2 = quality(comms, g[g["kind"] == "base"], b)["base"]
    assert q2["median_polsby_popper_off_dedicated"] is None
    assert not any("dedicated" in r[0] for r in quality_rows({"base": q2, "small": None}))


def test_balance_cv_and_mean_deviation():
    comms = communities((A, box(0, 0, 60, 10)))
    g = grids(("a1", A, box(0, 0, 20, 10)), ("a2", A, box(20, 0, 40, 10)), ("a3", A, box(40, 0, 60, 10)))
    b = buildings((300, Point(5, 5)), (400, Point(25, 5)), (500, Point(45, 5)))
    q = quality(comms, g, b)["base"]
    assert q["households_cv"] == round(math.sqrt(20000 / 3) / 400, 4)
    assert q["mean_abs_deviation"] == round(200 / 3, 2)


def test_households_recomputed_not_read_from_the_grid():
    comms = communities((A, box(0, 0, 40, 10)))
    g = grids(("a1", A, box(0, 0, 20, 10)), ("a2", A, box(20, 0, 40, 10)), households=[400, 400])
    b = buildings((350, Point(5, 5)), (100, Point(25, 5)))
    q = quality(comms, g, b)["base"]
    assert q["households_range"] == [100, 350]
    assert q["stored_households_mismatch"] == 2
    assert "differs from their buildings" in format_quality(quality(comms, g, b))


def test_building_goes_to_the_grid_with_its_largest_part():
    comms = communities((A, box(0, 0, 40, 10)))
    g = grids(("a1", A, box(0, 0, 20, 10)), ("a2", A, box(20, 0, 40, 10)))
    b = buildings((30, box(12, 2, 22, 8)), (0, Point(30, 5)))  # 80% in a1, 20% in a2: counted twice
    by = quality_by_community(comms, g, b)
    q = quality(comms, g, b)["base"]
    assert q["households_range"] == [0, 30]
    assert q["buildings_doubled"] == 1 and by.loc[A, "buildings_doubled"] == 1


# ------------------------------------------------------------------------------- contiguity, compactness


def test_multipart_grid_counted_and_multipart_community_excused():
    comms = communities(
        (A, box(0, 0, 100, 50)),
        (B, MultiPolygon([box(200, 0, 250, 50), box(300, 0, 350, 50)])),
    )
    g = grids(
        ("a1", A, MultiPolygon([box(0, 0, 30, 50), box(70, 0, 100, 50)])),
        ("a2", A, box(30, 0, 70, 50)),
        ("b1", B, MultiPolygon([box(200, 0, 250, 50), box(300, 0, 350, 50)])),
    )
    b = buildings((400, Point(10, 10)), (400, Point(50, 10)), (400, Point(210, 10)))
    q = quality(comms, g, b)["base"]
    assert (q["multipart"], q["multipart_excused"]) == (1, 1)
    by = quality_by_community(comms, g, b)
    assert by.loc[A, "multipart"] == 1 and by.loc[B, "multipart_excused"] == 1


def test_two_parts_in_the_same_community_part_are_not_excused():
    comms = communities((B, MultiPolygon([box(200, 0, 250, 50), box(300, 0, 350, 50)])))
    g = grids(
        ("b1", B, MultiPolygon([box(200, 0, 210, 50), box(240, 0, 250, 50), box(300, 0, 350, 50)])),
        ("b2", B, box(210, 0, 240, 50)),
    )
    b = buildings((400, Point(205, 10)), (400, Point(220, 10)))
    q = quality(comms, g, b)["base"]
    assert (q["multipart"], q["multipart_excused"]) == (1, 0)


def test_polsby_popper_of_a_square_is_pi_over_4():
    comms = communities((A, box(0, 0, 100, 100)))
    g = grids(("a1", A, box(0, 0, 100, 100)))
    q = quality(comms, g, buildings((400, Point(1, 1))))["base"]
    assert q["median_polsby_popper"] == round(math.pi / 4, 4)


def test_median_polsby_popper():
    comms = communities((A, box(0, 0, 60, 20)))
    g = grids(("a1", A, box(0, 0, 20, 20)), ("a2", A, box(20, 0, 40, 20)), ("a3", A, box(40, 0, 60, 10)),
              ("a4", A, box(40, 10, 60, 20)))
    q = quality(comms, g, buildings((400, Point(1, 1))))["base"]
    # two squares (π/4) and two 20 × 10 rectangles (4π·200/60² = 0.698): median = their mean
    assert q["median_polsby_popper"] == round((math.pi / 4 + 4 * math.pi * 200 / 3600) / 2, 4)


# ---------------------------------------------------------------------------------- street alignment


def test_street_aligned_share_excludes_community_boundary():
    comms = communities((A, box(0, 0, 100, 50)))
    g = grids(("a1", A, box(0, 0, 50, 50)), ("a2", A, box(50, 0, 100, 50)))
    s = gpd.GeoDataFrame(
        {"highway": ["residential", "residential", "primary"]},
        geometry=[
            LineString([(51, 0), (51, 30)]),  # 1 m from the internal edge x = 50, along y 0..30
            LineString([(54, 30), (54, 50)]),  # 4 m away: beyond the 3 m snap
            LineString([(0, 0), (100, 0)]),  # along the community boundary: not counted
        ],
        crs=CRS,
    )
    b = buildings((400, Point(10, 10)), (400, Point(60, 10)))
    q = quality(comms, g, b, streets=s)["base"]
    # the 50 m edge, seen from both sides, less 3 m (the snap distance) at each end on the community's edge
    assert q["internal_boundary_m"] == pytest.approx(88.0, abs=0.01)
    # within 3 m of the first street: y from 3 to 30 + √(3² − 1²) (round the street's end)
    exact = (30 + math.sqrt(8) - 3) / 44
    assert q["street_aligned_share"] == pytest.approx(exact, abs=0.01)
    fine = quality(comms, g, b, streets=s, segment_m=0.01)["base"]
    assert fine["street_aligned_share"] == pytest.approx(exact, abs=1e-3)


def test_street_aligned_share_without_streets_is_none():
    comms = communities((A, box(0, 0, 100, 50)))
    g = grids(("a1", A, box(0, 0, 50, 50)), ("a2", A, box(50, 0, 100, 50)))
    q = quality(comms, g, buildings((400, Point(10, 10))))
    assert q["base"]["street_aligned_share"] is None
    assert "n/a (no streets)" in format_quality(q)


def test_street_alignment_uses_rules_snap():
    from gridgeo.rules import get_rules

    comms = communities((A, box(0, 0, 100, 50)))
    g = grids(("a1", A, box(0, 0, 50, 50)), ("a2", A, box(50, 0, 100, 50)))
    s = gpd.GeoDataFrame(geometry=[LineString([(54, 0), (54, 50)])], crs=CRS)
    b = buildings((400, Point(10, 10)))
    assert quality(comms, g, b, streets=s)["base"]["street_aligned_share"] == 0.0
    assert quality(comms, g, b, streets=s, rules=get_rules(street_snap_m=5))["base"]["street_aligned_share"] == 1.0


# ------------------------------------------------------------------------------------------- coverage


def test_gap_overlap_and_spill_areas():
    comms = communities((A, box(0, 0, 100, 50)), (B, box(100, 0, 200, 50)))
    g = grids(
        ("a1", A, box(0, 0, 50, 50)),
        ("a2", A, box(48, 0, 100, 45)),  # overlaps a1 by 2 × 45 = 90 m²; leaves a 50 × 5 = 250 m² gap
        ("b1", B, box(100, 0, 204, 50)),  # 4 × 50 = 200 m² outside its community
    )
    b = buildings((400, Point(10, 10)), (400, Point(80, 10)), (400, Point(150, 10)))
    q = quality(comms, g, b)["base"]
    assert q["overlap_m2_max"] == 90.0 and q["overlap_m2_total"] == 90.0
    assert q["gap_m2_max"] == 250.0 and q["gap_m2_total"] == 250.0
    assert (q["containers_with_gap"], q["containers_with_overlap"]) == (1, 1)
    assert q["outside_count"] == 1 and q["outside_m2_total"] == 200.0
    by = quality_by_community(comms, g, b)
    assert by.loc[A, ["gap_m2", "overlap_m2", "outside_m2"]].tolist() == [250.0, 90.0, 0.0]
    assert by.loc[B, ["gap_m2", "overlap_m2", "outside_m2"]].tolist() == [0.0, 0.0, 200.0]


def test_buildings_lost_and_doubled():
    comms = communities((A, box(0, 0, 100, 50)))
    g = grids(("a1", A, box(0, 0, 50, 50)), ("a2", A, box(48, 0, 100, 45)))
    b = buildings(
        (10, box(40, 10, 60, 20)),  # 10 m² of 200 in each grid beyond 1%: doubled
        (10, box(60, 46, 70, 49)),  # in the gap: lost
        (10, Point(49, 20)),  # inside the overlap: doubled
        (10, Point(50, 47)),  # on a1's edge, in no interior: assigned, not lost
        (10, box(10, 10, 20, 20)),  # fine
        (10, box(500, 500, 510, 510)),  # outside every community: not lost
        (10, box(45, 46, 50, 49.9)),  # in a1, touching a2 only at the corner: fine
    )
    q = quality(comms, g, b)
    assert q["base"]["buildings_lost"] == 1
    assert q["base"]["buildings_doubled"] == 2
    assert q["counts"]["buildings_outside_communities"] == 1
    assert q["counts"]["households_outside_communities"] == 10  # said beside it in the report's note
    assert quality_by_community(comms, g, b).loc[A, "buildings_lost"] == 1


def test_building_share_threshold():
    comms = communities((A, box(0, 0, 100, 50)))
    g = grids(("a1", A, box(0, 0, 50, 50)), ("a2", A, box(50, 0, 100, 50)))
    b = buildings((10, box(30, 10, 50.5, 20)))  # 5 of 205 m² (2.4%) in a2
    assert quality(comms, g, b, building_share=0.01)["base"]["buildings_doubled"] == 1
    # the default is validate's and the partition's threshold (one assignment): 5%
    assert quality(comms, g, b)["base"]["buildings_doubled"] == 0


def test_exact_tiling_has_no_gap_no_overlap():
    comms = communities((A, box(0, 0, 100, 50)))
    g = grids(("a1", A, box(0, 0, 50, 50)), ("a2", A, box(50, 0, 100, 50)))
    q = quality(comms, g, buildings((400, Point(10, 10)), (400, Point(60, 10))))["base"]
    assert (q["gap_m2_max"], q["overlap_m2_max"], q["outside_m2_total"]) == (0.0, 0.0, 0.0)
    assert (q["buildings_lost"], q["buildings_doubled"]) == (0, 0)


# ---------------------------------------------------------------------------------------- small grids


def test_small_grid_figures_and_nesting():
    comms = communities((A, box(0, 0, 100, 50)))
    g = grids(("a1", A, box(0, 0, 50, 50)), ("a2", A, box(50, 0, 100, 50)))
    sub = gpd.GeoDataFrame(
        {"subgrid_id": ["s1", "s2", "s3", "s4"], "grid_id": ["a1", "a1", "a2", "a2"]},
        geometry=[box(0, 0, 25, 50), box(25, 0, 50, 50), box(50, 0, 80, 50), box(80, 0, 102, 50)],
        crs=CRS,
    )
    b = buildings(
        (110, Point(10, 10)), (40, Point(20, 10)), (110, Point(30, 10)),  # a1: 150 + 110
        (100, Point(60, 10)), (60, Point(90, 10)),  # a2: 160: no count of 100–150 fits
    )
    q = quality(comms, g, b, subgrids=sub)
    s = q["small"]
    # honest small grids: a2's small grids still count, since the community's buildings admit small grids
    # (110+40 | 110 | 100 | 60+40 ...): it is the choice of base grids that left a2 indivisible
    assert (s["grids"], s["in_range"], s["eligible"], s["in_range_share"]) == (4, 3, 4, 0.75)
    assert (s["infeasible_containers"], s["grids_in_infeasible"], s["communities_no_small_division"]) == (0, 0, 0)
    assert s["outside_count"] == 1 and s["outside_m2_total"] == 100.0  # s4 pokes 2 × 50 m² out of a2
    assert s["gap_m2_total"] == 0.0 and s["overlap_m2_total"] == 0.0
    assert (s["min"], s["max"], s["target"]) == (100, 150, 125)
    assert s["mean_abs_deviation"] == round((25 + 15 + 25 + 65) / 4, 2)
    by = quality_by_community(comms, g, b, subgrids=sub)
    assert by.loc[A, ["small_grids", "small_in_range", "small_eligible", "small_outside_m2"]].tolist() == [4, 3, 4, 100.0]
    # a community whose buildings admit no small grids at all is excused, and reported as such
    b2 = buildings((130, Point(10, 10)), (130, Point(30, 10)), (100, Point(60, 10)), (60, Point(90, 10)))
    s2 = quality(comms, g, b2, subgrids=sub)["small"]
    assert (s2["eligible"], s2["communities_no_small_division"], s2["grids_in_infeasible"]) == (0, 1, 4)
    text = format_quality(q)
    assert "small grids 100–150" in text


def test_small_grid_gap_and_lost_building():
    comms = communities((A, box(0, 0, 100, 50)))
    g = grids(("a1", A, box(0, 0, 100, 50)))
    sub = gpd.GeoDataFrame({"subgrid_id": ["s1", "s2"], "grid_id": ["a1", "a1"]},
                           geometry=[box(0, 0, 40, 50), box(50, 0, 100, 50)], crs=CRS)
    b = buildings((200, Point(10, 10)), (200, Point(60, 10)), (10, Point(45, 10)))
    s = quality(comms, g, b, subgrids=sub)["small"]
    assert s["gap_m2_max"] == 500.0 and s["buildings_lost"] == 1


def test_undivided_base_grid_loses_its_buildings_at_small_level():
    comms = communities((A, box(0, 0, 100, 50)))
    g = grids(("a1", A, box(0, 0, 50, 50)), ("a2", A, box(50, 0, 100, 50)))
    sub = gpd.GeoDataFrame({"subgrid_id": ["s1"], "grid_id": ["a1"]}, geometry=[box(0, 0, 50, 50)], crs=CRS)
    b = buildings((120, Point(10, 10)), (120, Point(60, 10)))
    s = quality(comms, g, b, subgrids=sub)["small"]
    assert s["buildings_lost"] == 1 and s["gap_m2_total"] == 2500.0


# ------------------------------------------------------------------------------------ CRS, API, output


def test_geographic_input_is_measured_in_metric_crs():
    comms = communities((A, box(0, 0, 100, 50)))
    g = grids(("a1", A, box(0, 0, 50, 50)), ("a2", A, box(50, 0, 100, 50)))
    b = buildings((350, Point(10, 10)), (450, Point(60, 10)))
    # move to Wuhan (the small offsets above are outside the zone) and store in EPSG:4490
    shift = {"xoff": 500_000, "yoff": 3_380_000}
    geo = [x.set_geometry(x.geometry.translate(**shift)).to_crs(4490) for x in (comms, g, b)]
    q = quality(*geo)
    assert q["crs"] == "EPSG:4547"
    assert q["base"]["in_range"] == 2
    assert q["base"]["median_polsby_popper"] == pytest.approx(round(math.pi / 4, 4), abs=1e-3)
    assert q["base"]["gap_m2_max"] < 1e-3 and q["base"]["overlap_m2_max"] < 1e-3


def test_result_is_json_and_row_order_independent():
    comms = communities((A, box(0, 0, 100, 50)), (B, box(100, 0, 200, 50)))
    g = grids(("a1", A, box(0, 0, 50, 50)), ("a2", A, box(50, 0, 100, 50)), ("b1", B, box(100, 0, 200, 50)))
    b = buildings((350, Point(10, 10)), (450, Point(60, 10)), (320, Point(150, 10)), (5, box(49, 1, 52, 3)))
    s = gpd.GeoDataFrame(geometry=[LineString([(50, -5), (50, 55)])], crs=CRS)
    q1 = quality(comms, g, b, streets=s)
    q2 = quality(comms.iloc[::-1], g.iloc[[2, 0, 1]], b.iloc[::-1], streets=s)
    assert q1 == q2
    json.dumps(q1, allow_nan=False)
    assert q1["counts"] == {
        "communities": 2, "grids": 3, "base_grids": 3, "dedicated_grids": 0, "small_grids": 0,
        "buildings": 4, "households": 1125, "buildings_outside_communities": 0, "households_outside_communities": 0,
        "invalid_geometries": 0,
    }


def test_inputs_not_modified():
    comms = communities((A, box(0, 0, 100, 50)))
    g = grids(("a1", A, box(0, 0, 50, 50)), ("a2", A, box(50, 0, 100, 50)))
    b = buildings((350, Point(10, 10)), (450, Point(60, 10)))
    before = [x.copy() for x in (comms, g, b)]
    quality(comms, g, b)
    for x, y in zip(before, (comms, g, b), strict=True):
        assert x.equals(y)


def test_grid_code_and_community_from_overlap():
    comms = communities((A, box(0, 0, 100, 50)))
    g = gpd.GeoDataFrame({"grid_code": ["420103001001001"]}, geometry=[box(0, 0, 100, 50)], crs=CRS)
    sub = gpd.GeoDataFrame({"subgrid_code": ["x1", "x2"], "grid_code": ["420103001001001"] * 2},
                           geometry=[box(0, 0, 50, 50), box(50, 0, 100, 50)], crs=CRS)
    b = buildings((120, Point(10, 10)), (120, Point(60, 10)))
    q = quality(comms, g, b, subgrids=sub)
    assert q["base"]["grids"] == 1 and q["base"]["gap_m2_total"] == 0.0
    assert (q["small"]["in_range"], q["small"]["eligible"]) == (2, 2)


def test_invalid_grid_is_repaired_and_counted():
    comms = communities((A, box(0, 0, 10, 10)))
    bowtie = gpd.GeoSeries.from_wkt(["POLYGON ((0 0, 10 10, 10 0, 0 10, 0 0))"]).iloc[0]
    g = grids(("a1", A, bowtie))
    q = quality(comms, g, buildings((400, Point(9, 5))))
    assert q["counts"]["invalid_geometries"] == 1
    assert q["base"]["gap_m2_total"] == 50.0
    assert "repaired" in format_quality(q)


def test_empty_grids_layer():
    comms = communities((A, box(0, 0, 10, 10)))
    g = grids()
    q = quality(comms, g, buildings((400, Point(5, 5))))
    assert q["base"]["grids"] == 0 and q["base"]["in_range_share"] is None
    assert q["base"]["gap_m2_total"] == 100.0 and q["base"]["buildings_lost"] == 1
    assert "n/a" in format_quality(q)


def test_format_quality_rows_and_labels():
    comms = communities((A, box(0, 0, 40, 10)))
    g = grids(("a", A, box(0, 0, 20, 10)), ("b", A, box(20, 0, 40, 10)))
    q = quality(comms, g, buildings((350, Point(5, 5)), (450, Point(25, 5))))
    rows = dict((r[0].strip(), r[1]) for r in quality_rows(q))
    assert rows["in range (share of eligible grids)"] == "100.0%"
    assert rows["balance: households CV"] == "0.125"
    assert rows["compactness: median Polsby–Popper"] == "0.698"
    assert rows["buildings lost / doubled"] == "0 / 0"
    text = format_quality(q)
    assert text.startswith("Quality recomputed from the buildings: 1 community, 2 buildings, 800 households")


def test_error_layer_without_crs():
    comms = communities((A, box(0, 0, 10, 10)))
    g = grids(("a1", A, box(0, 0, 10, 10))).set_crs(None, allow_override=True)
    with pytest.raises(InputError, match=r"quality: grids has no CRS; set one with grids.set_crs"):
        quality(comms, g, buildings((1, Point(5, 5))))
    # the fix the message names works
    quality(comms, g.set_crs(CRS), buildings((1, Point(5, 5))))


def test_error_buildings_without_households():
    comms = communities((A, box(0, 0, 10, 10)))
    g = grids(("a1", A, box(0, 0, 10, 10)))
    b = gpd.GeoDataFrame(geometry=[Point(5, 5)], crs=CRS)
    with pytest.raises(InputError, match=r"buildings need a 'households' \(or 'floors'\) column.*assign_households"):
        quality(comms, g, b)


def test_error_communities_without_code():
    comms = gpd.GeoDataFrame({"name": ["x"]}, geometry=[box(0, 0, 10, 10)], crs=CRS)
    g = grids(("a1", A, box(0, 0, 10, 10)))
    with pytest.raises(InputError, match="communities need a 'code' column"):
        quality(comms, g, buildings((1, Point(5, 5))))


def test_error_not_a_geodataframe():
    comms = communities((A, box(0, 0, 10, 10)))
    with pytest.raises(InputError, match="grids must be a GeoDataFrame, got list"):
        quality(comms, [], buildings((1, Point(5, 5))))


@pytest.mark.parametrize(("kw", "match"), [({"building_share": 0}, "building_share"), ({"segment_m": -1}, "segment_m")])
def test_error_bad_options(kw, match):
    comms = communities((A, box(0, 0, 10, 10)))
    g = grids(("a1", A, box(0, 0, 10, 10)))
    with pytest.raises(InputError, match=match):
        quality(comms, g, buildings((1, Point(5, 5))), **kw)


# --------------------------------------------------------------------------------- property-based


@settings(max_examples=40, deadline=None)
@given(
    cuts=st.lists(st.integers(1, 99), min_size=0, max_size=6, unique=True),
    households=st.lists(st.integers(0, 200), min_size=1, max_size=30),
    seed=st.integers(0, 2**16),
)
def test_tiling_conserves_households_and_covers(cuts, households, seed):
    """Strips cut at random x tile the community: no gap, no overlap, every household in one grid."""
    xs = [0, *sorted(cuts), 100]
    comms = communities((A, box(0, 0, 100, 40)))
    g = grids(*[(f"g{i}", A, box(x0, 0, x1, 40)) for i, (x0, x1) in enumerate(zip(xs[:-1], xs[1:], strict=True))])
    rng = np.random.default_rng(seed)
    pts = rng.uniform([0.5, 0.5], [99.5, 39.5], size=(len(households), 2))
    b = buildings(*[(h, box(x - 0.25, y - 0.25, x + 0.25, y + 0.25)) for h, (x, y) in zip(households, pts, strict=True)])
    q = quality(comms, g, b)
    by = quality_by_community(comms, g, b)
    base = q["base"]
    assert base["gap_m2_total"] == pytest.approx(0.0, abs=1e-6)
    assert base["overlap_m2_total"] == pytest.approx(0.0, abs=1e-6)
    assert base["buildings_lost"] == 0
    assert by.loc[A, "households"] == sum(households)
    assert base["multipart"] == 0 and base["grids"] == len(xs) - 1


def test_subgrid_parent_matched_by_any_shared_id_column():
    comms = communities((A, box(0, 0, 100, 50)))
    g = gpd.GeoDataFrame({"grid_code": ["420103001001001", "420103001001002"], "grid_id": ["a1", "a2"],
                          "community_code": [A, A]}, geometry=[box(0, 0, 50, 50), box(50, 0, 100, 50)], crs=CRS)
    sub = gpd.GeoDataFrame({"subgrid_id": ["s1", "s2"], "grid_id": ["a2", "a1"]},  # drawn in the wrong parents
                           geometry=[box(0, 0, 50, 50), box(50, 0, 100, 50)], crs=CRS)
    b = buildings((120, Point(10, 10)), (120, Point(60, 10)))
    s = quality(comms, g, b, subgrids=sub)["small"]
    assert s["outside_count"] == 2 and s["outside_m2_total"] == 5000.0


def test_cv_relative_to_each_profile_target():
    comms = communities((A, box(0, 0, 100, 50)), (B, box(100, 0, 200, 50), "rural"))
    g = grids(("a1", A, box(0, 0, 50, 50)), ("a2", A, box(50, 0, 100, 50)), ("b1", B, box(100, 0, 200, 50)))
    b = buildings((350, Point(10, 10)), (450, Point(60, 10)), (50, Point(150, 10)))
    q = quality(comms, g, b)["base"]
    # households ÷ target: 0.875, 1.125, 1.0 → CV = std/mean of those
    rel = np.array([0.875, 1.125, 1.0])
    assert q["households_cv"] == round(float(rel.std() / rel.mean()), 4)
    assert q["mean_abs_deviation"] == round((50 + 50 + 0) / 3, 2)


def test_null_households_are_estimated_as_the_partition_estimates_them():
    # one measure, one implementation: a raw layer's null households count as the partition counts them
    from gridgeo.households import assign_households
    from gridgeo.validate import validate_grids

    comms = communities((A, box(0, 0, 100, 50)))
    g = grids(("a1", A, box(0, 0, 100, 50)))
    raw = gpd.GeoDataFrame({"households": [120.0, None], "floors": [None, 6.0]},
                           geometry=[box(10, 10, 20, 20), box(40, 10, 70, 25)], crs=CRS)  # 450 m² × 6 / 90 = 30
    estimated = int(assign_households(raw, metric=CRS)[0]["households"].sum())
    assert estimated == 150
    assert quality(comms, g, raw)["base"]["households_range"] == [150, 150]
    f = validate_grids(g.rename(columns={"grid_id": "grid_code"}), communities=comms, buildings=raw)
    hh = f[f["type"] == "households_out_of_bounds"]
    assert hh["measure"].tolist() == [150.0]


def _per_point_reference(zgeom, zcont, cgeom, tree, snap_m: float) -> tuple[np.ndarray, np.ndarray]:
    """The street-alignment measure as defined, the slow way: the boundary less its container's band,
    cut by ``shapely.segmentize`` into 1 m pieces, a shapely point per piece asked the STRtree's dwithin."""
    band = shapely.buffer(shapely.boundary(cgeom), snap_m, quad_segs=2)
    inner = shapely.difference(shapely.boundary(zgeom), band[zcont])
    coords, idx = shapely.get_coordinates(shapely.segmentize(shapely.get_parts(inner), 1.0), return_index=True)
    _, owner = shapely.get_parts(inner, return_index=True)
    same = idx[1:] == idx[:-1]
    a, b, own = coords[:-1][same], coords[1:][same], owner[idx[:-1][same]]
    hit = np.zeros(len(a), dtype=bool)
    hit[np.unique(tree.query(shapely.points((a + b) / 2), predicate="dwithin", distance=snap_m)[0])] = True
    return shapely.length(inner), np.bincount(own[hit], weights=np.hypot(*(b - a)[hit].T), minlength=len(zgeom))


def test_street_alignment_of_an_edge_half_along_a_street():
    """Two grids share an edge of 12.5 m; the community's band (1 m) leaves 10.5 m of it, cut into 11
    pieces of 10.5/11 m. A street 0.5 m beside it ends at y = 6: the points within 1 m of it reach
    y = 6 + √0.75 ≈ 6.866, so the pieces whose midpoints 1 + (k + 0.5)·10.5/11 lie below, k = 0..5, are aligned:
    6 × 10.5/11 m; the rest is the boundary off the streets."""
    from gridgeo.partition.metrics import street_alignment

    z = np.array([box(0, 0, 10, 12.5), box(10, 0, 20, 12.5)])
    tree = shapely.STRtree([LineString([(10.5, -5), (10.5, 6)])])
    internal, aligned, off = street_alignment(z, np.array([0, 0]), np.array([box(0, 0, 20, 12.5)]), tree, 1.0,
                                              off_lines=True)
    np.testing.assert_allclose(internal, [10.5, 10.5], rtol=0, atol=1e-9)
    np.testing.assert_allclose(aligned, [6 * 10.5 / 11, 6 * 10.5 / 11], rtol=0, atol=1e-9)
    for line in off:
        assert shapely.equals(shapely.set_precision(line, 1e-9), shapely.set_precision(LineString([(10, 1 + 6 * 10.5 / 11), (10, 11.5)]), 1e-9))
    # a street across the edge, not along it: the one piece whose midpoint is within 1 m of the crossing
    cross = shapely.STRtree([LineString([(0, 4.0), (20, 4.0)])])
    _, aligned = street_alignment(z, np.array([0, 0]), np.array([box(0, 0, 20, 12.5)]), cross, 1.0)
    # midpoints 1 + (k + 0.5)·10.5/11 within 3..5: k = 2 (3.386) and k = 3 (4.341), two pieces
    np.testing.assert_allclose(aligned, [2 * 10.5 / 11] * 2, rtol=0, atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), snap=st.sampled_from([0.5, 3.0, 7.3]))
def test_street_alignment_equals_a_point_per_piece(seed: int, snap: float) -> None:
    """Pieces found from each segment's interval near each street segment give the figures of a point per
    1 m piece asked the STRtree (streets crossing, along, ending near and away from the boundaries)."""
    from gridgeo.partition.metrics import street_alignment

    rng = np.random.default_rng(seed)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(rng.uniform(0, 200, size=(8, 2)))))
    cont = np.array([box(0, 0, 200, 200)])
    zones = shapely.intersection(cells, cont[0])
    lines = [LineString(rng.uniform(-10, 210, size=(int(rng.integers(2, 6)), 2))) for _ in range(6)]
    # streets along boundaries, some shifted by less or more than the snap distance
    edges = shapely.get_parts(shapely.boundary(zones[:3]))
    lines += list(shapely.offset_curve(edges, float(rng.uniform(-1.5, 1.5) * snap)))
    tree = shapely.STRtree(np.array(lines + [shapely.MultiLineString(lines[:2])], dtype=object))
    zcont = np.zeros(len(zones), dtype=np.int64)
    internal, aligned = street_alignment(zones, zcont, cont, tree, snap)
    want_internal, want_aligned = _per_point_reference(zones, zcont, cont, tree, snap)
    np.testing.assert_allclose(internal, want_internal, rtol=0, atol=1e-9)
    assert aligned.sum() > 0
    np.testing.assert_allclose(aligned, want_aligned * np.where(want_internal > 0, internal / want_internal, 0), rtol=0, atol=1e-6)


def test_street_alignment_with_street_surfaces_and_no_streets() -> None:
    """A street with a surface: each piece's midpoint asked the STRtree (inside the polygon is near it);
    an empty street tree: nothing aligned."""
    from gridgeo.partition.metrics import street_alignment

    z = np.array([box(0, 0, 10, 10), box(10, 0, 20, 10)])
    cont = np.array([box(0, 0, 20, 10)])
    tree = shapely.STRtree(np.array([box(8, -5, 12, 4), LineString([(100, 0), (200, 0)])], dtype=object))
    # the edge x = 10 from y = 1 to 9 (8 pieces of 1 m); the surface reaches y = 4, near it up to y = 5
    np.testing.assert_allclose(street_alignment(z, np.array([0, 0]), cont, tree, 1.0)[1], [4.0, 4.0], atol=1e-9)
    none = street_alignment(z, np.array([0, 0]), cont, shapely.STRtree(np.array([], dtype=object)), 1.0)
    assert none[1].tolist() == [0.0, 0.0] and none[0].tolist() == [8.0, 8.0]


def test_quality_head_agrees_in_number_with_one_community():
    """A village plan (one community, one building) said "1 communities, 1 buildings" above its table."""
    comms = communities((A, box(0, 0, 20, 10)))
    g = grids(("a1", A, box(0, 0, 20, 10)))
    b = buildings((40, Point(5, 5)))
    head = format_quality(quality(comms, g, b)).splitlines()[0]
    assert "1 community, 1 building, 40 households" in head


def test_plan_summary_gives_the_median_of_grids_not_beside_a_dedicated_grid_beside_the_median():
    from gridgeo._explore import plan_html
    from gridgeo.plan import Plan

    q = {"base": {"median_polsby_popper": 0.527, "median_polsby_popper_off_dedicated": 0.637}, "small": {}}
    text = plan_html(Plan({}, {"stage": "partition", "quality": q}))
    assert "median Polsby–Popper 0.527 (grids not beside a dedicated grid 专属网格: 0.637)" in text
    q["base"]["median_polsby_popper_off_dedicated"] = None  # a plan without dedicated grids: as before
    text = plan_html(Plan({}, {"stage": "partition", "quality": q}))
    assert "median Polsby–Popper 0.527," in text and "beside a dedicated" not in text
