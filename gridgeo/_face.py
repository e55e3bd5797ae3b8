"""Errors worded for the face the user called: Python arguments in Python, options on the command line.

Most checks live below both faces (``gridgeo partition`` and :func:`gridgeo.divide` read their layers the
same way) and word their fix with the command line's option (``pass --allow-outside``). An analyst in a
notebook who called :func:`gridgeo.divide` has no such option: the functions of :mod:`gridgeo.api` re-raise
an :class:`~gridgeo.InputError` with each option the called function takes as an argument respelled
(``allow_outside=True``), and leave every other word as it was. The command line marks its own calls
(:data:`CLI`), so the CLI, which calls some of those functions too, keeps its options.

A fix no respelling gives (``--no-shift-check`` is ``shift_check=False``; ``add --streets PATH`` is ``pass
streets= (a GeoDataFrame or a path)``) is worded for the face where it is raised, by :data:`CLI` as well
(:func:`gridgeo.io.layer_sources`, :func:`gridgeo.rebalance.unify`, the shift check of
:func:`gridgeo.rebalance.rebalance`): the command line marks its calls once, no flag is passed down.

>>> import inspect
>>> def divide(communities, *, crs=None, allow_outside=False, columns=None): ...
>>> params = inspect.signature(divide).parameters
>>> python_spelling("buildings: 100% lie outside; check --crs EPSG:4490, or pass --allow-outside to keep them", params)
"buildings: 100% lie outside; check crs='EPSG:4490', or pass allow_outside=True to keep them"
>>> python_spelling("map the column with --columns buildings.households=COLUMN", params)
"map the column with columns={'buildings': {'households': 'COLUMN'}}"
>>> python_spelling("--force (force=True) is not an argument here; nor is --metric-crs", params)
'--force (force=True) is not an argument here; nor is --metric-crs'
>>> def export(plan, out, *, layers=None, precision=None, force=False): ...
>>> params = inspect.signature(export).parameters
>>> python_spelling("pass --force (force=True) to replace it; use --precision 6 (--layers grids)", params)
"pass force=True to replace it; use precision=6 (layers='grids')"
>>> def publish(plan, out, *, format=None, code_scheme=None): ...
>>> python_spelling("--out site is a file; give --format one of ['gpkg']; widen it (in a --code-scheme TOML file, "
...                 "or code_scheme= in Python)", inspect.signature(publish).parameters)
"out='site' is a file; give format= one of ['gpkg']; widen it (in code_scheme=, a dict or a TOML file)"
>>> python_spelling("plan file not found: a.gpkg; run `gridgeo partition ... --out a.gpkg` first", params)
"plan file not found: a.gpkg; write it first with plan.to_file('a.gpkg') (or run `gridgeo partition ... --out a.gpkg`)"
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from ._errors import InputError

#: set while the command line runs: errors keep its options (``--crs``), whoever raised them
CLI: contextvars.ContextVar[bool] = contextvars.ContextVar("gridgeo_cli", default=False)

_OPTION = r"--([a-z][a-z0-9]*(?:-[a-z0-9]+)*)"
#: an option already followed by its Python spelling: "--force (force=True)", "--code-column COL (code_column= in Python)"
_BOTH = re.compile(_OPTION + r"(?: ([^\s()]+))? \(([a-z_]+=[^()]*?)(?: in Python)?\)")
#: a file option beside its Python argument: "in a --code-scheme TOML file, or code_scheme= in Python"
_TOML_OR = re.compile(r"in a " + _OPTION + r" TOML file, or ([a-z_]+)= in Python")
_ENCODING = re.compile(r"--encoding ([a-z_]+)=([^\s;,()]+)")
#: a Python spelling followed by its option: "force=True (--force)", "one_file (--one-file)"
_BOTH_AFTER = re.compile(r"\b([a-z_]+)(=\S*)? \(" + _OPTION + r"\)")
_COLUMNS = re.compile(r"--columns ([a-z_]+)\.([a-z_]+)=([^\s;,()]+)")
_DATUM = re.compile(r"--([a-z]+(?:-[a-z]+)*)-datum (gcj02|bd09|wgs84)")
_PARTITION_FIRST = re.compile(r"run `gridgeo partition \.\.\. --out ([^`]+)` first")
#: an option and the word after it, which may be its value
_WITH_VALUE = re.compile(_OPTION + r"\b( (?:'[^']*'|\"[^\"]*\"|[^\s;,()]+))?")
_PLACEHOLDER = re.compile(r"[A-Z][A-Z_]*")
#: words after an option that are the sentence going on, not the option's value ("--format one of", "--rules file")
_PROSE = frozenset("a an the to or and with is are was must given file folder one of in for names would cannot needs "
                   "drops replaces only on at from by as if that so not be keeps takes here too also first then option "
                   "options argument".split())


def _is_value(token: str) -> bool:
    """Whether the word after an option is its value (``EPSG:4490``, ``0``, ``plan.gpkg``, ``COL``), not prose."""
    return bool(token[:1] in "'\"" or _PLACEHOLDER.fullmatch(token) or re.search(r"[\d:./\\=]", token)
                or token.lower() not in _PROSE)


def _shown(token: str) -> str:
    if token[:1] in "'\"" or _PLACEHOLDER.fullmatch(token) or re.fullmatch(r"-?\d+(\.\d+)?", token):
        return token
    return repr(token)


def _respell(text: str, params: Mapping[str, inspect.Parameter], aliases: Mapping[str, str]) -> str:
    """``text`` (no command in backquotes) with each option of a parameter in ``params`` respelled (``aliases``:
    the parameter of an option named otherwise, ``{"to": "url"}``)."""
    text = _TOML_OR.sub(lambda m: f"in {m.group(2)}=, a dict or a TOML file" if m.group(2) in params else m.group(0),
                        text)
    text = _BOTH.sub(lambda m: (m.group(3) + (m.group(2) or "") if m.group(3).endswith("=") else m.group(3))
                     if m.group(1).replace("-", "_") in params else m.group(0), text)
    text = _BOTH_AFTER.sub(lambda m: m.group(1) + (m.group(2) or "")
                           if m.group(1) == m.group(3).replace("-", "_") and m.group(1) in params else m.group(0), text)
    if "rules" in params:
        text = text.replace("in a --rules file", "in the rules (rules=, a TOML file)")
    if "columns" in params:
        text = _COLUMNS.sub(lambda m: f"columns={{{m.group(1)!r}: {{{m.group(2)!r}: {m.group(3)!r}}}}}", text)
    text = _ENCODING.sub(lambda m: (f"{m.group(1)}=gridgeo.io.LayerSource(PATH, encoding={m.group(2)!r})"
                                    if m.group(1) in params else m.group(0)), text)
    text = _DATUM.sub(lambda m: (f"{m.group(1).replace('-', '_')}=gridgeo.io.LayerSource(PATH, datum={m.group(2)!r})"
                                 if m.group(1).replace("-", "_") in params else m.group(0)), text)

    def option(m: re.Match) -> str:
        name, value = m.group(1).replace("-", "_"), m.group(2) or ""
        name = aliases.get(name, name)
        param = params.get(name)
        if param is None:
            return m.group(0)
        if param.default is False:
            return f"{name}=True{value}"
        # a value: looks like one, or a word closing the parentheses it stands in ("(--layers grids)")
        if value and (_is_value(value[1:]) or text[m.end():m.end() + 1] == ")"):
            return f"{name}={_shown(value[1:])}"
        return f"{name}={value}"

    return _WITH_VALUE.sub(option, text)


def python_spelling(message: str, params: Mapping[str, inspect.Parameter], aliases: Mapping[str, str] | None = None) -> str:
    """``message`` with the command line's options respelled as the arguments in ``params`` (a signature's
    parameters; ``aliases``: option → parameter where the names differ); options with no such argument, and
    commands quoted in backquotes, are left as they are."""
    message = _PARTITION_FIRST.sub(lambda m: f"write it first with plan.to_file({m.group(1)!r}) (or run "
                                             f"`gridgeo partition ... --out {m.group(1)}`)", message)
    parts = message.split("`")
    return "`".join(part if i % 2 else _respell(part, params, aliases or {}) for i, part in enumerate(parts))


def force_option() -> str:
    """How to ask for an existing output to be replaced, on the face called: ``--force`` on the command line,
    ``force=True`` in Python (for "PATH exists; pass … to replace it", wherever it is raised).

    >>> force_option()
    'force=True'
    >>> token = CLI.set(True)
    >>> force_option()
    '--force'
    >>> CLI.reset(token)
    """
    return "--force" if CLI.get() else "force=True"


def cli_spelling(message: str) -> str:
    """``message`` as the command line says it: an option followed by its Python spelling (``--force (force=True)``,
    ``--code-column COL (code_column= in Python)``), or the reverse (``force=True (--force)``), keeps the option alone;
    a file option beside its Python argument keeps the file option.

    >>> cli_spelling("a.gpkg exists; pass force=True (--force) to overwrite it; name it with --code-column COL "
    ...              "(code_column= in Python); widen it (in a --code-scheme TOML file, or code_scheme= in Python)")
    'a.gpkg exists; pass --force to overwrite it; name it with --code-column COL; widen it (in a --code-scheme TOML file)'
    """
    message = _TOML_OR.sub(lambda m: f"in a --{m.group(1)} TOML file", message)
    message = _BOTH.sub(lambda m: f"--{m.group(1)}" + (f" {m.group(2)}" if m.group(2) else ""), message)
    return _BOTH_AFTER.sub(lambda m: f"--{m.group(3)}" if m.group(1) == m.group(3).replace("-", "_") else m.group(0),
                           message)


F = TypeVar("F", bound=Callable[..., Any])


def python_face(*also: str, aliases: Mapping[str, str] | None = None) -> Callable[[F], F]:
    """Decorate an API function: its :class:`InputError` messages name its arguments (and those of ``also``,
    the functions its ``**options`` go to, as ``"module:function"``, imported only when an error needs them)
    instead of the command line's options (``aliases``: option → argument where the names differ), unless the
    CLI called it."""

    def wrap(func: F) -> F:
        @functools.wraps(func)
        def face(*args: Any, **kwargs: Any) -> Any:
            try:
                return func(*args, **kwargs)
            except InputError as exc:
                if CLI.get() or not exc.args or not isinstance(exc.args[0], str):
                    raise
                spelled = python_spelling(exc.args[0], _parameters(func, also), aliases)
                if spelled != exc.args[0]:
                    exc.args = (spelled, *exc.args[1:])
                raise

        return face  # type: ignore[return-value]

    return wrap


def _parameters(func: Callable[..., Any], also: tuple[str, ...]) -> dict[str, inspect.Parameter]:
    """The named parameters of ``func`` and of the functions ``also`` names."""
    import importlib

    funcs = [getattr(importlib.import_module(m), f) for m, _, f in (a.partition(":") for a in also)]
    return {k: p for f in (*funcs, func) for k, p in inspect.signature(f).parameters.items()
            if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
