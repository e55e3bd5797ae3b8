"""Grid notice boards (网格公示牌) as PDF or PNG: the grid and its neighbours, its roads, its staff.

One page per grid, A4 or A3 portrait, 300 dpi: a map of the grid and its neighbours (streets, buildings,
code labels, north arrow, scale bar, legend), the grid code and community, the area and its bounding
roads (四至道路), the responsible unit, each person's photo (a placeholder when none), name, role, phone
and duties, and the supervision phone (监督电话). Chinese text is set in a CJK font found on the system
(Noto Sans/Serif CJK from Debian's ``fonts-noto-cjk``, Source Han, WenQuanYi, or the font file named by
``GRIDGEO_CJK_FONT``); PDF text is embedded as TrueType (``pdf.fonttype`` 42), so it can be searched
and copied.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from .._errors import GridgeoError, InputError
from .._face import force_option
from ..crs import metric_crs
from ._layers import check_drawable, community_names, plan_streets, roads_by_zone, village_codes
from ._text import default_duties, plain, role_label, texts, villager_group
from .roster import Roster, read_roster

__all__ = ["PAPER_MM", "FontNotFoundError", "MissingGlyphWarning", "community_figure", "find_cjk_font", "sign_figure", "write_community_maps",
           "write_signs"]

PAPER_MM = {"A4": (210.0, 297.0), "A3": (297.0, 420.0)}
FORMATS = ("pdf", "png")
DPI = 300
_CJK_FAMILIES = ("Noto Sans CJK SC", "Noto Serif CJK SC", "Source Han Sans SC", "Source Han Serif SC", "Noto Sans SC",
                 "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "SimHei", "Microsoft YaHei", "PingFang SC")
_CJK_FILES = ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
              "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
_INSTALL = ("no CJK font found for Chinese text on signs; install one (Debian/Ubuntu: `sudo apt-get install fonts-noto-cjk`; "
            "macOS and Windows have one) or set GRIDGEO_CJK_FONT to a .ttf/.otf/.ttc file")


class FontNotFoundError(GridgeoError):
    """No font with Chinese glyphs is installed (signs would print empty boxes)."""


class MissingGlyphWarning(UserWarning):
    """Text on a sign or printed map holds characters the CJK font has no glyph for (printed as empty boxes)."""


@contextlib.contextmanager
def _glyphs_said(what: str):
    """matplotlib's warnings of glyphs missing from the font (one per character and drawing, with gridgeo's
    source line: "sign.py:511: UserWarning: Glyph 128512 (\\N{GRINNING FACE}) missing from font(s) Noto Sans CJK
    SC.") said once, as one :class:`MissingGlyphWarning` naming the characters; other warnings pass as they were."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    missing: dict[str, str] = {}
    for w in caught:
        found = re.match(r"Glyph (\d+) .*missing from font\(s\) (.+?)\.?$", str(w.message))
        if found:
            missing.setdefault(chr(int(found[1])), found[2])
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if missing:
        chars = ", ".join(f"{c!r} (U+{ord(c):04X})" for c in missing)
        font = next(iter(missing.values()))
        warnings.warn(MissingGlyphWarning(
            f"{what}: {chars} missing from the font {font}, printed as an empty box; remove it from the roster or "
            "data (names, duties, streets), or set GRIDGEO_CJK_FONT to a font that has it"), stacklevel=3)


def find_cjk_font() -> str:
    """The family name of an installed CJK font, registered with matplotlib; raises :class:`FontNotFoundError`.

    Looks at ``GRIDGEO_CJK_FONT`` (a font file), matplotlib's fonts, the usual Debian paths, then ``fc-list``.
    """
    from matplotlib import font_manager as fm

    candidates: list[str] = []
    env = os.environ.get("GRIDGEO_CJK_FONT")
    if env:
        if not Path(env).is_file():
            msg = f"GRIDGEO_CJK_FONT={env!r} is not a font file; give the path of a .ttf/.otf/.ttc with Chinese glyphs"
            raise FontNotFoundError(msg)
        candidates.append(env)
    candidates += [p for p in _CJK_FILES if Path(p).is_file()]
    if shutil.which("fc-list"):
        try:
            out = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True, timeout=20, check=False).stdout
            candidates += sorted({line.split(":")[0].strip() for line in out.splitlines() if line.strip()})
        except (OSError, subprocess.SubprocessError):
            pass
    for path in candidates:
        try:
            fm.fontManager.addfont(path)
            name = fm.FontProperties(fname=path).get_name()
        except (OSError, RuntimeError, ValueError):
            continue
        if env and path == env:
            return name
    known = {f.name for f in fm.fontManager.ttflist}
    for family in _CJK_FAMILIES:
        if family in known:
            return family
    raise FontNotFoundError(_INSTALL)


def _metric(plan: Any) -> Any:
    from pyproj import CRS

    crs = plan.metadata.get("metric_crs")
    try:
        return CRS.from_user_input(crs) if crs else metric_crs(plan.grids)
    except Exception:  # noqa: BLE001 - an unreadable CRS in the metadata: pick one again
        return metric_crs(plan.grids)


