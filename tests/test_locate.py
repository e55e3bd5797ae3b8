"""Point-to-grid look-up (gridgeo.locate, `gridgeo locate`): same answers as sjoin, edges, reasons, roster."""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import shapely
from shapely import box

import gridgeo
from gridgeo import InputError
from gridgeo.cli import main
from gridgeo.crs import wgs84_to_bd09, wgs84_to_gcj02
from gridgeo.datasets import get_path, sample_town_layers
from gridgeo.locate import Locator, locate_file
from gridgeo.plan import Plan

REPO = Path(__file__).resolve().parents[1]
STAFF = REPO / "data" / "sample_town_staff.csv"
C = "420103001001"


@pytest.fixture(scope="module")
def plan_path(tmp_path_factory) -> Path:
    sample = get_path("sample_town")
    layers = {name: (sample, name) for name in sample_town_layers()}
    plan = gridgeo.divide(layers.pop("communities"), **layers)
    path = tmp_path_factory.mktemp("locate_plan") / "plan.gpkg"
    plan.to_file(path)
    return path


@pytest.fixture(scope="module")
def plan(plan_path) -> Plan:
    return gridgeo.read_plan(plan_path)


def _values(s) -> list:
    """A column as plain values, missing as None (categorical, object or string dtype alike)."""
    return [None if pd.isna(v) else str(v) for v in s]


def _random_points(plan: Plan, n: int, seed: int = 0) -> pd.DataFrame:
    x0, y0, x1, y1 = plan.grids.total_bounds
    rng = np.random.default_rng(seed)
    pad = 0.002
    return pd.DataFrame({"id": np.arange(n), "lon": rng.uniform(x0 - pad, x1 + pad, n), "lat": rng.uniform(y0 - pad, y1 + pad, n)})


def _sjoin(points: pd.DataFrame, layer: gpd.GeoDataFrame, code: str) -> pd.Series:
    pts = gpd.GeoDataFrame(points[["id"]], geometry=gpd.points_from_xy(points["lon"], points["lat"]), crs=4490)
    joined = gpd.sjoin(pts, layer[[code, layer.geometry.name]], predicate="intersects", how="left")
    # the smallest code among those covering a point (sjoin gives every one of them)
    return joined[code].sort_values(na_position="last").groupby(level=0).first().reindex(points.index)


def test_answers_equal_sjoin_for_every_layer(plan):
    pts = _random_points(plan, 20_000)
    got = gridgeo.locate(pts, plan)
    assert len(got) == len(pts) and got.index.equals(pts.index) and got["id"].tolist() == pts["id"].tolist()
    for layer, code in (("grids", "grid_code"), ("subgrids", "subgrid_code")):
        want = _sjoin(pts, plan.layers[layer], code)
        assert _values(got[code]) == _values(want)
    want_comm = _sjoin(pts, plan.grids, "community_code")
    assert _values(got["community_code"]) == _values(want_comm)
    located = got["grid_code"].notna()
    assert 0 < located.mean() < 1
    assert (got.loc[~located, "reason"].astype(str).str.contains("grid")).all()
    assert got.loc[located, "reason"].isna().all()
    names = dict(zip(plan.communities["code"], plan.communities["name"], strict=True))
    assert (got.loc[located, "community_name"].astype(str) == got.loc[located, "community_code"].astype(str).map(names)).all()


def test_answer_does_not_depend_on_the_plan_row_order(plan):
    pts = _random_points(plan, 5_000, seed=1)
    shuffled = Plan({k: v.sample(frac=1.0, random_state=3) for k, v in plan.layers.items()}, plan.metadata)
    a, b = gridgeo.locate(pts, plan), gridgeo.locate(pts, shuffled)
    pd.testing.assert_frame_equal(a.astype(str), b.astype(str))


def _two_grids() -> Plan:
    """Two grids side by side sharing the edge x = 114.301, and their small grids (codes given in reverse)."""
    grids = gpd.GeoDataFrame({"grid_code": [f"{C}002", f"{C}001"], "community_code": [C, C], "kind": ["dedicated", "base"]},
                             geometry=[box(114.301, 30.55, 114.302, 30.551), box(114.300, 30.55, 114.301, 30.551)], crs=4490)
    subgrids = gpd.GeoDataFrame({"subgrid_code": [f"{C}00201", f"{C}00102", f"{C}00101"],
                                 "grid_code": [f"{C}002", f"{C}001", f"{C}001"], "community_code": [C] * 3},
                                geometry=[box(114.301, 30.55, 114.302, 30.551), box(114.300, 30.5505, 114.301, 30.551),
                                          box(114.300, 30.55, 114.301, 30.5505)], crs=4490)
    communities = gpd.GeoDataFrame({"code": [C, "420103001002"], "name": ["东湖社区", "西湖社区"]},
                                   geometry=[box(114.300, 30.55, 114.302, 30.551), box(114.310, 30.55, 114.311, 30.551)], crs=4490)
    return Plan({"communities": communities, "grids": grids, "subgrids": subgrids})


def test_points_on_shared_edges_get_the_smallest_code():
    plan = _two_grids()
    pts = pd.DataFrame({"lon": [114.301, 114.301, 114.3005, 114.3015, 114.300],
                        "lat": [30.5502, 30.5505, 30.5505, 30.5505, 30.55]})
    got = gridgeo.locate(pts, plan)
    assert got["grid_code"].astype(str).tolist() == [f"{C}001"] * 3 + [f"{C}002", f"{C}001"]
    # on the corner of 001's two small grids and 002: 001's smallest small grid covering it
    assert got["subgrid_code"].astype(str).tolist() == [f"{C}00101", f"{C}00101", f"{C}00101", f"{C}00201", f"{C}00101"]
    assert got["dedicated_grid_code"].astype(object).tolist()[3] == f"{C}002"
    assert pd.isna(got["dedicated_grid_code"].iloc[0])


def test_outside_and_bad_rows_get_a_reason_and_are_never_dropped():
    plan = _two_grids()
    pts = pd.DataFrame({"lon": ["114.3005", "abc", "", None, "200", "114.3105", "113.0", " 114.3015 "],
                        "lat": ["30.5505", "30.55", "30.55", "30.55", "30.55", "30.5505", "30.0", "30.5505"],
                        "note": list("abcdefgh")})
    got = gridgeo.locate(pts, plan)
    assert got["note"].tolist() == list("abcdefgh")
    assert _values(got["reason"]) == [
        None, "non-numeric coordinate", "missing coordinate", "missing coordinate",
        "coordinate out of range (longitude -180..180, latitude -90..90)",
        "in community 420103001002 but in no grid", "outside every grid", None]
    assert got["grid_code"].notna().tolist() == [True, False, False, False, False, False, False, True]


