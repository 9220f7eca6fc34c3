"""Database span names: the operation and the table of a statement, never its text."""

from __future__ import annotations

import pytest

from motadata_ai.adapters.postgres._tracing import summarise


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ("SELECT id, text FROM motadata_chunks WHERE tenant_id = $1", ("SELECT", "motadata_chunks")),
        ("  insert into motadata_usage (id) values ($1)", ("INSERT", "motadata_usage")),
        ("UPDATE ml_runs SET body = $2 WHERE run_id = $1", ("UPDATE", "ml_runs")),
        ("WITH q AS (SELECT * FROM unnest($1::text[]) AS t) SELECT 1 FROM q", ("WITH", None)),
        (
            "-- keyword search\nSELECT c.id FROM motadata_chunks c JOIN q ON true",
            ("SELECT", "motadata_chunks"),
        ),
        ("SELECT 1", ("SELECT", None)),
        ("", ("QUERY", None)),
    ],
)
def test_a_statement_is_summarised_by_operation_and_table(
    statement: str, expected: tuple[str, str | None]
) -> None:
    assert summarise(statement) == expected
