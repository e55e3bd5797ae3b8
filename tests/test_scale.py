"""City scale (issue 12): the memory-saving paths give what the one-shot paths give."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from gridgeo.datasets import get_path, sample_town_layers
from gridgeo.io import LayerSource
from gridgeo.partition import metrics
from gridgeo.pipeline import build_plan
from gridgeo.plan import Plan


@pytest.fixture(scope="module")
def sample_plan():
    sample = get_path("sample_town")
    layers = {name: LayerSource(sample, layer=name) for name in sample_town_layers()
              if name in ("communities", "streets", "buildings")}
    return build_plan(layers, stage="partition")


@pytest.mark.parametrize("off_lines", [False, True])
def test_street_alignment_in_small_chunks_equals_all_at_once(sample_plan, monkeypatch, off_lines):
    grids = sample_plan.layers["grids"]
    comm = sample_plan.layers["communities"]
    zcont = grids["community_code"].map({c: i for i, c in enumerate(comm["code"])}).to_numpy()
    streets = shapely.STRtree(get_streets(sample_plan))
    args = (grids.geometry.to_numpy(), zcont, comm.geometry.to_numpy(), streets, 5.0)
    monkeypatch.setattr(metrics, "_PIECES_PER_CHUNK", 10**12)
    whole = metrics.street_alignment(*args, off_lines=off_lines)
    monkeypatch.setattr(metrics, "_PIECES_PER_CHUNK", 500)  # a few grids per chunk
    assert len(metrics._chunks(whole[0], 1.0)) > 10
    parts = metrics.street_alignment(*args, off_lines=off_lines)
    assert whole[1].sum() > 0
    np.testing.assert_array_equal(whole[0], parts[0])
    np.testing.assert_array_equal(whole[1], parts[1])
    if off_lines:
        assert all(shapely.equals_exact(whole[2], parts[2], 0))


def get_streets(plan):
    import geopandas as gpd

    streets = gpd.read_file(get_path("sample_town"), layer="streets")
    return streets.to_crs(plan.metadata["metric_crs"]).geometry.to_numpy()


def test_a_checked_plan_writes_the_layers_it_checked(sample_plan, tmp_path, monkeypatch):
    import gridgeo.plan as gp

    calls = []
    real = gp.to_storage
    monkeypatch.setattr(gp, "to_storage", lambda gdf: calls.append(1) or real(gdf))
    sample_plan.write(tmp_path / "kept.gpkg")
    assert calls == []  # the stored layers of the run's own check, not computed again
    fresh = Plan(dict(sample_plan.layers), dict(sample_plan.metadata))
    fresh.write(tmp_path / "fresh.gpkg")
    assert calls  # a plan without them stores its layers
    a, b = Plan.read(tmp_path / "kept.gpkg"), Plan.read(tmp_path / "fresh.gpkg")
    assert list(a.layers) == list(b.layers)
    for name in a.layers:
        x, y = a.layers[name], b.layers[name]
        assert x.drop(columns="geometry").equals(y.drop(columns="geometry")), name
        assert shapely.equals_exact(x.geometry.to_numpy(), y.geometry.to_numpy(), 0).all() or name == "findings"


def test_a_replaced_layer_is_stored_afresh(sample_plan, tmp_path):
    grids = sample_plan.layers["grids"]
    sample_plan.layers["grids"] = grids.iloc[:-1]  # another frame: the kept stored layers no longer apply
    try:
        sample_plan.write(tmp_path / "p.gpkg")
    finally:
        sample_plan.layers["grids"] = grids
    assert len(Plan.read(tmp_path / "p.gpkg").layers["grids"]) == len(grids) - 1
