"""City scale (issue 12): the main process's serial work made cheaper gives the same plan, figures and output."""

from __future__ import annotations

import random
import re

import pytest

from gridgeo.cli import main
from gridgeo.datasets import get_path
from gridgeo.info import plan_summary
from gridgeo.partition.metrics import quality
from gridgeo.pipeline import _replace_ids
from gridgeo.plan import Plan
from gridgeo.rules import Rules
from gridgeo.validate import severity_counts, validate_plan


def _one_regex(text: str, ids: dict[str, str]) -> str:
    """What the findings' messages were rewritten with before: one expression alternating every id."""
    pattern = re.compile("(?:" + "|".join(re.escape(k) for k in sorted(ids, key=len, reverse=True)) + r")(?![-\w])")
    return pattern.sub(lambda m: ids[m.group(0)], text)


def test_replacing_ids_by_lookup_equals_one_regular_expression():
    rnd = random.Random(12)
    ids = {}
    for c in ("420103001001", "420103001002", "4201030010"):
        for g in range(1, 30):
            ids[f"{c}-G{g:03d}"] = f"{c}{g:03d}"
            for s in range(1, 4):
                ids[f"{c}-G{g:03d}-{s:02d}"] = f"{c}{g:03d}{s:02d}"
    ids["G001"] = "short"  # an id that is the tail of others
    keys = list(ids)
    glue = [" ", ", ", "; ", "(", ")", "-", "x", "所", "—", ".", "", "-99", "_"]
    texts = ["small grid 420103001001-G005-04 of grid 420103001001-G005 has 87 households",
             "420103001001-G005-", "-420103001001-G005", "x420103001001-G005", "G001 and 420103001002-G001-01x"]
    for _ in range(400):
        texts.append("".join(rnd.choice(glue) + rnd.choice(keys) for _ in range(rnd.randint(1, 6))) + rnd.choice(glue))
    changed = 0
    for t in texts:
        got = _replace_ids(t, ids)
        assert got == _one_regex(t, ids), t
        changed += got != t
    assert changed > 300


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """The sample town partitioned by the CLI with two workers: (path, printed summary)."""
    import contextlib
    import io

    sample = get_path("sample_town")
    out = tmp_path_factory.mktemp("serial") / "plan.gpkg"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["partition", "--quiet", "--communities", str(sample), "--communities-layer", "communities",
                   "--streets", str(sample), "--streets-layer", "streets", "--buildings", str(sample),
                   "--buildings-layer", "buildings", "--workers", "2", "--out", str(out)])
    assert rc == 0
    return out, buf.getvalue()


def test_the_printed_summary_is_the_written_files(written):
    """The summary comes from the layers in memory, not from reading the file back: it is the file's."""
    out, printed = written
    assert printed.strip() == plan_summary(Plan.read(out), path=out).strip()
    assert "grids" in printed and "gridgeo validate (run before writing): 0 errors" in printed


def test_the_runs_validation_is_validate_plan_on_the_written_file(written):
    out, _ = written
    plan = Plan.read(out)
    assert plan.metadata["counts"]["communities"] > 1 and len(plan.layers["grids"]) > 10
    found = validate_plan(plan)
    stored = {k: v for k, v in plan.metadata["validation"].items() if k != "error_types"}
    assert stored == severity_counts(found)
    errors = found.loc[found["severity"] == "error", "type"]
    assert plan.metadata["validation"]["error_types"] == {str(k): int(v) for k, v in errors.value_counts().items()}
    # what it counted is the plan itself: every grid and small grid the partition left out of its bounds
    # (a warning), and those exempt (one building over the ceiling, or forced under the floor: info), each
    # once; the sample town's tower of 528 households makes the second never empty
    kinds = plan.layers["findings"]["type"].astype(str)
    ids = plan.layers["findings"]["feature_id"]
    outside = set(ids[kinds.isin(["grid_out_of_bounds", "subgrid_out_of_bounds"])])
    exempt = set(ids[kinds.isin(["building_over_max", "building_over_subgrid_max", "grid_forced_under_floor"])])
    assert exempt and errors.empty
    assert stored == {"error": 0, "warning": len(outside), "info": len(exempt)}
    bounds = found[found["type"] == "households_out_of_bounds"]
    assert set(bounds.loc[bounds["severity"] == "warning", "feature_id"]) == outside
    assert set(bounds.loc[bounds["severity"] == "info", "feature_id"]) == exempt


