"""gridgeo.maps: colouring, roster and staffing, the web map (escaping, public mode, tiles, pages), signs."""

from __future__ import annotations

import json
import re
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from _maps_town import GRID_BOXES, HOUSEHOLDS, NEIGHBOURS, XSS, town_plan, town_roster

import gridgeo
from conftest import CODE_A, CODE_B
from gridgeo import InputError
from gridgeo.cli import main
from gridgeo.crs import wgs84_to_gcj02
from gridgeo.maps import grid_map, publish_map, read_roster, staffing
from gridgeo.maps._layers import adjacency, colour_grids, display_layer, roads_by_zone

A1, A2, A3 = f"{CODE_A}001", f"{CODE_A}002", f"{CODE_A}003"
B1, B2, B3 = f"{CODE_B}001", f"{CODE_B}002", f"{CODE_B}003"


@pytest.fixture(scope="module")
def plan():
    return town_plan()


@pytest.fixture(scope="module")
def roster(plan):
    return read_roster(town_roster(), plan)


def _html(m) -> str:
    """The page's HTML with the JSON escapes (\\u003c, \\u7f51 ...) of folium's embedded data decoded."""
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda x: chr(int(x.group(1), 16)), m.get_root().render())


def _geojson_layers(m) -> dict[str, dict]:
    """The GeoJSON data of a folium map's layers, by layer name."""
    import folium

    return {child.layer_name: child.data for child in m._children.values() if isinstance(child, folium.GeoJson)}


# ---------------------------------------------------------------- colouring and geometry


def test_adjacency_is_shared_edges_only(plan):
    graph = adjacency(plan.grids, "grid_code")
    assert sorted(tuple(sorted(e)) for e in graph.edges) == sorted(tuple(sorted(e)) for e in NEIGHBOURS)


def test_neighbours_get_different_colours_whatever_the_row_order(plan):
    colours = dict(zip(plan.grids["grid_code"], colour_grids(plan.grids)))
    assert all(colours[a] != colours[b] for a, b in NEIGHBOURS)
    shuffled = plan.grids.sample(frac=1, random_state=3)
    assert dict(zip(shuffled["grid_code"], colour_grids(shuffled))) == colours


def test_neighbours_differ_on_a_random_coverage():
    rng = np.random.default_rng(5)
    pts = shapely.multipoints(rng.uniform(0, 1000, size=(80, 2)))
    cells = shapely.get_parts(shapely.voronoi_polygons(pts, extend_to=shapely.box(0, 0, 1000, 1000)))
    cells = shapely.intersection(cells, shapely.box(0, 0, 1000, 1000))
    g = gpd.GeoDataFrame({"grid_code": [f"{i:03d}" for i in range(len(cells))]}, geometry=cells, crs=4547)
    colours = colour_grids(g)
    graph = adjacency(g, "grid_code")
    lookup = dict(zip(g["grid_code"], colours))
    assert graph.number_of_edges() > 150
    assert all(lookup[a] != lookup[b] for a, b in graph.edges)
    assert colours.max() < 10  # the palette holds them


def test_bounding_roads_are_the_named_streets_along_the_boundary(plan):
    roads = roads_by_zone(plan.grids, "grid_code", plan.layers["streets"])
    assert roads[A2] == sorted(["建设路", "解放路", "沿江大道"], key=lambda n: (-1, n)) or set(roads[A2]) == {"建设路", "解放路", "沿江大道"}
    assert "胜利街" not in roads[A2]  # it crosses the grid, it does not bound it
    assert set(roads[B2]) == set()  # only an unnamed street bounds it


def test_coverage_simplification_keeps_neighbours_meeting(plan):
    wobbly = plan.grids.copy()
    shown = display_layer(wobbly, simplify_m=2.0, coverage=True)
    geoms = np.asarray(shown.geometry.array)
    union_area = shapely.area(shapely.union_all(geoms))
    assert union_area == pytest.approx(shapely.area(geoms).sum(), rel=1e-9)  # no overlap
    hull = shapely.area(shapely.union_all(np.asarray(plan.grids.to_crs(4326).geometry.array)))
    assert union_area == pytest.approx(hull, rel=1e-4)  # no gap
    coords = shapely.get_coordinates(geoms)
    assert np.allclose(coords, np.round(coords, 6))


def test_amap_tiles_shift_the_grids_to_gcj02(plan):
    m = grid_map(plan, tiles="amap")
    grids_layer = next(v for k, v in _geojson_layers(m).items() if k.startswith("网格"))
    shown = np.array(grids_layer["features"][0]["geometry"]["coordinates"][0])
    code = grids_layer["features"][0]["properties"]["grid_code"]
    raw = shapely.get_coordinates(plan.grids.set_index("grid_code").to_crs(4326).geometry[code])
    lon, lat = wgs84_to_gcj02(raw[:, 0], raw[:, 1])
    expected = {(round(x, 6), round(y, 6)) for x, y in zip(lon, lat)}
    assert {(round(x, 6), round(y, 6)) for x, y in shown} <= expected
    offset = np.hypot(*(shown[0] - raw[0]))
    assert 0.001 < offset < 0.01  # a few hundred metres, as GCJ-02 moves Wuhan
    assert "autonavi" in _html(m)


# ---------------------------------------------------------------- roster and staffing


def test_roster_places_staff_deterministically(plan, roster):
    s = roster.staff.set_index("name")
    assert s.loc["王芳", "grid_code"] == A1 and s.loc["王芳", "placed"] == "roster"
    assert {s.loc["李强", "grid_code"], s.loc["赵敏", "grid_code"]} == {A2, A3}  # the grids with nobody first
    assert s.loc["陈刚", "grid_code"] == B1 and s.loc["陈刚", "placed"] == "auto"
    assert s.loc["周红", "subgrid_code"] == f"{B1}01" and s.loc["周红", "grid_code"] == B1
    assert s.loc["外区人", "placed"] == "unplaced"
    assert s.loc["孙督导", "placed"] == "community"
    shuffled = read_roster(town_roster().sample(frac=1, random_state=1), plan).staff
    cols = ["name", "role", "grid_code", "subgrid_code", "placed"]
    pd.testing.assert_frame_equal(shuffled[cols].sort_values("name").reset_index(drop=True),
                                  roster.staff[cols].sort_values("name").reset_index(drop=True))


def test_staffing_table_seed_rules_and_unstaffed_grids(plan, roster):
    table = staffing(plan, roster).set_index("community_code")
    a, b = table.loc[CODE_A], table.loc[CODE_B]
    assert (a["grids"], a["grid_workers_needed"], a["grid_workers"], a["grid_leaders"]) == (3, 3, 3, 1)
    hh_a = HOUSEHOLDS[A1] + HOUSEHOLDS[A2] + HOUSEHOLDS[A3]
    assert a["community_workers_needed"] == f"{-(-hh_a // 400)}–{-(-hh_a // 200)}"
    assert (a["small_grids"], a["group_leaders_needed"]) == (6, 6)
    assert (b["grid_workers"], b["community_workers"], b["group_leaders"]) == (1, 1, 1)
    assert b["grids_unstaffed"] == 2 and b["unstaffed_codes"].split() == [B2, B3]
    assert table.loc["420103009999", "unplaced"] == 1


def test_a_dedicated_grid_without_staff_is_named_apart_with_how_to_staff_it(plan, roster):
    from gridgeo.maps import format_staffing

    layers = dict(plan.layers)
    grids = layers["grids"].copy()
    grids["kind"] = np.where(grids["grid_code"] == B3, "dedicated", "base")
    layers["grids"] = grids
    marked = gridgeo.Plan(layers, plan.metadata)
    b = staffing(marked, roster).set_index("community_code").loc[CODE_B]
    assert (b["grids_unstaffed"], b["unstaffed_codes"]) == (1, B2)
    assert (b["dedicated_unstaffed"], b["dedicated_unstaffed_codes"]) == (1, B3)
    text = format_staffing(staffing(marked, roster))
    assert f"(网格无人): {B2}\n" in text
    assert f"dedicated grids (专属网格) with no one named: {B3}" in text and "专属网格员" in text
    # the map's staffing panel still counts both as grids without staff
    assert grid_staff_table_flags(marked, roster) == {B2, B3}


def grid_staff_table_flags(plan, roster) -> set[str]:
    from gridgeo.maps import grid_staff_table

    t = grid_staff_table(plan, roster)
    return set(t.loc[t["unstaffed"] & (t["community_code"] == CODE_B), "grid_code"])


def test_report_prints_the_staffing_table(tmp_path, capsys):
    path = tmp_path / "plan.gpkg"
    town_plan().write(path)
    staff = tmp_path / "staff.csv"
    town_roster().to_csv(staff, index=False)
    assert main(["report", str(path), "--roster", str(staff)]) == 0
    out = capsys.readouterr().out
    assert "staffing" in out and f"{B2} {B3}" in out


@pytest.mark.parametrize(("rows", "match"), [
    ("phone,role\n1,网格员\n", "no name column"),
    ("name,role,community_code\n,网格员,420103001001\n", "line 2: empty name"),
    ("name,role,community_code\n张三,队长,420103001001\n", "line 2: unknown role '队长'"),
    ("name,role\n张三,网格员\n", "neither grid_code nor community_code"),
    ("name,community_code,grid_code\n张三,420103001002,420103001001001\n", "is in community 420103001001, not 420103001002"),
    ("name,community_code,photo\n张三,420103001001,missing.jpg\n", "photo 'missing.jpg' not found"),
])
def test_roster_errors_are_one_line(tmp_path, plan, rows, match):
    path = tmp_path / "staff.csv"
    path.write_text(rows, encoding="utf-8")
    with pytest.raises(InputError, match=re.escape(match)) as info:
        read_roster(path, plan)
    assert "\n" not in str(info.value)


def test_roster_blank_lines_and_cleared_rows_skipped_and_lines_named_as_in_the_file(tmp_path, plan):
    """A roster saved by a spreadsheet with a blank line and a row it cleared (``,,,``, cells emptied, the row kept):
    the cleared row was an "empty name" error, and every message named the line after a blank one a line too early
    (pandas skips blank lines; the line was counted from the rows read). Rows of nothing are skipped like blank
    lines; a line number is the file's."""
    path = tmp_path / "staff.csv"
    text = "姓名,电话,职务,网格编码,备注\n张三,138,网格员,420103001002002,\n\n,,,,\n李四,139,网格长,420103001002002,x\n"
    path.write_text(text, encoding="utf-8")
    staff = read_roster(path, plan).staff
    assert sorted(staff[["name", "line"]].values.tolist()) == [["张三", 2], ["李四", 5]]
    path.write_text(text + "\n王五,137,队长,420103001002002,\n", encoding="utf-8")
    with pytest.raises(InputError, match=re.escape("line 7: unknown role '队长'")):
        read_roster(path, plan)


