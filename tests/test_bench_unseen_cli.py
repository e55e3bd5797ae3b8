"""``benchmarks/bench_unseen_cli.py``: what its table reports of ``gridgeo validate`` (issue 16's CLI runs).

Its "validate" column once held the last line ``gridgeo validate`` printed, a row of the worst-offenders table
whenever there were findings; it now holds the findings counted by severity, read from the report
``gridgeo validate --report`` writes, so that a reader sees at a glance how many errors and warnings a plan has.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

import gridgeo
from gridgeo.plan import Plan

BENCHMARKS = str(Path(__file__).resolve().parents[1] / "benchmarks")


def _bench():
    """``benchmarks/bench_unseen_cli.py`` as a module (it imports its sibling ``bench_redivision``)."""
    if BENCHMARKS not in sys.path:
        sys.path.insert(0, BENCHMARKS)
    return importlib.import_module("bench_unseen_cli")


def _counts(findings: pd.DataFrame) -> dict[str, int]:
    return {k: int((findings["severity"] == k).sum()) for k in ("error", "warning", "info")}


@pytest.fixture
def tiny_plan(tmp_path, communities_4490, streets_4490, buildings_4490) -> Path:
    out = tmp_path / "plan.gpkg"
    gridgeo.divide(communities_4490, streets_4490, buildings_4490).to_file(out)
    return out


def test_validate_column_counts_the_findings_by_severity(tiny_plan):
    row = _bench().stored(tiny_plan)
    n = _counts(gridgeo.validate(Plan.read(tiny_plan)))
    assert row["validate"] == 0
    assert row["validate_counts"] == (f"{n['error']} errors, {n['warning']} warning{'' if n['warning'] == 1 else 's'}, "
                                      f"{n['info']} info")


def test_validate_column_names_the_errors_of_a_plan_that_has_them(tiny_plan, tmp_path):
    plan = Plan.read(tiny_plan)
    grids = plan["grids"].copy()
    moved = grids.geometry.to_numpy().copy()
    moved[0] = shapely.affinity.translate(moved[0], 0.0005, 0.0)  # about 50 m east: overlaps and a gap
    plan.layers["grids"] = grids.set_geometry(moved)
    broken = tmp_path / "broken.gpkg"
    plan.to_file(broken)
    row = _bench().stored(broken)
    found = gridgeo.validate(Plan.read(broken))
    n = _counts(found)
    assert row["validate"] == 1 and n["error"] > 0
    assert row["validate_counts"].startswith(f"{n['error']} error")
    errors = found.loc[found["severity"] == "error", "type"].value_counts()
    assert all(f"{t} {c}" in row["validate_counts"] for t, c in errors.items())
    assert row["validate_counts"].endswith(f"{n['warning']} warning{'' if n['warning'] == 1 else 's'}, {n['info']} info")


def test_severity_counts_of_no_findings():
    empty = pd.DataFrame(columns=["type", "severity"])
    assert _bench().severity_counts(empty) == "0 errors, 0 warnings, 0 info"


def test_holes_column_tells_a_grid_round_its_communitys_hole_from_one_wrapped_round_another():
    from shapely import box

    c = gpd.GeoDataFrame({"code": ["420103001001"]}, geometry=[box(0, 0, 300, 100).difference(box(40, 40, 60, 60))],
                         crs=4547)
    grids = gpd.GeoDataFrame({"grid_code": ["420103001001001", "420103001001002", "420103001001003"]},
                             geometry=[box(0, 0, 100, 100).difference(box(40, 40, 60, 60)),  # round the community's hole
                                       box(100, 0, 300, 100).difference(box(180, 40, 220, 60)),  # wrapped round 003
                                       box(180, 40, 220, 60)], crs=4547)
    plan = Plan({"grids": grids, "communities": c}, {"metric_crs": "EPSG:4547"})
    assert _bench().hole_counts(plan, "grids") == "2 (1 wrapped)"
    plan = Plan({"grids": grids.iloc[[0]], "communities": c}, {"metric_crs": "EPSG:4547"})
    assert _bench().hole_counts(plan, "grids") == "1"
