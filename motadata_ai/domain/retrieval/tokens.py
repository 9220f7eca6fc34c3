"""Token counting seen by retrieval: one ``count_tokens`` callable used for chunks and budgets.

The composition root passes a real tokenizer (tiktoken ``cl100k_base``); without one, retrieval
falls back to :func:`approximate_token_count`, a dependency-free estimate of the same order.
"""

from __future__ import annotations

import re
from collections.abc import Callable

TokenCounter = Callable[[str], int]
"""Counts the tokens of a text; the same function sizes chunks, overlaps and context budgets."""

_PIECE = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def approximate_token_count(text: str) -> int:
    """Estimate tokens: one per word or punctuation mark, long words counting one per 4 letters."""
    total = 0
    for piece in _PIECE.findall(text):
        total += 1 if len(piece) <= 6 else (len(piece) + 3) // 4
    return total


def truncate_to_tokens(text: str, max_tokens: int, count_tokens: TokenCounter) -> str:
    """The longest whitespace-delimited prefix of ``text`` within ``max_tokens`` (binary search)."""
    if max_tokens <= 0:
        return ""
    if count_tokens(text) <= max_tokens:
        return text
    words = text.split(" ")
    low, high = 0, len(words)
    while low < high:
        middle = (low + high + 1) // 2
        if count_tokens(" ".join(words[:middle])) <= max_tokens:
            low = middle
        else:
            high = middle - 1
    return " ".join(words[:low])
