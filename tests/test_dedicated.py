"""Dedicated grids (专属网格) and the units register (issue 14).

The sample town is divided once per module with its enterprises layer; the rules, the spanning split,
point-only units and re-division are checked on small synthetic towns built here.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely import LineString, Point, box

import gridgeo
from gridgeo._errors import InputError, RulesError
from gridgeo.datasets import get_path, sample_town_layers
from gridgeo.dedicated import decide, normalise_units
from gridgeo.rules import get_rules, load_rules

SAMPLE = get_path("sample_town")
CRS = "EPSG:4547"  # CGCS2000 3-degree Gauss-Kruger CM 114E, metres
X0, Y0 = 534000.0, 3383000.0


# ------------------------------------------------------------------------------------------ sample town


@pytest.fixture(scope="module")
def town(tmp_path_factory):
    layers = {name: (SAMPLE, name) for name in sample_town_layers()}
    plan = gridgeo.divide(layers["communities"], layers["streets"], layers["buildings"],
                          villager_groups=layers["villager_groups"], enterprises=layers["enterprises"])
    path = tmp_path_factory.mktemp("town") / "town.gpkg"
    plan.to_file(path)
    return plan, path


def _unit(plan, name):
    u = plan.layers["units"]
    row = u[u["name"] == name]
    assert len(row) == 1, name
    return row.iloc[0]


def test_sample_town_dedicated_grids(town):
    plan, _ = town
    grids = plan.grids
    ded = grids[grids["kind"] == "dedicated"]
    dcodes = set(ded["grid_code"])
    # school, hospital, market and industrial park: dedicated grids of their own, coded 900-999
    for name in ("青石镇中学", "青石镇人民医院", "青石镇农贸市场", "青石工业园管理委员会"):
        u = _unit(plan, name)
        assert u["dedicated"] and u["grid_code"] in dcodes, name
        assert 900 <= int(u["grid_code"][-3:]) <= 999
    # the park's small firms: one clustered dedicated grid
    firms = [_unit(plan, n) for n in ("楚天食品有限公司", "鑫源包装材料有限公司")]
    assert {f["rule"] for f in firms} == {"cluster"} and len({f["grid_code"] for f in firms}) == 1
    assert firms[0]["employees"] + firms[1]["employees"] >= get_rules().dedicated_min_employees
    # small scattered units (residents' committees, a supermarket, a village clinic): ordinary grids
    for name in ("阳光超市", "桃园村卫生室", "光明社区居民委员会", "青石镇阳光物流有限公司二分公司"):
        u = _unit(plan, name)
        assert not u["dedicated"] and u["rule"] == "attached", name
        assert u["grid_code"] in set(grids.loc[grids["kind"] == "base", "grid_code"])
    # base grids keep the low codes
    assert grids.loc[grids["kind"] == "base", "grid_code"].str[-3:].astype(int).max() < 900


def test_sample_town_register_and_validation(town):
    plan, path = town
    units = plan.layers["units"]
    given = gpd.read_file(SAMPLE, layer="enterprises")
    assert len(units) == len(given)  # nothing dropped
    assert units["grid_code"].notna().all()
    # each unit's grid holds its point
    g = plan.grids.set_index("grid_code")
    for code, pt in zip(units["grid_code"], units.geometry, strict=True):
        assert g.geometry[code].buffer(1e-6).contains(pt)
    found = gridgeo.validate(path)
    assert (found["severity"] == "error").sum() == 0
    q = plan.metadata["quality"]["base"]
    assert q["in_range_share"] >= 0.98 and q["dedicated_grids"] == int((plan.grids["kind"] == "dedicated").sum())
    # households living in dedicated grids are reported
    f = plan.layers["findings"]
    ded = plan.grids[plan.grids["kind"] == "dedicated"]
    assert set(f.loc[f["type"] == "dedicated_households", "feature_id"]) == set(ded.loc[ded["households"] > 0, "grid_code"])
    # the plan's buildings: every one in a grid, those of dedicated grids without a small grid
    b = plan.buildings
    inside = b["community_code"].notna()
    assert b.loc[inside, "grid_code"].notna().all()
    assert b.loc[b["grid_code"].isin(ded["grid_code"]), "subgrid_code"].isna().all()
    meta = plan.metadata["units"]
    assert meta["units"] == len(units) and meta["per_category"]["school"]["units"] == 5


def _assert_exact_coverage(plan):
    """The grids layer (ordinary and dedicated grids) tiles each community with no overlap, exactly:
    as stored (EPSG:4490) and as ``gridgeo validate`` reads it (back in the plan's metric CRS)."""
    grids = plan.grids
    assert grids.crs.to_epsg() == 4490
    metric = grids.to_crs(plan.metadata["metric_crs"])
    for label, layer in (("stored", grids), ("metric", metric)):
        for code, d in layer.groupby("community_code"):
            geoms = d.geometry.to_numpy()
            assert shapely.is_valid(geoms).all(), (label, code)
            assert bool(shapely.coverage_is_valid(geoms, gap_width=0)), (label, code, sorted(set(d["kind"])))
            a, b = shapely.STRtree(geoms).query(geoms, predicate="intersects")
            keep = a < b
            shared = shapely.relate_pattern(geoms[a[keep]], geoms[b[keep]], "2********")
            assert not shared.any(), (label, code)


def test_sample_town_grids_are_an_exact_coverage(town):
    plan, path = town
    assert (plan.grids["kind"] == "dedicated").sum() >= 5
    _assert_exact_coverage(plan)
    _assert_exact_coverage(gridgeo.read_plan(path))
    # small grids nest in their ordinary grid exactly, dedicated grids have none
    sub = plan.subgrids.to_crs(plan.metadata["metric_crs"])
    base = plan.grids.to_crs(plan.metadata["metric_crs"]).set_index("grid_code")
    for code, d in sub.groupby("grid_code"):
        assert base.loc[code, "kind"] == "base"
        assert bool(shapely.coverage_is_valid(d.geometry.to_numpy(), gap_width=0))
        u = shapely.coverage_union_all(d.geometry.to_numpy())
        assert shapely.area(shapely.symmetric_difference(u, base.geometry[code])) < 1e-6 * base.geometry[code].area


@pytest.mark.parametrize("seed", [3, 14, 2026])
def test_random_units_keep_an_exact_coverage(seed):
    """Units at random buildings of the sample town (random categories and sizes): whatever dedicated
    grids they make, the grids layer stays an exact coverage and the plan validates."""
    layers = {name: (SAMPLE, name) for name in sample_town_layers()}
    b = gpd.read_file(SAMPLE, layer="buildings")
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(b), size=24, replace=False)
    cats = rng.choice(["school", "hospital", "market", "enterprise", "office_building", "government"], size=len(pick))
    units = gpd.GeoDataFrame({"name": [f"u{seed}-{i}" for i in range(len(pick))], "category": cats,
                              "employees": rng.integers(20, 900, size=len(pick))},
                             geometry=shapely.point_on_surface(b.geometry.to_numpy()[pick]), crs=b.crs)
    plan = gridgeo.divide(layers["communities"], layers["streets"], layers["buildings"],
                          villager_groups=layers["villager_groups"], enterprises=units)
    assert (plan.grids["kind"] == "dedicated").sum() >= 5
    _assert_exact_coverage(plan)
    assert (plan.validate()["severity"] == "error").sum() == 0


def test_report_and_info_show_units(town):
    from gridgeo.cli import main

    _, path = town
    import contextlib
    import io

    for cmd in (["report", str(path)], ["info", str(path)]):
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            assert main(cmd) == 0
        text = buf.getvalue()
        assert "Units (enterprises and institutions" in text
        assert "hospital" in text and "units per grid" in text


# ------------------------------------------------------------------------------------------ synthetic


def _units(rows, crs=CRS):
    df = pd.DataFrame(rows)
    geoms = df.pop("geometry")
    for c in ("name", "category", "employees", "site_area", "parent"):
        if c not in df:
            df[c] = None
    return gpd.GeoDataFrame(df, geometry=list(geoms), crs=crs)


def _comm(n=1):
    return gpd.GeoDataFrame({"code": [f"42010300100{i + 1}" for i in range(n)]},
                            geometry=[box(X0 + 1000 * i, Y0, X0 + 1000 * (i + 1), Y0 + 1000) for i in range(n)], crs=CRS)


def _decide(rows, rules=None):
    units, _ = normalise_units(_units(rows), _comm())
    d = decide(units, rules or get_rules())
    return dict(zip(units["name"], d["rule"], strict=True)), dict(zip(units["name"], d["group"], strict=True))


def P(dx, dy):  # noqa: N802
    return Point(X0 + dx, Y0 + dy)


def test_rule_employees_and_site_area():
    rules, _ = _decide([
        {"name": "big", "category": "enterprise", "employees": 300, "geometry": P(100, 100)},
        {"name": "small", "category": "enterprise", "employees": 299, "geometry": P(900, 900)},
        {"name": "site", "category": "enterprise", "employees": 10, "site_area": 40000, "geometry": P(500, 100)},
        {"name": "outline", "category": "other", "geometry": box(X0 + 100, Y0 + 600, X0 + 300, Y0 + 800)},  # 4 ha
    ])
    assert rules == {"big": "employees", "small": "attached", "site": "site_area", "outline": "site_area"}
    # thresholds come from the rules
    r2, _ = _decide([{"name": "big", "category": "enterprise", "employees": 300, "geometry": P(100, 100)}],
                    get_rules(dedicated_min_employees=301))
    assert r2["big"] == "attached"


def test_rule_category_thresholds():
    rows = [
        {"name": "hospital", "category": "医院", "employees": 150, "geometry": P(100, 100)},
        {"name": "clinic", "category": "hospital", "employees": 4, "geometry": P(900, 100)},
        {"name": "market", "category": "市场", "employees": 3, "geometry": P(500, 500)},
        {"name": "kindergarten", "category": "学校", "employees": 30, "geometry": P(100, 900)},
    ]
    rules, _ = _decide(rows)
    assert rules == {"hospital": "category", "clinic": "attached", "market": "category", "kindergarten": "attached"}
    rules, _ = _decide(rows, get_rules(dedicated_categories=("school:0",)))
    assert rules == {"hospital": "attached", "clinic": "attached", "market": "attached", "kindergarten": "category"}