def _nice_length(width_m: float) -> float:
    target = width_m / 4
    steps = [10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000]
    return max([s for s in steps if s <= target] or [steps[0]])


def _draw_map(ax: Any, plan: Any, code: str, streets: gpd.GeoDataFrame | None, crs: Any, t: dict[str, str]) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    grids = plan.grids.to_crs(crs)
    me = grids[grids["grid_code"].astype(str) == code]
    geom = me.geometry.iloc[0]
    x0, y0, x1, y1 = geom.bounds
    pad = max(x1 - x0, y1 - y0) * 0.25 + 30
    x0, y0, x1, y1 = x0 - pad, y0 - pad, x1 + pad, y1 + pad
    # square-ish view matching the axes' aspect
    box = ax.get_position()
    fig_w, fig_h = ax.figure.get_size_inches()
    aspect = (box.height * fig_h) / (box.width * fig_w)
    w, h = x1 - x0, y1 - y0
    if h / w < aspect:
        cy = (y0 + y1) / 2
        y0, y1 = cy - w * aspect / 2, cy + w * aspect / 2
    else:
        cx = (x0 + x1) / 2
        x0, x1 = cx - h / aspect / 2, cx + h / aspect / 2
    view = shapely.box(x0, y0, x1, y1)
    near = grids[grids.intersects(view)]
    others = near[near["grid_code"].astype(str) != code]
    others.plot(ax=ax, facecolor="#f0f0f0", edgecolor="#777", linewidth=0.8, zorder=1)
    buildings = plan.layers.get("buildings")
    if buildings is not None and len(buildings):
        b = buildings.to_crs(crs)
        b = b[b.intersects(view)]
        if len(b) and b.geom_type.isin(["Polygon", "MultiPolygon"]).any():
            b.plot(ax=ax, facecolor="#c8c8c8", edgecolor="#999", linewidth=0.2, zorder=2)
    me.plot(ax=ax, facecolor="#fdd49e", edgecolor="#d7301f", linewidth=2.4, alpha=0.55, zorder=3)
    me.boundary.plot(ax=ax, color="#d7301f", linewidth=2.4, zorder=5)
    handles = [Patch(facecolor="#fdd49e", edgecolor="#d7301f", label=f"{t['grid_word']} {code}"),
               Patch(facecolor="#f0f0f0", edgecolor="#777", label=t["grids"])]
    if streets is not None and len(streets):
        s = streets.to_crs(crs)
        s = s[s.intersects(view)]
        if len(s):
            s.plot(ax=ax, color="#7f7f7f", linewidth=1.4, zorder=4)
            handles.append(Line2D([0], [0], color="#7f7f7f", linewidth=1.4, label=t["streets"]))
            _label_streets(ax, s, view)
    if buildings is not None and len(buildings):
        handles.append(Patch(facecolor="#c8c8c8", edgecolor="#999", label=t["buildings"]))
    p = geom.representative_point()
    ax.text(p.x, p.y, code, ha="center", va="center", fontsize=10, weight="bold", color="#7f0000", zorder=10,
            bbox={"facecolor": "white", "alpha": 0.75, "edgecolor": "none", "pad": 1.5})
    m_per_pt = (x1 - x0) / (ax.get_position(original=True).width * fig_w * 72)  # the view fills the axes (aspect matched)
    taken = [_label_box(p, code, m_per_pt, size=10, weight="bold", pad_pt=1.5)]
    inner = shapely.box(x0, y0, x1, y1)
    for g, label in _neighbour_labels(others, view, m_per_pt, taken, inner):
        ax.text(g.x, g.y, label, ha="center", va="center", fontsize=7, color="#555", zorder=6)
    _frame(ax, (x0, y0, x1, y1), t, handles, fontsize=7)


def _label_box(at: Any, text: str, m_per_pt: float, *, size: float, weight: str = "normal", pad_pt: float = 0.0) -> Any:
    """The box (in map metres) a label centred at ``at`` covers: the text's width and height in the current font at
    ``size`` points (as :func:`_fit` measures it), its ``pad_pt`` of ground, and a point of margin all round."""
    import matplotlib

    half_w, half_h = _label_half(text, size, weight, pad_pt, tuple(matplotlib.rcParams["font.family"]))
    return shapely.box(at.x - half_w * m_per_pt, at.y - half_h * m_per_pt, at.x + half_w * m_per_pt, at.y + half_h * m_per_pt)


