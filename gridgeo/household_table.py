"""Households kept apart from the footprints: a table (户数表) or a register (住户登记) joined to the buildings.

Planners get the footprints from surveying and the households from the community: an Excel or CSV table of building
id (楼栋编号) and count (户数), or a register with one row per household. ``gridgeo partition --households TABLE``
(``divide(households=...)``) joins it to the buildings, many buildings' rows to one table row, on the building id:

- the table's key column is the one named (``--households-key``), else the one of :data:`KEY_NAMES` it has; it is
  matched to the buildings' ``building_id`` (``楼栋编号`` read as such, or mapped: ``--columns buildings.building_id=COL``);
- a column of :data:`COUNT_NAMES` makes it a count table (the count read as any count is: ``120户``, ``约12户`` ...);
  without one it is a register: of persons when it has a household id (户号, :data:`HOUSEHOLD_ID_NAMES`; its distinct
  ids per building are counted) or a relationship to the head (与户主关系, :data:`RELATION_NAMES`; its heads 户主
  are counted), else of households (each building has as many households as it has rows);
- nothing is lost silently: ids the footprints do not have (``households_table_unmatched``), an id listed twice
  with different counts (``households_table_duplicate``: the largest is used) and rows without an id
  (``households_table_no_id``) are findings naming them; no id matching at all is an :class:`~gridgeo.InputError`
  showing both columns' values;
- buildings the table does not list keep the layer's own count where it has one, and are otherwise estimated from
  footprint × floors as always (``households_null``); where the layer has a count too, the table's wins
  (``households_table_replaced``, naming how many differed).
"""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from ._errors import InputError
from ._face import CLI
from .io import COLUMN_ALIASES, SOURCE_COLUMNS, LayerSource, _code_text, _column_key, fingerprint, frame_fingerprint

__all__ = ["KEY_NAMES", "COUNT_NAMES", "households_source", "read_households_table", "join_households"]

#: a table's building id column, when none is named: the buildings' own names for it, and a few more
KEY_NAMES = ("building_id", *COLUMN_ALIASES["buildings"]["building_id"], "楼栋号", "楼号", "建筑物代码", "楼栋id")
#: a table's count column: the buildings' names for the households; a table without one is a register
COUNT_NAMES = ("households", *COLUMN_ALIASES["buildings"]["households"], "住户数量", "住户户数")
#: a register's household id column (户号): a register of one row per person counts its distinct households
HOUSEHOLD_ID_NAMES = ("household_id", "户号", "户编号", "户籍号", "住户编号")
#: a register's relationship to the head of household (与户主关系): without a 户号, its heads (户主) are the households
RELATION_NAMES = ("与户主关系", "户主关系", "relation", "relationship")
#: the relationship values that name the head of household
HEADS = ("户主", "本人", "head", "self")
#: suffixes read as spreadsheets through GDAL (no openpyxl): ``HEADERS=FORCE``, an all-text first row is the header
_SHEETS = (".xlsx", ".ods")
#: a row whose id cell says it sums the others (合计): no building, left out
TOTALS = ("合计", "总计", "小计", "共计", "total", "sum")
#: dashes written for ``-`` in ids (``3－1``, ``3—1``): one in an id's form
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
#: rows above the header searched for it (a title row, 标题行, such as ``XX社区户数统计表``)
_HEADER_ROWS = 10
#: ids named in one message at most
_SHOWN = 5


def households_source(value: Any, *, key: str | None = None, layer: str | None = None,
                      encoding: str | None = None) -> LayerSource:
    """A households table given to :func:`gridgeo.divide` (a DataFrame, a path, a ``(path, sheet)`` pair or a
    :class:`~gridgeo.io.LayerSource`) as a source; ``key`` (the table's building id column) kept as its
    ``columns["building_id"]``.

    >>> households_source("户数表.xlsx", key="楼栋编号").columns
    {'building_id': '楼栋编号'}
    >>> households_source(12)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    gridgeo._errors.InputError: households=12: give a table of building id and households (户数表): a DataFrame, ...
    """
    if isinstance(value, LayerSource):
        src = LayerSource(value.path, layer=value.layer, encoding=value.encoding, columns=dict(value.columns),
                          frame=value.frame)
    elif isinstance(value, pd.DataFrame):
        src = LayerSource(None, frame=value)
    elif isinstance(value, (str, os.PathLike)):
        src = LayerSource(value, layer=layer)
    elif (isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], (str, os.PathLike))
          and isinstance(value[1], (str, type(None)))):
        src = LayerSource(value[0], layer=value[1])
    else:
        shown = repr(value) if len(repr(value)) <= 60 else f"<{type(value).__name__}>"
        msg = (f"households={shown}: give a table of building id and households (户数表): a DataFrame, a CSV or "
               "Excel file, or a (path, sheet) pair")
        raise InputError(msg)
    if encoding is not None:
        src.encoding = encoding
    if key is not None:
        src.columns["building_id"] = str(key)
    return src


