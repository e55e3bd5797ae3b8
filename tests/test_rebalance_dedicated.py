"""rebalance and unify with dedicated grids (专属网格) in the office layer, and the options they pass on.

The office layer is the sample town's own plan from ``gridgeo partition --sample`` (which reads the
enterprises layer and carves dedicated grids): its dedicated grids must come back exactly, with their
codes, whether they are marked by a ``kind`` column or only by codes in the dedicated range.
"""

from __future__ import annotations

import os
import stat

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gridgeo import InputError
from gridgeo.cli import main
from gridgeo.crs import metric_crs
from gridgeo.datasets import get_path
from gridgeo.maps.changes import change_map
from gridgeo.plan import Plan
from gridgeo.rebalance import rebalance, unify

SAMPLE = get_path("sample_town")
INPUTS = tuple((SAMPLE, n) for n in ("communities", "streets", "buildings"))


@pytest.fixture(scope="module")
def partitioned(tmp_path_factory):
    out = tmp_path_factory.mktemp("ded") / "a.gpkg"
    assert main(["partition", "--sample", "--out", str(out), "--workers", "1", "-q"]) == 0
    grids = gpd.read_file(out, layer="grids")
    assert (grids["kind"] == "dedicated").sum() >= 3, "the sample plan should have dedicated grids"
    return out, grids


def _same_geometry(a: gpd.GeoDataFrame, b: gpd.GeoDataFrame, code: str) -> float:
    m = metric_crs(a)
    ga = a.to_crs(m).set_index("grid_code").geometry[code]
    gb = b.to_crs(m).set_index("grid_code").geometry[code]
    return float(shapely.area(shapely.symmetric_difference(ga, gb)))


def _check_dedicated_kept(before: gpd.GeoDataFrame, plan_path) -> gpd.GeoDataFrame:
    after = gpd.read_file(plan_path, layer="grids")
    changes = gpd.read_file(plan_path, layer="changes")
    ded = before.loc[before["kind"] == "dedicated", "grid_code"].tolist()
    kind_after = dict(zip(after["grid_code"], after["kind"]))
    status = dict(zip(changes["old_code"], changes["status"]))
    for code in ded:
        assert kind_after.get(code) == "dedicated", code
        assert status[code] == "kept", (code, status[code])
        assert _same_geometry(before, after, code) < 1.0, code
    assert (after["kind"] == "dedicated").sum() == len(ded)
    return after


def _validate_errors(path) -> int:
    return int(Plan.read(path).metadata["validation"]["error"])


def test_rebalance_keeps_dedicated_grids_and_compliant_neighbours(partitioned, tmp_path, capsys):
    src, before = partitioned
    out = tmp_path / "r.gpkg"
    code = main(["rebalance", str(src), "--grids-layer", "grids", "--sample", "--out", str(out), "-q"])
    text = capsys.readouterr().out
    assert code == 0, text
    assert "merged 0" in text
    after = _check_dedicated_kept(before, out)
    assert _validate_errors(out) == 0
    assert main(["validate", str(out)]) == 0
    changes = gpd.read_file(out, layer="changes")
    status = dict(zip(changes["old_code"], changes["status"]))
    # every base grid within the bounds is kept (no dedicated neighbour's fault absorbs it)
    base = before[(before["kind"] == "base") & before["households"].between(300, 500)]
    assert len(base) > 30
    assert all(status[c] == "kept" for c in base["grid_code"]), {c: status[c] for c in base["grid_code"] if status[c] != "kept"}
    assert set(after["grid_code"]) == set(before["grid_code"])
    meta = Plan.read(out).metadata["rebalance"]
    assert meta["dedicated_kept"] == int((before["kind"] == "dedicated").sum())


