"""Rebalancing an office's grid layer with the fewest changes, and unifying departmental grids (多网合一).

Layers are built from the sample town's own plan (and, in the slow test, from a Wuhan scenario
partition) with deliberate faults: two grids merged into one of about 900 households, a grid split
into pieces of about 120, a grid stretched across a community boundary, a grid grown over its
neighbours (overlaps) and one shrunk (gaps).
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import gridgeo
from gridgeo import InputError
from gridgeo.cli import main
from gridgeo.crs import metric_crs
from gridgeo.datasets import get_path
from gridgeo.rebalance import infer_scheme, rebalance, unify

SAMPLE = get_path("sample_town")
INPUTS = tuple((SAMPLE, n) for n in ("communities", "streets", "buildings"))
STAFF = Path(__file__).resolve().parents[1] / "data" / "sample_town_staff.csv"


@pytest.fixture(scope="module")
def sample_plan():
    return gridgeo.divide(*INPUTS)


def _touching(g: gpd.GeoDataFrame, a: str, b: str) -> float:
    geoms = g.set_index("grid_code").geometry
    return float(shapely.length(shapely.intersection(geoms[a].boundary, geoms[b].boundary)))


def _pick(g: gpd.GeoDataFrame) -> dict[str, str]:
    """Grids to damage, chosen from the plan (none of them neighbours of another chosen one)."""
    g = g.to_crs(metric_crs(g)).sort_values("grid_code").reset_index(drop=True)
    taken: set[str] = set()

    def free(code: str) -> bool:
        return all(_touching(g, code, t) == 0 and code != t for t in taken)

    codes = g["grid_code"].tolist()
    comm = dict(zip(g["grid_code"], g["community_code"]))
    hh = dict(zip(g["grid_code"], g["households"]))
    urban = [c for c in codes if hh[c] >= 300]
    out = {}
    # two neighbours of one community, merged: about 800-1000 households
    merge = next((a, b) for a in urban for b in urban if a < b and comm[a] == comm[b] and _touching(g, a, b) > 30
                 and hh[a] + hh[b] >= 750)
    out["merge_a"], out["merge_b"] = merge
    taken |= set(merge)
    out["split"] = next(c for c in urban if c not in taken and free(c) and hh[c] >= 420)
    taken.add(out["split"])
    # a grid and the neighbour in another community it is stretched into
    pair = max(((a, b) for a in urban for b in urban if comm[a] != comm[b] and a not in taken and b not in taken
                and free(a) and free(b)), key=lambda p: (_touching(g, *p), p))
    out["stretch"], out["stretched_into"] = pair
    taken |= set(pair)
    out["grow"] = next(c for c in urban if c not in taken and free(c))
    taken.add(out["grow"])
    out["shrink"] = next(c for c in urban if c not in taken and free(c))
    taken.add(out["shrink"])
    return out


def faulty_layer(plan, pick: dict[str, str], parts: int = 4) -> gpd.GeoDataFrame:
    """The plan's grids (column WGBM, metric CRS) with the faults of ``pick``."""
    m = metric_crs(plan.communities)
    g = plan.grids.to_crs(m)
    b = plan.buildings.to_crs(m)
    rows = dict(zip(g["grid_code"], g.geometry))
    rows[pick["merge_a"]] = shapely.union(rows[pick["merge_a"]], rows.pop(pick["merge_b"]))
    code = pick["split"]
    poly = rows.pop(code)
    mine = b[b["grid_code"] == code]
    x, h = mine.geometry.centroid.x.to_numpy(), mine["households"].to_numpy()
    o = np.argsort(x)
    cum = np.cumsum(h[o]) / h.sum()
    cuts = [x[o][np.searchsorted(cum, k / parts)] for k in range(1, parts)]
    minx, miny, maxx, maxy = poly.bounds
    edges = [minx - 1, *cuts, maxx + 1]
    for k in range(parts):
        rows[f"{code}{k + 1}"] = shapely.intersection(poly, shapely.box(edges[k], miny - 1, edges[k + 1], maxy + 1))
    reach = shapely.intersection(rows[pick["stretched_into"]], shapely.buffer(rows[pick["stretch"]], 60))
    rows[pick["stretch"]] = shapely.union(rows[pick["stretch"]], reach)
    rows[pick["grow"]] = shapely.buffer(rows[pick["grow"]], 4, join_style="mitre")
    rows[pick["shrink"]] = shapely.buffer(rows[pick["shrink"]], -4, join_style="mitre")
    return gpd.GeoDataFrame({"WGBM": list(rows), "name": [f"网格{i}" for i in range(len(rows))]},
                            geometry=list(rows.values()), crs=m)


def _neighbours(g: gpd.GeoDataFrame, code: str) -> set[str]:
    geoms = g.set_index("grid_code").geometry
    return {c for c in geoms.index if c != code and shapely.intersects(geoms[c], shapely.buffer(geoms[code], 5))}


def _check_rebalanced(plan, changes, office, pick, original):
    m = metric_crs(plan.communities)
    grids = plan.grids.to_crs(m).set_index("grid_code")
    orig = original.to_crs(m).set_index("grid_code")
    status = changes.set_index("old_code")["status"]
    # 0 errors, as gridgeo validate finds them on the plan as stored
    found = plan.validate()
    assert (found["severity"] == "error").sum() == 0, found[found["severity"] == "error"]["message"].tolist()[:5]
    assert plan.metadata["validation"]["error"] == 0
    # every office grid has exactly one row
    assert sorted(changes["old_code"]) == sorted(office["WGBM"])
    # compliant grids away from the faults: kept exactly, with their codes
    touched = {pick["merge_a"], pick["merge_b"], pick["split"], pick["stretch"], pick["stretched_into"], pick["grow"],
               pick["shrink"]}
    touched |= _neighbours(original.to_crs(m), pick["grow"]) | _neighbours(original.to_crs(m), pick["shrink"])
    away = [c for c in orig.index if c not in touched]
    # a compliant grid changes only when a faulty neighbour cannot be mended without it
    absorbed = [c for c in away if status[c] != "kept"]
    assert len(absorbed) <= plan.metadata["rebalance"]["compliant_absorbed"]
    faulty = shapely.union_all(orig.geometry[[c for c in touched if c in orig.index]].to_numpy())
    for c in absorbed:
        assert shapely.dwithin(orig.geometry[c], faulty, 1.0), c
        assert status[c] in ("merged", "split", "redrawn", "reshaped")
    for c in away:
        if c in absorbed:
            continue
        assert status[c] == "kept", (c, status[c])
        assert c in grids.index
        assert shapely.area(shapely.symmetric_difference(grids.geometry[c], orig.geometry[c])) < 1.0
    # grids next to an overlap or a gap keep their code (reshaped by the repair at most)
    for c in (touched - {pick["merge_b"], pick["split"], pick["merge_a"]}):
        assert c in grids.index, c
    # the merged grid of ~900 households is split, the pieces of ~120 merged, all within the bounds
    assert status[pick["merge_a"]] == "split"
    new_codes = changes.set_index("old_code").loc[pick["merge_a"], "new_codes"].split(",")
    assert len(new_codes) >= 2 and pick["merge_a"] not in grids.index
    assert all(300 <= grids.loc[c, "households"] <= 500 for c in new_codes)
    pieces = [c for c in changes["old_code"] if c.startswith(pick["split"]) and c != pick["split"]]
    assert len(pieces) == 4 and all(status[p] == "merged" for p in pieces)
    before = changes.set_index("old_code").loc[pieces, "households_before"]
    assert before.max() < 300
    merged_into = {changes.set_index("old_code").loc[p, "new_codes"] for p in pieces}
    assert len(merged_into) == 1
    assert 300 <= grids.loc[merged_into.pop(), "households"] <= 500
    # the stretched grid is back inside its own community
    comm = plan.communities.to_crs(m).set_index("code").geometry
    g = grids.loc[pick["stretch"]]
    assert shapely.area(shapely.difference(g.geometry, comm[g["community_code"]])) < 1.0
    # new codes follow the office's scheme and never reuse a kept code
    kept = set(changes.loc[changes["status"].isin(["kept", "reshaped"]), "old_code"])
    new = set(grids.index) - kept
    assert new and all(len(c) == 15 and c[:12] in set(comm.index) for c in new)
    assert not new & set(office["WGBM"]) - {pick["merge_b"]}
    # small grids for every grid, kept ones included
    assert set(plan.subgrids["grid_code"]) == set(grids.index)


@pytest.fixture(scope="module")
def rebalanced(sample_plan):
    pick = _pick(sample_plan.grids)
    office = faulty_layer(sample_plan, pick)
    plan, changes = gridgeo.rebalance(office, *INPUTS, code_column="WGBM")
    return pick, office, plan, changes


def test_rebalance_sample_town_keeps_compliant_grids(sample_plan, rebalanced):
    pick, office, plan, changes = rebalanced
    _check_rebalanced(plan, changes, office, pick, sample_plan.grids)
    # here every faulty grid can be mended without taking in a compliant one: all of them are kept
    assert plan.metadata["rebalance"]["compliant_absorbed"] == 0
    assert set(plan.layers) >= {"grids", "subgrids", "buildings", "changes", "findings", "communities", "blocks"}
    assert plan.metadata["rebalance"]["scheme_inferred"]
    # households moved are those of the faulty grids only
    moved = changes.loc[changes["households_moved"] > 0, "old_code"]
    assert set(moved) <= {pick["merge_a"], pick["stretch"], pick["stretched_into"], pick["grow"]} | set(
        c for c in changes["old_code"] if c.startswith(pick["split"])) | _neighbours(
        sample_plan.grids.to_crs(metric_crs(sample_plan.communities)), pick["grow"])