def read_households_table(src: LayerSource, names: tuple[str, ...] = KEY_NAMES) -> tuple[pd.DataFrame, str]:
    """The table of ``src`` as a DataFrame indexed by each row's line in the file (the header is line 1, or the line
    below a CSV's title rows: the first naming one of ``names``), and its fingerprint. CSV in the encoding gridgeo
    finds (:mod:`gridgeo._csv`), spreadsheets and any other table GDAL reads through pyogrio."""
    if src.frame is not None:
        if not isinstance(src.frame, pd.DataFrame):
            msg = f"households=<{type(src.frame).__name__}>: give a DataFrame of building id and households (户数表)"
            raise InputError(msg)
        table = pd.DataFrame(src.frame).copy()
        if isinstance(src.frame, gpd.GeoDataFrame):
            table = table.drop(columns=src.frame.geometry.name)
        twice = sorted({str(c) for c in table.columns[table.columns.duplicated()]})
        if twice:  # a file's reader renames them (楼栋编号.1); a frame keeps them, and a column is then two
            msg = f"households: the table has columns named twice {twice}; rename or drop one of each"
            raise InputError(msg)
        table.index = range(2, len(table) + 2)
        return table, frame_fingerprint(src.frame)
    path = Path(src.path)
    if not path.is_file():
        msg = f"households: file not found: {src.path}; check the path"
        raise InputError(msg)
    if path.suffix.lower() in (".csv", ".txt"):
        from ._csv import read_csv_text

        if src.layer is not None:  # a sheet named for a CSV: said, not dropped
            given = f"--households-layer {src.layer}" if CLI.get() else f"the sheet {src.layer!r}"
            msg = f"households: {path.name} is a CSV, one table without sheets: {given} names none of it; leave it out"
            raise InputError(msg)

        # divide() respells the option as households=gridgeo.io.LayerSource(PATH, encoding=...)
        skip = _title_lines(path, src.encoding, names)
        table = read_csv_text(path, encoding=src.encoding, what="households", option="--encoding households={}",
                              by_line=True, skiprows=skip)
        table.index = table.index + skip
    else:
        table = _read_ogr_table(path, src)
    return table, fingerprint(path)


def _title_lines(path: Path, encoding: str | None, names: tuple[str, ...]) -> int:
    """The lines above a CSV's header: a title row (标题行, ``XX社区户数统计表``) as Excel saves it, when one of the
    first lines below it has a field naming a building id column (``names``); else 0."""
    import csv
    import itertools

    from ._csv import DELIMITERS, csv_encoding

    wanted = {_header_key(n) for n in names}
    with open(path, encoding=csv_encoding(path, encoding, what="households"), errors="replace", newline="") as f:
        head = list(itertools.islice(f, _HEADER_ROWS))
    for i, line in enumerate(head):
        if any(_header_key(c) in wanted for d in DELIMITERS for c in next(csv.reader([line], delimiter=d), [])):
            return i
    return 0