def test_coordinates_as_typed_in_chinese_spreadsheets_are_read(tmp_path, capsys):
    """Full-width digits and punctuation, a decimal comma, a degree sign, a hemisphere letter or word, degrees and
    minutes were each a "non-numeric coordinate"; they are read (S and W negate); text still unreadable stays a bad
    row, in memory and streamed from a CSV alike."""
    plan = _two_grids()
    lon = ["１１４．３００５", "114，3005", "114.3005°", "114.3005°E", "东经114.3005", "114°18′1.8″E", "114.3005°W",
           "114.3x", "114°18′E°"]
    lat = ["３０．５５０５", "30，5505", "30.5505°", "30.5505°N", "北纬30.5505", "30°33′1.8″", "30.5505°N",
           "30.5505", "30.5505"]
    got = gridgeo.locate(pd.DataFrame({"lon": lon, "lat": lat}), plan)
    assert _values(got["grid_code"]) == [f"{C}001"] * 6 + [None] * 3
    assert _values(got["reason"])[6:] == ["outside every grid", "non-numeric coordinate", "non-numeric coordinate"]
    src = tmp_path / "points.csv"
    pd.DataFrame({"lon": lon, "lat": lat}).to_csv(src, index=False, encoding="utf-8")
    counts = locate_file(src, plan, tmp_path / "answer.csv")
    assert counts["located"] == 6 and counts["bad"] == 2
    path = tmp_path / "plan.gpkg"
    plan.write(path)
    assert main(["locate", str(path), str(src), "--out", str(tmp_path / "answer.csv"), "--force"]) == 0
    assert ("gridgeo: warning: coordinates that read as no number (line 9: '114.3x', line 10: '114°18′E°'): bad rows "
            "(reason 'non-numeric coordinate'; a hemisphere letter of the other axis, a latitude '30.59E', is one too); "
            "fix those values") in capsys.readouterr().err


def test_a_point_at_0_0_is_said_to_have_no_position():
    """0, 0 is what a GPS without a fix, or a form whose blanks are written as 0, sends: it was "outside every grid",
    a reason that sends a dispatcher looking for the grid; it is a bad row with its own reason, counted as bad."""
    plan = _two_grids()
    pts = pd.DataFrame({"lon": [0, 114.3005, 0.0, 0], "lat": [0, 30.5505, 0.0, 30.5505]})
    got = gridgeo.locate(pts, plan)
    assert _values(got["reason"]) == [
        "coordinates 0, 0 (a GPS without a fix, or blanks written as 0): no position", None,
        "coordinates 0, 0 (a GPS without a fix, or blanks written as 0): no position", "outside every grid"]
    assert got["grid_code"].notna().tolist() == [False, True, False, False]
    text = pd.DataFrame({"lon": ["0", "0.0"], "lat": ["0", "-0"]})  # as a CSV gives them
    assert _values(gridgeo.locate(text, plan)["reason"]) == [
        "coordinates 0, 0 (a GPS without a fix, or blanks written as 0): no position"] * 2


def test_gcj02_and_bd09_points_are_converted_first():
    plan = _two_grids()
    lon, lat = np.array([114.3005, 114.3015]), np.array([30.5505, 30.5505])
    for datum, forward in (("gcj02", wgs84_to_gcj02), ("bd09", wgs84_to_bd09)):
        x, y = forward(lon, lat)
        shifted = gridgeo.locate(pd.DataFrame({"lon": x, "lat": y}), plan, coords=datum)
        assert shifted["grid_code"].astype(str).tolist() == [f"{C}001", f"{C}002"]
        as_wgs = gridgeo.locate(pd.DataFrame({"lon": x, "lat": y}), plan)
        assert as_wgs["grid_code"].isna().all()  # 100-700 m off: outside these 100 m grids


def test_geodataframe_points_and_their_errors():
    plan = _two_grids()
    pts = gpd.GeoDataFrame({"n": [1, 2]}, geometry=[shapely.Point(114.3015, 30.5505), None], crs=4490)
    got = gridgeo.locate(pts, plan)
    assert got["grid_code"].astype(object).tolist()[0] == f"{C}002"
    assert got["reason"].astype(object).tolist()[1] == "missing coordinate"
    with pytest.raises(InputError, match="other than points"):
        gridgeo.locate(gpd.GeoDataFrame(geometry=[box(0, 0, 1, 1)], crs=4490), plan)
    with pytest.raises(InputError, match="no lon column"):
        gridgeo.locate(pd.DataFrame({"a": [1]}), plan)
    with pytest.raises(InputError, match="coords='utm'"):
        gridgeo.locate(pd.DataFrame({"lon": [1.0], "lat": [1.0]}), plan, coords="utm")
    with pytest.raises(InputError, match="no grids"):
        gridgeo.locate(pd.DataFrame({"lon": [1.0], "lat": [1.0]}), Plan({"communities": plan.communities}))


def test_roster_gives_each_point_its_worker(plan):
    pts = _random_points(plan, 2_000, seed=2)
    got = gridgeo.locate(pts, plan, roster=STAFF)
    # a roster of community codes alone (the bundled one): each point goes to the grid worker (网格员) the map and
    # the signs place in its grid, the person its sign names, not to a leader of the whole community
    from gridgeo.maps.roster import read_roster as place_roster

    placed = place_roster(STAFF, plan).staff
    located = got["grid_code"].notna()

    def first(rows, ranks):  # the grid's worker before its leader; a community's leader before its workers
        return rows.assign(r=rows["role"].map(lambda k: ranks.get(k, 9))).sort_values(["r", "name", "phone"])["name"].iloc[0]

    n_own = 0
    for (code, comm), answer in got[located].groupby([got["grid_code"].astype(str), got["community_code"].astype(str)]):
        own = placed[(placed["grid_code"] == code) & placed["role"].isin(["grid_worker", "grid_leader"])]
        want = (first(own, {"grid_worker": 0, "grid_leader": 1}) if len(own) else
                first(placed[placed["community_code"] == comm], {"grid_leader": 0, "grid_worker": 1}))
        n_own += bool(len(own))
        assert set(answer["worker"].astype(str)) == {want}, code
    assert n_own >= 10  # most grids have their own worker, placed from the community's list
    assert got.loc[~located, "worker"].isna().all()
    assert "网格员" in set(got.loc[located, "worker_role"].astype(str))
    # a grid-level roster: the grid's own worker, and the grid worker before the leader
    code = str(got.loc[located, "grid_code"].iloc[0])
    roster = pd.DataFrame({"name": ["乙", "甲"], "phone": ["2", "1"], "role": ["网格长", "网格员"], "grid_code": [code, code]})
    one = gridgeo.locate(pts[located.to_numpy()].head(50), plan, roster=roster)
    mine = one["grid_code"].astype(str) == code
    assert one.loc[mine, "worker"].astype(str).eq("甲").all() and one.loc[~mine, "worker"].isna().all()
    with pytest.raises(InputError, match="needs a grid_code or community_code"):
        gridgeo.locate(pts, plan, roster=pd.DataFrame({"name": ["a"], "phone": ["1"]}))


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_locate_file_streams_in_chunks_with_the_same_answer(plan, tmp_path, suffix):
    pts = _random_points(plan, 3_000, seed=4)
    pts["lon"] = pts["lon"].astype(str)
    pts.loc[5, "lon"] = "not a number"
    pts["code"] = "007"  # text columns keep leading zeros
    src = tmp_path / f"points{suffix}"
    pts.to_csv(src, index=False) if suffix == ".csv" else pts.to_parquet(src, index=False)
    out = tmp_path / f"answer{suffix}"
    counts = locate_file(src, plan, out, chunk_rows=700)
    back = pd.read_csv(out, dtype=str, keep_default_na=False, na_values=[""]) if suffix == ".csv" else pd.read_parquet(out)
    assert len(back) == len(pts) == counts["rows"]
    assert back["code"].tolist() == ["007"] * len(pts)
    assert back["id"].astype(int).tolist() == pts["id"].tolist()
    whole = gridgeo.locate(pts, plan)
    assert _values(back["grid_code"]) == _values(whole["grid_code"])
    assert back.loc[5, "reason"] == "non-numeric coordinate"
    assert counts["bad"] == 1 and counts["located"] + counts["outside"] + counts["bad"] == len(pts)


