"""Tests of gridgeo.datasets and of the bundled sample town (data/sample_town.gpkg)."""

from __future__ import annotations

import csv
import math
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from gridgeo import datasets
from gridgeo._errors import InputError
from gridgeo.crs import metric_crs

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "make_sample_town.py"

COLUMNS = {
    "communities": {"code", "name", "kind"},
    "streets": {"name", "highway"},
    "buildings": {"building_id", "households", "floors", "use", "name"},
    "villager_groups": {"name", "community_code"},
    "enterprises": {"name", "category", "employees"},
}
USES = {"residential", "school", "hospital", "market", "government", "office", "industrial", "commercial"}
CATEGORIES = {"government", "school", "hospital", "enterprise", "park", "business", "office", "market"}
HIGHWAYS = {"primary", "secondary", "tertiary", "residential", "service", "unclassified", "track"}


@pytest.fixture(scope="module")
def town() -> dict[str, gpd.GeoDataFrame]:
    """Every layer of the sample town, as stored (EPSG:4490)."""
    path = datasets.get_path("sample_town")
    return {name: gpd.read_file(path, layer=name) for name in datasets.sample_town_layers()}


@pytest.fixture(scope="module")
def metric(town) -> dict[str, gpd.GeoDataFrame]:
    """The same layers in the town's Gauss-Krüger zone."""
    crs = metric_crs(town["communities"])
    return {name: gdf.to_crs(crs) for name, gdf in town.items()}


@pytest.fixture(scope="module")
def households(metric) -> gpd.GeoDataFrame:
    """Buildings with their households (given, or footprint x floors / 90 m2) and community code."""
    b = metric["buildings"]
    est = np.where(b["households"].isna(), np.round(b.area * b["floors"] / 90.0), b["households"])
    pts = gpd.GeoDataFrame({"h": est, "building_id": b["building_id"]}, geometry=b.representative_point(), crs=b.crs)
    return gpd.sjoin(pts, metric["communities"][["code", "kind", "geometry"]], predicate="within")


# ---- gridgeo.datasets


def test_available_names():
    assert datasets.available() == ["sample_town", "sample_town_staff"]


@pytest.mark.parametrize("name", ["sample_town", "sample_town_staff"])
def test_get_path_exists(name):
    path = datasets.get_path(name)
    assert isinstance(path, Path)
    assert path.is_file()
    assert path.stat().st_size < 5_000_000  # a few MB at most


def test_get_path_wrong_name_lists_valid_names():
    with pytest.raises(InputError, match=r"no dataset named 'sample-town'; available: 'sample_town', 'sample_town_staff'"):
        datasets.get_path("sample-town")
    # the workaround the message gives works
    assert datasets.get_path("sample_town").exists()


def test_get_path_error_is_a_value_error():
    with pytest.raises(ValueError, match="available"):
        datasets.get_path("")


def test_missing_file_names_the_fix(monkeypatch, tmp_path):
    monkeypatch.setattr(datasets, "_data_dirs", lambda: [tmp_path])
    with pytest.raises(InputError, match=r"not in this installation.*pip install -e \."):
        datasets.get_path("sample_town")


def test_layers_and_columns(town):
    assert list(town) == datasets.sample_town_layers()
    import pyogrio

    assert [row[0] for row in pyogrio.list_layers(datasets.get_path("sample_town"))] == datasets.sample_town_layers()
    for name, gdf in town.items():
        assert COLUMNS[name] <= set(gdf.columns), name
        assert gdf.crs.to_epsg() == 4490, name
        assert len(gdf) > 0 and gdf.geometry.is_valid.all() and not gdf.geometry.is_empty.any(), name


# ---- communities


def test_community_codes(town):
    c = town["communities"]
    assert 6 <= len(c) <= 10
    assert c["code"].str.fullmatch(r"\d{12}").all()
    assert c["code"].is_unique
    assert c["code"].str[:9].nunique() == 1
    assert c["name"].str.endswith(("社区", "村")).all()
    assert set(c["kind"]) == {"urban", "rural", "township"}
    assert (c["kind"] == "rural").sum() == 1 and (c["kind"] == "township").sum() == 1
    rural = c.loc[c["kind"] == "rural", "code"].iloc[0]
    assert int(rural[-3:]) >= 200
    assert (c.loc[c["kind"] != "rural", "code"].str[-3:].astype(int) < 200).all()


