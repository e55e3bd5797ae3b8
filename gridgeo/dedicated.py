"""Dedicated grids (专属网格) and the register of enterprises and institutions (units) per grid.

Government bodies, hospitals, schools, enterprises, industrial parks, business districts, office
buildings and markets are managed as dedicated grids with their own leader; small scattered units stay
in the ordinary (综合) grid they lie in. The pipeline calls this module between the blocks and the
partition:

1. :func:`normalise_units` — the ``enterprises`` layer (points or site polygons) with canonical
   ``category`` (English, or the Chinese labels 党政机关, 医院, 学校, 企业, 园区, 商圈, 商务楼宇, 市场),
   ``employees``, ``site_area_m2``, ``parent``, ``leader``, ``phone`` and its community. Unknown
   categories (kept as ``other``), missing names and units outside every community are findings;
   nothing is dropped.
2. :func:`decide` — the rules (:class:`~gridgeo.rules.Rules`, documented in the README), in order:

   - ``employees``: a unit with ``dedicated_min_employees`` or more is a dedicated grid of its own;
   - ``site_area``: so is a site of ``dedicated_min_site_area_m2`` or more (``site_area``, else the
     area of its polygon);
   - ``category``: a unit of a category in ``dedicated_categories`` (``"hospital:100"``: hospitals from
     100 employees; ``"market:0"``: every market) is one;
   - ``parent``: a unit whose ``parent`` names a dedicated unit goes into that unit's grid;
   - ``cluster``: the other units with the same ``parent``, or of the same category within
     ``dedicated_cluster_m`` of each other (single linkage), are one dedicated grid when together they
     reach either threshold;
   - ``attached``: every other unit is attached to the ordinary grid it lies in (``in_dedicated_site``
     when that place is a dedicated grid after all, ``outside`` when it lies in no community).
3. :func:`carve` — the geometry, **before** households are divided: a point unit takes the street
   block it lies in, a site polygon the blocks it covers at least half of (else the block holding
   most of it); when the rest of such a block holds households, only the part around the unit's own
   buildings (:func:`_split_blocks`, ``dedicated_site_m``). Units claiming one block share one grid.
   A grid lies in one community: a site spanning two is split at the boundary (finding
   ``dedicated_site_split``). The partition then divides only the blocks left, so the ordinary grids
   keep their 300–500 households and, together with the dedicated grids (``kind = dedicated``), still
   tile every community. Households inside a dedicated grid stay
   counted there and are reported (finding ``dedicated_households``).
4. :func:`register` — the plan's ``units`` layer: every unit with the code of its grid.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ._findings import concat_findings, make_findings
from ._geometry import inner_points, polygonal, union_by
from ._text import counted

__all__ = ["CATEGORIES", "CATEGORY_LABELS", "INDUSTRY_LABELS", "UNIT_COLUMNS", "category_of", "Carved", "normalise_units",
           "decide", "carve",
           "register", "unit_counts", "format_units", "Carving", "carve_inputs", "merge_result", "base_grids_only"]

#: canonical unit categories
CATEGORIES = ("government", "hospital", "school", "enterprise", "park", "business_district", "office_building",
              "market", "other")

#: labels accepted for each category (lower case; Chinese as in the policy documents, and common synonyms)
CATEGORY_LABELS: dict[str, str] = {
    **{c: c for c in CATEGORIES},
    "党政机关": "government", "机关": "government", "政府": "government", "机关单位": "government", "事业单位": "government",
    "医院": "hospital", "卫生院": "hospital", "学校": "school", "企业": "enterprise", "公司": "enterprise",
    "园区": "park", "工业园": "park", "产业园": "park", "商圈": "business_district", "商务楼宇": "office_building",
    "楼宇": "office_building", "写字楼": "office_building", "市场": "market", "其他": "other",
    "business": "business_district", "business district": "business_district", "commercial": "business_district",
    "office": "office_building", "office building": "office_building", "company": "enterprise", "firm": "enterprise",
    "industrial_park": "park", "industrial park": "park", "gov": "government",
    # OpenStreetMap's tag values (amenity, office, leisure, landuse, shop): a POI layer given as it is
    **dict.fromkeys(("townhall", "courthouse", "police", "fire_station", "public_building", "diplomatic"), "government"),
    **dict.fromkeys(("clinic", "doctors", "healthcare"), "hospital"),
    **dict.fromkeys(("kindergarten", "college", "university"), "school"),
    "marketplace": "market",
    "industrial": "park",
}

#: the sections (门类) of China's industry classification (GB/T 4754-2017, and the older names of 2002) as an
#: enterprise register's ``行业类别`` gives them, read as a unit category: 教育 a school, 卫生和社会工作 a hospital, 公共管理
#: a government unit, 国际组织 other, every other section an enterprise
INDUSTRY_LABELS: dict[str, str] = {
    **dict.fromkeys(("农、林、牧、渔业", "采矿业", "制造业", "电力、热力、燃气及水生产和供应业", "电力、燃气及水的生产和供应业",
                     "建筑业", "批发和零售业", "交通运输、仓储和邮政业", "住宿和餐饮业", "信息传输、软件和信息技术服务业",
                     "信息传输、计算机服务和软件业", "金融业", "房地产业", "租赁和商务服务业", "科学研究和技术服务业",
                     "科学研究、技术服务和地质勘查业", "水利、环境和公共设施管理业", "居民服务、修理和其他服务业",
                     "居民服务和其他服务业", "文化、体育和娱乐业"), "enterprise"),
    "教育": "school", "卫生和社会工作": "hospital", "卫生、社会保障和社会福利业": "hospital",
    "公共管理、社会保障和社会组织": "government", "公共管理和社会组织": "government", "国际组织": "other",
}
_INDUSTRY_KEYS = {re.sub(r"[、，,\s]", "", k): v for k, v in INDUSTRY_LABELS.items()}
#: a section's letter before its name ("C 制造业", "C-制造业")
_SECTION_LETTER = re.compile(r"^[A-Ta-t](?:\s*[-.:：、]\s*|\s+|(?=[^\x00-\x7f]))")


def category_of(label: str | None) -> str | None:
    """The unit category a label names (:data:`CATEGORY_LABELS`, or an industry section of :data:`INDUSTRY_LABELS`
    with or without its letter), else None.

    >>> category_of("学校"), category_of("C 制造业"), category_of("P教育"), category_of("卫生和社会工作"), category_of("面包")
    ('school', 'enterprise', 'school', 'hospital', None)
    """
    if label is None:
        return None
    key = label.strip().lower()
    if key in CATEGORY_LABELS:
        return CATEGORY_LABELS[key]
    key = re.sub(r"[、，,\s]", "", _SECTION_LETTER.sub("", label.strip()))
    return _INDUSTRY_KEYS.get(key)


#: columns of the plan's ``units`` layer
UNIT_COLUMNS = ["unit_id", "name", "category", "category_given", "employees", "site_area_m2", "parent", "leader",
                "phone", "community_code", "grid_code", "dedicated", "rule"]



def _text(v: Any) -> str | None:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    s = str(v).strip()
    return s or None


#: a number written with its unit, per column read by :func:`_numbers`
_UNITS = {"employees": r"\s*(\d+(?:\.\d+)?)\s*人\s*", "site_area": r"\s*(\d+(?:\.\d+)?)\s*(?:m2|m²|㎡|平方米)\s*"}


def _numbers(u: gpd.GeoDataFrame, col: str) -> tuple[np.ndarray, list[str | None], np.ndarray]:
    """Column ``col`` of ``u`` as floats (NaN when absent, empty or not a finite number), read as household
    counts are (:func:`gridgeo.households._read_text`: "300人", "１２０", "1,200", and approximate numbers,
    约数: "约300人", "300人左右"); per row the value as given where it was given but is not a finite number
    (None elsewhere); and where the number was written as approximate.

    >>> u = gpd.GeoDataFrame({"employees": ["300", "约300人", None, "inf", 12, "120人左右"]}, geometry=[None] * 6)
    >>> v, bad, approx = _numbers(u, "employees")
    >>> v.tolist()[:2], float(v[-1]), bad, approx.tolist()
    ([300.0, 300.0], 120.0, [None, None, None, 'inf', None, None], [False, True, False, False, False, True])
    """
    from .households import _numeric, _read_text

    if col not in u:
        return np.full(len(u), np.nan), [None] * len(u), np.zeros(len(u), dtype=bool)
    raw = u[col]
    num, _, approx = _read_text(raw, _numeric(raw), _UNITS[col], approx=True)
    num = num.astype(float).to_numpy().copy()
    text = [_text(v) for v in raw]
    bad = [t if t is not None and not np.isfinite(x) else None for t, x in zip(text, num, strict=True)]
    num[~np.isfinite(num)] = np.nan
    return num, bad, approx.to_numpy(dtype=bool) & np.isfinite(num)


def _unread_category(units: gpd.GeoDataFrame) -> list[dict]:
    """A warning when the layer gives no ``category`` but another column holds nothing but unit categories (``类型``:
    医院, 学校, 企业; ``单位性质``: 机关, 企业): every unit is kept as ``other`` and that column unread.

    >>> from shapely import Point
    >>> u = gpd.GeoDataFrame({"name": ["一中", "区医院"], "类型": ["学校", "医院"]}, geometry=[Point(0, 0), Point(1, 1)])
    >>> print(_unread_category(u)[0]["message"])  # doctest: +NORMALIZE_WHITESPACE
    enterprises: no category column: every unit kept as 'other'; column '类型' holds unit categories ('医院', '学校'
    for 2 units): if it is the category, map it with --columns enterprises.category=类型
    """
    for col in units.columns:
        values = units[col]
        if col in ("name", "category", "parent", "leader", "phone", units.geometry.name) or not (
                values.dtype == object or pd.api.types.is_string_dtype(values.dtype)):
            continue
        words = [t for t in (_text(v) for v in values) if t is not None]
        cats = [category_of(w) for w in words]
        if not words or any(c is None for c in cats) or all(c == "other" for c in cats):
            continue
        shown = ", ".join(repr(w) for w in sorted(set(words))[:3])
        return [{"type": "category_column_unread", "severity": "warning", "layer": "enterprises",
                 "measure": float(len(words)),
                 "message": f"enterprises: no category column: every unit kept as 'other'; column {col!r} holds unit "
                            f"categories ({shown} for {counted(len(words), 'unit')}): if it is the category, map it "
                            f"with --columns enterprises.category={col}"}]
    return []


def normalise_units(units: gpd.GeoDataFrame, communities: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Canonical units in the communities' (metric) CRS, and findings.

    ``units`` is the normalised ``enterprises`` layer (columns mapped by :mod:`gridgeo.io`). Returns a
    frame with ``unit_id`` (stable: from the geometry and name, whatever the row order), ``name``,
    ``category``, ``category_given``, ``employees`` (float, NaN when unknown), ``site_area_m2``,
    ``parent``, ``leader``, ``phone``, ``community_code`` (None outside every community), sorted by
    ``unit_id``.

    >>> from shapely import box, Point
    >>> c = gpd.GeoDataFrame({"code": ["420103001001"]}, geometry=[box(0, 0, 100, 100)], crs=4547)
    >>> u = gpd.GeoDataFrame({"name": ["青石镇中学", None], "category": ["学校", "bakery"]},
    ...                      geometry=[Point(10, 10), Point(500, 500)], crs=4547)
    >>> out, found = normalise_units(u, c)
    >>> sorted(out["category"]), sorted(found["type"])
    (['other', 'school'], ['unit_missing_name', 'unit_outside_communities', 'unit_unknown_category'])
    """
    crs = communities.crs
    u = units.to_crs(crs) if units.crs is not None and units.crs != crs else units.set_crs(crs, allow_override=True)
    u = u.reset_index(drop=True)
    n = len(u)
    geoms = u.geometry.to_numpy()
    names = [_text(v) for v in (u["name"] if "name" in u else [None] * n)]
    given = [_text(v) for v in (u["category"] if "category" in u else [None] * n)]
    # no category at all (no column, or an empty one): another column holding categories is named
    rec: list[dict] = [] if any(g is not None for g in given) else _unread_category(u)
    emp, emp_bad, emp_approx = _numbers(u, "employees")
    area_given, area_bad, _ = _numbers(u, "site_area")
    poly = np.isin(shapely.get_type_id(geoms), (3, 6))
    site_area = np.where(np.isfinite(area_given), area_given, np.where(poly, shapely.area(geoms), np.nan))
    # ids: from the rounded geometry and the name, so the same unit gets the same id whatever the row order
    key = [hashlib.sha1(shapely.to_wkb(shapely.set_precision(g, 0.01)) + (nm or "").encode()).hexdigest()[:10]
           for g, nm in zip(geoms, names, strict=True)]
    ids = pd.Series(["U" + k for k in key])
    ids = (ids + ids.groupby(ids).cumcount().map(lambda k: "" if k == 0 else f"-{k}")).to_numpy()
    reps = shapely.point_on_surface(geoms)
    cats = []
    for i in range(n):
        g = given[i]
        cat = category_of(g)
        if cat is None:
            cat = "other"
            what = (f"category {g!r} is not one of {list(CATEGORIES)} (or 党政机关, 医院, 学校, 企业, 园区, 商圈, 商务楼宇, "
                    "市场, or an industry section, 行业门类, such as 制造业 or 教育)" if g is not None else "has no category")
            rec.append({"type": "unit_unknown_category", "severity": "warning", "layer": "enterprises",
                        "feature_id": ids[i], "message": f"unit {names[i] or ids[i]}: {what}; kept as 'other' "
                                                         "(map the column with --columns enterprises.category=COLUMN)",
                        "geometry": reps[i]})
        cats.append(cat)
        if names[i] is None:
            rec.append({"type": "unit_missing_name", "severity": "warning", "layer": "enterprises", "feature_id": ids[i],
                        "message": f"unit {ids[i]} ({cat}) has no name; kept under its id "
                                   "(map the column with --columns enterprises.name=COLUMN)", "geometry": reps[i]})
        if np.isfinite(emp[i]) and emp[i] < 0:
            rec.append({"type": "unit_bad_employees", "severity": "warning", "layer": "enterprises", "feature_id": ids[i],
                        "measure": float(emp[i]),
                        "message": f"unit {names[i] or ids[i]} has {emp[i]:g} employees; read as unknown",
                        "geometry": reps[i]})
            emp[i] = np.nan
        if emp_approx[i] and np.isfinite(emp[i]) and emp[i] >= 0:
            rec.append({"type": "unit_employees_approximate", "severity": "info", "layer": "enterprises",
                        "feature_id": ids[i], "measure": float(emp[i]),
                        "message": f"unit {names[i] or ids[i]}: employees value {_text(u['employees'].iloc[i])!r} is "
                                   f"approximate (约数); read as {emp[i]:g}, check the count",
                        "geometry": reps[i]})
        for bad, col, what in ((emp_bad, "employees", "employees"), (area_bad, "site_area", "site_area")):
            if bad[i] is not None:  # text or infinity: said, not read as unknown silently
                fallback = "read as unknown" if col == "employees" else "the site polygon's area is used, if any"
                rec.append({"type": "unit_bad_employees" if col == "employees" else "unit_bad_site_area",
                            "severity": "warning", "layer": "enterprises", "feature_id": ids[i],
                            "message": f"unit {names[i] or ids[i]}: {what} value {bad[i]!r} is not a number; {fallback}",
                            "geometry": reps[i]})
    # community: the one holding the unit's representative point (a site spanning two is split later)
    comm = np.full(n, None, dtype=object)
    cgeoms = communities.geometry.to_numpy()
    ccodes = communities["code"].astype(str).to_numpy()
    if n and len(cgeoms):
        tree = shapely.STRtree(cgeoms)
        ui, ci = tree.query(reps, predicate="intersects")
        for a, b in sorted(zip(ui, ci, strict=True), key=lambda t: (t[0], ccodes[t[1]])):
            if comm[a] is None:
                comm[a] = ccodes[b]
    for i in np.flatnonzero(pd.isna(comm)):
        rec.append({"type": "unit_outside_communities", "severity": "warning", "layer": "enterprises", "feature_id": ids[i],
                    "message": f"unit {names[i] or ids[i]} lies outside every community; kept in the register, in no grid",
                    "geometry": reps[i]})
    out = gpd.GeoDataFrame({
        "unit_id": ids, "name": [nm if nm is not None else ids[i] for i, nm in enumerate(names)], "category": cats,
        "category_given": given, "employees": emp, "site_area_m2": site_area,
        **{c: [_text(v) for v in (u[c] if c in u else [None] * n)] for c in ("parent", "leader", "phone")},
        "community_code": comm,
    }, geometry=gpd.GeoSeries(geoms, crs=crs), crs=crs)
    out = out.sort_values("unit_id", kind="stable").reset_index(drop=True)
    return out, make_findings(rec, crs=crs)


