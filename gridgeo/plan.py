"""The plan: one GeoPackage holding every layer of a run, its findings and its metadata.

Layers are stored in CGCS2000 geographic coordinates (EPSG:4490). Reprojecting can make a thin sliver
invalid, so polygon layers are checked (and mended) after the final reprojection. Metadata (gridgeo
version, rules, input fingerprints, metrics …) is a non-spatial table ``gridgeo_metadata`` of
``key``/``value`` rows, values as JSON. Writes are atomic: a temporary file in the target folder is
renamed over the target only when complete; an existing file is never replaced without ``force``.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from ._errors import InputError, PlanExistsError
from ._face import force_option
from ._geometry import make_valid
from .crs import STORAGE_CRS
from .io import atomic_write

#: longest edge piece (metres) of a stored tiling polygon: straight in metres, a 50 m piece bends well
#: under 0.1 mm away from straight in degrees
STRAIGHT_SEGMENT_M = 50.0

__all__ = ["Plan", "LAYER_ORDER", "METADATA_TABLE", "write_gpkg_atomic"]

#: order of layers in a plan file
LAYER_ORDER = ("communities", "blocks", "grids", "subgrids", "dedicated", "buildings", "streets", "findings")
METADATA_TABLE = "gridgeo_metadata"


@dataclass
class Plan:
    """Layers of a run (GeoDataFrames by name) and its metadata (JSON-serialisable dict).

    Examples
    --------
    >>> from shapely import box
    >>> import tempfile, os
    >>> c = gpd.GeoDataFrame({"code": ["420103001001"]}, geometry=[box(114.2, 30.5, 114.3, 30.6)], crs=4490)
    >>> p = Plan({"communities": c}, {"note": "demo"})
    >>> path = os.path.join(tempfile.mkdtemp(), "plan.gpkg")
    >>> p.write(path)
    >>> back = Plan.read(path)
    >>> back.metadata["note"], list(back.layers)
    ('demo', ['communities'])
    """

    layers: dict[str, gpd.GeoDataFrame]
    metadata: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> gpd.GeoDataFrame:
        if name not in self.layers:
            msg = f"plan has no layer {name!r}; layers: {list(self.layers)}"
            raise KeyError(msg)
        return self.layers[name]

    # ------------------------------------------------------------------ the layers, by name

    @property
    def communities(self) -> gpd.GeoDataFrame:
        """The communities (社区 / 村) the plan divides: ``code``, ``name``, ``kind``."""
        return self["communities"]

    @property
    def blocks(self) -> gpd.GeoDataFrame:
        """Street-bounded blocks (街巷定界) with their households."""
        return self["blocks"]

    @property
    def grids(self) -> gpd.GeoDataFrame:
        """Base grids (网格): ``grid_code``, ``community_code``, ``households``, ``buildings``, ``flags``."""
        return self["grids"]

    @property
    def subgrids(self) -> gpd.GeoDataFrame:
        """Small grids (小网格 / 居民小组) nested in the base grids: ``subgrid_code``, ``grid_code``, ..."""
        return self["subgrids"]

    @property
    def buildings(self) -> gpd.GeoDataFrame:
        """Buildings (楼栋) with households, footprint unit, block, grid and small-grid codes."""
        return self["buildings"]

    @property
    def findings(self) -> gpd.GeoDataFrame:
        """Every rule problem the run met (``type``, ``severity``, ``feature_id``, ``message``, a place)."""
        return self["findings"]

    # ------------------------------------------------------------------ figures and checks

    def quality(self, *, recompute: bool = False, streets: Any = None) -> pd.DataFrame:
        """The quality table of ``gridgeo report`` (DESIGN §5) as a DataFrame, one row per figure.

        By default the figures stored when the plan was made (``metadata["quality"]``, what ``gridgeo
        report`` prints): grids edited in memory since do not change them. ``recompute=True`` measures
        the plan's layers as they are now (:func:`gridgeo.partition.metrics.quality` on its communities,
        grids, small grids and buildings, in the metric CRS it was computed in, with its rules); the
        street-aligned share needs ``streets`` (a layer as :func:`gridgeo.divide` takes it), else it is n/a.
        Columns ``base grids`` and ``small grids`` hold the figures as the report shows them.

        >>> Plan({}, {"quality": {"base": None, "small": None}}).quality().loc["grids"].tolist()
        ['n/a', 'n/a']
        """
        from .partition.metrics import quality_rows

        rows = quality_rows(self._measured_quality(streets) if recompute else stored_quality(self))
        frame = pd.DataFrame(rows, columns=["figure", "base grids", "small grids"])
        frame["figure"] = frame["figure"].str.strip()
        return frame.set_index("figure")

    def _measured_quality(self, streets: Any = None) -> dict[str, Any]:
        """The quality figures of the plan's layers as they are now (:meth:`quality` with ``recompute``)."""
        from .partition.metrics import quality
        from .rules import Rules

        if "grids" not in self.layers or "buildings" not in self.layers or "communities" not in self.layers:
            msg = "quality(recompute=True) needs the plan's communities, grids and buildings; run `gridgeo partition`"
            raise InputError(msg)
        layers = {k: self.layers[k] for k in ("communities", "grids", "subgrids", "buildings") if k in self.layers}
        if streets is not None:
            from .api import _layer

            layers["streets"] = _layer(streets, "streets")
        metric = self.metadata.get("metric_crs")
        if metric:
            layers = {k: (v.to_crs(metric) if v.crs is not None else v) for k, v in layers.items()}
        rules = Rules.from_dict(self.metadata["rules"], source="the plan's metadata") if "rules" in self.metadata else None
        return quality(layers.pop("communities"), layers.pop("grids"), layers.pop("buildings"), rules=rules, **layers)

    def validate(self, **options: Any) -> gpd.GeoDataFrame:
        """Findings of ``gridgeo validate PLAN``: :func:`gridgeo.validate.validate_plan` on this plan.

        The plan is checked in the metric CRS it was computed in, with its own rules and code scheme.
        ``options`` are those of :func:`~gridgeo.validate.validate_plan` (``rules``, ``communities``,
        ``buildings``, ``streets``, ``subgrids``, ``gap_width_m``, ``width_tolerance_m`` ...).
        """
        from .validate import validate_plan

        return validate_plan(self, **options)

    def to_file(self, path: str | Path, *, force: bool = False) -> None:
        """Write the plan to one GeoPackage (:meth:`write`; atomic, never over a file without ``force``).

        >>> import os, tempfile
        >>> from shapely import box
        >>> c = gpd.GeoDataFrame({"code": ["420103001001"]}, geometry=[box(114.2, 30.5, 114.3, 30.6)], crs=4490)
        >>> path = os.path.join(tempfile.mkdtemp(), "plan.gpkg")
        >>> Plan({"communities": c}, {"stage": "blocks"}).to_file(path)
        >>> Plan.read(path).communities["code"].tolist()
        ['420103001001']
        """
        self.write(path, force=force)

    def explore(self, **kwargs: Any) -> Any:
        """An interactive folium map of the grids, with the small grids as a second layer.

        Keywords go to :meth:`geopandas.GeoDataFrame.explore` for the grids (defaults: coloured by
        ``households``, a tooltip with the code and counts); pass ``tiles=None`` for a blank background
        (the sample town's streets are synthetic). Needs matplotlib and mapclassify
        (``pip install 'gridgeo[notebook]'``).

        Returns
        -------
        folium.Map
        """
        from ._explore import explore_plan

        return explore_plan(self, **kwargs)

    def map(self, **options: Any) -> Any:
        """The public grid map (网格示意图) as a :class:`folium.Map`: :func:`gridgeo.maps.grid_map`.

        Options: ``roster``, ``tiles`` (osm/tianditu/amap/none), ``public``, ``lang``, ``streets``,
        ``supervision_phone`` ...; :func:`gridgeo.publish_map` writes it as a site.
        """
        from .maps import grid_map

        return grid_map(self, **options)

    def __eq__(self, other: object) -> bool:
        """Same layers (names, order, columns, dtypes, CRS, rows, geometries) and the same metadata.

        The generated dataclass comparison compared the layer dicts, which asks pandas for the truth value of a
        DataFrame and raises; ``plan == gridgeo.read_plan(path)`` is how a notebook checks a plan read back."""
        if not isinstance(other, Plan):
            return NotImplemented
        if list(self.layers) != list(other.layers) or self.metadata != other.metadata:
            return False
        return all(_layer_equal(self.layers[name], other.layers[name]) for name in self.layers)

    __hash__ = None  # type: ignore[assignment]  # mutable, like the DataFrames it holds

    def __repr__(self) -> str:
        counts = ", ".join(f"{name} {len(gdf):,}" for name, gdf in self.layers.items())
        return f"<gridgeo Plan (stage {self.metadata.get('stage', '?')}): {counts or 'no layers'}>"

    def _repr_html_(self) -> str:
        from ._explore import plan_html

        return plan_html(self)

    def write(self, path: str | Path, *, force: bool = False) -> None:
        """Write every layer (reprojected to EPSG:4490) and the metadata to one GeoPackage, atomically.

        Before reprojecting, polygons of the tiling layers get the vertices their neighbours have on
        their edges (T-junctions), so shared edges stay identical in the stored coordinates, and their
        edges are cut into pieces of at most :data:`STRAIGHT_SEGMENT_M`: an edge straight in metres is
        then where it was for a reader that takes the stored edges as straight in degrees (a 6 km edge
        would otherwise bend decimetres away from the grids along it, which have more vertices).
        """
        write_gpkg_atomic(path, self.stored().layers, metadata=self.metadata, force=force)

    def stored(self) -> "Plan":
        """The plan exactly as :meth:`write` stores it (EPSG:4490, shared vertices, 50 m edge pieces,
        polygons valid in degrees and in the CRS they were computed in, one part as ``Polygon``).

        ``gridgeo partition`` validates this before writing, so that what is checked is what is stored.
        The stored layers are kept (:func:`keep_stored`), so that writing after the check does not compute
        them again, as long as the layers' content is unchanged (a digest of every layer).
        """
        cached = getattr(self, "_stored", None)
        if cached is not None and cached[0] is not None and cached[0] == _layers_key(self.layers):
            return Plan(dict(cached[1]), dict(self.metadata))
        # one layer at a time (each is snapped and densified on its own): only that layer's metric
        # intermediates are held beside the stored layers, not a snapped and a densified copy of the whole city
        stored = {}
        for name, gdf in self.layers.items():
            stored[name] = _geometry_last(to_storage(densify(share_vertices({name: gdf}))[name]))
        return Plan(stored, dict(self.metadata))

    @classmethod
    def read(cls, path: str | Path) -> "Plan":
        """Read a plan written by :meth:`write`."""
        p = Path(path)
        if not p.exists():
            msg = f"plan file not found: {path}; run `gridgeo partition ... --out {path}` first"
            raise InputError(msg)
        try:
            names = [str(n) for n in pyogrio.list_layers(p)[:, 0]]
        except Exception as exc:  # noqa: BLE001
            if p.is_dir() or p.suffix.lower() != ".gpkg":  # an export's folder or file: GDAL's words are no help
                what = "a folder" if p.is_dir() else f"a {p.suffix or 'suffix-less'} file"
                msg = (f"{path} is {what}, not a plan: give the plan GeoPackage `gridgeo partition` wrote (an export is "
                       "for other systems; `gridgeo validate` checks its grids)")
            else:
                msg = f"cannot read plan {path}: {' '.join(str(exc).split())}; give a GeoPackage written by gridgeo"
            raise InputError(msg) from None
        if METADATA_TABLE not in names:
            msg = (f"{path} is not a gridgeo plan (no {METADATA_TABLE} table; layers: {names}); use `gridgeo info` for "
                   "other files, and the plan GeoPackage `gridgeo partition` wrote, not an export of it, here")
            raise InputError(msg)
        meta_df = pyogrio.read_dataframe(p, layer=METADATA_TABLE)
        metadata = {k: json.loads(v) for k, v in zip(meta_df["key"], meta_df["value"], strict=True)}
        dtypes = metadata.get("_dtypes", {})
        layers = {}
        for name in metadata.get("_layers", [n for n in names if n != METADATA_TABLE]):
            gdf = pyogrio.read_dataframe(p, layer=name)
            layers[name] = _restore_dtypes(gdf, dtypes.get(name, {}))
        metadata.pop("_dtypes", None)
        metadata.pop("_layers", None)
        return cls(layers, metadata)


