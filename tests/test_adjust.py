"""Dynamic adjustment (动态调整) on the sample town: re-division keeps codes and grids away from a change.

Scenario series of issue 4: add 3 buildings; demolish a compound; add a street; grow one community by a
block. For each: at least 90% of the grids away from the change keep their code and geometry, retired
codes are never reused, and the diff reports exactly the grids that changed.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely import LineString

from gridgeo import InputError, divide
from gridgeo.adjust import _grid_of, feasible
from gridgeo.codes import diff_plans
from gridgeo.datasets import get_path
from gridgeo.footprints import assign_to_zones
from gridgeo.io import Inputs, LayerSource, read_inputs
from gridgeo.pipeline import build_plan
from gridgeo.plan import Plan
from gridgeo.validate import validate_plan

METRIC = 4547
LAYERS = ("communities", "streets", "buildings")


@pytest.fixture(scope="module")
def town():
    path = get_path("sample_town")
    inputs = read_inputs({n: LayerSource(path, layer=n) for n in LAYERS})
    # urban communities only: keeps the module fast; the rural profile is tested elsewhere
    inputs.communities = inputs.communities[inputs.communities["kind"] != "rural"].reset_index(drop=True)
    return inputs


@pytest.fixture(scope="module")
def v1(town, tmp_path_factory):
    path = tmp_path_factory.mktemp("adjust") / "v1.gpkg"
    build_plan(town, shift_check=False).write(path)
    return Plan.read(path)


def _rerun(inputs, previous, tmp_path, name="v2.gpkg", **kw):
    plan = build_plan(inputs, previous=previous, shift_check=False, **kw)
    plan.write(tmp_path / name)
    return Plan.read(tmp_path / name), plan.metadata


def _copy(inputs, **changes):
    new = Inputs(
        communities=inputs.communities, streets=inputs.streets, buildings=inputs.buildings,
        findings=inputs.findings, fingerprints=dict(inputs.fingerprints),
    )
    for k, v in changes.items():
        setattr(new, k, v)
    return new


def _kept_share(old: Plan, new: Plan, changed_area) -> tuple[float, int]:
    """Share of old grids away from ``changed_area`` (metric) that keep code and geometry."""
    og = old["grids"].to_crs(METRIC)
    ng = new["grids"].to_crs(METRIC).set_index("grid_code")
    away = ~og.geometry.intersects(changed_area.buffer(1.0))
    keep = 0
    for code, geom in zip(og.loc[away, "grid_code"], og.geometry[away], strict=True):
        if code in ng.index and shapely.symmetric_difference(geom, ng.geometry[code]).area < 1.0:
            keep += 1
    return keep / max(int(away.sum()), 1), int(away.sum())


def _assert_codes_never_reused(old: Plan, new: Plan, meta: dict) -> None:
    retired = {r["code"] for r in meta.get("retired_codes", []) if r.get("level") == "grid"}
    assert retired.isdisjoint(set(new["grids"]["grid_code"]))
    old_codes = set(old["grids"]["grid_code"])
    assert retired <= old_codes | {r["code"] for r in old.metadata.get("retired_codes", [])}


def _assert_diff_exact(old: Plan, new: Plan) -> pd.DataFrame:
    """The diff lists as changed exactly the grids whose geometry changed or that appeared/disappeared."""
    d = diff_plans(old["grids"], new["grids"], old_buildings=old["buildings"], new_buildings=new["buildings"])
    og = old["grids"].to_crs(METRIC).set_index("grid_code").geometry
    ng = new["grids"].to_crs(METRIC).set_index("grid_code").geometry
    truly_changed = {c for c in og.index if c not in ng.index or shapely.symmetric_difference(og[c], ng[c]).area > 1.0}
    truly_changed |= {c for c in ng.index if c not in og.index}
    oh = old["grids"].set_index("grid_code")["households"]
    nh = new["grids"].set_index("grid_code")["households"]
    recounted = {c for c in ng.index if c in og.index and c not in truly_changed and oh[c] != nh[c]}
    truly_changed |= recounted
    assert set(d.loc[d["status"] == "recounted", "grid_code"]) == recounted
    reported = set()
    for row in d[d["status"] != "unchanged"].itertuples():
        for col in ("grid_code", "old_codes", "new_codes"):
            v = getattr(row, col, None)
            if isinstance(v, str) and v:
                reported |= set(v.replace(";", ",").split(","))
    assert reported == truly_changed
    return d


def test_feasible_counts():
    assert [feasible(h, 300, 500) for h in (0, 299, 300, 500, 501, 599, 600, 1000)] == [
        True, False, True, True, False, False, True, True]


def test_building_across_communities_counts_in_a_grid_of_its_own_community():
    """A building redrawn (same id and households) across the boundary of communities A and B: 60% of it now
    lies in B, its community, split between B's two grids, and 40% in the one grid of A, where the previous
    plan had it: its largest share in any one grid. Re-division counts it among B's grids only; counted in
    A's grid, that grid would look unchanged and be kept with a building of another community in it."""
    a, b = "420103001001", "420103001002"

    def box(x0, y0, x1, y1):
        return shapely.box(500_000 + x0, 3_400_000 + y0, 500_000 + x1, 3_400_000 + y1)

    communities = gpd.GeoDataFrame({"code": [a, b], "name": ["A", "B"], "kind": ["urban", "urban"]},
                                   geometry=[box(0, 0, 100, 100), box(100, 0, 200, 100)], crs=METRIC)
    street = LineString([(500_100, 3_400_050), (500_200, 3_400_050)])  # divides B into two blocks
    streets = gpd.GeoDataFrame({"name": ["lane"], "highway": ["residential"]}, geometry=[street], crs=METRIC)
    buildings = gpd.GeoDataFrame({"building_id": ["a1", "s", "b1", "b2"], "households": [330, 20, 350, 350]},
                                 geometry=[box(20, 40, 40, 60), box(80, 40, 105, 60), box(160, 10, 180, 30),
                                           box(160, 70, 180, 90)], crs=METRIC)
    v1 = divide(communities, streets, buildings)
    assert v1["buildings"].set_index("building_id").loc["s", "community_code"] == a
    grids = v1["grids"].to_crs(METRIC)
    assert grids["community_code"].tolist().count(b) == 2

    moved = buildings.copy()
    moved.loc[1, "geometry"] = box(86, 40, 121, 60)
    share = shapely.area(shapely.intersection(grids.geometry.to_numpy(), moved.geometry.iloc[1]))
    assert grids["community_code"].iloc[share.argmax()] == a and share.max() < 0.5 * moved.area.iloc[1]
    # the one assignment among the grids of the building's own community
    gi = _grid_of(moved.assign(community_code=[a, b, b, b]), grids.geometry.to_numpy(), grids["grid_code"].to_numpy(),
                  v1["buildings"], grids["community_code"].to_numpy())
    assert grids["community_code"].iloc[gi].tolist() == [a, b, b, b]

    v2 = divide(communities, streets, moved, previous=v1)
    s = v2["buildings"].set_index("building_id").loc["s"]
    assert s["community_code"] == b
    assert v2["grids"].set_index("grid_code").loc[s["grid_code"], "community_code"] == b
    assert not (v2.validate()["severity"] == "error").any()


