"""Ports of retrieval's bookkeeping: document versions, conversation turns and document parsing.

Error tree of this module::

    ValidationError
    └── DocumentRejected            a source cannot become a document (``source`` names it)
        ├── UnsupportedDocumentType     file type without a parser
        │   └── ParserExtraMissing          its parser is an optional extra not installed
        ├── EmptyDocument               empty or whitespace-only text
        ├── DocumentTooLarge            over ``max_bytes`` (file size or extracted text)
        ├── UndecodableDocument         invalid UTF-8, binary garbage, broken PDF/Office file
        ├── UnsafeDocumentPath          not a regular file inside the ingested folder
        └── DocumentParseTimeout        parsing ran past ``timeout_seconds``
    NotFound
    └── DocumentNotFound            no such document / path
    ServiceError
    └── DocumentStoreError
        ├── DocumentStoreUnavailable    (also a StoreUnavailable; ``address`` masked;
        │                               ``commit_unknown`` when the COMMIT itself lost the server)
        └── VersionConflict             another writer stored that version first
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from motadata_ai.domain.values.documents import ConversationTurn, Document, StoredDocument
from motadata_ai.domain.values.errors import NotFound, ServiceError, StoreUnavailable, ValidationError
from motadata_ai.domain.values.parsing import ParseOptions
from motadata_ai.domain.values.tenancy import TenantContext
from motadata_ai.domain.values.vectors import VectorRecord
from motadata_ai.ports.health import HealthProbe
from motadata_ai.ports.vector_store import VectorStorePort


class DocumentRejected(ValidationError):
    """A source cannot be ingested; ``source`` names the file (or document id), ``field`` the input."""


class UnsupportedDocumentType(DocumentRejected):
    """No parser handles this file type; ``supported`` lists the suffixes that are handled."""


class EmptyDocument(DocumentRejected):
    """The document holds no text (empty or whitespace only)."""


class DocumentTooLarge(DocumentRejected):
    """The document is larger than ``max_bytes``; ``size`` says how large it is."""


class ParserExtraMissing(UnsupportedDocumentType):
    """The type's parser is an optional extra that is not installed.

    ``extra`` names the extra (``pip install 'motadata-ai-sdk[<extra>]'``), ``package`` the
    missing distribution.
    """


class UndecodableDocument(DocumentRejected):
    """The bytes are not valid text for the type: invalid UTF-8, binary garbage, a broken PDF."""


class UnsafeDocumentPath(DocumentRejected):
    """Not read: a FIFO, socket or device, or a symlink leading outside the ingested folder.

    ``reason`` says which (``not_regular_file``, ``outside_root``).
    """


class DocumentParseTimeout(DocumentRejected):
    """Parsing the file took longer than ``timeout_seconds`` and was abandoned."""


class DocumentNotFound(NotFound):
    """No document (or path) by that name for this tenant."""


class DocumentStoreError(ServiceError):
    """The document or conversation store failed."""


class DocumentStoreUnavailable(DocumentStoreError, StoreUnavailable):
    """The store cannot be reached; ``address`` names it with credentials masked.

    ``commit_unknown=True`` says the connection was lost while the COMMIT of a write was in
    flight: the version is then either wholly stored or wholly absent, and the caller cannot tell
    which until the server answers again (ingesting the same document again settles it).
    """


class VersionConflict(DocumentStoreError):
    """``version`` of ``document_id`` was already written (a concurrent ingest won the race)."""


class DocumentStorePort(HealthProbe):
    """Versions of each tenant's documents: content hash, text, owner and chunk ids.

    The newest version is the current one. A tenant never reads or deletes another tenant's
    documents through any method.
    """

    @abstractmethod
    async def get(self, tenant: TenantContext, document_id: str) -> StoredDocument | None:
        """The current version of ``document_id``, or ``None``."""

    @abstractmethod
    async def write_version(
        self,
        tenant: TenantContext,
        document: StoredDocument,
        chunks: Sequence[VectorRecord],
        *,
        vectors: VectorStorePort,
    ) -> StoredDocument:
        """Make ``document`` the current version, its ``chunks`` replacing the old ones, as one unit.

        The write model of retrieval: the document row, the version and its chunks (with their
        vectors, computed before the call) are written in **one transaction** of the store that
        holds both, serialised per ``(tenant, document_id)``; a failure or a crash at any
        instant leaves the previous version and its chunks exactly as they were. ``vectors`` is
        the vector store the chunks go to; it must be one the document store can write in the
        same transaction (the PostgreSQL stores on one :class:`PostgresDatabase`, the in-memory
        stores), else :class:`~motadata_ai.domain.values.errors.ConfigurationError`.

        ``document.version`` must be one more than the current version (1 for a new document),
        else :class:`VersionConflict` and nothing changes (compare-and-set). ``chunks`` must be
        exactly the records named by ``document.chunk_ids``, of this tenant, document and version.

        Why here and not on the vector store: the version is the unit of work (it decides which
        chunks are current and holds the compare-and-set), so its store owns the transaction and
        writes the chunks through the vector store it is paired with; the vector store alone
        keeps only :meth:`VectorStorePort.upsert` for records no document version owns.
        """

    @abstractmethod
    async def versions(self, tenant: TenantContext, document_id: str) -> list[StoredDocument]:
        """Every stored version of ``document_id``, oldest first (empty when unknown)."""

    @abstractmethod
    async def list(
        self, tenant: TenantContext, *, user_id: str | None = None, limit: int = 1000, offset: int = 0
    ) -> list[StoredDocument]:
        """Current versions of the tenant's documents (of ``user_id`` when given), by id."""

    @abstractmethod
    async def count(self, tenant: TenantContext, *, user_id: str | None = None) -> int:
        """How many documents the tenant (or the user) has."""

    @abstractmethod
    async def delete(
        self, tenant: TenantContext, document_id: str, *, vectors: VectorStorePort | None = None
    ) -> bool:
        """Delete every version of ``document_id``; ``False`` when there was none.

        With ``vectors`` (same pairing rule as :meth:`write_version`) the document's chunks are
        deleted in the same transaction, and ``False`` means there was neither a version nor a chunk.
        """