def test_rule_cluster_by_distance_and_parent():
    rows = [
        # three firms 100 m apart: 360 employees together
        {"name": "a", "category": "enterprise", "employees": 120, "geometry": P(100, 100)},
        {"name": "b", "category": "enterprise", "employees": 120, "geometry": P(200, 100)},
        {"name": "c", "category": "enterprise", "employees": 120, "geometry": P(300, 100)},
        # two shops close together but too small together
        {"name": "s1", "category": "business_district", "employees": 20, "geometry": P(100, 800)},
        {"name": "s2", "category": "business_district", "employees": 20, "geometry": P(150, 800)},
        # firms in one office building far apart on the map (a parent ties them)
        {"name": "t1", "category": "enterprise", "employees": 200, "parent": "大厦", "geometry": P(800, 800)},
        {"name": "t2", "category": "enterprise", "employees": 200, "parent": "大厦", "geometry": P(800, 400)},
        # a firm whose parent is a dedicated unit joins it
        {"name": "park", "category": "park", "employees": 5, "geometry": P(600, 100)},
        {"name": "p1", "category": "enterprise", "employees": 10, "parent": "park", "geometry": P(900, 100)},
    ]
    rules, group = _decide(rows)
    assert [rules[k] for k in "abc"] == ["cluster"] * 3 and len({group[k] for k in "abc"}) == 1
    assert rules["s1"] == rules["s2"] == "attached" and group["s1"] == -1
    assert rules["t1"] == rules["t2"] == "cluster" and group["t1"] == group["t2"] != group["a"]
    assert rules["park"] == "category" and rules["p1"] == "parent" and group["p1"] == group["park"]
    # no clustering at distance 0 (parents still tie)
    rules, _ = _decide(rows, get_rules(dedicated_cluster_m=0.0))
    assert rules["a"] == "attached" and rules["t1"] == "cluster"


def test_employees_and_site_area_not_numbers_are_findings():
    # "inf" was read as infinitely many (dedicated) and "约x人" as unknown without a finding; "约300人" (an
    # approximate count, 约数) is read as 300, as households are, and said to be approximate
    units, found = normalise_units(_units([
        {"name": "a", "category": "enterprise", "employees": "约300人", "site_area": "3公顷", "geometry": P(100, 100)},
        {"name": "b", "category": "enterprise", "employees": "inf", "site_area": None, "geometry": P(200, 100)},
        {"name": "c", "category": "enterprise", "employees": "40", "site_area": "900", "geometry": P(300, 100)},
        {"name": "d", "category": "enterprise", "employees": "约x人", "site_area": None, "geometry": P(400, 100)},
        {"name": "e", "category": "enterprise", "employees": "1,200余人", "site_area": None, "geometry": P(500, 100)},
    ]), _comm())
    assert units.set_index("name")["employees"].isna().to_dict() == {"a": False, "b": True, "c": False, "d": True,
                                                                      "e": False}
    assert units.set_index("name")["employees"]["a"] == 300
    # "more than 1,200" (余, 多): the number it names, approximate
    assert units.set_index("name")["employees"]["e"] == 1200
    assert sorted(zip(found["type"], found["message"].str.extract(r"value '(.*?)'", expand=False))) == [
        ("unit_bad_employees", "inf"), ("unit_bad_employees", "约x人"), ("unit_bad_site_area", "3公顷"),
        ("unit_employees_approximate", "1,200余人"), ("unit_employees_approximate", "约300人")]
    assert (found.loc[found["type"] == "unit_employees_approximate", "severity"] == "info").all()
    # 300 employees: a dedicated grid of its own by the employees rule (dedicated_min_employees)
    assert decide(units, get_rules())["rule"].tolist().count("employees") == 2


def test_employees_in_a_nullable_column_are_numbers():
    # employees as Int64 (a frame after convert_dtypes) with a missing value raised "boolean value of NA is ambiguous"
    u = _units([
        {"name": "a", "category": "enterprise", "employees": 300, "geometry": P(100, 100)},
        {"name": "b", "category": "enterprise", "employees": None, "geometry": P(200, 100)},
    ])
    u["employees"] = pd.array([300, None], dtype="Int64")
    units, found = normalise_units(u, _comm())
    assert units.set_index("name")["employees"].fillna(-1).to_dict() == {"a": 300, "b": -1}
    assert dict(zip(units["name"], decide(units, get_rules())["rule"], strict=True)) == {"a": "employees", "b": "attached"}


def test_normalisation_findings_nothing_dropped():
    units, found = normalise_units(_units([
        {"name": "镇政府", "category": "党政机关", "employees": "160", "geometry": P(100, 100)},
        {"name": None, "category": "商务楼宇", "employees": 20, "geometry": P(200, 100)},
        {"name": "面包店", "category": "bakery", "employees": -3, "geometry": P(300, 100)},
        {"name": "远方", "category": "园区", "employees": None, "geometry": P(5000, 5000)},
    ]), _comm())
    assert len(units) == 4
    cats = dict(zip(units["category_given"], units["category"], strict=True))
    assert cats == {"党政机关": "government", "商务楼宇": "office_building", "bakery": "other", "园区": "park"}
    assert sorted(found["type"]) == ["unit_bad_employees", "unit_missing_name", "unit_outside_communities",
                                     "unit_unknown_category"]
    assert pd.isna(units.loc[units["name"] == "远方", "community_code"].iloc[0])
    # the same units in another row order get the same ids
    again, _ = normalise_units(_units([
        {"name": "远方", "category": "园区", "employees": None, "geometry": P(5000, 5000)},
        {"name": "镇政府", "category": "党政机关", "employees": "160", "geometry": P(100, 100)},
    ]), _comm())
    assert set(again["unit_id"]) <= set(units["unit_id"])


def test_rules_file_keys(tmp_path):
    p = tmp_path / "r.toml"
    p.write_text('dedicated_min_employees = 200\ndedicated_categories = ["hospital:0", "school:20"]\n'
                 'dedicated_cluster_m = 80.0\ndedicated_min_site_area_m2 = 10000.0\n', encoding="utf-8")
    r = load_rules(str(p))
    assert (r.dedicated_min_employees, r.dedicated_categories, r.dedicated_cluster_m) == (200, ("hospital:0", "school:20"), 80.0)
    with pytest.raises(RulesError, match="dedicated_categories"):
        get_rules(dedicated_categories=("bakery:3",))
    with pytest.raises(RulesError, match="dedicated_cluster_m"):
        get_rules(dedicated_cluster_m=-1.0)


# a synthetic town: two communities 600 m x 400 m side by side, streets every 100 m; 12 buildings of 100
# households per community (one per 200 m x 100 m strip of blocks)

def _town():
    comm = gpd.GeoDataFrame({"code": ["420103001001", "420103001002"], "name": ["东", "西"]},
                            geometry=[box(X0, Y0, X0 + 600, Y0 + 400), box(X0 + 600, Y0, X0 + 1200, Y0 + 400)], crs=CRS)
    lines = [LineString([(X0 + x, Y0), (X0 + x, Y0 + 400)]) for x in range(100, 1200, 100) if x != 600]
    lines += [LineString([(X0, Y0 + y), (X0 + 1200, Y0 + y)]) for y in (100, 200, 300)]
    streets = gpd.GeoDataFrame({"highway": ["residential"] * len(lines)}, geometry=lines, crs=CRS)
    pts, hh = [], []
    for x in range(50, 1200, 100):
        for y in (50, 150, 250, 350):
            pts.append(shapely.box(X0 + x - 10, Y0 + y - 10, X0 + x + 10, Y0 + y + 10))
            hh.append(50)
    buildings = gpd.GeoDataFrame({"households": hh}, geometry=pts, crs=CRS)
    return comm, streets, buildings


def _ded(plan):
    g = plan.grids
    return g[g["kind"] == "dedicated"]


def test_point_unit_takes_its_block():
    comm, streets, buildings = _town()
    units = _units([{"name": "医院", "category": "hospital", "employees": 500, "geometry": P(150, 250)}])
    plan = gridgeo.divide(comm, streets, buildings, enterprises=units)
    ded = _ded(plan).to_crs(CRS)
    assert len(ded) == 1
    block = box(X0 + 100, Y0 + 200, X0 + 200, Y0 + 300)
    geom = ded.geometry.iloc[0]
    assert abs(geom.area - block.area) < 1 and geom.symmetric_difference(block).area < 1
    assert int(ded["households"].iloc[0]) == 50 and ded["grid_code"].iloc[0] == "420103001001900"
    assert (plan.validate()["severity"] == "error").sum() == 0
    # the ordinary grids hold every other household of the community
    base = plan.grids[(plan.grids["kind"] == "base") & (plan.grids["community_code"] == "420103001001")]
    assert int(base["households"].sum()) == 24 * 50 - 50


def test_units_apart_in_one_block_take_a_piece_each():
    """Two large units at opposite corners of one block of flats: each takes the part of the block around
    its own building (two dedicated grids), the flats between stay in ordinary grids."""
    comm = gpd.GeoDataFrame({"code": ["420103001001"], "name": ["东"]}, geometry=[box(X0, Y0, X0 + 600, Y0 + 200)], crs=CRS)
    streets = gpd.GeoDataFrame({"highway": ["residential"]}, geometry=[LineString([(X0 + 300, Y0), (X0 + 300, Y0 + 200)])],
                               crs=CRS)
    fp = [box(X0 + x - 10, Y0 + y - 10, X0 + x + 10, Y0 + y + 10) for x in (50, 150, 250, 350, 450, 550) for y in (50, 150)]
    buildings = gpd.GeoDataFrame({"households": [60] * len(fp)}, geometry=fp, crs=CRS)
    units = _units([{"name": "甲", "category": "enterprise", "employees": 500, "geometry": P(50, 50)},
                    {"name": "乙", "category": "enterprise", "employees": 500, "geometry": P(250, 150)}])
    plan = gridgeo.divide(comm, streets, buildings, enterprises=units)
    ded = _ded(plan).to_crs(CRS)
    assert len(ded) == 2 and set(ded["households"]) == {60}
    for pt in (P(50, 50), P(250, 150)):
        assert (ded.geometry.contains(pt)).sum() == 1
    f = plan.layers["findings"]
    assert (f["type"] == "dedicated_whole_block").sum() == 0
    base = plan.grids[plan.grids["kind"] == "base"]
    assert int(base["households"].sum()) == 12 * 60 - 2 * 60
    _assert_exact_coverage(plan)
    assert (plan.validate()["severity"] == "error").sum() == 0


def test_site_spanning_two_communities_is_split():
    comm, streets, buildings = _town()
    site = box(X0 + 505, Y0 + 105, X0 + 695, Y0 + 195)  # most of a block on each side of the boundary x = 600
    units = _units([{"name": "工业园", "category": "park", "employees": 40, "geometry": site}])
    plan = gridgeo.divide(comm, streets, buildings, enterprises=units)
    ded = _ded(plan).to_crs(CRS)
    assert sorted(ded["community_code"]) == ["420103001001", "420103001002"]
    assert ded.geometry.union_all().symmetric_difference(box(X0 + 500, Y0 + 100, X0 + 700, Y0 + 200)).area < 1
    f = plan.layers["findings"]
    assert (f["type"] == "dedicated_site_split").sum() == 1
    assert (plan.validate()["severity"] == "error").sum() == 0
    u = plan.layers["units"]
    assert bool(u["dedicated"].iloc[0]) and u["grid_code"].iloc[0] in set(ded["grid_code"])