def test_footprint_mostly_outside_the_communities_keeps_its_grid_when_re_divided():
    """A footprint drawn mostly outside two communities, 2.9% of it in each (5.9% in them together): by the one
    building-to-zone assignment it lies in the grid holding most of it. A fresh plan left it in no grid (fixed
    in `gridgeo.blocks.assign_buildings`); a re-division (``previous``) counted it among the grids of its own
    community alone, where it is under 5%, so it was in no grid again and the re-divided plan failed its own
    `gridgeo validate` (building_code_mismatch: it lies in a grid but carries no grid_code; fuzz town 2164)."""
    a, b = "420103001001", "420103001002"

    def box(x0, y0, x1, y1):
        return shapely.box(500_000 + x0, 3_400_000 + y0, 500_000 + x1, 3_400_000 + y1)

    communities = gpd.GeoDataFrame({"code": [a, b], "name": ["A", "B"], "kind": ["urban", "urban"]},
                                   geometry=[box(0, 0, 100, 100), box(100, 0, 200, 100)], crs=METRIC)
    buildings = gpd.GeoDataFrame({"building_id": ["a1", "far", "b1"], "households": [330, 40, 350]},
                                 geometry=[box(20, 40, 40, 60), box(97, 97.5, 103, 140), box(160, 10, 180, 30)],
                                 crs=METRIC)
    v1 = divide(communities, None, buildings)
    far = v1["buildings"].set_index("building_id").loc["far"]
    assert pd.notna(far["grid_code"]) and str(far["grid_code"]).startswith(far["community_code"])
    assert not (v1.validate()["severity"] == "error").any()
    v2 = divide(communities, None, buildings, previous=v1)
    again = v2["buildings"].set_index("building_id").loc["far"]
    assert again["grid_code"] == far["grid_code"] and again["subgrid_code"] == far["subgrid_code"]
    assert not (v2.validate()["severity"] == "error").any()
    # its community re-divided (households changed in both): the freed region, its blocks alone, holds under
    # 5% of it, yet it is a building of that community and goes to the region's block holding most of it
    changed = buildings.assign(households=[331, 40, 351])
    v3 = divide(communities, None, changed, previous=v1)
    assert pd.notna(v3["buildings"].set_index("building_id").loc["far", "grid_code"])
    assert not (v3.validate()["severity"] == "error").any()


def test_footprint_unit_across_the_gap_between_parts_of_a_community_stays_whole_when_re_divided():
    """A footprint unit (two overlapping footprints) drawn across the 4 m gap between the two parts of a
    community: the fresh plan places it whole in the west part's grid, where most of it lies. Re-division
    judged its members one by one: the footprint over the gap counted in the east grid, so with nothing changed
    both grids were freed and re-divided; and with the households of both grids changed, each part a region of
    its own, both regions placed the unit: its households counted in two grids (the grids' households summed
    to more than the buildings') and its code was the last region's. Re-division now judges a member by where
    its unit lies (:func:`gridgeo.footprints.units_across_gaps`) and each building is placed by one region."""
    a = "420103001001"

    def box(x0, y0, x1, y1):
        return shapely.box(500_000 + x0, 3_400_000 + y0, 500_000 + x1, 3_400_000 + y1)

    communities = gpd.GeoDataFrame({"code": [a], "name": ["A"], "kind": ["urban"]},
                                   geometry=[shapely.MultiPolygon([box(0, 0, 100, 100), box(104, 0, 200, 100)])],
                                   crs=METRIC)
    buildings = gpd.GeoDataFrame({"building_id": ["w", "main", "part", "e"], "households": [330, 20, 0, 350]},
                                 geometry=[box(20, 20, 40, 40), box(85, 40, 106, 60), box(100, 45, 110, 55),
                                           box(150, 20, 170, 40)], crs=METRIC)
    v1 = divide(communities, None, buildings)
    b1 = v1["buildings"].set_index("building_id")
    assert b1.loc["main", "unit_id"] == b1.loc["part", "unit_id"]
    assert b1.loc["main", "grid_code"] == b1.loc["part", "grid_code"] == b1.loc["w", "grid_code"]
    assert not (v1.validate()["severity"] == "error").any()

    def same_plan(new):
        cols = ["grid_code", "subgrid_code"]
        assert new["buildings"].set_index("building_id")[cols].sort_index().equals(b1[cols].sort_index())
        assert sorted(new["grids"]["households"]) == sorted(v1["grids"]["households"])

    v2 = divide(communities, None, buildings, previous=v1)
    same_plan(v2)
    assert set(v2["grids"]["grid_code"]) == set(v1["grids"]["grid_code"])
    assert v2["grids"]["grid_id"].str.startswith("K").all()  # kept, not re-divided
    changed = buildings.assign(households=[331, 20, 0, 351])
    v3 = divide(communities, None, changed, previous=v1)
    b3 = v3["buildings"].set_index("building_id")
    assert b3.loc["main", "grid_code"] == b3.loc["part", "grid_code"] == b3.loc["w", "grid_code"]
    assert int(v3["grids"]["households"].sum()) == int(changed["households"].sum())
    assert not (v3.validate()["severity"] == "error").any()


def _assert_findings_name_codes(plan: Plan) -> None:
    """Every finding on a grid or small grid names it by its code, re-divided ones included."""
    f = plan["findings"]
    for layer, col in (("grids", "grid_code"), ("subgrids", "subgrid_code")):
        ids = set(f.loc[f["layer"] == layer, "feature_id"].astype(str))
        assert ids <= set(plan[layer][col].astype(str)), sorted(ids - set(plan[layer][col].astype(str)))[:5]
    assert not f["message"].astype(str).str.contains(r"-G\d{3}").any()


def test_add_three_buildings(town, v1, tmp_path):
    b = town.buildings
    m = b.to_crs(METRIC)
    host = m[pd.to_numeric(m["households"], errors="coerce") > 20].iloc[50]
    new = gpd.GeoDataFrame(
        {"building_id": ["NEW-1", "NEW-2", "NEW-3"], "households": [36, 36, 36], "floors": [6, 6, 6],
         "name": [None] * 3, "use": ["residential"] * 3},
        geometry=[shapely.box(host.geometry.centroid.x + 8 * k, host.geometry.centroid.y,
                              host.geometry.centroid.x + 8 * k + 6, host.geometry.centroid.y + 6) for k in range(3)],
        crs=METRIC,
    ).to_crs(b.crs)
    changed = _copy(town, buildings=pd.concat([b, new], ignore_index=True))
    v2, meta = _rerun(changed, v1, tmp_path)
    share, n = _kept_share(v1, v2, new.to_crs(METRIC).union_all())
    assert n > 30 and share >= 0.9
    assert meta["adjustment"]["grids_freed"] <= 3
    _assert_codes_never_reused(v1, v2, meta)
    _assert_diff_exact(v1, v2)
    assert set(v2["buildings"].set_index("building_id").loc[["NEW-1", "NEW-2", "NEW-3"], "grid_code"].notna()) == {True}
    _assert_findings_name_codes(v2)


def test_demolish_a_compound(town, v1, tmp_path):
    blocks = v1["blocks"].to_crs(METRIC)
    big = blocks[blocks["households"] >= 300].sort_values("block_id").iloc[0]
    m = town.buildings.to_crs(METRIC)
    gone = m.geometry.representative_point().within(big.geometry)
    changed = _copy(town, buildings=town.buildings[~gone.to_numpy()].reset_index(drop=True))
    v2, meta = _rerun(changed, v1, tmp_path)
    share, n = _kept_share(v1, v2, big.geometry)
    assert n > 30 and share >= 0.9
    _assert_codes_never_reused(v1, v2, meta)
    _assert_diff_exact(v1, v2)
    # households conserved: every remaining building counted once in the grids
    assert int(v2["grids"]["households"].sum()) == int(v2["buildings"].loc[v2["buildings"]["grid_code"].notna(), "households"].sum())
    assert int(v2["buildings"]["households"].sum()) < int(v1["buildings"]["households"].sum())
    _assert_findings_name_codes(v2)


def test_add_a_street(town, v1, tmp_path):
    blocks = v1["blocks"].to_crs(METRIC)
    blk = blocks.sort_values("area_m2").iloc[-1].geometry
    x0, y0, x1, y1 = blk.bounds
    street = LineString([((x0 + x1) / 2, y0 - 5), ((x0 + x1) / 2, y1 + 5)])
    new_streets = pd.concat(
        [town.streets, gpd.GeoDataFrame({"name": ["新开路"], "highway": ["residential"]}, geometry=[street], crs=METRIC).to_crs(town.streets.crs)],
        ignore_index=True)
    v2, meta = _rerun(_copy(town, streets=new_streets), v1, tmp_path)
    share, n = _kept_share(v1, v2, street)
    assert n > 30 and share >= 0.9
    assert len(v2["blocks"]) > len(v1["blocks"])  # the street really cut a block
    _assert_diff_exact(v1, v2)
    _assert_findings_name_codes(v2)