def test_rebalance_is_deterministic_whatever_the_row_order(rebalanced):
    _, office, a, ca = rebalanced
    b, cb = rebalance(office.iloc[::-1].reset_index(drop=True), *INPUTS, code_column="WGBM")
    pd.testing.assert_frame_equal(ca, cb)
    assert a.grids.sort_values("grid_code")["households"].tolist() == b.grids.sort_values("grid_code")["households"].tolist()


def test_rebalance_cli_writes_a_plan_that_validates(sample_plan, tmp_path, capsys):
    pick = _pick(sample_plan.grids)
    office = faulty_layer(sample_plan, pick)
    path = tmp_path / "office.gpkg"
    office.to_crs(4490).to_file(path, driver="GPKG")
    out = tmp_path / "plan.gpkg"
    page = tmp_path / "changes.html"
    assert main(["rebalance", str(path), "--sample", "--code-column", "WGBM", "--out", str(out), "-q",
                 "--map", str(page)]) == 0
    text = capsys.readouterr().out
    assert "kept" in text and "split" in text and "0 errors" in text
    html = page.read_text(encoding="utf-8")
    assert pick["merge_a"] in html and "split" in html and "households" not in html
    assert main(["validate", str(out)]) == 0
    changes = gpd.read_file(out, layer="changes")
    assert sorted(changes["old_code"]) == sorted(office["WGBM"])
    # a failed run writes nothing: a code column that does not exist
    bad = tmp_path / "bad.gpkg"
    assert main(["rebalance", str(path), "--sample", "--code-column", "NOPE", "--out", str(bad), "-q"]) == 2
    assert "code column 'NOPE' not found" in capsys.readouterr().err
    assert not bad.exists()


def test_rebalance_bad_input_is_one_line(sample_plan):
    g = sample_plan.grids[["grid_code", "geometry"]].copy()
    dup = pd.concat([g, g.iloc[:1]], ignore_index=True)
    with pytest.raises(InputError, match="is used by 2 grids"):
        rebalance(dup, *INPUTS)
    with pytest.raises(InputError, match="code column 'WG' not found"):
        rebalance(g, *INPUTS, code_column="WG")
    with pytest.raises(InputError, match="buildings"):
        rebalance(g, INPUTS[0], INPUTS[1], None)


def test_change_map_escapes_codes(rebalanced, tmp_path):
    from gridgeo.maps.changes import change_map

    _, _, plan, _ = rebalanced
    layers = dict(plan.layers)
    ch = layers["changes"].copy()
    ch.loc[ch.index[0], "old_code"] = "<script>alert(1)</script>"
    layers["changes"] = ch
    out = change_map(gridgeo.Plan(layers, plan.metadata), tmp_path / "m.html")
    text = out.read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in text, text[text.find("<script>alert") - 300:text.find("<script>alert") + 40]
    assert "\\u0026lt;script\\u0026gt;" in text or "&lt;script&gt;" in text
    with pytest.raises(InputError, match="no 'changes' layer"):
        change_map(gridgeo.Plan({k: v for k, v in plan.layers.items() if k != "changes"}, plan.metadata), tmp_path / "x.html")


def test_infer_scheme():
    comm = ["420103001001", "420103001002"]
    s = infer_scheme(["99420103001001007", "99420103001002012"], comm)
    assert (s.prefix, s.grid_digits) == ("99", 3)
    assert infer_scheme(["420103001001-7", "x"], comm) is None
    # the codes must mostly embed their own community
    assert infer_scheme(["420103001009001", "420103001009002"], comm) is None


# ------------------------------------------------------------------------------------------ unify


def _pairs(g: gpd.GeoDataFrame, offset: int) -> gpd.GeoDataFrame:
    """The grids merged in pairs with a neighbour of their community (offset: which neighbour)."""
    geoms = g.set_index("grid_code").geometry
    comm = dict(zip(g["grid_code"], g["community_code"]))
    used: set[str] = set()
    rows = []
    for code in sorted(geoms.index):
        if code in used:
            continue
        used.add(code)
        nb = [c for c in sorted(geoms.index) if c not in used and comm[c] == comm[code] and _touching(g, code, c) > 20]
        geom = geoms[code]
        if nb:
            other = nb[min(offset, len(nb) - 1)]
            used.add(other)
            geom = shapely.union(geom, geoms[other])
        rows.append({"CODE": f"D{offset}{code[-6:]}", "geometry": geom})
    return gpd.GeoDataFrame(rows, crs=g.crs)


def test_unify_two_departments_with_a_jurisdiction(sample_plan, tmp_path):
    m = metric_crs(sample_plan.communities)
    g = sample_plan.grids.to_crs(m)
    zongzhi = g[["grid_code", "geometry"]].rename(columns={"grid_code": "CODE"})
    chengguan = _pairs(g, 0)
    minx, miny, maxx, maxy = sample_plan.communities.to_crs(m).total_bounds
    mid = (minx + maxx) / 2
    west = shapely.box(minx - 10, miny - 10, mid, maxy + 10)
    police = gpd.GeoDataFrame({"name": ["西派出所", "东派出所"]}, crs=m,
                              geometry=[west, shapely.box(mid, miny - 10, maxx + 10, maxy + 10)])
    plan, cross = unify([zongzhi, chengguan], *INPUTS, jurisdictions=[police], code_columns=["CODE", "CODE"],
                        names=["综治", "城管"])
    found = plan.validate()
    assert (found["severity"] == "error").sum() == 0, found[found["severity"] == "error"]["message"].tolist()[:5]
    # the crosswalk: every departmental grid, households shares summing to 100%
    for name, layer in (("综治", zongzhi), ("城管", chengguan)):
        mine = cross[cross["layer"] == name]
        assert set(mine["department_code"]) == set(layer["CODE"])
        sums = mine.groupby("department_code")["households_share"].sum()
        assert np.allclose(sums.dropna(), 1.0)
        area = mine.groupby("department_code")["area_share"].sum()
        assert (area > 0.999).all() and (area < 1.001).all()
        hh = mine.groupby("department_code")["households"].sum()
        # the households of each departmental grid, counted by gridgeo's one building-to-zone assignment
        from gridgeo.footprints import assign_to_zones

        b = plan.buildings.to_crs(m)
        z = assign_to_zones(b.geometry.to_numpy(), layer.geometry.to_numpy()).zone
        want = pd.Series(b["households"].to_numpy()[z >= 0]).groupby(layer["CODE"].to_numpy()[z[z >= 0]]).sum()
        assert hh.reindex(want.index).tolist() == want.tolist()
    assert set(cross["unified_code"].dropna()) <= set(plan.grids["grid_code"])
    # no unified grid crosses the jurisdiction line, but around a building drawn across it (kept whole)
    ug = plan.grids.to_crs(m)
    b = plan.buildings.to_crs(m)
    across = shapely.union_all(b[b.intersects(west.boundary)].buffer(1).geometry.to_numpy())
    for geom in ug.geometry:
        inside = shapely.intersection(geom, west)
        minor = inside if inside.area < geom.area / 2 else shapely.difference(geom, west)
        assert shapely.difference(minor, across).area < 1.0
    # the unified grids follow the boundaries both departments share (here: the 城管 grids' boundaries)
    shared = shapely.union_all(plan.layers["shared_boundaries"].to_crs(m).geometry.to_numpy())
    assert shared.length > 0.5 * shapely.union_all(chengguan.boundary.to_numpy()).length
    edges = shapely.union_all(ug.boundary.to_numpy())
    assert shapely.intersection(shared, shapely.buffer(edges, 2)).length / shared.length > 0.8
    out = tmp_path / "unified.gpkg"
    plan.write(out)
    assert main(["validate", str(out)]) == 0


def test_unify_cli_three_layers(sample_plan, tmp_path, capsys):
    m = metric_crs(sample_plan.communities)
    g = sample_plan.grids.to_crs(m)
    paths = []
    for i, layer in enumerate([g[["grid_code", "geometry"]].rename(columns={"grid_code": "CODE"}), _pairs(g, 0), _pairs(g, 1)]):
        p = tmp_path / f"dept{i}.gpkg"
        layer.to_crs(4490).to_file(p, driver="GPKG")
        paths.append(str(p))
    out = tmp_path / "unified.gpkg"
    assert main(["unify", *paths, "--sample", "--code-column", "CODE", "--out", str(out), "-q"]) == 0
    text = capsys.readouterr().out
    assert "dept0:" in text and "unified:" in text
    # each layer as read: dept1 and dept2 merge neighbouring grids in pairs (no overlap, no gap), dept0 is the
    # plan's grids; none is mended, so no line says "as read"
    assert "as read:" not in text
    # a layer whose grids overlap and leave a gap: said with the area, per layer
    shifted = g[["grid_code", "geometry"]].rename(columns={"grid_code": "CODE"}).copy()
    shifted["geometry"] = shifted.geometry.translate(15.0, 0.0)
    p3 = tmp_path / "dept3.gpkg"
    shifted.to_crs(4490).to_file(p3, driver="GPKG")
    assert main(["unify", paths[0], str(p3), "--sample", "--code-column", "CODE", "--out",
                 str(tmp_path / "u3.gpkg"), "-q"]) == 0
    text = capsys.readouterr().out
    line = next(x for x in text.splitlines() if x.startswith("dept3:"))
    assert "as read:" in line and "inside the communities (" in line and " ha)" in line
    assert not any(x.startswith("dept0:") and "as read:" in x for x in text.splitlines())
    cross = gpd.read_file(out, layer="crosswalk")
    assert set(cross["layer"]) == {"dept0", "dept1", "dept2"}
    sums = cross.groupby(["layer", "department_code"])["households_share"].sum()
    assert np.allclose(sums.dropna(), 1.0)
    assert main(["validate", str(out)]) == 0
    assert main(["unify", paths[0], "--sample", "--out", str(tmp_path / "one.gpkg")]) == 2