def _read_ogr_table(path: Path, src: LayerSource) -> pd.DataFrame:
    """A spreadsheet (its sheet ``src.layer``, else its only sheet with rows) or another table GDAL reads."""
    import pyogrio

    options: dict[str, Any] = {"HEADERS": "FORCE"} if path.suffix.lower() in _SHEETS else {}
    if src.encoding:
        options["encoding"] = src.encoding
    try:
        sheets = [str(s) for s in pyogrio.list_layers(path)[:, 0]]
    except Exception:  # noqa: BLE001 - any failure of GDAL to open it says the same
        msg = f"households: cannot read {path}: not a table GDAL recognises; give a CSV or an Excel .xlsx file"
        raise InputError(msg) from None
    sheet = src.layer
    if sheet is not None and sheet not in sheets:
        msg = f"households: sheet {sheet!r} not found in {path.name}; sheets there: {sheets}"
        raise InputError(msg)
    if sheet is None:
        full = [s for s in sheets if pyogrio.read_info(path, layer=s, **options).get("features", 0) > 0]
        if len(full) != 1:
            flag = "--households-layer SHEET" if CLI.get() else "households=(path, sheet)"
            msg = (f"households: {path.name} has {'no sheet with rows' if not full else f'several sheets with rows {full}'}; "
                   f"{'give a table with a header row and its rows' if not full else f'choose one with {flag}'}")
            raise InputError(msg)
        sheet = full[0]
    table = pd.DataFrame(pyogrio.read_dataframe(path, layer=sheet, read_geometry=False, **options))
    table.index = range(2, len(table) + 2)
    # a row left empty (between a sheet's blocks, above its totals) is no row, as in a CSV
    empty = table.map(lambda v: _code_text(v) == "").all(axis=1) if len(table.columns) else pd.Series(False, table.index)
    return table[~empty]


def _header_key(column: Any) -> str:
    """A header as matched against names: full-width forms as ASCII (NFKC), without a unit in brackets at its end
    (``户数（户）``, ``户数(单位:户)``) nor spaces, lower case.

    >>> [_header_key(c) for c in ["户数（户）", " 楼栋 编号 ", "Households (户)"]]
    ['户数', '楼栋编号', 'households']
    """
    text = unicodedata.normalize("NFKC", str(column))
    return re.sub(r"\s+", "", re.sub(r"\([^()]*\)\s*$", "", text)).lower()


def _pick(table: pd.DataFrame, names: tuple[str, ...]) -> list:
    """The columns of ``table`` named one of ``names`` (as :func:`_header_key` reads them)."""
    wanted = {_header_key(n) for n in names}
    return [c for c in table.columns if _header_key(c) in wanted]


def _below_title(table: pd.DataFrame, names: tuple[str, ...]) -> pd.DataFrame:
    """``table`` with its header found below a title row (标题行 such as ``XX社区户数统计表``, read as the header): the
    first of its first rows with a cell naming a building id column (``names``) is the header, where the read header
    names none. The rows keep their lines."""
    wanted = {_header_key(n) for n in names}
    if any(_header_key(c) in wanted for c in table.columns):
        return table
    for i in range(min(len(table), _HEADER_ROWS)):
        row = [_code_text(v) for v in table.iloc[i]]
        if any(_header_key(v) in wanted for v in row if v):
            body = table.iloc[i + 1:].copy()
            body.columns = [v or f"column {j + 1}" for j, v in enumerate(row)]
            return body
    return table


def _key_column(table: pd.DataFrame, key: str | None, where: str) -> Any:
    """The table's building id column: ``key`` (any case), else the only one of :data:`KEY_NAMES`."""
    cols = [str(c) for c in table.columns]
    flag = "--households-key COLUMN" if CLI.get() else "households_key='COLUMN'"
    if key is not None:
        found = [c for c in table.columns if _column_key(c) == _column_key(key)]
        if not found:
            shown = f"--households-key {key}" if CLI.get() else f"households_key={key!r}"
            msg = f"{shown}: no such column in {where}; columns there: {cols}"
            raise InputError(msg)
        return found[0]
    found = _pick(table, KEY_NAMES)
    if len(found) != 1:
        what = f"several building id columns {found}" if found else "no building id column (楼栋编号, 建筑编号, building_id)"
        msg = f"households: {where} has {what}; columns there: {cols}; name it with {flag}"
        raise InputError(msg)
    return found[0]


def _count_column(table: pd.DataFrame, key: Any, where: str) -> Any | None:
    """The table's count column (:data:`COUNT_NAMES`), None for a register (one row per household)."""
    found = [c for c in _pick(table, COUNT_NAMES) if c != key]
    if len(found) > 1:
        msg = (f"households: {where} has several count columns {[str(c) for c in found]}; keep one (户数) or give a "
               "register of one row per household")
        raise InputError(msg)
    return found[0] if found else None