@functools.lru_cache(maxsize=4096)
def _label_half(text: str, size: float, weight: str, pad_pt: float, family: tuple[str, ...]) -> tuple[float, float]:
    """Half the width and height, in points, of :func:`_label_box` (measured once per text and font ``family``)."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextPath

    extent = TextPath((0, 0), text, prop=FontProperties(family=list(family), size=size, weight=weight)).get_extents()
    return extent.width / 2 + pad_pt + 1.0, max(extent.height, size * 0.8) / 2 + pad_pt + 1.0


def _label_spots(area: Any) -> Any:
    """Points inside ``area`` (a polygon, possibly of several parts) where its label may stand, best first: its
    representative point, then the middles of its cross-sections along its long side, from the centre outwards
    (a long, thin grid has room for its label anywhere along its length, and its neighbours beside it too)."""
    parts = sorted(getattr(area, "geoms", [area]), key=lambda g: -g.area)
    for part in parts:
        if part.is_empty or part.area <= 0:
            continue
        yield part.representative_point()
        x0, y0, x1, y1 = part.bounds
        tall = (y1 - y0) >= (x1 - x0)
        for f in (0.5, 0.35, 0.65, 0.2, 0.8, 0.1, 0.9, 0.27, 0.43, 0.57, 0.73):
            if tall:
                y = y0 + f * (y1 - y0)
                cut = shapely.intersection(part, shapely.LineString([(x0 - 1, y), (x1 + 1, y)]))
            else:
                x = x0 + f * (x1 - x0)
                cut = shapely.intersection(part, shapely.LineString([(x, y0 - 1), (x, y1 + 1)]))
            pieces = [c for c in getattr(cut, "geoms", [cut]) if c.geom_type == "LineString" and not c.is_empty]
            if pieces:
                yield max(pieces, key=lambda c: c.length).interpolate(0.5, normalized=True)


def _neighbour_labels(others: gpd.GeoDataFrame, view: Any, m_per_pt: float, taken: list, inner: Any) -> list:
    """Where each neighbouring grid's label (the last three digits of its code) stands on a sign's map: at the
    first of its :func:`_label_spots` whose box (:func:`_label_box`) lies in the map and meets no label placed
    before (``taken``: the grid's own first); larger neighbours are placed first. A label with no such spot is
    left out: narrow grids side by side printed their codes over each other ("004003005")."""
    shown = others.assign(gg_part=others.geometry.intersection(view))
    shown = shown.assign(gg_area=shown["gg_part"].area, gg_code=shown["grid_code"].astype(str))
    placed = []
    for g in shown.sort_values(["gg_area", "gg_code"], ascending=[False, True]).itertuples():
        label = g.gg_code[-3:]
        for spot in _label_spots(g.gg_part):
            box = _label_box(spot, label, m_per_pt, size=7)
            if inner.contains(box) and not any(box.intersects(b) for b in taken):
                taken.append(box)
                placed.append((spot, label))
                break
    return placed


def _frame(ax: Any, bounds: tuple[float, float, float, float], t: dict[str, str], handles: list, *,
           fontsize: float) -> None:
    """A map's frame: the extent, equal axes without ticks, north arrow, scale bar and legend."""
    x0, y0, x1, y1 = bounds
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("")
    ax.set_ylabel("")
    _north_and_scale(ax, bounds, t)
    ax.legend(handles=handles, loc="upper left", fontsize=fontsize, framealpha=0.9)


#: the white ground of the north arrow and its label, in axes fractions: x, y, width, height
NORTH_GROUND = (0.895, 0.765, 0.07, 0.19)


def _north_and_scale(ax: Any, extent: tuple[float, float, float, float], t: dict[str, str]) -> None:
    """A north arrow (the metric CRS is a Gauss-Krüger zone: grid north within a degree or two of true
    north) and a scale bar in metres, on a white ground."""
    from matplotlib.patches import FancyArrow, Rectangle

    x0, y0, x1, y1 = extent
    # the arrow and 北 on their own white ground, so no street name or grid label drawn beneath shows through
    ax.add_patch(Rectangle(NORTH_GROUND[:2], *NORTH_GROUND[2:], facecolor="white", alpha=0.85, edgecolor="none",
                           transform=ax.transAxes, zorder=8.5))
    ax.add_patch(FancyArrow(0.93, 0.84, 0, 0.08, width=0.012, head_width=0.035, head_length=0.03, color="black",
                            transform=ax.transAxes, zorder=9))
    ax.text(0.93, 0.80, t["north"], transform=ax.transAxes, ha="center", va="center", fontsize=11, weight="bold", zorder=9)
    length = _nice_length(x1 - x0)
    bx, by = x0 + (x1 - x0) * 0.04, y0 + (y1 - y0) * 0.04
    bar_h = (y1 - y0) * 0.008
    ax.add_patch(Rectangle((bx - (x1 - x0) * 0.02, by - bar_h * 1.5), length + (x1 - x0) * 0.06, bar_h * 6,
                           facecolor="white", alpha=0.85, edgecolor="none", zorder=8.5))
    for i in range(2):
        ax.add_patch(Rectangle((bx + i * length / 2, by), length / 2, bar_h, facecolor="black" if i == 0 else "white",
                               edgecolor="black", linewidth=0.8, zorder=9))
    label = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    ax.text(bx, by + bar_h * 2, "0", fontsize=7, ha="center", zorder=9)
    ax.text(bx + length, by + bar_h * 2, label, fontsize=7, ha="center", zorder=9)


def _label_streets(ax: Any, streets: gpd.GeoDataFrame, view: Any) -> None:
    if "name" not in streets.columns:
        return
    named = streets[streets["name"].notna() & (streets["name"].astype(str).str.strip() != "")]
    inner = shapely.buffer(view, -(view.bounds[2] - view.bounds[0]) * 0.06)
    for name, rows in named.groupby(named["name"].astype(str), sort=True):
        line = shapely.intersection(shapely.union_all(np.asarray(rows.geometry.array, dtype=object)), inner)
        if line.is_empty or line.length < (view.bounds[2] - view.bounds[0]) * 0.12:
            continue
        parts = list(getattr(line, "geoms", [line]))
        part = max(parts, key=lambda g: g.length)
        mid = part.interpolate(0.5, normalized=True)
        a = part.interpolate(max(0.0, part.project(mid) - 5))
        b = part.interpolate(min(part.length, part.project(mid) + 5))
        angle = np.degrees(np.arctan2(b.y - a.y, b.x - a.x))
        if angle > 90:
            angle -= 180
        elif angle < -90:
            angle += 180
        ax.text(mid.x, mid.y, plain(name), rotation=angle, rotation_mode="anchor", ha="center", va="center", fontsize=7,
                color="#333", zorder=8, bbox={"facecolor": "white", "alpha": 0.7, "edgecolor": "none", "pad": 0.5})


def _photo(ax: Any, path: str, t: dict[str, str]) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    if path and not path.lower().startswith(("http://", "https://")):
        import matplotlib.image as mpimg

        ax.imshow(mpimg.imread(path))
        ax.set_aspect("auto")
        return
    ax.set_facecolor("#e6e6e6")
    ax.text(0.5, 0.5, t["photo"], ha="center", va="center", fontsize=9, color="#888", transform=ax.transAxes)


def _roads_note(streets: gpd.GeoDataFrame | None) -> str:
    """The word a sign prints for a grid without bounding roads (never a bare "—"): ``roads_not_given`` when there
    are no named streets at all (a plan without a streets layer, as a rebalanced plan or one divided without
    streets, and no ``--streets``), else ``roads_unnamed`` (no named street runs along this grid)."""
    if streets is None or not len(streets) or "name" not in streets.columns:
        return "roads_not_given"
    named = streets["name"].notna() & (streets["name"].astype(str).str.strip() != "")
    return "roads_unnamed" if named.any() else "roads_not_given"


def _fit(text: Any, width: float, *, fig: Any, size: float, weight: str = "normal", lines: int = 1, keep: str = "") -> str:
    """``text`` in at most ``lines`` lines no wider than ``width`` (a fraction of ``fig``'s width) in the current
    font at ``size`` points, the last cut short with "…" when the rest does not fit. matplotlib's ``wrap`` breaks
    only at spaces and at the page's edge: a long name ran into the next card, a long unit or list of roads
    (Chinese, without spaces) off the page. A line breaks at the last space that fits, else between characters.
    ``keep`` follows the text whole, after any "…" (a sign's grid code after its community's name). Bidirectional
    controls are dropped (:func:`~gridgeo.maps._text.plain`)."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextPath

    prop = FontProperties(size=size, weight=weight)
    limit = width * fig.get_figwidth() * 72  # points

    def fits(s: str) -> bool:
        return not s.strip() or TextPath((0, 0), s, prop=prop).get_extents().width <= limit

    def longest(s: str, tail: str) -> int:  # the longest prefix of s that fits with tail after it (at least 1)
        lo, hi = 1, len(s)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            lo, hi = (mid, hi) if fits(s[:mid] + tail) else (lo, mid - 1)
        return lo

    rest, out, keep = " ".join(plain(text).splitlines()).strip(), [], plain(keep)
    if not rest:
        return keep.strip()
    while rest:
        if fits(rest + keep):
            out.append(rest + keep)
            break
        if len(out) == lines - 1:
            out.append(rest[:longest(rest, "…" + keep)].rstrip() + "…" + keep)
            break
        k = longest(rest, "")
        space = rest.rfind(" ", 0, k + 1)
        k = space if space > k // 2 else k
        out.append(rest[:k].rstrip())
        rest = rest[k:].lstrip()
    return "\n".join(out)


def sign_figure(plan: Any, grid_code: str, *, roster: Any = None, streets: Any = None, paper: str = "A4",
                lang: str = "zh", supervision_phone: str | None = None, unit: str | None = None) -> Any:
    """The notice board (公示牌) of one grid as a matplotlib Figure of the paper's size.

    Parameters mirror ``gridgeo sign``: ``roster`` (path, DataFrame or Roster), ``streets`` (default the
    plan's streets layer), ``paper`` ``A4``/``A3``, ``lang`` ``zh``/``en``, ``supervision_phone`` for
    communities whose roster has no supervisor (督导员), ``unit`` the responsible unit (default the
    community's name and 居民委员会 / residents' committee, a village's 村民委员会 / villagers' committee, as its
    sign labels it 村 / village; for a dedicated grid, 专属网格, its dedicated units
    named in the plan's ``units`` register, where it has them). A dedicated grid's board is titled as one
    (专属网格公示牌): it has its own grid worker and is public like a base grid.
    """
    from matplotlib.figure import Figure

    t = texts(lang)
    if paper not in PAPER_MM:
        msg = f"paper {paper!r} is not supported; use one of {list(PAPER_MM)}"
        raise InputError(msg)
    codes = set(plan.grids["grid_code"].astype(str))
    if str(grid_code) not in codes:
        msg = f"grid {grid_code!r} is not in the plan; use a grid_code from its grids layer, e.g. {min(codes)!r}"
        raise InputError(msg)
    code = str(grid_code)
    staff = roster if isinstance(roster, Roster) or roster is None else read_roster(roster, plan)
    family = find_cjk_font()
    crs = _metric(plan)
    street_layer = plan_streets(plan, streets)
    grid = plan.grids[plan.grids["grid_code"].astype(str) == code]
    community = str(grid["community_code"].iloc[0])
    village = community in village_codes(plan.communities)
    t = texts(lang, village=village)  # a village's grid: 所属村, 村民委员会, 村民小组长
    cname = community_names(plan.communities).get(community) or community
    group = villager_group(grid.iloc[0])  # a village's grid follows its villager group (村民小组)
    roads = roads_by_zone(grid, "grid_code", street_layer).get(code, [])
    area_m2 = float(grid.to_crs(crs).geometry.area.iloc[0])
    people = staff.of_grid(code) if staff is not None else None
    if people is not None:
        people = people[people["role"] != "building_leader"]
    supervision = (staff.supervision_phones().get(community) if staff is not None else None) or supervision_phone or ""
    dedicated = "kind" in grid.columns and str(grid["kind"].iloc[0]) == "dedicated"
    if unit is None and dedicated:
        from .web import _units_by_grid

        unit = ("、" if lang == "zh" else ", ").join(_units_by_grid(plan.layers.get("units")).get(code, ([], []))[0])
    unit = unit or f"{cname}{t['committee']}"

    w_mm, h_mm = PAPER_MM[paper]
    scale = w_mm / 210.0
    fs = lambda size: size * scale  # noqa: E731 - type sizes grow with the paper
    with matplotlib_rc(family):
        fig = Figure(figsize=(w_mm / 25.4, h_mm / 25.4), dpi=DPI)
        fig.patch.set_facecolor("white")
        fig.text(0.5, 0.965, t["dedicated_sign" if dedicated else "sign"], ha="center", va="center", fontsize=fs(26),
                 weight="bold", color="#b30000")
        word = t["dedicated_word" if dedicated else "grid_word"]
        fig.text(0.5, 0.935, _fit(f"{cname} {group}" if group else cname, 0.88, fig=fig, size=fs(15), keep=f" · {word} {code}"), ha="center",
                 va="center", fontsize=fs(15))
        ax = fig.add_axes((0.06, 0.45, 0.88, 0.465))
        _draw_map(ax, plan, code, street_layer, crs, t)
        sep = "、" if lang == "zh" else ", "
        area = f"{area_m2 / 1e6:.2f} km²" if area_m2 >= 1e5 else f"{area_m2:,.0f} m²"
        facts = [(t["code"], code), (t["community"], f"{cname} ({community})"),
                 *([(t["villager_group"], group)] if group else []), (t["area"], area),
                 (t["roads"], sep.join(roads) or t[_roads_note(street_layer)]), (t["unit"], unit)]
        y = 0.425
        for k, v in facts:
            fig.text(0.07, y, f"{k}:", fontsize=fs(10.5), weight="bold", va="top")
            v = _fit(v, 0.72, fig=fig, size=fs(10.5), lines=2)
            fig.text(0.22, y, v, fontsize=fs(10.5), va="top")
            y -= 0.022 * (1 + 0.7 * v.count("\n"))
        y -= 0.006
        fig.text(0.07, y, t["staff"], fontsize=fs(13), weight="bold", va="top", color="#b30000")
        y -= 0.03
        rows = list(people.itertuples()) if people is not None else []
        if not rows:
            fig.text(0.07, y, t["none"], fontsize=fs(11), va="top")
        col_w, card_h = 0.44, 0.085
        shown = 0
        for i, p in enumerate(rows[:8]):
            cx = 0.07 + (i % 2) * col_w
            cy = y - (i // 2) * (card_h + 0.008)
            if cy - card_h < 0.06:
                break
            shown += 1
            pax = fig.add_axes((cx, cy - card_h, 0.075, card_h))
            _photo(pax, p.photo, t)
            text_w = col_w - 0.088 - 0.012  # the card's text stays in the card
            fig.text(cx + 0.088, cy - 0.004, _fit(p.name, text_w, fig=fig, size=fs(12), weight="bold"), fontsize=fs(12),
                     weight="bold", va="top")
            fig.text(cx + 0.088, cy - 0.024, role_label(p.role, lang, village=village), fontsize=fs(9.5), va="top", color="#444")
            fig.text(cx + 0.088, cy - 0.041, _fit(f"{t['phone']}: {p.phone or '—'}", text_w, fig=fig, size=fs(9.5)),
                     fontsize=fs(9.5), va="top")
            duties = p.duties or default_duties(p.role, lang)
            fig.text(cx + 0.088, cy - 0.058, _fit(f"{t['duties']}: {duties}", text_w, fig=fig, size=fs(8), lines=2),
                     fontsize=fs(8), va="top", color="#333")
        if len(rows) > shown:  # no room for everyone: say how many more, with their names
            rest = ("、" if lang == "zh" else ", ").join(f"{p.name} {p.phone}".strip() for p in rows[shown:])
            fig.text(0.07, 0.075, _fit(f"+{len(rows) - shown}: {rest}", 0.86, fig=fig, size=fs(8), lines=3), fontsize=fs(8),
                     va="bottom")
        fig.text(0.5, 0.035, _fit(f"{t['supervision']}: {supervision or '—'}", 0.9, fig=fig, size=fs(13), weight="bold"),
                 ha="center", fontsize=fs(13), weight="bold")
    return fig


def community_figure(plan: Any, community_code: str, *, roster: Any = None, streets: Any = None, paper: str = "A4",
                     lang: str = "zh", public: bool = True) -> Any:
    """The printed grid map (网格示意图) of one community as a matplotlib Figure of the paper's size.

    Its base grids coloured so that neighbours differ (as on the web map), code labels, small grids dashed,
    streets, buildings, the community outline, north arrow, scale bar, legend; below, one line per grid
    with its grid leaders and workers (name and phone) from the roster. ``public=False`` adds each
    grid's households to its label.
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from ._layers import colour_grids, palette_colour

    t = texts(lang)
    if paper not in PAPER_MM:
        msg = f"paper {paper!r} is not supported; use one of {list(PAPER_MM)}"
        raise InputError(msg)
    codes = sorted(set(plan.grids["community_code"].astype(str)))
    code = str(community_code)
    if code not in codes:
        msg = f"community {community_code!r} has no grids in the plan; use a community_code of its grids, e.g. {codes[0]!r}"
        raise InputError(msg)
    staff = roster if isinstance(roster, Roster) or roster is None else read_roster(roster, plan)
    family = find_cjk_font()
    crs = _metric(plan)
    street_layer = plan_streets(plan, streets)
    colours = dict(zip(plan.grids["grid_code"].astype(str), colour_grids(plan.grids)))
    grids = plan.grids[plan.grids["community_code"].astype(str) == code].to_crs(crs).sort_values("grid_code")
    cname = community_names(plan.communities).get(code) or code
    village = code in village_codes(plan.communities)
    t = texts(lang, village=village)  # a village's map: 村网格图, its outline 村
    w_mm, h_mm = PAPER_MM[paper]
    scale = w_mm / 210.0
    with matplotlib_rc(family):
        fig = Figure(figsize=(w_mm / 25.4, h_mm / 25.4), dpi=DPI)
        fig.text(0.5, 0.965, _fit(cname, 0.92, fig=fig, size=22 * scale, weight="bold", keep=f" {t['page_of']}"),
                 ha="center", va="center", fontsize=22 * scale, weight="bold")  # a long name cut, not run off the page
        fig.text(0.5, 0.94, f"{code} · {len(grids)} {t['grids']}", ha="center", va="center", fontsize=11 * scale)
        ax = fig.add_axes((0.05, 0.33, 0.9, 0.59))
        x0, y0, x1, y1 = grids.total_bounds
        pad = max(x1 - x0, y1 - y0) * 0.04 + 20
        x0, y0, x1, y1 = x0 - pad, y0 - pad, x1 + pad, y1 + pad
        box = ax.get_position()
        aspect = (box.height * h_mm) / (box.width * w_mm)
        if (y1 - y0) / (x1 - x0) < aspect:
            cy, half = (y0 + y1) / 2, (x1 - x0) * aspect / 2
            y0, y1 = cy - half, cy + half
        else:
            cx, half = (x0 + x1) / 2, (y1 - y0) / aspect / 2
            x0, x1 = cx - half, cx + half
        view = shapely.box(x0, y0, x1, y1)
        grids.plot(ax=ax, color=[palette_colour(int(colours[c])) for c in grids["grid_code"].astype(str)], edgecolor="#333",
                   linewidth=1.0, alpha=0.8, zorder=1)
        handles = [Patch(facecolor=palette_colour(0), edgecolor="#333", label=t["grids"])]
        subgrids = plan.layers.get("subgrids")
        if subgrids is not None and len(subgrids):
            sub = subgrids[subgrids["community_code"].astype(str) == code].to_crs(crs)
            sub.boundary.plot(ax=ax, color="#333", linewidth=0.5, linestyle=(0, (3, 3)), zorder=2)
            handles.append(Line2D([0], [0], color="#333", linewidth=0.5, linestyle=(0, (3, 3)), label=t["subgrids"]))
        buildings = plan.layers.get("buildings")
        if buildings is not None and len(buildings):
            b = buildings.to_crs(crs)
            b = b[b.intersects(view) & b.geom_type.isin(["Polygon", "MultiPolygon"])]
            if len(b):
                b.plot(ax=ax, facecolor="#9e9e9e", edgecolor="none", alpha=0.7, zorder=3)
                handles.append(Patch(facecolor="#9e9e9e", label=t["buildings"]))
        if street_layer is not None and len(street_layer):
            s = street_layer.to_crs(crs)
            s = s[s.intersects(view)]
            if len(s):
                s.plot(ax=ax, color="#6e6e6e", linewidth=1.0, zorder=4)
                handles.append(Line2D([0], [0], color="#6e6e6e", linewidth=1.0, label=t["streets"]))
                _label_streets(ax, s, view)
        outline = plan.communities[plan.communities["code"].astype(str) == code].to_crs(crs)
        outline.boundary.plot(ax=ax, color="#b30000", linewidth=2.2, zorder=6)
        handles.append(Line2D([0], [0], color="#b30000", linewidth=2.2, label=t["communities"]))
        for g in grids.itertuples():
            p = g.geometry.representative_point()
            label = str(g.grid_code)[-3:] + ("" if public else f"\n{int(g.households)}")
            ax.text(p.x, p.y, label, ha="center", va="center", fontsize=8 * scale, weight="bold", zorder=10,
                    bbox={"facecolor": "white", "alpha": 0.7, "edgecolor": "none", "pad": 1})
        _frame(ax, (x0, y0, x1, y1), t, handles, fontsize=7 * scale)
        lines = []
        for g in grids.itertuples():
            people = staff.of_grid(str(g.grid_code)) if staff is not None else None
            who = []
            if people is not None:
                for p in people[people["role"].isin(("grid_leader", "grid_worker", "fulltime_grid_worker"))].itertuples():
                    who.append(f"{role_label(p.role, lang, village=village)} {p.name} {p.phone}".strip())
            lines.append(f"{g.grid_code}  " + (("；" if lang == "zh" else "; ").join(who) if who else t["none"]))
        per_col = 22
        for i, text in enumerate(lines[: per_col * 2]):
            fig.text(0.06 + (i // per_col) * 0.46, 0.31 - (i % per_col) * 0.0125, _fit(text, 0.45, fig=fig, size=6.5 * scale),
                     fontsize=6.5 * scale, va="top")  # within its column
        if len(lines) > per_col * 2:
            fig.text(0.06, 0.31 - per_col * 0.0125, f"… +{len(lines) - per_col * 2}", fontsize=6.5 * scale, va="top")
    return fig


def matplotlib_rc(family: str) -> Any:
    """matplotlib settings for gridgeo's print: the CJK font, TrueType in PDF (searchable text), and no
    mathtext: names, duties, streets and units are printed as written (``$x^2$`` is not a formula, and
    ``$\\frac$`` is no parse error)."""
    import matplotlib

    return matplotlib.rc_context({"font.family": [family], "pdf.fonttype": 42, "ps.fonttype": 42, "axes.unicode_minus": False,
                                  "text.parse_math": False})


def sign_targets(out: str | os.PathLike, codes: list[str], *, fmt: str = "pdf", one_file: bool = False) -> list[Path]:
    """The files :func:`write_signs` writes for the grids ``codes``: ``out/<grid_code>.<fmt>``, or ``out/signs.pdf``."""
    out = Path(out)
    return [out / "signs.pdf"] if one_file else [out / f"{c}.{fmt}" for c in codes]


#: suffixes of a file, not a folder: an ``out`` ending so is refused (a folder ``sign.png`` holding a PDF is no sign)
_FILE_SUFFIXES = (".pdf", ".png", ".jpg", ".jpeg", ".svg", ".tif", ".tiff")


def check_sign_out(out: str | os.PathLike, targets: list[Path], *, force: bool = False, what: str = "signs") -> None:
    """Refuse the output of ``gridgeo sign`` before anything is drawn (the command calls it before reading its
    inputs where the files are known from its options): ``out`` a file, one of ``targets`` existing without
    ``force``, or the folder holding ``out`` missing."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        msg = f"--out {out} is a file; give a folder for the {what}"
        raise InputError(msg)
    if not out.exists() and out.suffix.lower() in _FILE_SUFFIXES:  # `--out sign.png` would be made a folder
        msg = (f"--out {out} names a file; --out is the folder the {what} are written into, one <code>.pdf or .png "
               f"each (--format png for PNG): give a folder, e.g. --out {out.with_suffix('')}")
        raise InputError(msg)
    existing = [p for p in targets if p.exists()]
    if existing and not force:
        msg = f"{existing[0]} exists; pass {force_option()} to replace it"
        raise InputError(msg)
    if not out.parent.exists():
        msg = f"--out folder {out.parent} does not exist; create it first"
        raise InputError(msg)


def write_community_maps(plan: Any, out: str | os.PathLike, *, communities: list[str], roster: Any = None, streets: Any = None,
                         fmt: str = "pdf", paper: str = "A4", lang: str = "zh", public: bool = True,
                         force: bool = False) -> list[Path]:
    """Write the printed grid map of each community: ``out/<community_code>.pdf`` (or ``.png``), atomically."""
    if fmt not in FORMATS:
        msg = f"format {fmt!r} is not supported; use one of {list(FORMATS)}"
        raise InputError(msg)
    out = Path(out)
    if isinstance(communities, str | int):  # one code (a string would be read character by character)
        communities = [communities]
    communities = list(dict.fromkeys(str(c) for c in communities))  # a code given twice is one map
    targets = [out / f"{c}.{fmt}" for c in communities]
    check_sign_out(out, targets, force=force, what="community maps")
    staff = roster if isinstance(roster, Roster) or roster is None else read_roster(roster, plan)
    check_drawable(plan)
    street_layer = plan_streets(plan, streets)
    with _glyphs_said("community maps"):
        figures = [community_figure(plan, c, roster=staff, streets=street_layer, paper=paper, lang=lang, public=public)
                   for c in communities]  # every error before anything is written
        made = not out.exists()  # a folder this run makes goes again if the run fails
        out.mkdir(exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".maps-", dir=out))
        done = False
        try:
            for fig, target in zip(figures, targets):
                with matplotlib_rc(find_cjk_font()):
                    fig.savefig(tmp / target.name, dpi=DPI, format=fmt)
            for target in targets:
                os.replace(tmp / target.name, target)
            done = True
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            if made and not done and not any(out.iterdir()):
                out.rmdir()
    return targets


def write_signs(plan: Any, out: str | os.PathLike, *, grids: list[str] | None = None, roster: Any = None,
                streets: Any = None, fmt: str = "pdf", paper: str = "A4", lang: str = "zh",
                supervision_phone: str | None = None, unit: str | None = None, one_file: bool = False,
                force: bool = False) -> list[Path]:
    """Write one notice board per grid (``gridgeo sign``): ``out/<grid_code>.pdf`` (or ``.png`` at 300 dpi).

    ``grids`` None means every grid (``--all``): base grids and dedicated grids (专属网格), which have their own
    grid worker and are public too; a dedicated grid's board is titled 专属网格公示牌. ``one_file`` (PDF only) writes every sign as a page
    of ``out/signs.pdf`` instead: the CJK font is then subset and embedded once, not once per file
    (subsetting the CJK font is most of the time a separate PDF takes). Files are written into a temporary folder and
    moved into ``out`` at the end (an existing file is replaced only with ``force``), so a failed run
    leaves no half-written sign.
    """
    import matplotlib

    if fmt not in FORMATS:
        msg = f"format {fmt!r} is not supported; use one of {list(FORMATS)}"
        raise InputError(msg)
    texts(lang)
    if paper not in PAPER_MM:
        msg = f"paper {paper!r} is not supported; use one of {list(PAPER_MM)}"
        raise InputError(msg)
    if isinstance(grids, str | int):  # one code (a string would be read character by character)
        grids = [grids]
    codes = sorted(plan.grids["grid_code"].astype(str)) if grids is None else list(dict.fromkeys(str(g) for g in grids))
    known = set(plan.grids["grid_code"].astype(str))
    missing = [c for c in codes if c not in known]
    if missing:
        msg = f"grid {missing[0]!r} is not in the plan; use a grid_code from its grids layer, e.g. {min(known)!r}"
        raise InputError(msg)
    out = Path(out)
    if one_file and fmt != "pdf":
        msg = "one_file (--one-file) writes a multi-page PDF; use format 'pdf' or leave one_file off"
        raise InputError(msg)
    targets = sign_targets(out, codes, fmt=fmt, one_file=one_file)
    check_sign_out(out, targets, force=force)
    staff = roster if isinstance(roster, Roster) or roster is None else read_roster(roster, plan)
    check_drawable(plan)
    street_layer = plan_streets(plan, streets)
    find_cjk_font()  # fail before any work
    made = not out.exists()  # a folder this run makes goes again if the run fails
    out.mkdir(exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".signs-", dir=out))
    done = False
    with _glyphs_said("signs"):
        try:
            def figure(code: str) -> Any:
                return sign_figure(plan, code, roster=staff, streets=street_layer, paper=paper, lang=lang,
                                   supervision_phone=supervision_phone, unit=unit)

            if one_file:
                from matplotlib.backends.backend_pdf import PdfPages

                with matplotlib.rc_context({"pdf.fonttype": 42}), PdfPages(tmp / targets[0].name) as pdf:
                    for code in codes:
                        pdf.savefig(figure(code), dpi=DPI)
            else:
                for code, target in zip(codes, targets):
                    with matplotlib.rc_context({"pdf.fonttype": 42}):
                        figure(code).savefig(tmp / target.name, dpi=DPI, format=fmt,
                                             metadata=None if fmt == "png" else {"Title": f"{code}"})
            for target in targets:
                os.replace(tmp / target.name, target)
            done = True
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            if made and not done and not any(out.iterdir()):
                out.rmdir()
    return targets
