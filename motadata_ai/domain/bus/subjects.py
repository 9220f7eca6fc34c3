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

Messages that carry a user's data (agent-to-agent tasks ``agent.{tenant}.{user}.{agent}.task``,
ingestion jobs ``ingest.{tenant}.{user}.job``) have the user as the third token, right after the
tenant, so that one subject filter, ``{root}.{tenant}.{user}.>`` (:func:`user_pattern`), selects
every retained message of one user for erasure. The user token is a digest of the user id
(:func:`user_token`; :data:`NO_USER` for a message about nobody): subject names show up in
monitoring and traces, so they carry no user id.
"""

from __future__ import annotations

import hashlib
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


NO_USER = "nobody"
"""The user token of a message about no user."""
USER_ROOTS = ("agent", "ingest")
"""The subject roots whose third token is the user (see the module docstring)."""
_USER_TOKEN_RE = re.compile(r"u[0-9a-f]{32}|" + NO_USER)


def user_token(user_id: str | None) -> str:
    """The subject token of a user: ``u`` and 32 hex digits of the SHA-256 of the id (the same in
    every process, and no id in clear), or :data:`NO_USER` for ``None``."""
    if user_id is None:
        return NO_USER
    if not isinstance(user_id, str) or not user_id or len(user_id) > 256:
        raise InvalidSubject(
            "a user id on a subject must be a non-empty string of at most 256 characters",
            field="user_id",
            subject=None,
            reason="invalid_token",
        )
    return "u" + hashlib.sha256(user_id.encode()).hexdigest()[:32]


def agent_subject(
    tenant: TenantContext | str, agent: str, kind: str = "task", *, user_id: str | None = None
) -> str:
    """``agent.{tenant}.{user}.{agent}.{kind}``: where a task (``kind="task"``) for one agent on
    behalf of ``user_id`` is sent (the user token is :data:`NO_USER` without one)."""
    agent_token = _check_token(agent, what="agent")
    kind_token = _check_token(kind, what="kind")
    return f"agent.{tenant_token(tenant)}.{user_token(user_id)}.{agent_token}.{kind_token}"


def agent_pattern(tenant: TenantContext | str, agent: str, kind: str = "task") -> str:
    """``agent.{tenant}.*.{agent}.{kind}``: one agent's messages for every user (to subscribe)."""
    agent_token = _check_token(agent, what="agent")
    return f"agent.{tenant_token(tenant)}.*.{agent_token}.{_check_token(kind, what='kind')}"


def user_pattern(root: str, tenant: TenantContext | str, user_id: str) -> str:
    """``{root}.{tenant}.{user}.>``: every subject under ``root`` (one of :data:`USER_ROOTS`) that
    carries this user of this tenant, the filter erasure purges."""
    if root not in USER_ROOTS:
        raise InvalidSubject(
            f"subjects under {root!r} carry no user; those that do: {', '.join(USER_ROOTS)}",
            field="root",
            subject=None,
            reason="invalid_token",
        )
    return f"{root}.{tenant_token(tenant)}.{user_token(user_id)}.>"


def user_of(subject: str) -> str | None:
    """The user token of a concrete subject under one of :data:`USER_ROOTS` (``None`` elsewhere);
    :class:`InvalidSubject` when such a subject's third token is not a user token."""
    tokens = subject.split(".")
    if tokens[0] not in USER_ROOTS:
        return None
    if len(tokens) < 4 or _USER_TOKEN_RE.fullmatch(tokens[2]) is None:
        raise InvalidSubject(
            f"subject {subject!r} does not carry a user: expected '{tokens[0]}.{{tenant}}.{{user}}...'",
            field="subject",
            subject=subject,
            reason="no_user",
        )
    return tokens[2]


def subjects_overlap(first: str, second: str) -> bool:
    """Whether some concrete subject matches both patterns (``*`` and trailing ``>``)."""
    a, b = first.split("."), second.split(".")
    for index in range(max(len(a), len(b))):
        x = a[index] if index < len(a) else None
        y = b[index] if index < len(b) else None
        if x == ">" or y == ">":
            return (x is not None) and (y is not None)
        if x is None or y is None:
            return False
        if x != y and "*" not in (x, y):
            return False
    return True


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
        user_of(subject)
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
