"""Bus subjects: NATS-style dotted tokens with the tenant as the second token.

Every subject the SDK publishes on has the form ``{root}.{tenant}.{...}``, for example
``agent.{tenant}.{agent}.task`` or ``events.{tenant}.{name}``. Tenants are isolated by subject:
a subscription for ``agent.acme.>`` can never match a message of tenant ``globex``.

Tenant ids may contain ``.`` (the token separator), so the tenant token encodes ``.`` as ``~``
(a character no tenant id holds); :func:`tenant_of` decodes it. Other tokens (agent names, event
names) must not contain ``.``, whitespace, control characters or the wildcards ``*`` and ``>``;
every token is matched whole (a trailing newline is refused, not ignored).

Wildcards (subscriptions only): ``*`` matches exactly one token, ``>`` matches one or more
trailing tokens and must be the last token.
"""

from __future__ import annotations

import re

from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.domain.values.tenancy import TenantContext, validate_tenant_id

_TOKEN_RE = re.compile(r"[^\s\x00-\x1f\x7f.*>]+")
_TENANT_TOKEN_RE = re.compile(r"[A-Za-z0-9_~-]{1,64}")
MAX_SUBJECT_LENGTH = 512


class InvalidSubject(ValidationError):
    """A subject or one of its tokens is malformed (``subject``, ``reason`` say why)."""


def _tenant_id(tenant: TenantContext | str) -> str:
    return tenant.tenant_id if isinstance(tenant, TenantContext) else validate_tenant_id(tenant)


def tenant_token(tenant: TenantContext | str) -> str:
    """The subject token of a tenant (validated; ``.`` encoded as ``~``)."""
    return _tenant_id(tenant).replace(".", "~")


def _check_token(token: str, *, what: str) -> str:
    if not isinstance(token, str) or _TOKEN_RE.fullmatch(token) is None:
        raise InvalidSubject(
            f"{what} {token!r} is not a valid subject token: it must be non-empty and hold no '.', "
            "whitespace or the wildcards '*' and '>'",
            field=what,
            subject=None,
            reason="invalid_token",
        )
    return token


def agent_subject(tenant: TenantContext | str, agent: str, kind: str = "task") -> str:
    """``agent.{tenant}.{agent}.{kind}``: where tasks (``kind="task"``) for one agent are sent."""
    agent_token = _check_token(agent, what="agent")
    return f"agent.{tenant_token(tenant)}.{agent_token}.{_check_token(kind, what='kind')}"


def event_subject(tenant: TenantContext | str, *names: str) -> str:
    """``events.{tenant}.{name}...``: a tenant's event stream (at least one name token)."""
    if not names:
        raise InvalidSubject("event_subject needs at least one name", field="names", reason="invalid_token")
    tokens = ".".join(_check_token(name, what="name") for name in names)
    return f"events.{tenant_token(tenant)}.{tokens}"


def tenant_pattern(root: str, tenant: TenantContext | str) -> str:
    """``{root}.{tenant}.>``: every subject of one tenant under ``root`` (for subscriptions)."""
    return f"{_check_token(root, what='root')}.{tenant_token(tenant)}.>"


def validate_subject(subject: str, *, allow_wildcards: bool = False) -> str:
    """Return ``subject`` when well formed, else raise :class:`InvalidSubject`.

    A publish subject (``allow_wildcards=False``) must carry a valid tenant token as its second
    token. A subscription subject may use ``*`` and a final ``>``.
    """
    if not isinstance(subject, str) or not subject or len(subject) > MAX_SUBJECT_LENGTH:
        raise InvalidSubject(
            f"subject {subject!r} must be a non-empty string of at most {MAX_SUBJECT_LENGTH} characters",
            field="subject",
            subject=subject,
            reason="invalid_subject",
        )
    tokens = subject.split(".")
    for index, token in enumerate(tokens):
        if allow_wildcards and (token == "*" or (token == ">" and index == len(tokens) - 1)):
            continue
        if _TOKEN_RE.fullmatch(token) is None:
            raise InvalidSubject(
                f"subject {subject!r} has an invalid token {token!r}"
                + ("" if allow_wildcards else " (wildcards are allowed only in subscriptions)"),
                field="subject",
                subject=subject,
                reason="invalid_token",
            )
    if not allow_wildcards:
        tenant_of(subject)
    return subject


def tenant_of(subject: str) -> str:
    """The tenant id a concrete subject belongs to (its second token, decoded).

    Raises :class:`InvalidSubject` when the subject has no valid tenant token.
    """
    tokens = subject.split(".")
    if len(tokens) < 3 or _TENANT_TOKEN_RE.fullmatch(tokens[1]) is None:
        raise InvalidSubject(
            f"subject {subject!r} does not carry a tenant: expected '{{root}}.{{tenant}}.{{name}}...'",
            field="subject",
            subject=subject,
            reason="no_tenant",
        )
    try:
        return validate_tenant_id(tokens[1].replace("~", "."))
    except ValidationError as e:
        raise InvalidSubject(
            f"subject {subject!r} carries an invalid tenant: {e}", field="subject", subject=subject,
            reason="no_tenant",
        ) from e


def subject_matches(pattern: str, subject: str) -> bool:
    """``True`` when the concrete ``subject`` matches ``pattern`` (``*`` and trailing ``>``)."""
    p_tokens = pattern.split(".")
    s_tokens = subject.split(".")
    for index, p in enumerate(p_tokens):
        if p == ">":
            return len(s_tokens) > index
        if index >= len(s_tokens):
            return False
        if p != "*" and p != s_tokens[index]:
            return False
    return len(p_tokens) == len(s_tokens)