def test_cluster_takes_the_blocks_of_its_members_and_small_units_attach():
    comm, streets, buildings = _town()
    units = _units([
        {"name": "甲", "category": "enterprise", "employees": 150, "geometry": P(1050, 50)},
        {"name": "乙", "category": "enterprise", "employees": 160, "geometry": P(1150, 50)},
        {"name": "小店", "category": "business_district", "employees": 3, "geometry": P(650, 350)},
    ])
    plan = gridgeo.divide(comm, streets, buildings, enterprises=units)
    ded = _ded(plan).to_crs(CRS)
    assert len(ded) == 1 and abs(ded.geometry.iloc[0].area - 20000) < 1
    u = plan.layers["units"].set_index("name")
    assert u.loc["甲", "grid_code"] == u.loc["乙", "grid_code"] == ded["grid_code"].iloc[0]
    assert u.loc["小店", "rule"] == "attached" and not u.loc["小店", "dedicated"]
    assert u.loc["小店", "grid_code"] in set(plan.grids.loc[plan.grids["kind"] == "base", "grid_code"])
    assert (plan.validate()["severity"] == "error").sum() == 0


def _hospital_school_market():
    """A hospital and a school in community 420103001001, a market in 420103001002."""
    return _units([
        {"name": "医院", "category": "hospital", "employees": 500, "geometry": P(150, 250)},
        {"name": "学校", "category": "school", "employees": 80, "geometry": P(450, 50)},
        {"name": "市场", "category": "market", "employees": 30, "geometry": P(950, 350)},
    ])


def test_redivision_keeps_dedicated_codes(tmp_path):
    comm, streets, buildings = _town()
    units = _hospital_school_market()
    first = gridgeo.divide(comm, streets, buildings, enterprises=units)
    path = tmp_path / "v1.gpkg"
    first.to_file(path)
    # the city changed: more households in a block of the east community, far from the dedicated grids
    b2 = buildings.copy()
    b2.loc[b2.geometry.centroid.x.between(X0 + 500, X0 + 600) & b2.geometry.centroid.y.between(Y0 + 100, Y0 + 200), "households"] = 90
    for from_scratch in (False, True):
        second = gridgeo.divide(comm, streets, b2, enterprises=units, previous=path, from_scratch=from_scratch)
        assert (second.validate()["severity"] == "error").sum() == 0
        d1 = _ded(first).set_index("grid_code").geometry.to_crs(CRS)
        d2 = _ded(second).set_index("grid_code").geometry.to_crs(CRS)
        assert sorted(d1.index) == sorted(d2.index)
        for code in d1.index:
            assert d1[code].symmetric_difference(d2[code]).area < 1
        u1 = first.layers["units"].set_index("name")["grid_code"]
        u2 = second.layers["units"].set_index("name")["grid_code"]
        assert u1.to_dict() == u2.to_dict()
    # a unit gone: its code is retired, the others keep theirs
    third = gridgeo.divide(comm, streets, buildings, enterprises=units.iloc[[0, 2]], previous=path)
    kept = set(_ded(third)["grid_code"])
    assert kept == set(_ded(first)["grid_code"]) - {first.layers["units"].set_index("name").loc["学校", "grid_code"]}


def _kept_grids_unchanged(first, second):
    """Every grid ``second`` keeps from ``first`` (``grid_id`` ``K<code>``) has its old shape (within 1 m²)."""
    old = first.grids.set_index("grid_code").geometry.to_crs(CRS)
    new = second.grids.to_crs(CRS)
    kept = new[new["grid_id"].astype(str).str.startswith("K")]
    moved = {c: round(old[c].symmetric_difference(g).area) for c, g in zip(kept["grid_code"], kept.geometry)}
    assert all(a < 1 for a in moved.values()), f"kept grids reshaped (m²): {moved}"


def test_the_land_of_a_unit_gone_is_divided_again_not_given_to_another_dedicated_grid():
    """A re-division (动态调整) after a dedicated unit (专属网格) is gone: the land its grid held is ordinary land
    again, divided with the grids around it as a fresh plan divides it. It was given back to the dedicated grids
    (the rule for crumbs of ordinary land a dedicated grid encloses): with no dedicated grid left in the community
    (a market closed) it went to no grid, a gap of 10,000 m² and its building in no grid (`validate` errors);
    with another dedicated grid in it (a school gone, the hospital stays) it went to that one, far away, and then
    to a kept grid beside it, which kept its code with a new shape."""
    comm, streets, buildings = _town()
    units = _hospital_school_market()
    first = gridgeo.divide(comm, streets, buildings, enterprises=units)
    for gone, site in (("市场", P(950, 350)), ("学校", P(450, 50))):
        second = gridgeo.divide(comm, streets, buildings, enterprises=units[units["name"] != gone], previous=first)
        errors = second.validate().query("severity == 'error'")
        assert errors.empty, f"{gone} gone: {errors['message'].tolist()[:2]}"
        grids = second.grids.to_crs(CRS)
        at = grids[grids.geometry.contains(site)]
        assert list(at["kind"]) == ["base"], f"{gone} gone: its land is in {at['grid_code'].tolist()}"
        assert second.metadata["adjustment"]["pieces_given_back"] == 0
        _kept_grids_unchanged(first, second)
        ded = _ded(second).set_index("grid_code").geometry.to_crs(CRS)
        before = _ded(first).set_index("grid_code").geometry.to_crs(CRS)
        for code in ded.index:  # the dedicated grids left are as they were
            assert ded[code].symmetric_difference(before[code]).area < 1


def test_an_enclave_a_dedicated_grid_took_becomes_an_ordinary_grid_once_it_reaches_the_floor():
    """A block cut off from its community by a dedicated grid's site and too small for a grid (50 households) joins
    the dedicated grid. Its households grow to 350: a fresh plan makes it an ordinary grid of its own. The
    re-division gave it back to the dedicated grid (500 households in it), counting none of its households, as
    for a crumb the previous plan gave the dedicated grid with nothing changed; now a piece whose buildings
    changed is judged on its households now."""
    comm, streets, buildings = _town()
    site = shapely.union(box(X0 + 105, Y0 + 5, X0 + 195, Y0 + 195), box(X0 + 5, Y0 + 105, X0 + 195, Y0 + 195))
    units = _units([{"name": "工业园", "category": "park", "employees": 400, "geometry": site}])
    first = gridgeo.divide(comm, streets, buildings, enterprises=units)
    assert (first.layers["findings"]["type"] == "dedicated_absorbed_enclave").sum() == 1
    grown = buildings.copy()
    corner = grown.geometry.centroid.x.between(X0, X0 + 100) & grown.geometry.centroid.y.between(Y0, Y0 + 100)
    grown.loc[corner, "households"] = 350
    fresh = gridgeo.divide(comm, streets, grown, enterprises=units)
    second = gridgeo.divide(comm, streets, grown, enterprises=units, previous=first)
    for plan in (fresh, second):
        assert plan.validate().query("severity == 'error'").empty
        grids = plan.grids.to_crs(CRS)
        at = grids[grids.geometry.contains(P(50, 50))]
        assert list(at["kind"]) == ["base"] and list(at["households"]) == [350]
        assert list(_ded(plan)["households"]) == [150]
    _kept_grids_unchanged(first, second)


def test_without_units_no_units_layer():
    comm, streets, buildings = _town()
    plan = gridgeo.divide(comm, streets, buildings)
    assert "units" not in plan.layers and (plan.grids["kind"] == "base").all()


def test_api_columns_mapping():
    comm, streets, buildings = _town()
    units = gpd.GeoDataFrame({"DWMC": ["医院"], "LB": ["医院"], "RS": [500]}, geometry=[P(150, 250)], crs=CRS)
    plan = gridgeo.divide(comm, streets, buildings, enterprises=units,
                          columns={"enterprises": {"name": "DWMC", "category": "LB", "employees": "RS"}})
    u = plan.layers["units"]
    assert u["name"].tolist() == ["医院"] and u["category"].tolist() == ["hospital"] and bool(u["dedicated"].iloc[0])
    assert np.isclose(u["employees"].iloc[0], 500)


# ------------------------------------------------------------------------------------------ Lujiazui (real OSM)


@pytest.mark.slow
def test_wuhan_scenario_with_units(tmp_path):
    """The Wuhan scenario (real 江汉区 streets, SYNTHETIC communities and households) with its seeded
    units (``build_wuhan_scenario.py --units``): the ordinary grids are >= 98% in range, the grids layer
    is an exact coverage of every community, the stored plan validates with 0 errors."""
    from conftest import scenario_builder

    wh = scenario_builder("build_wuhan_scenario", skip="Wuhan scenario")
    sc = wh.build(tmp_path / "wuhan")
    units = wh.seeded_units(sc)
    assert len(units) > 400
    plan = gridgeo.divide(sc.communities, sc.streets, sc.buildings, enterprises=units, workers=2)
    grids = plan.grids
    assert (grids["kind"] == "dedicated").sum() > 50
    # the ordinary grids still meet the partition's targets
    assert plan.metadata["quality"]["base"]["in_range_share"] >= 0.98
    _assert_exact_coverage(plan)
    path = tmp_path / "wuhan_units.gpkg"
    plan.to_file(path)
    found = gridgeo.validate(path)
    assert (found["severity"] == "error").sum() == 0
    assert len(plan.layers["units"]) == len(units)


@pytest.mark.slow
def test_lujiazui_units_from_real_pois(tmp_path):
    """Office towers, hotels, banks, schools and the 南京东路 market street of the real Lujiazui data
    become dedicated grids or are attached to ordinary grids by the rules; the plan validates."""
    from conftest import scenario_builder

    lj = scenario_builder("build_lujiazui_scenario", skip="Lujiazui scenario")
    sc = lj.build(tmp_path / "lj")
    units = sc.units
    assert units is not None and len(units) == sc.summary["units"] > 50
    kinds = set(units["osm_kind"])
    assert {"hotel", "bank", "school"} <= kinds and (units["category"] == "office_building").sum() >= 10
    assert (units["parent"] == "南京东路步行街").sum() >= 1
    plan = gridgeo.divide(sc.communities, sc.streets, sc.buildings, enterprises=units)
    assert (plan.validate()["severity"] == "error").sum() == 0
    reg = plan.layers["units"]
    assert len(reg) == len(units)
    rules = get_rules()
    emp = reg["employees"].fillna(0)
    # every tower is far over the threshold: a dedicated grid by employees
    towers = reg[reg["category"] == "office_building"]
    assert towers["dedicated"].all() and (towers["rule"] == "employees").all()
    # every unit at or over the threshold, and every school from 50, is in a dedicated grid
    inside = reg["community_code"].notna()
    assert reg.loc[inside & (emp >= rules.dedicated_min_employees), "dedicated"].all()
    assert reg.loc[inside & (reg["category"] == "school") & (emp >= 50), "dedicated"].all()
    # banks and hotels: some clustered, and the small scattered ones attached to ordinary grids
    hb = reg[reg["category"] == "enterprise"]
    assert (hb["rule"] == "cluster").any() and (hb["rule"] == "attached").any()
    attached = reg[reg["rule"] == "attached"]
    assert (emp[attached.index] < rules.dedicated_min_employees).all() and not attached["dedicated"].any()
    assert set(attached["grid_code"]) <= set(plan.grids.loc[plan.grids["kind"] == "base", "grid_code"])
    # the ordinary grids still meet the targets
    assert plan.metadata["quality"]["base"]["in_range_share"] >= 0.98


