"""Grid codes: the code scheme, numbering, carrying codes across plan versions (动态调整), checks, diff.

Other systems key their records on grid codes, so a code must mean the same place for as long as the
place is unchanged. This module owns everything about codes:

- :class:`CodeScheme` — digit widths, prefix and dedicated-grid range; capacity checks.
- :func:`spatial_order` — the documented west-to-east, north-to-south numbering rule.
- :func:`assign_codes` — grid, small-grid and building codes, optionally carried over from a
  previous plan, with a table of retired codes that are never reused.
- :func:`check` / :func:`find_code_problems` — reject malformed, duplicate or misplaced codes.
- :func:`diff_plans` / :func:`summarize_diff` — what changed between two plans, per community
  (in :mod:`gridgeo.diff`, importable from here).

Code layout (default scheme, DESIGN "Grid codes")
-------------------------------------------------
=========  ====================================================  =====================
level      code                                                  example
=========  ====================================================  =====================
grid       prefix + community code (12) + grid sequence (3)      ``420103001001001``
subgrid    grid code + small-grid sequence (2)                   ``42010300100100101``
building   grid code + building sequence (5)                     ``42010300100100100001``
=========  ====================================================  =====================

Base grids (基础网格) are numbered 001–899 within their community and dedicated grids (专属网格)
900–999 (``dedicated_start``); sequences start at 1, never 0.

Numbering rule (west to east, north to south)
---------------------------------------------
Computed in the local metric CRS (:func:`gridgeo.crs.metric_crs`) on each feature's area centroid
(a continuous function of the geometry, so a tiny coordinate change moves it only a tiny amount;
a ``point_on_surface`` can jump). Coordinates are rounded to the centimetre. Then, within each group
(a community, for grids; a grid, for small grids and buildings):

1. rows: the centroid's northing is cut into bands of ``band_m`` metres anchored at northing 0 of the
   metric CRS (``floor(y / band_m)``; anchored absolutely so one feature's band never depends on the
   others); the northernmost band comes first;
2. within a band, west to east by easting;
3. ties by northing (north first), then by the stable id given (``building_id`` for buildings), then
   by the normalised geometry's WKB.

The order therefore depends only on the geometries, never on input row order. Only a feature whose
centroid lies within centimetres of a band edge, or two features at the same easting in one band,
can swap under a tiny change. Band heights are part of the scheme (``grid_band_m`` 200 m,
``subgrid_band_m`` 100 m, ``building_band_m`` 30 m) so they are stored with the plan.

Carrying codes over (动态调整)
------------------------------
With a previous plan, each new grid is matched to a previous grid of the same community and kind:
the pair qualifies when their area IoU (intersection ÷ union, in the metric CRS) is at least
``match_threshold`` (0.8) **and**, when both plans have buildings, their households IoU is at least
``households_threshold`` (0.8). The households IoU counts only buildings present in both plans (same
``building_id``), each weighted by the larger of its old and new households, so new or demolished
buildings do not by themselves change a grid's code but households moved to another grid do; with
no such households both ways it counts as 1. A pair also qualifies, whatever its area IoU, when one lies
within the other (``CONTAINED_SHARE``, 99% of the smaller's area) and both hold the same buildings with
households: the same households on more or less land, as when a community gains fields and the grid beside
them takes them in (动态调整 keeps its code). Qualifying pairs are taken greedily, best area IoU first
(then households IoU, then numbering order, then old code), one to one. Matched grids keep their code;
the others get the next numbers after the highest ever used in that community and range, retired codes
included. Small grids are matched the same way inside a grid that kept its code. Buildings keep their
code when the same ``building_id`` is still in a grid of the same code; the others are appended after
the highest building number ever used in that grid. Every previous code absent from the new plan is
added to the ``retired`` table (``code, level, community_code, retired_in``), which is cumulative and
must be carried from plan to plan: retired codes are never reused.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ._errors import InputError
from ._text import counted
from .crs import metric_crs, require_layers

__all__ = [
    "CodeScheme",
    "CodedPlan",
    "HOUSEHOLDS_THRESHOLD",
    "LEVELS",
    "MATCH_THRESHOLD",
    "RETIRED_COLUMNS",
    "assign_codes",
    "check",
    "check_previous",
    "code_metadata",
    "find_code_problems",
    "spatial_order",
]

#: code levels, coarse to fine
LEVELS = ("grid", "subgrid", "building")
#: default minimum area IoU for a new grid to keep an old grid's code
MATCH_THRESHOLD = 0.8
#: default minimum households IoU (buildings present in both plans) to keep a code
HOUSEHOLDS_THRESHOLD = 0.8
#: a grid lying within another up to this share of its area, with the same buildings of households, is the same grid
CONTAINED_SHARE = 0.99
#: columns of the retired-codes table
RETIRED_COLUMNS = ["code", "level", "community_code", "retired_in"]

_KINDS = ("base", "dedicated")
_FORMAT_FIELDS = ("community_digits", "grid_digits", "subgrid_digits", "building_digits", "prefix", "dedicated_start")


# --------------------------------------------------------------------------------------------------
# the scheme


@dataclass(frozen=True)
class CodeScheme:
    """How codes are built: digit widths, an optional prefix and the dedicated-grid range.

    Parameters
    ----------
    community_digits
        Width of the community code (12 for the statistical code, 统计用区划代码).
    grid_digits
        Width of the grid sequence within a community.
    subgrid_digits
        Width of the small-grid (小网格) sequence within a grid.
    building_digits
        Width of the building (楼栋) sequence within a grid.
    prefix
        Digits put before every grid code, e.g. a 6-digit object-type code as in CJ/T 349-2010.
    dedicated_start
        First sequence number of dedicated grids (专属网格); base grids use ``1 … dedicated_start - 1``.
        ``None`` means ``9`` followed by zeros (900 with 3 grid digits).
    grid_band_m, subgrid_band_m, building_band_m
        Height in metres of the northing bands of the numbering rule (see the module docstring).

    Examples
    --------
    >>> s = CodeScheme()
    >>> s.grid_length, s.subgrid_length, s.building_length
    (15, 17, 20)
    >>> s.dedicated_first, s.base_capacity, s.dedicated_capacity
    (900, 899, 100)
    >>> CodeScheme.from_dict(s.to_dict()) == s
    True
    >>> CodeScheme(grid_digits=4).dedicated_first
    9000
    >>> CodeScheme(prefix="1x")
    Traceback (most recent call last):
    ...
    gridgeo._errors.InputError: CodeScheme: prefix '1x' must be digits only (e.g. a 6-digit CJ/T 349-2010 object-type code) or ''
    """

    community_digits: int = 12
    grid_digits: int = 3
    subgrid_digits: int = 2
    building_digits: int = 5
    prefix: str = ""
    dedicated_start: int | None = None
    grid_band_m: float = 200.0
    subgrid_band_m: float = 100.0
    building_band_m: float = 30.0

    def __post_init__(self) -> None:
        problems = []
        for name in ("community_digits", "grid_digits", "subgrid_digits", "building_digits"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | np.integer) or not 1 <= v <= 30:
                problems.append(f"{name} must be an integer from 1 to 30 (got {v!r})")
        if not isinstance(self.prefix, str) or (self.prefix and not re.fullmatch(r"[0-9]+", self.prefix)):
            problems.append(
                f"prefix {self.prefix!r} must be digits only (e.g. a 6-digit CJ/T 349-2010 object-type code) or ''"
            )
        for name in ("grid_band_m", "subgrid_band_m", "building_band_m"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not (math.isfinite(v) and v > 0):
                problems.append(f"{name} must be a positive number of metres (got {v!r})")
        ds = self.dedicated_start
        if ds is not None and not problems:
            top = 10**self.grid_digits - 1
            if isinstance(ds, bool) or not isinstance(ds, int | np.integer) or not 2 <= ds <= top:
                problems.append(
                    f"dedicated_start must be an integer from 2 to {top} with grid_digits={self.grid_digits} (got {ds!r})"
                )
        if problems:
            msg = "CodeScheme: " + "; ".join(problems)
            raise InputError(msg)

    # ---- sizes
    @property
    def grid_length(self) -> int:
        """Characters in a grid code."""
        return len(self.prefix) + self.community_digits + self.grid_digits

    @property
    def subgrid_length(self) -> int:
        """Characters in a small-grid code."""
        return self.grid_length + self.subgrid_digits

    @property
    def building_length(self) -> int:
        """Characters in a building code."""
        return self.grid_length + self.building_digits

    def length(self, level: str) -> int:
        """Characters in a code of ``level`` (``grid``, ``subgrid`` or ``building``)."""
        _check_level(level)
        return {"grid": self.grid_length, "subgrid": self.subgrid_length, "building": self.building_length}[level]

    @property
    def dedicated_first(self) -> int:
        """First dedicated-grid sequence number."""
        return int(self.dedicated_start) if self.dedicated_start is not None else 9 * 10 ** (self.grid_digits - 1)

    @property
    def base_capacity(self) -> int:
        """Base grids a community can hold."""
        return self.dedicated_first - 1

    @property
    def dedicated_capacity(self) -> int:
        """Dedicated grids a community can hold."""
        return 10**self.grid_digits - self.dedicated_first

    @property
    def subgrid_capacity(self) -> int:
        """Small grids a grid can hold."""
        return 10**self.subgrid_digits - 1

    @property
    def building_capacity(self) -> int:
        """Buildings a grid can hold."""
        return 10**self.building_digits - 1

    # ---- parts of codes
    def community_of(self, grid_code: str) -> str:
        """The community part of a grid, small-grid or building code.

        >>> CodeScheme(prefix="10").community_of("10420103001001003")
        '420103001001'
        """
        p = len(self.prefix)
        return grid_code[p : p + self.community_digits]

    def grid_of(self, code: str) -> str:
        """The grid code a grid, small-grid or building code belongs to.

        >>> CodeScheme().grid_of("42010300100100312")
        '420103001001003'
        """
        return code[: self.grid_length]

    # ---- dict round trip
    def to_dict(self) -> dict[str, Any]:
        """The scheme as a plain, JSON-serialisable dict (for the plan metadata)."""
        return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> CodeScheme:
        """Build a scheme from a dict such as :meth:`to_dict` returns; unknown keys are an error.

        >>> CodeScheme.from_dict({"grid_digits": 4}).base_capacity
        8999
        >>> CodeScheme.from_dict({"grid_digit": 4})
        Traceback (most recent call last):
        ...
        gridgeo._errors.InputError: CodeScheme: unknown key(s) ['grid_digit']; valid keys: ['building_band_m', 'building_digits', 'community_digits', 'dedicated_start', 'grid_band_m', 'grid_digits', 'prefix', 'subgrid_band_m', 'subgrid_digits']
        """
        if isinstance(values, CodeScheme):
            return values
        if not isinstance(values, Mapping):
            msg = f"CodeScheme: expected a dict of settings, got {type(values).__name__}"
            raise InputError(msg)
        valid = sorted(f.name for f in dataclasses.fields(cls))
        unknown = sorted(set(values) - set(valid))
        if unknown:
            msg = f"CodeScheme: unknown key(s) {unknown}; valid keys: {valid}"
            raise InputError(msg)
        return cls(**dict(values))

    def same_format(self, other: CodeScheme) -> bool:
        """Whether ``other`` builds codes of the same shape (band heights aside)."""
        return self.dedicated_first == other.dedicated_first and all(
            getattr(self, f) == getattr(other, f) for f in _FORMAT_FIELDS if f != "dedicated_start"
        )

    # ---- capacity
    def check_capacity(
        self,
        n_base_per_community: Mapping[str, int] | int = 0,
        n_dedicated: Mapping[str, int] | int = 0,
        n_sub_per_grid: Mapping[Any, int] | int = 0,
        n_buildings_per_grid: Mapping[Any, int] | int = 0,
    ) -> None:
        """Raise :class:`InputError` when the scheme cannot number this many grids.

        Parameters
        ----------
        n_base_per_community
            Base grids per community code (a mapping), or the largest count as an int.
        n_dedicated
            Dedicated grids per community code, or the largest count.
        n_sub_per_grid
            Small grids per grid (keyed by any grid id), or the largest count.
        n_buildings_per_grid
            Buildings per grid, or the largest count.

        Examples
        --------
        >>> CodeScheme().check_capacity({"420103001001": 12}, {"420103001001": 2}, 5)
        >>> CodeScheme().check_capacity({"420103001001": 1203})
        Traceback (most recent call last):
        ...
        gridgeo._errors.InputError: code scheme too small: community 420103001001 needs 1,203 base grids but the scheme holds 899 (grid_digits=3, dedicated_start=900); widen grid_digits (in a --code-scheme TOML file, or code_scheme= in Python)
        """
        problems: list[str] = []
        hint_grid = f"(grid_digits={self.grid_digits}, dedicated_start={self.dedicated_first})"
        for counts, what, cap, hint, fix in (
            (n_base_per_community, "base grids", self.base_capacity, hint_grid, "widen grid_digits"),
            (n_dedicated, "dedicated grids", self.dedicated_capacity, hint_grid, "lower dedicated_start or widen grid_digits"),
        ):
            for key, n in _count_items(counts):
                if n > cap:
                    where = f"community {key}" if key is not None else "a community"
                    problems.append(f"{where} needs {n:,} {what} but the scheme holds {cap:,} {hint}; {fix}")
        for counts, what, cap, name in (
            (n_sub_per_grid, "small grids", self.subgrid_capacity, "subgrid_digits"),
            (n_buildings_per_grid, "buildings", self.building_capacity, "building_digits"),
        ):
            for key, n in _count_items(counts):
                if n > cap:
                    where = f"grid {key!r}" if key is not None else "a grid"
                    problems.append(
                        f"{where} needs {n:,} {what} but the scheme holds {cap:,} ({name}={getattr(self, name)}); widen {name}"
                    )
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            msg = (f"code scheme too small: {problems[0]}{more} (in a --code-scheme TOML file, or code_scheme= "
                   "in Python)")
            raise InputError(msg)


def _count_items(counts: Mapping[Any, int] | int) -> list[tuple[Any, int]]:
    if isinstance(counts, Mapping):
        return sorted(((k, int(v)) for k, v in counts.items()), key=lambda kv: (-kv[1], str(kv[0])))
    return [(None, int(counts))]


def _check_level(level: str) -> None:
    if level not in LEVELS:
        msg = f"level {level!r} is not one of {LEVELS}"
        raise InputError(msg)


# --------------------------------------------------------------------------------------------------
# ordering


def _sort_positions(
    geoms: np.ndarray, band_m: float, groups: Sequence[Any] | None = None, ties: Sequence[Any] | None = None
) -> np.ndarray:
    """Row positions of ``geoms`` (metric) sorted by group, then the numbering rule."""
    n = len(geoms)
    if n == 0:
        return np.zeros(0, dtype=int)
    cen = shapely.centroid(geoms)
    x = np.round(shapely.get_x(cen), 2)
    y = np.round(shapely.get_y(cen), 2)
    band = np.floor(y / band_m)
    df = pd.DataFrame(
        {
            "g": [""] * n if groups is None else [str(v) for v in groups],
            "nb": -band,
            "x": x,
            "ny": -y,
            "t": [""] * n if ties is None else ["" if pd.isna(v) else str(v) for v in ties],
        }
    )
    # the geometry (normalised WKB) breaks the ties left: written only for the rows tied on every other key
    # (the order is the same as with it everywhere; a city's footprints as text took seconds to sort)
    tied = df.duplicated(keep=False).to_numpy()
    w = np.full(n, "", dtype=object)
    if tied.any():
        w[tied] = pd.Series(shapely.to_wkb(shapely.normalize(geoms[tied]), hex=True), dtype=object).fillna("").to_numpy()
    df["w"] = w
    return df.sort_values(["g", "nb", "x", "ny", "t", "w"], na_position="last", kind="mergesort").index.to_numpy()


def spatial_order(
    gdf: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    band_m: float = 200.0,
    by: str | Sequence[Any] | None = None,
    ties: str | Sequence[Any] | None = None,
) -> pd.Series:
    """Position of each feature in the west-to-east, north-to-south numbering order.

    The rule (module docstring): centroid in the metric CRS; northing bands of ``band_m`` metres,
    north first; west to east within a band; ties by northing, ``ties``, then geometry.

    Parameters
    ----------
    gdf
        Features with a CRS (any; the order is computed in :func:`gridgeo.crs.metric_crs`).
    band_m
        Height of the northing bands in metres.
    by
        A column name or a sequence aligned to the rows: positions restart at 0 in each group.
    ties
        A column name or sequence of stable ids used to break exact ties before the geometry.

    Returns
    -------
    pandas.Series
        Integers from 0, aligned to ``gdf``'s index, named ``order``.

    Examples
    --------
    >>> from shapely import box
    >>> x0, y0 = 534000, 3383000
    >>> cells = gpd.GeoSeries([box(x0 + 300 * i, y0 + 300 * j, x0 + 300 * (i + 1), y0 + 300 * (j + 1))
    ...                        for j in range(2) for i in range(2)], crs=4547)
    >>> spatial_order(cells).tolist()  # cells 0, 1 are the southern row
    [2, 3, 0, 1]
    """
    require_layers("spatial_order", {"gdf": gdf}, series=True)
    if len(gdf) == 0:
        return pd.Series([], index=gdf.index, dtype=int, name="order")
    geoms = _metric_geoms(gdf, metric_crs(gdf))
    groups = _column_or_values(gdf, by, "by")
    tie = _column_or_values(gdf, ties, "ties")
    pos = _sort_positions(geoms, float(band_m), groups, tie)
    out = np.empty(len(gdf), dtype=int)
    if groups is None:
        out[pos] = np.arange(len(pos))
    else:
        g = pd.Series(np.asarray(groups, dtype=object)[pos])
        out[pos] = g.groupby(g, sort=False).cumcount().to_numpy()
    return pd.Series(out, index=gdf.index, name="order")


def _column_or_values(gdf: Any, spec: Any, name: str) -> np.ndarray | None:
    if spec is None:
        return None
    if isinstance(spec, str):
        if not isinstance(gdf, gpd.GeoDataFrame) or spec not in gdf.columns:
            msg = f"spatial_order: {name}={spec!r} is not a column of the layer; give a column name or a sequence of values"
            raise InputError(msg)
        return gdf[spec].to_numpy(dtype=object)
    values = np.asarray(list(spec), dtype=object)
    if len(values) != len(gdf):
        msg = f"spatial_order: {name} has {len(values)} values for {len(gdf)} features; give one per feature"
        raise InputError(msg)
    return values


# --------------------------------------------------------------------------------------------------
# helpers


def _metric_geoms(gdf: gpd.GeoDataFrame | gpd.GeoSeries, crs: Any) -> np.ndarray:
    """Geometries as a shapely array in ``crs``, invalid ones made valid (a copy; input untouched)."""
    geo = gdf.geometry if isinstance(gdf, gpd.GeoDataFrame) else gdf
    if geo.crs != crs:
        geo = geo.to_crs(crs)
    arr = np.asarray(geo.values, dtype=object)
    bad = ~shapely.is_valid(arr) & ~shapely.is_missing(arr)
    if bad.any():
        arr = arr.copy()
        arr[bad] = shapely.make_valid(arr[bad])
    return arr


def _is_code(values: Iterable[Any], width: int) -> np.ndarray:
    pat = re.compile(f"[0-9]{{{width}}}")
    return np.array([isinstance(v, str) and pat.fullmatch(v) is not None for v in values], dtype=bool)


def _community_column(gdf: gpd.GeoDataFrame, fn: str, name: str, scheme: CodeScheme) -> np.ndarray:
    if "community_code" not in gdf.columns:
        msg = f"{fn}: {name} has no 'community_code' column; give each feature the code of the community it lies in"
        raise InputError(msg)
    cc = gdf["community_code"].to_numpy(dtype=object)
    ok = _is_code(cc, scheme.community_digits)
    if not ok.all():
        bad = cc[~ok]
        msg = (
            f"{fn}: {name}['community_code'] has {counted(len(bad), 'value')} that {'is' if len(bad) == 1 else 'are'} not {scheme.community_digits}-digit "
            f"strings, e.g. {bad[0]!r}; read community codes as text (dtype=str) or set community_digits in the CodeScheme"
        )
        raise InputError(msg)
    return cc


def _compose(stems: Sequence[str], seqs: Sequence[int], width: int) -> np.ndarray:
    return np.array([f"{s}{int(q):0{width}d}" for s, q in zip(stems, seqs, strict=True)], dtype=object)


def _unique_key(values: np.ndarray, fn: str, what: str) -> None:
    s = pd.Series(values, dtype=object)
    if s.isna().any():
        msg = f"{fn}: {what} has missing values; give every feature an id"
        raise InputError(msg)
    dup = s[s.duplicated()]
    if len(dup):
        msg = f"{fn}: {what} is not unique, e.g. {dup.iloc[0]!r} appears {int((s == dup.iloc[0]).sum())} times; give each feature its own id"
        raise InputError(msg)


class _Matched(NamedTuple):
    new: np.ndarray  # positions in the new layer
    old: np.ndarray  # positions in the old layer


def _overlaps(new_geoms: np.ndarray, old_geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Intersecting (new, old) position pairs and their intersection areas."""
    if len(new_geoms) == 0 or len(old_geoms) == 0:
        e = np.zeros(0, dtype=int)
        return e, e, np.zeros(0)
    tree = shapely.STRtree(old_geoms)
    ni, oi = tree.query(new_geoms, predicate="intersects")
    inter = shapely.area(shapely.intersection(new_geoms[ni], old_geoms[oi]))
    return ni, oi, np.nan_to_num(inter)


