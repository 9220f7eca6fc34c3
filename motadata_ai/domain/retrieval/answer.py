"""Answering: the guarded passages and the conversation → one chat call → the answer with its citations.

:class:`Answerer` builds the prompt (the instructions, the guarded passages numbered under the
token budget, a flag on the ones the guardrails flagged, the earlier turns, then the question),
makes one chat call through the gateway and maps the answer's ``[n]`` citations back to the
sources. With no passages it answers :data:`NO_CONTEXT_ANSWER` without calling a model. The
:class:`Answer` carries what the chat call spent. An answer that uses a user's own documents or
conversation is cached for that user alone (:func:`user_scoped`).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from motadata_ai.domain.retrieval.context import build_context, mark_cited
from motadata_ai.domain.retrieval.gateway import GatewayLike
from motadata_ai.domain.retrieval.tokens import TokenCounter
from motadata_ai.domain.retrieval.usage import NO_USAGE, ModelUsage
from motadata_ai.domain.values.documents import ConversationTurn, Source
from motadata_ai.domain.values.llm import ChatRequest, Message
from motadata_ai.domain.values.passages import NOT_ANSWERED
from motadata_ai.domain.values.tenancy import TenantContext

NO_CONTEXT_ANSWER = NOT_ANSWERED
"""The answer when no passage was found (the extractive model refuses in the same words)."""


def user_scoped(sources: Sequence[Source], history: Sequence[ConversationTurn]) -> bool:
    """Whether an answer is the asking user's own: built from a document that a user owns (its
    chunks carry the owner's ``user_id``) or after turns of a conversation. Such an answer is
    cached per user; one built only from the tenant's shared documents is shared in the cache."""
    return bool(history) or any(source.metadata.get("user_id") for source in sources)


@dataclass(frozen=True)
class Answer:
    """The answer's text, the sources as numbered in the prompt (``cited`` set), what the call spent."""

    text: str
    sources: tuple[Source, ...]
    usage: ModelUsage


class Answerer:
    """Answers a question from guarded passages through the gateway (see the module doc)."""

    def __init__(
        self,
        *,
        gateway: GatewayLike,
        tenant: TenantContext,
        llm_model: str,
        count_tokens: TokenCounter,
        max_context_tokens: int,
        instructions: str,
    ) -> None:
        self._gateway = gateway
        self.tenant = tenant
        self.llm_model = llm_model
        self.count_tokens = count_tokens
        self.max_context_tokens = max_context_tokens
        self.instructions = instructions

    async def answer(
        self,
        question: str,
        sources: Sequence[Source],
        *,
        flagged: Collection[str] = (),
        history: Sequence[ConversationTurn] = (),
        user_id: str | None = None,
    ) -> Answer:
        """Answer ``question`` from ``sources`` (already guarded), after the ``history`` turns,
        for ``user_id``: an answer built from a user's own documents or conversation is cached for
        that user only (see :func:`user_scoped`); every answer is listed in the user's cache index."""
        if not sources:
            return Answer(text=NO_CONTEXT_ANSWER, sources=(), usage=NO_USAGE)
        context = build_context(
            sources,
            budget_tokens=self.max_context_tokens,
            count_tokens=self.count_tokens,
            instructions=self.instructions,
            flagged=flagged,
        )
        request = ChatRequest(
            model=self.llm_model,
            messages=self.messages(context.system_prompt, question, history),
            temperature=0.0,
        )
        response = await self._gateway.generate(
            request,
            tenant_id=self.tenant,
            purpose="answer",
            user_id=user_id,
            cache_per_user=user_scoped(context.sources, history),
        )
        text = response.text.strip()
        return Answer(
            text=text, sources=mark_cited(context.sources, text), usage=ModelUsage.of_chat(response)
        )

    @staticmethod
    def messages(
        system_prompt: str, question: str, history: Sequence[ConversationTurn]
    ) -> tuple[Message, ...]:
        """The system prompt, each earlier turn as a user and an assistant message, then the question."""
        messages: list[Message] = [Message(role="system", content=system_prompt)]
        for turn in history:
            messages.append(Message(role="user", content=turn.question))
            messages.append(Message(role="assistant", content=turn.answer))
        messages.append(Message(role="user", content=question))
        return tuple(messages)