def test_validate_checks_the_dedicated_range():
    from gridgeo.validate import validate_grids

    comm = _comm()
    grids = gpd.GeoDataFrame({"grid_code": ["420103001001001", "420103001001002", "420103001001900"],
                              "community_code": ["420103001001"] * 3, "kind": ["base", "dedicated", "dedicated"]},
                             geometry=[box(X0, Y0, X0 + 500, Y0 + 1000), box(X0 + 500, Y0, X0 + 1000, Y0 + 500),
                                       box(X0 + 500, Y0 + 500, X0 + 1000, Y0 + 1000)], crs=CRS)
    f = validate_grids(grids, communities=comm)
    bad = f[f["type"] == "code_wrong_range"]
    assert bad["feature_id"].tolist() == ["420103001001002"] and (bad["severity"] == "error").all()
    grids.loc[1, "grid_code"] = "420103001001901"
    assert (validate_grids(grids, communities=comm)["type"] == "code_wrong_range").sum() == 0


def test_row_order_does_not_change_the_plan():
    comm, streets, buildings = _town()
    units = _units([
        {"name": "甲", "category": "enterprise", "employees": 150, "geometry": P(1050, 50)},
        {"name": "乙", "category": "enterprise", "employees": 160, "geometry": P(1150, 50)},
        {"name": "医院", "category": "hospital", "employees": 500, "geometry": P(150, 250)},
        {"name": "小店", "category": "business_district", "employees": 3, "geometry": P(650, 350)},
    ])
    a = gridgeo.divide(comm, streets, buildings, enterprises=units)
    b = gridgeo.divide(comm, streets, buildings, enterprises=units.iloc[::-1].reset_index(drop=True))
    ua = a.layers["units"].sort_values("unit_id").drop(columns="geometry").reset_index(drop=True)
    ub = b.layers["units"].sort_values("unit_id").drop(columns="geometry").reset_index(drop=True)
    pd.testing.assert_frame_equal(ua, ub)
    ga = a.grids.sort_values("grid_code").reset_index(drop=True)
    gb = b.grids.sort_values("grid_code").reset_index(drop=True)
    assert ga["grid_code"].tolist() == gb["grid_code"].tolist()
    assert shapely.equals_exact(ga.geometry.to_numpy(), gb.geometry.to_numpy(), tolerance=1e-9).all()


