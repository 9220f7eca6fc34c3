"""The one key scheme of every key-value store: the cache, rate-limit buckets, circuit breakers,
the gateway's response cache and the ML prediction cache (pure: standard library only).

A key is ``{<scope>}:<namespace>:<segment>[:<segment>...]``:

* ``<scope>`` is the tenant id (validated), or ``~`` for state every tenant shares (a model's
  circuit breaker). The scope comes first and sits in braces: ``}`` and ``~`` never occur in a
  tenant id, so ``{acme}:`` is a prefix of acme's keys and of no other tenant's (not of
  ``{acme.eu}:``, ``{acme-2}:``), and no tenant can spell the shared scope. The braces are also a
  Redis Cluster hash tag: one tenant's keys hash to one slot.
* ``<namespace>`` names the subsystem that owns the key (:data:`GATEWAY`, :data:`ML`,
  :data:`RATE_LIMITS`, :data:`BREAKERS`, or an application's own ``[a-z][a-z0-9_]{0,31}``). It
  follows the scope, so a tenant named like a namespace (``gw``, ``ml``) is still only a scope.
* each ``<segment>`` is percent-escaped (``urllib.parse.quote`` with nothing safe): ``:``,
  braces, ``%``, glob characters, whitespace and non-ASCII never appear raw, so splitting on
  ``:`` gives back exactly the segments (``model:8b`` and ``model`` + ``8b`` stay distinct).

Erasing a tenant is one operation on the store (``CachePort.delete_tenant(tenant)``,
``LimitsPort.reset(tenant)``); nothing builds a prefix by hand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote

from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.domain.values.tenancy import TENANT_ID_PATTERN, validate_tenant_id

__all__ = [
    "BREAKERS",
    "GATEWAY",
    "ML",
    "RATE_LIMITS",
    "SHARED_SCOPE",
    "ParsedKey",
    "check_key",
    "match_pattern",
    "parse_key",
    "scope_prefix",
    "shared_key",
    "tenant_key",
]

GATEWAY = "gw"
"""The gateway's response cache (exact chat and embedding answers)."""
ML = "ml"
"""The ML framework's prediction cache."""
RATE_LIMITS = "rl"
"""Token buckets of the rate limits."""
BREAKERS = "cb"
"""Circuit-breaker state (shared scope: one circuit per provider model)."""

SHARED_SCOPE = "~"
"""The scope of state every tenant shares; ``~`` is outside the tenant alphabet."""

_NAMESPACE = re.compile(r"[a-z][a-z0-9_]{0,31}")
_PATTERN = re.compile(r"[A-Za-z0-9_.~%:*?-]{1,512}")
_KEY = re.compile(
    r"\{(?P<scope>~|" + TENANT_ID_PATTERN + r")\}"
    r":(?P<namespace>[a-z][a-z0-9_]{0,31})"
    r"(?P<segments>(?::[A-Za-z0-9_.~%-]+)+)"
)


@dataclass(frozen=True, slots=True)
class ParsedKey:
    """A key taken apart: ``tenant_id`` is ``None`` for the shared scope; segments unescaped."""

    tenant_id: str | None
    namespace: str
    segments: tuple[str, ...]


def _namespace(namespace: object) -> str:
    if not isinstance(namespace, str) or _NAMESPACE.fullmatch(namespace) is None:
        raise ValidationError(
            f"key namespace {namespace!r:.40} must be 1-32 characters of [a-z0-9_], starting with a letter",
            field="namespace",
        )
    return namespace


def _segment(segment: object) -> str:
    if isinstance(segment, bool) or not isinstance(segment, str | int):
        raise ValidationError(
            f"key segments are strings or integers, got {type(segment).__name__}", field="segments"
        )
    text = str(segment)
    if not text:
        raise ValidationError("key segments must not be empty", field="segments")
    return quote(text, safe="")


def _build(scope: str, namespace: str, segments: tuple[str | int, ...]) -> str:
    if not segments:
        raise ValidationError("a key needs at least one segment after its namespace", field="segments")
    return "{" + scope + "}:" + _namespace(namespace) + "".join(":" + _segment(s) for s in segments)


def tenant_key(tenant_id: str, namespace: str, *segments: str | int) -> str:
    """The key of ``segments`` in ``namespace`` of tenant ``tenant_id``: ``{tenant}:ns:seg...``."""
    return _build(validate_tenant_id(tenant_id), namespace, segments)


def shared_key(namespace: str, *segments: str | int) -> str:
    """The key of state shared by every tenant: ``{~}:ns:seg...``."""
    return _build(SHARED_SCOPE, namespace, segments)


def scope_prefix(tenant_id: str | None, namespace: str | None = None) -> str:
    """What every key of one tenant (``None``: the shared scope), or of one of its namespaces,
    starts with, and no other key does. For stores; callers erase with the store's operation."""
    scope = SHARED_SCOPE if tenant_id is None else validate_tenant_id(tenant_id)
    prefix = "{" + scope + "}:"
    return prefix if namespace is None else prefix + _namespace(namespace) + ":"


def match_pattern(tenant_id: str, namespace: str, pattern: object) -> str:
    """A glob over one tenant's keys in ``namespace``: ``{tenant}:ns:<pattern>``, where
    ``pattern`` matches the escaped segments with ``*`` (any run) and ``?`` (one character).

    Only the key alphabet and those two wildcards are allowed (no ``[``, braces or backslashes),
    so the glob can never reach past the tenant's own prefix; anything else is a
    :class:`ValidationError`.
    """
    if not isinstance(pattern, str) or _PATTERN.fullmatch(pattern) is None:
        raise ValidationError(
            f"key pattern {pattern!r:.60} must be 1-512 characters of escaped key segments, ':', '*' and '?'",
            field="pattern",
        )
    return scope_prefix(tenant_id, namespace) + pattern


def check_key(key: object, *, namespace: str | None = None, field: str = "key") -> str:
    """Return ``key`` when it follows the scheme (and lies in ``namespace`` when given), else raise
    :class:`ValidationError` naming ``field``."""
    match = _KEY.fullmatch(key) if isinstance(key, str) else None
    if match is None or (namespace is not None and match["namespace"] != namespace):
        where = f" in namespace {namespace!r}" if namespace is not None else ""
        raise ValidationError(
            f"{field} {key!r:.80} is not a key of the SDK's scheme{where}: build it with "
            "motadata_ai.domain.values.keys.tenant_key(tenant, namespace, *segments)",
            field=field,
        )
    return key  # type: ignore[return-value]


def parse_key(key: str) -> ParsedKey:
    """The scope, namespace and unescaped segments of a key (:class:`ValidationError` if malformed)."""
    match = _KEY.fullmatch(check_key(key))
    assert match is not None
    scope = match["scope"]
    return ParsedKey(
        tenant_id=None if scope == SHARED_SCOPE else scope,
        namespace=match["namespace"],
        segments=tuple(unquote(s) for s in match["segments"][1:].split(":")),
    )
