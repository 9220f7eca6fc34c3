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

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import aclosing
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
    error: ProviderError | None = None
    started: bool = False


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
        """The first stream that starts; once a chunk went out, a failure ends it."""
        async with aclosing(self._attempts(call)) as attempts:
            async for attempt in attempts:
                try:
                    async for chunk in next(attempt.call, _for_model(request, attempt.call)):
                        attempt.started = True
                        yield chunk
                except ProviderError as error:
                    attempt.error = error
                    continue
                await self._succeeded(attempt)
                return

    async def _first(self, call: Call, run: Callable[[_Attempt], Awaitable[T]]) -> T:
        async with aclosing(self._attempts(call)) as attempts:
            async for attempt in attempts:
                try:
                    result = await run(attempt)
                except ProviderError as error:
                    attempt.error = error
                    continue
                await self._succeeded(attempt)
                return result
        raise AssertionError("_attempts raises when every attempt failed")

    async def _attempts(self, call: Call) -> AsyncGenerator[_Attempt, None]:
        """Yield each attempt in turn; after one failed (``attempt.error``), decide what follows."""
        policy = call.policy
        retries = policy.max_retries if call.options.max_retries is None else call.options.max_retries
        caller_deadline = is_caller_deadline(call.options.timeout, policy.request_timeout)
        models = call.models
        open_until: float | None = None
        last: ProviderError | None = None
        for model in models:
            key = circuit_key(model)
            decision = await self._limits.breaker_acquire(
                key,
                recovery_timeout=policy.circuit_recovery_timeout,
                half_open_max_calls=policy.circuit_half_open_max_calls,
            )
            if not decision.allowed:
                call.state.attempts.append(
                    {
                        "model": model,
                        "attempt": 0,
                        "error": "CircuitOpen",
                        "retry_after": decision.retry_after,
                    }
                )
                retry = decision.retry_after
                open_until = retry if open_until is None else min(open_until, retry)
                continue
            failed_here = decision.state.failures > 0 or decision.state.state != "closed"
            model_call = call if model == call.model else replace(call, model=model)
            for number in range(retries + 1):
                self._stats.provider_calls += 1
                attempt = _Attempt(model_call, number, key, failed_here)
                yield attempt
                error = attempt.error
                if error is None:  # the caller succeeded and closed the loop; nothing follows
                    return
                call.state.attempts.append(_failure(model, number, error))
                state = await self._note(key, policy, error, caller_deadline, failed_here)
                if state is not None:
                    failed_here = state.failures > 0 or state.state != "closed"
                if isinstance(error, ProviderBadRequest) and not isinstance(error, ContextWindowExceeded):
                    raise error
                last = error
                if attempt.started:
                    raise error
                if isinstance(error, ContextWindowExceeded):
                    break  # a larger-context fallback may take it
                if not isinstance(error, RETRYABLE_PROVIDER_ERRORS) or (
                    state is not None and state.state == "open"
                ):
                    break
                if number < retries:
                    await self._sleep(self.backoff(number, policy, getattr(error, "retry_after", None)))
        if last is None and open_until is not None:
            raise CircuitOpen(
                f"circuit open for {', '.join(models)}; retry after {open_until:.1f}s",
                model=models[0],
                tried=list(models),
                retry_after=open_until,
                tenant_id=call.tenant_id,
            )
        failures = [a for a in call.state.attempts if a.get("error")]
        summary = "; ".join(f"{a['model']}#{a['attempt']}: {a['error']}" for a in failures)
        raise RetriesExhausted(
            f"all {len(failures)} attempts failed ({summary})",
            model=models[0],
            tenant_id=call.tenant_id,
            attempts=list(call.state.attempts),
            status_code=getattr(last, "status_code", None),
        ) from last

    async def _succeeded(self, attempt: _Attempt) -> None:
        """Note the answering model and attempt; close its breaker if it had failures."""
        call = attempt.call
        call.state.model = call.model
        call.state.attempts.append({"model": call.model, "attempt": attempt.number, "error": None})
        if attempt.failed_here:
            await self._limits.breaker_record(
                attempt.key, success=True, failure_threshold=call.policy.circuit_failure_threshold
            )

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
