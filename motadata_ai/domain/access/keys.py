"""VirtualKeys: create, list, revoke and authenticate per-tenant API keys, and apply each key's policy.

A key's policy sits on top of its tenant's gateway policy (which the gateway applies to every call
anyway): ``allowed_models`` narrows the models the key may name (an other model raises
:class:`~motadata_ai.ports.llm.UnknownModel` listing the allowed ones), ``requests_per_minute`` is
a token bucket of the key alone (capacity one minute's worth, on the same :class:`LimitsPort` as
the gateway's buckets, key ``{tenant}:rl:key:<id>:req``), and ``budget_usd`` is a lifetime spend
limit of the key, counted in the key store from each answered call's cost. The tenant's limits
and budgets still hold for every key of the tenant.

Creating and revoking a key configure the tenant: each writes one ``config.api_key`` audit event
(resource the key id; metadata the operation and the names of the limits set, never the secret).

Authenticated keys are kept ``cache_seconds`` (default 2) in a :class:`KeyCache`, so a request does
not read the store every time; this instance's revocations and charges show at once, another
process's within ``cache_seconds`` (0 reads the store on every call).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

from motadata_ai.domain.access.key_cache import KeyCache
from motadata_ai.domain.gateway.errors import RateLimited
from motadata_ai.domain.privacy.audit import AuditTrail, audited
from motadata_ai.domain.values import keys as key_scheme
from motadata_ai.domain.values.api_keys import (
    APIKey,
    InvalidAPIKey,
    IssuedKey,
    TenantMismatch,
    check_key_id,
    issue_key,
    parse_key_token,
    secret_matches,
)
from motadata_ai.domain.values.errors import BudgetExceeded, NotFound
from motadata_ai.domain.values.limits import BucketSpec
from motadata_ai.domain.values.tenancy import TenantContext, validate_tenant_id
from motadata_ai.ports.keys import KeyStorePort
from motadata_ai.ports.limits import LimitsPort
from motadata_ai.ports.llm import UnknownModel

__all__ = ["VirtualKeys"]


class VirtualKeys:
    """The key lifecycle and the per-key checks the HTTP gateway runs before each call."""

    def __init__(
        self,
        store: KeyStorePort,
        *,
        limits: LimitsPort | None = None,
        clock: Callable[[], float] = time.monotonic,
        audit_trail: AuditTrail | None = None,
        cache_seconds: float = 2.0,
    ) -> None:
        self.store = store
        self._limits = limits
        self._clock = clock
        self.audit_trail = audit_trail
        self._cache = KeyCache(ttl=cache_seconds, clock=clock)

    # ------------------------------------------------------------------ lifecycle

    async def create(
        self,
        tenant: TenantContext | str,
        *,
        user_id: str | None = None,
        name: str = "",
        allowed_models: Sequence[str] | None = None,
        requests_per_minute: int | None = None,
        budget_usd: float | None = None,
    ) -> IssuedKey:
        """A new key of ``tenant``; the returned ``token`` is the only time the secret is seen."""
        tenant_id = TenantContext.of(tenant).tenant_id
        issued = issue_key(
            tenant_id,
            user_id=user_id,
            name=name,
            allowed_models=tuple(allowed_models) if allowed_models is not None else None,
            requests_per_minute=requests_per_minute,
            budget_usd=budget_usd,
        )
        limits = {"allowed_models": allowed_models, "requests_per_minute": requests_per_minute,
                  "budget_usd": budget_usd}  # fmt: skip
        metadata = {"operation": "create", "fields": sorted(k for k, v in limits.items() if v is not None)}
        async with audited(
            self.audit_trail, "config.api_key", tenant_id=tenant_id, user_id=user_id,
            resource=issued.key.id, metadata=metadata,
        ):  # fmt: skip
            await self.store.add(issued.key)
        return issued

    async def list(self, tenant: TenantContext | str, *, include_revoked: bool = False) -> list[APIKey]:
        """The tenant's keys, oldest first."""
        return await self.store.list(tenant=tenant, include_revoked=include_revoked)

    async def revoke(self, tenant: TenantContext | str, key_id: str) -> None:
        """Revoke the tenant's key; :class:`NotFound` when the tenant has no such live key."""
        tenant_id = validate_tenant_id(TenantContext.of(tenant).tenant_id)
        key_id = check_key_id(key_id)
        async with audited(
            self.audit_trail, "config.api_key", tenant_id=tenant_id, resource=key_id,
            metadata={"operation": "revoke"},
        ):  # fmt: skip
            revoked = await self.store.revoke(tenant=tenant_id, key_id=key_id)
            self._cache.drop(key_id)
            if not revoked:
                raise NotFound(
                    f"tenant {tenant_id} has no live key {key_id}", tenant_id=tenant_id, key_id=key_id
                )

    # ------------------------------------------------------------------ per request

    async def authenticate(self, token: str | None) -> APIKey:
        """The live key ``token`` is, or :class:`InvalidAPIKey` (missing, malformed, unknown, revoked)."""
        key_id, secret = parse_key_token(token)
        key = self._cache.get(key_id)
        if key is None:
            key = await self.store.get(key_id)
            if key is not None:
                self._cache.put(key)
        if key is None or not secret_matches(key, secret):
            raise InvalidAPIKey("the API key is not valid", key_id=key_id)
        if key.revoked:
            raise InvalidAPIKey("the API key was revoked", key_id=key_id, tenant_id=key.tenant_id)
        return key

    @staticmethod
    def check_tenant(key: APIKey, requested: str | None) -> str:
        """The key's tenant; :class:`TenantMismatch` when the request names another one."""
        if requested is not None and requested != key.tenant_id:
            raise TenantMismatch(
                f"this API key belongs to tenant {key.tenant_id}, not to {requested!r}",
                tenant_id=key.tenant_id,
                requested_tenant=requested,
                key_id=key.id,
            )
        return key.tenant_id

    @staticmethod
    def check_model(key: APIKey, model: str) -> None:
        """:class:`UnknownModel` (listing the allowed ones) when the key may not call ``model``."""
        allowed = key.allowed_models
        if allowed is not None and model not in allowed:
            raise UnknownModel(
                f"model {model!r} is not allowed for this API key; allowed: {', '.join(allowed) or 'none'}",
                model=model,
                available=list(allowed),
                field="model",
                tenant_id=key.tenant_id,
            )

    async def admit(self, key: APIKey) -> None:
        """Take one request from the key's bucket and check its budget before a call."""
        if key.budget_usd is not None and key.spent_usd >= key.budget_usd:
            raise BudgetExceeded(
                f"API key {key.id} has spent ${key.spent_usd:.6f} of its ${key.budget_usd:.6f} budget",
                tenant_id=key.tenant_id,
                period="key",
                spent_usd=key.spent_usd,
                budget_usd=key.budget_usd,
                key_id=key.id,
            )
        if key.requests_per_minute is None or self._limits is None:
            return
        rate = key.requests_per_minute
        bucket = BucketSpec(
            key=key_scheme.tenant_key(key.tenant_id, key_scheme.RATE_LIMITS, "key", key.id, "req"),
            capacity=float(rate),
            refill_per_second=rate / 60.0,
        )
        decision = await self._limits.take([bucket])
        if not decision.allowed:
            retry_after = max(decision.retry_after, 0.001)
            raise RateLimited(
                f"API key {key.id} is over its rate limit of {rate} requests per minute; retry after "
                f"{retry_after:.2f}s",
                tenant_id=key.tenant_id,
                scope=["key"],
                retry_after=math.ceil(retry_after * 1000) / 1000,
                key_id=key.id,
            )

    async def charge(self, key: APIKey, cost_usd: float) -> None:
        """Add an answered call's cost to the key's spend (only keys with a budget count it)."""
        if key.budget_usd is not None and cost_usd > 0:
            self._cache.spent(key.id, await self.store.add_spend(key.id, cost_usd))