def test_dedicated_by_code_range_without_kind_column(partitioned, tmp_path):
    """No kind column: codes at or above dedicated_start (900) mark the dedicated grids; a faulty base
    grid next to one is re-divided without touching it."""
    src, before = partitioned
    ded = before[before["kind"] == "dedicated"]
    base = before[before["kind"] == "base"].copy()
    m = metric_crs(before)
    bm = base.to_crs(m)
    dm = ded.to_crs(m)
    # a base grid touching a dedicated grid, merged with a base neighbour of its community: a fault
    pair = None
    for _, row in bm.sort_values("grid_code").iterrows():
        if not shapely.intersects(row.geometry.buffer(0.5), shapely.union_all(dm.geometry.to_numpy())):
            continue
        nb = bm[(bm["community_code"] == row["community_code"]) & (bm["grid_code"] != row["grid_code"])
                & bm.geometry.touches(row.geometry)]
        if len(nb):
            pair = (row["grid_code"], sorted(nb["grid_code"])[0])
            break
    assert pair is not None
    a, b = pair
    merged_geom = shapely.union(bm.set_index("grid_code").geometry[a], bm.set_index("grid_code").geometry[b])
    office = bm[~bm["grid_code"].isin(pair)][["grid_code", "geometry"]]
    office = gpd.GeoDataFrame(
        np.concatenate([office[["grid_code"]].to_numpy(), [[a]], dm[["grid_code"]].to_numpy()]).ravel(),
        columns=["grid_code"],
        geometry=list(office.geometry) + [merged_geom] + list(dm.geometry), crs=m)
    assert "kind" not in office.columns
    plan, changes = rebalance(office, *INPUTS, workers=1)
    after = plan["grids"]
    assert plan.metadata["validation"]["error"] == 0
    status = dict(zip(changes["old_code"], changes["status"]))
    kind_after = dict(zip(after["grid_code"], after["kind"]))
    for code in ded["grid_code"]:
        assert kind_after.get(code) == "dedicated"
        assert status[code] == "kept"
        assert _same_geometry(ded, after, code) < 1.0
    assert status[a] != "kept"  # the merged grid of about twice the bounds is re-divided
    assert plan.metadata["rebalance"]["dedicated_kept"] == len(ded)


def test_kind_column_decides_over_codes(partitioned):
    """A kind column marks dedicated grids even with codes that are not in the dedicated range: they are
    kept (exempt from the bounds) and get new dedicated codes (900 and up)."""
    _, before = partitioned
    office = before.copy()
    ded = office["kind"] == "dedicated"
    office.loc[ded, "grid_code"] = [f"X{i}" for i in range(int(ded.sum()))]
    office["kind"] = np.where(ded, "专属网格", "综合网格")
    plan, changes = rebalance(office, *INPUTS, workers=1)
    g = plan["grids"]
    assert plan.metadata["validation"]["error"] == 0
    new_ded = g[g["kind"] == "dedicated"]
    assert len(new_ded) == int(ded.sum())
    assert all(int(c[-3:]) >= 900 for c in new_ded["grid_code"])
    # each one is where the old dedicated grid was
    m = metric_crs(before)
    old = before[before["kind"] == "dedicated"].to_crs(m).geometry.to_numpy()
    new = new_ded.to_crs(m).geometry.to_numpy()
    for o in old:
        assert min(shapely.area(shapely.symmetric_difference(o, n)) for n in new) < 1.0


def test_enterprises_refused(partitioned, tmp_path, capsys):
    src, _ = partitioned
    out = tmp_path / "r.gpkg"
    code = main(["rebalance", str(src), "--grids-layer", "grids", "--sample", "--enterprises", str(SAMPLE),
                 "--enterprises-layer", "enterprises", "--out", str(out), "-q"])
    err = capsys.readouterr().err
    assert code == 2
    assert "--enterprises is not used here" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
    code = main(["unify", str(src) + ":grids", str(src) + ":grids", "--sample", "--enterprises", str(SAMPLE),
                 "--enterprises-layer", "enterprises", "--out", str(out), "-q"])
    err = capsys.readouterr().err
    assert code == 2 and "unify keeps the dedicated grids" in err
    with pytest.raises(InputError, match="--enterprises is not used here"):
        unify([(src, "grids"), (src, "grids")], *INPUTS, enterprises=(SAMPLE, "enterprises"))
    from gridgeo.io import layer_sources
    from gridgeo.rebalance import rebalance_sources

    sources = layer_sources({"communities": INPUTS[0], "buildings": INPUTS[2], "enterprises": (SAMPLE, "enterprises")})
    with pytest.raises(InputError, match="--enterprises is not used here"):
        rebalance_sources((src, "grids"), sources)


@pytest.mark.parametrize("command", ["rebalance", "unify"])
def test_input_options_passed_to_prepare(partitioned, tmp_path, monkeypatch, command):
    """--allow-outside, --no-shift-check, --metric-crs and --villager-groups reach the preparation."""
    import gridgeo.pipeline

    src, _ = partitioned
    seen = {}

    class Stop(Exception):
        pass

    def fake_prepare(sources, **kw):
        seen.update(kw)
        seen["sources"] = set(sources)
        raise Stop

    monkeypatch.setattr(gridgeo.pipeline, "prepare", fake_prepare)
    layers = [str(src)] if command == "rebalance" else [str(src) + ":grids", str(src) + ":grids"]
    extra = ["--grids-layer", "grids"] if command == "rebalance" else []
    with pytest.raises(Stop):
        main([command, *layers, *extra, "--sample", "--allow-outside", "--no-shift-check", "--metric-crs", "EPSG:4547",
              "--out", str(tmp_path / "x.gpkg"), "-q"])
    assert seen["allow_outside"] is True and seen["shift_check"] is False
    assert str(seen["metric"]) == "EPSG:4547"
    assert "villager_groups" in seen["sources"] and "enterprises" not in seen["sources"]