def _households_iou(
    ni: np.ndarray, oi: np.ndarray, new_members: pd.DataFrame | None, old_members: pd.DataFrame | None
) -> np.ndarray:
    """Households IoU of (new, old) pairs over buildings in both plans; 1 where there is nothing to compare."""
    if new_members is None or old_members is None or len(ni) == 0:
        return np.ones(len(ni))
    m = new_members.merge(old_members, on="building_id", suffixes=("_n", "_o"))
    if len(m) == 0:
        return np.ones(len(ni))
    m["w"] = np.fmax(m["w_n"].to_numpy(float), m["w_o"].to_numpy(float))
    m["w"] = m["w"].fillna(0.0)
    hn = m.groupby("pos_n")["w"].sum()
    ho = m.groupby("pos_o")["w"].sum()
    shared = m.groupby(["pos_n", "pos_o"])["w"].sum()
    a = hn.reindex(ni).fillna(0.0).to_numpy()
    b = ho.reindex(oi).fillna(0.0).to_numpy()
    s = shared.reindex(pd.MultiIndex.from_arrays([ni, oi])).fillna(0.0).to_numpy()
    den = a + b - s
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, s / np.where(den > 0, den, 1.0), 1.0)


def _same_households(
    ni: np.ndarray, oi: np.ndarray, new_members: pd.DataFrame | None, old_members: pd.DataFrame | None
) -> np.ndarray:
    """(new, old) pairs whose buildings with households are the same ones (by ``building_id``), at least one."""
    if new_members is None or old_members is None or len(ni) == 0:
        return np.zeros(len(ni), dtype=bool)
    nm = new_members[new_members["w"].to_numpy(float) > 0]
    om = old_members[old_members["w"].to_numpy(float) > 0]
    a = nm.groupby("pos").size().reindex(ni).fillna(0).to_numpy()
    b = om.groupby("pos").size().reindex(oi).fillna(0).to_numpy()
    m = nm.merge(om, on="building_id", suffixes=("_n", "_o"))
    s = m.groupby(["pos_n", "pos_o"]).size().reindex(pd.MultiIndex.from_arrays([ni, oi])).fillna(0).to_numpy()
    return (a > 0) & (a == b) & (s == a)