def _layers_key(layers: dict[str, gpd.GeoDataFrame]) -> tuple | None:
    """What identifies a plan's layers for :func:`keep_stored`: each layer's columns, length and a digest
    of its content (attributes, index and geometry as WKB), so that a layer edited in place after the
    check is stored afresh. ``None`` (never equal to a kept key) when an attribute cannot be hashed."""
    key = []
    for name, gdf in layers.items():
        digest = hashlib.blake2b(digest_size=16)
        try:
            attrs = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
            digest.update(pd.util.hash_pandas_object(attrs, index=True).to_numpy().tobytes())
        except TypeError:  # unhashable cells (lists, dicts): no reuse
            return None
        for wkb in shapely.to_wkb(gdf.geometry.to_numpy()):
            digest.update(b"\0" if wkb is None else wkb)
        key.append((name, tuple(map(str, gdf.columns)), len(gdf), digest.hexdigest()))
    return tuple(key)


def _layer_equal(a: gpd.GeoDataFrame, b: gpd.GeoDataFrame) -> bool:
    """Two layers equal in columns, dtypes, index, CRS, attributes and geometry (as in
    ``geopandas.testing.assert_geodataframe_equal``: equal point sets; a missing place, ``None`` or empty, counts as
    the same)."""
    if list(a.columns) != list(b.columns) or len(a) != len(b) or not a.index.equals(b.index):
        return False
    if getattr(a, "crs", None) != getattr(b, "crs", None):
        return False
    geom = a.geometry.name if isinstance(a, gpd.GeoDataFrame) else None
    if geom is not None and (not isinstance(b, gpd.GeoDataFrame) or b.geometry.name != geom):
        return False
    cols = [c for c in a.columns if c != geom]
    if not pd.DataFrame(a[cols]).equals(pd.DataFrame(b[cols])):
        return False
    if geom is None:
        return True
    ga, gb = a.geometry.to_numpy(), b.geometry.to_numpy()
    nil_a = shapely.is_missing(ga) | shapely.is_empty(ga)
    nil_b = shapely.is_missing(gb) | shapely.is_empty(gb)
    if not (nil_a == nil_b).all():
        return False
    ga, gb = ga[~nil_a], gb[~nil_a]
    same = shapely.equals_identical(ga, gb)  # a one-part MultiPolygon read back as written, or the reverse:
    return bool(same.all() or shapely.equals(ga[~same], gb[~same]).all())  # equal as geopandas' testing has it


