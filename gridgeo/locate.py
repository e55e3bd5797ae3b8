"""Point-to-grid look-up: route each event (a GPS point) to its grid, small grid, community and worker.

:func:`locate` answers for points in memory, :func:`locate_file` streams a CSV or Parquet file of any
size in chunks; both go through one :class:`Locator` built once per plan.

How a point is answered (the rules are the same in every entry point):

- **covering**: a point belongs to a grid when the grid's closed polygon covers it (interior or
  boundary), as ``geopandas.sjoin(predicate="intersects")`` decides;
- **shared edges**: a point on an edge or corner shared by several grids gets the grid with the
  **smallest code** among them, and the small grid with the smallest code among that grid's small
  grids covering it; deterministic whatever the order of the plan's rows;
- **outside**: a point in no grid gets no codes and a ``reason`` (``outside every grid``, or
  ``in community <code> but in no grid``);
- **coordinates as typed**: full-width digits (``１１４．３０５``), a decimal comma (``114，30``), a degree sign and a
  hemisphere (``30.59°N``, ``东经114.06``; S and W negate), degrees and minutes (``114°18′E``) are read
  (:func:`gridgeo.io.coordinate_values`);
- **bad rows** (missing, non-numeric or out-of-range coordinates, or 0, 0: a GPS without a fix) get a ``reason``
  and no codes; no
  row is dropped: the answer has one row per input row, in the input order.

Speed: each layer is indexed once in a uniform lookup table of cells over its extent. A cell lying
wholly inside one grid (``shapely.contains_properly`` on the prepared polygon) answers its points
directly; the points of the other cells are tested only against the grids touching their cell, one
vectorised ``shapely.intersects_xy`` call per grid on its prepared polygon (candidates from a
``shapely.STRtree`` query of the cells). ``benchmarks/bench_locate.py`` measures it against
``geopandas.sjoin``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely

from ._csv import csv_delimiter, csv_encoding, decode_hint, encoding_label, read_csv_text
from ._errors import InputError
from ._face import force_option
from ._staff import GRID_STAFF_ROLES, ROLES, header_names, role_key, roster_text
from .io import _LAT_NAMES, _LON_NAMES, _WKT_NAMES, coordinate_values, remove_stale_temporaries, temporary_prefix
from .plan import Plan

__all__ = ["Locator", "locate", "locate_file", "read_roster", "swapped_mostly", "RESULT_COLUMNS"]

#: columns added to each point, in this order (``villager_group`` only for a plan whose grids name villager groups,
#: after ``community_name``; ``worker``, ``phone``, ``worker_role`` only with a roster, before ``reason``)
RESULT_COLUMNS = ("grid_code", "subgrid_code", "dedicated_grid_code", "community_code", "community_name", "reason")
GROUP_COLUMN = "villager_group"
#: the grid's name (网格名称), after ``grid_code``, when the plan's grids have one: read from the first of
#: :data:`GRID_NAME_NAMES` the grids layer has with a name in it
GRID_NAME_COLUMN = "grid_name"
GRID_NAME_NAMES = ("grid_name", "name", "网格名称", "网格名")
ROSTER_COLUMNS = ("worker", "phone", "worker_role")
#: a column of point geometries, read where the file has no longitude column: WKT text (CSV) or WKB (GeoParquet);
#: the names a CSV layer's are read by (one list, :mod:`gridgeo.io`)
_GEOMETRY_NAMES = _WKT_NAMES
#: who takes an event, by role: at grid level the grid worker first, at community level the grid leader
#: (roles as :data:`gridgeo._staff.ROLES` keys: 网格员, 专职网格员, grid worker ... read alike)
_ROLE_RANK_GRID = {"grid_worker": 0, "fulltime_grid_worker": 0, "parttime_grid_worker": 0, "grid_leader": 1}
_ROLE_RANK_COMMUNITY = {"grid_leader": 0, "grid_worker": 1, "fulltime_grid_worker": 1, "parttime_grid_worker": 1}
_DATUMS = ("wgs84", "cgcs2000", "gcj02", "bd09")
_CELL_EPS = 1e-9  # degrees (0.1 mm) added around each lookup cell: rounding never moves a point out of its cell


class _ZoneIndex:
    """Polygons sorted by code, with a cell table: :meth:`lookup` → the smallest covering index or -1."""

    def __init__(self, geoms: np.ndarray, *, cells_per_zone: int = 128, max_cells: int = 4_000_000) -> None:
        self.geoms = np.asarray(geoms, dtype=object)
        shapely.prepare(self.geoms)
        n = len(self.geoms)
        self.bounds = shapely.total_bounds(self.geoms) if n else np.array([0.0, 0.0, 0.0, 0.0])
        x0, y0, x1, y1 = self.bounds
        w, h = max(x1 - x0, 1e-9), max(y1 - y0, 1e-9)
        cells = int(min(max_cells, max(64, n * cells_per_zone)))
        step = float(np.sqrt(w * h / cells))
        self.nx, self.ny = max(1, int(np.ceil(w / step))), max(1, int(np.ceil(h / step)))
        self.dx, self.dy = w / self.nx, h / self.ny
        ix, iy = np.meshgrid(np.arange(self.nx), np.arange(self.ny))
        ix, iy = ix.ravel(), iy.ravel()
        boxes = shapely.box(x0 + ix * self.dx - _CELL_EPS, y0 + iy * self.dy - _CELL_EPS,
                            x0 + (ix + 1) * self.dx + _CELL_EPS, y0 + (iy + 1) * self.dy + _CELL_EPS)
        ncell = self.nx * self.ny
        self.owner = np.full(ncell, -1, dtype=np.int64)
        if n == 0:
            self.start = np.zeros(ncell + 1, dtype=np.int64)
            self.cand = np.zeros(0, dtype=np.int64)
            return
        tree = shapely.STRtree(self.geoms)
        ci, gi = tree.query(boxes, predicate="intersects")
        pure = shapely.contains_properly(self.geoms[gi], boxes[ci])
        self.owner[ci[pure]] = gi[pure]
        keep = self.owner[ci] < 0
        ci, gi = ci[keep], gi[keep]
        order = np.lexsort((gi, ci))
        ci, self.cand = ci[order], gi[order]
        self.start = np.searchsorted(ci, np.arange(ncell + 1))

    def lookup(self, x: np.ndarray, y: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """Index (in code order) of the polygon with the smallest code covering each point; -1 for none."""
        out = np.full(len(x), -1, dtype=np.int64)
        x0, y0, x1, y1 = self.bounds
        ok = valid & (x >= x0 - _CELL_EPS) & (x <= x1 + _CELL_EPS) & (y >= y0 - _CELL_EPS) & (y <= y1 + _CELL_EPS)
        idx = np.flatnonzero(ok)
        if len(idx) == 0:
            return out
        cx = np.clip(((x[idx] - x0) / self.dx).astype(np.int64), 0, self.nx - 1)
        cy = np.clip(((y[idx] - y0) / self.dy).astype(np.int64), 0, self.ny - 1)
        cell = cy * self.nx + cx
        owner = self.owner[cell]
        out[idx] = owner
        rest = owner < 0
        pts, cell = idx[rest], cell[rest]
        counts = self.start[cell + 1] - self.start[cell]
        if counts.sum() == 0:
            return out
        rep = np.repeat(pts, counts)
        offsets = np.repeat(self.start[cell] - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
        cand = self.cand[offsets]
        order = np.argsort(cand, kind="stable")
        rep, cand = rep[order], cand[order]
        bounds = np.flatnonzero(np.diff(cand)) + 1
        for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, len(cand)], strict=True):
            g = cand[lo]
            sel = rep[lo:hi]
            sel = sel[out[sel] < 0]  # ascending codes: a point keeps the first (smallest) grid covering it
            if len(sel):
                hit = shapely.intersects_xy(self.geoms[g], x[sel], y[sel])
                out[sel[hit]] = g
        return out


class Locator:
    """A plan's grids, small grids and communities indexed for point look-up (build once, use often).

    Parameters
    ----------
    plan
        A :class:`~gridgeo.Plan` (or its file) with ``grids``; ``subgrids`` and ``communities`` are used
        when present.
    roster
        Staff (a DataFrame or CSV path, see :func:`read_roster`): each point also gets its worker.
    """

    def __init__(self, plan: Plan | str | os.PathLike, *, roster: Any = None) -> None:
        from .api import _plan

        plan = _plan(plan, "plan")
        if "grids" not in plan.layers or len(plan.layers["grids"]) == 0:
            msg = "locate: the plan has no grids; give a plan written by `gridgeo partition` or gridgeo.divide"
            raise InputError(msg)
        grids = plan.layers["grids"].to_crs(4490).sort_values("grid_code", kind="stable")
        self.grid_code = grids["grid_code"].astype(str).to_numpy(dtype=object)
        self.grid_community = _text(grids, "community_code")
        self.grid_name = _grid_names(grids)
        kind = _text(grids, "kind")
        # a village's grids follow its villager groups (村民小组): the group is part of a hotline's answer
        self.all_groups, self.grid_group_index = _distinct_text(_text(grids, GROUP_COLUMN))
        self.has_groups = bool((self.grid_group_index >= 0).any())
        self.grids = _ZoneIndex(grids.geometry.to_numpy())
        self.subgrids = None
        if "subgrids" in plan.layers and len(plan.layers["subgrids"]):
            sub = plan.layers["subgrids"].to_crs(4490).sort_values("subgrid_code", kind="stable")
            self.subgrid_code = sub["subgrid_code"].astype(str).to_numpy(dtype=object)
            self.subgrid_parent = sub["grid_code"].astype(str).to_numpy(dtype=object)
            self.subgrids = _ZoneIndex(sub.geometry.to_numpy(), cells_per_zone=64)  # 3-4 per grid: as fine already
        self.communities = None
        self.community_names: dict[str, Any] = {}
        if "communities" in plan.layers and len(plan.layers["communities"]):
            comm = plan.layers["communities"].to_crs(4490).sort_values("code", kind="stable")
            self.community_code = comm["code"].astype(str).to_numpy(dtype=object)
            self.community_names = dict(zip(self.community_code, _text(comm, "name"), strict=True))
            self.communities = _ZoneIndex(comm.geometry.to_numpy(), cells_per_zone=16)
        self.subgrid_code = self.subgrid_code if self.subgrids is not None else np.zeros(0, dtype=object)
        grid_pos = {code: i for i, code in enumerate(self.grid_code)}
        self.subgrid_parent_index = (np.array([grid_pos.get(c, -1) for c in self.subgrid_parent], dtype=np.int64)
                                     if self.subgrids is not None else np.zeros(0, dtype=np.int64))
        self.grid_dedicated_index = np.where(kind == "dedicated", np.arange(len(self.grid_code)), -1)
        known = list(self.community_code) if self.communities is not None else []
        extra = sorted({c for c in self.grid_community if c is not None} - set(known))
        self.all_communities = np.array(known + extra, dtype=object)
        comm_pos = {code: i for i, code in enumerate(self.all_communities)}
        self.grid_community_index = np.array([comm_pos.get(c, -1) for c in self.grid_community], dtype=np.int64)
        names = [self.community_names.get(c) for c in self.all_communities]
        self.all_community_names = np.array(sorted({n for n in names if n is not None}), dtype=object)
        name_pos = {n: i for i, n in enumerate(self.all_community_names)}
        self.all_community_name_index = np.array([name_pos.get(n, -1) if n is not None else -1 for n in names], dtype=np.int64)
        self.reasons = np.array(["outside every grid", *_BAD_REASONS]
                                + [f"in community {c} but in no grid" for c in (known or [])], dtype=object)
        self.roster = None
        #: roster rows naming a code not in the plan (``line N NAME: grid CODE``): no point is routed to them
        self.roster_unplaced: list[str] = []
        if roster is not None:
            from .maps.roster import RosterRows, roster_rows
            from .maps.roster import read_roster as place_roster

            # the file read once; a DataFrame numbered by its lines as a CSV's, as the map's reader numbers it
            rows = roster_rows(roster) if isinstance(roster, (str, os.PathLike, pd.DataFrame, RosterRows)) else roster
            people = read_roster(rows)
            # one roster, one verdict: the rows `gridgeo map` and `sign` refuse are refused, those they say are said,
            # and a person is routed from the grid the map and the signs place them in
            placed = place_roster(rows, plan)
            self.roster_unplaced = placed.unplaced()
            self.roster, self.roster_index = _grid_workers(_as_placed(people, placed.staff), self.grid_code,
                                                           self.grid_community)

    @property
    def columns(self) -> list[str]:
        """The answer's columns, in order: :data:`RESULT_COLUMNS`, ``villager_group`` when the plan's grids name
        villager groups, the roster's when given; ``reason`` last."""
        return [RESULT_COLUMNS[0], *([GRID_NAME_COLUMN] if self.grid_name is not None else []), *RESULT_COLUMNS[1:-1],
                *([GROUP_COLUMN] if self.has_groups else []), *(ROSTER_COLUMNS if self.roster is not None else ()),
                "reason"]

    def __repr__(self) -> str:
        from ._text import counted

        staffed = (f", roster: {counted(int((self.roster_index >= 0).sum()), 'grid')} with a contact"
                   if self.roster is not None else "")
        return (f"<gridgeo Locator: {counted(len(self.grid_code), 'grid')}, {counted(len(self.subgrid_code), 'small grid')}, "
                f"{counted(len(self.all_communities), 'community')}{staffed}>")

    def locate_xy(self, lon: Any, lat: Any, *, coords: str = "wgs84", geometry: bool = False) -> pd.DataFrame:
        """The answer for coordinate arrays (strings allowed: non-numeric ones are reported), one row each, as
        text columns (missing: NaN); ``geometry``: they are the x and y of points given as geometries (the swapped
        reasons say so)."""
        return _plain(self._answer_xy(lon, lat, coords=coords, geometry=geometry))

    def _answer_xy(self, lon: Any, lat: Any, *, coords: str, geometry: bool) -> pd.DataFrame:
        x, y, reason = _coordinates(lon, lat)
        return self._answer(x, y, reason, coords=coords, geometry=geometry)

    def _answer(self, x: np.ndarray, y: np.ndarray, reason: np.ndarray, *, coords: str,
                geometry: bool = False) -> pd.DataFrame:
        """Answer columns as categoricals (codes stored once per grid): fast to build, small, exact text."""
        coords = _datum(coords)
        valid = reason < 0
        raw_x, raw_y = x, y
        convert = None
        if coords in ("gcj02", "bd09") and valid.any():
            from .crs import bd09_to_wgs84, gcj02_to_wgs84

            convert = gcj02_to_wgs84 if coords == "gcj02" else bd09_to_wgs84
            x, y = x.copy(), y.copy()
            x[valid], y[valid] = convert(x[valid], y[valid])
        g = self.grids.lookup(x, y, valid)
        found = g >= 0
        gi = np.maximum(g, 0)
        s = np.full(len(x), -1, dtype=np.int64)
        if self.subgrids is not None and found.any():
            s = self.subgrids.lookup(x, y, found)
            has = s >= 0
            wrong = np.flatnonzero(has & (self.subgrid_parent_index[np.maximum(s, 0)] != g))
            for i in wrong:  # on an edge between grids: the small grid must be one of the chosen grid's
                own = np.flatnonzero(self.subgrid_parent_index == g[i])
                hit = own[shapely.intersects_xy(self.subgrids.geoms[own], x[i], y[i])]
                s[i] = hit.min() if len(hit) else -1
        reason = reason.copy()
        outside = valid & ~found
        reason[outside] = 0
        if outside.any() and self.communities is not None:
            c = self.communities.lookup(x, y, outside)
            reason[c >= 0] = len(_BAD_REASONS) + 1 + c[c >= 0]
        maybe = np.flatnonzero((reason == 0) & (np.abs(raw_x) <= 90))
        if len(maybe):  # in a grid with longitude and latitude exchanged: the columns look swapped
            sx, sy = raw_y[maybe].copy(), raw_x[maybe].copy()
            if convert is not None:
                sx, sy = convert(sx, sy)
            hit = self.grids.lookup(sx, sy, np.ones(len(maybe), dtype=bool)) >= 0
            reason[maybe[hit]] = SWAPPED_REASONS[1]
        if geometry:  # points given as geometries: no column option mends an exchange, the axis order does
            for columns, points in zip(SWAPPED_REASONS[:2], SWAPPED_REASONS[2:], strict=True):
                reason[reason == columns] = points
        comm = np.where(found, self.grid_community_index[gi], -1)
        out = pd.DataFrame({
            "grid_code": _categorical(g, self.grid_code),
            **({GRID_NAME_COLUMN: _categorical(np.where(found, self.grid_name[1][gi], -1), self.grid_name[0])}
               if self.grid_name is not None else {}),
            "subgrid_code": _categorical(s, self.subgrid_code),
            "dedicated_grid_code": _categorical(np.where(found, self.grid_dedicated_index[gi], -1), self.grid_code),
            "community_code": _categorical(comm, self.all_communities),
            "community_name": _categorical(np.where(comm >= 0, self.all_community_name_index[np.maximum(comm, 0)], -1),
                                           self.all_community_names),
        })
        if self.has_groups:
            out[GROUP_COLUMN] = _categorical(np.where(found, self.grid_group_index[gi], -1), self.all_groups)
        if self.roster is not None:
            person = np.where(found, self.roster_index[gi], -1)
            for col in ROSTER_COLUMNS:
                cats, codes = self.roster[col]
                picked = codes[np.maximum(person, 0)] if len(codes) else person  # a roster of no one: all -1
                out[col] = _categorical(np.where(person >= 0, picked, -1), cats)
        out["reason"] = _categorical(reason, self.reasons)
        return out

    def locate(self, points: Any, *, lon_col: str | None = None, lat_col: str | None = None,
               coords: str = "wgs84") -> pd.DataFrame:
        """The points given (see :func:`locate`) with the answer's columns added."""
        import geopandas as gpd

        frame, x, y, reason, geometry = _points(points, lon_col=lon_col, lat_col=lat_col)
        answer = _plain(self._answer(x, y, reason, coords=coords, geometry=geometry))
        answer.index = frame.index
        keep = _kept_names([str(c) for c in frame.columns], list(answer.columns))
        out = pd.concat([frame.rename(columns=keep) if keep else frame, answer], axis=1)
        if isinstance(frame, gpd.GeoDataFrame):  # the events' points stay: a GeoDataFrame in, one out (same CRS)
            geometry = keep.get(frame.geometry.name, frame.geometry.name)
            return gpd.GeoDataFrame(out, geometry=geometry, crs=frame.crs)
        return out


