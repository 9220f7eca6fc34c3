"""Every ingestible format, from real files made here with the same libraries users export with.

Each file is ingested through ``RAGSystem.ingest`` (in-memory stores, hashed embeddings) and
found again by keyword and by dense search with its metadata; damaged files of every format
are the typed ``UndecodableDocument``.
"""

from __future__ import annotations

import csv
import json
import sys
import zipfile
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import pytest

from motadata_ai.adapters.parsers import FileDocumentParser
from motadata_ai.domain.values.parsing import ParseOptions
from motadata_ai.ports.documents import (
    DocumentRejected,
    ParserExtraMissing,
    UndecodableDocument,
)
from tests.unit.retrieval.test_rag_system import make

LIMIT = 1024 * 1024


def write_docx(path: Path) -> None:
    import docx

    document = docx.Document()
    document.core_properties.title = "VPN troubleshooting guide"
    document.add_heading("VPN troubleshooting guide", level=1)
    document.add_paragraph("When the GlobalConnect tunnel drops, restart the client first.")
    document.add_heading("Checks", level=2)
    document.add_paragraph("Confirm the laptop clock is correct.", style="List Bullet")
    document.add_paragraph("Re-enrol the hardware token.", style="List Bullet")
    table = document.add_table(rows=3, cols=2)
    for row, (code, meaning) in zip(
        table.rows,
        [("Error", "Meaning"), ("809", "Firewall blocks the port"), ("691", "Wrong password")],
        strict=True,
    ):
        row.cells[0].text, row.cells[1].text = code, meaning
    document.save(str(path))


def write_pptx(path: Path) -> None:
    import pptx

    deck = pptx.Presentation()
    deck.core_properties.title = "Major incident briefing"
    for title, body, notes in [
        (
            "Bridge call",
            "Open the bridge within 15 minutes",
            "Mention the escalation roster kept by Dorothea.",
        ),
        ("Status page", "Post an update every 30 minutes", "The communications lead owns the status page."),
    ]:
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text = body
        slide.notes_slide.notes_text_frame.text = notes
    deck.save(str(path))


TICKETS = [
    ("number", "short_description", "priority", "assignment_group"),
    ("INC0010001", "Printer on floor three jams with every duplex job", "3", "Workplace"),
    ("INC0010002", "Payroll portal rejects the quarterly export", "2", "Finance apps"),
    ("INC0010003", "Zebra label printer offline in the warehouse", "4", "Logistics"),
]


def write_xlsx(path: Path) -> None:
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "CMDB"
    for row in [
        ("ci", "name", "owner", "installed"),
        ("CI-1", "Core switch in the Lisbon datacentre", "Network team", datetime(2024, 3, 1)),
        ("CI-2", "Mail relay for the Oslo office", "Messaging team", datetime(2023, 11, 20)),
    ]:
        sheet.append(row)
    workbook.save(str(path))