def test_grow_a_community_by_a_block(town, v1, tmp_path):
    c = town.communities.to_crs(METRIC).reset_index(drop=True)
    blocks = v1["blocks"].to_crs(METRIC)
    # a block of community B that touches community A along a boundary
    a_code = c["code"].iloc[0]
    a_geom = c.geometry.iloc[0]
    cand = blocks[(blocks["community_code"] != a_code) & (blocks.geometry.intersection(a_geom.boundary).length > 20)]
    blk = cand.sort_values("block_id").iloc[0]
    b_code = blk["community_code"]
    geoms = c.geometry.to_numpy().copy()
    ia, ib = 0, int(np.flatnonzero(c["code"].to_numpy() == b_code)[0])
    geoms[ia] = shapely.coverage_union(geoms[ia], blk.geometry)
    geoms[ib] = shapely.difference(geoms[ib], blk.geometry)
    grown = c.set_geometry(gpd.GeoSeries(geoms, crs=METRIC)).to_crs(town.communities.crs)
    v2, meta = _rerun(_copy(town, communities=grown), v1, tmp_path)
    share, n = _kept_share(v1, v2, blk.geometry)
    assert n > 30 and share >= 0.9
    _assert_codes_never_reused(v1, v2, meta)
    # the moved block now belongs to a grid of community A
    g = v2["grids"].to_crs(METRIC)
    hit = g[g.geometry.intersection(blk.geometry).area > 0.5 * blk.geometry.area]
    assert set(hit["community_code"]) == {a_code}


def test_from_scratch_still_carries_codes(town, v1, tmp_path):
    v2, meta = _rerun(town, v1, tmp_path, from_scratch=True)
    assert "adjustment" not in meta
    same = set(v1["grids"]["grid_code"]) & set(v2["grids"]["grid_code"])
    assert len(same) >= 0.9 * len(v1["grids"])  # identical inputs: the same grids, matched by overlap


def test_a_previous_plan_made_under_other_bounds_is_divided_afresh(town, tmp_path):
    """A plan made with the rural bounds (grids of 30–80 households), re-divided under the urban rules
    (300–500), kept every one of its 400-odd grids (nothing in the data had changed) and wrote a plan of grids
    a tenth of the size asked. Each community whose bounds changed is now divided afresh, as a plan made from
    scratch under these rules, and said so; under the same rules nothing changes."""
    rural = build_plan(town, rules="rural", shift_check=False)
    fresh = build_plan(town, shift_check=False)
    v2 = build_plan(town, previous=rural, shift_check=False)
    assert len(rural["grids"]) > 3 * len(fresh["grids"])
    assert len(v2["grids"]) == len(fresh["grids"])
    assert sorted(v2["grids"]["households"]) == sorted(fresh["grids"]["households"])
    said = v2["findings"][v2["findings"]["type"] == "previous_rules_changed"]
    assert sorted(said["feature_id"]) == sorted(town.communities["code"].astype(str))
    assert "30–80 households" in said["message"].iloc[0] and "300–500" in said["message"].iloc[0]
    again = build_plan(town, previous=fresh, shift_check=False)
    assert not (again["findings"]["type"] == "previous_rules_changed").any()
    assert sorted(again["grids"]["grid_code"]) == sorted(fresh["grids"]["grid_code"])


def test_a_community_whose_kind_changed_is_divided_afresh_under_its_new_bounds(town, v1, tmp_path):
    """A community made a village (kind ``rural``: grids of 30–80 households), re-divided with the same rules,
    kept its six grids of 300–500 households: the bounds were compared for the kind it has now, before and after.
    The previous plan's kind of the community is now used for its previous bounds (村改居 and the reverse are
    changes of bounds)."""
    comm = town.communities.copy()
    code = str(comm["code"].iloc[0])
    comm.loc[comm.index[0], "kind"] = "rural"
    v2, _ = _rerun(_copy(town, communities=comm), v1, tmp_path)
    mine = v2["grids"][v2["grids"]["community_code"].astype(str) == code]
    assert mine["households"].between(30, 80).all(), sorted(mine["households"])
    said = v2["findings"][v2["findings"]["type"] == "previous_rules_changed"]
    assert said["feature_id"].astype(str).tolist() == [code]
    others = v1["grids"][v1["grids"]["community_code"].astype(str) != code]
    assert set(others["grid_code"]) <= set(v2["grids"]["grid_code"])


def _dragged(plan: Plan, metres: float) -> Plan:
    """``plan`` with one vertex of its sixth grid dragged ``metres`` away from the grid's centre (into its
    neighbour when positive), as an office editing the grid layer in QGIS leaves it: small grids untouched."""
    grids = plan["grids"].to_crs(METRIC)
    poly = grids.geometry.iloc[5]
    poly = max(getattr(poly, "geoms", [poly]), key=lambda q: q.area)
    coords = np.array(poly.exterior.coords)
    out = coords[3] - np.array(poly.centroid.coords[0])
    coords[3] += metres * out / np.linalg.norm(out)
    grids.loc[grids.index[5], "geometry"] = shapely.Polygon(coords, [r.coords for r in poly.interiors])
    return Plan({**plan.layers, "grids": grids.to_crs(plan["grids"].crs)}, dict(plan.metadata))


@pytest.mark.parametrize("metres", [8.0, -8.0])
def test_a_previous_plan_edited_by_hand_re_divides_into_a_plan_that_validates(town, v1, tmp_path, metres):
    """A vertex dragged 8 m into the neighbouring grid made the re-division stop in a GEOS TopologyException
    (the kept grids overlapped); dragged 8 m inward, the plan kept the grid with its small grids reaching out of
    it and drew a grid of 0 households in the gap (an overlap and a small grid in two grids: 2 errors). Grids
    that overlap another, or that their small grids no longer tile, are now divided afresh."""
    edited = _dragged(v1, metres)
    assert validate_plan(edited)["severity"].eq("error").any()  # the edit itself is faulty
    v2, _ = _rerun(town, edited, tmp_path)
    found = validate_plan(v2)
    assert not found["severity"].eq("error").any(), found[found["severity"] == "error"][["type", "message"]]
    assert (v2["grids"]["households"] > 0).all()
    kept = set(v1["grids"]["grid_code"]) & set(v2["grids"]["grid_code"])
    assert len(kept) >= len(v1["grids"]) - 2


def test_a_grid_made_a_bow_tie_by_hand_is_divided_afresh(town, v1, tmp_path):
    """Two vertices of a grid swapped in QGIS (a self-intersecting bow-tie, its households unchanged): the grid was
    kept as it stood and the re-division stopped in a GEOS TopologyException (CoverageUnion cannot process
    incorrectly noded inputs). An invalid grid is now divided afresh; every other grid keeps its code."""
    grids = v1["grids"].to_crs(METRIC)
    poly = grids.geometry.iloc[5]
    coords = np.array(poly.exterior.coords)
    coords[[2, 3]] = coords[[3, 2]]
    grids.loc[grids.index[5], "geometry"] = shapely.Polygon(coords, [r.coords for r in poly.interiors])
    assert not grids.geometry.iloc[5].is_valid
    edited = Plan({**v1.layers, "grids": grids.to_crs(v1["grids"].crs)}, dict(v1.metadata))
    v2, _ = _rerun(town, edited, tmp_path)
    found = validate_plan(v2)
    assert not found["severity"].eq("error").any(), found[found["severity"] == "error"][["type", "message"]]
    assert v2["grids"].is_valid.all()
    assert set(v1["grids"]["grid_code"].drop(index=v1["grids"].index[5])) <= set(v2["grids"]["grid_code"])


