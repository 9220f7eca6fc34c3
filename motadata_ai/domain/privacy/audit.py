"""AuditTrail: one event per SDK operation, written to the audit log off the hot path.

``await trail.record(...)`` appends the event to a bounded buffer and returns; a background task
writes the buffer in batches (``write_many``). When the buffer holds ``max_pending`` events the
caller waits for one write (back-pressure, never a silent drop). ``flush()`` writes everything
pending and ``aclose()`` flushes and stops, so a clean shutdown loses nothing. While the audit
store is down, events stay buffered; only when the buffer is full *and* the write fails are the
oldest dropped, counted in ``dropped`` and logged as an error.

``async with trail.operation("rag.query", tenant_id=..., user_id=..., resource=...) as meta:``
records one event when the block ends: ``success``, ``denied`` (a guardrail, a rate limit, a
budget or a missing consent refused it) or ``failure`` (any other exception, whose type goes into
``metadata["error"]``). ``meta`` is the event's metadata: counts, modes, ids, never prompt text
or personal data.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel

from motadata_ai.domain.values.errors import BudgetExceeded
from motadata_ai.domain.values.usage import AuditEvent, AuditResult, UsageRecord
from motadata_ai.ports.ledger import AuditLogPort

__all__ = ["DENIALS", "AuditTrail", "audit_action", "audited", "changed_fields"]

log = logging.getLogger(__name__)


def _denials() -> tuple[type[BaseException], ...]:
    from motadata_ai.domain.gateway.errors import GuardrailViolation, RateLimited
    from motadata_ai.domain.values.consent import ConsentRequired

    return (GuardrailViolation, RateLimited, BudgetExceeded, ConsentRequired)


DENIALS: tuple[type[BaseException], ...] = ()
"""Exceptions that mean a policy refused the operation (filled on first use)."""

_GATEWAY_RESULTS: dict[str, AuditResult] = {
    "ok": "success",
    "blocked": "denied",
    "rate_limited": "denied",
    "budget_exceeded": "denied",
    "invalid": "failure",
    "error": "failure",
    "circuit_open": "failure",
}


class AuditTrail:
    """Buffers audit events and writes them in batches to an :class:`AuditLogPort`."""

    def __init__(
        self,
        log_port: AuditLogPort,
        *,
        max_pending: int = 1000,
        trace_id: Callable[[], str | None] = lambda: None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if max_pending < 1:
            raise ValueError("max_pending must be at least 1")
        self.log = log_port
        self.max_pending = max_pending
        self.dropped = 0
        self._trace_id = trace_id
        self._clock = clock
        self._pending: list[AuditEvent] = []
        self._writer: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._closed = False

    @property
    def pending(self) -> int:
        """Events buffered and not yet written."""
        return len(self._pending)

    async def record(
        self,
        action: str,
        *,
        tenant_id: str,
        user_id: str | None = None,
        resource: str = "",
        result: AuditResult = "success",
        metadata: Mapping[str, Any] | None = None,
    ) -> AuditEvent:
        """Buffer one event (validated now: a bad action raises here) and return it."""
        event = AuditEvent(
            timestamp=self._clock(),
            tenant_id=tenant_id,
            user_id=user_id,
            action=action,
            resource=resource,
            result=result,
            metadata=dict(metadata or {}),
            trace_id=self._trace_id(),
        )
        await self.add(event)
        return event

    def record_nowait(
        self,
        action: str,
        *,
        tenant_id: str,
        user_id: str | None = None,
        resource: str = "",
        metadata: Mapping[str, Any] | None = None,
    ) -> AuditEvent:
        """Buffer one successful event from synchronous code: like :meth:`record`, but a full
        buffer drops its oldest event instead of waiting for a write; the event is written in the
        background when an event loop runs, else by the next :meth:`flush`."""
        event = AuditEvent(
            timestamp=self._clock(),
            tenant_id=tenant_id,
            user_id=user_id,
            action=action,
            resource=resource,
            metadata=dict(metadata or {}),
            trace_id=self._trace_id(),
        )
        if len(self._pending) >= self.max_pending:
            del self._pending[0]
            self.dropped += 1
            log.error("audit buffer full (%d events); dropped the oldest", self.max_pending)
        self._pending.append(event)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return event
        if not self._closed and not self._writer_running():
            self._writer = loop.create_task(self._background_flush(), context=contextvars.Context())
        return event

    def tenant_policy_changed(
        self, tenant_id: str, before: BaseModel | None, after: BaseModel | None, user_id: str | None
    ) -> None:
        """One ``config.tenant_policy`` event for a change of a tenant's gateway policy (the
        gateway's policy hook): resource the tenant, metadata the names of the fields that changed
        (never their values) and whether the policy was reset."""
        self.record_nowait(
            "config.tenant_policy",
            tenant_id=tenant_id,
            user_id=user_id,
            resource=tenant_id,
            metadata={"fields": changed_fields(before, after), "reset": after is None},
        )

    async def add(self, event: AuditEvent) -> None:
        """Buffer an event built elsewhere."""
        if len(self._pending) >= self.max_pending:
            try:
                await self.flush()
            except Exception as error:  # the store is down and the buffer is full: keep the newest
                overflow = len(self._pending) - self.max_pending + 1
                del self._pending[:overflow]
                self.dropped += overflow
                log.error(
                    "audit log unavailable with %d events buffered; dropped %d: %s",
                    self.max_pending,
                    overflow,
                    error,
                )
        self._pending.append(event)
        if not self._closed and not self._writer_running():
            # in a context of its own: the write belongs to no caller's trace (nor its spans to it)
            loop = asyncio.get_running_loop()
            self._writer = loop.create_task(self._background_flush(), context=contextvars.Context())

    def _writer_running(self) -> bool:
        """Whether a background write is under way on this event loop. A writer left on another
        loop (an app used from several loops) is dropped with its lock: its events are removed
        from the buffer only once written, so nothing is lost, and a repeated id is kept once."""
        writer = self._writer
        if writer is None or writer.done():
            return False
        if writer.get_loop() is not asyncio.get_running_loop():
            self._writer, self._lock = None, asyncio.Lock()
            return False
        return True

    async def _background_flush(self) -> None:
        try:
            await self.flush()
        except Exception as error:  # kept buffered; the next flush retries
            log.warning("audit log write of %d events failed (kept): %s", len(self._pending), error)

    async def flush(self) -> None:
        """Write every buffered event; raises the store's error (the events stay buffered)."""
        async with self._lock:
            while self._pending:
                batch = list(self._pending)
                await self.log.write_many(batch)
                del self._pending[: len(batch)]

    async def aclose(self) -> None:
        """Write what is pending and stop the background writer."""
        self._closed = True
        if self._writer_running():
            await asyncio.gather(self._writer, return_exceptions=True)  # type: ignore[arg-type]
        await self.flush()

    @asynccontextmanager
    async def operation(
        self,
        action: str,
        *,
        tenant_id: str,
        user_id: str | None = None,
        resource: str = "",
        metadata: Mapping[str, Any] | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """Record one event for the block: ``success``, ``denied`` or ``failure``."""
        global DENIALS
        if not DENIALS:
            DENIALS = _denials()
        meta: dict[str, Any] = dict(metadata or {})
        result: AuditResult = "success"
        try:
            yield meta
        except BaseException as error:
            result = "denied" if isinstance(error, DENIALS) else "failure"
            meta["error"] = type(error).__name__
            raise
        finally:
            try:
                await self.record(
                    action,
                    tenant_id=tenant_id,
                    user_id=user_id,
                    resource=resource,
                    result=result,
                    metadata=meta,
                )
            except Exception as error:  # auditing must not change the operation's outcome
                log.warning("could not record audit event %s: %s", action, error)

    async def gateway_call(self, record: UsageRecord, response: Any = None) -> None:
        """The gateway's per-call hook: one ``gateway.generate`` / ``gateway.embed`` event per
        usage record (model, tokens, cost, source; never the prompt)."""
        await self.record(
            "gateway.generate" if record.operation == "chat" else "gateway.embed",
            tenant_id=record.tenant_id,
            user_id=record.user_id,
            resource=record.model,
            result=_GATEWAY_RESULTS.get(record.outcome, "failure"),
            metadata={
                "response_id": record.response_id,
                "source": record.source,
                "outcome": record.outcome,
                "input_tokens": record.input_tokens,
                "output_tokens": record.output_tokens,
                "cost_usd": record.cost_usd,
                **({"error": record.error.split(":", 1)[0][:80]} if record.error else {}),
            },
        )


@asynccontextmanager
async def audited(
    trail: AuditTrail | None,
    action: str,
    *,
    tenant_id: str,
    user_id: str | None = None,
    resource: str = "",
    metadata: Mapping[str, Any] | None = None,
) -> AsyncIterator[dict[str, Any]]:
    """:meth:`AuditTrail.operation` when a trail is configured, else a no-op block (the helper
    use-cases call, so that their audit hunk is one line)."""
    if trail is None:
        yield dict(metadata or {})
        return
    async with trail.operation(
        action, tenant_id=tenant_id, user_id=user_id, resource=resource, metadata=metadata
    ) as meta:
        yield meta


def changed_fields(before: BaseModel | None, after: BaseModel | None) -> list[str]:
    """The names (never the values: some may be secrets) of the fields whose value differs between
    two versions of one configuration model, sorted; ``None`` stands for every field unset."""
    version = after if after is not None else before
    if version is None:
        return []
    old = before.model_dump() if before is not None else {}
    new = after.model_dump() if after is not None else {}
    return sorted(name for name in type(version).model_fields if old.get(name) != new.get(name))


F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


def _tenant_and_user(owner: Any, kwargs: Mapping[str, Any]) -> tuple[str, str | None]:
    tenant = getattr(owner, "tenant", None)
    tenant_id = getattr(tenant, "tenant_id", None) or getattr(owner, "tenant_id", None)
    user_id = kwargs.get("user_id") or getattr(tenant, "user_id", None)
    return str(tenant_id), (str(user_id) if user_id else None)


def audit_action(
    action: str,
    *,
    resource: Callable[[Any, tuple[Any, ...], Mapping[str, Any]], str] | None = None,
    summary: Callable[[Any], Mapping[str, Any]] | None = None,
    user: Callable[[Any, tuple[Any, ...], Mapping[str, Any]], str | None] | None = None,
) -> Callable[[F], F]:
    """Decorate a use-case's async method so that each call records one ``action`` event on the
    owner's ``audit_trail`` (when it has one). The tenant comes from the owner's ``tenant`` (or
    ``tenant_id``), the user from ``user(owner, args, kwargs)`` when given, else the call's
    ``user_id`` keyword or the tenant context; ``resource(owner, args, kwargs)`` names what was
    acted on and ``summary(result)`` adds metadata."""

    def decorate(method: F) -> F:
        @functools.wraps(method)
        async def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            trail: AuditTrail | None = getattr(self, "audit_trail", None)
            if trail is None:
                return await method(self, *args, **kwargs)
            tenant_id, user_id = _tenant_and_user(self, kwargs)
            if user is not None:
                try:
                    user_id = user(self, args, kwargs) or user_id
                except Exception:  # a bad argument fails in the method itself, audited below
                    pass
            named = ""
            if resource is not None:
                try:
                    named = str(resource(self, args, kwargs))[:512]
                except Exception:  # a bad argument fails in the method itself, audited below
                    named = ""
            async with trail.operation(action, tenant_id=tenant_id, user_id=user_id, resource=named) as meta:
                result = await method(self, *args, **kwargs)
                if summary is not None:
                    meta.update(summary(result))
                return result

        return wrapper  # type: ignore[return-value]

    return decorate