def _kept_names(columns: list[str], answer: list[str]) -> dict[str, str]:
    """Input columns named like an answer column (``grid_code``, ``reason`` ...) are kept as ``<name>_input``.

    >>> _kept_names(["id", "grid_code", "lon"], ["grid_code", "reason"])
    {'grid_code': 'grid_code_input'}
    """
    keep = {c: f"{c}_input" for c in columns if c in answer}
    taken = [v for v in keep.values() if v in columns or v in answer]
    if taken:
        msg = (f"locate: the points have both {taken[0][:-6]!r} and {taken[0]!r}, names of the answer's columns; "
               "rename one of them")
        raise InputError(msg)
    return keep


def _text(gdf: Any, col: str) -> np.ndarray:
    if col not in gdf.columns:
        return np.full(len(gdf), None, dtype=object)
    s = gdf[col]
    return s.astype(object).where(s.notna(), None).to_numpy(dtype=object)


def _datum(coords: Any) -> str:
    v = str(coords).lower()
    if v not in _DATUMS:
        msg = f"locate: coords={coords!r} is not one of {list(_DATUMS)} (the datum of the points: gcj02 from AMap/Tencent, bd09 from Baidu)"
        raise InputError(msg)
    return v


#: what mends longitude and latitude exchanged: naming the columns (lon/lat columns), or writing the points
#: x first (points given as geometries: WKT or WKB, a GeoDataFrame), where no column option applies
SWAP_FIX = {"columns": "name the columns with --lon-col and --lat-col",
            "geometry": "points are read as POINT (longitude latitude): write the longitude first (x, y)"}
