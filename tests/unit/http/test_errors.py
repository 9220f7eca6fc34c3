"""Every SDK error answers the OpenAI error shape with the status of its branch of the tree."""

from __future__ import annotations

import pytest

from motadata_ai.domain.gateway.errors import RateLimited
from motadata_ai.domain.values.api_keys import InvalidAPIKey, TenantMismatch
from motadata_ai.domain.values.errors import BudgetExceeded, ConfigurationError, InvalidTenant, NotFound
from motadata_ai.http.errors import error_response, status_code
from motadata_ai.ports.llm import ProviderAuthError, ProviderRateLimited, ProviderUnavailable, UnknownModel


@pytest.mark.parametrize(
    ("error", "status", "kind", "code"),
    [
        (InvalidAPIKey("no key"), 401, "authentication_error", "invalid_api_key"),
        (
            TenantMismatch("other tenant", tenant_id="a", requested_tenant="b"),
            403,
            "permission_error",
            "tenant_mismatch",
        ),
        (
            UnknownModel("no such model", model="x", available=["m"]),
            404,
            "invalid_request_error",
            "model_not_found",
        ),
        (NotFound("missing"), 404, "invalid_request_error", "not_found"),
        (InvalidTenant("bad", field="tenant_id"), 422, "invalid_request_error", "invalid_request"),
        (RateLimited("slow", retry_after=0.2), 429, "rate_limit_error", "rate_limit_exceeded"),
        (ProviderRateLimited("slow", retry_after=3.5), 429, "rate_limit_error", "rate_limit_exceeded"),
        (BudgetExceeded("spent"), 429, "insufficient_quota", "insufficient_quota"),
        (ProviderAuthError("provider key", model="m"), 502, "upstream_error", "provider_bad_request"),
        (ProviderUnavailable("down", model="m"), 503, "service_unavailable", "service_unavailable"),
        (ConfigurationError("settings"), 500, "server_error", "configuration_error"),
    ],
)
def test_status_type_and_code_by_branch(error: Exception, status: int, kind: str, code: str) -> None:
    response = error_response(error)  # type: ignore[arg-type]
    body = response.body.decode()
    assert status_code(error) == status == response.status_code  # type: ignore[arg-type]
    assert f'"type":"{kind}"' in body and f'"code":"{code}"' in body
    assert f'"sdk_error":"{type(error).__name__}"' in body


def test_retry_after_is_a_header_in_whole_seconds_rounded_up() -> None:
    assert error_response(RateLimited("slow", retry_after=0.2)).headers["retry-after"] == "1"
    assert error_response(ProviderRateLimited("slow", retry_after=3.5)).headers["retry-after"] == "4"
    assert "retry-after" not in error_response(NotFound("missing")).headers


def test_param_names_the_field() -> None:
    body = error_response(InvalidTenant("bad", field="tenant_id")).body.decode()
    assert '"param":"tenant_id"' in body
