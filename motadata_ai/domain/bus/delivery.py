"""Delivery rules every bus adapter shares: default stream subjects, consumer names, subscribe
options, which replies may be sent, when a failing message is given up, how dropped messages
are recorded and which envelope ids a consumer remembers (pure: standard library and pydantic
only)."""

from __future__ import annotations

import hashlib
import logging
import re
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence

from motadata_ai.domain.bus.codec import Rejection
from motadata_ai.domain.bus.subjects import InvalidSubject, subject_matches
from motadata_ai.domain.values.bus import Envelope
from motadata_ai.domain.values.errors import ValidationError

logger = logging.getLogger("motadata_ai.bus")

DEFAULT_SUBJECTS: tuple[str, ...] = ("agent.>", "events.>", "workflow.>")
"""Subjects the default stream captures."""

INBOX_PREFIX = "_INBOX."
"""Replies go only to subjects under this prefix (never onto a tenant's stream subjects)."""

_DURABLE_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")


def consumer_name(durable: str, subject: str) -> str:
    """The server-side consumer name of ``durable`` on ``subject``: ``{durable}_{hash of subject}``,
    so one durable name may be reused on different subjects (each its own consumer)."""
    digest = hashlib.sha256(subject.encode()).hexdigest()[:12]
    return f"{check_durable(durable)}_{digest}"


def check_durable(durable: str | None) -> str | None:
    """Return ``durable`` when ``None`` or a valid consumer name (``[A-Za-z0-9_-]{1,64}``)."""
    if durable is not None and (not isinstance(durable, str) or _DURABLE_RE.fullmatch(durable) is None):
        raise ValidationError(
            f"durable consumer name {durable!r} must match [A-Za-z0-9_-]{{1,64}}", field="durable"
        )
    return durable


def check_subscribe_options(max_deliver: int, concurrency: int) -> None:
    """Raise :class:`ValidationError` unless both are integers >= 1."""
    for name, value in (("max_deliver", max_deliver), ("concurrency", concurrency)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValidationError(f"{name} must be an integer >= 1, got {value!r}", field=name)


def reply_envelope(request: Envelope, reply: object) -> Envelope | None:
    """The reply to send for ``request``: ``reply`` with ``correlation_id`` defaulted to the
    request id, or ``None`` (logged) when it cannot be sent to the requester."""
    if reply is None or request.reply_to is None:
        return None
    if not isinstance(reply, Envelope):
        logger.warning(
            "handler for envelope %s returned %s, not an Envelope: no reply sent", request.id,
            type(reply).__name__,
        )
        return None
    if not request.reply_to.startswith(INBOX_PREFIX):
        logger.warning(
            "envelope %s asks for a reply on %r, outside %s: no reply sent", request.id, request.reply_to,
            INBOX_PREFIX,
        )
        return None
    if reply.tenant_id != request.tenant_id:
        logger.warning(
            "reply to envelope %s belongs to tenant %r, not the request's tenant %r: no reply sent",
            request.id, reply.tenant_id, request.tenant_id,
        )
        return None
    if reply.correlation_id is None:
        reply = reply.model_copy(update={"correlation_id": request.id})
    return reply


def check_stream_subject(subject: str, patterns: Sequence[str], *, stream: str) -> None:
    """Raise :class:`InvalidSubject` unless one of the stream's ``patterns`` captures ``subject``;
    ``stream`` names the stream in the message."""
    if not any(subject_matches(pattern, subject) for pattern in patterns):
        raise InvalidSubject(
            f"subject {subject!r} is not captured by {stream} (subjects: {list(patterns)})",
            field="subject",
            subject=subject,
            reason="not_in_stream",
        )


def handler_failed(
    subject: str, envelope: Envelope, attempt: int, max_deliver: int, error: Exception
) -> Rejection | None:
    """After a handler raised on delivery ``attempt``: the ``max_deliver`` rejection when that was
    the last delivery, else ``None`` (logged: the message is to be delivered again)."""
    if attempt >= max_deliver:
        return Rejection(
            subject=subject,
            reason="max_deliver",
            detail=f"handler failed on all {attempt} deliveries; last error: {error!r}",
            envelope_id=envelope.id,
            tenant_id=envelope.tenant_id,
        )
    logger.warning(
        "handler failed on envelope %s (delivery %d of %d): %r; it will be delivered again",
        envelope.id, attempt, max_deliver, error,
    )
    return None


def record_rejection(
    rejections: deque[Rejection], rejection: Rejection, on_rejected: Callable[[Rejection], None] | None
) -> None:
    """Keep ``rejection`` in ``rejections``, log it and pass it to ``on_rejected`` (a failing
    callback is logged, never raised)."""
    rejections.append(rejection)
    logger.warning(
        "dropped message %s on %r (tenant %r): %s: %s",
        rejection.envelope_id, rejection.subject, rejection.tenant_id, rejection.reason, rejection.detail,
    )
    if on_rejected is not None:
        try:
            on_rejected(rejection)
        except Exception:
            logger.exception("on_rejected callback failed")


def remember_handled(
    handled: OrderedDict[str, Envelope | None], envelope_id: str, limit: int, reply: Envelope | None = None
) -> None:
    """Add ``envelope_id`` (and the reply it got, if any) to a consumer's handled ids, keeping the
    latest ``limit``."""
    handled[envelope_id] = reply
    while len(handled) > limit:
        handled.popitem(last=False)
