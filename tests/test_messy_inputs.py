"""Messy real inputs (issue 13): every case gives a plan with findings or one line and exit code 2.

(The boundary functions themselves are tested in test_boundaries.py.)

Each error case asserts the exit code, the one-line message and that no output was written (or, with
``--force`` over an existing file, that it was not overwritten).
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely import Polygon, box

from conftest import CODE_A, CODE_B, METRIC_EPSG, at, line, rect
from gridgeo._progress import LOG_LINE, Progress
from gridgeo.blocks import build_blocks
from gridgeo.cli import main
from gridgeo.crs import convert_datum, detect_shift
from gridgeo.datasets import get_path
from gridgeo.io import SHAPEFILE_FIELD_NAMES, read_layer
from gridgeo.plan import Plan
from gridgeo.rules import get_rules
from gridgeo.validate import validate_grids

SENTINEL = b"an earlier file that must survive"


def _run(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # argparse usage errors
        return exc.code


def _errors(err: str) -> list[str]:
    return [ln for ln in err.splitlines() if not LOG_LINE.match(ln)]


def _fails(capsys, argv: list[str], out: Path, *fragments: str, existing: bool = False) -> str:
    """Run ``argv`` expecting exit 2 with one line naming ``fragments``, and ``out`` untouched."""
    if existing:
        out.write_bytes(SENTINEL)
        argv = [*argv, "--force"]
    rc = _run(argv)
    err = capsys.readouterr().err
    lines = _errors(err)
    assert rc == 2, err
    assert len(lines) == 1 and lines[0].startswith("gridgeo: error: "), err
    assert "Traceback" not in err
    for f in fragments:
        assert f in lines[0], lines[0]
    if existing:
        assert out.read_bytes() == SENTINEL
    else:
        assert not out.exists()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.stem}-")], "temporary file left"
    return lines[0]


def _types(plan_path: Path) -> pd.Series:
    return Plan.read(plan_path)["findings"]["type"].value_counts()


# ------------------------------------------------------------------------------ community slivers


def _communities(tmp_path: Path, communities_4547, b_geom, name: str = "c.gpkg") -> Path:
    c = communities_4547.copy()
    c.loc[1, "geometry"] = b_geom
    path = tmp_path / name
    c.to_crs(4490).to_file(path, layer="communities")
    return path


def test_narrow_overlap_between_communities_is_given_to_one_with_a_finding(capsys, tmp_path, communities_4547, tiny_files):
    c = _communities(tmp_path, communities_4547, rect(399.5, 0, 800, 400))  # B reaches 0.5 m into A
    out = tmp_path / "plan.gpkg"
    rc = main(["blocks", "--communities", str(c), "--streets", str(tiny_files["streets"]), "--out", str(out), "-q"])
    assert rc == 0, capsys.readouterr().err
    plan = Plan.read(out)
    f = plan["findings"][plan["findings"]["type"] == "community_overlap_resolved"]
    assert len(f) == 1 and f["measure"].iloc[0] == pytest.approx(200.0, rel=1e-3)
    assert "°E" in f["message"].iloc[0] and f["geometry"].iloc[0] is not None
    assert len(plan["blocks"]) == 6
    comms = plan["communities"].to_crs(METRIC_EPSG)
    assert comms.geometry.iloc[0].intersection(comms.geometry.iloc[1]).area < 0.01


def test_narrow_gap_is_filled_and_the_plan_validates(capsys, tmp_path, communities_4547, tiny_files):
    c = _communities(tmp_path, communities_4547, rect(400.6, 0, 800, 400))  # a 0.6 m gap along x = 400
    out = tmp_path / "plan.gpkg"
    rc = main(["partition", "--communities", str(c), "--streets", str(tiny_files["streets"]),
               "--buildings", str(tiny_files["buildings"]), "--out", str(out), "-q", "--workers", "1", "--no-shift-check"])
    assert rc == 0, capsys.readouterr().err
    types = _types(out)
    assert types.get("community_gap_filled") == 1
    capsys.readouterr()
    assert main(["validate", str(out)]) == 0, capsys.readouterr().out
    grids = Plan.read(out)["grids"]
    assert (grids.to_crs(METRIC_EPSG).geometry.geom_type == "Polygon").all()  # no grid in two parts


def test_wide_overlap_is_one_line_naming_the_repair_command(capsys, tmp_path, communities_4547):
    c = _communities(tmp_path, communities_4547, rect(390, 0, 800, 400))  # 10 m overlap
    out = tmp_path / "plan.gpkg"
    _fails(capsys, ["blocks", "--communities", str(c), "--out", str(out)], out,
           "communities overlap each other by more than the 2 m boundary tolerance", f"{CODE_A}/{CODE_B} (4,000 m²",
           "gridgeo validate COMMUNITIES --repair FIXED.gpkg")
    _fails(capsys, ["blocks", "--communities", str(c), "--out", str(out)], out, "boundary tolerance", existing=True)


def test_boundary_tolerance_is_a_rules_key(capsys, tmp_path, communities_4547):
    c = _communities(tmp_path, communities_4547, rect(399.5, 0, 800, 400))
    rules = tmp_path / "strict.toml"
    rules.write_text("boundary_tolerance_m = 0.2\n", encoding="utf-8")
    out = tmp_path / "plan.gpkg"
    _fails(capsys, ["blocks", "--communities", str(c), "--rules", str(rules), "--out", str(out)], out,
           "by more than the 0.2 m boundary tolerance")
    assert get_rules().boundary_tolerance_m == 2.0 and get_rules().width_tolerance_m == 0.1


def test_validate_and_repair_a_community_layer(capsys, tmp_path, communities_4547):
    c = _communities(tmp_path, communities_4547, rect(390, 0, 800, 400))
    fixed = tmp_path / "fixed.gpkg"
    assert main(["validate", str(c), "--repair", str(fixed)]) == 1
    out = capsys.readouterr().out
    assert "2 communities, 1 finding (" in out and "repaired community layer written" in out
    assert main(["validate", str(fixed), "--grids-layer", "communities"]) == 0
    assert "clean: no overlap" in capsys.readouterr().out
    repaired = gpd.read_file(fixed, layer="communities").to_crs(METRIC_EPSG)
    assert repaired["code"].tolist() == [CODE_A, CODE_B]
    assert repaired.geometry.area.sum() == pytest.approx(320_000, rel=1e-6)
    # the written log says which community each change is about (it had lost the codes: NaN grid_code)
    log = gpd.read_file(fixed, layer="repair_log")
    given = log[log["action"] == "overlap_given"]
    assert given["code"].tolist() == [CODE_A] and given["detail"].tolist() == [f"to {CODE_B}"]
    assert log["code"].notna().all() and "grid_code" not in log
    plan = tmp_path / "plan.gpkg"
    assert main(["blocks", "--communities", str(fixed), "--communities-layer", "communities", "--out", str(plan), "-q"]) == 0


def test_a_community_drawn_twice_is_left_out_of_the_repair_and_the_repair_partitions(capsys, tmp_path, communities_4547):
    """A community wholly covered by another (drawn twice under a second code) used to be written with an
    empty geometry, which ``partition`` then refused ("no geometry"): gridgeo's own fix led to another
    error. It is now left out of the repaired layer, said on the console and in the log with its code."""
    twice = pd.concat([communities_4547, communities_4547.iloc[[1]].assign(code=CODE_A[:-1] + "9")], ignore_index=True)
    c = tmp_path / "twice.gpkg"
    twice.to_file(c, layer="communities")
    fixed = tmp_path / "fixed.gpkg"
    assert main(["validate", str(c), "--repair", str(fixed)]) == 1
    captured = capsys.readouterr()
    assert f"1 community wholly covered by others left out of the repaired layer ({CODE_A[:-1]}9)" in captured.err
    repaired = gpd.read_file(fixed, layer="communities")
    assert repaired["code"].tolist() == [CODE_A, CODE_B] and not repaired.geometry.is_empty.any()
    log = gpd.read_file(fixed, layer="repair_log")
    gone = log[log["action"] == "emptied"]
    assert gone["code"].tolist() == [CODE_A[:-1] + "9"] and "left out of the repaired layer" in gone["detail"].iloc[0]
    plan = tmp_path / "plan.gpkg"
    assert main(["blocks", "--communities", str(fixed), "--communities-layer", "communities", "--out", str(plan), "-q"]) == 0


def test_validate_and_repair_a_community_layer_in_python_as_on_the_command_line(tmp_path, communities_4547):
    """gridgeo.validate(communities) checked the layer as grids (errors "the grids layer has no 'grid_code'
    column" and "no 'community_code' column", "grids #0 and #1 overlap") where `gridgeo validate COMMUNITIES`
    checks overlaps and gaps between communities; gridgeo.repair(communities) asked for communities. Both
    faces now agree."""
    import gridgeo
    from gridgeo.boundaries import validate_communities

    c = _communities(tmp_path, communities_4547, rect(390, 0, 800, 400))  # 10 m overlap
    layer = gpd.read_file(c)
    for source in (c, layer):
        found = gridgeo.validate(source)
        assert found["type"].tolist() == ["overlap"] and "communities" in found["message"].iloc[0], found[["type", "message"]]
        assert found["type"].tolist() == validate_communities(layer)["type"].tolist()
    assert len(gridgeo.validate(layer, boundary_tolerance_m=20)) == 1  # an overlap is an error at any tolerance
    fixed, log = gridgeo.repair(layer)
    assert len(log) and len(gridgeo.validate(fixed)) == 0
    assert fixed.to_crs(METRIC_EPSG).geometry.area.sum() == pytest.approx(320_000, rel=1e-6)


# ------------------------------------------------------------------------------------ street noding


def _short_streets(gap: float) -> gpd.GeoDataFrame:
    """A cross whose arms stop ``gap`` metres short of the junction and of the community boundary."""
    g = gap
    return gpd.GeoDataFrame(geometry=[
        line((200, g), (200, 200 - g)), line((200, 200 + g), (200, 400 - g)),
        line((g, 200), (200 - g, 200)), line((200 + g, 200), (800 - g, 200)),
    ], crs=METRIC_EPSG)


def test_streets_stopping_short_of_junctions_give_the_same_blocks(communities_4547):
    connected = build_blocks(communities_4547, _short_streets(0.0))
    short = build_blocks(communities_4547, _short_streets(0.5))
    assert len(connected) == 6
    assert short["block_id"].tolist() == connected["block_id"].tolist()
    assert np.allclose(short["area_m2"], connected["area_m2"], atol=1.0)
    assert short.attrs["street_ends_snapped"] == 8 and connected.attrs["street_ends_snapped"] == 0
    unsnapped = build_blocks(communities_4547, _short_streets(0.5), rules=get_rules(street_snap_m=0))
    assert len(unsnapped) == 2  # without snapping the blocks collapse to one per community


def test_snapped_street_ends_are_a_finding(capsys, tmp_path, tiny_files, communities_4547):
    s = tmp_path / "short.gpkg"
    _short_streets(0.5).to_crs(4490).to_file(s)
    out = tmp_path / "plan.gpkg"
    assert main(["blocks", "--communities", str(tiny_files["communities"]), "--streets", str(s), "--out", str(out), "-q"]) == 0
    f = Plan.read(out)["findings"]
    row = f[f["type"] == "street_ends_snapped"]
    assert row["measure"].tolist() == [8.0] and "street_snap_m" in row["message"].iloc[0]


# ------------------------------------------------------------------------------- coordinate sanity


def test_csv_with_lon_and_lat_swapped(capsys, tmp_path, tiny_files, buildings_4490):
    pts = buildings_4490.geometry.representative_point()
    csv = tmp_path / "b.csv"
    pd.DataFrame({"lon": pts.y, "lat": pts.x, "households": 10}).to_csv(csv, index=False)
    out = tmp_path / "plan.gpkg"
    _fails(capsys, ["partition", "--communities", str(tiny_files["communities"]), "--buildings", str(csv), "--out", str(out)],
           out, "buildings: coordinates out of range", "look swapped")


def test_a_few_swapped_rows_of_a_csv_layer_are_named_not_the_layers_crs(capsys, tmp_path, tiny_files, buildings_4490):
    """One building typed latitude first among many read right was told to "check the layer's CRS (--crs)", and a
    stray value in metres to give the layer another CRS: a few features out of range are named by their line, the
    others being in range; the whole layer swapped keeps its advice."""
    pts = buildings_4490.geometry.representative_point()
    lon, lat = pts.x.to_numpy().copy(), pts.y.to_numpy().copy()
    lon[2], lat[2] = lat[2], lon[2]
    csv = tmp_path / "b.csv"
    pd.DataFrame({"lon": lon, "lat": lat, "households": 10}).to_csv(csv, index=False)
    out = tmp_path / "plan.gpkg"
    _fails(capsys, ["partition", "--communities", str(tiny_files["communities"]), "--buildings", str(csv), "--out", str(out)],
           out, f"buildings: 1 of {len(pts)} features has coordinates out of range for EPSG:4326 (line 4, x ",
           "longitude and latitude look swapped there); fix that row (longitude, x, 经度, first), the others are in range")
    lon[2], lat[2] = 512345.6, 3380000.0
    pd.DataFrame({"lon": lon, "lat": lat, "households": 10}).to_csv(csv, index=False)
    _fails(capsys, ["partition", "--communities", str(tiny_files["communities"]), "--buildings", str(csv), "--out", str(out)],
           out, "(line 4, x 512346, y 3.38e+06); fix that row, the others are in range")


def test_projected_coordinates_labelled_as_degrees(capsys, tmp_path, tiny_files, buildings_4547):
    bad = tmp_path / "b.gpkg"
    buildings_4547.set_crs(4490, allow_override=True).to_file(bad)
    out = tmp_path / "plan.gpkg"
    _fails(capsys, ["partition", "--communities", str(tiny_files["communities"]), "--buildings", str(bad), "--out", str(out)],
           out, "projected coordinates (metres) labelled as degrees", "--crs EPSG:45")
    csv = tmp_path / "b.csv"  # a CSV with metre x/y is read as degrees unless --crs says otherwise
    pts = buildings_4547.geometry.representative_point()
    pd.DataFrame({"x": pts.x, "y": pts.y}).to_csv(csv, index=False)
    _fails(capsys, ["partition", "--communities", str(tiny_files["communities"]), "--buildings", str(csv), "--out", str(out)],
           out, "labelled as degrees", existing=True)


def test_z_values_are_dropped_with_a_finding(capsys, tmp_path, tiny_files, buildings_4490):
    z = tmp_path / "bz.gpkg"
    b = buildings_4490.copy()
    b["geometry"] = shapely.force_3d(b.geometry.to_numpy(), 24.0)
    b.to_file(z)
    out = tmp_path / "plan.gpkg"
    rc = main(["partition", "--communities", str(tiny_files["communities"]), "--streets", str(tiny_files["streets"]),
               "--buildings", str(z), "--out", str(out), "-q", "--workers", "1"])
    assert rc == 0, capsys.readouterr().err
    plan = Plan.read(out)
    assert _types(out).get("z_dropped") == 1
    assert not shapely.has_z(plan["buildings"].geometry.to_numpy()).any()
    assert plan["grids"]["households"].sum() == 261  # every building inside a community counted


def test_m_values_are_read_without_a_warning_on_the_console(capsys, tmp_path, tiny_files):
    # a GeoPackage whose streets carry M (measure) values, as linear-referenced road data does: gridgeo
    # reads them without it; pyogrio's UserWarning (file, line number and source line) must not reach the console
    import sqlite3

    m = tmp_path / "streets_m.gpkg"
    m.write_bytes(tiny_files["streets"].read_bytes())
    with sqlite3.connect(m) as con:  # the layer declared measured: GDAL reads it as "Measured LineString"
        con.execute("UPDATE gpkg_geometry_columns SET m = 1")
    out = tmp_path / "plan.gpkg"
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        rc = main(["partition", "--communities", str(tiny_files["communities"]), "--streets", str(m),
                   "--buildings", str(tiny_files["buildings"]), "--out", str(out), "-q", "--workers", "1"])
        assert main(["info", str(m)]) == 0
    assert rc == 0, capsys.readouterr().err
    assert [str(w.message) for w in seen if "Measured" in str(w.message)] == []
    assert len(Plan.read(out)["grids"]) > 0


def test_layer_mostly_outside_names_the_datum_option(capsys, tmp_path, tiny_files, buildings_4490):
    gcj = tmp_path / "b_gcj.gpkg"
    convert_datum(buildings_4490, src="wgs84", dst="gcj02").to_file(gcj)
    out = tmp_path / "plan.gpkg"
    base = ["partition", "--communities", str(tiny_files["communities"]), "--buildings", str(gcj), "--out", str(out),
            "--no-shift-check", "--workers", "1", "-q"]
    _fails(capsys, base, out, "buildings: 100% of 6 features lie outside every community", "--buildings-datum gcj02",
           "--allow-outside")
    assert main([*base, "--buildings-datum", "gcj02"]) == 0  # the advice works
    capsys.readouterr()
    out.unlink()
    assert main([*base, "--allow-outside"]) == 0
    assert Plan.read(out)["buildings"]["block_id"].isna().all()


def test_layer_outside_for_a_wrong_crs_names_crs(capsys, tmp_path, tiny_files, buildings_4547):
    csv = tmp_path / "b.csv"
    pts = buildings_4547.geometry.representative_point()
    pd.DataFrame({"x": pts.x, "y": pts.y, "households": 10}).to_csv(csv, index=False)
    out = tmp_path / "plan.gpkg"
    # metres of the 114°E zone read as the 111°E zone: 300 km off
    _fails(capsys, ["partition", "--communities", str(tiny_files["communities"]), "--buildings", str(csv), "--crs", "EPSG:4546",
                    "--out", str(out)], out, "lie outside every community", "check the CRS of each layer", "--crs")


@pytest.mark.parametrize("one_inside", [False, True])
def test_layer_beside_the_communities_is_not_blamed_on_the_crs(capsys, tmp_path, tiny_files, one_inside):
    # the layer lines up (buildings 700 m beyond the communities' east edge, farther than any GCJ-02 offset; or
    # one of three inside): the communities layer does not reach them, and advising --crs would send the user
    # after a fault that is not there
    ids, geoms = ["n2", "n1"], [rect(1530, 100, 1550, 120), rect(1500, 100, 1520, 120)]
    if one_inside:
        ids, geoms = [*ids, "in"], [*geoms, rect(20, 20, 60, 60)]
    near = gpd.GeoDataFrame({"building_id": ids, "households": 30}, geometry=geoms, crs=METRIC_EPSG)
    path = tmp_path / "b_near.gpkg"
    near.to_crs(4490).to_file(path)
    out = tmp_path / "plan.gpkg"
    err = _fails(capsys, ["partition", "--communities", str(tiny_files["communities"]), "--buildings", str(path),
                          "--out", str(out), "--workers", "1", "-q"], out,
                 f"buildings: {'67% of 3' if one_inside else '100% of 2'} features lie outside every community",
                 "they lie 710 m to 740 m beyond the nearest community (e.g. n1, n2)",
                 "the others lie inside, so the layers line up and the communities" if one_inside else
                 ": the communities layer does not cover them", "--allow-outside")
    assert "--crs" not in err


def test_one_enterprise_just_beyond_the_edge_is_a_finding_not_a_refused_layer(capsys, tmp_path, tiny_files):
    # an enterprises layer of one, geocoded onto the road 6 m beyond the communities' edge: 100% outside, but one
    # feature beside the edge is no evidence of a wrong CRS or layer (fuzz town 2921 was refused for it)
    ent = gpd.GeoDataFrame({"name": ["汉江机械厂"], "category": ["enterprise"], "employees": [300]},
                           geometry=[rect(806, 200, 810, 204).centroid], crs=METRIC_EPSG)
    path = tmp_path / "ent.gpkg"
    ent.to_crs(4490).to_file(path)
    out = tmp_path / "plan.gpkg"
    args = ["partition", "--communities", str(tiny_files["communities"]), "--buildings", str(tiny_files["buildings"]),
            "--enterprises", str(path), "--out", str(out), "--workers", "1", "-q"]
    assert _run(args) == 0, capsys.readouterr().err
    found = Plan.read(out)["findings"]
    named = found[found["message"].str.contains("汉江机械厂")]
    assert len(named) >= 1, found[["type", "message"]].to_string()
    # five such features, or one 700 m away, are still refused, naming the layer
    far = ent.assign(geometry=[rect(1500, 200, 1504, 204).centroid])
    far.to_crs(4490).to_file(path)
    out.unlink()
    _fails(capsys, args, out, "enterprises: 100% of 1 features lie outside every community", "--allow-outside")


@pytest.mark.parametrize("side", ["west", "east", "north", "south"])
def test_one_enterprise_just_beyond_the_edge_of_a_town_wider_than_a_datum_offset_is_not_blamed_on_a_datum(side):
    # a town 3 km wide: moved by a GCJ-02 or BD-09 offset (300-700 m) a point 6 m beyond one edge lands in a
    # community, so the datum guess said "pass --communities-datum gcj02" (shifting the official layer) before the
    # few-features rule was reached
    import gridgeo

    comm = gpd.GeoDataFrame({"code": [CODE_A, CODE_B]}, geometry=[rect(0, 0, 1500, 3000), rect(1500, 0, 3000, 3000)],
                            crs=METRIC_EPSG)
    blds = gpd.GeoDataFrame({"households": [200] * 4}, crs=METRIC_EPSG,
                            geometry=[rect(x, y, x + 20, y + 20).centroid for x in (700, 2200) for y in (1000, 2000)])
    x, y = {"west": (-6, 1500), "east": (3006, 1500), "north": (1500, 3006), "south": (1500, -6)}[side]
    ent = gpd.GeoDataFrame({"name": ["汉江机械厂"], "category": ["enterprise"], "employees": [300]},
                           geometry=[shapely.Point(*at(x, y))], crs=METRIC_EPSG)
    plan = gridgeo.divide(comm, buildings=blds, enterprises=ent)
    assert plan.findings["message"].str.contains("汉江机械厂").any()
    assert int(plan.grids["households"].sum()) == 800


def test_partition_requires_buildings(capsys, tmp_path, tiny_files):
    out = tmp_path / "plan.gpkg"
    _fails(capsys, ["partition", "--communities", str(tiny_files["communities"]), "--streets", str(tiny_files["streets"]),
                    "--out", str(out)], out, "partition needs --buildings")


@pytest.fixture(scope="module")
def sample_layers() -> dict[str, gpd.GeoDataFrame]:
    p = get_path("sample_town")
    return {name: gpd.read_file(p, layer=name) for name in ("communities", "streets", "buildings")}


@pytest.mark.parametrize("case", ["empty", "hole", "bowtie"])
def test_shift_detector_gives_no_alarm_on_odd_communities(sample_layers, case):
    c = sample_layers["communities"].copy()
    g = c.geometry.iloc[3]
    x0, y0, x1, y1 = g.bounds
    c.loc[3, "geometry"] = {"empty": Polygon(), "hole": g.difference(shapely.buffer(g.centroid, 0.002)),
                            "bowtie": Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1)])}[case]
    assert detect_shift({"communities": c, "streets": sample_layers["streets"], "buildings": sample_layers["buildings"]}) == []


def test_shift_advice_is_printed_on_the_console(capsys, tmp_path, sample_layers):
    gcj = tmp_path / "b_gcj.gpkg"
    convert_datum(sample_layers["buildings"], src="wgs84", dst="gcj02").to_file(gcj)
    out = tmp_path / "plan.gpkg"
    assert main(["blocks", "--sample", "--buildings", str(gcj), "--out", str(out), "-q"]) == 0
    err = capsys.readouterr().err
    assert "gridgeo: warning: layer 'buildings' looks shifted" in err and "--buildings-datum gcj02" in err
    f = Plan.read(out)["findings"]
    assert f.loc[f["type"] == "layer_shift_suspected", "layer"].tolist() == ["buildings"]  # the finding names the layer


# ------------------------------------------------------------------------------------- CLI hygiene


def test_out_equal_to_an_input_is_refused_even_with_force(capsys, tmp_path, tiny_files):
    c = tiny_files["communities"]
    before = c.read_bytes()
    rc = _run(["blocks", "--communities", str(c), "--out", str(c), "--force"])
    lines = _errors(capsys.readouterr().err)
    assert rc == 2 and len(lines) == 1 and "is also an input file" in lines[0] and "not even with --force" in lines[0]
    assert c.read_bytes() == before
    grids = tmp_path / "g.gpkg"
    gpd.GeoDataFrame({"grid_code": ["1"]}, geometry=[box(114.27, 30.58, 114.28, 30.59)], crs=4490).to_file(grids)
    g_before = grids.read_bytes()
    assert _run(["validate", str(grids), "--communities", str(c), "--repair", str(grids), "--force"]) == 2
    assert "--repair" in capsys.readouterr().err and grids.read_bytes() == g_before


def test_read_only_output_folder_fails_before_any_work(capsys, tmp_path, tiny_files):
    if os.geteuid() == 0:  # root writes anywhere a permission bit forbids; /proc refuses even root
        folder = Path("/proc")
    else:
        folder = tmp_path / "ro"
        folder.mkdir()
        folder.chmod(0o555)
    out = folder / "plan.gpkg"
    rc = _run(["blocks", "--communities", str(tiny_files["communities"]), "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and err.splitlines() == [f"gridgeo: error: --out folder {folder} is not writable; choose another folder or fix its permissions"]
    assert not out.exists()


def test_wrong_encoding_is_one_line(capsys, tmp_path, communities_4490):
    shp = tmp_path / "c.shp"
    communities_4490.to_file(shp, encoding="gbk", engine="pyogrio")
    shp.with_suffix(".cpg").unlink(missing_ok=True)
    out = tmp_path / "plan.gpkg"
    _fails(capsys, ["blocks", "--communities", str(shp), "--encoding", "communities=utf-8", "--out", str(out)], out,
           "communities: cannot decode the text of", "as 'utf-8'", "--encoding communities=gb18030, which decodes it")
    csv = tmp_path / "b.csv"
    pt = communities_4490.geometry.iloc[0].representative_point()
    csv.write_bytes(f"lon,lat,name\n{pt.x},{pt.y},青石镇正街社区一号楼\n".encode("gbk"))
    _fails(capsys, ["blocks", "--communities", str(shp), "--buildings", str(csv), "--encoding", "buildings=utf-8",
                    "--out", str(out)], out, "buildings: cannot decode", "--encoding buildings=gbk")


def test_truncated_shapefile_names_are_read_back(capsys, tmp_path, tiny_files):
    plan = tmp_path / "plan.gpkg"
    assert main(["partition", "--communities", str(tiny_files["communities"]), "--streets", str(tiny_files["streets"]),
                 "--buildings", str(tiny_files["buildings"]), "--out", str(plan), "-q", "--workers", "1"]) == 0
    p = Plan.read(plan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # GDAL says it cut the names
        p["grids"].to_file(tmp_path / "grids.shp", engine="pyogrio")
        p["communities"].to_file(tmp_path / "communities.shp", engine="pyogrio")
    assert "community_" in gpd.read_file(tmp_path / "grids.shp").columns
    assert SHAPEFILE_FIELD_NAMES["community_"] == "community_code"
    assert "community_code" in read_layer(tmp_path / "grids.shp", name="grids").columns
    capsys.readouterr()
    rc = main(["validate", str(tmp_path / "grids.shp"), "--communities", str(tmp_path / "communities.shp")])
    out = capsys.readouterr().out
    assert rc == 0 and "missing_community" not in out, out


def test_closed_pipe_ends_quietly(tmp_path, tiny_files):
    plan = tmp_path / "plan.gpkg"
    assert main(["partition", "--communities", str(tiny_files["communities"]), "--buildings", str(tiny_files["buildings"]),
                 "--out", str(plan), "-q", "--workers", "1"]) == 0
    for command in ("report", "info"):
        r_fd, w_fd = os.pipe()
        os.close(r_fd)  # the reader (`head`) has gone
        try:
            r = subprocess.run([sys.executable, "-m", "gridgeo", command, str(plan)], stdout=w_fd, stderr=subprocess.PIPE,
                               text=True, timeout=120)
        finally:
            os.close(w_fd)
        assert r.returncode == 141 and r.stderr == "", r.stderr


@pytest.mark.parametrize(("workers", "wait_for"), [("1", "reading buildings"), ("1", "checking inputs"), ("2", "dividing")])
def test_ctrl_c_exits_130_and_writes_nothing(tmp_path, workers, wait_for):
    out = tmp_path / "plan.gpkg"
    p = subprocess.Popen([sys.executable, "-m", "gridgeo", "partition", "--sample", "--workers", workers, "--out", str(out)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    seen = []
    try:
        for ln in p.stderr:  # the plain progress lines say where the run is
            seen.append(ln)
            if wait_for in ln:
                break
        time.sleep(0.2)
        os.killpg(p.pid, signal.SIGINT)  # as Ctrl-C: the whole process group
        rest_out, rest_err = p.communicate(timeout=120)
    finally:  # a run that hangs is a failure, never a process left behind
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    err = "".join(seen) + rest_err
    assert p.returncode == 130, err
    assert "gridgeo: interrupted; nothing was written" in err
    assert "Traceback" not in err and "Segmentation" not in err
    assert not out.exists() and not [f for f in tmp_path.iterdir() if f.name.startswith(".plan-")]


def test_ctrl_c_where_python_ignores_exceptions_prints_no_traceback(tmp_path):
    """Ctrl-C landing where Python ignores exceptions (``logging``'s at-fork hook while a worker is forked: CI
    once printed its "Exception ignored ... Traceback"; here a ``__del__``) prints nothing, and the command
    still remembers it (the flag :func:`gridgeo.cli._raise_if_interrupted` reads)."""
    script = tmp_path / "interrupt.py"
    script.write_text(
        "import os, signal\n"
        "from gridgeo import cli\n"
        "cli._interrupt_in_main_process_only()\n"
        "class C:\n"
        "    def __del__(self):\n"
        "        os.kill(os.getpid(), signal.SIGINT)\n"
        "c = C()\n"
        "del c\n"
        "print('remembered', cli._INTERRUPTED['flag'])\n", encoding="utf-8")
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "remembered True", r.stdout + r.stderr
    assert "Traceback" not in r.stderr and "Exception ignored" not in r.stderr, r.stderr


# ----------------------------------------------------------------------------- validation tolerance


def _long_edged_town(tmp_path: Path) -> tuple[Path, Path]:
    """Communities with 2–3 km edges straight in degrees, partitioned; their grids copied out as a layer."""
    c = gpd.GeoDataFrame({"code": [CODE_A, CODE_B]}, crs=4490,
                         geometry=[box(114.20, 30.55, 114.23, 30.58), box(114.23, 30.55, 114.26, 30.575)])
    rng = np.random.default_rng(1)
    b = gpd.GeoDataFrame({"households": [40] * 150}, crs=4490,
                         geometry=gpd.points_from_xy(rng.uniform(114.201, 114.259, 150), rng.uniform(30.551, 30.574, 150)))
    c.to_file(tmp_path / "c.gpkg")
    b.to_file(tmp_path / "b.gpkg")
    plan = tmp_path / "plan.gpkg"
    assert main(["partition", "--communities", str(tmp_path / "c.gpkg"), "--buildings", str(tmp_path / "b.gpkg"),
                 "--out", str(plan), "-q", "--workers", "1", "--no-shift-check"]) == 0
    grids = tmp_path / "grids_m.gpkg"
    Plan.read(plan)["grids"].to_crs(METRIC_EPSG).to_file(grids)
    return grids, tmp_path / "c.gpkg"


def test_grids_validate_clean_against_the_communities_they_came_from(capsys, tmp_path):
    grids, communities = _long_edged_town(tmp_path)
    capsys.readouterr()
    assert main(["validate", str(grids), "--communities", str(communities)]) == 0
    out = capsys.readouterr().out
    assert " error " not in out
    # the slivers are there, centimetres wide: with no width tolerance they are (false) errors
    assert main(["validate", str(grids), "--communities", str(communities), "--width-tolerance", "0"]) == 1
    f = validate_grids(gpd.read_file(grids), communities=gpd.read_file(communities))
    assert set(f["severity"]) <= {"info"} and len(f)
    assert "narrower than the 0.1 m width tolerance" in f["message"].iloc[0]


def test_wide_pieces_stay_errors_under_the_width_tolerance():
    c = gpd.GeoDataFrame({"code": [CODE_A]}, geometry=[box(0, 0, 200, 100)], crs=METRIC_EPSG)
    g = gpd.GeoDataFrame({"grid_code": [CODE_A + "001", CODE_A + "002"], "community_code": [CODE_A] * 2},
                         geometry=[box(0, 0, 100.05, 100), box(100, 0, 199.5, 100)], crs=METRIC_EPSG)
    f = validate_grids(g, communities=c).set_index("type")
    assert f.loc["overlap", "severity"] == "info"  # 5 cm wide
    assert f.loc["gap", "severity"] == "error"  # 50 cm wide


# ------------------------------------------------------------------------------------------ progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal_lines_elsewhere_nothing_when_quiet():
    tty = _Terminal()
    p = Progress(2, stream=tty)
    p("reading inputs")
    p("building blocks")
    p.close()
    assert "building blocks" in tty.getvalue() and "\r" in tty.getvalue()
    plain = io.StringIO()
    p = Progress(2, stream=plain)
    p("reading inputs")
    p.close()
    assert LOG_LINE.match(plain.getvalue()) and plain.getvalue().rstrip().endswith("reading inputs")
    quiet = _Terminal()
    p = Progress(2, stream=quiet, quiet=True)
    p("reading inputs")
    p.close()
    assert quiet.getvalue() == ""


def test_a_step_that_runs_on_is_said_again_until_the_next_one():
    """洪山区 divided with one worker printed "dividing 438 communities", then nothing for nine minutes while its
    largest community (a million households) was divided: a log showed no sign of life. A step running on is said
    again ("still …") after ``heartbeat_s``; a new step, and close(), end it."""
    import re
    import time

    plain = io.StringIO()
    p = Progress(3, stream=plain, heartbeat_s=0.05)
    p("dividing 438 communities")
    deadline = time.perf_counter() + 10
    while "still" not in plain.getvalue() and time.perf_counter() < deadline:
        time.sleep(0.01)
    p("writing plan.gpkg")
    p.close()
    lines = [LOG_LINE.sub("", ln) for ln in plain.getvalue().splitlines()]
    assert all(LOG_LINE.match(ln) for ln in plain.getvalue().splitlines())
    assert lines[0] == "dividing 438 communities" and lines[-1] == "writing plan.gpkg"
    again = lines[1:-1]
    assert again and all(re.fullmatch(r"still dividing 438 communities \(0 min 0 s in this step\)", ln) for ln in again)
    said = plain.getvalue()
    time.sleep(0.2)  # closed: nothing more, and the thread is gone
    assert plain.getvalue() == said and p._beat is None
    quiet = io.StringIO()
    q = Progress(2, stream=quiet, quiet=True, heartbeat_s=0.01)
    q("dividing")
    time.sleep(0.1)
    q.close()
    assert quiet.getvalue() == "" and q._beat is None


def test_cli_progress_lines_and_quiet(capsys, tmp_path, tiny_files):
    out = tmp_path / "plan.gpkg"
    assert main(["blocks", "--communities", str(tiny_files["communities"]), "--out", str(out)]) == 0
    steps = [LOG_LINE.sub("", ln) for ln in capsys.readouterr().err.splitlines()]
    assert steps == ["reading communities", "checking inputs", "building blocks", f"writing {out}"]
    assert main(["blocks", "--communities", str(tiny_files["communities"]), "--out", str(out), "--force", "--quiet"]) == 0
    assert capsys.readouterr().err == ""


def test_partition_reports_communities_as_they_are_divided(capsys, tmp_path, tiny_files):
    out = tmp_path / "plan.gpkg"
    args = ["partition", "--out", str(out), "--workers", "1"]
    for name in ("communities", "streets", "buildings"):
        args += [f"--{name}", str(tiny_files[name])]
    assert main(args) == 0
    steps = [LOG_LINE.sub("", ln) for ln in capsys.readouterr().err.splitlines() if LOG_LINE.match(ln)]
    i = steps.index("dividing 2 communities")
    assert steps[i + 1:i + 3] == ["divided 1 of 2 communities", "divided 2 of 2 communities"]


# ------------------------------------------------------------------- random corruptions (property)

from contextlib import redirect_stderr, redirect_stdout  # noqa: E402

from hypothesis import HealthCheck, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from shapely.ops import substring  # noqa: E402

CORRUPTIONS = ("overlap_sliver", "gap_sliver", "short_streets", "swapped_axes", "z", "duplicate_rows")
#: what a run on each corruption must record when it succeeds
EXPECTED_FINDING = {"overlap_sliver": "community_overlap_resolved", "gap_sliver": "community_gap_filled",
                    "short_streets": "street_ends_snapped", "z": "z_dropped"}


@pytest.fixture(scope="module")
def sample_metric(sample_layers) -> dict:
    """The sample town in its metric CRS, the pairs of touching communities, and the clean households."""
    layers = {k: v.to_crs(4547) for k, v in sample_layers.items()}
    geoms = layers["communities"].geometry.to_numpy()
    left, right = shapely.STRtree(geoms).query(geoms, predicate="touches")
    pairs = [(int(a), int(b)) for a, b in zip(left, right) if a < b and shapely.length(shapely.intersection(geoms[a], geoms[b])) > 50]
    return {"layers": layers, "pairs": pairs}


def _corrupt(layers: dict, pairs: list, kind: str, size_m: float, pick: int, seed: int, folder: Path) -> dict[str, Path]:
    rng = np.random.default_rng(seed)
    c, s, b = (layers[k].copy() for k in ("communities", "streets", "buildings"))
    a, n = pairs[pick % len(pairs)]
    if kind == "overlap_sliver":  # community a reaches size_m into its neighbour
        ga, gn = c.geometry.iloc[a], c.geometry.iloc[n]
        c.loc[c.index[a], "geometry"] = ga.union(shapely.buffer(ga, size_m, join_style="mitre").intersection(gn))
    elif kind == "gap_sliver":  # community a pulls back size_m from its neighbour
        ga, gn = c.geometry.iloc[a], c.geometry.iloc[n]
        c.loc[c.index[a], "geometry"] = ga.difference(shapely.buffer(gn, size_m, join_style="mitre"))
    elif kind == "short_streets":  # a third of the streets stop size_m short at both ends
        chosen = rng.random(len(s)) < 1 / 3
        s["geometry"] = [substring(g, size_m, g.length - size_m) if (pick_ and g.geom_type == "LineString" and g.length > 4 * size_m) else g
                         for g, pick_ in zip(s.geometry, chosen)]
    elif kind == "z":
        b["geometry"] = shapely.force_3d(b.geometry.to_numpy(), 3.0 * (1 + pick % 10))
    elif kind == "duplicate_rows":
        layer = ("communities", "streets", "buildings")[pick % 3]
        frame = {"communities": c, "streets": s, "buildings": b}[layer]
        dup = pd.concat([frame, frame.iloc[[int(rng.integers(len(frame)))]]])
        c, s, b = (dup if layer == name else f for name, f in (("communities", c), ("streets", s), ("buildings", b)))
    paths = {}
    for name, gdf in (("communities", c), ("streets", s), ("buildings", b)):
        paths[name] = folder / f"{name}.gpkg"
        gdf.to_crs(4490).to_file(paths[name])
    if kind == "swapped_axes":  # buildings as a CSV of points with lon and lat swapped
        pts = b.to_crs(4490).geometry.representative_point()
        paths["buildings"] = folder / "buildings.csv"
        pd.DataFrame({"lon": pts.y, "lat": pts.x, "households": b["households"]}).to_csv(paths["buildings"], index=False)
    return paths


@settings(max_examples=3, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(kind=st.sampled_from(CORRUPTIONS), size_m=st.floats(0.1, 1.8), pick=st.integers(0, 60), seed=st.integers(0, 2**16))
@example(kind="overlap_sliver", size_m=0.5, pick=0, seed=0)
@example(kind="gap_sliver", size_m=0.6, pick=1, seed=0)
@example(kind="short_streets", size_m=0.5, pick=0, seed=1)
@example(kind="swapped_axes", size_m=0.1, pick=0, seed=0)
@example(kind="z", size_m=0.1, pick=2, seed=0)
@example(kind="duplicate_rows", size_m=0.1, pick=1, seed=3)
def test_random_corruptions_give_findings_or_one_line(tmp_path_factory, sample_metric, kind, size_m, pick, seed):
    folder = tmp_path_factory.mktemp("corrupt")
    paths = _corrupt(sample_metric["layers"], sample_metric["pairs"], kind, size_m, pick, seed, folder)
    out = folder / "plan.gpkg"
    err, std = io.StringIO(), io.StringIO()
    with redirect_stderr(err), redirect_stdout(std):
        rc = _run(["partition", "--communities", str(paths["communities"]), "--streets", str(paths["streets"]),
                   "--buildings", str(paths["buildings"]), "--out", str(out), "-q", "--workers", "1", "--no-shift-check"])
    err = err.getvalue()
    assert rc in (0, 2), err
    assert "Traceback" not in err
    if rc == 2:
        lines = _errors(err)
        assert len(lines) == 1 and lines[0].startswith("gridgeo: error: "), err
        assert not out.exists()
        return
    plan = Plan.read(out)
    buildings, grids = plan["buildings"], plan["grids"]
    inside = buildings["block_id"].notna()
    assert inside.mean() > 0.5 and not buildings.geometry.is_empty.any()  # never a hollow plan
    assert grids["households"].sum() == buildings.loc[inside, "households"].sum() > 20_000
    assert set(grids["community_code"]) == set(plan["communities"]["code"])
    if kind in EXPECTED_FINDING:
        assert EXPECTED_FINDING[kind] in set(plan["findings"]["type"]), kind


def test_community_with_a_far_island_gives_a_plan_that_validates(capsys, tmp_path, tiny_files, communities_4547):
    # community A drawn as a MultiPolygon with an island 2 km away holding no building: the partition joins
    # the island to a grid of A (community_multipart); the plan must pass its own validation (it failed
    # with multipart_grid, exit 1)
    c = communities_4547.copy()
    c.loc[0, "geometry"] = shapely.MultiPolygon([c.geometry.iloc[0], rect(2000, 2000, 2100, 2100)])
    path = tmp_path / "c_island.gpkg"
    c.to_crs(4490).to_file(path)
    out = tmp_path / "plan.gpkg"
    rc = main(["partition", "--communities", str(path), "--streets", str(tiny_files["streets"]),
               "--buildings", str(tiny_files["buildings"]), "--out", str(out), "--quiet", "--workers", "1"])
    assert rc == 0, capsys.readouterr()
    types = _types(out)
    assert "community_multipart" in types.index
    plan = Plan.read(out)
    f = validate_grids(plan["grids"], communities=plan["communities"], subgrids=plan["subgrids"])
    assert not (f["severity"] == "error").any(), f[f["severity"] == "error"]["message"].tolist()
    assert (f.loc[f["type"] == "multipart_grid", "severity"] == "info").all()


def test_buildings_without_any_household_are_refused_not_written_as_empty_grids(capsys, tmp_path, tiny_files,
                                                                                buildings_4490):
    """Footprints with no households, floors or height column (an OSM extract as downloaded): every grid would
    hold 0 households. One line names what is missing and the --columns fix; nothing is written."""
    bare = tmp_path / "bare.gpkg"
    buildings_4490[["geometry"]].assign(kind="building").to_file(bare)
    out = tmp_path / "plan.gpkg"
    _fails(capsys, ["partition", "--communities", str(tiny_files["communities"]), "--buildings", str(bare),
                    "--out", str(out), "-q", "--workers", "1"],
           out, "no household in any of the", "--columns buildings.households=COLUMN", "buildings.height=COLUMN",
           "['kind']")
    # the blocks stage still draws the street blocks of such buildings (0 households each, said per building)
    blocks = tmp_path / "blocks.gpkg"
    assert main(["blocks", "--communities", str(tiny_files["communities"]), "--buildings", str(bare),
                 "--out", str(blocks), "-q"]) == 0, capsys.readouterr().err
    assert Plan.read(blocks)["blocks"]["households"].sum() == 0


def test_osm_height_and_levels_estimate_households(capsys, tmp_path, tiny_files, buildings_4490):
    """OpenStreetMap's ``height`` (metres) and ``building:levels`` are read without a mapping: floors from the
    height ÷ 3 m where no levels are given (each an info finding), and the households estimated from them."""
    osm = tmp_path / "osm.gpkg"
    n = len(buildings_4490)
    b = buildings_4490[["geometry"]].assign(height=[18.0] * (n - 2) + ["18m", None],
                                            **{"building:levels": [None] * (n - 1) + [6]})
    b.to_file(osm)
    ref = buildings_4490[["geometry"]].assign(floors=6)
    ref_path = tmp_path / "ref.gpkg"
    ref.to_file(ref_path)
    plans = []
    for name, path in (("osm", osm), ("ref", ref_path)):
        out = tmp_path / f"plan_{name}.gpkg"
        rc = main(["partition", "--communities", str(tiny_files["communities"]), "--buildings", str(path),
                   "--out", str(out), "-q", "--workers", "1"])
        assert rc == 0, capsys.readouterr().err
        plans.append(Plan.read(out))
    osm_plan, ref_plan = plans
    # 18 m ÷ 3 m = 6 floors: the same households as six floors given
    assert osm_plan["buildings"]["households"].tolist() == ref_plan["buildings"]["households"].tolist()
    assert int(osm_plan["grids"]["households"].sum()) > 0
    f = osm_plan["findings"]
    assert (f["type"] == "floors_from_height").sum() == n - 1
    assert "18m" in " ".join(f.loc[f["type"] == "floors_from_height", "message"])
    assert (f["type"] == "column_alias_used").sum() == 1  # building:levels read as floors


def test_community_outline_with_a_tiny_self_crossing_loop_makes_no_crumb_small_grid():
    """A hand-drawn community outline crossing itself in a loop of a few square centimetres: repaired with
    make_valid, the loop is a separate part of 0.002 m², which the partition made a small grid of its own
    (0 households, 'lies in 0 grids': the error subgrid_not_nested, so `gridgeo partition` exited 1; found by
    the fuzz driver on Suzhou footprints under a self-intersecting community). A part of a community under
    1 m² is now left out with a warning (community_crumb_dropped) naming its area and place."""
    import gridgeo

    x0, y0 = 526_000.0, 3_385_000.0
    ring = [(0, 0), (100, 0), (100.2, -0.1), (100.1, -0.1), (100.3, 0.1), (200, 0), (200, 100), (0, 100)]
    comm = gpd.GeoDataFrame({"code": ["420102001001"]}, crs=4547,
                            geometry=[Polygon([(x0 + x, y0 + y) for x, y in ring])])
    fp = [box(x0 + x, y0 + y, x0 + x + 10, y0 + y + 10) for x in range(10, 190, 30) for y in (10, 45, 75)]
    b = gpd.GeoDataFrame({"building_id": [f"b{i:02d}" for i in range(len(fp))], "households": [40] * len(fp)},
                         geometry=fp, crs=4547)
    plan = gridgeo.divide(comm, None, b)
    found = plan.validate()
    assert int((found["severity"] == "error").sum()) == 0, found.loc[found["severity"] == "error", "message"].tolist()
    assert plan.subgrids.to_crs(4547).area.min() > 100
    crumb = plan.findings[plan.findings["type"] == "community_crumb_dropped"]
    assert len(crumb) == 1 and crumb["severity"].iloc[0] == "warning" and "0.002 m²" in crumb["message"].iloc[0]
    assert int(plan.grids["households"].sum()) == 40 * len(fp)


def test_layer_under_a_metre_beyond_the_communities_says_how_far(communities_4547, buildings_4547):
    """Fuzz town 3134: its one enterprise (专属网格 unit), a point 0.49 m beyond a community's edge, was refused
    as lying "0 m beyond the nearest community", a distance that says it is inside. Distances under 10 m now
    keep a decimal."""
    import gridgeo

    # five of them (one, or up to four, so near the edge are findings and the run goes on)
    unit = gpd.GeoDataFrame({"name": [f"单位{i}" for i in range(5)], "category": "school", "employees": 200},
                            geometry=[shapely.Point(*at(-0.49, 100 + 50 * i)) for i in range(5)], crs=METRIC_EPSG)
    with pytest.raises(gridgeo.InputError, match=r"they lie 0\.5 m beyond the nearest community \(e\.g\. 单位\d, 单位\d"):
        gridgeo.divide(communities_4547, None, buildings_4547, enterprises=unit)
