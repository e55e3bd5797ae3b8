"""The Lujiazui scenario: REAL, messy OpenStreetMap buildings and streets of Shanghai Lujiazui and the Bund,
SYNTHETIC communities, households ESTIMATED by gridgeo (scripts/build_lujiazui_scenario.py).

Slow: builds the scenario (a few seconds) three times. Skips, with the reason, when ../shared/data is absent.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely

from conftest import REPO, scenario_builder

slow = pytest.mark.slow


def _builder():
    return scenario_builder("build_lujiazui_scenario")


@pytest.fixture(scope="module")
def builder():
    mod = _builder()
    reason = mod.missing_reason()
    if reason:
        pytest.skip(f"Lujiazui scenario unavailable: {reason}")
    return mod


@pytest.fixture(scope="module")
def scenario(builder, tmp_path_factory):
    return builder.build(tmp_path_factory.mktemp("lujiazui_scenario"))


@pytest.fixture(scope="module")
def source(builder):
    path = builder.SHARED_DATA / builder.SOURCE_FILE
    return {n: pyogrio.read_dataframe(path, layer=n) for n in ("buildings", "roads", "water", "landuse")}


def _estimate(buildings: gpd.GeoDataFrame) -> np.ndarray:
    from gridgeo.households import assign_households

    out, _ = assign_households(buildings, metric=buildings.crs)
    return out["households"].to_numpy()


@slow
def test_every_source_building_feature_is_kept_as_it_is(scenario, source):
    b, src = scenario.buildings, source["buildings"]
    assert scenario.path.name == "lujiazui_scenario.gpkg"
    assert b.crs.to_epsg() == 4550
    assert len(b) == len(src) == scenario.summary["buildings"]
    assert b["building_id"].is_unique and b["building_id"].notna().all()
    assert "households" not in b.columns  # left for gridgeo to estimate
    # the stored geometry is the source's, untouched: duplicates, parts and points included
    stored = pyogrio.read_dataframe(scenario.path, layer="buildings")
    assert stored.crs.to_epsg() == 4490
    assert shapely.equals_exact(stored.geometry.to_numpy(), src.geometry.to_numpy(), tolerance=0).all()
    assert (stored["osm_id"].to_numpy() == src["osm_id"].to_numpy()).all()
    assert stored["kind"].value_counts().to_dict() == src["kind"].value_counts().to_dict()
    assert (shapely.get_type_id(stored.geometry.to_numpy()) == 0).sum() == 409  # address, entrance, building points
    assert stored["osm_id"].duplicated(keep=False).sum() == scenario.summary["repeated_osm_ids"] > 400
    assert scenario.summary["overlap_pairs_over_1m2"] > 500


@slow
def test_floors_and_use(scenario):
    b = scenario.buildings
    assert (b["floors"] >= 1).all()
    h = b["height"].to_numpy(dtype=float)
    has = np.isfinite(h) & (h > 0)
    assert (b["floors"].to_numpy()[has] == np.maximum(1, np.round(h[has] / 3.0))).all()
    seeded = ~has
    tall = b["kind_detail"].isin(["apartments", "residential"]).to_numpy()
    f = b["floors"].to_numpy()
    assert ((f[seeded & tall] >= 6) & (f[seeded & tall] <= 30)).all()
    assert ((f[seeded & ~tall] >= 1) & (f[seeded & ~tall] <= 6)).all()
    # offices, shops, hotels and banks estimate no households; OSM residential buildings do
    hh = _estimate(b)
    non_res = b["kind_detail"].isin(["office", "commercial", "hotel", "bank", "retail", "restaurant"]).to_numpy()
    assert non_res.sum() > 100 and (hh[non_res] == 0).all()
    res_poly = b["kind_detail"].isin(["apartments", "residential"]).to_numpy() & (b.geometry.area.to_numpy() > 50)
    assert (hh[res_poly] > 0).all()
    assert set(b["use_source"]) <= {"osm", "osm-mapped", "name", "landuse", "host", "assumed", "seeded", "none"}


@slow
def test_estimated_households_reach_a_realistic_level(scenario):
    hh = _estimate(scenario.buildings)
    s = scenario.summary
    assert hh.sum() == s["households_estimated"] >= 20_000
    # what OSM itself tags residential is too little for a test: the reason for the seeded uses
    assert s["households_estimated_osm_residential"] < 10_000
    assert "ESTIMATES" in s["note"] and "SYNTHETIC" in s["note"]


@slow
def test_streets_are_the_real_roads_without_rail_and_ferry(scenario, source):
    s, roads = scenario.streets, source["roads"]
    kept = roads[roads["kind"].isin(["major_road", "minor_road", "path"])]
    assert len(s) == len(kept) and set(s["kind"]) == {"major_road", "minor_road", "path"}
    assert (s["highway"].fillna("") == kept["kind_detail"].fillna("").to_numpy()).all()


@slow
def test_communities_tile_the_land_and_never_cross_the_river(builder, scenario, source):
    c = scenario.communities
    geoms = c.geometry.to_numpy()
    assert 5 <= len(c) <= 20
    assert shapely.is_valid(geoms).all() and (shapely.get_num_geometries(geoms) == 1).all()
    assert bool(shapely.coverage_is_valid(geoms))
    assert shapely.is_empty(shapely.coverage_invalid_edges(geoms)).all()
    union = shapely.union_all(geoms)
    assert abs(shapely.area(geoms).sum() - union.area) < 1.0  # no overlap
    assert abs(union.area / 1e6 - scenario.summary["land_km2"]) < 0.001  # no gap
    # stored coordinates too (EPSG:4490)
    stored = pyogrio.read_dataframe(scenario.path, layer="communities").geometry.to_numpy()
    assert bool(shapely.coverage_is_valid(stored))
    # codes: 12 digits, unique, 310115 east of the 黄浦江 and 310101 west of it
    assert c["code"].is_unique and all(re.fullmatch(r"(310115|310101)\d{6}", x) for x in c["code"])
    assert c["name"].str.endswith("社区").all() and (c["kind"] == "urban").all()
    water = source["water"]
    river = water[(water["name"] == "黄浦江") & water.geom_type.isin(["Polygon", "MultiPolygon"])]
    river = shapely.union_all(shapely.make_valid(river.to_crs(builder.METRIC_EPSG).geometry.to_numpy()))
    assert (shapely.area(shapely.intersection(geoms, river)) < 5.0).all()  # water left out
    tower = gpd.GeoSeries([shapely.Point(*builder.PUDONG_LONLAT)], crs=4326).to_crs(builder.METRIC_EPSG).iloc[0]
    extent = builder._extent([source["roads"], source["landuse"], water])
    land, _ = builder._land(water, extent)
    pudong = [p for p in shapely.get_parts(land) if p.intersects(tower)][0]
    east = shapely.area(shapely.intersection(geoms, pudong)) / shapely.area(geoms)
    assert ((east > 0.999) | (east < 0.001)).all()  # no community straddles the river
    assert ((east > 0.5) == c["code"].str.startswith("310115").to_numpy()).all()
    # 2,000–8,000 estimated households in each
    b = scenario.buildings
    hh = _estimate(b)
    bi, ci = shapely.STRtree(geoms).query(b.geometry.representative_point().to_numpy(), predicate="within")
    per = np.bincount(ci, weights=hh[bi], minlength=len(c))
    assert per.min() >= 2_000 and per.max() <= 8_000
    assert (per == c["households_estimated"].to_numpy()).all()


@slow
def test_metric_crs_is_the_one_gridgeo_picks(scenario):
    from gridgeo.crs import metric_crs

    for name in ("communities", "buildings"):
        assert metric_crs(pyogrio.read_dataframe(scenario.path, layer=name)).to_epsg() == 4550


@slow
def test_same_seed_same_content_and_reuse(builder, scenario, tmp_path):
    first = builder.content_hash(scenario.path)
    again = builder.build(tmp_path / "a", seed=scenario.summary["seed"])
    assert builder.content_hash(again.path) == first
    mtime = again.path.stat().st_mtime_ns
    assert builder.build(tmp_path / "a", seed=scenario.summary["seed"]).path.stat().st_mtime_ns == mtime  # reused
    other = builder.build(tmp_path / "b", seed=scenario.summary["seed"] + 1)
    assert builder.content_hash(other.path) != first


@slow
def test_real_uses_leave_untagged_buildings_empty(builder, tmp_path):
    sc = builder.build(tmp_path, residential="real")
    assert sc.path.name == "lujiazui_scenario_real.gpkg" and sc.summary["residential"] == "real"
    b = sc.buildings
    assert b.loc[b["kind_detail"].isna(), "use"].isna().all()
    # gridgeo counts an untagged building as residential: every office tower holds households
    assert sc.summary["households_estimated"] > 100_000


def test_builder_without_real_data_exits_with_a_message(tmp_path):
    env = {**os.environ, "GRIDGEO_SHARED_DATA": str(tmp_path / "absent")}
    res = subprocess.run([sys.executable, str(REPO / "scripts" / "build_lujiazui_scenario.py"), "--out", str(tmp_path / "o")],
                         capture_output=True, text=True, env=env)
    assert res.returncode == 2
    assert "cannot build: real data not found" in res.stderr and "GRIDGEO_SHARED_DATA" in res.stderr
    assert not (tmp_path / "o").exists()
