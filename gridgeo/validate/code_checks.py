"""Checks of grid and small-grid codes against their community or grid and the code scheme."""

from __future__ import annotations

import numpy as np
import shapely

from ..codes import CodeScheme
from .layers import (
    _Layer,
    _rec,
)


def _code_problem(code: str, parent: str | None, level: str, scheme: CodeScheme) -> tuple[str, str] | None:
    """Check a code against its parent's code (``scheme.prefix`` + community code for a grid, the grid
    code for a small grid): (finding type, reason) or None. Without a parent code only the characters
    and the length the scheme gives a code of this depth are checked.

    >>> s = CodeScheme()
    >>> _code_problem("420102001001001", "420102001001", "grid", s) is None
    True
    >>> _code_problem("42010200100100A", "420102001001", "grid", s)[0]
    'malformed_code'
    >>> _code_problem("420102001002001", "420102001001", "grid", s)[0]
    'code_prefix_mismatch'
    >>> _code_problem("10420102001001001", "10420102001001", "grid", CodeScheme(prefix="10")) is None
    True
    >>> _code_problem("42010200100100101", None, "grid", s)[1]  # a small grid's length in the grid layer
    'has 17 digits, expected 15 (a grid code of the code scheme)'
    """
    if not code.isdigit() or not code.isascii():
        return "malformed_code", "has characters other than digits"
    suffix_digits = scheme.grid_digits if level == "grid" else scheme.subgrid_digits
    if parent is not None and parent.isdigit():
        want = len(parent) + suffix_digits
        if len(code) != want:
            return "malformed_code", f"has {len(code)} digits, expected {want} ({len(parent)}-digit parent code + {suffix_digits})"
        if not code.startswith(parent):
            return "code_prefix_mismatch", f"does not start with its parent code {parent}"
    elif parent is None:
        want = scheme.length(level)
        if len(code) != want:
            what = "grid" if level == "grid" else "small grid"
            return "malformed_code", f"has {len(code)} digits, expected {want} (a {what} code of the code scheme)"
    return None


def _code_findings(layer: _Layer, parents: np.ndarray, communities: np.ndarray, records: list, *,
                   code_column: str, column_present: bool, level: str, scheme: CodeScheme) -> None:
    name = layer.name
    if not column_present:
        records.append(_rec("missing_code", name, None, None,
                            message=f"the {name} layer has no {code_column!r} column; features are named #<index>"))
    counts: dict[str, list[int]] = {}
    for i, c in enumerate(layer.codes):
        if c is None:
            if column_present:
                records.append(_rec("missing_code", name, layer.ids[i], communities[i],
                                    geometry=shapely.point_on_surface(layer.geoms[i]) if layer.usable[i] else None,
                                    message=f"{name} feature {layer.ids[i]} has no {code_column}"))
            continue
        counts.setdefault(c, []).append(i)
        problem = _code_problem(c, parents[i], level, scheme)
        if problem:
            records.append(_rec(problem[0], name, c, communities[i],
                                geometry=shapely.point_on_surface(layer.geoms[i]) if layer.usable[i] else None,
                                message=f"{code_column} {c!r} {problem[1]}"))
    for c, rows in counts.items():
        if len(rows) > 1:
            geoms = [layer.geoms[i] for i in rows if layer.usable[i]]
            records.append(_rec("duplicate_code", name, c, communities[rows[0]], measure=len(rows),
                                geometry=shapely.union_all(geoms) if geoms else None,
                                message=f"{code_column} {c!r} is used by {len(rows)} features"))


def _kind_range(layer: _Layer, kinds: np.ndarray, comm_code: np.ndarray, scheme: CodeScheme, records: list) -> None:
    """Dedicated grids (专属网格) numbered from the scheme's ``dedicated_start``, base grids below it."""
    first = scheme.dedicated_first
    for i, (code, kind) in enumerate(zip(layer.codes, kinds, strict=True)):
        if code is None or kind not in ("base", "dedicated") or not str(code)[-scheme.grid_digits:].isdigit():
            continue
        seq = int(str(code)[-scheme.grid_digits:])
        if (kind == "dedicated") != (seq >= first):
            want = f"{first} or above" if kind == "dedicated" else f"under {first}"
            records.append(_rec("code_wrong_range", layer.name, layer.ids[i], comm_code[i],
                                geometry=shapely.point_on_surface(layer.geoms[i]) if layer.usable[i] else None,
                                message=f"{kind} grid {layer.ids[i]} has sequence {seq}; {kind} grids are numbered "
                                        f"{want} (dedicated_start)"))
