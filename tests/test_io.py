"""Reading inputs (gridgeo.io): formats, encodings, column mapping, errors, repairs, config files."""

from __future__ import annotations

import os
import re
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal
from shapely import MultiPoint, Point, Polygon

from conftest import CODE_A, CODE_B, METRIC_EPSG, at, rect
from gridgeo import InputError
from gridgeo._face import CLI
from gridgeo.io import (
    Inputs,
    LayerSource,
    check_community_overlaps,
    fingerprint,
    frame_layer,
    layer_sources,
    load_config,
    normalise_buildings,
    normalise_communities,
    normalise_points,
    normalise_streets,
    read_inputs,
    read_layer,
)

# ------------------------------------------------------------------------------------------ formats


def test_geopackage_with_layer_name(tmp_path, communities_4490, streets_4490):
    path = tmp_path / "town.gpkg"
    communities_4490.to_file(path, layer="shequ", driver="GPKG")
    streets_4490.to_file(path, layer="jiedao", driver="GPKG")
    got = read_layer(path, name="communities", layer="shequ")
    assert got.crs.to_epsg() == 4490
    assert list(got["code"]) == [CODE_A, CODE_B]
    assert list(got["name"]) == ["民族街社区", "花楼水塔社区"]
    got = read_layer(path, name="streets", layer="jiedao")
    assert len(got) == 4
    assert set(got.geom_type) == {"LineString"}


def test_geopackage_several_layers_needs_a_choice(tmp_path, communities_4490, streets_4490):
    path = tmp_path / "town.gpkg"
    communities_4490.to_file(path, layer="shequ", driver="GPKG")
    streets_4490.to_file(path, layer="jiedao", driver="GPKG")
    with pytest.raises(InputError, match=r"communities: .*town\.gpkg has several layers \['shequ', 'jiedao'\]; choose one with --communities-layer"):
        read_layer(path, name="communities")
    with pytest.raises(InputError, match=r"villager_groups: .* choose one with --villager-groups-layer"):
        read_layer(path, name="villager_groups")


def test_geopackage_layer_named_like_the_input_is_chosen(tmp_path, communities_4490, streets_4490):
    path = tmp_path / "town.gpkg"
    communities_4490.to_file(path, layer="communities", driver="GPKG")
    streets_4490.to_file(path, layer="streets", driver="GPKG")
    assert set(read_layer(path, name="streets").geom_type) == {"LineString"}
    assert list(read_layer(path, name="communities")["code"]) == [CODE_A, CODE_B]


def test_missing_layer_lists_layers(tmp_path, communities_4490, streets_4490):
    path = tmp_path / "town.gpkg"
    communities_4490.to_file(path, layer="shequ", driver="GPKG")
    streets_4490.to_file(path, layer="jiedao", driver="GPKG")
    with pytest.raises(InputError, match=r"streets: layer 'roads' not found in .*town\.gpkg; layers there: \['shequ', 'jiedao'\]"):
        read_layer(path, name="streets", layer="roads")


@pytest.mark.parametrize("encoding", ["gb18030", "gbk"])
@pytest.mark.parametrize("keep_cpg", [True, False])
def test_shapefile_chinese_encoding(tmp_path, communities_4490, encoding, keep_cpg):
    path = tmp_path / "shequ.shp"
    communities_4490.to_file(path, encoding=encoding)
    cpg = path.with_suffix(".cpg")
    assert cpg.exists()
    if not keep_cpg:
        cpg.unlink()
    # the DBF really holds GBK bytes, not UTF-8
    assert "民族街社区".encode("gbk") in path.with_suffix(".dbf").read_bytes()
    got = read_layer(path, name="communities")
    assert list(got["name"]) == ["民族街社区", "花楼水塔社区"]
    assert list(got["code"]) == [CODE_A, CODE_B]
    assert got.crs.to_epsg() == 4490


def test_shapefile_utf8_without_cpg(tmp_path, communities_4490):
    path = tmp_path / "shequ.shp"
    communities_4490.to_file(path, encoding="utf-8")
    path.with_suffix(".cpg").unlink(missing_ok=True)
    assert list(read_layer(path, name="communities")["name"]) == ["民族街社区", "花楼水塔社区"]


def test_shapefile_explicit_encoding(tmp_path, communities_4490):
    path = tmp_path / "shequ.shp"
    communities_4490.to_file(path, encoding="gb18030")
    path.with_suffix(".cpg").unlink()
    assert list(read_layer(path, name="communities", encoding="gbk")["name"]) == ["民族街社区", "花楼水塔社区"]


def test_shapefile_with_layer_name(tmp_path, communities_4490):
    path = tmp_path / "shequ.shp"
    communities_4490.to_file(path)
    assert len(read_layer(path, name="communities", layer="shequ")) == 2
    with pytest.raises(InputError, match=r"layer 'other' not found in .*shequ\.shp; layers there: \['shequ'\]"):
        read_layer(path, name="communities", layer="other")


@pytest.mark.parametrize(("suffix", "driver"), [(".geojson", "GeoJSON"), (".fgb", "FlatGeobuf")])
def test_ogr_single_layer_formats(tmp_path, streets_4490, suffix, driver):
    path = tmp_path / f"streets{suffix}"
    streets_4490.to_file(path, driver=driver)
    got = read_layer(path, name="streets")
    assert got.crs.to_epsg() == 4490
    # FlatGeobuf stores features in spatial-index order: compare by name
    got = got.set_index("name").loc[streets_4490["name"]]
    assert got.index.tolist() == ["江汉路", "中山大道", "小巷", "城外路"]
    assert got.geometry.geom_equals_exact(streets_4490.set_index("name").geometry, tolerance=1e-9).all()


def test_geoparquet(tmp_path, buildings_4547):
    path = tmp_path / "buildings.parquet"
    buildings_4547.to_parquet(path)
    got = read_layer(path, name="buildings")
    assert got.crs.to_epsg() == METRIC_EPSG
    assert_geodataframe_equal(got, buildings_4547)


def test_geoparquet_without_crs(tmp_path, buildings_4547):
    path = tmp_path / "buildings.parquet"
    buildings_4547.set_crs(None, allow_override=True).to_parquet(path)
    with pytest.raises(InputError, match=r"layer 'buildings' has no CRS; give one with --crs"):
        read_layer(path, name="buildings")
    assert read_layer(path, name="buildings", crs="EPSG:4547").crs.to_epsg() == 4547


def test_not_geoparquet(tmp_path):
    path = tmp_path / "table.parquet"
    pd.DataFrame({"a": [1, 2]}).to_parquet(path)
    with pytest.raises(InputError, match=r"buildings: cannot read .*table\.parquet as GeoParquet"):
        read_layer(path, name="buildings")


def test_csv_lon_lat(tmp_path):
    path = tmp_path / "buildings.csv"
    path.write_text("building_id,Lon,LAT,households,name\n001,114.27,30.59,12,一号楼\n002,114.28,30.60,,二号楼\n", encoding="utf-8")
    got = read_layer(path, name="buildings")
    assert got.crs.to_epsg() == 4326  # lon/lat columns default to WGS-84
    assert list(got.geometry.x) == [114.27, 114.28]
    assert list(got.geometry.y) == [30.59, 30.60]
    # every column stays text: ids keep their leading zeros
    assert list(got["building_id"]) == ["001", "002"]
    assert got["households"].iloc[0] == "12"
    assert pd.isna(got["households"].iloc[1])
    assert list(got["name"]) == ["一号楼", "二号楼"]
    assert "Lon" not in got.columns and "LAT" not in got.columns