def test_a_small_grid_dragged_into_its_sibling_by_hand_is_divided_afresh(town, v1, tmp_path):
    """A vertex of a small grid on the line it shares with its sibling dragged 6 m into the sibling (the grid
    itself untouched): the union of the small grids still filled the grid, so it was kept, and the re-divided plan
    had the two small grids overlapping (an ``overlap`` error). Small grids that overlap each other no longer tile
    their grid: it is divided afresh."""
    subs = v1["subgrids"].to_crs(METRIC)
    grids = v1["grids"].to_crs(METRIC).set_index("grid_code").geometry
    for k in range(len(subs)):
        poly = subs.geometry.iloc[k]
        siblings = subs[(subs["grid_code"] == subs["grid_code"].iloc[k]) & (subs.index != subs.index[k])].geometry
        coords = np.array(poly.exterior.coords)
        inner = [i for i in range(1, len(coords) - 1)
                 if shapely.Point(coords[i]).distance(grids[subs["grid_code"].iloc[k]].boundary) > 1
                 and siblings.distance(shapely.Point(coords[i])).min() < 1e-6]
        if inner:
            out = coords[inner[0]] - np.array(poly.centroid.coords[0])
            coords[inner[0]] += 6 * out / np.linalg.norm(out)
            dragged = shapely.Polygon(coords)
            if dragged.is_valid and shapely.intersection(dragged, shapely.union_all(siblings.to_numpy())).area > 10:
                break
    subs.loc[subs.index[k], "geometry"] = dragged
    edited = Plan({**v1.layers, "subgrids": subs.to_crs(v1["subgrids"].crs)}, dict(v1.metadata))
    assert validate_plan(edited)["type"].eq("overlap").any()
    v2, meta = _rerun(town, edited, tmp_path)
    found = validate_plan(v2)
    assert not found["severity"].eq("error").any(), found[found["severity"] == "error"][["type", "message"]]
    assert meta["adjustment"]["grids_freed"] == 1


def test_a_grid_split_by_hand_under_one_code_is_one_line_naming_the_code(town, v1):
    """A grid split in two by hand in QGIS (two features, the same attributes) stopped the re-division in a pandas
    traceback ("cannot reindex on an axis with duplicate labels"): now an InputError naming the code, before
    any division."""
    grids = v1["grids"].to_crs(METRIC)
    g = grids.geometry.iloc[3]
    x0, y0, x1, y1 = g.bounds
    west = shapely.intersection(g, shapely.box(x0 - 1, y0 - 1, (x0 + x1) / 2, y1 + 1))
    pieces = pd.concat([grids.iloc[[3]], grids.iloc[[3]]], ignore_index=True)
    pieces = pieces.set_geometry([west, shapely.difference(g, west)], crs=METRIC)
    split = pd.concat([grids.drop(index=grids.index[3]), pieces], ignore_index=True).to_crs(v1["grids"].crs)
    edited = Plan({**v1.layers, "grids": split}, dict(v1.metadata))
    code = str(grids["grid_code"].iloc[3])
    with pytest.raises(InputError, match=rf"grid code '{code}' appears 2 times \(split by hand\?"):
        build_plan(town, previous=edited, shift_check=False)


def test_a_small_grid_split_by_hand_under_one_code_is_one_line_naming_the_code(town, v1):
    """A small grid split in two by hand (two features, one ``subgrid_code``) stopped the re-division with "subgrids
    ['subgrid_id'] is not unique, e.g. 'K42098119000100102'", an internal id the user never wrote: now the same
    one line as for a grid, naming the small-grid code, before any division."""
    subs = v1["subgrids"].to_crs(METRIC)
    g = subs.geometry.iloc[4]
    x0, y0, x1, y1 = g.bounds
    west = shapely.intersection(g, shapely.box(x0 - 1, y0 - 1, (x0 + x1) / 2, y1 + 1))
    pieces = pd.concat([subs.iloc[[4]], subs.iloc[[4]]], ignore_index=True)
    pieces = pieces.set_geometry([west, shapely.difference(g, west)], crs=METRIC)
    split = pd.concat([subs.drop(index=subs.index[4]), pieces], ignore_index=True).to_crs(v1["subgrids"].crs)
    edited = Plan({**v1.layers, "subgrids": split}, dict(v1.metadata))
    code = str(subs["subgrid_code"].iloc[4])
    with pytest.raises(InputError, match=rf"subgrid code '{code}' appears 2 times \(split by hand\?"):
        build_plan(town, previous=edited, shift_check=False)


def test_a_grid_whose_small_grids_were_deleted_by_hand_is_divided_afresh(town, v1, tmp_path):
    """The small grids of one grid deleted from the plan by hand (its buildings still naming them): the grid was
    kept and the re-division stopped with "buildings['subgrid_id'] has 'K…', which is not in subgrids". The grid is
    now divided afresh, with small grids again; every other grid keeps its code."""
    code = str(v1["grids"]["grid_code"].iloc[2])
    subs = v1["subgrids"][v1["subgrids"]["grid_code"].astype(str) != code]
    edited = Plan({**v1.layers, "subgrids": subs}, dict(v1.metadata))
    v2, _ = _rerun(town, edited, tmp_path)
    found = validate_plan(v2)
    assert not found["severity"].eq("error").any(), found[found["severity"] == "error"][["type", "message"]]
    b = v2["buildings"]
    assert b["subgrid_code"][b["grid_code"].notna() & (b["households"] > 0)].notna().all()
    assert set(v1["grids"]["grid_code"].astype(str)) - {code} <= set(v2["grids"]["grid_code"].astype(str))


def test_land_without_households_a_community_gains_goes_to_the_grid_beside_it(town, v1, tmp_path):
    """A community grown by 28 ha of fields (no building) got a grid of 0 households of its own in the
    re-division. The land now goes to the grid beside it, with its small grid beside it; that grid keeps its
    households, buildings and code, every other grid its code."""
    comm = town.communities.to_crs(METRIC)
    i = int(np.argmin(comm.geometry.bounds["minx"].to_numpy()))
    g = comm.geometry.iloc[i]
    field = shapely.difference(shapely.buffer(g, 150, join_style="mitre"), shapely.union_all(comm.geometry.to_numpy()))
    field = max(shapely.get_parts(field), key=lambda q: q.area)
    assert field.area > 100_000
    comm.loc[comm.index[i], "geometry"] = shapely.union(g, field)
    grown = _copy(town, communities=comm.to_crs(town.communities.crs))
    v2, _ = _rerun(grown, v1, tmp_path)
    assert not validate_plan(v2)["severity"].eq("error").any()
    code = str(comm["code"].iloc[i])
    mine = v2["grids"][v2["grids"]["community_code"].astype(str) == code].to_crs(METRIC)
    assert (mine["households"] > 0).all()
    holder = mine[mine.geometry.intersection(field).area > 0.99 * field.area]
    assert len(holder) == 1
    before = v1["grids"][v1["grids"]["community_code"].astype(str) == code]
    assert sorted(mine["households"]) == sorted(before["households"])
    others = set(v1["grids"]["grid_code"]) - set(before["grid_code"])
    assert others <= set(v2["grids"]["grid_code"])
    # the grid that took the fields in holds the same households on more land: it keeps its code (it got a new
    # one by the area IoU alone), and so does its small grid that took them in
    assert set(before["grid_code"]) == set(mine["grid_code"])
    sub_before = v1["subgrids"][v1["subgrids"]["community_code"].astype(str) == code]
    sub_after = v2["subgrids"][v2["subgrids"]["community_code"].astype(str) == code]
    assert set(sub_before["subgrid_code"]) == set(sub_after["subgrid_code"])


def test_a_community_boundary_redrawn_a_few_centimetres_out_leaves_no_gap(town, v1, tmp_path):
    """A community's outer boundary redrawn 5 cm out (a re-surveyed line): the strip, 71 m² along 1.4 km, was left
    in no grid (pieces under 10 cm wide were dropped), a gap in the plan. A strip over 1 m² now goes to the grid
    beside it, as land without households does; every grid keeps its code."""
    comm = town.communities.to_crs(METRIC)
    i = int(np.argmin(comm.geometry.bounds["minx"].to_numpy()))
    g = comm.geometry.iloc[i]
    strip = shapely.difference(shapely.buffer(g, 0.05, join_style="mitre"), shapely.union_all(comm.geometry.to_numpy()))
    assert strip.area > 50
    comm.loc[comm.index[i], "geometry"] = shapely.union(g, strip)
    v2, _ = _rerun(_copy(town, communities=comm.to_crs(town.communities.crs)), v1, tmp_path)
    code = str(comm["code"].iloc[i])
    outline = v2["communities"].to_crs(METRIC).set_index("code").geometry[code]
    grids = v2["grids"][v2["grids"]["community_code"].astype(str) == code].to_crs(METRIC)
    assert shapely.difference(outline, shapely.union_all(grids.geometry.to_numpy())).area < 1.0
    assert sorted(v2["grids"]["grid_code"]) == sorted(v1["grids"]["grid_code"])
    assert not validate_plan(v2)["severity"].eq("error").any()


