"""Text folded as case-insensitive patterns see it, for cheap substring tests before a regex.

A guardrail pattern compiled with ``re.IGNORECASE`` matches an ASCII letter against its other
case and against four more characters: "İ" and "ı" (an "i"), "ſ" (an "s") and the Kelvin sign
(a "k"). :func:`folded` maps all of them to the lowercase ASCII letter, so a word the pattern
needs is in ``folded(text)`` whenever the pattern can match ``text``: a test that skips a
pattern whose words are missing never skips one that would have matched.
"""

from __future__ import annotations

__all__ = ["folded"]

_IGNORECASE_EXTRAS = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"})


def folded(text: str) -> str:
    """``text`` casefolded, with the four non-ASCII letters ``re.IGNORECASE`` equates with ASCII
    ones made those ASCII letters."""
    if text.isascii():
        return text.lower()
    return text.translate(_IGNORECASE_EXTRAS).casefold()