@pytest.mark.parametrize("crs", ["metric", "stored"])
def test_communities_tile(town, metric, crs):
    c = metric["communities"] if crs == "metric" else town["communities"]
    assert (c.geom_type == "Polygon").all()
    assert bool(shapely.coverage_is_valid(c.geometry.values))
    m = metric["communities"]
    union = shapely.union_all(m.geometry.values)
    assert union.geom_type == "Polygon" and len(union.interiors) == 0
    assert abs(union.area - m.area.sum()) < 1.0  # no overlap
    overlaps = gpd.sjoin(m, m, predicate="overlaps")
    assert overlaps.empty


def test_rural_village_is_largest(metric):
    c = metric["communities"]
    assert c.loc[c.area.idxmax(), "kind"] == "rural"


def test_internal_boundaries_follow_streets(metric):
    c, s = metric["communities"], metric["streets"]
    outline = shapely.union_all(c.geometry.values).boundary
    internal = shapely.union_all(c.boundary.values).difference(outline.buffer(0.01))
    on_streets = internal.intersection(shapely.union_all(s.geometry.values).buffer(0.01))
    assert internal.length > 5000
    assert on_streets.length / internal.length > 0.99


# ---- streets


def test_streets(town, metric):
    s = town["streets"]
    assert set(s["highway"]) <= HIGHWAYS
    assert {"primary", "secondary", "tertiary", "residential", "service", "track"} <= set(s["highway"])
    assert s.geom_type.eq("LineString").all()
    named = s["name"].dropna()
    assert {"人民大道", "建设路", "解放路"} <= set(named)
    assert s["name"].isna().any()  # unnamed lanes
    # one connected network
    net = shapely.union_all(metric["streets"].buffer(0.05).values)
    assert net.geom_type == "Polygon"


@pytest.mark.parametrize("crs", ["metric", "stored"])
def test_streets_bound_blocks_exactly(town, metric, crs):
    """Streets and community boundaries polygonize into blocks that each lie in one community, without
    hairline slivers: every junction and crossing is a shared vertex, so noding computes no new point."""
    layers = metric if crs == "metric" else town
    streets, communities = layers["streets"], layers["communities"]
    lines = list(streets.geometry[streets["highway"] != "service"]) + list(communities.boundary)
    blocks = gpd.GeoDataFrame(geometry=shapely.get_parts(shapely.polygonize(shapely.get_parts(shapely.union_all(lines)))),
                              crs=streets.crs)
    j = gpd.sjoin(blocks, communities[["code", "geometry"]], predicate="within")
    assert len(blocks) > 100
    assert len(j) == len(blocks) and j.index.is_unique
    if crs == "metric":
        assert blocks.area.min() > 500.0
        assert abs(blocks.area.sum() - communities.area.sum()) < 1.0


# ---- buildings


def test_buildings_attributes(town):
    b = town["buildings"]
    assert b["building_id"].is_unique
    assert set(b["use"]) == USES
    assert (b.geom_type == "Polygon").all()
    assert b["floors"].between(1, 33).all()
    res = b[b["use"] == "residential"]
    non = b[b["use"] != "residential"]
    assert (non["households"] == 0).all()
    missing = res["households"].isna()
    assert 0.01 < missing.mean() < 0.06  # a few counts left for the pipeline to estimate
    assert res["floors"].notna().all()
    assert (res.loc[~missing, "households"] > 0).all()
    assert (b["households"].dropna() % 1 == 0).all()
    assert (b["households"] > 500).sum() == 1  # one tower over the ceiling, on purpose


def test_buildings_inside_one_community(metric):
    b, c = metric["buildings"], metric["communities"]
    j = gpd.sjoin(b, c, predicate="within")
    assert j.index.is_unique and len(j) == len(b)


def test_buildings_do_not_cross_streets(metric):
    b, s = metric["buildings"], metric["streets"]
    hits = gpd.sjoin(b, gpd.GeoDataFrame(geometry=s.buffer(2.0), crs=s.crs), predicate="intersects")
    assert hits.empty
    assert gpd.sjoin(b, b, predicate="overlaps").empty


def test_households(households):
    total = households["h"].sum()
    assert 15_000 <= total <= 30_000
    per = households.groupby(["code", "kind"])["h"].sum()
    for (code, kind), h in per.items():
        if kind == "rural":
            assert 300 <= h <= 1500, code
        else:  # room for base grids of 300-500 households
            assert 1500 <= h <= 5000, code


