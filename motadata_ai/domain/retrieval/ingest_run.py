"""The state of one ingest: what a changed document's next version holds on its way through the
steps (:class:`Prepared`, :class:`EmbeddedBatch`) and the running counts that end as the
:class:`~motadata_ai.domain.values.documents.IngestReport` (:class:`IngestRun`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from motadata_ai.domain.retrieval.chunking import Chunk
from motadata_ai.domain.retrieval.usage import NO_USAGE, ModelUsage
from motadata_ai.domain.values.documents import (
    Document,
    IngestedDocument,
    IngestFailure,
    IngestReport,
    StoredDocument,
)
from motadata_ai.domain.values.errors import MotadataError

__all__ = ["EmbeddedBatch", "IngestRun", "Prepared", "ProgressCallback"]

ProgressCallback = Callable[[int, int, str], None]
"""``progress(done, total, source)``: called once before ingesting (done=0) and after each source."""


@dataclass
class Prepared:
    """A changed document's next version, chunked (and, once embedded, with its vectors)."""

    document: Document
    stored: StoredDocument
    chunks: list[Chunk]
    previous: StoredDocument | None
    vectors: list[tuple[float, ...]] = field(default_factory=list)
    unchanged: bool = False  # a concurrent ingest stored this very content first

    @property
    def action(self) -> str:
        """``created``, ``updated`` or ``unchanged`` (a concurrent ingest stored it first)."""
        if self.unchanged:
            return "unchanged"
        return "updated" if self.previous else "created"


@dataclass
class IngestRun:
    """The running counts of one ingest; each finished source moves ``progress`` on."""

    total: int
    single: bool
    progress: ProgressCallback | None
    documents: list[IngestedDocument] = field(default_factory=list)
    failures: list[IngestFailure] = field(default_factory=list)
    done: int = 0
    chunks: int = 0
    usage: ModelUsage = NO_USAGE

    def stored(self, name: str, stored: StoredDocument, action: str) -> None:
        """``stored`` is the document's current version (``action``: created/updated/unchanged)."""
        self.documents.append(
            IngestedDocument(
                document_id=stored.document_id,
                title=stored.title,
                source=stored.source,
                version=stored.version,
                action=action,
                chunks=len(stored.chunk_ids),
            )
        )
        self._advance(name)

    def failed(self, name: str, error: MotadataError) -> None:
        """The source ``name`` could not be ingested."""
        self.failures.append(IngestFailure(source=name, error=type(error).__name__, message=str(error)))
        self._advance(name)

    def _advance(self, name: str) -> None:
        self.done += 1
        if self.progress:
            self.progress(self.done, self.total, name)

    def report(self, tenant_id: str) -> IngestReport:
        """The run as the caller sees it."""
        return IngestReport(
            tenant_id=tenant_id,
            documents=tuple(self.documents),
            failures=tuple(self.failures),
            chunks=self.chunks,
            embedding_tokens=self.usage.input_tokens,
            cost_usd=self.usage.cost_usd,
        )


@dataclass
class EmbeddedBatch:
    """Pending versions with their vectors set, what embedding them spent, and the error if it failed."""

    batch: list[Prepared]
    usage: ModelUsage
    error: MotadataError | None = None
