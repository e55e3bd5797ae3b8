"""gridgeo: divide Chinese communities (社区) into governance grids (网格化管理) and publish them."""

from importlib.metadata import PackageNotFoundError, version

from ._errors import GridgeoError, InputError, RulesError

try:
    __version__ = version("gridgeo")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = ["GridgeoError", "InputError", "RulesError", "__version__"]
