"""Ingesting a folder trusts nothing: FIFOs, symlinks leaving it, PDF bombs, slow parses.

Every file here is real: a FIFO made with ``os.mkfifo``, real symlinks, and PDFs whose Flate
content streams are built byte by byte, so pypdf parses exactly what an attacker would send.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import socket
import zlib
from pathlib import Path

import pytest

from motadata_ai.domain.values.documents import IngestReport
from motadata_ai.domain.values.parsing import ParseOptions
from motadata_ai.domain.values.tenancy import TenantContext
from motadata_ai.ports.documents import DocumentParseTimeout, DocumentTooLarge
from tests.unit.retrieval.test_rag_system import kb, make

MIB = 1024 * 1024
# A wall-clock bound so that the starting code (which blocked on the FIFO forever) fails
# instead of hanging the run; it is not a measurement.
HANG_BOUND_S = 30


def flate_pdf(pages: list[bytes]) -> bytes:
    """A valid PDF with one page per content stream in ``pages``, each Flate-compressed."""
    count = len(pages)
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids ["
        + b" ".join(b"%d 0 R" % (4 + 2 * i) for i in range(count))
        + b"] /Count %d >>" % count,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for index, operators in enumerate(pages):
        data = zlib.compress(operators, 9)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (5 + 2 * index)
        )
        objects.append(b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(data) + data + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def text_operators(size: int, *, word: bytes = b"A") -> bytes:
    """A page content stream of about ``size`` bytes that shows that much text."""
    line = b"(" + word * 4000 + b") Tj T*\n"
    return b"BT /F1 12 Tf 72 720 Td 14 TL\n" + line * max(1, size // len(line)) + b"ET"


def failures_by_name(report: IngestReport) -> dict[str, tuple[str, str]]:
    return {Path(f.source).name: (f.error, f.message) for f in report.failures}


def unblock_fifo(path: Path) -> None:
    """Release a reader blocked opening the FIFO (the starting code), so the run can end."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as error:
        if error.errno not in (errno.ENXIO, errno.ENOENT):
            raise
        return
    os.close(descriptor)


async def test_a_fifo_in_the_folder_is_reported_and_never_opened(tmp_path: Path) -> None:
    folder = kb(tmp_path)
    fifo = folder / "pipe.md"
    os.mkfifo(fifo)
    rag, _ = make()
    try:
        report = await asyncio.wait_for(rag.ingest(folder), timeout=HANG_BOUND_S)
    finally:
        unblock_fifo(fifo)
    error, message = failures_by_name(report)["pipe.md"]
    assert error == "UnsafeDocumentPath"
    assert "FIFO" in message and "pipe.md" in message
    assert sorted(Path(d.source).name for d in report.documents) == ["password.md", "printing.md", "vpn.md"]


async def test_symlinks_leading_outside_the_folder_are_reported_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "salaries.md").write_text("# Salaries\n\nConfidential payroll figures for every employee.")
    (tmp_path / "kb").mkdir()
    folder = kb(tmp_path / "kb")
    (folder / "handbook.md").symlink_to(outside / "salaries.md")
    (folder / "hr").symlink_to(outside, target_is_directory=True)
    (folder / "inside.md").symlink_to(folder / "vpn.md")  # stays inside: read like any file
    rag, _ = make()
    report = await rag.ingest(folder)
    failures = failures_by_name(report)
    assert set(failures) == {"handbook.md", "hr"}
    assert all(error == "UnsafeDocumentPath" for error, _ in failures.values())
    assert all("outside the folder" in message for _, message in failures.values())
    ingested = sorted(Path(d.source).name for d in report.documents)
    assert ingested == ["inside.md", "password.md", "printing.md", "vpn.md"]
    hits = await rag.retrieve("confidential payroll figures", mode="keyword")
    assert hits == []