def test_the_runs_quality_figures_are_those_of_the_written_file(written):
    """The stored quality figures (street alignment measured in the workers) equal ``quality`` on the file."""
    out, _ = written
    plan = Plan.read(out)
    metric = plan.metadata["metric_crs"]
    import geopandas as gpd

    streets = gpd.read_file(get_path("sample_town"), layer="streets").to_crs(metric)
    layers = {k: plan.layers[k].to_crs(metric) for k in ("communities", "grids", "subgrids", "buildings")}
    q = quality(layers["communities"], layers["grids"], layers["buildings"], streets=streets,
                subgrids=layers["subgrids"], rules=Rules.from_dict(plan.metadata["rules"]))
    kept = plan.metadata["quality"]
    for level in ("base", "small"):
        for key in ("grids", "in_range", "eligible", "households_range", "buildings_lost", "buildings_doubled",
                    "multipart", "grids_with_holes"):
            assert q[level][key] == kept[level][key], (level, key)
        for key in ("households_cv", "median_polsby_popper", "street_aligned_share"):
            assert q[level][key] == pytest.approx(kept[level][key], abs=2e-3), (level, key)


def test_quality_measured_beside_the_validation_equals_quality_measured_before_it(written, tmp_path):
    """Two workers: the quality figures come from a forked process while the plan is validated; one worker:
    in this process. Same figures, same metadata (in the same order), same layers."""
    from test_api import comparable_metadata, plan_hashes

    out, _ = written
    two = Plan.read(out)
    assert "metrics_wait_s" in two.metadata["timings_s"]  # measured beside the validation
    one_path = tmp_path / "one.gpkg"
    sample = get_path("sample_town")
    assert main(["partition", "--quiet", "--communities", str(sample), "--communities-layer", "communities",
                 "--streets", str(sample), "--streets-layer", "streets", "--buildings", str(sample),
                 "--buildings-layer", "buildings", "--workers", "1", "--out", str(one_path)]) == 0
    one = Plan.read(one_path)
    assert "metrics_wait_s" not in one.metadata["timings_s"]
    assert list(one.metadata) == list(two.metadata)
    assert comparable_metadata(one) == comparable_metadata(two)
    assert one.metadata["quality"]["base"]["grids"] == len(one.layers["grids"])
    assert plan_hashes(one) == plan_hashes(two)


def test_an_error_measuring_quality_beside_the_validation_reaches_the_caller(monkeypatch):
    import gridgeo.pipeline as pl

    def boom(**kwargs):
        raise ValueError("measuring failed")

    beside = pl._Beside(boom, {}, fork=True)
    assert beside.forked
    with pytest.raises(ValueError, match="measuring failed"):
        beside.result()
    here = pl._Beside(lambda **kw: kw["x"] + 1, {"x": 1}, fork=False)
    assert not here.forked and here.result() == 2


def _sort_positions_before(geoms, band_m, groups=None, ties=None):
    """The numbering order as it was computed before (the geometry's WKB written for every row)."""
    import numpy as np
    import pandas as pd
    import shapely

    n = len(geoms)
    cen = shapely.centroid(geoms)
    x, y = np.round(shapely.get_x(cen), 2), np.round(shapely.get_y(cen), 2)
    df = pd.DataFrame({"g": [""] * n if groups is None else [str(v) for v in groups], "nb": -np.floor(y / band_m),
                       "x": x, "ny": -y, "t": [""] * n if ties is None else ["" if pd.isna(v) else str(v) for v in ties],
                       "w": pd.Series(shapely.to_wkb(shapely.normalize(geoms), hex=True), dtype=object).fillna("")})
    return df.sort_values(["g", "nb", "x", "ny", "t", "w"], na_position="last", kind="mergesort").index.to_numpy()


def test_numbering_order_with_the_geometry_only_for_ties_is_the_same():
    import numpy as np
    import shapely

    from gridgeo.codes import _sort_positions

    rnd = np.random.default_rng(7)
    n = 3000
    cx, cy = rnd.integers(0, 40, n) * 25.0, rnd.integers(0, 40, n) * 25.0  # many equal centroids
    w = rnd.choice([2.0, 4.0, 6.0], n)
    geoms = shapely.box(cx - w, cy - 3, cx + w, cy + 3)  # same centroid, other shapes: tied but for the geometry
    geoms[::97] = None
    groups = rnd.choice(["a", "b", "c"], n)
    ties = np.where(rnd.random(n) < 0.5, None, rnd.choice(["1", "2"], n)).astype(object)
    for g, t in ((None, None), (groups, None), (groups, ties)):
        np.testing.assert_array_equal(_sort_positions(geoms, 200.0, g, t), _sort_positions_before(geoms, 200.0, g, t))


def _double(x):
    return 2 * x


