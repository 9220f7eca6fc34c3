"""The LeasePort contract on InMemoryLeases, on a clock moved by hand."""

from __future__ import annotations

from motadata_ai.adapters.memory.leases import InMemoryLeases
from motadata_ai.ports.leases import LeasePort
from motadata_ai.testing.contracts.leases import LeaseContract


class TestInMemoryLeases(LeaseContract):
    async def make_leases(self) -> LeasePort:
        self.now = 1000.0
        return InMemoryLeases(clock=lambda: self.now)

    async def wait(self, seconds: float) -> None:
        self.now += seconds


def test_results_are_bounded() -> None:
    import asyncio

    from motadata_ai.testing.contracts.leases import request_key

    async def run() -> int:
        store = InMemoryLeases(max_results=3)
        for _ in range(5):
            key = request_key()
            await store.acquire(key, owner="a", ttl=5)
            await store.release(key, owner="a", result=b"x", result_ttl=60)
        return len(store._results)

    assert asyncio.run(run()) == 3