def _match(
    new_geoms: np.ndarray,
    new_groups: np.ndarray,
    new_rank: np.ndarray,
    old_geoms: np.ndarray,
    old_groups: np.ndarray,
    old_codes: np.ndarray,
    new_members: pd.DataFrame | None,
    old_members: pd.DataFrame | None,
    area_threshold: float,
    households_threshold: float,
) -> _Matched:
    """One-to-one greedy matching of new to old features of the same group (see module docstring)."""
    ni, oi, inter = _overlaps(new_geoms, old_geoms)
    same = np.asarray(new_groups, dtype=object)[ni] == np.asarray(old_groups, dtype=object)[oi]
    ni, oi, inter = ni[same], oi[same], inter[same]
    union = shapely.area(new_geoms[ni]) + shapely.area(old_geoms[oi]) - inter
    iou = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
    hiou = _households_iou(ni, oi, new_members, old_members)
    ok = (iou >= area_threshold - 1e-12) & (hiou >= households_threshold - 1e-12)
    # the same households on more or less land (fields a community gained, taken in by the grid beside them)
    smaller = np.fmin(shapely.area(new_geoms[ni]), shapely.area(old_geoms[oi]))
    within = inter >= CONTAINED_SHARE * smaller
    ok |= within & _same_households(ni, oi, new_members, old_members)
    cand = pd.DataFrame(
        {"n": ni[ok], "o": oi[ok], "iou": iou[ok], "hiou": hiou[ok], "rank": new_rank[ni[ok]], "code": old_codes[oi[ok]]}
    ).sort_values(["iou", "hiou", "rank", "code"], ascending=[False, False, True, True], kind="mergesort")
    used_n: set[int] = set()
    used_o: set[int] = set()
    out_n, out_o = [], []
    for n, o in zip(cand["n"].to_numpy(), cand["o"].to_numpy(), strict=True):
        if n in used_n or o in used_o:
            continue
        used_n.add(n)
        used_o.add(o)
        out_n.append(n)
        out_o.append(o)
    return _Matched(np.asarray(out_n, dtype=int), np.asarray(out_o, dtype=int))


