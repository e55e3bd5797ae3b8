"""The command line (gridgeo.cli): --version, info, blocks end to end, one-line errors with exit code 2."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import gridgeo
from conftest import CODE_A, CODE_B, METRIC_EPSG, rect
from gridgeo._progress import LOG_LINE
from gridgeo.cli import main
from gridgeo.plan import Plan

CONSOLE_SCRIPT = Path(sys.executable).parent / "gridgeo"


def _blocks_args(files: dict[str, Path], out: Path, *extra: str) -> list[str]:
    return ["blocks", "--communities", str(files["communities"]), "--streets", str(files["streets"]),
            "--buildings", str(files["buildings"]), "--out", str(out), *extra]


def _run(argv: list[str]) -> int:
    """``main(argv)``'s exit code, whether returned or raised by argparse (usage errors, --version)."""
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


def _error_lines(err: str) -> list[str]:
    """stderr without the progress log lines (``gridgeo:   0.1 s  reading inputs``)."""
    return [line for line in err.splitlines() if not LOG_LINE.match(line)]


def _one_line_error(capsys, rc: int, *fragments: str) -> str:
    captured = capsys.readouterr()
    assert rc == 2
    lines = _error_lines(captured.err)
    assert len(lines) == 1, captured.err
    # "gridgeo: error: ..." (argparse's usage errors say "gridgeo blocks: error: ...")
    assert re.match(r"gridgeo( [a-z]+)?: error: ", lines[0]), lines[0]
    assert "Traceback" not in captured.err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


# --------------------------------------------------------------------------------------- version


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"gridgeo {gridgeo.__version__}"