def test_a_community_redrawn_within_the_tolerance_changes_no_neighbour(town, v1, tmp_path):
    """One community drawn again with its outline waved by up to 1.5 m (within the 2 m boundary tolerance), its
    buildings unchanged: the slivers it now overlaps or leaves open against its neighbours went to the one sharing
    the longest boundary, so neighbours lost or gained strips and their grids along it were freed and re-divided
    (here two neighbours' grids reshaped; on Lujiazui's 外滩 10 of the other communities' 28 grids changed). Each
    sliver now goes to the community that held it in the previous plan: every grid of the others is kept."""
    comm = town.communities.to_crs(METRIC)
    i = len(comm) // 2
    code = str(comm["code"].iloc[i])
    xy = shapely.get_coordinates(shapely.segmentize(comm.geometry.iloc[i], 10.0))
    k = np.arange(len(xy))
    xy = xy + np.c_[1.5 * np.sin(0.7 * k), 1.5 * np.cos(0.9 * k)]
    xy[-1] = xy[0]
    waved = shapely.make_valid(shapely.polygons(xy))
    assert shapely.area(shapely.symmetric_difference(waved, comm.geometry.iloc[i])) > 500
    comm.loc[comm.index[i], "geometry"] = waved
    v2, _ = _rerun(_copy(town, communities=comm.to_crs(town.communities.crs)), v1, tmp_path)
    d = diff_plans(v1["grids"], v2["grids"], old_buildings=v1["buildings"], new_buildings=v2["buildings"])
    others = d[d["community_code"].astype(str) != code]
    assert len(others) == int((v1["grids"]["community_code"].astype(str) != code).sum())
    assert others["status"].eq("unchanged").all(), others.loc[others["status"] != "unchanged", ["grid_code", "status"]]
    said = v2["findings"][v2["findings"]["type"].isin(["community_overlap_resolved", "community_gap_filled"])]
    assert said["message"].str.contains("which held it in the previous plan").any()
    assert not validate_plan(v2)["severity"].eq("error").any()


def test_a_building_without_households_on_land_a_grid_takes_in_gets_its_small_grid(town, v1, tmp_path):
    """A community grown by fields with a warehouse on them (a building of 0 households): the fields and the
    warehouse went to the grid beside them, the warehouse with no small grid (every building of a fresh plan's
    grid has one). It now gets the small grid it lies in, the one that took in the land."""
    comm = town.communities.to_crs(METRIC)
    i = int(np.argmin(comm.geometry.bounds["minx"].to_numpy()))
    g = comm.geometry.iloc[i]
    field = shapely.difference(shapely.buffer(g, 150, join_style="mitre"), shapely.union_all(comm.geometry.to_numpy()))
    field = max(shapely.get_parts(field), key=lambda q: q.area)
    comm.loc[comm.index[i], "geometry"] = shapely.union(g, field)
    shed = town.buildings.iloc[[0]].to_crs(METRIC)
    shed = shed.assign(building_id="WAREHOUSE", households=0)
    shed = shed.set_geometry([shapely.box(*shapely.buffer(field.representative_point(), 12).bounds)], crs=METRIC)
    buildings = pd.concat([town.buildings, shed.to_crs(town.buildings.crs)], ignore_index=True)
    v2, _ = _rerun(_copy(town, communities=comm.to_crs(town.communities.crs), buildings=buildings), v1, tmp_path)
    assert not validate_plan(v2)["severity"].eq("error").any()
    b = v2["buildings"].set_index("building_id")
    assert b.loc["WAREHOUSE", "grid_code"] is not None
    sub = v2["subgrids"].set_index("subgrid_code").loc[b.loc["WAREHOUSE", "subgrid_code"]]
    assert sub["grid_code"] == b.loc["WAREHOUSE", "grid_code"]
    assert shapely.covers(v2["subgrids"].to_crs(METRIC).set_index("subgrid_code").geometry[sub.name],
                          shapely.point_on_surface(shed.geometry.iloc[0]))


def test_land_given_to_a_grid_a_region_then_takes_in_is_the_region_s_in_any_community():
    """A field (no households) beside a kept grid that a region of its community then took in: the field was
    still listed for that grid to take in when the community was not the last one (the grids taken in were
    reset per community), so a grid no longer kept was grown and counted in ``grids_grown``. The field is the
    region's, whichever community comes last."""
    from gridgeo.adjust import _free_regions
    from gridgeo.rules import get_rules

    crs = "EPSG:4547"
    x = shapely.union(shapely.box(0, 0, 300, 100), shapely.box(120, 100, 180, 150))  # field west, houses north
    comm = gpd.GeoDataFrame({"code": ["420103001001", "420103001002"], "kind": ["urban", "urban"]},
                            geometry=[x, shapely.box(1000, 0, 1100, 100)], crs=crs)
    kept = gpd.GeoDataFrame({"grid_code": ["420103001001001", "420103001001002"], "community_code": ["420103001001"] * 2},
                            geometry=[shapely.box(100, 0, 200, 100), shapely.box(200, 0, 300, 100)], crs=crs)
    b = gpd.GeoDataFrame({"building_id": ["n", "g1", "g2", "y"], "households": [100, 400, 400, 350],
                          "community_code": ["420103001001"] * 3 + ["420103001002"]},
                         geometry=[shapely.box(140, 110, 160, 130), shapely.box(140, 40, 160, 60),
                                   shapely.box(240, 40, 260, 60), shapely.box(1040, 40, 1060, 60)], crs=crs)
    for order in ([0, 1], [1, 0]):
        attached: list = []
        regions = _free_regions(comm.iloc[order].reset_index(drop=True), kept, b, get_rules("urban"), attached)
        mine = next(r for r in regions if r["code"] == "420103001001")
        assert mine["absorbed"] == {"420103001001001"}
        assert mine["geometry"].area == pytest.approx(23_000)  # the houses, the grid it took in and the field
        assert attached == []


def test_a_sliver_of_a_footprint_over_a_grid_edge_frees_no_grid():
    """A footprint 2% of which lies over its grid's edge is not cut (as validate counts a cut: pieces of at
    least BUILDING_SHARE_MIN): both grids are kept. A real cut (a third on each side) frees both."""
    from gridgeo.adjust import _kept_grids

    crs = "EPSG:4547"
    pg = gpd.GeoDataFrame({"grid_code": ["420103001001001", "420103001001002"], "community_code": ["420103001001"] * 2},
                          geometry=[shapely.box(0, 0, 100, 100), shapely.box(100, 0, 200, 100)], crs=crs)
    cgeom = {"420103001001": shapely.box(0, 0, 200, 100)}

    def kept(footprint):
        b = gpd.GeoDataFrame({"building_id": ["a"], "households": [300], "community_code": ["420103001001"]},
                             geometry=[footprint], crs=crs)
        pb = b.assign(grid_code=["420103001001001"])
        return _kept_grids(pg, pb, b, cgeom).tolist()

    assert kept(shapely.box(51, 10, 101, 50)) == [True, True]  # 40 m² of 2,000 over the edge: 2%
    assert kept(shapely.box(60, 10, 120, 50)) == [False, False]  # a third over it: cut, both freed