def _members(ids: Any, pos: np.ndarray, weights: np.ndarray) -> pd.DataFrame:
    df = pd.DataFrame({"building_id": np.asarray(ids, dtype=object), "pos": pos, "w": weights})
    return df[df["pos"] >= 0]


def _weights(buildings: gpd.GeoDataFrame) -> np.ndarray:
    if "households" in buildings.columns:
        return pd.to_numeric(buildings["households"], errors="coerce").fillna(0).to_numpy(float)
    return np.ones(len(buildings))


def _seq(codes: Sequence[str], width: int) -> np.ndarray:
    return np.array([int(c[-width:]) for c in codes], dtype=np.int64)


def _high_water(parents: Iterable[str], seqs: Iterable[int]) -> dict[str, int]:
    s = pd.Series(list(seqs), index=list(parents), dtype="int64")
    return {} if len(s) == 0 else s.groupby(level=0).max().to_dict()


# --------------------------------------------------------------------------------------------------
# the previous plan


class _Previous(NamedTuple):
    grids: gpd.GeoDataFrame | None
    subgrids: gpd.GeoDataFrame | None
    buildings: gpd.GeoDataFrame | None
    retired: pd.DataFrame
    metadata: dict


def _empty_retired() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in RETIRED_COLUMNS})


def _retired_frame(value: Any, scheme: CodeScheme, fn: str) -> pd.DataFrame:
    if value is None:
        return _empty_retired()
    df = pd.DataFrame(value) if not isinstance(value, pd.DataFrame) else pd.DataFrame(value).copy()
    if len(df) == 0:
        return _empty_retired()
    if "code" not in df.columns:
        msg = f"{fn}: the previous plan's retired codes have no 'code' column; expected columns {RETIRED_COLUMNS}"
        raise InputError(msg)
    df["code"] = df["code"].astype(object)
    ok = np.array([isinstance(c, str) and c.isascii() and c.isdigit() for c in df["code"]], dtype=bool)
    if not ok.all():
        msg = f"{fn}: the previous plan's retired codes include {df['code'][~ok].iloc[0]!r}, which is not a digit string"
        raise InputError(msg)
    lengths = {scheme.grid_length: "grid", scheme.subgrid_length: "subgrid", scheme.building_length: "building"}
    if "level" not in df.columns:
        df["level"] = None
    df["level"] = [lv if lv in LEVELS else lengths.get(len(c)) for c, lv in zip(df["code"], df["level"], strict=True)]
    bad = [c for c, lv in zip(df["code"], df["level"], strict=True) if lv is None or len(c) != scheme.length(lv)]
    if bad:
        msg = (
            f"{fn}: retired code {bad[0]!r} does not fit the code scheme (grid codes have {scheme.grid_length} characters); "
            "give the scheme the previous plan was coded with"
        )
        raise InputError(msg)
    df["community_code"] = [scheme.community_of(c) for c in df["code"]]
    if "retired_in" not in df.columns:
        df["retired_in"] = None
    return df[RETIRED_COLUMNS].drop_duplicates("code", keep="first").reset_index(drop=True)


def conflicting_scheme(scheme: CodeScheme, metadata: Mapping[str, Any]) -> CodeScheme | None:
    """The scheme a previous plan was coded with (its ``metadata``), when ``scheme`` builds codes of
    another shape; None when they agree or the plan records no scheme.

    >>> conflicting_scheme(CodeScheme(prefix="10"), {"code_scheme": CodeScheme().to_dict()}).prefix
    ''
    >>> conflicting_scheme(CodeScheme(), {}) is None
    True
    """
    if "code_scheme" not in metadata:
        return None
    old = CodeScheme.from_dict(metadata["code_scheme"])
    return None if scheme.same_format(old) else old


def _previous(previous: Any, scheme: CodeScheme, fn: str) -> _Previous:
    if isinstance(previous, gpd.GeoDataFrame):
        layers: Mapping[str, Any] = {"grids": previous}
        metadata: Mapping[str, Any] = {}
    elif hasattr(previous, "layers") and hasattr(previous, "metadata"):
        layers, metadata = previous.layers, previous.metadata or {}
    elif isinstance(previous, Mapping):
        layers = previous
        metadata = previous.get("metadata") or {}
    else:
        msg = (
            f"{fn}: previous must be a Plan, a dict of layers ('grids', 'subgrids', 'buildings', 'retired', 'metadata') "
            f"or a grids GeoDataFrame, got {type(previous).__name__}"
        )
        raise InputError(msg)
    old = conflicting_scheme(scheme, metadata)
    if old is not None:
        msg = (
            f"{fn}: the previous plan was coded with {old.to_dict()} but the scheme given is {scheme.to_dict()}; "
            "pass scheme=CodeScheme.from_dict(previous metadata['code_scheme']) or re-code from scratch (no previous plan)"
        )
        raise InputError(msg)
    retired = layers.get("retired")
    if retired is None:
        retired = layers.get("retired_codes")
    if retired is None:
        retired = metadata.get("retired_codes")
    out = {name: layers.get(name) for name in ("grids", "subgrids", "buildings")}
    require_layers(fn, {f"previous {name}": layer for name, layer in out.items()}, series=True)
    return _Previous(out["grids"], out["subgrids"], out["buildings"], _retired_frame(retired, scheme, fn), dict(metadata))


def check_previous(previous: Any, scheme: CodeScheme, fn: str = "assign_codes") -> None:
    """The checks :func:`assign_codes` makes of a previous plan's grid and small-grid codes, made before a
    re-division starts (a code twice, as a grid or small grid split by hand in QGIS leaves it, is an
    :class:`InputError` naming it, not a failure half-way).

    >>> import shapely
    >>> g = gpd.GeoDataFrame({"grid_code": ["420103001001001"] * 2, "community_code": ["420103001001"] * 2},
    ...     geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)], crs=4547)
    >>> check_previous(g, CodeScheme())
    Traceback (most recent call last):
    ...
    gridgeo._errors.InputError: assign_codes: previous grids have 2 code problems, first: grid code '420103001001001' \
appears 2 times (split by hand? give each piece its own code); ...
    """
    prev = _previous(previous, scheme, fn)
    og = prev.grids
    if og is not None and len(og):
        comm = og["community_code"].to_numpy(dtype=object) if "community_code" in og.columns else None
        _old_codes(og, "grid_code", fn, "grids", scheme, "grid", community_codes=comm)
    os_ = prev.subgrids  # a small grid split by hand, as a grid: named by its code, not by an internal id
    if os_ is not None and len(os_):
        opar = os_["grid_code"].to_numpy(dtype=object) if "grid_code" in os_.columns else None
        _old_codes(os_, "subgrid_code", fn, "subgrids", scheme, "subgrid", parent_codes=opar)


def _bad_previous(codes: Any, fn: str, what: str, scheme: CodeScheme, level: str, **kw: Any) -> None:
    problems = find_code_problems(codes, scheme=scheme, level=level, **kw)
    if len(problems):
        first = problems.iloc[0]
        hint = " (split by hand? give each piece its own code)" if first["problem"] == "duplicate" else ""
        msg = (
            f"{fn}: previous {what} have {counted(len(problems), 'code problem')}, first: {first['message']}{hint}; "
            "give the scheme the previous plan was coded with, fix its codes (gridgeo.codes.check), or re-code from scratch"
        )
        raise InputError(msg)


