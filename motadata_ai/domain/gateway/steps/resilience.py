"""Resilience step: models × retries × breakers, in one loop for calls and streams.

For each model in ``[model, *fallbacks]``: its circuit (shared by every tenant) is asked first
(open: the next model); then the provider is tried up to ``1 + max_retries`` times with
exponential backoff and jitter (at least the provider's ``Retry-After``). A bad request is raised
at once, a context-window refusal moves to the next model (a larger one may take it), and a
stream is retried only until its first chunk. Only provider-side failures count toward a circuit
(:mod:`~motadata_ai.domain.gateway.outcomes`). When every model failed: :class:`RetriesExhausted`
listing each attempt; when every circuit was open: :class:`CircuitOpen`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from motadata_ai.domain.gateway.call import Call
from motadata_ai.domain.gateway.config import GatewayConfig
from motadata_ai.domain.gateway.errors import CircuitOpen, RetriesExhausted
from motadata_ai.domain.gateway.health import GatewayStats
from motadata_ai.domain.gateway.limits import circuit_key
from motadata_ai.domain.gateway.outcomes import breaker_verdict, is_caller_deadline
from motadata_ai.domain.gateway.steps.base import NextComplete, NextEmbed, NextStream, Step
from motadata_ai.domain.values import llm
from motadata_ai.domain.values.limits import BreakerState
from motadata_ai.ports.limits import LimitsPort
from motadata_ai.ports.llm import (
    RETRYABLE_PROVIDER_ERRORS,
    ContextWindowExceeded,
    ProviderBadRequest,
    ProviderError,
)

__all__ = ["Resilience", "backoff"]

_RETRY_AFTER_CAP = 60.0
T = TypeVar("T")
R = TypeVar("R", llm.ChatRequest, llm.EmbeddingRequest)


def backoff(attempt: int, policy: GatewayConfig, random: float, retry_after: float | None = None) -> float:
    """Seconds before retry ``attempt`` (0-based): ``min(max, base·2ⁿ)·(1 ± jitter)`` with
    ``random`` in [0, 1); at least the provider's ``retry_after`` when it gave one."""
    delay = min(policy.retry_backoff_max, policy.retry_backoff_base * (2**attempt))
    jitter = policy.retry_jitter
    if jitter:
        delay *= 1.0 - jitter + 2.0 * jitter * random
    if retry_after:
        delay = max(delay, min(float(retry_after), _RETRY_AFTER_CAP))
    return float(delay)


@dataclass(slots=True)
class _Attempt:
    """One try of one model: the call and request for that model, and how it failed (if it did)."""

    call: Call
    number: int
    key: str
    failed_here: bool
    started: bool = False
    done: bool = False


class Resilience(Step):
    """Breakers, retries and fallbacks over the provider step (see the module docstring)."""

    def __init__(
        self,
        limits: LimitsPort,
        *,
        stats: GatewayStats,
        sleep: Callable[[float], Awaitable[None]],
        random: Callable[[], float],
    ) -> None:
        self._limits = limits
        self._stats = stats
        self._sleep = sleep
        self._random = random

    def backoff(self, attempt: int, policy: GatewayConfig, retry_after: float | None = None) -> float:
        """:func:`backoff` with this step's randomness."""
        return backoff(attempt, policy, self._random(), retry_after)

    async def complete(self, call: Call, request: llm.ChatRequest, next: NextComplete) -> llm.ChatResponse:
        """The first answer of the models in order, each retried."""
        return await self._first(call, lambda attempt: next(attempt.call, _for_model(request, attempt.call)))

    async def embed(
        self, call: Call, request: llm.EmbeddingRequest, next: NextEmbed
    ) -> llm.EmbeddingResponse:
        """The first embedding of the models in order, each retried."""
        return await self._first(call, lambda attempt: next(attempt.call, _for_model(request, attempt.call)))

    async def stream(
        self, call: Call, request: llm.ChatRequest, next: NextStream
    ) -> AsyncIterator[llm.StreamChunk]:
        """The first stream that starts; once a chunk went out, a failure ends it.

        An attempt is noted (and its model's breaker closed) when its first chunk arrives, so a
        stream its caller cuts counts as the attempt it was."""
        plan = _Plan(self, call)
        while True:
            attempt = await plan.next()
            started: dict[str, Any] | None = None
            try:
                async for chunk in next(attempt.call, _for_model(request, attempt.call)):
                    if started is None:
                        attempt.started = True
                        started = await self._succeeded(attempt)
                    yield chunk
            except ProviderError as error:
                if started is not None:
                    call.state.attempts.remove(started)  # noted again, as failed
                await plan.failed(attempt, error)
                continue
            if started is None:
                await self._succeeded(attempt)
            return

    async def _first(self, call: Call, run: Callable[[_Attempt], Awaitable[T]]) -> T:
        plan = _Plan(self, call)
        while True:
            attempt = await plan.next()
            try:
                result = await run(attempt)
            except ProviderError as error:
                await plan.failed(attempt, error)
                continue
            await self._succeeded(attempt)
            return result

    async def _succeeded(self, attempt: _Attempt) -> dict[str, Any]:
        """Note the answering model and attempt; close its breaker if it had failures. Returns the
        attempt's entry in ``call.state.attempts``."""
        call = attempt.call
        call.state.model = call.model
        entry: dict[str, Any] = {"model": call.model, "attempt": attempt.number, "error": None}
        call.state.attempts.append(entry)
        if attempt.failed_here:
            await self._limits.breaker_record(
                attempt.key, success=True, failure_threshold=call.policy.circuit_failure_threshold
            )
            attempt.failed_here = False
        return entry

    async def _note(
        self, key: str, policy: GatewayConfig, error: ProviderError, caller_deadline: bool, failed_here: bool
    ) -> BreakerState | None:
        """Record a failed attempt on the model's circuit by its verdict (:mod:`.outcomes`):
        a provider-side failure counts, a 4xx answer closes a circuit that had failures, and a
        caller-caused outcome leaves it alone. Returns the new state (``None`` when untouched)."""
        verdict = breaker_verdict(error, caller_deadline=caller_deadline)
        if verdict == "failure":
            return await self._limits.breaker_record(
                key, success=False, failure_threshold=policy.circuit_failure_threshold
            )
        if verdict == "healthy" and failed_here:
            return await self._limits.breaker_record(
                key, success=True, failure_threshold=policy.circuit_failure_threshold
            )
        return None


