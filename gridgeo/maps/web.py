"""The interactive public grid map (网格示意图): a folium/Leaflet page, or a site of pages, for a plan.

:func:`grid_map` returns a :class:`folium.Map` (a notebook shows it inline); :func:`publish_map` writes
a self-contained site (``gridgeo map PLAN --out site/``): ``index.html``, one page per community when
the plan is large, and ``lib/`` with the Leaflet assets, so that the pages work with no network.
"""

from __future__ import annotations

import base64
import hashlib
import mimetypes
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .._errors import InputError
from .._face import force_option
from ._layers import (
    PALETTE,
    check_drawable,
    colour_grids,
    community_names,
    display_layer,
    palette_colour,
    plan_streets,
    roads_by_zone,
    village_codes,
)
from ._text import default_duties, esc, plain, role_label, texts, villager_group
from .roster import Roster, read_roster

__all__ = ["TILES", "grid_map", "publish_map", "scale_bar", "SPLIT_GRIDS"]

TILES = ("osm", "tianditu", "amap", "none")
#: plans with more base grids than this are published as one page per community plus an index
SPLIT_GRIDS = 300
VENDOR = Path(__file__).resolve().parent / "_vendor"
#: the CDN assets of folium (and its Search and LocateControl plugins) → the bundled copies under lib/
_LOCAL_JS = {"leaflet": "leaflet/leaflet.js", "Leaflet.Search.js": "leaflet-search/files/leaflet-search.min.js",
             "Control_locate_min_js": "leaflet-locatecontrol/L.Control.Locate.min.js"}
_LOCAL_CSS = {"leaflet_css": "leaflet/leaflet.css", "Leaflet.Search.css": "leaflet-search/files/leaflet-search.min.css",
              "Control_locate_min_css": "leaflet-locatecontrol/L.Control.Locate.min.css"}

_TIANDITU = ("https://t{s}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER={layer}"
             "&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}&tk={token}")
_AMAP = "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}"

_CSS = """
<style>
.leaflet-container { background: #f4f3ef; font-family: "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif; }
.leaflet-tooltip.gg-label { background: transparent; border: none; box-shadow: none; font-weight: 600; font-size: 11px;
  color: #222; text-shadow: 0 0 3px #fff, 0 0 3px #fff; padding: 0; }
.leaflet-tooltip.gg-label:before { display: none; }
.gg-hide-labels .gg-label { display: none; }
.gg-popup { font-size: 13px; line-height: 1.35; max-width: 340px; }
.gg-popup h4 { margin: 0 0 4px 0; font-size: 15px; }
.gg-popup h5 { margin: 8px 0 4px 0; font-size: 13px; }
.gg-popup table { border-collapse: collapse; }
.gg-popup th { text-align: left; padding-right: 8px; color: #555; font-weight: normal; white-space: nowrap; vertical-align: top; }
.gg-person { display: flex; gap: 8px; align-items: flex-start; margin: 4px 0; }
.gg-person img, .gg-photo-none { width: 44px; height: 56px; object-fit: cover; border: 1px solid #bbb; flex: none; }
.gg-photo-none { background: #e4e4e4; color: #888; font-size: 10px; display: flex; align-items: center; justify-content: center; }
.gg-legend { position: fixed; bottom: 28px; right: 10px; z-index: 1000; background: rgba(255,255,255,.93); padding: 8px 10px;
  border-radius: 4px; box-shadow: 0 1px 4px rgba(0,0,0,.3); font-size: 12px; line-height: 1.6; }
.gg-legend i { display: inline-block; width: 22px; height: 12px; margin-right: 6px; vertical-align: middle; border: 1px solid #444; }
.gg-legend .gg-swatch { width: 7px; border-width: 1px 0 1px 1px; margin-right: 0; }
.gg-legend .gg-swatch:last-of-type { border-right-width: 1px; margin-right: 6px; }
.gg-staffing { margin-top: 4px; max-height: 40vh; overflow: auto; }
.gg-staffing table { border-collapse: collapse; font-size: 11px; }
.gg-staffing td, .gg-staffing th { border-bottom: 1px solid #ddd; padding: 1px 4px; text-align: right; white-space: nowrap; }
.gg-staffing td:first-child { text-align: left; }
.gg-staffing .gg-flag { color: #d7191c; font-weight: bold; }
.gg-title { position: fixed; top: 10px; left: 50%; transform: translateX(-50%); z-index: 1000; background: rgba(255,255,255,.93);
  padding: 4px 12px; border-radius: 4px; box-shadow: 0 1px 4px rgba(0,0,0,.3); font-size: 15px; font-weight: 600; }
.gg-title a { font-weight: normal; font-size: 12px; margin-left: 10px; }
.leaflet-container .leaflet-control-search .search-tooltip { left: auto; right: 0; float: none; width: 300px; max-height: 260px; }
.leaflet-container .leaflet-control-search .search-tip { white-space: normal; }
.gg-locate-icon:before { content: "\\25CE"; font-size: 18px; line-height: 30px; }
</style>
"""


_OVERLAY_COLOURS = ("#e31a1c", "#1f78b4", "#33a02c", "#ff7f00", "#6a3d9a", "#b15928")


def _read_overlay(name: Any, value: Any) -> gpd.GeoDataFrame:
    """An overlay layer as a GeoDataFrame (a frame, a path or ``(path, layer)``)."""
    if isinstance(value, gpd.GeoDataFrame):
        frame = value
    else:
        from ..io import read_layer

        path, layer = value if isinstance(value, tuple) else (value, None)
        frame = read_layer(path, layer=layer, name=str(name))
    if frame.crs is None:
        msg = f"overlay {name!r} has no CRS; set one (e.g. gdf.set_crs(4490)) or give a file that defines it"
        raise InputError(msg)
    return frame[frame.geometry.notna() & ~frame.geometry.is_empty]