def test_change_map_permissions(partitioned, tmp_path):
    src, _ = partitioned
    out = tmp_path / "r.gpkg"
    assert main(["rebalance", str(src), "--grids-layer", "grids", "--sample", "--out", str(out), "-q"]) == 0
    old = os.umask(0o022)
    try:
        path = change_map(Plan.read(out), tmp_path / "changes.html")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644


def test_dedicated_grid_cutting_a_building_takes_or_gives_it_whole(partitioned):
    """An office's dedicated grid drawn across buildings of its base neighbour: kept with its code, and the
    cut buildings end up whole on one side (楼栋完整), so the plan validates with 0 errors."""
    _, before = partitioned
    m = metric_crs(before)
    g = before.to_crs(m).set_index("grid_code")
    bld = gpd.read_file(SAMPLE, layer="buildings").to_crs(m)
    bld = bld[bld.geometry.geom_type.isin(["Polygon", "MultiPolygon"])]
    ded = sorted(g.index[g["kind"] == "dedicated"])
    chosen = None
    for d in ded:
        nb = g[(g["kind"] == "base") & (g["community_code"] == g.at[d, "community_code"])
               & g.geometry.touches(g.at[d, "geometry"])]
        for n in sorted(nb.index):
            inside = bld[bld.geometry.within(g.at[n, "geometry"])]
            if not len(inside):
                continue
            dist = inside.geometry.distance(g.at[d, "geometry"])
            b = inside.geometry[dist.idxmin()]
            reach = float(dist.min()) + 0.5 * float(np.sqrt(b.area))
            if reach < 40:
                chosen = (d, n, reach)
                break
        if chosen:
            break
    assert chosen is not None
    d, n, reach = chosen
    grow = shapely.intersection(g.at[d, "geometry"].buffer(reach, join_style="mitre"), g.at[n, "geometry"])
    office = g.reset_index()[["grid_code", "kind", "geometry"]].copy()
    geoms = office.geometry.to_numpy().copy()
    i_d = int(np.flatnonzero(office["grid_code"] == d)[0])
    i_n = int(np.flatnonzero(office["grid_code"] == n)[0])
    geoms[i_d] = shapely.union(geoms[i_d], grow)
    geoms[i_n] = shapely.difference(geoms[i_n], grow)
    office = office.set_geometry(gpd.GeoSeries(geoms, crs=m))
    cut = bld.geometry.intersects(geoms[i_d].boundary) & (bld.geometry.intersection(geoms[i_d]).area > 0.05 * bld.area) \
        & (bld.geometry.intersection(geoms[i_d]).area < 0.95 * bld.area)
    assert cut.any(), "the grown dedicated grid should cut a building"
    plan, changes = rebalance(office, *INPUTS, workers=1)
    assert plan.metadata["validation"]["error"] == 0, plan.metadata["validation"]
    after = plan["grids"]
    assert dict(zip(after["grid_code"], after["kind"]))[d] == "dedicated"
    status = dict(zip(changes["old_code"], changes["status"]))
    assert status[d] in ("kept", "reshaped")
    assert (after["kind"] == "dedicated").sum() == len(ded)


