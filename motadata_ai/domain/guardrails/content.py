"""Output content filter: categories of harmful text and caller-configured blocked terms."""

from __future__ import annotations

import re
from collections.abc import Sequence

_CATEGORIES = {
    "self_harm": r"\b(?:how\s+to|ways\s+to|best\s+way\s+to)\s+"
    r"(?:kill\s+yourself|commit\s+suicide|end\s+your\s+life|self[- ]harm)",
    "weapons": r"\b(?:how\s+to|steps\s+to|instructions\s+(?:to|for))\s+(?:make|build|assemble)\s+"
    r"(?:a\s+|an\s+)?(?:pipe\s+)?(?:bomb|explosive|nerve\s+agent|chemical\s+weapon|bioweapon)",
    "malware": r"\b(?:ransomware|keylogger)\s+(?:source\s+)?code\b",
}
_CATEGORY_RE = {name: re.compile(p, re.IGNORECASE) for name, p in _CATEGORIES.items()}


def flagged_categories(text: str, blocked_terms: Sequence[str] = ()) -> list[str]:
    """The harmful categories ``text`` falls in, plus ``blocked_term`` when a configured term appears."""
    found = [name for name, pattern in _CATEGORY_RE.items() if pattern.search(text)]
    if blocked_terms:
        lowered = text.lower()
        if any(term.lower() in lowered for term in blocked_terms):
            found.append("blocked_term")
    return found
