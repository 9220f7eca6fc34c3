"""Database spans for PostgreSQL: one CLIENT span per query, without its text.

asyncpg calls a connection's query loggers after each query (in the caller's context, so the span
gets the caller's span as parent); :class:`QueryTracer` turns each into a finished span named
``{operation} {table}`` with ``db.system.name`` = ``postgresql``, ``db.operation.name``,
``db.collection.name`` (when one table is named), ``db.namespace``, ``server.address``/``port``
and ``error.type`` on failure. No statement text and no parameter values are recorded, and a
query run outside any span (a migration, the start-up warm-up) records nothing.
"""

from __future__ import annotations

import re
from typing import Any

from motadata_ai.ports.telemetry import AttributeValue, TelemetryPort

__all__ = ["QueryTracer", "summarise"]

_OPERATION = re.compile(r"^\s*(?:--[^\n]*\n\s*)*([A-Za-z]+)")
_TABLE = re.compile(
    r"\b(?:INTO|UPDATE)\s+([A-Za-z_][A-Za-z0-9_.]*)|\b(?:FROM|JOIN)\s+([A-Za-z_][A-Za-z0-9_.]*)\b(?!\s*\()",
    re.IGNORECASE,
)
_CTE = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\s+AS\s*(?:NOT\s+)?(?:MATERIALIZED\s+)?\(", re.IGNORECASE)


def summarise(query: str) -> tuple[str, str | None]:
    """The operation (``SELECT``, ``INSERT`` ...) and the first table a statement names (not a
    common table expression, not a set-returning function such as ``unnest(...)``)."""
    match = _OPERATION.match(query)
    operation = match.group(1).upper() if match else "QUERY"
    named = {m.group(1).lower() for m in _CTE.finditer(query)}  # WITH q AS (...): q is no table
    for found in _TABLE.finditer(query):
        table = found.group(1) or found.group(2)
        if table.lower() not in named:
            return operation, table
    return operation, None


class QueryTracer:
    """The query logger of every pooled connection; records spans once ``telemetry`` is set."""

    def __init__(self) -> None:
        self.telemetry: TelemetryPort | None = None

    def attach(self, connection: Any) -> None:
        """Log this connection's queries (called when the pool opens it)."""
        connection.add_query_logger(self._record)

    def _record(self, record: Any) -> None:
        telemetry = self.telemetry
        if telemetry is None or not telemetry.current_trace_id():
            return  # a query outside any request (migrations, warm-up) starts no trace of its own
        operation, table = summarise(record.query or "")
        attributes: dict[str, AttributeValue] = {
            "db.system.name": "postgresql",
            "db.operation.name": operation,
        }
        if table:
            attributes["db.collection.name"] = table
        params = record.conn_params
        database = getattr(params, "database", None)
        if database:
            attributes["db.namespace"] = str(database)
        address = record.conn_addr
        if isinstance(address, tuple) and len(address) >= 2:
            attributes["server.address"], attributes["server.port"] = str(address[0]), int(address[1])
        if record.exception is not None:
            attributes["error.type"] = type(record.exception).__name__
        name = f"{operation} {table}" if table else operation
        telemetry.record_span(name, duration_s=record.elapsed, kind="client", attributes=attributes)