#: the fix a row's reason names: a row cannot tell whether it alone was typed latitude first or the columns are
#: exchanged (the console, which counts them, says which: :func:`swapped_mostly`), so it names both
_ROW_SWAP_FIX = {"columns": "write the longitude first in this row, or, if the columns are exchanged, "
                            "name them with --lon-col and --lat-col",
                 "geometry": SWAP_FIX["geometry"]}
#: why a row has no answer; index 0 is "outside every grid", then these, then "in community ... but in no grid"
_BAD_REASONS = ("missing coordinate", "non-numeric coordinate",
                "coordinate out of range (longitude -180..180, latitude -90..90)",
                *(r for fix in _ROW_SWAP_FIX.values() for r in (
                    f"latitude out of range and longitude within -90..90: longitude and latitude look swapped ({fix})",
                    f"outside every grid, but in one with longitude and latitude swapped ({fix})")),
                "coordinates 0, 0 (a GPS without a fix, or blanks written as 0): no position")
#: the reason (1 + index in _BAD_REASONS) of a point at 0, 0, in the Gulf of Guinea: no grid's, and a device's or a
#: form's stand-in for "no position" far more often than a place
NULL_ISLAND_REASON = len(_BAD_REASONS)
#: the reasons (1 + index in _BAD_REASONS) that say longitude and latitude look swapped: of lon/lat columns, then
#: of points given as geometries
SWAPPED_REASONS = (4, 5, 6, 7)
#: the reasons (1 + index in _BAD_REASONS) of rows that give no position at all (missing, non-numeric, 0, 0)
_UNPOSITIONED_REASONS = (1, 2, NULL_ISLAND_REASON)
#: how many rows :func:`locate_file` names (``swapped_rows``, ``unreadable``)
ROWS_SHOWN = 5


