"""Households per building (户数): given, or estimated from footprint area × floors ÷ dwelling size.

Every building leaves with an integer ``households`` and ``households_source``:

- ``given``: a valid number (≥ 0) from the input;
- ``estimated``: footprint area (m², metric CRS) × floors × ``rules.residential_share`` ÷
  ``rules.dwelling_m2``, rounded; non-residential buildings (``use`` set and not residential) get 0;
- ``missing``: nothing usable (a point without households, or a footprint without floors): 0 households.

Null, negative or non-numeric values are findings, never silently replaced: ``households_invalid``
(negative, non-numeric), ``households_fractional`` (rounded), ``households_missing`` (counted as 0) and
``households_null`` (info: a null in a column that has values elsewhere, estimated instead). A count
written with its unit (``"120户"``) is read as the number (``households_parsed``, info), and one written as
approximate (约数: ``"约12户"``, ``"大约12"``, ``"12户左右"``, ``"120多户"``, ``"~12"``) too, said so (``households_approximate``,
info); a given count
that leaves under :data:`MIN_FLOOR_M2_PER_HOUSEHOLD` m² of floor area a household is kept and reported
(``households_implausible``).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from ._errors import InputError
from ._findings import make_findings
from .io import SOURCE_COLUMNS
from .rules import Rules, get_rules

__all__ = ["assign_households", "households_of", "refuse_booleans", "NON_RESIDENTIAL_USES", "NUMERIC_COLUMNS"]

#: a given household count that leaves less floor area than this to each household is reported
#: (``households_implausible``: a typo, or a count of residents; kept as given)
MIN_FLOOR_M2_PER_HOUSEHOLD = 10.0
#: counts (given or estimated) from this up are not counts: no integer column holds them exactly
MAX_COUNT = 2.0**53
#: floors assumed for that check where none are given (about the tallest residential towers)
IMPLAUSIBLE_FLOORS = 60
#: a count written with its unit, "120户" or "120 户"
_WITH_UNIT = r"\s*(\d+(?:\.\d+)?)\s*户\s*"
#: floors written with their unit, "6层", "6 F", "6楼"
_FLOORS_WITH_UNIT = r"\s*(\d+)\s*(?:层|楼|[Ff])\s*"
#: a height written with its unit, "45m", "45 米"
_HEIGHT_WITH_UNIT = r"\s*(\d+(?:\.\d+)?)\s*(?:m|M|米)\s*"
#: metres a floor, for floors taken from a building's height where none are given (OpenStreetMap and city
#: models carry ``height``, often without ``building:levels``)
METRES_PER_FLOOR = 3.0
#: heights from this up are not a building's (a mast, a typo in centimetres): not used
MAX_HEIGHT_M = 1000.0
#: a count with thousands separated by commas, "1,200"
_THOUSANDS = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?"
#: a number written as approximate (约数): "约12户", "大约12", "12户左右", "~12" (after NFKC, "～" is "~");
#: the group is the number with its unit, read as any other
_APPROX = r"(?:大约|大概|约|~)\s*(.+?)\s*(?:左右|上下)?|(.+?)\s*(?:左右|上下)"
#: a number written as "more than" (多, 余: "120多户", "300余人"), read as the number it names, approximate
_MORE_THAN = r"(\d[\d,.]*)\s*(?:多|余)"

#: the numeric columns of the buildings and what they hold (named in the message refusing True/False in one)
NUMERIC_COLUMNS = {"households": "numbers of households (户数)", "floors": "numbers of floors (层数)",
                   "height": "heights in metres (建筑高度)"}

#: ``use`` values that estimate 0 households (OSM building classes and common Chinese terms); any other
#: value, such as OSM's ``yes`` or ``住宅楼``, counts as residential
NON_RESIDENTIAL_USES = frozenset({
    "school", "hospital", "clinic", "market", "government", "office", "industrial", "commercial", "retail",
    "warehouse", "factory", "public", "civic", "church", "temple", "kindergarten", "university", "college",
    "train_station", "transportation", "parking", "garage", "garages", "hotel", "supermarket", "service",
    "bank", "restaurant", "cafe", "fast_food", "attraction", "museum", "embassy", "theatre", "cinema", "library",
    "police", "fire_station", "townhall", "courthouse", "post_office", "stadium", "sports_centre", "hospital_ward",
    "mall", "department_store", "shop", "shops", "bus_station", "station", "mosque", "cathedral", "chapel",
    "shrine", "monument", "exhibition_centre", "conference_centre", "power", "substation", "construction", "roof",
    "place_of_worship", "arts_centre", "communications_tower", "shed", "gate", "toilets", "kiosk", "hut",
    "银行", "餐厅", "博物馆", "剧院", "图书馆", "派出所", "写字楼", "商务楼宇",
    "学校", "医院", "卫生院", "诊所", "市场", "政府", "机关", "办公", "工业", "厂房", "商业", "商场", "仓库", "幼儿园", "酒店",
})


def assign_households(
    buildings: gpd.GeoDataFrame, *, metric: Any, rules: Rules | None = None
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Return buildings with integer ``households`` and ``households_source``, plus findings.

    Parameters
    ----------
    buildings
        Normalised buildings (``households`` and ``floors`` may be missing or text).
    metric
        The metric CRS footprint areas are measured in.
    rules
        Supplies ``dwelling_m2`` and ``residential_share``.

    Examples
    --------
    >>> from shapely import box
    >>> b = gpd.GeoDataFrame({"households": [12, None, "x"], "floors": [None, 6, 3], "use": [None] * 3},
    ...                      geometry=[box(0, 0, 10, 10), box(0, 0, 30, 15), box(0, 0, 10, 9)], crs=4547)
    >>> out, f = assign_households(b, metric=4547)
    >>> out[["households", "households_source"]].values.tolist()
    [[12, 'given'], [30, 'estimated'], [3, 'estimated']]
    >>> list(f["type"])
    ['households_invalid', 'households_null']
    """
    rules = rules or get_rules()
    refuse_booleans(buildings)
    out = buildings.copy()
    raw = out["households"] if "households" in out else pd.Series(np.nan, index=out.index)
    num = _numeric(raw)
    # text a register writes a count as: "120户" (with its unit), "１２０" (full-width digits), "1,200"
    # (thousands separated); each read as the number, with an info finding
    # and a count written as approximate ("约12户", "12户左右", "~12"), said so
    num, with_unit, approx = _read_text(raw, num, _WITH_UNIT, approx=True)
    num = num.where(np.isfinite(num))  # "inf" is not a number of households
    # nor is a value no integer column can hold (1e20 became -9223372036854775808 households, silently)
    huge = num.abs() >= MAX_COUNT
    num = num.where(~huge)
    present = raw.notna() & (raw.astype(str).str.strip() != "")
    _refuse_no_number(buildings, "households", raw, present, num.notna() | huge)
    column_used = bool(present.any())  # a column of nothing but nulls is no column at all
    non_numeric = present & num.isna() & ~huge
    negative = num < 0
    fractional = num.notna() & ~negative & (num != np.floor(num.fillna(0)))
    given = num.notna() & ~negative

    raw_floors = out["floors"] if "floors" in out else pd.Series(np.nan, index=out.index)
    # floors and heights as registers write them too: "6层", "约6层", "20米左右" (approximate: an estimate's input anyway)
    floors, floors_parsed = _read_text(raw_floors, _numeric(raw_floors), _FLOORS_WITH_UNIT, approx=True)[:2]
    floors_present = raw_floors.notna() & (raw_floors.astype(str).str.strip() != "")
    floors_bad = floors_present & ~(floors >= 0)  # text or negative: not used (0, as often, means not known)
    floors = floors.where(floors > 0)
    # floors from the height (m) where none are given: height ÷ METRES_PER_FLOOR, at least 1
    raw_height = out["height"] if "height" in out else pd.Series(np.nan, index=out.index)
    height = _read_text(raw_height, _numeric(raw_height), _HEIGHT_WITH_UNIT, approx=True)[0]
    from_height = floors.isna() & (height > 0) & (height < MAX_HEIGHT_M)
    height_present = raw_height.notna() & (raw_height.astype(str).str.strip() != "")
    # a height that would be used (no floors) but is no height in metres (text, negative, a mast's): said, not used
    height_bad = floors.isna() & height_present & ~((height >= 0) & (height < MAX_HEIGHT_M))
    floors = floors.where(~from_height, np.maximum(1.0, np.rint(height / METRES_PER_FLOOR)))
    area = out.geometry.to_crs(metric).area.to_numpy()
    # a plain list: Series.map would turn None into NaN under pandas' string dtype, and NaN is "not residential"
    uses = out["use"].tolist() if "use" in out else [None] * len(out)
    residential = np.array([_is_residential(u) for u in uses], dtype=bool)
    estimate = np.rint(area * floors.fillna(0).to_numpy() * rules.residential_share / rules.dwelling_m2)
    estimate = np.where(residential, estimate, 0)
    can_estimate = (floors.notna().to_numpy() & (area > 0) & (estimate < MAX_COUNT)) | ~residential
    estimate = np.where(estimate < MAX_COUNT, estimate, 0)

    households = np.where(given, np.rint(num.fillna(0)), np.where(can_estimate, estimate, 0)).astype("int64")
    # a given count the building cannot hold: under MIN_FLOOR_M2_PER_HOUSEHOLD of floor area each (footprint ×
    # floors, or × IMPLAUSIBLE_FLOORS where floors are unknown); kept, but said
    room = area * floors.fillna(IMPLAUSIBLE_FLOORS).to_numpy() / MIN_FLOOR_M2_PER_HOUSEHOLD
    implausible = given.to_numpy() & (area > 0) & (households > room)
    source = np.where(given, "given", np.where(can_estimate, "estimated", "missing"))
    out["households"] = households
    out["households_source"] = source

    records = []
    ids = out["building_id"] if "building_id" in out else pd.Series(out.index.astype(str), index=out.index)
    reps = out.geometry.representative_point()
    for mask, ftype, severity, text in (
        (non_numeric | negative, "households_invalid", "warning", "households value {v!r} is not a number ≥ 0"),
        (huge, "households_invalid", "warning", "households value {v!r} is too large to be a count"),
        (fractional, "households_fractional", "warning", "households value {v!r} is not a whole number; rounded"),
        (implausible, "households_implausible", "warning",
         "households value {v!r} leaves under " f"{MIN_FLOOR_M2_PER_HOUSEHOLD:g}" " m² of floor area a household (footprint × "
         "floors, or × " f"{IMPLAUSIBLE_FLOORS}" " floors where none are given); check it"),
        (with_unit & ~approx & ~huge, "households_parsed", "info", "households value {v!r} read as a number"),
        (approx & ~huge & ~negative, "households_approximate", "info",
         "households value {v!r} is approximate (约数: 约, 大约, 左右, 多, 余, ~); read as " "{n}, check the count"),
        (floors_bad, "floors_invalid", "warning", "floors value {f!r} is not a number ≥ 0; not used"),
        (floors_parsed & ~floors_bad, "floors_parsed", "info", "floors value {f!r} read as a number"),
        (height_bad & ~given, "height_invalid", "warning",
         "height value {h!r} is not a height in metres (0–" f"{MAX_HEIGHT_M:g}" "); not used"),
        (from_height & ~given, "floors_from_height", "info",
         "no floors value; {l:g} floors taken from its height {h!r} ÷ " f"{METRES_PER_FLOOR:g}" " m a floor"),
        (~present & (source == "missing") & residential, "households_missing", "warning",
         "no households, no floors and no height{u}: counted as 0"),
        (~present & (source == "estimated") & column_used, "households_null", "info", "no households value"),
    ):
        for i in np.flatnonzero(np.asarray(mask)):
            how = {"given": "kept", "estimated": f"estimated {households[i]} from footprint × floors", "missing": "counted as 0"}[source[i]]
            records.append(
                {
                    "type": ftype,
                    "severity": severity,
                    "layer": "buildings",
                    "feature_id": str(ids.iloc[i]),
                    "measure": float(households[i]),
                    "message": f"building {ids.iloc[i]}: " + text.format(v=_shown(raw.iloc[i]), f=_shown(raw_floors.iloc[i]),
                                                                       n=_shown(num.iloc[i]), h=_shown(raw_height.iloc[i]),
                                                                       l=float(floors.iloc[i]) if from_height.iloc[i] else 0.0,
                                                                       u=" it can use" if height_bad.iloc[i] else "")
                               + ("" if ftype == "households_missing" else f"; {how}"),
                    "geometry": reps.iloc[i],
                }
            )
    estimated = int((source == "estimated").sum())
    unread = _count_columns(buildings) if not column_used and estimated else []
    if unread:
        # no count anywhere (the column absent or empty) beside a column of counts under another name ("HU", "HS"):
        # every count estimated, that column unread; said, since only the user knows whether it is the count
        records.append({
            "type": "households_estimated", "severity": "info", "layer": "buildings", "measure": float(estimated),
            "message": f"buildings: no households (户数) column: {estimated:,} of {len(out):,} counts estimated from "
                       f"footprint × floors ÷ {rules.dwelling_m2:g} m²; {'column' if len(unread) == 1 else 'columns'} "
                       f"{unread[:6]} {'holds' if len(unread) == 1 else 'hold'} whole numbers: if one is the count of "
                       "households, map it with --columns buildings.households=COLUMN",
            "geometry": None,
        })
    return out, make_findings(records, crs=out.crs)