def join_households(buildings: gpd.GeoDataFrame, src: LayerSource) -> tuple[gpd.GeoDataFrame, list[dict], str]:
    """The normalised ``buildings`` with the households of the table ``src`` joined on ``building_id``, the
    findings of the join (``layer`` buildings) and the table's fingerprint.

    >>> from shapely import Point
    >>> b = gpd.GeoDataFrame({"building_id": ["A1", "A2", "A3"], "households": [np.nan] * 3},
    ...                      geometry=[Point(0, 0), Point(1, 0), Point(2, 0)], crs=4547)
    >>> t = pd.DataFrame({"楼栋编号": ["A1", "A1", "A2", "X9"], "姓名": ["张", "李", "王", "赵"]})
    >>> out, found, _ = join_households(b, households_source(t))
    >>> out["households"].tolist()
    [2.0, 1.0, nan]
    >>> [f["type"] for f in found]
    ['households_table_unmatched', 'households_table_used']
    """
    key = src.columns.get("building_id")
    # the buildings' own id column mapped in --config's [buildings] columns keys the table too, where it has it
    mapped = buildings.attrs.get(SOURCE_COLUMNS, {}).get("building_id")
    names = (*KEY_NAMES, *(n for n in (key, mapped) if n))
    table, print_ = read_households_table(src, names)
    where = "the households table" if src.path is None else Path(src.path).name
    table = _below_title(table, names)
    if key is None and mapped and _pick(table, (mapped,)) and not _pick(table, KEY_NAMES):
        key = mapped
    key, count, hh, rel, kind = table_kind(table, where, key)
    ids = table[key].map(_code_text).astype(str)  # text even when empty (a mapped empty column is float)
    records: list[dict] = []
    total = ids.str.replace(r"\s+", "", regex=True).str.lower().isin(TOTALS)  # 合计, 合  计, Total
    if total.any():
        lines = table.index[total].tolist()
        records.append(_finding("households_table_total", f"households: line(s) {lines[:_SHOWN]} of {where} "
                                f"({ids[total].iloc[0]}) sum the other rows: not a building, not used",
                                measure=len(lines), severity="info"))
    no_id = ids == ""
    if no_id.any():
        lines = table.index[no_id].tolist()
        records.append(_finding("households_table_no_id", f"households: {len(lines):,} row(s) of {where} without a "
                                f"{key} (lines {lines[:_SHOWN]}{' …' if len(lines) > _SHOWN else ''}); not used: give "
                                "each row its building's id (a merged cell is read as empty: unmerge it and fill each "
                                "row)", measure=len(lines)))
    ids, table = ids[~no_id & ~total], table[~no_id & ~total]
    if ids.empty:  # nothing to join: not "no id matches", whose fix (map the id columns) would not help
        what = "has no rows" if len(no_id) == 0 else f"has no row with a {key} (of its {len(no_id):,} rows)"
        msg = (f"households: {where} {what}; give a table with one row per building (楼栋编号, 户数) or a register, "
               f"or leave {'--households' if CLI.get() else 'households='} out")
        raise InputError(msg)
    if count is None:  # a register: one row per household, or per person with a 户号 or a 与户主关系
        raw = _register_counts(table, ids, hh, rel, where)
    else:
        raw = _counts_per_id(table[count], ids, key, count, records)
    building_ids = buildings["building_id"].map(_code_text)
    alike, doubtful = match_id_forms(raw.index, building_ids)
    if alike:
        shown = [f"{t} → {b}" for t, b in list(alike.items())[:_SHOWN]]
        records.append(_finding("households_table_id_form",
                                f"households: {len(alike):,} {key}(s) of {where} written otherwise than the buildings' "
                                f"building_id matched it (full-width digits, spaces, dashes, leading zeros, 号楼/栋/幢; "
                                f"e.g. {shown}); only where one building and one table id are written so",
                                measure=len(alike), severity="info"))
        raw.index = pd.Index([alike.get(t, t) for t in raw.index])
        raw = raw.sort_index()
    known = _among(raw.index, building_ids)
    if not known.any():
        _refuse_no_match(raw.index, buildings, building_ids, key, where)
    for bid in raw.index[~known]:
        alike_ids = doubtful.get(bid)
        why = (f"; it is written like {alike_ids} (not joined: ids written alike name more than one building or row)"
               if alike_ids else "")
        records.append(_finding("households_table_unmatched",
                                f"households: {key} {bid!r} of {where} "
                                f"({'no count' if pd.isna(raw[bid]) else f'{raw[bid]} households'}) is no building of the "
                                f"footprints{why}; its households are in no grid: add the footprint or correct the id",
                                feature_id=str(bid), measure=_measure(raw[bid])))
    out = buildings.copy()
    # an id listed with an empty count gives the building nothing: the layer's count, else the estimate
    listed = pd.Series(_among(building_ids, raw.index[raw.notna() & (raw.astype(str).str.strip() != "")]),
                       index=building_ids.index)
    before = out["households"]
    had = before.notna() & (before.astype(str).str.strip() != "")
    new = building_ids.map(raw.astype(object))
    changed = listed & had & (before.astype(str).str.strip() != new.astype(str).str.strip())
    out["households"] = before.astype(object).where(~listed, new.astype(object))
    if (listed & had).any():
        records.append(_finding("households_table_replaced",
                                f"buildings: {int((listed & had).sum()):,} buildings have a households value in the layer "
                                f"and in {where}: the table's is used ({int(changed.sum()):,} differed, e.g. "
                                f"{building_ids[changed].tolist()[:_SHOWN]}); the layer's is kept for buildings the "
                                "table does not list", measure=int(changed.sum()), severity="info"))
    records.append(_finding("households_table_used",
                            f"households: {where}, {kind}, joined by {key} to building_id: {int(listed.sum()):,} of "
                            f"{len(out):,} buildings listed, {int((~known).sum()):,} ids not among them; buildings "
                            "not listed keep the layer's count or are estimated from footprint × floors",
                            measure=int(listed.sum()), severity="info"))
    return out, records, print_