def test_roster_in_gbk_with_chinese_headers(tmp_path, plan):
    path = tmp_path / "staff.csv"
    path.write_bytes("姓名,电话,职务,网格编码\n张三,138,网格员,420103001002002\n".encode("gbk"))
    staff = read_roster(path, plan).staff
    assert staff[["name", "phone", "role", "grid_code", "community_code"]].values.tolist() == [
        ["张三", "138", "grid_worker", B2, CODE_B]]


def test_a_person_listed_twice_is_shown_once_and_the_repeat_is_said(tmp_path, plan, capsys):
    staff = tmp_path / "staff.csv"
    # phones of 11 digits: a short one ("138") also turns up by chance in the page's random element ids
    staff.write_text("姓名,电话,职务,网格编码\n张三,13812345678,网格员,420103001002002\n李四,13987654321,网格长,"
                     "420103001002002\n张三,13812345678,网格员,420103001002002\n张三,13712345678,网格员,"
                     "420103001002002\n", encoding="utf-8")
    roster = read_roster(staff, plan)
    # the exact repeat (line 4) once; the same name with another phone is another row, kept
    assert sorted(roster.staff[["name", "phone", "line"]].values.tolist()) == [
        ["张三", "13712345678", 5], ["张三", "13812345678", 2], ["李四", "13987654321", 3]]
    assert roster.duplicates == ((4, 2, "张三"),)
    assert list(roster.of_grid(B2)["name"]).count("张三") == 2
    path = tmp_path / "plan.gpkg"
    town_plan().write(path)
    assert main(["map", str(path), "--roster", str(staff), "--out", str(tmp_path / "site"), "--tiles", "none"]) == 0
    err = capsys.readouterr().err
    assert "line 4 repeats line 2 (张三)" in err and "shown once" in err
    html = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    # each phone as often as the other: the repeat not drawn twice
    assert html.count("13812345678") == html.count("13712345678") > 0


def test_a_roster_row_with_a_code_not_in_the_plan_is_named(tmp_path, capsys):
    """A mistyped grid or community code put the person on no map and no sign, and the console only counted them
    ("unplaced 1" in the staffing table): the row is named, with the code, on both commands."""
    path = tmp_path / "plan.gpkg"
    town_plan().write(path)
    staff = tmp_path / "staff.csv"
    staff.write_text(f"姓名,电话,职务,网格编码,社区代码\n张三,13812345678,网格员,{A1},\n王五,13912345678,网格员,420103001099001,\n"
                     "赵六,13712345678,网格长,,420103009999\n", encoding="utf-8")
    assert main(["map", str(path), "--roster", str(staff), "--out", str(tmp_path / "site"), "--tiles", "none"]) == 0
    err = capsys.readouterr().err
    assert (f"gridgeo: warning: roster {staff}: 2 rows name a code not in the plan (line 3 王五: grid 420103001099001; "
            "line 4 赵六: community 420103009999); shown on no map") in err, err
    _font_or_skip()
    assert main(["sign", str(path), "--grid", A1, "--roster", str(staff), "--out", str(tmp_path / "signs")]) == 0
    assert "2 rows name a code not in the plan" in capsys.readouterr().err
    assert main(["report", str(path), "--roster", str(staff)]) == 0
    assert "2 rows name a code not in the plan (line 3 王五: grid 420103001099001; " in capsys.readouterr().err
    staff.write_text(f"姓名,电话,职务,网格编码\n张三,13812345678,网格员,{A1}\n", encoding="utf-8")
    assert main(["map", str(path), "--roster", str(staff), "--out", str(tmp_path / "site2"), "--tiles", "none"]) == 0
    assert "not in the plan" not in capsys.readouterr().err


