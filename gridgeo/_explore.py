"""A plan in a notebook: the folium map of :meth:`Plan.explore` and the summary of ``Plan._repr_html_``."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from ._text import counted

if TYPE_CHECKING:
    from .plan import Plan

#: columns shown in the map tooltips, when present
_GRID_TOOLTIP = ("grid_code", "community_code", "kind", "households", "buildings", "flags")
_SUBGRID_TOOLTIP = ("subgrid_code", "grid_code", "households", "buildings", "flags")


def _require_explore() -> None:
    """GeoDataFrame.explore needs folium, matplotlib and mapclassify: fail with the install line."""
    missing = []
    for module in ("folium", "matplotlib", "mapclassify"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        msg = (f"Plan.explore needs {', '.join(missing)}; install them with "
               "`pip install 'gridgeo[notebook]'` (or `pip install folium matplotlib mapclassify`)")
        raise ImportError(msg)


def explore_plan(plan: Plan, **kwargs: Any) -> Any:
    """The grids on a folium map (coloured by households), small grids as a second layer, a layer control.

    ``kwargs`` go to :meth:`geopandas.GeoDataFrame.explore` for the grids and override the defaults.
    """
    _require_explore()
    import folium

    grids = plan.grids
    options: dict[str, Any] = {
        "column": "households" if "households" in grids.columns else None,
        "tooltip": [c for c in _GRID_TOOLTIP if c in grids.columns] or True,
        "name": "grids (网格)",
        "style_kwds": {"weight": 2, "fillOpacity": 0.5},
        "legend_kwds": {"caption": "households per grid"},
    }
    options.update(kwargs)
    scale = options.pop("control_scale", True) and "m" not in options  # a map given keeps its own controls
    m = grids.explore(**options, control_scale=False)  # folium's scale shows feet and miles beside metres
    if scale:
        from .maps.web import scale_bar

        scale_bar(m)
    subgrids = plan.layers.get("subgrids")
    if subgrids is not None and len(subgrids):
        subgrids.explore(m=m, name="small grids (小网格)", color="black", highlight=False,
                         tooltip=[c for c in _SUBGRID_TOOLTIP if c in subgrids.columns] or True,
                         style_kwds={"fill": False, "weight": 1, "dashArray": "4 4"})
    folium.LayerControl().add_to(m)
    return m


def _counts(plan: Plan) -> dict[str, int]:
    """Findings per severity: the plan's own validation (run before writing) when stored, else its findings."""
    validation = plan.metadata.get("validation")
    if isinstance(validation, dict):
        return {s: int(validation.get(s, 0)) for s in ("error", "warning", "info")}
    f = plan.layers.get("findings")
    counts = f["severity"].value_counts() if f is not None and len(f) else {}
    return {s: int(counts.get(s, 0)) for s in ("error", "warning", "info")}


def _pct(v: Any) -> str:
    return f"{100 * v:.1f}%" if isinstance(v, (int, float)) else "n/a"


def _num(v: Any, nd: int = 3) -> str:
    return f"{v:.{nd}f}" if isinstance(v, (int, float)) else "n/a"


def plan_html(plan: Plan) -> str:
    """A short HTML summary of a plan: layers with counts and households, communities, validation, quality.

    Every text taken from the data (names, codes, CRS, version) is escaped.

    >>> import geopandas as gpd
    >>> from shapely import box
    >>> from gridgeo.plan import Plan
    >>> c = gpd.GeoDataFrame({"code": ["420103001001"], "name": ["<b>东湖</b>"]}, geometry=[box(0, 0, 1, 1)], crs=4490)
    >>> text = plan_html(Plan({"communities": c}, {"stage": "blocks"}))
    >>> "&lt;b&gt;东湖&lt;/b&gt;" in text, "<b>东湖" in text
    (True, False)
    """
    e = html.escape
    meta = plan.metadata
    head = (f"<strong>gridgeo plan</strong> (stage {e(str(meta.get('stage', '?')))}, gridgeo "
            f"{e(str(meta.get('gridgeo_version', '?')))}, computed in {e(str(meta.get('metric_crs', '?')))})")
    rows = []
    for name, gdf in plan.layers.items():
        households = f"{int(gdf['households'].sum()):,}" if "households" in gdf.columns and name != "findings" else ""
        crs = gdf.crs.to_string() if gdf.crs is not None else "none"
        rows.append(f"<tr><td>{e(str(name))}</td><td style='text-align:right'>{len(gdf):,}</td>"
                    f"<td style='text-align:right'>{households}</td><td>{e(crs)}</td></tr>")
    table = ("<table><thead><tr><th>layer</th><th>features</th><th>households</th><th>CRS</th></tr></thead>"
             f"<tbody>{''.join(rows)}</tbody></table>")
    parts = [f"<div class='gridgeo-plan'><p>{head}</p>", table]
    communities = plan.layers.get("communities")
    if communities is not None and len(communities):
        names = communities["name"] if "name" in communities.columns else communities.get("code", [])
        shown = [str(n) for n in list(names)[:8]]
        more = f" and {len(communities) - len(shown):,} more" if len(communities) > len(shown) else ""
        parts.append(f"<p>communities: {e(', '.join(shown))}{more}</p>")
    c = _counts(plan)
    label = "validation (run before writing)" if "validation" in meta else "findings"
    parts.append(f"<p>{label}: {counted(c['error'], 'error')}, {counted(c['warning'], 'warning')}, {c['info']:,} info</p>")
    q = meta.get("quality")
    if isinstance(q, dict):
        base, small = q.get("base") or {}, q.get("small") or {}
        parts.append(
            "<p>quality: base grids in range " + _pct(base.get("in_range_share"))
            + f" ({e(str(base.get('in_range', '?')))} / {e(str(base.get('eligible', '?')))}), small grids in range "
            + _pct(small.get("in_range_share")) + ", households CV " + _num(base.get("households_cv"))
            + ", median Polsby–Popper " + _num(base.get("median_polsby_popper"))
            + ("" if base.get("median_polsby_popper_off_dedicated") is None else
               " (grids not beside a dedicated grid 专属网格: " + _num(base.get("median_polsby_popper_off_dedicated")) + ")")
            + ", street-aligned boundary " + _pct(base.get("street_aligned_share")) + "</p>")
    parts.append("</div>")
    return "\n".join(parts)
