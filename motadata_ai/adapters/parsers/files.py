"""FileDocumentParser: files and folders to :class:`Document` values, with clear refusals.

Types (see :data:`~motadata_ai.adapters.parsers.formats.FORMATS`): plain text, Markdown, HTML
(the article as Markdown, boilerplate dropped), PDF (pypdf), Word, PowerPoint and Excel
(python-docx, python-pptx, openpyxl: the ``docs`` extra), CSV/TSV, e-mail (``.eml``; Outlook
``.msg`` through extract-msg, ``docs`` extra) and JSON/JSON-lines exports. A table or JSON
export gives one document per row or record; an e-mail one for the message and one per
attachment.

Nothing is trusted: only regular files are read, and in a folder only those whose resolved
path stays inside it (:mod:`~motadata_ai.adapters.parsers.walk`); the file size and then the
extracted text are bounded by ``max_bytes`` and parsing stops as soon as either is passed; a
parse that runs past ``options.timeout_seconds`` is abandoned
(:class:`~motadata_ai.adapters.parsers.budget.ParseBudget`). Every refusal is a
:class:`~motadata_ai.ports.documents.DocumentRejected` whose message and ``source`` name the file.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from motadata_ai.adapters.parsers.budget import ParseBudget
from motadata_ai.adapters.parsers.formats import FORMATS, extract, kind_of
from motadata_ai.adapters.parsers.source import ParsedFile
from motadata_ai.adapters.parsers.walk import check_path, list_entries, read_regular_file
from motadata_ai.domain.values.documents import Document
from motadata_ai.domain.values.parsing import ParseOptions
from motadata_ai.ports.documents import DocumentParserPort, EmptyDocument, UnsupportedDocumentType


class FileDocumentParser(DocumentParserPort):
    """Parses files by suffix (see the module doc); ``list_files`` walks folders, skipping hidden entries."""

    def supported_suffixes(self) -> tuple[str, ...]:
        """The handled suffixes."""
        return tuple(FORMATS)

    async def is_directory(self, path: str) -> bool:
        """Whether ``path`` is a directory."""
        return await asyncio.to_thread(os.path.isdir, path)

    async def list_files(self, path: str) -> list[str]:
        """Absolute paths of the entries under ``path`` (or ``path`` itself), sorted; nothing is opened."""
        return await asyncio.to_thread(list_entries, path)

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
        """Read and parse one file in a worker thread, abandoned at ``options.timeout_seconds``."""
        options = options or ParseOptions()
        budget = ParseBudget(path, max_bytes=max_bytes, timeout_seconds=options.timeout_seconds)
        worker = asyncio.to_thread(_parse, path, root, budget, options, user_id, metadata or {})
        try:
            return await asyncio.wait_for(worker, timeout=options.timeout_seconds)
        except TimeoutError:
            budget.abandon()  # the thread stops at its next check
            raise budget.timeout_error() from None


def _parse(
    path: str,
    root: str | None,
    budget: ParseBudget,
    options: ParseOptions,
    user_id: str | None,
    metadata: dict[str, Any],
) -> list[Document]:
    name = Path(path).name
    check_path(path, root=root, max_bytes=budget.max_bytes)  # refuse FIFOs and escapes before anything else
    kind = kind_of(name)
    if kind is None:
        suffix = Path(path).suffix.lower()
        raise UnsupportedDocumentType(
            f"{path}: unsupported file type {suffix or '(no suffix)'!r}; supported: {', '.join(FORMATS)}",
            source=path,
            field="path",
            suffix=suffix,
            supported=tuple(FORMATS),
        )
    data = read_regular_file(path, root=root, max_bytes=budget.max_bytes)
    file = ParsedFile(
        id=os.path.abspath(path),
        name=name,
        kind=kind,
        data=data,
        budget=budget,
        options=options,
        user_id=user_id,
        metadata=metadata,
    )
    documents = extract(file)
    for document in documents:
        if not document.text.strip():
            raise EmptyDocument(f"{path}: the file holds no text", source=path, field="text")
    return documents
