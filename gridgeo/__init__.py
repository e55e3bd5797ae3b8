"""gridgeo: divide Chinese communities (社区) into governance grids (网格化管理) and publish them.

The face (imported on first use, so that ``import gridgeo`` stays light):

- :func:`divide` → a :class:`Plan` (layers as GeoDataFrames, ``quality()``, ``validate()``,
  ``to_file()``, ``explore()``); :func:`read_plan`;
- :func:`validate` and :func:`repair` for any grid layer, :func:`diff` between two plans;
- :func:`export` (files in one schema), :func:`export_postgis`, :func:`locate` (points → grid, worker);
- :func:`rebalance` (an office's existing grids, fewest changes) and :func:`unify` (多网合一);
- :func:`publish_map` (the public grid map site), :func:`write_signs` (notice boards), :func:`staffing`;
- the errors :class:`InputError` (bad input, a ``ValueError``) and :class:`RulesError`.

``gridgeo.validate`` is both the function and the module of the checks
(``gridgeo.validate.validate_grids`` ...): calling the module calls :func:`gridgeo.api.validate`;
``gridgeo.diff`` likewise is :func:`gridgeo.api.diff` and the module :mod:`gridgeo.diff`.
"""

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from ._errors import GridgeoError, InputError, RulesError

try:
    __version__ = version("gridgeo")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"

if TYPE_CHECKING:
    from . import diff, export, locate, rebalance, validate
    from .api import Locator, divide, export_postgis, publish_map, read_plan, repair, staffing, unify, write_signs
    from .plan import Plan

__all__ = ["GridgeoError", "InputError", "Plan", "RulesError", "__version__", "diff", "divide", "read_plan",
           "repair", "validate", "export", "export_postgis", "locate", "Locator", "rebalance", "unify",
           "publish_map", "write_signs", "staffing"]

_API = {"divide", "read_plan", "repair", "export_postgis", "Locator", "unify", "publish_map", "write_signs", "staffing"}
_CALLABLE_MODULES = {"validate", "diff", "export", "locate", "rebalance"}  # modules callable as the API function of their name


def __getattr__(name: str) -> Any:
    if name in _API:
        from . import api

        return getattr(api, name)
    if name == "Plan":
        from .plan import Plan

        return Plan
    if name in _CALLABLE_MODULES:  # the module, callable as gridgeo.api.<name>
        import importlib

        return importlib.import_module(f".{name}", __name__)
    msg = f"module 'gridgeo' has no attribute {name!r}"
    raise AttributeError(msg)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
