"""Tables: ``.csv``/``.tsv`` through the standard library's ``csv`` and ``.xlsx`` through openpyxl.

The first row (of each sheet) is the header; every later row with text becomes one document
(see :mod:`motadata_ai.adapters.parsers.records`). A CSV's delimiter (``,`` ``;`` tab ``|``) is
sniffed from its first lines. Blank header cells are named ``column_<n>``.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator, Sequence
from typing import Any

from motadata_ai.adapters.parsers.extras import DOCS_EXTRA, require
from motadata_ai.adapters.parsers.office import check_archive
from motadata_ai.adapters.parsers.records import Record, record_documents, require_fields
from motadata_ai.adapters.parsers.source import ParsedFile
from motadata_ai.adapters.parsers.text import decode_text
from motadata_ai.domain.values.documents import Document
from motadata_ai.ports.documents import DocumentRejected, EmptyDocument, UndecodableDocument

_DELIMITERS = ",;\t|"


def _header(cells: Sequence[Any]) -> list[str]:
    names: list[str] = []
    for index, cell in enumerate(cells, start=1):
        name = "" if cell is None else str(cell).strip()
        name = name or f"column_{index}"
        while name in names:
            name = f"{name}_{index}"
        names.append(name)
    return names


def _fields(header: list[str], cells: Sequence[Any]) -> dict[str, Any]:
    fields = dict(zip(header, cells, strict=False))
    for index in range(len(header), len(cells)):
        fields[f"column_{index + 1}"] = cells[index]
    return fields


def parse_csv(file: ParsedFile) -> list[Document]:
    """A ``.csv``/``.tsv`` export: one document per row (header first)."""
    text = decode_text(file.id, file.data)
    if file.kind == "tsv":
        dialect: Any = csv.excel_tab
    else:
        try:
            dialect = csv.Sniffer().sniff(text[:8192], delimiters=_DELIMITERS)
        except csv.Error:
            dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    try:
        header_cells = next(reader, None)
        if header_cells is None:
            raise EmptyDocument(f"{file.id}: the file holds no rows", source=file.id, field="text")
        header = _header(header_cells)
        require_fields(file, header, what="the header row")

        def rows() -> Iterator[Record]:
            for cells in reader:
                if not any(cell.strip() for cell in cells):
                    continue
                line = reader.line_num
                yield Record(
                    position=f"row {line}",
                    fragment=f"row={line}",
                    fields=_fields(header, cells),
                    metadata={"row": line},
                )

        return record_documents(file, rows(), label="row")
    except csv.Error as error:
        raise UndecodableDocument(
            f"{file.id}: not a valid CSV file at line {reader.line_num} ({error})",
            source=file.id,
            field="content",
        ) from error


def parse_xlsx(file: ParsedFile) -> list[Document]:
    """An ``.xlsx`` workbook: one document per row of every sheet (each sheet's first row is its header)."""
    openpyxl = require("openpyxl", package="openpyxl", extra=DOCS_EXTRA, source=file.id)
    from openpyxl.utils.exceptions import InvalidFileException

    check_archive(file)
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(file.data), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, TypeError, OSError) as error:
        raise UndecodableDocument(
            f"{file.id}: cannot read the workbook ({type(error).__name__}: {error})",
            source=file.id,
            field="content",
        ) from error
    try:
        documents: list[Document] = []
        for sheet in workbook.worksheets:
            rows = enumerate(sheet.iter_rows(values_only=True), start=1)
            header_cells = next((cells for _, cells in rows if any(c is not None for c in cells)), None)
            if header_cells is None:
                continue
            header = _header(header_cells)
            require_fields(file, header, what=f"sheet {sheet.title!r}'s header row")
            title = sheet.title

            def sheet_rows(
                rows: Iterator[tuple[int, tuple[Any, ...]]] = rows,
                title: str = title,
                header: list[str] = header,
            ) -> Iterator[Record]:
                for number, cells in rows:
                    if all(cell is None or str(cell).strip() == "" for cell in cells):
                        continue
                    yield Record(
                        position=f"sheet {title!r} row {number}",
                        fragment=f"row={number}",
                        fields=_fields(header, cells),
                        metadata={"sheet": title, "row": number},
                    )

            try:
                documents.extend(record_documents(file, sheet_rows(), label="row", prefix=f"{title}/"))
            except EmptyDocument:
                continue
    except DocumentRejected:
        raise
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, OSError) as error:
        raise UndecodableDocument(
            f"{file.id}: cannot read the workbook ({type(error).__name__}: {error})",
            source=file.id,
            field="content",
        ) from error
    finally:
        workbook.close()
    if not documents:
        raise EmptyDocument(f"{file.id}: no sheet holds a row with text", source=file.id, field="text")
    return documents