# --------------------------------------------------------------------------------------------------
# assigning codes


class CodedPlan(NamedTuple):
    """Result of :func:`assign_codes`; unpacks as ``grids, subgrids, buildings, retired``."""

    grids: gpd.GeoDataFrame
    subgrids: gpd.GeoDataFrame | None
    buildings: gpd.GeoDataFrame | None
    retired: pd.DataFrame


def assign_codes(
    grids: gpd.GeoDataFrame,
    subgrids: gpd.GeoDataFrame | None = None,
    buildings: gpd.GeoDataFrame | None = None,
    *,
    scheme: CodeScheme | Mapping[str, Any] | None = None,
    previous: Any = None,
    match_threshold: float = MATCH_THRESHOLD,
    households_threshold: float = HOUSEHOLDS_THRESHOLD,
    retired_in: str | None = None,
) -> CodedPlan:
    """Give grids, small grids and buildings their codes, keeping a previous plan's where unchanged.

    Numbering follows the rule of the module docstring; carrying codes over follows "Carrying codes
    over" there. Nothing is computed in degrees: areas and the order use :func:`gridgeo.crs.metric_crs`.

    Parameters
    ----------
    grids
        Base and dedicated grids (网格, 专属网格): ``community_code`` (str), optional ``kind``
        (``base``/``dedicated``; ``base`` when absent) and an id linking small grids and buildings:
        ``grid_id`` when present, else an existing ``grid_code`` (re-coding a plan), unique.
    subgrids
        Small grids (小网格) with the parent's id in the same column (``grid_id``, else ``grid_code``)
        and optionally their own id ``subgrid_id`` (else ``subgrid_code``).
    buildings
        Buildings (楼栋) with ``building_id`` (stable, unique; needed to carry building codes), the
        parent grid id in ``grid_id`` (else ``grid_code``; missing = in no grid) and the small-grid id
        in ``subgrid_id`` (else ``subgrid_code``). Without that column, each building goes to the
        small grid of its grid that contains its representative point. ``households`` weights the
        households IoU (1 per building when absent).
    scheme
        The :class:`CodeScheme` (or its dict); the default scheme when omitted.
    previous
        The previous plan: a :class:`gridgeo.plan.Plan`, a dict with layers ``grids`` (``grid_code``,
        ``community_code``, ``kind``), ``subgrids`` (``subgrid_code``, ``grid_code``), ``buildings``
        (``building_id``, ``grid_code``, ``subgrid_code``, ``building_code``), ``retired`` (the table
        returned last time) and ``metadata`` (may hold ``code_scheme`` and ``retired_codes``, as
        :func:`code_metadata` writes), or just its grids.
    match_threshold
        Minimum area IoU to keep an old code.
    households_threshold
        Minimum households IoU (buildings in both plans) to keep an old code.
    retired_in
        Label recorded for codes retired now (plan version or date); today's ISO date by default.

    Returns
    -------
    CodedPlan
        ``grids`` with ``grid_code`` (and ``kind``); ``subgrids`` with ``subgrid_code``, the parent's
        ``grid_code`` and ``community_code``; ``buildings`` with ``grid_code``, ``subgrid_code`` and
        ``building_code`` (None outside every grid); ``retired``, the cumulative table of retired codes.
        Input columns (including provisional ids) are kept; the inputs are not modified.

    Raises
    ------
    InputError
        Missing columns or CRS, bad community codes, dangling links, or a scheme too small
        (checked before any geometry work, and again for the numbers after the highest used).

    Examples
    --------
    >>> from shapely import box
    >>> x0, y0 = 534000, 3383000
    >>> grids = gpd.GeoDataFrame(
    ...     {"community_code": ["420103001001"] * 3, "kind": ["base", "base", "dedicated"]},
    ...     geometry=[box(x0 + 300, y0, x0 + 600, y0 + 300), box(x0, y0, x0 + 300, y0 + 300),
    ...               box(x0, y0 + 300, x0 + 600, y0 + 600)], crs=4547)
    >>> coded = assign_codes(grids)
    >>> coded.grids["grid_code"].tolist()
    ['420103001001002', '420103001001001', '420103001001900']
    >>> len(coded.retired)
    0
    """
    fn = "assign_codes"
    scheme = _scheme(scheme)
    if not 0 < match_threshold <= 1 or not 0 <= households_threshold <= 1:
        msg = (
            f"{fn}: match_threshold must be in (0, 1] and households_threshold in [0, 1] "
            f"(got {match_threshold!r}, {households_threshold!r}); the defaults are {MATCH_THRESHOLD} and {HOUSEHOLDS_THRESHOLD}"
        )
        raise InputError(msg)
    retired_in = retired_in if retired_in is not None else _dt.date.today().isoformat()
    lk = _links(grids, subgrids, buildings, scheme, fn)  # before any geometry work
    prev = _previous(previous, scheme, fn) if previous is not None else None

    # ---- metric geometry
    sources = [grids] + ([prev.grids] if prev is not None and prev.grids is not None else [])
    nonempty = [s for s in sources if len(s) and not s.geometry.is_empty.all()]
    crs = metric_crs(nonempty[0]) if nonempty else grids.crs
    g_geom = _metric_geoms(grids, crs)
    g_group = np.array([f"{c}|{k}" for c, k in zip(lk.comm, lk.kind, strict=True)], dtype=object)
    g_order = _sort_positions(g_geom, scheme.grid_band_m, g_group)
    b_ids = buildings["building_id"].to_numpy(dtype=object) if buildings is not None and "building_id" in buildings else None
    s_geom = _metric_geoms(subgrids, crs) if subgrids is not None else None
    b_sub = None
    if buildings is not None and subgrids is not None:
        b_sub = _building_subgrids(buildings, lk.b_grid, lk.s_parent, lk.s_key, lk.s_link, s_geom, crs, fn)
    pb = prev.buildings if prev is not None else None  # previous buildings
    if pb is not None and len(pb) and "building_id" in pb.columns:
        _unique_key(pb["building_id"].to_numpy(dtype=object), fn, "previous buildings['building_id']")
    members = _Members(buildings, b_ids, pb)

    # ---- grid codes: kept where a previous grid of the same community and kind matches, then numbered on
    def grid_range(code: str) -> str:  # a code's community and range (base or dedicated)
        seq = int(code[-scheme.grid_digits:])
        return f"{scheme.community_of(code)}|{'dedicated' if seq >= scheme.dedicated_first else 'base'}"

    old_g_codes = np.zeros(0, dtype=object)
    match = None
    if prev is not None and prev.grids is not None and len(prev.grids):
        og = prev.grids
        o_comm = og["community_code"].to_numpy(dtype=object) if "community_code" in og.columns else None
        old_g_codes = _old_codes(og, "grid_code", fn, "grids", scheme, "grid", community_codes=o_comm)
        match = _Old(_metric_geoms(og, crs), np.array([grid_range(c) for c in old_g_codes], dtype=object), old_g_codes,
                     *members.frames(lk.b_grid, old_g_codes, "grid_code"))

    def grid_capacity(seqs: np.ndarray, groups: pd.Series, start: np.ndarray) -> None:
        limit = np.where(groups.str.endswith("|dedicated"), 10**scheme.grid_digits - 1, scheme.base_capacity)
        over = seqs > limit
        if over.any():
            j = int(np.argmax(over))
            g, kind = groups.iloc[j].split("|")
            msg = (
                f"code scheme too small: community {g} has {kind} numbers up to {int(start[j])} used or retired and needs "
                f"{int((groups == groups.iloc[j]).sum())} more, past {int(limit[j])} (grid_digits={scheme.grid_digits}, "
                f"dedicated_start={scheme.dedicated_first}); widen grid_digits (re-codes every grid) or re-code from scratch"
            )
            raise InputError(msg)

    grid_codes = _code_level(
        g_order, g_group, np.array([scheme.prefix + c for c in lk.comm], dtype=object), digits=scheme.grid_digits,
        geoms=g_geom, old=match, used=[*old_g_codes, *_retired(prev, "grid")], group_of=grid_range,
        check=grid_capacity, floor=lambda g: scheme.dedicated_first - 1 if g.endswith("|dedicated") else 0,
        thresholds=(match_threshold, households_threshold),
    )
    out_g = grids.copy()
    _put(out_g, "grid_code", grid_codes, 0)
    if "kind" not in out_g.columns:
        out_g["kind"] = lk.kind

    # ---- small-grid codes: the same, inside each grid
    out_s = None
    sub_codes = None
    old_s_codes = np.zeros(0, dtype=object)
    if subgrids is not None:
        parent_codes = grid_codes[lk.s_parent]
        match = None
        if prev is not None and prev.subgrids is not None and len(prev.subgrids):
            os_ = prev.subgrids
            opar = os_["grid_code"].to_numpy(dtype=object) if "grid_code" in os_.columns else None
            old_s_codes = _old_codes(os_, "subgrid_code", fn, "subgrids", scheme, "subgrid", parent_codes=opar)
            match = _Old(_metric_geoms(os_, crs), np.array([scheme.grid_of(c) for c in old_s_codes], dtype=object),
                         old_s_codes, *members.frames(b_sub, old_s_codes, "subgrid_code"))
        sub_codes = _code_level(
            _sort_positions(s_geom, scheme.subgrid_band_m, parent_codes), parent_codes, parent_codes,
            digits=scheme.subgrid_digits, geoms=s_geom, old=match, used=[*old_s_codes, *_retired(prev, "subgrid")],
            group_of=scheme.grid_of, thresholds=(match_threshold, households_threshold),
            check=lambda seqs, par, _: _check_appended(seqs, par, scheme.subgrid_capacity, "small-grid", "subgrid_digits",
                                                       scheme.subgrid_digits),
        )
        out_s = subgrids.copy()
        _put(out_s, "subgrid_code", sub_codes, 0)
        _put(out_s, "grid_code", parent_codes, 1)
        if "community_code" not in out_s.columns:
            _put(out_s, "community_code", lk.comm[lk.s_parent], 2)

    # ---- building codes: kept while the building (by id) stays in a grid of the same code, then numbered on
    out_b = None
    new_b_codes = np.zeros(0, dtype=object)
    old_b_codes = np.zeros(0, dtype=object)
    if pb is not None and len(pb) and "building_code" in pb.columns:
        valid = pb["building_code"].notna().to_numpy()
        old_b_codes = pb["building_code"].to_numpy(dtype=object)[valid]
        _bad_previous(old_b_codes, fn, "buildings", scheme, "building")
    if buildings is not None:
        old_ids = (pb["building_id"].to_numpy(dtype=object)[pb["building_code"].notna().to_numpy()]
                   if len(old_b_codes) and "building_id" in pb.columns else None)
        b_gcode, b_codes = _building_codes(buildings, lk.b_grid, grid_codes, b_ids, old_ids, old_b_codes,
                                           _retired(prev, "building"), scheme, crs)
        out_b = buildings.copy()
        out_b["grid_code"] = b_gcode
        b_scode = np.full(len(buildings), None, dtype=object)
        if b_sub is not None:
            has = b_sub >= 0
            b_scode[has] = sub_codes[b_sub[has]]
        out_b["subgrid_code"] = b_scode
        out_b["building_code"] = b_codes
        new_b_codes = b_codes[pd.notna(b_codes)]

    # ---- retired codes
    retired = prev.retired if prev is not None else _empty_retired()
    if prev is not None:
        retired = _retire(retired, {"grid": (old_g_codes, grid_codes), "subgrid": (old_s_codes, sub_codes),
                                    "building": (old_b_codes, new_b_codes)}, retired_in, scheme)
    retired = retired[RETIRED_COLUMNS].astype(object)
    return CodedPlan(out_g, out_s, out_b, retired)