#: columns of the buildings that are not a household count under another name, and names of columns of numbers
#: that are no count (ids, codes, areas, lengths, coordinates)
_NOT_COUNTS = frozenset({"building_id", "households", "floors", "height", "use", "name", "households_source", "unit_id"})
_NOT_COUNT_NAME = re.compile(r"(^|_)(id|fid|gid|objectid|osm_id|x|y|lon|lng|lat|z|tile)$|code|area|len|perim|elev|year|"
                             r"编码|编号|代码|面积|周长|长度|高程|年", re.IGNORECASE)


def _count_columns(buildings: gpd.GeoDataFrame) -> list[str]:
    """The columns of ``buildings`` (none of :data:`_NOT_COUNTS`, no id, code, area or coordinate by its name) whose
    values are all whole numbers from 0 up, as counts written as registers write them (``120户``) included: what may
    be the count of households under a name gridgeo does not know."""
    found = []
    for col in buildings.columns:
        if col == buildings.geometry.name or col in _NOT_COUNTS or _NOT_COUNT_NAME.search(str(col)):
            continue
        raw = buildings[col]
        if pd.api.types.is_bool_dtype(raw.dtype):
            continue
        present = raw.notna() & (raw.astype(str).str.strip() != "")
        if not present.any():
            continue
        num = _read_text(raw, _numeric(raw), _WITH_UNIT, approx=True)[0]
        values = num[present]
        if values.notna().all() and (values >= 0).all() and (values == np.floor(values)).all() and (values < MAX_COUNT).all():
            found.append(str(col))
    return found


