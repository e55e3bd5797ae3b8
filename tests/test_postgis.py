"""PostGIS export (gridgeo.export_postgis, `gridgeo export PLAN --to postgresql://...`) in a real PostgreSQL.

A throwaway cluster is started by the test (tests/_postgres.py); skipped with the reason where
PostgreSQL or PostGIS is not installed. PostGIS 3.3 (Debian 12) has no ST_CoverageInvalidEdges (3.4+):
when it is absent the coverage is checked with the equivalent pair of tests — no two grids of a
community share interior (ST_Relate '2********'), and the union of a community's grids leaves no gap
and sticks out nowhere (areas in the metric CRS).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _postgres import Cluster, missing  # noqa: I001 - the tests folder's helper

import gridgeo
from gridgeo import InputError
from gridgeo.cli import main
from gridgeo.crs import metric_crs
from gridgeo.datasets import get_path, sample_town_layers

psycopg = pytest.importorskip("psycopg", reason="psycopg 3 is not installed: pip install 'gridgeo[postgis]'")
REASON = missing()
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"PostgreSQL/PostGIS unavailable: {REASON}")


@pytest.fixture(scope="module")
def cluster():
    cl = Cluster()
    yield cl
    cl.stop()


@pytest.fixture(scope="module")
def plan_path(tmp_path_factory) -> Path:
    sample = get_path("sample_town")
    layers = {name: (sample, name) for name in sample_town_layers()}
    plan = gridgeo.divide(layers.pop("communities"), **layers)
    path = tmp_path_factory.mktemp("postgis_plan") / "plan.gpkg"
    plan.to_file(path)
    return path


@pytest.fixture(scope="module")
def plan(plan_path):
    return gridgeo.read_plan(plan_path)


@pytest.fixture(scope="module")
def loaded(cluster, plan):
    counts = gridgeo.export_postgis(plan, cluster.url(), schema="grid")
    return counts


def _query(cluster, sql: str, params=()):
    with psycopg.connect(cluster.url()) as conn:
        return conn.execute(sql, params).fetchall()


def test_tables_keys_indexes_and_metadata(cluster, loaded, plan):
    assert loaded == {name: len(plan.layers[name]) for name in ("communities", "grids", "subgrids", "buildings", "units")}
    for layer, key in (("communities", "community_code"), ("grids", "grid_code"), ("subgrids", "subgrid_code"),
                       ("buildings", "building_id"), ("units", "unit_id")):
        assert _query(cluster, f"SELECT count(*) FROM grid.{layer}")[0][0] == len(plan.layers[layer])
        pk = _query(cluster, """SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid
                                AND a.attnum = ANY(i.indkey) WHERE i.indrelid = %s::regclass AND i.indisprimary""",
                    (f"grid.{layer}",))
        assert pk == [(key,)]
        gist = _query(cluster, "SELECT indexdef FROM pg_indexes WHERE schemaname = 'grid' AND tablename = %s", (layer,))
        assert any("USING gist (geom)" in d for (d,) in gist), gist
        assert _query(cluster, f"SELECT DISTINCT ST_SRID(geom) FROM grid.{layer}") == [(4490,)]
    meta = dict(_query(cluster, "SELECT key, value FROM grid.gridgeo_metadata"))
    assert set(meta) == set(plan.metadata)
    assert meta["stage"] == plan.metadata["stage"]
    households = _query(cluster, "SELECT sum(households) FROM grid.grids")[0][0]
    assert households == int(plan.grids["households"].sum())


def test_every_grid_is_valid_and_the_grids_tile_each_community(cluster, loaded, plan):
    assert _query(cluster, "SELECT count(*) FROM grid.grids WHERE NOT ST_IsValid(geom)")[0][0] == 0
    assert _query(cluster, "SELECT count(*) FROM grid.subgrids WHERE NOT ST_IsValid(geom)")[0][0] == 0
    has_coverage_fn = _query(cluster, "SELECT count(*) FROM pg_proc WHERE proname = 'st_coverageinvalidedges'")[0][0] > 0
    if has_coverage_fn:  # PostGIS 3.4+
        bad = _query(cluster, """SELECT count(*) FROM (SELECT ST_CoverageInvalidEdges(geom) OVER (PARTITION BY community_code) AS e
                                 FROM grid.grids) t WHERE e IS NOT NULL""")[0][0]
        assert bad == 0
    # the equivalent on PostGIS 3.3: no shared interior, no gap, nothing outside
    srid = metric_crs(plan.grids).to_epsg()
    pairs = _query(cluster, f"""SELECT a.kind, b.kind, ST_Area(ST_Transform(ST_Intersection(a.geom, b.geom), {srid}))
                                FROM grid.grids a JOIN grid.grids b
                                ON a.community_code = b.community_code AND a.grid_code < b.grid_code
                                AND a.geom && b.geom AND ST_Relate(a.geom, b.geom, '2********')""")
    # ordinary and dedicated grids (专属网格) share their edges exactly: no two share any interior
    assert pairs == [], pairs
    # and still so back in the metric CRS the plan was computed in (where gridgeo validate measures)
    metric_pairs = _query(cluster, f"""SELECT a.grid_code, b.grid_code FROM grid.grids a JOIN grid.grids b
                                       ON a.community_code = b.community_code AND a.grid_code < b.grid_code AND a.geom && b.geom
                                       AND ST_Relate(ST_Transform(a.geom, {srid}), ST_Transform(b.geom, {srid}), '2********')""")
    assert metric_pairs == [], metric_pairs
    assert _query(cluster, "SELECT count(*) FROM grid.grids WHERE kind = 'dedicated'")[0][0] >= 5
    rows = _query(cluster, f"""SELECT c.community_code,
                                  ST_Area(ST_Transform(ST_Difference(c.geom, u.geom), {srid})),
                                  ST_Area(ST_Transform(ST_Difference(u.geom, c.geom), {srid}))
                               FROM grid.communities c JOIN (SELECT community_code, ST_Union(geom) AS geom FROM grid.grids
                               GROUP BY community_code) u USING (community_code)""")
    assert len(rows) == len(plan.communities)
    for code, gap, outside in rows:
        assert gap < 1.0 and outside < 1.0, (code, gap, outside)
    sub_overlaps = _query(cluster, """SELECT count(*) FROM grid.subgrids a JOIN grid.subgrids b
                                      ON a.grid_code = b.grid_code AND a.subgrid_code < b.subgrid_code
                                      AND a.geom && b.geom AND ST_Relate(a.geom, b.geom, '2********')""")[0][0]
    assert sub_overlaps == 0


def test_a_point_query_returns_the_grid_gridgeo_locate_returns(cluster, loaded, plan):
    x0, y0, x1, y1 = plan.grids.total_bounds
    rng = np.random.default_rng(7)
    pts = pd.DataFrame({"lon": rng.uniform(x0, x1, 400), "lat": rng.uniform(y0, y1, 400)})
    ours = gridgeo.locate(pts, plan, coords="cgcs2000")
    values = ",".join(f"({i},{x!r},{y!r})" for i, (x, y) in enumerate(zip(pts["lon"], pts["lat"], strict=True)))
    rows = _query(cluster, f"""SELECT p.i, (SELECT min(g.grid_code) FROM grid.grids g
                                            WHERE ST_Intersects(g.geom, ST_SetSRID(ST_MakePoint(p.x, p.y), 4490)))
                               FROM (VALUES {values}) AS p(i, x, y) ORDER BY p.i""")
    theirs = [code for _, code in rows]
    mine = [None if pd.isna(v) else str(v) for v in ours["grid_code"]]
    assert mine == theirs
    assert sum(v is not None for v in theirs) > 300


def test_existing_schema_needs_replace_and_replace_is_atomic(cluster, loaded, plan, monkeypatch):
    with pytest.raises(InputError, match="pass replace=True"):
        gridgeo.export_postgis(plan, cluster.url(), schema="grid")
    import gridgeo._postgis as pg

    real = pg._table
    calls = []

    def failing(cur, sql, schema, layer, gdf, key, fields):
        calls.append(layer)
        if layer == "subgrids":
            raise RuntimeError("connection lost")
        return real(cur, sql, schema, layer, gdf, key, fields)

    monkeypatch.setattr(pg, "_table", failing)
    with pytest.raises(RuntimeError, match="connection lost"):
        gridgeo.export_postgis(plan, cluster.url(), schema="grid", replace=True)
    monkeypatch.setattr(pg, "_table", real)
    # the failed replace changed nothing: the old tables are all there, no staging schema is left
    assert _query(cluster, "SELECT count(*) FROM grid.subgrids")[0][0] == len(plan.subgrids)
    schemas = {s for (s,) in _query(cluster, "SELECT nspname FROM pg_namespace")}
    assert not [s for s in schemas if s.startswith("gridgeo_stage_")]
    counts = gridgeo.export_postgis(plan, cluster.url(), schema="grid", layers="grids", replace=True)
    assert counts == {"grids": len(plan.grids)}
    tables = {t for (t,) in _query(cluster, "SELECT tablename FROM pg_tables WHERE schemaname = 'grid'")}
    assert tables == {"grids", "gridgeo_metadata"}
    gridgeo.export_postgis(plan, cluster.url(), schema="grid", replace=True)  # back to every layer


def test_cli_export_to_postgis(cluster, plan_path, plan, capsys):
    url = cluster.url()
    assert main(["export", str(plan_path), "--to", url, "--schema", "grid_cli", "--layers", "grids,subgrids"]) == 0
    assert f"grids {len(plan.grids):,}" in capsys.readouterr().out
    assert _query(cluster, "SELECT count(*) FROM grid_cli.grids")[0][0] == len(plan.grids)
    assert main(["export", str(plan_path), "--to", url, "--schema", "grid_cli"]) == 2
    assert "pass --replace" in capsys.readouterr().err
    assert main(["export", str(plan_path), "--to", url, "--schema", "Bad-Name"]) == 2
    assert "plain lower-case name" in capsys.readouterr().err
    assert main(["export", str(plan_path), "--to", "postgresql:///nodb?host=/nonexistent"]) == 2
    assert "cannot connect" in capsys.readouterr().err
    meta = dict(_query(cluster, "SELECT key, value FROM grid_cli.gridgeo_metadata"))
    assert json.loads(json.dumps(meta["stage"])) == "partition"


def test_units_table_keeps_the_dedicated_flag(cluster, loaded, plan):
    rows = dict(_query(cluster, "SELECT unit_id, dedicated FROM grid.units"))
    units = plan.layers["units"]
    assert rows == dict(zip(units["unit_id"], units["dedicated"].astype(bool), strict=True))
    assert _query(cluster, "SELECT DISTINCT GeometryType(geom) FROM grid.units") == [("POINT",)]


def test_replace_keeps_grants_and_other_objects_and_refuses_dependent_views(cluster, plan):
    cluster.psql("CREATE ROLE dispatch; CREATE SCHEMA keep_me;")
    gridgeo.export_postgis(plan, cluster.url(), schema="grid_acl", layers="grids")
    cluster.psql("GRANT USAGE ON SCHEMA grid_acl TO dispatch; GRANT SELECT ON grid_acl.grids TO dispatch;"
                 "CREATE TABLE grid_acl.notes (id int); CREATE TABLE keep_me.t (id int);")
    gridgeo.export_postgis(plan, cluster.url(), schema="grid_acl", layers="grids,subgrids", replace=True)
    assert _query(cluster, "SELECT has_table_privilege('dispatch', 'grid_acl.grids', 'SELECT')") == [(True,)]
    assert _query(cluster, "SELECT has_schema_privilege('dispatch', 'grid_acl', 'USAGE')") == [(True,)]
    tables = {t for (t,) in _query(cluster, "SELECT tablename FROM pg_tables WHERE schemaname = 'grid_acl'")}
    assert tables == {"grids", "subgrids", "gridgeo_metadata", "notes"}
    # a view elsewhere on the export: --replace refuses (no CASCADE), and the view and the tables stay
    cluster.psql("CREATE VIEW keep_me.busy AS SELECT grid_code FROM grid_acl.grids;")
    with pytest.raises(InputError, match=r"view keep_me.busy depends on grid_acl.grids; replace=True drops nothing with CASCADE"):
        gridgeo.export_postgis(plan, cluster.url(), schema="grid_acl", replace=True)
    assert _query(cluster, "SELECT count(*) FROM keep_me.busy")[0][0] == len(plan.grids)
    assert not [s for (s,) in _query(cluster, "SELECT nspname FROM pg_namespace") if s.startswith("gridgeo_stage_")]


def test_a_long_schema_name_never_clashes_with_the_staging_schema(cluster, plan):
    long = "g" * 63
    gridgeo.export_postgis(plan, cluster.url(), schema=long, layers="communities")
    cluster.psql(f"CREATE SCHEMA {long[:50]}_gridgeo_new; CREATE TABLE {long[:50]}_gridgeo_new.mine (id int);")
    gridgeo.export_postgis(plan, cluster.url(), schema=long, layers="communities", replace=True)
    assert _query(cluster, f"SELECT count(*) FROM {long}.communities")[0][0] == len(plan.communities)
    assert _query(cluster, f"SELECT count(*) FROM {long[:50]}_gridgeo_new.mine") == [(0,)]


def test_server_errors_are_one_line_and_the_password_is_hidden(cluster, plan):
    cluster.psql("CREATE ROLE reader LOGIN PASSWORD 'hunter2';")
    url = cluster.url().replace("user=gridgeo", "user=reader&password=hunter2")
    with pytest.raises(InputError, match="PostgreSQL refused the load") as err:  # no CREATE on the database
        gridgeo.export_postgis(plan, url, schema="grid_reader", layers="grids")
    assert "permission denied" in str(err.value) and "hunter2" not in str(err.value) and "\n" not in str(err.value)
    bad = f"postgresql://gridgeo:hunter2@{cluster.root}/nodb"
    with pytest.raises(InputError, match="cannot connect") as err:
        gridgeo.export_postgis(plan, bad.replace(str(cluster.root), "localhost:1"), layers="grids")
    assert "hunter2" not in str(err.value) and "***" in str(err.value)