def keep_stored(plan: Plan, stored: Plan) -> Plan:
    """``plan`` remembering ``stored`` (its :meth:`Plan.stored` layers), which :meth:`Plan.write` then reuses.

    A plan whose layers then change (replaced, or edited in place: attributes, geometry, columns or
    length) stores them afresh.
    """
    object.__setattr__(plan, "_stored", (_layers_key(plan.layers), dict(stored.layers)))
    return plan


def _geometry_last(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The columns in the order a GeoPackage gives them back: the geometry last."""
    name = gdf.geometry.name
    if gdf.columns[-1] == name:
        return gdf
    return gdf[[c for c in gdf.columns if c != name] + [name]]


def stored_quality(plan: Plan) -> dict[str, Any]:
    """The quality figures stored in a partitioned plan's metadata; an error for a plan without grids."""
    q = plan.metadata.get("quality")
    if q is None:
        msg = "this plan has no quality figures (stage blocks); run `gridgeo partition` to make grids"
        raise InputError(msg)
    return q


#: a polygon part under this share of its feature's area is a degenerate left-over, not land
_NIL_AREA_SHARE = 1e-9
_SLIVER_SHARE = 1e-6

#: polygon layers that tile space together (their edges must stay shared after reprojection)
TILING_LAYERS = ("communities", "blocks", "grids", "subgrids", "dedicated")


def _projected_tiling(layers: dict[str, gpd.GeoDataFrame]):
    """(name, layer) of the non-empty tiling layers in a projected CRS: the ones reprojecting can bend."""
    for name in TILING_LAYERS:
        gdf = layers.get(name)
        if gdf is not None and len(gdf) and gdf.crs is not None and gdf.crs.is_projected:
            yield name, gdf


#: a spike (a ring going out and straight back along itself) narrower than this is no land: a round trip through
#: degrees folds it over itself, and mending one polygon alone would part it from its neighbour
_SPIKE_WIDTH_M = 1e-6


def without_spikes(geoms: np.ndarray, width: float) -> np.ndarray:
    """Polygons with every spike narrower than ``width`` taken out of their rings.

    A spike is a vertex where the ring turns back (its two edges point away from each other) and the far end
    of the shorter edge lies within ``width`` of the longer edge's line. Two polygons sharing the spike's
    edges have the same three vertices, run the other way, so both lose it and stay an exact coverage.
    Valid in metres by a hair, such a spike is a self-intersection after a round trip through degrees, and
    :func:`to_storage` then mended each polygon alone, parting it from its neighbours (found by hypothesis).

    >>> from shapely import Polygon
    >>> p = Polygon([(0, 0), (10, 0), (10, 10), (5, 10), (5, 20), (5, 10 + 1e-9), (0, 10)])
    >>> without_spikes(np.array([p]), 1e-6)[0].wkt
    'POLYGON ((0 0, 10 0, 10 10, 5 10, 0 10, 0 0))'
    """
    geoms = np.asarray(geoms, dtype=object)
    poly = np.flatnonzero(np.isin(shapely.get_type_id(geoms), (3, 6)) & ~shapely.is_empty(geoms))
    if not len(poly):
        return geoms
    rings = shapely.get_rings(shapely.get_parts(geoms[poly]))
    if not _has_spike(shapely.get_coordinates(rings), shapely.get_num_coordinates(rings), width):
        return geoms
    out = geoms.copy()
    for i in poly:
        parts = shapely.get_parts(geoms[i])
        fixed, changed = [], False
        for part in parts:
            shell = _ring_without_spikes(np.asarray(part.exterior.coords), width)
            holes = [_ring_without_spikes(np.asarray(r.coords), width) for r in part.interiors]
            changed |= shell is not None or any(h is not None for h in holes)
            if shell is not None and len(shell) < 4:
                fixed.append(part)  # nothing but spike: left as it is
                continue
            keep = [h if h is not None else np.asarray(r.coords) for h, r in zip(holes, part.interiors, strict=True)]
            fixed.append(shapely.Polygon(shell if shell is not None else part.exterior.coords,
                                         [h for h in keep if len(h) >= 4]))
        if changed:
            out[i] = fixed[0] if shapely.get_type_id(geoms[i]) == 3 else shapely.MultiPolygon(fixed)
    return out


def _spikes(xy: np.ndarray, width: float, prev: np.ndarray | None = None, nxt: np.ndarray | None = None) -> np.ndarray:
    """Which points ``xy`` are spike tips, ``prev`` and ``nxt`` being the points before and after each along its
    ring; without them ``xy`` is one closed ring's distinct points (no closing point)."""
    prev = np.roll(xy, 1, axis=0) if prev is None else prev
    nxt = np.roll(xy, -1, axis=0) if nxt is None else nxt
    e1, e2 = xy - prev, nxt - xy
    dot = (e1 * e2).sum(axis=1)
    cross = np.abs(e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0])
    longest = np.maximum(np.hypot(*e1.T), np.hypot(*e2.T))
    return (dot < 0) & (cross <= width * longest)


