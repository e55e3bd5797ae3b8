"""The staff roster's columns and roles, shared by the published maps and signs (:mod:`gridgeo.maps.roster`)
and event routing (:mod:`gridgeo.locate`): one roster file serves both, with English or Chinese headers."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from ._errors import InputError

#: role key → (Chinese label, English label, level, default duties zh, default duties en)
ROLES: dict[str, tuple[str, str, str, str, str]] = {
    "grid_leader": ("网格长", "grid leader", "grid", "统筹网格工作，督促指导网格员", "leads the grid's work and its workers"),
    "grid_worker": ("网格员", "grid worker", "grid", "信息采集、隐患排查、矛盾调解、服务群众",
                    "collects information, finds hazards, mediates disputes, serves residents"),
    "fulltime_grid_worker": ("专职网格员", "full-time grid worker", "grid", "信息采集、隐患排查、矛盾调解、服务群众",
                             "collects information, finds hazards, mediates disputes, serves residents"),
    "parttime_grid_worker": ("兼职网格员", "part-time grid worker", "grid", "协助网格员开展网格服务",
                             "assists the grid workers"),
    "building_leader": ("楼栋长", "building leader", "grid", "联系楼栋住户，上报情况",
                        "keeps in touch with the building's households"),
    "resident_group_leader": ("居民小组长", "resident-group leader", "subgrid", "联系小组住户，协助网格员",
                              "keeps in touch with the group's households, assists the grid worker"),
    "community_worker": ("社区工作者", "community worker", "community", "社区服务与管理", "community services"),
    "supervisor": ("督导员", "supervisor", "community", "受理监督、投诉", "takes complaints and supervises the grids"),
}
ROLE_ALIASES = {v[0]: k for k, v in ROLES.items()} | {v[1]: k for k, v in ROLES.items()} | {k: k for k in ROLES} | {
    "小组长": "resident_group_leader", "居民组长": "resident_group_leader", "社工": "community_worker",
    "监督员": "supervisor", "督导": "supervisor", "专属网格员": "fulltime_grid_worker",
    # a village's group leader (村民小组长) leads its villager group (村民小组) as a resident-group leader does his
    "村民小组长": "resident_group_leader", "村民组长": "resident_group_leader", "villager-group leader": "resident_group_leader",
}
#: roles that count as the grid's own staff (a grid with none of them is flagged)
GRID_STAFF_ROLES = ("grid_leader", "grid_worker", "fulltime_grid_worker", "parttime_grid_worker")
WORKER_ROLES = ("grid_worker", "fulltime_grid_worker", "parttime_grid_worker")

HEADERS = {
    "name": ("name", "姓名"),
    "phone": ("phone", "电话", "手机", "联系电话", "手机号"),
    "role": ("role", "职务", "角色", "岗位"),
    "community_code": ("community_code", "社区代码", "社区编码", "村代码", "村居代码", "统计用区划代码", "区划代码"),
    "grid_code": ("grid_code", "网格编码", "网格代码"),
    "subgrid_code": ("subgrid_code", "小网格编码", "小网格代码"),
    "duties": ("duties", "职责"),
    "photo": ("photo", "照片"),
}


def header_names(columns: Any, source: str) -> dict[Any, str]:
    """The canonical name (:data:`HEADERS`) of each roster column that has one (姓名 → name, 电话 → phone ...);
    two columns meaning the same is an :class:`~gridgeo.InputError`."""
    rename: dict[Any, str] = {}
    for column in columns:
        key = str(column).strip().lower()
        for canon, names in HEADERS.items():
            if key in names:
                if canon in rename.values():
                    msg = f"roster {source}: two columns mean {canon!r} ({', '.join(names)}); keep one"
                    raise InputError(msg)
                rename[column] = canon
    return rename


def role_key(value: str) -> str | None:
    """The key of :data:`ROLES` a role as written means (网格员, grid worker, grid_worker ...), or None."""
    return ROLE_ALIASES.get(value) or ROLE_ALIASES.get(value.strip().lower().replace(" ", "_").replace("-", "_"))


def roster_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Every cell of a roster DataFrame as text, as a CSV holds it: a missing cell is empty (not ``nan``), and
    a whole number read as a float (``pd.read_csv`` makes a phone or code column float when a cell is
    empty) keeps its digits: ``13800000000``, not ``13800000000.0``."""
    def cell(value: Any) -> str:
        if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
            return ""
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)

    return pd.DataFrame({c: [cell(v) for v in frame[c].tolist()] for c in frame.columns}, index=frame.index, dtype=object)