def test_unify_roster_prints_the_staffing_table(sample_plan, tmp_path, capsys):
    """`gridgeo unify --roster STAFF.csv` ("also print the staffing table (配备) of this staff roster") read no roster
    and printed no table; a roster not there was not said either. The table is printed for the unified plan, as
    `gridgeo report --roster` prints it, and a missing roster is one line, exit 2, before any work or output."""
    m = metric_crs(sample_plan.communities)
    g = sample_plan.grids.to_crs(m)
    paths = []
    for i, layer in enumerate([g[["grid_code", "geometry"]].rename(columns={"grid_code": "CODE"}), _pairs(g, 0)]):
        p = tmp_path / f"dept{i}.gpkg"
        layer.to_crs(4490).to_file(p, driver="GPKG")
        paths.append(str(p))
    out = tmp_path / "unified.gpkg"
    assert main(["unify", *paths, "--sample", "--code-column", "CODE", "--out", str(out), "-q",
                 "--roster", str(tmp_path / "no_such_staff.csv")]) == 2
    assert "no_such_staff.csv" in capsys.readouterr().err and not out.exists()
    assert main(["unify", *paths, "--sample", "--code-column", "CODE", "--out", str(out), "-q",
                 "--roster", str(STAFF)]) == 0
    text = capsys.readouterr().out
    assert "staffing (配备" in text
    assert main(["report", str(out), "--roster", str(STAFF)]) == 0
    report = capsys.readouterr().out
    assert text[text.index("staffing (配备"):].strip() == report[report.index("staffing (配备"):].strip()

# ------------------------------------------------------------------------------------------ Wuhan


@pytest.mark.slow
def test_rebalance_wuhan_scenario(tmp_path_factory):
    from conftest import scenario_builder

    builder = scenario_builder("build_wuhan_scenario", skip="Wuhan scenario")
    sc = builder.build(tmp_path_factory.mktemp("wuhan_rebalance"))
    # six neighbouring communities keep the test short
    c = sc.communities.sort_values("code").reset_index(drop=True)
    first = c.geometry.iloc[0]
    order = np.argsort(c.geometry.distance(first).to_numpy(), kind="stable")[:6]
    comm = c.iloc[np.sort(order)].reset_index(drop=True)
    area = shapely.union_all(comm.geometry.to_numpy())
    b = sc.buildings[sc.buildings.geometry.representative_point().within(area)].reset_index(drop=True)
    s = sc.streets[sc.streets.intersects(area)].reset_index(drop=True)
    start = gridgeo.divide(comm, s, b)
    pick = _pick(start.grids)
    office = faulty_layer(start, pick)
    plan, changes = rebalance(office, comm, s, b, code_column="WGBM")
    _check_rebalanced(plan, changes, office, pick, start.grids)
    assert plan.metadata["rebalance"]["compliant_absorbed"] <= 1


def test_a_grid_over_a_community_in_two_parts_is_kept_not_cut_off_its_island():
    """A community with a far island (no buildings on it) and an office grid over both parts, 400 households:
    validate excuses its two parts (each in a part of the community), so rebalance keeps the grid as it is
    instead of cutting the island off into a grid of 0 households."""
    from shapely import box

    x0, y0 = 500_000.0, 3_380_000.0

    def b(a, c, d, e):
        return box(x0 + a, y0 + c, x0 + d, y0 + e)

    comm = gpd.GeoDataFrame({"code": ["420102001001"], "name": ["岛"]},
                            geometry=[b(0, 0, 300, 300).union(b(500, 0, 560, 60))], crs=4547)
    fp = [b(20 + 90 * i, 20 + 90 * j, 50 + 90 * i, 50 + 90 * j) for i in range(3) for j in range(3)][:8]
    blds = gpd.GeoDataFrame({"households": [50] * 8}, geometry=fp, crs=4547)
    office = gpd.GeoDataFrame({"grid_code": ["420102001001001"], "community_code": ["420102001001"]},
                              geometry=[comm.geometry.iloc[0]], crs=4547)
    plan, changes = gridgeo.rebalance(office, comm, None, blds)
    assert list(changes["status"]) == ["kept"], changes.to_dict("records")
    assert list(plan.grids["grid_code"]) == ["420102001001001"] and int(plan.grids["households"].iloc[0]) == 400
    assert (plan.validate()["severity"] == "error").sum() == 0


def test_change_map_speaks_chinese_by_default_and_english_on_request(rebalanced, tmp_path):
    import json
    import re

    from gridgeo.maps.changes import change_map

    _, _, plan, _ = rebalanced
    zh = change_map(plan, tmp_path / "zh.html").read_text(encoding="utf-8")
    for word in ("调整前：原网格", "调整后：网格", "原网格编码", "新网格编码", "网格调整对照图", "放大", "保留"):
        assert word in zh or json.dumps(word)[1:-1] in zh, word
    assert "imperial: false" in zh
    assert not re.search(r"\b(before: office grids|after: plan grids|old code)\b", zh)
    en = change_map(plan, tmp_path / "en.html", lang="en").read_text(encoding="utf-8")
    assert "before: office grids" in en and "Zoom in" in en and "调整前" not in en
    with pytest.raises(InputError, match="lang 'fr' is not supported"):
        change_map(plan, tmp_path / "fr.html", lang="fr")
    assert not (tmp_path / "fr.html").exists()


def test_an_office_layer_in_3d_with_a_row_without_geometry_rebalances(sample_plan):
    # 3D outlines (exported from CAD) stopped in a traceback when the codes were assigned; a row without
    # geometry came out "outside" with no fault named
    office = sample_plan.grids[sample_plan.grids["kind"] == "base"][["grid_code", "geometry"]].rename(
        columns={"grid_code": "WGBM"}).reset_index(drop=True)
    flat, _ = gridgeo.rebalance(office, *INPUTS, code_column="WGBM")
    office3d = office.set_geometry(gpd.GeoSeries(shapely.force_3d(office.geometry.to_numpy(), 12.5), crs=office.crs))
    same, _ = gridgeo.rebalance(office3d, *INPUTS, code_column="WGBM")
    assert not shapely.has_z(same.grids.geometry.to_numpy()).any()
    assert sorted(flat.grids["grid_code"]) == sorted(same.grids["grid_code"])
    office3d.loc[1, "geometry"] = None
    plan, changes = gridgeo.rebalance(office3d, *INPUTS, code_column="WGBM")
    lost = changes.set_index("old_code").loc[office.loc[1, "WGBM"]]
    assert lost["status"] == "outside" and lost["faults"] == "no polygon"
    assert (changes["status"] == "kept").sum() >= len(office) - 3
    assert len(plan.validate().query("severity == 'error'")) == 0


def test_an_office_layer_of_lines_is_refused_or_closed_into_polygons(sample_plan):
    office = sample_plan.grids[sample_plan.grids["kind"] == "base"][["grid_code", "geometry"]].rename(
        columns={"grid_code": "WGBM"}).reset_index(drop=True)
    # outlines drawn as closed lines (CAD): read as the polygons they close, the same plan
    rings = office.set_geometry(gpd.GeoSeries(shapely.get_exterior_ring(office.geometry.to_numpy()), crs=office.crs))
    flat, _ = gridgeo.rebalance(office, *INPUTS, code_column="WGBM")
    closed, changes = gridgeo.rebalance(rings, *INPUTS, code_column="WGBM")
    assert sorted(flat.grids["grid_code"]) == sorted(closed.grids["grid_code"])
    # and the console says so (the note was dropped)
    from gridgeo.rebalance import summarize_changes

    said = summarize_changes(changes, closed.metadata["rebalance"])
    assert f"{len(rings)} outlines drawn as closed lines read as polygons" in said
    assert "read as polygons" not in summarize_changes(changes, flat.metadata["rebalance"])
    # open lines: one line naming what the layer holds and the fix, instead of "no grid overlaps any community"
    cut = rings.set_geometry(gpd.GeoSeries([shapely.LineString(list(r.coords)[:-1]) for r in rings.geometry],
                                           crs=office.crs))
    with pytest.raises(InputError, match=r"holds LineString \(\d+\), no polygons; close the outlines into polygons"):
        gridgeo.rebalance(cut, *INPUTS, code_column="WGBM")
    # unify: a departmental layer of open lines was read as 0 grids without a word
    with pytest.raises(InputError, match=r"holds LineString \(\d+\), no polygons"):
        gridgeo.unify([office, cut], *INPUTS, code_columns=["WGBM", "WGBM"])


# ------------------------------------------------------------------------------------------ messy office layers


def test_the_console_says_how_the_office_layer_was_mended(rebalanced):
    """Overlaps (不交叉重叠) and gaps of the office's layer are mended before the grids are judged; the summary
    says so with their count and area (they were resolved without a word)."""
    from gridgeo.rebalance import summarize_changes

    _, _, plan, changes = rebalanced
    meta = plan.metadata["rebalance"]
    assert meta["repair_actions"].get("overlap_given", 0) >= 1 and meta["repair_area_m2"]["overlap_given"] > 0
    text = summarize_changes(changes, meta)
    line = next(x for x in text.splitlines() if "mended before judging" in x)
    n, gaps = meta["repair_actions"]["overlap_given"], meta["repair_actions"].get("gap_filled", 0)
    assert f"{n:,} overlap{'' if n == 1 else 's'} between grids" in line
    assert f"{gaps:,} gap{'' if gaps == 1 else 's'} filled" in line and "(s)" not in line
    assert "validate --repair" in line


