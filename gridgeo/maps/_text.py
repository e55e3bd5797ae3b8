"""Words on public maps and signs, in Chinese (default) and English, and the escaping of user text."""

from __future__ import annotations

import html
from typing import Any

import pandas as pd

from .._errors import InputError

LANGS = ("zh", "en")

_TEXT = {
    "zh": {
        "title": "网格示意图", "grids": "网格", "subgrids": "小网格", "dedicated": "专属网格", "streets": "道路",
        "buildings": "楼栋", "communities": "社区", "code": "网格编码", "community": "所属社区", "villager_group": "村民小组", "households": "户数",
        "building_count": "楼栋数", "staff": "网格工作人员", "supervision": "监督电话", "none": "未配备",
        "search": "按网格编码、社区或道路搜索", "locate": "显示我的位置", "legend": "图例", "unstaffed": "无网格员的网格",
        "index": "全部社区", "back": "← 返回全部社区", "auto": "（系统分配）", "sign": "网格公示牌", "dedicated_sign": "专属网格公示牌", "dedicated_word": "专属网格", "roads": "四至道路",
        "roads_not_given": "四至道路未提供", "roads_unnamed": "四周无具名道路",
        "area": "面积", "unit": "责任单位", "duties": "职责", "phone": "电话", "north": "北", "photo": "照片",
        "building": "楼栋", "subgrid_count": "小网格数", "page_of": "社区网格图", "grid_word": "网格",
        "staffing": "人员配备", "staffing_rule": "标准：每网格1名网格员，每200–400户1名社区工作者，每小网格1名居民小组长",
        "context": "周边网格", "units": "专属单位", "other_units": "辖区单位",
        "staffing_cols": "社区|网格|网格员|社区工作者|居民小组长|无人网格",
        "staffing_rule_public": "标准：每网格1名网格员，每小网格1名居民小组长",
        # the page's controls (Leaflet, leaflet-search, Leaflet.LocateControl speak English unless told)
        "zoom_in": "放大", "zoom_out": "缩小", "search_none": "未找到", "search_cancel": "取消",
        "locate_popup": "您在此点 {distance} {unit} 范围内", "meters": "米", "feet": "英尺",
        "locate_outside": "您的位置不在本图范围内", "committee": "居民委员会",
    },
    "en": {
        "title": "Grid map", "grids": "grids", "subgrids": "small grids", "dedicated": "dedicated grids", "streets": "streets",
        "buildings": "buildings", "communities": "communities", "code": "grid code", "community": "community", "villager_group": "villager group",
        "households": "households", "building_count": "buildings", "staff": "grid staff", "supervision": "supervision phone",
        "none": "none assigned", "search": "search grid code, community or street", "locate": "show my location",
        "legend": "legend", "unstaffed": "grid with no grid worker", "index": "all communities",
        "back": "← all communities", "auto": " (placed by gridgeo)", "sign": "Grid notice board", "dedicated_sign": "Dedicated grid notice board", "dedicated_word": "dedicated grid", "roads": "bounding roads",
        "roads_not_given": "bounding roads not given", "roads_unnamed": "no named road along it",
        "area": "area", "unit": "responsible unit", "duties": "duties", "phone": "phone", "north": "N", "photo": "photo",
        "building": "building", "subgrid_count": "small grids", "page_of": "grid map", "grid_word": "grid",
        "staffing": "staffing", "context": "neighbouring grids", "units": "dedicated units",
        "other_units": "other units",
        "staffing_rule": "seed rules: 1 grid worker per grid, community workers 1 per 200–400 households, "
                         "1 resident-group leader per small grid",
        "staffing_cols": "community|grids|grid workers|community workers|group leaders|unstaffed grids",
        "staffing_rule_public": "seed rules: 1 grid worker per grid, 1 resident-group leader per small grid",
        "zoom_in": "Zoom in", "zoom_out": "Zoom out", "search_none": "Not found", "search_cancel": "Cancel",
        "locate_popup": "You are within {distance} {unit} from this point", "meters": "meters", "feet": "feet",
        "locate_outside": "You seem located outside the boundaries of the map", "committee": " residents' committee",
    },
}
#: the words that differ for a village (村, a community of kind ``rural``): it is a 村, not a 社区; its committee is the
#: villagers' committee (村民委员会), its group leaders lead villager groups (村民小组长)
_VILLAGE = {
    "zh": {"community": "所属村", "communities": "村", "page_of": "村网格图", "committee": "村民委员会",
           "resident_group_leader": "村民小组长"},
    "en": {"community": "village", "communities": "village", "page_of": "village grid map",
           "committee": " villagers' committee", "resident_group_leader": "villager-group leader"},
}


def texts(lang: str, *, village: bool = False) -> dict[str, str]:
    """The words of one language (``zh`` or ``en``); with ``village``, those of a village (村) where they differ.

    >>> texts("zh")["community"], texts("zh", village=True)["community"], texts("en", village=True)["committee"]
    ('所属社区', '所属村', " villagers' committee")
    """
    if lang not in _TEXT:
        msg = f"lang {lang!r} is not supported; use one of {list(LANGS)}"
        raise InputError(msg)
    return {**_TEXT[lang], **_VILLAGE[lang]} if village else _TEXT[lang]


#: Unicode's bidirectional embeddings, overrides and isolates (LRE, RLE, PDF, LRO, RLO, LRI, RLI, FSI, PDI): a
#: name holding RLO (U+202E) printed the rest of its line backwards, on a sign and in a browser alike: the phone
#: number after it as well ("张三\u202e 135-5550-1375" showed "5731-0555-531")
_BIDI_CONTROLS = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))


def plain(value: Any) -> str:
    """``value`` as text without bidirectional controls (:data:`_BIDI_CONTROLS`), for a map or a sign.

    >>> plain("R\u202eTL 135")
    'RTL 135'
    """
    return str(value).translate(_BIDI_CONTROLS)


def esc(value: Any) -> str:
    """HTML-escaped text of any value (None → empty), without bidirectional controls (:func:`plain`): every
    text from user data goes through here."""
    if value is None:
        return ""
    try:
        import math

        if isinstance(value, float) and math.isnan(value):
            return ""
    except TypeError:
        pass
    return html.escape(plain(value), quote=True)


def villager_group(grid: Any) -> str | None:
    """The villager group (村民小组) a grid follows, as text; None when it has none (urban grids, dedicated
    grids, plans made without villager groups). ``grid``: a row as a named tuple or a Series.

    >>> import pandas as pd
    >>> villager_group(pd.Series({"villager_group": " 三组 "})), villager_group(pd.Series({"villager_group": None}))
    ('三组', None)
    """
    value = grid.get("villager_group") if hasattr(grid, "get") else getattr(grid, "villager_group", None)
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    return str(value).strip() or None


def role_label(role: str, lang: str, *, village: bool = False) -> str:
    """A role's label; in a village (``village``), a resident-group leader is a villager-group leader (村民小组长)."""
    from .roster import ROLES

    if village and role in _VILLAGE[lang]:
        return _VILLAGE[lang][role]
    zh, en = ROLES[role][0], ROLES[role][1]
    return zh if lang == "zh" else en


def default_duties(role: str, lang: str) -> str:
    from .roster import ROLES

    return ROLES[role][3] if lang == "zh" else ROLES[role][4]
