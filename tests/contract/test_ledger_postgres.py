"""The ledger and audit log contract on real PostgreSQL."""

from __future__ import annotations

import pytest
import pytest_asyncio

from motadata_ai.adapters.postgres.database import PostgresDatabase
from motadata_ai.adapters.postgres.ledger import PostgresAuditLog, PostgresUsageLedger
from motadata_ai.ports.ledger import AuditLogPort, UsageLedgerPort
from motadata_ai.testing.contracts.ledger import SECRET, LedgerServerContract

pytestmark = pytest.mark.postgres


class TestPostgresLedger(LedgerServerContract):
    @pytest_asyncio.fixture(autouse=True, loop_scope="session")
    async def _database(self, pg_isolated_database: PostgresDatabase) -> None:
        self.database = pg_isolated_database

    async def make_ledger(self) -> UsageLedgerPort:
        return PostgresUsageLedger(self.database)

    async def make_audit(self) -> AuditLogPort:
        return PostgresAuditLog(self.database)

    async def make_unreachable_ledger(self) -> UsageLedgerPort | None:
        database = await PostgresDatabase.connect(
            f"postgresql://app:{SECRET}@127.0.0.1:1/motadata", lazy=True, connect_timeout=2
        )
        return PostgresUsageLedger(database)


async def test_the_audit_table_refuses_updates_and_deletes(pg_isolated_database: PostgresDatabase) -> None:
    import asyncpg

    from motadata_ai.domain.values.usage import AuditEvent

    log = PostgresAuditLog(pg_isolated_database)
    await log.write(AuditEvent(tenant_id="acme", user_id="bob", action="rag.query"))
    async with pg_isolated_database.pool.acquire() as conn:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("UPDATE motadata_audit_log SET result = 'failure'")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("DELETE FROM motadata_audit_log")
    (event,) = await log.events(tenant="acme")
    assert event.result == "success"
