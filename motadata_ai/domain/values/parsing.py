"""How files are parsed for ingestion: the parse time limit and the row/record options.

One :class:`ParseOptions` travels from the settings (``Settings.rag.parsing``, environment
``MOTADATA_RAG__PARSING__<FIELD>`` or its alias ``MOTADATA_PARSING__<FIELD>``) through
:class:`~motadata_ai.domain.retrieval.system.RAGSystem` (``parsing=``, or per call
``ingest(..., parsing=...)``) to the parser port; its defaults are written here and nowhere else.

The row/record options apply to the formats whose files hold many records: each row of a
``.csv``/``.tsv``/``.xlsx`` file and each record of a ``.json``/``.jsonl`` file becomes its own
document, with its fields as metadata.
"""

from __future__ import annotations

from pydantic import ConfigDict, Field, field_validator

from motadata_ai.domain.values.base import ValueModel

DEFAULT_PARSE_TIMEOUT_SECONDS = 60.0


class ParseOptions(ValueModel):
    """Options of the file parser (see the module doc).

    Field names below are column names of a table's header row or keys of a JSON record; a
    dotted name (``fields.short_description``) reaches into nested JSON objects.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    timeout_seconds: float = Field(
        DEFAULT_PARSE_TIMEOUT_SECONDS,
        gt=0,
        le=86_400,
        description="Parsing one file that takes longer is abandoned (DocumentParseTimeout)",
    )
    key_field: str | None = Field(
        None,
        description="Column/field whose value identifies a row or record across versions "
        "(default: its position, which changes when rows move)",
    )
    title_field: str | None = Field(
        None, description="Column/field holding a row's or record's title (default: its key)"
    )
    text_fields: tuple[str, ...] | None = Field(
        None,
        description="Columns/fields whose values are the text, as 'name: value' lines when more "
        "than one (default: every column/scalar field)",
    )
    metadata_fields: tuple[str, ...] | None = Field(
        None,
        description="Columns/fields copied into metadata (default: every column/scalar field not "
        "named in text_fields)",
    )
    records_field: str | None = Field(
        None,
        description="Where a .json file's list of records is (e.g. 'result'); default: the file "
        "itself when it is a list, else the object is one record",
    )

    @field_validator("key_field", "title_field", "records_field")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be blank")
        return value

    @field_validator("text_fields")
    @classmethod
    def _text_names(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is not None and not value:
            raise ValueError("name at least one field, or leave it unset for every field")
        return _field_names(value)

    @field_validator("metadata_fields")
    @classmethod
    def _metadata_names(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return _field_names(value)


def _field_names(value: tuple[str, ...] | None) -> tuple[str, ...] | None:
    if value is not None and any(not name.strip() for name in value):
        raise ValueError("field names must not be blank")
    return value