def _count_in_grids(features: gpd.GeoDataFrame, grids: gpd.GeoDataFrame) -> dict[str, int]:
    """Features per grid code: points where they fall, polygons and lines by their representative point; a point
    on an edge shared by grids counts once, in the grid ``gridgeo.locate`` gives it (the smallest code)."""
    from ..locate import _ZoneIndex

    g = grids.to_crs(4490).sort_values("grid_code", kind="stable")
    pts = features.to_crs(4490).geometry.representative_point().to_numpy()  # a point is its own
    x, y = shapely.get_x(pts), shapely.get_y(pts)
    hit = _ZoneIndex(g.geometry.to_numpy()).lookup(x, y, np.isfinite(x) & np.isfinite(y))
    codes = g["grid_code"].astype(str).to_numpy()[hit[hit >= 0]]
    return pd.Series(codes, dtype=object).value_counts().astype(int).to_dict()


def _check_options(tiles: str, lang: str, tianditu_token: str | None) -> str | None:
    texts(lang)
    if tiles not in TILES:
        msg = f"tiles {tiles!r} is not supported; use one of {list(TILES)}"
        raise InputError(msg)
    token = tianditu_token or os.environ.get("GRIDGEO_TIANDITU_TOKEN")
    if tiles == "tianditu" and not token:
        msg = ("tiles 'tianditu' needs a Tianditu key: pass --tianditu-token KEY (or set GRIDGEO_TIANDITU_TOKEN); "
               "get a free browser key at https://console.tianditu.gov.cn")
        raise InputError(msg)
    return token


def _add_tiles(m: Any, tiles: str, token: str | None, t: dict[str, str]) -> None:
    import folium

    if tiles == "osm":
        folium.TileLayer("OpenStreetMap", name="OpenStreetMap", control=False).add_to(m)
    elif tiles == "tianditu":
        for layer, name in (("vec", "天地图"), ("cva", "天地图注记")):
            folium.TileLayer(_TIANDITU.format(layer=layer, token=quote(str(token), safe=""), s="{s}"), name=name, subdomains="01234567",
                             attr="&copy; 天地图 Tianditu", control=False, max_zoom=18).add_to(m)
    elif tiles == "amap":
        folium.TileLayer(_AMAP, name="高德地图", subdomains="1234", attr="&copy; 高德地图 AutoNavi", control=False,
                         max_zoom=18).add_to(m)


def _photo_data_uri(path: str) -> str:
    """A local photo inlined as a data URI (for a map shown in a notebook)."""
    data = Path(path).read_bytes()
    mime = mimetypes.guess_type(path)[0] or "image/jpeg"
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _photo_src(photo: str, photo_src: Callable[[str], str] | None) -> str:
    if not photo:
        return ""
    if photo.lower().startswith(("http://", "https://")):
        return photo
    return (photo_src or _photo_data_uri)(photo)


def person_html(p: Any, *, lang: str, photo_src: Callable[[str], str] | None = None, village: bool = False) -> str:
    """One person of the roster as HTML: photo (or a placeholder), name, role (a village's, ``village``, where it
    differs: 村民小组长), phone, duties; all escaped."""
    t = texts(lang)
    src = _photo_src(p.photo, photo_src)
    photo = (f'<img src="{esc(src)}" alt="{esc(p.name)}">' if src else f'<div class="gg-photo-none">{esc(t["photo"])}</div>')
    phone = f'<br><a href="tel:{esc(p.phone)}">{esc(p.phone)}</a>' if p.phone else ""
    duties = p.duties or default_duties(p.role, lang)
    auto = esc(t["auto"]) if p.placed == "auto" else ""
    return (f'<div class="gg-person">{photo}<div><b class="gg-name">{esc(p.name)}</b> {esc(role_label(p.role, lang, village=village))}{auto}'
            f'{phone}<br><span class="gg-duties">{esc(duties)}</span></div></div>')


#: words in the name of an office grid layer's column (carried by ``rebalance``) that hold a person or a phone: the
#: staff columns a public map may show (网格员, 网格长, 责任人 ... and their phones)
_STAFF_WORDS = ("网格员", "网格长", "责任人", "负责人", "联系人", "姓名", "电话", "手机", "phone", "tel", "staff", "worker")
#: words of a carried column holding household figures, which no map shows
_HOUSEHOLD_WORDS = ("households", "户数", "户")


def office_columns(plan: Any, *, public: bool) -> list[str]:
    """The office grid layer's own columns a rebalanced plan carries (``rebalance``'s ``columns_carried``: 网格员,
    电话, 备注 …) that a map shows in its grid popups: with ``public``, only the staff's names and phones
    (:data:`_STAFF_WORDS`); otherwise every one but household figures.

    >>> from types import SimpleNamespace
    >>> p = SimpleNamespace(metadata={"rebalance": {"columns_carried": ["网格员", "网格员电话", "备注", "households_input"]}})
    >>> office_columns(p, public=True), office_columns(p, public=False)
    (['网格员', '网格员电话'], ['网格员', '网格员电话', '备注'])
    """
    meta = plan.metadata.get("rebalance") if isinstance(plan.metadata, dict) else None
    carried = [str(c) for c in (meta or {}).get("columns_carried") or []]
    shown = [c for c in carried if not any(w in c.lower() for w in _HOUSEHOLD_WORDS)]
    return [c for c in shown if any(w in c.lower() for w in _STAFF_WORDS)] if public else shown


def office_rows(frame: pd.DataFrame, columns: list[str]) -> list[list[tuple[str, str]]]:
    """Per row of ``frame``, (column, escaped value) of its ``columns`` (:func:`office_columns`) that hold a value;
    an empty cell (a grid with a new code) is left out, a whole number read as a float keeps its digits.

    >>> office_rows(pd.DataFrame({"网格员": ["<b>张三</b>", None], "电话": [13800000000.0, None]}), ["网格员", "电话"])
    [[('网格员', '&lt;b&gt;张三&lt;/b&gt;'), ('电话', '13800000000')], []]
    """
    present = [c for c in columns if c in frame.columns]
    return [_office_row(values, present) for values in frame[present].to_dict("records")] if present else [[]] * len(frame)


def _office_row(values: dict[str, Any], columns: list[str]) -> list[tuple[str, str]]:
    out = []
    for c in columns:
        value = values.get(c)
        if value is None or value is pd.NA or (isinstance(value, float) and value != value) or not str(value).strip():
            continue
        out.append((c, esc(int(value) if isinstance(value, float) and value.is_integer() else value)))
    return out


