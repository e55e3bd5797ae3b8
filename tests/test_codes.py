"""Tests of gridgeo.codes: scheme, numbering order, carry-over (动态调整), checks and the plan diff."""

from __future__ import annotations

from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely import Point, box

from gridgeo import InputError
from gridgeo import codes as gc
from gridgeo.codes import (
    CodeScheme,
    assign_codes,
    check,
    code_metadata,
    diff_plans,
    find_code_problems,
    spatial_order,
    summarize_diff,
)

CRS = 4547  # CGCS2000 3-degree Gauss-Krüger zone 38 (Wuhan)
X0, Y0 = 534_000.0, 3_383_000.0
C1 = "420103001001"
C2 = "420103001002"
S = 300.0  # cell size, metres


def cell(col: float, row: float, w: float = 1.0, h: float = 1.0) -> shapely.Polygon:
    """A box of w×h cells whose north-west corner is at column ``col``, row ``row`` (row 0 = north)."""
    x, ytop = X0 + col * S, Y0 + 3 * S - row * S
    return box(x, ytop - h * S, x + w * S, ytop)


def layer(geoms, crs=CRS, **cols) -> gpd.GeoDataFrame:
    n = len(geoms)
    data = {k: (v if isinstance(v, list) else [v] * n) for k, v in cols.items()}
    return gpd.GeoDataFrame(data, geometry=list(geoms), crs=crs)


def tiling3(community: str = C1) -> gpd.GeoDataFrame:
    """3×3 cells listed south-east first (the reverse of the numbering order), with provisional ids."""
    cells = [cell(c, r) for r in (2, 1, 0) for c in (2, 1, 0)]
    return layer(cells, community_code=community, grid_id=[f"g{i}" for i in range(9)])


def codes_by_place(grids: gpd.GeoDataFrame) -> dict[str, str]:
    """grid code keyed by the normalised WKB of its geometry (independent of row order)."""
    wkb = shapely.to_wkb(shapely.normalize(grids.geometry.values), hex=True)
    return dict(zip(wkb, grids["grid_code"], strict=True))


def code_at(grids: gpd.GeoDataFrame, col: float, row: float) -> str:
    pt = cell(col, row, 0.5, 0.5).centroid  # inside cell (col, row)'s north-west quarter
    hit = grids[grids.geometry.contains(pt)]
    assert len(hit) == 1
    return hit["grid_code"].iloc[0]


# --------------------------------------------------------------------------------------------------
# scheme


def test_scheme_defaults_and_dict_round_trip():
    s = CodeScheme(prefix="100100", grid_digits=4)
    assert (s.grid_length, s.subgrid_length, s.building_length) == (22, 24, 27)
    assert (s.dedicated_first, s.base_capacity, s.dedicated_capacity) == (9000, 8999, 1000)
    assert CodeScheme.from_dict(s.to_dict()) == s
    assert CodeScheme(dedicated_start=950).dedicated_capacity == 50


@pytest.mark.parametrize(
    ("settings_", "match"),
    [
        ({"grid_digits": 0}, r"grid_digits must be an integer from 1 to 30 \(got 0\)"),
        ({"subgrid_digits": 2.5}, r"subgrid_digits must be an integer"),
        ({"prefix": "CJ"}, r"prefix 'CJ' must be digits only"),
        ({"dedicated_start": 1000}, r"dedicated_start must be an integer from 2 to 999"),
        ({"grid_band_m": 0}, r"grid_band_m must be a positive number of metres"),
        ({"grid_digit": 3}, r"unknown key\(s\) \['grid_digit'\]; valid keys"),
    ],
)
def test_scheme_rejects_bad_settings(settings_, match):
    with pytest.raises(InputError, match=match):
        CodeScheme.from_dict(settings_)


def test_check_capacity_message():
    with pytest.raises(
        InputError,
        match=r"community 420103001001 needs 1,203 base grids but the scheme holds 899 "
        r"\(grid_digits=3, dedicated_start=900\); widen grid_digits",
    ):
        CodeScheme().check_capacity({C1: 1203, C2: 5})
    with pytest.raises(InputError, match=r"needs 3 dedicated grids but the scheme holds 2 .*lower dedicated_start"):
        CodeScheme(dedicated_start=998).check_capacity(0, {C1: 3})
    with pytest.raises(InputError, match=r"grid 'g1' needs 100 small grids but the scheme holds 99 \(subgrid_digits=2\)"):
        CodeScheme().check_capacity(0, 0, {"g1": 100})
    CodeScheme().check_capacity({C1: 899}, {C1: 100}, 99, 99_999)  # exactly full is fine


def test_assign_codes_checks_capacity_before_any_geometry_work(monkeypatch):
    def no_geometry_work(*args, **kwargs):
        raise AssertionError("geometry work started before the capacity check")

    monkeypatch.setattr(gc, "metric_crs", no_geometry_work)
    with pytest.raises(InputError, match=r"community 420103001001 needs 9 base grids but the scheme holds 8"):
        assign_codes(tiling3(), scheme=CodeScheme(grid_digits=1))
    with pytest.raises(InputError, match=r"needs 2 dedicated grids but the scheme holds 1"):
        assign_codes(tiling3().assign(kind=["dedicated"] * 2 + ["base"] * 7), scheme={"grid_digits": 1})