def test_cli_enterprises_with_column_mapping(tmp_path, capsys):
    from gridgeo.cli import main

    comm, streets, buildings = _town()
    src = tmp_path / "town.gpkg"
    comm.to_file(src, layer="communities")
    streets.to_file(src, layer="streets")
    buildings.to_file(src, layer="buildings")
    units = gpd.GeoDataFrame({"DWMC": ["第一中学", "小卖部"], "HYLB": ["学校", "商圈"], "RS": [120, 2]},
                             geometry=[P(150, 250), P(650, 350)], crs=CRS)
    upath = tmp_path / "units.gpkg"
    units.to_file(upath, layer="units")
    out = tmp_path / "plan.gpkg"
    args = ["partition", "--communities", str(src), "--communities-layer", "communities", "--streets", str(src),
            "--streets-layer", "streets", "--buildings", str(src), "--buildings-layer", "buildings",
            "--enterprises", str(upath), "--columns", "enterprises.name=DWMC", "--columns", "enterprises.category=HYLB",
            "--columns", "enterprises.employees=RS", "--workers", "1", "--quiet", "--out", str(out)]
    assert main(args) == 0
    assert main(["validate", str(out)]) == 0
    plan = gridgeo.read_plan(out)
    u = plan.layers["units"].set_index("name")
    assert bool(u.loc["第一中学", "dedicated"]) and u.loc["第一中学", "grid_code"].endswith("900")
    assert not bool(u.loc["小卖部", "dedicated"]) and u.loc["小卖部", "rule"] == "attached"
    capsys.readouterr()
    # a mapping to a column the file lacks: one line, exit 2, nothing written
    bad = tmp_path / "bad.gpkg"
    assert main([*args[:-1], str(bad), "--columns", "enterprises.phone=DH"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "DH" in err[0] and not bad.exists()


def test_point_unit_takes_the_part_of_its_block_around_its_buildings(tmp_path):
    comm, streets, buildings = _town()
    # a school building (no households) beside the block's flats, in the block x 100-200, y 200-300
    school = gpd.GeoDataFrame({"households": [0], "use": ["school"]},
                              geometry=[box(X0 + 115, Y0 + 215, X0 + 135, Y0 + 285)], crs=CRS)
    b = gpd.GeoDataFrame(pd.concat([buildings, school], ignore_index=True), geometry="geometry", crs=CRS)
    units = _units([{"name": "中学", "category": "school", "employees": 80, "geometry": P(125, 250)}])
    plan = gridgeo.divide(comm, streets, b, enterprises=units)
    assert (plan.validate()["severity"] == "error").sum() == 0
    ded = _ded(plan).to_crs(CRS)
    assert len(ded) == 1 and int(ded["households"].iloc[0]) == 0
    geom = ded.geometry.iloc[0]
    block = box(X0 + 100, Y0 + 200, X0 + 200, Y0 + 300)
    assert geom.covers(school.geometry.iloc[0]) and geom.area < 0.9 * block.area
    assert block.buffer(1e-6).covers(geom)
    # the flats of the block stay in an ordinary grid
    bl = plan.buildings.to_crs(CRS)
    flats = bl[bl.geometry.centroid.distance(P(150, 250)) < 1]
    assert flats["grid_code"].isin(plan.grids.loc[plan.grids["kind"] == "base", "grid_code"]).all()
    # with dedicated_site_m = 0 the unit takes its whole block
    whole = gridgeo.divide(comm, streets, b, enterprises=units, rules=get_rules(dedicated_site_m=0.0))
    wd = _ded(whole).to_crs(CRS)
    assert abs(wd.geometry.iloc[0].area - block.area) < 1 and int(wd["households"].iloc[0]) == 50


def test_fitting_never_leaves_a_cut_off_piece_of_a_dedicated_grid_to_no_grid():
    """A dedicated grid the ordinary grids cut in two keeps its largest part; the other part goes to the
    neighbour sharing most edge with it, so the grids still cover the whole community (no gap). The ordinary
    grid's own stray strip (it was two pieces too) goes the same way: every grid is one polygon."""
    from gridgeo.dedicated import fit_dedicated

    community = gpd.GeoDataFrame({"code": ["c"]}, geometry=[box(0, 0, 30, 10)], crs=4547)
    ordinary = gpd.GeoDataFrame({"grid_id": ["g"], "community_code": ["c"], "area_m2": [0.0]},
                                geometry=[shapely.union(box(0, 0, 10, 10), box(20, 0, 21, 10))], crs=4547)
    dedicated = gpd.GeoDataFrame({"community_code": ["c"], "area_m2": [0.0]}, geometry=[box(10, 0, 30, 10)], crs=4547)
    ded, base, _ = fit_dedicated(dedicated, ordinary, community)
    assert ded.geometry.iloc[0].equals(box(10, 0, 30, 10))
    assert base.geometry.iloc[0].equals(box(0, 0, 10, 10))
    grids = [*ded.geometry, *base.geometry]
    assert shapely.coverage_is_valid(grids)
    assert shapely.union_all(grids).symmetric_difference(community.geometry.iloc[0]).area == 0


def _crumb_town():
    """Community c: an ordinary grid g (small grids g-1 west, g-2 a crumb round one building inside the
    dedicated grid, as a site's blocks leave it) and a dedicated grid d; community e in two parts, its ordinary
    grid in one piece in each."""
    communities = gpd.GeoDataFrame({"code": ["c", "e"]}, geometry=[
        box(0, 0, 30, 10), shapely.union(box(0, 20, 10, 30), box(20, 20, 30, 30))], crs=4547)
    crumb = box(24, 4, 26, 6)
    ordinary = gpd.GeoDataFrame({"grid_id": ["g", "h"], "community_code": ["c", "e"], "area_m2": [0.0, 0.0]},
                                geometry=[shapely.union(box(0, 0, 10, 10), crumb), communities.geometry.iloc[1]],
                                crs=4547)
    subgrids = gpd.GeoDataFrame({"subgrid_id": ["g-1", "g-2", "h-1"], "grid_id": ["g", "g", "h"],
                                 "community_code": ["c", "c", "e"], "area_m2": [0.0] * 3},
                                geometry=[box(0, 0, 10, 10), crumb, communities.geometry.iloc[1]], crs=4547)
    dedicated = gpd.GeoDataFrame({"grid_id": ["d"], "community_code": ["c"], "area_m2": [0.0]},
                                 geometry=[box(10, 0, 30, 10).difference(crumb)], crs=4547)
    return communities, ordinary, subgrids, dedicated


def test_a_crumb_of_an_ordinary_grid_inside_a_dedicated_grid_joins_it():
    """An ordinary grid left with a crumb inside its community's dedicated grid (the land round a building
    that is not the unit's) was stored as two polygons in one part of the community: `validate` reported
    multipart_grid, an error (fuzz town 2041, and about twenty more). Every grid and small grid is now one
    polygon in each part of its community: the crumb joins the grid round it (the building goes with its land,
    `_follow_fitted_land`), a small grid left with no land and no building is dropped, and a grid over a
    community in two parts stays in two parts."""
    from gridgeo.dedicated import fit_dedicated

    communities, ordinary, subgrids, dedicated = _crumb_town()
    ded, base, subs = fit_dedicated(dedicated, ordinary, communities, subgrids)
    assert ded.geometry.iloc[0].equals(box(10, 0, 30, 10))
    assert base.geometry.iloc[0].equals(box(0, 0, 10, 10))
    assert subs.geometry.iloc[0].equals(box(0, 0, 10, 10)) and subs.geometry.iloc[1].is_empty
    assert shapely.get_num_geometries(base.geometry.iloc[1]) == 2  # its community is two parts there
    assert shapely.coverage_is_valid([*ded.geometry, *base.geometry])
    from gridgeo.dedicated import _without_landless

    assert list(_without_landless(subs, np.array(["g-1", None], dtype=object))["subgrid_id"]) == ["g-1", "h-1"]
    assert list(_without_landless(subs, np.array(["g-2"], dtype=object))["subgrid_id"]) == ["g-1", "g-2", "h-1"]
    # the same whatever the order of the rows
    d2, b2, s2 = fit_dedicated(dedicated, ordinary.iloc[::-1], communities.iloc[::-1], subgrids.iloc[::-1])
    assert b2.geometry.loc[0].equals(base.geometry.iloc[0]) and s2.geometry.loc[1].is_empty


def test_a_small_grid_in_two_pieces_gives_the_smaller_to_a_small_grid_of_its_own_grid():
    """A small grid in two pieces inside its grid (multipart_grid on the subgrids layer): its smaller piece
    joins the small grid of the same grid it shares most edge with, not the dedicated grid beside it."""
    from gridgeo.dedicated import fit_dedicated

    community = gpd.GeoDataFrame({"code": ["c"]}, geometry=[box(0, 0, 30, 10)], crs=4547)
    ordinary = gpd.GeoDataFrame({"grid_id": ["g"], "community_code": ["c"], "area_m2": [0.0]},
                                geometry=[box(0, 0, 20, 10)], crs=4547)
    subgrids = gpd.GeoDataFrame({"subgrid_id": ["g-1", "g-2"], "grid_id": ["g", "g"], "community_code": ["c", "c"],
                                 "area_m2": [0.0, 0.0]},
                                geometry=[shapely.union(box(0, 0, 10, 10), box(15, 0, 20, 10)), box(10, 0, 15, 10)],
                                crs=4547)
    dedicated = gpd.GeoDataFrame({"community_code": ["c"], "area_m2": [0.0]}, geometry=[box(20, 0, 30, 10)], crs=4547)
    ded, base, subs = fit_dedicated(dedicated, ordinary, community, subgrids)
    assert subs.geometry.iloc[0].equals(box(0, 0, 10, 10)) and subs.geometry.iloc[1].equals(box(10, 0, 20, 10))
    assert base.geometry.iloc[0].equals(box(0, 0, 20, 10)) and ded.geometry.iloc[0].equals(box(20, 0, 30, 10))


def _school_in_flats():
    """A community of 400 households in eight blocks of flats round a school compound (a dedicated unit), walled
    in by them: the flats touch each other all round it, 2 m from it, so no lane between them reaches it."""
    comm = gpd.GeoDataFrame({"code": ["420103001001"], "name": ["东"]}, geometry=[box(X0, Y0, X0 + 400, Y0 + 400)], crs=CRS)
    ring = [(140, 140, 148, 148), (148, 140, 252, 148), (252, 140, 260, 148), (252, 148, 260, 252),
            (252, 252, 260, 260), (148, 252, 252, 260), (140, 252, 148, 260), (140, 148, 148, 252)]
    fp = [box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1) for x0, y0, x1, y1 in ring]
    buildings = gpd.GeoDataFrame({"households": [50] * len(fp)}, geometry=fp, crs=CRS)
    units = _units([{"name": "学校", "category": "school", "employees": 120,
                     "geometry": box(X0 + 150, Y0 + 150, X0 + 250, Y0 + 250)}])
    return comm, buildings, units


def test_grid_around_a_dedicated_site_is_reported_as_the_report_counts_it():
    """A school compound in the middle of a block of flats: the one ordinary grid wraps its dedicated grid.
    The partition reports it (grid_encloses_grid, saying why) and the quality table counts it: one figure."""
    comm, buildings, units = _school_in_flats()
    plan = gridgeo.divide(comm, None, buildings, enterprises=units)
    assert len(_ded(plan)) == 1 and (plan.grids["kind"] == "base").sum() == 1
    wrapped = plan.findings[plan.findings["type"] == "grid_encloses_grid"]
    assert len(wrapped) == 1 and "专属网格" in wrapped["message"].iloc[0]
    assert "the community's only ordinary grid" in wrapped["message"].iloc[0]  # why nothing could open it
    holes = plan.quality().loc["grids with a hole (wrapped around another grid)"]
    assert holes.iloc[0] == "1"
    found = plan.validate()
    assert (found["severity"] == "error").sum() == 0
    assert found.loc[found["type"] == "grid_encloses_grid", "feature_id"].tolist() == wrapped["feature_id"].tolist()


def test_validate_says_a_grid_is_wrapped_round_a_dedicated_site_and_names_it():
    """Fuzz towns 2003, 2038, ... (issue 16): ``gridgeo validate`` said only "wrapped around 1 hole held by other
    grids" for a grid round a school's dedicated grid, which reads like a defect of the division. It now names what
    the hole holds: the dedicated grid (专属网格), a site carved out inside the community's blocks."""
    comm, buildings, units = _school_in_flats()
    plan = gridgeo.divide(comm, None, buildings, enterprises=units)
    ded = _ded(plan)["grid_code"].iloc[0]
    found = plan.validate()
    msg = found.loc[found["type"] == "grid_encloses_grid", "message"]
    assert len(msg) == 1
    assert f"dedicated grid {ded} (专属网格)" in msg.iloc[0] and "inside the community's blocks" in msg.iloc[0]
    assert "\n" not in msg.iloc[0]


def test_a_kept_grid_keeps_its_findings_in_a_redivision():
    """Re-division (动态调整) after a change in the other community: the grid kept around the school's dedicated
    grid is still reported as wrapping it, and the findings of kept grids are those of the first plan."""
    comm = gpd.GeoDataFrame({"code": ["420103001001", "420103001002"], "name": ["东", "西"]},
                            geometry=[box(X0, Y0, X0 + 400, Y0 + 400), box(X0 + 400, Y0, X0 + 800, Y0 + 400)], crs=CRS)
    _, walled, units = _school_in_flats()  # the school walled in by its flats: no lane reaches it
    fp = [shapely.affinity.translate(f, dx) for dx in (0, 400) for f in walled.geometry]
    buildings = gpd.GeoDataFrame({"households": [50] * len(fp)}, geometry=fp, crs=CRS)
    v1 = gridgeo.divide(comm, None, buildings, enterprises=units)
    changed = buildings.copy()
    changed.loc[changed.index[-1], "households"] = 60  # in 420103001002 only
    v2 = gridgeo.divide(comm, None, changed, enterprises=units, previous=v1)

    def grid_findings(plan, code):
        f = plan.findings
        f = f[f["layer"].isin(["grids", "subgrids", "blocks"]) & (f["community_code"] == code)]
        return sorted(zip(f["type"], f["feature_id"].astype(str)))

    assert grid_findings(v2, "420103001001") == grid_findings(v1, "420103001001")
    assert ("grid_encloses_grid", "420103001001001") in grid_findings(v2, "420103001001")
    assert v2.quality().loc["grids with a hole (wrapped around another grid)"].iloc[0] == "1"


def test_regrid_around_a_dedicated_site_is_reported_after_redivision():
    """Re-division (动态调整) redraws the grid around the school: the re-divided grid is reported as the fresh one."""
    comm, buildings, units = _school_in_flats()
    first = gridgeo.divide(comm, None, buildings, enterprises=units)
    changed = buildings.copy()
    changed.loc[0, "households"] = 60  # one building's count changes: its grid is re-divided
    plan = gridgeo.divide(comm, None, changed, enterprises=units, previous=first)
    assert plan.metadata["adjustment"]["regions_repartitioned"] == 1
    base = plan.grids[plan.grids["kind"] == "base"]
    assert len(base) == 1 and int(base["households"].iloc[0]) == 410
    wrapped = plan.findings[plan.findings["type"] == "grid_encloses_grid"]
    assert len(wrapped) == 1 and "专属网格" in wrapped["message"].iloc[0]
    assert wrapped["feature_id"].iloc[0] == base["grid_code"].iloc[0]
    assert (plan.validate()["severity"] == "error").sum() == 0


def test_grid_round_a_dedicated_site_is_opened_where_another_grid_can_reach_it():
    """A school compound (a dedicated grid, 专属网格) amid 24 blocks of flats of 40 households: two ordinary
    grids. The division had one of them wrapped round the school. No corridor fits here (both grids hold
    480, and every block 40), so the two grids are divided afresh: neither has a hole (the community has
    none), both stay within 300–500 and the plan validates. (Corridors: tests/test_enclosures.py.)"""
    comm = gpd.GeoDataFrame({"code": ["420103001001"], "name": ["东"]}, geometry=[box(X0, Y0, X0 + 500, Y0 + 500)],
                            crs=CRS)
    pts = [(50 + 100 * i, 50 + 100 * j) for i in range(5) for j in range(5) if (i, j) != (1, 1)]
    fp = [box(X0 + x - 15, Y0 + y - 15, X0 + x + 15, Y0 + y + 15) for x, y in pts]
    buildings = gpd.GeoDataFrame({"households": [40] * len(fp)}, geometry=fp, crs=CRS)
    units = _units([{"name": "学校", "category": "school", "employees": 120,
                     "geometry": box(X0 + 120, Y0 + 120, X0 + 180, Y0 + 180)}])
    plan = gridgeo.divide(comm, None, buildings, enterprises=units)
    base = plan.grids[plan.grids["kind"] == "base"]
    assert len(_ded(plan)) == 1 and len(base) == 2
    assert base["households"].between(300, 500).all()
    assert not (plan.findings["type"] == "grid_encloses_grid").any()
    assert plan.quality().loc["grids with a hole (wrapped around another grid)"].iloc[0] == "0"
    assert all(len(list(g.interiors)) == 0 for g in base.to_crs(CRS).geometry)
    assert (plan.validate()["severity"] == "error").sum() == 0


def test_the_only_grid_round_a_dedicated_site_is_opened_by_a_lane_from_the_site_to_the_community_edge():
    """A school compound (a dedicated grid, 专属网格) in the middle of a community of 360 households: its one
    ordinary grid was wrapped round the school (reported: nothing else can reach the site; fuzz towns 2431, 2501,
    2534). A lane between the buildings now runs from the school to the community's edge and the school takes
    it: no grid has a hole, no building moves, households and small grids are as before, the plan validates."""
    comm = gpd.GeoDataFrame({"code": ["420103001001"], "name": ["东"]}, geometry=[box(X0, Y0, X0 + 200, Y0 + 200)],
                            crs=CRS)
    pts = [(30, 60), (30, 110), (30, 160), (170, 60), (170, 110), (170, 160), (70, 170), (100, 170), (130, 170)]
    fp = [box(X0 + x - 10, Y0 + y - 10, X0 + x + 10, Y0 + y + 10) for x, y in pts]
    buildings = gpd.GeoDataFrame({"households": [40] * len(fp)}, geometry=fp, crs=CRS)
    site = box(X0 + 70, Y0 + 70, X0 + 130, Y0 + 130)
    units = _units([{"name": "学校", "category": "school", "employees": 120, "geometry": site}])
    plan = gridgeo.divide(comm, None, buildings, enterprises=units)
    base, ded = plan.grids[plan.grids["kind"] == "base"].to_crs(CRS), _ded(plan).to_crs(CRS)
    assert len(base) == 1 and len(ded) == 1 and base["households"].tolist() == [360]
    assert not (plan.findings["type"] == "grid_encloses_grid").any()
    assert len(base.geometry.iloc[0].interiors) == 0
    school = ded.geometry.iloc[0]
    assert school.geom_type == "Polygon" and school.covers(site.buffer(-1e-3))
    # the lane reaches the community's edge, 4 or 8 m wide, between the buildings (none in it, none cut)
    lane = school.difference(site)
    assert lane.intersection(comm.geometry.iloc[0].exterior).length >= 4 - 1e-6
    assert 4 * 70 - 1 <= lane.area <= 8 * 75
    assert not any(lane.intersects(f) for f in fp)
    assert sorted(plan.subgrids["households"]) == [120, 120, 120]
    assert plan.buildings["grid_code"].eq(base["grid_code"].iloc[0]).all()
    assert (plan.validate()["severity"] == "error").sum() == 0


def test_a_lane_from_a_dedicated_site_to_a_neighbouring_grid_goes_to_the_dedicated_grid():
    """A school compound (a dedicated grid, 专属网格) amid the flats of the west block, whose grid wraps it; a street
    parts it from the east block, the other grid (the sample town's 正街社区, issue 16). The lane that opens the ring
    ran from the school to the east grid, which took it: a corridor 70 m into the west block (its Polsby–Popper
    0.785 → 0.577). The lane is the school's way out to the street: the dedicated grid takes it, the east grid
    keeps its block as drawn, no grid has a hole, households are unchanged, the plan validates."""
    comm = gpd.GeoDataFrame({"code": ["420103001001"], "name": ["东"]}, geometry=[box(X0, Y0, X0 + 400, Y0 + 200)],
                            crs=CRS)
    streets = gpd.GeoDataFrame({"highway": ["residential"]},
                               geometry=[LineString([(X0 + 200, Y0 - 10), (X0 + 200, Y0 + 210)])], crs=CRS)
    west = [(30, 40), (30, 100), (30, 160), (80, 30), (120, 30), (80, 170), (120, 170), (170, 40), (170, 160)]
    east = [(250 + 50 * i, 50 + 50 * j) for i in range(3) for j in range(3)]
    fp = [box(X0 + x - 10, Y0 + y - 10, X0 + x + 10, Y0 + y + 10) for x, y in west + east]
    buildings = gpd.GeoDataFrame({"households": [45] * len(fp)}, geometry=fp, crs=CRS)
    site = box(X0 + 70, Y0 + 70, X0 + 130, Y0 + 130)
    units = _units([{"name": "学校", "category": "school", "employees": 120, "geometry": site}])
    plan = gridgeo.divide(comm, streets, buildings, enterprises=units)
    base, ded = plan.grids[plan.grids["kind"] == "base"].to_crs(CRS), _ded(plan).to_crs(CRS)
    assert len(base) == 2 and len(ded) == 1 and sorted(base["households"]) == [405, 405]
    assert not (plan.findings["type"] == "grid_encloses_grid").any()
    assert all(g.geom_type == "Polygon" and len(g.interiors) == 0 for g in base.geometry)
    east_block = box(X0 + 200, Y0, X0 + 400, Y0 + 200)
    east_grid = base.geometry[base.geometry.representative_point().within(east_block)]
    assert len(east_grid) == 1
    assert abs(east_grid.iloc[0].area - east_block.area) < 1e-3  # its block, no lane in the west block
    assert east_grid.iloc[0].symmetric_difference(east_block).area < 1e-3
    school = ded.geometry.iloc[0]
    assert school.geom_type == "Polygon" and school.covers(site.buffer(-1e-3))
    # the school's lane reaches the street (the east grid's edge), 4 or 8 m wide, between the flats
    lane = school.difference(site)
    assert lane.intersection(east_block.exterior).length >= 4 - 1e-6
    assert 4 * 70 - 1 <= lane.area <= 8 * 75
    assert not any(lane.intersects(f) for f in fp)
    assert abs(school.area + base.area.sum() - comm.area.iloc[0]) < 1e-3
    assert (plan.validate()["severity"] == "error").sum() == 0


def test_a_villager_group_grid_round_a_dedicated_site_says_why_it_stays():
    """A rural community divided by its villager groups (村民小组) as drawn: the group round a school keeps it
    inside, and the finding says the grids follow the groups (not that a corridor was tried)."""
    comm = gpd.GeoDataFrame({"code": ["420103001001"], "name": ["东"], "kind": ["rural"]},
                            geometry=[box(X0, Y0, X0 + 500, Y0 + 500)], crs=CRS)
    pts = [(50 + 100 * i, 50 + 100 * j) for i in range(5) for j in range(5) if (i, j) != (1, 1)]
    fp = [box(X0 + x - 15, Y0 + y - 15, X0 + x + 15, Y0 + y + 15) for x, y in pts]
    buildings = gpd.GeoDataFrame({"households": [6] * len(fp)}, geometry=fp, crs=CRS)
    a = box(X0, Y0, X0 + 300, Y0 + 300)
    groups = gpd.GeoDataFrame({"name": ["一组", "二组"]},
                              geometry=[a, shapely.difference(box(X0, Y0, X0 + 500, Y0 + 500), a)], crs=CRS)
    units = _units([{"name": "学校", "category": "school", "employees": 120,
                     "geometry": box(X0 + 120, Y0 + 120, X0 + 180, Y0 + 180)}])
    plan = gridgeo.divide(comm, None, buildings, villager_groups=groups, enterprises=units)
    wrapped = plan.findings[plan.findings["type"] == "grid_encloses_grid"]
    assert len(wrapped) == 1 and "villager groups (村民小组)" in wrapped["message"].iloc[0]
    assert "corridor" not in wrapped["message"].iloc[0]


def test_a_unit_on_its_community_boundary_is_attached_to_a_grid_of_its_community():
    """Traffic signals and bus stops (OSM POIs) stand on the roads community boundaries follow. Such a point lay
    a fraction of a micrometre outside its community's grids (noded and snap-rounded), inside the neighbour's
    grid: the register left it 'attached' with no grid and no finding (11 of Lujiazui's raw POIs)."""
    from gridgeo.dedicated import Carved, register

    comm = gpd.GeoDataFrame({"code": ["420103001001", "420103001002"]},
                            geometry=[box(X0, Y0, X0 + 100, Y0 + 100), box(X0 + 100, Y0, X0 + 200, Y0 + 100)], crs=CRS)
    on_edge = Point(X0 + 100, Y0 + 37)
    units, _ = normalise_units(_units([{"name": "信号灯", "geometry": on_edge}]), comm)
    assert units["community_code"].iloc[0] == "420103001001"  # on the shared edge: the smaller code
    grids = gpd.GeoDataFrame({"grid_id": ["A-G001", "B-G001"], "grid_code": ["420103001001001", "420103001002001"],
                              "community_code": ["420103001001", "420103001002"], "kind": ["base", "base"]},
                             geometry=[box(X0, Y0, X0 + 100 - 3e-7, Y0 + 100), box(X0 + 100 - 3e-7, Y0, X0 + 200, Y0 + 100)],
                             crs=CRS)
    carved = Carved(grids=grids.iloc[:0], block_grid={}, unit_grid=np.array([None], dtype=object),
                    units=units.assign(rule="attached"), findings=gpd.GeoDataFrame(geometry=[], crs=CRS))
    out = register(carved, grids)
    assert out["grid_code"].tolist() == ["420103001001001"]
    assert out["community_code"].tolist() == ["420103001001"] and out["rule"].tolist() == ["attached"]


def test_openstreetmap_tag_values_are_read_as_categories():
    """A POI layer as OpenStreetMap gives it (its ``kind`` mapped as the category): the tag values of schools,
    clinics, police stations and market places name their category; a bus stop stays ``other``, with a finding."""
    from gridgeo.dedicated import normalise_units

    c = gpd.GeoDataFrame({"code": ["420103001001"]}, geometry=[box(0, 0, 100, 100)], crs=4547)
    kinds = ["kindergarten", "clinic", "police", "townhall", "marketplace", "university", "bus_stop"]
    u = gpd.GeoDataFrame({"name": [f"u{i}" for i in range(len(kinds))], "category": kinds},
                         geometry=[Point(10 + i, 10) for i in range(len(kinds))], crs=4547)
    out, found = normalise_units(u, c)
    assert dict(zip(out["name"], out["category"], strict=True)) == {
        "u0": "school", "u1": "hospital", "u2": "government", "u3": "government", "u4": "market", "u5": "school",
        "u6": "other"}
    assert found["type"].tolist() == ["unit_unknown_category"]


def test_dedicated_building_reaching_into_the_next_community_keeps_its_piece_there_whole():
    """A building whose enterprise is a dedicated grid (专属网格) in its community, drawn 40 m across the
    boundary into the next one: its piece there was cut between two small grids (`building_cut`, an error:
    `gridgeo partition` exits 1; found by the fuzz driver on Lujiazui's real buildings and POIs). The piece of
    an ordinary building across a community boundary is kept whole in one grid and small grid; so now is the
    piece of a building carved out into a dedicated grid."""
    def at(x0, y0, x1, y1):
        return box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)

    comm = gpd.GeoDataFrame({"code": ["420102001001", "420102001002"]},
                            geometry=[at(0, 0, 200, 200), at(200, 0, 400, 200)], crs=CRS)
    fp = [at(120, 80, 240, 120)]  # two thirds in the first community, the rest in the second
    fp += [at(x, y, x + 8, y + 8) for x in range(210, 390, 25) for y in range(10, 190, 25)
           if not (195 < x < 250 and 60 < y < 130)]
    fp += [at(x, y, x + 8, y + 8) for x in (20, 60) for y in (20, 160)]
    hh = [50] + [12] * (len(fp) - 5) + [100] * 4
    b = gpd.GeoDataFrame({"building_id": [f"b{i:02d}" for i in range(len(fp))], "households": hh},
                         geometry=fp, crs=CRS)
    ent = gpd.GeoDataFrame({"name": ["某公司"], "category": ["enterprise"], "employees": [800]},
                           geometry=[Point(X0 + 150, Y0 + 100)], crs=CRS)
    plan = gridgeo.divide(comm, None, b, enterprises=ent)
    found = plan.validate()
    assert int((found["severity"] == "error").sum()) == 0, found.loc[found["severity"] == "error", "message"].tolist()
    assert plan.buildings.set_index("building_id").loc["b00", "grid_code"] == "420102001001900"
    piece = at(200, 80, 240, 120)
    subs = plan.subgrids.to_crs(CRS)
    held = shapely.area(shapely.intersection(subs.geometry.to_numpy(), piece))
    assert held.max() == pytest.approx(piece.area, rel=1e-6)  # the piece in one small grid of the second community
    assert int(plan.grids["households"].sum()) == sum(hh)