def table_kind(table: pd.DataFrame, where: str, key: str | None = None) -> tuple[Any, Any, Any, Any, str]:
    """How a households table is read: its building id column, its count column (a count table), its household id
    column (户号) or relationship column (与户主关系) (a register of persons), each None where absent, and the kind in
    words. A missing or doubtful column is an :class:`~gridgeo.InputError` naming the columns.

    >>> table_kind(pd.DataFrame(columns=["楼号", "户号", "姓名"]), "t.csv")[-1]
    'a register of persons (distinct 户号)'
    """
    key_col = _key_column(table, key, where)
    count = _count_column(table, key_col, where)
    hh = [c for c in _pick(table, HOUSEHOLD_ID_NAMES) if c != key_col] if count is None else []
    rel = [c for c in _pick(table, RELATION_NAMES) if c != key_col] if count is None else []
    if len(hh) > 1 or len(rel) > 1:
        both = hh if len(hh) > 1 else rel
        msg = (f"households: {where} has several columns {[str(c) for c in both]} of one kind; keep one, or give a "
               "count table (户数)")
        raise InputError(msg)
    hh_col, rel_col = (hh or [None])[0], (rel or [None])[0]
    if count is None and hh_col is None and rel_col is None:
        _refuse_unread_count(table, key_col, where)
    kind = (f"a count table (column {count})" if count is not None
            else f"a register of persons (distinct {hh_col})" if hh_col is not None
            else f"a register of persons ({rel_col} = 户主)" if rel_col is not None
            else "a register (one row per household)")
    return key_col, count, hh_col, rel_col, kind


def id_form(ids: pd.Series) -> pd.Series:
    """Building ids as they are matched when not written alike: full-width forms as ASCII (NFKC, ``１２`` is ``12``),
    without spaces, any dash as ``-``, Excel's ``12.0`` as ``12``, without a ``号楼``/``号``/``栋``/``幢``/``座`` at the end
    nor leading zeros, lower case.

    >>> id_form(pd.Series(["００１２号楼", " 3—01 ", "12.0", "B-7栋"])).tolist()
    ['12', '3-1', '12', 'b-7']
    """
    form = ids.map(lambda v: v if v.isascii() else unicodedata.normalize("NFKC", v))
    form = form.str.replace(r"\s+", "", regex=True).str.replace(f"[{_DASHES}]", "-", regex=True)
    form = form.str.replace(r"^(\d+)\.0+$", r"\1", regex=True).str.replace(r"(号楼|号|栋|幢|座)$", "", regex=True)
    return form.str.replace(r"(?<!\d)0+(?=\d)", "", regex=True).str.lower()


