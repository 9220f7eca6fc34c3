"""The LimitsPort contract: one suite every limits adapter must pass.

Subclass :class:`LimitsContract` (in a ``Test*`` class) and implement :meth:`make_limits` to
return a fresh, empty store; override :meth:`wait` when it runs on a fake clock, and
:meth:`make_unreachable_limits` (on :class:`LimitsServerContract`, for adapters behind a server) to
return a store pointed at a server that does not answer, with the password ``s3cret`` in its URL::

    class TestMyLimits(LimitsContract):
        async def make_limits(self) -> LimitsPort:
            return MyLimits(url=..., namespace=f"test-{uuid.uuid4().hex}")

Keys follow the SDK's one key scheme, as the gateway builds them: buckets
``keys.tenant_key(tenant, keys.RATE_LIMITS, ...)``, circuits ``keys.shared_key(keys.BREAKERS, model)``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from motadata_ai.domain.values import keys
from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.domain.values.limits import BucketSpec
from motadata_ai.ports.limits import LimitsPort, LimitsUnavailable
from motadata_ai.testing.contracts.health import assert_probe_answers, assert_probe_reports_down
from motadata_ai.testing.names import BAD_TENANT_IDS

__all__ = ["SECRET", "LimitsContract", "LimitsServerContract", "M", "bucket"]

SECRET = "s3cret"
M = keys.shared_key(keys.BREAKERS, "m")
"""The circuit of model ``m``."""
OTHER = keys.shared_key(keys.BREAKERS, "other")


def bucket(tenant: str, *segments: str) -> str:
    """The key of one of ``tenant``'s buckets."""
    return keys.tenant_key(tenant, keys.RATE_LIMITS, *segments)