# ---------------------------------------------------------------------------------------------- rules


def decide(units: gpd.GeoDataFrame, rules: Any) -> pd.DataFrame:
    """Which units are dedicated grids, and by which rule (see the module docstring).

    Returns a frame aligned with ``units``: ``group`` (an int per dedicated grid to be, -1 for units
    not dedicated), ``rule``.

    >>> from shapely import Point
    >>> from gridgeo.rules import get_rules
    >>> u = gpd.GeoDataFrame({"name": list("abcde"), "category": ["enterprise"] * 4 + ["hospital"],
    ...     "employees": [400, 150, 180, 20, 120], "site_area_m2": [np.nan] * 5, "parent": [None] * 5,
    ...     "community_code": ["420103001001"] * 5},
    ...     geometry=[Point(0, 0), Point(1000, 0), Point(1100, 0), Point(3000, 0), Point(5000, 0)], crs=4547)
    >>> decide(u, get_rules())["rule"].tolist()
    ['employees', 'cluster', 'cluster', 'attached', 'category']
    """
    from .rules import dedicated_categories

    n = len(units)
    emp = np.nan_to_num(units["employees"].to_numpy(dtype=float), nan=0.0)
    area = np.nan_to_num(units["site_area_m2"].to_numpy(dtype=float), nan=0.0)
    cats = units["category"].to_numpy(dtype=object)
    inside = units["community_code"].notna().to_numpy()
    per_cat = dedicated_categories(rules)
    rule = np.full(n, "attached", dtype=object)
    rule[~inside] = "outside"
    big_e = inside & (emp >= rules.dedicated_min_employees)
    big_a = inside & ~big_e & (area >= rules.dedicated_min_site_area_m2) & (area > 0)
    by_cat = inside & ~big_e & ~big_a & np.array([c in per_cat and e >= per_cat[c] for c, e in zip(cats, emp, strict=True)],
                                                  dtype=bool)
    rule[big_e], rule[big_a], rule[by_cat] = "employees", "site_area", "category"
    own = big_e | big_a | by_cat
    # union-find over units: a dedicated grid per root
    parent_of = np.arange(n)

    def find(i: int) -> int:
        while parent_of[i] != i:
            parent_of[i] = parent_of[parent_of[i]]
            i = parent_of[i]
        return i

    def union(a: int, b: int) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent_of[max(ra, rb)] = min(ra, rb)

    names = units["name"].astype(str).to_numpy()
    parents = (np.array([_text(v) for v in units["parent"]], dtype=object) if "parent" in units
               else np.full(n, None, dtype=object))
    by_name: dict[str, list[int]] = {}
    for i in np.flatnonzero(own):
        by_name.setdefault(names[i], []).append(int(i))
    small = inside & ~own
    # parent: a small unit whose parent is a dedicated unit joins that unit's grid
    for i in np.flatnonzero(small):
        p = parents[i]
        if p is not None and p in by_name:
            union(int(i), by_name[p][0])
            rule[i] = "parent"
    small &= rule != "parent"
    # clusters: same parent, or same category within dedicated_cluster_m (single linkage)
    cand = np.flatnonzero(small)
    link = np.arange(n)

    def lfind(i: int) -> int:
        while link[i] != i:
            link[i] = link[link[i]]
            i = link[i]
        return i

    def lunion(a: int, b: int) -> None:
        ra, rb = lfind(a), lfind(b)
        if ra != rb:
            link[max(ra, rb)] = min(ra, rb)

    first: dict[str, int] = {}
    for i in cand:
        p = parents[i]
        if p is not None:
            if p in first:
                lunion(int(i), first[p])
            else:
                first[p] = int(i)
    if len(cand) and rules.dedicated_cluster_m > 0:
        g = units.geometry.to_numpy()[cand]
        tree = shapely.STRtree(g)
        a, b = tree.query(g, predicate="dwithin", distance=rules.dedicated_cluster_m)
        for x, y in zip(a, b, strict=True):
            if x < y and cats[cand[x]] == cats[cand[y]]:
                lunion(int(cand[x]), int(cand[y]))
    roots = np.array([lfind(int(i)) for i in cand], dtype=np.int64)
    for r in np.unique(roots):
        members = cand[roots == r]
        if len(members) < 2:
            continue
        if emp[members].sum() >= rules.dedicated_min_employees or (
                area[members].sum() >= rules.dedicated_min_site_area_m2 and area[members].sum() > 0):
            for m in members:
                union(int(m), int(members[0]))
            rule[members] = "cluster"
    dedicated = np.isin(rule, ("employees", "site_area", "category", "parent", "cluster"))
    group = np.full(n, -1, dtype=np.int64)
    roots = {}
    for i in np.flatnonzero(dedicated):
        group[i] = roots.setdefault(find(int(i)), len(roots))
    return pd.DataFrame({"group": group, "rule": rule}, index=units.index)


# ------------------------------------------------------------------------------------------- geometry


@dataclass
class Carved:
    """Dedicated grids carved out of the blocks, and what the partition divides afterwards."""

    grids: gpd.GeoDataFrame  # grid_id, community_code, kind, households, buildings, area_m2, flags, name
    block_grid: dict[str, str]  # block_id -> dedicated grid_id
    unit_grid: np.ndarray  # dedicated grid_id per unit (None: not in a dedicated grid yet)
    units: gpd.GeoDataFrame  # normalised units with ``rule``
    findings: gpd.GeoDataFrame
    blocks: gpd.GeoDataFrame | None = None  # the blocks carved from (some cut around a unit's buildings)
    buildings: gpd.GeoDataFrame | None = None  # the buildings with the block ids of ``blocks``


def _unit_blocks(geom: Any, blocks_geoms: np.ndarray, tree: shapely.STRtree) -> list[int]:
    """Blocks a unit takes: the block holding a point; for a site, the blocks it covers at least half
    of, else the block holding most of it."""
    if shapely.get_type_id(geom) in (3, 6):
        hit = tree.query(geom, predicate="intersects")
        if not len(hit):
            return []
        share = shapely.area(shapely.intersection(blocks_geoms[hit], geom))
        barea = shapely.area(blocks_geoms[hit])
        mostly = hit[share >= 0.5 * barea]
        if len(mostly):
            return sorted(int(h) for h in mostly)
        return [int(hit[int(np.argmax(share))])]
    pt = shapely.point_on_surface(geom)
    hit = tree.query(pt, predicate="intersects")
    if not len(hit):
        near = tree.query_nearest(pt, max_distance=1.0)
        hit = near
    return [int(min(hit))] if len(hit) else []


