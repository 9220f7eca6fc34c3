"""Ledger step: one usage record for every outcome of every call, written in the background.

:func:`usage_record` builds the record for a success (from the answer) and for a failure (from
the error: an outcome such as ``rate_limited`` or ``blocked``; a blocked answer is charged once,
to the call that reached the provider; a stream cut by its caller, for what it delivered). Each
record names the request the call was made for, its use-case operation and the call's purpose
(from the call's origin), and the model by its one canonical name. :class:`UsageRecorder` batches
the records to the ledger port on a background task (``flush`` waits for them) and runs the
feedback hook after each call. The step also adds each record of a call made inside an opened
request to that request's usage (its response's cost).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from motadata_ai.domain.gateway.call import Call, provider_of
from motadata_ai.domain.gateway.errors import BudgetExceeded, CircuitOpen, GuardrailViolation, RateLimited
from motadata_ai.domain.gateway.health import GatewayStats
from motadata_ai.domain.gateway.steps.base import Clocks, NextComplete, NextEmbed, NextStream, Step
from motadata_ai.domain.values import llm
from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.domain.values.trusted import trusted
from motadata_ai.domain.values.usage import Outcome, UsageRecord
from motadata_ai.ports.ledger import UsageLedgerPort
from motadata_ai.ports.llm import ProviderBadRequest

__all__ = [
    "FeedbackHook",
    "LedgerStep",
    "ModelNames",
    "UsageRecorder",
    "outcome_of",
    "produced_before_cut",
    "usage_record",
]

log = logging.getLogger("motadata_ai.gateway")
T = TypeVar("T")
FeedbackHook = Callable[[UsageRecord, "llm.ChatResponse | None"], "Awaitable[None] | None"]


def outcome_of(error: BaseException, call: Call) -> Outcome:
    """The ledger outcome of a call that raised ``error``."""
    if isinstance(error, RateLimited):
        return "rate_limited"
    if isinstance(error, BudgetExceeded):
        return "budget_exceeded"
    if isinstance(error, CircuitOpen):
        return "circuit_open"
    if isinstance(error, GuardrailViolation):
        return "blocked"
    if isinstance(error, ValidationError | ProviderBadRequest) and not call.state.attempts:
        return "invalid"  # refused before any provider call (an unknown model, a prompt too big)
    return "error"


def _same(model: str) -> str:
    return model


@dataclass(slots=True)
class ModelNames:
    """The canonical model names, asked of ``canonical`` once per name (bounded)."""

    canonical: Callable[[str], str] = _same
    _known: dict[str, str] = field(default_factory=dict)

    def __call__(self, model: str) -> str:
        """The canonical name of ``model``."""
        known = self._known.get(model)
        if known is None:
            known = self.canonical(model) or model
            if known == model and "/" not in model:
                return known  # not qualified yet (the provider may be known later): ask again
            if len(self._known) > 4096:
                self._known.clear()
            self._known[model] = known
        return known


def _fingerprint(call: Call) -> str | None:
    """The hash part of the call's cache key (no prompt text), when it has one."""
    return call.key.rsplit(":", 1)[-1] if call.key else None


def produced_before_cut(call: Call, error: BaseException) -> llm.ChatResponse | None:
    """What a stream cut by its caller (a closed generator, a cancelled task) delivered before the
    cut, priced, when it came from the provider; ``None`` for any other failure."""
    produced = call.state.produced
    if produced is None or call.state.source != "provider":
        return None
    if not isinstance(error, GeneratorExit | asyncio.CancelledError):
        return None
    return produced()


def usage_record(
    call: Call,
    *,
    now: float,
    created_at: datetime,
    response: llm.ChatResponse | llm.EmbeddingResponse | None = None,
    error: BaseException | None = None,
    names: Callable[[str], str] = _same,
) -> UsageRecord:
    """The one usage record of ``call``: answered with ``response``, or failed with ``error``.

    A cache or de-duplication hit costs nothing and records what it saved; a stream cut by its
    caller is charged for what it delivered (:func:`produced_before_cut`). The request id, the
    use-case and the purpose come from ``call.origin``; ``names`` gives the canonical model name.
    """
    source = call.state.source
    origin = call.origin
    outcome: dict[str, Any]
    if error is not None:
        blocked = error.fields.get("response") if isinstance(error, GuardrailViolation) else None
        charged = isinstance(blocked, llm.ChatResponse) and source == "provider"
        answer = blocked if charged and isinstance(blocked, llm.ChatResponse) else None
        message = f"{type(error).__name__}: {error}"
        cut = produced_before_cut(call, error)
        if cut is not None:
            charged, answer = True, cut
            message = f"{type(error).__name__}: the stream was cut by its caller"
        usage = answer.usage if answer is not None else llm.Usage()
        model = names(call.state.model or call.model)
        outcome = {
            "provider": provider_of(model),
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "cost_usd": answer.cost_usd if answer is not None else 0.0,
            "saved_usd": 0.0,
            "source": source if charged else "none",
            "outcome": outcome_of(error, call),
            "error": message[:500],
            "response_id": blocked.id if isinstance(blocked, llm.ChatResponse) else cut.id if cut else None,
        }
    else:
        assert response is not None
        paid = source == "provider"
        chat = isinstance(response, llm.ChatResponse)
        model = names(call.state.model or response.model)
        outcome = {
            "provider": provider_of(model)
            or (response.provider if isinstance(response, llm.ChatResponse) else ""),
            "input_tokens": response.usage.input_tokens if paid else 0,
            "output_tokens": response.usage.output_tokens if paid and chat else 0,
            "cost_usd": response.cost_usd if paid else 0.0,
            "saved_usd": 0.0 if paid else response.cost_usd,
            "source": source,
            "outcome": "ok",
            "error": None,
            "response_id": response.id if isinstance(response, llm.ChatResponse) else None,
        }
    return trusted(
        UsageRecord,
        id=uuid.uuid4().hex,
        tenant_id=call.tenant_id,
        user_id=call.user_id,
        operation=call.ledger_operation,
        model=model,
        latency_ms=(now - call.started) * 1000.0,
        attempts=call.state.provider_attempts,
        created_at=created_at,
        request_id=origin.request_id,
        use_case=origin.operation,
        purpose=call.purpose,
        fingerprint=_fingerprint(call),
        experiment=call.state.experiment,
        arm=call.state.arm,
        **outcome,
    )


