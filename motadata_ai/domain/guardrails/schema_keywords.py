"""Which JSON Schema keywords a response schema may use, and the rewrites it is validated in.

:func:`keyword_problem` finds a keyword the Draft 2020-12 validator would silently ignore (an
unknown keyword, a ``format`` without a checker, a ``$ref`` that does not resolve inside the
schema); :func:`false_as_never` rewrites ``false`` subschemas so violations name their path.
Pure functions over the schema's JSON; :mod:`~motadata_ai.domain.guardrails.schema` uses them.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Any, TypeAlias
from urllib.parse import unquote

__all__ = ["KNOWN_KEYWORDS", "Path", "Problem", "false_as_never", "keyword_problem"]

Path: TypeAlias = tuple[str | int, ...]
"""Where a keyword stands inside the schema (keys and list indexes from the root)."""
Problem: TypeAlias = tuple[Path, str, str]
"""``(path, keyword, why)`` of a keyword the validator would not enforce."""

# Keywords whose value is one subschema, a list of subschemas, or a map of name -> subschema.
_ONE_SUBSCHEMA = frozenset(
    {
        "items", "contains", "additionalProperties", "propertyNames", "not", "if", "then", "else",
        "unevaluatedItems", "unevaluatedProperties",
    }
)  # fmt: skip
_SUBSCHEMA_LISTS = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
_SUBSCHEMA_MAPS = frozenset({"properties", "patternProperties", "dependentSchemas", "$defs", "definitions"})
# Keywords the validator asserts whose value is data, not a schema.
_ASSERTIONS = frozenset(
    {
        "type", "enum", "const", "multipleOf", "maximum", "exclusiveMaximum", "minimum",
        "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems", "minItems", "uniqueItems",
        "maxContains", "minContains", "maxProperties", "minProperties", "required", "dependentRequired",
        "format", "$ref", "$dynamicRef",
    }
)  # fmt: skip
# Keywords that only describe or identify (they never make an answer invalid).
_ANNOTATIONS = frozenset(
    {
        "$schema", "$id", "$anchor", "$dynamicAnchor", "$comment", "title", "description", "default",
        "examples", "deprecated", "readOnly", "writeOnly",
    }
)  # fmt: skip
KNOWN_KEYWORDS = _ONE_SUBSCHEMA | _SUBSCHEMA_LISTS | _SUBSCHEMA_MAPS | _ASSERTIONS | _ANNOTATIONS
"""Every keyword a response schema may use: those enforced by the validator and pure annotations."""


_NEVER: dict[str, Any] = {"not": {}}


def false_as_never(node: Any) -> Any:
    """``node`` with ``false`` subschemas written ``{"not": {}}`` (same meaning).

    jsonschema reports a failed ``false`` subschema without the instance path, so a violation
    under ``"properties": {"x": false}`` would name ``$`` instead of ``$.x``. ``items``,
    ``additionalProperties`` and ``unevaluated*`` keep ``false``: they have their own messages.
    """
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for keyword, value in node.items():
        if keyword in _SUBSCHEMA_MAPS:
            value = {name: _NEVER if sub is False else false_as_never(sub) for name, sub in value.items()}
        elif keyword in _SUBSCHEMA_LISTS:
            value = [_NEVER if sub is False else false_as_never(sub) for sub in value]
        elif keyword in _ONE_SUBSCHEMA:
            keeps_false = keyword in _OWN_FALSE_MESSAGE
            value = _NEVER if value is False and not keeps_false else false_as_never(value)
        out[keyword] = value
    return out


_OWN_FALSE_MESSAGE = frozenset({"items", "additionalProperties", "unevaluatedItems", "unevaluatedProperties"})


def keyword_problem(node: Any, root: Any, path: Path, *, formats: Collection[str]) -> Problem | None:
    """The first keyword under ``node`` that the validator would not enforce as written, as
    ``(path, keyword, why)`` (``formats``: the formats that have a checker); ``None`` when every
    keyword of every subschema is enforced or a pure annotation."""
    if isinstance(node, bool):
        return None
    assert isinstance(node, dict)  # the meta-schema check guarantees objects or booleans here
    for keyword, value in node.items():
        if keyword not in KNOWN_KEYWORDS:
            return (
                path,
                keyword,
                "is not a Draft 2020-12 keyword the validator enforces; remove it or express the "
                "constraint with standard keywords (it would otherwise be silently ignored)",
            )
        if keyword == "format" and value not in formats:
            available = ", ".join(sorted(formats))
            return (
                path,
                keyword,
                f"names format {value!r}, which has no checker here (available: {available})",
            )
        if keyword in ("$ref", "$dynamicRef") and not _resolves(value, root):
            return path, keyword, f"points to {value!r}, which is not a local target in this schema"
        subschemas: list[tuple[Any, Path]] = []
        if keyword in _ONE_SUBSCHEMA:
            subschemas.append((value, (*path, keyword)))
        elif keyword in _SUBSCHEMA_LISTS:
            subschemas += [(sub, (*path, keyword, index)) for index, sub in enumerate(value)]
        elif keyword in _SUBSCHEMA_MAPS:
            subschemas += [(sub, (*path, keyword, name)) for name, sub in value.items()]
        for sub, where in subschemas:
            problem = keyword_problem(sub, root, where, formats=formats)
            if problem is not None:
                return problem
    return None


def _resolves(reference: str, root: Any) -> bool:
    """Whether ``#``, ``#/json/pointer`` or ``#anchor`` names something inside ``root``."""
    if not reference.startswith("#"):
        return False
    fragment = unquote(reference[1:])
    if not fragment:
        return True
    if not fragment.startswith("/"):
        return fragment in set(_anchors(root))
    target = root
    for token in fragment[1:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(target, dict) and token in target:
            target = target[token]
        elif isinstance(target, list) and token.isdigit() and int(token) < len(target):
            target = target[int(token)]
        else:
            return False
    return isinstance(target, dict | bool)


def _anchors(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key in ("$anchor", "$dynamicAnchor"):
            if isinstance(node.get(key), str):
                yield node[key]
        for value in node.values():
            yield from _anchors(value)
    elif isinstance(node, list):
        for value in node:
            yield from _anchors(value)