def _union(geoms: np.ndarray) -> Any:
    """Union of block pieces (whole blocks and blocks cut around buildings, whose edges may differ by
    the cells' snap-rounding, so not a strict coverage union)."""
    from .partition.units import GRID_SIZE_M

    if len(geoms) == 1:
        return geoms[0]
    if _on_grid(geoms):  # a community with a block cut around buildings: every block snapped (_split_blocks)
        return shapely.union_all(geoms, grid_size=GRID_SIZE_M)
    return shapely.coverage_union_all(geoms)  # street blocks as built: an exact coverage


def _on_grid(geoms: np.ndarray) -> bool:
    """Whether every coordinate is on the snap-rounding grid (as GEOS rounds: round(x / size) * size)."""
    from .partition.units import GRID_SIZE_M

    c = shapely.get_coordinates(np.asarray(geoms, dtype=object))
    scale = 1.0 / GRID_SIZE_M
    return bool(len(c)) and bool(np.array_equal(c, np.round(c * scale) / scale))


def _shared(a: Any, b: Any) -> float:
    """Length of boundary ``a`` shares with ``b`` (within a centimetre: pieces cut around buildings are
    snap-rounded, so their edges match their neighbours' only to about a micrometre)."""
    return float(shapely.length(shapely.intersection(shapely.boundary(a), shapely.buffer(b, 0.01))))


def _parts_of(block_list: list[int], bgeoms: np.ndarray) -> list[list[int]]:
    """The blocks of ``block_list`` grouped into connected pieces (sharing an edge), each sorted."""
    if len(block_list) <= 1:
        return [list(block_list)]
    geom = _union(bgeoms[block_list])
    parts = shapely.get_parts(geom)
    if len(parts) == 1:
        return [sorted(block_list)]
    # a block's interior point lies in the one piece holding the block (the largest overlap, to be safe)
    where = np.array([int(np.argmax(shapely.area(shapely.intersection(parts, bgeoms[b])))) for b in block_list])
    return [sorted(np.asarray(block_list)[where == k].tolist()) for k in range(len(parts)) if (where == k).any()]


def _contiguous(rows: list[dict], bgeoms: np.ndarray, rec: list[dict], units: gpd.GeoDataFrame) -> list[dict]:
    """A grid is one piece: a site or cluster whose blocks do not touch is one dedicated grid per piece."""
    out = []
    for r in rows:
        parts = _parts_of(r["blocks"], bgeoms)
        if len(parts) > 1:
            rec.append({"type": "dedicated_site_disjoint", "severity": "info", "layer": "enterprises",
                        "community_code": r["community_code"], "feature_id": units["unit_id"].iat[r["members"][0]],
                        "measure": float(len(parts)),
                        "message": f"the blocks of {r['name']} in community {r['community_code']} are {len(parts)} separate "
                                   "pieces; one dedicated grid each (a grid is one piece of land)",
                        "geometry": shapely.point_on_surface(bgeoms[r["blocks"][0]])})
        out += [{**r, "blocks": p} for p in parts]
    return out


def _absorb_enclaves(rows: list[dict], blocks: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame, grid_min: dict[str, int],
                     rec: list[dict]) -> list[dict]:
    """Pieces of a community cut off by its dedicated grids and too small for an ordinary grid (fewer
    households than ``grid_min``) join the dedicated grid sharing the longest boundary with them, so
    that no ordinary grid is made of separate pieces. The piece with most households always stays."""
    bgeoms = blocks.geometry.to_numpy()
    bids = blocks["block_id"].astype(str).to_numpy()
    bcomm = blocks["community_code"].astype(object).to_numpy()
    hh_block = pd.to_numeric(buildings["households"], errors="coerce").fillna(0).groupby(
        buildings["block_id"].astype(object).to_numpy()).sum().to_dict()
    taken = {b for r in rows for b in r["blocks"]}
    blocks_of = pd.Series(np.arange(len(bcomm))).groupby(pd.Series([str(c) for c in bcomm], dtype=object)).indices
    for code in sorted({r["community_code"] for r in rows}):
        free = [b for b in blocks_of.get(str(code), _NONE) if b not in taken]
        if len(free) < 2:
            continue
        pieces = _parts_of([int(b) for b in free], bgeoms)
        if len(pieces) < 2:
            continue
        h = [sum(hh_block.get(bids[b], 0) for b in p) for p in pieces]
        keep = max(range(len(pieces)), key=lambda k: (h[k], float(shapely.area(shapely.union_all(bgeoms[pieces[k]])))))
        mine = [r for r in rows if r["community_code"] == code]
        for k, piece in enumerate(pieces):
            if k == keep or h[k] >= grid_min.get(code, 300):
                continue
            pg = _union(bgeoms[piece]) if len(piece) > 1 else bgeoms[piece[0]]
            shared = [_shared(pg, _union(bgeoms[r["blocks"]])) for r in mine]
            if not shared or max(shared) <= 0:
                continue
            r = mine[int(np.argmax(shared))]
            r["blocks"] = sorted(r["blocks"] + piece)
            taken.update(piece)
            rec.append({"type": "dedicated_absorbed_enclave", "severity": "info", "layer": "blocks", "community_code": code,
                        "feature_id": None, "measure": float(h[k]),
                        "message": f"{counted(len(piece), 'block')} of community {code} with {h[k]:.0f} households, cut off "
                                   f"from the rest by dedicated grids and too small for a grid, joined the dedicated grid of "
                                   f"{r['name']}",
                        "geometry": shapely.point_on_surface(pg)})
    return rows


def _site_buildings(ugeom: Any, idx: np.ndarray, bld: np.ndarray, hh: np.ndarray, site_m: float) -> np.ndarray | None:
    """The buildings (positions, among ``idx``: those of one block) that are a unit's own: for a site
    polygon, those it covers (by their inner point; none: an empty array, the site itself is its part); for a
    point, the building it stands in or the nearest within ``site_m``, and the buildings without households
    within ``site_m``. None: none found."""
    if not len(idx) or site_m <= 0:
        return None
    if shapely.get_type_id(ugeom) in (3, 6):
        return idx[shapely.intersects(ugeom, shapely.point_on_surface(bld[idx]))]
    d = shapely.distance(bld[idx], ugeom)
    k = int(np.argmin(d))
    if d[k] > site_m:
        return None
    return np.unique(np.concatenate([[idx[k]], idx[(d <= site_m) & (hh[idx] == 0)]]))