def _gbk_shapefile(frame: gpd.GeoDataFrame, path) -> None:
    """A Shapefile as offices send them: GBK attribute text and field names, no .cpg."""
    frame.to_file(path, encoding="gbk")
    path.with_suffix(".cpg").unlink()


def test_rebalance_reads_a_gbk_grid_layer_with_encoding_grids(sample_plan, tmp_path, capsys):
    """``--encoding grids=gbk`` names the encoding of GRIDS (it was refused: "layer 'grids' is not given"),
    as the error for an undecodable grid layer tells the user to do; an invalid polygon is said to be made valid."""
    m = metric_crs(sample_plan.communities)
    g = sample_plan.grids.to_crs(m)[["grid_code", "geometry"]].rename(columns={"grid_code": "网格编码"})
    g["网格名称"] = [f"第{i}网格" for i in range(len(g))]
    x0, y0, x1, y1 = g.geometry.iloc[0].bounds
    g.loc[g.index[0], "geometry"] = shapely.Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1)])  # a bow-tie
    path, out = tmp_path / "综治网格.shp", tmp_path / "plan.gpkg"
    _gbk_shapefile(g.reset_index(drop=True), path)
    assert main(["rebalance", str(path), "--sample", "--out", str(out), "-q", "--encoding", "grids=utf-8"]) == 2
    err = capsys.readouterr().err
    assert "cannot decode" in err and "--encoding grids=gb18030, which decodes it" in err and not out.exists()
    assert main(["rebalance", str(path), "--sample", "--out", str(out), "-q", "--encoding", "grids=gbk"]) == 0
    text = capsys.readouterr().out
    assert "1 invalid polygon made valid" in text
    changes = gpd.read_file(out, layer="changes")
    assert sorted(changes["old_code"]) == sorted(g["网格编码"])


def test_unify_names_a_layer_by_its_file_and_takes_its_encoding(sample_plan, tmp_path, capsys):
    m = metric_crs(sample_plan.communities)
    g = sample_plan.grids.to_crs(m)[["grid_code", "geometry"]]
    gbk = tmp_path / "综治.shp"
    _gbk_shapefile(g.rename(columns={"grid_code": "网格编码"}), gbk)
    other = tmp_path / "城管.gpkg"
    g.rename(columns={"grid_code": "WGBM"}).to_file(other, driver="GPKG")
    nocode = tmp_path / "党建.gpkg"
    g.rename(columns={"grid_code": "名称"}).to_file(nocode, driver="GPKG")
    out = tmp_path / "unified.gpkg"
    # the layer is named by its file in the error ("layer layer 党建" before), with the fix
    assert main(["unify", str(other), str(nocode), "--sample", "--out", str(out), "-q"]) == 2
    err = capsys.readouterr().err
    assert "error: 党建: no grid code column found among ['名称']" in err and "--code-column" in err
    assert not out.exists()
    assert main(["unify", str(gbk), str(other), "--sample", "--out", str(out), "-q", "--encoding", "综治=gbk"]) == 0
    cross = gpd.read_file(out, layer="crosswalk")
    assert set(cross["layer"]) == {"综治", "城管"}
    assert set(cross.loc[cross["layer"] == "综治", "department_code"]) == set(g["grid_code"])


def test_codes_stored_as_numbers_are_the_codes(sample_plan):
    """A code column of floats (a DBF numeric field, a spreadsheet) was read as '420981190001001.0': no code was
    recognised and every grid got a new one. Integral floats are the codes; floats past 2^53, which have lost
    digits, are refused in one line with the fix."""
    office = sample_plan.grids[sample_plan.grids["kind"] == "base"][["grid_code", "geometry"]].rename(
        columns={"grid_code": "WGBM"}).reset_index(drop=True)
    as_float = office.assign(WGBM=office["WGBM"].astype(float))
    plan, changes = gridgeo.rebalance(as_float, *INPUTS, code_column="WGBM")
    assert sorted(changes["old_code"]) == sorted(office["WGBM"])
    assert (changes["status"] == "kept").sum() >= len(office) - 3
    assert "office_codes_unrecognised" not in set(plan.findings["type"])
    long = office.assign(WGBM=(office["WGBM"] + "01").astype(float))
    with pytest.raises(InputError, match=r"column 'WGBM' holds the codes as floating-point numbers .* store the "
                                         r"codes as text"):
        gridgeo.rebalance(long, *INPUTS, code_column="WGBM")


def test_an_office_layer_drawn_on_amap_is_refused_naming_grids_datum(sample_plan, tmp_path, capsys):
    """An office layer in GCJ-02 (drawn on AMap/Tencent) was rebalanced as given: every grid judged faulty and
    redrawn (0 kept). It is refused in one line naming the offset and grids_datum (--grids-datum on the command
    line); with it, the grids are kept."""
    from gridgeo.crs import convert_datum

    office = sample_plan.grids[sample_plan.grids["kind"] == "base"][["grid_code", "geometry"]].rename(
        columns={"grid_code": "WGBM"}).reset_index(drop=True)
    amap = convert_datum(office.to_crs(4326), src="wgs84", dst="gcj02")
    with pytest.raises(InputError, match=r"grids: the grid layer looks shifted ~\d+ m against the communities "
                                         r"\(a GCJ-02 offset.*read it with grids_datum='gcj02' \(or shift_check=False"):
        gridgeo.rebalance(amap, *INPUTS, code_column="WGBM")
    plan, changes = gridgeo.rebalance(amap, *INPUTS, code_column="WGBM", grids_datum="gcj02")
    assert (changes["status"] == "kept").sum() >= len(office) - 3
    with pytest.raises(InputError, match=r"grids_datum='mars' is not a known datum"):
        gridgeo.rebalance(amap, *INPUTS, code_column="WGBM", grids_datum="mars")
    path, out = tmp_path / "amap.gpkg", tmp_path / "rebalanced.gpkg"
    amap.to_file(path, driver="GPKG")
    assert main(["rebalance", str(path), "--sample", "--code-column", "WGBM", "--out", str(out), "-q"]) == 2
    err = capsys.readouterr().err
    assert "read it with --grids-datum gcj02 (or --no-shift-check to go on as given)" in err and not out.exists()


def test_unify_refuses_a_department_drawn_on_amap_naming_layer_datum(sample_plan, tmp_path, capsys):
    """A departmental layer in GCJ-02 was unified as given (the shared boundary fell from 57.8 to 1.7 km and
    its crosswalk pointed at the wrong grids); it is refused naming the layer and --layer-datum, which reads it
    (in Python: datums=)."""
    from gridgeo.crs import convert_datum

    office = sample_plan.grids[sample_plan.grids["kind"] == "base"][["grid_code", "geometry"]].rename(
        columns={"grid_code": "WGBM"}).reset_index(drop=True)
    a, b = tmp_path / "综治.gpkg", tmp_path / "城管.gpkg"
    office.to_file(a, driver="GPKG")
    convert_datum(office.to_crs(4326), src="wgs84", dst="gcj02").to_file(b, driver="GPKG")
    out = tmp_path / "unified.gpkg"
    assert main(["unify", str(a), str(b), "--sample", "--out", str(out), "-q"]) == 2
    err = capsys.readouterr().err
    assert "城管: the grid layer looks shifted" in err and not out.exists()
    assert "read it with --layer-datum 城管=gcj02 (or --no-shift-check to go on as given)" in err
    assert main(["unify", str(a), str(b), "--sample", "--out", str(out), "-q", "--layer-datum", "党建=gcj02"]) == 2
    assert "--layer-datum 党建=... names no layer; the layers are ['综治', '城管']" in capsys.readouterr().err
    with pytest.raises(InputError, match=r"^城管: the grid layer looks shifted .*read it with datums=\{'城管': "
                                         r"'gcj02'\} \(or shift_check=False to go on as given\)$"):
        gridgeo.unify([a, b], *INPUTS)
    with pytest.raises(InputError, match=r"^unify: datums=\{'党建': \.\.\.\} names no layer; the layers are "
                                         r"\['综治', '城管'\]$"):
        gridgeo.unify([a, b], *INPUTS, datums={"党建": "gcj02"})
    assert main(["unify", str(a), str(b), "--sample", "--out", str(out), "-q", "--layer-datum", "城管=gcj02"]) == 0
    cross = gpd.read_file(out, layer="crosswalk")
    # each department grid maps mostly onto the same unified grid in both layers
    top = cross.sort_values("area_share").groupby(["layer", "department_code"])["unified_code"].last()
    assert (top.loc["综治"] == top.loc["城管"].reindex(top.loc["综治"].index)).mean() > 0.9


def test_a_layer_of_points_is_refused_as_points_before_its_codes_are_judged():
    """Points given as the grid layer (a units or address layer picked by mistake), where several points share a
    grid code: the one line names the points and the fix, not "code … is used by 2 grids; merge the duplicates"."""
    points = gpd.GeoDataFrame({"grid_code": ["420981190001001", "420981190001001", "420981190001002"]},
                              geometry=[shapely.Point(113.49, 30.84), shapely.Point(113.491, 30.84),
                                        shapely.Point(113.492, 30.84)], crs=4326)
    with pytest.raises(InputError, match=r"holds Point \(3\), no polygons"):
        gridgeo.rebalance(points, *INPUTS)
    with pytest.raises(InputError, match=r"holds Point \(3\), no polygons"):
        gridgeo.unify([points, points.iloc[:0]], *INPUTS)