def test_a_base_grid_drawn_over_most_of_a_dedicated_grid_leaves_it_its_building(partitioned):
    """An office's layer of two communities whose base grid is drawn 15 m wider than its land, over most of the market's
    dedicated grid (专属网格) beside it (a site that is mostly one building): the overlap went to the base grid, the
    dedicated grid held under half of its building and gave it up, left with no land: a traceback ("GEOSException:
    getX called on empty Point"). A dedicated grid whose land is all pieces of buildings it holds under half of keeps
    those buildings whole."""
    _, before = partitioned
    m = metric_crs(before)
    g = before.to_crs(m)
    g = g[g["community_code"].isin(sorted(g["community_code"].unique())[:2])].set_index("grid_code")
    bld = gpd.read_file(SAMPLE, layer="buildings").to_crs(m)
    built = {d: shapely.area(shapely.intersection(shapely.union_all(bld.geometry.to_numpy()), g.at[d, "geometry"]))
             / g.at[d, "geometry"].area for d in g.index[g["kind"] == "dedicated"]}
    pairs = [(shapely.area(shapely.intersection(shapely.buffer(g.at[n, "geometry"], 15), g.at[d, "geometry"]))
              / g.at[d, "geometry"].area, d, n)
             for d in sorted(d for d, share in built.items() if share > 0.8)  # a site that is mostly its building
             for n in sorted(g.index[(g["kind"] == "base") & g.geometry.touches(g.at[d, "geometry"])])]
    share, d, n = max(pairs)
    assert share > 0.7, "a base grid whose 15 m buffer covers most of a dedicated grid"
    mine = bld[bld.geometry.intersects(g.at[d, "geometry"])]
    assert len(mine) and (shapely.area(shapely.intersection(mine.geometry.to_numpy(), shapely.buffer(g.at[n, "geometry"], 15)))
                          > 0.5 * mine.area.to_numpy()).any(), "the grown base grid should take most of a building of it"
    office = g.reset_index()[["grid_code", "kind", "geometry"]].copy()
    geoms = office.geometry.to_numpy().copy()
    i_n = int(np.flatnonzero(office["grid_code"] == n)[0])
    geoms[i_n] = shapely.buffer(geoms[i_n], 15)
    office = office.set_geometry(gpd.GeoSeries(geoms, crs=m))
    plan, changes = rebalance(office, *INPUTS, workers=1)
    assert plan.metadata["validation"]["error"] == 0, plan.metadata["validation"]
    after = plan["grids"].set_index("grid_code")
    placed = plan["buildings"].set_index("building_id")["grid_code"].loc[mine["building_id"]]
    assert placed.nunique() == 1 and after.at[placed.iloc[0], "kind"] == "dedicated"  # its building whole, in a dedicated grid
    # drawn on top of the base grids round it, every dedicated grid is kept with its code and its buildings
    status = dict(zip(changes["old_code"], changes["status"], strict=True))
    for code in g.index[g["kind"] == "dedicated"]:
        assert status[code] in ("kept", "reshaped") and after.at[code, "kind"] == "dedicated", (code, status[code])
    assert placed.iloc[0] == d
    assert shapely.area(shapely.symmetric_difference(after.to_crs(m).at[d, "geometry"], g.at[d, "geometry"])) < 1.0


def test_a_base_grid_drawn_inside_a_dedicated_grid_gives_it_its_area(partitioned):
    """An office's base grid drawn wholly inside a dedicated grid (专属网格; a site outlined twice): the base piece,
    wholly covered, was left to the repair's rule, which carved it out of the dedicated grid round it; the
    dedicated grid came back ``split``, its code lost to a new one, part of it in a base grid. Now the dedicated grid
    takes the inner grid's area and is kept exactly, and the change table says where the inner grid went."""
    _, before = partitioned
    m = metric_crs(before)
    g = before.to_crs(m)
    g = g[g["community_code"].isin(sorted(g["community_code"].unique())[:2])].reset_index(drop=True)
    d = g[g["kind"] == "dedicated"].sort_values("grid_code").iloc[-1]
    inner = d["grid_code"][:12] + "050"
    assert inner not in set(g["grid_code"])
    office = pd.concat([g[["grid_code", "kind", "geometry"]],
                        gpd.GeoDataFrame({"grid_code": [inner], "kind": ["base"]},
                                         geometry=[shapely.buffer(d.geometry, -3)], crs=m)], ignore_index=True)
    plan, changes = rebalance(office, *INPUTS, workers=1)
    assert plan.metadata["validation"]["error"] == 0, plan.metadata["validation"]
    row = changes.set_index("old_code").loc[inner]
    # merged into the dedicated grid, or redrawn as it when the inner grid is most of it (the change table's rule)
    assert row["status"] in ("merged", "redrawn") and row["new_codes"] == d["grid_code"], row.to_dict()
    assert row["households_moved"] == 0, row.to_dict()
    assert f"inside dedicated grid {d['grid_code']}" in row["faults"], row["faults"]
    status = dict(zip(changes["old_code"], changes["status"], strict=True))
    after = plan["grids"].to_crs(m).set_index("grid_code")
    for code in g.loc[g["kind"] == "dedicated", "grid_code"]:
        # the site's own: its households, counted in the inner grid by the office's layer, come back to it (reshaped)
        assert status[code] == ("kept" if code != d["grid_code"] or row["households_before"] == 0 else "reshaped"), (
            code, status[code])
        assert after.at[code, "kind"] == "dedicated", code
    assert (after["kind"] == "dedicated").sum() == (g["kind"] == "dedicated").sum()
    assert shapely.area(shapely.symmetric_difference(after.at[d["grid_code"], "geometry"], d.geometry)) < 1.0
