"""Quality of a grid plan (DESIGN §5), recomputed from the buildings.

Nothing is read from the plan's own ``households`` or ``buildings`` columns: every building is placed
in the grid holding the largest part of its footprint (a point building: the grid containing it), and
the figures are computed from those counts. The same figures are computed for base grids (网格) inside
communities and for small grids (小网格 / 居民小组) inside their parent base grid; a "container" below is
the community for a base grid and the parent grid for a small grid.

Figures (per level)
-------------------
in-range share
    ``in_range / eligible``: eligible grids are the base grids of containers whose households *H* can
    be divided at all: some integer *k* has ``k*min <= H <= k*max`` (not so when ``H < min`` or,
    with 300–500, when ``500 < H < 600``), and the sizes of its buildings admit *k* groups within the
    bounds (proved infeasible by a small integer programme, contiguity ignored: five towers of 78–96
    households cannot make small grids of 100–150). A grid made of a single building whose households exceed
    the ceiling is an *exemption*: counted apart, in neither numerator nor denominator; so is a grid of
    one building under the floor flagged ``grid_forced_under_floor`` by the partition (its building can
    share a grid with no neighbouring building within the ceiling: proven on the partition's cells). *H* is the
    households of the container's base grids (dedicated grids, ``kind == "dedicated"``, excluded).
balance
    coefficient of variation (population standard deviation ÷ mean) of households per base grid, and
    the mean of ``|households - target|``. Where communities of different profiles mix (urban target
    400, rural 50), the CV is taken of households ÷ the grid's own target, which is the plain CV when
    all grids share one target.
contiguity
    grids with more than one polygon part; a grid whose parts each lie in a different part of a
    multi-part container is *excused* (counted apart).
compactness
    median Polsby–Popper ``4πA/P²`` (a square: π/4 ≈ 0.785; a circle: 1).
street alignment
    share of grid-boundary length, container boundaries excluded, lying within ``rules.street_snap_m``
    of a street (boundaries are cut into pieces of at most ``segment_m``; a piece is aligned when its
    midpoint is that close to a street). Shared edges count once from each side, which leaves the
    share unchanged.
coverage
    per container: gap area (container not covered by its grids), overlap area (sum over pairs of the
    container's grids of their common area) and the area of its grids lying outside it; max and total
    in m². Buildings *lost* (inside some container, yet in no grid) and *doubled* (at least
    ``building_share`` of the footprint in each of two or more grids of one community; a point: inside
    two grids). A footprint the community boundary cuts, with one grid on each side, is not doubled.
nesting (small grids)
    small grids with more than ``tolerance_m2`` of area outside their parent grid.

Everything is measured in a metric CRS: the communities' own when it is projected in metres, else
:func:`gridgeo.crs.metric_crs`; other layers are reprojected to it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from .._errors import InputError
from .._geometry import make_valid, uncovered, union_by
from .._text import counted
from ..crs import is_metric, metric_crs, require_layers
from ..footprints import BUILDING_SHARE_MIN, assign_to_zones, pieces_apart, unit_labels
from ..households import households_of
from ..rules import Rules, load_rules, rules_for_kind
from .feasibility import divisible, packable

__all__ = ["quality", "quality_by_community", "format_quality", "quality_rows", "street_alignment", "unit_households"]

_EDGE_EPS_M = 0.01  # a grid edge closer than this to its container's boundary is on that boundary
#: a base grid with more than this share of its outline within :data:`_BESIDE_M` of a dedicated grid (专属网格) of its
#: community borders it (issue 16: those grids take the ragged land the sites leave; session 43)
BESIDE_DEDICATED_SHARE = 0.02
_BESIDE_M = 0.5
_FUNC = "quality"


# ------------------------------------------------------------------------------------------ public API


def quality(
    communities: gpd.GeoDataFrame,
    grids: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    *,
    streets: gpd.GeoDataFrame | None = None,
    subgrids: gpd.GeoDataFrame | None = None,
    rules: Rules | str | None = None,
    tolerance_m2: float = 1.0,
    building_share: float = BUILDING_SHARE_MIN,
    segment_m: float = 1.0,
    alignment: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> dict[str, Any]:
    """The DESIGN §5 quality figures of a plan, recomputed from the buildings.

    Parameters
    ----------
    communities
        ``code`` (or ``community_code``), optional ``kind`` (``urban``/``rural``/``township``: rural
        villages are measured against the rural bounds), polygons.
    grids
        Base and dedicated grids: an id (``grid_code`` or ``grid_id``; else the row position),
        ``community_code`` (else the community holding the grid's largest part) and optional ``kind``
        (``base``/``dedicated``; default ``base``).
    buildings
        ``households`` (missing values count 0), footprints or points.
    streets
        Street centre lines; without them the street-aligned share is None.
    subgrids
        Small grids: an id (``subgrid_code`` or ``subgrid_id``) and the parent grid's id under the
        same column name as in ``grids``. Without them the ``small`` section is None.
    rules
        Bounds and targets (``grid_min``/``grid_max``/``grid_target``, ``subgrid_*``) and
        ``street_snap_m``; a profile name, TOML path or :class:`~gridgeo.rules.Rules`; default urban.
    tolerance_m2
        Gap, overlap and spill areas above this count as a problem (DESIGN goal: under 1 m²).
    building_share
        Share of a footprint that must lie in a grid for the building to count in it.
    segment_m
        Length of the boundary pieces tested for street alignment.
    alignment
        Street alignment already measured per community (the partition measures it in each community's
        job, :func:`street_alignment` on the same grids, streets and ``segment_m`` = 1): ``{"grids":
        (internal_m, aligned_m), "subgrids": (...)}``, arrays in the order of the layer's rows, NaN where
        not measured (those are measured here).

    Returns
    -------
    dict
        JSON-friendly: ``crs``, ``counts``, ``base`` and ``small`` (same keys; ``small`` is None
        without small grids). See :func:`quality_rows` for every key with its label and unit.

    Examples
    --------
    Two 20 × 10 m grids, 350 and 450 households:

    >>> from shapely import box, Point
    >>> c = gpd.GeoDataFrame({"code": ["420103001001"]}, geometry=[box(0, 0, 40, 10)], crs=4547)
    >>> g = gpd.GeoDataFrame({"grid_id": ["a", "b"], "community_code": ["420103001001"] * 2},
    ...                      geometry=[box(0, 0, 20, 10), box(20, 0, 40, 10)], crs=4547)
    >>> b = gpd.GeoDataFrame({"households": [350, 450]}, geometry=[Point(5, 5), Point(25, 5)], crs=4547)
    >>> q = quality(c, g, b)
    >>> q["base"]["in_range_share"], q["base"]["households_cv"], q["base"]["median_polsby_popper"]
    (1.0, 0.125, 0.6981)
    >>> q["base"]["gap_m2_max"], q["base"]["buildings_lost"], q["small"] is None
    (0.0, 0, True)
    """
    m = _measure(communities, grids, buildings, streets=streets, subgrids=subgrids, rules=rules,
                 tolerance_m2=tolerance_m2, building_share=building_share, segment_m=segment_m, alignment=alignment)
    return m.summary()


def quality_by_community(
    communities: gpd.GeoDataFrame,
    grids: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    *,
    streets: gpd.GeoDataFrame | None = None,
    subgrids: gpd.GeoDataFrame | None = None,
    rules: Rules | str | None = None,
    tolerance_m2: float = 1.0,
    building_share: float = BUILDING_SHARE_MIN,
    segment_m: float = 1.0,
) -> pd.DataFrame:
    """The quality figures per community: one row per community, indexed by ``community_code``.

    Same arguments and definitions as :func:`quality`. Columns: ``kind``, ``households`` (base
    grids), ``feasible``, ``k_min``/``k_max`` (feasible grid counts), ``grids``, ``dedicated_grids``,
    ``in_range``, ``eligible``, ``exemptions``, ``households_cv``, ``mean_abs_deviation``,
    ``multipart``, ``multipart_excused``, ``median_polsby_popper``, ``street_aligned_share``,
    ``gap_m2``, ``overlap_m2``, ``outside_m2``, ``buildings_lost``, ``buildings_doubled``, and the
    small-grid figures prefixed ``small_`` (gap, overlap and spill summed over the parent grids).

    Examples
    --------
    >>> from shapely import box, Point
    >>> c = gpd.GeoDataFrame({"code": ["420103001001"]}, geometry=[box(0, 0, 40, 10)], crs=4547)
    >>> g = gpd.GeoDataFrame({"grid_id": ["a"], "community_code": ["420103001001"]},
    ...                      geometry=[box(0, 0, 30, 10)], crs=4547)
    >>> b = gpd.GeoDataFrame({"households": [320]}, geometry=[Point(5, 5)], crs=4547)
    >>> quality_by_community(c, g, b)[["grids", "in_range", "gap_m2"]].to_dict("records")
    [{'grids': 1, 'in_range': 1, 'gap_m2': 100.0}]
    """
    m = _measure(communities, grids, buildings, streets=streets, subgrids=subgrids, rules=rules,
                 tolerance_m2=tolerance_m2, building_share=building_share, segment_m=segment_m)
    return m.by_community()


#: (key, label, unit/format) of the rows of :func:`format_quality`, base and small grids side by side
_ROWS: list[tuple[str, str, str]] = [
    ("grids", "grids", "int"),
    ("in_range_share", "in range (share of eligible grids)", "pct"),
    ("in_range", "  in range / eligible", "ratio"),
    ("exemptions", "  exemptions (one building or footprint unit over the ceiling, or forced under the floor)", "int"),
    ("grids_in_infeasible", "  grids where no division fits (communities)", "infeasible"),
    ("below_min", "  eligible grids below / above the bounds", "below_above"),
    ("households_range", "households per grid, min–max", "range"),
    ("households_cv", "balance: households CV", "f3"),
    ("mean_abs_deviation", "balance: mean |households − target|", "f1"),
    ("multipart", "multi-part grids (excused)", "multipart"),
    ("median_polsby_popper", "compactness: median Polsby–Popper", "f3"),
    ("median_polsby_popper_off_dedicated", "  grids not beside a dedicated grid: count, median Polsby–Popper",
     "off_dedicated"),
    ("polsby_popper_under_025", "  grids under Polsby–Popper 0.25", "int"),
    ("dedicated_median_polsby_popper", "dedicated grids (专属网格): count, median Polsby–Popper", "dedicated"),
    ("grids_with_holes", "grids with a hole (wrapped around another grid)", "int"),
    ("street_aligned_share", "street-aligned boundary", "aligned"),
    ("gap_m2_max", "gap per community | parent grid, max / total (m²)", "gap"),
    ("overlap_m2_max", "overlap per community | parent grid, max / total (m²)", "overlap"),
    ("outside_m2_total", "outside community | parent: grids / total m²", "outside"),
    ("buildings_lost", "buildings lost / doubled", "lost"),
]


def quality_rows(q: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The table of :func:`format_quality` as ``(label, base grids, small grids)`` text rows.

    >>> quality_rows({"crs": "EPSG:4547", "counts": {}, "base": None, "small": None})[0]
    ('grids', 'n/a', 'n/a')
    """
    rows = []
    for key, label, kind in _ROWS:
        if kind in ("dedicated", "off_dedicated") and not (q.get("base") or {}).get("dedicated_grids"):
            continue  # a plan without dedicated grids keeps its table as it was
        if kind == "off_dedicated" and (q.get("base") or {}).get(key) is None:
            continue  # nor does a plan stored before this figure
        rows.append((label, _fmt(q.get("base"), key, kind), _fmt(q.get("small"), key, kind)))
    return rows


def format_quality(q: dict[str, Any]) -> str:
    """A readable table of :func:`quality` figures for the command line.

    Examples
    --------
    >>> from shapely import box, Point
    >>> c = gpd.GeoDataFrame({"code": ["420103001001"]}, geometry=[box(0, 0, 40, 10)], crs=4547)
    >>> g = gpd.GeoDataFrame({"grid_id": ["a", "b"], "community_code": ["420103001001"] * 2},
    ...                      geometry=[box(0, 0, 20, 10), box(20, 0, 40, 10)], crs=4547)
    >>> b = gpd.GeoDataFrame({"households": [350, 450]}, geometry=[Point(5, 5), Point(25, 5)], crs=4547)
    >>> text = format_quality(quality(c, g, b))
    >>> text.splitlines()[1].split()
    ['base', 'grids', '300–500', 'small', 'grids']
    >>> text.splitlines()[3].split()[-2:]
    ['100.0%', 'n/a']
    """
    counts = q.get("counts", {})
    head = (
        f"Quality recomputed from the buildings: {counted(counts.get('communities', 0), 'community')}, "
        f"{counted(counts.get('buildings', 0), 'building')}, {counted(counts.get('households', 0), 'household')} "
        f"(CRS {q.get('crs')})"
    )
    base, small = q.get("base") or {}, q.get("small") or {}
    mixed = bool(base.get("mixed_profiles"))  # urban and rural communities: each measured by its own bounds
    bounds_b = ("base grids (bounds by profile)" if mixed else f"base grids {base.get('min', '?')}–{base.get('max', '?')}"
                ) if base else "base grids"
    bounds_s = ("small grids (by profile)" if mixed else f"small grids {small.get('min', '?')}–{small.get('max', '?')}"
                ) if small else "small grids"
    rows = quality_rows(q)
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(bounds_b), *(len(r[1]) for r in rows))
    w2 = max(len(bounds_s), *(len(r[2]) for r in rows))
    lines = [head, f"{'':<{w0}}  {bounds_b:>{w1}}  {bounds_s:>{w2}}"]
    lines += [f"{a:<{w0}}  {b:>{w1}}  {c:>{w2}}" for a, b, c in rows]
    notes = []
    if base and base.get("stored_households_mismatch"):
        n = base["stored_households_mismatch"]
        notes.append(f"{counted(n, 'grid')} {'stores' if n == 1 else 'store'} a households count that differs from "
                     f"{'its' if n == 1 else 'their'} buildings")
    if counts.get("buildings_outside_communities"):
        n, h = counts["buildings_outside_communities"], counts.get("households_outside_communities")
        held = "" if h is None else f" ({counted(h, 'household')})"
        notes.append(f"{counted(n, 'building')}{held} "
                     f"{'lies' if n == 1 else 'lie'} outside every community, in no grid (each a "
                     "building_outside_communities finding naming the nearest community and the fix)")
    if counts.get("invalid_geometries"):
        notes.append(f"{counts['invalid_geometries']} invalid grid geometries were repaired before measuring")
    lines += [f"note: {n}" for n in notes]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ formatting