def match_id_forms(table_ids: pd.Index, building_ids: pd.Series) -> tuple[dict, dict]:
    """Table ids that are no building_id matched to the one building_id written alike (:func:`id_form`), and the
    table ids written like others but not matched, each with the ids written alike (two buildings, or two rows, could
    be meant: never joined). Only where one building id and one table id have a form is it a match.

    >>> match_id_forms(pd.Index(["１２", "13", "3－1"]), pd.Series(["0012", "13", "3-1", "03-1"]))
    ({'１２': '0012'}, {'3－1': ['03-1', '3-1']})
    """
    exact = _among(table_ids, building_ids)
    if exact.all():
        return {}, {}
    b_ids = pd.Series(building_ids.unique())
    b_form = pd.Series(b_ids.to_numpy(), index=id_form(b_ids).to_numpy())
    t_form = id_form(pd.Series(table_ids, dtype=object))
    t_count = t_form.value_counts()
    rest = pd.Series(t_form[~exact].to_numpy(), index=table_ids[~exact])
    rest = rest[_among(rest, b_form.index)]
    b_count = b_form.index.value_counts()
    one = rest.map(b_count).eq(1) & rest.map(t_count).eq(1)
    alike = rest[one].map(b_form[~b_form.index.duplicated(keep=False)]).to_dict()
    shared = b_form[_among(b_form.index, rest[~one])]
    by_form = {f: sorted(v)[:_SHOWN] for f, v in shared.groupby(level=0)}
    doubtful = {t: by_form[f] for t, f in rest[~one].items()}
    return alike, doubtful


def _refuse_unread_count(table: pd.DataFrame, key: Any, where: str) -> None:
    """A table read as a register (one household per row) that lists each building once beside a column of numbers
    named for households (``实有户数``): a count table whose count column is not among :data:`COUNT_NAMES`, which
    would give each building 1 household. One line naming the column and the fix."""
    ids = table[key].map(_code_text)
    ids = ids[ids != ""]
    if ids.duplicated().any():
        return
    for col in table.columns:
        cells = table[col].map(_code_text)
        cells = cells[cells != ""]
        if col != key and "户数" in _header_key(col) and len(cells) and pd.to_numeric(cells, errors="coerce").notna().all():
            msg = (f"households: {where}'s column {str(col)!r} looks like the households per building but is not read "
                   f"as one (it would be read as a register of one household per row); rename it 户数 "
                   f"(read as counts: {', '.join(COUNT_NAMES[1:])})")
            raise InputError(msg)


def _among(values: Any, pool: Any) -> np.ndarray:
    """Which of ``values`` are in ``pool``, by hashing: pandas' ``isin`` on a text column makes a scalar of each value
    of ``pool`` (a second a million)."""
    return pd.Series(np.asarray(values, dtype=object), dtype=object).isin(np.asarray(pool, dtype=object)).to_numpy()


def _register_counts(table: pd.DataFrame, ids: pd.Series, hh: Any, rel: Any, where: str) -> pd.Series:
    """Households per building id of a register: the distinct household ids (户号, column ``hh``) of a register of
    persons, else its heads of household (``rel``: 与户主关系 = 户主), else one household per row."""
    if hh is not None:
        household = table[hh].map(_code_text)
        if household.eq("").any():
            lines = table.index[household.eq("")].tolist()
            msg = (f"households: {len(lines):,} row(s) of {where} without a {hh} (lines {lines[:_SHOWN]}"
                   f"{' …' if len(lines) > _SHOWN else ''}); give each person's household id, or drop the column")
            raise InputError(msg)
        # a household is counted in the building of its rows; one registered in two buildings counts in each
        per_id = pd.DataFrame({"id": ids.to_numpy(), "hh": household.to_numpy()}).drop_duplicates()
        return per_id["id"].value_counts().sort_index().astype("int64")
    if rel is not None:
        relation = table[rel].map(_code_text).str.lower()
        heads = relation.isin([h.lower() for h in HEADS])
        if not heads.any():
            msg = (f"households: {where}'s {rel} names no head of household ({'/'.join(HEADS[:2])}); give a "
                   f"household id column (户号) or a count table (户数)")
            raise InputError(msg)
        counted = ids[heads].value_counts().astype("int64")
        # every building the register lists has its count, 0 where none of its persons is a head
        return counted.reindex(ids.unique(), fill_value=0).sort_index()
    return ids.value_counts().sort_index().astype("int64")