def test_block_households(metric, households):
    lines = list(metric["streets"].geometry[metric["streets"]["highway"] != "service"]) + list(metric["communities"].boundary)
    blocks = gpd.GeoDataFrame(geometry=shapely.get_parts(shapely.polygonize(shapely.get_parts(shapely.union_all(lines)))),
                              crs=metric["streets"].crs)
    urban = households[households["kind"] != "rural"]
    j = gpd.sjoin(urban[["h", "geometry"]], blocks, predicate="within")
    per_block = j.groupby("index_right")["h"].sum()
    assert len(j) == len(urban)
    assert per_block.max() < 1500
    assert 3 <= (per_block > 500).sum() <= 15  # big gated compounds the partition must split
    assert per_block.between(50, 900).mean() > 0.6


# ---- villager groups, enterprises, staff


def test_villager_groups_cover_the_village(metric, households):
    c, g = metric["communities"], metric["villager_groups"]
    village = c[c["kind"] == "rural"]
    assert (g["community_code"] == village["code"].iloc[0]).all()
    assert bool(shapely.coverage_is_valid(g.geometry.values))
    assert abs(shapely.union_all(g.geometry.values).symmetric_difference(village.geometry.iloc[0]).area) < 1.0
    assert list(g["name"][:3]) == ["一组", "二组", "三组"]
    houses = households[households["kind"] == "rural"]
    j = gpd.sjoin(houses[["h", "geometry"]], g[["name", "geometry"]], predicate="within")
    assert len(j) == len(houses)
    sizes = j.groupby("name")["h"].sum()
    assert sizes.between(30, 80).sum() == len(g) - 1
    assert 130 <= sizes.max() <= 170


def test_enterprises(metric):
    e, b = metric["enterprises"], metric["buildings"]
    assert set(e["category"]) == CATEGORIES
    assert e["name"].is_unique
    assert (e["employees"] > 0).all()
    j = gpd.sjoin(e, b[["use", "geometry"]], predicate="within")
    assert len(j) == len(e)  # each inside its building
    assert (j["use"] != "residential").all()


def test_staff_roster(town, households):
    with open(datasets.get_path("sample_town_staff"), encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert set(rows[0]) == {"name", "phone", "role", "community_code"}
    assert {r["role"] for r in rows} == {"网格长", "网格员", "楼栋长"}
    assert {r["community_code"] for r in rows} == set(town["communities"]["code"])
    assert all(r["phone"][4:8] == "5550" for r in rows)
    assert len({r["name"] for r in rows}) == len(rows)
    per = households.groupby("code")["h"].sum()
    for code, h in per.items():
        workers = sum(r["role"] == "网格员" and r["community_code"] == code for r in rows)
        assert workers >= math.ceil(h / 400) or code.endswith("201"), code


# ---- the generator


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory) -> list[Path]:
    """The generator run twice into fresh folders."""
    outs = []
    for k in range(2):
        out = tmp_path_factory.mktemp(f"town{k}")
        subprocess.run([sys.executable, str(SCRIPT), "--out", str(out), "--quiet"], check=True, timeout=300)
        outs.append(out)
    return outs


@pytest.mark.slow
def test_generator_is_deterministic(regenerated):
    a, b = regenerated
    for name in ("sample_town.gpkg", "sample_town_staff.csv"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


@pytest.mark.slow
def test_bundled_data_is_current(regenerated, town):
    """The committed files are what the generator makes (byte for byte with the libraries that made them)."""
    fresh = regenerated[0]
    same_bytes = all((fresh / datasets.get_path(n).name).read_bytes() == datasets.get_path(n).read_bytes()
                     for n in ("sample_town", "sample_town_staff"))
    if same_bytes:
        return
    # another GEOS/PROJ/GDAL may move a coordinate in the last digits; the content must still agree
    for name, gdf in town.items():
        new = gpd.read_file(fresh / "sample_town.gpkg", layer=name)
        assert len(new) == len(gdf), f"{name}: regenerate data/ with scripts/make_sample_town.py"
        cols = [c for c in gdf.columns if c != "geometry"]
        assert new[cols].equals(gdf[cols]), f"{name}: regenerate data/ with scripts/make_sample_town.py"
        assert new.geometry.geom_equals_exact(gdf.geometry, tolerance=1e-8).all(), name