def test_cli_roster_error_is_one_line_exit_2(tmp_path, capsys):
    path = tmp_path / "plan.gpkg"
    town_plan().write(path)
    staff = tmp_path / "staff.csv"
    staff.write_text("name,role,community_code\n张三,队长,420103001001\n", encoding="utf-8")
    assert main(["map", str(path), "--roster", str(staff), "--out", str(tmp_path / "site")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown role" in err
    assert not (tmp_path / "site").exists()


# ---------------------------------------------------------------- the web map


def test_map_popups_hold_the_roster_and_escape_every_name(plan, roster):
    m = grid_map(plan, roster=roster, tiles="none", supervision_phone="12345")
    assert XSS not in m.get_root().render()  # in the page, the name is only JSON-escaped data ...
    html = _html(m)
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 1  # ... and HTML-escaped in the popup
    data = next(v for k, v in _geojson_layers(grid_map(plan, roster=roster, tiles="none")).items() if k.startswith("网格"))
    popups = {f["properties"]["grid_code"]: f["properties"]["popup"] for f in data["features"]}
    assert all(XSS not in p for p in popups.values())
    assert "王芳" in popups[A1] and "139-0000-0001" in popups[A1] and "网格长" in popups[A1]
    assert "027-8888-0000" in popups[A1]  # the supervisor's phone, community A
    assert "12345" not in popups[A1]
    assert "未配备" in popups[B2]  # nobody
    assert str(HOUSEHOLDS[A1]) in popups[A1]
    assert "建设路" in popups[A1]


def test_map_search_index_holds_raw_names_safe_inside_the_script(tmp_path):
    """The search index held HTML-escaped text ("A&amp;B &lt;i&gt;"), so typing a name holding & < > or quotes
    found nothing: it now holds the raw text (the search box shows it as text, test_maps_browser), and the
    page still parses: "</script>" in a name is written as "\\u003c/script\\u003e" in the page's JSON."""
    nasty = "A&B <i>x</i> </script>"
    plan = town_plan()
    plan.communities.loc[plan.communities["code"] == CODE_B, "name"] = nasty
    roster = town_roster()
    roster.loc[roster["name"] == "王芳", "name"] = "O'Neil & \"王\""
    m = grid_map(plan, roster=read_roster(roster, plan), tiles="none")
    search = {f["properties"]["grid_code"]: f["properties"]["search"]
              for f in next(v for k, v in _geojson_layers(m).items() if k.startswith("网格"))["features"]}
    assert search[B2] == f"{B2} {nasty}"
    assert search[A1].startswith(f"{A1} 民族街社区 建设路") and "O'Neil & \"王\"" in search[A1]  # the grid's worker too
    raw = m.get_root().render()
    assert nasty not in raw
    assert len(re.findall(r"<script\b", raw)) == raw.count("</script>")  # no script element ended early
    assert "tip.textContent = text" in raw and "innerHTML" not in raw.split("L.Control.Search(")[1].split("addControl")[0]
    index = publish_map(plan, tmp_path / "site", tiles="none", pages="community")[0].read_text(encoding="utf-8")
    assert nasty not in index and len(re.findall(r"<script\b", index)) == index.count("</script>")
    as_data = json.dumps(f"{CODE_B} {nasty}").replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    assert f'"search": {as_data}' in index and f'"search": {as_data.replace(CODE_B, B2)}' in raw  # raw text, as JSON


def test_no_map_holds_the_households_of_a_building(plan, roster, tmp_path):
    """Without --public, the page's buildings layer held every building's id with its household count (户数 per 楼栋,
    one step from the residents), in a file made to be put on a web server. A map now never holds a building's
    households, whichever mode; grids and small grids keep their totals (hundreds of households) on the office map."""
    for public in (False, True):
        m = grid_map(plan, roster=roster, tiles="none", public=public)
        buildings = next(v for k, v in _geojson_layers(m).items() if k == "楼栋")
        assert len(buildings["features"]) == len(plan.buildings)
        assert all("households" not in f["properties"] for f in buildings["features"])
    site = publish_map(plan, tmp_path / "site", roster=roster, tiles="none")[0].read_text(encoding="utf-8")
    data = [json.loads(x) for x in re.findall(r"_add\((\{.*?\})\);\n", site, flags=re.S)]
    building_layers = [d for d in data if d["features"] and "building_id" in d["features"][0]["properties"]]
    assert building_layers and all(set(f["properties"]) == {"building_id"} for d in building_layers for f in d["features"])
    assert f">{HOUSEHOLDS[A1]}<" in _html(grid_map(plan, roster=roster, tiles="none"))  # a grid's total: office map


def test_public_map_shows_no_household_figures(plan, roster):
    m = grid_map(plan, roster=roster, tiles="none", public=True)
    html = _html(m)
    layers = _geojson_layers(m)
    for name, data in layers.items():
        for f in data["features"]:
            assert "households" not in f["properties"], name
            assert "building_id" not in f["properties"], name
    for value in HOUSEHOLDS.values():
        assert f">{value}<" not in html
    assert "户数" not in html
    assert "王芳" in html  # staff names and phones are public
    private = _html(grid_map(plan, roster=roster, tiles="none"))
    assert f">{HOUSEHOLDS[A1]}<" in private and "户数" in private


def test_map_layers_legend_search_locate_and_dedicated(plan):
    m = grid_map(plan, tiles="none", lang="en")
    names = list(_geojson_layers(m))
    assert names[:2] == ["grids (6)", "small grids (10)"]
    assert "streets" in names and "buildings" in names
    html = _html(m)
    assert "L.Control.Search" in html and "initial: false" in html and "L.control.locate" in html
    assert "gg-legend" in html and "L.control.layers" in html
    ded = grid_map(town_plan(dedicated=True), tiles="none", lang="en")
    names = list(_geojson_layers(ded))
    assert names[0] == "grids (5)" and "dedicated grids (1)" in names


def test_tiles_options(plan):
    assert "tile.openstreetmap.org" in _html(grid_map(plan))
    assert "tileLayer" not in _html(grid_map(plan, tiles="none")).replace("L.tileLayer = ", "")
    html = _html(grid_map(plan, tiles="tianditu", tianditu_token="abc<123>"))
    assert "tianditu.gov.cn" in html and "tk=abc%3C123%3E" in html
    with pytest.raises(InputError, match="needs a Tianditu key"):
        grid_map(plan, tiles="tianditu")
    with pytest.raises(InputError, match="tiles 'google' is not supported"):
        grid_map(plan, tiles="google")
    with pytest.raises(InputError, match="lang 'fr' is not supported"):
        grid_map(plan, lang="fr")


def test_publish_single_page_uses_bundled_assets(tmp_path, plan, roster):
    pages = publish_map(plan, tmp_path / "site", roster=roster, tiles="none")
    assert [p.name for p in pages] == ["index.html"]
    html = pages[0].read_text(encoding="utf-8")
    srcs = re.findall(r'<script src="([^"]+)"', html) + re.findall(r'<link rel="stylesheet" href="([^"]+)"', html)
    assert srcs and all(s.startswith("lib/") for s in srcs)
    assert all((tmp_path / "site" / s).is_file() for s in srcs)
    assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html
    with pytest.raises(InputError, match="exists; pass force=True"):
        publish_map(plan, tmp_path / "site")
    publish_map(plan, tmp_path / "site", force=True, lang="en")
    assert "Grid map" in (tmp_path / "site" / "index.html").read_text(encoding="utf-8")


def test_publish_one_page_per_community(tmp_path, plan):
    pages = publish_map(plan, tmp_path / "site", tiles="none", pages="community")
    assert [p.name for p in pages] == ["index.html", f"{CODE_A}.html", f"{CODE_B}.html"]
    index = re.sub(r"\\u([0-9a-fA-F]{4})", lambda x: chr(int(x.group(1), 16)), pages[0].read_text(encoding="utf-8"))
    assert f'href=\\"{CODE_A}.html\\"' in index and "民族街社区" in index
    for page, codes, others in ((pages[1], [A1, A2, A3], [B1]), (pages[2], [B1, B2, B3], [A3])):
        text = _html_file(page)
        assert set(re.findall(r"<h4>网格 (\d{15})</h4>", text)) == set(codes)  # popups: this community's grids
        assert set(others) <= set(re.findall(r'"grid_code": "(\d{15})"', text))  # the neighbours around, as context
        assert 'href="index.html"' in text  # back to the index


def test_photos_are_copied_into_the_site(tmp_path, plan):
    from PIL import Image

    Image.new("RGB", (30, 40), (200, 30, 30)).save(tmp_path / "wang.png")
    staff = tmp_path / "staff.csv"
    staff.write_text(f"name,phone,role,grid_code,photo\n王芳,139,网格长,{A1},wang.png\n", encoding="utf-8")
    publish_map(plan, tmp_path / "site", roster=staff, tiles="none")
    photos = list((tmp_path / "site" / "photos").iterdir())
    assert len(photos) == 1 and f'src=\\"photos/{photos[0].name}\\"' in (tmp_path / "site" / "index.html").read_text(encoding="utf-8")


def test_cli_map_and_python_face_write_the_same_site(tmp_path, capsys):
    path = tmp_path / "plan.gpkg"
    town_plan().write(path)
    staff = tmp_path / "staff.csv"
    town_roster().to_csv(staff, index=False)
    assert main(["map", str(path), "--roster", str(staff), "--out", str(tmp_path / "cli"), "--tiles", "none", "--public"]) == 0
    assert "staffing" in capsys.readouterr().out
    gridgeo.publish_map(path, tmp_path / "api", roster=staff, tiles="none", public=True)
    assert (tmp_path / "cli" / "index.html").stat().st_size > 0
    strip = lambda p: re.sub(r"(geo_json|map|layer_control|search|locate_control|tile_layer|macro_element)_[0-9a-f]{32}", "X",  # noqa: E731
                             p.read_text(encoding="utf-8"))
    assert strip(tmp_path / "cli" / "index.html") == strip(tmp_path / "api" / "index.html")
    assert isinstance(gridgeo.read_plan(path).map(tiles="none"), __import__("folium").Map)


# ---------------------------------------------------------------- signs


def _font_or_skip():
    from gridgeo.maps.sign import FontNotFoundError, find_cjk_font

    try:
        return find_cjk_font()
    except FontNotFoundError as exc:
        pytest.skip(f"no CJK font installed ({exc})")


@pytest.mark.parametrize(("paper", "size_pt"), [("A4", (595.28, 841.89)), ("A3", (841.89, 1190.55))])
def test_sign_pdf_text_page_size_and_no_missing_glyphs(tmp_path, plan, roster, paper, size_pt):
    pypdf = pytest.importorskip("pypdf")
    _font_or_skip()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        written = gridgeo.write_signs(plan, tmp_path, grids=[A1], roster=roster, paper=paper, supervision_phone="12345")
    glyphs = [str(w.message) for w in caught if "missing from" in str(w.message) or "Glyph" in str(w.message)]
    assert not glyphs
    page = pypdf.PdfReader(written[0]).pages[0]
    assert (float(page.mediabox.width), float(page.mediabox.height)) == pytest.approx(size_pt, abs=0.5)
    text = page.extract_text()
    for expected in (A1, "王芳", "139-0000-0001", "139-0000-0002", XSS, "网格公示牌", "民族街社区", "027-8888-0000", "建设路", "北"):
        assert expected in text, expected


def test_sign_png_at_300_dpi_in_english(tmp_path, plan, roster):
    from PIL import Image

    _font_or_skip()
    written = gridgeo.write_signs(plan, tmp_path, grids=[B2], roster=roster, fmt="png", lang="en")
    with Image.open(written[0]) as im:
        assert im.size[0] == pytest.approx(210 / 25.4 * 300, abs=1) and im.size[1] == pytest.approx(297 / 25.4 * 300, abs=1)


def test_cli_sign_all_and_errors(tmp_path, capsys):
    _font_or_skip()
    path = tmp_path / "plan.gpkg"
    town_plan().write(path)
    out = tmp_path / "signs"
    assert main(["sign", str(path), "--all", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{c}.pdf" for c in GRID_BOXES)
    assert main(["sign", str(path), "--all", "--out", str(out)]) == 2
    assert "exists; pass --force" in capsys.readouterr().err
    assert main(["sign", str(path), "--grid", "123", "--out", str(out)]) == 2
    assert "grid '123' is not in the plan" in capsys.readouterr().err


def test_sign_all_makes_the_boards_of_dedicated_grids_titled_as_such(tmp_path, capsys):
    """`sign --all` made boards for dedicated grids (专属网格) too while --help said "one sign per base grid", and a
    dedicated grid's board read 网格公示牌 with the residents' committee as its unit: --all signs every grid (a
    dedicated grid has its grid worker and is public), the help says so, and the board is titled as what it is."""
    pypdf = pytest.importorskip("pypdf")
    _font_or_skip()
    plan = town_plan(dedicated=True)
    dedicated = str(plan.grids.loc[plan.grids["kind"] == "dedicated", "grid_code"].iloc[0])
    units = gpd.GeoDataFrame({"unit_id": ["u1"], "name": ["市第一医院"], "grid_code": [dedicated], "dedicated": [True]},
                             geometry=shapely.points([(0, 0)]), crs=plan.grids.crs)
    plan = type(plan)({**plan.layers, "units": units}, plan.metadata)
    written = gridgeo.write_signs(plan, tmp_path / "signs")
    assert sorted(p.stem for p in written) == sorted(plan.grids["grid_code"].astype(str))
    text = pypdf.PdfReader(tmp_path / "signs" / f"{dedicated}.pdf").pages[0].extract_text()
    assert "专属网格公示牌" in text and "市第一医院" in text and "居民委员会" not in text
    base = pypdf.PdfReader(written[0] if written[0].stem != dedicated else written[1]).pages[0].extract_text()
    assert "网格公示牌" in base and "专属网格公示牌" not in base
    with pytest.raises(SystemExit):
        main(["sign", "--help"])
    helptext = " ".join(capsys.readouterr().out.split())
    assert "one sign per base grid" not in helptext and "dedicated grids (专属网格" in helptext


def test_missing_font_is_one_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GRIDGEO_CJK_FONT", str(tmp_path / "none.ttf"))
    path = tmp_path / "plan.gpkg"
    town_plan().write(path)
    assert main(["sign", str(path), "--all", "--out", str(tmp_path / "signs")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "GRIDGEO_CJK_FONT" in err
    assert not list((tmp_path / "signs").glob("*.pdf")) if (tmp_path / "signs").exists() else True


def test_staffing_face_reads_paths(tmp_path):
    path = tmp_path / "plan.gpkg"
    town_plan().write(path)
    table = gridgeo.staffing(path, town_roster())
    assert table["grids"].sum() == 6
    assert json.loads(table.to_json())  # plain values


def test_overlays_are_layers_counted_per_grid(tmp_path, plan, capsys):
    from conftest import METRIC_EPSG, at

    points = gpd.GeoDataFrame({"name": ["<b>化工厂</b>", "医院", "学校"]},
                              geometry=gpd.points_from_xy(*zip(at(50, 300), at(150, 100), at(700, 100))), crs=METRIC_EPSG)
    m = grid_map(plan, tiles="none", overlays={"企业": points})
    layers = _geojson_layers(m)
    assert "企业 (3)" in layers
    assert [f["properties"]["name"] for f in layers["企业 (3)"]["features"]] == ["&lt;b&gt;化工厂&lt;/b&gt;", "医院", "学校"]
    grids = next(v for k, v in layers.items() if k.startswith("网格"))
    popups = {f["properties"]["grid_code"]: f["properties"]["popup"] for f in grids["features"]}
    assert "<th>企业</th><td>2</td>" in popups[A1] and "<th>企业</th><td>1</td>" in popups[B1]
    assert "<th>企业</th><td>0</td>" in popups[A2]
    public = _geojson_layers(grid_map(plan, tiles="none", overlays={"企业": points}, public=True))["企业 (3)"]
    assert {f["properties"]["name"] for f in public["features"]} == {""}
    path = tmp_path / "plan.gpkg"
    plan.write(path)
    points.to_file(tmp_path / "poi.gpkg", layer="enterprises")
    assert main(["map", str(path), "--out", str(tmp_path / "site"), "--tiles", "none",
                 "--overlay", f"企业={tmp_path / 'poi.gpkg'}:enterprises"]) == 0
    assert "企业" in _html_file(tmp_path / "site" / "index.html")


def test_overlay_features_on_a_grid_edge_are_counted_in_the_grid_locate_gives_them(plan):
    """A point on an edge or corner shared by grids (an event snapped to a street line, a camera on a grid
    corner) was counted in no grid's popup (``within`` holds for no closed polygon's boundary); it counts
    once, in the grid ``gridgeo.locate`` routes it to (the smallest code), whatever the overlay's row order."""
    grids = plan.layers["grids"].set_index("grid_code")
    corner = shapely.get_coordinates(grids.geometry[A1])  # vertices of A1 in the stored EPSG:4490 coordinates
    shared = [tuple(xy) for xy in corner if shapely.intersects_xy(grids.geometry[A2].boundary, *xy)]
    assert shared
    mid = grids.geometry[A1].boundary.intersection(grids.geometry[A2].boundary).interpolate(0.5, normalized=True)
    points = gpd.GeoDataFrame({"name": ["角", "边"]}, geometry=[shapely.Point(shared[0]), mid], crs=plan.layers["grids"].crs)
    routed = gridgeo.locate(pd.DataFrame({"lon": points.geometry.x, "lat": points.geometry.y}), plan, coords="cgcs2000")
    assert routed["grid_code"].tolist() == [A1, A1]
    for frame in (points, points.iloc[::-1]):
        grids_layer = next(v for k, v in _geojson_layers(grid_map(plan, tiles="none", overlays={"事件": frame})).items()
                           if k.startswith("网格"))
        popups = {f["properties"]["grid_code"]: f["properties"]["popup"] for f in grids_layer["features"]}
        assert "<th>事件</th><td>2</td>" in popups[A1] and "<th>事件</th><td>0</td>" in popups[A2]


def test_an_overlay_with_nothing_in_a_community_gives_that_community_its_page(tmp_path, plan):
    """Pages per community (--pages community, or a plan over 300 grids) with an --overlay holding nothing in one
    community failed with a traceback: "AssertionError: The field name is not available in the data"."""
    from conftest import METRIC_EPSG, at

    points = gpd.GeoDataFrame({"name": ["化工厂"]}, geometry=gpd.points_from_xy(*zip(at(50, 300))), crs=METRIC_EPSG)  # in A only
    pages = publish_map(plan, tmp_path / "site", tiles="none", pages="community", overlays={"企业": points})
    assert sorted(p.name for p in pages) == sorted(["index.html", f"{CODE_A}.html", f"{CODE_B}.html"])
    assert "企业 (1)" in _html_file(tmp_path / "site" / f"{CODE_A}.html")
    assert "企业 (0)" in _html_file(tmp_path / "site" / f"{CODE_B}.html")


def _html_file(path) -> str:
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda x: chr(int(x.group(1), 16)), path.read_text(encoding="utf-8"))


def test_map_shows_the_staffing_table(plan, roster):
    html = _html(grid_map(plan, roster=roster, tiles="none"))
    panel = html[html.index('<details class="gg-staffing">'):html.index("</details>")]
    assert "<td>民族街社区</td><td>3</td><td>3/3</td>" in panel
    assert "<td>花楼水塔社区</td><td>3</td><td>1/3</td><td>1/3–6</td><td>1/4</td><td class=gg-flag>2</td>" in panel
    assert "<details class=\"gg-staffing\">" not in _html(grid_map(plan, tiles="none"))  # no roster, no table


def test_a_dedicated_layer_is_drawn_apart(plan):
    dedicated = plan.grids[plan.grids["grid_code"] == B2][["grid_code", "community_code", "geometry"]].assign(name="<i>医院</i>")
    with_layer = type(plan)({**plan.layers, "dedicated": dedicated}, plan.metadata)
    layers = _geojson_layers(grid_map(with_layer, tiles="none"))
    assert layers["网格 (6)"] and [f["properties"]["name"] for f in layers["专属网格 (1)"]["features"]] == ["&lt;i&gt;医院&lt;/i&gt;"]


def test_sign_with_a_photo(tmp_path, plan):
    pypdf = pytest.importorskip("pypdf")
    from PIL import Image

    _font_or_skip()
    Image.new("RGB", (60, 80), (30, 90, 200)).save(tmp_path / "li.jpg")
    staff = tmp_path / "staff.csv"
    staff.write_text(f"姓名,电话,职务,网格编码,职责,照片\n李四,138-1,网格员,{A2},巡查走访,li.jpg\n", encoding="utf-8")
    written = gridgeo.write_signs(plan, tmp_path / "signs", grids=[A2], roster=staff)
    reader = pypdf.PdfReader(written[0])
    text = reader.pages[0].extract_text()
    assert "李四" in text and "巡查走访" in text and "照片" not in text.replace("网格工作人员", "")  # the photo, no placeholder
    assert len(reader.pages[0].images) == 1


def test_signs_in_one_pdf(tmp_path, plan, roster):
    pypdf = pytest.importorskip("pypdf")
    _font_or_skip()
    path = tmp_path / "plan.gpkg"
    plan.write(path)
    assert main(["sign", str(path), "--all", "--one-file", "--out", str(tmp_path / "signs")]) == 0
    reader = pypdf.PdfReader(tmp_path / "signs" / "signs.pdf")
    assert [next(c for c in GRID_BOXES if c in page.extract_text()) for page in reader.pages] == sorted(GRID_BOXES)
    with pytest.raises(InputError, match="multi-page PDF"):
        gridgeo.write_signs(plan, tmp_path / "png", fmt="png", one_file=True)


def test_printed_community_map(tmp_path, plan, roster, capsys):
    pypdf = pytest.importorskip("pypdf")
    _font_or_skip()
    path = tmp_path / "plan.gpkg"
    plan.write(path)
    staff = tmp_path / "staff.csv"
    town_roster().to_csv(staff, index=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(["sign", str(path), "--community", CODE_B, "--roster", str(staff), "--paper", "A3",
                     "--out", str(tmp_path / "maps")]) == 0
    assert not [w for w in caught if "missing from" in str(w.message)]
    page = pypdf.PdfReader(tmp_path / "maps" / f"{CODE_B}.pdf").pages[0]
    assert (float(page.mediabox.width), float(page.mediabox.height)) == pytest.approx((841.89, 1190.55), abs=0.5)
    text = page.extract_text()
    for expected in ("花楼水塔社区", B1, B2, B3, "陈刚", "139-0000-0005", "未配备", "北", "中山大道"):
        assert expected in text, expected
    assert str(HOUSEHOLDS[B1]) not in text  # public by default
    assert main(["sign", str(path), "--community", "420103009999", "--out", str(tmp_path / "maps2")]) == 2
    assert "has no grids in the plan" in capsys.readouterr().err


def test_a_sign_with_more_staff_than_cards_names_them_all(tmp_path, plan):
    pypdf = pytest.importorskip("pypdf")
    _font_or_skip()
    many = pd.DataFrame({"name": [f"员工{i:02d}" for i in range(10)], "phone": [f"135-{i:04d}" for i in range(10)],
                         "role": "网格员", "grid_code": A3})
    written = gridgeo.write_signs(plan, tmp_path, grids=[A3], roster=many)
    text = pypdf.PdfReader(written[0]).pages[0].extract_text()
    assert all(f"员工{i:02d}" in text and f"135-{i:04d}" in text for i in range(10))
    assert re.search(r"\+\d+: 员工", text)  # the cards that did not fit, named on one line


def test_popups_name_the_units_of_each_grid_escaped(plan):
    grids = plan.grids.sort_values("grid_code")
    a2, b2 = str(grids["grid_code"].iloc[1]), str(grids["grid_code"].iloc[-1])
    units = gpd.GeoDataFrame({"unit_id": ["u1", "u2", "u3", "u4"], "name": ["<b>第一小学</b>", "便利店", None, "医院"],
                              "grid_code": [a2, a2, a2, b2], "dedicated": [True, False, False, True]},
                             geometry=shapely.points([(0, 0)] * 4), crs=plan.grids.crs)
    m = grid_map(type(plan)({**plan.layers, "units": units}, plan.metadata), tiles="none")
    popups = {f["properties"]["grid_code"]: f["properties"]["popup"] for f in _geojson_layers(m)["网格 (6)"]["features"]}
    assert "<th>专属单位</th><td>&lt;b&gt;第一小学&lt;/b&gt;</td>" in popups[a2]
    assert "<th>辖区单位</th><td>u3、便利店</td>" in popups[a2]  # a unit without a name is shown by its id
    assert "<th>专属单位</th><td>医院</td>" in popups[b2] and "辖区单位" not in popups[b2]
    assert not any("专属单位" in p for c, p in popups.items() if c not in (a2, b2))


def test_dedicated_grids_of_the_grids_layer_are_named_by_their_units(plan):
    grids = plan.grids.sort_values("grid_code")
    b2 = str(grids["grid_code"].iloc[-1])
    kinds = grids.assign(kind=np.where(grids["grid_code"] == b2, "dedicated", "base"))
    units = gpd.GeoDataFrame({"unit_id": ["u1", "u2"], "name": ["<i>医院</i>", "药店"], "grid_code": [b2, b2],
                              "dedicated": [True, False]}, geometry=shapely.points([(0, 0)] * 2), crs=plan.grids.crs)
    m = grid_map(type(plan)({**plan.layers, "grids": kinds, "units": units}, plan.metadata), tiles="none")
    ded = _geojson_layers(m)["专属网格 (1)"]["features"]
    assert [f["properties"]["name"] for f in ded] == ["&lt;i&gt;医院&lt;/i&gt;"]  # its dedicated units, escaped


def test_dollar_signs_in_user_text_are_printed_as_written(tmp_path, plan):
    """Text from the roster, the streets and the plan is never read as matplotlib mathtext: ``$\\frac$`` in a
    name raised a ParseSyntaxException traceback, and ``$x^2$`` printed as a formula without its dollars."""
    pypdf = pytest.importorskip("pypdf")
    _font_or_skip()
    staff = pd.DataFrame({"name": ["张$\\frac$三", "李$x^2$"], "phone": ["138", "139"], "role": "网格员", "grid_code": A1,
                          "duties": ["收费$5$元", "巡查"]})
    written = gridgeo.write_signs(plan, tmp_path / "signs", grids=[A1], roster=staff, unit="单位$1$号")
    text = pypdf.PdfReader(written[0]).pages[0].extract_text()
    for expected in ("张$\\frac$三", "李$x^2$", "收费$5$元", "单位$1$号"):
        assert expected in text, expected
    maps = gridgeo.maps.sign.write_community_maps(plan, tmp_path / "maps", communities=[CODE_A], roster=staff)
    assert "李$x^2$" in pypdf.PdfReader(maps[0]).pages[0].extract_text()


def test_the_north_arrow_of_a_sign_stands_on_a_white_ground_over_street_names(plan):
    """The sample town's sign of grid 420981190001001 printed the street name 红旗一巷 through the north arrow and
    its 北: the arrow had no ground of its own (the scale bar had). The arrow and 北 now lie on a white patch drawn
    above every street label."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.patches import FancyArrow, Rectangle

    from gridgeo.maps.sign import sign_figure

    _font_or_skip()
    fig = sign_figure(plan, A1)
    FigureCanvasAgg(fig).draw()
    ax = next(a for a in fig.axes if any(isinstance(p, FancyArrow) for p in a.patches))
    arrow = next(p for p in ax.patches if isinstance(p, FancyArrow))
    north = next(t for t in ax.texts if t.get_text() == "北")
    labels = [t for t in ax.texts if t.get_bbox_patch() is not None and t.get_text() != A1]  # street names
    assert labels
    grounds = [p for p in ax.patches if isinstance(p, Rectangle) and p.get_facecolor()[:3] == (1.0, 1.0, 1.0)
               and p.get_window_extent().contains(*arrow.get_window_extent().p0)
               and p.get_window_extent().contains(*arrow.get_window_extent().p1)
               and p.get_window_extent().contains(*north.get_window_extent().p0)]
    assert grounds, "no white ground under the north arrow"
    assert all(grounds[0].get_zorder() > t.get_zorder() for t in labels)
    assert arrow.get_zorder() > grounds[0].get_zorder() and north.get_zorder() > grounds[0].get_zorder()


def test_long_text_on_a_sign_stays_in_its_card_and_on_the_page(plan):
    """A long name ran out of its card into the next one and off the page, and a long responsible unit or list
    of roads (Chinese has no spaces for matplotlib's wrap) off the page: each is broken into the lines its place
    holds, the last cut with "…"."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from gridgeo.maps.sign import sign_figure

    _font_or_skip()
    staff = pd.DataFrame({"name": ["李" * 60, "Wang " * 30], "phone": ["138 0013 8000", "139-0013-8001"], "role": "网格员",
                          "grid_code": A1, "duties": ["巡查" * 80, "patrols " * 40]})
    fig = sign_figure(plan, A1, roster=staff, unit="正街社区居民委员会" * 12)
    renderer = FigureCanvasAgg(fig).get_renderer()
    width = fig.bbox.width
    boxes = {t.get_text(): t.get_window_extent(renderer) for t in fig.texts}
    assert all(b.x1 <= 0.95 * width for b in boxes.values()), [(k[:20], b.x1 / width) for k, b in boxes.items()]
    cards = [{k: b for k, b in boxes.items() if k.startswith(prefixes)} for prefixes in (("李", "职责: 巡查"), ("Wang", "职责: patrols"))]
    left, right = sorted(cards, key=lambda card: min(b.x0 for b in card.values()))  # two cards side by side
    right_x0 = min(b.x0 for b in right.values())
    assert len(left) == len(right) == 2 and all(b.x1 < right_x0 for b in left.values()), {k[:20]: b.x1 / width for k, b in left.items()}
    texts = list(boxes)
    assert any(k.startswith("李李李") and k.endswith("…") and "\n" not in k for k in texts)  # a name keeps one line
    assert any(k.startswith("职责: 巡查") and k.count("\n") == 1 and k.endswith("…") for k in texts)  # duties: two
    assert any(k.startswith("Wang Wang") and k.endswith("…") for k in texts)
    unit = next(k for k in texts if k.startswith("正街社区居民委员会"))
    assert unit.count("\n") == 1 and unit.endswith("…")


def test_a_community_maps_staff_lines_stay_in_their_column(plan):
    """The printed community map lists each grid's leader and workers on one line in one of two columns: a grid
    with three people (names and phones) ran past its column into the other one."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from gridgeo.maps.sign import community_figure

    _font_or_skip()
    staff = pd.DataFrame({"name": ["欧阳建国", "司马晓燕", "诸葛明亮"], "phone": ["0712-88886666", "139-0013-8001", "138 0013 8000"],
                          "role": ["网格长", "网格员", "专职网格员"], "grid_code": A1})
    fig = community_figure(plan, CODE_A, roster=staff)
    renderer = FigureCanvasAgg(fig).get_renderer()
    line = next(t for t in fig.texts if t.get_text().startswith(A1))
    assert line.get_window_extent(renderer).x1 <= (0.06 + 0.46) * fig.bbox.width, line.get_text()
    assert line.get_text().startswith(f"{A1}  网格长 欧阳建国 0712-88886666；") and "\n" not in line.get_text()


def test_characters_the_font_lacks_are_said_once_in_one_line(tmp_path, capsys):
    """An emoji in a name (张三😀) printed as an empty box and put matplotlib's own warnings on the console,
    "gridgeo/maps/sign.py:511: UserWarning: Glyph 128512 (\\N{GRINNING FACE}) missing from font(s) ..." with
    gridgeo's source line, once per drawing: now one line naming the character and the fix (a
    MissingGlyphWarning in Python)."""
    _font_or_skip()
    path = tmp_path / "plan.gpkg"
    town_plan().write(path)
    staff = tmp_path / "staff.csv"
    staff.write_text(f"姓名,电话,职务,网格编码\n张三\U0001F600,13812345678,网格员,{A1}\n李四\U0001F600,13912345678,网格长,{A1}\n",
                     encoding="utf-8")
    for extra in (["--grid", A1], ["--community", CODE_A]):
        assert main(["sign", str(path), *extra, "--roster", str(staff), "--out", str(tmp_path / "out"), "--force"]) == 0
        err = capsys.readouterr().err
        lines = [line for line in err.splitlines() if "U+1F600" in line or "Glyph" in line]
        assert len(lines) == 1 and lines[0].startswith("gridgeo: warning: ") and "'\U0001F600' (U+1F600) missing from the font" in lines[0], err
        assert "UserWarning" not in err and "sign.py" not in err
    with pytest.warns(gridgeo.maps.sign.MissingGlyphWarning, match="U\\+1F600"):
        gridgeo.write_signs(town_plan(), tmp_path / "api", grids=[A1], roster=staff)


def test_communities_without_a_name_are_shown_by_their_code(tmp_path):
    """A plan whose communities have no name (null in the file) made `gridgeo map` fail with "TypeError: sequence
    item 1: expected str instance, float found", and signs print "nan · 网格 …" and "nan居民委员会"."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from gridgeo.maps.sign import community_figure, sign_figure

    plan = town_plan()
    layers = dict(plan.layers)
    layers["communities"] = layers["communities"].assign(name=[None, "  "])
    path = tmp_path / "plan.gpkg"
    type(plan)(layers, plan.metadata).write(path)
    unnamed = gridgeo.read_plan(path)
    assert main(["map", str(path), "--out", str(tmp_path / "site"), "--tiles", "none", "--pages", "community"]) == 0
    html = _html_file(tmp_path / "site" / f"{CODE_A}.html")
    assert f"<title>{CODE_A} 社区网格图</title>" in html and ">nan" not in html
    popup = _geojson_layers(grid_map(unnamed, tiles="none"))
    grids = next(v for k, v in popup.items() if k.startswith("网格"))
    assert f"<th>所属社区</th><td>{CODE_A}</td>" in grids["features"][0]["properties"]["popup"]
    assert staffing(unnamed)["community"].tolist() == ["", ""]
    _font_or_skip()
    texts = [t.get_text() for t in sign_figure(unnamed, A1).texts] + [t.get_text() for t in community_figure(unnamed, CODE_A).texts]
    assert f"{CODE_A} · 网格 {A1}" in texts and f"{CODE_A}居民委员会" in texts and f"{CODE_A} 社区网格图" in texts
    assert not any("nan" in t for t in texts), [t for t in texts if "nan" in t]
    FigureCanvasAgg(sign_figure(unnamed, A1)).draw()


def test_a_code_given_twice_gives_one_sign_and_no_error(tmp_path, capsys):
    """``--grid X --grid X`` (or ``--community`` twice) wrote the file, then failed with "cannot read or write
    .../.signs-*/X.pdf: No such file" (exit 2) when moving it a second time."""
    _font_or_skip()
    path = tmp_path / "plan.gpkg"
    town_plan().write(path)
    assert main(["sign", str(path), "--grid", A1, "--grid", A2, "--grid", A1, "--out", str(tmp_path / "signs"),
                 "--format", "png"]) == 0
    assert sorted(p.name for p in (tmp_path / "signs").iterdir()) == [f"{A1}.png", f"{A2}.png"]
    assert "2 signs written" in capsys.readouterr().out
    assert main(["sign", str(path), "--community", CODE_A, "--community", CODE_A, "--out", str(tmp_path / "maps"),
                 "--format", "png"]) == 0
    assert [p.name for p in (tmp_path / "maps").iterdir()] == [f"{CODE_A}.png"]


def test_public_staffing_panel_gives_no_household_figure(plan, roster):
    """The public map's staffing panel showed the community workers the seed rules call for, one per 200–400
    households: "3–6" for community B says it has 1,001–1,200 households (it has 1,139)."""
    households_b = sum(v for k, v in HOUSEHOLDS.items() if k.startswith(CODE_B))
    needed = f"{-(-households_b // 400)}–{-(-households_b // 200)}"
    html = _html(grid_map(plan, roster=roster, tiles="none", public=True))
    panel = html[html.index('<details class="gg-staffing">'):html.index("</details>")]
    assert needed not in panel and "户" not in panel
    assert "<td>花楼水塔社区</td><td>3</td><td>1/3</td><td>1/4</td><td class=gg-flag>2</td>" in panel
    private = _html(grid_map(plan, roster=roster, tiles="none"))
    assert needed in private[private.index('<details class="gg-staffing">'):]


def test_a_photo_that_is_not_an_image_is_a_one_line_error(tmp_path, plan):
    """A photo file that exists but holds no image (a broken download, a text file renamed .png) is named on
    reading the roster, before any map or sign is drawn, not a traceback from matplotlib in the middle of --all."""
    (tmp_path / "wang.png").write_text("not an image", encoding="utf-8")
    staff = tmp_path / "staff.csv"
    staff.write_text(f"name,phone,grid_code,photo\n王芳,139,{A1},wang.png\n", encoding="utf-8")
    with pytest.raises(InputError, match=re.escape("line 2: photo 'wang.png' is not a readable image")) as info:
        read_roster(staff, plan)
    assert "\n" not in str(info.value)
    with pytest.raises(InputError):
        gridgeo.write_signs(plan, tmp_path / "signs", grids=[A1], roster=staff)
    assert not (tmp_path / "signs").exists()


def test_map_and_sign_take_the_crs_of_a_streets_file_without_one(tmp_path, capsys):
    """A streets CSV (WKT) or a Shapefile without .prj: the error says "give one with --crs", so map and sign take
    --crs (they refused it as an unrecognised argument) and draw those streets."""
    path = tmp_path / "plan.gpkg"
    plan = town_plan()
    plan.write(path)
    streets = plan.layers["streets"].to_crs(4490)
    csv = tmp_path / "streets.csv"
    pd.DataFrame({"name": streets["name"], "WKT": streets.geometry.to_wkt()}).to_csv(csv, index=False)
    assert main(["map", str(path), "--out", str(tmp_path / "site"), "--tiles", "none", "--streets", str(csv)]) == 2
    assert "--crs" in capsys.readouterr().err
    assert main(["map", str(path), "--out", str(tmp_path / "site"), "--tiles", "none", "--streets", str(csv),
                 "--crs", "EPSG:4490"]) == 0
    html = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    html = re.sub(r"\\u([0-9a-fA-F]{4})", lambda x: chr(int(x.group(1), 16)), html)
    assert all(name in html for name in streets["name"].dropna())
    _font_or_skip()
    assert main(["sign", str(path), "--grid", A1, "--out", str(tmp_path / "signs"), "--streets", str(csv),
                 "--crs", "EPSG:4490"]) == 0


def test_map_force_never_deletes_a_folder_that_is_not_a_map_site(tmp_path, capsys):
    """`gridgeo map --out ~/Documents --force` replaced the whole folder with the site (every other file gone);
    --force replaces an earlier site (or an empty folder) only, as `gridgeo export --force` does."""
    path = tmp_path / "plan.gpkg"
    town_plan().write(path)
    folder = tmp_path / "documents"
    folder.mkdir()
    (folder / "report.docx").write_text("keep me", encoding="utf-8")
    args = ["map", str(path), "--out", str(folder), "--tiles", "none", "--force"]
    assert main(args) == 2
    assert "holds 'report.docx'; give --out a new or empty folder" in capsys.readouterr().err
    assert (folder / "report.docx").read_text(encoding="utf-8") == "keep me"
    site = tmp_path / "site"
    assert main(["map", str(path), "--out", str(site), "--tiles", "none", "--pages", "community"]) == 0
    assert main(["map", str(path), "--out", str(site), "--tiles", "none", "--force"]) == 0  # an earlier site: replaced
    assert sorted(p.name for p in site.iterdir()) == ["index.html", "lib"]
    (tmp_path / "empty").mkdir()
    assert main(["map", str(path), "--out", str(tmp_path / "empty"), "--tiles", "none", "--force"]) == 0


def test_signs_and_community_maps_take_one_code_as_a_string(tmp_path):
    """``gridgeo.write_signs(plan, out, grids="420…001")`` read the string character by character ("grid '4' is
    not in the plan"); one code given as a string is that grid (and likewise one community for the printed map)."""
    from gridgeo.maps.sign import write_community_maps

    _font_or_skip()
    plan = town_plan()
    assert [p.name for p in gridgeo.write_signs(plan, tmp_path / "signs", grids=A1)] == [f"{A1}.pdf"]
    assert [p.name for p in write_community_maps(plan, tmp_path / "maps", communities=CODE_A)] == [f"{CODE_A}.pdf"]


def test_roster_codes_saved_as_numbers(tmp_path, plan):
    """A roster whose code column was saved from a float column (pandas with a blank cell writes 420…001.0) names the
    grid; a code Excel turned into scientific notation (4.20103E+14, digits lost) is a one-line error with the fix,
    not a person silently counted for no grid."""
    path = tmp_path / "staff.csv"
    path.write_text(f"name,phone,grid_code,community_code\n张三,139,{A2}.0,\n李四,138,,{CODE_B}.0\n", encoding="utf-8")
    staff = read_roster(path, plan).staff.set_index("name")
    assert staff.loc["张三", "grid_code"] == A2 and staff.loc["张三", "placed"] == "roster"
    assert staff.loc["李四", "community_code"] == CODE_B and staff.loc["李四", "placed"] == "auto"
    path.write_text("name,phone,grid_code\n张三,139,4.20103E+14\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"line 2: grid_code '4.20103E\+14' is a number in scientific notation") as info:
        read_roster(path, plan)
    assert "\n" not in str(info.value)


def test_streets_given_to_map_and_sign_are_read_with_their_chinese_names():
    """A streets file with 道路名称 (read as the name by partition) named no bounding road on maps and signs."""
    from shapely import LineString, box

    from gridgeo.maps._layers import plan_streets

    z = gpd.GeoDataFrame({"grid_code": ["a"]}, geometry=[box(0, 0, 100, 100)], crs=4547)
    s = gpd.GeoDataFrame({"道路名称": ["北路"]}, geometry=[LineString([(-10, 101), (110, 101)])], crs=4547)
    assert roads_by_zone(z, "grid_code", plan_streets(None, s)) == {"a": ["北路"]}


def test_signs_in_one_pdf_are_counted_as_signs(tmp_path, plan, monkeypatch, capsys):
    """`sign --all --one-file` on a village plan of 35 grids said "1 sign written": the file, not the signs in it."""
    from pathlib import Path

    from gridgeo.maps.sign import FontNotFoundError, find_cjk_font

    try:
        find_cjk_font()
    except FontNotFoundError:  # any font draws the pages; the count is what is checked here
        fallback = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
        if not fallback.is_file():
            pytest.skip("no font to draw signs with")
        monkeypatch.setenv("GRIDGEO_CJK_FONT", str(fallback))
    path = tmp_path / "plan.gpkg"
    plan.write(path)
    assert main(["sign", str(path), "--all", "--one-file", "--out", str(tmp_path / "signs")]) == 0
    n = len(plan.grids)
    assert n > 1 and f"{n} signs written to {tmp_path / 'signs' / 'signs.pdf'} (one file" in capsys.readouterr().out



def test_a_failed_sign_run_leaves_no_folder_behind(tmp_path, plan, monkeypatch):
    """A sign run that failed while drawing (a font, a grid it cannot draw) left the --out folder it had made, empty,
    beside the user's files; now a folder the run made goes with the rest, and one that existed is kept as it was."""
    from gridgeo.maps import sign as sign_module

    _font_or_skip()

    def broken(*args, **kwargs):
        msg = "drawing failed"
        raise RuntimeError(msg)

    monkeypatch.setattr(sign_module, "sign_figure", broken)
    for one_file in (False, True):
        out = tmp_path / f"signs{int(one_file)}"
        with pytest.raises(RuntimeError, match="drawing failed"):
            sign_module.write_signs(plan, out, grids=[A1], one_file=one_file)
        assert not out.exists()
    _a_folder_that_existed_is_kept(tmp_path, lambda out: sign_module.write_signs(plan, out, grids=[A1]),
                                   RuntimeError, "drawing failed")


def _a_folder_that_existed_is_kept(tmp_path, write, error, match):
    """``write(folder)`` failing with ``error`` into a folder that existed leaves it as it was."""
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(error, match=match):
        write(kept)
    assert [p.name for p in kept.iterdir()] == ["notes.txt"]


def test_a_failed_community_map_run_leaves_no_folder_behind(tmp_path, plan, monkeypatch):
    """``sign --community`` (the community maps) made its --out folder before saving, and left it empty when saving
    failed (a full disk, a font it cannot embed); now a folder the run made goes, and one that existed is kept."""
    from matplotlib.figure import Figure

    from gridgeo.maps import sign as sign_module

    _font_or_skip()

    def broken(self, *args, **kwargs):
        msg = "saving failed"
        raise OSError(msg)

    monkeypatch.setattr(Figure, "savefig", broken)
    out = tmp_path / "maps"
    with pytest.raises(OSError, match="saving failed"):
        sign_module.write_community_maps(plan, out, communities=[CODE_A])
    assert not out.exists()
    _a_folder_that_existed_is_kept(tmp_path, lambda out: sign_module.write_community_maps(plan, out, communities=[CODE_A]),
                                   OSError, "saving failed")


def test_a_long_community_name_keeps_the_grid_code_in_the_signs_subtitle():
    """The subtitle "<community> · 网格 <code>" was cut at its end to fit the page: with a long community name
    (a residents' committee's full name) the board's own grid code was what the "…" dropped. The name is cut."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from gridgeo.maps.sign import sign_figure

    _font_or_skip()
    plan = town_plan()
    long_name = "湖北省孝感市应城市城中街道办事处正街社区居民委员会第一网格管理服务中心" * 2
    plan.communities.loc[plan.communities["code"] == CODE_A, "name"] = long_name
    fig = sign_figure(plan, A1)
    subtitle = next(t for t in fig.texts if t.get_text().startswith("湖北省"))
    assert subtitle.get_text().endswith(f"… · 网格 {A1}") and "\n" not in subtitle.get_text()
    assert subtitle.get_window_extent(FigureCanvasAgg(fig).get_renderer()).x1 <= 0.95 * fig.bbox.width
    short = sign_figure(town_plan(), A1)  # a name that fits is not cut
    assert any(t.get_text() == f"民族街社区 · 网格 {A1}" for t in short.texts)


def test_a_village_grid_names_its_villager_group_in_popup_and_on_its_sign(plan):
    """A village's grids follow its villager groups (村民小组); the public map and the sign now say which group a
    grid is (escaped as all user text); a grid without a group (urban, dedicated) shows no such row."""
    from gridgeo.maps.sign import sign_figure

    grids = plan.grids.sort_values("grid_code").copy()
    a1, a2 = str(grids["grid_code"].iloc[0]), str(grids["grid_code"].iloc[1])
    grids["villager_group"] = None
    grids.loc[grids["grid_code"] == a1, "villager_group"] = "<i>三组</i>"
    named = type(plan)({**plan.layers, "grids": grids}, plan.metadata)
    m = grid_map(named, tiles="none")
    popups = {f["properties"]["grid_code"]: f["properties"]["popup"] for f in _geojson_layers(m)["网格 (6)"]["features"]}
    assert "<th>村民小组</th><td>&lt;i&gt;三组&lt;/i&gt;</td>" in popups[a1]
    assert not any("村民小组" in p for c, p in popups.items() if c != a1)
    en = {f["properties"]["grid_code"]: f["properties"]["popup"]
          for f in next(v for k, v in _geojson_layers(grid_map(named, tiles="none", lang="en")).items() if k.startswith("grids"))["features"]}
    assert "<th>villager group</th>" in en[a1]
    _font_or_skip()
    texts = [t.get_text() for t in sign_figure(named, a1).texts]
    assert "村民小组:" in texts and "<i>三组</i>" in texts  # printed as written: a sign is not HTML
    assert any("<i>三组</i>" in t and a1 in t for t in texts)  # the title: community, group, grid code
    assert "村民小组:" not in [t.get_text() for t in sign_figure(named, a2).texts]


def test_a_grid_with_an_invalid_geometry_is_refused_in_one_line_before_anything_is_drawn(tmp_path, capsys):
    """A plan whose grid was redrawn by hand in a GIS as a bow-tie (self-intersecting): `sign` for the grid beside it
    was a GEOS traceback (TopologyException, intersecting the neighbour with the sign's view) and `map` published the
    bow-tie; both now refuse the plan in one line naming the grid and the fix, and write nothing."""
    _font_or_skip()
    plan = town_plan()
    grids = plan.layers["grids"].copy()
    i = int(np.flatnonzero(grids["grid_code"] == A2)[0])
    x0, y0, x1, y1 = grids.geometry.iloc[i].bounds
    geoms = grids.geometry.to_numpy().copy()
    geoms[i] = shapely.Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1)])
    grids = grids.set_geometry(gpd.GeoSeries(geoms, crs=grids.crs))
    path = tmp_path / "plan.gpkg"
    plan.write(path)
    grids.to_file(path, layer="grids", driver="GPKG")  # as a GIS saves the layer edited in place (a plan mends on write)
    for command in (["sign", str(path), "--grid", A1, "--out", str(tmp_path / "signs")],
                    ["sign", str(path), "--community", CODE_A, "--out", str(tmp_path / "maps")],
                    ["map", str(path), "--out", str(tmp_path / "site"), "--tiles", "none"]):
        assert main(command) == 2, command
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert err.startswith("gridgeo: error: grids: 1 grid has an invalid geometry") and A2 in err, err
        assert "Fix Geometries" in err
    assert not any((tmp_path / d).exists() for d in ("signs", "maps", "site"))


def test_a_missing_phone_and_a_missing_supervision_phone_are_said_before_the_public_sees_them(tmp_path, capsys):
    """A roster row without a phone, and signs with no supervision phone (no --supervision-phone, no 督导员 row with a
    phone for their community), were printed and published with "—" in silence: an office learnt of it from the
    printed boards. `map` and `sign` say so, naming the rows and the communities and the fix; the rows with phones
    and the communities with a supervisor are not named."""
    _font_or_skip()
    path = tmp_path / "plan.gpkg"
    town_plan().write(path)
    staff = town_roster()
    staff.loc[staff["name"] == "陈刚", "phone"] = ""
    roster = tmp_path / "staff.csv"
    staff.to_csv(roster, index=False)
    assert main(["map", str(path), "--out", str(tmp_path / "site"), "--roster", str(roster), "--tiles", "none"]) == 0
    err = capsys.readouterr().err
    assert "1 person without a phone (line 6 陈刚); shown with no phone — add the phone numbers" in err, err
    assert "王芳" not in err and "supervision" not in err
    signs = ["sign", str(path), "--grid", f"{CODE_A}001", "--grid", f"{CODE_B}001", "--roster", str(roster), "--format", "png"]
    assert main([*signs, "--out", str(tmp_path / "signs")]) == 0
    err = capsys.readouterr().err
    assert f"the signs of 1 community ({CODE_B}) show no supervision phone" in err and "--supervision-phone PHONE" in err
    assert main([*signs, "--out", str(tmp_path / "signs2"), "--supervision-phone", "12345"]) == 0
    assert "supervision phone" not in capsys.readouterr().err


def _tree(folder):
    """Every file under ``folder`` with its bytes and modification time (to see that nothing was touched)."""
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.rglob("*")) if p.is_file()}


def test_map_and_sign_refuse_an_existing_out_before_reading_any_input(tmp_path, capsys, monkeypatch):
    """`gridgeo map`/`sign` read the plan, the roster and the streets before refusing an existing --out (minutes
    on a city's plan, then "exists"); they refuse it first, as partition and export do: a plan that is not there
    beside an existing --out gives the "exists" error, nothing is read, and the existing output is left as it was."""
    from gridgeo.plan import Plan

    path = tmp_path / "plan.gpkg"
    town_plan().write(path)
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("an earlier site", encoding="utf-8")
    signs = tmp_path / "signs"
    signs.mkdir()
    for name in (f"{A1}.pdf", f"{CODE_A}.pdf", "signs.pdf"):
        (signs / name).write_bytes(b"%PDF an earlier sign")
    before = {"site": _tree(site), "signs": _tree(signs)}
    reads = []
    real_read = Plan.read.__func__
    monkeypatch.setattr(Plan, "read", classmethod(lambda cls, *a, **k: reads.append(a) or real_read(cls, *a, **k)))
    missing = str(tmp_path / "no_such_plan.gpkg")
    no_roster = str(tmp_path / "no_such_staff.csv")
    cases = [
        (["map", missing, "--out", str(site), "--tiles", "none"], site),
        (["map", str(path), "--out", str(site), "--tiles", "none", "--roster", no_roster], site),
        (["sign", missing, "--grid", A1, "--out", str(signs)], signs / f"{A1}.pdf"),
        (["sign", missing, "--community", CODE_A, "--out", str(signs)], signs / f"{CODE_A}.pdf"),
        (["sign", missing, "--all", "--one-file", "--out", str(signs)], signs / "signs.pdf"),
        # --all: the files are known from the plan's codes; the roster is not read before they are checked
        (["sign", str(path), "--all", "--roster", no_roster, "--out", str(signs)], signs / f"{A1}.pdf"),
    ]
    for args, exists in cases:
        assert main(args) == 2, args
        err = capsys.readouterr().err
        assert err.strip() == f"gridgeo: error: {exists} exists; pass --force to replace it", args
    assert len(reads) == 1  # the plan of `sign --all` only: its codes name the files
    assert {"site": _tree(site), "signs": _tree(signs)} == before
    # export likewise: the "exists" error before the plan is read
    assert main(["export", missing, "--format", "geojson", "--out", str(site)]) == 2
    assert capsys.readouterr().err.strip() == f"gridgeo: error: {site} exists; pass --force to replace it"
    # a file given as the folder of community maps is one line, not a FileExistsError traceback
    from gridgeo.maps.sign import write_community_maps

    with pytest.raises(InputError, match="is a file; give a folder for the community maps"):
        write_community_maps(town_plan(), signs / "signs.pdf", communities=[CODE_A])
    assert {"site": _tree(site), "signs": _tree(signs)} == before


def test_sign_out_named_like_a_file_is_refused_not_made_a_folder(tmp_path, capsys):
    """`gridgeo sign plan --grid X --out sign.png` made a folder named sign.png holding X.pdf and said "1 sign written
    to sign.png": the user looked for a PNG. An --out ending like a file is one line naming the folder to give and
    --format png, before the plan is read; nothing is written."""
    path = tmp_path / "plan.gpkg"
    town_plan().write(path)
    out = tmp_path / "sign.png"
    assert main(["sign", str(path), "--grid", A1, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"gridgeo: error: --out {out} names a file; --out is the folder") and "--format png" in err
    assert f"--out {tmp_path / 'sign'}" in err and "\n" not in err
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["plan.gpkg"]
    from gridgeo.maps.sign import write_community_maps

    with pytest.raises(InputError, match="names a file; --out is the folder the community maps are written into"):
        write_community_maps(town_plan(), tmp_path / "maps.pdf", communities=[CODE_A])
    assert not (tmp_path / "maps.pdf").exists()


def test_report_refuses_a_bad_roster_before_printing_anything(tmp_path, capsys):
    """`gridgeo report plan.gpkg --roster staff.xlsx > report.txt` printed the whole quality table, then refused the
    roster (exit 2): a half-written report. The roster is read first; the table follows only with it."""
    path = tmp_path / "plan.gpkg"
    town_plan().write(path)
    bad = tmp_path / "staff.xlsx"
    bad.write_bytes(b"PK\x03\x04 a spreadsheet")
    assert main(["report", str(path), "--roster", str(bad)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "must be a CSV file" in err
    staff = tmp_path / "staff.csv"
    town_roster().to_csv(staff, index=False)
    assert main(["report", str(path), "--roster", str(staff)]) == 0
    out = capsys.readouterr().out
    assert "in range" in out and out.index("in range") < out.index(A1[:12])


def test_a_long_community_name_is_cut_in_the_title_of_its_printed_map():
    """The title of the printed community map (网格示意图) was drawn as it was: a 200-character name ran off both
    sides of the page. It is cut with "…" and keeps the words after the name."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from gridgeo.maps.sign import community_figure

    _font_or_skip()
    plan = town_plan()
    plan.communities.loc[plan.communities["code"] == CODE_A, "name"] = "长" * 200
    fig = community_figure(plan, CODE_A)
    title = next(t for t in fig.texts if t.get_text().startswith("长长"))
    box = title.get_window_extent(FigureCanvasAgg(fig).get_renderer())
    assert title.get_text().endswith("… 社区网格图") and "\n" not in title.get_text()
    assert box.x0 >= 0.03 * fig.bbox.width and box.x1 <= 0.97 * fig.bbox.width
    short = community_figure(town_plan(), CODE_A)  # a name that fits is not cut
    assert any(t.get_text() == "民族街社区 社区网格图" for t in short.texts)


def test_bidirectional_controls_in_names_are_dropped_from_signs_and_the_map():
    """A roster name holding RLO (U+202E, right-to-left override) printed the rest of its line backwards, the
    phone number after it too ("R\\u202eTL 135-5550-1375" came out as "R5731-0555-531 LT"), on the printed map, the
    signs and in the browser: the controls are dropped, the rest of the name kept."""
    from gridgeo.maps.sign import community_figure, sign_figure

    _font_or_skip()
    plan = town_plan()
    plan.communities.loc[plan.communities["code"] == CODE_A, "name"] = "民族\u2067街\u202e社区"
    staff = pd.DataFrame({"name": ["R\u202eTL"], "phone": ["135-5550-1375"], "role": "网格员", "grid_code": A1,
                          "duties": ["巡查\u202d"]})
    controls = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
    for fig in (sign_figure(plan, A1, roster=staff), community_figure(plan, CODE_A, roster=staff)):
        texts = [t.get_text() for t in fig.texts] + [t.get_text() for ax in fig.axes for t in ax.texts]
        assert not any(set(s) & controls for s in texts), [s for s in texts if set(s) & controls]
        assert any("RTL" in s for s in texts) and any("民族街社区" in s for s in texts)
    page = _html(grid_map(plan, roster=read_roster(staff, plan), tiles="none"))
    assert not set(page) & controls and "RTL" in page and "民族街社区" in page


def _village_plan():
    """The town with its community B a village (村, kind rural) named 王湾村."""
    plan = town_plan()
    c = plan.communities.copy()
    c.loc[c["code"] == CODE_B, ["kind", "name"]] = ["rural", "王湾村"]
    return type(plan)({**plan.layers, "communities": c}, plan.metadata)


def test_a_village_roster_with_village_headers_and_its_group_leaders(tmp_path):
    """A county office's roster names the village's code under 村代码 (as its village layer does) and its group
    leaders 村民小组长: the first was dropped ("neither grid_code nor community_code"), the second refused as an
    unknown role. Both are read; the leader is the village's resident-group leader (居民小组长's role)."""
    path = tmp_path / "staff.csv"
    path.write_text(f"姓名,手机,职务,村代码\n王大山,138,网格长,{CODE_B}\n陈志,139,村民小组长,{CODE_B}\n", encoding="utf-8")
    staff = read_roster(path, _village_plan()).staff.sort_values("name")
    assert staff[["name", "role", "community_code"]].values.tolist() == [
        ["王大山", "grid_leader", CODE_B], ["陈志", "resident_group_leader", CODE_B]]


def test_a_village_grid_is_signed_and_mapped_as_a_village_s(tmp_path):
    """The sign of a village's grid named its responsible unit 王湾村居民委员会 (a residents' committee: a village
    has a villagers' committee, 村民委员会), its place 所属社区 and its group leader 居民小组长; the popup and the
    printed village map said 社区 too, and the English village map joined its staff with a Chinese "；". A village's
    words now say 村 (English: village), an urban community's stay as they were."""
    from gridgeo.maps.sign import community_figure, sign_figure

    plan = _village_plan()
    roster = read_roster(pd.DataFrame([
        {"name": "王大山", "phone": "138", "role": "网格长", "community_code": CODE_B, "grid_code": B1},
        {"name": "王小芳", "phone": "137", "role": "网格员", "community_code": CODE_B, "grid_code": B1},
        {"name": "陈志", "phone": "139", "role": "村民小组长", "community_code": CODE_B, "grid_code": ""},
        {"name": "周红", "phone": "136", "role": "居民小组长", "community_code": CODE_A, "grid_code": ""}]), plan)
    popups = {f["properties"]["grid_code"]: f["properties"]["popup"]
              for f in _geojson_layers(grid_map(plan, roster=roster, tiles="none"))["网格 (6)"]["features"]}
    assert "<th>所属村</th><td>王湾村" in popups[B1] and "<th>所属社区</th><td>民族街社区" in popups[A1]
    en = {f["properties"]["grid_code"]: f["properties"]["popup"] for f in next(
        v for k, v in _geojson_layers(grid_map(plan, roster=roster, tiles="none", lang="en")).items() if k.startswith("grids"))["features"]}
    assert "<th>village</th>" in en[B1] and "<th>community</th>" in en[A1]
    leader_grid = str(roster.staff.loc[roster.staff["name"] == "陈志", "grid_code"].iloc[0])
    assert "村民小组长" in popups[leader_grid] and "villager-group leader" in en[leader_grid]
    _font_or_skip()
    texts = [t.get_text() for t in sign_figure(plan, leader_grid, roster=roster).texts]
    assert "王湾村村民委员会" in texts and "所属村:" in texts and "村民小组长" in texts
    assert not any("居民" in t or "社区" in t for t in texts)
    texts = [t.get_text() for t in sign_figure(plan, leader_grid, roster=roster, lang="en").texts]
    assert "王湾村 villagers' committee" in texts and "village:" in texts and "villager-group leader" in texts
    urban = [t.get_text() for t in sign_figure(plan, A1, roster=roster).texts]
    assert "民族街社区居民委员会" in urban and "所属社区:" in urban
    village_map = community_figure(plan, CODE_B, roster=roster, lang="en")
    assert "王湾村 village grid map" in [t.get_text() for t in village_map.texts]
    assert any(f"{B1}  grid leader 王大山 138; grid worker 王小芳 137" == t.get_text() for t in village_map.texts)
    assert "village" in [t.get_text() for t in village_map.axes[0].get_legend().get_texts()]
    zh = community_figure(plan, CODE_B, roster=roster)
    assert "王湾村 村网格图" in [t.get_text() for t in zh.texts]
    assert "民族街社区 社区网格图" in [t.get_text() for t in community_figure(plan, CODE_A, roster=roster).texts]
    index = re.sub(r"\\u([0-9a-fA-F]{4})", lambda x: chr(int(x.group(1), 16)),
                   publish_map(plan, tmp_path / "site", tiles="none", pages="community")[0].read_text(encoding="utf-8"))
    assert index.count("村网格图 →") == 1 and index.count("社区网格图 →") == 1  # the index page links each by its kind


def test_a_sign_without_bounding_roads_says_why_not_a_bare_dash(plan):
    """A rebalanced plan (and any plan divided without streets) has no streets layer: its signs printed 四至道路: "—",
    which a reader cannot understand. The sign says the roads were not given; with streets, a grid no named street
    runs along says so (B2: only an unnamed street and the end of 胜利街 touch it)."""
    from gridgeo.maps.sign import sign_figure

    _font_or_skip()

    def roads_line(p, code, **kw):
        fig = sign_figure(p, code, **kw)
        label = next(t for t in fig.texts if t.get_text() == f"{kw.get('lang') == 'en' and 'bounding roads' or '四至道路'}:")
        return next(t.get_text() for t in fig.texts if t.get_position()[1] == label.get_position()[1] and t is not label)

    bare = gridgeo.Plan({k: v for k, v in plan.layers.items() if k != "streets"}, plan.metadata)
    assert roads_line(bare, A1) == "四至道路未提供"
    assert roads_line(bare, A1, lang="en") == "bounding roads not given"
    assert roads_line(plan, B2) == "四周无具名道路"
    assert roads_line(plan, A1) == "建设路、沿江大道"


def test_every_web_map_has_one_scale_bar_in_metres_only(tmp_path, plan):
    """Chinese public maps are metric: `Plan.explore`'s scale bar showed feet and miles beside metres (folium's
    ``control_scale`` writes a bare ``L.control.scale()``). Every web map gridgeo writes (the grid map, a split site's
    index page, `Plan.explore`; the change map in test_rebalance) has one scale control, metric only."""
    pages = publish_map(plan, tmp_path / "site", tiles="none", pages="community")
    explore = plan.explore().get_root().render()
    for page in [grid_map(plan, tiles="none").get_root().render(), explore, *(p.read_text(encoding="utf-8") for p in pages)]:
        calls = re.findall(r"L\.control\.scale\(([^)]*)\)", page)
        assert len(calls) == 1 and "imperial: false" in calls[0], calls
    assert len(pages) == 3
    assert plan.explore(control_scale=False).get_root().render().count("L.control.scale(") == 0


def _narrow_town(width_m: float = 10.0, n: int = 14):
    """One community of ``n`` long, thin grids side by side (``width_m`` wide, 400 m long), as a street of row
    houses divided house row by house row."""
    from conftest import METRIC_EPSG, rect
    from gridgeo.plan import Plan

    communities = gpd.GeoDataFrame({"code": [CODE_A], "name": ["长巷社区"]}, geometry=[rect(0, 0, n * width_m, 400)],
                                   crs=METRIC_EPSG)
    grids = gpd.GeoDataFrame({"grid_code": [f"{CODE_A}{i + 1:03d}" for i in range(n)], "community_code": CODE_A,
                              "households": 350, "buildings": 4},
                             geometry=[rect(i * width_m, 0, (i + 1) * width_m, 400) for i in range(n)], crs=METRIC_EPSG)
    return Plan({"communities": communities.to_crs(4490), "grids": grids.to_crs(4490)},
                {"stage": "partition", "metric_crs": f"EPSG:{METRIC_EPSG}"})


@pytest.mark.parametrize(("width_m", "paper"), [(10.0, "A4"), (25.0, "A4"), (6.0, "A3")])
def test_the_grid_labels_of_a_sign_never_overlap_on_narrow_grids(width_m, paper):
    """Narrow grids side by side printed their neighbours' codes over each other and under the grid's own code
    ("004003005"). Each label now stands where its box meets no other (measured in the drawn figure), along its grid;
    one that fits nowhere is left out, and the grid's own code is always there."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from gridgeo.maps.sign import sign_figure

    _font_or_skip()
    town = _narrow_town(width_m)
    codes = town.grids["grid_code"].tolist()
    code = codes[len(codes) // 2]
    fig = sign_figure(town, code, paper=paper)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    ax = next(a for a in fig.axes if a.texts)
    own = next(t for t in ax.texts if t.get_text() == code)
    neighbours = [t for t in ax.texts if t.get_text() in {c[-3:] for c in codes if c != code}]
    boxes = [own.get_bbox_patch().get_window_extent(renderer)] + [t.get_window_extent(renderer) for t in neighbours]
    assert len(neighbours) >= 2, [t.get_text() for t in ax.texts]
    assert len({t.get_text() for t in neighbours}) == len(neighbours)  # each at most once
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not a.overlaps(b), (a, b)
    axes_box = ax.get_window_extent(renderer)
    assert all(axes_box.x0 <= b.x0 and b.x1 <= axes_box.x1 and axes_box.y0 <= b.y0 and b.y1 <= axes_box.y1 for b in boxes)