def test_office_grid_without_households_is_not_left_a_gap(sample_plan):
    """An office grid holding no household (a school yard, a park, a former dedicated grid marked as base) is
    faulty, and its land goes to the kept grid beside it: it was given to no grid, so the plan written had a gap
    (and `gridgeo unify` of any layer with such a grid, even a layer unified with itself, wrote validation errors)."""
    grids = sample_plan.grids.to_crs(metric_crs(sample_plan.grids))
    built = shapely.union_all(shapely.buffer(sample_plan.buildings.to_crs(grids.crs).geometry.to_numpy(), 5))
    room = shapely.area(shapely.difference(shapely.buffer(grids.geometry.to_numpy(), -30), built))
    host = grids.iloc[int(np.argmax(room))]  # the grid with most open land (a yard 30 m from its edge)
    spot = shapely.point_on_surface(shapely.difference(shapely.buffer(host.geometry, -30), built))
    yard = shapely.intersection(shapely.box(spot.x - 10, spot.y - 10, spot.x + 10, spot.y + 10), host.geometry)
    assert yard.area > 300 and not yard.intersects(shapely.union_all(sample_plan.buildings.to_crs(grids.crs).geometry.to_numpy()))
    office = grids[["grid_code", "geometry"]].copy()
    office.loc[office["grid_code"] == host["grid_code"], "geometry"] = shapely.difference(host.geometry, yard)
    yard_code = f"{host['grid_code'][:12]}899"
    office = pd.concat([office, gpd.GeoDataFrame({"grid_code": [yard_code]}, geometry=[yard], crs=grids.crs)],
                       ignore_index=True)
    plan, changes = gridgeo.rebalance(office, *INPUTS, code_column="grid_code")
    findings = plan.validate()
    assert findings[findings["severity"] == "error"]["type"].value_counts().to_dict() == {}
    row = changes.set_index("old_code").loc[yard_code]
    assert row["status"] != "outside" and row["new_codes"]


def test_unify_with_a_jurisdiction_piece_wholly_under_a_building():
    """A police jurisdiction cutting a 10 m corner off a community, the corner wholly under a building drawn mostly
    beside it: the corner's region vanished when bent round the building and unify stopped in a traceback
    ("zip() argument 2 is shorter than argument 1")."""
    from shapely import box

    x0, y0, crs = 526_000.0, 3_385_000.0, 4547
    comm = gpd.GeoDataFrame({"code": ["420103001001"]}, geometry=[box(x0, y0, x0 + 400, y0 + 200)], crs=crs)
    fp = [box(x0 + x, y0 + y, x0 + x + 30, y0 + y + 30) for x in (60, 140, 220, 300) for y in (40, 120)]
    fp.append(box(x0 - 5, y0 - 5, x0 + 40, y0 + 15))  # covers the corner wholly, most of it beside it
    b = gpd.GeoDataFrame({"building_id": [f"b{i}" for i in range(len(fp))], "households": [80] * 8 + [20]},
                         geometry=fp, crs=crs)
    corner = box(x0 - 20, y0 - 20, x0 + 10, y0 + 10)
    police = gpd.GeoDataFrame({"name": ["甲所", "乙所"]}, crs=crs,
                              geometry=[box(x0 - 20, y0 - 20, x0 + 420, y0 + 220).difference(corner), corner])
    dept = gpd.GeoDataFrame({"CODE": ["420103001001001", "420103001001002"]}, crs=crs,
                            geometry=[box(x0, y0, x0 + 200, y0 + 200), box(x0 + 200, y0, x0 + 400, y0 + 200)])
    plan, _ = gridgeo.unify([dept, dept.copy()], comm, None, b, jurisdictions=[police], code_columns=["CODE", "CODE"],
                            names=["综治", "城管"])
    assert int(plan.grids["households"].sum()) == 8 * 80 + 20
    assert (plan.validate()["severity"] == "error").sum() == 0


def test_the_office_layers_own_columns_are_carried_into_the_plan(sample_plan, tmp_path, capsys):
    """An office's grid layer has its own columns (网格员, 备注, a count of its own): `rebalance` dropped every one of
    them. Each office grid's values are in its row of the change table; a grid keeping its code (kept, reshaped)
    carries them in the plan's grids; a grid with a new code has them empty; a column named like one of the plan's
    (``households``) is kept as ``households_input``; they survive the plan file."""
    pick = _pick(sample_plan.grids)
    office = faulty_layer(sample_plan, pick)
    office["网格员"] = [f"张{i}" for i in range(len(office))]
    office["备注"] = [None if i % 3 else f"备注{i}" for i in range(len(office))]
    office["楼栋数"] = np.arange(len(office), dtype="int64") + 1
    office["households"] = 7
    path = tmp_path / "office.gpkg"
    office.to_crs(4490).to_file(path, driver="GPKG")
    out = tmp_path / "plan.gpkg"
    assert main(["rebalance", str(path), "--sample", "--code-column", "WGBM", "--out", str(out), "-q"]) == 0
    assert "the office's columns name, 网格员, 备注, 楼栋数, households_input: on the grids keeping" in capsys.readouterr().out
    plan = gridgeo.read_plan(out)
    changes = plan.layers["changes"].set_index("old_code")
    given = office.set_index("WGBM")
    for col in ("name", "网格员", "备注", "楼栋数"):
        assert changes[col].reindex(given.index).tolist() == given[col].tolist(), col
    assert (changes["households_input"] == 7).all()
    grids = plan.grids.set_index("grid_code")
    keeps = changes.index[changes["status"].isin(["kept", "reshaped"])]
    assert len(keeps) > 40 and set(keeps) <= set(grids.index)
    assert grids.loc[keeps, "网格员"].tolist() == given.loc[keeps, "网格员"].tolist()
    assert grids.loc[keeps, "楼栋数"].tolist() == given.loc[keeps, "楼栋数"].tolist()
    assert (grids.loc[keeps, "households_input"] == 7).all()
    assert grids["households"].gt(7).all()  # the plan's own count, not the office's
    new = grids.index.difference(keeps)
    assert len(new) and grids.loc[new, "网格员"].isna().all() and grids.loc[new, "楼栋数"].isna().all()
    assert main(["validate", str(out)]) == 0


def _small_town():
    """One community of 640 households in eight buildings, and two departmental layers with columns of their own:
    综治 (two grids and one drawn outside every community; 网格员, 楼栋数, households, 编号 as numbers) and 城管 (one
    grid; 网格员, 编号 as text, 备注)."""
    from shapely import box

    x0, y0, crs = 526_000.0, 3_385_000.0, 4547
    comm = gpd.GeoDataFrame({"code": ["420103001001"], "name": ["东湖社区"]}, geometry=[box(x0, y0, x0 + 400, y0 + 200)], crs=crs)
    fp = [box(x0 + x, y0 + y, x0 + x + 30, y0 + y + 30) for x in (60, 140, 220, 300) for y in (40, 120)]
    b = gpd.GeoDataFrame({"building_id": [f"b{i}" for i in range(len(fp))], "households": [80] * 8}, geometry=fp, crs=crs)
    zongzhi = gpd.GeoDataFrame({"CODE": ["420103001001001", "420103001001002", "420103001001003"],
                                "网格员": ["张三", "李四<b>", "王五"], "楼栋数": np.array([4, 4, 0], dtype="int64"),
                                "households": [300, 340, 0], "编号": np.array([1, 2, 3], dtype="int64")}, crs=crs,
                               geometry=[box(x0, y0, x0 + 200, y0 + 200), box(x0 + 200, y0, x0 + 400, y0 + 200),
                                         box(x0 + 2000, y0, x0 + 2100, y0 + 100)])
    chengguan = gpd.GeoDataFrame({"CODE": ["CG01"], "网格员": ["赵六"], "编号": ["CG-1"], "备注": ["含菜市场"]}, crs=crs,
                                 geometry=[box(x0, y0, x0 + 400, y0 + 200)])
    return comm, b, zongzhi, chengguan


def _assert_carried(cross, zongzhi, chengguan):
    zz = cross[cross["layer"] == "综治"]
    cg = cross[cross["layer"] == "城管"]
    given = zongzhi.set_index("CODE")
    assert set(zz["department_code"]) == set(given.index)  # the grid outside every community too
    outside = zz[zz["department_code"] == "420103001001003"]
    assert len(outside) == 1 and pd.isna(outside["unified_code"].iloc[0]) and outside["area_m2"].iloc[0] == 0
    for col in ("网格员", "楼栋数"):
        assert zz[col].tolist() == given.loc[zz["department_code"], col].tolist(), col
    assert zz["households_input"].tolist() == given.loc[zz["department_code"], "households"].tolist()
    assert zz["households"].sum() == 640  # the crosswalk's own count, not the department's
    assert zz["编号"].tolist() == [str(v) for v in given.loc[zz["department_code"], "编号"]]  # text, as in 城管
    assert zz["备注"].isna().all() and cg["楼栋数"].isna().all() and cg["households_input"].isna().all()
    assert cg["网格员"].eq("赵六").all() and cg["编号"].eq("CG-1").all() and cg["备注"].eq("含菜市场").all()