def test_a_village_re_divided_after_a_villager_group_split_keeps_no_grid_across_two_groups(tmp_path):
    """A village's grids follow its villager groups (村民小组). Its largest group split in two (a west and an east
    group), the re-division kept every grid, one of them with households of both new groups (55% and 45% of
    its area): kept grids were judged by their buildings alone. A grid whose households now lie in two groups
    is divided afresh; the grids of the other groups keep their codes."""
    path = get_path("sample_town")
    inputs = read_inputs({n: LayerSource(path, layer=n) for n in (*LAYERS, "villager_groups")})
    inputs.communities = inputs.communities[inputs.communities["kind"] == "rural"].reset_index(drop=True)
    village = inputs.communities.geometry.iloc[0]
    inputs.buildings = inputs.buildings[inputs.buildings.intersects(village).to_numpy()].reset_index(drop=True)
    v1 = build_plan(inputs, shift_check=False)
    groups = inputs.villager_groups.to_crs(METRIC)
    big = int(np.argmax(groups.area.to_numpy()))
    g = groups.geometry.iloc[big]
    x0, y0, x1, y1 = g.bounds
    west = shapely.intersection(g, shapely.box(x0 - 1, y0 - 1, (x0 + x1) / 2, y1 + 1))
    split = pd.concat([groups, groups.iloc[[big]]], ignore_index=True)
    split = split.set_geometry([*groups.geometry.iloc[:big], west, *groups.geometry.iloc[big + 1:],
                                shapely.difference(g, west)], crs=METRIC)
    split.loc[split.index[-1], "name"] = "十一组"
    inputs.villager_groups = split.to_crs(inputs.villager_groups.crs)
    v2, _ = _rerun(inputs, v1, tmp_path)
    assert not validate_plan(v2)["severity"].eq("error").any()
    b = v2["buildings"].to_crs(METRIC)
    b = b[b["households"] > 0]
    zone = assign_to_zones(b.geometry.to_numpy(), split.geometry.to_numpy()).zone
    groups_per_grid = pd.Series(zone).groupby(b["grid_code"].to_numpy()).nunique()
    assert (groups_per_grid == 1).all(), groups_per_grid[groups_per_grid > 1]
    outside = v1["grids"].to_crs(METRIC).intersection(g).area < 1.0
    assert set(v1["grids"]["grid_code"][outside.to_numpy()]) <= set(v2["grids"]["grid_code"])
    # each grid names the villager group it follows (村民小组): the kept grids their group as in v1, the grids
    # drawn afresh the new groups' names, in the plan file as written
    names = split["name"].to_numpy()
    group_of = pd.Series(names[zone]).groupby(b["grid_code"].to_numpy()).first()
    base = v2["grids"][v2["grids"]["kind"] == "base"].set_index("grid_code")
    assert base["villager_group"].to_dict() == group_of.loc[base.index].to_dict()
    assert {"十一组", groups["name"].iloc[big]} <= set(base["villager_group"])
    before = v1["grids"].set_index("grid_code")["villager_group"]
    untouched = pd.Index(v1["grids"]["grid_code"][outside.to_numpy()]).intersection(base.index)
    assert len(untouched) >= 5 and (base.loc[untouched, "villager_group"] == before.loc[untouched]).all()
    # a grid kept whole in the east half of the split group names the new group, not the group it was drawn in
    kept_east = [c for c in base.index.intersection(before.index) if base.loc[c, "villager_group"] != before.loc[c]]
    assert all(base.loc[c, "villager_group"] == "十一组" for c in kept_east)


def test_villager_groups_with_numeric_village_codes_keep_an_unchanged_village(tmp_path):
    """Villager groups whose ``community_code`` column is an integer field (as a GeoPackage or shapefile holds a
    12-digit code): the partition matched them to no village (an int is not the text code) and divided the village
    like a town, while the re-division matched them (``str``) and freed every grid across two groups: an unchanged
    village re-divided lost codes. One rule now matches groups to villages for both: the groups are followed and
    an unchanged village keeps every grid."""
    path = get_path("sample_town")
    inputs = read_inputs({n: LayerSource(path, layer=n) for n in (*LAYERS, "villager_groups")})
    inputs.communities = inputs.communities[inputs.communities["kind"] == "rural"].reset_index(drop=True)
    village = inputs.communities.geometry.iloc[0]
    inputs.buildings = inputs.buildings[inputs.buildings.intersects(village).to_numpy()].reset_index(drop=True)
    as_text = build_plan(inputs, shift_check=False)
    inputs.villager_groups = inputs.villager_groups.assign(
        community_code=inputs.villager_groups["community_code"].astype("int64"))
    v1 = build_plan(inputs, shift_check=False)
    assert sorted(v1["grids"]["households"]) == sorted(as_text["grids"]["households"])
    v2, meta = _rerun(inputs, v1, tmp_path)
    assert meta["adjustment"]["grids_freed"] == 0
    assert sorted(v2["grids"]["grid_code"]) == sorted(v1["grids"]["grid_code"])


def test_a_new_grid_wrapped_around_a_kept_grid_is_reported():
    # a tower over the grid ceiling (its own grid) in the middle of one block of walk-ups: the grid of the
    # walk-ups is wrapped around it and reported (grid_encloses_grid). A walk-up's households changed frees
    # that grid, the tower's is kept: the region re-divided has the tower's hole too, and the new grid
    # wrapped around it went unreported (the hole was judged against the region, not the community)
    from shapely import box

    x0, y0 = 526_000.0, 3_385_000.0

    def rect(a, b, c, d):
        return box(x0 + a, y0 + b, x0 + c, y0 + d)

    comm = gpd.GeoDataFrame({"code": ["420103001001"], "name": ["甲"], "kind": ["urban"]},
                            geometry=[rect(0, 0, 200, 200)], crs=4547)
    streets = gpd.GeoDataFrame({"name": [None], "highway": ["primary"]},
                               geometry=[LineString([(x0 - 10, y0 - 10), (x0 + 210, y0 - 10)])], crs=4547)
    # (the walk-ups 4 m apart: no lane between them reaches the community's edge, so the wrap is forced)
    ids, hh, geoms = ["tower"], [560], [rect(97, 97, 103, 103)]
    for x in range(10, 190, 30):
        for y in range(10, 190, 30):
            if abs(x + 6 - 100) >= 30 or abs(y + 6 - 100) >= 30:
                ids.append(f"b{x:03d}{y:03d}")
                hh.append(12)
                geoms.append(rect(x, y, x + 26, y + 26))
    bld = gpd.GeoDataFrame({"building_id": ids, "households": hh}, geometry=geoms, crs=4547)

    def wrapped(plan):
        g = plan["grids"].to_crs(4547)
        holes = [int(shapely.get_num_interior_rings(shapely.get_parts(x)).sum()) for x in g.geometry]
        f = plan["findings"]
        return (set(g["grid_code"][np.array(holes) > 0]),
                set(f.loc[f["type"] == "grid_encloses_grid", "feature_id"]))

    v1 = divide(comm, streets, bld)
    holed, reported = wrapped(v1)
    assert holed and holed == reported
    changed = bld.copy()
    changed.loc[changed["building_id"] == "b010010", "households"] = 30
    v2 = divide(comm, streets, changed, previous=v1)
    tower = v1["buildings"].set_index("building_id").loc["tower", "grid_code"]
    assert v2["buildings"].set_index("building_id").loc["tower", "grid_code"] == tower  # the tower's grid is kept
    assert tower in set(v2["grids"]["grid_code"]) and tower not in holed
    holed, reported = wrapped(v2)
    assert holed, "the walk-ups' grid is still wrapped round the tower's (no division without it)"
    assert holed <= reported
    assert v2.metadata["validation"]["error"] == 0


def _towers_town():
    """Community 420103001001 (240 × 160 m): two towers over the grid floor (491, 594 households), each its own grid,
    and 27 walk-ups of 10 round them; a street along its south edge. Returns (communities, streets, buildings,
    rect: the box of offsets from its corner)."""
    from shapely import box

    x0, y0 = 526_000.0, 3_385_000.0

    def rect(a, b, c, d):
        return box(x0 + a, y0 + b, x0 + c, y0 + d)

    comm = gpd.GeoDataFrame({"code": ["420103001001"], "name": ["甲"], "kind": ["urban"]},
                            geometry=[rect(0, 0, 240, 160)], crs=4547)
    streets = gpd.GeoDataFrame({"name": [None], "highway": ["primary"]},
                               geometry=[LineString([(x0 - 10, y0 - 10), (x0 + 250, y0 - 10)])], crs=4547)
    ids, hh, geoms = ["small_tower", "tall_tower"], [491, 594], [rect(150, 70, 166, 90), rect(196, 20, 226, 140)]
    spots = [(x, y) for x in range(10, 150, 30) for y in range(10, 150, 30)] + [(150, 10), (150, 130)]
    for x, y in spots:
        ids.append(f"b{x:03d}{y:03d}")
        hh.append(10)
        geoms.append(rect(x, y, x + 20, y + 20))
    bld = gpd.GeoDataFrame({"building_id": ids, "households": hh}, geometry=geoms, crs=4547)
    return comm, streets, bld, rect