def test_cli_locate(plan_path, tmp_path, capsys):
    src = tmp_path / "events.csv"
    x, y = wgs84_to_gcj02(np.array([113.49, 0.0]), np.array([30.838, 0.0]))
    pd.DataFrame({"事件": ["a", "b"], "经度": x, "纬度": y}).to_csv(src, index=False)
    out = tmp_path / "routed.csv"
    assert main(["locate", str(plan_path), str(src), "--out", str(out), "--coords", "gcj02", "--roster", str(STAFF)]) == 0
    assert "2 points: 1 in a grid" in capsys.readouterr().out
    back = pd.read_csv(out, dtype=str)
    assert back["grid_code"].notna().tolist() == [True, False] and back["worker"].notna().tolist() == [True, False]
    assert main(["locate", str(plan_path), str(src), "--out", str(out)]) == 2
    assert "exists; pass --force" in capsys.readouterr().err
    assert main(["locate", str(plan_path), str(src), "--out", str(src), "--force"]) == 2
    assert "also an input" in capsys.readouterr().err
    assert main(["locate", str(plan_path), str(src), "--out", str(tmp_path / "x.csv"), "--lon-col", "nope"]) == 2
    assert "lon column 'nope' not found" in capsys.readouterr().err
    assert not (tmp_path / "x.csv").exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes("事件,经度,纬度\n火警,113.49,30.838\n".encode("gbk"))
    assert main(["locate", str(plan_path), str(gbk), "--out", str(tmp_path / "g.csv"), "--encoding", "utf-8"]) == 2
    assert "give its encoding" in capsys.readouterr().err  # told it is UTF-8: refused, not misread
    assert main(["locate", str(plan_path), str(gbk), "--out", str(tmp_path / "g.csv"), "--encoding", "gbk"]) == 0
    assert "(GB18030, as the points file)" in capsys.readouterr().out
    assert pd.read_csv(tmp_path / "g.csv", dtype=str, encoding="gb18030")["事件"].tolist() == ["火警"]


def test_locator_is_reusable_and_parquet_output_keeps_types(plan, tmp_path):
    loc = Locator(plan)
    pts = _random_points(plan, 1_000, seed=5)
    a = gridgeo.locate(pts, loc)
    b = loc.locate(pts)
    pd.testing.assert_frame_equal(a, b)
    src = tmp_path / "p.parquet"
    pts.to_parquet(src)
    locate_file(src, loc, tmp_path / "o.parquet")
    schema = pq.read_schema(tmp_path / "o.parquet")
    assert str(schema.field("lon").type) == "double" and str(schema.field("grid_code").type) == "string"


def test_a_geoparquet_of_events_answered_as_csv_keeps_its_geometry_as_wkt(tmp_path):
    """A GeoParquet file of events (its WKB geometry column beside lon/lat) answered as CSV failed with a traceback,
    "pyarrow.lib.ArrowInvalid: Invalid UTF8 payload": a binary column is written as text, a geometry as WKT."""
    src = tmp_path / "events.parquet"
    gpd.GeoDataFrame({"id": [1, 2], "lon": [114.3015, 114.5], "lat": [30.5505, 30.5], "blob": [b"\x00\xff", None]},
                     geometry=[shapely.Point(114.3015, 30.5505), None], crs=4326).to_parquet(src)
    counts = locate_file(src, _two_grids(), tmp_path / "out.csv")
    back = pd.read_csv(tmp_path / "out.csv", dtype=str, keep_default_na=False)
    assert counts["located"] == 1 and back["grid_code"].tolist() == [f"{C}002", ""]
    assert back["geometry"].tolist() == ["POINT (114.3015 30.5505)", ""] and back["blob"].tolist() == ["00ff", ""]