class UsageRecorder:
    """Writes usage records to the ledger in batches on a background task; runs the feedback hook."""

    def __init__(
        self, ledger: UsageLedgerPort | None, *, feedback_hook: FeedbackHook | None, stats: GatewayStats
    ) -> None:
        self._ledger = ledger
        self._hook = feedback_hook
        self._stats = stats
        self._pending: list[UsageRecord] = []
        self._writer: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()

    @property
    def pending(self) -> int:
        """Records not written yet."""
        return len(self._pending)

    def record(self, record: UsageRecord, response: llm.ChatResponse | None) -> None:
        """Queue ``record`` for the ledger and hand it (and the answer) to the feedback hook."""
        if self._ledger is not None:
            self._pending.append(record)
            if self._writer is None or self._writer.done():
                self._writer = asyncio.ensure_future(self._drain())
        if self._hook is not None:
            task = asyncio.ensure_future(self._run_hook(self._hook, record, response))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def flush(self) -> None:
        """Wait until every pending record has been written (and every hook has run)."""
        while self._pending or (self._writer is not None and not self._writer.done()):
            if self._writer is None or self._writer.done():
                self._writer = asyncio.ensure_future(self._drain())
            await asyncio.shield(self._writer)
        if self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    async def _drain(self) -> None:
        assert self._ledger is not None
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                await self._ledger.record_usage_many(batch)
            except Exception as error:  # the ledger must not take calls down
                self._stats.ledger_errors += 1
                log.warning("usage ledger write of %d records failed: %s", len(batch), error)

    @staticmethod
    async def _run_hook(hook: FeedbackHook, record: UsageRecord, response: llm.ChatResponse | None) -> None:
        try:
            result = hook(record, response)
            if result is not None:
                await result
        except Exception as error:
            log.warning("feedback hook failed: %s", error)


class LedgerStep(Step):
    """Counts each call and records its usage, whatever its outcome."""

    def __init__(
        self,
        recorder: UsageRecorder,
        *,
        clocks: Clocks,
        stats: GatewayStats,
        canonical: Callable[[str], str] = _same,
    ) -> None:
        self._recorder, self._clocks, self._stats = recorder, clocks, stats
        self._names = ModelNames(canonical)

    async def complete(self, call: Call, request: llm.ChatRequest, next: NextComplete) -> llm.ChatResponse:
        """Record the completion or its failure."""
        response = await self._recorded(call, next(call, request))
        self._keep(call, self._record(call, response), response)
        return response

    async def embed(
        self, call: Call, request: llm.EmbeddingRequest, next: NextEmbed
    ) -> llm.EmbeddingResponse:
        """Record the embedding call or its failure."""
        response = await self._recorded(call, next(call, request))
        self._keep(call, self._record(call, response), None)
        return response

    async def stream(
        self, call: Call, request: llm.ChatRequest, next: NextStream
    ) -> AsyncIterator[llm.StreamChunk]:
        """Record the stream's answer or its failure."""
        self._stats.calls += 1
        try:
            async for chunk in next(call, request):
                yield chunk
        except BaseException as error:
            self._failed(call, error)
            raise
        response = call.state.response
        if response is not None:
            self._keep(call, self._record(call, response), response)

    async def _recorded(self, call: Call, answer: Awaitable[T]) -> T:
        """Count the call and await its answer; a failure is recorded before it goes on."""
        self._stats.calls += 1
        try:
            return await answer
        except BaseException as error:
            self._failed(call, error)
            raise

    def _keep(self, call: Call, record: UsageRecord, response: llm.ChatResponse | None) -> None:
        """Queue ``record`` and add it to the usage of the request the call was made for."""
        usage = call.origin.usage
        if usage is not None and call.internal:
            usage.add(record)
        self._recorder.record(record, response)

    def _record(self, call: Call, response: llm.ChatResponse | llm.EmbeddingResponse) -> UsageRecord:
        return usage_record(
            call,
            now=self._clocks.monotonic(),
            created_at=self._clocks.wall(),
            response=response,
            names=self._names,
        )

    def _failed(self, call: Call, error: BaseException) -> None:
        record = usage_record(
            call, now=self._clocks.monotonic(), created_at=self._clocks.wall(), error=error, names=self._names
        )
        self._keep(call, record, None)
