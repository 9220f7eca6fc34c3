"""Tenant ids are validated at the boundary with a clear error."""

import pytest

from motadata_ai import InvalidTenant, TenantContext
from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.domain.values.tenancy import validate_tenant_id


@pytest.mark.parametrize("good", ["acme", "t-1", "A.b_c-9", "x" * 64])
def test_valid_tenant_ids_pass(good: str) -> None:
    assert validate_tenant_id(good) == good
    assert TenantContext.of(good).tenant_id == good


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [
        ("", "must not be empty"),
        ("x" * 65, "65 characters"),
        ("acme corp", "outside [A-Za-z0-9_.-]"),
        ("acme/../b", "outside"),
        ("ténant", "outside"),
        (42, "must be a string"),
    ],
)
def test_invalid_tenant_ids_are_rejected_with_a_clear_error(bad: object, fragment: str) -> None:
    with pytest.raises(InvalidTenant) as info:
        TenantContext.of(bad)  # type: ignore[arg-type]
    assert fragment in str(info.value)
    assert info.value.field == "tenant_id"


def test_context_keeps_user_and_is_reused() -> None:
    context = TenantContext.of("acme", user_id="u1")
    assert TenantContext.of(context) is context
    assert TenantContext.of(context, user_id="u2").user_id == "u2"
    for user in (5, ["u2"], b"u2"):  # a context is never re-made with a user that is not a string
        with pytest.raises(ValidationError):
            TenantContext.of(context, user_id=user)  # type: ignore[arg-type]
        with pytest.raises(ValidationError):
            TenantContext.of("acme", user_id=user)  # type: ignore[arg-type]


def test_pydantic_models_validate_tenant_fields() -> None:
    with pytest.raises(ValueError, match="outside"):
        TenantContext(tenant_id="bad tenant")