def test_unify_carries_the_departmental_layers_own_columns(tmp_path, capsys):
    """`unify` dropped every column of the departmental layers but their codes (网格员, 备注, their own ids): each
    departmental grid's values are now on each of its rows of the crosswalk, as `rebalance` carries an office's
    (a name taken by the crosswalk, ``households``, as ``households_input``; a column a layer lacks is empty on its
    rows; one holding numbers in one layer and text in another is text); a departmental grid in no unified grid
    keeps a row. In Python and on the command line, and in the plan file."""
    comm, b, zongzhi, chengguan = _small_town()
    plan, cross = gridgeo.unify([zongzhi, chengguan], comm, None, b, code_columns=["CODE", "CODE"], names=["综治", "城管"])
    _assert_carried(cross, zongzhi, chengguan)
    assert plan.metadata["unify"]["columns_carried"] == {"综治": ["网格员", "楼栋数", "households_input", "编号"],
                                                         "城管": ["网格员", "编号", "备注"]}
    _assert_carried(plan.layers["crosswalk"], zongzhi, chengguan)
    paths = []
    for name, layer in (("communities", comm), ("buildings", b), ("综治", zongzhi), ("城管", chengguan)):
        paths.append(tmp_path / f"{name}.gpkg")
        layer.to_crs(4490).to_file(paths[-1], driver="GPKG")
    out = tmp_path / "unified.gpkg"
    assert main(["unify", str(paths[2]), str(paths[3]), "--communities", str(paths[0]), "--buildings", str(paths[1]),
                 "--code-column", "CODE", "--out", str(out), "-q"]) == 0
    text = capsys.readouterr().out
    assert "综治: 3 grids" in text and "its columns 网格员, 楼栋数, households_input, 编号 on each of its grids' rows" in text
    assert "城管: 1 grid" in text and "its columns 网格员, 编号, 备注 on each" in text
    written = gpd.read_file(out, layer="crosswalk")
    _assert_carried(written, zongzhi, chengguan)
    assert main(["validate", str(out)]) == 0


def test_unify_names_the_per_layer_code_column_when_one_layer_lacks_it(tmp_path, capsys):
    """`gridgeo unify a.shp b.shp --code-column WGBM` where only the first layer has WGBM: the error said to "pass
    --code-column with one of them", as if one option served every layer; it now says it is given once per layer."""
    a = gpd.GeoDataFrame({"WGBM": ["420981190001001"]}, geometry=[shapely.box(113.48, 30.83, 113.49, 30.84)], crs=4490)
    b = gpd.GeoDataFrame({"grid_code": ["420981190001001"]}, geometry=[shapely.box(113.48, 30.83, 113.49, 30.84)], crs=4490)
    a.to_file(tmp_path / "zongzhi.geojson")
    b.to_file(tmp_path / "chengguan.geojson")
    args = ["unify", str(tmp_path / "zongzhi.geojson"), str(tmp_path / "chengguan.geojson"), "--sample", "-q"]
    assert main([*args, "--code-column", "WGBM", "--out", str(tmp_path / "u.gpkg")]) == 2
    err = capsys.readouterr().err
    assert ("chengguan: code column 'WGBM' not found; columns are ['grid_code']; pass --code-column with one of them "
            "(once for all layers, or once per layer in the layers' order)") in err
    assert not (tmp_path / "u.gpkg").exists()


def test_unify_of_an_amap_layer_and_a_gbk_shapefile_divides_every_grid(tmp_path, capsys):
    """多网合一 as a district office has it: the 综治 grids (one pair merged) drawn on AMap (GCJ-02) as GeoJSON, the
    城管 grids as a Shapefile in EPSG:4547 with GBK text and no .cpg, over the whole sample town. One kept grid's
    small grids failed (GEOSException "found two shells in EdgeRing list": the cells redrawn along the gaps between
    its footprints met 0.2 mm apart), so the plan was written with a `community_failed` finding naming "community
    K00032", 21 buildings without codes (`validate`: 21 errors) and exit 1 with nothing said on the console. The
    redrawn cells are now given up there, the cells as built kept: every grid is divided and the plan is clean."""
    from gridgeo.crs import convert_datum
    from gridgeo.validate import has_errors

    town = {name: (SAMPLE, name) for name in ("communities", "streets", "buildings", "villager_groups", "enterprises")}
    plan = gridgeo.divide(town["communities"], town["streets"], town["buildings"],
                          villager_groups=town["villager_groups"], enterprises=town["enterprises"])
    g = plan.grids[plan.grids["kind"] == "base"].sort_values("grid_code").reset_index(drop=True)
    first = g.index[g["community_code"] == g["community_code"].iloc[0]][:2]
    merged = g.copy()
    merged.loc[first[0], "geometry"] = shapely.union_all(g.geometry.iloc[list(first)].to_numpy())
    merged = merged.drop(index=first[1])
    zongzhi = gpd.GeoDataFrame({"WGBM": merged["grid_code"], "WGY": [f"网格员{i % 7}" for i in range(len(merged))]},
                               geometry=merged.geometry.to_numpy(), crs=merged.crs).to_crs(4326)
    convert_datum(zongzhi, src="wgs84", dst="gcj02").to_file(tmp_path / "综治网格.geojson", driver="GeoJSON")
    gpd.GeoDataFrame({"网格编号": g["grid_code"], "备注": ["老城区" if i % 3 else "新区" for i in range(len(g))]},
                     geometry=g.geometry.to_numpy(), crs=g.crs).to_crs(4547).to_file(tmp_path / "城管网格.shp", encoding="gbk")
    (tmp_path / "城管网格.cpg").unlink(missing_ok=True)
    out = tmp_path / "unified.gpkg"
    code = main(["unify", str(tmp_path / "综治网格.geojson"), str(tmp_path / "城管网格.shp"), "--code-column", "WGBM",
                 "--code-column", "网格编号", "--layer-datum", "综治网格=gcj02", "--sample", "--out", str(out), "-q"])
    assert code == 0, capsys.readouterr()
    unified = gridgeo.read_plan(out)
    assert "community_failed" not in set(unified.findings["type"])
    assert not has_errors(gridgeo.validate(unified))
    crosswalk = unified.layers["crosswalk"]
    assert set(crosswalk.loc[crosswalk["layer"] == "城管网格", "备注"]) == {"老城区", "新区"}  # GBK text read


def test_a_part_that_cannot_be_divided_is_named_by_its_community_and_said(sample_plan, tmp_path, capsys, monkeypatch):
    """A kept grid (or an area re-divided) whose division raised was a finding "community K00001: dividing it failed",
    a stand-in code no user has, and `rebalance` and `unify` exited 1 saying only "validation: N errors". The finding
    names the community and what part failed; the console says it, as `partition` does."""
    import gridgeo.partition.engine as engine

    real = engine.partition_community

    def fails_for_the_first_kept_grid(job):
        if job["code"] == "K00001":
            raise ValueError("a geometry the engine cannot take")
        return real(job)

    monkeypatch.setattr(engine, "partition_community", fails_for_the_first_kept_grid)
    office = sample_plan.grids[sample_plan.grids["kind"] == "base"][["grid_code", "community_code", "geometry"]]
    path, out = tmp_path / "office.gpkg", tmp_path / "rebalanced.gpkg"
    office.rename(columns={"grid_code": "WGBM"}).to_file(path, driver="GPKG")
    assert main(["rebalance", str(path), "--sample", "--code-column", "WGBM", "--workers", "1", "--out", str(out), "-q"]) == 1
    err = capsys.readouterr().err
    failed = gridgeo.read_plan(out).findings.query("type == 'community_failed'")
    assert len(failed) == 1 and "K00001" not in str(failed["feature_id"].iloc[0])
    community = str(failed["community_code"].iloc[0])
    assert failed["feature_id"].iloc[0] == community and len(community) == 12
    assert failed["message"].iloc[0].startswith(f"community {community} (a grid kept, its small grids, part K00001): "
                                                "dividing it failed (ValueError: a geometry the engine cannot take)")
    assert f"gridgeo: community {community} (a grid kept" in err