def refuse_booleans(buildings: gpd.GeoDataFrame) -> None:
    """Raise :class:`~gridgeo.InputError` when a column of :data:`NUMERIC_COLUMNS` holds True/False.

    A boolean is no count (a flag such as "residential?" mapped as households was read as 1 and 0
    households, given, with no finding) and, unlike a word in one row, says the whole column is the wrong
    one: refused in one line naming the column as the user's layer has it (``户数`` read as households)
    and the first row holding a boolean. So is a column of text holding nothing but true/false words (a CSV's
    booleans: Excel writes TRUE/FALSE); one such word among counts is a word like any other (a finding).

    >>> from shapely import Point
    >>> refuse_booleans(gpd.GeoDataFrame({"households": [False, True]}, geometry=[Point(0, 0)] * 2))
    Traceback (most recent call last):
    gridgeo._errors.InputError: buildings: column 'households' holds True/False (row 0: False), not numbers of households (户数); give numbers (or leave them empty), or map the column that holds them with --columns buildings.households=COLUMN
    """
    for column in NUMERIC_COLUMNS:
        if column not in buildings.columns:
            continue
        values = buildings[column]
        if pd.api.types.is_bool_dtype(values.dtype):
            flags = values.notna().to_numpy(dtype=bool)
        elif values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
            flags = np.fromiter((isinstance(v, (bool, np.bool_)) for v in values), dtype=bool, count=len(values))
            if not flags.any():  # text: a column of nothing but TRUE/FALSE (a CSV's booleans, as Excel writes them)
                words = values.astype(object).where(values.notna(), "").astype(str).str.strip().str.lower()
                flags = (words != "").to_numpy(dtype=bool)
                if not flags.any() or not words[flags].isin(["true", "false"]).all():
                    continue
        else:
            continue
        if not flags.any():
            continue
        i = int(np.flatnonzero(flags)[0])
        value = values.iloc[i]
        shown = repr(value) if isinstance(value, str) else bool(value)
        _wrong_column(buildings, column, f"True/False (row {values.index[i]}: {shown})")


