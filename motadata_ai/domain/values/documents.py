"""Value types of retrieval: documents and their versions, ingest reports, sources and answers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import ConfigDict, Field, computed_field

from motadata_ai.domain.values.base import ValueModel
from motadata_ai.domain.values.tenancy import TenantId

MAX_DOCUMENT_ID_LENGTH = 512


def _now() -> datetime:
    return datetime.now(UTC)


class Document(ValueModel):
    """A document to ingest: text plus metadata, optionally owned by a user.

    ``id`` is the stable identity across versions (a file's resolved path when parsed from a file);
    ``text`` is the parsed plain text (Markdown kept as Markdown, so headings guide chunking).
    """

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1, max_length=MAX_DOCUMENT_ID_LENGTH)
    text: str
    title: str = ""
    source: str = ""
    format: str = "text"
    user_id: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class StoredDocument(ValueModel):
    """One version of a tenant's document as the document store keeps it."""

    model_config = ConfigDict(frozen=True)

    tenant_id: TenantId
    document_id: str
    version: int = Field(ge=1)
    content_hash: str
    title: str = ""
    source: str = ""
    format: str = "text"
    user_id: str | None = None
    text: str = ""
    metadata: dict[str, Any] = Field(default_factory=dict)
    chunk_ids: tuple[str, ...] = ()
    token_count: int = 0
    created_at: datetime = Field(default_factory=_now)


class ConversationTurn(ValueModel):
    """One question and its answer in a conversation, with the cited chunk ids."""

    model_config = ConfigDict(frozen=True)

    tenant_id: TenantId
    conversation_id: str = Field(min_length=1, max_length=256)
    user_id: str | None = None
    question: str
    answer: str
    rewritten_query: str | None = None
    source_ids: tuple[str, ...] = ()
    created_at: datetime = Field(default_factory=_now)


class IngestFailure(ValueModel):
    """A source that could not be ingested, and why (the error's type and message)."""

    model_config = ConfigDict(frozen=True)

    source: str
    error: str
    message: str


class IngestedDocument(ValueModel):
    """What ingesting one document did: ``action`` is ``created``, ``updated`` or ``unchanged``."""

    model_config = ConfigDict(frozen=True)

    document_id: str
    title: str
    source: str
    version: int
    action: str
    chunks: int = 0


class IngestReport(ValueModel):
    """The outcome of one ``ingest`` call: documents written, skipped as unchanged, and failures."""

    model_config = ConfigDict(frozen=True)

    tenant_id: TenantId
    documents: tuple[IngestedDocument, ...] = ()
    failures: tuple[IngestFailure, ...] = ()
    chunks: int = 0
    embedding_tokens: int = 0
    cost_usd: float = 0.0

    @property
    def created(self) -> int:
        """Documents seen for the first time."""
        return sum(1 for d in self.documents if d.action == "created")

    @property
    def updated(self) -> int:
        """Documents whose content changed (a new version replaced the old chunks)."""
        return sum(1 for d in self.documents if d.action == "updated")

    @property
    def unchanged(self) -> int:
        """Documents skipped because their content hash matched the stored version."""
        return sum(1 for d in self.documents if d.action == "unchanged")

    @property
    def ok(self) -> bool:
        """No source failed."""
        return not self.failures


class Source(ValueModel):
    """A retrieved chunk with its document, position and scores.

    ``score`` is the score of the retrieval mode (cosine for dense, normalised fused score for
    hybrid, full-text rank for keyword, the re-ranker's score after re-ranking); ``dense_score``
    is the chunk's cosine similarity to the query when known. ``citation`` is the ``[n]`` the
    chunk had in the prompt, and ``cited`` whether the answer cited it.
    """

    model_config = ConfigDict(frozen=True)

    chunk_id: str
    document_id: str
    title: str = ""
    source: str = ""
    chunk_index: int = 0
    version: int = 1
    text: str = ""
    score: float = 0.0
    dense_score: float | None = None
    keyword_score: float | None = None
    keyword_rank: int | None = None
    dense_rank: int | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    citation: int | None = None
    cited: bool = False


class RAGResponse(ValueModel):
    """An answer with the sources it was built from (``cited`` marks the ones it cites).

    ``input_tokens``, ``output_tokens`` and ``cost_usd`` are the sums of the usage records of the
    query's calls (the ledger records whose ``request_id`` is this ``request_id``).
    """

    model_config = ConfigDict(frozen=True)

    answer: str
    sources: tuple[Source, ...] = ()
    question: str = ""
    rewritten_query: str | None = None
    conversation_id: str | None = None
    model: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    trace_id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    mode: str = "hybrid"
    request_id: str | None = None

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens of every model call the answer took."""
        return self.input_tokens + self.output_tokens

    @property
    def cited_sources(self) -> tuple[Source, ...]:
        """The sources the answer cites, in citation order."""
        return tuple(s for s in self.sources if s.cited)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def answered(self) -> bool:
        """Whether the knowledge base answered: the answer cites at least one retrieved passage.
        A refusal ("I could not find the answer in the knowledge base.") cites none."""
        return any(s.cited for s in self.sources)


class UserDocumentsExport(ValueModel):
    """Everything stored for one user of a tenant: documents (every version) and conversation turns."""

    model_config = ConfigDict(frozen=True)

    tenant_id: TenantId
    user_id: str
    documents: tuple[StoredDocument, ...] = ()
    conversations: tuple[ConversationTurn, ...] = ()


class UserDocumentsDeletion(ValueModel):
    """What erasing one user's data removed."""

    model_config = ConfigDict(frozen=True)

    tenant_id: TenantId
    user_id: str
    document_ids: tuple[str, ...] = ()
    chunks: int = 0
    conversation_turns: int = 0
