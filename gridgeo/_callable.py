"""Modules that are also the API function of their name: ``gridgeo.validate(...)``, ``gridgeo.diff(...)``.

``gridgeo.validate`` and ``gridgeo.diff`` name both a function of :mod:`gridgeo.api` and a module
(importing the module sets the package attribute to it), so each such module is made callable as the
function: ``gridgeo.diff(old, new)`` and ``gridgeo.diff.diff_plans`` both work, whatever was imported first.
"""

from __future__ import annotations

import inspect
import sys
import types
from typing import Any


class _CallableModule(types.ModuleType):
    """A module whose call is the :mod:`gridgeo.api` function of its last name."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from . import api

        return getattr(api, self.__name__.rpartition(".")[2])(*args, **kwargs)

    @property
    def __signature__(self) -> inspect.Signature:
        """The signature of the function a call runs (``gridgeo.locate?`` in Jupyter, ``inspect.signature``), not
        the ``(*args, **kwargs)`` of :meth:`__call__`."""
        from . import api

        return inspect.signature(getattr(api, self.__name__.rpartition(".")[2]))


def make_callable(name: str) -> None:
    """Make the module ``name`` (e.g. ``"gridgeo.diff"``) callable as ``gridgeo.api.<last name>``."""
    sys.modules[name].__class__ = _CallableModule
