"""Argument checks of the RAG calls: a bad question, mode, ``top_k``, filter or conversation id is
refused with a :class:`~motadata_ai.domain.values.errors.ValidationError` naming the field, before
any model call is paid for."""

from __future__ import annotations

from dataclasses import dataclass

from motadata_ai.domain.retrieval.config import MAX_TOP_K, RAGConfig
from motadata_ai.domain.retrieval.search import SEARCH_MODES, SearchMode
from motadata_ai.domain.values.base import check_text
from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.domain.values.vectors import MetadataFilter, check_filters

MAX_CONVERSATION_ID_LENGTH = 256


@dataclass(frozen=True)
class SearchArguments:
    """A search's checked arguments: the stripped question, the mode, how many chunks."""

    question: str
    mode: SearchMode
    top_k: int


def check_search(
    question: object, *, mode: str, top_k: int | None, filters: MetadataFilter | None, config: RAGConfig
) -> SearchArguments:
    """The checked arguments of a search (``top_k=None``: the configured one)."""
    checked = SearchArguments(
        question=check_question(question, max_chars=config.max_query_chars),
        mode=check_mode(mode),
        top_k=check_top_k(config.top_k if top_k is None else top_k),
    )
    check_filters(filters)
    return checked


def check_question(question: object, *, max_chars: int) -> str:
    """The question stripped: a non-empty string of valid Unicode of at most ``max_chars`` characters."""
    if not isinstance(question, str):
        raise ValidationError(f"question must be a string, got {type(question).__name__}", field="question")
    if not question.strip():
        raise ValidationError("question must not be empty", field="question")
    check_text(question, "question")
    if len(question) > max_chars:
        raise ValidationError(
            f"question is {len(question)} characters long; at most {max_chars} are allowed (max_query_chars)",
            field="question",
            length=len(question),
            max_length=max_chars,
        )
    return question.strip()


def check_mode(mode: str) -> SearchMode:
    """``mode`` when it is one of :data:`SEARCH_MODES`."""
    if mode not in SEARCH_MODES:
        raise ValidationError(f"mode must be one of {', '.join(SEARCH_MODES)}; got {mode!r}", field="mode")
    return mode  # type: ignore[return-value]


def check_top_k(value: object) -> int:
    """``value`` when it is an integer in ``1..MAX_TOP_K``."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TOP_K:
        raise ValidationError(f"top_k must be an integer in 1..{MAX_TOP_K}, got {value!r}", field="top_k")
    return value


def check_conversation_id(conversation_id: object) -> None:
    """``None`` or a string of 1..256 characters."""
    if conversation_id is not None and (
        not isinstance(conversation_id, str) or not 0 < len(conversation_id) <= MAX_CONVERSATION_ID_LENGTH
    ):
        raise ValidationError(
            f"conversation_id must be 1..{MAX_CONVERSATION_ID_LENGTH} characters", field="conversation_id"
        )