def _fmt(level: dict[str, Any] | None, key: str, kind: str) -> str:
    if not level:
        return "n/a"
    v = level.get(key)
    if kind == "int":
        return f"{v:,}" if v is not None else "n/a"
    if kind == "pct":
        return "n/a" if v is None else f"{100 * v:.1f}%"
    if kind == "ratio":
        return f"{level['in_range']:,} / {level['eligible']:,}"
    if kind == "infeasible":
        return f"{level['grids_in_infeasible']:,} ({level['infeasible_containers']:,})"
    if kind == "below_above":
        return f"{level['below_min']:,} / {level['above_max']:,}"
    if kind == "range":
        return "n/a" if v is None else f"{v[0]:,}–{v[1]:,}"
    if kind == "f3":
        return "n/a" if v is None else f"{v:.3f}"
    if kind == "f1":
        return "n/a" if v is None else f"{v:.1f}"
    if kind == "dedicated":
        n = level.get("dedicated_grids") or 0
        return "n/a" if not n or v is None else f"{n:,}, {v:.3f}"
    if kind == "off_dedicated":
        n = (level.get("grids") or 0) - (level.get("beside_dedicated") or 0)
        return "n/a" if v is None else f"{n:,}, {v:.3f}"
    if kind == "multipart":
        return f"{level['multipart']:,} ({level['multipart_excused']:,})"
    if kind == "aligned":
        s = level["street_aligned_share"]
        km = level["internal_boundary_m"] / 1000.0
        return "n/a (no streets)" if s is None else f"{100 * s:.1f}% of {km:,.1f} km"
    if kind == "gap":
        return f"{level['gap_m2_max']:,.2f} / {level['gap_m2_total']:,.2f}"
    if kind == "overlap":
        return f"{level['overlap_m2_max']:,.2f} / {level['overlap_m2_total']:,.2f}"
    if kind == "outside":
        return f"{level['outside_count']:,} / {level['outside_m2_total']:,.2f}"
    if kind == "lost":
        return f"{level['buildings_lost']:,} / {level['buildings_doubled']:,}"
    return str(v)  # pragma: no cover - every kind is listed above