def _has_spike(coords: np.ndarray, counts: np.ndarray, width: float) -> bool:
    """Whether any of the closed rings (``coords`` one after the other, ``counts`` points each) has a spike."""
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    some = counts > 3  # rings of fewer points have none to take
    start, counts = start[some], counts[some]
    if not len(counts):
        return False
    n = counts - 1  # distinct points per ring
    ring = np.repeat(np.arange(len(counts)), n)
    k = np.arange(len(ring)) - np.repeat(np.cumsum(n) - n, n)  # 0 .. n-1 within each ring
    at = start[ring] + k
    prev = start[ring] + (k - 1) % n[ring]
    nxt = start[ring] + (k + 1) % n[ring]
    return bool(_spikes(coords[at], width, coords[prev], coords[nxt]).any())


def _ring_without_spikes(coords: np.ndarray, width: float) -> np.ndarray | None:
    """The closed ring ``coords`` without its spike tips (removed until none is left); ``None`` if it has none."""
    xy = coords[:-1, :2]
    changed = False
    while len(xy) > 2:
        tips = np.flatnonzero(_spikes(xy, width))
        if not len(tips):
            break
        xy = np.delete(xy, tips[:1], axis=0)  # one at a time: removing a tip changes its neighbours' turns
        changed = True
    if not changed:
        return None
    return np.vstack([xy, xy[:1]])


