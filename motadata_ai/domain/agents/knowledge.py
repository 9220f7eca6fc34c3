"""The built-in ``knowledge_search`` tool: searches a tenant's RAG store and returns passages.

Results use the shared passages format, one per line: ``[n] <title>: <text>``, which the local
extractive provider (and any model) reads and cites. The tool declares its role
(:data:`~motadata_ai.domain.values.llm.KNOWLEDGE_SEARCH_ROLE`), so a model that picks the search
tool by purpose finds it whatever it is named (``knowledge_search_tool(rag, name="kb_lookup")``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from motadata_ai.domain.agents.tools import Tool
from motadata_ai.domain.retrieval.context import passage_text
from motadata_ai.domain.values.documents import Source
from motadata_ai.domain.values.llm import KNOWLEDGE_SEARCH_ROLE
from motadata_ai.domain.values.passages import Passage, format_passages

KNOWLEDGE_SEARCH = "knowledge_search"
NO_PASSAGES = "No passages in the knowledge base match the query."


class Retriever(Protocol):
    """What the tool needs from a RAG system (``RAGSystem.retrieve`` fits)."""

    async def retrieve(
        self,
        question: str,
        *,
        top_k: int | None = None,
        mode: str = "hybrid",
        filters: dict[str, Any] | None = None,
        guarded: bool = False,
    ) -> Sequence[Source]:
        """The best chunks for ``question``, best first (``guarded``: as a prompt may quote them)."""
        ...


def format_sources(sources: Sequence[Source], *, max_chars: int = 1200) -> str:
    """Sources as passages, ``[n] <title>: <text>`` one per line (text capped at ``max_chars``)."""
    passages = []
    for number, source in enumerate(sources, start=1):
        title = source.title or source.document_id
        # The same prose as the RAG prompt's passages: headings lead into their text, list
        # items and table rows become sentences.
        text = passage_text(source.text, title=title)
        if len(text) > max_chars:
            text = text[:max_chars].rstrip() + "…"
        passages.append(Passage(index=number, title=title, text=text or "(empty)"))
    return format_passages(passages)


def knowledge_search_tool(
    retriever: Retriever,
    *,
    top_k: int | None = None,
    mode: str = "hybrid",
    filters: dict[str, Any] | None = None,
    timeout: float | None = None,
    name: str = KNOWLEDGE_SEARCH,
) -> Tool:
    """The knowledge-search tool over ``retriever`` (one tenant's RAG system), named ``name``;
    ``top_k`` ``None`` searches with the retriever's own ``top_k`` (``RAGConfig.top_k``)."""

    async def knowledge_search(query: str) -> str:
        """Search the knowledge base (runbooks, articles, past resolutions) for passages about a topic.

        Args:
            query: What to look for, in plain words.
        """
        # guarded per passage: one planted chunk is dropped, not the whole tool result
        sources = await retriever.retrieve(query, top_k=top_k, mode=mode, filters=filters, guarded=True)
        return format_sources(sources) if sources else NO_PASSAGES

    return Tool.from_function(knowledge_search, name=name, timeout=timeout, role=KNOWLEDGE_SEARCH_ROLE)