class LimitsContract:
    """Behaviour every :class:`LimitsPort` adapter shares; subclasses provide the stores."""

    async def make_limits(self) -> LimitsPort:
        """A fresh, empty store."""
        raise NotImplementedError

    async def wait(self, seconds: float) -> None:
        """Let ``seconds`` pass on the store's clock."""
        await asyncio.sleep(seconds)

    @pytest_asyncio.fixture(autouse=True, loop_scope="session")
    async def _stores(self) -> AsyncIterator[None]:
        self._made: list[LimitsPort] = []
        yield
        for store in self._made:
            await store.aclose()

    async def limits(self) -> LimitsPort:
        """A fresh store, closed after the test."""
        store = await self.make_limits()
        self._made.append(store)
        return store

    async def test_a_new_bucket_is_full_then_refuses_with_retry_after(self) -> None:
        store = await self.limits()
        spec = [BucketSpec(bucket("tenant-a", "req"), capacity=3, refill_per_second=0.01)]
        assert [(await store.take(spec)).allowed for _ in range(3)] == [True, True, True]
        refused = await store.take(spec)
        assert not refused.allowed
        assert refused.refused == (bucket("tenant-a", "req"),)
        assert 90 < refused.retry_after <= 100  # one token at 0.01/s

    async def test_buckets_refill_over_time(self) -> None:
        store = await self.limits()
        spec = [BucketSpec(bucket("tenant-a", "req"), capacity=1, refill_per_second=10.0)]
        assert (await store.take(spec)).allowed
        refused = await store.take(spec)
        assert not refused.allowed and 0 < refused.retry_after <= 0.1
        await self.wait(0.15)
        assert (await store.take(spec)).allowed

    async def test_take_is_all_or_nothing(self) -> None:
        store = await self.limits()
        requests = BucketSpec(bucket("tenant-a", "req"), capacity=5, refill_per_second=0.01)
        tokens = BucketSpec(bucket("tenant-a", "tok"), capacity=100, refill_per_second=0.01, amount=60)
        assert (await store.take([requests, tokens])).allowed
        refused = await store.take([requests, tokens])
        assert not refused.allowed and refused.refused == (bucket("tenant-a", "tok"),)
        for _ in range(4):  # the refused call took no request token
            assert (await store.take([requests])).allowed
        assert not (await store.take([requests])).allowed

    async def test_forced_take_may_go_negative(self) -> None:
        store = await self.limits()
        spec = BucketSpec(bucket("tenant-a", "tok"), capacity=10, refill_per_second=0.01, amount=25)
        assert (await store.take([spec], force=True)).allowed
        refused = await store.take([BucketSpec(bucket("tenant-a", "tok"), 10, 0.01, amount=1)])
        assert not refused.allowed and refused.retry_after > 1000  # 16 tokens short at 0.01/s

    async def test_an_oversized_request_passes_once_the_bucket_is_full(self) -> None:
        store = await self.limits()
        spec = [BucketSpec(bucket("tenant-a", "tok"), capacity=10, refill_per_second=0.01, amount=50)]
        assert (await store.take(spec)).allowed
        assert not (await store.take(spec)).allowed

    async def test_tenants_have_separate_buckets(self) -> None:
        store = await self.limits()
        a = [BucketSpec(bucket("tenant-a", "req"), capacity=1, refill_per_second=0.01)]
        b = [BucketSpec(bucket("tenant-b", "req"), capacity=1, refill_per_second=0.01)]
        assert (await store.take(a)).allowed
        assert not (await store.take(a)).allowed
        assert (await store.take(b)).allowed
        await store.reset("tenant-a")
        assert (await store.take(a)).allowed
        assert not (await store.take(b)).allowed

    async def test_no_tenant_is_a_prefix_of_another(self) -> None:
        store = await self.limits()
        tenants = ("a", "a.b", "a-b", "ab", "rl", "cb")
        specs = {t: [BucketSpec(bucket(t, "req"), capacity=1, refill_per_second=0.001)] for t in tenants}
        for spec in specs.values():
            assert (await store.take(spec)).allowed
        await store.breaker_record(M, success=False, failure_threshold=1)
        await store.reset("a")
        await store.reset("cb")
        assert (await store.take(specs["a"])).allowed
        assert (await store.take(specs["cb"])).allowed
        for tenant in ("a.b", "a-b", "ab", "rl"):
            assert not (await store.take(specs[tenant])).allowed, tenant
        assert (await store.breaker_states())[M].state == "open"

    async def test_per_model_buckets_with_separators_in_the_model_name_stay_distinct(self) -> None:
        store = await self.limits()
        one = [BucketSpec(bucket("tenant-a", "model", "llama3:8b", "req"), 1, 0.001)]
        two = [BucketSpec(bucket("tenant-a", "model", "llama3", "8b:req"), 1, 0.001)]
        assert (await store.take(one)).allowed
        assert (await store.take(two)).allowed
        assert not (await store.take(one)).allowed

    @pytest.mark.parametrize(
        "bad_key",
        ["rl:tenant-a:req", "bkt:rl:tenant-a:req", keys.tenant_key("tenant-a", keys.GATEWAY, "req"), "",
         bucket("tenant-a", "req") + "\n"],
    )
    async def test_bucket_keys_outside_the_scheme_are_refused(self, bad_key: str) -> None:
        store = await self.limits()
        with pytest.raises(ValidationError):
            await store.take([BucketSpec(bad_key, 1, 1.0)])
        with pytest.raises(ValidationError):
            await store.breaker_acquire(bad_key, recovery_timeout=1)
        with pytest.raises(ValidationError):
            await store.breaker_record(bad_key, success=False, failure_threshold=1)

    @pytest.mark.parametrize("tenant", BAD_TENANT_IDS)
    async def test_reset_of_a_bad_tenant_is_refused_and_forgets_nothing(self, tenant: str) -> None:
        store = await self.limits()
        spec = [BucketSpec(bucket("tenant-a", "req"), capacity=1, refill_per_second=0.001)]
        assert (await store.take(spec)).allowed
        with pytest.raises(ValidationError):
            await store.reset(tenant)
        assert not (await store.take(spec)).allowed

    async def test_concurrent_takes_never_overdraw(self) -> None:
        store = await self.limits()
        spec = [BucketSpec(bucket("tenant-a", "req"), capacity=10, refill_per_second=0.001)]
        results = await asyncio.gather(*(store.take(spec) for _ in range(50)))
        assert sum(1 for r in results if r.allowed) == 10

    async def test_breaker_opens_at_the_threshold(self) -> None:
        store = await self.limits()
        for _ in range(2):
            assert (await store.breaker_record(M, success=False, failure_threshold=3)).state == "closed"
        assert (await store.breaker_acquire(M, recovery_timeout=60)).allowed
        opened = await store.breaker_record(M, success=False, failure_threshold=3)
        assert opened.state == "open" and opened.failures == 3
        refused = await store.breaker_acquire(M, recovery_timeout=60)
        assert not refused.allowed and 59 < refused.retry_after <= 60
        assert (await store.breaker_states())[M].state == "open"
        assert (await store.breaker_acquire(OTHER, recovery_timeout=60)).allowed

    async def test_half_open_probe_then_close_or_reopen(self) -> None:
        store = await self.limits()
        await store.breaker_record(M, success=False, failure_threshold=1)
        await self.wait(0.25)
        probe = await store.breaker_acquire(M, recovery_timeout=0.2)
        assert probe.allowed and probe.state.state == "half_open"
        assert not (await store.breaker_acquire(M, recovery_timeout=0.2)).allowed
        reopened = await store.breaker_record(M, success=False, failure_threshold=1)
        assert reopened.state == "open"
        assert not (await store.breaker_acquire(M, recovery_timeout=0.2)).allowed
        await self.wait(0.25)
        assert (await store.breaker_acquire(M, recovery_timeout=0.2)).allowed
        closed = await store.breaker_record(M, success=True, failure_threshold=1)
        assert closed.state == "closed" and closed.failures == 0
        assert M not in await store.breaker_states()

    async def test_success_resets_consecutive_failures(self) -> None:
        store = await self.limits()
        for _ in range(2):
            await store.breaker_record(M, success=False, failure_threshold=3)
        await store.breaker_record(M, success=True, failure_threshold=3)
        for _ in range(2):
            state = await store.breaker_record(M, success=False, failure_threshold=3)
        assert state.state == "closed" and state.failures == 2

    async def test_reset_forgets_circuits(self) -> None:
        store = await self.limits()
        await store.breaker_record(M, success=False, failure_threshold=1)
        await store.reset()
        assert await store.breaker_states() == {}
        assert (await store.breaker_acquire(M, recovery_timeout=60)).allowed


    async def test_health_probe_answers(self) -> None:
        store = await self.make_limits()
        self._made.append(store)
        await assert_probe_answers(store)


class LimitsServerContract(LimitsContract):
    """The Limits contract plus error translation, for adapters behind a server."""

    async def make_unreachable_limits(self) -> LimitsPort:
        """An adapter pointed at a server that does not answer, with the password ``s3cret`` in
        its address."""
        raise NotImplementedError

    async def test_unreachable_server_raises_limits_unavailable_with_masked_address(self) -> None:
        store = await self.make_unreachable_limits()
        self._made.append(store)
        spec = [BucketSpec(bucket("tenant-a", "req"), 1, 1.0)]
        for call in (
            store.take(spec),
            store.breaker_acquire(M, recovery_timeout=1),
            store.breaker_record(M, success=False, failure_threshold=1),
            store.breaker_states(),
            store.ping(),
        ):
            with pytest.raises(LimitsUnavailable) as caught:
                await call
            assert "***" in caught.value.address and SECRET not in str(caught.value)

    async def test_health_probe_reports_an_unreachable_server_down(self) -> None:
        store = await self.make_unreachable_limits()
        self._made.append(store)
        await assert_probe_reports_down(store, secret=SECRET)
