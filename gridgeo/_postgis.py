"""Loading a plan's exported layers into PostgreSQL/PostGIS (``gridgeo export PLAN --to postgresql://...``).

Driver: psycopg 3 (``pip install 'gridgeo[postgis]'``), the maintained PostgreSQL driver, with ``COPY``
for the rows (geometry as hex EWKB text, which PostGIS parses on input): one round trip per table, no
ORM layer, and every statement of the load in one transaction.

Layout in schema ``S`` (default ``grid``): one table per layer with the fields of the one schema
(``gridgeo/schema/plan.schema.json``), ``geom geometry(<type>, 4490)``, a primary key on the layer's
code and a GIST index on ``geom``; a table ``gridgeo_metadata (key text primary key, value jsonb)``
with the plan's metadata. With ``replace``, the new tables are built in a staging schema of gridgeo's
own and moved into ``S`` in place of the earlier export's tables in the same transaction: readers see
the old version or the new one, never a mix. The schema, its other objects and the tables' grants
stay; views or foreign keys outside the export that depend on the old tables make it an error (never
CASCADE). Without ``replace``, an existing schema is an error. Errors from the server are one-line
:class:`~gridgeo.InputError` messages, with the password of the URL hidden.
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import geopandas as gpd
import numpy as np
import shapely

from ._errors import InputError

_PG_TYPES = {"string": "text", "integer": "bigint", "number": "double precision", "boolean": "boolean"}
_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
#: the tables an export may hold besides gridgeo_metadata (gridgeo.export.EXPORT_LAYERS)
_EXPORT_TABLES = ("communities", "grids", "subgrids", "buildings", "units")


def check_url(url: str) -> str:
    """Refuse what is not a PostgreSQL URL (``postgresql://user@host/db``, ``postgresql:///db?host=/dir``).

    >>> check_url("mysql://x/y")
    Traceback (most recent call last):
    ...
    gridgeo._errors.InputError: export: --to 'mysql://x/y' is not a PostgreSQL URL; give postgresql://user@host:5432/db or postgresql:///db?host=/var/run/postgresql
    """
    parts = urlsplit(str(url))
    if parts.scheme not in ("postgresql", "postgres") or not (parts.path.strip("/") or parts.query):
        msg = (f"export: --to {redact(url)!r} is not a PostgreSQL URL; give postgresql://user@host:5432/db "
               "or postgresql:///db?host=/var/run/postgresql")
        raise InputError(msg)
    return str(url)


def redact(url: str) -> str:
    """``url`` with its password hidden, for messages.

    >>> redact("postgresql://gis:s3cret@db:5432/city?sslmode=require&password=x")
    'postgresql://gis:***@db:5432/city?sslmode=require&password=***'
    """
    parts = urlsplit(str(url))
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        if ":" in userinfo:
            netloc = f"{userinfo.split(':', 1)[0]}:***@{host}"
    query = re.sub(r"(?i)(^|&)(password)=[^&]*", r"\1\2=***", parts.query)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] or type(exc).__name__


def write_postgis(frames: dict[str, gpd.GeoDataFrame], url: str, *, schema: str, keys: dict[str, str],
                  fields: dict[str, list[tuple[str, str]]], metadata: dict[str, Any], replace: bool) -> dict[str, int]:
    """Write layers (already in EPSG:4490, schema fields) into ``schema``; one transaction.

    With ``replace``, the new tables are built in a staging schema of gridgeo's own (a fresh name,
    never an existing schema) and moved into ``schema`` in place of the earlier export's tables: the
    schema itself, its other objects and its grants stay, and each replaced table's grants are given to
    its successor. Objects outside the export that depend on the old tables (views, foreign keys) make
    it an :class:`~gridgeo.InputError` naming them: nothing is dropped with CASCADE.
    """
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
    except psycopg.Error as exc:
        msg = (f"export: cannot connect to {redact(url)}: {redact(_one_line(exc))}; "
               "check the URL, the server and the user")
        raise InputError(msg) from None
    try:
        with conn:
            counts = _load(conn, sql, frames, schema=schema, keys=keys, fields=fields, metadata=metadata,
                           replace=replace)
    except psycopg.Error as exc:
        msg = (f"export: PostgreSQL refused the load into schema {schema!r} (nothing was changed): "
               f"{redact(_one_line(exc))}; check the user's privileges and the database")
        raise InputError(msg) from None
    finally:
        conn.close()
    return counts


def _load(conn: Any, sql: Any, frames: dict[str, gpd.GeoDataFrame], *, schema: str, keys: dict[str, str],
          fields: dict[str, list[tuple[str, str]]], metadata: dict[str, Any], replace: bool) -> dict[str, int]:
    counts: dict[str, int] = {}
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
        old: list[str] = []
        if exists:
            old = _previous_tables(cur, schema)
            _check_dependents(cur, schema, old)
        target = schema
        if exists:
            while True:  # a fresh name of gridgeo's own, well within PostgreSQL's 63 bytes
                target = f"gridgeo_stage_{secrets.token_hex(8)}"
                cur.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (target,))
                if cur.fetchone() is None:
                    break
        cur.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(target)))
        for layer, gdf in frames.items():
            counts[layer] = _table(cur, sql, target, layer, gdf, keys[layer], fields[layer])
        meta = sql.Identifier(target, "gridgeo_metadata")
        cur.execute(sql.SQL("CREATE TABLE {} (key text PRIMARY KEY, value jsonb NOT NULL)").format(meta))
        with cur.copy(sql.SQL("COPY {} (key, value) FROM STDIN").format(meta)) as copy:
            for key, value in sorted(metadata.items()):
                copy.write_row((key, json.dumps(value, ensure_ascii=False, default=str)))
        if exists:
            new = [*frames, "gridgeo_metadata"]
            grants = {name: _grants(cur, sql, schema, name) for name in old}
            for name in old:
                cur.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(schema, name)))
            for name in new:
                cur.execute(sql.SQL("ALTER TABLE {} SET SCHEMA {}").format(sql.Identifier(target, name),
                                                                         sql.Identifier(schema)))
                for stmt in grants.get(name, ()):
                    cur.execute(stmt)
            cur.execute(sql.SQL("DROP SCHEMA {}").format(sql.Identifier(target)))
    return counts


def _previous_tables(cur: Any, schema: str) -> list[str]:
    """The tables of an earlier export in ``schema``; an error when tables of those names are not one."""
    cur.execute("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v', 'm', 'f') ORDER BY c.relname", (schema,))
    present = {name for (name,) in cur.fetchall()}
    ours = [name for name in (*_EXPORT_TABLES, "gridgeo_metadata") if name in present]
    if ours and "gridgeo_metadata" not in present:
        msg = (f"export: schema {schema!r} holds {ours[0]!r} but no gridgeo_metadata: it is not an earlier "
               "gridgeo export; choose another --schema")
        raise InputError(msg)
    return ours


def _check_dependents(cur: Any, schema: str, tables: list[str]) -> None:
    """Refuse when objects other than the tables' own (views, foreign keys, ...) depend on them."""
    if not tables:
        return
    cur.execute(
        """SELECT DISTINCT pg_describe_object(d.classid, d.objid, 0), ref.relname
           FROM pg_depend d
           JOIN pg_class ref ON ref.oid = d.refobjid
           JOIN pg_namespace n ON n.oid = ref.relnamespace
           LEFT JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND r.oid = d.objid
           LEFT JOIN pg_constraint k ON d.classid = 'pg_constraint'::regclass AND k.oid = d.objid
           WHERE d.refclassid = 'pg_class'::regclass AND d.deptype = 'n'
             AND n.nspname = %s AND ref.relname = ANY(%s)
             AND COALESCE(r.ev_class, k.conrelid, 0) <> d.refobjid
           ORDER BY 1""", (schema, tables))
    rows = cur.fetchall()
    if rows:
        what, table = rows[0]
        more = f" and {len(rows) - 1} more" if len(rows) > 1 else ""
        msg = (f"export: {what}{more} depends on {schema}.{table}; --replace drops nothing with CASCADE: "
               "drop or change the dependent objects first, or export to another --schema")
        raise InputError(msg)


def _grants(cur: Any, sql: Any, schema: str, table: str) -> list[Any]:
    """GRANT statements giving the table's privileges (other than its owner's) to its successor."""
    cur.execute(
        """SELECT a.privilege_type, CASE WHEN a.grantee = 0 THEN NULL ELSE pg_get_userbyid(a.grantee) END,
                  a.is_grantable
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
                LATERAL aclexplode(c.relacl) a
           WHERE n.nspname = %s AND c.relname = %s AND a.grantee <> c.relowner
           ORDER BY 2 NULLS FIRST, 1""", (schema, table))
    out = []
    for privilege, grantee, grantable in cur.fetchall():
        who = sql.SQL("PUBLIC") if grantee is None else sql.Identifier(grantee)
        out.append(sql.SQL("GRANT {} ON {} TO {}{}").format(sql.SQL(privilege), sql.Identifier(schema, table), who,
                                                            sql.SQL(" WITH GRANT OPTION") if grantable else sql.SQL("")))
    return out


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