def _wraps(plan):
    """(grid_encloses_grid findings, holes of the grids) of a plan."""
    f = plan["findings"]
    holes = shapely.get_num_interior_rings(shapely.get_parts(plan["grids"].to_crs(4547).geometry.to_numpy()))
    return int((f["type"] == "grid_encloses_grid").sum()), int(holes.sum())


def test_a_region_wrapped_round_a_kept_grid_is_divided_again_with_that_grid():
    # two towers over the grid floor (491, 594 households), each its own grid, and 27 walk-ups of 270 round
    # them (under the floor): the fresh plan's walk-ups' grid and the tall tower's grid share the ring round the
    # small tower's grid, so none is wrapped. A walk-up's households changed frees the walk-ups' grid, which
    # (290 < 300) absorbs the tall tower's grid beside it; the region, round the kept grid of the small tower, came
    # out one grid of 884 wrapped round it (grid_encloses_grid): the region had no other grid to take a lane, and
    # a kept grid keeps its shape. The fresh plan of the changed inputs has no wrap. Now the re-division is run
    # once more with the kept grid in the hole freed too, and taken for its fewer wraps.
    comm, streets, bld, _ = _towers_town()
    v1 = divide(comm, streets, bld)
    assert _wraps(v1) == (0, 0)
    changed = bld.copy()
    changed.loc[changed["building_id"] == "b010010", "households"] = 30
    assert _wraps(divide(comm, streets, changed)) == (0, 0)  # the fresh plan of the changed inputs
    v2 = divide(comm, streets, changed, previous=v1)
    assert _wraps(v2) == (0, 0), "a re-divided grid is wrapped round the small tower's grid"
    assert v2.metadata["adjustment"]["grids_freed_for_wraps"] == 1
    before = v1["buildings"].set_index("building_id")["grid_code"]
    after = v2["buildings"].set_index("building_id")["grid_code"]
    assert after["small_tower"] == before["small_tower"]  # drawn again as it was, its code carried
    assert after["tall_tower"] == before["tall_tower"]
    assert sorted(v2["grids"]["households"]) == [290, 491, 594]
    assert v2.metadata["validation"]["error"] == 0


def _towers_and_walkups_town():
    """The towers' community of :func:`_towers_town` and a community of 40 walk-ups of 18 beside it (720 households,
    two grids); returns (communities, streets, the fresh plan, the buildings with a walk-up's households changed in
    each community: the towers' region comes out wrapped round the small tower's kept grid on re-division)."""
    comm, streets, bld, rect = _towers_town()
    comm = pd.concat([comm, gpd.GeoDataFrame({"code": ["420103001002"], "name": ["乙"], "kind": ["urban"]},
                                             geometry=[rect(240, 0, 480, 160)], crs=4547)], ignore_index=True)
    spots = [(x, y) for x in range(250, 480, 30) for y in range(10, 150, 30)]
    bld = pd.concat([bld, gpd.GeoDataFrame({"building_id": [f"w{x:03d}{y:03d}" for x, y in spots],
                                            "households": 18}, geometry=[rect(x, y, x + 20, y + 20) for x, y in spots],
                                           crs=4547)], ignore_index=True)
    v1 = divide(comm, streets, bld)
    assert _wraps(v1) == (0, 0)
    assert sorted(v1["grids"].groupby("community_code").size()) == [2, 3]
    changed = bld.copy()
    changed.loc[changed["building_id"].isin(["b010010", "w250010"]), "households"] = [30, 25]
    return comm, streets, v1, changed


def test_a_second_division_for_a_wrap_divides_only_the_community_holding_it(monkeypatch):
    # the towers' community of the test above and a community of 40 walk-ups beside it (720 households, two grids),
    # a walk-up's households changed in each: both have a freed region, and the towers' region comes out wrapped
    # round the small tower's kept grid. The second division (that grid freed too) divided every community again,
    # the walk-ups' region as well (the same inputs, the same grids): a city's re-division took twice as long
    # wherever one new grid wrapped a kept one. Now it divides only the towers' community and takes the walk-ups'
    # grids from the first division.
    from gridgeo import adjust as adjust_module

    comm, streets, v1, changed = _towers_and_walkups_town()
    divided = []
    real = adjust_module.partition

    def counted(communities, *args, **kwargs):
        divided.extend(communities["code"].astype(str))
        return real(communities, *args, **kwargs)

    monkeypatch.setattr(adjust_module, "partition", counted)
    v2 = divide(comm, streets, changed, previous=v1)
    assert v2.metadata["adjustment"]["grids_freed_for_wraps"] == 1
    assert _wraps(v2) == (0, 0)
    # the towers' community divided twice (the second time with the small tower's grid), the walk-ups' once
    assert sorted(divided) == ["420103001001", "420103001001", "420103001002"]
    g = v2["grids"].set_index("grid_code")
    assert sorted(g.loc[g["community_code"] == "420103001001", "households"]) == [290, 491, 594]
    walkups = g.loc[g["community_code"] == "420103001002", "households"]
    assert len(walkups) == 2 and walkups.sum() == 727 and walkups.between(300, 500).all()
    assert v2.metadata["validation"]["error"] == 0


@pytest.mark.parametrize("stage", ["kept grids", "regions"])
def test_a_community_whose_buildings_the_second_division_places_otherwise_is_divided_again(monkeypatch, stage):
    # the second division for a wrap (the small tower's kept grid freed) takes the walk-ups' community's free land
    # and partitions from the first division, as its inputs are the same; the guard (_FirstDivision.held and
    # .placed compared per building) divides it again where the kept grids or its regions place any of its
    # buildings otherwise (a footprint unit across two communities judged otherwise once a grid of one is
    # freed). No hand-built town is known to move a building so, so the move is simulated: one walk-up of the
    # other community is placed otherwise in the second division's record of where the kept grids ("kept
    # grids") or the regions ("regions") place each building. Without the guard that community is divided once.
    from gridgeo import adjust as adjust_module

    comm, streets, v1, changed = _towers_and_walkups_town()
    calls, divided = [], []
    real_placed, real_partition = adjust_module._placed, adjust_module.partition

    def placed(in_kept, kept_codes, owner=None, *args, **kwargs):
        state = real_placed(in_kept, kept_codes, owner, *args, **kwargs)
        calls.append(owner is None)
        # calls: the first division's kept grids, its regions, then the second division's kept grids, regions
        if len(calls) == (3 if stage == "kept grids" else 4):
            state = state.copy()
            state[-1] = state[-1] + "~"  # the last row: a walk-up of community 420103001002
        return state

    def counted(communities, *args, **kwargs):
        divided.extend(communities["code"].astype(str))
        return real_partition(communities, *args, **kwargs)

    monkeypatch.setattr(adjust_module, "_placed", placed)
    monkeypatch.setattr(adjust_module, "partition", counted)
    v2 = divide(comm, streets, changed, previous=v1)
    assert calls == [True, False, True, False]
    assert v2.metadata["adjustment"]["grids_freed_for_wraps"] == 1
    assert sorted(divided) == ["420103001001", "420103001001", "420103001002", "420103001002"]
    # divided again from the same inputs: the plan of the guard not reached
    monkeypatch.setattr(adjust_module, "_placed", real_placed)
    plain = divide(comm, streets, changed, previous=v1)
    for layer, code in (("grids", "grid_code"), ("subgrids", "subgrid_code")):
        a, b = (p[layer].sort_values(code).reset_index(drop=True) for p in (v2, plain))
        assert a[code].tolist() == b[code].tolist() and a["households"].tolist() == b["households"].tolist()
        assert shapely.equals(a.geometry.to_numpy(), b.geometry.to_numpy()).all()
    assert v2.metadata["validation"]["error"] == 0