def test_points_given_as_a_wkt_or_geoparquet_geometry_column(tmp_path):
    """Events exported by another system as one WKT column (CSV) or as GeoParquet without lon/lat columns were
    refused: "no lon column among ['id', 'WKT']; name it with --lon-col", which no --lon-col could mend."""
    plan = _two_grids()
    src = tmp_path / "events.csv"
    src.write_text('id,WKT\n1,"POINT (114.3015 30.5505)"\n2,"POINT (114.5 30.5)"\n3,\n4,junk\n5,POINT EMPTY\n', encoding="utf-8")
    counts = locate_file(src, plan, tmp_path / "out.csv")
    back = pd.read_csv(tmp_path / "out.csv", dtype=str, keep_default_na=False)
    assert back["grid_code"].tolist() == [f"{C}002", "", "", "", ""]
    assert back["reason"].tolist() == ["", "outside every grid", "missing coordinate", "non-numeric coordinate",
                                       "missing coordinate"]
    assert (counts["located"], counts["outside"], counts["bad"]) == (1, 1, 3)
    frame = gridgeo.locate(pd.read_csv(src), plan)  # a DataFrame alike
    assert _values(frame["grid_code"]) == [f"{C}002", None, None, None, None]
    geo = tmp_path / "events.parquet"
    gpd.GeoDataFrame({"id": [1, 2]}, geometry=[shapely.Point(114.3005, 30.5502), None], crs=4326).to_parquet(geo)
    locate_file(geo, plan, tmp_path / "geo.csv")
    back = pd.read_csv(tmp_path / "geo.csv", dtype=str, keep_default_na=False)
    assert back["grid_code"].tolist() == [f"{C}001", ""] and back["subgrid_code"].tolist() == [f"{C}00101", ""]
    assert _values(gridgeo.locate(geo, plan)["grid_code"]) == [f"{C}001", None]
    lines = tmp_path / "lines.csv"
    lines.write_text('id,geometry\n1,"POINT (114.3015 30.5505)"\n2,"LINESTRING (0 0, 1 1)"\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"column 'geometry' holds linestring geometries \(row 2\); give points"):
        locate_file(lines, plan, tmp_path / "lines_out.csv")
    with pytest.raises(InputError, match=r"no lon column among \['id', 'note'\].* or give the points as one WKT column"):
        gridgeo.locate(pd.DataFrame({"id": [1], "note": ["x"]}), plan)


def test_a_roster_of_no_one_routes_to_no_one(tmp_path):
    """A roster with its header and no rows (a template not filled in yet) raised "IndexError: index 0 is out of
    bounds for axis 0 with size 0" (a traceback): every point gets its grid and no worker."""
    roster = tmp_path / "staff.csv"
    roster.write_text("name,phone,grid_code\n", encoding="utf-8")
    pts = pd.DataFrame({"lon": [114.3015, 114.5], "lat": [30.5505, 30.5]})
    for given in (roster, pd.DataFrame(columns=["name", "phone", "grid_code"])):
        answer = gridgeo.locate(pts, _two_grids(), roster=given)
        assert _values(answer["grid_code"]) == [f"{C}002", None] and _values(answer["worker"]) == [None, None]
    src = tmp_path / "events.csv"
    pts.to_csv(src, index=False)
    plan_file = tmp_path / "plan.gpkg"
    _two_grids().write(plan_file)
    assert main(["locate", str(plan_file), str(src), "--out", str(tmp_path / "out.csv"), "--roster", str(roster)]) == 0
    back = pd.read_csv(tmp_path / "out.csv", dtype=str, keep_default_na=False)
    assert back["grid_code"].tolist() == [f"{C}002", ""] and back["worker"].tolist() == ["", ""]


@pytest.mark.parametrize(("rows", "match"), [
    ([",138,网格员,{C},"], r"line 2: empty name"),
    (["张三,139,厨师,{C},"], r"line 2: unknown role '厨师'"),
    (["李四,137,网格员,420103001002,{C}001"], r"line 2: grid {C}001 is in community {C}, not 420103001002"),
])
def test_locate_refuses_the_roster_rows_the_map_and_signs_refuse(tmp_path, capsys, rows, match):
    """`gridgeo locate --roster` read the roster with checks of its own: a row with no name was a worker (events routed
    to "" with a phone), an unknown role and a grid in another community than the row's were taken, while `gridgeo map`
    and `sign` refuse the same file. One roster, one verdict: the same one-line error, exit 2, nothing written."""
    header = "name,phone,role,community_code,grid_code\n"
    roster = tmp_path / "staff.csv"
    roster.write_text(header + "\n".join(r.format(C=C) for r in rows) + "\n", encoding="utf-8")
    pts = pd.DataFrame({"lon": [114.3015, 114.3005], "lat": [30.5505, 30.5505]})
    with pytest.raises(InputError, match=match.format(C=C)):
        gridgeo.locate(pts, _two_grids(), roster=roster)
    plan_file, src, out = tmp_path / "plan.gpkg", tmp_path / "events.csv", tmp_path / "out.csv"
    _two_grids().write(plan_file)
    pts.to_csv(src, index=False)
    assert main(["locate", str(plan_file), str(src), "--out", str(out), "--roster", str(roster)]) == 2
    err = capsys.readouterr().err
    assert re.search(match.format(C=C), err) and len(err.strip().splitlines()) == 1 and not out.exists()
    assert main(["sign", str(plan_file), "--all", "--out", str(tmp_path / "signs"), "--roster", str(roster)]) == 2
    assert re.search(match.format(C=C), capsys.readouterr().err)


def test_locate_names_the_roster_rows_whose_code_is_not_in_the_plan(tmp_path, capsys):
    """A roster row naming a grid the plan does not have (a mistyped code) routes no event; `gridgeo map`, `sign` and
    `report` name such rows on stderr, `gridgeo locate --roster` said nothing. It names them now, and still answers."""
    roster = tmp_path / "staff.csv"
    roster.write_text("name,phone,role,community_code,grid_code\n"
                      f"甲,131,网格员,{C},{C}001\n乙,132,网格员,{C},{C}009\n", encoding="utf-8")
    plan_file, src, out = tmp_path / "plan.gpkg", tmp_path / "events.csv", tmp_path / "out.csv"
    _two_grids().write(plan_file)
    pd.DataFrame({"lon": [114.3005], "lat": [30.5505]}).to_csv(src, index=False)
    assert main(["locate", str(plan_file), str(src), "--out", str(out), "--roster", str(roster)]) == 0
    err = capsys.readouterr().err
    assert f"roster {roster}: 1 row names a code not in the plan (line 3 乙: grid {C}009); no point is routed to them" in err
    assert pd.read_csv(out, dtype=str)["worker"].tolist() == ["甲"]
    from gridgeo.locate import Locator

    assert Locator(_two_grids(), roster=roster).roster_unplaced == [f"line 3 乙: grid {C}009"]


def test_a_plan_of_grids_alone_routes_to_its_roster():
    """A plan holding only grids (``subgrids`` and ``communities`` are used when present) routes to its roster, the
    rows checked as the map checks them."""
    two = _two_grids()
    plan = Plan({"grids": two.layers["grids"]})
    roster = pd.DataFrame({"name": ["甲", "乙"], "phone": ["1", "2"], "grid_code": [f"{C}001", ""], "community_code": ["", C]})
    got = gridgeo.locate(pd.DataFrame({"lon": [114.3005, 114.3015], "lat": [30.5505, 30.5505]}), plan, roster=roster)
    assert _values(got["grid_code"]) == [f"{C}001", f"{C}002"] and _values(got["worker"]) == ["甲", "乙"]


def test_a_spreadsheet_roster_is_refused_as_the_map_refuses_it(tmp_path):
    """An Excel roster (.xlsx, a zip) was read by locate as CSV text: "roster: missing column(s) ['name', 'phone'];
    columns: ['pk\\x03\\x04...']"; it is refused as `gridgeo map` refuses it, naming the fix."""
    roster = tmp_path / "staff.xlsx"
    roster.write_bytes(b"PK\x03\x04" + bytes(range(256)))
    with pytest.raises(InputError, match=r"must be a CSV file \(\.csv\); save the spreadsheet as CSV"):
        gridgeo.locate(pd.DataFrame({"lon": [114.3015], "lat": [30.5505]}), _two_grids(), roster=roster)


def test_a_geoparquet_of_events_in_metres_is_read_in_its_crs(tmp_path):
    """A GeoParquet file of events without lon/lat columns, stored in a Gauss-Krüger CRS (EPSG:4547), was read as
    degrees: "coordinate out of range" for every point. Its CRS (the file's geo metadata) is honoured."""
    geo = tmp_path / "events.parquet"
    gpd.GeoDataFrame({"id": [1, 2]}, geometry=[shapely.Point(114.3005, 30.5502), shapely.Point(114.3015, 30.5505)],
                     crs=4490).to_crs(4547).to_parquet(geo)
    locate_file(geo, _two_grids(), tmp_path / "out.csv")
    back = pd.read_csv(tmp_path / "out.csv", dtype=str, keep_default_na=False)
    assert back["grid_code"].tolist() == [f"{C}001", f"{C}002"] and back["reason"].tolist() == ["", ""]
    assert _values(gridgeo.locate(geo, _two_grids())["grid_code"]) == [f"{C}001", f"{C}002"]


def test_locate_file_gbk_csv_and_a_header_only_file(tmp_path):
    plan = _two_grids()
    src = tmp_path / "events.csv"
    src.write_bytes("事件,经度,纬度\n火警,114.3015,30.5505\n".encode("gbk"))
    counts = locate_file(src, plan, tmp_path / "out.csv")
    # the answer in the points file's encoding family (GB18030 holds every character): Excel reads both alike
    assert counts["encoding"] == "gb18030"
    back = pd.read_csv(tmp_path / "out.csv", dtype=str, encoding="gb18030")
    assert counts["located"] == 1 and back["事件"].tolist() == ["火警"] and back["grid_code"].tolist() == [f"{C}002"]
    assert back["community_name"].tolist() == ["东湖社区"]  # text from the plan too
    assert (tmp_path / "out.csv").read_bytes().startswith('"事件"'.encode("gbk"))
    empty = tmp_path / "empty.csv"
    empty.write_text("id,lon,lat\n", encoding="utf-8")
    assert locate_file(empty, plan, tmp_path / "empty_out.csv")["rows"] == 0
    header = (tmp_path / "empty_out.csv").read_text(encoding="utf-8").strip()
    assert header.replace('"', "").split(",") == ["id", "lon", "lat", "grid_code", "subgrid_code", "dedicated_grid_code",
                                                   "community_code", "community_name", "reason"]


def test_locate_file_ascii_header_with_a_gbk_body_deep_in_the_file(tmp_path):
    """Excel on Chinese Windows: an ASCII header, GBK text first seen far below the first line."""
    plan = _two_grids()
    src = tmp_path / "events.csv"
    rows = ["id,lon,lat,note"] + [f"{i},114.3015,30.5505,ok" for i in range(5_000)] + ["5000,114.3015,30.5505,火警"]
    src.write_bytes("\n".join(rows).encode("gbk") + b"\n")
    counts = locate_file(src, plan, tmp_path / "out.csv", chunk_rows=1_000)
    back = pd.read_csv(tmp_path / "out.csv", dtype=str, encoding="gb18030")
    assert counts["rows"] == 5_001 and back["note"].iloc[-1] == "火警" and counts["located"] == 5_001
    utf8 = tmp_path / "utf8.csv"
    utf8.write_bytes("id,lon,lat,note\n1,114.3015,30.5505,火警\n".encode("gbk"))
    with pytest.raises(InputError, match=r"is not valid utf-8; give its encoding: --encoding gbk \(encoding='gbk'\), which decodes it"):
        locate_file(utf8, plan, tmp_path / "o2.csv", encoding="utf-8")
    assert not (tmp_path / "o2.csv").exists()


def test_locate_file_quoted_header_with_a_comma(tmp_path):
    plan = _two_grids()
    src = tmp_path / "events.csv"
    src.write_text('"a,b",lon,lat\n"x,y",114.3015,30.5505\n', encoding="utf-8")
    locate_file(src, plan, tmp_path / "out.csv")
    back = pd.read_csv(tmp_path / "out.csv", dtype=str)
    assert list(back.columns[:3]) == ["a,b", "lon", "lat"] and back["a,b"].tolist() == ["x,y"]
    assert back["grid_code"].tolist() == [f"{C}002"]


@pytest.mark.parametrize("bad", ["3,114.3015", "3,114.3015,30.5505,extra"])
def test_a_ragged_row_is_a_one_line_error_naming_its_line(tmp_path, bad, capsys):
    plan = _two_grids()
    src = tmp_path / "events.csv"
    src.write_text(f"id,lon,lat\n1,114.3015,30.5505\n2,114.3015,30.5505\n{bad}\n4,114.3015,30.5505\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"line 4 of events.csv has \d fields but the header has 3"):
        locate_file(src, plan, tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    if bad.endswith("extra"):  # in memory (pandas): a row too long is an error naming its line too
        with pytest.raises(InputError, match="line 4.*fix that row"):
            gridgeo.locate(src, plan)
    else:  # a row too short: its missing coordinate is the reason, the row is kept
        answer = gridgeo.locate(src, plan)
        assert _values(answer["reason"]) == [None, None, "missing coordinate", None]


def test_input_columns_named_like_the_answer_are_kept_as_input(tmp_path):
    plan = _two_grids()
    pts = pd.DataFrame({"lon": [114.3015], "lat": [30.5505], "grid_code": ["G-7 (dispatcher's)"], "reason": ["fire"]})
    answer = gridgeo.locate(pts, plan)
    assert answer["grid_code_input"].tolist() == ["G-7 (dispatcher's)"] and answer["reason_input"].tolist() == ["fire"]
    assert _values(answer["grid_code"]) == [f"{C}002"] and _values(answer["reason"]) == [None]
    src = tmp_path / "events.csv"
    pts.to_csv(src, index=False)
    locate_file(src, plan, tmp_path / "out.csv")
    back = pd.read_csv(tmp_path / "out.csv", dtype=str)
    assert list(back.columns[:4]) == ["lon", "lat", "grid_code_input", "reason_input"]
    assert back["grid_code_input"].tolist() == ["G-7 (dispatcher's)"] and back["grid_code"].tolist() == [f"{C}002"]
    (tmp_path / "head.csv").write_text("lon,lat,grid_code\n", encoding="utf-8")
    locate_file(tmp_path / "head.csv", plan, tmp_path / "head_out.csv")
    assert (tmp_path / "head_out.csv").read_text(encoding="utf-8").replace('"', "").startswith("lon,lat,grid_code_input,grid_code,")
    with pytest.raises(InputError, match="both 'grid_code' and 'grid_code_input'"):
        gridgeo.locate(pts.assign(grid_code_input="x"), plan)


def test_locate_file_keeps_na_like_text_of_the_input_columns(tmp_path):
    """The streamed CSV read took pyarrow's default null markers: an id or note "NA", "null", "nan" or "N/A"
    came back empty in the answer (gridgeo.locate kept them); only an empty field is missing."""
    plan = _two_grids()
    src = tmp_path / "events.csv"
    src.write_text("id,note,lon,lat\nNA,null,114.3015,30.5505\nnan,N/A,114.3015,30.5505\n,#N/A,,30.5505\n", encoding="utf-8")
    locate_file(src, plan, tmp_path / "out.csv")
    back = pd.read_csv(tmp_path / "out.csv", dtype=str, keep_default_na=False)
    assert back["id"].tolist() == ["NA", "nan", ""] and back["note"].tolist() == ["null", "N/A", "#N/A"]
    assert back["grid_code"].tolist() == [f"{C}002", f"{C}002", ""] and back["reason"].tolist()[2] == "missing coordinate"
    locate_file(src, plan, tmp_path / "out.parquet")
    assert _values(pd.read_parquet(tmp_path / "out.parquet")["id"]) == ["NA", "nan", None]


def test_locate_file_output_has_the_mode_of_an_ordinary_file(tmp_path):
    import os
    import stat

    plan = _two_grids()
    src = tmp_path / "events.csv"
    src.write_text("lon,lat\n114.3015,30.5505\n", encoding="utf-8")
    old = os.umask(0o022)
    try:
        locate_file(src, plan, tmp_path / "out.csv")
        locate_file(src, plan, tmp_path / "out.parquet")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "out.csv").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "out.parquet").stat().st_mode) == 0o644


