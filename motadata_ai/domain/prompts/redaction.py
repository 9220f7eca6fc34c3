"""Redaction of sensitive patterns from text that goes into prompts and memories.

``Redactor`` is any ``str -> str`` function. :func:`redact_sensitive` is the default and reuses
the gateway guardrails' PII redaction (secrets, card numbers, SSNs, e-mails, phones, IP
addresses become ``[REDACTED_<KIND>]``), so prompts and the gateway mask the same things.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from motadata_ai.domain.guardrails.pii import ALL_KINDS, redact

Redactor = Callable[[str], str]


def redact_sensitive(text: str) -> str:
    """``text`` with every PII and secret kind masked."""
    return redact(text).text


def redactor(kinds: Collection[str] = ALL_KINDS) -> Redactor:
    """A redactor for only some kinds (e.g. ``{"secret", "email"}``)."""
    chosen = frozenset(kinds)

    def apply(text: str) -> str:
        return redact(text, chosen).text

    return apply
