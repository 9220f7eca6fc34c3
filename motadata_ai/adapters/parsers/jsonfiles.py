"""JSON exports: ``.json`` (a list of records, or one record) and ``.jsonl`` (one record a line).

Each record (a JSON object) becomes one document (see
:mod:`motadata_ai.adapters.parsers.records`); ``records_field`` names where a ``.json`` file's
list is (``result`` for a ServiceNow Table API export). Invalid JSON is refused naming the line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from motadata_ai.adapters.parsers.records import Record, lookup, record_documents
from motadata_ai.adapters.parsers.source import ParsedFile
from motadata_ai.adapters.parsers.text import decode_text
from motadata_ai.domain.values.documents import Document
from motadata_ai.ports.documents import DocumentRejected, UndecodableDocument


def _invalid(file: ParsedFile, error: json.JSONDecodeError, line: int | None = None) -> UndecodableDocument:
    where = f"line {line if line is not None else error.lineno}"
    return UndecodableDocument(
        f"{file.id}: not valid JSON at {where} ({error.msg})", source=file.id, field="content"
    )


def _not_object(file: ParsedFile, position: str, value: Any) -> UndecodableDocument:
    return UndecodableDocument(
        f"{file.id}: {position} is a JSON {type(value).__name__}, not an object (a record)",
        source=file.id,
        field="content",
    )


def parse_json(file: ParsedFile) -> list[Document]:
    """A ``.json`` export: one document per record."""
    text = decode_text(file.id, file.data)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise _invalid(file, error) from error
    except RecursionError as error:
        raise UndecodableDocument(
            f"{file.id}: JSON nested too deeply", source=file.id, field="content"
        ) from error
    if file.options.records_field:
        found = lookup(value, file.options.records_field) if isinstance(value, Mapping) else None
        if not isinstance(found, list):
            raise DocumentRejected(
                f"{file.id}: no list of records at {file.options.records_field!r} (parsing.records_field)",
                source=file.id,
                field="records_field",
            )
        value = found
    records = value if isinstance(value, list) else [value]

    def numbered() -> Iterator[Record]:
        for number, record in enumerate(records, start=1):
            if not isinstance(record, Mapping):
                raise _not_object(file, f"record {number}", record)
            yield Record(
                position=f"record {number}",
                fragment=f"record={number}",
                fields=record,
                metadata={"record": number},
            )

    return record_documents(file, numbered(), label="record")


def parse_jsonl(file: ParsedFile) -> list[Document]:
    """A ``.jsonl`` export: one document per line's record (blank lines skipped)."""
    text = decode_text(file.id, file.data)

    def lines() -> Iterator[Record]:
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise _invalid(file, error, number) from error
            except RecursionError as error:
                raise UndecodableDocument(
                    f"{file.id}: JSON nested too deeply at line {number}", source=file.id, field="content"
                ) from error
            if not isinstance(record, Mapping):
                raise _not_object(file, f"line {number}", record)
            yield Record(
                position=f"line {number}", fragment=f"line={number}", fields=record, metadata={"line": number}
            )

    return record_documents(file, lines(), label="record")
