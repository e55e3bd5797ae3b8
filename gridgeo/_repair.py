"""Moved: the repair is :mod:`gridgeo.validate.repair`, its writer :func:`gridgeo.io.write_repair`.

Kept so that ``from gridgeo._repair import repair_grids, write_repair, LOG_COLUMNS`` still works.
"""

from .io import write_repair
from .validate.repair import LOG_COLUMNS, repair_grids

__all__ = ["repair_grids", "write_repair", "LOG_COLUMNS"]