def swapped_mostly(counts: dict) -> bool:
    """Whether most points with a position look swapped (the columns, or the axis order, are the cause: rename them)
    rather than a few rows (each a bad row to fix), from :func:`locate_file`'s counts.

    >>> swapped_mostly({"swapped": 1, "positioned": 100}), swapped_mostly({"swapped": 60, "positioned": 100})
    (False, True)
    """
    return counts["swapped"] * 2 > counts["positioned"]


def _grid_names(grids: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """The grids' names (网格名称) as (distinct names, each grid's position among them or -1), from the first column
    of :data:`GRID_NAME_NAMES` holding a name; None when there is none."""
    for col in GRID_NAME_NAMES:
        distinct, index = _distinct_text(_text(grids, col))
        if (index >= 0).any():
            return distinct, index
    return None


def _distinct_text(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct non-blank texts of ``values`` (stripped, sorted) and each value's position among them (-1: blank
    or no text)."""
    texts = [v.strip() if isinstance(v, str) and v.strip() else None for v in values]
    distinct = np.array(sorted({t for t in texts if t is not None}), dtype=object)
    pos = {t: i for i, t in enumerate(distinct)}
    return distinct, np.array([pos.get(t, -1) for t in texts], dtype=np.int64)


def _plain(answer: pd.DataFrame) -> pd.DataFrame:
    """The answer's categorical columns as plain text (pandas' ``str`` dtype, missing NaN, as ``read_csv`` gives text),
    whatever a column holds (one all missing too), as a joined table or a CSV expects them."""
    text = pd.StringDtype(na_value=np.nan)  # pandas' "str"; built from Arrow (5 times faster than from objects)
    return pd.DataFrame({c: pd.Series(pd.array(_arrow_text(answer[c]), dtype=text), index=answer.index)
                         for c in answer.columns}, index=answer.index)


def _categorical(index: np.ndarray, categories: np.ndarray) -> pd.Categorical:
    """Values ``categories[index]`` (missing where ``index`` is -1), stored once each."""
    return pd.Categorical.from_codes(np.asarray(index, dtype=np.int64), categories=pd.Index(categories, dtype=object),
                                     validate=False)


def _booleans(arr: np.ndarray) -> np.ndarray | slice:
    """Where ``arr`` (any dtype but numbers) holds True/False: a boolean array, or the rows of one that mixes them
    with other values (looked at one by one only then; text, the CSV's case, is seen as text at once)."""
    if arr.dtype.kind == "b":
        return slice(None)
    kind = pd.api.types.infer_dtype(arr, skipna=True)
    if kind == "boolean":
        return np.asarray(pd.Series(arr, dtype=object).notna(), dtype=bool)
    if not kind.startswith("mixed"):
        return np.zeros(len(arr), dtype=bool)
    return np.fromiter((isinstance(t, (bool, np.bool_)) for t in arr), dtype=bool, count=len(arr))


def _coordinates(lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coordinates as floats and a reason code per row (-1: usable; else 1 + index in _BAD_REASONS)."""
    xs = []
    missing = None
    for axis, values in (("lon", lon), ("lat", lat)):
        arr = np.asarray(values)
        if arr.dtype.kind in "fiu":
            v = arr.astype(float)
            miss = np.isnan(v)
        else:
            s = pd.Series(arr, dtype=object)
            v = coordinate_values(arr, axis=axis)  # "１１４．３０５", "114，30", "30.59°N", "114°18′E" read as people type them
            v[_booleans(arr)] = np.nan  # True/False are no coordinates (read as 1 and 0): non-numeric
            miss = np.zeros(len(v), dtype=bool)
            nan = np.flatnonzero(np.isnan(v))
            if len(nan):  # only the rows that did not parse are looked at again
                sub = s.iloc[nan]
                miss[nan] = (sub.isna() | sub.map(lambda t: isinstance(t, str) and not t.strip())).to_numpy()
        xs.append(v)
        missing = miss if missing is None else (missing | miss)
    x, y = xs
    reason = np.full(len(x), -1, dtype=np.int64)
    nan = np.isnan(x) | np.isnan(y)
    reason[nan] = 2
    reason[missing] = 1
    bad = ~nan & ((np.abs(x) > 180) | (np.abs(y) > 90) | ~np.isfinite(x) | ~np.isfinite(y))
    reason[bad] = 3
    swapped = bad & (np.abs(y) <= 180) & (np.abs(x) <= 90)
    reason[swapped] = 4
    reason[~nan & (x == 0) & (y == 0)] = NULL_ISLAND_REASON
    return x, y, reason


def _column(columns: list[str], given: str | None, names: tuple[str, ...], what: str) -> str:
    if given is not None:
        if given not in columns:
            msg = f"locate: {what} column {given!r} not found; columns: {columns}"
            raise InputError(msg)
        return given
    lower = {str(c).lower(): c for c in columns}
    found = next((lower[n] for n in names if n in lower), None)
    if found is None:
        msg = (f"locate: no {what} column among {columns}; name it with --{what}-col (tried {list(names)}), "
               f"or give the points as one WKT column ({', '.join(_GEOMETRY_NAMES)})")
        raise InputError(msg)
    return found


def _geometry_column(columns: list[str], lon_col: str | None, lat_col: str | None) -> str | None:
    """The column of point geometries a table is read by: one of :data:`_GEOMETRY_NAMES` where it has no
    longitude column and none is named."""
    lower = {str(c).lower(): c for c in columns}
    geometry = next((lower[n] for n in _GEOMETRY_NAMES if n in lower), None)
    if lon_col is None and lat_col is None and geometry is not None and not any(n in lower for n in _LON_NAMES):
        return geometry
    return None


def _xy(columns: list[str], lon_col: str | None, lat_col: str | None, values: Any, *, crs: Any = None) -> tuple[Any, Any]:
    """The longitude and latitude values of a table (``values(column)`` gives a column's values): its lon/lat
    columns, else its column of point geometries (``POINT (114.3 30.5)`` in a CSV, WKB in a GeoParquet file, whose
    ``crs`` the points are taken from to degrees)."""
    geometry = _geometry_column(columns, lon_col, lat_col)
    if geometry is not None:
        return _geometry_xy(values(geometry), geometry, crs=crs)
    return values(_column(columns, lon_col, _LON_NAMES, "lon")), values(_column(columns, lat_col, _LAT_NAMES, "lat"))


def _geoparquet_crs(path: Path) -> Any:
    """The CRS of a GeoParquet file's primary geometry column (its ``geo`` metadata), or None."""
    import json

    import pyarrow.parquet as pq
    from pyproj import CRS

    meta = pq.read_schema(path).metadata or {}
    if b"geo" not in meta:
        return None
    try:
        geo = json.loads(meta[b"geo"])
        crs = geo["columns"][geo["primary_column"]].get("crs", "OGC:CRS84")
        return CRS.from_user_input(crs) if crs is not None else None
    except (ValueError, KeyError, TypeError):
        return None


def _geometry_xy(values: Any, column: str, *, crs: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """x and y of a column of WKT text or WKB points as :func:`_coordinates` reads them: None where the cell is
    empty (or ``POINT EMPTY``): a missing coordinate; the text itself where it is no geometry: non-numeric.
    Points in a projected ``crs`` (a GeoParquet file's) are taken to CGCS2000 degrees."""
    cells = pd.Series(values, dtype=object)
    x = np.full(len(cells), None, dtype=object)
    y = x.copy()
    given = np.flatnonzero(cells.map(lambda v: v is not None and not (isinstance(v, str) and not v.strip())
                                     and not (isinstance(v, float) and np.isnan(v))).to_numpy(dtype=bool))
    raw = cells.iloc[given].to_numpy()
    binary = np.array([isinstance(v, (bytes, bytearray)) for v in raw], dtype=bool)
    geoms = np.empty(len(raw), dtype=object)
    geoms[binary] = shapely.from_wkb(raw[binary], on_invalid="ignore")
    geoms[~binary] = shapely.from_wkt(raw[~binary].astype(str), on_invalid="ignore")
    kinds = shapely.get_type_id(geoms)
    other = np.flatnonzero((kinds > 0) & ~shapely.is_empty(geoms))
    if len(other):
        kind = shapely.get_type_id(geoms[other[0]])
        msg = (f"locate: column {column!r} holds {shapely.GeometryType(kind).name.lower()} geometries (row {int(given[other[0]]) + 1}); "
               "give points (events), one POINT per row")
        raise InputError(msg)
    point = (kinds == 0) & ~shapely.is_empty(geoms)
    px, py = shapely.get_x(geoms[point]), shapely.get_y(geoms[point])
    if crs is not None and not crs.is_geographic:
        from pyproj import Transformer

        px, py = Transformer.from_crs(crs, 4490, always_xy=True).transform(px, py)
    x[given[point]], y[given[point]] = px, py
    invalid = given[kinds < 0]
    x[invalid] = y[invalid] = cells.iloc[invalid].astype(str).to_numpy()  # no geometry: a non-numeric coordinate
    return x, y


def _points(points: Any, *, lon_col: str | None,
            lat_col: str | None) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray, bool]:
    """The points as a frame, their x, y and reason codes, and whether they were given as geometries."""
    import geopandas as gpd

    if isinstance(points, (str, os.PathLike)):
        points = _read_points(Path(points))
    if isinstance(points, gpd.GeoDataFrame) and lon_col is None and lat_col is None:
        if points.crs is None:
            msg = 'locate: the points have no CRS; set it with gdf.set_crs("EPSG:4326")'
            raise InputError(msg)
        geo = points.geometry.to_crs(4490) if not points.crs.is_geographic else points.geometry
        geoms = geo.to_numpy()
        kinds = shapely.get_type_id(geoms)
        if np.any((kinds != 0) & (kinds != -1) & ~shapely.is_empty(geoms)):
            msg = "locate: the points layer holds geometries other than points; give points (events), e.g. gdf.representative_point()"
            raise InputError(msg)
        empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
        x = np.full(len(geoms), np.nan)
        y = np.full(len(geoms), np.nan)
        x[~empty], y[~empty] = shapely.get_x(geoms[~empty]), shapely.get_y(geoms[~empty])
        x, y, reason = _coordinates(x, y)
        reason[empty] = 1
        return points, x, y, reason, True
    if not isinstance(points, pd.DataFrame):
        msg = f"locate: points=<{type(points).__name__}>; give a DataFrame with lon/lat columns, a GeoDataFrame of points or a CSV/Parquet path"
        raise InputError(msg)
    cols = [str(c) for c in points.columns]
    by_name = dict(zip(cols, points.columns))
    x, y, reason = _coordinates(*_xy(cols, lon_col, lat_col, lambda c: points[by_name[c]].to_numpy()))
    return points, x, y, reason, _geometry_column(cols, lon_col, lat_col) is not None


def _read_points(path: Path) -> pd.DataFrame:
    if not path.exists():
        msg = f"locate: points file not found: {path}; check the path"
        raise InputError(msg)
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".geoparquet"):
        frame = pd.read_parquet(path)
        if _geoparquet_crs(path) is not None and _geometry_column([str(c) for c in frame.columns], None, None):
            import geopandas as gpd

            return gpd.read_parquet(path)  # points without lon/lat columns: read in their CRS
        return frame
    if suffix in (".csv", ".txt"):
        try:
            return read_csv_text(path, what="locate", option=_ENCODING_OPTION, na_values=[""])
        except pd.errors.ParserError as exc:
            msg = (f"locate: {path.name}: {' '.join(str(exc).split())[:200]}; fix that row "
                   "(quote a value holding a comma)")
            raise InputError(msg) from None
    msg = f"locate: points file {path} must be .csv or .parquet (lon/lat columns)"
    raise InputError(msg)


# ----------------------------------------------------------------------------------------------- roster


def read_roster(roster: Any) -> pd.DataFrame:
    """Staff for event routing: ``name``, ``phone``, and ``grid_code`` or ``community_code`` (``role`` optional).

    A CSV (UTF-8, or GB18030 when it is not UTF-8) or a DataFrame. Codes are read as text. The headers
    are those of the map's roster (:mod:`gridgeo.maps.roster`), English or Chinese (姓名, 电话, 网格编码,
    社区代码, 职务), so one roster file serves both.

    >>> read_roster(pd.DataFrame({"name": ["许涛"], "phone": ["139"]}))
    Traceback (most recent call last):
    ...
    gridgeo._errors.InputError: roster: needs a grid_code or community_code column to tie each person to a grid; columns: ['name', 'phone']
    """
    from .maps.roster import RosterRows, roster_rows  # the map's reader: one file, read alike

    if isinstance(roster, (str, os.PathLike)):
        roster = roster_rows(roster)
    if isinstance(roster, RosterRows):
        df, source = roster.frame, roster.source
    elif isinstance(roster, pd.DataFrame):
        df, source = roster_text(roster), "(DataFrame)"
    else:
        msg = f"roster=<{type(roster).__name__}>: give a CSV path or a DataFrame"
        raise InputError(msg)
    df = df.rename(columns=header_names(df.columns, source))
    df.columns = [str(c).strip().lower() for c in df.columns]
    missing = [c for c in ("name", "phone") if c not in df.columns]
    if missing:
        msg = f"roster: missing column(s) {missing}; columns: {list(df.columns)}"
        raise InputError(msg)
    if "grid_code" not in df.columns and "community_code" not in df.columns:
        msg = f"roster: needs a grid_code or community_code column to tie each person to a grid; columns: {list(df.columns)}"
        raise InputError(msg)
    for col in ("grid_code", "community_code", "role"):
        if col not in df.columns:
            df[col] = ""
    return df[["name", "phone", "role", "grid_code", "community_code"]].apply(lambda s: s.str.strip())


def _as_placed(people: pd.DataFrame, staff: pd.DataFrame) -> pd.DataFrame:
    """The roster's ``people`` (:func:`read_roster`, indexed by line) where the map and the signs place them
    (``staff`` of :func:`gridgeo.maps.roster.read_roster`): a person given by community alone and placed in a grid
    (``placed="auto"``) is that grid's, so a point there is routed to the person its sign names; rows placed
    nowhere (a code not in the plan) and repeated rows are left out; the role as the roster writes it."""
    staff = staff[staff["placed"] != "unplaced"]
    # the community as the roster gives it: a person named by grid alone is that grid's, no community's fallback
    out = people.loc[staff["line"].to_numpy(), ["name", "phone", "role", "community_code"]].reset_index(drop=True)
    blank = (out["role"] == "").to_numpy()  # no role given: a grid worker (网格员), as the map reads it
    out.loc[blank, "role"] = [ROLES[k][0] for k in staff["role"].to_numpy()[blank]]
    # a grid's own staff the map placed there; a building or group leader placed by the map stays the community's
    # (an event goes to a grid worker or leader, not to a volunteer of one building)
    own = (staff["placed"] != "auto").to_numpy() | staff["role"].isin(GRID_STAFF_ROLES).to_numpy()
    out["grid_code"] = np.where(own, staff["grid_code"].astype(str).to_numpy(), "")
    return out[["name", "phone", "role", "grid_code", "community_code"]]


def _grid_workers(roster: pd.DataFrame, grid_code: np.ndarray,
                  grid_community: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """One contact per grid: a person of the grid (grid worker 网格员 first), else of its community (grid
    leader 网格长 first); ties by name, then phone. Returns the people's columns and each grid's index (-1)."""
    def pick(rows: pd.DataFrame, ranks: dict[str, int]) -> pd.DataFrame:
        rows = rows.assign(_rank=rows["role"].map(lambda r: ranks.get(role_key(r) or "", 9)))
        return rows.sort_values(["_rank", "name", "phone"], kind="stable")

    people = roster.reset_index(drop=True)
    by_grid = pick(people[people["grid_code"] != ""], _ROLE_RANK_GRID).drop_duplicates("grid_code")
    by_comm = pick(people[people["community_code"] != ""], _ROLE_RANK_COMMUNITY).drop_duplicates("community_code")
    grid_person = dict(zip(by_grid["grid_code"], by_grid.index, strict=True))
    comm_person = dict(zip(by_comm["community_code"], by_comm.index, strict=True))
    index = np.array([grid_person.get(g, comm_person.get(c, -1)) for g, c in zip(grid_code, grid_community, strict=True)],
                     dtype=np.int64)
    columns = {"worker": people["name"], "phone": people["phone"], "worker_role": people["role"]}
    # categories must be unique: map each person to the first row holding the same text
    table: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for col, values in columns.items():
        cats, codes = np.unique(values.to_numpy(dtype=str), return_inverse=True)
        table[col] = (cats.astype(object), codes)
    return table, index


# ----------------------------------------------------------------------------------------------- face


def locate(points: Any, plan: Plan | str | os.PathLike | Locator, *, lon_col: str | None = None,
           lat_col: str | None = None, coords: str = "wgs84", roster: Any = None) -> pd.DataFrame:
    """The grid, small grid, dedicated grid, community (and worker) of each point: ``gridgeo locate``.

    Parameters
    ----------
    points
        A DataFrame with longitude/latitude columns (found by name: lon/lng/longitude/x/经度 and
        lat/latitude/y/纬度, or given; else one column of points, WKT text or WKB, named as in
        ``_GEOMETRY_NAMES``: WKT, geometry ...), a GeoDataFrame of points, or a CSV/Parquet path.
    plan
        A :class:`~gridgeo.Plan`, a plan file, or a :class:`Locator` built before (fastest for many calls).
    lon_col, lat_col
        The coordinate columns, when not found by name.
    coords
        Datum of the points: ``wgs84`` (also CGCS2000), ``gcj02`` (AMap, Tencent) or ``bd09`` (Baidu).
    roster
        Staff CSV or DataFrame (:func:`read_roster`): adds ``worker``, ``phone``, ``worker_role``.

    Returns
    -------
    DataFrame
        The input's columns (one named like an answer column kept as ``<name>_input``), then
        :data:`RESULT_COLUMNS` (``grid_name`` after ``grid_code`` when the plan's grids name them, and the roster's)
        as text columns (missing is NaN): one row per input row, same order and index;
        ``reason`` says why a row has no grid. A GeoDataFrame given (or a GeoParquet file of points) gives a
        GeoDataFrame: its geometry column kept as it was, in its CRS.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import box
    >>> grids = gpd.GeoDataFrame({"grid_code": ["420103001001002", "420103001001001"],
    ...                           "community_code": ["420103001001"] * 2, "kind": ["base"] * 2},
    ...                          geometry=[box(114.301, 30.55, 114.302, 30.551), box(114.30, 30.55, 114.301, 30.551)], crs=4490)
    >>> pts = pd.DataFrame({"lon": [114.3005, 114.301, 114.5, "abc"], "lat": [30.5505, 30.5505, 30.5, 30.5]})
    >>> answer = locate(pts, Plan({"grids": grids}))
    >>> answer["grid_code"].tolist()  # on the shared edge x = 114.301: the smaller code
    ['420103001001001', '420103001001001', nan, nan]
    >>> answer["reason"].tolist()
    [nan, nan, 'outside every grid', 'non-numeric coordinate']
    """
    locator = plan if isinstance(plan, Locator) else Locator(plan, roster=roster)
    if isinstance(plan, Locator) and roster is not None:
        msg = "locate: give the roster when building the Locator (Locator(plan, roster=...)), not with it"
        raise InputError(msg)
    return locator.locate(points, lon_col=lon_col, lat_col=lat_col, coords=coords)


def locate_file(points: str | os.PathLike, plan: Plan | str | os.PathLike | Locator, out: str | os.PathLike, *,
                lon_col: str | None = None, lat_col: str | None = None, coords: str = "wgs84", roster: Any = None,
                chunk_rows: int = 1_000_000, force: bool = False, encoding: str | None = None) -> dict[str, int]:
    """Stream a CSV or Parquet file of points to ``out`` (.csv or .parquet) in chunks; atomic.

    Every input column is kept as it was read (CSV: as text); the answer's columns follow. An input
    column named like one of the answer's (``grid_code``, ``reason``, ``worker`` ...) is kept as
    ``<name>_input``. A CSV is
    read in the encoding of its byte-order mark (UTF-8, or UTF-16: Excel's "Unicode text"), else as UTF-8 when the
    whole file is UTF-8, else GB18030 (Excel's GBK), unless ``encoding`` says; comma-, tab- or semicolon-separated,
    as its header shows; the header is read with the csv module (quoted names may hold commas). A row with more or fewer
    fields than the header is an :class:`~gridgeo.InputError` naming its line. Returns counts:
    ``rows``, ``located``, ``outside`` (no grid), ``bad`` (bad coordinates), ``swapped`` (of those, points whose
    longitude and latitude look exchanged; ``swapped_rows``: the first few, as 0-based row positions; ``positioned``:
    the rows giving a position at all, see :func:`swapped_mostly`), ``unreadable`` (the first few rows whose
    coordinate reads as no number, as (0-based row position, the value)), ``geometry`` (the column of point geometries the points were read
    from, "" for lon/lat columns), and for a CSV answer to a CSV its ``encoding``: the points file's
    when UTF-8 or GBK/GB18030 (then GB18030, for Excel on Chinese Windows), else UTF-8 with a BOM; with a roster,
    ``roster_unplaced``: its rows naming a code not in the plan (``line N NAME: grid CODE``), routed no point.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    src, dst = Path(points), Path(out)
    if not src.exists():
        msg = f"locate: points file not found: {src}; check the path"
        raise InputError(msg)
    if dst.exists() and (dst.resolve() == src.resolve()):
        msg = f"locate: --out {dst} is the points file; write the answer to another path"
        raise InputError(msg)
    if dst.exists() and not force:
        msg = f"{dst} exists; pass {force_option()} to overwrite it"
        raise InputError(msg)
    if dst.suffix.lower() not in (".csv", ".parquet"):
        msg = f"locate: --out {dst} must end in .csv or .parquet"
        raise InputError(msg)
    if src.suffix.lower() not in (".csv", ".txt", ".parquet", ".geoparquet"):
        msg = f"locate: points file {src} must be .csv or .parquet (lon/lat columns)"
        raise InputError(msg)
    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or chunk_rows < 1:
        msg = f"locate: chunk_rows={chunk_rows!r} must be a whole number of rows, at least 1"
        raise InputError(msg)
    if not dst.parent.is_dir():
        msg = f"locate: --out folder {dst.parent} does not exist; create it first"
        raise InputError(msg)
    if src.stat().st_size == 0:
        msg = f"locate: points file {src} is empty; give a CSV with a header row (e.g. id,lon,lat) or a Parquet file"
        raise InputError(msg)
    locator = plan if isinstance(plan, Locator) else Locator(plan, roster=roster)
    counts = {"rows": 0, "located": 0, "outside": 0, "bad": 0, "swapped": 0, "swapped_rows": [], "positioned": 0,
              "unreadable": []}
    if locator.roster is not None:
        counts["roster_unplaced"] = locator.roster_unplaced
    # the CSV's encoding, found once (reading the whole file) for the reading and the answer's encoding
    read_as = csv_encoding(src, encoding, what="locate") if src.suffix.lower() in (".csv", ".txt") else None
    crs = _geoparquet_crs(src) if read_as is None else None
    remove_stale_temporaries(dst)  # of a run killed while writing ``dst``
    fd, tmp = tempfile.mkstemp(prefix=temporary_prefix(dst), suffix=dst.suffix, dir=dst.parent)
    os.close(fd)
    writer = None
    try:
        for batch in _batches(src, chunk_rows, encoding, resolved=read_as):
            cols = batch.schema.names
            geometry = _geometry_column(cols, lon_col, lat_col)
            lon, lat = _xy(cols, lon_col, lat_col, lambda c, b=batch: b.column(c).to_numpy(zero_copy_only=False), crs=crs)
            answer = locator._answer_xy(lon, lat, coords=coords, geometry=geometry is not None)
            counts["geometry"] = geometry or ""
            table = pa.Table.from_batches([batch])
            if dst.suffix.lower() == ".csv":
                table = _binary_as_text(table)
            keep = _kept_names(cols, list(answer.columns))
            if keep:
                table = table.rename_columns([keep.get(c, c) for c in cols])
            for col in answer.columns:
                table = table.append_column(col, _arrow_text(answer[col]))
            counts["located"] += int(answer["grid_code"].notna().sum())
            bad = answer["reason"].notna() & ~answer["reason"].astype(str).str.contains("grid")
            counts["bad"] += int(bad.sum())
            counts["outside"] += int((answer["grid_code"].isna() & ~bad).sum())
            swapped = np.flatnonzero(answer["reason"].isin([locator.reasons[i] for i in SWAPPED_REASONS]).to_numpy())
            counts["swapped"] += len(swapped)
            counts["swapped_rows"] += (swapped[:ROWS_SHOWN - len(counts["swapped_rows"])] + counts["rows"]).tolist()
            counts["positioned"] += int((~answer["reason"].isin(
                [locator.reasons[i] for i in _UNPOSITIONED_REASONS])).sum())
            if len(counts["unreadable"]) < ROWS_SHOWN and geometry is None:  # the values still read as no number
                for i in np.flatnonzero((answer["reason"] == locator.reasons[2]).to_numpy())[:ROWS_SHOWN]:
                    value = lon[i] if np.isnan(coordinate_values(lon[i:i + 1], axis="lon")[0]) else lat[i]
                    counts["unreadable"].append((int(i) + counts["rows"], str(value)))
                del counts["unreadable"][ROWS_SHOWN:]
            counts["rows"] += len(answer)
            if writer is None:
                writer = (pq.ParquetWriter(tmp, table.schema) if dst.suffix.lower() == ".parquet"
                          else pacsv.CSVWriter(tmp, table.schema))
            writer.write_table(table)
        if writer is None:  # no rows: the header (input columns and the answer's) all the same
            head = _header(src, read_as)
            if _geometry_column(head, lon_col, lat_col) is None:  # the columns are checked as for rows
                _column(head, lon_col, _LON_NAMES, "lon")
                _column(head, lat_col, _LAT_NAMES, "lat")
            added = locator.columns
            keep = _kept_names(head, added)
            names = [keep.get(c, c) for c in head] + added
            empty = pa.table({n: pa.array([], type=pa.string()) for n in dict.fromkeys(names)})
            writer = (pq.ParquetWriter(tmp, empty.schema) if dst.suffix.lower() == ".parquet"
                      else pacsv.CSVWriter(tmp, empty.schema))
            writer.write_table(empty)
        writer.close()
        writer = None
        if dst.suffix.lower() == ".csv" and src.suffix.lower() in (".csv", ".txt"):
            counts["encoding"] = _answer_encoding(read_as, bom=_has_bom(src))
            if counts["encoding"] != "utf-8":
                _transcode(Path(tmp), counts["encoding"])
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600: the answer gets the mode of a file made by open()
        os.replace(tmp, dst)
    finally:
        if writer is not None:
            writer.close()
        if os.path.exists(tmp):
            os.unlink(tmp)
    return counts


def _binary_as_text(table: Any) -> Any:
    """``table`` with its binary columns (a Parquet file's) as text, which a CSV can hold: a geometry (GeoParquet's
    WKB) as WKT, other bytes as hex. pyarrow's CSV writer failed on them ("Invalid UTF8 payload", a traceback)."""
    import pyarrow as pa

    for i, field in enumerate(table.schema):
        if pa.types.is_binary(field.type) or pa.types.is_large_binary(field.type):
            raw = np.array(table.column(i).to_pylist(), dtype=object)
            geoms = shapely.from_wkb(raw, on_invalid="ignore")
            text = [None if v is None else shapely.to_wkt(g, rounding_precision=-1) if g is not None else v.hex()
                    for v, g in zip(raw, geoms, strict=True)]
            table = table.set_column(i, field.name, pa.array(text, type=pa.string()))
    return table


def _arrow_text(column: pd.Series) -> Any:
    """A categorical answer column as an Arrow string array (nulls kept)."""
    import pyarrow as pa

    cat = column.array
    codes = np.asarray(cat.codes, dtype=np.int32)
    indices = pa.array(codes, mask=codes < 0, type=pa.int32())
    dictionary = pa.array(np.asarray(cat.categories, dtype=object), type=pa.string())
    return pa.DictionaryArray.from_arrays(indices, dictionary).cast(pa.string())


def _header(src: Path, encoding: str | None = None) -> list[str]:
    """Column names of a points file (CSV header, read by the csv module: quotes and commas in names, or
    Parquet schema)."""
    import csv

    import pyarrow.parquet as pq

    if src.suffix.lower() in (".parquet", ".geoparquet"):
        return list(pq.read_schema(src).names)
    enc = encoding or csv_encoding(src, what="locate")
    with open(src, encoding=enc, newline="", errors="replace") as f:
        row = next(csv.reader(f, delimiter=csv_delimiter(src, enc)), [])
    return [c.strip() for c in row]


#: how a locate message names the encoding to give
_ENCODING_OPTION = "--encoding {0} (encoding={0!r})"

#: encodings of the Chinese national standard family: an answer to such a points file is written in GB18030
_GB_FAMILY = ("gb18030", "gbk", "gb2312", "cp936", "hz")


def _has_bom(path: Path) -> bool:
    """Whether a file starts with the UTF-8 byte-order mark (Excel's "CSV UTF-8")."""
    with open(path, "rb") as f:
        return f.read(3) == b"\xef\xbb\xbf"


def _answer_encoding(points_encoding: str, *, bom: bool = False) -> str:
    """The encoding of the answer CSV: the points file's own where it is UTF-8 (with its BOM, if it had one:
    Excel's "CSV UTF-8") or of the GB family (GB18030, which holds every character, so nothing is lost), else
    UTF-8 with a BOM (``utf-8-sig``: Excel reads it, and no character is lost to an encoding that cannot hold it)."""
    import codecs

    name = codecs.lookup(points_encoding).name
    if name in ("utf-8", "utf-8-sig"):
        return "utf-8-sig" if bom else "utf-8"
    return "gb18030" if name in _GB_FAMILY else "utf-8-sig"


def _transcode(path: Path, encoding: str, block: int = 1 << 20) -> None:
    """Rewrite a UTF-8 file in ``encoding``, streamed (the answer of a GBK points file in GB18030)."""
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")()
    encoder = codecs.getincrementalencoder(encoding)()
    out = path.with_name(path.name + ".enc")
    try:
        with open(path, "rb") as src, open(out, "wb") as dst:
            while chunk := src.read(block):
                dst.write(encoder.encode(decoder.decode(chunk)))
            dst.write(encoder.encode(decoder.decode(b"", final=True), final=True))
        os.replace(out, path)
    finally:
        if out.exists():
            out.unlink()


def _batches(src: Path, chunk_rows: int, encoding: str | None = None, *, resolved: str | None = None):
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    if src.suffix.lower() in (".parquet", ".geoparquet"):
        yield from pq.ParquetFile(src).iter_batches(batch_size=chunk_rows)
        return
    encoding = resolved if resolved is not None else csv_encoding(src, encoding, what="locate")
    names = _header(src, encoding)
    if not names:
        return
    bad: list[Any] = []

    def ragged(row: Any) -> str:
        bad.append(row)
        return "error"

    pending: list[Any] = []
    rows = 0
    try:
        reader = pacsv.open_csv(src, read_options=pacsv.ReadOptions(block_size=64 << 20, column_names=names, skip_rows=1,
                                                                       # UTF-8 read natively (a BOM skipped), others transcoded
                                                                       encoding="utf8" if encoding == "utf-8-sig" else encoding),
                                parse_options=pacsv.ParseOptions(delimiter=csv_delimiter(src, encoding),
                                                                 invalid_row_handler=ragged),
                                # only an empty field is missing: "NA", "null", "nan", "N/A" are kept as text (as
                                # gridgeo.locate reads a CSV), not emptied in the answer
                                convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                                                     strings_can_be_null=True, null_values=[""]))
        for batch in reader:
            pending.append(batch)
            rows += batch.num_rows
            if rows >= chunk_rows:
                yield from pa.Table.from_batches(pending).combine_chunks().to_batches(max_chunksize=chunk_rows)
                pending, rows = [], 0
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        if bad:
            row = bad[0]
            line = _line_of(src, row.text, encoding)
            where = f"line {line}" if line else "a row"
            msg = (f"locate: {where} of {src.name} has {row.actual_columns} fields but the header has "
                   f"{row.expected_columns} ({row.text[:60]!r}); fix that row (quote a value holding a comma)")
        elif "utf8" in str(exc).lower() or "utf-8" in str(exc).lower() or isinstance(exc, UnicodeDecodeError):
            msg = f"locate: {src.name} is not valid {encoding_label(encoding)}; {decode_hint(src, encoding, _ENCODING_OPTION)}"
        else:
            msg = f"locate: cannot read {src.name} as CSV: {' '.join(str(exc).split())[:200]}"
        raise InputError(msg) from None
    if pending:
        yield from pa.Table.from_batches(pending).combine_chunks().to_batches(max_chunksize=chunk_rows)


def _line_of(src: Path, text: str, encoding: str) -> int | None:
    """The first line number (1-based) of ``src`` whose text is ``text``, for messages."""
    with open(src, encoding=encoding, errors="replace", newline="") as f:
        for number, line in enumerate(f, 1):
            if line.rstrip("\r\n") == text:
                return number
    return None


from ._callable import make_callable  # noqa: E402 - the module is made callable once everything in it is defined

make_callable(__name__)
