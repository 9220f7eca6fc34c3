"""Fixtures of the gateway unit tests: a scripted model, a fake clock and in-memory ports."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from motadata_ai.adapters.memory.cache import InMemoryCache
from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.ledger import InMemoryAuditLog, InMemoryUsageLedger
from motadata_ai.adapters.memory.limits import InMemoryLimits
from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.adapters.memory.telemetry import RecordingTelemetry
from motadata_ai.domain.gateway import Gateway, GatewayConfig
from motadata_ai.domain.values.llm import ChatRequest, Message
from motadata_ai.ports.llm import ProviderUnavailable

#: The rig's wall clock: a fixed midday, so a test never straddles the daily budget's midnight.
NOON = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


class FakeClock:
    """Monotonic seconds moved by hand; ``sleep`` advances it and records the delay."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@dataclass
class Rig:
    """A gateway over in-memory ports, with handles on each."""

    gateway: Gateway
    llm: FunctionLLM
    clock: FakeClock
    cache: InMemoryCache
    limits: InMemoryLimits
    ledger: InMemoryUsageLedger
    audit: InMemoryAuditLog
    telemetry: RecordingTelemetry
    embeddings: HashEmbeddings
    extra: dict[str, Any] = field(default_factory=dict)


def failing(times: int, then: str = "recovered") -> Callable[[ChatRequest], str]:
    """A responder that fails ``times`` times with ProviderUnavailable, then answers."""
    state = {"left": times}

    def respond(request: ChatRequest) -> str:
        if state["left"] > 0:
            state["left"] -= 1
            raise ProviderUnavailable("upstream 503", model=request.model, status_code=503)
        return then

    return respond


def ask(text: str, model: str = "test/model", **options: Any) -> ChatRequest:
    """A one-message chat request."""
    return ChatRequest(model=model, messages=(Message(role="user", content=text),), **options)


@pytest.fixture
def make_rig() -> Callable[..., Rig]:
    """Build a rig: ``make_rig(responder, **config)``; ``llm`` may replace the FunctionLLM and
    ``feedback_hook`` is handed to the gateway."""

    def build(
        responder: Any = None,
        *,
        llm: Any = None,
        random: Callable[[], float] = lambda: 0.5,
        wall_clock: Callable[[], datetime] = lambda: NOON,
        feedback_hook: Any = None,
        **config: Any,
    ) -> Rig:
        clock = FakeClock()
        model = llm or FunctionLLM(
            responder or (lambda request: "ok: " + (request.messages[-1].content or ""))
        )
        cache = InMemoryCache(clock=clock)
        limits = InMemoryLimits(clock=clock)
        ledger = InMemoryUsageLedger()
        audit = InMemoryAuditLog()
        telemetry = RecordingTelemetry()
        embeddings = HashEmbeddings(dimensions=64)
        config.setdefault("default_model", "test/model")
        gateway = Gateway(
            llm=model,
            embeddings=embeddings,
            config=GatewayConfig(**config),
            cache=cache,
            limits=limits,
            ledger=ledger,
            audit=audit,
            telemetry=telemetry,
            clock=clock,
            sleep=clock.sleep,
            random=random,
            wall_clock=wall_clock,
            feedback_hook=feedback_hook,
        )
        return Rig(gateway, model, clock, cache, limits, ledger, audit, telemetry, embeddings)

    return build
