"""Rows and records to documents: one document per row of a table or record of a JSON export.

The :class:`~motadata_ai.domain.values.parsing.ParseOptions` row/record fields decide each
document: ``key_field`` its id (``<file>#<key>``; by default its position), ``title_field`` its
title, ``text_fields`` its text (one field's value, or ``name: value`` lines; by default every
field) and ``metadata_fields`` its metadata (by default every field not in ``text_fields``).
A record without text is left out; a file where a named field is missing or a key repeats is
refused, naming the field or the key.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from motadata_ai.adapters.parsers.source import ParsedFile
from motadata_ai.domain.values.documents import Document
from motadata_ai.ports.documents import DocumentRejected, EmptyDocument

_MISSING = object()


@dataclass(frozen=True)
class Record:
    """One row or record: where it is (``position`` as ``row 3``, ``fragment`` for its id) and its fields."""

    position: str
    fragment: str
    fields: Mapping[str, Any]
    metadata: Mapping[str, Any]


def lookup(fields: Mapping[str, Any], name: str) -> Any:
    """The value of ``name`` in ``fields``; a dotted name reaches into nested objects."""
    if name in fields:
        return fields[name]
    value: Any = fields
    for part in name.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def scalar(value: Any) -> str | int | float | bool | None:
    """A value as a JSON scalar for metadata: dates as ISO text, objects and lists as JSON."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    try:
        return json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)
    except (TypeError, ValueError):
        return str(value)


def _as_text(value: Any) -> str:
    if value is None or value is _MISSING:
        return ""
    if isinstance(value, str):
        return value.strip()
    converted = scalar(value)
    return "" if converted is None else str(converted)


def require_fields(file: ParsedFile, available: Iterable[str], *, what: str) -> None:
    """Refuse ``file`` when the options name a field that its header (``available``) lacks."""
    names = set(available)
    options = file.options
    wanted = [
        ("key_field", [options.key_field] if options.key_field else []),
        ("title_field", [options.title_field] if options.title_field else []),
        ("text_fields", list(options.text_fields or ())),
        ("metadata_fields", list(options.metadata_fields or ())),
    ]
    for option, fields in wanted:
        missing = [name for name in fields if name not in names]
        if missing:
            raise DocumentRejected(
                f"{file.id}: {what} has no {', '.join(repr(name) for name in missing)} "
                f"(parsing.{option}); its columns: {', '.join(sorted(names)) or '(none)'}",
                source=file.id,
                field=option,
                missing=tuple(missing),
            )


def record_documents(
    file: ParsedFile, records: Iterable[Record], *, label: str, prefix: str = ""
) -> list[Document]:
    """One document per record with text (see the module doc).

    ``label`` names a record in messages; ``prefix`` goes before each id fragment (a sheet name).
    """
    options = file.options
    documents: list[Document] = []
    seen: dict[str, str] = {}
    saw_text_field = options.text_fields is None
    for record in records:
        file.budget.check()
        fields = record.fields
        key = record.fragment
        if options.key_field:
            key = _as_text(lookup(fields, options.key_field))
            if not key:
                raise DocumentRejected(
                    f"{file.id}: {record.position} has no {options.key_field!r} (parsing.key_field)",
                    source=file.id,
                    field="key_field",
                )
        if key in seen:
            raise DocumentRejected(
                f"{file.id}: {options.key_field!r} repeats {key!r} ({seen[key]} and {record.position}); "
                "each row needs its own key (parsing.key_field)",
                source=file.id,
                field="key_field",
                key=key,
            )
        seen[key] = record.position
        if options.text_fields is None:
            pairs = [(name, _as_text(value)) for name, value in fields.items()]
            text = "\n".join(f"{name}: {value}" for name, value in pairs if value)
        else:
            values = [(name, lookup(fields, name)) for name in options.text_fields]
            saw_text_field = saw_text_field or any(value is not _MISSING for _, value in values)
            present = [(name, _as_text(value)) for name, value in values if _as_text(value)]
            if len(options.text_fields) == 1:
                text = present[0][1] if present else ""
            else:
                text = "\n".join(f"{name}: {value}" for name, value in present)
        if not text.strip():
            continue
        file.budget.add(text)
        if options.metadata_fields is None:
            excluded = set(options.text_fields or ())
            chosen = {name: value for name, value in fields.items() if name not in excluded}
        else:
            chosen = {name: lookup(fields, name) for name in options.metadata_fields}
        metadata = {
            name: scalar(value)
            for name, value in chosen.items()
            if value is not _MISSING and (options.metadata_fields is not None or _is_scalar(value))
        }
        title = _as_text(lookup(fields, options.title_field)) if options.title_field else ""
        documents.append(
            file.document(
                text,
                title=title or (key if options.key_field else f"{file.stem_title} {record.position}"),
                format="text",
                fragment=prefix + key,
                metadata={**metadata, **record.metadata, "record_key": key},
            )
        )
    if not saw_text_field:
        raise DocumentRejected(
            f"{file.id}: no {label} has {', '.join(repr(n) for n in options.text_fields or ())} "
            "(parsing.text_fields)",
            source=file.id,
            field="text_fields",
        )
    if not documents:
        raise EmptyDocument(f"{file.id}: no {label} holds any text", source=file.id, field="text")
    return documents


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool | datetime | date | time)