def test_csv_lon_lat_with_crs(tmp_path):
    path = tmp_path / "buildings.csv"
    path.write_text("lng,lat\n114.27,30.59\n", encoding="utf-8")
    assert read_layer(path, name="buildings", crs="EPSG:4490").crs.to_epsg() == 4490


def test_csv_gbk_encoded(tmp_path):
    path = tmp_path / "buildings.csv"
    path.write_bytes("经度,纬度,name\n114.27,30.59,一号楼\n".encode("gbk"))
    got = read_layer(path, name="buildings")
    assert list(got["name"]) == ["一号楼"]
    assert got.geometry.iloc[0].equals(Point(114.27, 30.59))


def test_csv_non_numeric_coordinates(tmp_path):
    path = tmp_path / "buildings.csv"
    path.write_text("lon,lat\n114.27,30.59\nabc,30.6\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"buildings: 1 row of .*buildings\.csv has non-numeric lon/lat \(line 3; first 'abc'\); fix or remove them"):
        read_layer(path, name="buildings")


def test_csv_coordinates_as_typed_read_and_the_unreadable_named(tmp_path):
    """A CSV layer's lon/lat read as ``gridgeo locate`` reads points (one implementation): full-width digits, a
    decimal comma, a degree sign and hemisphere were "non-numeric"; a value still unreadable is named."""
    path = tmp_path / "buildings.csv"
    path.write_text("lon,lat\n１１４．２７,30，59\n114.28°E,30°36′N\n", encoding="utf-8")
    got = read_layer(path, name="buildings")
    assert got.geometry.iloc[0].equals(Point(114.27, 30.59)) and got.geometry.iloc[1].equals(Point(114.28, 30.6))
    path.write_text("lon,lat\n114.27,30.59\n114.3x,30.6\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"non-numeric lon/lat \(line 3; first '114.3x'\); fix or remove them"):
        read_layer(path, name="buildings")


def test_a_hemisphere_letter_of_the_other_axis_is_a_bad_row(tmp_path):
    """A latitude written "30.59E" (or 东经30.59) was read as 30.59, a longitude "114.28N" as 114.28: the letter of the
    other axis says the value is in the wrong column, or mistyped. It reads as no number: a bad row named by its
    line, as any unreadable value is; the letters of the column's own axis are read as before."""
    import math

    from gridgeo.io import coordinate_values

    path = tmp_path / "buildings.csv"
    path.write_text("lon,lat\n114.27E,北纬30.59\n114.28,30.6\n", encoding="utf-8")
    assert read_layer(path, name="buildings").geometry.iloc[0].equals(Point(114.27, 30.59))
    for lon, lat, first in (("114.28", "30.6E", "30.6E"), ("114.28N", "30.6", "114.28N"), ("114.28", "东经30.6", "东经30.6")):
        path.write_text(f"lon,lat\n114.27,30.59\n{lon},{lat}\n", encoding="utf-8")
        with pytest.raises(InputError, match=rf"non-numeric lon/lat \(line 3; first '{first}'\); fix or remove them"):
            read_layer(path, name="buildings")
    assert math.isnan(coordinate_values(["30.59E"], axis="lat")[0]) and coordinate_values(["30.59E"])[0] == 30.59
    with pytest.raises(InputError, match=r"coordinate_values: axis='x' must be one of \[None, 'lon', 'lat'\]"):
        coordinate_values(["1"], axis="x")


def test_csv_rows_named_by_their_line_blank_and_cleared_rows_skipped(tmp_path):
    """A CSV layer saved by a spreadsheet with a blank line and a row it cleared (``,,``): the cleared row was a
    row of non-numeric coordinates, and the first bad row was named by its place among the rows read plus 2
    ("first at row 3" for a bad row on line 4, after a blank line). Rows of nothing are no features; every bad row
    is named by its line in the file."""
    path = tmp_path / "buildings.csv"
    path.write_text("lon,lat,name\n114.27,30.59,a\n\n,,\n114.28,30.6,b\n", encoding="utf-8")
    got = read_layer(path, name="buildings")
    assert list(got["name"]) == ["a", "b"] and got.geometry.iloc[1].equals(Point(114.28, 30.6))
    path.write_text("lon,lat,name\n114.27,30.59,a\n\nabc,30.6,b\n114.28,,c\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"2 rows of .* have non-numeric lon/lat \(lines 4, 5; first 'abc'\); fix or remove them"):
        read_layer(path, name="buildings")


def test_csv_wkt(tmp_path, communities_4547):
    path = tmp_path / "communities.csv"
    df = pd.DataFrame({"code": communities_4547["code"], "name": communities_4547["name"], "WKT": communities_4547.geometry.to_wkt()})
    df.to_csv(path, index=False)
    with pytest.raises(InputError, match=r"layer 'communities' has no CRS; give one with --crs"):
        read_layer(path, name="communities")
    got = read_layer(path, name="communities", crs=METRIC_EPSG)
    assert got.crs.to_epsg() == METRIC_EPSG
    assert list(got["code"]) == [CODE_A, CODE_B]
    assert got.geometry.geom_equals(communities_4547.geometry).all()
    assert "WKT" not in got.columns


@pytest.mark.parametrize("column", ["shape", "坐标", "SHAPE"])
def test_csv_layer_reads_the_geometry_column_names_locate_reads(tmp_path, communities_4547, column):
    """README: a CSV layer is read as `gridgeo locate` reads points, whose WKT column may be named `shape` or `坐标`;
    a communities CSV with its WKT under those names was refused ("has no coordinate columns"): one list of names now
    serves both."""
    path = tmp_path / "communities.csv"
    pd.DataFrame({"code": communities_4547["code"], column: communities_4547.geometry.to_wkt()}).to_csv(path, index=False)
    got = read_layer(path, name="communities", crs=METRIC_EPSG)
    assert got.geometry.geom_equals(communities_4547.geometry).all() and column not in got.columns


def test_csv_malformed_wkt(tmp_path):
    path = tmp_path / "communities.csv"
    path.write_text('code,wkt\n420103001001,"POLYGON ((0 0, 1 0"\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"communities: column 'wkt' of .* holds malformed WKT"):
        read_layer(path, name="communities", crs=4547)


def test_csv_without_coordinates(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_text("name,phone\n张三,13800000000\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"buildings: CSV .*roster\.csv has no coordinate columns; give lon/lat .* columns found: \['name', 'phone'\]"):
        read_layer(path, name="buildings")


# ------------------------------------------------------------------------------------ file errors


def test_unknown_crs_option(tmp_path, communities_4490):
    path = tmp_path / "c.gpkg"
    communities_4490.to_file(path)
    with pytest.raises(InputError, match=r"^communities: unknown CRS 'EPSG:99999'; give one pyproj knows, e\.g\. --crs EPSG:4490$"):
        read_layer(path, name="communities", crs="EPSG:99999")


def test_unknown_encoding_option(tmp_path, communities_4490):
    path = tmp_path / "c.shp"
    communities_4490.to_file(path)
    with pytest.raises(InputError, match=r"^communities: unknown text encoding 'nonsense'; give a codec name such as gbk"):
        read_layer(path, name="communities", encoding="nonsense")


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match=r"streets: file not found: .*nope\.gpkg; check the path"):
        read_layer(tmp_path / "nope.gpkg", name="streets")


def test_missing_file_lists_files_nearby(tmp_path, streets_4490):
    streets_4490.to_file(tmp_path / "roads.gpkg", driver="GPKG")
    with pytest.raises(InputError, match=r"file not found: .*street\.gpkg; check the path \(files there: \['roads\.gpkg'\]\)"):
        read_layer(tmp_path / "street.gpkg", name="streets")


def test_a_layer_named_in_the_path_is_told_apart(tmp_path, streets_4490):
    """``roads.gpkg:streets`` (GDAL) and ``roads.gpkg|layername=streets`` (QGIS) name the file and its layer in one."""
    gpkg = tmp_path / "roads.gpkg"
    streets_4490.to_file(gpkg, layer="streets", driver="GPKG")
    for given in (f"{gpkg}:streets", f"{gpkg}|layername=streets"):
        with pytest.raises(InputError, match=rf"streets: .* names a file and a layer in one; give them apart: "
                                             rf"\('{re.escape(str(gpkg))}', 'streets'\)$"):
            read_layer(given, name="streets")
    face = CLI.set(True)
    try:
        with pytest.raises(InputError, match=rf"give them apart: --villager-groups {re.escape(str(gpkg))} "
                                             r"--villager-groups-layer streets$"):
            read_layer(f"{gpkg}:streets", name="villager_groups")
    finally:
        CLI.reset(face)
    with pytest.raises(InputError, match=r"file not found: .*nope\.gpkg:streets; check the path"):
        read_layer(tmp_path / "nope.gpkg:streets", name="streets")  # no such file before the colon: not found


def test_not_a_gis_file(tmp_path):
    path = tmp_path / "notes.gpkg"
    path.write_text("hello", encoding="utf-8")
    with pytest.raises(InputError, match=r"streets: cannot read .*notes\.gpkg: not a format GDAL recognises"):
        read_layer(path, name="streets")


def test_empty_layer(tmp_path):
    path = tmp_path / "empty.gpkg"
    empty = gpd.GeoDataFrame({"code": pd.Series(dtype=str)}, geometry=gpd.GeoSeries([], crs=4490))
    pyogrio.write_dataframe(empty, path, layer="communities", geometry_type="Polygon")
    with pytest.raises(InputError, match=r"communities: layer 'communities' in .*empty\.gpkg is empty; give a layer with features"):
        read_layer(path, name="communities")
    # an optional layer given empty: a wrong file or layer, refused, with the second fix (leave it out)
    with pytest.raises(InputError, match=r"streets: layer 'communities' in .*empty\.gpkg is empty; give a layer with "
                                         r"features, or leave the streets layer out \(it is optional: grids then "
                                         r"follow the gaps between buildings\)$"):
        read_layer(path, name="streets")
    with pytest.raises(InputError, match=r"enterprises: the GeoDataFrame is empty; give a layer with features, or "
                                         r"leave the enterprises layer out"):
        frame_layer(empty, name="enterprises")


def test_non_spatial_table(tmp_path):
    path = tmp_path / "table.gpkg"
    pyogrio.write_dataframe(pd.DataFrame({"code": [CODE_A]}), path, layer="codes")
    with pytest.raises(InputError, match=r"communities: .*table\.gpkg has no geometry column \(a table: \['code'\]\); give a spatial layer$"):
        read_layer(path, name="communities")


def test_a_households_table_given_as_buildings_names_the_join(tmp_path):
    """A planner's households come in an Excel table keyed by building id (楼栋编号, 户数); given as the buildings it
    was refused with "has no geometry column; give a spatial layer", nothing on how to use it: the error names it a
    table, its columns, and the argument that takes it (the README section this test also reads)."""
    path = tmp_path / "户数表.xlsx"
    pyogrio.write_dataframe(pd.DataFrame({"楼栋编号": ["B1", "B2"], "户数": [12, 30]}), path, driver="XLSX")
    with pytest.raises(InputError, match=r"buildings: .*户数表\.xlsx has no geometry column \(a table: \['楼栋编号', '户数'\]\); "
                                         r"give a spatial layer of building footprints or points; households kept in a "
                                         r"table keyed by building id \(楼栋编号\) are given beside them: "
                                         r"households='户数表\.xlsx' \(README, \"Households in a separate table\"\)"):
        read_layer(path, name="buildings")
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    assert "### Households in a separate table" in readme


def test_no_crs_and_crs_option(tmp_path, communities_4547):
    path = tmp_path / "shequ.shp"
    communities_4547.to_file(path)
    path.with_suffix(".prj").unlink()
    # metres: the advice is a Gauss-Krüger CRS, not EPSG:4490 (degrees), which would only lead to a second error
    with pytest.raises(InputError, match=r"layer 'communities' has no CRS; give one with --crs EPSG:4547 for CGCS2000 3° "
                                         r"Gauss-Krüger .* \(its coordinates are metres: x 526000…526800"):
        read_layer(path, name="communities")
    got = read_layer(path, name="communities", crs="EPSG:4547")
    assert got.crs.to_epsg() == 4547
    assert got.geometry.geom_equals(communities_4547.geometry).all()


def test_conflicting_crs(tmp_path, communities_4490):
    path = tmp_path / "shequ.gpkg"
    communities_4490.to_file(path)
    with pytest.raises(InputError, match=r"layer 'communities' has CRS 'EPSG:4490' but --crs 'EPSG:4547' was given; drop --crs"):
        read_layer(path, name="communities", crs=4547)
    # the same CRS given again is fine
    assert read_layer(path, name="communities", crs="EPSG:4490").crs.to_epsg() == 4490


# -------------------------------------------------------------------------------- column mapping


def test_missing_required_column_lists_columns(communities_4547):
    g = communities_4547.rename(columns={"code": "DM"})
    with pytest.raises(
        InputError,
        match=r"communities: required column 'code' not found; columns there: \['DM', 'name', 'kind'\]; map one with --columns communities\.code=YOUR_COLUMN",
    ):
        normalise_communities(g)


def test_column_mapping(communities_4547):
    g = communities_4547.rename(columns={"code": "DM", "name": "MC"})
    out, findings = normalise_communities(g, columns={"code": "DM", "name": "MC"})
    assert list(out["code"]) == [CODE_A, CODE_B]
    assert list(out["name"]) == ["民族街社区", "花楼水塔社区"]
    assert "DM" not in out.columns and "MC" not in out.columns
    assert findings == []
    assert list(g.columns) == ["DM", "MC", "kind", "geometry"]  # input untouched


def test_column_mapping_replaces_a_column_with_the_canonical_name(communities_4547):
    g = communities_4547.assign(DM=["420103002001", "420103002002"])
    out, _ = normalise_communities(g, columns={"code": "DM"})
    assert list(out["code"]) == ["420103002001", "420103002002"]
    assert list(out.columns).count("code") == 1


def test_column_mapping_to_missing_column(communities_4547):
    with pytest.raises(InputError, match=r"communities: column\(s\) \['CUN_DM'\] not found; columns there: \['code', 'name', 'kind'\]"):
        normalise_communities(communities_4547, columns={"code": "CUN_DM"})


def test_column_mapping_of_unknown_canonical_name(communities_4547):
    with pytest.raises(InputError, match=r"communities: cannot map unknown column\(s\) \['cod'\]; mappable columns: \['code', 'kind', 'name'\]"):
        normalise_communities(communities_4547, columns={"cod": "code"})


def test_canonical_names_are_case_insensitive(communities_4547, buildings_4547):
    g = communities_4547.rename(columns={"code": "CODE", "name": "Name", "kind": "KIND"})
    out, _ = normalise_communities(g)
    assert list(out["code"]) == [CODE_A, CODE_B]
    assert list(out["name"]) == ["民族街社区", "花楼水塔社区"]
    b = buildings_4547.rename(columns={"households": "HOUSEHOLDS", "floors": "Floors"})
    out, _ = normalise_buildings(b)
    assert out["households"].tolist()[:1] == [120]
    assert out["floors"].tolist()[1] == 6.0


def test_column_mapping_source_is_case_insensitive(communities_4547):
    # Shapefile columns are often upper case while users type them in lower case
    g = communities_4547.rename(columns={"code": "CUN_DM"})
    out, _ = normalise_communities(g, columns={"code": "cun_dm"})
    assert list(out["code"]) == [CODE_A, CODE_B]


def test_geometry_column_renamed(tmp_path, communities_4490):
    g = communities_4490.rename_geometry("geom")
    out, _ = normalise_communities(g)
    assert out.geometry.name == "geometry"


# -------------------------------------------------------------------------------- communities


def test_community_defaults():
    g = gpd.GeoDataFrame({"code": [420103001001.0]}, geometry=[rect(0, 0, 10, 10)], crs=METRIC_EPSG)
    out, _ = normalise_communities(g)
    assert out["code"].tolist() == ["420103001001"]  # float codes from a DBF become text
    assert out["name"].tolist() == ["420103001001"]
    assert out["kind"].tolist() == ["urban"]


def test_community_kind(communities_4547):
    out, _ = normalise_communities(communities_4547.assign(kind=[" Rural", None]))
    assert out["kind"].tolist() == ["rural", "urban"]
    with pytest.raises(InputError, match=r"communities: unknown kind\(s\) \['city'\]; use one of \['urban', 'rural', 'township'\]"):
        normalise_communities(communities_4547.assign(kind=["city", "urban"]))


@pytest.mark.parametrize(
    "bad",
    ["42010300100", "4201030010011", "42010300100A", "420103-01001", "", None, "４２０１０３００１００２"],
    ids=["11-digits", "13-digits", "letter", "dash", "empty", "null", "full-width-digits"],
)
def test_malformed_community_codes(communities_4547, bad):
    g = communities_4547.assign(code=pd.Series([CODE_A, bad], dtype=object))
    with pytest.raises(InputError, match=r"communities: 1 malformed community code .*12-digit statistical code \(统计用区划代码\) in ASCII digits, e\.g\. 420103002001"):
        normalise_communities(g)


def test_malformed_code_is_named(communities_4547):
    g = communities_4547.assign(code=["42010300100", "abc"])
    with pytest.raises(InputError, match=r"2 malformed community codes \['42010300100', 'abc'\]"):
        normalise_communities(g)


def test_missing_community_code_is_named_by_row_and_name(communities_4547):
    # not "[nan]": a community without a code is found by its row and name
    g = communities_4547.assign(code=pd.Series([CODE_A, None], dtype=object), name=["东湖社区", "西湖社区"])
    with pytest.raises(InputError, match=r"communities: 1 malformed community code \['none in row 1 \(西湖社区\)'\]; "):
        normalise_communities(g)
    g = communities_4547.drop(columns="name").assign(code=pd.Series([" ", "abc"], dtype=object))
    with pytest.raises(InputError, match=r"2 malformed community codes \['none in row 0', 'abc'\]"):
        normalise_communities(g)


def test_duplicate_community_codes(communities_4547):
    g = communities_4547.assign(code=[CODE_A, CODE_A])
    with pytest.raises(InputError, match=rf"communities: duplicate community code\(s\) \['{CODE_A}'\]; every community needs its own code"):
        normalise_communities(g)


def test_duplicate_codes_differing_in_whitespace(communities_4547):
    g = communities_4547.assign(code=[CODE_A, f" {CODE_A} "])
    with pytest.raises(InputError, match=r"duplicate community code"):
        normalise_communities(g)


def test_wrong_geometry_type(communities_4547):
    g = communities_4547.set_geometry(communities_4547.geometry.centroid)
    with pytest.raises(InputError, match=r"communities: geometry type\(s\) \['Point'\] not accepted; communities must be \['MultiPolygon', 'Polygon'\]"):
        normalise_communities(g)


def test_streets_wrong_geometry_type(communities_4547):
    with pytest.raises(InputError, match=r"streets: geometry type\(s\) \['Polygon'\] not accepted; streets must be \['LineString', 'MultiLineString'\]"):
        normalise_streets(communities_4547)


@pytest.mark.parametrize("empty", [None, Polygon()], ids=["null", "empty"])
def test_null_geometry(communities_4547, empty):
    g = communities_4547.copy()
    g.loc[1, "geometry"] = empty
    with pytest.raises(InputError, match=r"communities: 1 feature has no geometry \(rows \[1\]\); remove them or add geometry"):
        normalise_communities(g)


def test_null_geometry_read_from_geojson(tmp_path):
    path = tmp_path / "streets.geojson"
    path.write_text(
        '{"type": "FeatureCollection", "features": ['
        '{"type": "Feature", "properties": {"name": "a"}, "geometry": {"type": "LineString", "coordinates": [[114.2, 30.5], [114.3, 30.5]]}},'
        '{"type": "Feature", "properties": {"name": "b"}, "geometry": null}]}',
        encoding="utf-8",
    )
    g = read_layer(path, name="streets")
    with pytest.raises(InputError, match=r"streets: 1 feature has no geometry"):
        normalise_streets(g)


def test_invalid_geometry_repaired_and_recorded(communities_4547):
    bowtie = Polygon([at(0, 0), at(100, 100), at(100, 0), at(0, 100), at(0, 0)])
    assert not bowtie.is_valid
    g = gpd.GeoDataFrame({"code": [CODE_A]}, geometry=[bowtie], crs=METRIC_EPSG)
    out, findings = normalise_communities(g)
    fixed = out.geometry.iloc[0]
    assert fixed.is_valid
    assert fixed.geom_type in ("Polygon", "MultiPolygon")
    assert fixed.area == pytest.approx(5000.0)  # two triangles of 2,500 m²
    assert len(findings) == 1
    f = findings[0]
    assert f["type"] == "invalid_geometry_repaired"
    assert f["severity"] == "warning"
    assert f["layer"] == "communities"
    assert "Self-intersection" in f["message"] and "make_valid" in f["message"]
    assert f["geometry"].equals(fixed)
    assert not g.geometry.iloc[0].is_valid  # input untouched


def test_invalid_street_collapsing_to_nothing():
    # the rows are named: in a layer of thousands, "1 invalid feature" alone cannot be found
    g = gpd.GeoDataFrame(geometry=[shapely.LineString([at(0, 0), at(5, 5)]), shapely.LineString([at(0, 0), at(0, 0)])],
                         crs=METRIC_EPSG)
    with pytest.raises(InputError, match=r"streets: 1 invalid feature collapses to nothing when repaired "
                                         r"\(row 1: Too few points in geometry component\[.*\]\); redraw or remove it in the source$"):
        normalise_streets(g)


def test_repair_findings_reach_read_inputs(tmp_path, communities_4490):
    bowtie = Polygon([(114.2, 30.5), (114.21, 30.51), (114.21, 30.5), (114.2, 30.51), (114.2, 30.5)])
    g = gpd.GeoDataFrame({"code": [CODE_A]}, geometry=[bowtie], crs=4490)
    path = tmp_path / "c.gpkg"
    g.to_file(path)
    inputs = read_inputs({"communities": LayerSource(path)})
    assert isinstance(inputs, Inputs)
    assert list(inputs.findings["type"]) == ["invalid_geometry_repaired"]
    assert inputs.findings.crs.to_epsg() == 4490
    assert inputs.communities.geometry.is_valid.all()


# ----------------------------------------------------------------------------------- overlaps


def test_check_community_overlaps(communities_4547):
    fixed, findings = check_community_overlaps(communities_4547, METRIC_EPSG)  # touching is fine
    assert len(findings) == 0 and fixed.geometry.geom_equals(communities_4547.geometry).all()
    over = communities_4547.copy()
    over.loc[1, "geometry"] = rect(390, 0, 800, 400)  # 10 m × 400 m overlap: wider than the 2 m tolerance
    with pytest.raises(InputError, match=rf"communities overlap each other by more than the 2 m boundary tolerance: "
                                         rf"{CODE_A}/{CODE_B} \(4,000 m² at 114\.\d+°E 30\.\d+°N\); .*不交叉重叠.*"
                                         r"`gridgeo validate COMMUNITIES --repair FIXED\.gpkg`"):
        check_community_overlaps(over, METRIC_EPSG)


def test_check_community_overlaps_in_geographic_input(communities_4490):
    over = communities_4490.copy()
    over.loc[1, "geometry"] = over.geometry.iloc[0]
    with pytest.raises(InputError, match=r"communities overlap each other by more .*160,000 m²"):
        check_community_overlaps(over, METRIC_EPSG)


def test_narrow_overlap_resolved_with_a_finding(communities_4547):
    over = communities_4547.copy()
    over.loc[1, "geometry"] = rect(399.5, 0, 800, 400)  # 0.5 m × 400 m overlap, under the 2 m tolerance
    fixed, findings = check_community_overlaps(over, METRIC_EPSG)
    assert findings["type"].tolist() == ["community_overlap_resolved"]
    assert findings["measure"].tolist() == [200.0]
    assert fixed.geometry.area.sum() == pytest.approx(320_000.0)  # no overlap left
    assert fixed.geometry.iloc[0].intersection(fixed.geometry.iloc[1]).area < 1e-6
    assert over.geometry.iloc[1].area == pytest.approx(400.5 * 400)  # input not modified


# ------------------------------------------------------------------------------ streets, buildings


def test_normalise_streets(streets_4547):
    out, findings = normalise_streets(streets_4547.drop(columns="highway"))
    assert list(out.columns) == ["name", "highway", "geometry"]
    assert out["highway"].tolist() == [None] * 4
    assert findings == []


def test_normalise_streets_accepts_multilines():
    g = gpd.GeoDataFrame(geometry=[shapely.MultiLineString([[at(0, 0), at(0, 10)], [at(5, 0), at(5, 10)]])], crs=METRIC_EPSG)
    out, _ = normalise_streets(g)
    assert out["name"].tolist() == [None]


def test_normalise_buildings(buildings_4547):
    out, findings = normalise_buildings(buildings_4547)
    assert list(out.columns[:5]) == ["building_id", "households", "floors", "name", "use"]
    assert out["building_id"].tolist() == ["b1", "b2", "b3", "b4", "b5", "b6"]
    assert findings == []


def test_building_ids_made_from_geometry_do_not_depend_on_row_order(buildings_4547):
    g = buildings_4547.drop(columns="building_id")
    ids = normalise_buildings(g)[0]["building_id"]
    shuffled = g.sample(frac=1, random_state=3)
    ids_shuffled = normalise_buildings(shuffled)[0]["building_id"]
    assert ids.is_unique
    assert dict(zip(ids.index, ids)) == dict(zip(ids_shuffled.index, ids_shuffled))


def test_identical_buildings_get_distinct_ids():
    g = gpd.GeoDataFrame(geometry=[rect(0, 0, 10, 10)] * 3, crs=METRIC_EPSG)
    ids = normalise_buildings(g)[0]["building_id"]
    assert ids.is_unique
    assert ids.iloc[1] == ids.iloc[0] + "-1"


@pytest.mark.parametrize("bad", [["a", "a"], ["a", ""], ["a", None]], ids=["dup", "empty", "null"])
def test_bad_building_ids(bad):
    g = gpd.GeoDataFrame({"building_id": pd.Series(bad, dtype=object)}, geometry=[rect(0, 0, 1, 1), rect(2, 0, 3, 1)], crs=METRIC_EPSG)
    with pytest.raises(InputError, match=r"buildings: building_id must be unique and non-empty") as err:
        normalise_buildings(g)
    # the message names what is wrong: a null id was reported as "duplicates []" (one) or "duplicates ['']"
    assert str(err.value).split("non-empty (")[1].startswith("duplicates ['a']" if bad == ["a", "a"] else "1 empty (rows [1])")
    assert "''" not in str(err.value) and "[]" not in str(err.value)


def test_buildings_accept_points_and_multipoints():
    g = gpd.GeoDataFrame(geometry=[Point(at(0, 0)), MultiPoint([at(0, 0), at(1, 1)])], crs=METRIC_EPSG)
    out, _ = normalise_buildings(g)
    assert len(out) == 2


def test_buildings_reject_lines(streets_4547):
    with pytest.raises(InputError, match=r"buildings: geometry type\(s\) \['LineString'\] not accepted.*close the outlines"):
        normalise_buildings(streets_4547)


def test_outlines_drawn_as_closed_lines_are_polygons():
    # survey and CAD exports draw footprints as closed polylines: read as the polygons they close
    ring = shapely.LineString([at(0, 0), at(10, 0), at(10, 10), at(0, 10), at(0, 0)])
    two = shapely.MultiLineString([ring.coords, [at(20, 0), at(30, 0), at(30, 5), at(20, 0)]])
    g = gpd.GeoDataFrame({"households": [10, 20, 30]}, geometry=[ring, two, rect(40, 0, 50, 10)], crs=METRIC_EPSG)
    out, found = normalise_buildings(g)
    assert list(out.geom_type) == ["Polygon", "MultiPolygon", "Polygon"]
    assert out.geometry.iloc[0].area == pytest.approx(100.0) and out.geometry.iloc[1].area == pytest.approx(125.0)
    assert [f["type"] for f in found if f["type"] == "outline_closed_to_polygon"] == ["outline_closed_to_polygon"]


def test_collections_of_polygons_keep_their_polygons(communities_4547):
    g = communities_4547.set_geometry([shapely.GeometryCollection([p, shapely.LineString([(0, 0), (1, 1)])])
                                      for p in communities_4547.geometry])
    out, found = normalise_communities(g)
    assert list(out.geom_type) == list(communities_4547.geom_type)
    assert any(f["type"] == "collection_polygons_kept" for f in found)


def test_street_surfaces_are_refused_with_the_fix(communities_4547):
    with pytest.raises(InputError, match=r"centre lines \(OSM highway lines\), not road surfaces"):
        normalise_streets(communities_4547)


def test_normalise_points_enterprises():
    g = gpd.GeoDataFrame({"NAME": ["医院"]}, geometry=[Point(at(0, 0))], crs=METRIC_EPSG)
    out, _ = normalise_points(g, name="enterprises")
    assert out["name"].tolist() == ["医院"]
    assert out["category"].tolist() == [None]


# ------------------------------------------------------------------------------------ layer_sources

_LAYERS = "(layers: ['communities', 'streets', 'buildings', 'villager_groups', 'enterprises'])"


@pytest.mark.parametrize(("given", "python", "command_line"), [
    ({"columns": {"streets": {"name": "MC"}}},
     "columns={'streets': {'name': 'MC'}}: layer 'streets' is not given; pass streets= (a GeoDataFrame or a path)",
     "--columns streets.name=MC: layer 'streets' is not given; add --streets PATH"),
    ({"columns": {"roads": {"name": "MC"}}},
     f"columns={{'roads': {{'name': 'MC'}}}}: name the layer, e.g. columns={{'communities': {{'code': 'CUN_DM'}}}} {_LAYERS}",
     f"--columns roads.name=MC: name the layer, e.g. communities.code=CUN_DM {_LAYERS}"),
    ({"encodings": {"streets": "gbk"}},
     "encodings={'streets': 'gbk'}: layer 'streets' is not given (layers given: ['communities'])",
     "--encoding streets=gbk: layer 'streets' is not given (layers given: ['communities'])"),
    ({"datums": {"villager_groups": "gcj02"}},
     "datums={'villager_groups': 'gcj02'}: no villager_groups layer is given",
     "--villager-groups-datum gcj02: no villager_groups layer is given"),
    ({"layers": {"streets": "s.shp"}},
     "no communities given; pass communities= (a GeoDataFrame or a path)",
     "no communities given; pass --communities FILE, --config FILE.toml or --sample"),
])
def test_layer_sources_words_its_errors_for_the_face_called(given, python, command_line):
    """The sources of a run are refused in the words of the face that called: Python's arguments, or the
    command line's options while it runs (``gridgeo._face.CLI``, which ``cli.main`` sets); ``cli=`` (kept
    from before) still words them for the face it names."""
    args = {"layers": {"communities": "c.shp"}} | given
    layers = args.pop("layers")
    with pytest.raises(InputError) as info:
        layer_sources(layers, **args)
    assert str(info.value) == python
    face = CLI.set(True)
    try:
        with pytest.raises(InputError) as info:
            layer_sources(layers, **args)
        assert str(info.value) == command_line
        with pytest.raises(InputError) as info:
            layer_sources(layers, **args, cli=False)
        assert str(info.value) == python
    finally:
        CLI.reset(face)
    with pytest.raises(InputError) as info:
        layer_sources(layers, **args, cli=True)
    assert str(info.value) == command_line


# ------------------------------------------------------------------------------------ read_inputs


def test_read_inputs(tiny_files):
    inputs = read_inputs({name: LayerSource(p) for name, p in tiny_files.items()})
    assert list(inputs.communities["code"]) == [CODE_A, CODE_B]
    assert len(inputs.streets) == 4
    assert list(inputs.buildings["building_id"]) == ["b1", "b2", "b3", "b4", "b5", "b6"]
    assert inputs.villager_groups is None and inputs.enterprises is None
    assert len(inputs.findings) == 0
    assert set(inputs.fingerprints) == {"communities", "streets", "buildings"}
    assert inputs.fingerprints["streets"] == fingerprint(tiny_files["streets"])


def test_read_inputs_requires_communities(tiny_files):
    with pytest.raises(InputError, match=r"no communities layer given; pass --communities FILE"):
        read_inputs({"streets": LayerSource(tiny_files["streets"])})


def test_read_inputs_column_mapping_and_default_crs(tmp_path, communities_4547):
    path = tmp_path / "shequ.shp"
    communities_4547.rename(columns={"code": "CUN_DM"}).to_file(path)
    path.with_suffix(".prj").unlink()
    with pytest.raises(InputError, match=r"has no CRS"):
        read_inputs({"communities": LayerSource(path, columns={"code": "CUN_DM"})})
    inputs = read_inputs({"communities": LayerSource(path, columns={"code": "CUN_DM"})}, crs="EPSG:4547")
    assert list(inputs.communities["code"]) == [CODE_A, CODE_B]
    assert inputs.communities.crs.to_epsg() == 4547


def test_fingerprint_covers_shapefile_sidecars(tmp_path, communities_4547):
    path = tmp_path / "shequ.shp"
    communities_4547.to_file(path)
    before = fingerprint(path)
    assert before == fingerprint(path)
    communities_4547.assign(name=["甲", "乙"]).to_file(path)  # only the .dbf changes
    assert fingerprint(path) != before


# ------------------------------------------------------------------------------------------ config


def test_load_config(tmp_path):
    (tmp_path / "sub").mkdir()
    cfg = tmp_path / "gridgeo.toml"
    cfg.write_text(
        """
[rules]
grid_max = 450

[communities]
path = "sub/shequ.shp"
encoding = "gbk"
crs = "EPSG:4490"
columns = { code = "CUN_DM", name = "CUN_MC" }

[buildings]
path = "/abs/buildings.gpkg"
layer = "fw"
datum = "gcj02"
""",
        encoding="utf-8",
    )
    sources = load_config(cfg)
    assert set(sources) == {"communities", "buildings"}
    c = sources["communities"]
    assert c.path == tmp_path / "sub" / "shequ.shp"  # relative to the config file
    assert (c.encoding, c.crs, c.layer) == ("gbk", "EPSG:4490", None)
    assert c.columns == {"code": "CUN_DM", "name": "CUN_MC"}
    b = sources["buildings"]
    assert str(b.path) == os.path.normpath("/abs/buildings.gpkg")
    assert (b.layer, b.datum, b.columns) == ("fw", "gcj02", {})


def test_load_config_reads_layers(tmp_path, communities_4547):
    communities_4547.rename(columns={"code": "DM"}).to_file(tmp_path / "shequ.gpkg")
    cfg = tmp_path / "gridgeo.toml"
    cfg.write_text('[communities]\npath = "shequ.gpkg"\ncolumns = { code = "DM" }\n', encoding="utf-8")
    inputs = read_inputs(load_config(cfg))
    assert list(inputs.communities["code"]) == [CODE_A, CODE_B]


def test_load_config_unknown_section(tmp_path):
    cfg = tmp_path / "gridgeo.toml"
    cfg.write_text('[roads]\npath = "x.gpkg"\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"config .*gridgeo\.toml: unknown section \[roads\]; valid sections: \['buildings', 'communities', .*'streets', 'villager_groups'\] and \[rules\]"):
        load_config(cfg)


def test_load_config_unknown_key(tmp_path):
    cfg = tmp_path / "gridgeo.toml"
    cfg.write_text('[streets]\npath = "x.gpkg"\nfile = "y"\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"config .*: unknown key\(s\) \['file'\] in \[streets\]; valid keys: \['columns', 'crs', 'datum', 'encoding', 'layer', 'path'\]"):
        load_config(cfg)


def test_load_config_section_without_path(tmp_path):
    cfg = tmp_path / "gridgeo.toml"
    cfg.write_text('[streets]\nlayer = "roads"\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"config .*: section \[streets\] needs a path"):
        load_config(cfg)


def test_load_config_top_level_key(tmp_path):
    cfg = tmp_path / "gridgeo.toml"
    cfg.write_text('path = "x.gpkg"\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"config .*: key 'path' outside any section; layer settings go in each layer's section"):
        load_config(cfg)


def test_load_config_missing_and_invalid(tmp_path):
    with pytest.raises(InputError, match=r"config file not found: .*nope\.toml; check the path"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[communities\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"config file .*bad\.toml is not valid TOML"):
        load_config(bad)


def test_load_config_columns_must_be_a_table(tmp_path):
    cfg = tmp_path / "gridgeo.toml"
    cfg.write_text('[communities]\npath = "x.gpkg"\ncolumns = "CUN_DM"\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"config .*: \[communities\] columns must be a table"):
        load_config(cfg)


def test_read_inputs_converts_a_gcj02_layer(tmp_path, communities_4490, buildings_4547):
    from gridgeo.crs import convert_datum

    wgs = buildings_4547.to_crs(4326)
    amap = convert_datum(wgs, src="wgs84", dst="gcj02")  # as digitised on AMap tiles
    shift = amap.to_crs(METRIC_EPSG).centroid.distance(buildings_4547.centroid, align=True)
    assert (shift > 100).all() and (shift < 700).all()
    communities_4490.to_file(tmp_path / "c.gpkg")
    amap.to_file(tmp_path / "b.gpkg")
    inputs = read_inputs({"communities": LayerSource(tmp_path / "c.gpkg"), "buildings": LayerSource(tmp_path / "b.gpkg", datum="gcj02")})
    back = inputs.buildings.to_crs(METRIC_EPSG)
    assert back.centroid.distance(buildings_4547.centroid, align=True).max() < 0.01
    assert back.geometry.geom_equals_exact(buildings_4547.geometry, tolerance=0.01).all()


def test_shared_crs_only_fills_in_for_layers_without_one(tmp_path, communities_4547, streets_4490):
    # communities as WKT without a CRS, streets in a GeoPackage with their own CRS: --crs EPSG:4547
    # is meant for the communities and must not clash with the streets' EPSG:4490
    c = tmp_path / "c.csv"
    pd.DataFrame({"code": communities_4547["code"], "wkt": communities_4547.geometry.to_wkt()}).to_csv(c, index=False)
    streets_4490.to_file(tmp_path / "s.gpkg")
    inputs = read_inputs({"communities": LayerSource(c), "streets": LayerSource(tmp_path / "s.gpkg")}, crs="EPSG:4547")
    assert inputs.communities.crs.to_epsg() == 4547
    assert inputs.streets.crs.to_epsg() == 4490
    # a layer's own crs (from a config file) must agree with its file
    with pytest.raises(InputError, match=r"layer 'streets' has CRS 'EPSG:4490' but --crs 'EPSG:4547' was given"):
        read_inputs({"communities": LayerSource(c), "streets": LayerSource(tmp_path / "s.gpkg", crs="EPSG:4547")}, crs="EPSG:4547")


def test_default_crs_for_csv_lon_lat(tmp_path):
    path = tmp_path / "b.csv"
    path.write_text("lon,lat\n114.27,30.59\n", encoding="utf-8")
    assert read_layer(path, name="buildings", default_crs="EPSG:4490").crs.to_epsg() == 4490
    with pytest.raises(InputError, match=r"buildings: unknown CRS 'nonsense'"):
        read_layer(path, name="buildings", default_crs="nonsense")


def test_load_config_not_utf8(tmp_path):
    cfg = tmp_path / "gridgeo.toml"
    cfg.write_bytes('[communities]\npath = "社区.shp"\n'.encode("gbk"))
    with pytest.raises(InputError, match=r"config file .*gridgeo\.toml is not valid TOML: .*; TOML files are UTF-8 text"):
        load_config(cfg)


def test_column_names_with_spaces_around_them_are_read(tmp_path):
    """A spreadsheet's header " households " or "户数 " was not matched: the given counts were ignored and every
    household estimated from floors, silently (a different plan); so was --columns buildings.floors=" 层数"."""
    b = gpd.GeoDataFrame({" households ": [40, 50], "层数 ": [6, 6], "楼栋编号 ": ["A1", "A2"]},
                         geometry=[rect(0, 0, 30, 30), rect(40, 0, 70, 30)], crs=METRIC_EPSG)
    out, found = normalise_buildings(b)
    assert out["households"].tolist() == [40, 50] and out["floors"].tolist() == [6, 6]
    assert out["building_id"].tolist() == ["A1", "A2"]
    assert sorted(f["message"].split(" read as")[0] for f in found if f["type"] == "column_alias_used") == [
        "buildings: column '层数 '", "buildings: column '楼栋编号 '"]
    mapped, _ = normalise_buildings(b.rename(columns={"层数 ": " 楼高"}), columns={"floors": "楼高"})
    assert mapped["floors"].tolist() == [6, 6]


def test_csv_utf16_tab_separated_as_excel_saves_unicode_text(tmp_path):
    """A CSV layer saved by Excel as "Unicode text" (UTF-16 LE with a BOM, tab-separated): read as the points are."""
    path = tmp_path / "buildings.txt"
    path.write_bytes(b"\xff\xfe" + "经度\t纬度\tname\n114.27\t30.59\t一号楼\n".encode("utf-16-le"))
    got = read_layer(path, name="buildings")
    assert list(got["name"]) == ["一号楼"] and got.geometry.iloc[0].equals(Point(114.27, 30.59))
    bad = tmp_path / "b.csv"
    bad.write_bytes("lon,lat,name\n114.27,30.59,一号楼\n".encode("gbk"))
    with pytest.raises(InputError, match=r"buildings: cannot decode b\.csv as utf-8 .*--encoding buildings=gbk, which decodes it"):
        read_layer(bad, name="buildings", encoding="utf-8")


def test_an_empty_csv_layer_is_one_line(tmp_path, capsys):
    """A 0-byte CSV (a failed download or export) given as a layer, or to `gridgeo info`: one line naming the file
    and the fix (it was pandas' EmptyDataError traceback, "No columns to parse from file")."""
    from gridgeo.cli import main
    from gridgeo.io import read_layer

    empty = tmp_path / "buildings.csv"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match=r"^buildings: buildings.csv is empty \(no header row\); give a CSV with a header"):
        read_layer(empty, name="buildings", crs=4326)
    assert main(["info", str(empty)]) == 2
    err = capsys.readouterr().err
    assert "buildings.csv is empty (no header row)" in err and "Traceback" not in err


@pytest.mark.parametrize("keep_cpg", [True, False])
def test_utf8_shapefile_with_chinese_field_names_cut_mid_character(tmp_path, communities_4490, keep_cpg):
    """QGIS and GDAL write a UTF-8 Shapefile's field 社区代码 (12 bytes) as its first 10 bytes, the last character
    cut in two. Reading it failed with "cannot decode ... give --encoding communities=gbk", which is no fix (the
    text is UTF-8); the field is read as 社区代 and taken for 社区代码 (an alias of code), as partition reads it."""
    import warnings

    from gridgeo.info import describe

    path = tmp_path / "shequ.shp"
    src = communities_4490.rename(columns={"code": "社区代码", "name": "社区名称"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # GDAL: "Normalized/laundered field name"
        src.to_file(path, encoding="utf-8")
    if not keep_cpg:
        path.with_suffix(".cpg").unlink()
    got = read_layer(path, name="communities")
    assert list(got.columns[:2]) == ["社区代", "社区名"]
    assert list(got["社区名"]) == ["民族街社区", "花楼水塔社区"]
    comm, found = normalise_communities(got)
    assert sum(f["type"] == "column_alias_used" for f in found) == 2
    assert list(comm["code"]) == [CODE_A, CODE_B] and list(comm["name"]) == ["民族街社区", "花楼水塔社区"]
    assert "社区代" in describe(path)


def test_community_kinds_written_in_chinese_are_read():
    """A community layer saying 村 / 农村 / 社区 / 乡镇驻地 in its kind column was refused ("unknown kind(s)"), so a
    village could not be given the rural bounds without recoding the layer."""
    c = gpd.GeoDataFrame({"code": [f"42010300100{i}" for i in range(1, 6)], "kind": ["农村", "社区", "乡镇驻地", "urban", " 村委会 "]},
                         geometry=[rect(100 * i, 0, 100 * i + 100, 100) for i in range(5)], crs=METRIC_EPSG)
    out, found = normalise_communities(c)
    assert out["kind"].tolist() == ["rural", "urban", "township", "urban", "rural"]
    said = [f for f in found if f["type"] == "kind_alias_used"]
    assert len(said) == 1 and "'农村' read as rural" in said[0]["message"] and "(4 communities)" in said[0]["message"]
    with pytest.raises(InputError, match=r"unknown kind\(s\) \['街道'\].*村 or 村委会 as rural"):
        normalise_communities(c.assign(kind=["街道", "村", "村", "村", "村"]))


def test_a_kind_column_under_another_name_is_said(tmp_path):
    """A planner's community layer with its kinds in ``类型`` (社区, 村) and no ``kind`` column: every community,
    villages included, was divided under the urban rules (300–500 households instead of the rural bounds), with no
    finding. Now a warning names the column and the mapping, which reads it."""
    c = gpd.GeoDataFrame({"code": [CODE_A, CODE_B], "类型": ["社区", "村"], "备注": ["a", None]},
                         geometry=[rect(0, 0, 100, 100), rect(100, 0, 200, 100)], crs=METRIC_EPSG)
    out, found = normalise_communities(c)
    assert out["kind"].tolist() == ["urban", "urban"]
    said = [f for f in found if f["type"] == "kind_column_unread"]
    assert len(said) == 1 and said[0]["severity"] == "warning"
    assert said[0]["message"].endswith("column '类型' holds kinds ('村' for 1 village or township): if it is the kind, "
                                       "map it with --columns communities.kind=类型")
    out, found = normalise_communities(c, columns={"kind": "类型"})
    assert out["kind"].tolist() == ["urban", "rural"] and not [f for f in found if f["type"] == "kind_column_unread"]
    # all urban: the rules are the same whether it is read or not; nothing to say
    _, found = normalise_communities(c.assign(类型=["社区", "居委会"]))
    assert not [f for f in found if f["type"] == "kind_column_unread"]
    # the finding reaches the plan's inputs, as partition reads them
    c.to_file(tmp_path / "c.gpkg")
    inputs = read_inputs({"communities": LayerSource(tmp_path / "c.gpkg")})
    assert "kind_column_unread" in set(inputs.findings["type"])


def test_info_counts_households_as_partition_reads_them(tmp_path):
    """`gridgeo info buildings.csv` with a 户数 column said nothing of households, and with "120户" in a households
    column it counted them missing: partition reads both."""
    from gridgeo.info import describe

    path = tmp_path / "b.csv"
    path.write_text("经度,纬度,户数\n114.27,30.59,120户\n114.28,30.59,约80户\n114.29,30.59,\n114.30,30.59,35\n", encoding="utf-8")
    assert "households 235 (column 户数) (1 missing)" in describe(path)
    path.write_text("lon,lat,households\n114.27,30.59,120户\n114.28,30.59,35\n", encoding="utf-8")
    assert "households 155;" in describe(path).replace("\n", ";")


def test_info_names_the_features_without_geometry_partition_refuses(tmp_path):
    """A building layer with an empty shape (a null shape in a Shapefile, as exports from other tools write them):
    `gridgeo info` showed nothing amiss, and `partition` then refused the layer ("1 feature has no geometry (rows
    [2])"). info names them, by the same row numbers."""
    from gridgeo.info import describe

    b = gpd.GeoDataFrame({"households": [10, 20, 30]}, geometry=[rect(0, 0, 10, 10), rect(20, 0, 30, 10), Polygon()],
                         crs=METRIC_EPSG)
    b.to_file(tmp_path / "b.gpkg")
    assert "3 features (Polygon); CRS EPSG:4547; 1 feature without geometry (rows 2)" in describe(tmp_path / "b.gpkg")
    with pytest.raises(InputError, match=r"buildings: 1 feature has no geometry \(rows \[2\]\)"):
        read_inputs({"communities": LayerSource(None, frame=gpd.GeoDataFrame({"code": [CODE_A]}, geometry=[rect(0, 0, 40, 10)],
                                                                             crs=METRIC_EPSG)),
                     "buildings": LayerSource(tmp_path / "b.gpkg")})
    b.iloc[:2].to_file(tmp_path / "whole.gpkg")
    assert "without geometry" not in describe(tmp_path / "whole.gpkg")


def test_load_config_key_outside_any_section(tmp_path):
    """`crs = "EPSG:4326"` above the sections (meant for every layer) was called an unknown section [crs]."""
    cfg = tmp_path / "g.toml"
    cfg.write_text('crs = "EPSG:4326"\n[communities]\npath = "c.gpkg"\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"key 'crs' outside any section; layer settings go in each layer's section, "
                                         r"e\.g\. \[buildings\] crs = 'EPSG:4326'"):
        load_config(cfg)


def test_wrong_encoding_on_a_geopackage_names_a_fix_that_applies(tmp_path, communities_4490, capsys):
    """`gridgeo blocks --encoding enterprises=gbk` on a GeoPackage (whose text is UTF-8 whatever is said) advised
    "give its encoding, e.g. --encoding enterprises=gbk": the option given. The message names the encoding that
    decodes the file (read again to be sure) and that a GeoPackage needs none."""
    from gridgeo.cli import main

    path = tmp_path / "town.gpkg"
    communities_4490.to_file(path, layer="communities", driver="GPKG")
    with pytest.raises(InputError) as err:
        read_layer(path, name="communities", encoding="gbk")
    msg = str(err.value)
    assert msg.startswith("communities: cannot decode the text of ") and "\n" not in msg
    assert re.search(r"town\.gpkg as 'gbk' \([a-z ]+\); give its encoding: --encoding communities=utf-8, which "
                     r"decodes it \(or give none: the text of a \.gpkg file is UTF-8\)$", msg), msg
    assert list(read_layer(path, name="communities", encoding="utf-8")["name"]) == ["民族街社区", "花楼水塔社区"]
    assert main(["blocks", "--communities", str(path), "--encoding", "communities=gbk",
                 "--out", str(tmp_path / "plan.gpkg"), "-q"]) == 2
    err_text = capsys.readouterr().err
    assert "--encoding communities=utf-8, which decodes it" in err_text and "communities=gbk," not in err_text


def test_wrong_encoding_on_a_shapefile_names_the_one_that_decodes(tmp_path, communities_4490):
    """A GBK Shapefile whose .cpg wrongly says UTF-8 was told "e.g. --encoding communities=gbk" whatever decodes
    it; the encoding named is the one that does (GB18030 decodes GBK), read again to be sure."""
    path = tmp_path / "shequ.shp"
    communities_4490.to_file(path, encoding="gbk")
    path.with_suffix(".cpg").write_text("UTF-8")
    with pytest.raises(InputError, match=r"as 'utf-8' \(.*\); give its encoding: --encoding communities=gb18030, "
                                         r"which decodes it$"):
        read_layer(path, name="communities")


def test_a_geodataframe_of_gbk_text_read_as_latin1_is_refused_naming_the_encoding(tmp_path):
    """A Shapefile of GBK text without .cpg read with gpd.read_file (no encoding) has its column names and text as
    Latin-1 ('Â¥¶°±àºÅ' for 楼栋编号): given to divide, no column was known, and the buildings were refused as having
    no households, naming the garbled columns. The garbling is named, with the encoding that reads it."""
    frame = gpd.GeoDataFrame({"楼栋编号": ["B1", "B2"], "层数": [6, 3], "名称": ["1号楼", "2号楼"]},
                             geometry=[rect(0, 0, 10, 10), rect(20, 0, 30, 10)], crs=METRIC_EPSG)
    frame.to_file(tmp_path / "楼栋.shp", encoding="gbk")
    (tmp_path / "楼栋.cpg").unlink()
    garbled = gpd.read_file(tmp_path / "楼栋.shp")
    assert "楼栋编号" not in garbled.columns
    with pytest.raises(InputError, match=r"buildings: the GeoDataFrame's text is GBK read as Latin-1 \('.*' is '楼栋编号': "
                                         r"a Shapefile \.dbf without \.cpg\); read it with gpd\.read_file\(PATH, "
                                         r"encoding='gbk'\), or give the path, whose encoding gridgeo finds"):
        frame_layer(garbled, name="buildings")
    read = frame_layer(gpd.read_file(tmp_path / "楼栋.shp", encoding="gbk"), name="buildings")  # the fix
    assert read["名称"].tolist() == ["1号楼", "2号楼"]
    latin = frame.rename(columns={"名称": "Café"}).assign(Café=["Müller", "Straße"])  # real Latin-1 text stays
    assert frame_layer(latin, name="buildings")["Café"].tolist() == ["Müller", "Straße"]
    text_only = frame.assign(名称=[v.encode("gbk").decode("latin-1") for v in frame["名称"]])  # names kept, text garbled
    with pytest.raises(InputError, match=r"'1号楼'"):
        frame_layer(text_only, name="buildings")