def _num(v: Any, nd: int | None = None) -> Any:
    """A JSON-friendly number (None for NaN)."""
    if v is None:
        return None
    if isinstance(v, (np.integer, int)) and not isinstance(v, bool):
        return int(v)
    v = float(v)
    if not math.isfinite(v):
        return None
    return round(v, nd) if nd is not None else v


# --------------------------------------------------------------------------------------- preparation


def _first_column(gdf: gpd.GeoDataFrame, names: tuple[str, ...]) -> str | None:
    return next((n for n in names if n in gdf.columns), None)


def _geoms(gdf: gpd.GeoDataFrame, crs: CRS) -> np.ndarray:
    g = gdf.geometry if gdf.crs == crs else gdf.geometry.to_crs(crs)
    return np.asarray(g.to_numpy(), dtype=object)


def _valid(geoms: np.ndarray) -> tuple[np.ndarray, int]:
    """Polygonal geometries repaired where invalid; None becomes empty."""
    geoms = np.where(shapely.is_missing(geoms), shapely.Polygon(), geoms)
    bad = ~shapely.is_valid(geoms)
    if bad.any():
        # keep the polygonal part only (make_valid may add lines along collapsed edges)
        geoms = geoms.copy()
        geoms[bad] = make_valid(geoms[bad])
    return geoms, int(bad.sum())


# ------------------------------------------------------------------------------------------ internals


@dataclass
class _Level:
    """Per-zone and per-container figures of one level (base grids in communities, small grids in grids)."""

    zones: pd.DataFrame  # one row per zone
    containers: pd.DataFrame  # one row per container
    lost: int
    doubled: int
    lo_default: int
    hi_default: int
    target_default: int
    have_streets: bool
    assigned: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # zone of each building
    communities_infeasible: int | None = None  # small grids: communities whose units admit no small grids
    mixed_profiles: bool = False  # communities of profiles with other bounds (urban and rural) measured together


