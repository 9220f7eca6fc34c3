"""Who is calling: the tenant and user behind a request, from its virtual API key.

With a key store (:class:`~motadata_ai.domain.access.VirtualKeys`), every ``/v1`` route and
``/query`` need ``Authorization: Bearer mk-...``: the key names the tenant (and the user, when the
key has one), and a body or header that names another tenant is refused with 403. Without one (a
router mounted in an application that authenticates by itself, or ``serve --no-auth`` on
loopback), the tenant comes from the ``X-Motadata-Tenant`` header or the body, else ``default``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from motadata_ai.domain.access import VirtualKeys
from motadata_ai.domain.values.api_keys import APIKey, InvalidAPIKey
from motadata_ai.domain.values.tenancy import validate_tenant_id

__all__ = ["TENANT_HEADER", "Caller", "bearer", "caller_dependency"]

TENANT_HEADER = "X-Motadata-Tenant"
DEFAULT_TENANT = "default"

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="VirtualKey",
    bearerFormat="mk-<id>_<secret>",
    description="A per-tenant virtual key (`motadata-ai keys create --tenant ...`), sent as "
    "`Authorization: Bearer mk-...`",
)


@dataclass(frozen=True, slots=True)
class Caller:
    """The tenant and user of a request, and its key (``None`` without a key store)."""

    tenant_id: str
    user_id: str | None
    key: APIKey | None
    keys: VirtualKeys | None

    def tenant(self, requested: str | None) -> str:
        """The tenant to act for: the key's (a different ``requested`` one is a 403), or
        ``requested`` (validated) when no key store is in use."""
        if self.key is None:
            return validate_tenant_id(requested) if requested is not None else self.tenant_id
        return VirtualKeys.check_tenant(self.key, requested)

    def user(self, requested: str | None) -> str | None:
        """The key's user when it has one, else the user the request names."""
        if self.key is not None and self.key.user_id is not None:
            return self.key.user_id
        return requested

    def check_model(self, model: str) -> None:
        """Refuse a model outside the key's allow-list (404 listing the allowed ones)."""
        if self.key is not None:
            VirtualKeys.check_model(self.key, model)

    async def admit(self) -> None:
        """The key's own rate limit and budget, before a call."""
        if self.key is not None and self.keys is not None:
            await self.keys.admit(self.key)

    async def charge(self, cost_usd: float) -> None:
        """Count an answered call's cost against the key's budget."""
        if self.key is not None and self.keys is not None:
            await self.keys.charge(self.key, cost_usd)


def caller_dependency(
    keys: VirtualKeys | None,
) -> Callable[[Request, HTTPAuthorizationCredentials | None], Awaitable[Caller]]:
    """The FastAPI dependency that authenticates a request (see the module's docstring)."""

    async def caller(
        request: Request, credentials: HTTPAuthorizationCredentials | None = Security(bearer)
    ) -> Caller:
        header_tenant = request.headers.get(TENANT_HEADER)
        if keys is None:
            tenant = validate_tenant_id(header_tenant) if header_tenant is not None else DEFAULT_TENANT
            return Caller(tenant_id=tenant, user_id=None, key=None, keys=None)
        if credentials is None:
            raise InvalidAPIKey("an API key is required: send 'Authorization: Bearer mk-...'")
        key = await keys.authenticate(credentials.credentials)
        if header_tenant is not None:
            VirtualKeys.check_tenant(key, header_tenant)
        return Caller(tenant_id=key.tenant_id, user_id=key.user_id, key=key, keys=keys)

    return caller
