"""Words of any script: the one tokenizer that query rewriting and the keyword analysers share.

Pure and dependency-free (stdlib ``unicodedata``), so adapters and the domain can both use it
without importing the retrieval package.
"""

from __future__ import annotations

import unicodedata

__all__ = ["unicode_words"]

_JOINERS = "'-\u2019"


def unicode_words(text: str) -> list[str]:
    """The words of ``text`` in any script, in order (with repeats).

    A word is a run of letters, digits and combining marks (NFC-normalised, so "café" typed with
    a combining accent is the same word as with a precomposed one), keeping an apostrophe or a
    hyphen inside it ("wi-fi", "don't"; a typographic apostrophe becomes ``'``). Accented Latin,
    Greek, Cyrillic, Arabic and Hebrew (vowel points included), Devanagari and CJK runs stay whole.
    """
    words: list[str] = []
    current: list[str] = []
    for char in unicodedata.normalize("NFC", text):
        kind = unicodedata.category(char)[0]
        if kind in "LN" or (current and (kind == "M" or char in _JOINERS)):
            current.append("'" if char == "\u2019" else char)
            continue
        if current:
            word = "".join(current).strip(_JOINERS)
            if word:
                words.append(word)
            current = []
    if current:
        word = "".join(current).strip(_JOINERS)
        if word:
            words.append(word)
    return words
