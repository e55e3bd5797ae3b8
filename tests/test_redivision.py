"""Re-division (动态调整, issue 16) after a change confined to one community keeps every other grid.

On the bundled sample town, and on a variant with messy footprints (exact duplicates, building parts on
top, second-source outlines, height-band pieces: SYNTHETIC copies of a tenth of its buildings), a first
plan is written; three buildings are added and one building's households changed in one community;
the plan is re-divided with ``previous=`` the first. Asserted, on the plans as stored:

- 100% of the OTHER communities' grids keep their ``grid_code`` and their shape (symmetric difference
  under 0.01 m² in EPSG:4547);
- every stored polygon is valid in EPSG:4490 and in the plan's ``metadata["metric_crs"]``;
- the re-divided plan's geometry types (as stored and as declared by each GeoPackage layer) equal those
  of a fresh plan of the same changed inputs;
- the re-divided plan passes ``gridgeo validate`` with no error.

The scenario and its measures are those of ``benchmarks/bench_redivision.py`` (one implementation),
which runs the same on the Wuhan districts and Lujiazui.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import shapely

from gridgeo.plan import Plan

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_redivision.py"


def _bench():
    if "bench_redivision" in sys.modules:
        return sys.modules["bench_redivision"]
    spec = importlib.util.spec_from_file_location("bench_redivision", BENCH)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bench_redivision"] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module", params=["sample", "sample-messy", "suzhou"])
def run(request, tmp_path_factory):
    # suzhou: real tile-cut footprints (../shared/data); its re-divided plan as written had a small grid stored as an
    # empty polygon (GEOS's structure method mending a ring crossed in degrees between vertices 40 nm apart) and
    # another as a MultiPolygon for a sliver of 20 mm² along its region's edge
    bench = _bench()
    inputs = bench.load_inputs(request.param)
    if isinstance(inputs, str):
        pytest.skip(f"{request.param}: {inputs}")
    work = tmp_path_factory.mktemp(request.param)
    result = bench.redivide(inputs, work, name=request.param, fresh=True)
    plans = {v: Plan.read(work / f"{request.param}_{v}.gpkg") for v in ("v1", "v2", "fresh")}
    return request.param, result, plans, inputs


def test_messy_variant_has_overlapping_footprints(run):
    name, _, plans, inputs = run
    types = set(plans["v1"]["findings"]["type"])
    if name == "sample-messy":
        assert {"building_duplicate", "buildings_overlap"} <= types
        assert inputs.buildings["building_id"].str.endswith(("-dup", "-part", "-src2", "-band")).sum() > 100
    assert len(plans["v1"]["buildings"]) == len(inputs.buildings)


def test_the_change_is_confined_to_one_community(run):
    _, r, plans, _ = run
    v1, v2 = plans["v1"], plans["v2"]
    new = v2["buildings"][v2["buildings"]["building_id"].str.startswith("new-")]
    assert len(new) == 3
    assert set(new["community_code"]) == {r.community}
    assert new["grid_code"].notna().all()
    assert len(v2["buildings"]) == len(v1["buildings"]) + 3
    assert int(v2["buildings"]["households"].sum()) == int(v1["buildings"]["households"].sum()) + 30 + 40 + 50 + 7


def test_other_communities_keep_every_grid_with_code_and_shape(run):
    _, r, plans, _ = run
    assert r.total > 0
    assert r.lost == [], f"{len(r.lost)} of {r.total} grids of other communities not kept: {r.lost[:10]}"
    assert r.kept == r.total


def test_kept_grids_measure_detects_a_change(run):
    # the measure itself: a grid of another community moved by 1 m, or recoded, is not kept
    bench = _bench()
    _, r, plans, _ = run
    v1 = plans["v1"]
    grids = v1["grids"].copy()
    i = grids.index[grids["community_code"] != r.community][0]
    moved = grids.to_crs(bench.SHAPE_CRS)
    moved.loc[i, moved.geometry.name] = shapely.affinity.translate(moved.geometry[i], 1.0, 0.0)
    kept, total, lost = bench.kept_grids(v1, Plan({"grids": moved}, {}), r.community)
    assert (kept, lost) == (total - 1, [grids.loc[i, "grid_code"]])
    recoded = grids.copy()
    recoded.loc[i, "grid_code"] = "999999999999999"
    kept, total, _ = bench.kept_grids(v1, Plan({"grids": recoded}, {}), r.community)
    assert kept == total - 1


@pytest.mark.parametrize("version", ["v1", "v2", "fresh"])
def test_stored_geometries_valid_in_degrees_and_in_the_metric_crs(run, version):
    bench = _bench()
    plan = run[2][version]
    assert plan["grids"].crs.to_epsg() == 4490
    assert plan.metadata["metric_crs"]
    layers = [n for n in plan.layers if n != "findings"]
    bad = bench.invalid_geometries(plan, layers=layers)
    assert set(bad) >= {"communities", "blocks", "grids", "subgrids", "buildings"}
    assert not any(bad.values()), bad


def test_geometry_types_equal_the_fresh_plans(run):
    _, r, _, _ = run
    assert r.types_fresh, "the fresh plan was built"
    assert r.types_v2 == r.types_fresh


def test_redivided_plan_validates_with_no_error(run):
    _, r, plans, _ = run
    assert r.errors == 0, r.error_types
    assert plans["v2"].metadata["validation"]["error"] == 0, plans["v2"].metadata["validation"]
    assert plans["v1"].metadata["validation"]["error"] == 0, plans["v1"].metadata["validation"]


# ------------------------------------------------------------------------ Lujiazui (real OSM footprints)


@pytest.fixture(scope="module")
def lujiazui(tmp_path_factory):
    """Re-division on the Lujiazui scenario (real OSM footprints; ``scripts/build_lujiazui_scenario.py``)."""
    bench = _bench()
    inputs = bench.load_inputs("lujiazui")
    if isinstance(inputs, str):
        pytest.skip(f"Lujiazui scenario unavailable: {inputs}")
    work = tmp_path_factory.mktemp("lujiazui")
    result = bench.redivide(inputs, work, name="lujiazui", fresh=True)
    plans = {v: Plan.read(work / f"lujiazui_{v}.gpkg") for v in ("v1", "v2", "fresh")}
    return result, plans


@pytest.mark.slow
def test_lujiazui_other_communities_keep_every_grid(lujiazui):
    r, _ = lujiazui
    assert r.total > 0
    assert r.lost == [], f"{len(r.lost)} of {r.total} grids of other communities not kept: {r.lost}"


@pytest.mark.slow
def test_lujiazui_redivided_plan_valid_and_validates(lujiazui):
    bench = _bench()
    r, plans = lujiazui
    assert r.errors == 0, r.error_types
    for version, plan in plans.items():
        bad = bench.invalid_geometries(plan, layers=[n for n in plan.layers if n != "findings"])
        assert not any(bad.values()), (version, bad)


@pytest.mark.slow
def test_lujiazui_no_zero_area_parts_and_types_as_fresh(lujiazui):
    r, plans = lujiazui
    for version, plan in plans.items():
        metric = plan.metadata["metric_crs"]
        for layer in ("blocks", "grids", "subgrids"):
            parts = shapely.get_parts(plan[layer].to_crs(metric).geometry.to_numpy())
            assert (shapely.area(parts) > 0.01).all(), f"{version} {layer}: a part of under 0.01 m²"
    assert r.types_v2 == r.types_fresh