# --------------------------------------------------------------------------------------------------
# numbering order


def test_west_to_east_north_to_south_on_3x3():
    coded = assign_codes(tiling3()).grids
    expected = {(c, r): f"{C1}{1 + 3 * r + c:03d}" for r in range(3) for c in range(3)}
    assert {k: code_at(coded, *k) for k in expected} == expected
    check(coded["grid_code"], community_codes=coded["community_code"])


def test_spatial_order_groups_and_bands():
    # centroids 60 m apart in northing fall in one 200 m band: west to east wins
    geoms = [box(X0, Y0, X0 + 100, Y0 + 100), box(X0 + 100, Y0 + 60, X0 + 200, Y0 + 160)]
    g = layer(geoms, community_code=C1)
    assert spatial_order(g).tolist() == [0, 1]  # same band: the western one first
    assert spatial_order(g, band_m=10).tolist() == [1, 0]  # thin bands: the northern one first
    assert spatial_order(g, by=["a", "b"]).tolist() == [0, 0]
    with pytest.raises(InputError, match=r"by='nope' is not a column"):
        spatial_order(g, by="nope")


def test_codes_identical_across_reruns_row_orders_and_ids():
    base = tiling3().assign(kind=["base"] * 7 + ["dedicated"] * 2)
    first = codes_by_place(assign_codes(base).grids)
    assert codes_by_place(assign_codes(base).grids) == first
    rng = np.random.default_rng(0)
    for _ in range(5):
        shuffled = base.iloc[rng.permutation(len(base))].assign(grid_id=[f"x{i}" for i in range(9)])
        assert codes_by_place(assign_codes(shuffled).grids) == first


@settings(max_examples=25, deadline=None)
@given(
    xs=st.lists(st.integers(1, 19), min_size=1, max_size=4, unique=True),
    ys=st.lists(st.integers(1, 19), min_size=1, max_size=4, unique=True),
    seed=st.integers(0, 2**16),
)
def test_codes_do_not_depend_on_row_order(xs, ys, seed):
    """Irregular rectangular tilings (cut lines every 50 m step) code the same whatever the row order."""
    xcuts = [0, *sorted(xs), 20]
    ycuts = [0, *sorted(ys), 20]
    geoms = [
        box(X0 + 50 * a, Y0 + 50 * c, X0 + 50 * b, Y0 + 50 * d)
        for a, b in zip(xcuts, xcuts[1:]) for c, d in zip(ycuts, ycuts[1:])
    ]
    g = layer(geoms, community_code=C1)
    coded = assign_codes(g).grids
    shuffled = assign_codes(g.sample(frac=1, random_state=seed)).grids
    assert codes_by_place(shuffled) == codes_by_place(coded)
    check(coded["grid_code"], community_codes=coded["community_code"])
    assert sorted(coded["grid_code"]) == [f"{C1}{i:03d}" for i in range(1, len(g) + 1)]


def test_geographic_input_is_ordered_in_metric_crs():
    metric = assign_codes(tiling3()).grids
    geo = tiling3().to_crs(4490)
    coded = assign_codes(geo).grids
    assert coded.crs.to_epsg() == 4490  # returned in the input CRS
    assert coded["grid_code"].tolist() == metric["grid_code"].tolist()


def test_geographic_input_carry_over_uses_metric_areas():
    v1 = assign_codes(tiling3()).grids.to_crs(4490)
    v2 = assign_codes(tiling3().to_crs(4490), previous=v1).grids
    assert v2["grid_code"].tolist() == v1["grid_code"].tolist()


def test_dedicated_grids_take_their_own_range():
    g = tiling3().assign(kind=["dedicated", "base", "base", "base", "dedicated", "base", "base", "base", "base"])
    coded = assign_codes(g).grids
    ded = coded[coded["kind"] == "dedicated"]
    # g0 is the south-east cell, g4 the centre: the centre comes first
    assert dict(zip(ded["grid_id"], ded["grid_code"], strict=True)) == {"g4": f"{C1}900", "g0": f"{C1}901"}
    assert sorted(coded.loc[coded["kind"] == "base", "grid_code"]) == [f"{C1}{i:03d}" for i in range(1, 8)]
    assert assign_codes(g, scheme=CodeScheme(dedicated_start=500)).grids.set_index("grid_id").loc["g4", "grid_code"] == f"{C1}500"


def test_prefix_and_communities_number_independently():
    g = pd.concat([tiling3(C1), tiling3(C2).assign(grid_id=[f"h{i}" for i in range(9)])], ignore_index=True)
    g = gpd.GeoDataFrame(g, crs=CRS)
    coded = assign_codes(g, scheme=CodeScheme(prefix="100100")).grids
    for comm in (C1, C2):
        sub = coded[coded["community_code"] == comm]
        assert sorted(sub["grid_code"]) == [f"100100{comm}{i:03d}" for i in range(1, 10)]
    check(coded["grid_code"], scheme=CodeScheme(prefix="100100"), community_codes=coded["community_code"])


