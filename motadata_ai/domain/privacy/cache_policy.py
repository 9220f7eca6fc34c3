"""What the gateway's shared response cache may keep, and how a user's entries are found again.

==========  ===============================================================================
level       a chat answer or an embedding is written to the shared cache when ...
==========  ===============================================================================
strict      neither the request nor the answer holds PII or a secret of any kind
medium      neither holds PII or a secret of any kind but IP addresses (the input guardrail's kinds)
loose       always (the guardrails redact only secrets and cards at this level)
==========  ===============================================================================

A text the guardrails already redacted (it holds ``[REDACTED_...]``) counts as holding PII: the
cache key is computed over the request as the caller sent it. A request refused here is answered
normally and simply not cached, so the next identical request
goes to the provider again. The ML prediction cache never holds a record: its key carries the
SHA-256 of the normalised record and its value only the prediction.

Every entry written for a call with a user is listed in that user's index
(:func:`user_index_key`, ``{tenant}:gw:users:<user>``, a set in the cache itself), so erasing the
user deletes exactly those entries without scanning any tenant's keys.
"""

from __future__ import annotations

from collections.abc import Iterable

from motadata_ai.domain.guardrails.pii import ALL_KINDS, detect
from motadata_ai.domain.values import keys
from motadata_ai.domain.values.llm import ChatRequest

__all__ = ["CACHE_PII_KINDS", "REDACTION_MARK", "cacheable", "request_texts", "user_index_key"]

CACHE_PII_KINDS: dict[str, frozenset[str]] = {
    "strict": ALL_KINDS,
    "medium": ALL_KINDS - {"ip_address"},
    "loose": frozenset(),
}
"""Per guardrail level, the kinds of personal data that keep an answer out of the shared cache."""

REDACTION_MARK = "[REDACTED_"
"""What a guardrail leaves where it removed PII: a text that holds it was personal before."""


def cacheable(level: str, texts: Iterable[str | None]) -> bool:
    """Whether an answer whose request and answer are ``texts`` may go to the shared cache at
    ``level`` (an unknown level is treated as ``strict``)."""
    kinds = CACHE_PII_KINDS.get(level, ALL_KINDS)
    if not kinds:
        return True
    return not any(text and (REDACTION_MARK in text or detect(text, kinds)) for text in texts)


def request_texts(request: ChatRequest) -> list[str]:
    """The texts of a chat request's messages."""
    return [message.content for message in request.messages if message.content]


def user_index_key(tenant_id: str, user_id: str) -> str:
    """The key of the set listing the cache entries derived from ``user_id``'s requests."""
    return keys.tenant_key(tenant_id, keys.GATEWAY, "users", user_id)