def _split_blocks(units: gpd.GeoDataFrame, group: np.ndarray, blocks: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame,
                  site_m: float, rec: list[dict]) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Blocks where a dedicated unit takes only the part around its own buildings: each is cut into the
    unit's part (``<block_id>-D``, same position; units apart in the block: one piece each, ``-D1``,
    ``-D2``, ...) and the rest (``<block_id>-R``, appended), between buildings and never through one
    (:func:`gridgeo.partition.units.build_cells`). A block stays whole when the rest would hold no
    households, when another dedicated unit takes it whole, or when the rest would be in pieces
    (finding ``dedicated_whole_block``)."""
    from .partition.units import build_cells

    if site_m <= 0 or not (group >= 0).any():
        return blocks, buildings
    bgeoms = blocks.geometry.to_numpy()
    bids = blocks["block_id"].astype(str).to_numpy()
    tree = shapely.STRtree(bgeoms)
    bld = buildings.geometry.to_numpy()
    hh = pd.to_numeric(buildings["households"], errors="coerce").fillna(0).to_numpy()
    pos_of = {b: i for i, b in enumerate(bids)}
    bblock = np.array([pos_of.get(str(b), -1) if b is not None and not (isinstance(b, float) and np.isnan(b)) else -1
                       for b in buildings["block_id"].astype(object)], dtype=np.int64)
    # each block's buildings in building-id order: the cells cut around a unit's buildings (and so the cut's
    # vertices, to the micrometre) do not depend on the input's row order
    ids = buildings["building_id"].astype(str).to_numpy() if "building_id" in buildings else np.arange(len(bld)).astype(str)
    by_id = np.lexsort((ids, bblock))
    in_block = {int(k): by_id[s] for k, s in pd.Series(np.arange(len(by_id))).groupby(bblock[by_id]).indices.items()}
    unit_of = buildings["unit_id"].astype(str).to_numpy() if "unit_id" in buildings else np.arange(len(bld)).astype(str)
    claims: dict[int, list[np.ndarray | None]] = {}
    ugeoms = units.geometry.to_numpy()
    reaching = _reaching_pieces(blocks, buildings)
    for i in np.flatnonzero(group >= 0):
        for b in _unit_blocks(ugeoms[i], bgeoms, tree):
            idx = np.asarray(in_block.get(b, np.zeros(0, dtype=np.int64)))
            claims.setdefault(b, []).append((i, _site_buildings(ugeoms[i], idx, bld, hh, site_m)))
    new_geoms = bgeoms.copy()
    new_ids = bids.copy()
    extra: list[dict] = []
    bid_out = buildings["block_id"].astype(object).to_numpy().copy()
    for b in sorted(claims):
        if any(c is None for _, c in claims[b]):
            continue
        idx = np.asarray(in_block.get(b, np.zeros(0, dtype=np.int64)))
        mine = np.unique(np.concatenate([c for _, c in claims[b]]))
        if not len(mine):
            # site polygons over no building of the block (a school compound drawn inside a block of
            # flats): the dedicated part is the site itself, less the footprints of the block's buildings
            if hh[idx].sum() == 0:
                continue
            site = shapely.intersection(shapely.union_all([ugeoms[i] for i, _ in claims[b]]), bgeoms[b])
            fps = bld[idx][np.isin(shapely.get_type_id(bld[idx]), (3, 6))]
            fps = np.concatenate([fps, reaching.get(b, (_NONE, np.zeros(0, dtype=object)))[1]])
            part = polygonal(shapely.difference(site, shapely.union_all(fps)) if len(fps) else site)
            left = polygonal(shapely.difference(bgeoms[b], part))
            if (shapely.get_type_id(part) == 3 and shapely.area(part) > 0 and shapely.get_type_id(left) == 3
                    and shapely.contains_xy(left, *shapely.get_coordinates(shapely.point_on_surface(bld[idx])).T).all()):
                new_geoms[b], new_ids[b] = part, f"{bids[b]}-D"
                extra.append({"block_id": f"{bids[b]}-R", "community_code": blocks["community_code"].iat[b],
                              "geometry": left})
                bid_out[idx] = f"{bids[b]}-R"
                continue
            mine = idx[:0]
        # whole footprint units (overlapping footprints are never divided)
        mine = idx[np.isin(unit_of[idx], unit_of[mine])]
        rest = idx[~np.isin(idx, mine)]
        if not len(rest) or hh[rest].sum() == 0:
            continue
        local = {p: k for k, p in enumerate(idx)}
        # the pieces of other communities' buildings reaching into the block: footprints too, kept whole
        # in the rest (each is kept whole in one grid of this community)
        far, far_geoms = reaching.get(b, (_NONE, np.zeros(0, dtype=object)))
        labels = pd.factorize(np.concatenate([unit_of[idx], np.array([f"~{u}" for u in unit_of[far]], dtype=object)]))[0]
        n_all = len(idx) + len(far)
        try:
            cells = build_cells(bgeoms[b], np.array([bgeoms[b]], dtype=object), np.concatenate([bld[idx], far_geoms]),
                                np.zeros(n_all, np.int64), np.concatenate([hh[idx], np.zeros(len(far))]).astype(np.int64),
                                divide=np.array([True]), unit=labels)
        except Exception:  # noqa: BLE001 - a block the cells cannot be built on stays whole
            cells = None
        ok = cells is not None
        if ok:
            mine_cells = np.unique(cells.building_cell[[local[p] for p in mine]])
            other = np.setdiff1d(np.arange(len(cells.geoms)), mine_cells)
            part = shapely.union_all(cells.geoms[mine_cells])
            left = shapely.union_all(cells.geoms[other]) if len(other) else shapely.Polygon()
            # the units' parts may be several (units apart in one block: one piece each), the rest one
            ok = (len(other) > 0 and shapely.get_type_id(part) in (3, 6) and shapely.get_type_id(left) == 3
                  and not np.isin(cells.building_cell[[local[p] for p in rest]], mine_cells).any()
                  and not np.isin(cells.building_cell[len(idx):], mine_cells).any())
        if not ok:
            rec.append({"type": "dedicated_whole_block", "severity": "info", "layer": "blocks",
                        "community_code": blocks["community_code"].iat[b], "feature_id": bids[b],
                        "measure": float(hh[rest].sum()),
                        "message": f"block {bids[b]} could not be cut around the buildings of its dedicated unit "
                                   f"without leaving pieces; the whole block is taken with {hh[rest].sum():.0f} "
                                   "households of other buildings", "geometry": shapely.point_on_surface(bgeoms[b])})
            continue
        pieces = shapely.get_parts(part)
        if len(pieces) == 1:
            new_geoms[b], new_ids[b] = part, f"{bids[b]}-D"
            bid_out[mine] = f"{bids[b]}-D"
        else:  # -D1, -D2, ... west to east, then south to north; each building with the piece of its cell
            x0, y0 = shapely.bounds(pieces)[:, 0], shapely.bounds(pieces)[:, 1]
            pieces = pieces[np.lexsort((y0, x0))]
            cell_pt = shapely.point_on_surface(cells.geoms[cells.building_cell[[local[p] for p in mine]]])
            which = np.array([int(np.flatnonzero(shapely.contains(pieces, q))[0]) for q in cell_pt])
            new_geoms[b], new_ids[b] = pieces[0], f"{bids[b]}-D1"
            for k in range(1, len(pieces)):
                extra.append({"block_id": f"{bids[b]}-D{k + 1}", "community_code": blocks["community_code"].iat[b],
                              "geometry": pieces[k]})
            bid_out[mine] = np.array([f"{bids[b]}-D{k + 1}" for k in which], dtype=object)
        extra.append({"block_id": f"{bids[b]}-R", "community_code": blocks["community_code"].iat[b], "geometry": left})
        bid_out[rest] = f"{bids[b]}-R"
    if not extra:
        return blocks, buildings
    from .partition.units import GRID_SIZE_M

    # the pieces of a cut block are snap-rounded (the cells' arrangement): every block of those
    # communities is snapped to the same grid, so that they still tile their community exactly
    cut = {str(e["community_code"]) for e in extra}
    in_cut = np.array([str(c) in cut for c in blocks["community_code"]], dtype=bool)
    new_geoms[in_cut] = shapely.set_precision(new_geoms[in_cut].astype(object), GRID_SIZE_M)
    for e in extra:
        e["geometry"] = shapely.set_precision(e["geometry"], GRID_SIZE_M)
    out = blocks.copy()
    out["block_id"] = new_ids
    out = out.set_geometry(gpd.GeoSeries(new_geoms, index=out.index, crs=blocks.crs))
    add = gpd.GeoDataFrame(pd.DataFrame(extra), geometry="geometry", crs=blocks.crs)
    out = gpd.GeoDataFrame(pd.concat([out, add], ignore_index=True), geometry="geometry", crs=blocks.crs)
    if "area_m2" in out.columns:
        out["area_m2"] = shapely.area(out.geometry.to_numpy())
    b2 = buildings.copy()
    b2["block_id"] = pd.Series(bid_out, index=b2.index, dtype=object)
    return out, b2


_NONE = np.zeros(0, dtype=np.int64)


def _reaching_pieces(blocks: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per block (position), the buildings of other communities whose footprints reach into it and their
    pieces there: those of at least :data:`~gridgeo.footprints.BUILDING_SHARE_MIN` of the footprint, the
    pieces the partition keeps whole in one grid of the block's community."""
    from .footprints import pieces_elsewhere

    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    if not len(blocks) or not len(buildings) or "community_code" not in buildings.columns:
        return out
    bi, ki, piece = pieces_elsewhere(blocks.geometry.to_numpy(), blocks["community_code"].to_numpy(),
                                     buildings.geometry.to_numpy(), buildings["community_code"].to_numpy())
    piece = polygonal(piece)
    ids = buildings["building_id"].astype(str).to_numpy()[bi] if "building_id" in buildings else bi.astype(str)
    for k in np.unique(ki):
        sel = np.flatnonzero(ki == k)
        sel = sel[np.argsort(ids[sel], kind="stable")]  # in building-id order, whatever the row order
        out[int(k)] = (bi[sel], piece[sel])
    return out


def carve(units: gpd.GeoDataFrame, decision: pd.DataFrame, blocks: gpd.GeoDataFrame,
          buildings: gpd.GeoDataFrame, grid_min: dict[str, int] | None = None, site_m: float = 0.0) -> Carved:
    """Dedicated grids as unions of street blocks (or of the part of a block around a unit's buildings,
    ``site_m`` > 0: :func:`_split_blocks`), one per (group, community, connected piece).
    ``grid_min``: the household floor of each community's ordinary grids (for the enclaves)."""
    rec: list[dict] = []
    blocks, buildings = _split_blocks(units, decision["group"].to_numpy(), blocks, buildings, site_m, rec)
    crs = blocks.crs
    bgeoms = blocks.geometry.to_numpy()
    bids = blocks["block_id"].astype(str).to_numpy()
    bcomm = blocks["community_code"].astype(object).to_numpy()
    tree = shapely.STRtree(bgeoms)
    group = decision["group"].to_numpy()
    n_groups = int(group.max()) + 1 if len(group) and group.max() >= 0 else 0
    # blocks claimed by each group; groups claiming a common block are one grid
    link = np.arange(n_groups)

    def find(i: int) -> int:
        while link[i] != i:
            link[i] = link[link[i]]
            i = link[i]
        return i

    claimed: dict[int, int] = {}
    blocks_of: dict[int, set[int]] = {g: set() for g in range(n_groups)}
    ugeoms = units.geometry.to_numpy()
    unit_blocks: dict[int, list[int]] = {}
    for i in np.flatnonzero(group >= 0):
        unit_blocks[int(i)] = _unit_blocks(ugeoms[i], bgeoms, tree)
        for b in unit_blocks[int(i)]:
            g = int(group[i])
            blocks_of[g].add(b)
            if b in claimed:
                ra, rb = find(g), find(claimed[b])
                if ra != rb:
                    link[max(ra, rb)] = min(ra, rb)
            else:
                claimed[b] = g
    merged: dict[int, set[int]] = {}
    for g in range(n_groups):
        merged.setdefault(find(g), set()).update(blocks_of[g])
    # one grid per (merged group, community)
    hh = pd.to_numeric(buildings["households"], errors="coerce").fillna(0).to_numpy()
    bblock = buildings["block_id"].astype(object).to_numpy()
    rows = []
    block_grid: dict[str, str] = {}
    names = units["name"].astype(str).to_numpy()
    for root in sorted(merged):
        members = [i for i in np.flatnonzero(group >= 0) if find(int(group[i])) == root]
        by_comm: dict[str, list[int]] = {}
        for b in sorted(merged[root]):
            if bcomm[b] is not None and not (isinstance(bcomm[b], float) and np.isnan(bcomm[b])):
                by_comm.setdefault(str(bcomm[b]), []).append(b)
        label = "、".join(dict.fromkeys(names[m] for m in members))
        if len(by_comm) > 1:
            rec.append({"type": "dedicated_site_split", "severity": "warning", "layer": "enterprises",
                        "feature_id": units["unit_id"].iat[members[0]], "measure": float(len(by_comm)),
                        "message": f"the site of {label} spans {len(by_comm)} communities ({', '.join(sorted(by_comm))}); "
                                   "split at the boundary into one dedicated grid per community",
                        "geometry": shapely.point_on_surface(ugeoms[members[0]])})
        for code, bl in sorted(by_comm.items()):
            rows.append({"community_code": code, "blocks": bl, "name": label, "members": members})
    rows = _contiguous(rows, bgeoms, rec, units)
    rows = _absorb_enclaves(rows, blocks, buildings, grid_min or {}, rec)
    # grid ids: per community, in the order of the first block id (stable), D001...
    rows.sort(key=lambda r: (r["community_code"], min(bids[b] for b in r["blocks"])))
    seq: dict[str, int] = {}
    out = []
    # buildings of each block, grouped once (not every building tested against every grid's blocks)
    bld_of_block = pd.Series(np.arange(len(bblock))).groupby(pd.Series(bblock, dtype=object)).indices
    for r in rows:
        seq[r["community_code"]] = seq.get(r["community_code"], 0) + 1
        gid = f"{r['community_code']}-D{seq[r['community_code']]:03d}"
        r["grid_id"] = gid
        geom = _union(bgeoms[r["blocks"]]) if len(r["blocks"]) > 1 else bgeoms[r["blocks"][0]]
        ids = {bids[b] for b in r["blocks"]}
        for b in ids:
            block_grid[b] = gid
        inb = np.concatenate([bld_of_block.get(b, _NONE) for b in sorted(ids)]) if ids else _NONE
        h = int(round(hh[inb].sum()))
        out.append({"grid_id": gid, "community_code": r["community_code"], "kind": "dedicated", "households": h,
                    "buildings": int(len(inb)), "area_m2": float(shapely.area(geom)), "flags": "",
                    "name": r["name"], "geometry": geom})
        if h:
            rec.append({"type": "dedicated_households", "severity": "info", "layer": "grids", "feature_id": gid,
                        "community_code": r["community_code"], "measure": float(h),
                        "message": f"dedicated grid {gid} ({r['name']}) holds {h} households (dormitories, staff or "
                                   "other housing in its blocks); they are counted in it, not in an ordinary grid",
                        "geometry": shapely.point_on_surface(geom)})
    grids = gpd.GeoDataFrame(pd.DataFrame(out, columns=["grid_id", "community_code", "kind", "households", "buildings",
                                                        "area_m2", "flags", "name", "geometry"]),
                             geometry="geometry", crs=crs)
    # each dedicated unit's grid: the grid of its community piece holding its point
    unit_grid = np.full(len(units), None, dtype=object)
    ucomm = units["community_code"].to_numpy(dtype=object)
    grid_of_block = {b: r["grid_id"] for r in rows for b in r["blocks"]}
    for i in np.flatnonzero(group >= 0):
        mine = [b for b in unit_blocks.get(int(i), []) if b in grid_of_block]
        # the grid holding the unit's own block in its community, else any grid of its site
        here = [b for b in mine if str(bcomm[b]) == str(ucomm[i])]
        unit_grid[i] = grid_of_block[(here or mine)[0]] if (here or mine) else None
    units = units.assign(rule=decision["rule"].to_numpy())
    return Carved(grids=grids, block_grid=block_grid, unit_grid=unit_grid, units=units, findings=make_findings(rec, crs=crs),
                  blocks=blocks, buildings=buildings)


