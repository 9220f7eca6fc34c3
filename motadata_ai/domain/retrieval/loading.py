"""Loading: what an ingest was given (paths, folders, Documents) → checked Documents, one by one.

The folder walk lists a directory through the parser port (which reports unsafe entries as
failures), a file is parsed into one or more Documents (rows of a table, records of a JSON
export, an e-mail's attachments), and every Document is checked (size, NUL characters, valid
Unicode, not empty) before anything is chunked or embedded.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from motadata_ai.domain.values.documents import Document
from motadata_ai.domain.values.errors import ConfigurationError, MotadataError, ValidationError
from motadata_ai.domain.values.parsing import ParseOptions
from motadata_ai.ports.documents import (
    DocumentParserPort,
    DocumentRejected,
    DocumentTooLarge,
    EmptyDocument,
    UndecodableDocument,
)

IngestSource = str | Path | Document | Sequence[str | Path | Document]
"""What :meth:`RAGSystem.ingest` takes: a file, a directory, a Document, or a list of them."""
Item = tuple[str | Document, str | None]
"""A source to load and the folder it was listed from (``None`` for a named file or a Document)."""
Loaded = tuple[str, Document | MotadataError, int]
"""``(name, the document or its loading error, extra documents its source adds)``."""


class DocumentLoader:
    """Expands ingest sources into items and loads each into checked Documents (see the module doc)."""

    def __init__(self, *, parser: DocumentParserPort | None, max_document_bytes: int) -> None:
        self._parser = parser
        self.max_document_bytes = max_document_bytes

    def require_parser(self) -> DocumentParserPort:
        """The parser, or :class:`ConfigurationError` when files are ingested without one."""
        if self._parser is None:
            raise ConfigurationError("ingesting files needs a parser (parser=...)", field="parser")
        return self._parser

    async def is_single(self, source: IngestSource) -> bool:
        """Whether ``source`` is one Document or one file (its failure raises instead of being reported)."""
        if isinstance(source, Document):
            return True
        return isinstance(source, str | Path) and not await self.require_parser().is_directory(str(source))

    async def expand(self, source: IngestSource) -> list[Item]:
        """Every item ``source`` names, directories listed."""
        if isinstance(source, Document):
            return [(source, None)]
        if isinstance(source, str | Path):
            return await self._list(str(source))
        if not isinstance(source, Sequence):
            raise ValidationError(
                f"cannot ingest a {type(source).__name__}: pass a path, a Document or a list of them",
                field="source",
            )
        items: list[Item] = []
        for item in source:
            if isinstance(item, Document):
                items.append((item, None))
            elif isinstance(item, str | Path):
                items.extend(await self._list(str(item)))
            else:
                raise ValidationError(
                    f"cannot ingest a {type(item).__name__}: pass paths or Documents", field="source"
                )
        return items

    async def _list(self, path: str) -> list[Item]:
        parser = self.require_parser()
        root = path if await parser.is_directory(path) else None
        return [(entry, root) for entry in await parser.list_files(path)]

    async def load_each(
        self,
        items: list[Item],
        *,
        user_id: str | None,
        metadata: dict[str, Any] | None,
        parsing: ParseOptions,
    ) -> AsyncIterator[Loaded]:
        """``(name, document or its loading error, extra documents its source adds)`` per document."""
        for item, root in items:
            name = str(item.source or item.id) if isinstance(item, Document) else str(item)
            try:
                documents = await self._load(
                    item, root=root, user_id=user_id, metadata=metadata, parsing=parsing
                )
            except MotadataError as error:
                yield name, error, 0
                continue
            for index, document in enumerate(documents):
                yield str(document.source or document.id), document, len(documents) - 1 if index == 0 else 0

    async def _load(
        self,
        item: str | Document,
        *,
        root: str | None,
        user_id: str | None,
        metadata: dict[str, Any] | None,
        parsing: ParseOptions,
    ) -> list[Document]:
        if isinstance(item, Document):
            document = item
            if user_id is not None and document.user_id is None:
                document = document.model_copy(update={"user_id": user_id})
            if metadata:
                document = document.model_copy(update={"metadata": {**metadata, **document.metadata}})
            self.check(document)
            return [document]
        try:
            documents = await self.require_parser().parse(
                item,
                max_bytes=self.max_document_bytes,
                options=parsing,
                root=root,
                user_id=user_id,
                metadata=metadata,
            )
        except DocumentRejected:
            raise
        except ValidationError as error:  # the file's text does not make a valid Document
            raise UndecodableDocument(
                f"{item}: {error}", source=str(item), field=error.fields.get("field") or "text"
            ) from error
        for document in documents:
            self.check(document)
        return documents

    def check(self, document: Document) -> None:
        """Refuse a document too large, with NUL characters, invalid Unicode, or no text."""
        name = document.source or document.id
        size = len(document.text.encode("utf-8", errors="surrogatepass"))
        if size > self.max_document_bytes:
            raise DocumentTooLarge(
                f"{name}: {size} bytes is over the limit of {self.max_document_bytes} bytes "
                "(max_document_bytes)",
                source=name,
                field="max_document_bytes",
                size=size,
                max_bytes=self.max_document_bytes,
            )
        if "\x00" in document.text:
            raise UndecodableDocument(
                f"{name}: text holds NUL characters (binary data?)", source=name, field="text"
            )
        try:
            document.text.encode("utf-8")
        except UnicodeEncodeError as error:
            raise UndecodableDocument(
                f"{name}: text holds characters that are not valid Unicode ({error.reason})",
                source=name,
                field="text",
            ) from error
        if not document.text.strip():
            raise EmptyDocument(
                f"{name}: the document is empty or only whitespace", source=name, field="text"
            )