def _assign_buildings(
    bgeom: np.ndarray, barea: np.ndarray, zgeom: np.ndarray, zrank: np.ndarray, share: float,
    prefer: np.ndarray | None = None, zcomm: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Zone of each building and how many zones hold it meaningfully: gridgeo's one building-to-zone
    assignment (:func:`gridgeo.footprints.assign_to_zones`), shared with the partition and ``validate``;
    ties go to the zone the building is stored in (``prefer``). With ``zcomm`` (the community of each zone),
    a building whose zones are each in a different community counts as held by one: the community
    boundary cuts it (``building_across_communities``, as ``validate`` says), no grid does."""
    a = assign_to_zones(bgeom, zgeom, share_min=share, rank=zrank, prefer=prefer)
    n_in = a.n_zones
    if zcomm is not None and (n_in >= 2).any():
        bi, zi, sh = a.pairs
        sel = (sh >= share) & (n_in[bi] >= 2)
        pairs = pd.DataFrame({"b": bi[sel], "c": np.asarray(zcomm)[zi[sel]]})
        per = pairs.groupby("b")["c"].agg(["min"])
        # every zone in a known community, its pieces in zones of one community sharing no edge (each in a
        # different community, or in separate parts of one); a zone of unknown community: cut, as validate says
        apart = pieces_apart(bgeom, zgeom, bi[sel], zi[sel], pairs["c"].to_numpy())
        across = per.index[((per["min"] >= 0) & apart[per.index.to_numpy()]).to_numpy()].to_numpy()
        n_in = n_in.copy()
        n_in[across] = 1
    return a.zone, n_in


def _locate(points: np.ndarray, polys: np.ndarray) -> np.ndarray:
    """Index of the polygon each point lies in (-1 when none; the lowest index on shared boundaries)."""
    out = np.full(len(points), -1, dtype=np.int64)
    if len(points) == 0 or len(polys) == 0:
        return out
    pi, ci = shapely.STRtree(polys).query(points, predicate="intersects")
    order = np.lexsort((ci, pi))
    first = np.unique(pi[order], return_index=True)[1]
    out[pi[order][first]] = ci[order][first]
    return out


def _largest_overlap(geoms: np.ndarray, polys: np.ndarray) -> np.ndarray:
    """Index of the polygon holding the largest part of each geometry (-1 when none)."""
    out = np.full(len(geoms), -1, dtype=np.int64)
    if len(geoms) == 0 or len(polys) == 0:
        return out
    gi, ci = shapely.STRtree(polys).query(geoms, predicate="intersects")
    a = shapely.area(shapely.intersection(geoms[gi], polys[ci]))
    keep = a > 0
    gi, ci, a = gi[keep], ci[keep], a[keep]
    order = np.lexsort((ci, -a, gi))
    first = np.unique(gi[order], return_index=True)[1]
    out[gi[order][first]] = ci[order][first]
    return out


def _parts_count(zgeom: np.ndarray, zcont: np.ndarray, cgeom: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Polygon parts per zone and the number of distinct container parts those parts lie in.

    The containers' parts are taken at the grids' precision (:data:`~gridgeo.partition.units.GRID_SIZE_M`, metres):
    a community whose outline narrows to less than that (a self-crossing outline, mended) is in two parts
    there for its grids, which are snapped to it."""
    from .units import GRID_SIZE_M

    nz = len(zgeom)
    parts, pidx = shapely.get_parts(zgeom, return_index=True)
    keep = np.isin(shapely.get_type_id(parts), (3,)) & (shapely.area(parts) > 0)
    parts, pidx = parts[keep], pidx[keep]
    nparts = np.bincount(pidx, minlength=nz)
    distinct = np.zeros(nz, dtype=np.int64)
    if len(parts) and len(cgeom):
        cgeom = np.asarray(cgeom, dtype=object)
        some = ~(shapely.is_missing(cgeom) | shapely.is_empty(cgeom))
        if some.any():
            cgeom = cgeom.copy()
            cgeom[some] = shapely.set_precision(cgeom[some], GRID_SIZE_M)
        cparts, cidx = shapely.get_parts(cgeom, return_index=True)
        where = _locate(shapely.point_on_surface(parts), cparts)
        own = where >= 0
        own[own] = cidx[where[own]] == zcont[pidx[own]]
        pairs = pd.DataFrame({"z": pidx[own], "cp": where[own]}).drop_duplicates()
        distinct = np.bincount(pairs["z"].to_numpy(), minlength=nz)
    return nparts, distinct


def street_alignment(
    zgeom: np.ndarray, zcont: np.ndarray, cgeom: np.ndarray, street_tree: shapely.STRtree | None,
    snap_m: float, segment_m: float = 1.0, *, off_lines: bool = False,
) -> tuple[np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Internal boundary length of each zone and the part of it within ``snap_m`` of a street: the one
    street-alignment measure of gridgeo (quality report, ``validate``'s ``low_street_share``).

    The zone boundary, less what lies within ``snap_m`` of its container's boundary (the community's
    own edge, however it was stored and reprojected), is cut into pieces of at most ``segment_m``; a
    piece is aligned when its midpoint lies within ``snap_m`` of a street. With ``off_lines``, also
    each zone's boundary off the streets (MultiLineString, empty when none).

    >>> from shapely import box, LineString
    >>> z = np.array([box(0, 0, 10, 10), box(10, 0, 20, 10)])
    >>> tree = shapely.STRtree([LineString([(10, -5), (10, 4)])])
    >>> internal, aligned = street_alignment(z, np.array([0, 0]), np.array([box(0, 0, 20, 10)]), tree, 1.0)
    >>> internal.round(1).tolist(), aligned.round(1).tolist()
    ([8.0, 8.0], [4.0, 4.0])
    """
    nz = len(zgeom)
    empty = np.full(nz, shapely.MultiLineString(), dtype=object)
    if nz == 0:
        return (np.zeros(0), np.zeros(0), empty) if off_lines else (np.zeros(0), np.zeros(0))
    band = (shapely.buffer(shapely.boundary(cgeom), max(snap_m, _EDGE_EPS_M), quad_segs=2) if len(cgeom)
            else np.array([], dtype=object))
    zband = np.full(nz, shapely.Polygon(), dtype=object)
    has = zcont >= 0
    zband[has] = band[zcont[has]]
    inner = shapely.difference(shapely.boundary(zgeom), zband)
    internal = shapely.length(inner)
    aligned = np.zeros(nz)
    if street_tree is None:
        return (internal, np.full(nz, np.nan), empty) if off_lines else (internal, np.full(nz, np.nan))
    streets = _street_segments(street_tree)
    if not off_lines:
        for part in _chunks(internal, segment_m):
            aligned[part] = _aligned_part(inner[part], internal[part], street_tree, streets, snap_m, segment_m, False)[0]
        return internal, aligned
    off = empty.copy()
    for part in _chunks(internal, segment_m):
        aligned[part], off[part] = _aligned_part(inner[part], internal[part], street_tree, streets, snap_m, segment_m, True)
    return internal, aligned, off


#: the finding type, and grid flag, of a base grid of one building proven forced under the floor (the
#: partition's ``forced_under_floor``): an exemption, as a building over the ceiling is
FORCED_UNDER_FLOOR = "grid_forced_under_floor"

#: boundary pieces measured at once by :func:`street_alignment` (a city's grids have millions of 1 m pieces;
#: a chunk of zones at a time keeps memory flat, each zone's figures are computed from its own pieces alone)
_PIECES_PER_CHUNK = 250_000


def _chunks(internal: np.ndarray, segment_m: float) -> list[np.ndarray]:
    """Consecutive zone positions in groups of about :data:`_PIECES_PER_CHUNK` boundary pieces."""
    pieces = np.ceil(np.nan_to_num(internal) / segment_m) + 1
    group = (np.cumsum(pieces) // _PIECES_PER_CHUNK).astype(np.int64)
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]]) if len(group) else np.zeros(0, dtype=np.int64)
    return [np.arange(a, b) for a, b in zip(starts, np.r_[starts[1:], len(group)], strict=True)]


def _aligned_part(inner: np.ndarray, internal: np.ndarray, street_tree: shapely.STRtree,
                  streets: tuple[np.ndarray, np.ndarray, shapely.STRtree] | None, snap_m: float, segment_m: float,
                  off_lines: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Aligned length (and, with ``off_lines``, the boundary off the streets) of the zones of ``inner``.

    Each straight segment of the boundary is cut as ``shapely.segmentize`` cuts it (``n`` equal pieces, the
    fewest of at most ``segment_m``); which pieces' midpoints lie within ``snap_m`` of a street follows
    from the interval of the segment near each street segment (:func:`_interval_near`), without a point
    per piece. ``streets`` (:func:`_street_segments`) None: streets with a surface, each midpoint tested
    by the STRtree.
    """
    nz = len(inner)
    aligned = np.zeros(nz)
    off = np.full(nz, shapely.MultiLineString(), dtype=object) if off_lines else None
    lines, lidx = shapely.get_parts(inner, return_index=True)
    kind = shapely.get_type_id(lines)
    is_line = (kind == 1) | (kind == 2)
    lines, lidx = lines[is_line], lidx[is_line]
    if len(lines) == 0:
        return aligned, off
    coords, cidx = shapely.get_coordinates(lines, return_index=True)
    same = cidx[1:] == cidx[:-1]
    a, b = coords[:-1][same], coords[1:][same]
    owner = lidx[cidx[:-1][same]]
    v = b - a
    seg_len = np.hypot(v[:, 0], v[:, 1])
    some = seg_len > 0
    a, b, v, owner, seg_len = a[some], b[some], v[some], owner[some], seg_len[some]
    n = np.where(seg_len > segment_m, np.ceil(seg_len / segment_m), 1.0).astype(np.int64)
    first = np.r_[0, np.cumsum(n)]
    piece_seg = np.repeat(np.arange(len(n)), n)
    k = np.arange(first[-1]) - first[piece_seg]
    if streets is None:
        mid = a[piece_seg] + ((k + 0.5) / n[piece_seg])[:, None] * v[piece_seg]
        hit = np.zeros(len(mid), dtype=bool)
        hit[np.unique(street_tree.query(shapely.points(mid), predicate="dwithin", distance=snap_m)[0])] = True
    else:
        start, end, seg_tree = streets
        lo_xy, hi_xy = np.minimum(a, b) - snap_m, np.maximum(a, b) + snap_m
        i, j = seg_tree.query(shapely.box(lo_xy[:, 0], lo_xy[:, 1], hi_xy[:, 0], hi_xy[:, 1]))
        t_lo, t_hi = _interval_near(a[i], v[i], start[j], end[j], snap_m)
        # the pieces whose midpoint parameter (k + 0.5) / n lies in [t_lo, t_hi]
        ni = n[i]
        k0 = np.maximum(np.ceil(np.clip(t_lo, -1.0, 2.0) * ni - 0.5), 0).astype(np.int64)
        k1 = np.minimum(np.floor(np.clip(t_hi, -1.0, 2.0) * ni - 0.5), ni - 1).astype(np.int64)
        got = k0 <= k1
        cover = (np.bincount(first[i[got]] + k0[got], minlength=first[-1] + 1)
                 - np.bincount(first[i[got]] + k1[got] + 1, minlength=first[-1] + 1))
        hit = np.cumsum(cover[:-1]) > 0
    seg_aligned = np.bincount(piece_seg[hit], minlength=len(n)) * (seg_len / n)
    aligned = np.bincount(owner, weights=seg_aligned, minlength=nz)
    # segment lengths add up to the boundary's length; rescale away rounding so aligned <= internal
    total = np.bincount(owner, weights=seg_len, minlength=nz)
    with np.errstate(invalid="ignore", divide="ignore"):
        aligned = np.where(total > 0, aligned * internal / total, 0.0)
    if not off_lines:
        return aligned, None
    miss = np.flatnonzero(~hit)
    if len(miss):
        s, km = piece_seg[miss], k[miss]
        p0 = a[s] + (km / n[s])[:, None] * v[s]
        p1 = np.where((km + 1 == n[s])[:, None], b[s], a[s] + ((km + 1) / n[s])[:, None] * v[s])
        own = owner[s]  # pieces in their order along the boundary, zones in order
        segs = shapely.linestrings(np.stack([p0, p1], axis=1))
        # one multi-line per zone, its pieces in their order along the boundary, merged: all zones at once
        zones, at = np.unique(own, return_inverse=True)
        off[zones] = shapely.line_merge(shapely.multilinestrings(segs, indices=at.ravel()))
    return aligned, off


def _street_segments(street_tree: shapely.STRtree) -> tuple[np.ndarray, np.ndarray, shapely.STRtree] | None:
    """The streets' straight segments (start and end points, n × 2 each) and an STRtree of them, or None
    when some street is not a line (a surface: a point inside it is near it, which no segment tells)."""
    parts = shapely.get_parts(street_tree.geometries)
    if not np.isin(shapely.get_type_id(parts), (1, 2)).all():
        return None
    coords, idx = shapely.get_coordinates(parts, return_index=True)
    same = idx[1:] == idx[:-1]
    start, end = coords[:-1][same], coords[1:][same]
    return start, end, shapely.STRtree(shapely.linestrings(np.stack([start, end], axis=1)) if len(start)
                                       else np.array([], dtype=object))


def _interval_near(a: np.ndarray, v: np.ndarray, c: np.ndarray, d: np.ndarray, snap_m: float) -> tuple[np.ndarray, np.ndarray]:
    """For pairs of a boundary segment ``a + t v`` (t in 0..1) and a street segment ``c``–``d``, the
    interval of ``t`` whose points lie within ``snap_m`` of the street segment (empty: start > end).

    The points within ``snap_m`` of a segment make a convex capsule, the union of the two discs at its
    ends and the rectangle along it; a line meets a convex set in one interval, the hull of where it
    meets the three parts.
    """
    lo = np.full(len(a), np.inf)
    hi = np.full(len(a), -np.inf)
    vv = np.einsum("ij,ij->i", v, v)
    for p in (c, d):  # the discs: |a + t v - p|² <= snap², a quadratic in t
        ap = a - p
        half_b = np.einsum("ij,ij->i", v, ap)
        disc = half_b * half_b - vv * (np.einsum("ij,ij->i", ap, ap) - snap_m * snap_m)
        ok = disc >= 0
        root = np.sqrt(np.where(ok, disc, 0.0))
        lo = np.where(ok, np.minimum(lo, (-half_b - root) / vv), lo)
        hi = np.where(ok, np.maximum(hi, (-half_b + root) / vv), hi)
    w = d - c
    length = np.hypot(w[:, 0], w[:, 1])
    has = length > 0
    u = w / np.where(has, length, 1.0)[:, None]
    nrm = np.column_stack([-u[:, 1], u[:, 0]])
    ac = a - c
    r_lo, r_hi = np.full(len(a), -np.inf), np.full(len(a), np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        # the rectangle: 0 <= along(t) <= length and -snap <= across(t) <= snap, each linear in t
        for f0, f1, bot, top in ((np.einsum("ij,ij->i", ac, u), np.einsum("ij,ij->i", v, u), 0.0, length),
                                 (np.einsum("ij,ij->i", ac, nrm), np.einsum("ij,ij->i", v, nrm), -snap_m, snap_m)):
            flat = f1 == 0
            t1, t2 = (bot - f0) / f1, (top - f0) / f1
            inside = (f0 >= bot) & (f0 <= top)
            r_lo = np.maximum(r_lo, np.where(flat, np.where(inside, -np.inf, np.inf), np.minimum(t1, t2)))
            r_hi = np.minimum(r_hi, np.where(flat, np.where(inside, np.inf, -np.inf), np.maximum(t1, t2)))
    rect = has & (r_lo <= r_hi)
    lo = np.where(rect, np.minimum(lo, r_lo), lo)
    hi = np.where(rect, np.maximum(hi, r_hi), hi)
    return lo, hi


def _union_by(geoms: np.ndarray, keys: np.ndarray, n: int) -> np.ndarray:
    """Union of the geometries of each key 0..n-1 (empty where none); keys < 0 are ignored."""
    return union_by(geoms, keys, n)


def unit_households(container: np.ndarray, unit: np.ndarray, households: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(container, households) of each footprint unit per container: units are indivisible, so
    feasibility proofs pack units, not buildings.

    >>> unit_households(np.array([0, 0, 0, 1]), np.array([5, 5, 6, 7]), np.array([10.0, 20.0, 5.0, 7.0]))
    (array([0, 0, 1]), array([30.,  5.,  7.]))
    """
    if not len(container):
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    key, inv = np.unique(np.column_stack([container, unit]), axis=0, return_inverse=True)
    return key[:, 0], np.bincount(inv.ravel(), weights=households, minlength=len(key))


def _unexcused_holes(zgeom: np.ndarray, zcont: np.ndarray, cgeom: np.ndarray) -> np.ndarray:
    """Holes of each zone that its container does not have (a grid wrapped around another), counted by
    :func:`~gridgeo.partition.enclosures.foreign_holes`, as the partition's findings count them."""
    from .enclosures import foreign_holes

    parts, idx = shapely.get_parts(zgeom, return_index=True)
    has = np.bincount(idx, weights=shapely.get_num_interior_rings(parts), minlength=len(zgeom)) > 0
    out = np.zeros(len(zgeom), dtype=np.int64)
    for z in np.flatnonzero(has):
        container = cgeom[zcont[z]] if zcont[z] >= 0 else shapely.Polygon()
        out[z] = len(foreign_holes(zgeom[z], container))
    return out


def _community_small_feasible(base: "_Level", bunit: np.ndarray, bhh: np.ndarray, zcont: np.ndarray, zbase: np.ndarray,
                              ckind: np.ndarray, kinds: dict[str, Rules], rules: Rules, nc: int) -> np.ndarray:
    """Per community: whether the footprint units of its base grids admit any division into small grids
    within the small-grid bounds (contiguity aside; :func:`~gridgeo.partition.feasibility.packable`)."""
    assigned = base.assigned
    got = assigned >= 0
    keep = got.copy()
    keep[got] = zbase[assigned[got]] & (zcont[assigned[got]] >= 0)
    cont_u, hh_u = unit_households(zcont[assigned[keep]], bunit[keep], bhh[keep])
    lo = np.array([kinds.get(k, rules).subgrid_min for k in ckind], dtype=np.int64) if nc else np.zeros(0, np.int64)
    hi = np.array([kinds.get(k, rules).subgrid_max for k in ckind], dtype=np.int64) if nc else np.zeros(0, np.int64)
    order = np.argsort(cont_u, kind="stable")
    cont_u, hh_u = cont_u[order], hh_u[order]
    starts = np.searchsorted(cont_u, np.arange(nc + 1))
    return np.array([divisible(hh_u[starts[c]:starts[c + 1]], float(lo[c]), float(hi[c])) for c in range(nc)], dtype=bool)


def _packable_containers(bcont: np.ndarray, bhh: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                         candidates: np.ndarray) -> np.ndarray:
    """Per container: :func:`~gridgeo.partition.feasibility.packable` on the households of its buildings (only ``candidates``)."""
    out = np.ones(len(lo), dtype=bool)
    order = np.argsort(bcont, kind="stable")
    bcont, bhh = bcont[order], bhh[order]
    starts = np.searchsorted(bcont, np.arange(len(lo)), side="left")
    ends = np.searchsorted(bcont, np.arange(len(lo)), side="right")
    for c in np.flatnonzero(candidates):
        out[c] = packable(bhh[starts[c]:ends[c]], float(lo[c]), float(hi[c]))
    return out


def _measure_level(
    *,
    zgeom: np.ndarray,
    zid: np.ndarray,
    zcont: np.ndarray,
    zbase: np.ndarray,
    zstored: np.ndarray | None,
    cgeom: np.ndarray,
    cid: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    target: np.ndarray,
    bgeom: np.ndarray,
    barea: np.ndarray,
    bhh: np.ndarray,
    bunit: np.ndarray,
    street_tree: shapely.STRtree | None,
    snap_m: float,
    tolerance_m2: float,
    building_share: float,
    segment_m: float,
    defaults: tuple[int, int, int],
    zfeasible_given: np.ndarray | None = None,
    zforced: np.ndarray | None = None,
    bstored: np.ndarray | None = None,
    bcont: np.ndarray | None = None,
    zalign: tuple[np.ndarray, np.ndarray] | None = None,
    zcomm: np.ndarray | None = None,
) -> _Level:
    nz, nc = len(zgeom), len(cgeom)
    zrank = pd.Series(zid.astype(str)).rank(method="dense").to_numpy().astype(np.int64)
    prefer = None
    if bstored is not None:
        pos = {str(z): i for i, z in enumerate(zid)}
        prefer = np.array([pos.get(str(v), -1) if isinstance(v, str) else -1 for v in bstored], dtype=np.int64)
    assigned, n_in = _assign_buildings(bgeom, barea, zgeom, zrank, building_share, prefer, zcomm)
    # which container each building belongs to: the one building-to-zone assignment
    if bcont is None:
        bcont = assign_to_zones(bgeom, cgeom, share_min=building_share).zone if len(cgeom) else np.full(len(bgeom), -1)
    expected = bcont >= 0
    lost = expected & (assigned < 0)
    doubled = n_in >= 2
    got = assigned >= 0
    bcont_or_zone = bcont.copy()
    fill = (bcont < 0) & got
    bcont_or_zone[fill] = zcont[assigned[fill]]
    hh = np.bincount(assigned[got], weights=bhh[got], minlength=nz).round().astype(np.int64)
    nbuild = np.bincount(assigned[got], minlength=nz)
    # footprint units (overlapping footprints, one indivisible whole) per zone
    lived = got & (bhh > 0)  # units with households: an empty address point beside a tower is no second unit
    zu = np.unique(np.column_stack([assigned[lived], bunit[lived]]), axis=0) if lived.any() else np.zeros((0, 2), np.int64)
    nunits = np.bincount(zu[:, 0], minlength=nz) if len(zu) else np.zeros(nz, dtype=np.int64)

    zlo = np.where(zcont >= 0, lo[np.maximum(zcont, 0)], defaults[0]) if nc else np.full(nz, defaults[0])
    zhi = np.where(zcont >= 0, hi[np.maximum(zcont, 0)], defaults[1]) if nc else np.full(nz, defaults[1])
    ztarget = np.where(zcont >= 0, target[np.maximum(zcont, 0)], defaults[2]) if nc else np.full(nz, defaults[2])

    # containers: households of their base zones and whether some grid count fits the bounds
    in_c = zbase & (zcont >= 0)
    H = np.bincount(zcont[in_c], weights=hh[in_c], minlength=nc).round().astype(np.int64)
    with np.errstate(divide="ignore"):
        k_min = np.ceil(H / hi).astype(np.int64) if nc else np.zeros(0, dtype=np.int64)
        k_max = np.floor(H / lo).astype(np.int64) if nc else np.zeros(0, dtype=np.int64)
    feasible = (H >= lo) & (np.maximum(k_min, 1) <= k_max)
    if nc and zfeasible_given is None:
        # a count may fit while the buildings' sizes still admit no division (towers of 80–99
        # households cannot make groups of 100–150): such containers are infeasible as well
        # (small grids are judged by their community instead: zfeasible_given)
        bz = assigned[got]
        keep_b = zbase[bz] & (zcont[bz] >= 0)
        cont_u, hh_u = unit_households(zcont[bz][keep_b], bunit[got][keep_b], bhh[got][keep_b])
        feasible &= _packable_containers(cont_u, hh_u, lo, hi, feasible)
    zfeasible = np.where(zcont >= 0, feasible[np.maximum(zcont, 0)] if nc else False, False)
    if zfeasible_given is not None:
        zfeasible = np.asarray(zfeasible_given, dtype=bool)

    exempt = zbase & (hh > zhi) & (nunits == 1)
    if zforced is not None:  # one building proven unable to share a grid within the ceiling (flagged so)
        exempt |= zbase & np.asarray(zforced, dtype=bool) & (hh < zlo) & (nunits == 1)
    eligible = zbase & zfeasible & ~exempt
    in_range = eligible & (hh >= zlo) & (hh <= zhi)

    nparts, distinct = _parts_count(zgeom, zcont, cgeom)
    multipart = (nparts > 1) & (nparts > distinct)
    excused = (nparts > 1) & ~multipart

    area = shapely.area(zgeom)
    perim = shapely.length(zgeom)
    with np.errstate(invalid="ignore", divide="ignore"):
        pp = np.where(perim > 0, 4 * np.pi * area / perim**2, np.nan)

    beside = _beside_dedicated(zgeom, zcont, zbase, perim)

    if zalign is None or street_tree is None or len(zalign[0]) != nz:
        internal, aligned = street_alignment(zgeom, zcont, cgeom, street_tree, snap_m, segment_m)
    else:  # measured per community already (in the partition's workers); the zones without it here
        internal = np.asarray(zalign[0], dtype=float).copy()
        aligned = np.asarray(zalign[1], dtype=float).copy()
        todo = np.flatnonzero(np.isnan(internal) | np.isnan(aligned))
        if len(todo):
            internal[todo], aligned[todo] = street_alignment(zgeom[todo], zcont[todo], cgeom, street_tree, snap_m, segment_m)

    # coverage: gap, overlap (pairs of zones of the same container), spill outside the container
    zc_geom = np.full(nz, shapely.Polygon(), dtype=object)
    has = zcont >= 0
    zc_geom[has] = cgeom[zcont[has]]
    outside = shapely.area(shapely.difference(zgeom, zc_geom))
    unions = _union_by(zgeom, zcont, nc)
    gap = shapely.area(uncovered(cgeom, zgeom, zcont, unions)) if nc else np.zeros(0)
    overlap_c = np.zeros(nc)
    if nz > 1:
        i, j = shapely.STRtree(zgeom).query(zgeom, predicate="intersects")
        keep = (i < j) & (zcont[i] == zcont[j]) & (zcont[i] >= 0)
        i, j = i[keep], j[keep]
        # most pairs only touch (neighbours): overlay only those whose interiors meet (the others add 0 m²)
        meet = shapely.relate_pattern(zgeom[i], zgeom[j], "T********") if len(i) else np.zeros(0, dtype=bool)
        i, j = i[meet], j[meet]
        if len(i):
            ov = shapely.area(shapely.intersection(zgeom[i], zgeom[j]))
            overlap_c = np.bincount(zcont[i], weights=ov, minlength=nc)
    outside_c = np.bincount(zcont[has], weights=outside[has], minlength=nc)

    lost_c = np.bincount(bcont[lost], minlength=nc) if nc else np.zeros(0, dtype=np.int64)
    dc = bcont_or_zone[doubled]
    doubled_c = np.bincount(dc[dc >= 0], minlength=nc) if nc else np.zeros(0, dtype=np.int64)

    holes = _unexcused_holes(zgeom, zcont, cgeom)
    zones = pd.DataFrame({
        "zone_id": zid, "container": zcont, "base": zbase, "households": hh, "buildings": nbuild, "holes": holes,
        "feasible": zfeasible,
        "lo": zlo, "hi": zhi, "target": ztarget, "eligible": eligible, "in_range": in_range,
        "exempt": exempt, "parts": nparts, "multipart": multipart, "excused": excused,
        "area_m2": area, "polsby_popper": pp, "beside_dedicated": beside, "internal_m": internal, "aligned_m": aligned,
        "outside_m2": outside,
    })
    if zstored is not None:
        zones["stored_households"] = zstored
    containers = pd.DataFrame({
        "container_id": cid, "households": H, "feasible": feasible,
        "k_min": np.where(feasible, np.maximum(k_min, 1), -1), "k_max": np.where(feasible, k_max, -1),
        "gap_m2": gap, "overlap_m2": overlap_c, "outside_m2": outside_c,
        "buildings_lost": lost_c, "buildings_doubled": doubled_c,
    })
    return _Level(zones=zones, containers=containers, lost=int(lost.sum()), doubled=int(doubled.sum()), assigned=assigned,
                  lo_default=defaults[0], hi_default=defaults[1], target_default=defaults[2],
                  have_streets=street_tree is not None)


def _beside_dedicated(zgeom: np.ndarray, zcont: np.ndarray, zbase: np.ndarray, perim: np.ndarray) -> np.ndarray:
    """Whether each zone is a base grid with more than :data:`BESIDE_DEDICATED_SHARE` of its outline along a
    dedicated grid (专属网格) of its container."""
    out = np.zeros(len(zgeom), dtype=bool)
    ded = np.flatnonzero(~zbase & (zcont >= 0))
    if not len(ded):
        return out
    near = shapely.buffer(zgeom[ded], _BESIDE_M)
    i, j = shapely.STRtree(near).query(zgeom, predicate="intersects")
    keep = zbase[i] & (zcont[i] == zcont[ded[j]])
    i, j = i[keep], j[keep]
    if not len(i):
        return out
    along = np.bincount(i, weights=shapely.length(shapely.intersection(shapely.boundary(zgeom[i]), near[j])),
                        minlength=len(zgeom))
    return along > BESIDE_DEDICATED_SHARE * perim


def _median_pp(z: pd.DataFrame) -> float | None:
    pp = z["polsby_popper"]
    return _num(np.nanmedian(pp), 4) if pp.notna().any() else None


def _level_summary(lv: _Level, tolerance_m2: float) -> dict[str, Any]:
    z, c = lv.zones, lv.containers
    base = z[z["base"]]
    hh = base["households"].to_numpy(dtype=float)
    elig = z[z["eligible"]]
    rel = hh / base["target"].to_numpy(dtype=float)  # households relative to each grid's own target
    cv = float(np.std(rel) / np.mean(rel)) if len(rel) and np.mean(rel) > 0 else None
    mad = float(np.mean(np.abs(hh - base["target"].to_numpy()))) if len(hh) else None
    infeasible = ~c["feasible"].to_numpy()
    infeasible_ids = set(np.flatnonzero(infeasible).tolist())
    internal = float(z["internal_m"].sum())
    aligned = float(z["aligned_m"].sum()) if lv.have_streets else None
    stored_mismatch = None
    if "stored_households" in z:
        s = pd.to_numeric(z["stored_households"], errors="coerce")
        stored_mismatch = int((s.notna() & (s.round() != z["households"])).sum())
    return {
        "mixed_profiles": bool(lv.mixed_profiles),
        "min": lv.lo_default,
        "max": lv.hi_default,
        "target": lv.target_default,
        "grids": int(z["base"].sum()),
        "dedicated_grids": int((~z["base"]).sum()),
        "in_range": int(z["in_range"].sum()),
        "eligible": int(z["eligible"].sum()),
        "in_range_share": _num(z["in_range"].sum() / len(elig), 4) if len(elig) else None,
        "exemptions": int(z["exempt"].sum()),
        "below_min": int((elig["households"] < elig["lo"]).sum()),
        "above_max": int((elig["households"] > elig["hi"]).sum()),
        "infeasible_containers": int(infeasible.sum()) if lv.communities_infeasible is None else lv.communities_infeasible,
        "grids_in_infeasible": (int((z["base"] & z["container"].isin(infeasible_ids)).sum()) if lv.communities_infeasible is None
                                else int((z["base"] & ~z["feasible"]).sum())),
        "households_range": [int(hh.min()), int(hh.max())] if len(hh) else None,
        "households_cv": _num(cv, 4),
        "mean_abs_deviation": _num(mad, 2),
        "multipart": int(z["multipart"].sum()),
        "multipart_excused": int(z["excused"].sum()),
        # compactness of the base grids, as every other figure of this column; dedicated grids (专属网格: a site's
        # outline, often a compact rectangle) apart, so that they neither lift nor lower the grids' median
        "median_polsby_popper": _median_pp(base),
        # beside it, only where there are dedicated grids: the grids not bordering one (the grids beside one take the
        # ragged land the sites leave, issue 16); an added figure, the goal stays the median of all
        "median_polsby_popper_off_dedicated": _median_pp(base[~base["beside_dedicated"]])
        if (~z["base"]).any() else None,
        "beside_dedicated": int(base["beside_dedicated"].sum()),
        "polsby_popper_under_025": int((base["polsby_popper"] < 0.25).sum()),
        "dedicated_median_polsby_popper": _median_pp(z[~z["base"]]),
        "dedicated_polsby_popper_under_025": int((z.loc[~z["base"], "polsby_popper"] < 0.25).sum()),
        "grids_with_holes": int((z["holes"] > 0).sum()),
        "communities_no_small_division": lv.communities_infeasible,
        "street_aligned_share": _num(aligned / internal, 4) if aligned is not None and internal > 0 else None,
        "internal_boundary_m": _num(internal, 1),
        "gap_m2_max": _num(c["gap_m2"].max() if len(c) else 0.0, 3),
        "gap_m2_total": _num(c["gap_m2"].sum(), 3),
        "containers_with_gap": int((c["gap_m2"] > tolerance_m2).sum()),
        "overlap_m2_max": _num(c["overlap_m2"].max() if len(c) else 0.0, 3),
        "overlap_m2_total": _num(c["overlap_m2"].sum(), 3),
        "containers_with_overlap": int((c["overlap_m2"] > tolerance_m2).sum()),
        "outside_count": int((z["outside_m2"] > tolerance_m2).sum()),
        "outside_m2_total": _num(z["outside_m2"].sum(), 3),
        "buildings_lost": lv.lost,
        "buildings_doubled": lv.doubled,
        "stored_households_mismatch": stored_mismatch,
    }


@dataclass
class _Measured:
    crs: CRS
    counts: dict[str, int]
    communities: pd.DataFrame  # code, kind
    base: _Level
    small: _Level | None
    parent_community: np.ndarray  # community index of each small-grid container (grid)
    tolerance_m2: float

    def summary(self) -> dict[str, Any]:
        return {
            "crs": self.crs.to_string(),
            "counts": self.counts,
            "base": _level_summary(self.base, self.tolerance_m2),
            "small": _level_summary(self.small, self.tolerance_m2) if self.small is not None else None,
        }

    def by_community(self) -> pd.DataFrame:
        out = self.communities.copy()
        out = out.join(_per_container(self.base, self.base.containers).set_index(out.index))
        if self.small is not None:
            z = self.small.zones.copy()
            z["container"] = np.where(z["container"] >= 0, self.parent_community[np.maximum(z["container"], 0)], -1)
            cs = self.small.containers.copy()
            cs["community"] = self.parent_community
            cs = cs[cs["community"] >= 0]
            agg = cs.groupby("community")[["gap_m2", "overlap_m2", "outside_m2", "buildings_lost", "buildings_doubled"]].sum()
            lv = _Level(zones=z, containers=agg.reindex(range(len(out)), fill_value=0).reset_index(drop=True),
                        lost=self.small.lost, doubled=self.small.doubled, lo_default=self.small.lo_default,
                        hi_default=self.small.hi_default, target_default=self.small.target_default,
                        have_streets=self.small.have_streets)
            small = _per_container(lv, lv.containers)
            small = small.drop(columns=["dedicated_grids"])
            small.columns = [f"small_{c}" for c in small.columns]
            out = out.join(small.set_index(out.index))
        return out.set_index("community_code")


def _per_container(lv: _Level, cont: pd.DataFrame) -> pd.DataFrame:
    z = lv.zones
    n = len(cont)
    zc = z[z["container"] >= 0]
    base = zc[zc["base"]]
    g = base.groupby("container")
    dev = (base["households"] - base["target"]).abs().groupby(base["container"]).mean()
    mean = g["households"].mean()
    std = g["households"].std(ddof=0)
    aligned = zc.groupby("container")["aligned_m"].sum()
    internal = zc.groupby("container")["internal_m"].sum()
    idx = pd.RangeIndex(n)
    out = pd.DataFrame(index=idx)
    if "households" in cont:
        out["households"] = cont["households"].to_numpy()
        out["feasible"] = cont["feasible"].to_numpy()
        out["k_min"] = cont["k_min"].to_numpy()
        out["k_max"] = cont["k_max"].to_numpy()
    out["grids"] = g.size().reindex(idx, fill_value=0).astype(int)
    out["dedicated_grids"] = zc[~zc["base"]].groupby("container").size().reindex(idx, fill_value=0).astype(int)
    for col in ("in_range", "eligible"):
        out[col] = zc.groupby("container")[col].sum().reindex(idx, fill_value=0).astype(int)
    out["exemptions"] = zc.groupby("container")["exempt"].sum().reindex(idx, fill_value=0).astype(int)
    out["households_cv"] = (std / mean.where(mean > 0)).reindex(idx).round(4)
    out["mean_abs_deviation"] = dev.reindex(idx).round(2)
    out["multipart"] = zc.groupby("container")["multipart"].sum().reindex(idx, fill_value=0).astype(int)
    out["multipart_excused"] = zc.groupby("container")["excused"].sum().reindex(idx, fill_value=0).astype(int)
    out["median_polsby_popper"] = g["polsby_popper"].median().reindex(idx).round(4)  # base grids, as the summary
    share = (aligned / internal.where(internal > 0)).reindex(idx)
    out["street_aligned_share"] = share.round(4) if lv.have_streets else np.nan
    for col in ("gap_m2", "overlap_m2", "outside_m2"):
        out[col] = cont[col].to_numpy().round(3)
    for col in ("buildings_lost", "buildings_doubled"):
        out[col] = cont[col].to_numpy().astype(int)
    return out


def _measure(
    communities: gpd.GeoDataFrame,
    grids: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    *,
    streets: gpd.GeoDataFrame | None,
    subgrids: gpd.GeoDataFrame | None,
    rules: Rules | str | None,
    tolerance_m2: float,
    building_share: float,
    segment_m: float,
    alignment: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> _Measured:
    require_layers(_FUNC, {"communities": communities, "grids": grids, "buildings": buildings, "streets": streets,
                           "subgrids": subgrids}, required=("communities", "grids", "buildings"))
    if not 0 < building_share <= 0.5:
        msg = f"{_FUNC}: building_share must be in (0, 0.5], got {building_share!r}; the default is {BUILDING_SHARE_MIN}"
        raise InputError(msg)
    if not segment_m > 0:
        msg = f"{_FUNC}: segment_m must be > 0, got {segment_m!r}; the default is 1.0"
        raise InputError(msg)
    rules = load_rules(rules)
    crs = communities.crs if is_metric(communities.crs) else metric_crs(communities)

    ccode_col = _first_column(communities, ("code", "community_code"))
    if ccode_col is None:
        msg = f"{_FUNC}: communities need a 'code' column (12-digit community code); found {list(communities.columns)}"
        raise InputError(msg)
    if "households" not in buildings.columns and "floors" not in buildings.columns:
        msg = (
            f"{_FUNC}: buildings need a 'households' (or 'floors') column; found {list(buildings.columns)}; "
            "estimate households with gridgeo.households.assign_households"
        )
        raise InputError(msg)
    ccode = communities[ccode_col].astype(str).to_numpy()
    ckind = (communities["kind"].fillna("urban").astype(str).to_numpy() if "kind" in communities
             else np.full(len(communities), "urban", dtype=object))
    cgeom, bad_c = _valid(_geoms(communities, crs))

    # bounds per community (rural villages measured against the rural profile)
    kinds = {k: rules_for_kind(rules, k) for k in set(ckind.tolist())}
    # the bounds the report's headings name: those of the communities' one profile, when they share one
    profiles = {(r.grid_min, r.grid_max, r.subgrid_min, r.subgrid_max) for r in kinds.values()}
    dr = next(iter(kinds.values())) if len(profiles) == 1 else rules
    mixed = len(profiles) > 1
    lo = np.array([kinds[k].grid_min for k in ckind], dtype=np.int64)
    hi = np.array([kinds[k].grid_max for k in ckind], dtype=np.int64)
    tg = np.array([kinds[k].grid_target for k in ckind], dtype=np.int64)

    bgeom = _geoms(buildings, crs)
    bgeom = np.where(shapely.is_missing(bgeom), shapely.Point(), bgeom)
    bhh = households_of(buildings, metric=crs, rules=rules)  # nulls estimated as the partition estimates them
    barea = shapely.area(bgeom)

    street_tree = None
    if streets is not None and len(streets):
        sg = _geoms(streets, crs)
        sg = sg[~(shapely.is_missing(sg) | shapely.is_empty(sg))]
        street_tree = shapely.STRtree(sg) if len(sg) else None
    # street_tree stays None without streets: alignment is then reported as None

    # ---- base grids in communities
    gid_col = _first_column(grids, ("grid_code", "grid_id"))
    zgeom, bad_g = _valid(_geoms(grids, crs))
    zid = grids[gid_col].astype(str).to_numpy() if gid_col else np.arange(len(grids)).astype(str)
    code_index = {c: i for i, c in enumerate(ccode)}
    if "community_code" in grids.columns:
        zcont = np.array([code_index.get(str(c), -1) for c in grids["community_code"]], dtype=np.int64)
    else:
        zcont = _largest_overlap(zgeom, cgeom)
    zkind = grids["kind"].fillna("base").astype(str).to_numpy() if "kind" in grids else np.full(len(grids), "base")
    zbase = zkind != "dedicated"
    # the flag is the engine's claim stored in the plan (community.forced_under_floor), taken as given (only
    # on a base grid of one unit under the floor), not proved again here: a hand-edited layer's flag is trusted
    zforced = (grids["flags"].fillna("").astype(str).str.contains(FORCED_UNDER_FLOOR, regex=False).to_numpy()
               if "flags" in grids else None)
    stored = grids["households"].to_numpy() if "households" in grids else None
    bunit = unit_labels(buildings, rules=rules, households=bhh)  # as the partition finds them when the layer has none
    common = dict(bgeom=bgeom, barea=barea, bhh=bhh, bunit=bunit, street_tree=street_tree,
                  snap_m=rules.street_snap_m, tolerance_m2=tolerance_m2, building_share=building_share,
                  segment_m=segment_m)
    # each building's community, by the one assignment: for the base level and the counts alike
    bcomm = assign_to_zones(bgeom, cgeom, share_min=building_share).zone if len(cgeom) else np.full(len(bgeom), -1)
    base = _measure_level(zgeom=zgeom, zid=zid, zcont=zcont, zbase=zbase, zstored=stored, cgeom=cgeom, cid=ccode,
                          bcont=bcomm,
                          lo=lo, hi=hi, target=tg, defaults=(dr.grid_min, dr.grid_max, dr.grid_target),
                          bstored=buildings[gid_col].to_numpy() if gid_col and gid_col in buildings.columns else None,
                          zalign=(alignment or {}).get("grids") if segment_m == 1.0 else None, zforced=zforced,
                          zcomm=zcont, **common)
    base.mixed_profiles = mixed

    # ---- small grids in their parent grids
    small = None
    parent_comm = np.zeros(0, dtype=np.int64)
    bad_s = 0
    if subgrids is not None:
        # the parent: by an id column both layers have, else the grid holding the largest part
        parent_col = next((c for c in ("grid_code", "grid_id") if c in subgrids.columns and c in grids.columns), None)
        sid_col = _first_column(subgrids, ("subgrid_code", "subgrid_id"))
        sgeom, bad_s = _valid(_geoms(subgrids, crs))
        if parent_col is None:
            spar = _largest_overlap(sgeom, zgeom)
        else:
            gidx = {str(g): i for i, g in enumerate(grids[parent_col])}
            spar = np.array([gidx.get(str(p), -1) for p in subgrids[parent_col]], dtype=np.int64)
        # containers: base grids, and dedicated grids that were divided
        divided = np.zeros(len(zgeom), dtype=bool)
        divided[spar[spar >= 0]] = True
        is_cont = zbase | divided
        cont_index = np.full(len(zgeom), -1, dtype=np.int64)
        cont_index[is_cont] = np.arange(is_cont.sum())
        scont = np.where(spar >= 0, cont_index[np.maximum(spar, 0)], -1)
        pc = zcont[is_cont]
        pkinds = np.where(pc >= 0, ckind[np.maximum(pc, 0)] if len(ckind) else "urban", "urban")
        slo = np.array([kinds.get(k, rules).subgrid_min for k in pkinds], dtype=np.int64)
        shi = np.array([kinds.get(k, rules).subgrid_max for k in pkinds], dtype=np.int64)
        stg = np.array([kinds.get(k, rules).subgrid_target for k in pkinds], dtype=np.int64)
        sid = subgrids[sid_col].astype(str).to_numpy() if sid_col else np.arange(len(subgrids)).astype(str)
        sstored = subgrids["households"].to_numpy() if "households" in subgrids else None
        parent_comm = zcont[is_cont]
        # honest small grids: a small grid is excused only when the units of its whole community admit
        # no division into small grids (whatever base grids were drawn), not when its parent does not
        comm_small_ok = _community_small_feasible(base, bunit, bhh, zcont, zbase, ckind, kinds, rules, len(cgeom))
        scomm = np.where(scont >= 0, parent_comm[np.maximum(scont, 0)] if len(parent_comm) else -1, -1)
        sfeas = np.where(scomm >= 0, comm_small_ok[np.maximum(scomm, 0)] if len(comm_small_ok) else False, False)
        small = _measure_level(zgeom=sgeom, zid=sid, zcont=scont, zbase=np.ones(len(sgeom), dtype=bool),
                               zstored=sstored, cgeom=zgeom[is_cont], cid=zid[is_cont], lo=slo, hi=shi, target=stg,
                               defaults=(dr.subgrid_min, dr.subgrid_max, dr.subgrid_target),
                               zfeasible_given=sfeas,
                               bstored=buildings[sid_col].to_numpy() if sid_col and sid_col in buildings.columns else None,
                               zalign=(alignment or {}).get("subgrids") if segment_m == 1.0 else None,
                               zcomm=scomm, **common)
        small.communities_infeasible = int((~comm_small_ok[np.unique(scomm[scomm >= 0])]).sum()) if (scomm >= 0).any() else 0
        small.mixed_profiles = mixed

    inside = bcomm >= 0
    counts = {
        "communities": len(communities),
        "grids": len(grids),
        "base_grids": int(zbase.sum()),
        "dedicated_grids": int((~zbase).sum()),
        "small_grids": len(subgrids) if subgrids is not None else 0,
        "buildings": len(buildings),
        "households": int(round(bhh.sum())),
        "buildings_outside_communities": int((~inside).sum()),
        "households_outside_communities": int(round(bhh[~inside].sum())),
        "invalid_geometries": int(bad_c + bad_g + bad_s),
    }
    comm = pd.DataFrame({"community_code": ccode, "kind": ckind})
    return _Measured(crs=crs, counts=counts, communities=comm, base=base, small=small,
                     parent_community=parent_comm, tolerance_m2=tolerance_m2)
