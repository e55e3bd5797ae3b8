"""Loading a plan's exported layers into PostgreSQL/PostGIS (``gridgeo export PLAN --to postgresql://...``).

Driver: psycopg 3 (``pip install 'gridgeo[postgis]'``), the maintained PostgreSQL driver, with ``COPY``
for the rows (geometry as hex EWKB text, which PostGIS parses on input): one round trip per table, no
ORM layer, and every statement of the load in one transaction.

Layout in schema ``S`` (default ``grid``): one table per layer with the fields of the one schema
(``gridgeo/schema/plan.schema.json``), ``geom geometry(<type>, 4490)``, a primary key on the layer's
code and a GIST index on ``geom``; a table ``gridgeo_metadata (key text primary key, value jsonb)``
with the plan's metadata. With ``replace``, the new tables are built in a staging schema and swapped in
(old schema dropped, staging schema renamed) in the same transaction: readers see the old version or
the new one, never a mix. Without ``replace``, an existing schema is an error.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

import geopandas as gpd
import numpy as np
import shapely

from ._errors import InputError

_PG_TYPES = {"string": "text", "integer": "bigint", "number": "double precision", "boolean": "boolean"}
_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def check_url(url: str) -> str:
    """Refuse what is not a PostgreSQL URL (``postgresql://user@host/db``, ``postgresql:///db?host=/dir``).

    >>> check_url("mysql://x/y")
    Traceback (most recent call last):
    ...
    gridgeo._errors.InputError: export: --to 'mysql://x/y' is not a PostgreSQL URL; give postgresql://user@host:5432/db or postgresql:///db?host=/var/run/postgresql
    """
    parts = urlsplit(str(url))
    if parts.scheme not in ("postgresql", "postgres") or not (parts.path.strip("/") or parts.query):
        msg = (f"export: --to {url!r} is not a PostgreSQL URL; give postgresql://user@host:5432/db "
               "or postgresql:///db?host=/var/run/postgresql")
        raise InputError(msg)
    return str(url)


def write_postgis(frames: dict[str, gpd.GeoDataFrame], url: str, *, schema: str, keys: dict[str, str],
                  fields: dict[str, list[tuple[str, str]]], metadata: dict[str, Any], replace: bool) -> dict[str, int]:
    """Write layers (already in EPSG:4490, schema fields) into ``schema``; one transaction."""
    try:
        import psycopg
        from psycopg import sql
    except ImportError:
        msg = "export --to postgresql://... needs psycopg 3: pip install 'gridgeo[postgis]'"
        raise InputError(msg) from None
    if not _IDENT.match(schema):
        msg = f"export: --schema {schema!r} must be a plain lower-case name (letters, digits, _), e.g. grid"
        raise InputError(msg)
    try:
        conn = psycopg.connect(check_url(url), autocommit=False)
    except psycopg.OperationalError as exc:
        msg = f"export: cannot connect to {url}: {' '.join(str(exc).split())}; check the URL, the server and the user"
        raise InputError(msg) from None
    counts: dict[str, int] = {}
    with conn:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_extension WHERE extname = 'postgis'")
            if cur.fetchone() is None:
                msg = "export: the database has no PostGIS; run CREATE EXTENSION postgis; in it first"
                raise InputError(msg)
            cur.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,))
            exists = cur.fetchone() is not None
            if exists and not replace:
                msg = f"export: schema {schema!r} exists in the database; pass --replace to replace it atomically"
                raise InputError(msg)
            target = f"{schema}_gridgeo_new" if exists else schema
            cur.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(target)) if exists
                        else sql.SQL("SELECT 1"))
            cur.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(target)))
            for layer, gdf in frames.items():
                counts[layer] = _table(cur, sql, target, layer, gdf, keys[layer], fields[layer])
            meta = sql.Identifier(target, "gridgeo_metadata")
            cur.execute(sql.SQL("CREATE TABLE {} (key text PRIMARY KEY, value jsonb NOT NULL)").format(meta))
            with cur.copy(sql.SQL("COPY {} (key, value) FROM STDIN").format(meta)) as copy:
                for key, value in sorted(metadata.items()):
                    copy.write_row((key, json.dumps(value, ensure_ascii=False, default=str)))
            if exists:
                cur.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
                cur.execute(sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(sql.Identifier(target), sql.Identifier(schema)))
    conn.close()
    return counts


def _table(cur: Any, sql: Any, schema: str, layer: str, gdf: gpd.GeoDataFrame, key: str,
           fields: list[tuple[str, str]]) -> int:
    geoms = gdf.geometry.to_numpy()
    types = set(shapely.get_type_id(geoms[~shapely.is_missing(geoms)]).tolist())
    if types <= {3, 6}:  # polygons: one column type for both
        geoms = np.array([shapely.MultiPolygon([g]) if isinstance(g, shapely.Polygon) else g for g in geoms], dtype=object)
        gtype = "MultiPolygon"
    elif types == {0}:
        gtype = "Point"
    else:
        gtype = "Geometry"
    table = sql.Identifier(schema, layer)
    columns = [sql.SQL("{} {}{}").format(sql.Identifier(name), sql.SQL(_PG_TYPES[kind]),
                                         sql.SQL(" PRIMARY KEY") if name == key else sql.SQL(""))
               for name, kind in fields]
    columns.append(sql.SQL("geom geometry({}, 4490)").format(sql.SQL(gtype)))
    cur.execute(sql.SQL("CREATE TABLE {} ({})").format(table, sql.SQL(", ").join(columns)))
    ewkb = shapely.to_wkb(shapely.set_srid(geoms, 4490), hex=True, include_srid=True)
    names = [name for name, _ in fields]
    stmt = sql.SQL("COPY {} ({}) FROM STDIN").format(table, sql.SQL(", ").join(map(sql.Identifier, [*names, "geom"])))
    values = [gdf[name].astype(object).where(gdf[name].notna(), None).to_numpy() for name in names]
    with cur.copy(stmt) as copy:
        for i in range(len(gdf)):
            copy.write_row([*(v[i] for v in values), ewkb[i]])
    cur.execute(sql.SQL("CREATE INDEX {} ON {} USING gist (geom)").format(sql.Identifier(f"{layer}_geom_gist"), table))
    cur.execute(sql.SQL("ANALYZE {}").format(table))
    return len(gdf)