def test_buildings_placed_by_one_freed_region_keep_their_grid_after_the_next_region():
    # each freed region of a community is partitioned with all the community's buildings outside the kept
    # grids and places only those in it (the others come back with no grid); the second region's None
    # overwrote the grid the first region gave its buildings: they were in no grid in the plan's buildings
    # layer, though their grid counted their households
    from shapely import Point, box

    from gridgeo.adjust import _combine
    from gridgeo.partition import GRID_COLUMNS, SUBGRID_COLUMNS, PartitionResult

    crs = 4547
    bld = gpd.GeoDataFrame({"building_id": ["w", "e"], "community_code": "420103001001", "households": [300, 320]},
                           geometry=[Point(10, 10), Point(90, 10)], crs=crs)

    def region(k: int, placed: str) -> PartitionResult:
        gid = f"R{k}-G001"
        grids = gpd.GeoDataFrame({c: [None] for c in GRID_COLUMNS}, geometry=[box(80 * k, 0, 80 * k + 20, 20)],
                                 crs=crs).assign(grid_id=gid)
        subs = gpd.GeoDataFrame({c: [None] for c in SUBGRID_COLUMNS}, geometry=[grids.geometry[0]],
                                crs=crs).assign(grid_id=gid, subgrid_id=f"{gid}-01")
        on = bld["building_id"] == placed
        b = bld.assign(grid_id=np.where(on, gid, None), subgrid_id=np.where(on, f"{gid}-01", None))
        return PartitionResult(grids=grids, subgrids=subs, buildings=b, findings=gpd.GeoDataFrame(geometry=[], crs=crs))

    out = _combine(gpd.GeoDataFrame({"grid_code": [], "community_code": []}, geometry=[], crs=crs), None, None,
                   bld, np.full(2, -1), [region(0, "w"), region(1, "e")], crs)
    assert out.buildings["grid_id"].tolist() == ["R0-G001", "R1-G001"]
    assert out.buildings["subgrid_id"].tolist() == ["R0-G001-01", "R1-G001-01"]


def test_a_new_building_drawn_over_one_in_a_kept_grid_frees_that_grid_and_the_unit_stays_whole():
    # three blocks, a grid each; a building of the west grid reaches to the street (x = 199.5). A new building
    # east of the street (in the middle grid, 1 m of it over the street) overlaps it: one footprint unit. The
    # middle grid changed and was re-divided, the west grid was kept as it stood: the unit was split between
    # the kept grid and a new one
    from shapely import box

    x0, y0 = 526_000.0, 3_385_000.0

    def rect(a, b, c, d):
        return box(x0 + a, y0 + b, x0 + c, y0 + d)

    comm = gpd.GeoDataFrame({"code": ["420103001001"], "name": ["甲"], "kind": ["urban"]},
                            geometry=[rect(0, 0, 600, 200)], crs=4547)
    streets = gpd.GeoDataFrame({"name": [None, None], "highway": ["tertiary", "tertiary"]},
                               geometry=[LineString([(x0 + x, y0 - 10), (x0 + x, y0 + 210)]) for x in (200, 400)],
                               crs=4547)
    ids, geoms = ["edge"], [rect(185, 100, 199.5, 115)]
    for x in range(10, 600, 40):
        for y in range(10, 190, 40):
            if x % 200 <= 180:
                ids.append(f"b{x:03d}{y:03d}")
                geoms.append(rect(x, y, x + 15, y + 15))
    bld = gpd.GeoDataFrame({"building_id": ids, "households": 18}, geometry=geoms, crs=4547)
    v1 = divide(comm, streets, bld)
    west = v1["buildings"].set_index("building_id").loc["edge", "grid_code"]
    new = gpd.GeoDataFrame({"building_id": ["new"], "households": [20]}, geometry=[rect(199, 100, 230, 115)], crs=4547)
    v2 = divide(comm, streets, pd.concat([bld, new], ignore_index=True), previous=v1)
    b = v2["buildings"].set_index("building_id")
    assert b.loc["edge", "unit_id"] == b.loc["new", "unit_id"]
    unit = b[b["unit_id"] == b.loc["new", "unit_id"]]
    assert unit["grid_code"].nunique() == 1 and unit["subgrid_code"].nunique() == 1, unit[["grid_code", "subgrid_code"]]
    kept = set(v1["grids"]["grid_code"]) - {west, v1["buildings"].set_index("building_id").loc["b210090", "grid_code"]}
    assert kept and kept <= set(v2["grids"]["grid_code"])  # the east grid is still kept
    assert v2.metadata["validation"]["error"] == 0


def test_unit_across_a_gap_stays_in_the_grid_it_was_in_while_that_grid_holds_a_real_share_of_it():
    """A footprint unit across the gap between two parts of its community (two grids 2 m apart): a fresh plan places
    it by its block, which may lie over both parts, so it may count in the grid holding the smaller side (fuzz town
    2505, issue 16: building parts, 20% of the unit on that side). Re-divided with nothing changed, it counted in the
    grid holding most of it: both grids freed and drawn again. It now stays where it was while that grid holds at
    least BUILDING_SHARE_MIN of it; a new unit (nowhere before) goes to the larger side, and a grid holding a sliver
    under the share does not keep it."""
    grids = np.array([shapely.box(0, 0, 100, 100), shapely.box(102, 0, 200, 100)], dtype=object)
    codes = np.array(["G1", "G2"], dtype=object)
    comm = np.array(["C", "C"], dtype=object)
    # the unit: a 20 m² footprint in G1 and a 45 m² one across the gap, 40 m² of it in G2, overlapping
    far = shapely.box(101, 10, 110, 15)

    def counted(before, first=(95, 10, 99, 15)):
        b = gpd.GeoDataFrame({"building_id": ["a", "b"], "households": [0, 0], "unit_id": ["u", "u"],
                              "community_code": ["C", "C"]}, geometry=[shapely.box(*first), far])
        pb = None if before is None else pd.DataFrame({"building_id": ["a", "b"], "grid_code": [before, before]})
        return codes[_grid_of(b, grids, codes, pb, comm)].tolist()

    assert counted("G1") == ["G1", "G1"]  # before the fix: ["G2", "G2"], both grids freed
    assert counted("G2") == ["G2", "G2"]
    assert counted(None) == ["G2", "G2"]  # new: the side holding most of it
    # G1 holds 1 m² of the unit's 41 (under BUILDING_SHARE_MIN): the unit goes to G2 whatever it was in before
    assert counted("G1", first=(99.8, 10, 101.5, 15)) == ["G2", "G2"]


def test_two_communities_merged_into_one_are_said_with_their_codes(town, v1, tmp_path):
    """Two communities merged under a new code (两社区合并), re-divided with ``--previous``: every grid of both got
    a new code and the old ones were retired with nothing said on the console or in the findings (only `gridgeo diff`
    showed it). The communities gone and the one new are findings naming the codes retired and the land's owners."""
    comm = town.communities
    a, b = (str(c) for c in comm["code"].iloc[[1, 3]])
    m = comm.geometry.to_crs(METRIC)
    assert m.iloc[1].intersection(m.iloc[3]).length > 100  # neighbours (a shared boundary, metres)
    merged = gpd.GeoDataFrame({"code": ["420981190009"], "name": ["合并社区"], "kind": ["urban"]},
                              geometry=[shapely.union(comm.geometry.iloc[1], comm.geometry.iloc[3])], crs=comm.crs)
    rest = comm.drop(index=comm.index[[1, 3]])
    v2, _ = _rerun(_copy(town, communities=pd.concat([rest, merged], ignore_index=True)), v1, tmp_path)
    f = v2["findings"]
    gone = f[f["type"] == "previous_community_gone"]
    assert sorted(gone["feature_id"].astype(str)) == sorted([a, b])
    n_a = int((v1["grids"]["community_code"].astype(str) == a).sum())
    msg = gone.loc[gone["feature_id"].astype(str) == a, "message"].iloc[0]
    assert f"the codes of its {n_a} grids are retired" in msg and "合并社区 (420981190009) 100%" in msg
    new = f[f["type"] == "community_new_since_previous"]
    assert new["feature_id"].astype(str).tolist() == ["420981190009"]
    assert a in new["message"].iloc[0] and b in new["message"].iloc[0]
    assert not v2["grids"]["grid_code"].astype(str).str.startswith((a, b)).any()
    again, _ = _rerun(town, v1, tmp_path, name="v3.gpkg")  # the same communities: nothing said
    assert not again["findings"]["type"].isin(["previous_community_gone", "community_new_since_previous"]).any()
