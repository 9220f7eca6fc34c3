"""The one key scheme: tenant first, namespaces no tenant can spell, segments escaped."""

from __future__ import annotations

import itertools

import pytest

from motadata_ai.domain.values import keys
from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.testing.names import BAD_TENANT_IDS, name_id

TENANTS = ("a", "a.b", "a-b", "a_b", "ab", "a.b.c", "A", "gw", "ml", "rl", "cb", "bkt", "0", "9.9")
SEGMENTS = (("x",), ("x", "y"), ("x:y",), ("}",), ("{a}",), ("%3A",), ("*",), ("ü",), ("req",), (1,))


def test_a_tenants_prefix_starts_its_keys_and_no_other_tenants() -> None:
    built = [
        (tenant, keys.tenant_key(tenant, namespace, *segments))
        for tenant in TENANTS
        for namespace in (keys.GATEWAY, keys.ML, keys.RATE_LIMITS, "app")
        for segments in SEGMENTS
    ] + [(None, keys.shared_key(keys.BREAKERS, *segments)) for segments in SEGMENTS]
    for owner, key in built:
        for tenant in TENANTS:
            assert key.startswith(keys.scope_prefix(tenant)) == (owner == tenant), (tenant, key)
        assert key.startswith(keys.scope_prefix(None)) == (owner is None)


def test_namespace_prefixes_separate_subsystems_of_one_tenant() -> None:
    gateway = keys.scope_prefix("gw", keys.GATEWAY)
    assert not keys.tenant_key("gw", keys.ML, "pred", "m").startswith(gateway)
    assert keys.tenant_key("gw", keys.GATEWAY, "chat", "d").startswith(gateway)
    assert not keys.tenant_key("ml", keys.GATEWAY, "chat", "d").startswith(keys.scope_prefix("gw", keys.ML))


def test_keys_are_injective_and_parse_back() -> None:
    built = {}
    for tenant, segments in itertools.product(TENANTS, SEGMENTS):
        key = keys.tenant_key(tenant, "app", *segments)
        assert key not in built, (key, built.get(key))
        built[key] = (tenant, segments)
        parsed = keys.parse_key(key)
        assert (parsed.tenant_id, parsed.namespace, parsed.segments) == (
            tenant, "app", tuple(str(s) for s in segments)
        )
        assert keys.check_key(key) == key


def test_the_tenant_is_the_redis_cluster_hash_tag() -> None:
    key = "motadata:" + keys.tenant_key("acme", keys.GATEWAY, "chat", "{x}")
    assert key[key.index("{") + 1 : key.index("}")] == "acme"


@pytest.mark.parametrize("tenant", BAD_TENANT_IDS, ids=name_id)
def test_bad_tenants_build_no_key(tenant: str) -> None:
    with pytest.raises(ValidationError):
        keys.tenant_key(tenant, "app", "x")
    with pytest.raises(ValidationError):
        keys.scope_prefix(tenant)


@pytest.mark.parametrize("namespace", ["", "GW", "g w", "gw:", "{gw}", "gw\n", "_gw", "x" * 33, None])
def test_bad_namespaces_and_segments_are_refused(namespace: object) -> None:
    with pytest.raises(ValidationError):
        keys.tenant_key("acme", namespace, "x")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        keys.tenant_key("acme", "app", "")
    with pytest.raises(ValidationError):
        keys.tenant_key("acme", "app")
    with pytest.raises(ValidationError):
        keys.shared_key("app", True)  # type: ignore[arg-type]