def _building_codes(buildings: gpd.GeoDataFrame, b_grid: np.ndarray, grid_codes: np.ndarray, b_ids: np.ndarray | None,
                    old_ids: np.ndarray | None, old_codes: np.ndarray, retired: list[str], scheme: CodeScheme,
                    crs: Any) -> tuple[np.ndarray, np.ndarray]:
    """(grid code, building code) of each building: a previous code kept while the building (by id) stays in
    a grid of the same code, the others numbered on in their grid."""
    inside = b_grid >= 0
    b_gcode = np.full(len(buildings), None, dtype=object)
    b_gcode[inside] = grid_codes[b_grid[inside]]
    keep: dict[Any, str] = {}
    if old_ids is not None and b_ids is not None:
        keep = dict(zip(old_ids, old_codes, strict=True))

    def carry(codes: np.ndarray) -> None:
        for i in np.flatnonzero(inside) if keep else ():
            c = keep.get(b_ids[i])
            if c is not None and scheme.grid_of(c) == b_gcode[i]:
                codes[i] = c

    def order(codes: np.ndarray) -> np.ndarray:  # the buildings left, in numbering order
        idx = np.flatnonzero(inside & pd.isna(codes))
        if not len(idx):
            return idx
        bg = _metric_geoms(buildings.iloc[idx], crs)
        return idx[_sort_positions(bg, scheme.building_band_m, b_gcode[idx], None if b_ids is None else b_ids[idx])]

    b_codes = _code_level(
        order, b_gcode, b_gcode, digits=scheme.building_digits, carry=carry,
        used=[*(old_codes if len(old_codes) else ()), *retired], group_of=scheme.grid_of,
        check=lambda seqs, par, _: _check_appended(seqs, par, scheme.building_capacity, "building", "building_digits",
                                                   scheme.building_digits),
    )
    return b_gcode, b_codes


def _retire(retired: pd.DataFrame, levels: dict[str, tuple[Any, Any]], retired_in: str,
            scheme: CodeScheme) -> pd.DataFrame:
    """The retired table with every previous code absent from the new plan added (``levels``: level ->
    (previous codes, new codes))."""
    gone = [(c, level) for level, (old, new) in levels.items()
            for c in sorted(set(old) - set(new if new is not None else []))]
    if not gone:
        return retired
    add = pd.DataFrame(
        {"code": [c for c, _ in gone], "level": [lv for _, lv in gone],
         "community_code": [scheme.community_of(c) for c, _ in gone], "retired_in": retired_in}
    )
    retired = pd.concat([retired, add], ignore_index=True) if len(retired) else add
    return retired.drop_duplicates("code", keep="first").reset_index(drop=True)


class _Links(NamedTuple):
    """The grids' community codes and kinds, and how small grids and buildings link to the grids."""

    comm: np.ndarray  # community code of each grid
    kind: np.ndarray  # base or dedicated
    key: np.ndarray  # each grid's id (grid_id, else grid_code, else its position)
    s_parent: np.ndarray | None  # each small grid's grid (position)
    s_key: np.ndarray | None  # each small grid's id
    s_link: str | None  # the small grids' id column
    b_grid: np.ndarray | None  # each building's grid (position; -1: none)


def _links(grids: gpd.GeoDataFrame, subgrids: gpd.GeoDataFrame | None, buildings: gpd.GeoDataFrame | None,
           scheme: CodeScheme, fn: str) -> _Links:
    """Check the layers and link small grids and buildings to their grids; check the scheme's capacity."""
    require_layers(fn, {"grids": grids, "subgrids": subgrids, "buildings": buildings}, series=True)
    g_comm = _community_column(grids, fn, "grids", scheme)
    if "kind" in grids.columns:
        g_kind = grids["kind"].to_numpy(dtype=object)
        bad = [k for k in g_kind if k not in _KINDS]
        if bad:
            msg = f"{fn}: grids['kind'] has {bad[0]!r}; valid kinds are {list(_KINDS)}"
            raise InputError(msg)
    else:
        g_kind = np.full(len(grids), "base", dtype=object)
    link = "grid_id" if "grid_id" in grids.columns else ("grid_code" if "grid_code" in grids.columns else None)
    if link is None and (subgrids is not None or buildings is not None):
        msg = f"{fn}: grids have neither 'grid_id' nor 'grid_code' to link subgrids and buildings to; add a provisional 'grid_id'"
        raise InputError(msg)
    g_key = grids[link].to_numpy(dtype=object) if link else np.arange(len(grids)).astype(object)
    if link:
        _unique_key(g_key, fn, f"grids[{link!r}]")
    key_pos = {k: i for i, k in enumerate(g_key)}

    s_parent = s_key = s_link = None
    if subgrids is not None:
        s_parent = _parent_positions(subgrids, link, key_pos, fn, "subgrids", allow_missing=False)
        s_link = "subgrid_id" if "subgrid_id" in subgrids.columns else (
            "subgrid_code" if "subgrid_code" in subgrids.columns else None
        )
        if s_link:
            s_key = subgrids[s_link].to_numpy(dtype=object)
            _unique_key(s_key, fn, f"subgrids[{s_link!r}]")
    b_grid = None
    if buildings is not None:
        b_grid = _parent_positions(buildings, link, key_pos, fn, "buildings", allow_missing=True)
        if "building_id" in buildings.columns:
            _unique_key(buildings["building_id"].to_numpy(dtype=object), fn, "buildings['building_id']")

    n_base = pd.Series(g_comm[g_kind == "base"], dtype=object).value_counts().to_dict()
    n_ded = pd.Series(g_comm[g_kind == "dedicated"], dtype=object).value_counts().to_dict()
    n_sub = {} if s_parent is None else pd.Series(g_key[s_parent]).value_counts().to_dict()
    n_bld = {} if b_grid is None else pd.Series(g_key[b_grid[b_grid >= 0]], dtype=object).value_counts().to_dict()
    scheme.check_capacity(n_base, n_ded, n_sub, n_bld)
    return _Links(g_comm, g_kind, g_key, s_parent, s_key, s_link, b_grid)


