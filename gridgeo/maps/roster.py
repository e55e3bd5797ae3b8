"""The staff roster (网格员名册): reading it, placing every person in a grid, and the staffing table.

Roster format (CSV, UTF-8 or GBK; one person a row; English or Chinese headers):

========================  ======================  ===========================================================
column                    Chinese header          meaning
========================  ======================  ===========================================================
``name`` (required)       姓名                    the person's name, shown on maps and signs
``phone``                 电话, 手机, 联系电话      shown as given
``role``                  职务, 角色, 岗位          one of :data:`ROLES` (Chinese or English); default 网格员
``community_code``        社区代码, 社区编码        12-digit community code (统计用区划代码)
``grid_code``             网格编码, 网格代码        the base grid; its community is taken from the plan
``subgrid_code``          小网格编码               for a resident-group leader (居民小组长) or building leader
``duties``                职责                    shown on maps and signs (default: the role's usual duties)
``photo``                 照片                    an image path (relative to the roster file) or an http(s) URL
========================  ======================  ===========================================================

Every row names ``grid_code`` or ``community_code`` (or both, which must agree). A person with a
community but no grid is **placed by gridgeo**, deterministically whatever the row order: per community
and role (grid workers of every kind together), people sorted by (name, phone) each go to the grid (small
grid for resident-group leaders) with fewest people of that role so far, then fewest grid staff of any role,
then the smallest code. Such rows are marked ``placed="auto"``.
Community workers (社区工作者) and supervisors (督导员, whose phone is the supervision phone of their
community) stay at community level. Rows whose community or grid is not in the plan are kept as
``placed="unplaced"`` and listed by :func:`staffing`; malformed rows are an :class:`~gridgeo.InputError`.
A row repeating an earlier one (same name, phone, role and place) is read once and listed in
``Roster.duplicates`` (the CLI warns of it).

Staffing seed rules (:func:`staffing`): one grid worker per grid; community workers at one per 200–400
households; one resident-group leader per small grid. Grids with no grid worker or leader are flagged.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from .._csv import read_csv_text
from .._errors import InputError
from .._staff import GRID_STAFF_ROLES, HEADERS, ROLES, WORKER_ROLES, header_names, role_key, roster_text
from ._layers import community_names

__all__ = ["ROLES", "Roster", "read_roster", "staffing", "grid_staff_table"]

COLUMNS = ("name", "phone", "role", "community_code", "grid_code", "subgrid_code", "duties", "photo", "line", "placed")


@dataclass(frozen=True)
class Roster:
    """Staff placed in a plan: one row per person (``COLUMNS``), in a deterministic order."""

    staff: pd.DataFrame
    source: str = ""
    #: rows that repeat an earlier row (same name, phone, role and place), each shown once: (line, line it repeats, name)
    duplicates: tuple[tuple[int, int, str], ...] = ()

    def supervision_phones(self) -> dict[str, str]:
        """Community code → the supervision phone (督导员 rows' phones, joined)."""
        s = self.staff[(self.staff["role"] == "supervisor") & (self.staff["phone"] != "")]
        return {c: "、".join(dict.fromkeys(g["phone"])) for c, g in s.groupby("community_code", sort=True)}

    def unplaced(self) -> list[str]:
        """The rows naming a code not in the plan (a mistyped code), each as ``line N NAME: grid CODE``."""
        rows = self.staff[self.staff["placed"] == "unplaced"]
        return [f"line {r.line} {r.name}: " + ("grid " + r.grid_code if r.grid_code else "small grid " + r.subgrid_code
                                               if r.subgrid_code else "community " + r.community_code)
                for r in rows.itertuples()]

    def without_phone(self) -> list[str]:
        """The people placed in the plan with no phone (their map popups and signs show none), each as
        ``line N NAME``."""
        rows = self.staff[(self.staff["phone"] == "") & (self.staff["placed"] != "unplaced")]
        return [f"line {r.line} {r.name}" for r in rows.itertuples()]

    def of_grid(self, grid_code: str) -> pd.DataFrame:
        """People placed in one base grid (leaders first, then workers, building and group leaders)."""
        rows = self.staff[self.staff["grid_code"] == grid_code]
        order = {k: i for i, k in enumerate(ROLES)}
        return rows.assign(_o=rows["role"].map(order)).sort_values(["_o", "name", "phone"]).drop(columns="_o")


@dataclass(frozen=True)
class RosterRows:
    """A roster as read, once: its rows indexed by line (the header is line 1), the name messages give it, and the
    folder its photos are relative to. :func:`read_roster` and :func:`gridgeo.locate.read_roster` take it for a path."""

    frame: pd.DataFrame
    source: str
    base: Path


def roster_rows(roster: Any) -> RosterRows:
    """The rows of a roster CSV path or DataFrame (:class:`RosterRows`), read once."""
    if isinstance(roster, RosterRows):
        return roster
    if isinstance(roster, pd.DataFrame):
        frame = roster_text(roster)
        frame.index = range(2, len(frame) + 2)  # "line" as in the CSV the frame would be (the header line 1)
        return RosterRows(frame, "(DataFrame)", Path.cwd())
    path = Path(os.fspath(roster))
    return RosterRows(_read_csv(path), repr(str(path)), path.resolve().parent)


def _read_csv(path: Path) -> pd.DataFrame:
    if not path.exists():
        msg = f"roster {str(path)!r} not found; give a CSV file with at least a name column"
        raise InputError(msg)
    if path.suffix.lower() not in (".csv", ".txt"):
        msg = f"roster {str(path)!r} must be a CSV file (.csv); save the spreadsheet as CSV (UTF-8)"
        raise InputError(msg)
    try:
        return read_csv_text(path, what=f"roster {str(path)!r}", by_line=True, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        msg = f"roster {str(path)!r} is not a readable CSV ({' '.join(str(exc).split())}); save it as CSV with a header row"
        raise InputError(msg) from None


def _canonical_columns(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    out = frame.rename(columns=header_names(frame.columns, source))
    if "name" not in out.columns:
        msg = f"roster {source}: no name column (name or 姓名) among {list(frame.columns)}; add one"
        raise InputError(msg)
    for canon in HEADERS:
        if canon not in out.columns:
            out[canon] = ""
    out = out[list(HEADERS)].astype(str).apply(lambda s: s.str.strip())
    for col in ("community_code", "grid_code", "subgrid_code"):
        # a code column saved from a float column (pandas with a blank cell, a spreadsheet): 420981190001001.0
        out[col] = out[col].str.replace(r"^(\d+)\.0*$", r"\1", regex=True)
        sci = out[col].str.fullmatch(r"\d(\.\d+)?[eE]\+?\d+")
        if sci.any():
            i = int(sci.to_numpy().argmax())
            msg = (f"roster {source} line {out.index[i]}: {col} {out[col].iloc[i]!r} is a number in scientific notation, its "
                   "digits lost (Excel shows long numbers so); format the column as text, type the codes again and save")
            raise InputError(msg)
    return out


def _role_key(value: str, line: int, source: str) -> str:
    if value == "":
        return "grid_worker"
    key = role_key(value)
    if key is None:
        choices = ", ".join(f"{v[0]} ({k})" for k, v in ROLES.items())
        msg = f"roster {source} line {line}: unknown role {value!r}; use one of {choices}"
        raise InputError(msg)
    return key


def _photo(value: str, line: int, base: Path, source: str) -> str:
    if value == "" or value.lower().startswith(("http://", "https://")):
        return value
    path = (base / value).resolve()
    if not path.is_file():
        msg = f"roster {source} line {line}: photo {value!r} not found (looked for {path}); fix the path or leave the cell empty for a placeholder"
        raise InputError(msg)
    if path.suffix.lower() not in (".png", ".jpg", ".jpeg", ".gif", ".webp"):
        msg = f"roster {source} line {line}: photo {value!r} is not a PNG, JPEG, GIF or WebP image; convert it"
        raise InputError(msg)
    from PIL import Image  # matplotlib's own image reader

    try:
        with Image.open(path) as image:
            image.verify()
    except Exception as exc:  # noqa: BLE001 - any unreadable file, whatever Pillow raises
        msg = (f"roster {source} line {line}: photo {value!r} is not a readable image ({path}: {exc}); "
               "replace the file with a PNG, JPEG, GIF or WebP photo or leave the cell empty for a placeholder")
        raise InputError(msg) from None
    return str(path)


def read_roster(roster: Any, plan: Any) -> Roster:
    """Read a staff roster and place every person in the plan's grids.

    Parameters
    ----------
    roster
        A CSV path or a DataFrame in the roster format (module docstring), or its :class:`RosterRows`.
    plan
        The :class:`~gridgeo.Plan` whose grids the staff serve.

    Returns
    -------
    Roster
        ``staff`` with columns ``COLUMNS`` (``role`` as a key of :data:`ROLES`; ``placed`` is
        ``roster`` when the row named its grid, ``auto`` when gridgeo chose it, ``community`` for
        community-level roles, ``unplaced`` when its community or grid is not in the plan).

    Raises
    ------
    InputError
        A missing file, no name column, an empty name, a row with neither grid nor community, an unknown
        role, a grid that is not in the row's community, a photo that is not there.
    """
    rows = roster_rows(roster)
    source, base = rows.source, rows.base
    frame = _canonical_columns(rows.frame, source)
    frame["line"] = frame.index.to_numpy()
    grids = plan.grids
    grid_community = dict(zip(grids["grid_code"].astype(str), grids["community_code"].astype(str)))
    subgrids = plan.layers.get("subgrids")
    subgrid_parent = dict(zip(subgrids["subgrid_code"].astype(str), subgrids["grid_code"].astype(str))) if subgrids is not None else {}
    known = plan.layers.get("communities")  # a plan of grids alone (a Locator's) names its communities by its grids
    communities = (set(known["code"].astype(str)) if known is not None else set()) | set(grid_community.values())
    rows = []
    seen: dict[tuple[str, ...], int] = {}
    duplicates: list[tuple[int, int, str]] = []
    for rec in frame.to_dict("records"):
        line = rec["line"]
        if rec["name"] == "":
            msg = f"roster {source} line {line}: empty name; fill it in or delete the row"
            raise InputError(msg)
        rec["role"] = _role_key(rec["role"], line, source)
        rec["photo"] = _photo(rec["photo"], line, base, source)
        if rec["subgrid_code"] and not rec["grid_code"]:
            rec["grid_code"] = subgrid_parent.get(rec["subgrid_code"], "")
            if not rec["grid_code"] and not rec["community_code"]:
                rec["placed"] = "unplaced"
        if rec["grid_code"] == "" and rec["community_code"] == "" and rec.get("placed") != "unplaced":
            msg = f"roster {source} line {line}: {rec['name']!r} has neither grid_code nor community_code; give one of them"
            raise InputError(msg)
        if rec["grid_code"]:
            owner = grid_community.get(rec["grid_code"])
            if owner is None:
                rec["placed"] = "unplaced"
            elif rec["community_code"] and rec["community_code"] != owner:
                msg = (f"roster {source} line {line}: grid {rec['grid_code']} is in community {owner}, not "
                       f"{rec['community_code']}; correct one of the two codes")
                raise InputError(msg)
            else:
                rec["community_code"], rec["placed"] = owner, "roster"
        elif rec.get("placed") != "unplaced":
            rec["placed"] = "community" if rec["community_code"] in communities else "unplaced"
        key = tuple(str(rec[c]) for c in ("name", "phone", "role", "community_code", "grid_code", "subgrid_code"))
        if key in seen:  # the same person in the same place twice (a copied row): shown once, and said
            duplicates.append((int(line), seen[key], rec["name"]))
            continue
        seen[key] = int(line)
        rows.append(rec)
    staff = pd.DataFrame(rows, columns=list(COLUMNS)) if rows else pd.DataFrame(columns=list(COLUMNS))
    staff = _place(staff, grids, subgrids)
    staff = staff.sort_values(["community_code", "grid_code", "role", "name", "phone", "line"], kind="stable").reset_index(drop=True)
    return Roster(staff=staff, source=source, duplicates=tuple(duplicates))


def _place(staff: pd.DataFrame, grids: gpd.GeoDataFrame, subgrids: gpd.GeoDataFrame | None) -> pd.DataFrame:
    """Give people with a community but no grid a grid (or small grid), one at a time in (name, phone) order:
    the slot with fewest people of the same role group (grid workers of any kind count together), then
    fewest grid staff of any role, then the smallest code."""
    staff = staff.copy()
    grids_of = {c: sorted(g["grid_code"].astype(str)) for c, g in grids.groupby("community_code")}
    subgrids_of: dict[str, list[tuple[str, str]]] = {}
    if subgrids is not None and len(subgrids):
        for c, g in subgrids.groupby("community_code"):
            subgrids_of[c] = sorted(zip(g["subgrid_code"].astype(str), g["grid_code"].astype(str)))
    group = staff["role"].map(lambda r: "workers" if r in WORKER_ROLES else r)
    level = staff["role"].map(lambda r: ROLES[r][2])
    todo = staff[(staff["placed"] == "community") & (level != "community")]
    if not len(todo):
        return staff
    rostered = staff[staff["placed"] == "roster"]
    fixed_of = dict(tuple(rostered.groupby("community_code", sort=False)))
    role = staff["role"].to_dict()
    # the places chosen, written once at the end (a cell set per person with .loc is slow on a large roster);
    # nothing chosen here is read back by the loop, which counts the people placed by the roster alone
    grid_of: dict[Any, str] = {}
    subgrid_of: dict[Any, str] = {}
    for (community, role_group), people in todo.groupby([todo["community_code"], group[todo.index]], sort=True):
        lvl = ROLES[people["role"].iloc[0]][2]
        slots = subgrids_of.get(community, []) if lvl == "subgrid" else [(g, g) for g in grids_of.get(community, [])]
        if not slots:
            continue
        key_col = "subgrid_code" if lvl == "subgrid" else "grid_code"
        parent = dict(slots)
        fixed = fixed_of.get(community, rostered.iloc[:0])
        same = {slot: int(((fixed[key_col] == slot) & (group[fixed.index] == role_group)).sum()) for slot in parent}
        any_staff = {slot: int(((fixed["grid_code"] == parent[slot]) & fixed["role"].isin(GRID_STAFF_ROLES)).sum()) for slot in parent}
        for idx in people.sort_values(["name", "phone", "line"]).index:
            slot = min(parent, key=lambda s: (same[s], any_staff[s], s))
            same[slot] += 1
            if role[idx] in GRID_STAFF_ROLES:
                for s in parent:
                    any_staff[s] += parent[s] == parent[slot]
            grid_of[idx] = parent[slot]
            if lvl == "subgrid":
                subgrid_of[idx] = slot
    if grid_of:
        idx = list(grid_of)
        staff.loc[idx, "grid_code"] = list(grid_of.values())
        staff.loc[idx, "placed"] = "auto"
    if subgrid_of:
        staff.loc[list(subgrid_of), "subgrid_code"] = list(subgrid_of.values())
    return staff


def grid_staff_table(plan: Any, roster: Roster | None) -> pd.DataFrame:
    """One row per base grid: households, grid leaders, grid workers, building and group leaders, a flag.

    ``unstaffed`` is True when no grid leader and no grid worker serves the grid.
    """
    grids = plan.grids.sort_values("grid_code")
    staff = roster.staff if roster is not None else pd.DataFrame(columns=list(COLUMNS))
    rows = []
    for g in grids.itertuples():
        mine = staff[staff["grid_code"] == g.grid_code]
        names = {role: "、".join(mine.loc[mine["role"] == role, "name"]) for role in ROLES}
        rows.append({
            "grid_code": g.grid_code, "community_code": g.community_code,
            "households": int(getattr(g, "households", 0) or 0),
            "grid_leaders": names["grid_leader"],
            "grid_workers": "、".join(x for x in (names[r] for r in WORKER_ROLES) if x),
            "building_leaders": int((mine["role"] == "building_leader").sum()),
            "resident_group_leaders": int((mine["role"] == "resident_group_leader").sum()),
            "unstaffed": not bool(mine["role"].isin(GRID_STAFF_ROLES).any()),
            "dedicated": str(getattr(g, "kind", "base")) == "dedicated",
        })
    return pd.DataFrame(rows, columns=["grid_code", "community_code", "households", "grid_leaders", "grid_workers",
                                       "building_leaders", "resident_group_leaders", "unstaffed", "dedicated"])


def staffing(plan: Any, roster: Roster | None = None) -> pd.DataFrame:
    """The staffing table (配备): per community, the staff the seed rules call for beside the roster's.

    Seed rules: one grid worker per base grid; community workers at one per 200–400 households
    (``ceil(H/400)`` to ``ceil(H/200)``); one resident-group leader per small grid. Columns end with
    ``grids_unstaffed`` (the codes of base grids with no grid leader or worker), ``dedicated_unstaffed``
    (the same for dedicated grids, 专属网格, whose staff the unit itself names) and ``unplaced`` (roster rows
    whose community or grid is not in the plan).
    """
    grids = plan.grids
    subgrids = plan.layers.get("subgrids")
    per_grid = grid_staff_table(plan, roster)
    staff = roster.staff if roster is not None else pd.DataFrame(columns=list(COLUMNS))
    names = community_names(plan.communities)
    rows = []
    for code in sorted(set(grids["community_code"].astype(str)) | set(staff["community_code"][staff["community_code"] != ""])):
        mine = staff[staff["community_code"] == code]
        g = grids[grids["community_code"] == code]
        households = int(g["households"].sum()) if "households" in g.columns else 0
        n_small = int((subgrids["community_code"] == code).sum()) if subgrids is not None else 0
        empty = per_grid[(per_grid["community_code"] == code) & per_grid["unstaffed"]]
        unstaffed = empty.loc[~empty["dedicated"].astype(bool), "grid_code"].tolist()
        dedicated_unstaffed = empty.loc[empty["dedicated"].astype(bool), "grid_code"].tolist()

        def count(roles: tuple[str, ...], mine: pd.DataFrame = mine) -> int:
            return int((mine["role"].isin(roles) & (mine["placed"] != "unplaced")).sum())

        rows.append({
            "community_code": code, "community": names.get(code, ""), "households": households,
            "grids": len(g), "small_grids": n_small,
            "grid_workers_needed": len(g), "grid_workers": count(WORKER_ROLES),
            "grid_leaders": count(("grid_leader",)),
            "community_workers_needed": f"{math.ceil(households / 400)}–{math.ceil(households / 200)}" if households else "0",
            "community_workers": count(("community_worker",)),
            "group_leaders_needed": n_small, "group_leaders": count(("resident_group_leader",)),
            "building_leaders": count(("building_leader",)),
            "grids_unstaffed": len(unstaffed), "unstaffed_codes": " ".join(unstaffed),
            "dedicated_unstaffed": len(dedicated_unstaffed), "dedicated_unstaffed_codes": " ".join(dedicated_unstaffed),
            "unplaced": int((mine["placed"] == "unplaced").sum()),
        })
    unplaced_nowhere = staff[(staff["placed"] == "unplaced") & (staff["community_code"] == "")]
    if len(unplaced_nowhere):
        rows.append({"community_code": "", "community": "(grid not in the plan)", "households": 0, "grids": 0,
                     "small_grids": 0, "grid_workers_needed": 0, "grid_workers": 0, "grid_leaders": 0,
                     "community_workers_needed": "0", "community_workers": 0, "group_leaders_needed": 0,
                     "group_leaders": 0, "building_leaders": 0, "grids_unstaffed": 0, "unstaffed_codes": "",
                     "dedicated_unstaffed": 0, "dedicated_unstaffed_codes": "", "unplaced": len(unplaced_nowhere)})
    return pd.DataFrame(rows)


def format_staffing(table: pd.DataFrame) -> str:
    """The staffing table as text (``gridgeo report --roster``, ``gridgeo map``)."""
    if table.empty:
        return "staffing: no grids"
    lines = ["staffing (配备; seed rules: 1 grid worker per grid, community workers 1 per 200–400 households, "
             "1 resident-group leader per small grid)",
             f"  {'community':<14} {'grids':>5} {'workers':>9} {'leaders':>7} {'comm. workers':>14} {'group leaders':>13} "
             f"{'unstaffed':>9} {'unplaced':>8}"]
    for r in table.itertuples():
        lines.append(f"  {r.community_code or '-':<14} {r.grids:>5} {f'{r.grid_workers}/{r.grid_workers_needed}':>9} "
                     f"{r.grid_leaders:>7} {f'{r.community_workers}/{r.community_workers_needed}':>14} "
                     f"{f'{r.group_leaders}/{r.group_leaders_needed}':>13} {r.grids_unstaffed:>9} {r.unplaced:>8}")
    flagged = [c for codes in table["unstaffed_codes"] for c in codes.split()]
    if flagged:
        shown = " ".join(flagged[:12]) + (f" and {len(flagged) - 12} more" if len(flagged) > 12 else "")
        lines.append(f"  grids with no grid worker or leader (网格无人): {shown}")
    dedicated = [c for codes in table.get("dedicated_unstaffed_codes", pd.Series(dtype=str)) for c in codes.split()]
    if dedicated:
        shown = " ".join(dedicated[:12]) + (f" and {len(dedicated) - 12} more" if len(dedicated) > 12 else "")
        lines.append(f"  dedicated grids (专属网格) with no one named: {shown} — add a row for the unit's own grid "
                     "worker (e.g. role 专属网格员) with the dedicated grid's code")
    return "\n".join(lines)