def test_dedicated_site_cut_out_of_a_block_goes_around_a_neighbouring_building_reaching_into_it():
    """A building of one community drawn 45 m across the boundary into a block of the next, where an
    enterprise's dedicated grid (专属网格) takes only the part around its own building: that part was cut
    through the neighbouring building's piece (1,058 m² in the dedicated grid, 1,643 m² in an ordinary grid:
    `building_cut`, an error; found by the fuzz driver on Lujiazui's real buildings and POIs). The cut now goes
    around the piece, which lies whole in one grid."""
    def at(x0, y0, x1, y1):
        return box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)

    comm = gpd.GeoDataFrame({"code": ["420102001001", "420102001002"]},
                            geometry=[at(0, 0, 200, 200), at(200, 0, 400, 200)], crs=CRS)
    fp = [at(150, 70, 245, 130), at(262, 90, 282, 110)]  # across the boundary; the enterprise's building
    fp += [at(x, y, x + 8, y + 8) for x in range(280, 390, 25) for y in range(10, 190, 25)]
    fp += [at(x, y, x + 8, y + 8) for x in (210, 240) for y in (10, 35, 160, 185)]
    fp += [at(x, y, x + 8, y + 8) for x in (20, 60) for y in (20, 160)]
    hh = [40, 0] + [15] * (len(fp) - 6) + [100] * 4
    b = gpd.GeoDataFrame({"building_id": [f"b{i:02d}" for i in range(len(fp))], "households": hh},
                         geometry=fp, crs=CRS)
    ent = gpd.GeoDataFrame({"name": ["某公司"], "category": ["enterprise"], "employees": [800]},
                           geometry=[Point(X0 + 272, Y0 + 100)], crs=CRS)
    plan = gridgeo.divide(comm, None, b, enterprises=ent)
    found = plan.validate()
    assert int((found["severity"] == "error").sum()) == 0, found.loc[found["severity"] == "error", "message"].tolist()
    piece = at(200, 70, 245, 130)
    grids = plan.grids.to_crs(CRS)
    held = shapely.area(shapely.intersection(grids.geometry.to_numpy(), piece))
    assert held.max() == pytest.approx(piece.area, rel=1e-6)
    assert (plan.grids["kind"] == "dedicated").sum() == 1