class _Old(NamedTuple):
    """A previous plan's features of one level, to match new ones against."""

    geoms: np.ndarray  # metric
    groups: np.ndarray  # a feature matches only one of the same group (community and range; parent grid)
    codes: np.ndarray
    new_members: pd.DataFrame | None  # buildings of the new and the old features, for the households IoU
    old_members: pd.DataFrame | None


class _Members:
    """The buildings of new and previous features (for the households IoU), when both plans have them."""

    def __init__(self, buildings: gpd.GeoDataFrame | None, ids: np.ndarray | None, previous: gpd.GeoDataFrame | None):
        self.buildings, self.ids, self.previous = buildings, ids, previous

    def frames(self, positions: np.ndarray | None, old_codes: np.ndarray, column: str) -> tuple[Any, Any]:
        """(new, old) members: ``positions`` is each building's feature; ``column`` its old feature's code."""
        pb = self.previous
        if positions is None or self.ids is None or pb is None or not {"building_id", column} <= set(pb.columns):
            return None, None
        opos = {c: i for i, c in enumerate(old_codes)}
        return (_members(self.ids, positions, _weights(self.buildings)),
                _members(pb["building_id"].to_numpy(dtype=object),
                         np.array([opos.get(c, -1) for c in pb[column]], dtype=int), _weights(pb)))


def _old_codes(layer: gpd.GeoDataFrame, column: str, fn: str, what: str, scheme: CodeScheme, level: str,
               **kw: Any) -> np.ndarray:
    """A previous layer's codes, checked against the scheme."""
    if column not in layer.columns:
        msg = f"{fn}: previous {what} have no {column!r} column; give the {what} layer of a coded plan"
        raise InputError(msg)
    codes = layer[column].to_numpy(dtype=object)
    _bad_previous(codes, fn, what, scheme, level, **kw)
    return codes


def _retired(prev: _Previous | None, level: str) -> list[str]:
    """The codes of ``level`` retired by earlier plans (never reused)."""
    if prev is None:
        return []
    return prev.retired[prev.retired["level"] == level]["code"].tolist()


def _code_level(
    order: np.ndarray | Any,
    groups: np.ndarray,
    stems: np.ndarray,
    *,
    digits: int,
    used: Sequence[str],
    group_of: Any,
    check: Any,
    geoms: np.ndarray | None = None,
    old: _Old | None = None,
    thresholds: tuple[float, float] = (MATCH_THRESHOLD, HOUSEHOLDS_THRESHOLD),
    carry: Any = None,
    floor: Any = None,
) -> np.ndarray:
    """The codes of one level (grids, small grids or buildings), as the module docstring describes.

    1. carry: a feature matching a previous one (``old``, by area and households IoU within the same
       group) keeps its code; or ``carry(codes)`` fills the codes kept by another rule;
    2. continue numbering: the others, in numbering ``order`` (positions, or a function of the codes
       so far giving them), get the next numbers of their group (``groups``) after the highest number
       used or retired there (``used`` codes, grouped by ``group_of``; at least ``floor(group)``);
    3. check capacity: ``check(numbers, groups, starts)`` raises when a number does not fit;
    4. append: code = stem + number on ``digits`` digits.
    """
    codes = np.full(len(groups), None, dtype=object)
    if old is not None:
        rank = np.empty(len(order), dtype=int)
        rank[order] = np.arange(len(order))
        m = _match(geoms, groups, rank, old.geoms, old.groups, old.codes, old.new_members, old.old_members, *thresholds)
        codes[m.new] = old.codes[m.old]
    if carry is not None:
        carry(codes)
    high = _high_water([group_of(c) for c in used], _seq(used, digits))
    todo = [i for i in (order(codes) if callable(order) else order) if codes[i] is None]
    if todo:
        grp = pd.Series([groups[i] for i in todo])
        start = np.array([max(high.get(g, 0), floor(g) if floor is not None else 0) for g in grp])
        seqs = start + grp.groupby(grp, sort=False).cumcount().to_numpy() + 1
        check(seqs, grp, start)
        codes[todo] = _compose([stems[i] for i in todo], seqs, digits)
    return codes


def _scheme(scheme: Any) -> CodeScheme:
    if scheme is None:
        return CodeScheme()
    if isinstance(scheme, CodeScheme):
        return scheme
    return CodeScheme.from_dict(scheme)


def _put(df: pd.DataFrame, col: str, values: Any, pos: int) -> None:
    if col in df.columns:
        df[col] = values
    else:
        df.insert(min(pos, len(df.columns)), col, values)


def _parent_positions(
    layer: gpd.GeoDataFrame, link: str, key_pos: Mapping[Any, int], fn: str, name: str, *, allow_missing: bool
) -> np.ndarray:
    if link not in layer.columns:
        msg = f"{fn}: {name} have no {link!r} column linking them to their grid; add the parent grid's {link!r}"
        raise InputError(msg)
    vals = layer[link].to_numpy(dtype=object)
    missing = pd.isna(vals)
    if missing.any() and not allow_missing:
        msg = f"{fn}: {int(missing.sum())} of the {name} have no {link!r}; every small grid must lie in a grid"
        raise InputError(msg)
    pos = np.array([-1 if m else key_pos.get(v, -2) for v, m in zip(vals, missing, strict=True)], dtype=int)
    if (pos == -2).any():
        bad = vals[pos == -2][0]
        msg = f"{fn}: {name}[{link!r}] has {bad!r}, which is not a grid in grids[{link!r}]; link each feature to an existing grid"
        raise InputError(msg)
    return pos


def _building_subgrids(
    buildings: gpd.GeoDataFrame,
    b_grid: np.ndarray,
    s_parent: np.ndarray,
    s_key: np.ndarray | None,
    s_link: str | None,
    s_geom: np.ndarray,
    crs: Any,
    fn: str,
) -> np.ndarray:
    """Position of each building's small grid (-1: none), by id when linked, else by location."""
    if s_link is not None and s_link in buildings.columns:
        kp = {k: i for i, k in enumerate(s_key)}
        vals = buildings[s_link].to_numpy(dtype=object)
        pos = np.array([-1 if pd.isna(v) else kp.get(v, -2) for v in vals], dtype=int)
        if (pos == -2).any():
            msg = f"{fn}: buildings[{s_link!r}] has {vals[pos == -2][0]!r}, which is not in subgrids[{s_link!r}]"
            raise InputError(msg)
        clash = (pos >= 0) & (s_parent[np.maximum(pos, 0)] != b_grid) if len(s_parent) else np.zeros(len(pos), dtype=bool)
        if clash.any():
            msg = f"{fn}: building {buildings.index[np.argmax(clash)]!r} is in a small grid of another grid; fix its grid or small-grid id"
            raise InputError(msg)
        return pos
    pts = shapely.point_on_surface(_metric_geoms(buildings, crs))
    tree = shapely.STRtree(s_geom)
    bi, si = tree.query(pts, predicate="intersects")
    keep = s_parent[si] == b_grid[bi]
    bi, si = bi[keep], si[keep]
    pos = np.full(len(buildings), -1, dtype=int)
    # a point on the edge of two small grids goes to the first in numbering order (not row order)
    rank = np.empty(len(s_geom), dtype=int)
    rank[_sort_positions(s_geom, 1.0)] = np.arange(len(s_geom))
    df = pd.DataFrame({"b": bi, "s": si, "r": rank[si]}).sort_values(["b", "r"]).drop_duplicates("b")
    pos[df["b"].to_numpy()] = df["s"].to_numpy()
    return pos