def share_vertices(layers: dict[str, gpd.GeoDataFrame], *, tolerance_m: float = 1e-7) -> dict[str, gpd.GeoDataFrame]:
    """Insert into every tiling polygon the vertices its own layer has on its edges (T-junctions).

    A straight edge in metres is not straight in degrees: where one grid has a vertex in the middle of
    its neighbour's edge (a T-junction), reprojecting both would open a hairline gap or overlap.
    With the vertex in both, both reproject it identically. Each layer is treated on its own (its
    vertices come from one noding); only layers in a projected CRS change.

    >>> from shapely import box
    >>> g = gpd.GeoDataFrame({"grid_code": ["a", "b", "c"]},
    ...                      geometry=[box(0, 0, 10, 10), box(10, 0, 20, 5), box(10, 5, 20, 10)], crs=4547)
    >>> len(share_vertices({"grids": g})["grids"].geometry.iloc[0].exterior.coords)
    6
    """
    out = dict(layers)
    for name, gdf in _projected_tiling(layers):
        geoms = without_spikes(gdf.geometry.to_numpy(), _SPIKE_WIDTH_M / float(gdf.crs.axis_info[0].unit_conversion_factor or 1.0))
        if not len(geoms):
            continue
        # the distinct vertices, sorted by x then y (as np.unique(..., axis=0), through a complex view: faster)
        xy = np.ascontiguousarray(shapely.get_coordinates(geoms), dtype=np.float64)
        coords = np.unique(xy.view(np.complex128).ravel()).view(np.float64).reshape(-1, 2)
        tree = shapely.STRtree(shapely.points(coords))
        gi, pi = tree.query(shapely.boundary(geoms), predicate="dwithin", distance=tolerance_m)
        if len(gi) == 0:
            out[name] = gdf.set_geometry(gpd.GeoSeries(geoms, index=gdf.index, crs=gdf.crs))
            continue
        order = np.argsort(gi, kind="stable")
        gi, pi = gi[order], pi[order]
        starts = np.flatnonzero(np.r_[True, gi[1:] != gi[:-1]])
        ends = np.r_[starts[1:], len(gi)]
        idx = gi[starts]
        refs = shapely.multipoints(coords[pi], indices=np.repeat(np.arange(len(starts)), ends - starts))
        snapped = geoms.copy()
        snapped[idx] = shapely.snap(geoms[idx], refs, tolerance_m)
        out[name] = gdf.set_geometry(gpd.GeoSeries(snapped, index=gdf.index, crs=gdf.crs))
    return out


