"""The ledger and audit log contract on the in-memory adapters."""

from __future__ import annotations

from motadata_ai.adapters.memory.ledger import InMemoryAuditLog, InMemoryUsageLedger
from motadata_ai.ports.ledger import AuditLogPort, UsageLedgerPort
from motadata_ai.testing.contracts.ledger import LedgerContract


class TestInMemoryLedger(LedgerContract):
    async def make_ledger(self) -> UsageLedgerPort:
        return InMemoryUsageLedger()

    async def make_audit(self) -> AuditLogPort:
        return InMemoryAuditLog()
