"""File parsing: real PDF, HTML, Markdown and text files, and every malformed input named clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from motadata_ai.adapters.parsers.files import FileDocumentParser
from motadata_ai.ports.documents import (
    DocumentTooLarge,
    EmptyDocument,
    UndecodableDocument,
    UnsupportedDocumentType,
)

LIMIT = 1024 * 1024


def _pdf(lines: list[str], *, title: str = "VPN runbook") -> bytes:
    """A minimal, valid one-page PDF whose text is ``lines`` (Helvetica, one line each)."""
    text_ops = (
        "BT /F1 12 Tf 72 720 Td 14 TL "
        + " ".join(
            "(" + line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ") Tj T*"
            for line in lines
        )
        + " ET"
    )
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> "
        b"/Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(text_ops), text_ops.encode("latin-1")),
        f"<< /Title ({title}) >>".encode("latin-1"),
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


@pytest.fixture
def parser() -> FileDocumentParser:
    return FileDocumentParser()


async def test_pdf_text_and_title_are_extracted(parser: FileDocumentParser, tmp_path: Path) -> None:
    path = tmp_path / "vpn.pdf"
    path.write_bytes(_pdf(["Restart the VPN client when the tunnel drops.", "Then sign in again with MFA."]))
    [document] = await parser.parse(str(path), max_bytes=LIMIT)
    assert "Restart the VPN client when the tunnel drops." in document.text
    assert "sign in again with MFA" in document.text
    assert document.title == "VPN runbook"


async def test_a_pdf_without_text_is_an_empty_document(parser: FileDocumentParser, tmp_path: Path) -> None:
    path = tmp_path / "scan.pdf"
    path.write_bytes(_pdf([]))
    with pytest.raises(EmptyDocument, match=r"scan\.pdf"):
        await parser.parse(str(path), max_bytes=LIMIT)


async def test_a_corrupt_pdf_names_the_file(parser: FileDocumentParser, tmp_path: Path) -> None:
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 4)
    with pytest.raises(UndecodableDocument, match=r"broken\.pdf"):
        await parser.parse(str(path), max_bytes=LIMIT)


async def test_binary_garbage_with_a_pdf_name_is_refused(parser: FileDocumentParser, tmp_path: Path) -> None:
    path = tmp_path / "fake.pdf"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    with pytest.raises(UndecodableDocument, match=r"fake\.pdf: not a PDF"):
        await parser.parse(str(path), max_bytes=LIMIT)


async def test_html_becomes_text_without_scripts(parser: FileDocumentParser, tmp_path: Path) -> None:
    path = tmp_path / "printers.html"
    path.write_text(
        "<html><head><title>Printers</title><script>alert('x')</script></head>"
        "<body><h1>Adding a printer</h1><p>Open <b>Settings</b> and choose Printers.</p></body></html>",
        encoding="utf-8",
    )
    [document] = await parser.parse(str(path), max_bytes=LIMIT)
    assert "# Adding a printer\n\nOpen **Settings** and choose Printers." in document.text
    assert "alert" not in document.text
    assert document.title in {"Printers", "Adding a printer"}


async def test_invalid_utf8_text_names_the_file(parser: FileDocumentParser, tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"Reset steps: \xff\xfe\x00\x00 garbage \xc3\x28")
    with pytest.raises(UndecodableDocument, match=r"notes\.txt"):
        await parser.parse(str(path), max_bytes=LIMIT)


async def test_unsupported_types_and_oversize_files_are_refused(
    parser: FileDocumentParser, tmp_path: Path
) -> None:
    exe = tmp_path / "tool.exe"
    exe.write_bytes(b"MZ\x90\x00")
    with pytest.raises(UnsupportedDocumentType, match=r"tool\.exe"):
        await parser.parse(str(exe), max_bytes=LIMIT)
    big = tmp_path / "big.md"
    big.write_text("# Big\n" + "word " * 400, encoding="utf-8")
    with pytest.raises(DocumentTooLarge, match=r"big\.md"):
        await parser.parse(str(big), max_bytes=1000)


async def test_whitespace_only_markdown_is_empty(parser: FileDocumentParser, tmp_path: Path) -> None:
    path = tmp_path / "blank.md"
    path.write_text("   \n\t\n", encoding="utf-8")
    with pytest.raises(EmptyDocument, match=r"blank\.md"):
        await parser.parse(str(path), max_bytes=LIMIT)
