"""``/v1/chat/completions`` (JSON or server-sent events), ``/v1/embeddings`` and ``/v1/models``.

Every call goes through the gateway's public methods (``generate``, ``stream``, ``embed``), so the
cache, limits, guardrails, ledger and traces apply as for any in-process call; the tenant and user
come from the caller's API key, and the key's own allow-list, rate limit and budget are checked
first (:mod:`motadata_ai.http.auth`).

A stream's errors before its first chunk answer with their status code; after it (the status is
sent), an error ends the stream with one ``data: {"error": ...}`` event. A client that goes away
mid-stream cancels the handler, and with it the gateway's stream and the provider call under it.
A streamed call counts against the key's budget like a plain one: its cost once it ended, or what
it delivered when it failed or was cut.
"""

from __future__ import annotations

import asyncio
import base64
import struct
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

import orjson
from fastapi import APIRouter, Depends
from fastapi.responses import Response, StreamingResponse

from motadata_ai.domain.values.errors import MotadataError
from motadata_ai.domain.values.llm import ChatRequest, ChatResponse, EmbeddingResponse, StreamChunk
from motadata_ai.http.auth import Caller
from motadata_ai.http.errors import ERROR_RESPONSES, error_payload
from motadata_ai.http.routing import SDKErrorRoute
from motadata_ai.http.v1.wire import (
    ChatCompletion,
    ChatCompletionRequest,
    EmbeddingsRequest,
    EmbeddingsResponse,
    ModelCard,
    ModelList,
    chunk_delta,
    chunk_payload,
    completion_payload,
    to_chat_request,
)

__all__ = ["GatewayTarget", "create_v1_router"]


class ChatChunks(Protocol):
    """A gateway stream (``motadata_ai.domain.gateway.ChatStream``): its chunks, and what it cost."""

    def __aiter__(self) -> ChatChunks: ...

    async def __anext__(self) -> StreamChunk: ...

    @property
    def cost_usd(self) -> float: ...

    async def aclose(self) -> None: ...


class GatewayTarget(Protocol):
    """The gateway methods the routes call (``motadata_ai.domain.gateway.Gateway`` has them)."""

    @property
    def default_model(self) -> str: ...

    @property
    def default_embedding_model(self) -> str: ...

    def policy(self, tenant_id: str) -> Any: ...

    async def generate(
        self, request: ChatRequest, *, tenant_id: str, user_id: str | None = None
    ) -> ChatResponse: ...

    def stream(self, request: ChatRequest, *, tenant_id: str, user_id: str | None = None) -> ChatChunks: ...

    async def embed(
        self, texts: list[str], *, tenant_id: str, model: str | None = None, user_id: str | None = None
    ) -> EmbeddingResponse: ...


def _sse(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def _json(payload: dict[str, Any], headers: dict[str, str]) -> Response:
    """A JSON answer serialised with orjson (vectors of embeddings are long lists of floats)."""
    return Response(content=orjson.dumps(payload), media_type="application/json", headers=headers)


def _headers(cost_usd: float, cached: bool) -> dict[str, str]:
    return {"X-Motadata-Cost-USD": f"{cost_usd:.8f}", "X-Motadata-Cached": "true" if cached else "false"}


_charges: set[asyncio.Task[None]] = set()


def _charge_later(who: Caller, cost_usd: float) -> None:
    """Charge the key on a task of its own: a cut stream's handler is being cancelled."""
    if cost_usd > 0 and who.key is not None:
        task = asyncio.ensure_future(who.charge(cost_usd))
        _charges.add(task)
        task.add_done_callback(_charges.discard)


def _stream_response(
    first: StreamChunk | None,
    chunks: ChatChunks,
    who: Caller,
    *,
    model: str,
    include_usage: bool,
) -> StreamingResponse:
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())

    async def events() -> AsyncIterator[bytes]:
        tools = 0
        usage = None
        charged = False
        try:
            yield _sse(
                chunk_payload(completion_id, model, created, delta={"role": "assistant", "content": ""})
            )
            chunk = first
            while chunk is not None:
                delta = chunk_delta(chunk, tools)
                tools += len(chunk.tool_calls)
                if delta or chunk.finish_reason is not None:
                    yield _sse(
                        chunk_payload(
                            completion_id, model, created, delta=delta, finish_reason=chunk.finish_reason
                        )
                    )
                usage = chunk.usage or usage
                chunk = await anext(chunks, None)
            charged = True  # before [DONE]: the client's next call sees the key's new spend
            await who.charge(chunks.cost_usd)
            if include_usage and usage is not None:
                yield _sse(chunk_payload(completion_id, model, created, usage=usage))
            yield b"data: [DONE]\n\n"
        except MotadataError as error:
            yield _sse(error_payload(error))
        finally:
            if not charged:  # failed or cut by the client: what was delivered was paid for
                _charge_later(who, chunks.cost_usd)
            await chunks.aclose()

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _float_bytes(vector: tuple[float, ...]) -> str:
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


