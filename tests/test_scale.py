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


def test_a_layer_edited_in_place_is_stored_afresh(sample_plan, tmp_path):
    """Editing a kept layer in place (same frame, same columns and length) does not reuse the stored layers."""
    grids = sample_plan.layers["grids"]
    name0, geom0 = grids["flags"].iat[0], grids.geometry.iat[0]
    smaller = shapely.buffer(geom0, -1.0)
    grids.loc[grids.index[0], "flags"] = "edited"
    grids.loc[grids.index[0], "geometry"] = smaller
    try:
        sample_plan.write(tmp_path / "edited.gpkg")
    finally:
        grids.loc[grids.index[0], "flags"] = name0
        grids.loc[grids.index[0], "geometry"] = geom0
    back = Plan.read(tmp_path / "edited.gpkg").layers["grids"]
    assert back["flags"].iat[0] == "edited"
    metric = back.to_crs(sample_plan.metadata["metric_crs"]).geometry.iat[0]
    assert abs(metric.area - smaller.area) < 1.0 < geom0.area - smaller.area


def _lattice_city(n: int):
    """``n`` seeded lattice communities side by side (as benchmarks/bench_scale.py lays them out)."""
    import geopandas as gpd
    import pandas as pd

    from gridgeo.partition.synthetic import street_lattice

    parts = {"communities": [], "streets": [], "buildings": []}
    for i in range(n):
        d = street_lattice(seed=1200 + i)
        for name in parts:
            g = d[name].copy()
            g.geometry = shapely.transform(g.geometry.to_numpy(), lambda xy, i=i: xy + [1000.0 * i, 0.0])
            if name == "communities":
                g = g.assign(code=f"420102{i + 1:06d}", name=f"合成{i + 1}")
            if name == "buildings":
                g = g.assign(building_id=f"c{i}-" + g["building_id"].astype(str))
            parts[name].append(g)
    return {k: gpd.GeoDataFrame(pd.concat(v, ignore_index=True), crs=v[0].crs) for k, v in parts.items()}


def test_street_alignment_measured_per_community_gives_the_citys_quality_figures():
    """The partition measures each community's street alignment in its own job; the quality figures
    are those measured over the whole city at once."""
    import gridgeo.pipeline as pipeline_mod
    from gridgeo.partition.metrics import quality
    from gridgeo.pipeline import _plain

    city = _lattice_city(3)
    handed = {}

    class Spy(pipeline_mod._Beside):  # what the pipeline hands the quality figures (measured here or forked)
        def __init__(self, func, kwargs, **kw):
            handed.update(kwargs.get("alignment") or {})
            super().__init__(func, kwargs, **kw)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pipeline_mod, "_Beside", Spy)
        plan = build_plan({k: LayerSource(None, frame=v) for k, v in city.items()}, stage="partition", workers=2)
    # every grid and small grid arrives measured by its community's job: nothing left for the main process
    assert set(handed) == {"grids", "subgrids"}
    for layer in ("grids", "subgrids"):
        internal, aligned = handed[layer]
        assert len(internal) == len(plan.layers[layer]) and not np.isnan(internal).any() and not np.isnan(aligned).any()
    layers = plan.layers
    rules = plan.metadata["rules"]
    from gridgeo.rules import Rules

    whole = quality(layers["communities"], layers["grids"], layers["buildings"], streets=city["streets"].to_crs(layers["grids"].crs),
                    subgrids=layers["subgrids"], rules=Rules.from_dict(rules))
    assert whole["base"]["street_aligned_share"] > 0.3
    assert plan.metadata["quality"] == _plain(whole)

    from gridgeo.partition import partition

    result = partition(layers["communities"], layers["blocks"], layers["buildings"].drop(columns=["grid_id", "subgrid_id"]),
                       streets=city["streets"].to_crs(layers["grids"].crs), rules=Rules.from_dict(rules))
    measured = result.street_alignment
    assert measured is not None and len(measured["grids"]) == len(result.grids)
    assert len(measured["subgrids"]) == len(result.subgrids) and measured["subgrids"]["aligned_m"].gt(0).any()
