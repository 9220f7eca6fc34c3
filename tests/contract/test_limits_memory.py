"""The LimitsPort contract on InMemoryLimits (fake clock)."""

from __future__ import annotations

from motadata_ai.adapters.memory.limits import InMemoryLimits
from motadata_ai.ports.limits import LimitsPort
from motadata_ai.testing.contracts.limits import LimitsContract


class FakeClock:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class TestInMemoryLimits(LimitsContract):
    async def make_limits(self) -> LimitsPort:
        self.clock = FakeClock()
        return InMemoryLimits(clock=self.clock)

    async def wait(self, seconds: float) -> None:
        self.clock.now += seconds
