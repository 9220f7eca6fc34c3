"""The gateway's book of tenants: each tenant's validated context and effective policy.

A call names its tenant by id (or passes a :class:`TenantContext`); the book validates an id once
and keeps its context, and keeps each tenant's effective configuration (the gateway's defaults
with the tenant's :class:`TenantPolicy` applied), so no call re-validates or re-merges them.
Changing a tenant's policy at run time drops the merged policies and tells the book's
``on_change`` hook (the app's audit trail records each change).
"""

from __future__ import annotations

from collections.abc import Callable

from motadata_ai.domain.gateway.config import GatewayConfig, TenantPolicy
from motadata_ai.domain.values.tenancy import TenantContext, check_user_id, validate_tenant_id

__all__ = ["PolicyHook", "TenantBook"]

PolicyHook = Callable[[str, TenantPolicy | None, TenantPolicy | None, str | None], None]
"""Told of each change of a tenant's policy, once it is made: ``(tenant_id, before, after,
user_id)``, ``None`` for no policy (``after``: a reset) and for no known user."""

_MAX_REMEMBERED = 10_000
"""Tenants remembered per map before it starts afresh (bounds memory with many tenants)."""


class TenantBook:
    """Tenant contexts and effective policies over one :class:`GatewayConfig`."""

    def __init__(self, config: GatewayConfig, on_change: PolicyHook | None = None) -> None:
        self._config = config
        self.on_change = on_change
        self._policies: dict[str, GatewayConfig] = {}
        self._contexts: dict[str, TenantContext] = {}

    @property
    def config(self) -> GatewayConfig:
        """The gateway-wide configuration (with every tenant's overrides in ``tenants``)."""
        return self._config

    def context(self, tenant: TenantContext | str, user_id: str | None = None) -> TenantContext:
        """The context of ``tenant`` (an id is validated: :class:`InvalidTenant`), for ``user_id``
        when given."""
        check_user_id(user_id)
        if isinstance(tenant, TenantContext):
            context = tenant
        else:
            known = self._contexts.get(tenant) if isinstance(tenant, str) else None
            if known is None:
                known = TenantContext(tenant_id=validate_tenant_id(tenant))
                if len(self._contexts) > _MAX_REMEMBERED:
                    self._contexts.clear()
                self._contexts[tenant] = known
            context = known
        if user_id is not None and user_id != context.user_id:
            return TenantContext.model_construct(tenant_id=context.tenant_id, user_id=user_id)
        return context

    def policy(self, tenant_id: str) -> GatewayConfig:
        """The effective configuration of ``tenant_id`` (the defaults with its overrides)."""
        policy = self._policies.get(tenant_id)
        if policy is None:
            policy = self._config.for_tenant(tenant_id)
            if len(self._policies) > _MAX_REMEMBERED:
                self._policies.clear()
            self._policies[tenant_id] = policy
        return policy

    def set_policy(self, tenant_id: str, policy: TenantPolicy | None, user_id: str | None = None) -> None:
        """Override (or with ``None`` reset) one tenant's policy, then tell ``on_change`` (with
        ``user_id``, who changed it)."""
        tenants = dict(self._config.tenants)
        before = tenants.get(tenant_id)
        if policy is None:
            tenants.pop(tenant_id, None)
        else:
            tenants[tenant_id] = policy
        self._config = self._config.model_copy(update={"tenants": tenants})
        self._policies.clear()
        if self.on_change is not None:
            self.on_change(tenant_id, before, policy, user_id)