def popup_html(title: str, rows: list[tuple[str, str]], body: str = "") -> str:
    """A popup of gridgeo's web maps: a title, a table of (label, HTML value) rows, then ``body`` (HTML); the title
    and labels are escaped here, the values and ``body`` by their makers."""
    table = "".join(f"<tr><th>{esc(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<div class="gg-popup"><h4>{esc(title)}</h4><table>{table}</table>{body}</div>'


def grid_popup(grid: Any, *, community_name: str, staff: pd.DataFrame | None, roads: list[str], supervision: str,
               subgrid_count: int | None, lang: str, public: bool, photo_src: Callable[[str], str] | None = None,
               counts: dict[str, int] | None = None, units: tuple[list[str], list[str]] | None = None,
               village: bool = False, office: list[tuple[str, str]] | None = None) -> str:
    """The popup of one base grid: code, community, counts, bounding roads, the office's columns, staff,
    supervision phone.

    ``counts``: features of each overlay layer (enterprises, hazards ...) in the grid, by layer name.
    ``units``: names of the grid's dedicated units (专属单位) and of the other units in it (辖区单位), from
    the plan's ``units`` register. ``village``: the grid is a village's (村), labelled 所属村, not 所属社区.
    ``office``: the office layer's columns carried by ``rebalance`` (:func:`office_rows`), as (column, escaped value).
    """
    t = texts(lang, village=village)
    rows = [(t["community"], f"{esc(community_name)} ({esc(grid.community_code)})" if community_name else esc(grid.community_code))]
    group = villager_group(grid)
    if group:
        rows.append((t["villager_group"], esc(group)))
    if not public and "households" in grid._fields:
        rows.append((t["households"], esc(int(grid.households))))
    if "buildings" in grid._fields:
        rows.append((t["building_count"], esc(int(grid.buildings))))
    if subgrid_count is not None:
        rows.append((t["subgrid_count"], esc(subgrid_count)))
    for name, n in (counts or {}).items():
        rows.append((name, esc(n)))
    sep = "、" if lang == "zh" else ", "
    dedicated_units, other_units = units or ([], [])
    if dedicated_units:
        rows.append((t["units"], esc(sep.join(dedicated_units))))
    if other_units:
        rows.append((t["other_units"], esc(sep.join(other_units))))
    if roads:
        rows.append((t["roads"], esc("、".join(roads) if lang == "zh" else ", ".join(roads))))
    rows.extend(office or [])
    people = ""
    if staff is not None:
        shown = staff[staff["role"] != "building_leader"]
        people = "".join(person_html(p, lang=lang, photo_src=photo_src, village=village) for p in shown.itertuples()) or f"<i>{esc(t['none'])}</i>"
        n_building = int((staff["role"] == "building_leader").sum())
        if n_building:
            people += f"<div>{esc(role_label('building_leader', lang))}: {n_building}</div>"
        people = f"<h5>{esc(t['staff'])}</h5>{people}"
    sup = f"<p><b>{esc(t['supervision'])}</b>: {esc(supervision)}</p>" if supervision else ""
    code_label = f"{t['grid_word']} {grid.grid_code}" if lang == "en" else f"网格 {grid.grid_code}"
    return popup_html(code_label, rows, people + sup)


def _shown_names(staff: pd.DataFrame | None) -> list[str]:
    """Names of the people a grid's popup shows (building leaders are only counted there)."""
    if staff is None:
        return []
    return [str(n) for n in staff.loc[staff["role"] != "building_leader", "name"] if str(n).strip()]


def _search_text(*parts: str) -> str:
    """What the search box matches and lists for a feature: the raw text (not HTML-escaped), so that a name
    holding ``&``, ``<``, ``>`` or quotes is found as it is typed. It reaches the page inside folium's JSON,
    which writes ``<``, ``>``, ``&`` and ``'`` as ``\\u003c`` …, so no name can end the ``<script>``; the
    search box shows it with ``textContent`` (:data:`_SEARCH_TEMPLATE`), never as HTML."""
    return " ".join(plain(p) for p in parts if plain(p).strip())


def _units_by_grid(units: pd.DataFrame | None) -> dict[str, tuple[list[str], list[str]]]:
    """Grid code -> (names of its dedicated units, names of its other units), each sorted; from the plan's
    ``units`` register (a unit without a name is shown by its id)."""
    if units is None or not len(units) or "grid_code" not in units.columns:
        return {}
    names = units["name"] if "name" in units.columns else pd.Series(None, index=units.index, dtype=object)
    names = names.where(names.notna() & (names.astype(str).str.strip() != ""), units.get("unit_id", names)).astype(str)
    dedicated = units["dedicated"].fillna(False).astype(bool) if "dedicated" in units.columns else pd.Series(False, index=units.index)
    out: dict[str, tuple[list[str], list[str]]] = {}
    for code, name, ded in sorted(zip(units["grid_code"].astype(object), names, dedicated), key=lambda r: (str(r[0]), r[1])):
        if code is None or pd.isna(code):
            continue
        out.setdefault(str(code), ([], []))[0 if ded else 1].append(name)
    return out


class _JS:
    """Small pieces of page script (labels shown when few grids are in view, a handle for tests)."""

    @staticmethod
    def element(script: str) -> Any:
        from branca.element import MacroElement
        from jinja2 import Template

        el = MacroElement()
        el._template = Template("{% macro script(this, kwargs) %}" + script + "{% endmacro %}")
        return el


def _label_script(map_name: str, layers: dict[str, str], max_labels: int) -> str:
    handles = ", ".join(f"{k}: {v}" for k, v in layers.items())
    grid_layer = layers.get("grids") or layers.get("communities")
    return f"""
    window.gridgeo = {{map: {map_name}, layers: {{{handles}}}}};
    (function() {{
      var m = {map_name}, layer = {grid_layer};
      function refresh() {{
        var view = m.getBounds(), n = 0;
        layer.eachLayer(function(l) {{ if (view.intersects(l.getBounds())) n += 1; }});
        var c = m.getContainer().classList;
        if (n > {max_labels}) c.add('gg-hide-labels'); else c.remove('gg-hide-labels');
      }}
      m.on('zoomend moveend', refresh);
      refresh();
    }})();
    """


def _search_class() -> Any:
    """folium's Search, matching anywhere in the text (leaflet-search's ``initial: false``), the placeholder,
    the "not found" and "cancel" words in the page's language as JSON strings, fitting the found grid and
    opening its popup."""
    from folium.plugins import Search
    from jinja2 import Template

    class AnywhereSearch(Search):
        _template = Template(_SEARCH_TEMPLATE)

    return AnywhereSearch


def _search(layer: Any, t: dict[str, str]) -> Any:
    """The search box over ``layer`` in the page's language."""
    search = _search_class()(layer, search_label="search", placeholder=t["search"], collapsed=False, position="topright")
    search.text_err, search.text_cancel = t["search_none"], t["search_cancel"]
    return search


def scale_bar(m: Any) -> None:
    """Add a metric-only scale bar to the folium map ``m``: the one scale control of every web map gridgeo writes
    (the grid map and its index page, ``rebalance --map``, :meth:`Plan.explore`). Chinese public maps are metric;
    Leaflet's scale control shows feet and miles beside metres unless told ``imperial: false``, and folium
    (0.20) has no way to tell it: ``folium.Map(control_scale=True)``, which ``GeoDataFrame.explore`` sets by
    default, writes a bare ``L.control.scale()``."""
    m.add_child(_JS.element(f"L.control.scale({{imperial: false, metric: true}}).addTo({m.get_name()});"))


def _controls(m: Any, t: dict[str, str]) -> None:
    """Zoom buttons in the page's language (Leaflet's own say "Zoom in") and the metric scale bar
    (:func:`scale_bar`); added before the other controls, so the zoom buttons stay on top at the upper left."""
    import json

    m.add_child(_JS.element(
        f"L.control.zoom({json.dumps({'zoomInTitle': t['zoom_in'], 'zoomOutTitle': t['zoom_out']})}).addTo({m.get_name()});"))
    scale_bar(m)


def _locate_control(t: dict[str, str]) -> Any:
    """"Locate me" (Leaflet.LocateControl) with every word of it in the page's language."""
    from folium.plugins import LocateControl

    strings = {"title": t["locate"], "metersUnit": t["meters"], "feetUnit": t["feet"], "popup": t["locate_popup"],
               "outsideMapBoundsMsg": t["locate_outside"]}
    return LocateControl(strings=strings, icon="gg-locate-icon", position="topleft")


_SEARCH_TEMPLATE = """
{% macro script(this, kwargs) %}
    var {{this.layer.get_name()}}searchControl = new L.Control.Search({
        layer: {{this.layer.get_name()}},
        propertyName: '{{this.search_label}}',
        collapsed: {{this.collapsed|tojson|safe}},
        textPlaceholder: {{this.placeholder|tojson|safe}},
        textErr: {{this.text_err|tojson|safe}},
        textCancel: {{this.text_cancel|tojson|safe}},
        position: '{{this.position}}',
        initial: false,
        marker: false,
        // the names are data, not HTML: listed as text, matched as typed (no character dropped or special)
        buildTip: function(text) {
            var tip = document.createElement('li');
            tip.textContent = text;
            return tip;
        },
        filterData: function(text, records) {
            var wanted = text.toLowerCase(), found = {};
            if (!wanted) return found;
            for (var key in records) {
                if (key.toLowerCase().indexOf(wanted) !== -1) found[key] = records[key];
            }
            return found;
        },
        moveToLocation: function(latlng, title, map) {
            map.fitBounds(latlng.layer.getBounds(), {maxZoom: 17});
        }
    });
    {{this.layer.get_name()}}searchControl.on('search:locationfound', function(e) {
        if (e.layer._popup) e.layer.openPopup();
    });
    {{this._parent.get_name()}}.addControl({{this.layer.get_name()}}searchControl);
{% endmacro %}
"""


def _use_local_assets(elements: list[Any], asset_base: str) -> None:
    """Point folium's CDN links at the bundled copies (``asset_base`` + path); drop unused CDN assets."""
    for el in elements:
        js = getattr(el, "default_js", None)
        css = getattr(el, "default_css", None)
        if js is not None:
            el.default_js = [(n, asset_base + _LOCAL_JS[n]) for n, _ in js if n in _LOCAL_JS]
        if css is not None:
            el.default_css = [(n, asset_base + _LOCAL_CSS[n]) for n, _ in css if n in _LOCAL_CSS]


def _as_roster(roster: Any, plan: Any) -> Roster | None:
    if roster is None or isinstance(roster, Roster):
        return roster
    return read_roster(roster, plan)


def _staffing_panel(table: pd.DataFrame, t: dict[str, str], *, public: bool = False) -> str:
    """The staffing table (配备) of the page's communities, folded under the legend.

    ``public``: without the community workers the seed rules call for, which are the community's households
    in other words (one per 200–400: "6–12" says 2,201–2,400 households)."""
    heads = t["staffing_cols"].split("|")
    if public:
        heads = heads[:3] + heads[4:]
    head = "".join(f"<th>{esc(h)}</th>" for h in heads)
    rows = "".join(
        f"<tr><td>{esc(r.community or r.community_code)}</td><td>{r.grids}</td><td>{r.grid_workers}/{r.grid_workers_needed}</td>"
        + ("" if public else f"<td>{r.community_workers}/{esc(r.community_workers_needed)}</td>")
        + f"<td>{r.group_leaders}/{r.group_leaders_needed}</td>"
        f"<td{' class=gg-flag' if r.grids_unstaffed + r.dedicated_unstaffed else ''}>"
        f"{r.grids_unstaffed + r.dedicated_unstaffed}</td></tr>"
        for r in table.itertuples() if r.grids)
    rule = t["staffing_rule_public" if public else "staffing_rule"]
    return (f'<details class="gg-staffing"><summary>{esc(t["staffing"])}</summary>'
            f'<table><tr>{head}</tr>{rows}</table><small>{esc(rule)}</small></details>')


def _legend(t: dict[str, str], *, has: dict[str, bool], roster: bool, staffing: str = "") -> str:
    swatches = "".join(f'<i class="gg-swatch" style="background:{c}"></i>' for c in PALETTE[:4])
    items = [f"{swatches}{esc(t['grids'])}"]
    if has.get("subgrids"):
        items.append(f'<i style="background:transparent;border:1px dashed #333"></i>{esc(t["subgrids"])}')
    if has.get("dedicated"):
        items.append(f'<i style="background:#c9a0dc"></i>{esc(t["dedicated"])}')
    if has.get("streets"):
        items.append(f'<i style="background:#999;height:3px;border:none"></i>{esc(t["streets"])}')
    if has.get("buildings"):
        items.append(f'<i style="background:#bdbdbd"></i>{esc(t["buildings"])}')
    if roster:
        items.append(f'<i style="background:transparent;border:2px solid #d7191c"></i>{esc(t["unstaffed"])}')
    return f'<div class="gg-legend"><b>{esc(t["legend"])}</b><br>' + "<br>".join(items) + staffing + "</div>"


def _context_grids(plan: Any, shown: gpd.GeoDataFrame, communities: list[str], *, simplify_m: float, datum: str,
                   digits: int) -> gpd.GeoDataFrame:
    """Grids of other communities around a community's page (outlines only, not interactive)."""
    from ..crs import metric_crs

    crs = metric_crs(shown)
    around = shapely.buffer(shapely.box(*shown.to_crs(crs).total_bounds), 150.0)
    others = plan.grids[~plan.grids["community_code"].astype(str).isin(communities)]
    others = others[others.to_crs(crs).intersects(around)]
    if others.empty:
        return others[[others.geometry.name]]
    shown_others = display_layer(others.sort_values("grid_code"), simplify_m=simplify_m, coverage=True, datum=datum, digits=digits)
    return gpd.GeoDataFrame({"grid_code": shown_others["grid_code"].astype(str).map(esc)},
                            geometry=shown_others.geometry.to_numpy(), crs=4326)


def _subset(plan: Any, communities: list[str] | None) -> dict[str, gpd.GeoDataFrame]:
    layers = {}
    for name in ("communities", "grids", "subgrids", "dedicated", "buildings"):
        gdf = plan.layers.get(name)
        if gdf is None:
            continue
        if communities is not None:
            col = "code" if name == "communities" else "community_code"
            if col in gdf.columns:
                gdf = gdf[gdf[col].astype(str).isin(communities)]
        layers[name] = gdf
    return layers


def _prepare(plan: Any, streets: Any) -> dict[str, Any]:
    """What every page of a plan shares: the streets (in a metric CRS), each grid's bounding roads and
    its colour (over the whole plan, so that the pages of a split site agree)."""
    from ..crs import metric_crs

    check_drawable(plan)
    street_layer = plan_streets(plan, streets)
    if street_layer is not None and len(street_layer) and street_layer.crs is not None and street_layer.crs.is_geographic:
        street_layer = street_layer.to_crs(metric_crs(plan.grids))
    return {"streets": street_layer, "roads": roads_by_zone(plan.grids, "grid_code", street_layer),
            "colours": colour_grids(plan.grids).set_axis(plan.grids["grid_code"].astype(str).to_numpy())}


def grid_map(
    plan: Any,
    *,
    roster: Any = None,
    tiles: str = "osm",
    tianditu_token: str | None = None,
    public: bool = False,
    lang: str = "zh",
    streets: Any = None,
    supervision_phone: str | None = None,
    communities: list[str] | None = None,
    buildings: bool = True,
    simplify_m: float = 0.5,
    digits: int = 6,
    asset_base: str | None = None,
    photo_src: Callable[[str], str] | None = None,
    index_link: str | None = None,
    overlays: dict[str, Any] | None = None,
    _prepared: dict[str, Any] | None = None,
) -> Any:
    """The public grid map (网格示意图) of a plan as a :class:`folium.Map`.

    Parameters
    ----------
    plan
        A partitioned :class:`~gridgeo.Plan`.
    roster
        Staff (a CSV path, a DataFrame or a :class:`~gridgeo.maps.roster.Roster`); shown in the grids' popups.
    tiles
        ``osm`` (default), ``tianditu`` (needs ``tianditu_token``), ``amap`` (geometries shifted to
        GCJ-02 to sit on AMap's streets) or ``none`` (no background; works offline).
    public
        Show only what a public sign may show: no household counts, no building attributes.
    lang
        ``zh`` (default) or ``en``.
    streets
        Streets to draw and name as bounding roads (a GeoDataFrame, a path or ``(path, layer)``); default
        the plan's ``streets`` layer when it has one.
    supervision_phone
        The supervision phone (监督电话) for communities whose roster names no supervisor (督导员).
    communities
        Only these community codes (one page per community).
    buildings
        Draw the buildings layer (off by default in the layer control).
    simplify_m
        Coverage-preserving simplification tolerance in metres (0: none).
    digits
        Decimals kept in the page's coordinates (6: about 0.1 m).
    asset_base
        Load Leaflet from this relative folder (the bundled copies) instead of folium's CDNs.
    photo_src
        Maps a local photo path to the ``src`` used in the page (default: inlined as a data URI).
    index_link
        A link back to an index page, shown beside the title.
    overlays
        Extra point or polygon layers by display name (enterprises, hazards, cameras, rental houses ...):
        each a GeoDataFrame, a path or ``(path, layer)``; drawn as a layer, counted per grid in the popups
        (a polygon counts in the grid holding its representative point). Public maps draw them without
        attributes; otherwise a ``name`` column is shown on hover.
    """
    import folium

    token = _check_options(tiles, lang, tianditu_token)
    t = texts(lang)
    staff = _as_roster(roster, plan)
    datum = "gcj02" if tiles == "amap" else "wgs84"
    layers = _subset(plan, communities)
    grids_all = layers["grids"].sort_values("grid_code")
    if grids_all.empty:
        msg = "the plan has no base grids to map; run `gridgeo partition` first"
        raise InputError(msg)
    shared = _prepared if _prepared is not None else _prepare(plan, streets)
    street_layer = shared["streets"]
    names_of = community_names(plan.communities)
    villages = village_codes(plan.communities)
    roads = shared["roads"]
    sup_by_community = staff.supervision_phones() if staff is not None else {}
    subgrids = layers.get("subgrids")
    n_sub = subgrids.groupby("grid_code").size().to_dict() if subgrids is not None and len(subgrids) else {}

    colours = shared["colours"]
    unstaffed: set[str] = set()
    if staff is not None:
        from .roster import grid_staff_table

        table = grid_staff_table(plan, staff)
        unstaffed = set(table.loc[table["unstaffed"], "grid_code"])
    overlay_frames = {str(name): _read_overlay(name, value) for name, value in (overlays or {}).items()}
    overlay_counts = {name: _count_in_grids(o, grids_all) for name, o in overlay_frames.items()}
    units_of = _units_by_grid(plan.layers.get("units"))
    carried = office_columns(plan, public=public)
    records = []
    office_of = office_rows(grids_all, carried)
    for g, office in zip(grids_all.drop(columns=grids_all.geometry.name).itertuples(index=False), office_of, strict=True):
        code = str(g.grid_code)
        name = names_of.get(str(g.community_code), "")
        people = staff.of_grid(code) if staff is not None else None
        popup = grid_popup(g, community_name=name, staff=people,
                           roads=roads.get(code, []), supervision=sup_by_community.get(str(g.community_code)) or supervision_phone or "",
                           subgrid_count=n_sub.get(code), lang=lang, public=public, photo_src=photo_src,
                           counts={name: int(c.get(code, 0)) for name, c in overlay_counts.items()},
                           units=units_of.get(code), village=str(g.community_code) in villages, office=office)
        records.append({"grid_code": esc(code), "label": esc(code[-3:] if len(code) > 6 else code),
                        "search": _search_text(code, name, *roads.get(code, []), *_shown_names(people)), "popup": popup,
                        "fill": palette_colour(int(colours[code])), "unstaffed": code in unstaffed,
                        "kind": esc(getattr(g, "kind", "base"))})
    shown = gpd.GeoDataFrame(records, geometry=display_layer(grids_all, simplify_m=simplify_m, coverage=True, datum=datum, digits=digits).geometry.to_numpy(), crs=4326)
    is_dedicated = shown["kind"] == "dedicated"
    dedicated = layers.get("dedicated")

    minx, miny, maxx, maxy = shown.total_bounds
    m = folium.Map(tiles=None, zoom_control=False, prefer_canvas=False, zoom_snap=0.25)
    _controls(m, t)
    _add_tiles(m, tiles, token, t)
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    root = m.get_root()
    title = f"{t['title']}" if communities is None or len(communities) != 1 else f"{names_of.get(communities[0]) or communities[0]} {t['page_of']}"
    root.header.add_child(folium.Element(f"<title>{esc(title)}</title><meta charset='utf-8'>" + _CSS))
    link = f'<a href="{esc(index_link)}">{esc(t["back"])}</a>' if index_link else ""
    root.html.add_child(folium.Element(f'<div class="gg-title">{esc(title)}{link}</div>'))

    on_each = folium.JsCode("""function(feature, layer) {
        layer.bindPopup(feature.properties.popup, {maxWidth: 360, autoPanPaddingTopLeft: [60, 60], autoPanPaddingBottomRight: [20, 20]});
        layer.bindTooltip(feature.properties.label, {permanent: true, direction: 'center', className: 'gg-label'});
    }""")
    context_layer = None
    if communities is not None:  # grids of the other communities around, drawn first (below)
        context = _context_grids(plan, grids_all, communities, simplify_m=simplify_m, datum=datum, digits=digits)
        if len(context):
            context_layer = folium.GeoJson(context, name=t["context"], interactive=False,
                                           style_function=lambda f: {"fillColor": "#ffffff", "fillOpacity": 0.35,
                                                                     "color": "#999", "weight": 1}).add_to(m)
    base = shown[~is_dedicated]
    grid_layer = folium.GeoJson(
        base, name=f"{t['grids']} ({len(base):,})",
        style_function=lambda f: {"fillColor": f["properties"]["fill"], "fillOpacity": 0.55,
                                  "color": "#d7191c" if f["properties"]["unstaffed"] else "#333",
                                  "weight": 3 if f["properties"]["unstaffed"] else 1.2},
        highlight_function=lambda f: {"weight": 3, "fillOpacity": 0.75},
        on_each_feature=on_each, smooth_factor=0.5,
    ).add_to(m)
    handles = {"grids": grid_layer.get_name()}
    if context_layer is not None:
        handles["context"] = context_layer.get_name()
    has = {"streets": False}
    if subgrids is not None and len(subgrids):
        sub = display_layer(subgrids.sort_values("subgrid_code"), simplify_m=simplify_m, coverage=True, datum=datum, digits=digits)
        props = pd.DataFrame({"subgrid_code": sub["subgrid_code"].astype(str).map(esc)})
        if not public and "households" in sub.columns:
            props["households"] = sub["households"].astype(int)
        sub_layer = folium.GeoJson(
            gpd.GeoDataFrame(props, geometry=sub.geometry.to_numpy(), crs=4326), name=f"{t['subgrids']} ({len(sub):,})",
            style_function=lambda f: {"fill": False, "color": "#333", "weight": 1, "dashArray": "4 4"},
            tooltip=folium.GeoJsonTooltip(fields=list(props.columns), aliases=[t["code"], t["households"]][: len(props.columns)]),
        ).add_to(m)
        handles["subgrids"] = sub_layer.get_name()
        has["subgrids"] = True
    ded_frames = []
    if dedicated is not None and len(dedicated):
        d = display_layer(dedicated, simplify_m=simplify_m, coverage=False, datum=datum, digits=digits)
        code_col = "grid_code" if "grid_code" in d.columns else d.columns[0]
        ded_frames.append(gpd.GeoDataFrame({"code": d[code_col].astype(str).map(esc),
                                            "name": d.get("name", pd.Series("", index=d.index)).astype(str).map(esc)},
                                           geometry=d.geometry.to_numpy(), crs=4326))
    if is_dedicated.any():
        dg = shown[is_dedicated]
        sep = "、" if lang == "zh" else ", "
        names = [esc(sep.join(units_of.get(str(c), ([], []))[0])) for c in dg["grid_code"]]  # its dedicated units
        ded_frames.append(gpd.GeoDataFrame({"code": dg["grid_code"], "name": names}, geometry=dg.geometry.to_numpy(), crs=4326))
    if ded_frames:
        ded = pd.concat(ded_frames, ignore_index=True)
        ded_layer = folium.GeoJson(ded, name=f"{t['dedicated']} ({len(ded):,})",
                                   style_function=lambda f: {"fillColor": "#c9a0dc", "fillOpacity": 0.6, "color": "#6a3d9a", "weight": 2},
                                   tooltip=folium.GeoJsonTooltip(fields=["code", "name"], aliases=[t["code"], ""])).add_to(m)
        handles["dedicated"] = ded_layer.get_name()
        has["dedicated"] = True
    if street_layer is not None and len(street_layer):
        extent = shown.to_crs(street_layer.crs).total_bounds if street_layer.crs is not None else None
        sl = street_layer.cx[extent[0]:extent[2], extent[1]:extent[3]] if extent is not None else street_layer
        if len(sl):
            sl = display_layer(sl, simplify_m=simplify_m, coverage=False, datum=datum, digits=digits)
            names = sl["name"].astype(object).where(sl["name"].notna(), "") if "name" in sl.columns else pd.Series("", index=sl.index)
            st = gpd.GeoDataFrame({"name": names.astype(str).map(esc)}, geometry=sl.geometry.to_numpy(), crs=4326)
            street_group = folium.GeoJson(st, name=t["streets"], style_function=lambda f: {"color": "#8c8c8c", "weight": 2, "opacity": 0.9},
                                          tooltip=folium.GeoJsonTooltip(fields=["name"], labels=False)).add_to(m)
            handles["streets"] = street_group.get_name()
            has["streets"] = True
    for k, (name, o) in enumerate(overlay_frames.items()):
        x0, y0, x1, y1 = grids_all.to_crs(o.crs).total_bounds
        ov = display_layer(o.cx[x0:x1, y0:y1], simplify_m=0, coverage=False, datum=datum, digits=digits)
        label = ov["name"] if "name" in ov.columns and not public else pd.Series("", index=ov.index)
        og = gpd.GeoDataFrame({"name": label.astype(object).where(label.notna(), "").astype(str).map(esc)},
                              geometry=ov.geometry.to_numpy(), crs=4326)
        colour = _OVERLAY_COLOURS[k % len(_OVERLAY_COLOURS)]
        layer = folium.GeoJson(og, name=f"{esc(name)} ({len(og):,})", show=True,
                               marker=folium.CircleMarker(radius=5, color=colour, fill=True, fill_opacity=0.9, weight=1),
                               style_function=lambda f, c=colour: {"color": c, "weight": 1.5, "fillColor": c, "fillOpacity": 0.4},
                               # no tooltip on an empty layer (a community without such features): folium refuses
                               # a field of no feature ("The field name is not available in the data")
                               tooltip=folium.GeoJsonTooltip(fields=["name"], labels=False) if not public and len(og) else None,
                               ).add_to(m)
        handles[f"overlay{k}"] = layer.get_name()
    b = layers.get("buildings")
    if buildings and b is not None and len(b):
        bd = display_layer(b, simplify_m=0, coverage=False, datum=datum, digits=digits)
        # a building's households (户数 per 楼栋) are never in a page, whichever mode: one step from its residents, in
        # a file made for a web server; the office map names the building, the grids and small grids give totals
        bprops = pd.DataFrame(index=bd.index) if public else pd.DataFrame({"building_id": bd["building_id"].astype(str).map(esc)})
        bl = folium.GeoJson(gpd.GeoDataFrame(bprops, geometry=bd.geometry.to_numpy(), crs=4326), name=t["buildings"], show=False,
                            style_function=lambda f: {"color": "#666", "weight": 0.5, "fillColor": "#bdbdbd", "fillOpacity": 0.8},
                            tooltip=None if public else folium.GeoJsonTooltip(fields=["building_id"], aliases=[t["building"]])).add_to(m)
        handles["buildings"] = bl.get_name()
        has["buildings"] = True

    search = _search(grid_layer, t)
    search.add_to(m)
    locate = _locate_control(t)
    locate.add_to(m)
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    panel = ""
    if staff is not None:
        from .roster import staffing

        table = staffing(plan, staff)
        if communities is not None:
            table = table[table["community_code"].isin(communities)]
        panel = _staffing_panel(table, t, public=public)
    root.html.add_child(folium.Element(_legend(t, has=has, roster=staff is not None, staffing=panel)))
    m.add_child(_JS.element(_label_script(m.get_name(), handles, max_labels=100)))
    if asset_base is not None:
        _use_local_assets([m, search, locate], asset_base)
    return m


def _index_map(plan: Any, pages: dict[str, str], *, tiles: str, token: str | None, lang: str, asset_base: str, simplify_m: float) -> Any:
    """The index page of a split site: communities linked to their pages."""
    import folium

    t = texts(lang)
    datum = "gcj02" if tiles == "amap" else "wgs84"
    c = plan.communities.sort_values("code")
    shown = display_layer(c, simplify_m=simplify_m, coverage=True, datum=datum)
    colours = colour_grids(c, key="code")
    names = community_names(c)
    villages = village_codes(c)
    counts = plan.grids.groupby("community_code").size()
    records = []
    for code, name in ((code, names[code] or code) for code in c["code"].astype(str)):
        href = pages.get(code, "")
        page_of = texts(lang, village=code in villages)["page_of"]  # a village's page: 村网格图
        records.append({"code": esc(code), "label": esc(name), "search": _search_text(code, name),
                        "popup": (f'<div class="gg-popup"><h4>{esc(name)}</h4>{esc(code)}<br>{esc(t["grids"])}: '
                                  f'{int(counts.get(code, 0))}<br><a class="gg-page-link" href="{esc(href)}">{esc(page_of)} →</a></div>')})
    gdf = gpd.GeoDataFrame(records, geometry=shown.geometry.to_numpy(), crs=4326)
    gdf["fill"] = [palette_colour(int(i)) for i in colours]
    minx, miny, maxx, maxy = gdf.total_bounds
    m = folium.Map(tiles=None, zoom_control=False, zoom_snap=0.25)
    _controls(m, t)
    _add_tiles(m, tiles, token, t)
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    root = m.get_root()
    root.header.add_child(folium.Element(f"<title>{esc(t['title'])}</title><meta charset='utf-8'>" + _CSS))
    root.html.add_child(folium.Element(f'<div class="gg-title">{esc(t["title"])} · {esc(t["index"])}</div>'))
    on_each = folium.JsCode("""function(feature, layer) {
        layer.bindPopup(feature.properties.popup);
        layer.bindTooltip(feature.properties.label, {permanent: true, direction: 'center', className: 'gg-label'});
    }""")
    layer = folium.GeoJson(gdf, name=f"{t['communities']} ({len(gdf):,})", on_each_feature=on_each,
                           style_function=lambda f: {"fillColor": f["properties"]["fill"], "fillOpacity": 0.55, "color": "#333", "weight": 1.5}).add_to(m)
    search = _search(layer, t)
    search.add_to(m)
    m.add_child(_JS.element(_label_script(m.get_name(), {"communities": layer.get_name()}, max_labels=200)))
    _use_local_assets([m, search], asset_base)
    return m


def _copy_assets(site: Path) -> None:
    shutil.copytree(VENDOR, site / "lib", ignore=shutil.ignore_patterns("README.md"))


def _photo_copier(site: Path) -> Callable[[str], str]:
    def copy(path: str) -> str:
        data = Path(path).read_bytes()
        name = hashlib.sha256(data).hexdigest()[:16] + Path(path).suffix.lower()
        (site / "photos").mkdir(exist_ok=True)
        (site / "photos" / name).write_bytes(data)
        return f"photos/{name}"

    return copy


def _site_entry(entry: Path) -> bool:
    """Whether ``entry`` of a folder is one :func:`publish_map` writes: ``index.html``, a community page
    (``<code>.html``), ``lib/`` or ``photos/``."""
    if entry.is_dir() and not entry.is_symlink():
        return entry.name in ("lib", "photos")
    return entry.name == "index.html" or re.fullmatch(r"\d+\.html", entry.name) is not None


def check_site_out(out: str | os.PathLike, *, force: bool = False) -> Path:
    """Refuse the folder of a grid map site before anything is read or drawn (``gridgeo map`` calls it before
    reading the plan): an existing ``out`` without ``force``, a file, a missing parent folder, or (with ``force``)
    a folder holding anything but an earlier site. Returns ``out`` as a path."""
    out = Path(out)
    if out.exists() and not force:
        msg = f"{out} exists; pass {force_option()} to replace it"
        raise InputError(msg)
    if out.exists() and not out.is_dir():
        msg = f"--out {out} is a file; give a folder for the site"
        raise InputError(msg)
    if not out.parent.exists():
        msg = f"--out folder {out.parent} does not exist; create it first"
        raise InputError(msg)
    if out.is_dir():  # --force replaces a site gridgeo wrote (or an empty folder), never a folder of other files
        foreign = sorted(e.name for e in out.iterdir() if not _site_entry(e))
        if foreign:
            more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
            msg = (f"{force_option()} replaces only an empty folder or an earlier grid map site, and {out} holds "
                   f"{foreign[0]!r}{more}; give --out a new or empty folder")
            raise InputError(msg)
    return out


def publish_map(
    plan: Any,
    out: str | os.PathLike,
    *,
    roster: Any = None,
    tiles: str = "osm",
    tianditu_token: str | None = None,
    public: bool = False,
    lang: str = "zh",
    streets: Any = None,
    supervision_phone: str | None = None,
    pages: str = "auto",
    buildings: bool = True,
    simplify_m: float = 0.5,
    digits: int = 6,
    overlays: dict[str, Any] | None = None,
    force: bool = False,
) -> list[Path]:
    """Write the public grid map site (``gridgeo map``): ``out/index.html``, per-community pages, ``lib/``.

    ``pages``: ``single`` (one page), ``community`` (one page per community plus an index page) or
    ``auto`` (per community when the plan has more than :data:`SPLIT_GRIDS` base grids). Photos named in
    the roster are copied into ``out/photos/``. Written to a temporary folder first and then moved into
    place, so a failed run leaves nothing behind; an existing ``out`` is replaced only with ``force``.
    Other options are those of :func:`grid_map`. Returns the pages written (index first).
    """
    token = _check_options(tiles, lang, tianditu_token)
    if pages not in ("auto", "single", "community"):
        msg = f"pages {pages!r} is not supported; use 'auto', 'single' or 'community'"
        raise InputError(msg)
    out = check_site_out(out, force=force)
    staff = _as_roster(roster, plan)
    overlays = {str(n): _read_overlay(n, v) for n, v in (overlays or {}).items()}
    split = pages == "community" or (pages == "auto" and len(plan.grids) > SPLIT_GRIDS)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    tmp.chmod(0o755)
    try:
        _copy_assets(tmp)
        options = {"roster": staff, "tiles": tiles, "tianditu_token": token, "public": public, "lang": lang, "streets": streets,
                   "supervision_phone": supervision_phone, "buildings": buildings, "simplify_m": simplify_m,
                   "digits": digits, "asset_base": "lib/", "photo_src": _photo_copier(tmp),
                   "overlays": overlays, "_prepared": _prepare(plan, streets)}
        written = []
        if split:
            codes = sorted(plan.grids["community_code"].astype(str).unique())
            links = {code: f"{code}.html" for code in codes}
            _index_map(plan, links, tiles=tiles, token=token, lang=lang, asset_base="lib/", simplify_m=simplify_m).save(str(tmp / "index.html"))
            written.append("index.html")
            for code in codes:
                grid_map(plan, communities=[code], index_link="index.html", **options).save(str(tmp / links[code]))
                written.append(links[code])
        else:
            grid_map(plan, **options).save(str(tmp / "index.html"))
            written.append("index.html")
        if out.exists():
            old = out.with_name(f".{out.name}-old-{os.getpid()}")
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return [out / name for name in written]
