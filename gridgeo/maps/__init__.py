"""Publishing a plan (DESIGN §4 ``maps/``): the interactive public grid map, printable signs, staffing.

- :func:`grid_map` → a :class:`folium.Map` (``Plan.map()``); :func:`publish_map` → a site of pages
  (``gridgeo map PLAN --out site/``);
- :func:`write_signs` / :func:`sign_figure` → grid notice boards (公示牌) as PDF or PNG (``gridgeo sign``);
  ``sign.write_community_maps`` → the printed grid map of a community (``gridgeo sign --community``);
- :func:`read_roster` and :func:`staffing`: the staff roster placed in the grids and the staffing table.

Nothing else in gridgeo imports this package except the CLI and the Python face.
"""

from .roster import Roster, format_staffing, grid_staff_table, read_roster, staffing
from .web import grid_map, publish_map

__all__ = ["Roster", "format_staffing", "grid_map", "grid_staff_table", "publish_map", "read_roster", "sign_figure",
           "staffing", "write_signs"]


def __getattr__(name: str):
    if name in ("sign_figure", "write_signs", "find_cjk_font"):  # matplotlib is imported only for signs
        from . import sign

        return getattr(sign, name)
    msg = f"module 'gridgeo.maps' has no attribute {name!r}"
    raise AttributeError(msg)