def test_rebalance_and_unify_read_the_grid_layers_code_by_columns(tmp_path, capsys):
    """A grid layer with its code in ``WG_DM``: ``--columns grids.code=WG_DM`` was refused by ``rebalance`` and
    ``unify`` ("layers: communities, streets …") and a ``LayerSource(..., columns={"code": "WG_DM"})`` had its mapping
    dropped ("no grid code column found"), while ``validate`` reads it since this session. The mapping is now
    the layer's code column everywhere a grid layer is read (``grids.kind`` its kind); given beside a different
    ``--code-column`` it is one line naming both, and a source's datum is converted once."""
    comm, b, zongzhi, chengguan = _small_town()
    zz, cg = zongzhi.rename(columns={"CODE": "WG_DM"}), chengguan.rename(columns={"CODE": "WG_DM"})
    source = gridgeo.io.LayerSource(None, frame=zz, columns={"code": "WG_DM"})
    plan, changes = gridgeo.rebalance(source, comm, None, b)
    assert sorted(changes["old_code"]) == sorted(zz["WG_DM"])
    plan, cross = gridgeo.unify([source, gridgeo.io.LayerSource(None, frame=cg, columns={"code": "WG_DM"})], comm, None, b,
                                names=["综治", "城管"])
    assert set(cross["department_code"]) == {*zz["WG_DM"], "CG01"}
    with pytest.raises(InputError, match=r"^code_column='X' and the grids layer's mapping \{'code': 'WG_DM'\} name two columns "
                                         r"for the grid code; give one$"):
        gridgeo.rebalance(source, comm, None, b, code_column="X")
    with pytest.raises(InputError, match=r"^grids: a community column of the grid layer is not read here"):
        gridgeo.rebalance(gridgeo.io.LayerSource(None, frame=zz, columns={"community": "WG_DM"}), comm, None, b)
    # the kind from another column: a grid marked dedicated (专属) takes a code of the dedicated range (9xx)
    marked = zz.assign(类型=["base", "dedicated", "base"])
    _, changes = gridgeo.rebalance(gridgeo.io.LayerSource(None, frame=marked, columns={"code": "WG_DM", "kind": "类型"}),
                                   comm, None, b)
    assert changes.set_index("old_code").loc["420103001001002", "new_codes"] == "420103001001900"
    # a source drawn on AMap (datum on the source) and the same datum said again: converted once, the grids kept
    from gridgeo.crs import convert_datum

    amap = convert_datum(zz.to_crs(4326), src="wgs84", dst="gcj02")
    twice = gridgeo.io.LayerSource(None, frame=amap, columns={"code": "WG_DM"}, datum="gcj02")
    _, once = gridgeo.rebalance(twice, comm, None, b, grids_datum="gcj02")
    assert once.set_index("old_code").loc["420103001001001", "status"] == "kept"
    with pytest.raises(InputError, match=r"^grids: datum given twice, 'gcj02' on its source and 'bd09' for the layer"):
        gridgeo.rebalance(twice, comm, None, b, grids_datum="bd09")
    paths = {}
    for name, layer in (("communities", comm), ("buildings", b), ("综治", zz), ("城管", cg)):
        paths[name] = tmp_path / f"{name}.gpkg"
        layer.to_crs(4490).to_file(paths[name], driver="GPKG")
    given = ["--communities", str(paths["communities"]), "--buildings", str(paths["buildings"]), "-q"]
    out = tmp_path / "plan.gpkg"
    assert main(["rebalance", str(paths["综治"]), *given, "--columns", "grids.code=WG_DM", "--out", str(out)]) == 0
    assert sorted(gpd.read_file(out, layer="changes")["old_code"]) == sorted(zz["WG_DM"])
    assert main(["unify", str(paths["综治"]), str(paths["城管"]), *given, "--columns", "grids.code=WG_DM",
                 "--out", str(tmp_path / "u.gpkg")]) == 0
    assert "综治: 3 grids" in capsys.readouterr().out
    # by a layer's name, for that layer only
    assert main(["unify", str(paths["综治"]), str(paths["城管"]), *given, "--columns", "综治.code=WG_DM",
                 "--out", str(tmp_path / "u2.gpkg")]) == 2
    assert ("城管: no grid code column found among ['WG_DM', '网格员', '编号', '备注']; name it with --code-column COL or "
            "--columns 城管.code=COL") in capsys.readouterr().err
    assert main(["rebalance", str(paths["综治"]), *given, "--columns", "grids.code=WG_DM", "--code-column", "X",
                 "--out", str(tmp_path / "p2.gpkg")]) == 2
    assert "--code-column X and --columns grids.code=WG_DM name two columns for the grid code" in capsys.readouterr().err
    assert not (tmp_path / "p2.gpkg").exists() and not (tmp_path / "u2.gpkg").exists()