def test_the_map_roster_with_chinese_headers_routes_events(plan, tmp_path):
    """``gridgeo map`` and ``sign`` take a roster with Chinese headers (姓名, 电话, 职务, 网格编码); ``locate`` refused
    the same file: "roster: missing column(s) ['name', 'phone']". And a 专职网格员 ranked with a 楼栋长 (both
    unknown to the routing), so an event could go to the building leader."""
    pts = _random_points(plan, 300, seed=4)
    code = str(gridgeo.locate(pts, plan)["grid_code"].dropna().iloc[0])
    staff = tmp_path / "名册.csv"
    staff.write_text(f"姓名,电话,职务,网格编码\n阿楼栋,131,楼栋长,{code}\n丙专职,132,专职网格员,{code}\n", encoding="gbk")
    got = gridgeo.locate(pts, plan, roster=staff)
    mine = got["grid_code"].astype(str) == code
    assert mine.any()
    assert got.loc[mine, "worker"].astype(str).eq("丙专职").all() and got.loc[mine, "phone"].astype(str).eq("132").all()
    assert got.loc[mine, "worker_role"].astype(str).eq("专职网格员").all()


def test_a_roster_dataframe_with_an_empty_phone_keeps_the_digits(plan, tmp_path):
    """``pd.read_csv`` reads a phone column with an empty cell as float: the worker's phone came out as
    ``13800000000.0`` (and the map showed it so, with ``nan`` for the empty one on a sign)."""
    pts = _random_points(plan, 300, seed=5)
    code = str(gridgeo.locate(pts, plan)["grid_code"].dropna().iloc[0])
    path = tmp_path / "staff.csv"
    path.write_text(f"name,phone,role,grid_code\n甲,13800000000,网格员,{code}\n乙,,网格长,{code}\n", encoding="utf-8")
    frame = pd.read_csv(path)  # phone float64, grid_code int64
    got = gridgeo.locate(pts, plan, roster=frame)
    mine = got["grid_code"].astype(str) == code
    assert mine.any() and got.loc[mine, "phone"].astype(str).eq("13800000000").all()
    from gridgeo.maps import read_roster

    people = read_roster(frame, plan).staff.set_index("name")
    assert people.loc["甲", "phone"] == "13800000000" and people.loc["乙", "phone"] == ""
    assert people.loc["甲", "grid_code"] == code and people.loc["甲", "placed"] == "roster"


