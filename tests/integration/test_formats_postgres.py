"""Every ingestible format on real PostgreSQL + pgvector: found by full-text and by vector search."""

from __future__ import annotations

from pathlib import Path

import pytest

from motadata_ai.adapters.postgres.database import PostgresDatabase
from tests.integration.test_rag_postgres import build
from tests.unit.retrieval.test_formats import (
    HTML_PAGE,
    write_csv,
    write_docx,
    write_eml,
    write_jsonl,
    write_msg,
    write_pptx,
    write_xlsx,
)

pytestmark = pytest.mark.postgres


async def test_exports_of_every_format_are_found_with_their_metadata(
    pg_isolated_database: PostgresDatabase, tmp_path: Path
) -> None:
    write_docx(tmp_path / "vpn-guide.docx")
    write_pptx(tmp_path / "briefing.pptx")
    write_xlsx(tmp_path / "cmdb.xlsx")
    write_csv(tmp_path / "tickets.csv")
    write_eml(tmp_path / "freeze.eml")
    write_msg(tmp_path / "outage.msg")
    write_jsonl(tmp_path / "articles.jsonl")
    (tmp_path / "vpn.html").write_text(HTML_PAGE, encoding="utf-8")
    rag, _ = await build(pg_isolated_database, "acme")
    report = await rag.ingest(tmp_path, user_id="alice")
    assert report.failures == () and len(report.documents) == 14
    cases = [
        ("escalation roster Dorothea", "briefing.pptx", "file_type", "pptx"),
        ("core switch Lisbon datacentre", "cmdb.xlsx", "owner", "Network team"),
        ("payroll portal quarterly export", "tickets.csv", "number", "INC0010002"),
        (
            "snapshot Kestrel database rollback",
            "freeze.eml",
            "subject",
            "Change freeze for the quarter close",
        ),
        ("Wexford badge reader", "articles.jsonl", "id", "KB-7"),
        ("FollowMe queue Building 7 down", "outage.msg", "from", "Facilities Desk <facilities@example.com>"),
        ("globalconnect tunnel drops restart", "vpn-guide.docx", "file_type", "docx"),
    ]
    for question, file_name, key, value in cases:
        for mode in ("keyword", "dense"):
            hits = await rag.retrieve(question, mode=mode, top_k=3)
            assert hits, (question, mode)
            assert Path(hits[0].source.split("#")[0]).name == file_name, (question, mode)
            assert hits[0].metadata[key] == value and hits[0].metadata["user_id"] == "alice"
    rows = await rag.retrieve("printer", mode="keyword", filters={"file_type": "csv"})
    assert {h.metadata["number"] for h in rows} == {"INC0010001", "INC0010003"}