async def test_a_pdf_bomb_is_refused_before_its_text_is_parsed(tmp_path: Path) -> None:
    folder = kb(tmp_path)
    bomb = flate_pdf([text_operators(24 * MIB)])
    assert len(bomb) < 64 * 1024  # a few KiB on disk, far under max_document_bytes
    (folder / "bomb.pdf").write_bytes(bomb)
    rag, parts = make()  # the default max_document_bytes: 20 MiB
    report = await rag.ingest(folder)
    error, message = failures_by_name(report)["bomb.pdf"]
    assert error == "DocumentTooLarge"
    assert "content stream expands to" in message
    assert len(report.documents) == 3
    stored = await parts["documents"].list(TenantContext(tenant_id="acme"))
    assert all(not d.source.endswith("bomb.pdf") for d in stored)


async def test_extracted_text_over_the_limit_stops_the_parse_at_the_limit(tmp_path: Path) -> None:
    pages = [text_operators(300 * 1024) for _ in range(8)]  # 2.4 MB of text, each page well under 1 MiB
    path = tmp_path / "manual.pdf"
    path.write_bytes(flate_pdf(pages))
    assert path.stat().st_size < 64 * 1024
    rag, _ = make(max_document_bytes=MIB)
    with pytest.raises(DocumentTooLarge) as caught:
        await rag.ingest(path)
    assert "extracted text" in str(caught.value) and "manual.pdf" in str(caught.value)
    # parsing stopped at the limit: the count is just past 1 MiB, not the whole 2.4 MB
    assert MIB < caught.value.size < MIB + 400 * 1024


async def test_a_parse_over_its_time_limit_is_abandoned_and_reported(tmp_path: Path) -> None:
    folder = kb(tmp_path)
    # 40 pages of 1 MiB of text operators each: every limit on size passes, the parse takes long
    (folder / "slow.pdf").write_bytes(flate_pdf([text_operators(MIB) for _ in range(40)]))
    rag, _ = make(max_document_bytes=64 * MIB, parsing=ParseOptions(timeout_seconds=0.5))
    report = await rag.ingest(folder)
    error, message = failures_by_name(report)["slow.pdf"]
    assert error == "DocumentParseTimeout"
    assert "0.5 s" in message and "slow.pdf" in message
    assert len(report.documents) == 3


async def test_the_time_limit_can_be_set_per_ingest_and_a_single_file_raises(tmp_path: Path) -> None:
    path = tmp_path / "slow.pdf"
    path.write_bytes(flate_pdf([text_operators(MIB) for _ in range(40)]))
    rag, _ = make(max_document_bytes=64 * MIB)
    with pytest.raises(DocumentParseTimeout) as caught:
        await rag.ingest(path, parsing=ParseOptions(timeout_seconds=0.2))
    assert caught.value.timeout_seconds == 0.2 and caught.value.source == str(path)


async def test_a_socket_in_the_folder_is_reported(tmp_path: Path) -> None:
    folder = kb(tmp_path)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with contextlib.closing(server):
        server.bind(str(folder / "agent.md"))
        rag, _ = make()
        report = await asyncio.wait_for(rag.ingest(folder), timeout=HANG_BOUND_S)
    error, message = failures_by_name(report)["agent.md"]
    assert error == "UnsafeDocumentPath" and "socket" in message


async def test_a_file_whose_text_is_not_valid_unicode_is_one_failure_not_a_failed_ingest(
    tmp_path: Path,
) -> None:
    folder = kb(tmp_path)
    # JSON may spell a lone surrogate ("\ud800"), which no valid Document text can hold.
    (folder / "export.json").write_text('[{"text": "bad \\ud800 text"}]')
    rag, _ = make()
    report = await rag.ingest(folder)
    error, message = failures_by_name(report)["export.json"]
    assert error == "UndecodableDocument" and "surrogate" in message
    assert sorted(Path(d.source).name for d in report.documents) == ["password.md", "printing.md", "vpn.md"]