class ConversationStorePort(ABC):
    """The question/answer turns of each conversation, scoped to a tenant."""

    @abstractmethod
    async def append(self, tenant: TenantContext, turn: ConversationTurn) -> None:
        """Store one turn (``turn.tenant_id`` must be the tenant's)."""

    @abstractmethod
    async def history(
        self, tenant: TenantContext, conversation_id: str, *, limit: int = 10
    ) -> list[ConversationTurn]:
        """The last ``limit`` turns of the conversation, oldest first."""

    @abstractmethod
    async def user_turns(self, tenant: TenantContext, user_id: str) -> list[ConversationTurn]:
        """Every turn of ``user_id``, oldest first."""

    @abstractmethod
    async def delete_conversation(self, tenant: TenantContext, conversation_id: str) -> int:
        """Delete a conversation's turns; return how many."""

    @abstractmethod
    async def delete_user(self, tenant: TenantContext, user_id: str) -> int:
        """Delete every turn of ``user_id``; return how many."""

    @abstractmethod
    async def delete_turns_before(self, tenant: TenantContext, cutoff: datetime) -> int:
        """Delete the tenant's turns created before ``cutoff`` (retention); return how many."""


class DocumentParserPort(ABC):
    """Turns files into :class:`Document` values (plain text, Markdown, HTML, PDF, Office, ...).

    A file holds one document, or several: a spreadsheet or CSV export one per row, a JSON
    export one per record, an e-mail one for the message and one per attachment.
    """

    @abstractmethod
    def supported_suffixes(self) -> tuple[str, ...]:
        """File suffixes this parser handles (lower case, with the dot)."""

    @abstractmethod
    async def is_directory(self, path: str) -> bool:
        """Whether ``path`` is a directory (``False`` for a file or a missing path)."""

    @abstractmethod
    async def list_files(self, path: str) -> list[str]:
        """Absolute paths of the entries under ``path`` (itself when not a directory), sorted.

        Hidden entries are left out; nothing is opened. Entries that :meth:`parse` will refuse
        as :class:`UnsafeDocumentPath` (FIFOs, sockets, symlinks leading outside ``path``) are
        listed, so that the caller can report them. Raises :class:`DocumentNotFound` when
        ``path`` does not exist.
        """

    @abstractmethod
    async def parse(
        self,
        path: str,
        *,
        max_bytes: int,
        options: ParseOptions | None = None,
        root: str | None = None,
        user_id: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> list[Document]:
        """Read and parse one file into its documents; raise a :class:`DocumentRejected` naming it.

        Only a regular file is read, never a FIFO or device, and, when ``root`` (the folder it
        was listed from) is given, only one whose resolved path is inside ``root``. ``max_bytes``
        bounds the file's size and, as it is extracted, the text of all its documents together;
        parsing stops as soon as either is exceeded (:class:`DocumentTooLarge`), or when it runs
        past ``options.timeout_seconds`` (:class:`DocumentParseTimeout`).
        """