def test_each_jobs_fingerprint_is_computed_once(tmp_path, monkeypatch):
    """A job is pickled to fingerprint it: once when looking for a kept result, not again when keeping its own."""
    from gridgeo.parallel import Checkpoint, run_jobs

    calls = []
    real = Checkpoint.fingerprint
    monkeypatch.setattr(Checkpoint, "fingerprint", staticmethod(lambda job: calls.append(job) or real(job)))
    cp = Checkpoint(tmp_path / "kept")
    assert run_jobs(_double, [1, 2, 3], keys=["a", "b", "c"], checkpoint=cp) == [2, 4, 6]
    assert sorted(calls) == [1, 2, 3] and len(cp) == 3
    calls.clear()
    assert run_jobs(_double, [1, 2, 3], keys=["a", "b", "c"], checkpoint=cp) == [2, 4, 6]  # taken from the folder
    assert sorted(calls) == [1, 2, 3]


def _quality_children() -> list:
    """The process ids of this process's live children (those ended and reaped are gone)."""
    import multiprocessing

    return sorted(p.pid for p in multiprocessing.active_children())


def _dies_in_the_child(func):
    """``func``, except that in a forked child it kills its process at once (as the OOM killer would)."""
    import os

    parent = os.getpid()

    def run(**kwargs):
        if os.getpid() != parent:
            os._exit(3)
        return func(**kwargs)

    return run


def _sleeps_in_the_child(**kwargs):
    import time

    time.sleep(120)


def _tiny_layers():
    from gridgeo.io import LayerSource
    from gridgeo.partition.synthetic import street_lattice

    d = street_lattice(seed=5, nx=2, ny=2)
    return {k: LayerSource(None, frame=d[k]) for k in ("communities", "streets", "buildings")}


def test_a_child_that_dies_is_measured_in_this_process():
    import gridgeo.pipeline as pl

    before = _quality_children()
    beside = pl._Beside(_dies_in_the_child(lambda **kw: kw["x"] + 1), {"x": 41}, fork=True)
    assert beside.forked
    with pytest.warns(RuntimeWarning, match="exit code 3"):
        assert beside.result() == 42
    assert beside.result() == 42  # answered once
    assert _quality_children() == before


def test_a_child_that_cannot_be_forked_is_measured_in_this_process(monkeypatch):
    import multiprocessing.context

    import gridgeo.pipeline as pl

    def no_fork(self):
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(multiprocessing.context.ForkProcess, "start", no_fork)
    beside = pl._Beside(lambda **kw: kw["x"] + 1, {"x": 1}, fork=True)
    with pytest.warns(RuntimeWarning, match="BlockingIOError"):
        assert beside.result() == 2
    assert not pl._BESIDE


def test_a_plan_whose_quality_process_dies_has_the_quality_measured_in_process(monkeypatch):
    """Two workers, and the forked process measuring the quality figures killed: the run goes on, with
    the figures measured here, equal to those of a run with one worker (measured here from the start)."""
    import gridgeo.pipeline as pl
    from gridgeo.pipeline import build_plan

    here = build_plan(_tiny_layers(), stage="partition", workers=1)
    monkeypatch.setattr(pl, "_quality_figures", _dies_in_the_child(pl._quality_figures))
    with pytest.warns(RuntimeWarning, match="in this process instead"):
        beside = build_plan(_tiny_layers(), stage="partition", workers=2)
    assert "metrics_wait_s" in beside.metadata["timings_s"]  # it was forked
    assert beside.metadata["quality"] == here.metadata["quality"]
    assert beside.metadata["quality"]["base"]["grids"] == len(beside.layers["grids"]) > 1


def test_abandoning_ends_a_running_child():
    import time

    import gridgeo.pipeline as pl

    before = _quality_children()
    beside = pl._Beside(_sleeps_in_the_child, {}, fork=True)
    assert len(_quality_children()) == len(before) + 1
    t = time.perf_counter()
    beside.abandon()
    assert time.perf_counter() - t < 10 and _quality_children() == before
    beside.abandon()  # again: nothing left to end
    with pytest.raises(KeyError), pl._Beside(_sleeps_in_the_child, {}, fork=True):
        raise KeyError("the run failed")
    assert _quality_children() == before


def test_an_error_before_the_validation_ends_the_child(monkeypatch):
    """An error between the fork and the validation (here building the metadata) still ends the process."""
    import gridgeo.pipeline as pl
    from gridgeo.pipeline import build_plan

    layers = _tiny_layers()
    before = _quality_children()

    def broken(*args, **kwargs):
        raise RuntimeError("metadata failed")

    monkeypatch.setattr(pl, "_quality_figures", _sleeps_in_the_child)
    monkeypatch.setattr(pl, "_metadata", broken)
    with pytest.raises(RuntimeError, match="metadata failed"):
        build_plan(layers, stage="partition", workers=2)
    assert _quality_children() == before
