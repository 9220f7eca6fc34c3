"""The user requests in progress, and which calls are made on their behalf.

``gateway.request(tenant, operation=...)`` opens a request: it spends one of the tenant's requests
(the rate-limit step's ``admit``) and registers its id for as long as the block runs; a call
whose :class:`~motadata_ai.domain.values.calls.CallOrigin` names an open request of the same
tenant is *internal* (it spends none). An origin the gateway never opened, or one of another
tenant, makes no call internal: such a call pays as a request of its own.

An opened request carries its user (the calls inside it are that user's, whoever makes them) and a
fresh :class:`~motadata_ai.domain.values.request_usage.RequestUsage`; a request joined from inside
another gets a child accumulator, so it reports its own calls while the outer one sums them all.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace

from motadata_ai.domain.gateway.call import CallKind
from motadata_ai.domain.gateway.config import GatewayConfig
from motadata_ai.domain.gateway.steps.rate_limit import RateLimit
from motadata_ai.domain.values.calls import (
    CallOrigin,
    Purpose,
    RequestUsage,
    acting_for,
    current_origin,
    new_request_id,
)
from motadata_ai.domain.values.errors import ValidationError

__all__ = ["OpenRequests", "check_operation"]

_OPERATION = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*")
_DIRECT: dict[CallKind, str] = {
    "chat": "gateway.generate",
    "stream": "gateway.stream",
    "embed": "gateway.embed",
}


def check_operation(operation: str) -> str:
    """``operation`` when it is a dotted lower-case name (``rag.query``), else :class:`ValidationError`."""
    if not isinstance(operation, str) or len(operation) > 64 or not _OPERATION.fullmatch(operation):
        raise ValidationError(
            f"operation must be a dotted lower-case name, got {operation!r}", field="operation"
        )
    return operation


class OpenRequests:
    """The requests in progress (request id → tenant id) and their admission."""

    def __init__(self, rate_limit: RateLimit) -> None:
        self._rate_limit = rate_limit
        self._open: dict[str, str] = {}

    @asynccontextmanager
    async def open(
        self,
        tenant_id: str,
        policy: GatewayConfig,
        operation: str,
        wait: bool | None,
        user_id: str | None = None,
        conversation_id: str | None = None,
        *,
        spend: bool = True,
    ) -> AsyncIterator[CallOrigin]:
        """Admit one request of ``user_id`` and run the block on its behalf (inside one of the
        same tenant: join it, with an accumulator of its own that also counts for the outer one)."""
        check_operation(operation)
        current = current_origin()
        if current is not None and self._open.get(current.request_id) == tenant_id:
            usage = current.usage.child() if current.usage is not None else RequestUsage()
            joined = replace(
                current,
                user_id=current.user_id or user_id,
                conversation_id=current.conversation_id or conversation_id or None,
                usage=usage,
            )
            with acting_for(joined):
                yield joined
            return
        if spend:
            await self._rate_limit.admit(tenant_id, policy, wait)
        origin = CallOrigin(
            new_request_id(),
            tenant_id,
            operation,
            conversation_id=conversation_id or None,
            user_id=user_id,
            usage=RequestUsage(),
        )
        self._open[origin.request_id] = tenant_id
        try:
            with acting_for(origin):
                yield origin
        finally:
            del self._open[origin.request_id]

    async def admit(self, tenant_id: str, policy: GatewayConfig, operation: str, wait: bool | None) -> None:
        """Spend one more request of the tenant (a further step of a request in progress)."""
        check_operation(operation)
        await self._rate_limit.admit(tenant_id, policy, wait)

    def origin_of(
        self, tenant_id: str, kind: CallKind, given: CallOrigin | None, purpose: Purpose | None
    ) -> tuple[CallOrigin, Purpose, bool]:
        """The call's origin, its purpose, and whether it is internal (made for an open request)."""
        given = given or current_origin()
        if given is not None and self._open.get(given.request_id) == tenant_id:
            return given, purpose or "internal", True
        if given is None:
            given = CallOrigin(new_request_id(), tenant_id, _DIRECT[kind])
        return given, purpose or given.purpose, False
