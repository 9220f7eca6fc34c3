"""Word (``.docx``, python-docx) and PowerPoint (``.pptx``, python-pptx) to Markdown.

Word: heading styles become ATX headings, list paragraphs ``-``/``1.`` items (nested by level),
tables pipe tables, in document order. PowerPoint: one ``## Slide n: <title>`` section per
slide with its text frames as list items, its tables, and its speaker notes. Both libraries
are the ``docs`` extra. An Office file is a ZIP archive: one whose parts declare more than
``OFFICE_EXPANSION`` × ``max_document_bytes`` uncompressed is refused before it is opened.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from typing import Any

from motadata_ai.adapters.parsers.extras import DOCS_EXTRA, require
from motadata_ai.adapters.parsers.source import ParsedFile
from motadata_ai.domain.values.documents import Document
from motadata_ai.ports.documents import DocumentRejected, EmptyDocument, UndecodableDocument

OFFICE_EXPANSION = 10
_HEADING_STYLE = re.compile(r"heading\s*([1-9])", re.IGNORECASE)


def check_archive(file: ParsedFile) -> None:
    """Refuse a ZIP-based file that is not a ZIP archive or whose parts expand too far."""
    try:
        with zipfile.ZipFile(io.BytesIO(file.data)) as archive:
            expanded = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as error:
        raise UndecodableDocument(
            f"{file.id}: not a valid {file.kind} file (not a ZIP archive: {error})",
            source=file.id,
            field="content",
        ) from error
    file.budget.expands("the archive's parts", expanded, limit=OFFICE_EXPANSION * file.budget.max_bytes)


def _undecodable(file: ParsedFile, what: str, error: Exception) -> UndecodableDocument:
    return UndecodableDocument(
        f"{file.id}: cannot read the {what} ({type(error).__name__}: {error})",
        source=file.id,
        field="content",
    )


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def markdown_table(rows: list[list[str]]) -> str:
    """Rows of cell texts as a pipe table, the first row as its header."""
    rows = [[_cell(cell) for cell in row] for row in rows if any(cell.strip() for cell in row)]
    if not rows:
        return ""
    width = max(len(row) for row in rows)
    rows = [row + [""] * (width - len(row)) for row in rows]
    lines = ["| " + " | ".join(rows[0]) + " |", "| " + " | ".join(["---"] * width) + " |"]
    lines.extend("| " + " | ".join(row) + " |" for row in rows[1:])
    return "\n".join(lines)


# -- Word ---------------------------------------------------------------------------------------


def _docx_blocks(document: Any, file: ParsedFile) -> Iterator[tuple[str, str]]:
    from docx.table import Table

    for block in document.iter_inner_content():
        file.budget.check()
        if isinstance(block, Table):
            table = markdown_table([[cell.text for cell in row.cells] for row in block.rows])
            if table:
                yield "table", table
            continue
        text = " ".join(block.text.split())
        if not text:
            continue
        style = (block.style.name if block.style is not None else "") or ""
        heading = _HEADING_STYLE.fullmatch(style.strip())
        if style.strip().lower() == "title":
            yield "title", f"# {text}"
        elif heading:
            yield "heading", "#" * int(heading.group(1)) + f" {text}"
        else:
            numbering = block._p.pPr.numPr if block._p.pPr is not None else None
            if style.lower().startswith("list") or numbering is not None:
                level = 0
                if numbering is not None and numbering.ilvl is not None:
                    level = int(numbering.ilvl.val)
                marker = "1." if "number" in style.lower() else "-"
                yield "item", "  " * level + f"{marker} {text}"
            else:
                yield "paragraph", text


def _join_blocks(blocks: list[tuple[str, str]]) -> str:
    parts: list[str] = []
    previous = ""
    for kind, text in blocks:
        separator = "\n" if kind == "item" and previous == "item" else "\n\n"
        parts.append((separator if parts else "") + text)
        previous = kind
    return "".join(parts)


def parse_docx(file: ParsedFile) -> list[Document]:
    """A ``.docx`` file: one Markdown document titled by its properties or its first heading."""
    docx = require("docx", package="python-docx", extra=DOCS_EXTRA, source=file.id)
    check_archive(file)
    try:
        document = docx.Document(io.BytesIO(file.data))
        blocks = list(_docx_blocks(document, file))
        title = (document.core_properties.title or "").strip()
    except DocumentRejected:
        raise
    except Exception as error:  # python-docx and lxml raise many types on a damaged file
        raise _undecodable(file, "Word document", error) from error
    text = file.budget.add(_join_blocks(blocks))
    if not text.strip():
        raise EmptyDocument(f"{file.id}: the document holds no text", source=file.id, field="text")
    if not title:
        title = next((t.lstrip("#").strip() for kind, t in blocks if kind in ("title", "heading")), "")
    return [file.document(text, title=title, format="markdown")]


# -- PowerPoint ---------------------------------------------------------------------------------


def _shape_lines(shape: Any, skip: Any) -> Iterator[str]:
    if skip is not None and shape.shape_id == skip.shape_id:
        return
    if getattr(shape, "shape_type", None) is not None and hasattr(shape, "shapes"):
        for inner in shape.shapes:  # a group shape
            yield from _shape_lines(inner, skip)
        return
    if getattr(shape, "has_table", False):
        table = markdown_table([[cell.text for cell in row.cells] for row in shape.table.rows])
        if table:
            yield "\n" + table + "\n"
        return
    if getattr(shape, "has_text_frame", False):
        for paragraph in shape.text_frame.paragraphs:
            text = " ".join(paragraph.text.split())
            if text:
                yield "  " * int(paragraph.level or 0) + f"- {text}"


def parse_pptx(file: ParsedFile) -> list[Document]:
    """A ``.pptx`` deck: one Markdown document, one section per slide with its notes."""
    pptx = require("pptx", package="python-pptx", extra=DOCS_EXTRA, source=file.id)
    check_archive(file)
    sections: list[str] = []
    first_title = ""
    try:
        presentation = pptx.Presentation(io.BytesIO(file.data))
        for number, slide in enumerate(presentation.slides, start=1):
            file.budget.check()
            title_shape = slide.shapes.title
            slide_title = " ".join(title_shape.text.split()) if title_shape is not None else ""
            first_title = first_title or slide_title
            lines = [line for shape in slide.shapes for line in _shape_lines(shape, title_shape)]
            notes = ""
            if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
                notes = " ".join(slide.notes_slide.notes_text_frame.text.split())
            if not (slide_title or lines or notes):
                continue
            heading = f"## Slide {number}: {slide_title}" if slide_title else f"## Slide {number}"
            body = "\n".join(lines).strip()
            section = heading + (f"\n\n{body}" if body else "") + (f"\n\nNotes: {notes}" if notes else "")
            sections.append(file.budget.add(section))
        title = (presentation.core_properties.title or "").strip()
    except DocumentRejected:
        raise
    except Exception as error:  # python-pptx and lxml raise many types on a damaged file
        raise _undecodable(file, "presentation", error) from error
    if not sections:
        raise EmptyDocument(f"{file.id}: the presentation holds no text", source=file.id, field="text")
    title = title or first_title
    text = "\n\n".join(([f"# {title}"] if title else []) + sections)
    return [file.document(text, title=title, format="markdown")]
