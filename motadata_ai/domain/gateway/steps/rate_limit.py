"""Rate-limit step: token buckets per tenant (and per tenant + model) that count what users ask.

What each call spends (the table in docs/gateway.md):

* a user's request (``generate``/``stream`` made directly, or the start of a request opened with
  ``gateway.request(...)``: a RAG query, an agent task step) takes one token of the tenant's
  ``req`` bucket (``requests_per_minute``/``burst_size``);
* a call made on behalf of a request the gateway already admitted (``call.internal``: the query
  embedding, a rewrite, a re-rank, a memory recall, the answer) takes nothing of it, so a request
  is never refused half-way for the budget it already paid; the tenant + model request bucket
  counts it without refusing it;
* an embedding call takes its texts from the tenant's own ``emb`` bucket
  (``embedding_texts_per_minute``), never from ``req``;
* every call, internal or not, takes its prompt tokens from the ``tok`` buckets and, after the
  answer, its completion tokens (``tokens_per_minute``, ``model_tokens_per_minute``).

A refused call raises :class:`RateLimited` with ``retry_after``, or waits for its turn when the
policy (or the call's ``wait``) says so, up to ``rate_limit_max_wait``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

from motadata_ai.domain.gateway.call import Call
from motadata_ai.domain.gateway.config import GatewayConfig
from motadata_ai.domain.gateway.errors import RateLimited
from motadata_ai.domain.gateway.fallback_limits import UNAVAILABLE
from motadata_ai.domain.gateway.limits import bucket_key, bucket_scope
from motadata_ai.domain.gateway.steps.base import NextComplete, NextEmbed, NextStream, Step
from motadata_ai.domain.gateway.steps.validate import rough_tokens
from motadata_ai.domain.values import llm
from motadata_ai.domain.values.limits import BucketSpec
from motadata_ai.ports.limits import LimitsPort

__all__ = ["RateLimit"]


class RateLimit(Step):
    """Token buckets on the limits port (see the module docstring)."""

    def __init__(self, limits: LimitsPort, *, sleep: Callable[[float], Awaitable[None]]) -> None:
        self._limits = limits
        self._sleep = sleep

    async def complete(self, call: Call, request: llm.ChatRequest, next: NextComplete) -> llm.ChatResponse:
        """Take the call's tokens, complete, then charge the completion tokens."""
        await self._take_chat(call, request)
        response = await next(call, request)
        await self._charge(call, response.model, response.usage.output_tokens)
        return response

    async def stream(
        self, call: Call, request: llm.ChatRequest, next: NextStream
    ) -> AsyncIterator[llm.StreamChunk]:
        """Take the call's tokens, stream, then charge the completion tokens."""
        await self._take_chat(call, request)
        async for chunk in next(call, request):
            yield chunk
        response = call.state.response
        if response is not None:
            await self._charge(call, call.state.model, response.usage.output_tokens)

    async def embed(
        self, call: Call, request: llm.EmbeddingRequest, next: NextEmbed
    ) -> llm.EmbeddingResponse:
        """Take the texts from the embedding bucket and their tokens, then embed."""
        policy, tenant_id = call.policy, call.tenant_id
        specs = self._token_specs(tenant_id, policy, call.model, rough_tokens(request.inputs))
        counted = []
        if policy.embedding_texts_per_minute:
            rate = policy.embedding_texts_per_minute
            texts = BucketSpec(
                bucket_key(tenant_id, "emb"), float(rate), rate / 60.0, float(len(request.inputs))
            )
            counted.append(texts)
        counted += self._model_request_spec(tenant_id, policy, call.model)
        await self._take(call, policy, call.model, (specs if call.internal else specs + counted))
        if call.internal and counted:
            await self._limits.take(counted, force=True)
        return await next(call, request)

    async def admit(self, tenant_id: str, policy: GatewayConfig, wait: bool | None) -> None:
        """Spend one of the tenant's requests (a request opened with ``gateway.request``)."""
        rpm = policy.requests_per_minute
        if rpm:
            spec = BucketSpec(bucket_key(tenant_id, "req"), float(policy.burst_size), rpm / 60.0)
            await self._wait_for(tenant_id, policy, None, [spec], wait)

    async def _take_chat(self, call: Call, request: llm.ChatRequest) -> None:
        policy, tenant_id, model = call.policy, call.tenant_id, request.model
        prompt = call.state.prompt_tokens
        tokens = prompt if prompt is not None else rough_tokens([m.content or "" for m in request.messages])
        specs = self._token_specs(tenant_id, policy, model, tokens)
        requests = self._model_request_spec(tenant_id, policy, model)
        if call.internal:
            await self._take(call, policy, model, specs)
            if requests:
                await self._limits.take(requests, force=True)
            return
        rpm = policy.requests_per_minute
        if rpm:
            specs.insert(0, BucketSpec(bucket_key(tenant_id, "req"), float(policy.burst_size), rpm / 60.0))
        await self._take(call, policy, model, specs + requests)

    async def _take(self, call: Call, policy: GatewayConfig, model: str, specs: list[BucketSpec]) -> None:
        if specs:
            await self._wait_for(call.tenant_id, policy, model, specs, call.options.wait)

    async def _wait_for(
        self,
        tenant_id: str,
        policy: GatewayConfig,
        model: str | None,
        specs: Sequence[BucketSpec],
        wait: bool | None,
    ) -> None:
        waited = 0.0
        queue = policy.rate_limit_wait if wait is None else wait
        while True:
            decision = await self._limits.take(specs)
            if decision.allowed:
                return
            retry_after = decision.retry_after
            if queue and waited + retry_after <= policy.rate_limit_max_wait:
                await self._sleep(retry_after)
                waited += retry_after
                continue
            scope = [bucket_scope(key) if key != UNAVAILABLE else key for key in decision.refused]
            raise RateLimited(
                f"tenant {tenant_id} is over its rate limit ({', '.join(scope)}); retry after "
                f"{retry_after:.2f}s",
                tenant_id=tenant_id,
                model=model,
                scope=scope,
                retry_after=retry_after,
            )

    async def _charge(self, call: Call, model: str, output_tokens: int) -> None:
        if call.state.source != "provider":
            return
        policy = call.policy
        if output_tokens <= 0 or not (policy.tokens_per_minute or policy.model_tokens_per_minute):
            return
        await self._limits.take(self._token_specs(call.tenant_id, policy, model, output_tokens), force=True)

    @staticmethod
    def _token_specs(tenant_id: str, policy: GatewayConfig, model: str, tokens: int) -> list[BucketSpec]:
        specs = []
        tpm = policy.tokens_per_minute
        if tpm:
            specs.append(BucketSpec(bucket_key(tenant_id, "tok"), float(tpm), tpm / 60.0, float(tokens)))
        mtpm = policy.model_tokens_per_minute
        if mtpm:
            specs.append(
                BucketSpec(bucket_key(tenant_id, "tok", model), float(mtpm), mtpm / 60.0, float(tokens))
            )
        return specs

    @staticmethod
    def _model_request_spec(tenant_id: str, policy: GatewayConfig, model: str) -> list[BucketSpec]:
        mrpm = policy.model_requests_per_minute
        if not mrpm:
            return []
        burst = policy.model_burst_size or policy.burst_size
        return [BucketSpec(bucket_key(tenant_id, "req", model), float(burst), mrpm / 60.0)]
