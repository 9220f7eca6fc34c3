"""Embedding coalescing step: concurrent embedding calls of one tenant and model, arriving within a
short window, go to the provider as one batch.

Each call has already been validated, cached, limited and de-duplicated on its own by the outer
steps; here the first call of a group (tenant, model, retry and fallback options) opens a batch
that stays open for ``embedding_batch_window`` seconds (``ingestion_embedding_batch_window`` for
ingestion's calls, which wait anyway) or until it holds ``embedding_batch_max_inputs`` texts. The
batch then runs the rest of the chain (retries, breakers, provider) once, and each caller gets its
own vectors, in its own order, with its share of the batch's input tokens and cost (proportional
to its number of texts), so each is charged on its own by the ledger step. A failed batch fails
each of its calls with the same error. A window of ``0`` still merges the calls that arrive before
the batch's task first runs (one turn of the event loop).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from typing import Any

from motadata_ai.domain.gateway.call import Call, CallState
from motadata_ai.domain.gateway.steps.base import NextEmbed, Step
from motadata_ai.domain.values import llm

__all__ = ["CoalesceEmbeddings", "CoalesceStats", "split_usage"]


@dataclass
class CoalesceStats:
    """Batches sent and the calls they carried."""

    batches: int = 0
    calls: int = 0

    @property
    def merged(self) -> int:
        """Calls that rode in another call's batch."""
        return self.calls - self.batches


@dataclass
class _Batch:
    call: Call
    model: str
    members: list[tuple[Call, llm.EmbeddingRequest, asyncio.Future[llm.EmbeddingResponse]]] = field(
        default_factory=list
    )
    size: int = 0


def split_usage(total: int, counts: list[int]) -> list[int]:
    """``total`` split in proportion to ``counts`` (whole numbers, summing to ``total``)."""
    whole = sum(counts)
    if whole == 0:
        return [0] * len(counts)
    shares = [total * c // whole for c in counts]
    shares[-1] += total - sum(shares)
    return shares


class CoalesceEmbeddings(Step):
    """Merge concurrent embedding calls into provider batches (see the module docstring)."""

    def __init__(self) -> None:
        self._open: dict[tuple[Any, ...], _Batch] = {}
        self._sending: set[asyncio.Task[None]] = set()
        self.stats = CoalesceStats()

    async def embed(
        self, call: Call, request: llm.EmbeddingRequest, next: NextEmbed
    ) -> llm.EmbeddingResponse:
        """This call's vectors, out of a batch shared with the concurrent calls of its group."""
        policy = call.policy
        limit = policy.embedding_batch_max_inputs
        inputs = tuple(request.inputs)
        if len(inputs) >= limit:
            return await next(call, request)
        options = call.options
        group = (call.tenant_id, request.model, options.fallbacks, options.max_retries, options.timeout)
        batch = self._open.get(group)
        if batch is not None and batch.size + len(inputs) > limit:
            self._open.pop(group, None)  # full: it goes now, this call opens the next one
            batch = None
        if batch is None:
            batch = _Batch(call=call, model=request.model)
            self._open[group] = batch
            window = (
                policy.ingestion_embedding_batch_window
                if call.purpose == "ingestion"
                else policy.embedding_batch_window
            )
            task = asyncio.ensure_future(self._send(group, batch, window, next))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)
        future: asyncio.Future[llm.EmbeddingResponse] = asyncio.get_running_loop().create_future()
        batch.members.append((call, request, future))
        batch.size += len(inputs)
        return await asyncio.shield(future)

    async def _send(self, group: tuple[Any, ...], batch: _Batch, window: float, next: NextEmbed) -> None:
        await asyncio.sleep(window)
        if self._open.get(group) is batch:
            del self._open[group]
        members = batch.members
        self.stats.batches += 1
        self.stats.calls += len(members)
        if len(members) == 1:
            only_call, only_request, future = members[0]
            try:
                _settle(future, await next(only_call, only_request))
            except BaseException as error:
                _settle(future, error=error)
                if not isinstance(error, Exception):
                    raise
            return
        state = CallState()
        merged_call = replace(batch.call, state=state)
        texts = tuple(text for _, member_request, _ in members for text in member_request.inputs)
        request = llm.EmbeddingRequest.model_construct(model=batch.model, inputs=texts)
        try:
            response = await next(merged_call, request)
        except BaseException as error:
            for _, _, future in members:
                _settle(future, error=error)
            if not isinstance(error, Exception):
                raise
            return
        counts = [len(member_request.inputs) for _, member_request, _ in members]
        tokens = split_usage(response.usage.input_tokens, counts)
        start = 0
        for (member, member_request, future), share in zip(members, tokens, strict=True):
            count = len(member_request.inputs)
            vectors = response.vectors[start : start + count]
            start += count
            whole = response.usage.input_tokens
            cost = response.cost_usd * (share / whole if whole else count / len(texts))
            member.state.attempts.extend(state.attempts)
            member.state.model = state.model or member.state.model
            _settle(
                future,
                llm.EmbeddingResponse.model_construct(
                    model=response.model,
                    vectors=vectors,
                    usage=llm.Usage.model_construct(input_tokens=share, output_tokens=0),
                    cost_usd=cost,
                    cached=response.cached,
                ),
            )


def _settle(
    future: asyncio.Future[llm.EmbeddingResponse],
    result: llm.EmbeddingResponse | None = None,
    *,
    error: BaseException | None = None,
) -> None:
    """Give a waiting caller its answer or the batch's error (unless it stopped waiting)."""
    if future.done():
        return
    if error is None:
        future.set_result(result)  # type: ignore[arg-type]
    elif isinstance(error, asyncio.CancelledError):
        future.cancel()
    else:
        future.set_exception(error)
        future.exception()  # retrieved: a caller that was cancelled leaves nobody to read it