def test_rebalance_and_unify_read_a_grids_table_in_their_config(tmp_path, capsys):
    """``rebalance --config FILE`` (and ``unify``) refused a ``[grids]`` table ("unknown section [grids]"): the grid
    layer's columns, datum, encoding and layer could only be given as options. The table is read as the options are
    (an option given wins), an unknown key is one line naming the keys accepted, and ``partition``, which reads no
    grid layer, says what the table is for."""
    from gridgeo.crs import convert_datum

    comm, b, zongzhi, chengguan = _small_town()
    zz, cg = zongzhi.rename(columns={"CODE": "WG_DM"}), chengguan.rename(columns={"CODE": "WG_DM"})
    paths = {}
    for name, layer in (("communities", comm), ("buildings", b), ("城管", cg)):
        paths[name] = tmp_path / f"{name}.gpkg"
        layer.to_crs(4490).to_file(paths[name], driver="GPKG")
    paths["综治"] = tmp_path / "综治.gpkg"  # drawn on AMap: read as GCJ-02 by the table's datum
    convert_datum(zz.to_crs(4326), src="wgs84", dst="gcj02").to_file(paths["综治"], layer="网格", driver="GPKG")
    cfg = tmp_path / "gridgeo.toml"
    layers = '[communities]\npath = "communities.gpkg"\n\n[buildings]\npath = "buildings.gpkg"\n\n'
    cfg.write_text(layers + '[grids]\nlayer = "网格"\ndatum = "gcj02"\ncolumns = { code = "WG_DM" }\n', encoding="utf-8")
    out = tmp_path / "plan.gpkg"
    assert main(["rebalance", str(paths["综治"]), "--config", str(cfg), "--out", str(out), "-q"]) == 0
    changes = gpd.read_file(out, layer="changes").set_index("old_code")
    assert sorted(changes.index) == sorted(zz["WG_DM"]) and changes.loc["420103001001001", "status"] == "kept"
    capsys.readouterr()
    # unify: the columns for every layer (a table's layer name is rebalance's: one line naming PATH:LAYERNAME)
    cfg.write_text(layers + '[grids]\ncolumns = { code = "WG_DM" }\n', encoding="utf-8")
    zz.to_crs(4490).to_file(paths["综治"], driver="GPKG", layer="综治")
    assert main(["unify", f"{paths['综治']}:综治", str(paths["城管"]), "--config", str(cfg), "--out",
                 str(tmp_path / "u.gpkg"), "-q"]) == 0
    assert "综治: 3 grids" in capsys.readouterr().out
    cfg.write_text(layers + '[grids]\nlayer = "网格"\n', encoding="utf-8")
    assert main(["unify", str(paths["综治"]), str(paths["城管"]), "--config", str(cfg), "--out", str(tmp_path / "u2.gpkg")]) == 2
    assert "[grids] layer = '网格' names the layer of rebalance's GRIDS; for unify give each layer as PATH:LAYERNAME" in \
        capsys.readouterr().err
    # an unknown key, a path (the layer is given on the command line), an unknown column, a wrong datum: one line each
    for table, said in (('code_column = "WG_DM"', "unknown key(s) ['code_column'] in [grids]; valid keys: "
                                                  "['columns', 'datum', 'encoding', 'layer']"),
                        ('path = "综治.gpkg"', "unknown key(s) ['path'] in [grids] (the grid layer is given on the "
                                               "command line); valid keys:"),
                        ('columns = { grid_code = "WG_DM" }', "[grids] columns ['grid_code'] unknown; a grid layer's "
                                                              "columns to map are ['code', 'community', 'kind']"),
                        ('datum = "amap"', "[grids] datum = 'amap' is not one of ['wgs84', 'gcj02', 'bd09']")):
        cfg.write_text(layers + f"[grids]\n{table}\n", encoding="utf-8")
        assert main(["rebalance", str(paths["城管"]), "--config", str(cfg), "--out", str(tmp_path / "p2.gpkg")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and said in err, err
    cfg.write_text(layers + '[grids]\ncolumns = { code = "WG_DM" }\n', encoding="utf-8")
    assert main(["partition", "--config", str(cfg), "--out", str(tmp_path / "p3.gpkg")]) == 2
    assert "unknown section [grids] ([grids] is read by rebalance and unify, of their grid layers)" in capsys.readouterr().err


def test_unify_reads_the_communities_and_streets_with_their_datum_and_columns(tmp_path):
    """`unify` reads the communities and streets itself (the shift check of the departments' layers, the lines
    they share beside the community boundaries and streets, each layer's "as read") before the plan is made: a
    community layer drawn on AMap (GCJ-02) with its code in ``CUN_DM``, and streets on AMap, give the unified plan
    and figures of the same layers in WGS-84 with ``code``. Each way of dropping them there fails (tried): the
    communities' datum, each layer read as "1 gap inside the communities (8.01 ha)"; their columns, an InputError (no
    'code' column); the streets' datum, 196 m of the line the layers share along the street counted off streets."""
    from gridgeo.crs import convert_datum
    from gridgeo.io import LayerSource

    comm, b, zongzhi, _ = _small_town()
    x0, y0 = comm.total_bounds[:2]
    halves = gpd.GeoDataFrame({"CODE": ["CG01", "CG02"]}, crs=comm.crs, geometry=[
        shapely.box(x0, y0, x0 + 200, y0 + 200), shapely.box(x0 + 200, y0, x0 + 400, y0 + 200)])
    street = gpd.GeoDataFrame({"name": ["中山路"], "highway": ["secondary"]}, crs=comm.crs,
                              geometry=[shapely.LineString([(x0 + 200, y0 - 50), (x0 + 200, y0 + 250)])])
    kw = {"code_columns": ["CODE", "CODE"], "names": ["综治", "城管"]}
    plan, cross = unify([zongzhi, halves], comm, street, b, **kw)
    want = plan.metadata["unify"]
    assert want["read_per_layer"] == ["", ""] and want["shared_boundary_off_streets_m"] == 0.0

    def amap(layer):
        return convert_datum(layer.to_crs(4326), src="wgs84", dst="gcj02")

    comm_src = LayerSource(None, frame=amap(comm).rename(columns={"code": "CUN_DM"}), datum="gcj02",
                           columns={"code": "CUN_DM"})
    street_src = LayerSource(None, frame=amap(street), datum="gcj02")
    plan2, cross2 = unify([zongzhi, halves], comm_src, street_src, b, **kw)
    got = plan2.metadata["unify"]
    for key in ("read_per_layer", "shared_boundary_m", "shared_boundary_off_streets_m", "grids_after"):
        assert got[key] == want[key], key
    assert sorted(cross2["unified_code"].dropna()) == sorted(cross["unified_code"].dropna())


def test_the_change_map_and_the_grid_map_show_the_office_staff_columns_in_one_popup(sample_plan, tmp_path):
    """`rebalance --map`'s change map lacked the office layer's columns the plan carries (网格员 and phone): its grids
    had a tooltip of codes only. Both maps now show them in the grid map's popup (`grid_popup`), escaped: on the
    plan's grids that keep their code, and on every office grid of the change map's before layer; a column that is
    no staff name or phone (备注) or a household figure is not shown on a public map."""
    import re

    from gridgeo.maps import grid_map

    pick = _pick(sample_plan.grids)
    office = faulty_layer(sample_plan, pick)
    office["网格员"] = [f"张<b>{i}</b>" for i in range(len(office))]
    office["联系电话"] = [13800000000 + i for i in range(len(office))]
    office["备注"] = "内部备注"
    office["户数"] = 7
    path = tmp_path / "office.gpkg"
    office.to_crs(4490).to_file(path, driver="GPKG")
    out, html_path = tmp_path / "plan.gpkg", tmp_path / "changes.html"
    assert main(["rebalance", str(path), "--sample", "--code-column", "WGBM", "--out", str(out), "--map", str(html_path),
                 "-q"]) == 0
    plan = gridgeo.read_plan(out)

    def decoded(text: str) -> str:
        return re.sub(r"\\u([0-9a-fA-F]{4})", lambda x: chr(int(x.group(1), 16)), text)

    page = decoded(html_path.read_text(encoding="utf-8"))
    kept = plan.layers["changes"].query("status == 'kept'")["old_code"].iloc[0]
    i = int(office.reset_index(drop=True).index[office["WGBM"] == kept][0])
    row = f"<tr><th>网格员</th><td>张&lt;b&gt;{i}&lt;/b&gt;</td></tr><tr><th>联系电话</th><td>{13800000000 + i}</td></tr>"
    assert page.count(row) == 2  # the office grid (before) and the plan's grid keeping its code (after)
    split = plan.layers["changes"].query("status == 'split'")["old_code"].iloc[0]
    j = int(office.reset_index(drop=True).index[office["WGBM"] == split][0])
    assert f"<td>张&lt;b&gt;{j}&lt;/b&gt;</td>" in page  # its grid is gone: the before layer still names its worker
    assert "张<b>" not in page and "内部备注" not in page and "<th>户数</th>" not in page
    assert page.count("L.control.scale(") == 1 and "imperial: false" in page
    public = decoded(grid_map(plan, public=True, tiles="none").get_root().render())
    assert row in public and "内部备注" not in public
    assert "<th>备注</th><td>内部备注</td>" in decoded(grid_map(plan, tiles="none").get_root().render())  # the office's own map


def test_validate_reads_the_grids_table_and_the_layers_of_a_config(tmp_path, capsys):
    """`gridgeo validate` had no --config: the `[grids]` table that `rebalance` and `unify` read (the layer's columns,
    datum, encoding, layer) and the layers checked against had to be given again as options. It reads them as they
    do (an option given wins); a plan given as GRIDS is read with its own columns, the table said as not used."""
    from gridgeo.crs import convert_datum

    comm, _, zongzhi, _ = _small_town()
    comm.to_crs(4490).to_file(tmp_path / "communities.gpkg", driver="GPKG")
    zz = zongzhi.iloc[:2].rename(columns={"CODE": "WG_DM"}).assign(SQ_DM="420103001001")
    grids = tmp_path / "综治.gpkg"  # drawn on AMap (GCJ-02), the codes in WG_DM and SQ_DM, in a layer named 网格
    convert_datum(zz.to_crs(4326), src="wgs84", dst="gcj02").to_file(grids, layer="网格", driver="GPKG")
    cfg = tmp_path / "gridgeo.toml"
    cfg.write_text('[communities]\npath = "communities.gpkg"\n\n[grids]\nlayer = "网格"\ndatum = "gcj02"\n'
                   'columns = { code = "WG_DM", community = "SQ_DM" }\n', encoding="utf-8")
    assert main(["validate", str(grids), "--config", str(cfg)]) == 0
    assert "综治.gpkg: 2 grids, clean: no findings" in capsys.readouterr().out
    # the same as the options say it; without the table's datum, the layer lies off the communities
    assert main(["validate", str(grids), "--grids-layer", "网格", "--grids-datum", "gcj02", "--communities",
                 str(tmp_path / "communities.gpkg"), "--columns", "grids.code=WG_DM", "--columns",
                 "grids.community=SQ_DM"]) == 0
    capsys.readouterr()
    cfg.write_text('[communities]\npath = "communities.gpkg"\n\n[grids]\nlayer = "网格"\n'
                   'columns = { code = "WG_DM", community = "SQ_DM" }\n', encoding="utf-8")
    assert main(["validate", str(grids), "--config", str(cfg)]) == 1  # read as drawn: the grids leave the community
    assert "outside_community" in capsys.readouterr().out
    # an option wins over the table's key: the datum given, and a code column given as --code-column
    assert main(["validate", str(grids), "--config", str(cfg), "--grids-datum", "gcj02", "--code-column", "WG_DM"]) == 0
    capsys.readouterr()
    # a plan is read with its own columns: the table is not used, and said so
    plan = tmp_path / "plan.gpkg"
    assert main(["rebalance", str(grids), "--config", str(cfg), "--grids-datum", "gcj02", "--buildings",
                 str(_written(_small_town()[1], tmp_path / "buildings.gpkg")), "--columns", "grids.code=WG_DM",
                 "--out", str(plan), "-q"]) == 2  # rebalance reads no community column of a grid layer
    assert "a community column of the grid layer is not read here" in capsys.readouterr().err
    cfg.write_text('[grids]\ncolumns = { code = "WG_DM" }\n', encoding="utf-8")
    assert main(["rebalance", str(grids), "--config", str(cfg), "--grids-layer", "网格", "--grids-datum", "gcj02",
                 "--communities", str(tmp_path / "communities.gpkg"), "--buildings", str(tmp_path / "buildings.gpkg"),
                 "--out", str(plan), "-q"]) == 0
    capsys.readouterr()
    assert main(["validate", str(plan), "--config", str(cfg)]) == 0
    err = capsys.readouterr().err
    assert f"note: {plan} is a gridgeo plan, read with its own columns; the [grids] table of {cfg} (columns) is for a " \
           "grid layer and is not used" in err, err


def _written(gdf: gpd.GeoDataFrame, path: Path) -> Path:
    gdf.to_crs(4490).to_file(path, driver="GPKG")
    return path


def test_rebalance_and_unify_read_their_config_once_and_refuse_a_community_column_before_reading(
        tmp_path, capsys, monkeypatch):
    """`rebalance --config` and `unify --config` read the TOML file twice (its [grids] table, then its layers), and
    `rebalance` with `[grids] columns = { community = … }` was refused only after the inputs were read (3.4 s on the
    sample town): the file is read once, and the mapping refused before any layer is read. `unify` with two layers
    of one file name and a [grids] datum was refused as "--layer-datum 网格=... names no layer" (the datum keyed by
    the file stem, the layers named 网格#1, 网格#2): the datum is given to each layer as unify names it."""
    import gridgeo.io
    import gridgeo.pipeline

    comm, b, zongzhi, chengguan = _small_town()
    paths = {name: _written(layer, tmp_path / f"{name}.gpkg") for name, layer in (("communities", comm), ("buildings", b))}
    cfg = tmp_path / "gridgeo.toml"
    layers = '[communities]\npath = "communities.gpkg"\n\n[buildings]\npath = "buildings.gpkg"\n\n'
    cfg.write_text(layers + '[grids]\ncolumns = { code = "CODE", community = "SQ" }\n', encoding="utf-8")
    zz = _written(zongzhi.assign(SQ="420103001001"), tmp_path / "综治.gpkg")
    calls = []
    read = gridgeo.io.load_config
    monkeypatch.setattr(gridgeo.io, "load_config", lambda *a, **k: calls.append(a) or read(*a, **k))

    def prepared(*a, **k):
        raise AssertionError("the inputs were read before the grid layer's mapping was refused")

    monkeypatch.setattr(gridgeo.pipeline, "prepare", prepared)
    assert main(["rebalance", str(zz), "--config", str(cfg), "--out", str(tmp_path / "p.gpkg")]) == 2
    assert "grids: a community column of the grid layer is not read here" in capsys.readouterr().err
    assert len(calls) == 1
    calls.clear()
    assert main(["unify", str(zz), str(paths["communities"]), "--config", str(cfg), "--out", str(tmp_path / "u.gpkg")]) == 2
    assert "a community column of the grid layer is not read here" in capsys.readouterr().err
    assert len(calls) == 1
    monkeypatch.undo()
    # two layers named alike (a/网格.gpkg, b/网格.gpkg) with the table's datum: each read in it
    from gridgeo.crs import convert_datum

    for sub, layer in (("a", zongzhi), ("b", chengguan)):
        (tmp_path / sub).mkdir()
        convert_datum(layer.to_crs(4326), src="wgs84", dst="gcj02").to_file(tmp_path / sub / "网格.gpkg", driver="GPKG")
    cfg.write_text(layers + '[grids]\ndatum = "gcj02"\ncolumns = { code = "CODE" }\n', encoding="utf-8")
    assert main(["unify", str(tmp_path / "a" / "网格.gpkg"), str(tmp_path / "b" / "网格.gpkg"), "--config", str(cfg),
                 "--out", str(tmp_path / "u.gpkg"), "-q"]) == 0
    out = capsys.readouterr().out
    assert "网格#1: 3 grids" in out and "网格#2: 1 grid" in out, out