def _wrong_column(buildings: gpd.GeoDataFrame, column: str, holds: str) -> None:
    """Refuse a column of :data:`NUMERIC_COLUMNS` that ``holds`` what no count is, named as the user's layer
    names it (``户数`` read as households), with the fix."""
    name = buildings.attrs.get(SOURCE_COLUMNS, {}).get(column, column)
    msg = (f"buildings: column {name!r} holds {holds}, not {NUMERIC_COLUMNS[column]}; give numbers (or leave them "
           f"empty), or map the column that holds them with --columns buildings.{column}=COLUMN")
    raise InputError(msg)


#: values of a households column of which not one is a number, from which the column is refused as the wrong one
NO_NUMBER_MIN = 3
#: what registers and exports write for "no value": not a word that says the column is the wrong one
_NULL_WORDS = frozenset({"null", "none", "nan", "n/a", "na", "-", "--", "—", "/", "无", "未知", "unknown", "空", "暂无"})
#: a number written in Chinese numerals ("十二", "约十二户", "六层"): a count in words, not a wrong column
_NUMERAL = r"(?:大约|大概|约|~)?\s*[0-9０-９零〇一二两三四五六七八九十百千万]+\s*(?:户|层|楼|米)?\s*(?:左右|上下|多|余)?"


def _refuse_no_number(buildings: gpd.GeoDataFrame, column: str, raw: pd.Series, present: pd.Series,
                      read: pd.Series) -> None:
    """Raise :class:`~gridgeo.InputError` when the households column holds at least :data:`NO_NUMBER_MIN`
    values, not one of which reads as a number (``read``: where one did, "120户" and "约12" included), nor is a
    placeholder for none (:data:`_NULL_WORDS`), nor is a number in numerals (:data:`_NUMERAL`): a word in one row is a finding, a column of
    nothing but words is the wrong column (a name or an address mapped as households), and a plan counted from
    it would be all estimates. (Floors and height are only the estimate's inputs: their words stay findings.)

    >>> from shapely import Point
    >>> b = gpd.GeoDataFrame({"households": ["高层", "多层", "高层"]}, geometry=[Point(0, 0)] * 3)
    >>> _refuse_no_number(b, "households", b["households"], b["households"].notna(), b["households"].isna())
    Traceback (most recent call last):
    gridgeo._errors.InputError: buildings: column 'households' holds no number (3 values, e.g. '高层', '多层'), not numbers of households (户数); give numbers (or leave them empty), or map the column that holds them with --columns buildings.households=COLUMN
    >>> b = gpd.GeoDataFrame({"households": ["十二", "NULL", "-"]}, geometry=[Point(0, 0)] * 3)
    >>> _refuse_no_number(b, "households", b["households"], b["households"].notna(), b["households"].isna())
    """
    if bool((read & present).any()):
        return
    words = raw[present].astype(str).str.strip()
    if len(words) < NO_NUMBER_MIN or words.str.lower().isin(_NULL_WORDS).any() or words.str.fullmatch(_NUMERAL).any():
        return
    examples = ", ".join(repr(v) for v in pd.unique(words.to_numpy())[:2])
    _wrong_column(buildings, column, f"no number ({len(words):,} values, e.g. {examples})")