def test_a_dedicated_grid_takes_one_piece_when_a_footprint_moved_out_of_its_block_cut_it_in_two():
    """A footprint with a courtyard open to the street, drawn mostly in the next block, moved whole into that
    block: the enterprise's block was left in two pieces and its dedicated grid (专属网格) was a multi-part
    grid (`multipart_grid`, an error: `gridgeo partition` exits 1; 36 of 405 towns of the fuzz driver with
    dedicated units)."""
    def at(x0, y0, x1, y1):
        return box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)

    comm = gpd.GeoDataFrame({"code": ["420102001001"]}, geometry=[at(0, 0, 400, 200)], crs=CRS)
    streets = gpd.GeoDataFrame({"name": ["甲路", "乙路"]},
                               geometry=[LineString([(X0 + x, Y0 - 10), (X0 + x, Y0 + 210)]) for x in (100, 200)],
                               crs=CRS)
    court = shapely.union_all([at(90, 60, 100, 62), at(90, 60, 92, 80), at(90, 78, 100, 80), at(100, 55, 140, 85)])
    fp = [court, at(20, 20, 40, 40)]
    fp += [at(x, y, x + 8, y + 8) for x in range(110, 390, 25) for y in range(10, 190, 25)
           if not (100 < x < 150 and 45 < y < 95)]
    hh = [40, 0] + [12] * (len(fp) - 2)
    b = gpd.GeoDataFrame({"building_id": [f"b{i:02d}" for i in range(len(fp))], "households": hh},
                         geometry=fp, crs=CRS)
    ent = gpd.GeoDataFrame({"name": ["某公司"], "category": ["enterprise"], "employees": [800]},
                           geometry=[Point(X0 + 30, Y0 + 30)], crs=CRS)
    plan = gridgeo.divide(comm, streets, b, enterprises=ent)
    found = plan.validate()
    assert int((found["severity"] == "error").sum()) == 0, found.loc[found["severity"] == "error", "message"].tolist()
    ded = plan.grids[plan.grids["kind"] == "dedicated"]
    assert len(ded) == 1 and shapely.get_num_geometries(ded.geometry.iloc[0]) == 1
    assert int(plan.grids["households"].sum()) == sum(hh)


def test_buildings_go_with_the_land_fit_dedicated_gives_to_an_ordinary_grid():
    """A piece of a dedicated grid cut off from its main piece joins the neighbouring ordinary grid
    (`fit_dedicated`), but its buildings kept the dedicated grid's code (by their block): `validate` found them
    carrying a grid they do not lie in (`building_code_mismatch`, an error; 7 buildings in a town of the fuzz
    driver). They go with their land now, a footprint unit whole, and the grids' counts follow."""
    from gridgeo.dedicated import _follow_fitted_land

    grids = gpd.GeoDataFrame({"grid_id": ["C-G001", "C-D001"], "community_code": ["C", "C"],
                              "kind": ["base", "dedicated"], "households": [300, 90], "buildings": [3, 3]},
                             geometry=[box(0, 0, 100, 100), box(100, 0, 200, 100)], crs=CRS)
    subs = gpd.GeoDataFrame({"subgrid_id": ["C-G001-01", "C-G001-02"], "grid_id": ["C-G001", "C-G001"],
                             "community_code": ["C", "C"], "households": [150, 150], "buildings": [2, 1]},
                            geometry=[box(0, 0, 50, 100), box(50, 0, 100, 100)], crs=CRS)
    # b0: an ordinary building; b1, b2: one footprint unit (overlapping outlines) on land the dedicated grid
    # gave away, carrying its code; b3: a dedicated grid's building where it belongs
    blds = gpd.GeoDataFrame({"building_id": ["b0", "b1", "b2", "b3"], "unit_id": ["u0", "u1", "u1", "u3"],
                             "community_code": ["C"] * 4, "households": [100, 30, 20, 40]},
                            geometry=[box(10, 10, 20, 20), box(60, 10, 70, 20), box(65, 15, 75, 25),
                                      box(150, 10, 160, 20)], crs=CRS)
    gid = np.array(["C-G001", "C-D001", "C-D001", "C-D001"], dtype=object)
    sid = np.array(["C-G001-01", None, None, None], dtype=object)
    g2, s2 = _follow_fitted_land(blds, gid, sid, grids, subs)
    assert gid.tolist() == ["C-G001", "C-G001", "C-G001", "C-D001"]
    # a building of C reaching mostly into the next community's grid stays in a grid of its own community
    nxt = pd.concat([grids, gpd.GeoDataFrame({"grid_id": ["E-G001"], "community_code": ["E"], "kind": ["base"],
                                              "households": [0], "buildings": [0]},
                                             geometry=[box(200, 0, 300, 100)], crs=CRS)], ignore_index=True)
    across = gpd.GeoDataFrame({"building_id": ["b4"], "unit_id": ["u4"], "community_code": ["C"], "households": [5]},
                              geometry=[box(190, 10, 240, 20)], crs=CRS)
    gid4 = np.array(["C-D001"], dtype=object)
    _follow_fitted_land(across, gid4, np.array([None], dtype=object), nxt, subs)
    assert gid4.tolist() == ["C-D001"]
    assert sid.tolist() == ["C-G001-01", "C-G001-02", "C-G001-02", None]
    assert g2["households"].tolist() == [350, 40] and g2["buildings"].tolist() == [5, 1]
    assert s2["households"].tolist() == [150, 200] and s2["buildings"].tolist() == [2, 3]
    assert grids["households"].tolist() == [300, 90]  # the frames given are not changed


def _small_school_amid_flats(side: float = 24.0):
    """The town of the test above with a small school compound (``side`` m square) amid the west block's flats:
    a lane from it to the east grid's street is long against the school itself."""
    comm = gpd.GeoDataFrame({"code": ["420103001001"], "name": ["东"]}, geometry=[box(X0, Y0, X0 + 400, Y0 + 200)],
                            crs=CRS)
    streets = gpd.GeoDataFrame({"highway": ["residential"]},
                               geometry=[LineString([(X0 + 200, Y0 - 10), (X0 + 200, Y0 + 210)])], crs=CRS)
    west = [(30, 40), (30, 100), (30, 160), (80, 30), (120, 30), (80, 170), (120, 170), (170, 40), (170, 160)]
    east = [(250 + 50 * i, 50 + 50 * j) for i in range(3) for j in range(3)]
    fp = [box(X0 + x - 10, Y0 + y - 10, X0 + x + 10, Y0 + y + 10) for x, y in west + east]
    buildings = gpd.GeoDataFrame({"households": [45] * len(fp)}, geometry=fp, crs=CRS)
    h = side / 2
    site = box(X0 + 100 - h, Y0 + 100 - h, X0 + 100 + h, Y0 + 100 + h)
    units = _units([{"name": "学校", "category": "school", "employees": 120, "geometry": site}])
    return comm, streets, buildings, units, site, fp


def _pp(geom) -> float:
    from gridgeo.partition.shapes import polsby_popper

    return float(polsby_popper(np.array([geom], dtype=object))[0])


def test_a_lane_that_would_leave_a_small_dedicated_grid_long_goes_to_the_neighbour():
    """Issue 16, session 37: a lane from a dedicated grid's site (专属网格) through the ring round it to a neighbouring
    grid went to the dedicated grid whatever it did to its shape. A school of 24 × 24 m amid the flats: its lane to
    the east grid's street is 88 m long, and with it the school fell to Polsby–Popper 0.23 (from 0.785) while the
    east grid, given the lane, stays at 0.54. The lane now goes to the dedicated grid only where its Polsby–Popper
    stays at 0.25 or more (or where the neighbour would be left less compact than the site): here the east grid
    takes it. No grid has a hole, households are unchanged, the plan validates."""
    comm, streets, buildings, units, site, fp = _small_school_amid_flats()
    plan = gridgeo.divide(comm, streets, buildings, enterprises=units)
    base, ded = plan.grids[plan.grids["kind"] == "base"].to_crs(CRS), _ded(plan).to_crs(CRS)
    assert len(base) == 2 and len(ded) == 1 and sorted(base["households"]) == [405, 405]
    assert not (plan.findings["type"] == "grid_encloses_grid").any()
    assert all(g.geom_type == "Polygon" and len(g.interiors) == 0 for g in base.geometry)
    school = ded.geometry.iloc[0]
    assert school.symmetric_difference(site).area < 1e-3  # its site, no lane
    assert _pp(school) > 0.78
    east_block = box(X0 + 200, Y0, X0 + 400, Y0 + 200)
    east = base.geometry[base.geometry.representative_point().within(east_block)].iloc[0]
    lane = east.difference(east_block)
    assert 4 * 80 <= lane.area <= 8 * 90 and lane.intersects(site.exterior)
    assert not any(lane.intersects(f) for f in fp)
    assert _pp(east) >= 0.25
    assert abs(school.area + base.area.sum() - comm.area.iloc[0]) < 1e-3
    assert (plan.validate()["severity"] == "error").sum() == 0


