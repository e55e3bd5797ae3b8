"""CSV text as spreadsheets save it, read one way for points (``locate``), layers and rosters.

The encoding: the one given, else a byte-order mark's (Excel's "CSV UTF-8" and "Unicode text", UTF-16 with a
BOM), else UTF-16 without one where the text has NUL bytes, else UTF-8 when the whole file is UTF-8, else
GB18030 (the superset of GBK that Excel on Chinese Windows writes). The delimiter: comma, tab (Excel's
"Unicode text") or semicolon, whichever splits the header into the most fields.
"""

from __future__ import annotations

import codecs
import csv
import os
from pathlib import Path
from typing import Any

import pandas as pd

from ._errors import InputError

__all__ = ["DELIMITERS", "csv_delimiter", "csv_encoding", "decode_hint", "encoding_label", "read_csv_text",
           "worth_trying"]

#: delimiters a header is split by, the first preferred when they split it alike
DELIMITERS = (",", "\t", ";")
#: byte-order marks and the codec that reads past them
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
#: bytes read at a time when telling an encoding (the UTF-8 test reads the whole file), and for hints
_BLOCK = 16 << 20


def _bom_encoding(head: bytes) -> str | None:
    return next((enc for bom, enc in _BOMS if head.startswith(bom)), None)


def _utf16_without_bom(head: bytes) -> str | None:
    """UTF-16 of mostly ASCII text without a BOM: NUL bytes in every other place (a text CSV has no NUL)."""
    pairs = len(head) // 2
    if pairs < 2 or b"\x00" not in head:
        return None
    even, odd = head[0:2 * pairs:2].count(0), head[1:2 * pairs:2].count(0)
    if odd > pairs // 2 and even < pairs // 8:
        return "utf-16-le"
    if even > pairs // 2 and odd < pairs // 8:
        return "utf-16-be"
    return None


def csv_encoding(path: str | os.PathLike, encoding: str | None = None, *, what: str = "csv") -> str:
    """The codec a CSV is read with: ``encoding`` when given (UTF-8 as ``utf-8-sig``: a BOM is no text), else as
    the module says. ``what`` starts the one-line error for an unknown ``encoding``."""
    if encoding is not None:
        try:
            name = codecs.lookup(str(encoding)).name
        except LookupError:
            msg = f"{what}: encoding={encoding!r} is unknown; give utf-8, gbk, gb18030 or utf-16"
            raise InputError(msg) from None
        return "utf-8-sig" if name == "utf-8" else name
    with open(path, "rb") as f:
        head = f.read(_BLOCK)
        found = _bom_encoding(head) or _utf16_without_bom(head)
        if found:
            return found
        decoder = codecs.getincrementaldecoder("utf-8")()
        block = head
        try:
            while block:
                decoder.decode(block)
                block = f.read(_BLOCK)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "gb18030"
    return "utf-8-sig"


def encoding_label(encoding: str) -> str:
    """An encoding as messages name it: ``utf-8`` for ``utf-8-sig`` (a BOM or none), else its codec name."""
    name = codecs.lookup(encoding).name
    return "utf-8" if name == "utf-8-sig" else name


def csv_delimiter(path: str | os.PathLike, encoding: str) -> str:
    """The delimiter of :data:`DELIMITERS` that splits the header (first line) of ``path`` into the most fields
    (quotes respected); a comma when none splits it."""
    with open(path, encoding=encoding, errors="replace", newline="") as f:
        line = f.readline()
    counts = [len(next(csv.reader([line], delimiter=d), [])) for d in DELIMITERS]
    return DELIMITERS[counts.index(max(counts))]


def worth_trying(path: str | os.PathLike, tried: str | None = None) -> list[str]:
    """Encodings that decode the start of ``path``, other than ``tried``: UTF-8, else GBK (else GB18030), UTF-16
    where the text has NUL bytes, else Big5 (traditional characters). Empty when none does."""
    with open(path, "rb") as f:
        head = f.read(_BLOCK)
    skip = {encoding_label(tried)} if tried else set()

    def decodes(enc: str) -> bool:
        try:
            codecs.getincrementaldecoder(enc)().decode(head)  # not final: a character cut at the block's end
        except UnicodeDecodeError:
            return False
        return True

    if b"\x00" in head:  # no 8-bit text: UTF-16, if anything
        utf16 = _bom_encoding(head) or _utf16_without_bom(head)
        return [utf16] if utf16 and utf16.startswith("utf-16") and utf16 not in skip and decodes(utf16) else []
    for group in (("utf-8",), ("gbk", "gb18030"), ("big5",)):
        found = next((e for e in group if e not in skip and decodes(e)), None)
        if found:
            return [found]
    return []


def decode_hint(path: str | os.PathLike, tried: str | None, option: str | None) -> str:
    """What to do when ``path`` does not decode as ``tried``: name the encoding that does (``option`` formats it,
    e.g. ``"--encoding buildings={}"``; None where no option exists), else say to save the file as UTF-8."""
    found = worth_trying(path, tried)
    if found and option:
        return f"give its encoding: {option.format(found[0])}, which decodes it"
    if found:
        return f"it decodes as {found[0]}; save it as CSV UTF-8"
    return 'no common encoding (UTF-8, GBK/GB18030, UTF-16, Big5) decodes it; save it as CSV UTF-8 (Excel: "CSV UTF-8")'


def read_csv_text(path: str | os.PathLike, *, encoding: str | None = None, what: str, option: str | None = None,
                  by_line: bool = False, **options: Any) -> pd.DataFrame:
    """A CSV as text cells (``dtype=str``, no NA but what ``options`` say), in the encoding and with the delimiter
    found as the module says. Undecodable text is an :class:`InputError` starting with ``what`` and naming the
    encoding that decodes it (``option`` formats it as the caller's option); ``options`` go to ``pd.read_csv``.

    ``by_line``: rows whose cells are all empty (blank lines, and the ``,,,`` of a row a spreadsheet cleared) are
    left out and the index is each row's line in the file (the header is line 1), for messages naming rows."""
    enc = csv_encoding(path, encoding, what=what)
    try:
        sep = csv_delimiter(path, enc)
        if by_line:
            df = pd.read_csv(path, encoding=enc, sep=sep, dtype=str, keep_default_na=False, skip_blank_lines=False,
                             **options)
            df.index = range(2, len(df) + 2)
            cells = df.apply(lambda c: c.isna() | c.astype(str).str.strip().eq("")) if len(df.columns) else df
            return df[~cells.all(axis=1)] if len(df.columns) else df
        return pd.read_csv(path, encoding=enc, sep=sep, dtype=str, keep_default_na=False, **options)
    except pd.errors.EmptyDataError:  # an empty file (a failed download or export): no header to read
        msg = f"{what}: {Path(path).name} is empty (no header row); give a CSV with a header row and its rows"
        raise InputError(msg) from None
    except UnicodeDecodeError as exc:
        msg = f"{what}: cannot decode {Path(path).name} as {encoding_label(enc)} ({exc.reason}); {decode_hint(path, enc, option)}"
        raise InputError(msg) from None