def _numeric(raw: pd.Series) -> pd.Series:
    """``raw`` as float64 numbers, NaN where it holds none: a nullable column (``Int64``, Arrow) has ``pd.NA``,
    which no mask of the counts can hold (``boolean value of NA is ambiguous``).

    >>> _numeric(pd.Series([12, None], dtype="Int64")).tolist()
    [12.0, nan]
    """
    return pd.to_numeric(raw, errors="coerce").astype("float64")


def _read_text(raw: pd.Series, num: pd.Series, unit: str, *, approx: bool = False) -> tuple[pd.Series, ...]:
    """``num`` (``raw`` read as numbers) with the text a register writes numbers as read too: full-width digits
    ("１２０"), thousands separated by commas ("1,200"), the number with its unit (``unit``, a pattern with the
    number as its group: "120户", "6层"); and where such text was read. With ``approx``, a number written as
    approximate ("约12户", "大约12", "12户左右", "~12", and "more than": "12多户", "12余户") is read too, and
    where it was is returned third.

    >>> raw = pd.Series(["约12户", "12户左右", "～12", "12", "约", "约x户", "12多户", "十多户"])
    >>> num, parsed, approx = _read_text(raw, pd.to_numeric(raw, errors="coerce"), _WITH_UNIT, approx=True)
    >>> num.tolist()[:4], num.tolist()[6], approx.tolist()
    ([12.0, 12.0, 12.0, 12.0], 12.0, [True, True, True, False, False, False, True, False])
    """
    parsed = pd.Series(False, index=raw.index)
    approximate = pd.Series(False, index=raw.index)
    text = num.isna() & raw.notna()
    if not text.any():
        return (num, parsed, approximate) if approx else (num, parsed)
    norm = raw[text].astype(str).map(lambda t: unicodedata.normalize("NFKC", t).strip())
    if approx:
        more = norm.str.contains(_MORE_THAN.replace("(", "(?:", 1))  # "120多户": the number it names, then as "120户"
        norm = norm.where(~more, norm.str.replace(f"{_MORE_THAN}\\s*", r"\1", regex=True))
        m = norm.str.fullmatch(_APPROX)
        inner = norm.str.extract(f"^(?:{_APPROX})$")
        inner = inner[0].fillna(inner[1])
        norm = norm.where(~m, inner)
        m |= more
    # thousands separated, alone or before a unit ("1,200", "1,200人")
    norm = norm.where(~norm.str.match(f"{_THOUSANDS}(?![\\d,])"), norm.str.replace(",", "", regex=False))
    with_unit = norm.str.fullmatch(unit)
    norm = norm.where(~with_unit, norm.str.extract(unit, expand=False))
    read = pd.to_numeric(norm, errors="coerce")
    parsed[text] = read.notna().to_numpy()
    num = num.where(~parsed, read.reindex(raw.index))
    if not approx:
        return num, parsed
    approximate[text] = (m & read.notna()).to_numpy()
    return num, parsed, approximate


