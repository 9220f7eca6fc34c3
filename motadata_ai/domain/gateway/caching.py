"""Cache keys over the normalised request, the cached-value codec, and the semantic index.

Keys are ``{<tenant>}:gw:<kind>:<digest>`` (the SDK's one key scheme,
:mod:`motadata_ai.domain.values.keys`): the tenant is the first segment, so one tenant's entries can
never answer another's, and ``CachePort.delete_tenant(tenant, namespace="gw")`` clears a tenant's.
Values are compact JSON (pydantic-core's serializer); the hit path parses them without
re-running field validators of nested models.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections import OrderedDict
from collections.abc import Sequence

from pydantic_core import from_json, to_json

from motadata_ai.domain.guardrails.schema import ResponseSchema, schema_fingerprint
from motadata_ai.domain.values import keys
from motadata_ai.domain.values.llm import (
    ChatRequest,
    ChatResponse,
    EmbeddingResponse,
    Message,
    StreamChunk,
    ToolCall,
    Usage,
)
from motadata_ai.domain.values.trusted import trusted

CACHE_FORMAT = 1


def digest(data: bytes) -> str:
    """A short hex digest of ``data`` (BLAKE2b, 128 bits)."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def request_bytes(request: ChatRequest, *, without_messages: bool = False) -> bytes:
    """The request as canonical JSON: every field that changes the output, dict keys sorted."""
    if without_messages:
        request = request.model_copy(update={"messages": ()})
    if request.extra or request.response_format or any(t.parameters for t in request.tools):
        return json.dumps(request.model_dump(mode="json"), sort_keys=True, separators=(",", ":")).encode()
    return to_json(request)


@functools.lru_cache(maxsize=4096)
def _key_prefix(tenant_id: str, kind: str) -> str:
    """``{tenant}:gw:<kind>:``: what :func:`keys.tenant_key` puts before a digest (the tenant
    validated once, not on every call; a hex digest needs no escaping)."""
    return keys.tenant_key(tenant_id, keys.GATEWAY, kind, "-")[:-1]


def chat_key(tenant_id: str, request: ChatRequest, *, variant: str = "") -> str:
    """The tenant-scoped cache key of a chat request (``variant`` adds guardrail level, schema ...)."""
    data = request_bytes(request)
    if variant:
        data += variant.encode()
    return _key_prefix(tenant_id, "chat") + digest(data)


def embedding_key(tenant_id: str, model: str, texts: Sequence[str]) -> str:
    """The tenant-scoped cache key of an embedding request."""
    return _key_prefix(tenant_id, "emb") + digest(to_json([model, list(texts)]))


def schema_variant(level: str, schema: ResponseSchema | None, user_id: str | None = None) -> str:
    """The part of the key that depends on the call's guardrails (and, for an answer cached per
    user, on the user) rather than on the request."""
    variant = level if schema is None else level + digest(schema_fingerprint(schema).encode())
    if user_id:
        variant += "|user:" + digest(user_id.encode())
    return variant


def encode_chat(response: ChatResponse, chunks: Sequence[str] | None = None) -> bytes:
    """The cached value of a completion (and the stream's text pieces, to replay it as a stream)."""
    return to_json({"v": CACHE_FORMAT, "r": response, "c": chunks})


def decode_chat(data: bytes) -> tuple[ChatResponse, list[str] | None] | None:
    """A cached completion marked ``cached=True``, or ``None`` when the value is not one."""
    try:
        value = from_json(data)
        if value.get("v") != CACHE_FORMAT:
            return None
        raw = value["r"]
        message = raw["message"]
        tool_calls = tuple(trusted(ToolCall, **call) for call in message.get("tool_calls") or ())
        response = trusted(
            ChatResponse,
            id=raw["id"],
            model=raw["model"],
            provider=raw.get("provider", ""),
            message=trusted(
                Message,
                role=message["role"],
                content=message.get("content"),
                tool_calls=tool_calls,
                tool_call_id=message.get("tool_call_id"),
                name=message.get("name"),
            ),
            finish_reason=raw.get("finish_reason"),
            usage=trusted(Usage, **raw.get("usage", {})),
            cost_usd=raw.get("cost_usd", 0.0),
            cached=True,
            latency_ms=0.0,
        )
        chunks = value.get("c")
        return response, chunks
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def encode_embeddings(
    vectors: Sequence[Sequence[float]], model: str, input_tokens: int, cost: float
) -> bytes:
    """The cached value of an embedding call."""
    return to_json({"v": CACHE_FORMAT, "m": model, "e": vectors, "t": input_tokens, "usd": cost})