def write_csv(path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(TICKETS)


def write_eml(path: Path) -> None:
    message = EmailMessage()
    message["Subject"] = "Change freeze for the quarter close"
    message["From"] = "Change Manager <cab@example.com>"
    message["To"] = "all-it@example.com"
    message["Date"] = format_datetime(datetime(2026, 3, 20, 9, 30, tzinfo=UTC))
    message["Message-ID"] = "<freeze-2026@example.com>"
    message.set_content("No production changes from Friday 18:00 until Monday 06:00 except emergencies.")
    message.add_attachment(
        b"Rollback checklist: snapshot the Kestrel database before any emergency change.",
        maintype="text",
        subtype="plain",
        filename="rollback-checklist.txt",
    )
    message.add_attachment(b"\x89PNG\r\n\x1a\n", maintype="image", subtype="png", filename="logo.png")
    path.write_bytes(message.as_bytes())


def write_jsonl(path: Path) -> None:
    records = [
        {
            "id": "KB-7",
            "title": "Badge reader",
            "body": "Tap the Wexford badge reader twice to reset it.",
            "team": "Facilities",
        },
        {
            "id": "KB-8",
            "title": "Guest Wi-Fi",
            "body": "Guest vouchers last 24 hours at the Halden site.",
            "team": "Network",
        },
    ]
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")


def write_msg(path: Path) -> None:
    """A minimal Outlook message written with extract-msg's own OLE writer (MS-OXMSG layout)."""
    import struct

    from extract_msg.ole_writer import OleWriter

    def utf16(text: str) -> bytes:
        return text.encode("utf-16-le")

    def fixed(tag: int, value: int) -> bytes:  # a fixed-size property entry: tag, flags, 8 bytes
        return struct.pack("<IIQ", tag, 6, value)

    sent = int((datetime(2026, 3, 20, 9, 30, tzinfo=UTC).timestamp() + 11_644_473_600) * 10_000_000)
    writer = OleWriter()
    header = b"\x00" * 8 + struct.pack("<IIII", 1, 1, 0, 1) + b"\x00" * 8
    writer.addEntry("__properties_version1.0", header + fixed(0x00390040, sent))  # PR_CLIENT_SUBMIT_TIME
    for tag, text in [
        ("001A001F", "IPM.Note"),
        ("0037001F", "Printer queue outage in Building 7"),
        ("1000001F", "The FollowMe queue in Building 7 is down; use the Zephyr printer meanwhile."),
        ("0C1A001F", "Facilities Desk"),
        ("0C1F001F", "facilities@example.com"),
        ("007D001F", "From: Facilities Desk <facilities@example.com>\r\nTo: all-staff@example.com\r\n\r\n"),
    ]:
        writer.addEntry(f"__substg1.0_{tag}", utf16(text))
    writer.addEntry("__nameid_version1.0", storage=True)
    for stream in ("00020102", "00030102", "00040102"):
        writer.addEntry(f"__nameid_version1.0/__substg1.0_{stream}", b"")
    attachment = "__attach_version1.0_#00000000"
    writer.addEntry(attachment, storage=True)
    writer.addEntry(f"{attachment}/__properties_version1.0", b"\x00" * 8 + fixed(0x37050003, 1))  # by value
    writer.addEntry(f"{attachment}/__substg1.0_3707001F", utf16("zephyr-howto.txt"))
    writer.addEntry(f"{attachment}/__substg1.0_37010102", b"Zephyr printer: release jobs with your badge.")
    with path.open("wb") as handle:
        writer.write(handle)


HTML_PAGE = """<!DOCTYPE html><html><head><title>Reset the VPN client</title>
<script>window.analytics = 'tracking pixel';</script><style>.x{color:red}</style></head><body>
<header><a href="/">Example IT home</a> <a href="/login">Sign in to the portal</a></header>
<nav class="site-nav"><ul><li><a href="/kb">All knowledge articles</a></li><li>Popular topics</li></ul></nav>
<div class="breadcrumb">Home / Network / VPN</div>
<main><article>
<h1>Reset the VPN client</h1>
<p>When the tunnel drops, quit the client, wait ten seconds and start it again.</p>
<h2>Still failing</h2>
<ol><li>Check the network cable.</li><li>Sign in again with MFA.</li></ol>
<table><tr><th>Error</th><th>Meaning</th></tr><tr><td>809</td><td>Port blocked</td></tr></table>
<div class="share">Share this article on social media</div>
</article>
<aside><h3>Related</h3><p>Wi-Fi setup for visitors</p></aside></main>
<div id="cookie-banner">We use cookies to improve the site</div>
<footer><p>Copyright 2026 Example Corp. Privacy policy.</p></footer>
</body></html>"""


@pytest.fixture
def exports(tmp_path: Path) -> Path:
    folder = tmp_path / "exports"
    folder.mkdir()
    write_docx(folder / "vpn-guide.docx")
    write_pptx(folder / "briefing.pptx")
    write_xlsx(folder / "cmdb.xlsx")
    write_csv(folder / "tickets.csv")
    write_eml(folder / "freeze.eml")
    write_msg(folder / "outage.msg")
    write_jsonl(folder / "articles.jsonl")
    (folder / "vpn.html").write_text(HTML_PAGE, encoding="utf-8")
    return folder


async def _top(rag, question: str, mode: str) -> object:  # type: ignore[no-untyped-def]
    hits = await rag.retrieve(question, mode=mode, top_k=3)
    assert hits, f"nothing found for {question!r} ({mode})"
    return hits[0]


async def test_every_format_is_ingested_and_found_by_keyword_and_dense_search(exports: Path) -> None:
    rag, _ = make()
    calls: list[tuple[int, int]] = []
    report = await rag.ingest(
        exports,
        user_id="alice",
        metadata={"team": "service-desk"},
        progress=lambda done, total, _: calls.append((done, total)),
    )
    assert report.failures == ()
    assert calls[0] == (0, 8) and calls[-1] == (14, 14)  # 8 files; the total grows to 14 documents
    names = sorted(d.document_id.removeprefix(f"{exports}/") for d in report.documents)
    assert names == [
        "articles.jsonl#line=1",
        "articles.jsonl#line=2",
        "briefing.pptx",
        "cmdb.xlsx#CMDB/row=2",
        "cmdb.xlsx#CMDB/row=3",
        "freeze.eml",
        "freeze.eml#attachment=1/rollback-checklist.txt",
        "outage.msg",
        "outage.msg#attachment=1/zephyr-howto.txt",
        "tickets.csv#row=2",  # one document per row, keyed by its row number by default
        "tickets.csv#row=3",
        "tickets.csv#row=4",
        "vpn-guide.docx",
        "vpn.html",
    ]

    cases = [
        ("globalconnect tunnel drops restart", "vpn-guide.docx", {"file_type": "docx"}),
        ("escalation roster Dorothea", "briefing.pptx", {"file_type": "pptx"}),
        (
            "core switch Lisbon datacentre",
            "cmdb.xlsx",
            {"sheet": "CMDB", "owner": "Network team", "ci": "CI-1", "installed": "2024-03-01T00:00:00"},
        ),
        ("payroll portal quarterly export", "tickets.csv", {"number": "INC0010002", "priority": "2"}),
        ("production changes emergencies friday", "freeze.eml", {"from": "Change Manager <cab@example.com>"}),
        ("snapshot Kestrel database rollback", "freeze.eml", {"attachment_of": str(exports / "freeze.eml")}),
        ("FollowMe queue Building 7 down", "outage.msg", {"subject": "Printer queue outage in Building 7"}),
        ("release jobs with your badge", "outage.msg", {"file_name": "zephyr-howto.txt"}),
        ("Wexford badge reader", "articles.jsonl", {"id": "KB-7", "team": "Facilities"}),
        ("tunnel drops quit the client wait ten seconds", "vpn.html", {"file_type": "html"}),
    ]
    for question, file_name, expected in cases:
        for mode in ("keyword", "dense"):
            hit = await _top(rag, question, mode)
            assert Path(hit.source.split("#")[0]).name == file_name, (question, mode, hit.source)
            for key, value in expected.items():
                assert hit.metadata[key] == value, (question, mode, key)
            assert hit.metadata["user_id"] == "alice"
    # the caller's metadata is on every document; a record's own field of that name wins
    stored = {d.document_id.removeprefix(f"{exports}/"): d for d in await rag.list_documents()}
    assert stored["articles.jsonl#line=1"].metadata["team"] == "Facilities"
    assert {d.metadata["team"] for name, d in stored.items() if not name.startswith("articles")} == {
        "service-desk"
    }


async def test_reingesting_unchanged_exports_changes_nothing_and_an_edited_row_is_a_new_version(
    exports: Path,
) -> None:
    rag, _ = make(parsing=ParseOptions(key_field="number"))  # one key for every table of this system
    await rag.ingest(exports / "tickets.csv")
    again = await rag.ingest(exports / "tickets.csv")
    assert {d.action for d in again.documents} == {"unchanged"}
    rows = [list(r) for r in TICKETS]
    rows[2][1] = "Payroll portal rejects the quarterly export with error 500"
    with (exports / "tickets.csv").open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    report = await rag.ingest(exports / "tickets.csv")
    actions = {d.document_id.rsplit("#", 1)[1]: (d.action, d.version) for d in report.documents}
    assert actions == {
        "INC0010001": ("unchanged", 1),
        "INC0010002": ("updated", 2),
        "INC0010003": ("unchanged", 1),
    }


async def test_docx_keeps_headings_lists_and_tables_as_markdown(tmp_path: Path) -> None:
    path = tmp_path / "guide.docx"
    write_docx(path)
    [document] = await FileDocumentParser().parse(str(path), max_bytes=LIMIT)
    assert document.title == "VPN troubleshooting guide" and document.format == "markdown"
    assert "# VPN troubleshooting guide" in document.text
    assert "## Checks" in document.text
    assert "- Confirm the laptop clock is correct.\n- Re-enrol the hardware token." in document.text
    assert "| Error | Meaning |\n| --- | --- |\n| 809 | Firewall blocks the port |" in document.text


async def test_pptx_gives_one_section_per_slide_with_its_notes(tmp_path: Path) -> None:
    path = tmp_path / "deck.pptx"
    write_pptx(path)
    [document] = await FileDocumentParser().parse(str(path), max_bytes=LIMIT)
    assert document.title == "Major incident briefing"
    assert (
        "## Slide 1: Bridge call\n\n- Open the bridge within 15 minutes\n\nNotes: Mention the escalation"
        in (document.text)
    )
    assert "## Slide 2: Status page" in document.text
    assert "Notes: The communications lead owns the status page." in document.text


async def test_table_rows_take_their_text_title_and_metadata_from_the_configured_columns(
    tmp_path: Path,
) -> None:
    path = tmp_path / "tickets.csv"
    write_csv(path)
    options = ParseOptions(
        key_field="number",
        title_field="number",
        text_fields=("short_description",),
        metadata_fields=("priority",),
    )
    documents = await FileDocumentParser().parse(str(path), max_bytes=LIMIT, options=options)
    first = documents[0]
    assert first.id == f"{path}#INC0010001" and first.source == first.id
    assert first.title == "INC0010001"
    assert first.text == "Printer on floor three jams with every duplex job"
    assert first.metadata == {
        "priority": "3",
        "row": 2,
        "record_key": "INC0010001",
        "file_type": "csv",
        "file_name": "tickets.csv",
    }
    # without options every column is text ("name: value" lines) and metadata; the row number is the key
    [default, *_] = await FileDocumentParser().parse(str(path), max_bytes=LIMIT)
    assert default.id == f"{path}#row=2"
    assert default.text.splitlines()[:2] == [
        "number: INC0010001",
        "short_description: Printer on floor three jams with every duplex job",
    ]
    assert default.metadata["assignment_group"] == "Workplace"


async def test_a_semicolon_csv_and_a_json_export_with_a_records_field(tmp_path: Path) -> None:
    semicolons = tmp_path / "assets.csv"
    semicolons.write_text("tag;model\nLT-1;Latitude 7440 laptop\nLT-2;ThinkPad X1 laptop\n", encoding="utf-8")
    documents = await FileDocumentParser().parse(str(semicolons), max_bytes=LIMIT)
    assert [d.metadata["model"] for d in documents] == ["Latitude 7440 laptop", "ThinkPad X1 laptop"]
    export = tmp_path / "incidents.json"
    export.write_text(
        json.dumps({"result": [{"sys_id": "a1", "fields": {"description": "Disk full on the build agent"}}]}),
        encoding="utf-8",
    )
    options = ParseOptions(records_field="result", key_field="sys_id", text_fields=("fields.description",))
    [record] = await FileDocumentParser().parse(str(export), max_bytes=LIMIT, options=options)
    assert record.id == f"{export}#a1" and record.text == "Disk full on the build agent"
    assert record.metadata["sys_id"] == "a1"


async def test_email_metadata_body_and_attachments(tmp_path: Path) -> None:
    path = tmp_path / "freeze.eml"
    write_eml(path)
    message, attachment = await FileDocumentParser().parse(str(path), max_bytes=LIMIT)
    assert message.title == "Change freeze for the quarter close"
    assert message.metadata["subject"] == "Change freeze for the quarter close"
    assert message.metadata["from"] == "Change Manager <cab@example.com>"
    assert message.metadata["date"] == "2026-03-20T09:30:00+00:00"
    assert "No production changes from Friday 18:00" in message.text
    assert message.metadata["skipped_attachments"] == "logo.png (unsupported type)"
    assert attachment.id == f"{path}#attachment=1/rollback-checklist.txt"
    assert attachment.text.startswith("Rollback checklist")
    assert attachment.metadata["file_name"] == "rollback-checklist.txt"
    assert attachment.metadata["subject"] == message.metadata["subject"]


async def test_outlook_msg_metadata_body_and_attachment(tmp_path: Path) -> None:
    path = tmp_path / "outage.msg"
    write_msg(path)
    message, attachment = await FileDocumentParser().parse(str(path), max_bytes=LIMIT)
    assert message.title == "Printer queue outage in Building 7"
    assert message.metadata["from"] == "Facilities Desk <facilities@example.com>"
    assert message.metadata["date"] == "2026-03-20T09:30:00+00:00"
    assert message.metadata["to"] == "all-staff@example.com"
    assert "use the Zephyr printer meanwhile" in message.text
    assert attachment.id == f"{path}#attachment=1/zephyr-howto.txt"
    assert attachment.text == "Zephyr printer: release jobs with your badge."
    assert attachment.metadata["attachment_of"] == str(path)


async def test_html_yields_only_the_article(tmp_path: Path) -> None:
    path = tmp_path / "vpn.html"
    path.write_text(HTML_PAGE, encoding="utf-8")
    [document] = await FileDocumentParser().parse(str(path), max_bytes=LIMIT)
    assert document.title == "Reset the VPN client"
    assert document.text == (
        "# Reset the VPN client\n\n"
        "When the tunnel drops, quit the client, wait ten seconds and start it again.\n\n"
        "## Still failing\n\n"
        "1. Check the network cable.\n"
        "2. Sign in again with MFA.\n\n"
        "| Error | Meaning |\n"
        "| --- | --- |\n"
        "| 809 | Port blocked |"
    )


def _zip(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


@pytest.mark.parametrize(
    ("name", "make_bytes"),
    [
        ("broken.docx", lambda p: p.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 8)),
        ("not-word.docx", lambda p: _zip(p, {"readme.txt": b"hello"})),
        ("broken.pptx", lambda p: p.write_bytes(b"\xd0\xcf\x11\xe0" + bytes(range(256)) * 8)),
        ("not-slides.pptx", lambda p: _zip(p, {"[Content_Types].xml": b"<Types/>"})),
        ("broken.xlsx", lambda p: p.write_bytes(bytes(range(256)) * 8)),
        ("not-sheet.xlsx", lambda p: _zip(p, {"xl/workbook.xml": b"<oops"})),
        ("binary.csv", lambda p: p.write_bytes(b"a,b\n\x00\x01\x02,\xff\xfe")),
        ("garbage.eml", lambda p: p.write_bytes(bytes(range(256)) * 8)),
        ("headless.eml", lambda p: p.write_bytes(b"just some words without any header\n")),
        ("broken.msg", lambda p: p.write_bytes(bytes(range(256)) * 16)),
        ("broken.json", lambda p: p.write_text('{"id": 1, "text": ', encoding="utf-8")),
        ("list-of-strings.json", lambda p: p.write_text('["a", "b"]', encoding="utf-8")),
        ("broken.jsonl", lambda p: p.write_text('{"text": "ok"}\n{"text": \n', encoding="utf-8")),
        ("binary.html", lambda p: p.write_bytes(b"<html>\x00\x00\x00</html>")),
    ],
)
async def test_a_damaged_file_of_each_format_is_undecodable(tmp_path: Path, name: str, make_bytes) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / name
    make_bytes(path)
    with pytest.raises(UndecodableDocument) as caught:
        await FileDocumentParser().parse(str(path), max_bytes=LIMIT)
    assert name in str(caught.value) and caught.value.source == str(path)


async def test_damaged_files_in_a_folder_are_reported_and_the_rest_ingested(tmp_path: Path) -> None:
    (tmp_path / "broken.docx").write_bytes(b"PK\x03\x04garbage")
    (tmp_path / "broken.jsonl").write_text("{nope}\n", encoding="utf-8")
    write_csv(tmp_path / "tickets.csv")
    rag, _ = make()
    report = await rag.ingest(tmp_path)
    assert {Path(f.source).name: f.error for f in report.failures} == {
        "broken.docx": "UndecodableDocument",
        "broken.jsonl": "UndecodableDocument",
    }
    assert len(report.documents) == 3


async def test_a_missing_column_or_a_repeated_key_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "tickets.csv"
    write_csv(path)
    with pytest.raises(
        DocumentRejected, match=r"tickets\.csv: the header row has no 'sys_id' \(parsing\.key_field\)"
    ):
        await FileDocumentParser().parse(str(path), max_bytes=LIMIT, options=ParseOptions(key_field="sys_id"))
    duplicates = tmp_path / "dupes.csv"
    duplicates.write_text("priority,text\n2,first\n2,second\n", encoding="utf-8")
    with pytest.raises(DocumentRejected, match=r"'priority' repeats '2' \(row 2 and row 3\)"):
        await FileDocumentParser().parse(
            str(duplicates), max_bytes=LIMIT, options=ParseOptions(key_field="priority")
        )


async def test_a_missing_extra_is_a_typed_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "guide.docx"
    write_docx(path)
    monkeypatch.setitem(sys.modules, "docx", None)  # what an install without the extra looks like
    with pytest.raises(ParserExtraMissing) as caught:
        await FileDocumentParser().parse(str(path), max_bytes=LIMIT)
    assert caught.value.extra == "docs" and caught.value.package == "python-docx"
    assert "motadata-ai-sdk[docs]" in str(caught.value) and "guide.docx" in str(caught.value)


async def test_extracted_text_limit_applies_to_a_table_export(tmp_path: Path) -> None:
    from motadata_ai.ports.documents import DocumentTooLarge

    path = tmp_path / "big.csv"
    path.write_text("id,text\n" + "".join(f"{i},{'word ' * 40}\n" for i in range(400)), encoding="utf-8")
    # the file is under the limit; its rows' text ("id: ..." and "text: ..." lines) is not
    with pytest.raises(DocumentTooLarge, match="extracted text"):
        await FileDocumentParser().parse(str(path), max_bytes=path.stat().st_size + 1000)


async def test_row_options_come_from_the_settings_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from motadata_ai.api import create_rag_system
    from motadata_ai.settings import Settings

    monkeypatch.setenv("MOTADATA_PARSING__KEY_FIELD", "number")
    monkeypatch.setenv("MOTADATA_PARSING__TEXT_FIELDS", '["short_description"]')
    monkeypatch.setenv("MOTADATA_PARSING__TIMEOUT_SECONDS", "12.5")
    settings = Settings(data_dir=tmp_path / "data")
    template, parts = make()
    rag = create_rag_system(
        tenant_id="acme",
        gateway=template._gateway,
        vector_store=parts["vectors"],
        documents=parts["documents"],
        settings=settings,
        similarity_threshold=0.0,
    )
    assert rag.parsing == ParseOptions(
        key_field="number", text_fields=("short_description",), timeout_seconds=12.5
    )
    write_csv(tmp_path / "tickets.csv")
    report = await rag.ingest(tmp_path / "tickets.csv")
    assert [d.document_id.rsplit("#", 1)[1] for d in report.documents] == [
        "INC0010001",
        "INC0010002",
        "INC0010003",
    ]
    [hit] = await rag.retrieve("zebra label printer warehouse", mode="keyword", top_k=1)
    assert hit.text == "Zebra label printer offline in the warehouse"