def test_version_python_m():
    r = subprocess.run([sys.executable, "-m", "gridgeo", "--version"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"gridgeo {gridgeo.__version__}"


def test_version_console_script():
    if not CONSOLE_SCRIPT.exists():
        pytest.skip(f"console script {CONSOLE_SCRIPT} not installed (pip install -e .)")
    r = subprocess.run([str(CONSOLE_SCRIPT), "--version"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"gridgeo {gridgeo.__version__}"


def test_no_command_is_a_one_line_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert err.startswith("gridgeo: error: ") and "see `gridgeo --help`" in err


def test_missing_required_option_is_one_line(capsys, tiny_files):
    with pytest.raises(SystemExit) as exc:
        main(["blocks", "--communities", str(tiny_files["communities"])])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert "error: the following arguments are required: --out" in err


# ------------------------------------------------------------------------------------------ info


def test_counts_on_the_console_agree_with_their_noun(capsys, tmp_path):
    """A layer of one grid is "1 grid" ("1 grids" before), through the helper every count message uses."""
    import geopandas as gpd

    path = tmp_path / "one.gpkg"
    gpd.GeoDataFrame({"grid_code": [f"{CODE_A}001"], "community_code": [CODE_A]}, geometry=[rect(0, 0, 300, 300)],
                     crs=METRIC_EPSG).to_file(path)
    main(["validate", str(path)])
    out = capsys.readouterr().out
    assert out.startswith(f"{path}: 1 grid, ") and "1 grids" not in out and "1 findings" not in out, out
    from gridgeo._text import counted

    assert [counted(1, "grid"), counted(0, "finding"), counted(2, "community"), counted(1_200, "small grid"),
            counted(1, "community"), counted(3, "day")] == [
        "1 grid", "0 findings", "2 communities", "1,200 small grids", "1 community", "3 days"]


def test_info_on_an_input_file(capsys, tiny_files):
    assert main(["info", str(tiny_files["buildings"])]) == 0
    out = capsys.readouterr().out
    assert f"{tiny_files['buildings']}: 1 layer\n" in out and "(s)" not in out
    assert "buildings: 6 features (Point, Polygon); CRS EPSG:4490; households 173 (2 missing)" in out
    assert "columns: ['building_id', 'households', 'floors', 'name', 'use']" in out


def test_info_on_a_multi_layer_geopackage(capsys, tmp_path, communities_4490, streets_4490):
    path = tmp_path / "town.gpkg"
    communities_4490.to_file(path, layer="shequ")
    streets_4490.to_file(path, layer="jiedao")
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"{path}: 2 layers\n" in out
    assert "shequ: 2 features (Polygon); CRS EPSG:4490" in out
    assert "jiedao: 4 features (LineString); CRS EPSG:4490" in out


def test_info_on_csv_without_crs(capsys, tmp_path):
    path = tmp_path / "communities.csv"
    path.write_text('code,wkt\n420103001001,"POLYGON ((0 0, 1 0, 1 1, 0 0))"\n', encoding="utf-8")
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"{path}: 1 layer\n" in out and "communities: 1 feature (Polygon); CRS none" in out, out


def test_info_summarises_a_csv_it_cannot_read_as_features(capsys, tmp_path):
    """`gridgeo info` refused a CSV of events with a row of bad coordinates (which `gridgeo locate` answers row by
    row) and a roster (no coordinates) with the partition's error, exit 2; it summarises them as the tables they
    are, saying why they are not features."""
    events = tmp_path / "events.csv"
    events.write_text("lon,lat,name\n114.30,30.55,a\n114.31,abc,b\n", encoding="utf-8")
    assert main(["info", str(events)]) == 0
    out = capsys.readouterr().out
    assert f"{events}: 1 layer\n  events: 2 rows, not read as features: 1 row of {events} has non-numeric lon/lat" in out
    assert "columns: ['lon', 'lat', 'name']" in out
    staff = tmp_path / "staff.csv"
    staff.write_text("name,phone,grid_code\n甲,131,420103001001001\n", encoding="utf-8")
    assert main(["info", str(staff)]) == 0
    out = capsys.readouterr().out
    assert "staff: 1 row, not read as features: CSV" in out and "has no coordinate columns" in out
    assert "columns: ['name', 'phone', 'grid_code']" in out


def test_info_says_what_is_wrong_in_a_csv_and_in_which_lines_without_the_partitions_fix(capsys, tmp_path):
    """`gridgeo info` on a CSV with bad rows gave the partition's wording, "(first at row N); fix or remove them", and
    no fix for a roster: info only describes. It now says what is wrong and names the lines (as in the file, a blank
    line counted), and gives no fix; the partition's error keeps its fix."""
    events = tmp_path / "events.csv"
    events.write_text("经度,纬度,name\n114.30,30.55,a\n\n114.31,abc,b\n,,c\n", encoding="utf-8")
    assert main(["info", str(events)]) == 0
    out = capsys.readouterr().out
    assert "events: 3 rows, not read as features: 2 rows of" in out and "have non-numeric 经度/纬度 (lines 4, 5; first " in out
    assert "fix or remove" not in out and "give " not in out, out
    staff = tmp_path / "staff.csv"
    staff.write_text("name,phone,grid_code\n甲,131,420103001001001\n", encoding="utf-8")
    assert main(["info", str(staff)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[1].endswith("not read as features: CSV " + str(staff) + " has no coordinate columns"), out
    wkt = tmp_path / "zones.csv"
    wkt.write_text('code,wkt\n1,"POINT (1 2)"\n2,"POLYGON ((0 0, 1 0"\n', encoding="utf-8")
    assert main(["info", str(wkt)]) == 0
    out = capsys.readouterr().out
    assert "holds malformed WKT in 1 row (line 3: 'POLYGON ((0 0, 1 0')\n" in out and "fix the file" not in out, out


def test_info_on_geoparquet(capsys, tmp_path, streets_4547):
    path = tmp_path / "streets.parquet"
    streets_4547.to_parquet(path)
    assert main(["info", str(path)]) == 0
    assert "streets: 4 features (LineString); CRS EPSG:4547" in capsys.readouterr().out


def test_info_on_a_folder_of_layer_files(capsys, tmp_path, communities_4490, streets_4490):
    """A folder `gridgeo export --format geojson|parquet` writes (one file a layer) was "cannot read ...: not recognized
    as being in a supported file format ... prefixing the file path with '<DRIVER>:'": each file is summarised."""
    folder = tmp_path / "export"
    folder.mkdir()
    communities_4490.to_file(folder / "communities.geojson")
    streets_4490.to_parquet(folder / "streets.parquet")
    (folder / ".gridgeo-export").write_text('{"gridgeo_export": 1}', encoding="utf-8")
    assert main(["info", str(folder)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{folder}: a folder of 2 files\n{folder / 'communities.geojson'}: 1 layer\n"), out
    assert "communities: 2 features (Polygon); CRS EPSG:4490" in out and "streets: 4 features (LineString); CRS EPSG:4490" in out
    empty = tmp_path / "empty"
    empty.mkdir()
    _one_line_error(capsys, _run(["info", str(empty)]), "is a folder holding no GeoPackage", str(empty))


def test_info_on_a_plan(capsys, tiny_files, tmp_path):
    out = tmp_path / "plan.gpkg"
    assert main(_blocks_args(tiny_files, out)) == 0
    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"gridgeo plan {out} (gridgeo {gridgeo.__version__}, stage blocks, computed in EPSG:4547)")
    assert "blocks             6 features, 261 households (EPSG:4490)" in text
    assert "buildings outside every community (kept, reported): 1" in text
    assert "building_outside_communities" in text


def test_info_on_a_diff_file_says_the_grid_changes(capsys, tmp_path):
    """`gridgeo info` on the file `gridgeo diff --out d.gpkg` writes said "gridgeo plan d.gpkg (gridgeo ?, stage ?,
    computed in ?)": it is described as the layer it is, with its grid changes counted by status."""
    import geopandas as gpd

    def plan(boxes: list, path: Path) -> Path:
        grids = gpd.GeoDataFrame({"grid_code": [f"{CODE_A}{i:03d}" for i in range(1, len(boxes) + 1)],
                                  "community_code": [CODE_A] * len(boxes), "kind": ["base"] * len(boxes)},
                                 geometry=boxes, crs=METRIC_EPSG)
        Plan({"grids": grids}, {"stage": "partition"}).write(path)
        return path

    old = plan([rect(0, 0, 300, 300), rect(300, 0, 600, 300)], tmp_path / "old.gpkg")
    new = plan([rect(0, 0, 300, 300), rect(300, 0, 450, 300), rect(450, 0, 600, 300)], tmp_path / "new.gpkg")
    out = tmp_path / "d.gpkg"
    assert main(["diff", str(old), str(new), "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "gridgeo plan" not in text and "?" not in text, text
    assert text.startswith(f"{out}: 1 layer\n  grid_diff: "), text
    assert "grid changes (gridgeo diff): unchanged 1, recounted 0, recoded 0, reshaped 1, split 1, merged 0, new 0, retired 0" in text
    # as GeoJSON, the layer is named grid_diff too, not after the temporary file it was written to (".d-72otp98q")
    out = tmp_path / "d.geojson"
    assert main(["diff", str(old), str(new), "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    assert capsys.readouterr().out.startswith(f"{out}: 1 layer\n  grid_diff: ")
    import json

    assert "crs" not in json.loads(out.read_text(encoding="utf-8"))   # RFC 7946: lon/lat WGS-84, no crs member


def test_info_counts_one_warning_as_one_warning():
    """A plan whose own validation found one warning said "0 errors, 1 warnings" (gridgeo info, partition, and
    the plan's summary in Jupyter)."""
    from gridgeo.info import plan_summary
    from gridgeo.plan import Plan

    text = plan_summary(Plan({}, {"validation": {"error": 1, "warning": 1, "info": 2}}))
    assert "gridgeo validate (run before writing): 1 error, 1 warning, 2 info" in text, text
    assert "validation (run before writing): 1 error, 1 warning, 2 info" in Plan({}, {"validation": {
        "error": 1, "warning": 1, "info": 2}})._repr_html_()  # the plan in Jupyter alike


def test_info_missing_file(capsys, tmp_path):
    rc = _run(["info", str(tmp_path / "nope.gpkg")])
    _one_line_error(capsys, rc, "file not found", "nope.gpkg")


def test_info_not_a_gis_file(capsys, tmp_path):
    path = tmp_path / "junk.gpkg"
    path.write_text("junk", encoding="utf-8")
    _one_line_error(capsys, _run(["info", str(path)]), "cannot read", "junk.gpkg")


# -------------------------------------------------------------------------------- blocks end to end


def test_blocks_end_to_end(capsys, tiny_files, tmp_path):
    out = tmp_path / "plan.gpkg"
    assert main(_blocks_args(tiny_files, out)) == 0
    printed = capsys.readouterr().out
    assert "stage blocks" in printed and "blocks             6 features" in printed
    plan = Plan.read(out)
    assert list(plan.layers) == ["communities", "blocks", "buildings", "findings"]
    for gdf in plan.layers.values():
        assert gdf.crs.to_epsg() == 4490

    communities = plan["communities"]
    assert communities["code"].tolist() == [CODE_A, CODE_B]
    assert communities["name"].tolist() == ["民族街社区", "花楼水塔社区"]

    blocks = plan["blocks"]
    assert blocks["block_id"].tolist() == [f"{CODE_A}-B000{i}" for i in range(1, 5)] + [f"{CODE_B}-B0001", f"{CODE_B}-B0002"]
    # b1 120 given; b2 900 m² × 6 floors / 90 = 60; b3 40; b5 across the street, 1,000 m² × 3 / 90 = 33 in A-SE; b4 8 in B-S
    assert blocks["households"].tolist() == [120, 60, 40, 33, 0, 8]
    assert blocks["buildings"].tolist() == [1, 1, 1, 1, 0, 1]
    # b5, drawn across the street, goes wholly into A-SE: blocks go around buildings (楼栋完整)
    assert blocks.to_crs(4547).area.round().tolist() == [40000.0, 40000.0, 39600.0, 40400.0] + [80000.0] * 2
    assert (plan["findings"]["type"] == "building_across_blocks").sum() == 1

    buildings = plan["buildings"].set_index("building_id")
    assert buildings["block_id"].to_dict() == {
        "b1": f"{CODE_A}-B0001", "b2": f"{CODE_A}-B0002", "b3": f"{CODE_A}-B0003",
        "b4": f"{CODE_B}-B0002", "b5": f"{CODE_A}-B0004", "b6": None,
    }
    assert buildings["households_source"].to_dict() == {
        "b1": "given", "b2": "estimated", "b3": "given", "b4": "given", "b5": "estimated", "b6": "given",
    }
    assert buildings.loc["b6", "community_code"] is None

    findings = plan["findings"]
    assert sorted(findings["type"]) == ["building_across_blocks", "building_outside_communities", "households_null",
                                        "households_null"]
    outside = findings[findings["type"] == "building_outside_communities"].iloc[0]
    assert outside["feature_id"] == "b6" and outside["measure"] == 5.0

    meta = plan.metadata
    assert meta["stage"] == "blocks"
    assert meta["gridgeo_version"] == gridgeo.__version__
    assert meta["metric_crs"] == "EPSG:4547"
    assert meta["rules"]["profile"] == "urban"
    assert set(meta["input_fingerprints"]) == {"communities", "streets", "buildings"}
    assert meta["counts"]["blocks"] == 6
    assert meta["counts"]["households"] == 266
    assert meta["counts"]["buildings_outside_communities"] == 1


def test_blocks_without_streets_or_buildings(capsys, tiny_files, tmp_path):
    out = tmp_path / "plan.gpkg"
    assert main(["blocks", "--communities", str(tiny_files["communities"]), "--out", str(out)]) == 0
    plan = Plan.read(out)
    assert plan["blocks"]["block_id"].tolist() == [f"{CODE_A}-B0001", f"{CODE_B}-B0001"]
    assert len(plan["buildings"]) == 0


def test_blocks_with_column_mapping_crs_and_rules(capsys, tmp_path, communities_4547, streets_4547):
    # communities as a CSV with WKT, no CRS, a differently named code column
    c = tmp_path / "shequ.csv"
    pd.DataFrame({"DM": communities_4547["code"], "MC": communities_4547["name"], "wkt": communities_4547.geometry.to_wkt()}).to_csv(c, index=False)
    s = tmp_path / "streets.parquet"
    streets_4547.to_parquet(s)
    rules = tmp_path / "rules.toml"
    rules.write_text("sliver_area_m2 = 100\n", encoding="utf-8")
    out = tmp_path / "plan.gpkg"
    rc = main(["blocks", "--communities", str(c), "--streets", str(s), "--crs", "EPSG:4547",
               "--columns", "communities.code=DM", "--columns", "communities.name=MC", "--rules", str(rules), "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    plan = Plan.read(out)
    assert plan["communities"]["code"].tolist() == [CODE_A, CODE_B]
    assert plan["communities"]["name"].tolist() == ["民族街社区", "花楼水塔社区"]
    assert len(plan["blocks"]) == 6
    assert plan.metadata["rules"]["sliver_area_m2"] == 100.0


def test_blocks_with_config_file(capsys, tmp_path, communities_4490, streets_4490):
    communities_4490.rename(columns={"code": "CUN_DM"}).to_file(tmp_path / "town.gpkg", layer="shequ")
    streets_4490.to_file(tmp_path / "town.gpkg", layer="jiedao")
    cfg = tmp_path / "gridgeo.toml"
    cfg.write_text(
        '[communities]\npath = "town.gpkg"\nlayer = "shequ"\ncolumns = { code = "CUN_DM" }\n'
        '[streets]\npath = "town.gpkg"\nlayer = "jiedao"\n',
        encoding="utf-8",
    )
    out = tmp_path / "plan.gpkg"
    assert main(["blocks", "--config", str(cfg), "--out", str(out)]) == 0, capsys.readouterr().err
    assert len(Plan.read(out)["blocks"]) == 6


def test_blocks_with_gcj02_buildings(capsys, tiny_files, tmp_path, buildings_4547):
    from gridgeo.crs import convert_datum

    amap = tmp_path / "amap_buildings.gpkg"
    convert_datum(buildings_4547.to_crs(4326), src="wgs84", dst="gcj02").to_file(amap)
    out = tmp_path / "plan.gpkg"
    args = ["blocks", "--communities", str(tiny_files["communities"]), "--streets", str(tiny_files["streets"]),
            "--buildings", str(amap), "--out", str(out)]
    assert main([*args, "--buildings-datum", "gcj02"]) == 0, capsys.readouterr().err
    got = Plan.read(out)["buildings"].set_index("building_id")["block_id"]
    assert got.to_dict() == {"b1": f"{CODE_A}-B0001", "b2": f"{CODE_A}-B0002", "b3": f"{CODE_A}-B0003",
                             "b4": f"{CODE_B}-B0002", "b5": f"{CODE_A}-B0004", "b6": None}


def test_repaired_geometry_is_a_finding_in_the_plan(capsys, tmp_path, communities_4547):
    from shapely import Polygon

    from conftest import at

    c = communities_4547.copy()
    c.loc[1, "geometry"] = Polygon([at(400, 0), at(800, 400), at(800, 0), at(400, 400), at(400, 0)])  # bow-tie
    c.to_crs(4490).to_file(tmp_path / "c.gpkg")
    out = tmp_path / "plan.gpkg"
    assert main(["blocks", "--communities", str(tmp_path / "c.gpkg"), "--out", str(out)]) == 0, capsys.readouterr().err
    plan = Plan.read(out)
    f = plan["findings"]
    assert f["type"].tolist() == ["invalid_geometry_repaired"]
    assert f["layer"].tolist() == ["communities"]
    assert plan["communities"].geometry.is_valid.all()
    assert "invalid_geometry_repaired" in capsys.readouterr().out


def test_blocks_force_overwrites(capsys, tiny_files, tmp_path):
    out = tmp_path / "plan.gpkg"
    assert main(_blocks_args(tiny_files, out)) == 0
    before = out.stat().st_mtime_ns
    capsys.readouterr()
    _one_line_error(capsys, main(_blocks_args(tiny_files, out)), "exists; pass --force to overwrite it")
    assert out.stat().st_mtime_ns == before
    assert main(_blocks_args(tiny_files, out, "--force")) == 0
    assert len(Plan.read(out)["blocks"]) == 6


def test_blocks_gridgeo_console_script_end_to_end(tiny_files, tmp_path):
    if not CONSOLE_SCRIPT.exists():
        pytest.skip(f"console script {CONSOLE_SCRIPT} not installed (pip install -e .)")
    out = tmp_path / "plan.gpkg"
    r = subprocess.run([str(CONSOLE_SCRIPT), *_blocks_args(tiny_files, out)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "stage blocks" in r.stdout
    assert len(Plan.read(out)["blocks"]) == 6


# ------------------------------------------------------------------------------------- bad input


def test_missing_input_file(capsys, tiny_files, tmp_path):
    rc = _run(["blocks", "--communities", str(tmp_path / "nope.gpkg"), "--out", str(tmp_path / "plan.gpkg")])
    _one_line_error(capsys, rc, "communities: file not found", "nope.gpkg")
    assert not (tmp_path / "plan.gpkg").exists()


@pytest.mark.parametrize(
    ("option", "fragment"),
    [
        ("communities", "must look like LAYER=VALUE"),
        ("code=DM", "name the layer, e.g. communities.code=CUN_DM"),
        ("roads.name=MC", "name the layer"),
        ("streets.name=MC", "layer 'streets' is not given; add --streets PATH"),
        ("communities.code=DM", "column(s) ['DM'] not found; columns there: ['code', 'name', 'kind']"),
        ("communities.cod=code", "cannot map unknown column(s) ['cod']"),
    ],
)
def test_bad_columns_option(capsys, tiny_files, tmp_path, option, fragment):
    rc = _run(["blocks", "--communities", str(tiny_files["communities"]), "--columns", option, "--out", str(tmp_path / "p.gpkg")])
    _one_line_error(capsys, rc, fragment)


@pytest.mark.parametrize(
    ("option", "fragment"),
    [
        (["--communities-datum", "wgs99"], "argument --communities-datum: invalid choice: 'wgs99'"),
        (["--buildings-datum", "gcj02"], "--buildings-datum gcj02: no buildings layer is given"),
    ],
)
def test_bad_datum(capsys, tiny_files, tmp_path, option, fragment):
    rc = _run(["blocks", "--communities", str(tiny_files["communities"]), *option, "--out", str(tmp_path / "p.gpkg")])
    _one_line_error(capsys, rc, fragment)


def test_no_communities_names_the_options_that_give_them(capsys, tmp_path):
    _one_line_error(capsys, _run(["blocks", "--out", str(tmp_path / "p.gpkg")]),
                    "gridgeo: error: no communities given; pass --communities FILE, --config FILE.toml or --sample")


def test_bad_out(capsys, tiny_files, tmp_path):
    base = ["blocks", "--communities", str(tiny_files["communities"]), "--out"]
    _one_line_error(capsys, _run([*base, str(tmp_path / "plan.shp")]), "must end in .gpkg")
    _one_line_error(capsys, _run([*base, str(tmp_path / "no" / "plan.gpkg")]), "does not exist; create it first")
    (tmp_path / "dir.gpkg").mkdir()
    _one_line_error(capsys, _run([*base, str(tmp_path / "dir.gpkg"), "--force"]), "is a folder")


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--crs", "EPSG:99999"], "unknown CRS 'EPSG:99999'"),
        (["--encoding", "communities=nonsense"], "unknown text encoding 'nonsense'"),
        (["--encoding", "streets=gbk"], "--encoding streets=gbk: layer 'streets' is not given (layers given: ['communities'])"),
        (["--rules", "suburban"], "rules 'suburban' is neither a profile"),
        (["--metric-crs", "EPSG:4326"], "is not a projected CRS"),
    ],
)
def test_bad_options(capsys, tiny_files, tmp_path, extra, fragment):
    rc = _run(["blocks", "--communities", str(tiny_files["communities"]), *extra, "--out", str(tmp_path / "p.gpkg")])
    _one_line_error(capsys, rc, fragment)


def test_unknown_metric_crs(capsys, tiny_files, tmp_path):
    rc = _run(["blocks", "--communities", str(tiny_files["communities"]), "--metric-crs", "foo", "--out", str(tmp_path / "p.gpkg")])
    _one_line_error(capsys, rc, "--metric-crs", "foo")


def test_shared_crs_fills_in_only_where_missing(capsys, tmp_path, communities_4547, streets_4490):
    c = tmp_path / "c.csv"
    pd.DataFrame({"code": communities_4547["code"], "wkt": communities_4547.geometry.to_wkt()}).to_csv(c, index=False)
    streets_4490.to_file(tmp_path / "s.gpkg")
    out = tmp_path / "plan.gpkg"
    rc = main(["blocks", "--communities", str(c), "--streets", str(tmp_path / "s.gpkg"), "--crs", "EPSG:4547", "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    assert len(Plan.read(out)["blocks"]) == 6


def test_overlapping_communities(capsys, tmp_path, communities_4547):
    c = communities_4547.copy()
    c.loc[1, "geometry"] = c.geometry.iloc[0]
    c.to_crs(4490).to_file(tmp_path / "c.gpkg")
    rc = _run(["blocks", "--communities", str(tmp_path / "c.gpkg"), "--out", str(tmp_path / "p.gpkg")])
    _one_line_error(capsys, rc, "communities overlap each other", f"{CODE_A}/{CODE_B}")


def test_bad_input_through_subprocess_has_no_traceback(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "gridgeo", "blocks", "--communities", str(tmp_path / "nope.gpkg"), "--out", str(tmp_path / "p.gpkg")],
        capture_output=True, text=True, timeout=120,
    )
    assert r.returncode == 2
    assert _error_lines(r.stderr) == [f"gridgeo: error: communities: file not found: {tmp_path / 'nope.gpkg'}; check the path"]
    assert r.stdout == ""


def test_diff_and_findings_geojson_are_rfc7946_lon_lat_wgs84(tmp_path, capsys):
    """`gridgeo diff --out X.geojson` stored the plan's EPSG:4490 with a "crs" member, which RFC 7946 GeoJSON
    does not have (readers such as Leaflet or a dispatch system assume lon/lat WGS-84 and ignore or reject it);
    findings written as GeoJSON kept their winding. Both are now RFC 7946: WGS-84, no crs member, CCW exteriors."""
    import json

    import geopandas as gpd
    import shapely

    from gridgeo.io import write_geojson

    gdf = gpd.GeoDataFrame({"code": ["a", "b"]},
                           geometry=[shapely.box(114.0, 30.0, 114.01, 30.01).reverse(), shapely.box(114.01, 30.0, 114.02, 30.01)],
                           crs=4490)
    out = tmp_path / "x.geojson"
    write_geojson(gdf, out, layer="grid_diff")
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert "crs" not in doc and doc["name"] == "grid_diff", doc.keys()
    rings = [f["geometry"]["coordinates"][0] for f in doc["features"]]
    assert all(shapely.LinearRing(r).is_ccw for r in rings)
    assert min(x for x, _ in rings[0]) == pytest.approx(114.0, abs=1e-9)   # relabelled, not moved
    # a metric layer is transformed to lon/lat
    metric = gdf.to_crs(4547)
    write_geojson(metric, out, layer="findings")
    back = gpd.read_file(out)
    assert back.crs.to_epsg() == 4326
    assert back.geometry.iloc[1].bounds == pytest.approx((114.01, 30.0, 114.02, 30.01), abs=1e-7)


def test_run_collects_reference_cycles_before_the_process_exits(monkeypatch):
    """`gridgeo locate` on a CSV it refused (a ragged row, no lon column) printed its one-line error and then, now
    and then aborted: "terminate called without an active exception", exit 134 instead of 2 (measured: 4 of 46 runs
    on a ragged row, 5 of 40 on a missing lon column). pyarrow objects left in reference cycles (the frames of the error's traceback) were collected by
    the interpreter's last clean-up, when pyarrow's threads can no longer stop cleanly (apache/arrow#34314).
    run() collects them first (none aborted in 120 runs after); a cycle made by the command is gone before exit."""
    import gc
    import weakref

    from gridgeo import cli

    freed = []

    class Held:
        pass

    def command() -> int:
        held = Held()
        held.me = held  # a reference cycle, as an error's traceback and its frames make
        weakref.finalize(held, freed.append, "collected")
        return 2

    monkeypatch.setattr(cli, "main", command)
    enabled = gc.isenabled()
    gc.disable()  # no automatic collection in between: only run() itself may collect it
    try:
        with pytest.raises(SystemExit) as exit_:
            cli.run()
    finally:
        if enabled:
            gc.enable()
    assert exit_.value.code == 2
    assert freed == ["collected"]


def test_info_reads_a_geojson_in_gbk_and_a_dbf_without_cpg_as_partition_reads_them(capsys, tmp_path):
    """`gridgeo info` on a GeoJSON saved in GBK fell through to the command line's last-resort text error, which
    told the user to pass ``--encoding communities=gbk``, an option `info` does not have; and a Shapefile's .dbf
    of GBK text without .cpg was summarised with mojibake column names. The GeoJSON is now read in the encoding
    that decodes it, and said so; the .dbf as the .shp is read."""
    import geopandas as gpd
    from shapely.geometry import Point

    path = tmp_path / "pts.geojson"
    path.write_bytes('{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"名称":"正街"},'
                     '"geometry":{"type":"Point","coordinates":[114.3,30.5]}}]}'.encode("gbk"))
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "columns: ['名称']" in out and "text: not UTF-8" in out and "read as gb18030" in out, out
    shp = tmp_path / "grids.shp"
    gpd.GeoDataFrame({"备注": ["城管"]}, geometry=[Point(114.3, 30.5)], crs=4326).to_file(shp, encoding="gbk")
    shp.with_suffix(".cpg").unlink()
    assert main(["info", str(shp.with_suffix(".dbf"))]) == 0
    assert "columns: ['备注']" in capsys.readouterr().out


@pytest.mark.parametrize(("error", "said"), [
    (UnicodeDecodeError("utf-8", b"\xd5\xfd", 0, 1, "invalid continuation byte"),
     "cannot decode a file's text as 'utf-8' (invalid continuation byte); save the file with UTF-8 text"),
    (UnicodeEncodeError("gbk", "正街😀", 2, 3, "illegal multibyte sequence"), "cannot write '😀' as 'gbk'"),
])
def test_the_last_resort_text_error_names_no_option_the_command_may_lack(monkeypatch, capsys, tmp_path, error, said):
    """A text error no reader worded reached the command line's last resort, which said "cannot decode" even for text
    that could not be written, and "e.g. --encoding communities=gbk" whatever the command and file (info has no
    --encoding; the readers name the encoding that decodes). It now says what failed and the fixes that always apply."""
    def fail(args):
        raise error

    monkeypatch.setattr("gridgeo.cli._cmd_info", fail)
    assert main(["info", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gridgeo: error: " + said) and "communities=" not in err and err.count("\n") == 1, err


def test_a_building_in_an_open_gap_between_communities_is_named_with_its_nearest_community(tmp_path, capsys):
    """A building in a 6 m channel left open between two communities is in no grid: its finding said only that it
    "lies outside every community; kept, not in any grid" and the report "1 building lies outside every community".
    The finding now names the nearest community, how far, and the fix (redraw that boundary, or a tolerance above
    the gap's width); the report's note counts its households too."""
    import geopandas as gpd
    from shapely import box

    x0, y0 = 526_000.0, 3_385_000.0
    comm = gpd.GeoDataFrame({"code": ["420103001001", "420103001002"]}, crs=4547,
                            geometry=[box(x0, y0, x0 + 400, y0 + 400), box(x0 + 406, y0, x0 + 806, y0 + 400)])
    fp = [box(x0 + x, y0 + y, x0 + x + 30, y0 + y + 30) for x in (40, 120, 200, 280, 460, 540, 620, 700)
          for y in (40, 140, 240, 320)]
    fp.append(box(x0 + 401, y0 + 100, x0 + 404, y0 + 130))  # in the channel, 1 m from the first community
    b = gpd.GeoDataFrame({"building_id": [f"b{i}" for i in range(len(fp))], "households": [40] * (len(fp) - 1) + [12]},
                         geometry=fp, crs=4547)
    comm.to_file(tmp_path / "c.gpkg")
    b.to_file(tmp_path / "b.gpkg")
    out = tmp_path / "p.gpkg"
    assert main(["partition", "--communities", str(tmp_path / "c.gpkg"), "--buildings", str(tmp_path / "b.gpkg"),
                 "--out", str(out), "-q"]) == 0
    found = Plan.read(out).findings
    assert "community_gap" in set(found["type"])
    said = found[found["type"] == "building_outside_communities"]
    assert said["feature_id"].tolist() == ["b32"]
    assert said["message"].iloc[0] == (
        "building b32 (12 households) lies outside every community, 1.0 m from community 420103001001 (the nearest); "
        "kept, in no grid: if it belongs to that community, redraw its boundary over the building in the community layer "
        "(a gap between communities: see its community_gap finding, or set boundary_tolerance_m above the gap's width "
        "in a --rules file)")
    capsys.readouterr()
    assert main(["report", str(out)]) == 0
    assert ("note: 1 building (12 households) lies outside every community, in no grid (each a "
            "building_outside_communities finding naming the nearest community and the fix)") in capsys.readouterr().out


def test_the_config_read_once_per_command_keeps_each_reading_and_hands_out_copies(tmp_path):
    """``cli._config``: the layers alone and with ``[grids]`` are two readings (the first asked must not answer the
    second), and a caller changing a source (``--households-layer`` on the config's table) changes no later answer."""
    import argparse

    from gridgeo.cli import _config

    cfg = tmp_path / "g.toml"
    cfg.write_text('[households]\npath = "t.csv"\n\n[grids]\ncolumns = { code = "WGBM" }\n', encoding="utf-8")
    args = argparse.Namespace(config=str(cfg))
    with pytest.raises(gridgeo.InputError, match=r"unknown section \[grids\]"):
        _config(args)  # partition's reading: a [grids] table is not its
    with_grids = _config(args, grids=True)
    assert with_grids["grids"].columns == {"code": "WGBM"}
    with_grids["households"].layer = "Sheet2"
    with_grids["households"].columns["building_id"] = "楼号"
    again = _config(args, grids=True)
    assert again["households"].layer is None and again["households"].columns == {}
