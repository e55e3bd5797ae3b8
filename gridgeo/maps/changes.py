"""The before/after map of a rebalanced plan (``gridgeo rebalance --map changes.html``): one HTML file (folium).

The office's grids coloured by what became of them, and the plan's grids, as two layers to switch between, in
Chinese (default) or English. A grid's popup is the grid map's (:func:`~gridgeo.maps.web.grid_popup`): its community
and the office layer's staff columns carried by ``rebalance`` (网格员 and phone), escaped; no household figure.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import geopandas as gpd

from .._errors import InputError
from ..io import atomic_write
from ._layers import community_names, village_codes
from ._text import esc, texts
from .web import _CSS, _controls, grid_popup, office_columns, office_rows, popup_html

__all__ = ["STATUS_COLOURS", "change_map"]

#: colours of the change statuses on the before/after map
STATUS_COLOURS = {
    "kept": "#1a9850",
    "reshaped": "#91cf60",
    "split": "#d73027",
    "merged": "#fc8d59",
    "redrawn": "#fee08b",
    "outside": "#999999",
}

#: the words of the before/after map, in Chinese (default) and English
_CHANGE_TEXT = {
    "zh": {
        "kept": "保留",
        "reshaped": "边界调整",
        "split": "拆分",
        "merged": "合并",
        "redrawn": "重新划分",
        "outside": "社区界外",
        "old code": "原网格编码",
        "status": "变化",
        "new codes": "新网格编码",
        "grid code": "网格编码",
        "kept?": "是否保留",
        "yes": "保留",
        "no": "新划",
        "before": "调整前：原网格",
        "after": "调整后：网格",
        "title": "网格调整对照图",
    },
    "en": {
        "kept": "kept",
        "reshaped": "reshaped",
        "split": "split",
        "merged": "merged",
        "redrawn": "redrawn",
        "outside": "outside the communities",
        "old code": "old code",
        "status": "status",
        "new codes": "new codes",
        "grid code": "grid code",
        "kept?": "kept",
        "yes": "kept",
        "no": "new",
        "before": "before: office grids",
        "after": "after: plan grids",
        "title": "Grid changes, before and after",
    },
}

_BIND_POPUP = "function(feature, layer) { layer.bindPopup(feature.properties.popup, {maxWidth: 360}); }"


def change_map(plan: Any, path: Any, *, lang: str = "zh") -> Path:
    """A before/after map of a rebalanced plan as one HTML file (folium): the office's grids coloured by
    what became of them, and the new grids, as two layers to switch between, in Chinese (``lang="zh"``,
    the default) or English (``"en"``). Codes, statuses and, in each grid's popup, the staff columns the office
    layer carried (:func:`~gridgeo.maps.web.office_columns`) are shown (no household data); every text
    is escaped. Written atomically; returns the path."""
    import folium

    if lang not in _CHANGE_TEXT:
        msg = f"change_map: lang {lang!r} is not supported; use one of {sorted(_CHANGE_TEXT)}"
        raise InputError(msg)
    t, words = _CHANGE_TEXT[lang], texts(lang)
    if "changes" not in plan.layers:
        msg = "change_map: the plan has no 'changes' layer; give a plan written by `gridgeo rebalance`"
        raise InputError(msg)
    path = Path(path)
    before = plan.layers["changes"].to_crs(4326)
    after = plan.layers["grids"].to_crs(4326)
    minx, miny, maxx, maxy = after.total_bounds
    fmap = folium.Map(location=[(miny + maxy) / 2, (minx + maxx) / 2], zoom_start=15, tiles=None, zoom_control=False)
    fmap.fit_bounds([[miny, minx], [maxy, maxx]])
    fmap.get_root().header.add_child(folium.Element(f"<title>{html.escape(t['title'])}</title>" + _CSS))
    _controls(fmap, words)
    staff_columns = office_columns(plan, public=True)  # the office's 网格员 and phone: what a public map shows
    status = before["status"].astype(str)
    before_popups = [
        popup_html(f"{t['old code']} {old}", [(t["status"], esc(t.get(s, s))), (t["new codes"], esc(new))] + office)
        for old, s, new, office in zip(
            before["old_code"], status, before["new_codes"], office_rows(before, staff_columns), strict=True
        )
    ]
    b = gpd.GeoDataFrame(
        {
            t["old code"]: [html.escape(str(v)) for v in before["old_code"]],
            t["status"]: [html.escape(t.get(v, v)) for v in status],
            t["new codes"]: [html.escape(str(v)) for v in before["new_codes"]],
            "_status": status.to_numpy(),
            "popup": before_popups,
        },
        geometry=before.geometry.to_numpy(),
        crs=4326,
    )
    b = b[~b.geometry.is_empty & b.geometry.notna()]
    folium.GeoJson(
        b.to_json(),
        name=html.escape(t["before"]),
        style_function=lambda f: {
            "fillColor": STATUS_COLOURS.get(f["properties"]["_status"], "#cccccc"),
            "color": "#333333",
            "weight": 1,
            "fillOpacity": 0.6,
        },
        tooltip=folium.GeoJsonTooltip(fields=[t["old code"], t["status"], t["new codes"]]),
        on_each_feature=folium.JsCode(_BIND_POPUP),
    ).add_to(fmap)
    kept = set(before.loc[before["status"].isin(["kept", "reshaped"]), "old_code"])
    names, villages = community_names(plan.communities), village_codes(plan.communities)
    after_popups = [
        grid_popup(
            g,
            community_name=names.get(str(g.community_code), ""),
            staff=None,
            roads=[],
            supervision="",
            subgrid_count=None,
            lang=lang,
            public=True,
            village=str(g.community_code) in villages,
            office=office,
        )
        for g, office in zip(
            after.drop(columns=after.geometry.name).itertuples(index=False), office_rows(after, staff_columns), strict=True
        )
    ]
    a = gpd.GeoDataFrame(
        {
            t["grid code"]: [html.escape(str(v)) for v in after["grid_code"]],
            t["kept?"]: [t["yes"] if c in kept else t["no"] for c in after["grid_code"]],
            "_kept": [c in kept for c in after["grid_code"]],
            "popup": after_popups,
        },
        geometry=after.geometry.to_numpy(),
        crs=4326,
    )
    folium.GeoJson(
        a.to_json(),
        name=html.escape(t["after"]),
        show=False,
        style_function=lambda f: {
            "fillColor": "#1a9850" if f["properties"]["_kept"] else "#4575b4",
            "color": "#000000",
            "weight": 1.5,
            "fillOpacity": 0.4,
        },
        tooltip=folium.GeoJsonTooltip(fields=[t["grid code"], t["kept?"]]),
        on_each_feature=folium.JsCode(_BIND_POPUP),
    ).add_to(fmap)
    legend = "".join(
        f'<span style="background:{c};padding:0 8px;margin-right:4px"></span>{html.escape(t[k])}<br>'
        for k, c in STATUS_COLOURS.items()
    )
    fmap.get_root().html.add_child(
        folium.Element(
            f'<div style="position:fixed;bottom:20px;left:20px;z-index:9999;background:white;padding:6px;'
            f'font:12px sans-serif">{legend}</div>'
        )
    )
    folium.LayerControl(collapsed=False).add_to(fmap)
    atomic_write(path, fmap.save)  # as every file gridgeo writes: a temporary beside it, renamed over it
    return path