class _Plan:
    """The attempts of one call, in order: each model behind its breaker, each retried."""

    def __init__(self, step: Resilience, call: Call) -> None:
        policy = call.policy
        self._step = step
        self._call = call
        self._retries = policy.max_retries if call.options.max_retries is None else call.options.max_retries
        self._caller_deadline = is_caller_deadline(call.options.timeout, policy.request_timeout)
        self._models = call.models
        self._index = 0
        self._current: _Attempt | None = None
        self._open_until: float | None = None
        self._last: ProviderError | None = None

    async def next(self) -> _Attempt:
        """The next attempt: a retry of this model, or the next model whose breaker lets it through;
        :class:`CircuitOpen` or :class:`RetriesExhausted` when none is left."""
        current = self._current
        if current is not None and not current.done and current.number < self._retries:
            attempt = _Attempt(current.call, current.number + 1, current.key, current.failed_here)
        else:
            attempt = await self._next_model()
        self._step._stats.provider_calls += 1
        self._current = attempt
        return attempt

    async def failed(self, attempt: _Attempt, error: ProviderError) -> None:
        """Note a failed attempt, then raise it (a bad request, a stream already started), end this
        model (a context-window refusal: a larger fallback may take it; a failure not worth
        retrying; an opened circuit), or wait out the backoff before its retry."""
        call, policy = self._call, self._call.policy
        call.state.attempts.append(_failure(attempt.call.model, attempt.number, error))
        state = await self._step._note(attempt.key, policy, error, self._caller_deadline, attempt.failed_here)
        if state is not None:
            attempt.failed_here = state.failures > 0 or state.state != "closed"
        if isinstance(error, ProviderBadRequest) and not isinstance(error, ContextWindowExceeded):
            raise error
        self._last = error
        if attempt.started:
            raise error
        opened = state is not None and state.state == "open"
        retryable = isinstance(error, RETRYABLE_PROVIDER_ERRORS)
        if isinstance(error, ContextWindowExceeded) or opened or not retryable:
            attempt.done = True
        elif attempt.number < self._retries:
            delay = self._step.backoff(attempt.number, policy, getattr(error, "retry_after", None))
            await self._step._sleep(delay)

    async def _next_model(self) -> _Attempt:
        call, policy = self._call, self._call.policy
        while self._index < len(self._models):
            model = self._models[self._index]
            self._index += 1
            key = circuit_key(model)
            decision = await self._step._limits.breaker_acquire(
                key,
                recovery_timeout=policy.circuit_recovery_timeout,
                half_open_max_calls=policy.circuit_half_open_max_calls,
            )
            if not decision.allowed:
                retry = decision.retry_after
                call.state.attempts.append(
                    {"model": model, "attempt": 0, "error": "CircuitOpen", "retry_after": retry}
                )
                self._open_until = retry if self._open_until is None else min(self._open_until, retry)
                continue
            failed_here = decision.state.failures > 0 or decision.state.state != "closed"
            model_call = call if model == call.model else replace(call, model=model)
            return _Attempt(model_call, 0, key, failed_here)
        raise self._exhausted()

    def _exhausted(self) -> Exception:
        call, models, last = self._call, self._models, self._last
        if last is None and self._open_until is not None:
            return CircuitOpen(
                f"circuit open for {', '.join(models)}; retry after {self._open_until:.1f}s",
                model=models[0],
                tried=list(models),
                retry_after=self._open_until,
                tenant_id=call.tenant_id,
            )
        failures = [a for a in call.state.attempts if a.get("error")]
        summary = "; ".join(f"{a['model']}#{a['attempt']}: {a['error']}" for a in failures)
        error = RetriesExhausted(
            f"all {len(failures)} attempts failed ({summary})",
            model=models[0],
            tenant_id=call.tenant_id,
            attempts=list(call.state.attempts),
            status_code=getattr(last, "status_code", None),
        )
        error.__cause__ = last
        return error


def _for_model(request: R, call: Call) -> R:
    """``request`` addressed to the attempt's model."""
    if request.model == call.model:
        return request
    return request.model_copy(update={"model": call.model})


def _failure(model: str, number: int, error: ProviderError) -> dict[str, Any]:
    return {
        "model": model,
        "attempt": number,
        "error": type(error).__name__,
        "message": str(error)[:300],
        "status_code": getattr(error, "status_code", None),
    }
