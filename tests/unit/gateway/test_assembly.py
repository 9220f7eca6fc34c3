"""What the gateway leaves out of its chain: the steps whose port is missing or does nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.adapters.memory.telemetry import RecordingTelemetry
from motadata_ai.domain.gateway import Gateway, GatewayConfig
from motadata_ai.domain.gateway.assembly import assemble
from motadata_ai.domain.gateway.steps.base import Clocks

from .conftest import ask


class SwitchedOffTelemetry(RecordingTelemetry):
    """Telemetry that says it records nothing (as OpenTelemetry does under OTEL_SDK_DISABLED)."""

    @property
    def enabled(self) -> bool:
        return False


def steps_of(gateway: Gateway) -> list[str]:
    return [type(step).__name__ for step in gateway.chain.steps]


def gateway(**ports: object) -> Gateway:
    return Gateway(
        llm=FunctionLLM(lambda request: "ok"),
        embeddings=HashEmbeddings(dimensions=8),
        config=GatewayConfig(default_model="test/model"),
        **ports,  # type: ignore[arg-type]
    )


async def test_telemetry_that_records_nothing_is_left_out_of_the_chain() -> None:
    telemetry = SwitchedOffTelemetry()
    gw = gateway(telemetry=telemetry)
    assert "TelemetryStep" not in steps_of(gw)
    assert (await gw.generate(ask("hello"), tenant_id="acme")).text == "ok"
    assert telemetry.spans == [] and telemetry.histograms == []


async def test_recording_telemetry_is_in_the_chain_and_sees_the_call() -> None:
    telemetry = RecordingTelemetry()
    gw = gateway(telemetry=telemetry)
    assert steps_of(gw)[:3] == ["ExperimentStep", "Validate", "TelemetryStep"]
    await gw.generate(ask("hello"), tenant_id="acme")
    assert [span.name for span in telemetry.spans] == ["chat test/model"]


def test_without_a_cache_there_is_no_cache_step() -> None:
    assert "CacheStep" not in steps_of(gateway())


async def test_assemble_applies_the_default_models_and_starts_the_alerts_and_prompts() -> None:
    parts = assemble(
        GatewayConfig(default_model="test/model"),
        llm=FunctionLLM(lambda request: "ok"),
        embeddings=HashEmbeddings(dimensions=8),
        default_model="test/other",
        default_embedding_model="test/vectors",
        **dict.fromkeys(["cache", "limits", "ledger", "audit", "telemetry", "leases", "feedback_hook"]),
        budget_alerts=None,
        prompts=None,
        clocks=Clocks(lambda: 0.0, lambda: datetime.now(UTC)),
        sleep=asyncio.sleep,
        random=lambda: 0.5,
    )
    assert parts.tenants.config.default_model == "test/other"
    assert parts.tenants.config.default_embedding_model == "test/vectors"
    assert parts.prompts.names() == []
    response = await parts.chain.complete(parts.admission.call("chat", "acme", {}), ask("hello"))
    assert response.text == "ok"
    await parts.flush()
    assert parts.recorder.pending == 0