def densify(layers: dict[str, gpd.GeoDataFrame], *, max_m: float = STRAIGHT_SEGMENT_M) -> dict[str, gpd.GeoDataFrame]:
    """Divide the polygon edges of the projected tiling layers into equal pieces of at most ``max_m``.

    The points depend on the segment only, not on the direction a ring runs along it (they are
    computed from its lexicographically lower end), so two polygons sharing an edge get the very same
    points and stay an exact coverage. See :meth:`Plan.write`.

    >>> from shapely import box
    >>> g = gpd.GeoDataFrame({"grid_code": ["a", "b"]}, geometry=[box(0, 0, 120, 10), box(0, 10, 120, 20)], crs=4547)
    >>> d = densify({"grids": g})["grids"].geometry
    >>> len(d.iloc[0].exterior.coords), bool(shapely.coverage_is_valid(d.to_numpy()))
    (9, True)
    """
    out = dict(layers)
    for name, gdf in _projected_tiling(layers):
        step = max_m / float(gdf.crs.axis_info[0].unit_conversion_factor or 1.0)
        geoms = gdf.geometry.to_numpy()
        todo = np.flatnonzero(np.isin(shapely.get_type_id(geoms), (3, 6)))  # polygons, multipolygons
        todo = todo[~shapely.is_empty(geoms[todo])]
        if not len(todo):
            continue
        dense = geoms.copy()
        dense[todo] = _densify_polygons(geoms[todo], step)
        out[name] = gdf.set_geometry(gpd.GeoSeries(dense, index=gdf.index, crs=gdf.crs))
    return out


def _densify_polygons(geoms: np.ndarray, step: float) -> np.ndarray:
    """Polygons and multipolygons (non-empty) with every edge cut into pieces of at most ``step``."""
    was_polygon = shapely.get_type_id(geoms) == 3
    kind, coords, offsets = shapely.to_ragged_array(shapely.force_2d(geoms))  # multipolygons if any
    ring_off = offsets[0]
    n_rings = len(ring_off) - 1
    ring_of = np.repeat(np.arange(n_rings), np.diff(ring_off))
    last = np.zeros(len(coords), dtype=bool)
    last[ring_off[1:] - 1] = True  # a ring's closing point starts no segment
    a = coords[:-1][~last[:-1]]
    b = coords[1:][~last[:-1]]
    seg_ring = ring_of[:-1][~last[:-1]]
    # pieces per segment; the slack keeps a piece of exactly ``step`` (come back from degrees a hair
    # longer) in one piece, so writing a plan again adds no vertices
    n = np.maximum(1, np.ceil(np.hypot(*(b - a).T) / step - 1e-6)).astype(np.int64)
    # the lower end (x, then y) of each segment: both directions compute from it
    a_low = (a[:, 0] < b[:, 0]) | ((a[:, 0] == b[:, 0]) & (a[:, 1] <= b[:, 1]))
    p = np.where(a_low[:, None], a, b)
    q = np.where(a_low[:, None], b, a)
    seg = np.repeat(np.arange(len(a)), n)
    j = np.arange(len(seg)) - np.repeat(np.cumsum(n) - n, n)  # 0 .. n-1 within each segment
    i = np.where(a_low[seg], j, n[seg] - j)
    frac = (i / n[seg])[:, None]
    pts = p[seg] + (q[seg] - p[seg]) * frac
    pts[j == 0] = a[seg[j == 0]]  # the original vertices, untouched
    # each ring: its pieces, then its closing point
    per_ring = np.bincount(seg_ring, weights=n, minlength=n_rings).astype(np.int64)
    new_off = np.concatenate([[0], np.cumsum(per_ring + 1)])
    out = np.empty((new_off[-1], 2))
    body = np.ones(new_off[-1], dtype=bool)
    body[new_off[1:] - 1] = False
    out[body] = pts
    out[~body] = coords[ring_off[1:] - 1]
    res = shapely.from_ragged_array(kind, out, (new_off, *offsets[1:]))
    if kind == shapely.GeometryType.MULTIPOLYGON:
        res[was_polygon] = shapely.get_geometry(res[was_polygon], 0)
    return res


