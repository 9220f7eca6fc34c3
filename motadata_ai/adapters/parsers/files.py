"""FileDocumentParser: files and directories to :class:`Document` values, with clear refusals.

Plain text (``.txt``, ``.text``, ``.log``, ``.csv``), Markdown (``.md``, ``.markdown``), HTML
(``.html``, ``.htm``, converted to Markdown-like text so headings guide chunking) and PDF
(``.pdf``, text extracted with pypdf). Every refusal is a
:class:`~motadata_ai.ports.documents.DocumentRejected` whose message and ``source`` name the file:
an unsupported type, a file over ``max_bytes``, bytes that are not UTF-8 or look binary, a
broken or encrypted PDF, or no text at all.
"""

from __future__ import annotations

import asyncio
import io
import os
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from motadata_ai.domain.values.documents import Document
from motadata_ai.ports.documents import (
    DocumentNotFound,
    DocumentParserPort,
    DocumentTooLarge,
    EmptyDocument,
    UndecodableDocument,
    UnsupportedDocumentType,
)

FORMATS: dict[str, str] = {
    ".txt": "text",
    ".text": "text",
    ".log": "text",
    ".csv": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_MAX_CONTROL_RATIO = 0.01


class FileDocumentParser(DocumentParserPort):
    """Parses files by suffix (see module doc); ``list_files`` walks directories, skipping hidden entries."""

    def supported_suffixes(self) -> tuple[str, ...]:
        """The handled suffixes."""
        return tuple(FORMATS)

    async def is_directory(self, path: str) -> bool:
        """Whether ``path`` is a directory."""
        return await asyncio.to_thread(os.path.isdir, path)

    async def list_files(self, path: str) -> list[str]:
        """Absolute paths of the files under ``path`` (or ``path`` itself), sorted."""
        return await asyncio.to_thread(_list_files, path)

    async def parse(
        self,
        path: str,
        *,
        max_bytes: int,
        user_id: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Document:
        """Read and parse one file (in a worker thread)."""
        return await asyncio.to_thread(_parse, path, max_bytes, user_id, metadata or {})


def _list_files(path: str) -> list[str]:
    root = Path(path)
    if not root.exists():
        raise DocumentNotFound(f"{path}: no such file or directory", source=path, field="path")
    if root.is_file():
        return [os.path.abspath(path)]
    found: list[str] = []
    for directory, subdirectories, files in os.walk(root):
        subdirectories[:] = sorted(d for d in subdirectories if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                found.append(os.path.abspath(os.path.join(directory, name)))
    return sorted(found)


def _parse(path: str, max_bytes: int, user_id: str | None, metadata: dict[str, Any]) -> Document:
    file = Path(path)
    suffix = file.suffix.lower()
    kind = FORMATS.get(suffix)
    if kind is None:
        raise UnsupportedDocumentType(
            f"{path}: unsupported file type {suffix or '(no suffix)'!r}; supported: {', '.join(FORMATS)}",
            source=path,
            field="path",
            suffix=suffix,
            supported=tuple(FORMATS),
        )
    try:
        size = file.stat().st_size
    except FileNotFoundError as error:
        raise DocumentNotFound(f"{path}: no such file", source=path, field="path") from error
    if size > max_bytes:
        raise DocumentTooLarge(
            f"{path}: {size} bytes is over the limit of {max_bytes} bytes (max_document_bytes)",
            source=path,
            field="max_document_bytes",
            size=size,
            max_bytes=max_bytes,
        )
    data = file.read_bytes()
    if kind == "pdf":
        text, title = _pdf_text(path, data)
        format_ = "text"
    else:
        text = _decode(path, data)
        if kind == "html":
            text, title = html_to_markdown(text)
            format_ = "markdown"
        elif kind == "markdown":
            title = _markdown_title(text)
            format_ = "markdown"
        else:
            title = _first_line_title(text)
            format_ = "text"
    if not text.strip():
        raise EmptyDocument(f"{path}: the file holds no text", source=path, field="text")
    return Document(
        id=os.path.abspath(path),
        text=text,
        title=title or _title_from_name(file),
        source=os.path.abspath(path),
        format=format_,
        user_id=user_id,
        metadata={**metadata, "file_type": kind, "file_name": file.name},
    )


def _decode(path: str, data: bytes) -> str:
    if b"\x00" in data:
        raise UndecodableDocument(
            f"{path}: the file holds NUL bytes; it looks binary, not text", source=path, field="content"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UndecodableDocument(
            f"{path}: not valid UTF-8 at byte {error.start} ({error.reason}); save it as UTF-8",
            source=path,
            field="content",
            offset=error.start,
        ) from error
    controls = len(_CONTROL.findall(text))
    if text and controls / len(text) > _MAX_CONTROL_RATIO:
        raise UndecodableDocument(
            f"{path}: {controls} control characters in {len(text)}; it looks binary, not text",
            source=path,
            field="content",
        )
    return text


def _markdown_title(text: str) -> str:
    for line in text.splitlines():
        match = re.match(r"^#\s+(.+?)\s*#*\s*$", line)
        if match:
            return match.group(1)
    return _first_line_title(text)


def _first_line_title(text: str) -> str:
    for line in text.splitlines():
        line = line.strip().lstrip("#").strip()
        if line:
            return line if len(line) <= 100 else ""
    return ""


def _title_from_name(file: Path) -> str:
    return file.stem.replace("-", " ").replace("_", " ").strip().capitalize()


def _pdf_text(path: str, data: bytes) -> tuple[str, str]:
    import pypdf
    from pypdf.errors import PyPdfError

    if not data.startswith(b"%PDF"):
        raise UndecodableDocument(f"{path}: not a PDF file (no %PDF header)", source=path, field="content")
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise UndecodableDocument(f"{path}: the PDF is encrypted", source=path, field="content")
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
        title = ""
        if reader.metadata is not None and reader.metadata.title:
            title = str(reader.metadata.title)
    except UndecodableDocument:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError) as error:
        raise UndecodableDocument(
            f"{path}: cannot read the PDF ({type(error).__name__}: {error})", source=path, field="content"
        ) from error
    text = "\n\n".join(page for page in pages if page)
    if not text.strip():
        raise EmptyDocument(
            f"{path}: the PDF has no extractable text (a scanned image?)", source=path, field="text"
        )
    return text, title or _first_line_title(text)


_BLOCK = {
    "p", "div", "section", "article", "header", "footer", "main", "aside", "nav", "table", "tr",
    "ul", "ol", "dl", "dt", "dd", "blockquote", "pre", "form", "fieldset", "figure", "hr",
}  # fmt: skip
_SKIP = {"script", "style", "noscript", "template", "svg", "head"}


class _HtmlText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title = ""
        self.first_h1 = ""
        self._skip = 0
        self._in_title = False
        self._heading: int | None = None
        self._heading_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag in _SKIP:
            self._skip += 1
        elif re.fullmatch(r"h[1-6]", tag):
            self._heading = int(tag[1])
            self._heading_text = []
            self.parts.append("\n\n" + "#" * self._heading + " ")
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag == "br":
            self.parts.append("\n")
        elif tag in ("td", "th"):
            self.parts.append(" | ")
        elif tag in _BLOCK:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in _SKIP:
            self._skip = max(0, self._skip - 1)
        elif re.fullmatch(r"h[1-6]", tag):
            if self._heading == 1 and not self.first_h1:
                self.first_h1 = " ".join("".join(self._heading_text).split())
            self._heading = None
            self.parts.append("\n\n")
        elif tag in _BLOCK:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
            return
        if self._skip:
            return
        text = re.sub(r"\s+", " ", data)
        if self._heading is not None:
            self._heading_text.append(text)
        self.parts.append(text)


def html_to_markdown(html: str) -> tuple[str, str]:
    """Text of an HTML page with headings as ``#`` lines and list items as ``-``; and its title."""
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    lines = [line.strip() for line in "".join(parser.parts).splitlines()]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    title = " ".join(parser.title.split()) or parser.first_h1
    return text, title