def decode_embeddings(data: bytes) -> tuple[str, tuple[tuple[float, ...], ...], int, float] | None:
    """``(model, vectors, input_tokens, cost)`` of a cached embedding call, or ``None``."""
    try:
        value = from_json(data)
        if value.get("v") != CACHE_FORMAT:
            return None
        vectors = tuple(tuple(v) for v in value["e"])
        return value["m"], vectors, int(value["t"]), float(value["usd"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def embedding_response(data: bytes, *, cached: bool) -> EmbeddingResponse | None:
    """The embedding answer stored as ``data`` (:func:`encode_embeddings`), marked ``cached``;
    ``None`` when the value is not one."""
    decoded = decode_embeddings(data)
    if decoded is None:
        return None
    model, vectors, tokens, cost = decoded
    return trusted(
        EmbeddingResponse,
        model=model,
        vectors=vectors,
        usage=trusted(Usage, input_tokens=tokens, output_tokens=0),
        cost_usd=cost,
        cached=cached,
    )


def replay(response: ChatResponse, chunks: Sequence[str] | None) -> list[StreamChunk]:
    """The stream chunks that replay a cached completion."""
    pieces = list(chunks) if chunks else ([response.text] if response.text else [])
    out = [
        trusted(StreamChunk, delta=piece, tool_calls=(), finish_reason=None, usage=None) for piece in pieces
    ]
    out.append(
        trusted(
            StreamChunk,
            delta="",
            tool_calls=response.message.tool_calls,
            finish_reason=response.finish_reason,
            usage=response.usage,
        )
    )
    return out


def prompt_text(request: ChatRequest) -> str:
    """The text a semantic cache compares: every message's role and content."""
    return "\n".join(f"{m.role}: {m.content or ''}" for m in request.messages)


class SemanticIndex:
    """Per tenant and request shape, recent prompt vectors and the exact cache key of their answer.

    Bounded to ``max_entries`` per tenant (least recently used dropped). Lives in the process; the
    answers it points to live in the cache, so a vanished answer is simply a miss.
    """

    def __init__(self, *, max_entries: int = 1000) -> None:
        self.max_entries = max_entries
        self._tenants: dict[str, OrderedDict[str, tuple[str, tuple[float, ...]]]] = {}

    @staticmethod
    def shape(request: ChatRequest, variant: str) -> str:
        """Everything but the messages: only requests of one shape may answer each other."""
        return digest(request_bytes(request, without_messages=True) + variant.encode())

    def add(self, tenant_id: str, shape: str, key: str, vector: Sequence[float]) -> None:
        """Remember that the prompt ``vector`` was answered under ``key``."""
        entries = self._tenants.setdefault(tenant_id, OrderedDict())
        entries[key] = (shape, tuple(vector))
        entries.move_to_end(key)
        while len(entries) > self.max_entries:
            entries.popitem(last=False)

    def nearest(self, tenant_id: str, shape: str, vector: Sequence[float], threshold: float) -> str | None:
        """The key of the most similar prompt of this tenant and shape at or above ``threshold``."""
        entries = self._tenants.get(tenant_id)
        if not entries:
            return None
        norm = math.sqrt(sum(v * v for v in vector)) or 1.0
        best_key, best = None, threshold
        for key, (entry_shape, other) in entries.items():
            if entry_shape != shape or len(other) != len(vector):
                continue
            other_norm = math.sqrt(sum(v * v for v in other)) or 1.0
            score = sum(a * b for a, b in zip(vector, other, strict=True)) / (norm * other_norm)
            if score >= best:
                best_key, best = key, score
        if best_key is not None:
            entries.move_to_end(best_key)
        return best_key

    def forget(self, tenant_id: str, key: str) -> bool:
        """Drop one entry (its answer is gone)."""
        return self._tenants.get(tenant_id, OrderedDict()).pop(key, None) is not None
