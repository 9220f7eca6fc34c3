"""Why a gateway call is made: the user request it serves and the purpose inside that request.

A *request* is what a user asked for once: a gateway ``generate``/``stream`` made directly, a RAG
query, one step of an agent task. Use-cases open a request with ``gateway.request(tenant,
operation=...)``; the gateway calls made inside that block (the query embedding, a rewrite, a
re-rank, a memory recall, the answer itself) are made *on its behalf*: they carry its
:class:`CallOrigin` (set here in a context variable, so nested use-cases see it too) and their
``purpose`` says what they are for. The rate limit counts the request once, at its start.

The origin also carries the user the request is made for (so every inner call is attributed to
them, whoever makes it) and the request's :class:`RequestUsage`, which sums the usage records of
its calls (what the request's response reports as its cost).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Literal

from motadata_ai.domain.values.request_usage import RequestUsage

__all__ = ["CallOrigin", "Purpose", "RequestUsage", "acting_for", "current_origin", "new_request_id"]

Purpose = Literal[
    "request",
    "answer",
    "query_embedding",
    "query_rewrite",
    "rerank",
    "memory_recall",
    "memory_write",
    "agent_step",
    "tool",
    "classification",
    "ingestion",
    "semantic_cache",
    "internal",
]


_PROCESS = uuid.uuid4().hex[:20]  # request ids are unique across processes by this prefix
_SEQUENCE = itertools.count()


def new_request_id() -> str:
    """A fresh request id (32 hex digits: this process's random prefix and a sequence number)."""
    return f"{_PROCESS}{next(_SEQUENCE) & 0xFFFFFFFFFFFF:012x}"


@dataclass(frozen=True, slots=True)
class CallOrigin:
    """The user request a call belongs to: its id, tenant and use-case operation
    (``rag.query``, ``agent.step``, ``unified_query``, ``gateway.generate`` ...), the
    conversation it is a turn of (a RAG conversation id, an agent's session), if any, the user it
    is made for (when known) and, for a request the gateway opened, the usage of its calls so far."""

    request_id: str
    tenant_id: str
    operation: str
    purpose: Purpose = "request"
    conversation_id: str | None = None
    user_id: str | None = None
    usage: RequestUsage | None = field(default=None, compare=False, repr=False)

    def for_purpose(self, purpose: Purpose) -> CallOrigin:
        """The same request, for another purpose."""
        return self if purpose == self.purpose else replace(self, purpose=purpose)


_CURRENT: ContextVar[CallOrigin | None] = ContextVar("motadata_call_origin", default=None)


def current_origin() -> CallOrigin | None:
    """The request the running code acts for, if any."""
    return _CURRENT.get()


@contextmanager
def acting_for(origin: CallOrigin) -> Iterator[CallOrigin]:
    """Run the block on behalf of ``origin`` (tasks created inside inherit it)."""
    token = _CURRENT.set(origin)
    try:
        yield origin
    finally:
        _CURRENT.reset(token)