def test_swapped_longitude_and_latitude_are_said_in_the_reason_and_on_the_console(tmp_path, capsys):
    # Wuhan points with the columns exchanged: latitude 114 is out of range; a plan in Kashgar (longitude
    # 75.9, under 90) with exchanged points lies in range but outside every grid, and inside one exchanged
    plan = _two_grids()
    got = gridgeo.locate(pd.DataFrame({"lon": [30.5505, 30.5505, 200.0], "lat": [114.3005, 114.3015, 30.0]}), plan)
    assert _values(got["reason"]) == [
        "latitude out of range and longitude within -90..90: longitude and latitude look swapped "
        "(write the longitude first in this row, or, if the columns are exchanged, name them with --lon-col and "
        "--lat-col)"] * 2 + [
        "coordinate out of range (longitude -180..180, latitude -90..90)"]
    code = "653101001001"
    kashgar = Plan({"grids": gpd.GeoDataFrame({"grid_code": [f"{code}001"], "community_code": [code], "kind": ["base"]},
                                             geometry=[box(75.98, 39.46, 75.99, 39.47)], crs=4490)})
    pts = pd.DataFrame({"id": ["a", "b", "c"], "lon": [39.465, 75.985, 39.0], "lat": [75.985, 39.465, 70.0]})
    got = gridgeo.locate(pts, kashgar)
    assert _values(got["reason"]) == [
        "outside every grid, but in one with longitude and latitude swapped (write the longitude first in this row, "
        "or, if the columns are exchanged, name them with --lon-col and --lat-col)", None, "outside every grid"]
    src, out = tmp_path / "events.csv", tmp_path / "routed.csv"
    pts.to_csv(src, index=False)
    path = tmp_path / "kashgar.gpkg"
    kashgar.write(path)
    assert main(["locate", str(path), str(src), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "3 points: 1 in a grid, 2 outside every grid, 0 with bad coordinates" in captured.out
    assert "1 point looks like longitude and latitude swapped" in captured.err and "--lon-col" not in captured.err
    assert "bad rows (line 2, see the reason column); write the longitude first in that row" in captured.err
    # the columns named the other way round: the first point is answered, no warning
    pts.iloc[[0, 2]].to_csv(src, index=False)
    assert main(["locate", str(path), str(src), "--out", str(out), "--force", "--lon-col", "lat", "--lat-col", "lon"]) == 0
    captured = capsys.readouterr()
    assert "2 points: 1 in a grid" in captured.out and "swapped" not in captured.err


def test_a_few_swapped_rows_are_named_as_bad_rows_not_a_reason_to_rename_the_columns(tmp_path, capsys):
    """One row typed latitude first among many read right was told to "name the columns with --lon-col and
    --lat-col", which would exchange every other row: a few such rows are bad rows, named by their line (CSV) or row
    (Parquet); when most rows are swapped, the columns are, and renaming them stays the advice."""
    plan = _two_grids()
    path = tmp_path / "plan.gpkg"
    plan.write(path)
    lon, lat = [114.3005] * 20, [30.5505] * 20
    lon[3], lat[3] = lat[3], lon[3]
    lon[10], lat[10] = None, None  # no position: not counted among the rows read
    src, out = tmp_path / "events.csv", tmp_path / "routed.csv"
    pd.DataFrame({"id": range(20), "lon": lon, "lat": lat}).to_csv(src, index=False)
    assert main(["locate", str(path), str(src), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "1 point looks like longitude and latitude swapped (out of range, or in a grid only when exchanged), " \
           "1 of 19 with a position: bad rows (line 5, see the reason column); write the longitude first in that row" in err
    assert "--lon-col" not in err
    pq_src = tmp_path / "events.parquet"
    pd.DataFrame({"id": range(20), "lon": lon, "lat": lat}).to_parquet(pq_src)
    assert main(["locate", str(path), str(pq_src), "--out", str(out), "--force"]) == 0
    assert "bad rows (row 4, see" in capsys.readouterr().err
    pd.DataFrame({"id": range(20), "lon": lat, "lat": lon}).to_csv(src, index=False)  # the columns exchanged
    assert main(["locate", str(path), str(src), "--out", str(out), "--force"]) == 0
    err = capsys.readouterr().err
    assert "18 points look like longitude and latitude swapped" in err and "--lon-col and --lat-col" in err
    assert "bad rows" not in err


def test_an_answer_to_a_utf8_file_stays_utf8_and_other_encodings_get_a_bom(tmp_path):
    from gridgeo.locate import _answer_encoding

    plan = _two_grids()
    src = tmp_path / "events.csv"
    src.write_text("事件,经度,纬度\n火警,114.3015,30.5505\n", encoding="utf-8")
    assert locate_file(src, plan, tmp_path / "out.csv")["encoding"] == "utf-8"
    assert not (tmp_path / "out.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert pd.read_csv(tmp_path / "out.csv", dtype=str)["community_name"].tolist() == ["东湖社区"]
    big5 = tmp_path / "big5.csv"
    big5.write_bytes("事件,lon,lat\n火警,114.3015,30.5505\n".encode("big5"))
    assert locate_file(big5, plan, tmp_path / "b.csv", encoding="big5")["encoding"] == "utf-8-sig"
    back = pd.read_csv(tmp_path / "b.csv", dtype=str, encoding="utf-8-sig")
    assert back["事件"].tolist() == ["火警"] and back["community_name"].tolist() == ["东湖社区"]
    # Excel's "CSV UTF-8" (with a BOM): the answer keeps the BOM, so Excel opens it as it opened the input
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + "事件,lon,lat\n火警,114.3015,30.5505\n".encode("utf-8"))
    assert locate_file(bom, plan, tmp_path / "bom_out.csv")["encoding"] == "utf-8-sig"
    assert (tmp_path / "bom_out.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert pd.read_csv(tmp_path / "bom_out.csv", dtype=str, encoding="utf-8-sig")["事件"].tolist() == ["火警"]
    assert [_answer_encoding(e) for e in ("utf8", "GBK", "gb2312", "gb18030", "latin-1")] == [
        "utf-8", "gb18030", "gb18030", "gb18030", "utf-8-sig"]


def test_cli_locate_counts_agree_with_their_noun(plan_path, tmp_path, capsys):
    """One point is "1 point", not "1 points"."""
    src = tmp_path / "one.csv"
    pd.DataFrame({"lon": [113.49], "lat": [30.838]}).to_csv(src, index=False)
    assert main(["locate", str(plan_path), str(src), "--out", str(tmp_path / "one_out.csv")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("1 point: ") and "1 points" not in out


def test_swapped_points_given_as_wkt_name_the_axis_order_not_the_column_options(tmp_path, capsys):
    """Points of a WKT column written POINT (latitude longitude) were told to "name the columns with --lon-col and
    --lat-col", which does not apply to one column of geometries: the reason and the warning name the axis order."""
    plan = _two_grids()
    src, out = tmp_path / "events.csv", tmp_path / "routed.csv"
    src.write_text('id,WKT\n1,"POINT (30.5505 114.3015)"\n2,"POINT (114.3015 30.5505)"\n3,"POINT (30.5505 114.3005)"\n',
                   encoding="utf-8")
    path = tmp_path / "plan.gpkg"
    plan.write(path)
    assert main(["locate", str(path), str(src), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "2 points look like longitude and latitude swapped" in err and "--lon-col" not in err
    assert "POINT (longitude latitude)" in err
    back = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert "POINT (longitude latitude)" in back["reason"][0] and "--lon-col" not in back["reason"][0]
    assert back["grid_code"].tolist() == ["", f"{C}002", ""]
    frame = gpd.GeoDataFrame({"id": [1]}, geometry=[shapely.Point(30.5505, 114.3015)], crs=4490)
    got = gridgeo.locate(frame, plan)  # a GeoDataFrame's points alike
    assert "POINT (longitude latitude)" in got["reason"].iloc[0] and "--lon-col" not in got["reason"].iloc[0]
    # lon/lat columns still name the column options
    got = gridgeo.locate(pd.DataFrame({"lon": [30.5505], "lat": [114.3015]}), plan)
    assert "--lon-col" in got["reason"].iloc[0]


def test_a_utf16_tab_separated_file_as_excel_saves_unicode_text_is_read(tmp_path, capsys):
    """Excel's "Unicode text" (UTF-16 LE with a BOM, tab-separated) was "not valid gb18030; give its encoding
    (encoding='gb18030' or 'utf-8')": a BOM tells the encoding (UTF-16 LE/BE, UTF-8) and the header the delimiter."""
    plan = _two_grids()
    text = "事件\t经度\t纬度\n火警\t114.3015\t30.5505\n漏水\t114.3005\t30.5502\n"
    files = {"le.txt": b"\xff\xfe" + text.encode("utf-16-le"), "be.csv": b"\xfe\xff" + text.encode("utf-16-be"),
             "semi.csv": b"\xef\xbb\xbf" + text.replace("\t", ";").encode("utf-8"),
             "nobom.csv": text.encode("utf-16-le")}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        counts = locate_file(tmp_path / name, plan, tmp_path / f"{name}.out.csv")
        back = pd.read_csv(tmp_path / f"{name}.out.csv", dtype=str, encoding="utf-8-sig")
        assert counts["located"] == 2 and counts["encoding"] == "utf-8-sig", name  # Excel reads UTF-8 with a BOM
        assert back["事件"].tolist() == ["火警", "漏水"] and back["grid_code"].tolist() == [f"{C}002", f"{C}001"], name
        assert _values(gridgeo.locate(tmp_path / name, plan)["grid_code"]) == [f"{C}002", f"{C}001"], name
    path = tmp_path / "plan.gpkg"
    plan.write(path)
    assert main(["locate", str(path), str(tmp_path / "le.txt"), "--out", str(tmp_path / "cli.csv")]) == 0
    assert "2 points: 2 in a grid" in capsys.readouterr().out
    # a roster saved alike, for locate and for the maps and signs (one reader)
    roster = tmp_path / "staff.txt"
    roster.write_bytes(b"\xff\xfe" + f"姓名\t电话\t网格编码\n王芳\t139\t{C}002\n".encode("utf-16-le"))
    routed = gridgeo.locate(tmp_path / "le.txt", plan, roster=roster)
    assert _values(routed["worker"]) == ["王芳", None]
    from gridgeo.maps import read_roster as map_roster

    assert map_roster(roster, plan).staff["name"].tolist() == ["王芳"]


def test_undecodable_points_name_the_encodings_worth_trying(tmp_path):
    """A file neither UTF-8 nor GB18030 was told to give encoding='gb18030' or 'utf-8', the two already tried."""
    plan = _two_grids()
    src = tmp_path / "events.csv"
    src.write_bytes(b"id,lon,lat,note\n1,114.3015,30.5505,\x80\xff\n")
    with pytest.raises(InputError) as caught:
        locate_file(src, plan, tmp_path / "out.csv")
    text = str(caught.value)
    assert "not valid gb18030" in text and "'gb18030' or 'utf-8'" not in text and "save it as CSV UTF-8" in text, text
    # told GB18030 for a UTF-16 file that lost its BOM: the hint names UTF-16, not the two encodings tried
    utf16 = tmp_path / "utf16.csv"
    utf16.write_bytes("id,lon,lat,note\n1,114.3015,30.5505,火警\n".encode("utf-16-le"))
    with pytest.raises(InputError, match=r"not valid gb18030; give its encoding: --encoding utf-16-le"):
        locate_file(utf16, plan, tmp_path / "out.csv", encoding="gb18030")


def test_locate_file_without_coordinate_columns_or_folder_is_refused_even_with_no_rows(tmp_path):
    """A points file with no rows is checked like one with rows: an empty (0-byte) file, or a header without
    longitude/latitude columns, is one line naming the problem, not an answer of "0 points" written; an --out
    folder that does not exist is named, not the temporary file inside it."""
    plan = _two_grids()
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match=r"is empty.*header"):
        locate_file(empty, plan, tmp_path / "a.csv")
    header = tmp_path / "header.csv"
    header.write_text("id,address\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"no lon column among \['id', 'address'\]"):
        locate_file(header, plan, tmp_path / "b.csv")
    assert not (tmp_path / "a.csv").exists() and not (tmp_path / "b.csv").exists()
    good = tmp_path / "good.csv"
    good.write_text("id,lon,lat\n1,114.3015,30.5505\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"--out folder .*nowhere does not exist; create it first") as info:
        locate_file(good, plan, tmp_path / "nowhere" / "c.csv")
    assert ".c-" not in str(info.value)


def test_locator_repr_says_what_it_indexes():
    """In a notebook, ``gridgeo.Locator(plan)`` showed ``<gridgeo.locate.Locator object at 0x…>``."""
    plan = _two_grids()
    assert repr(Locator(plan)) == "<gridgeo Locator: 2 grids, 3 small grids, 2 communities>"
    roster = pd.DataFrame({"name": ["王芳"], "phone": ["139"], "grid_code": [f"{C}001"]})
    assert repr(Locator(plan, roster=roster)) == "<gridgeo Locator: 2 grids, 3 small grids, 2 communities, roster: 1 grid with a contact>"


def test_coordinates_given_as_booleans_are_non_numeric(tmp_path):
    """True/False as a coordinate (a flag column named with --lon-col, a Parquet boolean) was read as 1 and 0:
    each point "outside every grid" (or, True/False both ways, near 1°E 0°N), not a bad coordinate."""
    plan = _two_grids()
    flags = pd.DataFrame({"lon": [True, False], "lat": [30.5505, 30.5505]})
    assert _values(gridgeo.locate(flags, plan)["reason"]) == ["non-numeric coordinate"] * 2
    mixed = pd.DataFrame({"lon": pd.Series([114.3005, True], dtype=object), "lat": [30.5505, 30.5505]})
    assert _values(gridgeo.locate(mixed, plan)["reason"]) == [None, "non-numeric coordinate"]
    src = tmp_path / "events.parquet"
    pd.DataFrame({"id": [1, 2], "ok": [True, False], "lat": [30.5505, 30.5505]}).to_parquet(src)
    counts = locate_file(src, plan, tmp_path / "out.csv", lon_col="ok")
    back = pd.read_csv(tmp_path / "out.csv", dtype=str)
    assert back["reason"].tolist() == ["non-numeric coordinate"] * 2 and counts["bad"] == 2


def test_a_village_point_gets_the_villager_group_of_its_grid(plan, tmp_path):
    """A hotline call in a village is answered with the villager group (村民小组) its grid follows, as the plan
    stores it; plans whose grids name no group answer without the column."""
    grids = plan.grids
    named = grids[grids["villager_group"].notna()]
    assert len(named) >= 2 and named["villager_group"].nunique() >= 2
    pts = _random_points(plan, 20_000, seed=3)
    got = gridgeo.locate(pts, plan)
    cols = list(got.columns)
    assert cols.index("villager_group") == cols.index("community_name") + 1 and cols[-1] == "reason"
    want = _sjoin(pts, grids, "grid_code").map(dict(zip(grids["grid_code"], grids["villager_group"], strict=True)))
    assert _values(got["villager_group"]) == _values(want)
    assert got["villager_group"].notna().sum() > 100
    # a header-only file gets the same columns
    src = tmp_path / "none.csv"
    src.write_text("id,lon,lat\n", encoding="utf-8")
    locate_file(src, plan, tmp_path / "none_out.csv")
    assert (tmp_path / "none_out.csv").read_text(encoding="utf-8").splitlines()[0].replace('"', "").split(",")[3:] == cols[3:]
    # no group in the plan: no column
    plain = Plan({**plan.layers, "grids": grids.assign(villager_group=None)}, plan.metadata)
    assert "villager_group" not in gridgeo.locate(pts.head(50), plain).columns


def test_the_roster_file_is_read_once(plan, plan_path, tmp_path, monkeypatch, capsys):
    """`gridgeo locate --roster` read the roster file twice (once for routing, once for the map's checks of its rows):
    twice the time on a large roster, and two readings of a file that may change between them. It is read once; the
    checks and the answer are those of reading it twice."""
    import gridgeo.maps.roster as maps_roster

    reads = []
    real = maps_roster._read_csv

    def counting(path):
        reads.append(Path(path).name)
        return real(path)

    monkeypatch.setattr(maps_roster, "_read_csv", counting)
    points = _random_points(plan, 50, seed=3)
    routed = Locator(plan, roster=STAFF).locate(points)
    assert reads == [STAFF.name]
    assert routed["worker"].notna().sum() > 0
    assert routed[["worker", "phone", "worker_role"]].equals(Locator(plan, roster=pd.read_csv(STAFF, dtype=str)).locate(points)[
        ["worker", "phone", "worker_role"]])
    reads.clear()
    events = tmp_path / "events.csv"
    points.to_csv(events, index=False)
    assert main(["locate", str(plan_path), str(events), "--out", str(tmp_path / "r.csv"), "--roster", str(STAFF)]) == 0
    assert reads == [STAFF.name]


def test_a_geodataframe_of_events_comes_back_with_its_points():
    """A hotline system's events as a GeoDataFrame lost their geometry column (a DataFrame came back, every other
    input column kept): the answer is a GeoDataFrame with the points as given, in their CRS, index and order kept."""
    plan = _two_grids()
    pts = gpd.GeoDataFrame({"工单号": ["GD2", "GD1", "GD3"]},
                           geometry=[shapely.Point(114.3015, 30.5505), None, shapely.Point(114.5, 30.5)],
                           crs=4326, index=[30, 10, 20]).rename_geometry("事件位置")
    got = gridgeo.locate(pts, plan)
    assert isinstance(got, gpd.GeoDataFrame) and got.geometry.name == "事件位置" and got.crs == pts.crs
    assert got.index.tolist() == [30, 10, 20] and got["工单号"].tolist() == ["GD2", "GD1", "GD3"]
    assert got.geometry.equals(pts.geometry)
    assert got["grid_code"].astype(object).tolist()[0] == f"{C}002"
    assert pts.columns.tolist() == ["工单号", "事件位置"]  # the input is not changed
    frame = pd.DataFrame({"lon": [114.3015], "lat": [30.5505]})
    assert type(gridgeo.locate(frame, plan)) is pd.DataFrame  # lon/lat columns: a DataFrame, as before


def test_the_answer_is_plain_text_and_names_the_grid_when_the_plan_does(tmp_path):
    """The answer's columns were pandas `category` dtype: joined with a table of codes as text, `groupby` listed every
    grid of the plan (observed or not), and a concat with another answer fell back to object. They are plain text now
    (pandas' `str`, as `read_csv` gives; a column all missing too), and a plan whose grids have a name (网格名称) answers
    it as `grid_name`, after `grid_code`, in Python and in the file `gridgeo locate` writes."""
    plan = _two_grids()
    pts = pd.DataFrame({"lon": [114.3015, 114.5], "lat": [30.5505, 30.5]})
    got = gridgeo.locate(pts, plan)
    answer = [c for c in got.columns if c not in pts.columns]
    assert "grid_name" not in answer  # the plan names no grid: no column of nothing
    assert {str(got[c].dtype) for c in answer} == {"str"}, got.dtypes
    assert {str(t) for t in Locator(plan).locate_xy([114.3015], [30.5505]).dtypes} == {"str"}
    counts = pd.DataFrame({"grid_code": [f"{C}001", f"{C}002"], "events": [0, 5]})
    assert got.merge(counts, on="grid_code")["events"].tolist() == [5]
    assert got.groupby("grid_code").size().to_dict() == {f"{C}002": 1}  # the grids a point is in, not every grid

    grids = plan.layers["grids"].assign(网格名称=["东湖社区第二网格", " "])
    named = Plan({**plan.layers, "grids": grids})
    got = gridgeo.locate(pd.DataFrame({"lon": [114.3015, 114.3005], "lat": [30.5505, 30.5505]}), named)
    assert got.columns.tolist()[2:4] == ["grid_code", "grid_name"]
    assert got["grid_name"].tolist()[0] == "东湖社区第二网格" and pd.isna(got["grid_name"].iloc[1])  # a blank name: none
    src, out = tmp_path / "events.csv", tmp_path / "routed.csv"
    src.write_text("工单号,经度,纬度\nGD1,114.3015,30.5505\n", encoding="utf-8")
    path = tmp_path / "plan.gpkg"
    named.write(path)
    assert main(["locate", str(path), str(src), "--out", str(out)]) == 0
    back = pd.read_csv(out, dtype=str)
    assert back.columns.tolist()[3:5] == ["grid_code", "grid_name"] and back["grid_name"].tolist() == ["东湖社区第二网格"]


def test_a_hemisphere_letter_of_the_other_axis_is_a_bad_row_named_on_the_console(plan_path, tmp_path, capsys):
    """A latitude typed "30.838E" was read as 30.838 and the event routed as if nothing were wrong (the letter says
    the value is in the wrong column, or mistyped); a row typed latitude first with its letters ("30.838N",
    "113.49E") was said to look swapped. Both are bad rows now, reason "non-numeric coordinate", named by their lines
    on the console; a row whose letters match its columns is routed as before."""
    src, out = tmp_path / "events.csv", tmp_path / "routed.csv"
    src.write_text("工单,经度,纬度\nA,113.49,30.838\nB,113.49E,30.838N\nC,113.49,30.838E\nD,30.838N,113.49E\n",
                   encoding="utf-8")
    assert main(["locate", str(plan_path), str(src), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "4 points: 2 in a grid, 0 outside every grid, 2 with bad coordinates" in captured.out
    assert "coordinates that read as no number (line 4: '30.838E', line 5: '30.838N')" in captured.err, captured.err
    back = pd.read_csv(out, dtype=str)
    assert back["grid_code"].notna().tolist() == [True, True, False, False]
    assert back["reason"].tolist()[2:] == ["non-numeric coordinate"] * 2
    got = gridgeo.locate(pd.DataFrame({"lon": ["114.3E", "东经113.49"], "lat": ["30.838E", "北纬30.838"]}), plan_path)
    assert _values(got["reason"])[0] == "non-numeric coordinate" and _values(got["grid_code"])[1] is not None
