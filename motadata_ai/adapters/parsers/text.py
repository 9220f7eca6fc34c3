"""Plain text and Markdown: strict UTF-8 decoding (binary data refused) and titles."""

from __future__ import annotations

import re

from motadata_ai.adapters.parsers.source import ParsedFile
from motadata_ai.domain.values.documents import Document
from motadata_ai.ports.documents import UndecodableDocument

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_MAX_CONTROL_RATIO = 0.01


def decode_text(source: str, data: bytes) -> str:
    """``data`` as UTF-8 text; :class:`UndecodableDocument` for invalid UTF-8 or binary data."""
    if b"\x00" in data:
        raise UndecodableDocument(
            f"{source}: the file holds NUL bytes; it looks binary, not text", source=source, field="content"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UndecodableDocument(
            f"{source}: not valid UTF-8 at byte {error.start} ({error.reason}); save it as UTF-8",
            source=source,
            field="content",
            offset=error.start,
        ) from error
    controls = len(_CONTROL.findall(text))
    if text and controls / len(text) > _MAX_CONTROL_RATIO:
        raise UndecodableDocument(
            f"{source}: {controls} control characters in {len(text)}; it looks binary, not text",
            source=source,
            field="content",
        )
    return text


def markdown_title(text: str) -> str:
    """The first ``# heading`` of Markdown text, else its first short line."""
    for line in text.splitlines():
        match = re.match(r"^#\s+(.+?)\s*#*\s*$", line)
        if match:
            return match.group(1)
    return first_line_title(text)


def first_line_title(text: str) -> str:
    """The first non-blank line when it is short enough to be a title (100 characters), else ``""``."""
    for line in text.splitlines():
        line = line.strip().lstrip("#").strip()
        if line:
            return line if len(line) <= 100 else ""
    return ""


def parse_text(file: ParsedFile) -> list[Document]:
    """A ``.txt``/``.log`` file: one text document titled by its first line."""
    text = file.budget.add(decode_text(file.id, file.data))
    return [file.document(text, title=first_line_title(text), format="text")]


def parse_markdown(file: ParsedFile) -> list[Document]:
    """A ``.md`` file: one Markdown document titled by its first heading."""
    text = file.budget.add(decode_text(file.id, file.data))
    return [file.document(text, title=markdown_title(text), format="markdown")]