def _refuse_no_match(table_ids: pd.Index, buildings: gpd.GeoDataFrame, building_ids: pd.Series, key: Any,
                     where: str) -> None:
    """No id of the table is a building's: one line showing both columns' values and the two ways to match them."""
    made_ids = "building_id" not in buildings.attrs.get(SOURCE_COLUMNS, {}) and bool(
        building_ids.str.fullmatch(r"b[0-9a-f]{12}(-\d+)?").all())
    made = " (made from the geometry: the layer has no id column)" if made_ids else ""
    fix = ("map the buildings' id column with --columns buildings.building_id=COLUMN or name the table's with "
           "--households-key COLUMN" if CLI.get() else
           "map the buildings' id column with columns={'buildings': {'building_id': 'COLUMN'}} or name the "
           "table's with households_key='COLUMN'")
    msg = (f"households: no {key} of {where} (e.g. {table_ids[:3].tolist()}) is a building_id of the buildings{made} "
           f"(e.g. {sorted(building_ids)[:3]}); {fix}")
    raise InputError(msg)


def _counts_per_id(counts: pd.Series, ids: pd.Series, key: Any, column: Any, records: list[dict]) -> pd.Series:
    """One count per building id of a count table: an id listed twice with the same count once (a finding naming
    the ids so listed), with different counts the largest (a finding naming the id and its counts)."""
    from .households import _WITH_UNIT, _numeric, _read_text

    text = counts.astype(object).where(counts.notna(), None)
    frame = pd.DataFrame({"id": ids.to_numpy(), "raw": text.to_numpy(),
                          "num": _read_text(counts, _numeric(counts), _WITH_UNIT, approx=True)[0].to_numpy()})
    frame["shown"] = frame["raw"].map(lambda v: "" if v is None else str(v).strip())
    # the same count written alike or not (12, "12.0", "12户") is one; an empty one beside a count is none
    frame["same"] = frame["num"].map(lambda v: f"{v:g}").where(frame["num"].notna(), frame["shown"])
    counted = frame["shown"].ne("").groupby(frame["id"]).transform("any")
    frame = frame[frame["shown"].ne("") | ~counted]
    frame = frame.sort_values(["id", "num", "shown"], na_position="first")
    again = frame["shown"].ne("") & frame.duplicated(["id", "same"])
    if again.any():  # the same count twice: a row copied, or two parts (单元) of one building with equal counts
        times = frame[again].groupby("id", sort=True).size() + 1
        shown = [f"{bid!r} ×{n}" for bid, n in times.head(_SHOWN).items()]
        records.append(_finding("households_table_repeated",
                                f"households: {len(times):,} {key}(s) listed more than once with the same {column} "
                                f"(e.g. {', '.join(shown)}{' …' if len(times) > _SHOWN else ''}): each counted once; "
                                "if the rows are parts of the building (单元), sum them in the table",
                                measure=len(times)))
    frame = frame.drop_duplicates(["id", "same"])
    several = frame["id"].duplicated(keep=False)
    for bid, grp in frame[several].groupby("id", sort=True):
        records.append(_finding("households_table_duplicate",
                                f"households: {key} {bid!r} is listed with different {column} {grp['shown'].tolist()}; "
                                f"the largest ({grp['shown'].iloc[-1]}) is used: keep one row per building, or sum the "
                                "rows in the table if they are parts of it (单元)", feature_id=str(bid),
                                measure=_measure(grp["num"].iloc[-1])))
    last = frame.drop_duplicates("id", keep="last").set_index("id")["raw"]
    return last.sort_index()


def _measure(value: Any) -> float:
    num = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
    return float(num) if np.isfinite(num) else np.nan


def _finding(ftype: str, message: str, *, feature_id: str | None = None, measure: float = np.nan,
             severity: str = "warning") -> dict:
    return {"type": ftype, "severity": severity, "layer": "buildings", "feature_id": feature_id, "measure": measure,
            "message": message, "geometry": None}
