"""Console wording shared by the commands: a count and its noun in agreement."""

from __future__ import annotations

__all__ = ["counted"]


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` and ``noun`` agreeing in number, as the console says a count (``plural`` for irregular nouns).

    >>> counted(1, "point"), counted(2, "point"), counted(1200, "small grid"), counted(0, "community")
    ('1 point', '2 points', '1,200 small grids', '0 communities')
    """
    if n == 1:
        return f"1 {noun}"
    if plural is None:
        plural = noun[:-1] + "ies" if noun.endswith("y") and noun[-2:-1] not in "aeiou" else noun + "s"
    return f"{n:,} {plural}"
