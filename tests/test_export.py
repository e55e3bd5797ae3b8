"""Exports (gridgeo.export, `gridgeo export`): one schema in every format, read back by GDAL's ogrinfo."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely

import gridgeo
from gridgeo import InputError
from gridgeo.cli import main
from gridgeo.crs import wgs84_to_gcj02
from gridgeo.datasets import get_path, sample_town_layers
from gridgeo.export import EXPORT_LAYERS, FORMATS, export_layer, load_schema, schema_fields, shapefile_name
from gridgeo.io import SHAPEFILE_FIELD_NAMES, read_layer

REPO = Path(__file__).resolve().parents[1]
OGRINFO = shutil.which("ogrinfo")
#: fields every KML Placemark has in GDAL's LIBKML reading, besides the schema's
KML_STANDARD = {"id", "Name", "description", "timestamp", "begin", "end", "altitudeMode", "tessellate", "extrude",
                "visibility", "drawOrder", "icon"}


@pytest.fixture(scope="module")
def plan_path(tmp_path_factory) -> Path:
    sample = get_path("sample_town")
    layers = {name: (sample, name) for name in sample_town_layers()}
    plan = gridgeo.divide(layers.pop("communities"), **layers)
    path = tmp_path_factory.mktemp("export_plan") / "plan.gpkg"
    plan.to_file(path)
    return path


@pytest.fixture(scope="module")
def plan(plan_path):
    return gridgeo.read_plan(plan_path)


def _files(fmt: str, out: Path) -> dict[str, tuple[Path, str]]:
    """layer -> (file, layer name inside it) of an export."""
    if FORMATS[fmt].multi_layer:
        return {name: (out, name) for name in EXPORT_LAYERS}
    return {name: (out / f"{name}{FORMATS[fmt].suffix}", None) for name in EXPORT_LAYERS}


def _schema_names(fmt: str, layer: str) -> list[str]:
    names = [name for name, _ in schema_fields(layer)]
    if fmt == "shp":
        names = [shapefile_name(n) for n in names]
    if fmt == "csv":
        names = [*names, "WKT"]
    if fmt == "kml":  # KML's own <name> holds the field called name; GDAL reads it back as Name
        names = ["Name" if n == "name" else n for n in names]
    return names


def _has_driver(name: str) -> bool:
    if OGRINFO is None:
        return False
    formats = subprocess.run([OGRINFO, "--formats"], capture_output=True, text=True).stdout
    return any(line.strip().startswith(f"{name} ") for line in formats.splitlines())


@pytest.fixture(scope="module")
def exports(plan_path, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("exports")
    out = {}
    for fmt, spec in FORMATS.items():
        target = root / (f"plan{spec.suffix}" if spec.multi_layer else fmt)
        written = gridgeo.export(plan_path, target, format=fmt)
        assert written, fmt
        out[fmt] = target
    return out


# ----------------------------------------------------------------------------------------------- schema


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_every_export_has_exactly_the_schema_fields(fmt, exports, plan):
    for layer, (path, inner) in _files(fmt, exports[fmt]).items():
        if fmt == "parquet":
            import pyarrow.parquet as pq

            meta = pq.read_metadata(path)
            info = {"fields": [n for n in meta.schema.names if n != "geometry"], "features": meta.num_rows}
            assert json.loads(meta.metadata[b"geo"])["primary_column"] == "geometry"
        else:
            info = pyogrio.read_info(path, layer=inner) if fmt != "csv" else None
        fields = list(info["fields"]) if info is not None else list(open(path, encoding="utf-8").readline().strip().split(","))
        expected = _schema_names(fmt, layer)
        if fmt == "kml":
            assert set(fields) - set(expected) <= KML_STANDARD, (layer, fields)
            assert [f for f in fields if f not in KML_STANDARD] == [e for e in expected if e not in KML_STANDARD]
        else:
            assert fields == expected, (fmt, layer)
        count = info["features"] if info is not None else sum(1 for _ in open(path, encoding="utf-8")) - 1
        assert count == len(plan.layers[layer])


def test_shapefile_names_come_from_the_one_table():
    for layer in EXPORT_LAYERS:
        for name, _ in schema_fields(layer):
            short = shapefile_name(name)
            assert len(short) <= 10
            if short != name:
                assert SHAPEFILE_FIELD_NAMES[short] == name


def test_geojson_properties_validate_against_the_json_schema(exports):
    jsonschema = pytest.importorskip("jsonschema")
    schema = load_schema()
    for layer in EXPORT_LAYERS:
        data = json.loads((exports["geojson"] / f"{layer}.geojson").read_text(encoding="utf-8"))
        validator = jsonschema.Draft202012Validator({**schema, "$ref": f"#/$defs/{layer}"})
        for feature in data["features"]:
            validator.validate(feature["properties"])
    bad = {"grid_code": "1", "community_code": "4209", "kind": "base", "households": 1, "buildings": 1,
           "area_m2": 1.0, "flags": ""}
    with pytest.raises(jsonschema.ValidationError, match="does not match"):
        jsonschema.Draft202012Validator({**schema, "$ref": "#/$defs/grids"}).validate(bad)


def test_docs_schema_page_describes_every_field():
    page = (REPO / "docs" / "schema.md").read_text(encoding="utf-8")
    for layer in EXPORT_LAYERS:
        assert f"`{layer}`" in page
        for name, kind in schema_fields(layer):
            assert re.search(rf"\| `{name}` \| {kind}", page), (layer, name)


# ----------------------------------------------------------------------------------------------- real clients


@pytest.mark.skipif(OGRINFO is None, reason="gdal-bin (ogrinfo) is not installed: apt-get install gdal-bin")
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_ogrinfo_reads_each_export(fmt, exports, plan):
    if fmt == "parquet" and not _has_driver("Parquet"):
        pytest.skip("this GDAL (Debian gdal-bin) has no (Geo)Parquet driver; the GeoParquet export is read with pyarrow and geopandas instead")
    for layer, (path, _) in _files(fmt, exports[fmt]).items():
        args = [OGRINFO, "-so", "-al", str(path)]
        if fmt == "csv":
            args[1:1] = ["-oo", "GEOM_POSSIBLE_NAMES=WKT", "-oo", "KEEP_GEOM_COLUMNS=NO"]
        text = subprocess.run(args, capture_output=True, text=True, check=True).stdout
        blocks = {m.group(1): m.start() for m in re.finditer(r"Layer name: (\S+)", text)}
        start = blocks[layer] if fmt in ("gpkg", "kml") else 0
        block = text[start:]
        count = int(re.search(r"Feature Count: (\d+)", block).group(1))
        assert count == len(plan.layers[layer]), (fmt, layer)
        fields = re.findall(r"^(\w+): (?:String|Integer|Integer64|Real|Date|DateTime)", block, flags=re.M)
        fields = fields[: fields.index(_schema_names(fmt, layer)[-1]) + 1] if _schema_names(fmt, layer)[-1] in fields else fields
        expected = [n for n in _schema_names(fmt, layer) if n != "WKT"]
        assert [f for f in fields if f not in KML_STANDARD] == [e for e in expected if e not in KML_STANDARD], (fmt, layer)
        x0, y0, x1, y1 = map(float, re.search(r"Extent: \(([-\d.]+), ([-\d.]+)\) - \(([-\d.]+), ([-\d.]+)\)", block).groups())
        bounds = plan.layers[layer].to_crs(4326).total_bounds
        assert np.allclose([x0, y0, x1, y1], bounds, atol=2e-6), (fmt, layer)


# ----------------------------------------------------------------------------------------------- round trips


def _read_back(fmt: str, path: Path, inner: str | None) -> gpd.GeoDataFrame:
    if fmt == "csv":
        return read_layer(path, name="grids", crs=4326)
    if fmt == "parquet":
        return gpd.read_parquet(path)
    if fmt == "shp":
        return read_layer(path, name="grids")
    return gpd.read_file(path, layer=inner)


@pytest.mark.parametrize("fmt", ["geojson", "gpkg", "shp", "parquet", "fgb", "csv", "kml"])
def test_round_trip_keeps_codes_households_and_geometry(fmt, exports, plan):
    for layer in ("grids", "subgrids"):
        path, inner = _files(fmt, exports[fmt])[layer]
        back = _read_back(fmt, path, inner)
        key = f"{layer[:-1]}_code" if layer == "subgrids" else "grid_code"
        src = plan.layers[layer].to_crs(4326).sort_values(key).reset_index(drop=True)
        back = back.sort_values(key).reset_index(drop=True)
        assert back[key].astype(str).tolist() == src[key].tolist()
        assert back["households"].astype(int).tolist() == src["households"].astype(int).tolist()
        if layer == "grids":  # the village's grids name their villager group (村民小组); null elsewhere
            named = src["villager_group"].notna()
            assert named.sum() >= 10 and (~named).sum() >= 10
            back_group = [None if v is None or v != v or v == "" else str(v) for v in back["villager_group"].tolist()]
            assert back_group == [v if n else None for v, n in zip(src["villager_group"], named, strict=True)], fmt
        tol = 1.5e-7 if FORMATS[fmt].text else 1e-9
        expected = src.geometry.to_numpy()
        if FORMATS[fmt].text:  # 7 decimals: a sliver narrower than 1e-7 degrees (a gap of micrometres) closes
            expected = shapely.set_precision(expected, 1e-7)
            assert np.allclose(shapely.area(expected), shapely.area(src.geometry.to_numpy()), rtol=1e-6), (fmt, layer)
        d = shapely.hausdorff_distance(back.geometry.to_numpy(), expected)
        assert d.max() < tol, (fmt, layer, d.max())


def test_geojson_follows_rfc7946_orientation_and_precision(exports):
    data = json.loads((exports["geojson"] / "grids.geojson").read_text(encoding="utf-8"))
    for feature in data["features"]:
        geom = feature["geometry"]
        polys = [geom["coordinates"]] if geom["type"] == "Polygon" else geom["coordinates"]
        for rings in polys:
            assert shapely.LinearRing(rings[0]).is_ccw
            for hole in rings[1:]:
                assert not shapely.LinearRing(hole).is_ccw
            for x, y in rings[0]:
                assert round(x, 7) == x and round(y, 7) == y
    assert "crs" not in data


def test_precision_option_rounds_and_stays_valid(plan, tmp_path):
    out = tmp_path / "grids.geojson"
    gridgeo.export(plan, out, layers="grids", precision=4)
    back = gpd.read_file(out)
    xy = shapely.get_coordinates(back.geometry.to_numpy())
    assert np.allclose(xy, np.round(xy, 4), atol=1e-12)
    assert back.geometry.is_valid.all()


def test_gcj02_and_bd09_exports_are_shifted_by_the_crs_transforms(plan, tmp_path):
    wgs = export_layer(plan, "grids", coords="wgs84")
    gcj = gpd.read_parquet(gridgeo.export(plan, tmp_path / "g.parquet", layers="grids", coords="gcj02")[0])
    a = shapely.get_coordinates(wgs.geometry.to_numpy())
    b = shapely.get_coordinates(gcj.geometry.to_numpy())
    ex, ey = wgs84_to_gcj02(a[:, 0], a[:, 1])
    assert np.allclose(b[:, 0], ex, atol=1e-12) and np.allclose(b[:, 1], ey, atol=1e-12)
    metres = np.hypot((b[:, 0] - a[:, 0]) * 95_000, (b[:, 1] - a[:, 1]) * 111_000)
    assert 100 < metres.min() and metres.max() < 1000
    bd = gpd.read_parquet(gridgeo.export(plan, tmp_path / "b.parquet", layers="grids", coords="bd09")[0])
    assert np.abs(shapely.get_coordinates(bd.geometry.to_numpy()) - b).max() > 1e-3


def test_cgcs2000_export_is_the_plan_crs(plan, tmp_path):
    out = gridgeo.export(plan, tmp_path / "g.fgb", layers="grids", coords="cgcs2000")[0]
    assert gpd.read_file(out).crs.to_epsg() == 4490


def test_shapefile_gbk_on_request(plan, tmp_path):
    out = tmp_path / "communities.shp"
    gridgeo.export(plan, out, layers="communities", encoding="gbk")
    assert out.with_suffix(".cpg").read_text().strip().upper() == "GBK"
    raw = out.with_suffix(".dbf").read_bytes()
    name = plan.communities["name"].iloc[0]
    assert name.encode("gbk") in raw and name.encode("utf-8") not in raw
    back = read_layer(out, name="communities")
    assert sorted(back["name"]) == sorted(plan.communities["name"])
    assert sorted(back["community_code"]) == sorted(plan.communities["code"])


def test_exported_grids_pass_validate(exports, plan):
    grids = gpd.read_file(exports["gpkg"], layer="grids")
    communities = gpd.read_file(exports["gpkg"], layer="communities").rename(columns={"community_code": "code"})
    found = gridgeo.validate(grids, communities=communities)
    assert int((found["severity"] == "error").sum()) == 0


# ----------------------------------------------------------------------------------------------- files and errors


def test_existing_output_needs_force_and_the_plan_is_never_overwritten(plan_path, tmp_path):
    out = tmp_path / "g.gpkg"
    gridgeo.export(plan_path, out, layers="grids")
    with pytest.raises(InputError, match="exists; pass force=True"):
        gridgeo.export(plan_path, out, layers="grids")
    gridgeo.export(plan_path, out, layers="grids,subgrids", force=True)
    assert [str(n) for n in pyogrio.list_layers(out)[:, 0]] == ["grids", "subgrids"]
    with pytest.raises(InputError, match="would overwrite the plan"):
        gridgeo.export(plan_path, plan_path, force=True)
    with pytest.raises(InputError, match="would overwrite the plan"):
        gridgeo.export(plan_path, plan_path.parent, format="geojson", force=True)


def test_a_failed_export_leaves_nothing(plan_path, tmp_path, monkeypatch):
    import gridgeo.export as ex

    real = ex._write
    calls = []

    def failing(gdf, target, fmt, **kw):
        calls.append(target)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(gdf, target, fmt, **kw)

    monkeypatch.setattr(ex, "_write", failing)
    with pytest.raises(OSError, match="No space"):
        gridgeo.export(plan_path, tmp_path / "out", format="geojson")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"format": "dxf"}, "format='dxf' is not one of"),
    ({"format": "geojson", "layers": "blocks"}, "layer 'blocks' is not exported"),
    ({"format": "geojson", "layers": "dedicated"}, "dedicated grids are in grids"),
    ({"format": "gpkg", "encoding": "gbk"}, "applies to shp and csv only"),
    ({"format": "geojson", "coords": "utm"}, "coords='utm' is not one of"),
    ({"format": "geojson", "precision": -1}, "precision=-1 must be"),
])
def test_bad_options_raise_one_line(plan, tmp_path, kwargs, match):
    out = tmp_path / ("x.gpkg" if kwargs.get("format") == "gpkg" else "x")
    with pytest.raises(InputError, match=match):
        gridgeo.export(plan, out, **kwargs)


def test_cli_export_and_its_errors(plan_path, tmp_path, capsys):
    out = tmp_path / "kml" / "plan.kml"
    out.parent.mkdir()
    assert main(["export", str(plan_path), "--format", "kml", "--out", str(out), "--layers", "grids", "--coords", "gcj02"]) == 0
    assert "wrote" in capsys.readouterr().out
    assert pyogrio.read_info(out, layer="grids")["features"] > 0
    assert main(["export", str(plan_path), "--format", "kml", "--out", str(out)]) == 2
    assert "exists; pass --force" in capsys.readouterr().err
    assert main(["export", str(plan_path), "--out", str(plan_path), "--force"]) == 2
    assert "the plan itself" in capsys.readouterr().err
    assert main(["export", str(plan_path)]) == 2
    assert "give --out PATH" in capsys.readouterr().err
    assert main(["export", str(plan_path), "--to", "mysql://x/y"]) == 2
    assert "not a PostgreSQL URL" in capsys.readouterr().err


def test_csv_without_geometry_and_in_gbk(plan, tmp_path):
    out = tmp_path / "communities.csv"
    gridgeo.export(plan, out, layers="communities", csv_geometry="none", encoding="gbk")
    text = out.read_bytes().decode("gbk")
    assert text.splitlines()[0] == ",".join(n for n, _ in schema_fields("communities"))
    assert plan.communities["name"].iloc[0] in text and "POLYGON" not in text


# ----------------------------------------------------------------------------------------------- units (单位)


@pytest.mark.parametrize("fmt", ["shp", "geojson", "csv"])
def test_units_layer_is_exported_with_its_grid_and_dedicated_flag(plan, tmp_path, fmt):
    units = plan.layers["units"]
    assert len(units) > 0 and units["dedicated"].any() and not units["dedicated"].all()
    out = tmp_path / f"units{FORMATS[fmt].suffix}"
    gridgeo.export(plan, out, layers="units")
    if fmt == "shp":
        back = read_layer(out, name="units")
        assert {"category_given", "site_area_m2"} <= set(back.columns)
    elif fmt == "csv":
        back = read_layer(out, name="units", crs=4326)
    else:
        back = gpd.read_file(out)
    assert [c for c in back.columns if c != back.geometry.name][: len(schema_fields("units"))] == [
        n for n, _ in schema_fields("units")]
    src = units.sort_values("unit_id").reset_index(drop=True)
    back = back.sort_values("unit_id").reset_index(drop=True)
    assert back["unit_id"].tolist() == src["unit_id"].tolist()
    assert back["grid_code"].fillna("").astype(str).tolist() == src["grid_code"].fillna("").astype(str).tolist()
    flags = back["dedicated"].map(lambda v: str(v).lower() in ("true", "1"))
    assert flags.tolist() == src["dedicated"].astype(bool).tolist()
    assert set(back.geometry.geom_type) == {"Point"}


# ----------------------------------------------------------------------------------------------- --force


def test_force_never_deletes_a_folder_that_is_not_an_export(plan_path, tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    (data / "survey.xlsx").write_bytes(b"user data")
    with pytest.raises(InputError, match=r"holds 'survey.xlsx'; give out= a new or empty folder"):
        gridgeo.export(plan_path, data, format="geojson", force=True)
    assert main(["export", str(plan_path), "--format", "geojson", "--out", str(data), "--force"]) == 2
    assert "earlier export" in capsys.readouterr().err
    assert sorted(p.name for p in data.iterdir()) == ["survey.xlsx"]
    # a sub-folder is never ours either, even beside export files
    (data / "survey.xlsx").unlink()
    (data / "grids.geojson").write_text("{}")
    (data / "photos").mkdir()
    with pytest.raises(InputError, match="'photos'"):
        gridgeo.export(plan_path, data, format="geojson", force=True)
    assert (data / "photos").is_dir()


def test_force_replaces_an_earlier_export_or_an_empty_folder(plan_path, tmp_path):
    out = tmp_path / "shp"
    out.mkdir()
    gridgeo.export(plan_path, out, format="shp", layers="grids", force=True)  # empty folder
    marker = json.loads((out / ".gridgeo-export").read_text(encoding="utf-8"))
    assert "grids.shp" in marker["files"] and "grids.dbf" in marker["files"]
    written = gridgeo.export(plan_path, out, format="shp", layers="communities,grids", force=True)
    assert [p.name for p in written] == ["communities.shp", "grids.shp"]
    assert not any(p.name.startswith(".out") or p.name.startswith(".shp") for p in tmp_path.iterdir())
    # an export made before the marker existed: only export names inside
    (out / ".gridgeo-export").unlink()
    gridgeo.export(plan_path, out, format="geojson", layers="grids", force=True)
    assert sorted(p.name for p in out.iterdir()) == [".gridgeo-export", "grids.geojson"]


def test_a_precision_that_would_empty_features_is_refused(plan, tmp_path, capsys):
    out = tmp_path / "b.geojson"
    with pytest.raises(InputError, match=r"precision=3 empties \d+ of \d+ buildings .*use precision=(\d+) or more") as err:
        gridgeo.export(plan, out, layers="buildings", precision=3)
    assert not out.exists()
    safe = int(re.search(r"use precision=(\d+)", str(err.value)).group(1))
    gridgeo.export(plan, out, layers="buildings", precision=safe)
    back = gpd.read_file(out)
    assert len(back) == len(plan.layers["buildings"]) and not back.geometry.is_empty.any()


def test_a_file_name_for_several_layers_of_a_one_layer_format_is_refused(plan, tmp_path):
    # --out grids.geojson used to become a folder named grids.geojson holding four files
    out = tmp_path / "grids.geojson"
    with pytest.raises(InputError, match=r"names one \.geojson file, but geojson holds one layer a file .* "
                                         r"give a folder \(out='.*grids'\) or one layer \(layers='grids'\)"):
        gridgeo.export(plan, out)
    assert not out.exists() and not any(tmp_path.iterdir())
    assert [p.name for p in gridgeo.export(plan, out, layers="grids")] == ["grids.geojson"]


def _with_names(plan, community_name: str | None = None, building_name: str | None = None):
    layers = dict(plan.layers)
    if community_name is not None:
        c = layers["communities"].copy()
        c.loc[c.index[0], "name"] = community_name
        layers["communities"] = c
    if building_name is not None:
        b = layers["buildings"].copy()
        b.loc[b.index[0], "name"] = building_name
        layers["buildings"] = b
    return type(plan)(layers, plan.metadata)


@pytest.mark.parametrize("fmt", ["shp", "csv"])
def test_text_gbk_cannot_hold_is_refused_not_dropped(plan, tmp_path, capsys, fmt):
    """A Shapefile in GBK lost the characters GBK lacks ('𠮷祥社区😀' became '祥社区', exit 0, a warning only);
    a CSV in GBK failed with "cannot decode text as 'gbk' ... --encoding communities=gbk", the wrong fix."""
    odd = _with_names(plan, community_name="𠮷祥社区😀")
    with pytest.raises(InputError, match=r"GBK cannot encode \('𠮷😀'\).*encoding='utf-8'"):
        gridgeo.export(odd, tmp_path / "gbk", format=fmt, encoding="gbk")
    assert not (tmp_path / "gbk").exists()
    path = tmp_path / "odd.gpkg"
    odd.to_file(path)
    assert main(["export", str(path), "--format", fmt, "--encoding", "gbk", "--out", str(tmp_path / "cli")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "communities name '𠮷祥社区😀'" in err and "--encoding utf-8" in err
    written = gridgeo.export(odd, tmp_path / "utf8", format=fmt, layers="communities")  # UTF-8 holds it all
    back = read_layer(written[0], name="communities") if fmt == "shp" else None
    assert back is None or "𠮷祥社区😀" in set(back["name"])


def test_shapefile_text_over_254_bytes_is_refused_not_cut(plan, tmp_path):
    """GDAL cut a DBF value to 254 bytes (a 150-character name kept 84 characters) with a warning only."""
    long_name = "很长的楼名" * 30
    odd = _with_names(plan, building_name=long_name)
    with pytest.raises(InputError, match=r"buildings name '很长的楼名.*…' \(building_id .*\) is 450 bytes in UTF-8.*at most 254"):
        gridgeo.export(odd, tmp_path / "shp", format="shp")
    assert not (tmp_path / "shp").exists()
    written = gridgeo.export(odd, tmp_path / "gpkg.gpkg", layers="buildings")
    assert long_name in set(pyogrio.read_dataframe(written[0], layer="buildings")["name"])


def test_kml_text_holding_cdata_end_is_refused_not_written_broken(plan, tmp_path, capsys):
    """GDAL's LIBKML driver wrote a name holding ']]>' inside <![CDATA[...]]> as it was: the KML (exit 0) could
    not be opened by any reader ("not well-formed"). Odd names that KML does hold are written and read back."""
    odd = _with_names(plan, community_name="A]]><b>x</b>社区")
    with pytest.raises(InputError, match=r"communities name 'A\]\]><b>x</b>社区' \(community_code .*\) holds '\]\]>'.*"
                                         r"export as gpkg, geojson or fgb"):
        gridgeo.export(odd, tmp_path / "odd.kml")
    assert not (tmp_path / "odd.kml").exists()
    path = tmp_path / "odd.gpkg"
    odd.to_file(path)
    assert main(["export", str(path), "--out", str(tmp_path / "cli.kml")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds ']]>'" in err
    fine = _with_names(plan, community_name='<script>alert("x")</script> & 社区🏠')
    written = gridgeo.export(fine, tmp_path / "fine.kml", layers="communities")
    assert '<script>alert("x")</script> & 社区🏠' in set(pyogrio.read_dataframe(written[0], layer="communities")["Name"])


def test_shapefile_of_footprints_and_address_points_is_refused_in_one_line(plan, tmp_path, capsys):
    """A plan's buildings may be footprints and points (address points, entrances: the Lujiazui scenario has
    409 of them); the Shapefile export crashed on the first point with a pyogrio FeatureError traceback."""
    layers = dict(plan.layers)
    b = layers["buildings"].copy()
    b.loc[b.index[:3], b.geometry.name] = b.geometry.iloc[:3].representative_point().to_numpy()
    mixed = type(plan)({**layers, "buildings": b}, plan.metadata)
    path = tmp_path / "mixed.gpkg"
    mixed.to_file(path)
    assert main(["export", str(path), "--format", "shp", "--out", str(tmp_path / "shp")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "buildings holds" in err and "3 points" in err and "--layers communities,grids,subgrids,units" in err
    assert not (tmp_path / "shp").exists()
    assert main(["export", str(path), "--format", "shp", "--out", str(tmp_path / "shp"),
                 "--layers", "communities,grids,subgrids,units"]) == 0
    written = gridgeo.export(mixed, tmp_path / "fgb", format="fgb", layers="buildings")
    assert pyogrio.read_dataframe(written[0]).geom_type.value_counts().to_dict()["Point"] == 3


# CSV's types are in its .csvt; GeoParquet is read with pyarrow (its types are checked by the round trip)
@pytest.mark.parametrize("fmt", [f for f in FORMATS if f != "parquet"])
def test_integer_fields_are_integers_in_every_format(fmt, exports):
    """The schema's integer fields (households, buildings, employees) read back as numbers in every format with
    field types: KML (LIBKML writes a 64-bit integer field as type "string") too, so that Google Earth and QGIS
    can sum and sort them."""
    for layer, (path, inner) in _files(fmt, exports[fmt]).items():
        info = pyogrio.read_info(path, layer=inner)
        dtypes = dict(zip(info["fields"], info["dtypes"]))
        integers = [shapefile_name(n) if fmt == "shp" else n for n, kind in schema_fields(layer) if kind == "integer"]
        assert integers or layer in ("communities", "units")
        assert {n: dtypes[n] for n in integers if not dtypes[n].startswith("int")} == {}, (fmt, layer)


def test_csv_declares_its_field_types_and_crs_for_gdal(plan, tmp_path):
    """A CSV export carried neither field types nor a CRS: GDAL (ogr2ogr, QGIS's OGR layers) detecting types read
    every code as a number (building codes of 20 digits overflowed: "64 bit integer overflow", codes of 12-17
    digits lost their text type and any leading zero) and the layer had no CRS. Each CSV now has GDAL's sidecars:
    ``<layer>.csvt`` (the schema's types: codes String) and, with a geometry, ``<layer>.prj``."""
    out = tmp_path / "csv"
    written = gridgeo.export(plan, out, format="csv", coords="cgcs2000")
    assert sorted(p.name for p in written) == sorted(f"{layer}.csv" for layer in EXPORT_LAYERS)  # files, not sidecars
    for layer in EXPORT_LAYERS:
        src = export_layer(plan, layer, coords="cgcs2000")
        back = pyogrio.read_dataframe(out / f"{layer}.csv", AUTODETECT_TYPE="YES")  # as a desktop GIS detects types
        assert back.crs is not None and back.crs.to_epsg() == 4490, layer
        key = load_schema()["x-primary-key"][layer]
        back = back.set_index(key).loc[src[key].to_numpy()].reset_index()
        for name, kind in schema_fields(layer):
            values, expected = back[name].to_numpy(dtype=object), src[name].to_numpy(dtype=object)
            present = ~src[name].isna().to_numpy()
            if kind == "string":
                assert all(isinstance(v, str) for v in values[present]), (layer, name)
                assert (values[present] == expected[present]).all(), (layer, name)
            elif kind == "integer":
                assert back[name].dtype.kind == "i" or not present.all(), (layer, name)
                assert (values[present].astype(np.int64) == expected[present].astype(np.int64)).all(), (layer, name)
            elif kind == "boolean":
                assert back[name].dtype == bool and (values == expected).all(), (layer, name)
    none = tmp_path / "none.csv"
    gridgeo.export(plan, none, layers="buildings", csv_geometry="none")
    assert not none.with_suffix(".prj").exists()
    back = pyogrio.read_dataframe(none, AUTODETECT_TYPE="YES", read_geometry=False)
    assert back["building_code"].tolist() == export_layer(plan, "buildings", coords="wgs84")["building_code"].tolist()


def test_a_csv_export_is_read_back_by_gridgeo_in_the_crs_of_its_prj(plan, tmp_path, capsys):
    """gridgeo wrote ``<layer>.prj`` beside each CSV, but read CSV layers without it: ``gridgeo info`` said "CRS
    none" and ``gridgeo validate grids.csv`` refused its own export ("has no CRS; give one with --crs").
    The .prj is the file's CRS, as GDAL reads it: used, and a --crs naming another is a conflict."""
    out = tmp_path / "csv"
    gridgeo.export(plan, out, format="csv", layers=["grids", "communities"], coords="cgcs2000")
    back = read_layer(out / "grids.csv", name="grids")
    assert back.crs.to_epsg() == 4490
    src = export_layer(plan, "grids", coords="cgcs2000").set_index("grid_code").loc[back["grid_code"]]
    assert (shapely.hausdorff_distance(back.geometry.to_numpy(), src.geometry.to_numpy()) < 1e-6).all()  # 7 decimals
    assert read_layer(out / "grids.csv", name="grids", crs="EPSG:4490").crs.to_epsg() == 4490
    with pytest.raises(InputError, match=r"has CRS 'EPSG:4490' but --crs 'EPSG:4547' was given"):
        read_layer(out / "grids.csv", name="grids", crs="EPSG:4547")
    (tmp_path / "bad.csv").write_text("code,WKT\n1,POINT (114 30)\n", encoding="utf-8")
    (tmp_path / "bad.prj").write_text("not a CRS", encoding="utf-8")
    with pytest.raises(InputError, match=r"^grids: cannot read the CRS of .*bad\.prj .*; fix or delete the \.prj"):
        read_layer(tmp_path / "bad.csv", name="grids")
    assert main(["validate", str(out / "grids.csv"), "--communities", str(out / "communities.csv")]) in (0, 1)
    assert "has no CRS" not in capsys.readouterr().err
    assert main(["info", str(out / "grids.csv")]) == 0
    assert "CRS EPSG:4490" in capsys.readouterr().out


def test_kml_grids_and_small_grids_are_labelled_by_their_codes(exports, plan):
    """Google Earth and other KML clients list a Placemark by its <name>: a grid without one shows as
    "Untitled". Grids and small grids carry their code as <name>, and the code stays a field as well."""
    path = exports["kml"]
    for layer, key in (("grids", "grid_code"), ("subgrids", "subgrid_code")):
        back = pyogrio.read_dataframe(path, layer=layer)
        assert back["Name"].tolist() == back[key].tolist(), layer
        assert sorted(back[key]) == sorted(plan.layers[layer][key])
    text = path.read_text(encoding="utf-8")
    grids = text[text.index('<Document id="grids">'):text.index('<Document id="subgrids">')]
    placemarks = re.findall(r"<Placemark.*?</Placemark>", grids, re.S)
    assert placemarks and all(re.search(r"<name>\d+</name>", p) for p in placemarks)
    communities = pyogrio.read_dataframe(path, layer="communities")
    assert sorted(communities["Name"]) == sorted(plan.layers["communities"]["name"])


def test_an_export_folder_is_validated_and_refused_as_a_plan_in_one_line(exports, plan_path, tmp_path, capsys):
    """Round trip of an export: `gridgeo validate` on a folder of GeoJSON files `gridgeo export` wrote was a traceback
    (GDAL reads no folder of GeoJSON as a data source: "not recognized as being in a supported file format"); it now
    checks the folder's grids file, as it checks that file. `locate` on such a folder, or on a GeoParquet file of
    one, said GDAL's words (a driver prefix; "libduckdb.so: cannot open shared object file"); it now says in one line
    that it wants the plan, not an export."""
    from gridgeo.cli import main

    folder = exports["geojson"]
    assert main(["validate", str(folder), "--report", str(tmp_path / "a.json")]) == 0
    assert main(["validate", str(folder / "grids.geojson"), "--report", str(tmp_path / "b.json")]) == 0
    first, second = (json.loads((tmp_path / n).read_text(encoding="utf-8")) for n in ("a.json", "b.json"))
    assert first["findings"] == second["findings"]
    heads = [line.split(": ", 1)[1] for line in capsys.readouterr().out.splitlines() if line.startswith(str(folder))]
    assert len(heads) == 2 and heads[0] == heads[1], heads  # "N grids, M findings" alike
    events = tmp_path / "events.csv"
    events.write_text("lon,lat\n114.3,30.5\n", encoding="utf-8")
    for given in (folder, exports["parquet"] / "grids.parquet"):
        assert main(["locate", str(given), str(events), "--out", str(tmp_path / "r.csv")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "not a plan: give the plan GeoPackage" in err, err
        assert "DRIVER" not in err and "libduckdb" not in err
    assert not (tmp_path / "r.csv").exists()


def test_an_out_in_no_folder_is_named_as_given_not_by_the_temporary_file(plan_path, tmp_path, capsys):
    """`export`, `locate` and `map` with an --out inside something that is no folder (a file, a system folder) said
    "cannot read or write events.csv/.ex-_v6xcz2l", the hidden temporary they write first, a name the user never gave;
    the error names the folder the output was to be written in, and nothing is left behind."""
    from gridgeo.cli import main

    events = tmp_path / "events.csv"
    events.write_text("lon,lat\n114.3,30.5\n", encoding="utf-8")
    for command in (["export", str(plan_path), "--format", "geojson", "--out", str(events / "ex")],
                    ["export", str(plan_path), "--format", "gpkg", "--out", str(events / "ex.gpkg")],
                    ["map", str(plan_path), "--out", str(events / "site"), "--tiles", "none"]):
        assert main(command) == 2, command
        err = capsys.readouterr().err
        assert f"gridgeo: error: cannot write in {events}: Not a directory" in err and "/." not in err, err
    assert events.is_file() and sorted(p.name for p in tmp_path.iterdir()) == ["events.csv"]


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_validate_checks_an_export_against_the_layers_it_carries(fmt, exports, tmp_path, capsys):
    """`gridgeo validate` on an export's grids skipped every check needing the communities (gaps at their edges, grids
    outside or across them), the small grids and the buildings, although the export carries them beside the grids: it
    now checks them against those layers, as a plan is checked against its own, says so, and finds what it finds with
    the layers given by hand."""
    files = _files(fmt, exports[fmt])
    grids, layer = files["grids"]
    given = ["validate", str(grids), *(["--grids-layer", layer] if layer else [])]
    for name in ("communities", "subgrids", "buildings"):
        path, inner = files[name]
        given += [f"--{name}", str(path), *([f"--{name}-layer", inner] if inner else [])]
    assert main([*given, "--report", str(tmp_path / "given.json")]) == 0
    capsys.readouterr()
    assert main(["validate", str(grids), "--report", str(tmp_path / "found.json")]) == 0
    out = capsys.readouterr().out
    assert "checked against the communities, subgrids, buildings carried beside the grids" in out, out
    found, by_hand = (json.loads((tmp_path / n).read_text(encoding="utf-8"))["findings"] for n in ("found.json", "given.json"))
    assert found == by_hand
    assert "check_skipped" not in {f["type"] for f in found}
    assert "households_out_of_bounds" in {f["type"] for f in found}  # the small grids were checked too
    in_python = gridgeo.validate(grids if layer is None else (grids, layer))
    assert sorted(in_python["type"]) == sorted(f["type"] for f in found)


def test_an_exports_communities_alone_are_checked_as_communities_and_a_skipped_check_says_how_to_run_it(exports, tmp_path,
                                                                                                         capsys):
    """The communities layer of an export (``community_code``, as every export names it) given to `validate` alone was
    judged as grids without codes (a ``missing_code`` error, exit 1); it is a community layer, checked for overlaps and
    gaps between communities. A grid layer with no communities beside it says which checks did not run and how to run
    them."""
    communities = exports["shp"] / "communities.shp"
    assert main(["validate", str(communities)]) == 0
    assert "9 communities, clean" in capsys.readouterr().out
    lone = tmp_path / "grids.geojson"
    shutil.copy(exports["geojson"] / "grids.geojson", lone)
    found = gridgeo.validate(lone)
    skipped = found.loc[found["type"] == "check_skipped", "message"].tolist()
    assert len(skipped) == 1 and "give the communities the grids tile (--communities PATH" in skipped[0], skipped