def _shown(v: Any) -> Any:
    """A value as the user wrote it: numbers without numpy's repr (``-5``, not ``np.float64(-5.0)``)."""
    if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
        return _Plain(f"{int(v)}" if float(v).is_integer() else f"{float(v):g}")
    return v


class _Plain(str):
    """A string whose repr is itself (a number shown in a message)."""

    def __repr__(self) -> str:
        return str(self)


def _is_residential(use: Any) -> bool:
    """Residential unless the use is one of NON_RESIDENTIAL_USES (no use given counts as residential)."""
    if use is None or (not isinstance(use, str) and pd.isna(use)):
        return True
    text = str(use).strip().lower()
    return text not in NON_RESIDENTIAL_USES


def households_of(buildings: gpd.GeoDataFrame, *, metric: Any, rules: Rules | None = None) -> np.ndarray:
    """Households of each building as gridgeo counts them everywhere (partition, ``validate``, report).

    A layer gridgeo normalised (with ``households_source``) is taken as it is; any other layer is
    estimated as the partition estimates it (:func:`assign_households`: nulls from footprint × floors,
    non-residential uses 0), so that a figure never depends on which command computed it.

    >>> from shapely import box
    >>> b = gpd.GeoDataFrame({"households": [12, None], "floors": [None, 6]},
    ...                      geometry=[box(0, 0, 10, 10), box(0, 0, 30, 15)], crs=4547)
    >>> households_of(b, metric=4547).tolist()
    [12.0, 30.0]
    """
    if "households_source" in buildings.columns:
        return pd.to_numeric(buildings["households"], errors="coerce").fillna(0).to_numpy(dtype=float)
    return assign_households(buildings, metric=metric, rules=rules)[0]["households"].to_numpy(dtype=float)
