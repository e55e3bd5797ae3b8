"""Bundled sample data: the sample town 青石镇 and its staff roster.

The sample town is a fictional township at a real place in Hubei (the farmland of 应城市, county code
420981): eight communities (社区) and one village (村) with villager groups (村民小组), about 22,600
households, in CGCS2000 geographic coordinates (EPSG:4490). ``scripts/make_sample_town.py`` generates
it, seeded, so that every run gives the same bytes. Its streets are synthetic: maps of it belong on a
blank background, not on real map tiles.

Examples
--------
>>> from gridgeo import datasets
>>> datasets.available()
['sample_town', 'sample_town_staff']
>>> datasets.get_path("sample_town").name
'sample_town.gpkg'
>>> datasets.sample_town_layers()
['communities', 'streets', 'buildings', 'villager_groups', 'enterprises']
>>> datasets.get_path("wuhan")
Traceback (most recent call last):
...
gridgeo._errors.InputError: get_path: no dataset named 'wuhan'; available: 'sample_town', 'sample_town_staff'
"""

from __future__ import annotations

from pathlib import Path

from ._errors import InputError

__all__ = ["available", "get_path", "sample_town_layers"]

_FILES = {
    "sample_town": "sample_town.gpkg",
    "sample_town_staff": "sample_town_staff.csv",
}

# the layers of sample_town.gpkg, in the order the generator writes them
_SAMPLE_TOWN_LAYERS = ["communities", "streets", "buildings", "villager_groups", "enterprises"]


def _data_dirs() -> list[Path]:
    package = Path(__file__).resolve().parent
    # the repository's data/ (source tree and editable installs), then a copy inside the package
    return [package.parent / "data", package / "data"]


def available() -> list[str]:
    """Names of the bundled datasets, for :func:`get_path`.

    >>> "sample_town" in available()
    True
    """
    return sorted(_FILES)


def get_path(name: str) -> Path:
    """Path of a bundled dataset.

    Parameters
    ----------
    name
        One of :func:`available`: ``"sample_town"`` (a GeoPackage with the layers of
        :func:`sample_town_layers`) or ``"sample_town_staff"`` (a CSV roster of grid leaders
        网格长, grid workers 网格员 and building leaders 楼栋长, with columns ``name``, ``phone``,
        ``role``, ``community_code``; fictional people and phone numbers).

    Returns
    -------
    pathlib.Path
        The file, which exists.

    Raises
    ------
    InputError
        When ``name`` is not a bundled dataset (the message lists the valid names), or when the
        file is missing from this installation.

    Examples
    --------
    >>> import geopandas as gpd
    >>> communities = gpd.read_file(get_path("sample_town"), layer="communities")
    >>> len(communities), communities.crs.to_epsg()
    (9, 4490)
    """
    if name not in _FILES:
        valid = ", ".join(repr(n) for n in available())
        msg = f"get_path: no dataset named {name!r}; available: {valid}"
        raise InputError(msg)
    for folder in _data_dirs():
        path = folder / _FILES[name]
        if path.is_file():
            return path
    msg = (
        f"get_path: dataset {name!r} ({_FILES[name]}) is not in this installation (looked in "
        f"{', '.join(str(d) for d in _data_dirs())}); install gridgeo from its source tree with "
        "`pip install -e .`, or regenerate it with `python scripts/make_sample_town.py`"
    )
    raise InputError(msg)


def sample_town_layers() -> list[str]:
    """Layer names of the sample town GeoPackage.

    >>> sample_town_layers()[:3]
    ['communities', 'streets', 'buildings']
    """
    return list(_SAMPLE_TOWN_LAYERS)