def test_inputs_are_not_modified():
    g = tiling3()
    subs = layer([cell(0, 0)], grid_id="g8")
    bld = layer([Point(X0 + 10, Y0 + 890)], building_id="b1", grid_id="g8", households=10)
    before = [x.copy() for x in (g, subs, bld)]
    assign_codes(g, subs, bld)
    for a, b in zip(before, (g, subs, bld), strict=True):
        pd.testing.assert_frame_equal(a, b)


# --------------------------------------------------------------------------------------------------
# small grids and buildings


def quarters(grids: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Each grid cut into 2×2 small grids, listed south-east first."""
    rows = []
    for gid, geom in zip(grids["grid_id"], grids.geometry, strict=True):
        x0, y0, x1, y1 = geom.bounds
        xm, ym = (x0 + x1) / 2, (y0 + y1) / 2
        for k, q in enumerate([box(xm, y0, x1, ym), box(x0, y0, xm, ym), box(xm, ym, x1, y1), box(x0, ym, xm, y1)]):
            rows.append({"grid_id": gid, "subgrid_id": f"{gid}-s{k}", "geometry": q})
    return gpd.GeoDataFrame(rows, crs=grids.crs)


def test_subgrid_codes_follow_the_grid_and_the_same_order():
    g = tiling3()
    coded = assign_codes(g, quarters(g))
    s = coded.subgrids
    nw = code_at(coded.grids, 0, 0)
    mine = s[s["grid_code"] == nw]
    # s3 north-west, s2 north-east, s1 south-west, s0 south-east
    assert dict(zip(mine["subgrid_id"].str[-2:], mine["subgrid_code"], strict=True)) == {
        "s3": nw + "01", "s2": nw + "02", "s1": nw + "03", "s0": nw + "04"
    }
    assert (s["community_code"] == C1).all()
    check(s["subgrid_code"], level="subgrid", parent_codes=s["grid_code"])


def test_building_codes_ordered_within_grid_and_linked():
    g = tiling3()
    subs = quarters(g)
    pts = [Point(X0 + 250, Y0 + 880), Point(X0 + 20, Y0 + 880), Point(X0 + 20, Y0 + 620), Point(X0 + 5000, Y0)]
    bld = layer(pts, building_id=["b1", "b2", "b3", "b4"], grid_id=["g8", "g8", "g8", None], households=[10, 20, 30, 0])
    coded = assign_codes(g, subs, bld)
    b = coded.buildings.set_index("building_id")
    nw = f"{C1}001"
    assert b.loc[["b2", "b1", "b3"], "building_code"].tolist() == [nw + "00001", nw + "00002", nw + "00003"]
    assert b.loc[["b1", "b2", "b3"], "grid_code"].tolist() == [nw] * 3
    # no subgrid_id on buildings: small grid found by location within the building's own grid
    assert b.loc[["b2", "b1", "b3"], "subgrid_code"].tolist() == [nw + "01", nw + "02", nw + "03"]
    assert b.loc["b4", ["grid_code", "subgrid_code", "building_code"]].isna().all()
    check(b["building_code"].dropna(), level="building", parent_codes=b["grid_code"].dropna())


def test_building_subgrid_link_by_id():
    g = tiling3()
    subs = quarters(g)
    bld = layer([Point(X0 + 20, Y0 + 880)], building_id="b1", grid_id="g8", subgrid_id="g8-s0")
    b = assign_codes(g, subs, bld).buildings
    assert b["subgrid_code"].iloc[0] == f"{C1}00104"  # the id wins over the location
    with pytest.raises(InputError, match=r"buildings\['subgrid_id'\] has 'nope', which is not in subgrids"):
        assign_codes(g, subs, bld.assign(subgrid_id="nope"))
    with pytest.raises(InputError, match=r"is in a small grid of another grid"):
        assign_codes(g, subs, bld.assign(subgrid_id="g0-s0"))


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda g, s: (g.drop(columns="community_code"), s), r"grids has no 'community_code' column"),
        (lambda g, s: (g.assign(community_code=420103001001), s), r"not 12-digit strings, e.g. 420103001001; read community codes as text"),
        (lambda g, s: (g.assign(kind="special"), s), r"grids\['kind'\] has 'special'; valid kinds are \['base', 'dedicated'\]"),
        (lambda g, s: (g.assign(grid_id="same"), s), r"grids\['grid_id'\] is not unique, e.g. 'same' appears 9 times"),
        (lambda g, s: (g, s.assign(grid_id="zz")), r"subgrids\['grid_id'\] has 'zz', which is not a grid"),
        (lambda g, s: (g, s.drop(columns="grid_id")), r"subgrids have no 'grid_id' column"),
        (lambda g, s: (g.drop(columns="grid_id"), s), r"grids have neither 'grid_id' nor 'grid_code'"),
        (lambda g, s: (g.set_crs(None, allow_override=True), s), r"assign_codes: grids has no CRS"),
    ],
)
def test_assign_codes_input_errors(change, match):
    g, s = change(tiling3(), quarters(tiling3()))
    with pytest.raises(InputError, match=match):
        assign_codes(g, s)


# --------------------------------------------------------------------------------------------------
# carry-over (动态调整)


def split_centre(grids_v1: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """v2: the centre cell cut into a west and an east half; everything else as it was."""
    centre = cell(1, 1)
    keep = grids_v1[~grids_v1.geometry.geom_equals(centre)][["community_code", "geometry"]]
    halves = layer([cell(1, 1, w=0.5), cell(1.5, 1, w=0.5)], community_code=C1)
    out = gpd.GeoDataFrame(pd.concat([keep, halves], ignore_index=True), crs=CRS)
    return out.assign(grid_id=[f"v2-{i}" for i in range(len(out))])


def test_split_keeps_untouched_codes_and_retires_the_split_one():
    v1 = assign_codes(tiling3()).grids
    res = assign_codes(split_centre(v1), previous={"grids": v1}, retired_in="v2")
    v2 = res.grids
    for r in range(3):
        for c in range(3):
            if (c, r) != (1, 1):
                assert code_at(v2, c, r) == code_at(v1, c, r)
    west = v2[v2.geometry.geom_equals(cell(1, 1, w=0.5))]["grid_code"].iloc[0]
    east = v2[v2.geometry.geom_equals(cell(1.5, 1, w=0.5))]["grid_code"].iloc[0]
    assert (west, east) == (f"{C1}010", f"{C1}011")
    assert res.retired.to_dict("records") == [
        {"code": f"{C1}005", "level": "grid", "community_code": C1, "retired_in": "v2"}
    ]

    # v3: the halves merged back into exactly the old centre: 005 stays retired, never reused
    v3_in = tiling3().assign(grid_id=[f"v3-{i}" for i in range(9)])
    prev = SimpleNamespace(layers={"grids": v2}, metadata=code_metadata(CodeScheme(), res.retired))
    res3 = assign_codes(v3_in, previous=prev, retired_in="v3")
    assert code_at(res3.grids, 1, 1) == f"{C1}012"
    assert set(res3.grids["grid_code"]).isdisjoint(res.retired["code"])
    assert res3.retired[["code", "retired_in"]].values.tolist() == [
        [f"{C1}005", "v2"], [f"{C1}010", "v3"], [f"{C1}011", "v3"]
    ]
    # v4: split again: new numbers after 012, still never 005/010/011
    res4 = assign_codes(split_centre(res3.grids), previous={"grids": res3.grids, "retired": res3.retired})
    new = sorted(set(res4.grids["grid_code"]) - set(res3.grids["grid_code"]))
    assert new == [f"{C1}013", f"{C1}014"]


def test_small_boundary_shift_keeps_codes():
    v1 = assign_codes(tiling3()).grids
    g = tiling3()
    # move the boundary between the two western cells of the north row 10 m east
    g.loc[g["grid_id"] == "g8", "geometry"] = cell(0, 0, w=1 + 10 / S)
    g.loc[g["grid_id"] == "g7", "geometry"] = cell(1 + 10 / S, 0, w=1 - 10 / S)
    v2 = assign_codes(g.assign(grid_id=[f"n{i}" for i in range(9)]), previous={"grids": v1})
    assert sorted(v2.grids["grid_code"]) == sorted(v1["grid_code"])
    assert len(v2.retired) == 0


def compound_case():
    """Grid A (west) has 100 households; a 400-household compound lies in its eastern 15% strip."""
    a, b = box(X0, Y0, X0 + S, Y0 + S), box(X0 + S, Y0, X0 + 2 * S, Y0 + S)
    old = layer([a, b], community_code=C1, grid_id=["A", "B"])
    bld = layer(
        [Point(X0 + 50, Y0 + 150), Point(X0 + 280, Y0 + 150), Point(X0 + 450, Y0 + 150)],
        building_id=["w", "compound", "e"], grid_id=["A", "A", "B"], households=[100, 400, 350],
    )
    cut = X0 + 0.85 * S
    new = layer([box(X0, Y0, cut, Y0 + S), box(cut, Y0, X0 + 2 * S, Y0 + S)], community_code=C1, grid_id=["A2", "B2"])
    new_bld = bld.assign(grid_id=["A2", "B2", "B2"])
    return old, bld, new, new_bld


def test_households_overlap_decides_when_area_alone_would_keep_the_code():
    old, bld, new, new_bld = compound_case()
    v1 = assign_codes(old, buildings=bld)
    # by area alone, the western grid keeps its code (IoU 0.85)
    by_area = assign_codes(new, buildings=new_bld, previous={"grids": v1.grids})
    assert by_area.grids["grid_code"].tolist() == [f"{C1}001", f"{C1}002"]
    # with the previous buildings: its households IoU is 100/500 = 0.2, so it gets a new code
    prev = {"grids": v1.grids, "buildings": v1.buildings}
    both = assign_codes(new, buildings=new_bld, previous=prev, retired_in="v2")
    assert both.grids["grid_code"].tolist() == [f"{C1}003", f"{C1}004"]
    assert set(both.retired["code"]) >= {f"{C1}001", f"{C1}002"}
    # a lower households threshold keeps the code again
    low = assign_codes(new, buildings=new_bld, previous=prev, households_threshold=0.1)
    assert low.grids["grid_code"].iloc[0] == f"{C1}001"


def test_new_building_does_not_change_grid_code():
    old, bld, _, _ = compound_case()
    v1 = assign_codes(old, buildings=bld)
    more = pd.concat([bld, layer([Point(X0 + 60, Y0 + 60)], building_id="tower", grid_id="A", households=150)], ignore_index=True)
    v2 = assign_codes(old, buildings=gpd.GeoDataFrame(more, crs=CRS), previous={"grids": v1.grids, "buildings": v1.buildings})
    assert v2.grids["grid_code"].tolist() == v1.grids["grid_code"].tolist()


def test_same_households_on_more_land_keep_the_code():
    """A grid that took in fields (area IoU 0.33 with its old outline) holding the same buildings with
    households keeps its code, and so does one that lost empty land; a grid that grew over a new building of
    households, or holds another grid's building, does not (the area IoU decides there, as before)."""
    a, b = box(X0, Y0, X0 + S, Y0 + S), box(X0 + S, Y0, X0 + 2 * S, Y0 + S)
    old = layer([a, b], community_code=C1, grid_id=["A", "B"])
    bld = layer([Point(X0 + 50, Y0 + 150), Point(X0 + 450, Y0 + 150), Point(X0 + 500, Y0 + 100)],
                building_id=["w", "e", "e2"], grid_id=["A", "B", "B"], households=[400, 350, 0])
    v1 = assign_codes(old, buildings=bld)
    prev = {"grids": v1.grids, "buildings": v1.buildings}
    grown = box(X0 - 2 * S, Y0, X0 + S, Y0 + S)  # A with 600 m of fields to its west
    shrunk = box(X0 + S, Y0, X0 + 1.7 * S, Y0 + S)  # B without its empty eastern strip
    new = layer([grown, shrunk], community_code=C1, grid_id=["A2", "B2"])
    v2 = assign_codes(new, buildings=bld.assign(grid_id=["A2", "B2", "B2"]), previous=prev, retired_in="v2")
    assert v2.grids["grid_code"].tolist() == [f"{C1}001", f"{C1}002"]
    # a new building with households in the fields: not the same households, so the area IoU (0.33) decides
    more = pd.concat([bld.assign(grid_id=["A2", "B2", "B2"]),
                      layer([Point(X0 - 300, Y0 + 150)], building_id="farm", grid_id="A2", households=40)],
                     ignore_index=True)
    v3 = assign_codes(new, buildings=gpd.GeoDataFrame(more, crs=CRS), previous=prev, retired_in="v3")
    assert v3.grids["grid_code"].tolist() == [f"{C1}003", f"{C1}002"]
    # a building moved into another grid: neither holds the same households any more
    moved = assign_codes(new, buildings=bld.assign(grid_id=["A2", "A2", "B2"]), previous=prev, retired_in="v4")
    assert f"{C1}001" not in moved.grids["grid_code"].tolist()


def test_building_codes_kept_and_appended_after_the_highest_ever_used():
    g = tiling3()
    y = Y0 + 880
    bld = layer(
        [Point(X0 + 20, y), Point(X0 + 120, y), Point(X0 + 220, y), Point(X0 + 310, y), Point(X0 + 450, y)],
        building_id=["b1", "b2", "b3", "b5", "b6"], grid_id=["g8", "g8", "g8", "g7", "g7"],
        households=[100, 100, 10, 10, 100],
    )
    v1 = assign_codes(g, buildings=bld)
    g1, g2 = f"{C1}001", f"{C1}002"
    assert v1.buildings["building_code"].tolist() == [
        g1 + "00001", g1 + "00002", g1 + "00003", g2 + "00001", g2 + "00002"
    ]
    # v2: b3 (the highest number in 001) demolished; b0 built; the 001/002 boundary moves 30 m east,
    # so b5 now lies in grid 001
    g_v2 = g.copy()
    g_v2.loc[g_v2["grid_id"] == "g8", "geometry"] = cell(0, 0, w=1 + 30 / S)
    g_v2.loc[g_v2["grid_id"] == "g7", "geometry"] = cell(1 + 30 / S, 0, w=1 - 30 / S)
    bld2 = gpd.GeoDataFrame(
        pd.concat([bld[bld["building_id"] != "b3"], layer([Point(X0 + 5, Y0 + 890)], building_id="b0", households=10)]),
        crs=CRS,
    ).assign(grid_id=["g8", "g8", "g8", "g7", "g8"])
    v2 = assign_codes(g_v2, buildings=bld2, previous={"grids": v1.grids, "buildings": v1.buildings}, retired_in="v2")
    assert v2.grids["grid_code"].tolist() == v1.grids["grid_code"].tolist()  # both grids nearly unchanged
    b = v2.buildings.set_index("building_id")["building_code"]
    assert b[["b1", "b2", "b6"]].tolist() == [g1 + "00001", g1 + "00002", g2 + "00002"]  # kept
    # appended in numbering order after 00003, which is retired and not reused
    assert b[["b0", "b5"]].tolist() == [g1 + "00004", g1 + "00005"]
    assert v2.retired.set_index("code")["level"].to_dict() == {g1 + "00003": "building", g2 + "00001": "building"}


def test_subgrid_codes_carried_inside_a_kept_grid():
    g = tiling3()
    v1 = assign_codes(g, quarters(g))
    subs2 = quarters(g)
    nw_sub = subs2[subs2["subgrid_id"] == "g8-s3"]  # the north-west small grid of grid 001
    x0, y0, x1, y1 = nw_sub.geometry.iloc[0].bounds
    xm = (x0 + x1) / 2
    pieces = layer([box(x0, y0, xm, y1), box(xm, y0, x1, y1)], grid_id="g8", subgrid_id=["p1", "p2"])
    subs2 = gpd.GeoDataFrame(pd.concat([subs2[subs2["subgrid_id"] != "g8-s3"], pieces], ignore_index=True), crs=CRS)
    v2 = assign_codes(g, subs2, previous={"grids": v1.grids, "subgrids": v1.subgrids}, retired_in="v2")
    s = v2.subgrids.set_index("subgrid_id")["subgrid_code"]
    nw = f"{C1}001"
    assert s[["g8-s2", "g8-s1", "g8-s0"]].tolist() == [nw + "02", nw + "03", nw + "04"]
    assert s[["p1", "p2"]].tolist() == [nw + "05", nw + "06"]
    assert v2.retired["code"].tolist() == [nw + "01"]
    assert (v2.retired["level"] == "subgrid").all()


def test_merge_gets_a_new_code():
    v1 = assign_codes(tiling3()).grids
    g = tiling3()
    north = g[g["grid_id"].isin(["g7", "g6"])]  # north-middle and north-east
    merged = layer([shapely.union_all(north.geometry.values)], community_code=C1, grid_id="m")
    g2 = gpd.GeoDataFrame(pd.concat([g[~g["grid_id"].isin(["g7", "g6"])], merged], ignore_index=True), crs=CRS)
    res = assign_codes(g2, previous={"grids": v1}, retired_in="v2")
    assert res.grids.set_index("grid_id").loc["m", "grid_code"] == f"{C1}010"
    assert res.retired["code"].tolist() == [f"{C1}002", f"{C1}003"]


def test_previous_plan_errors():
    v1 = assign_codes(tiling3()).grids
    with pytest.raises(InputError, match=r"previous grids have 1 code problem, first: grid code '42010300100100' has 14"):
        assign_codes(tiling3(), previous={"grids": v1.assign(grid_code=[*v1["grid_code"][:8], f"{C1}00"])})
    meta = code_metadata(CodeScheme(grid_digits=4), pd.DataFrame(columns=gc.RETIRED_COLUMNS))
    with pytest.raises(InputError, match=r"the previous plan was coded with .*pass scheme=CodeScheme.from_dict"):
        assign_codes(tiling3(), previous={"grids": v1, "metadata": meta})
    with pytest.raises(InputError, match=r"previous must be a Plan, a dict of layers"):
        assign_codes(tiling3(), previous=[v1])


def test_carry_over_overflow_counts_retired_numbers():
    scheme = CodeScheme(grid_digits=1)  # base 1..8
    g = tiling3().iloc[:8]
    v1 = assign_codes(g, scheme=scheme).grids
    retired = pd.DataFrame({"code": [f"{C1}8"], "level": ["grid"]})
    moved = g.assign(geometry=g.geometry.translate(5000, 0), grid_id=[f"n{i}" for i in range(8)])
    with pytest.raises(InputError, match=r"community 420103001001 has base numbers up to 8 used or retired and needs 8 more"):
        assign_codes(moved, scheme=scheme, previous={"grids": v1, "retired": retired})


# --------------------------------------------------------------------------------------------------
# check


@pytest.mark.parametrize(
    ("codes", "kwargs", "match"),
    [
        ([f"{C1}001", f"{C1}001"], {}, r"grid code '420103001001001' appears 2 times"),
        ([f"{C1}01"], {}, r"grid code '42010300100101' has 14 characters; the scheme's grid codes have 15"),
        ([f"{C1}0A1"], {}, r"grid code '4201030010010A1' contains characters other than the digits 0-9"),
        ([f"{C1}001"], {"community_codes": [C2]}, r"has community part '420103001001' but lies in community '420103001002'"),
        ([f"{C1}001"], {"scheme": CodeScheme(prefix="9")}, r"does not start with the scheme prefix '9'"),
        ([f"{C1}000"], {}, r"ends in sequence 000; sequences start at 1"),
        ([None], {}, r"grid code is missing"),
        ([420103001001001], {}, r"is a int, not text"),
        ([f"{C1}00201"], {"level": "subgrid", "parent_codes": [f"{C1}001"]}, r"does not start with its grid code"),
        ([f"{C1}001１"], {"level": "subgrid"}, r"contains characters other than the digits"),  # full-width digit
    ],
)
def test_check_rejects(codes, kwargs, match):
    with pytest.raises(InputError, match=match):
        check(codes, **kwargs)


def test_find_code_problems_table():
    s = pd.Series([f"{C1}001", f"{C1}001", "x"], index=["a", "b", "c"])
    p = find_code_problems(s, community_codes=[C1, C2, C1])
    assert list(p.columns) == ["index", "code", "problem", "message"]
    assert p[["index", "problem"]].values.tolist() == [
        ["a", "duplicate"], ["b", "community_mismatch"], ["b", "duplicate"], ["c", "wrong_length"], ["c", "non_digit"]
    ]
    assert len(find_code_problems([f"{C1}001", f"{C1}002"])) == 0
    with pytest.raises(InputError, match=r"level 'block' is not one of"):
        find_code_problems([], level="block")
    with pytest.raises(InputError, match=r"community_codes has 1 values for 2 codes"):
        find_code_problems(["a", "b"], community_codes=[C1])


def test_check_lists_first_problems_and_count():
    bad = ["1", "2", "3", "4", "5"]
    with pytest.raises(InputError, match=r"check: 5 problems in 5 grid codes: .*; and 2 more$"):
        check(bad)


# --------------------------------------------------------------------------------------------------
# diff


def test_diff_reports_exactly_the_changed_grids():
    bld1 = layer(
        [Point(X0 + 500, Y0 + 450), Point(X0 + 350, Y0 + 350), Point(X0 + 50, Y0 + 850)],
        building_id=["c1", "c2", "nw"], grid_id=["g4", "g4", "g8"], households=[300, 100, 400],
    )
    v1 = assign_codes(tiling3(), buildings=bld1)
    g2 = split_centre(v1.grids)
    # and reshape the north-east cell: it gives its southern 5% strip to the cell below it
    ne, e = cell(2, 0), cell(2, 1)
    strip = cell(2, 0.95, h=0.05)
    g2.loc[g2.geometry.geom_equals(ne), "geometry"] = ne.difference(strip)
    g2.loc[g2.geometry.geom_equals(e), "geometry"] = e.union(strip)
    nw_id = g2[g2.geometry.geom_equals(cell(0, 0))]["grid_id"].iloc[0]
    west_id = g2[g2.geometry.geom_equals(cell(1, 1, w=0.5))]["grid_id"].iloc[0]
    east_id = g2[g2.geometry.geom_equals(cell(1.5, 1, w=0.5))]["grid_id"].iloc[0]
    bld2 = bld1.assign(grid_id=[east_id, west_id, nw_id])
    v2 = assign_codes(g2, buildings=bld2, previous={"grids": v1.grids, "buildings": v1.buildings}, retired_in="v2")

    d = diff_plans(v1.grids, v2.grids, old_buildings=v1.buildings, new_buildings=v2.buildings)
    assert d.crs == v2.grids.crs
    changed = d[d["status"] != "unchanged"]
    assert changed[["status", "grid_code"]].values.tolist() == [
        ["reshaped", f"{C1}003"],
        ["reshaped", f"{C1}006"],
        ["split", f"{C1}010"],
        ["split", f"{C1}011"],
        ["retired", f"{C1}005"],
    ]
    assert (d["status"] == "unchanged").sum() == 6
    row = d.set_index("grid_code")
    assert row.loc[f"{C1}005", "new_codes"] == f"{C1}010,{C1}011"
    assert row.loc[f"{C1}010", "old_codes"] == f"{C1}005"
    assert row.loc[f"{C1}005", "households_before"] == 400
    assert row.loc[f"{C1}010", ["households_before", "households_after"]].tolist() == [400, 100]
    assert row.loc[f"{C1}011", "households_after"] == 300
    assert row.loc[f"{C1}001", ["households_before", "households_after"]].tolist() == [400, 400]
    assert row.loc[f"{C1}005"].geometry.equals(cell(1, 1))  # retired rows carry the old geometry

    summary = summarize_diff(d)
    assert summary.to_dict("records") == [{
        "community_code": C1, "unchanged": 6, "recounted": 0, "recoded": 0, "reshaped": 2, "split": 2, "merged": 0, "new": 0, "retired": 1,
        "grids_before": 9, "grids_after": 10, "households_before": 800, "households_after": 800,
    }]


def test_diff_detects_merge_and_new_and_identical_plans():
    v1 = assign_codes(tiling3()).grids.assign(households=100)
    assert set(diff_plans(v1, v1)["status"]) == {"unchanged"}

    g = tiling3()
    north = g[g["grid_id"].isin(["g7", "g6"])]
    merged = layer([shapely.union_all(north.geometry.values)], community_code=C1, grid_id="m")
    g2 = gpd.GeoDataFrame(pd.concat([g[~g["grid_id"].isin(["g7", "g6"])], merged], ignore_index=True), crs=CRS)
    v2 = assign_codes(g2, previous={"grids": v1}).grids.assign(households=100)
    extra = layer([box(X0 + 900, Y0, X0 + 1200, Y0 + 300)], community_code=C1, grid_code=f"{C1}011", households=50)
    v2 = gpd.GeoDataFrame(pd.concat([v2, extra], ignore_index=True), crs=CRS)
    d = diff_plans(v1, v2)
    changed = d[d["status"] != "unchanged"][["status", "grid_code", "old_codes", "new_codes"]].values.tolist()
    assert changed == [
        ["merged", f"{C1}010", f"{C1}002,{C1}003", ""],
        ["new", f"{C1}011", "", ""],
        ["retired", f"{C1}002", "", f"{C1}010"],
        ["retired", f"{C1}003", "", f"{C1}010"],
    ]
    assert d.set_index("grid_code").loc[f"{C1}010", "households_before"] == 200
    assert pd.isna(d.set_index("grid_code").loc[f"{C1}011", "households_before"])


def test_diff_households_changed_inside_the_same_outline_is_recounted():
    v1 = assign_codes(tiling3()).grids.assign(households=100)
    v2 = v1.copy()
    v2.loc[v2["grid_code"] == f"{C1}004", "households"] = 130  # a new building inside grid 004
    d = diff_plans(v1, v2).set_index("grid_code")
    assert d.loc[f"{C1}004", "status"] == "recounted"
    assert d.loc[f"{C1}004", ["households_before", "households_after"]].tolist() == [100, 130]
    assert (d.drop(index=f"{C1}004")["status"] == "unchanged").all()
    s = summarize_diff(d.reset_index()).iloc[0]
    assert (s["recounted"], s["unchanged"], s["households_before"], s["households_after"]) == (1, 8, 900, 930)


def test_diff_a_grid_whose_code_alone_changed_is_recoded():
    """A grid of the same outline under a new code was `new` (its old code listed) and the old code `retired`: read
    as two changes. It is one row, `recoded`, old code to new; a grid moved as well as recoded is not."""
    v1 = assign_codes(tiling3()).grids.assign(households=100)
    v2 = v1.copy()
    v2.loc[v2["grid_code"] == f"{C1}004", "grid_code"] = f"{C1}020"
    v2.loc[v2["grid_code"] == f"{C1}020", "households"] = 110
    d = diff_plans(v1, v2)
    changed = d[d["status"] != "unchanged"][["status", "grid_code", "old_codes", "new_codes", "households_before",
                                             "households_after"]].values.tolist()
    assert changed == [["recoded", f"{C1}020", f"{C1}004", "", 100, 110]]
    s = summarize_diff(d).iloc[0]
    assert (s["recoded"], s["retired"], s["new"], s["grids_before"], s["grids_after"]) == (1, 0, 0, 9, 9)
    assert (s["households_before"], s["households_after"]) == (900, 910)
    # the outline moved by more than the tolerance as well: not recoded
    v3 = v2.copy()
    v3.loc[v3["grid_code"] == f"{C1}020", "geometry"] = v3.loc[v3["grid_code"] == f"{C1}020"].geometry.translate(5, 0)
    assert set(diff_plans(v1, v3)["status"]) - {"unchanged"} == {"new", "retired"}


def test_diff_in_geographic_crs_and_per_community():
    a = assign_codes(tiling3(C1)).grids
    b = assign_codes(tiling3(C2).assign(geometry=tiling3().geometry.translate(2000, 0))).grids
    v1 = gpd.GeoDataFrame(pd.concat([a, b], ignore_index=True), crs=CRS).to_crs(4490)
    v2 = v1[v1["grid_code"] != f"{C2}009"]
    d = diff_plans(v1, v2)
    assert d.crs.to_epsg() == 4490
    assert d[d["status"] == "retired"]["grid_code"].tolist() == [f"{C2}009"]
    assert d["area_after_m2"].dropna().round().eq(S * S).all()  # metric areas, not degrees
    s = summarize_diff(d).set_index("community_code")
    assert s.loc[C1, "unchanged"] == 9 and s.loc[C2, "retired"] == 1 and s.loc[C2, "grids_after"] == 8


def test_diff_errors():
    v1 = assign_codes(tiling3()).grids
    with pytest.raises(InputError, match=r"diff_plans: new_grids has no 'grid_code' column"):
        diff_plans(v1, v1.drop(columns="grid_code"))
    with pytest.raises(InputError, match=r"old_grids\['grid_code'\] is not unique"):
        diff_plans(v1.assign(grid_code="x"), v1)
