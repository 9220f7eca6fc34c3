"""Budgets, alerts and A/B experiments through the connected app (``ai.budgets``, ``ai.experiments``).

On the memory profile and on the services profile (real PostgreSQL ledger and audit log, NATS
JetStream bus, Redis cache): a tenant's budget alerts reach the bus, the callbacks, the audit
trail and the ledger once each; an experiment splits the traffic and its comparison shows each
arm's calls and feedback. Model calls go to a scripted double priced by the settings.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from dependency_injector import providers

from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.adapters.memory.telemetry import RecordingTelemetry
from motadata_ai.api import AI, connect
from motadata_ai.container import Container
from motadata_ai.domain.gateway.experiments import Experiment, PromptRef
from motadata_ai.domain.values.bus import Envelope
from motadata_ai.domain.values.errors import BudgetExceeded, ConfigurationError
from motadata_ai.domain.values.llm import ChatRequest, Message
from motadata_ai.domain.values.usage import BudgetAlert
from motadata_ai.settings import Settings
from motadata_ai.testing.servers.postgres import isolated_database

GATEWAY = {
    "default_model": "test/model",
    "model_prices": {
        "test/model": {"output_per_token": 0.125},
        "test/cheap": {"output_per_token": 0.0625},
    },
    "requests_per_minute": None,
    "enable_caching": False,
}


class _NoPlugins:
    def tools(self) -> dict[str, Any]:
        return {}

    def install_providers(self) -> None:
        return None


def _container(settings: Settings) -> Container:
    container = Container(settings=settings)
    container.llm.override(providers.Object(FunctionLLM(lambda request: "ok")))
    container.embeddings.override(providers.Object(HashEmbeddings(dimensions=settings.embedding_dimensions)))
    container.telemetry.override(providers.Object(RecordingTelemetry()))
    container.plugins.override(providers.Object(_NoPlugins()))
    return container


def ask(text: str) -> ChatRequest:
    return ChatRequest(model="test/model", messages=(Message(role="user", content=text),))


async def _exercise(ai: AI) -> None:
    since = datetime.now(UTC) - timedelta(hours=1)
    published: list[Envelope] = []

    async def on_event(envelope: Envelope) -> None:
        published.append(envelope)

    subscription = await ai.port("bus").subscribe("events.acme.budget.alert", on_event)
    received: list[BudgetAlert] = []
    ai.budgets.on_alert(received.append)
    ai.budgets.set("acme", daily_usd=1.0)
    assert ai.budgets.get("acme").thresholds == (0.5, 0.8, 1.0)
    with pytest.raises(ConfigurationError):
        ai.budgets.set("acme", monthly_usd=-1.0)

    answered = 0
    for n in range(12):
        try:
            await ai.gateway.generate(ask(f"spend {n}"), tenant_id="acme")
            answered += 1
        except BudgetExceeded:
            break
    assert answered == 8
    await ai.gateway.flush()
    assert sorted(a.threshold for a in received) == [0.5, 0.8, 1.0]
    assert sorted(a.threshold for a in await ai.budgets.alerts("acme")) == [0.5, 0.8, 1.0]
    for _ in range(300):  # the bus delivers in the background
        if len(published) >= 3:
            break
        await asyncio.sleep(0.02)
    assert sorted(e.payload["threshold"] for e in published) == [0.5, 0.8, 1.0]
    await subscription.stop()
    assert ai.audit_trail is not None
    await ai.audit_trail.flush()
    audited = await ai.port("audit_log").events(tenant="acme", action="budget.alert")
    assert sorted(e.metadata["threshold"] for e in audited) == [0.5, 0.8, 1.0]

    ai.experiments.prompts.register("triage", "Classify: {{ ticket }}")
    ai.experiments.prompts.register("triage", "Route the ticket: {{ ticket }}")
    ai.experiments.set(
        "globex", Experiment(name="wording", template="triage", champion_version=1, challenger_version=2)
    )
    with pytest.raises(ConfigurationError):
        ai.experiments.set(
            "globex", Experiment(name="bad", champion_model="test/model", challenger_model="test/none")
        )
    ids: dict[str, list[str]] = {"Classify": [], "Route the ticket": []}
    for n in range(60):
        prompt = PromptRef("triage", {"ticket": f"ticket {n}"})
        response = await ai.gateway.generate(
            ask("queue?"), tenant_id="globex", user_id=f"user-{n}", prompt=prompt
        )
        system = ai.container.llm().calls[-1].messages[0].content
        ids["Classify" if system.startswith("Classify") else "Route the ticket"].append(response.id)
    for response_id in ids["Classify"][:3]:
        await ai.gateway.record_feedback(response_id, tenant_id="globex", rating=2)
    for response_id in ids["Route the ticket"][:2]:
        await ai.gateway.record_feedback(response_id, tenant_id="globex", rating=5)
    report = await ai.experiments.compare(tenant_id="globex", experiment="wording", since=since)
    champion, challenger = report.arms
    assert (champion.variant, champion.calls) == ("triage@1", len(ids["Classify"]))
    assert (challenger.variant, challenger.calls) == ("triage@2", len(ids["Route the ticket"]))
    assert (champion.feedback_count, champion.mean_rating) == (3, 2.0)
    assert (challenger.feedback_count, challenger.mean_rating) == (2, 5.0)
    assert champion.cost_usd == pytest.approx(0.125 * champion.calls)


async def test_budgets_and_experiments_on_the_memory_profile(tmp_path: Any) -> None:
    settings = Settings(profile="memory", data_dir=tmp_path, gateway=GATEWAY)
    async with connect(container=_container(settings), warm_up=False) as ai:
        await _exercise(ai)


@pytest.fixture
async def services_container(
    tmp_path: Any, postgres_dsn: str, redis_url: str, nats_url: str
) -> AsyncIterator[Container]:
    settings = Settings(
        profile="services",
        data_dir=tmp_path,
        postgres_dsn=postgres_dsn,
        redis_url=redis_url,
        nats_url=nats_url,
        gateway=GATEWAY,
    )
    container = _container(settings)
    async with isolated_database(postgres_dsn) as database:
        container.database.override(providers.Object(database))
        yield container


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.nats
async def test_budgets_and_experiments_on_real_servers(services_container: Container) -> None:
    async with connect(container=services_container, warm_up=False) as ai:
        assert type(ai.port("usage_ledger")).__name__ == "PostgresUsageLedger"
        await _exercise(ai)


async def test_an_experiment_in_the_settings_naming_an_unknown_model_fails_at_connect(tmp_path: Any) -> None:
    unknown = {"name": "x", "champion_model": "test/model", "challenger_model": "test/unknown"}
    settings = Settings(profile="memory", data_dir=tmp_path, gateway={**GATEWAY, "experiments": [unknown]})
    with pytest.raises(ConfigurationError, match="test/unknown"):
        async with connect(container=_container(settings), warm_up=False):
            pass