def create_v1_router(gateway: GatewayTarget, caller: Callable[..., Awaitable[Caller]]) -> APIRouter:
    """The ``/v1`` router over ``gateway``; ``caller`` is the authentication dependency."""
    router = APIRouter(prefix="/v1", tags=["openai"], route_class=SDKErrorRoute)

    @router.post(
        "/chat/completions",
        operation_id="createChatCompletion",
        summary="Chat completion (OpenAI-compatible; stream=true answers server-sent events)",
        response_model=ChatCompletion,
        responses={
            **ERROR_RESPONSES,
            200: {
                "description": "A chat.completion object, or with stream=true a text/event-stream of "
                "chat.completion.chunk objects ending with data: [DONE]",
                "content": {"text/event-stream": {"schema": {"type": "string"}}},
            },
        },
    )
    async def chat_completions(body: ChatCompletionRequest, who: Caller = Depends(caller)) -> Any:
        request = to_chat_request(body, default_model=gateway.default_model)
        who.check_model(request.model)
        await who.admit()
        user_id = who.user(body.user)
        if body.stream:
            chunks = gateway.stream(request, tenant_id=who.tenant_id, user_id=user_id)
            try:
                first = await anext(chunks, None)
            except BaseException:
                _charge_later(who, chunks.cost_usd)
                await chunks.aclose()
                raise
            include_usage = body.stream_options is not None and body.stream_options.include_usage
            return _stream_response(first, chunks, who, model=request.model, include_usage=include_usage)
        response = await gateway.generate(request, tenant_id=who.tenant_id, user_id=user_id)
        await who.charge(0.0 if response.cached else response.cost_usd)
        return _json(completion_payload(response), _headers(response.cost_usd, response.cached))

    @router.post(
        "/embeddings",
        operation_id="createEmbeddings",
        summary="Embeddings (OpenAI-compatible)",
        response_model=EmbeddingsResponse,
        responses=ERROR_RESPONSES,
    )
    async def embeddings(body: EmbeddingsRequest, who: Caller = Depends(caller)) -> Any:
        model = body.model or gateway.default_embedding_model
        who.check_model(model)
        await who.admit()
        texts = [body.input] if isinstance(body.input, str) else list(body.input)
        response = await gateway.embed(
            texts, tenant_id=who.tenant_id, model=model, user_id=who.user(body.user)
        )
        await who.charge(response.cost_usd)
        data = [
            {
                "object": "embedding",
                "index": index,
                "embedding": _float_bytes(vector) if body.encoding_format == "base64" else list(vector),
            }
            for index, vector in enumerate(response.vectors)
        ]
        tokens = response.usage.input_tokens
        return _json(
            {
                "object": "list",
                "data": data,
                "model": response.model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
            _headers(response.cost_usd, response.cached),
        )

    @router.get(
        "/models",
        operation_id="listModels",
        summary="The models this API key may call",
        response_model=ModelList,
        responses=ERROR_RESPONSES,
    )
    async def models(who: Caller = Depends(caller)) -> ModelList:
        policy = gateway.policy(who.tenant_id)
        allowed = policy.allowed_models
        names = list(
            allowed
            if allowed is not None
            else dict.fromkeys(
                [policy.default_model, *policy.fallback_models, policy.default_embedding_model]
            )
        )
        if who.key is not None and who.key.allowed_models is not None:
            names = [n for n in who.key.allowed_models if allowed is None or n in allowed]
        return ModelList(
            data=[ModelCard(id=n, owned_by=n.split("/", 1)[0] if "/" in n else "motadata") for n in names]
        )

    return router
