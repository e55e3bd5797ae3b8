"""Project exceptions.

Every error a user can cause by their input is an :class:`InputError` (a ``ValueError``); the CLI turns
it into a one-line message and exit code 2, never a traceback.
"""

from __future__ import annotations


class GridgeoError(Exception):
    """Base class of gridgeo's own errors."""


class InputError(GridgeoError, ValueError):
    """Bad input: a file, layer, column, value or setting the user gave that cannot be used."""


class RulesError(InputError):
    """An invalid rules file or setting (unknown key, impossible bounds, wrong type)."""


class PlanExistsError(GridgeoError, FileExistsError):
    """The output file exists and ``force`` was not given."""