# ------------------------------------------------------------------------------------------- register


def register(carved: Carved, grids: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The ``units`` layer: every unit with its grid's code, dedicated yes/no and the rule that decided.

    ``grids`` are the coded grids (``grid_id``, ``grid_code``, ``kind``) in the units' CRS. A unit not
    in a dedicated grid of its own is attached to the grid holding its representative point (rule
    ``in_dedicated_site`` when that grid is a dedicated one). Points of the units are their
    representative points; site outlines live on in their dedicated grids.
    """
    u = carved.units
    code_of = dict(zip(grids["grid_id"].astype(str), grids["grid_code"].astype(object), strict=True))
    kind_of = dict(zip(grids["grid_id"].astype(str), grids["kind"].astype(str), strict=True))
    reps = shapely.point_on_surface(u.geometry.to_numpy())
    gid = carved.unit_grid.copy()
    rule = u["rule"].to_numpy(dtype=object).copy()
    todo = np.flatnonzero(pd.isna(gid) & u["community_code"].notna().to_numpy())
    if len(todo) and len(grids):
        gg = grids.geometry.to_numpy()
        tree = shapely.STRtree(gg)
        ui, gi = tree.query(reps[todo], predicate="intersects")
        gids = grids["grid_id"].astype(str).to_numpy()
        comm = grids["community_code"].astype(str).to_numpy()
        for a, b in sorted(zip(ui, gi, strict=True), key=lambda t: (t[0], gids[t[1]])):
            i = todo[a]
            if pd.isna(gid[i]) and comm[b] == u["community_code"].iat[i]:
                gid[i] = gids[b]
        # a unit on its community's boundary (a traffic signal on the road the boundary follows) can lie a
        # fraction of a micrometre outside its community's grids, which are noded and snap-rounded: the
        # grids tile the community, so the nearest of them holds it
        for i in todo:
            if pd.isna(gid[i]):
                mine = np.flatnonzero(comm == str(u["community_code"].iat[i]))
                if len(mine):
                    dist = shapely.distance(gg[mine], reps[i])
                    gid[i] = min(gids[mine[dist <= dist.min()]])
        for i in todo:
            if not pd.isna(gid[i]) and kind_of.get(gid[i]) == "dedicated":
                rule[i] = "in_dedicated_site"
    codes = [code_of.get(g) if not pd.isna(g) else None for g in gid]
    dedicated = [bool(not pd.isna(g) and kind_of.get(g) == "dedicated") for g in gid]
    out = gpd.GeoDataFrame({
        "unit_id": u["unit_id"], "name": u["name"], "category": u["category"], "category_given": u["category_given"],
        "employees": u["employees"], "site_area_m2": u["site_area_m2"].round(1), "parent": u["parent"],
        "leader": u["leader"], "phone": u["phone"], "community_code": u["community_code"],
        "grid_code": pd.Series(codes, index=u.index, dtype=object), "dedicated": dedicated, "rule": rule,
    }, geometry=gpd.GeoSeries(reps, index=u.index, crs=u.crs), crs=u.crs)
    return out


def unit_counts(units: gpd.GeoDataFrame) -> dict[str, Any]:
    """Counts for the metadata and reports: per category (units, dedicated), and per grid.

    >>> u = pd.DataFrame({"category": ["school", "school", "other"], "dedicated": [True, False, False],
    ...                   "grid_code": ["A900", "A001", "A001"]})
    >>> unit_counts(u)["per_category"]["school"]
    {'units': 2, 'dedicated': 1}
    """
    per_cat = {}
    for cat, d in units.groupby("category", sort=True):
        per_cat[str(cat)] = {"units": int(len(d)), "dedicated": int(d["dedicated"].astype(bool).sum())}
    per_grid = {str(k): int(v) for k, v in units["grid_code"].dropna().astype(str).value_counts().sort_index().items()}
    return {"units": int(len(units)), "dedicated_units": int(units["dedicated"].astype(bool).sum()),
            "in_no_grid": int(units["grid_code"].isna().sum()), "per_category": per_cat, "per_grid": per_grid}


# ------------------------------------------------------------------------------------------- pipeline


@dataclass
class Carving:
    """What :func:`carve_inputs` gives the partition, and what it needs back to merge the results."""

    carved: Carved
    communities: gpd.GeoDataFrame  # each community less its dedicated grids (communities wholly dedicated left out)
    blocks: gpd.GeoDataFrame  # the blocks not in a dedicated grid
    buildings: gpd.GeoDataFrame  # buildings in dedicated grids given no community, so that no grid takes them
    findings: gpd.GeoDataFrame
    villager_groups: gpd.GeoDataFrame | None = None  # groups cut in pieces by dedicated grids: their main piece


#: the land (m²) of a community its dedicated grids leave, holding no building, under which they take all of it
_NIL_REST_M2 = 1e-3


def carve_inputs(enterprises: gpd.GeoDataFrame, communities: gpd.GeoDataFrame, blocks: gpd.GeoDataFrame,
                 buildings: gpd.GeoDataFrame, rules: Any, villager_groups: gpd.GeoDataFrame | None = None) -> Carving:
    """Normalise the units, decide, carve the dedicated grids and cut them out of the partition's inputs
    (communities, blocks, buildings, and ``villager_groups``: :func:`_groups_in_one_piece`)."""
    units, f_norm = normalise_units(enterprises, communities)
    decision = decide(units, rules)
    from .rules import rules_for_kind

    kinds = communities["kind"] if "kind" in communities.columns else pd.Series("urban", index=communities.index)
    grid_min = {str(c): rules_for_kind(rules, k if isinstance(k, str) else "urban").grid_min
                for c, k in zip(communities["code"], kinds, strict=True)}
    carved = carve(units, decision, blocks, buildings, grid_min, site_m=rules.dedicated_site_m)
    blocks, buildings = carved.blocks, carved.buildings
    taken = set(carved.block_grid)
    free_blocks = blocks[~blocks["block_id"].astype(str).isin(taken)].copy()
    comm = communities.copy()
    geoms = comm.geometry.to_numpy().copy()
    keep = np.ones(len(comm), dtype=bool)
    ded = carved.grids
    for k, code in enumerate(comm["code"].astype(str)):
        mine = ded.geometry[ded["community_code"] == code].to_numpy()
        if not len(mine):
            continue
        at = (free_blocks["community_code"] == code).to_numpy()
        rest = free_blocks.geometry.to_numpy()[at]
        held = buildings["block_id"].astype(object).isin(set(free_blocks["block_id"].astype(object)[at])).any()
        if not len(rest) or (not held and shapely.area(rest).sum() < _NIL_REST_M2):
            # its dedicated grids take all of it: the rest, if any, is float noise of their cut (a sliver of a
            # square centimetre or less, no building), no ordinary grid (one was drawn there, holding nothing, and
            # its small grid lay in no grid for validate); fit_dedicated gives that land to the dedicated grid
            keep[k] = False
            continue
        # the community less its dedicated grids: the union of its other blocks (which tile it with them)
        geoms[k] = _union(rest)
    comm = comm.set_geometry(gpd.GeoSeries(geoms, index=comm.index, crs=comm.crs))[keep]
    b = buildings.copy()
    inside = b["block_id"].astype(object).isin(taken).to_numpy()
    b["community_code"] = b["community_code"].astype(object).where(~inside, None)
    groups, f_groups = _groups_in_one_piece(villager_groups, ded, buildings)
    return Carving(carved=carved, communities=comm, blocks=free_blocks, buildings=b,
                   findings=concat_findings([f_norm, carved.findings, f_groups], crs=communities.crs),
                   villager_groups=groups)


def _groups_in_one_piece(groups: gpd.GeoDataFrame | None, dedicated: gpd.GeoDataFrame,
                         buildings: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame | None, gpd.GeoDataFrame]:
    """Villager groups (村民小组) less the dedicated grids, each kept in one piece.

    A village's grids follow its villager groups, one grid per group; a dedicated grid carved across a
    group would leave that group's grid in separate pieces. The group keeps its piece with most
    households (then the largest); the land of its other pieces joins the neighbouring group, or is a
    grid of its own where no group borders it (finding ``villager_group_cut``, info).
    """
    if groups is None or not len(groups) or not len(dedicated):
        return groups, make_findings([], crs=dedicated.crs)
    geoms = groups.geometry.to_numpy()
    dg = dedicated.geometry.to_numpy()
    gi, di = shapely.STRtree(dg).query(geoms, predicate="intersects")
    if not len(gi):
        return groups, make_findings([], crs=dedicated.crs)
    pts = shapely.point_on_surface(buildings.geometry.to_numpy())
    hh = pd.to_numeric(buildings["households"], errors="coerce").fillna(0).to_numpy()
    ptree = shapely.STRtree(pts)
    out = geoms.copy()
    names = groups["name"].astype(str).to_numpy() if "name" in groups.columns else np.arange(len(groups)).astype(str)
    rec = []
    for g in np.unique(gi):
        rest = polygonal(shapely.difference(geoms[g], shapely.union_all(dg[di[gi == g]])))
        parts = shapely.get_parts(rest)
        parts = parts[shapely.area(parts) > 0]
        if len(parts) <= 1:
            continue
        held = np.zeros(len(parts))
        pi, bi = ptree.query(parts, predicate="contains")
        np.add.at(held, pi, hh[bi])
        keep = max(range(len(parts)), key=lambda k: (held[k], float(shapely.area(parts[k]))))
        out[g] = parts[keep]
        others = np.delete(np.arange(len(parts)), keep)
        if (shapely.area(parts[others]) >= 1.0).sum() == 0:
            continue  # slivers along the dedicated grid's edge only: nothing to report
        others = others[shapely.area(parts[others]) >= 1.0]
        rec.append({"type": "villager_group_cut", "severity": "info", "layer": "villager_groups",
                    "community_code": groups["community_code"].iat[g] if "community_code" in groups.columns else None,
                    "feature_id": names[g], "measure": float(held[others].sum()),
                    "message": f"villager group {names[g]} is cut in {len(others) + 1} pieces by dedicated grids; its grid keeps "
                               f"the piece with most households, the other pieces ({held[others].sum():.0f} households) "
                               "join the neighbouring group", "geometry": shapely.union_all(parts[others])})
    res = groups.set_geometry(gpd.GeoSeries(out, index=groups.index, crs=groups.crs))
    return res, make_findings(rec, crs=dedicated.crs)


def merge_result(result: Any, carving: Carving, buildings: gpd.GeoDataFrame,
                 communities: gpd.GeoDataFrame | None = None) -> Any:
    """The partition's result with the dedicated grids added and every building back in its community.

    With ``communities``, the grids of each community holding a dedicated grid (ordinary grids, their
    small grids and the dedicated grids) are re-noded together in one planar arrangement
    (:func:`fit_dedicated`), so that the grids layer is an exact coverage. The buildings a re-division left in no
    grid on land it gave back to the dedicated grids (``result.given_back``) are placed with that land.
    """
    from .partition import GRID_COLUMNS, PartitionResult

    ded = carving.carved.grids
    base, subgrids = result.grids, result.subgrids
    found = None
    if communities is not None and len(ded):
        land = getattr(result, "given_back_land", None)
        owner = _land_owner(ded, land)[0]
        ded = _with_land_given_back(ded, land)
        ded, base, subgrids = fit_dedicated(ded, base, communities, subgrids)
        ded, found = not_compact_dedicated(ded, carving.carved.grids, land, owner, base, communities)
        found = concat_findings([found, wrapped_dedicated(ded, base, communities)], crs=ded.crs)
    grids = gpd.GeoDataFrame(pd.concat([base, ded[GRID_COLUMNS + ["geometry"]]], ignore_index=True),
                             geometry="geometry", crs=base.crs)
    if "villager_group" in grids.columns:  # a dedicated grid follows no villager group
        grids["villager_group"] = grids["villager_group"].astype(object).where(grids["villager_group"].notna(), None)
    out_b = result.buildings.copy()
    out_b["community_code"] = buildings["community_code"].to_numpy()
    blk_cut = out_b["block_id"].astype(object).to_numpy()  # block ids as carved (a block cut in two: -D, -R)
    out_b["block_id"] = buildings["block_id"].to_numpy()
    blk = blk_cut
    gid = out_b["grid_id"].to_numpy(dtype=object).copy()
    sid = out_b["subgrid_id"].to_numpy(dtype=object).copy()
    bg = carving.carved.block_grid
    placed = []  # buildings of a carved block a re-division keeps in an ordinary grid (a stray piece of the carve)
    for i, b in enumerate(blk):
        if b in bg:
            if gid[i] is not None and not (isinstance(gid[i], float) and np.isnan(gid[i])):
                placed.append((bg[b], i))
                continue
            gid[i], sid[i] = bg[b], None
    if placed:  # not counted in the dedicated grid they were carved into
        grids = _uncounted(grids, placed, out_b)
    if communities is not None and len(ded):
        grids, subgrids = _follow_fitted_land(out_b, gid, sid, grids, subgrids,
                                              unplaced=getattr(result, "given_back", None))
        subgrids = _without_landless(subgrids, sid)
    out_b["grid_id"] = pd.Series(gid, index=out_b.index, dtype=object)
    out_b["subgrid_id"] = pd.Series(sid, index=out_b.index, dtype=object)
    findings = result.findings
    if found is not None and len(found):
        findings = concat_findings([findings, found], crs=grids.crs)
    return PartitionResult(grids=grids, subgrids=subgrids, buildings=out_b, findings=findings)


def not_compact_dedicated(dedicated: gpd.GeoDataFrame, carved: gpd.GeoDataFrame, land: gpd.GeoDataFrame | None,
                          owner: np.ndarray, base: gpd.GeoDataFrame, communities: gpd.GeoDataFrame
                          ) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Dedicated grids (专属网格) under :data:`~gridgeo.partition.shapes.COMPACTNESS_FLOOR` Polsby–Popper, each
    with a ``grid_not_compact`` finding (info) naming what makes it so, every cause that holds, measured here in the
    metric CRS: the community itself as thin; its site as carved (``carved``: the grids as :func:`carve` made them,
    the blocks of its units); the lanes from its site through the ring round it (``land``, the partition's
    ``given_back_land``; ``owner``: the row each piece joined, :func:`_land_owner`), to the community's edge or to a neighbouring
    grid of ``base`` (and that grid's Polsby–Popper had it taken the lane); else its edges noded with the grids
    round it. Returns ``dedicated`` with ``grid_not_compact`` in the ``flags`` of those grids, and the findings."""
    from .partition.shapes import COMPACTNESS_FLOOR, polsby_popper

    geoms = dedicated.geometry.to_numpy()
    pp = polsby_popper(geoms)
    low = np.flatnonzero(pp < COMPACTNESS_FLOOR)
    if not len(low):
        return dedicated, make_findings([], crs=dedicated.crs)
    as_carved = dict(zip(carved["grid_id"].astype(str), carved.geometry.to_numpy(), strict=True))
    whole = dict(zip(communities["code"].astype(str), communities.geometry.to_numpy(), strict=True))
    lanes = land.geometry.to_numpy() if land is not None and len(land) else np.zeros(0, dtype=object)
    bgeoms = base.geometry.to_numpy()
    bcode = base["community_code"].astype(str).to_numpy()
    rec, flags = [], dedicated["flags"].fillna("").astype(str).to_numpy().copy()
    for j in low:
        gid, code = str(dedicated["grid_id"].iat[j]), str(dedicated["community_code"].iat[j])
        reasons = []
        outline = whole.get(code)
        if outline is not None and (w := float(polsby_popper(np.array([outline], dtype=object))[0])) < COMPACTNESS_FLOOR:
            reasons.append(f"the community itself has Polsby–Popper {w:.2f}")
        site = as_carved.get(gid)
        pc = float(polsby_popper(np.array([site], dtype=object))[0]) if site is not None else None
        if pc is not None and pc < COMPACTNESS_FLOOR:
            reasons.append(f"its site as carved for its units has Polsby–Popper {pc:.2f}")
        mine = lanes[owner == j]
        if len(mine) and site is not None:
            joined = float(polsby_popper(np.array([shapely.union_all([site, *mine])], dtype=object))[0])
            ends = [_lane_end(x, outline, bgeoms[bcode == code], base["grid_id"].to_numpy()[bcode == code])
                    for x in mine]
            word = "the lane" if len(mine) == 1 else f"the {len(mine)} lanes"
            reasons.append(f"{word} from its site through the grid round it ({float(shapely.area(mine).sum()):.0f} m²; "
                           + "; ".join(ends) + f") {'takes' if len(mine) == 1 else 'take'} it from Polsby–Popper "
                           f"{pc:.2f} to {joined:.2f}")
        if not reasons:
            reasons.append(f"its site as carved has Polsby–Popper {pc:.2f}; its edges noded with the grids round it "
                           "make it less" if pc is not None else "its edges noded with the grids round it")
        rec.append({"type": "grid_not_compact", "severity": "info", "layer": "grids", "community_code": code,
                    "feature_id": gid, "measure": round(float(pp[j]), 3),
                    "message": f"dedicated grid {gid} has Polsby–Popper {pp[j]:.3f} (under {COMPACTNESS_FLOOR}), a "
                               f"long or ragged shape; forced: {'; '.join(reasons)}; check it on the map",
                    "geometry": shapely.point_on_surface(geoms[j])})
        flags[j] = ",".join(dict.fromkeys([f for f in flags[j].split(",") if f] + ["grid_not_compact"]))
    out = dedicated.copy()
    out["flags"] = flags
    return out, make_findings(rec, crs=dedicated.crs)


def wrapped_dedicated(dedicated: gpd.GeoDataFrame, base: gpd.GeoDataFrame,
                      communities: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """A dedicated grid (专属网格) wrapped round land of other grids (a hole its community does not have), each a
    ``grid_encloses_grid`` finding (warning) naming the grids in the hole, as the partition reports an ordinary
    grid's: the sites of units as given nest (a point unit's buildings amid a cluster's site), which the partition
    keeps as the units' sites; ``gridgeo validate`` counts the same holes."""
    from .partition.enclosures import foreign_holes

    whole = dict(zip(communities["code"].astype(str), communities.geometry.to_numpy(), strict=True))
    others = pd.concat([base[["grid_id", "geometry"]], dedicated[["grid_id", "geometry"]]], ignore_index=True)
    ogeoms, oids = others.geometry.to_numpy(), others["grid_id"].astype(str).to_numpy()
    tree = shapely.STRtree(ogeoms)
    geoms = dedicated.geometry.to_numpy()
    rec = []
    for j in range(len(dedicated)):
        gid, code = str(dedicated["grid_id"].iat[j]), str(dedicated["community_code"].iat[j])
        outline = whole.get(code)
        holes = foreign_holes(geoms[j], outline) if outline is not None else []
        if not holes:
            continue
        held = []
        for hole in holes:
            cand = tree.query(hole, predicate="intersects")
            share = shapely.area(shapely.intersection(ogeoms[cand], hole)) / shapely.area(hole)
            keep = (share > 0.01) & (oids[cand] != gid)  # the grids holding the hole, largest share first
            held += oids[cand][keep][np.argsort(-share[keep], kind="stable")].tolist()
        names = ", ".join(dict.fromkeys(held)) or "land of no grid"
        rec.append({"type": "grid_encloses_grid", "severity": "warning", "layer": "grids", "community_code": code,
                    "feature_id": gid, "measure": float(len(holes)),
                    "message": f"dedicated grid {gid} (专属网格) is wrapped around {counted(len(holes), 'hole')} held "
                               f"by other grids ({names}): the sites of its units enclose them as given (a unit's "
                               "buildings amid the blocks of another's site); redraw by hand if needed",
                    "geometry": shapely.point_on_surface(holes[0])})
    return make_findings(rec, crs=dedicated.crs)


#: metres within which a lane's edge lies on a grid's or the community's edge (the grids noded after the cut)
LANE_NODE_M = 1e-3


def _lane_end(lane: Any, outline: Any, grids: np.ndarray, ids: np.ndarray) -> str:
    """Where a lane from a dedicated grid's site ends, in words: on the community's edge (``outline``), or on a
    neighbouring grid of ``grids`` (the one of those it touches sharing the shortest edge with it, the ring round
    the site sharing its two long sides), with that grid's Polsby–Popper had it taken the lane."""
    from .partition.shapes import polsby_popper

    edge = shapely.boundary(lane)
    # the grids are noded with the dedicated grids after the lane was cut: edges within LANE_NODE_M count as shared
    if outline is not None and shapely.length(shapely.intersection(
            edge, shapely.buffer(shapely.boundary(outline), LANE_NODE_M))) > LANE_NODE_M:
        return "to the community's edge, where no lane to a neighbouring grid opened the ring"
    shared = (shapely.length(shapely.intersection(edge, shapely.buffer(shapely.boundary(grids), LANE_NODE_M)))
              if len(grids) else np.zeros(0))
    touching = np.flatnonzero(np.asarray(shared) > LANE_NODE_M)
    if len(touching) < 2:
        return "to another dedicated grid"
    q = int(touching[np.argmin(np.asarray(shared)[touching])])
    alt = float(polsby_popper(np.array([shapely.union(grids[q], lane)], dtype=object))[0])
    return f"to grid {ids[q]}, which given the lane instead would have Polsby–Popper {alt:.2f}"


def _uncounted(grids: gpd.GeoDataFrame, placed: list[tuple[str, int]],
               buildings: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``grids`` with the households and buildings of ``placed`` (dedicated grid id, building row) no longer counted
    in their dedicated grids: buildings of the blocks carved into them that a re-division keeps in an ordinary grid
    (a stray piece of the carve the previous plan gave to that grid), as the previous plan had them."""
    hh = pd.to_numeric(buildings["households"], errors="coerce").fillna(0).to_numpy()
    out = grids.copy()
    pos = {g: k for k, g in enumerate(out["grid_id"].astype(str))}
    for g, i in placed:
        k = pos[str(g)]
        out.iat[k, out.columns.get_loc("households")] = int(round(out["households"].iat[k] - hh[i]))
        out.iat[k, out.columns.get_loc("buildings")] = int(out["buildings"].iat[k]) - 1
    return out


def _with_land_given_back(dedicated: gpd.GeoDataFrame, land: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    """``dedicated`` grids with each piece of ``land`` a re-division gave back to them (crumbs of ordinary land they
    enclose, which the previous plan gave them) joined to the one of its community sharing the longest edge with
    it (then the nearest; ties to the first), as a fresh plan's :func:`fit_dedicated` gives such crumbs."""
    if land is None or not len(land):
        return dedicated
    return _with_geoms(dedicated, _land_owner(dedicated, land)[1])


def _land_owner(dedicated: gpd.GeoDataFrame, land: gpd.GeoDataFrame | None) -> tuple[np.ndarray, np.ndarray]:
    """For each piece of ``land`` in turn, the row of ``dedicated`` it joins (-1 for none): the grid of its
    community sharing the longest edge with it, then the nearest, then the first; and the grids' polygons with
    the pieces joined (:func:`_with_land_given_back`)."""
    geoms = dedicated.geometry.to_numpy().copy()
    if land is None or not len(land):
        return np.zeros(0, dtype=np.int64), geoms
    dcode = dedicated["community_code"].astype(str).to_numpy()
    out = np.full(len(land), -1, dtype=np.int64)
    for i, (code, piece) in enumerate(zip(land["community_code"].astype(str), land.geometry.to_numpy(), strict=True)):
        mine = np.flatnonzero(dcode == code)
        if not len(mine):
            continue
        shared = shapely.length(shapely.intersection(shapely.boundary(piece), shapely.boundary(geoms[mine])))
        near = shapely.distance(piece, geoms[mine])
        out[i] = j = mine[int(np.lexsort((np.arange(len(mine)), near, -shared))[0])]
        geoms[j] = polygonal(shapely.union(geoms[j], piece))  # no line where they only touch
    return out, geoms


def _without_landless(subgrids: gpd.GeoDataFrame | None, sid: np.ndarray) -> gpd.GeoDataFrame | None:
    """The small grids less those :func:`fit_dedicated` left with no land (all of it a stray piece of their
    grid, given to a neighbour) and :func:`_follow_fitted_land` with no building; any other stays."""
    if subgrids is None or not len(subgrids):
        return subgrids
    empty = shapely.is_empty(subgrids.geometry.to_numpy()) & ~subgrids["subgrid_id"].astype(str).isin(
        {str(s) for s in sid if s is not None}).to_numpy()
    return subgrids[~empty] if empty.any() else subgrids


def _follow_fitted_land(buildings: gpd.GeoDataFrame, gid: np.ndarray, sid: np.ndarray, grids: gpd.GeoDataFrame,
                        subgrids: gpd.GeoDataFrame | None,
                        unplaced: np.ndarray | None = None) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame | None]:
    """Buildings go with their land after :func:`fit_dedicated`: a piece of a dedicated grid cut off from its
    main piece joins the neighbour with the buildings on it, and edges move by up to the snap-rounding (an
    address point on an edge). A building of a community holding a dedicated grid that no longer lies in its
    grid (small grid) is placed in the one it lies in by the one assignment
    (:func:`~gridgeo.footprints.assign_to_zones`, its own grid winning ties), and the households and
    buildings of the grids are counted again for it. ``unplaced`` (bool per building): buildings in no grid yet, on
    land a re-division gave back to the dedicated grids, placed the same way and counted in. ``gid`` and ``sid`` in
    place."""
    from .footprints import assign_to_zones

    gids = grids["grid_id"].astype(str).to_numpy()
    gkind = grids["kind"].astype(str).to_numpy()
    pos = {g: i for i, g in enumerate(gids)}
    fitted = set(grids["community_code"].astype(str).to_numpy()[gkind == "dedicated"])
    free = np.zeros(len(gid), dtype=bool) if unplaced is None else np.asarray(unplaced, dtype=bool)
    mine = np.flatnonzero([(g in pos or f) and str(c) in fitted
                           for g, c, f in zip(gid, buildings["community_code"].astype(str), free, strict=True)])
    if not len(mine):
        return grids, subgrids
    # a footprint unit (overlapping outlines, 楼栋完整) moves whole: judged by the union of its buildings
    # (a unit across two communities has a piece in a grid of each: judged apart); members in building-id
    # order, so that nothing depends on the input's row order
    key = (buildings["unit_id"].astype(str).to_numpy() if "unit_id" in buildings.columns
           else np.arange(len(buildings)).astype(str))
    key = np.char.add(np.char.add(key.astype(str), "|"), buildings["community_code"].astype(str).to_numpy().astype(str))
    bid = (buildings["building_id"].astype(str).to_numpy() if "building_id" in buildings.columns
           else np.arange(len(buildings)).astype(str))
    members = [sorted(m, key=lambda i: bid[i])
               for m in pd.Series(mine).groupby(key[mine], sort=True).agg(list).tolist()]
    geoms = np.array([shapely.union_all(buildings.geometry.to_numpy()[m]) if len(m) > 1
                      else buildings.geometry.to_numpy()[m[0]] for m in members], dtype=object)
    hh = (pd.to_numeric(buildings["households"], errors="coerce").fillna(0).to_numpy() if "households" in buildings
          else np.zeros(len(buildings)))
    grids = grids.copy()
    has_sub = subgrids is not None and len(subgrids) > 0
    if has_sub:
        subgrids = subgrids.copy()
        sgids = subgrids["subgrid_id"].astype(str).to_numpy()
        sparent = subgrids["grid_id"].astype(str).to_numpy()
        spos = {g: i for i, g in enumerate(sgids)}

    def count(frame: gpd.GeoDataFrame, at: int, h: float, n: int) -> None:
        frame.iat[at, frame.columns.get_loc("households")] = int(round(frame["households"].iat[at] + h))
        frame.iat[at, frame.columns.get_loc("buildings")] = int(frame["buildings"].iat[at]) + n

    cur = np.array([pos.get(gid[m[0]], -1) for m in members], dtype=np.int64)
    at = assign_to_zones(geoms, grids.geometry.to_numpy(), prefer=cur).zone
    gcomm = grids["community_code"].astype(str).to_numpy()
    bcomm = buildings["community_code"].astype(str).to_numpy()
    for m, old, new in zip(members, cur, at, strict=True):
        if new < 0 or new == old or gcomm[new] != (gcomm[old] if old >= 0 else bcomm[m[0]]):
            continue  # a building across a community boundary stays in a grid of its own community
        for i in m:
            if gid[i] in pos:
                count(grids, pos[gid[i]], -float(hh[i]), -1)
            count(grids, new, float(hh[i]), 1)
            if has_sub and sid[i] in spos:
                count(subgrids, spos[sid[i]], -float(hh[i]), -1)
            gid[i], sid[i] = gids[new], None
    if not has_sub:
        return grids, subgrids
    # the small grid of each unit of an ordinary grid: its own, or the one of its grid it lies in
    of_grid = np.array([gid[m[0]] in pos and gkind[pos[gid[m[0]]]] != "dedicated" for m in members], dtype=bool)
    members, geoms = [m for m, k in zip(members, of_grid, strict=True) if k], geoms[of_grid]
    cur = np.array([spos.get(sid[m[0]], -1) for m in members], dtype=np.int64)
    s_at = assign_to_zones(geoms, subgrids.geometry.to_numpy(), prefer=cur).zone
    for m, old, new in zip(members, cur, s_at, strict=True):
        if new < 0 or new == old or sparent[new] != gid[m[0]]:
            continue
        for i in m:
            if sid[i] in spos:
                count(subgrids, spos[sid[i]], -float(hh[i]), -1)
            count(subgrids, new, float(hh[i]), 1)
            sid[i] = sgids[new]
    return grids, subgrids


def fit_dedicated(dedicated: gpd.GeoDataFrame, base: gpd.GeoDataFrame, communities: gpd.GeoDataFrame,
                  subgrids: gpd.GeoDataFrame | None = None) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame | None]:
    """Dedicated grids, ordinary grids and small grids of each community holding a dedicated grid,
    rebuilt from ONE planar arrangement, so that together they are an exact coverage.

    The ordinary grids are unions of the partition's cells, snap-rounded at
    :data:`gridgeo.partition.units.GRID_SIZE_M`; the dedicated grids are unions of street blocks
    (as built, or cut around a unit's buildings). Their shared edges, and their edges along the
    community's boundary, differ by float noise: a sliver along an ordinary grid's edge, an overlap
    of a square micrometre that an exact check (``shapely.coverage_is_valid``, PostGIS ``ST_Relate``)
    sees, before or after the plan is stored in degrees. Here the boundaries of the small grids, the
    ordinary grids, the dedicated grids and the community are noded together with snap-rounding at
    ``GRID_SIZE_M`` (the partition's own precision: a sliver thinner than that collapses onto the edge
    it runs along) and every grid is rebuilt as the union of the faces of that arrangement it holds:

    - a face inside a small grid is that small grid's (and its ordinary grid's); inside an ordinary
      grid without small grids, that grid's; else inside a dedicated grid, that one's;
    - a face of the community in none (a gap of the inputs) joins the grid sharing the longest edge
      with it; faces outside the community in none stay out;
    - every grid (dedicated or ordinary) and every small grid is one piece of land in each part of its
      community (:func:`_one_piece_per_part`): it keeps its largest piece there, and the faces of its
      other pieces (crumbs round buildings that are not a unit's, land a moved footprint cut off) join
      the neighbour sharing the longest edge with them, a small grid's of its own grid first (never left
      to no grid; a piece with no neighbour along an edge stays). The buildings on them follow in
      :func:`merge_result`, and a small grid left with no land and no building is dropped.

    Grids move by less than ``GRID_SIZE_M`` except where such a piece changes grid; households, buildings
    and ids are unchanged, ``area_m2``
    is measured again. Returns ``(dedicated, base, subgrids)``; communities without a dedicated grid
    are left as they are.

    >>> from shapely import box
    >>> c = gpd.GeoDataFrame({"code": ["c"]}, geometry=[box(0, 0, 20, 10)], crs=4547)
    >>> b = gpd.GeoDataFrame({"grid_id": ["g"], "community_code": ["c"], "area_m2": [0.0]},
    ...                      geometry=[box(0, 0, 10, 10)], crs=4547)
    >>> d = gpd.GeoDataFrame({"community_code": ["c"], "area_m2": [0.0]}, geometry=[box(9.9999999, 0, 20, 10)], crs=4547)
    >>> f, g, _ = fit_dedicated(d, b, c)
    >>> f.geometry.iloc[0].bounds, f["area_m2"].tolist(), bool(shapely.coverage_is_valid([*f.geometry, *g.geometry]))
    ((10.0, 0.0, 20.0, 10.0), [100.0], True)
    """
    from .partition.units import GRID_SIZE_M, spread_labels

    ded_geoms = dedicated.geometry.to_numpy().copy()
    base_geoms = base.geometry.to_numpy().copy()
    has_sub = subgrids is not None and len(subgrids) > 0
    sub_geoms = subgrids.geometry.to_numpy().copy() if has_sub else np.zeros(0, dtype=object)
    comm_geom = dict(zip(communities["code"].astype(str), communities.geometry.to_numpy(), strict=True))
    dcode = dedicated["community_code"].astype(str).to_numpy()
    bcode = base["community_code"].astype(str).to_numpy()
    bgid = base["grid_id"].astype(str).to_numpy() if "grid_id" in base.columns else np.arange(len(base)).astype(str)
    s_of_grid = (pd.Series(np.arange(len(subgrids))).groupby(subgrids["grid_id"].astype(str).to_numpy()).indices
                 if has_sub else {})
    for code in sorted(set(dcode)):
        if code not in comm_geom:
            continue
        di = np.flatnonzero(dcode == code)
        bi = np.flatnonzero(bcode == code)
        si = (np.concatenate([s_of_grid[g] for g in bgid[bi] if g in s_of_grid]).astype(np.int64)
              if len(bi) and any(g in s_of_grid for g in bgid[bi]) else np.zeros(0, dtype=np.int64))
        bare = bi[[g not in s_of_grid for g in bgid[bi]]] if len(bi) else bi  # ordinary grids without small grids
        # the pieces every face is sorted into, finest first: small grids, bare ordinary grids, dedicated grids
        pieces = np.concatenate([sub_geoms[si], base_geoms[bare], ded_geoms[di]]).astype(object)
        n_sub, n_bare = len(si), len(bare)
        cgeom = comm_geom[code]
        # the grids' edges only: the community's own outline runs up to a pixel off the ordinary grids'
        # snap-rounded one, and would leave slivers along it
        lines = shapely.get_parts(shapely.boundary(pieces))
        noded = shapely.union_all(lines[~shapely.is_empty(lines)], grid_size=GRID_SIZE_M)
        faces = np.asarray(shapely.get_parts(shapely.polygonize(shapely.get_parts(noded))), dtype=object)
        faces = faces[shapely.area(faces) > 0]
        label = _face_labels(faces, pieces, n_sub + n_bare)
        # faces of the community in no grid (gaps of the inputs): to the neighbour sharing most edge with them
        pts = inner_points(faces)
        in_comm = shapely.contains_xy(cgeom, shapely.get_x(pts), shapely.get_y(pts))
        if ((label < 0) & in_comm).any():
            sel = np.flatnonzero((label >= 0) | in_comm)
            lab = label[sel].copy()
            spread_labels(faces[sel], lab)
            label[sel] = lab
        # a grid (and a small grid) is one piece of land in each part of its community: the faces of its
        # smaller pieces go to the neighbour sharing most edge with them, never to no grid
        owner = _grid_of_piece(subgrids, si, bgid, bi, n_sub, len(pieces))
        _one_piece_per_part(faces, label, owner, shapely.get_parts(cgeom), in_comm)
        merged = union_by(faces, label, len(pieces), coverage=True)
        for k in range(n_sub + n_bare, len(pieces)):
            merged[k] = _one_polygon(merged[k])
        sub_geoms[si] = [_one_polygon(g) for g in merged[:n_sub]]
        base_geoms[bare] = [_one_polygon(g) for g in merged[n_sub:n_sub + n_bare]]
        ded_geoms[di] = merged[n_sub + n_bare:]
        # ordinary grids with small grids: the union of their small grids' faces
        for g in bi:
            mine = s_of_grid.get(bgid[g])
            if mine is not None:
                base_geoms[g] = _one_polygon(shapely.coverage_union_all(
                    faces[np.isin(label, np.flatnonzero(np.isin(si, mine)))]))
    return (_with_geoms(dedicated, ded_geoms), _with_geoms(base, base_geoms),
            _with_geoms(subgrids, sub_geoms) if has_sub else subgrids)


def _grid_of_piece(subgrids: gpd.GeoDataFrame | None, si: np.ndarray, bgid: np.ndarray, bi: np.ndarray, n_sub: int,
                   n: int) -> np.ndarray:
    """The grid of each piece of :func:`fit_dedicated` (``0 .. n-1``): a small grid's is its ordinary grid's
    (numbered ``n`` up, by that grid's position in ``bi``), every other piece is a grid of its own."""
    owner = np.arange(n, dtype=np.int64)
    if n_sub:
        at = {g: n + k for k, g in enumerate(bgid[bi])}
        owner[:n_sub] = [at[g] for g in subgrids["grid_id"].astype(str).to_numpy()[si]]
    return np.unique(owner, return_inverse=True)[1].astype(np.int64)


def _stray_faces(faces: np.ndarray, key: np.ndarray, face_part: np.ndarray) -> np.ndarray:
    """Faces (bool) outside the largest piece, in their community part, of the union of the faces sharing
    their ``key`` (>= 0); ``face_part`` is the community part holding each face (-1: none)."""
    stray = np.zeros(len(faces), dtype=bool)
    n = int(key.max()) + 1 if len(key) and key.max() >= 0 else 0
    merged = union_by(faces, key, n, coverage=True)
    pts = inner_points(faces)
    x, y = shapely.get_x(pts), shapely.get_y(pts)
    area = shapely.area(faces)
    for k in np.flatnonzero(shapely.get_num_geometries(merged) > 1):
        mine = np.flatnonzero(key == k)
        parts = shapely.get_parts(merged[k])
        where = np.full(len(mine), -1, dtype=np.int64)
        for j, part in enumerate(parts):
            where[shapely.contains_xy(part, x[mine], y[mine])] = j
        # the community part of a piece: that of its largest face
        big = pd.DataFrame({"w": where, "a": area[mine], "cp": face_part[mine]}).sort_values(
            ["w", "a"], ascending=[True, False], kind="stable").drop_duplicates("w")
        cp = dict(zip(big["w"], big["cp"], strict=True))
        size = shapely.area(parts)
        # one piece per community part; a piece off the community (float noise along its edge) is never one
        inside = {c for c in cp.values() if c >= 0} or {-1}
        keep = {max((j for j in range(len(parts)) if cp.get(j) == c), key=lambda j: (size[j], -j)) for c in inside}
        stray[mine[(where >= 0) & ~np.isin(where, sorted(keep))]] = True
    return stray


def _one_piece_per_part(faces: np.ndarray, label: np.ndarray, owner: np.ndarray, community_parts: np.ndarray,
                        in_comm: np.ndarray) -> None:
    """Relabel the faces of :func:`fit_dedicated` so that every grid (``owner`` of its piece) and every piece
    (small grid) is one polygon in each part of its community: the faces of a smaller piece in the same
    community part go to the labelled neighbour sharing the longest edge with them (a small grid's, one of
    its own grid first), with the buildings on them (:func:`_follow_fitted_land`). A piece with no such
    neighbour stays as it is. ``label`` in place."""
    from .partition.units import spread_labels

    if not len(faces):
        return
    pts = inner_points(faces)
    face_part = np.full(len(faces), -1, dtype=np.int64)
    fi, pi = shapely.STRtree(community_parts).query(pts, predicate="within")
    face_part[fi] = pi
    for _round in range(4):
        changed = False
        for per_grid in (True, False):  # whole grids first, then the small grids within them
            lab_owner = np.where(label >= 0, owner[np.maximum(label, 0)], -1)
            stray = _stray_faces(faces, lab_owner if per_grid else label, face_part)
            if not stray.any():
                continue
            was = label.copy()
            label[stray] = -1
            sel = np.flatnonzero((label >= 0) | in_comm | stray)
            lab = label[sel].copy()
            spread_labels(faces[sel], lab, group=lab_owner[sel])
            label[sel] = lab
            back = stray & (label < 0)  # no labelled neighbour along an edge: stays in several pieces
            label[back] = was[back]
            changed = changed or bool((label != was).any())
        if not changed:
            break


def _face_labels(faces: np.ndarray, pieces: np.ndarray, n_base: int) -> np.ndarray:
    """The piece holding each face (by its inner point; -1 for none). The first ``n_base`` pieces are
    ordinary (small) grids and come first; a face whose point two pieces of one kind hold (their
    edges as given differ from the snap-rounded ones) goes to the one it overlaps most."""
    label = np.full(len(faces), -1, dtype=np.int64)
    if not len(faces) or not len(pieces):
        return label
    pts = inner_points(faces)
    fi, pi = shapely.STRtree(pieces).query(pts, predicate="intersects")
    if not len(fi):
        return label
    rank = (pi >= n_base).astype(np.int64)  # ordinary before dedicated
    best = np.full(len(faces), 2, dtype=np.int64)
    np.minimum.at(best, fi, rank)
    keep = rank == best[fi]
    fi, pi = fi[keep], pi[keep]
    count = np.bincount(fi, minlength=len(faces))
    one = count[fi] == 1
    label[fi[one]] = pi[one]
    for f in np.unique(fi[~one]):
        cand = pi[fi == f]
        label[f] = int(cand[int(np.argmax(shapely.area(shapely.intersection(pieces[cand], faces[f]))))])
    return label


def _one_polygon(geom: Any) -> Any:
    """A single-part multipolygon as a polygon; anything else as it is."""
    if shapely.get_type_id(geom) == 6 and shapely.get_num_geometries(geom) == 1:
        return shapely.get_geometry(geom, 0)
    return geom


def _with_geoms(gdf: gpd.GeoDataFrame, geoms: np.ndarray) -> gpd.GeoDataFrame:
    """``gdf`` with new geometries and ``area_m2`` measured again."""
    out = gdf.set_geometry(gpd.GeoSeries(geoms, index=gdf.index, crs=gdf.crs))
    if "area_m2" in out.columns:
        out["area_m2"] = shapely.area(geoms).round(3)
    return out


def base_grids_only(previous: Any) -> Any:
    """A previous plan with its dedicated grids left out, for the re-division of the ordinary rest
    (:func:`gridgeo.adjust.adjust`); dedicated grids keep their codes through :func:`gridgeo.codes.assign_codes`."""
    from .plan import Plan

    grids = previous["grids"]
    if "kind" not in grids.columns:
        return previous
    layers = dict(previous.layers)
    layers["grids"] = grids[grids["kind"].astype(str) != "dedicated"].reset_index(drop=True)
    return Plan(layers, dict(previous.metadata))


def format_units(units: pd.DataFrame, grids: pd.DataFrame | None = None, *, max_grids: int = 30) -> str:
    """The register as text (``gridgeo info`` and ``gridgeo report``): units and dedicated grids per
    category, then units per grid (the grids with most units first, at most ``max_grids``).

    >>> u = pd.DataFrame({"name": ["a", "b", "c"], "category": ["school", "school", "other"],
    ...     "dedicated": [True, False, False], "grid_code": ["420103001001900", "420103001001001", None],
    ...     "rule": ["category", "attached", "outside"]})
    >>> print(format_units(u))  # doctest: +NORMALIZE_WHITESPACE
    Units (enterprises and institutions, 专属网格 register): 3, in dedicated grids 1, in no grid 1
    category             units  dedicated
    other                    1          0
    school                   2          1
    units per grid (most first)
    grid                 kind        units  categories
    420103001001001      base            1  school 1
    420103001001900      dedicated       1  school 1
    """
    c = unit_counts(units)
    lines = [f"Units (enterprises and institutions, 专属网格 register): {c['units']:,}, in dedicated grids "
             f"{c['dedicated_units']:,}, in no grid {c['in_no_grid']:,}",
             f"{'category':<20} {'units':>5}  {'dedicated':>9}"]
    lines += [f"{k:<20} {v['units']:>5}  {v['dedicated']:>9}" for k, v in c["per_category"].items()]
    kind_of = {}
    if grids is not None and "grid_code" in grids.columns and "kind" in grids.columns:
        kind_of = dict(zip(grids["grid_code"].astype(str), grids["kind"].astype(str), strict=True))
    u = units[units["grid_code"].notna()]
    lines.append("units per grid (most first)")
    lines.append(f"{'grid':<20} {'kind':<10} {'units':>5}  categories")
    rows = []
    for code, d in u.groupby(u["grid_code"].astype(str), sort=True):
        cats = d["category"].value_counts()
        cats = cats.sort_index().sort_values(ascending=False, kind="stable")
        kind = kind_of.get(code, "dedicated" if bool(d["dedicated"].iloc[0]) else "base")
        rows.append((-len(d), code, f"{code:<20} {kind:<10} {len(d):>5}  " + ", ".join(f"{k} {v}" for k, v in cats.items())))
    rows.sort()
    lines += [r[2] for r in rows[:max_grids]]
    if len(rows) > max_grids:
        lines.append(f"... and {len(rows) - max_grids:,} more grids with units (the plan's units layer lists every unit)")
    return "\n".join(lines)