def to_storage(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Reproject to EPSG:4490 and mend polygons that the reprojection made invalid.

    A polygon computed in a projected CRS must stay valid there too (``gridgeo validate`` checks a plan
    back in the CRS it was computed in): one that is valid in degrees but not when projected back is
    mended there and stored again. Single-part multipolygons are stored as polygons, so a layer's
    geometry type does not depend on how a polygon was made.

    >>> from shapely import box, MultiPolygon
    >>> g = gpd.GeoDataFrame(geometry=[MultiPolygon([box(0, 0, 10, 10)])], crs=4547)
    >>> to_storage(g).geom_type.tolist(), to_storage(g).crs.to_epsg()
    (['Polygon'], 4490)
    """
    source = gdf.crs
    out = gdf if source is None or source == STORAGE_CRS else gdf.to_crs(STORAGE_CRS)
    geoms = _mend(out.geometry.to_numpy())
    if source is not None and source != STORAGE_CRS and source.is_projected:
        for _ in range(3):
            idx, back = _invalid_back(geoms, source)
            if not len(idx):
                break
            mended = gpd.GeoSeries(_mend(back), crs=source).to_crs(STORAGE_CRS).to_numpy()
            geoms = geoms.copy()
            geoms[idx] = _mend(mended)
    return out.set_geometry(gpd.GeoSeries(geoms, index=out.index, crs=out.crs))


#: polygons projected back per step when checking a stored layer (a city's buildings would otherwise be
#: held twice more at once: every one projected back beside the stored ones)
_BACK_CHUNK = 50_000


def _invalid_back(geoms: np.ndarray, source: Any) -> tuple[np.ndarray, np.ndarray]:
    """The positions of the (multi)polygons of ``geoms`` (EPSG:4490) that are invalid when projected back
    to ``source``, and those projected-back polygons; checked in chunks of :data:`_BACK_CHUNK`."""
    poly = np.flatnonzero(np.isin(shapely.get_type_id(geoms), (3, 6)))
    idx, back = [], []
    for start in range(0, len(poly), _BACK_CHUNK):
        part = poly[start:start + _BACK_CHUNK]
        projected = gpd.GeoSeries(geoms[part], crs=STORAGE_CRS).to_crs(source).to_numpy()
        bad = ~shapely.is_valid(projected)
        idx.append(part[bad])
        back.append(projected[bad])
    if not idx:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=object)
    return np.concatenate(idx), np.concatenate(back)


def _mend(geoms: np.ndarray) -> np.ndarray:
    """Invalid geometries made valid (polygons stay polygons); parts of no area (a degenerate triangle
    left by an overlay) dropped; single-part multipolygons as polygons."""
    geoms = np.asarray(geoms, dtype=object)
    bad = ~shapely.is_valid(geoms) & ~shapely.is_missing(geoms)
    multi = shapely.get_type_id(geoms) == 6
    if not bad.any() and not multi.any():
        return _without_nil_holes(geoms)
    out = geoms.copy()
    if bad.any():
        out[bad] = make_valid(geoms[bad])
    multi = np.flatnonzero(shapely.get_type_id(out) == 6)
    if len(multi):
        parts, idx = shapely.get_parts(out[multi], return_index=True)
        whole = shapely.area(out[multi])
        # parts of no area; and, where mending split an invalid polygon, slivers of it (a spike that a
        # reprojection folded over itself) under a millionth of the whole
        was_bad = bad[multi][idx]
        nil = shapely.area(parts) <= np.where(was_bad, _SLIVER_SHARE, _NIL_AREA_SHARE) * whole[idx]
        if nil.any():
            for k in np.unique(idx[nil]):
                kept = parts[(idx == k) & ~nil]
                out[multi[k]] = shapely.multipolygons(kept) if len(kept) else out[multi[k]]
    one = (shapely.get_type_id(out) == 6) & (shapely.get_num_geometries(out) == 1)
    if one.any():
        out[one] = shapely.get_geometry(out[one], 0)
    return _without_nil_holes(out)


def _without_nil_holes(geoms: np.ndarray) -> np.ndarray:
    """Holes of no area (a ring an overlay collapsed onto itself) filled: valid, but a reader that rounds
    coordinates (GeoJSON's 7 decimals) turns them into spikes or drops them differently from their neighbour.

    >>> from shapely import Polygon
    >>> p = Polygon([(0, 0), (10, 0), (10, 10), (0, 10)], [[(2, 2), (3, 2), (3, 2.0000000001), (2, 2)],
    ...                                                     [(5, 5), (6, 5), (6, 6), (5, 6)]])
    >>> [len(g.interiors) for g in _without_nil_holes(np.array([p], dtype=object))]
    [1]
    """
    poly = np.isin(shapely.get_type_id(geoms), (3, 6))
    if not poly.any():
        return geoms
    parts, idx = shapely.get_parts(geoms[poly], return_index=True)
    holed = shapely.get_num_interior_rings(parts) > 0
    if not holed.any():
        return geoms
    out = geoms.copy()
    changed = set()
    for j in np.flatnonzero(holed):
        p = parts[j]
        rings = [r for r in p.interiors if shapely.area(shapely.Polygon(r)) > _NIL_AREA_SHARE * p.area]
        if len(rings) < len(p.interiors):
            parts[j] = shapely.Polygon(p.exterior, rings)
            changed.add(int(idx[j]))
    pos = np.flatnonzero(poly)
    for k in sorted(changed):
        mine = parts[idx == k]
        out[pos[k]] = mine[0] if shapely.get_type_id(geoms[pos[k]]) == 3 else shapely.multipolygons(mine)
    return out


def _dtype_names(gdf: gpd.GeoDataFrame) -> dict[str, str]:
    return {c: str(t) for c, t in gdf.dtypes.items() if c != gdf.geometry.name}


def _restore_dtypes(gdf: gpd.GeoDataFrame, dtypes: dict[str, str]) -> gpd.GeoDataFrame:
    for col, t in dtypes.items():
        if col not in gdf.columns:
            continue
        if t == "object":
            s = gdf[col].astype(object)
            gdf[col] = s.where(s.notna(), None)
        elif t in ("str", "string"):
            gdf[col] = gdf[col].astype(t)
        elif t.lower().startswith(("int", "uint", "float", "bool")):  # also pandas' nullable Int64, boolean
            gdf[col] = gdf[col].astype(t)
    return gdf


def layer_order(layers: dict[str, Any]) -> list[str]:
    """The names of ``layers`` in the order a plan file holds them (:data:`LAYER_ORDER`, then the others by name)."""
    return sorted(layers, key=lambda n: (LAYER_ORDER.index(n) if n in LAYER_ORDER else len(LAYER_ORDER), n))


def write_gpkg_atomic(
    path: str | Path, layers: dict[str, gpd.GeoDataFrame], *, metadata: dict[str, Any] | None = None, force: bool = False
) -> None:
    """Write layers (and a metadata table) to a temporary GeoPackage, then rename it over ``path``."""
    p = Path(path)
    if p.suffix.lower() != ".gpkg":
        msg = f"output {path} must be a GeoPackage ending in .gpkg"
        raise InputError(msg)
    if p.is_dir():
        msg = f"output {path} is a folder; give the path of a .gpkg file"
        raise InputError(msg)
    if p.exists() and not force:
        msg = f"{path} exists; pass {force_option()} to overwrite it"
        raise PlanExistsError(msg)
    if not p.parent.exists():
        msg = f"output folder {p.parent} does not exist; create it first"
        raise InputError(msg)
    ordered = layer_order(layers)
    meta = dict(metadata or {})
    meta["_layers"] = ordered
    meta["_dtypes"] = {n: _dtype_names(layers[n]) for n in ordered}

    def write(tmp: str) -> None:
        for name in ordered:
            gdf = layers[name]
            gdf = _object_columns_as_text(gdf)
            geom_types = gdf.geom_type.dropna().unique()
            kwargs: dict[str, Any] = {}
            if len(gdf) == 0 or len(geom_types) != 1:
                kwargs["geometry_type"] = _promote(geom_types)
            # through Arrow: columns go to GDAL in batches, not feature by feature (a city's plan in seconds)
            pyogrio.write_dataframe(gdf, tmp, layer=name, driver="GPKG", append=os.path.exists(tmp), use_arrow=True,
                                    **kwargs)
        meta_df = pd.DataFrame(
            {"key": list(meta), "value": [json.dumps(v, ensure_ascii=False, sort_keys=True, default=_json_default) for v in meta.values()]}
        )
        pyogrio.write_dataframe(meta_df, tmp, layer=METADATA_TABLE, driver="GPKG", append=os.path.exists(tmp))

    atomic_write(p, write)


def _object_columns_as_text(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Lists/dicts in object columns become JSON text (GeoPackage has no such type)."""
    out = gdf
    for col in gdf.columns:
        if col == gdf.geometry.name or gdf[col].dtype != object:
            continue
        if gdf[col].map(lambda v: isinstance(v, (list, dict, tuple))).any():
            out = out.copy() if out is gdf else out
            out[col] = gdf[col].map(lambda v: json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict, tuple)) else v)
    return out


def _promote(types: np.ndarray) -> str:
    t = set(types)
    if not t:
        return "Unknown"
    if t <= {"Polygon", "MultiPolygon"}:
        return "MultiPolygon" if "MultiPolygon" in t else "Polygon"
    if t <= {"LineString", "MultiLineString"}:
        return "MultiLineString" if "MultiLineString" in t else "LineString"
    if t <= {"Point", "MultiPoint"}:
        return "MultiPoint" if "MultiPoint" in t else "Point"
    return "Unknown"


def _json_default(v: Any) -> Any:
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, Path):
        return str(v)
    msg = f"metadata value {v!r} is not JSON-serialisable"
    raise TypeError(msg)
