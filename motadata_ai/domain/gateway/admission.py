"""Where a call enters the gateway: its tenant, its policy, and the request it is made for.

:class:`Admission` turns what a caller passed (a tenant id or context, the per-call keywords)
into the :class:`~motadata_ai.domain.gateway.call.Call` that goes down the chain, and opens and
admits user requests (``gateway.request(...)``, ``gateway.admit(...)``) against the tenant's
request budget.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

from motadata_ai.domain.gateway.call import Call, CallKind, CallOptions
from motadata_ai.domain.gateway.requests import OpenRequests
from motadata_ai.domain.gateway.tenants import TenantBook
from motadata_ai.domain.values.calls import CallOrigin
from motadata_ai.domain.values.tenancy import TenantContext

__all__ = ["Admission"]


class Admission:
    """Builds each call's context from the tenant book and the requests in progress."""

    def __init__(self, tenants: TenantBook, requests: OpenRequests, *, clock: Callable[[], float]) -> None:
        self.tenants = tenants
        self._requests = requests
        self._clock = clock

    def call(self, kind: CallKind, tenant: TenantContext | str, keywords: Mapping[str, Any]) -> Call:
        """The call context of one ``kind`` call: who, what, under which policy and why
        (:class:`ValidationError` for a keyword that kind of call does not take)."""
        options = CallOptions.of(kind, keywords)
        context = self.tenants.context(tenant, keywords.get("user_id"))
        tenant_id = context.tenant_id
        origin, purpose, internal = self._requests.origin_of(
            tenant_id, kind, keywords.get("origin"), keywords.get("purpose")
        )
        if context.user_id is None and origin.user_id is not None and origin.tenant_id == tenant_id:
            context = self.tenants.context(context, origin.user_id)  # the request's user makes this call
        policy = self.tenants.policy(tenant_id)
        return Call(context, kind, policy, origin, purpose, internal, self._clock(), options)

    def request(
        self,
        tenant: TenantContext | str,
        operation: str,
        wait: bool | None,
        conversation_id: str | None,
        user_id: str | None,
        spend: bool = True,
    ) -> AbstractAsyncContextManager[CallOrigin]:
        """Open one user request of ``tenant``, for ``user_id`` (default: the context's user; see
        ``Gateway.request``)."""
        context = self.tenants.context(tenant, user_id)
        tenant_id = context.tenant_id
        policy = self.tenants.policy(tenant_id)
        return self._requests.open(
            tenant_id, policy, operation, wait, context.user_id, conversation_id, spend=spend
        )

    async def admit(self, tenant: TenantContext | str, operation: str, wait: bool | None) -> None:
        """Spend one more of ``tenant``'s requests (see ``Gateway.admit``)."""
        tenant_id = self.tenants.context(tenant).tenant_id
        await self._requests.admit(tenant_id, self.tenants.policy(tenant_id), operation, wait)
