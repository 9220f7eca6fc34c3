"""One table of names every entry point that takes a name must refuse with a typed error.

``BAD_NAMES`` holds values no kind of name accepts (tenant id, model name, alias, agent id, tool
name, subject token, durable consumer, artifact segment, cache key segment): a trailing newline
(which ``re.match`` with a ``$`` pattern lets through), other whitespace and control characters,
empty and dot-only values, wildcards and separators. ``BAD_TENANT_IDS`` adds what only tenant ids
refuse (ids not starting with a letter or digit, and characters that other names may hold).

Third-party adapters and apps can run their own entry points over the same table::

    @pytest.mark.parametrize("name", BAD_TENANT_IDS, ids=name_id)
    def test_my_entry_point_refuses(name): ...
"""

from __future__ import annotations

__all__ = ["BAD_NAMES", "BAD_TENANT_IDS", "name_id"]

BAD_NAMES: tuple[str, ...] = (
    "acme\n",  # trailing newline: `^...$` + re.match accepts it
    "acme\r\n",
    "\nacme",
    "ac\nme",
    "acme\x00",
    "acme\t",
    " acme",
    "ac me",
    "",
    ".",
    "..",
    "../acme",
    "acme*",
    "acme>",
    "ac.me\n",
)
"""Names refused by every name validator of the SDK."""

BAD_TENANT_IDS: tuple[str, ...] = (
    *BAD_NAMES,
    "-",
    "_",
    "-acme",
    "_acme",
    ".acme",
    "a:b",
    "a/b",
    "{acme}",
    "ácme",
    "x" * 65,
)
"""Tenant ids the SDK refuses (``InvalidTenant``): :data:`BAD_NAMES` and more."""


def name_id(name: object) -> str:
    """A readable pytest id for a bad name (``repr`` shows the newline)."""
    text = repr(name)
    return text if len(text) <= 24 else text[:20] + "...'"