def test_a_dedicated_grid_under_the_compactness_floor_gets_a_finding_naming_its_site():
    """Dedicated grids (专属网格) were never measured for shape: a market hall's site of 150 × 10 m along the
    community's edge became a dedicated grid of Polsby–Popper 0.18 with no finding. It now gets ``grid_not_compact``
    (info), saying that its site itself is that long."""
    comm = gpd.GeoDataFrame({"code": ["420103001001"], "name": ["东"]}, geometry=[box(X0, Y0, X0 + 400, Y0 + 200)],
                            crs=CRS)
    pts = [(50 + 100 * i, 60 + 70 * j) for i in range(4) for j in range(2)]
    fp = [box(X0 + x - 10, Y0 + y - 10, X0 + x + 10, Y0 + y + 10) for x, y in pts]
    buildings = gpd.GeoDataFrame({"households": [50] * len(fp)}, geometry=fp, crs=CRS)
    site = box(X0 + 100, Y0, X0 + 250, Y0 + 10)
    units = _units([{"name": "市场", "category": "market", "employees": 120, "geometry": site}])
    plan = gridgeo.divide(comm, None, buildings, enterprises=units)
    ded = _ded(plan)
    assert len(ded) == 1
    code = ded["grid_code"].iloc[0]
    assert _pp(ded.to_crs(CRS).geometry.iloc[0]) < 0.25
    found = plan.findings[(plan.findings["type"] == "grid_not_compact") & (plan.findings["feature_id"] == code)]
    assert len(found) == 1 and found["severity"].iloc[0] == "info"
    msg = found["message"].iloc[0]
    assert f"dedicated grid {code}" in msg and "Polsby–Popper 0.184" in msg
    assert "its site as carved" in msg and "has Polsby–Popper 0.18" in msg
    assert "grid_not_compact" in plan.grids.loc[plan.grids["grid_code"] == code, "flags"].iloc[0].split(",")


def test_a_grid_wrapped_round_a_walled_in_site_says_why_no_lane_opens_it():
    """Fuzz towns 2637 and 2645 (issue 16): a grid wrapped round a dedicated grid's site (专属网格) was reported as
    "neither a corridor to another grid nor a division afresh opened them", never why the lanes from the site (to a
    neighbouring grid, to the community's edge) failed. The school walled in by its flats 2 m off: the finding now
    says that none of the straight lanes tried from the site passes 1 m clear of every footprint."""
    comm, buildings, units = _school_in_flats()
    plan = gridgeo.divide(comm, None, buildings, enterprises=units)
    wrapped = plan.findings[plan.findings["type"] == "grid_encloses_grid"]
    assert len(wrapped) == 1
    msg = wrapped["message"].iloc[0]
    assert "it holds a dedicated grid (专属网格)" in msg
    assert "nor a lane between the buildings: no other grid borders the grid round it; none of the " in msg
    assert "straight lanes 8 or 4 m wide tried from the site, to the community's edge, passes 1 m clear of every " \
           "footprint: each would cut a building" in msg
    # session 40: nor a lane with bends (the flats touch each other all round the school)
    assert msg.endswith("and no lane with bends between the buildings, even 2 m wide, passes 1 m clear of every "
                        "footprint; redraw by hand if needed")


def _school_behind_a_screen():
    """The walled-in school of :func:`_school_in_flats` (120 households) with a gap of 8 m in its east row of flats
    and a screen block 8 m beyond the gap: no straight lane 4 m wide and 1 m clear of the footprints leaves the
    school (through the gap it meets the screen; the gap is too narrow for a slanting one), a lane bending round
    the screen does."""
    comm = gpd.GeoDataFrame({"code": ["420103001001"], "name": ["东"]}, geometry=[box(X0, Y0, X0 + 400, Y0 + 400)], crs=CRS)
    ring = [(140, 140, 148, 148), (148, 140, 252, 148), (252, 140, 260, 148), (252, 148, 260, 196),
            (252, 204, 260, 252), (252, 252, 260, 260), (148, 252, 252, 260), (140, 252, 148, 260),
            (140, 148, 148, 252), (268, 170, 276, 230)]
    fp = [box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1) for x0, y0, x1, y1 in ring]
    buildings = gpd.GeoDataFrame({"households": [12] * len(fp)}, geometry=fp, crs=CRS)
    site = box(X0 + 150, Y0 + 150, X0 + 250, Y0 + 250)
    units = _units([{"name": "学校", "category": "school", "employees": 120, "geometry": site}])
    return comm, buildings, units, site, fp


def test_a_site_with_no_straight_way_out_gets_a_lane_with_bends():
    """Fuzz towns 2637 and 3438 (issue 16, session 40): a grid wrapped round a dedicated grid's site (专属网格) stayed
    wrapped where the buildings round the site left no STRAIGHT lane 1 m clear of them, though a lane with bends
    between them reached the community's edge. The school behind a screen block: the shortest lane with bends
    (4 m wide, round the screen) now opens the ring and the school takes it; no grid has a hole, no building is
    cut or moved, the plan validates."""
    comm, buildings, units, site, fp = _school_behind_a_screen()
    plan = gridgeo.divide(comm, None, buildings, enterprises=units)
    assert not (plan.findings["type"] == "grid_encloses_grid").any()
    base, ded = plan.grids[plan.grids["kind"] == "base"].to_crs(CRS), _ded(plan).to_crs(CRS)
    assert len(base) == 1 and base["households"].tolist() == [120]
    assert all(len(part.interiors) == 0 for g in base.geometry for part in shapely.get_parts(g))
    school = ded.geometry.iloc[0]
    lane = school.difference(site)
    assert school.distance(comm.geometry.iloc[0].boundary) < 1e-6  # the school's way out to the edge
    assert min(lane.distance(f) for f in fp) > 1.0 - 1e-6
    assert 4 * 150 < lane.area < 4 * 200  # 4 m wide, from the gap round the screen to the east edge
    assert lane.bounds[1] < Y0 + 170 - 1  # round the screen's south end: it bends
    assert abs(school.area + base.area.sum() - comm.area.iloc[0]) < 1e-3
    assert (plan.validate()["severity"] == "error").sum() == 0


def test_an_enterprise_registers_industry_is_read_as_the_units_category():
    """An enterprise register's ``行业类别`` (industry, GB/T 4754 sections, with or without their letter) was not read:
    every unit ``other``, each with a warning. It is now the category where the layer has no ``单位类别`` (that one
    wins beside it): 教育 a school, 卫生和社会工作 a hospital, 公共管理 a government unit, other sections enterprises.
    A column holding nothing but categories under a name not read (``类型``) is said once, naming the mapping."""
    from gridgeo.io import layer_sources, read_inputs

    comm = _comm()
    reg = gpd.GeoDataFrame({"单位名称": ["机械厂", "一中", "区医院", "街道办", "超市"],
                            "行业类别": ["C 制造业", "P教育", "卫生和社会工作", "公共管理、社会保障和社会组织", "批发和零售业"],
                            "职工人数": [300, 80, 120, 40, 12]},
                           geometry=[P(100 * i + 100, 100) for i in range(5)], crs=CRS)
    inputs = read_inputs(layer_sources({"communities": comm, "enterprises": reg}))
    units, found = normalise_units(inputs.enterprises, comm)
    assert dict(zip(units["name"], units["category"], strict=True)) == {
        "机械厂": "enterprise", "一中": "school", "区医院": "hospital", "街道办": "government", "超市": "enterprise"}
    assert "unit_unknown_category" not in set(found["type"])
    assert any("'行业类别' read as category" in m for m in inputs.findings["message"])
    # beside 单位类别, 单位类别 is the category
    both = reg.assign(单位类别=["企业", "学校", "医院", "党政机关", "市场"])
    units, _ = normalise_units(read_inputs(layer_sources({"communities": comm, "enterprises": both})).enterprises, comm)
    assert units.set_index("name").loc["超市", "category"] == "market"
    # categories under a name not read: one warning naming the column and the mapping, the units kept as other
    typed = reg.drop(columns="行业类别").assign(类型=["企业", "学校", "医院", "党政机关", "企业"])
    units, found = normalise_units(read_inputs(layer_sources({"communities": comm, "enterprises": typed})).enterprises,
                                   comm)
    said = found[found["type"] == "category_column_unread"]
    assert len(said) == 1 and said["message"].iloc[0].endswith("map it with --columns enterprises.category=类型")
    assert (units["category"] == "other").all()
    mapped = read_inputs(layer_sources({"communities": comm, "enterprises": typed},
                                       columns={"enterprises": {"category": "类型"}})).enterprises
    units, found = normalise_units(mapped, comm)
    assert "category_column_unread" not in set(found["type"]) and units.set_index("name").loc["一中", "category"] == "school"


def test_of_two_industry_columns_the_one_read_as_categories_for_most_rows_is_the_category():
    """A register with two industry columns (``行业门类``, the section, beside ``所属行业``, the detailed class) had
    neither read: "could each be category; none was used", every unit ``other``. The one whose values read as unit
    categories for the most rows is the category (an info finding says which and why); two reading alike in every row
    are one answer; a true tie is a one-line error naming both columns and the ``--columns`` fix."""
    from gridgeo.io import layer_sources, read_inputs

    comm = _comm()
    reg = gpd.GeoDataFrame({"单位名称": ["机械厂", "一中", "区医院"],
                            "行业门类": ["C 制造业", "P 教育", "Q 卫生和社会工作"],
                            "所属行业": ["汽车零部件及配件制造", "普通高中教育", "综合医院"]},
                           geometry=[P(100 * i + 100, 100) for i in range(3)], crs=CRS)
    for layer in (reg, reg[["单位名称", "所属行业", "行业门类", "geometry"]]):  # whichever comes first
        inputs = read_inputs(layer_sources({"communities": comm, "enterprises": layer}))
        units, found = normalise_units(inputs.enterprises, comm)
        assert dict(zip(units["name"], units["category"], strict=True)) == {
            "机械厂": "enterprise", "一中": "school", "区医院": "hospital"}
        said = [m for m in inputs.findings["message"] if "read as category" in m]
        assert len(said) == 1 and "'行业门类' read as category" in said[0] and "3 of 3" in said[0], said
        assert "column_alias_ambiguous" not in set(inputs.findings["type"])
    alike = reg.assign(所属行业=["制造业", "教育", "卫生和社会工作"])
    units, _ = normalise_units(read_inputs(layer_sources({"communities": comm, "enterprises": alike})).enterprises, comm)
    assert units.set_index("name").loc["一中", "category"] == "school"
    tie = reg.assign(所属行业=["制造业", "教育", "批发和零售业"])  # the hospital a shop in one: which is meant is the user's
    with pytest.raises(InputError, match=r"^enterprises: columns \['行业门类', '所属行业'\] each read as a unit category "
                                         r"for 3 rows; say which is the category with --columns "
                                         r"enterprises.category=行业门类 \(or 所属行业\)$"):
        read_inputs(layer_sources({"communities": comm, "enterprises": tie}))
    mapped = read_inputs(layer_sources({"communities": comm, "enterprises": tie},
                                       columns={"enterprises": {"category": "所属行业"}})).enterprises
    units, _ = normalise_units(mapped, comm)
    assert units.set_index("name").loc["区医院", "category"] == "enterprise"
