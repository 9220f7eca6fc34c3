"""The function API refuses bad input with the SDK's typed errors before anything runs, and
runs on the in-process models with no server."""

from __future__ import annotations

from typing import Any

import pytest

from motadata_ai import (
    ConfigurationError,
    InvalidTenant,
    ValidationError,
    create_cache_mechanism,
    create_database_connection,
    create_gateway,
    create_rag_system,
    health_check,
)
from motadata_ai.functions import Database


@pytest.mark.parametrize(
    ("call", "error", "field"),
    [
        (lambda: create_gateway(tenant_id="bad tenant!"), InvalidTenant, None),
        (lambda: create_gateway(rate_limit_config={"rpm": 5}), ValidationError, "rate_limit_config"),
        (lambda: create_gateway(validation_level="paranoid"), ValidationError, "validation_level"),  # type: ignore[arg-type]
        (lambda: create_gateway(provider="anthropic"), ConfigurationError, "default_model"),
        (lambda: create_database_connection(dsn="mysql://db/x"), ValidationError, "dsn"),
        (lambda: create_database_connection(port=5432, user="u"), ValidationError, "host"),
        (lambda: create_database_connection({"hostname": "x"}), ValidationError, "config"),
        (lambda: create_cache_mechanism(backend="memcached"), ConfigurationError, "backend"),  # type: ignore[arg-type]
        (
            lambda: create_cache_mechanism(backend="redis", config={"url": "redis://x", "pool": 3}),
            ValidationError,
            "config",
        ),
        (lambda: create_rag_system(gateway=None, tenant_id="acme"), ValidationError, "gateway"),
    ],
    ids=[
        "tenant",
        "rate limit keys",
        "validation level",
        "provider without model",
        "dsn scheme",
        "parts without host",
        "config keys",
        "cache backend",
        "redis options",
        "no gateway",
    ],
)
def test_bad_input_is_a_typed_error_naming_the_field(
    call: Any, error: type[Exception], field: str | None
) -> None:
    with pytest.raises(error) as caught:
        call()
    if field is not None:
        assert caught.value.fields["field"] == field  # type: ignore[attr-defined]


def test_rag_options_are_checked_when_the_system_is_made() -> None:
    gateway = create_gateway(default_model="local/extractive", tenant_id="acme")
    with pytest.raises(ValidationError) as caught:
        create_rag_system(gateway=gateway, db=Database(_settings()), chunking_strategy="semantic")
    assert caught.value.fields["field"] == "chunking_strategy"


def _settings() -> Any:
    from motadata_ai import Settings

    return Settings(profile="memory")


def test_database_parts_make_a_dsn_with_the_password_masked() -> None:
    db = create_database_connection(host="db.internal", port=6432, database="ai", user="svc", password="p@ss")
    assert db.settings.profile == "services"
    assert db.settings.postgres_dsn is not None
    assert db.settings.postgres_dsn.get_secret_value() == "postgresql://svc:p%40ss@db.internal:6432/ai"
    assert db.dsn is not None and "p%40ss" not in db.dsn and "svc" in db.dsn
    socket = create_database_connection(host="/run/pg", database="ai", user="svc")
    assert socket.settings.postgres_dsn is not None
    assert socket.settings.postgres_dsn.get_secret_value() == "postgresql://svc@/ai?host=/run/pg&port=5432"


async def test_generate_async_on_the_local_model_and_messages_as_dicts() -> None:
    gateway = create_gateway(default_model="local/extractive", tenant_id="acme", enable_caching=False)
    try:
        with pytest.raises(ValidationError, match="exactly one of prompt and messages"):
            await gateway.generate_async()
        response = await gateway.generate_async(
            messages=[
                {
                    "role": "system",
                    "content": "[1] VPN: Reset the VPN password from the self-service portal.",
                },
                {"role": "user", "content": "How do I reset the VPN password?"},
            ]
        )
        assert "self-service portal" in response.text and response.metadata["tenant_id"] == "acme"
        vectors = await gateway.generate_embeddings(text=["vpn", "mfa"])
        assert len(vectors) == 2 and len(vectors[0]) == 384
        memory_cache = create_cache_mechanism()
        health = await health_check(gateway=gateway, cache=memory_cache)
        assert health["status"] == "ok" and health["components"]["cache"]["status"] == "ok"
    finally:
        await gateway.aclose()