def _check_appended(seqs: np.ndarray, parents: pd.Series, cap: int, what: str, name: str, digits: int) -> None:
    over = seqs > cap
    if over.any():
        j = int(np.argmax(over))
        msg = (
            f"code scheme too small: grid {parents.iloc[j]} needs {what} number {int(seqs[j]):,} (used and retired numbers "
            f"included) but the scheme holds {cap:,} ({name}={digits}); widen {name}"
        )
        raise InputError(msg)


def code_metadata(scheme: CodeScheme, retired: pd.DataFrame) -> dict[str, Any]:
    """The plan-metadata entries that let the next run carry codes: ``code_scheme`` and ``retired_codes``.

    >>> meta = code_metadata(CodeScheme(), pd.DataFrame(
    ...     {"code": ["420103001001004"], "level": ["grid"], "community_code": ["420103001001"], "retired_in": ["v2"]}))
    >>> meta["retired_codes"]
    [{'code': '420103001001004', 'level': 'grid', 'community_code': '420103001001', 'retired_in': 'v2'}]
    """
    records = [] if retired is None else pd.DataFrame(retired)[RETIRED_COLUMNS].astype(object).to_dict("records")
    records = [{k: (None if (v is not None and not isinstance(v, str) and pd.isna(v)) else v) for k, v in r.items()}
               for r in records]
    return {"code_scheme": scheme.to_dict(), "retired_codes": records}


# --------------------------------------------------------------------------------------------------
# checking codes


def find_code_problems(
    codes: Sequence[Any] | pd.Series,
    *,
    scheme: CodeScheme | Mapping[str, Any] | None = None,
    level: str = "grid",
    community_codes: Sequence[Any] | pd.Series | None = None,
    parent_codes: Sequence[Any] | pd.Series | None = None,
) -> pd.DataFrame:
    """Every problem with a sequence of codes, one row per (code, problem).

    Problems: ``missing``, ``not_string``, ``wrong_length``, ``non_digit``, ``wrong_prefix`` (not the
    scheme's prefix), ``zero_sequence``, ``community_mismatch`` (the community part differs from the
    parallel ``community_codes``), ``parent_mismatch`` (a small-grid or building code not starting with
    the parallel ``parent_codes``), ``duplicate`` (every occurrence is listed).

    Parameters
    ----------
    codes
        The codes; a Series keeps its index labels in the ``index`` column, else positions.
    scheme
        The :class:`CodeScheme` (default scheme when omitted).
    level
        ``grid``, ``subgrid`` or ``building``.
    community_codes
        Optional, aligned with ``codes``: the community each coded feature lies in.
    parent_codes
        Optional, aligned with ``codes``: the grid code of each small grid or building.

    Returns
    -------
    pandas.DataFrame
        Columns ``index``, ``code``, ``problem``, ``message``; empty when all is well.

    Examples
    --------
    >>> p = find_code_problems(["420103001001001", "42010300100100A", "420103001001001", "4201"])
    >>> p[["index", "problem"]].values.tolist()
    [[0, 'duplicate'], [1, 'non_digit'], [2, 'duplicate'], [3, 'wrong_length']]
    >>> find_code_problems(["420103001001001"], community_codes=["420103001002"])["problem"].tolist()
    ['community_mismatch']
    """
    scheme = _scheme(scheme)
    _check_level(level)
    s = codes if isinstance(codes, pd.Series) else pd.Series(list(codes), dtype=object)
    labels = s.index.tolist()
    vals = s.to_numpy(dtype=object)
    n = len(vals)
    for name, other in (("community_codes", community_codes), ("parent_codes", parent_codes)):
        if other is not None and len(other) != n:
            msg = f"find_code_problems: {name} has {len(other)} values for {n} codes; give one per code"
            raise InputError(msg)
    comm = None if community_codes is None else np.asarray(list(community_codes), dtype=object)
    par = None if parent_codes is None else np.asarray(list(parent_codes), dtype=object)
    width = scheme.length(level)
    seq_digits = {"grid": scheme.grid_digits, "subgrid": scheme.subgrid_digits, "building": scheme.building_digits}[level]
    rows: list[tuple[int, str, str]] = []  # (position, problem, message)
    for i, v in enumerate(vals):
        if v is None or (not isinstance(v, str) and pd.isna(v)):
            rows.append((i, "missing", f"{level} code is missing"))
            continue
        if not isinstance(v, str):
            rows.append((i, "not_string", f"{level} code {v!r} is a {type(v).__name__}, not text; store codes as strings"))
            continue
        if len(v) != width:
            rows.append((i, "wrong_length", f"{level} code {v!r} has {len(v)} characters; the scheme's {level} codes have {width}"))
        if not (v.isascii() and v.isdigit()):
            rows.append((i, "non_digit", f"{level} code {v!r} contains characters other than the digits 0-9"))
        if scheme.prefix and not v.startswith(scheme.prefix):
            rows.append((i, "wrong_prefix", f"{level} code {v!r} does not start with the scheme prefix {scheme.prefix!r}"))
        if len(v) == width and v.isascii() and v.isdigit():
            if int(v[-seq_digits:]) == 0:
                rows.append((i, "zero_sequence", f"{level} code {v!r} ends in sequence {v[-seq_digits:]}; sequences start at 1"))
            if level != "grid" and int(v[scheme.grid_length - scheme.grid_digits : scheme.grid_length]) == 0:
                rows.append((i, "zero_sequence", f"{level} code {v!r} has grid sequence 0; sequences start at 1"))
            if comm is not None and isinstance(comm[i], str) and scheme.community_of(v) != comm[i]:
                rows.append((i, "community_mismatch",
                             f"{level} code {v!r} has community part {scheme.community_of(v)!r} but lies in community {comm[i]!r}"))
        if par is not None and level != "grid" and isinstance(par[i], str) and not v.startswith(par[i]):
            rows.append((i, "parent_mismatch", f"{level} code {v!r} does not start with its grid code {par[i]!r}"))
    counts = pd.Series([v for v in vals if isinstance(v, str)], dtype=object).value_counts()
    for i, v in enumerate(vals):
        if isinstance(v, str) and counts.get(v, 0) > 1:
            rows.append((i, "duplicate", f"{level} code {v!r} appears {int(counts[v])} times"))
    rows.sort(key=lambda r: r[0])
    return pd.DataFrame(
        {
            "index": [labels[i] for i, _, _ in rows],
            "code": pd.Series([vals[i] for i, _, _ in rows], dtype=object),
            "problem": [p for _, p, _ in rows],
            "message": [m for _, _, m in rows],
        },
        columns=["index", "code", "problem", "message"],
    )


def check(
    codes: Sequence[Any] | pd.Series,
    *,
    scheme: CodeScheme | Mapping[str, Any] | None = None,
    level: str = "grid",
    community_codes: Sequence[Any] | pd.Series | None = None,
    parent_codes: Sequence[Any] | pd.Series | None = None,
) -> None:
    """Raise :class:`InputError` naming the first problems when any code is bad (see :func:`find_code_problems`).

    Examples
    --------
    >>> check(["420103001001001", "420103001001002"])
    >>> check(["420103001001001", "420103001001001"])
    Traceback (most recent call last):
    ...
    gridgeo._errors.InputError: check: 2 problems in 2 grid codes: grid code '420103001001001' appears 2 times
    """
    p = find_code_problems(
        codes, scheme=scheme, level=level, community_codes=community_codes, parent_codes=parent_codes
    )
    if len(p):
        messages = p["message"].drop_duplicates()
        first = "; ".join(messages.iloc[:3])
        more = f"; and {len(messages) - 3} more" if len(messages) > 3 else ""
        msg = f"check: {counted(len(p), 'problem')} in {counted(len(codes), f'{level} code')}: {first}{more}"
        raise InputError(msg)


# --------------------------------------------------------------------------------------------------
# the plan diff lives in gridgeo.diff; its names stay importable from here


_DIFF_NAMES = ("DIFF_STATUSES", "diff_plans", "summarize_diff")


def __getattr__(name: str) -> Any:
    if name in _DIFF_NAMES:  # imported on first use: gridgeo.diff imports this module
        import importlib

        return getattr(importlib.import_module(".diff", __package__), name)
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
