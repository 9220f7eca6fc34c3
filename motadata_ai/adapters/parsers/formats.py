"""The supported file types: suffix → kind → extractor (imported only when a file of it is parsed)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import PurePath

from motadata_ai.adapters.parsers.source import ParsedFile
from motadata_ai.domain.values.documents import Document

FORMATS: dict[str, str] = {
    ".txt": "text",
    ".text": "text",
    ".log": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".docx": "docx",
    ".pptx": "pptx",
    ".xlsx": "xlsx",
    ".csv": "csv",
    ".tsv": "tsv",
    ".eml": "eml",
    ".msg": "msg",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}

_EXTRACTORS: dict[str, str] = {
    "text": "text:parse_text",
    "markdown": "text:parse_markdown",
    "html": "html:parse_html",
    "pdf": "pdf:parse_pdf",
    "docx": "office:parse_docx",
    "pptx": "office:parse_pptx",
    "xlsx": "tables:parse_xlsx",
    "csv": "tables:parse_csv",
    "tsv": "tables:parse_csv",
    "eml": "mail:parse_eml",
    "msg": "mail:parse_msg",
    "json": "jsonfiles:parse_json",
    "jsonl": "jsonfiles:parse_jsonl",
}


def kind_of(name: str) -> str | None:
    """The kind of a file by its suffix (``None`` when unsupported)."""
    return FORMATS.get(PurePath(name).suffix.lower())


def extract(file: ParsedFile) -> list[Document]:
    """The documents of ``file`` through its kind's extractor."""
    module, function = _EXTRACTORS[file.kind].split(":")
    extractor: Callable[[ParsedFile], list[Document]] = getattr(
        importlib.import_module(f"motadata_ai.adapters.parsers.{module}"), function
    )
    return extractor(file)
