"""PDF through pypdf, page by page, stopping as soon as a limit is passed.

Before a page is parsed its content stream is decompressed (pypdf caps that itself) and a
stream larger than ``max_document_bytes`` is refused, so a few KiB of Flate that expand to tens
of MiB of text operators are never parsed; while a page's text is extracted, a visitor counts
every piece of text against the limit and checks the deadline before every operator.
"""

from __future__ import annotations

import io
from typing import Any

from motadata_ai.adapters.parsers.source import ParsedFile
from motadata_ai.adapters.parsers.text import first_line_title
from motadata_ai.domain.values.documents import Document
from motadata_ai.ports.documents import DocumentRejected, EmptyDocument, UndecodableDocument


def parse_pdf(file: ParsedFile) -> list[Document]:
    """A ``.pdf`` file: one text document, its pages' text in order, titled by its metadata."""
    import pypdf
    from pypdf.errors import PyPdfError

    source, budget = file.id, file.budget
    if not file.data.startswith(b"%PDF"):
        raise UndecodableDocument(
            f"{source}: not a PDF file (no %PDF header)", source=source, field="content"
        )

    def count_text(text: str, *_: Any) -> None:
        budget.add(text)

    def check_deadline(*_: Any) -> None:
        budget.check()

    pages: list[str] = []
    try:
        reader = pypdf.PdfReader(io.BytesIO(file.data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise UndecodableDocument(f"{source}: the PDF is encrypted", source=source, field="content")
        for number, page in enumerate(reader.pages, start=1):
            budget.check()
            contents = page.get_contents()
            if contents is not None:
                budget.expands(f"page {number}'s content stream", len(contents.get_data()))
            text = page.extract_text(visitor_text=count_text, visitor_operand_before=check_deadline) or ""
            pages.append(text.strip())
        title = ""
        if reader.metadata is not None and reader.metadata.title:
            title = str(reader.metadata.title)
    except DocumentRejected:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError) as error:
        raise UndecodableDocument(
            f"{source}: cannot read the PDF ({type(error).__name__}: {error})", source=source, field="content"
        ) from error
    text = "\n\n".join(page for page in pages if page)
    if not text.strip():
        raise EmptyDocument(
            f"{source}: the PDF has no extractable text (a scanned image?)", source=source, field="text"
        )
    return [file.document(text, title=title or first_line_title(text), format="text")]
