"""ai.experiments over a gateway and an in-memory ledger: arms checked at configuration time,
traffic split within tolerance, and each arm's figures and feedback in the comparison."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.ledger import InMemoryUsageLedger
from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.domain.gateway import Gateway, GatewayConfig
from motadata_ai.domain.gateway.experiments import Experiment, PromptRef
from motadata_ai.domain.llmops.experiments import Experiments
from motadata_ai.domain.values.errors import ConfigurationError, NotFound, ValidationError
from motadata_ai.domain.values.llm import ChatRequest, Message
from motadata_ai.domain.values.usage import ModelPrice

NOON = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
PRICES = {"test/model": ModelPrice(output_per_token=0.01), "test/cheap": ModelPrice(output_per_token=0.001)}


def build(ledger: InMemoryUsageLedger, **config: object) -> tuple[Gateway, Experiments]:
    gateway = Gateway(
        llm=FunctionLLM(lambda r: "ok"),
        embeddings=HashEmbeddings(dimensions=8),
        config=GatewayConfig(
            default_model="test/model",
            model_prices=PRICES,
            requests_per_minute=None,
            enable_caching=False,
            **config,  # type: ignore[arg-type]
        ),
        ledger=ledger,
        wall_clock=lambda: NOON,
    )
    return gateway, Experiments(gateway, ledger)


def ask(text: str) -> ChatRequest:
    return ChatRequest(model="test/model", messages=(Message(role="user", content=text),))


async def test_many_requests_split_within_tolerance_and_the_report_shows_each_arms_feedback() -> None:
    ledger = InMemoryUsageLedger()
    gateway, experiments = build(ledger)
    experiments.set(
        "acme",
        {
            "name": "cheap",
            "champion_model": "test/model",
            "challenger_model": "test/cheap",
            "share": 0.25,
            "split_by": "request",
        },
    )
    total = 1200
    arms: dict[str, list[str]] = {"test/model": [], "test/cheap": []}
    for n in range(total):
        response = await gateway.generate(ask(f"question {n}"), tenant_id="acme", user_id=f"u{n % 7}")
        arms[response.model].append(response.id)
    assert abs(len(arms["test/cheap"]) / total - 0.25) < 0.04
    for response_id in arms["test/model"][:10]:
        await gateway.record_feedback(response_id, tenant_id="acme", rating=4)
    for response_id, rating in zip(arms["test/cheap"][:4], (5, 5, 3, 1), strict=True):
        await gateway.record_feedback(response_id, tenant_id="acme", rating=rating)

    report = await experiments.compare(tenant_id="acme", experiment="cheap", since=NOON - timedelta(hours=1))
    champion, challenger = report.arms
    assert (champion.arm, champion.variant, challenger.arm, challenger.variant) == (
        "champion",
        "test/model",
        "challenger",
        "test/cheap",
    )
    assert champion.calls == len(arms["test/model"]) and challenger.calls == len(arms["test/cheap"])
    assert (champion.feedback_count, champion.mean_rating) == (10, pytest.approx(4.0))
    assert (challenger.feedback_count, challenger.mean_rating) == (4, pytest.approx(3.5))
    assert champion.cost_usd == pytest.approx(0.01 * champion.calls)
    assert challenger.cost_usd == pytest.approx(0.001 * challenger.calls)
    assert champion.error_rate == 0.0 and champion.latency_p95_ms >= champion.latency_p50_ms


async def test_an_arm_naming_an_unknown_model_or_prompt_version_is_refused_at_configuration() -> None:
    _, experiments = build(InMemoryUsageLedger())
    with pytest.raises(ConfigurationError, match="test/unknown"):
        experiments.set(
            "acme", Experiment(name="x", champion_model="test/model", challenger_model="test/unknown")
        )
    experiments.prompts.register("triage", "v1 {{ ticket }}")
    with pytest.raises(ConfigurationError, match="version 2"):
        experiments.set(
            "acme", Experiment(name="p", template="triage", champion_version=1, challenger_version=2)
        )
    with pytest.raises(ConfigurationError, match="share"):
        experiments.set(
            "acme",
            {"name": "s", "champion_model": "test/model", "challenger_model": "test/cheap", "share": 1.5},
        )
    with pytest.raises(ValidationError):
        Experiment(name="nan", champion_model="test/model", challenger_model="test/cheap", share=float("nan"))
    with pytest.raises(ValidationError):
        Experiment(name="half", champion_model="test/model", template="triage")
    assert experiments.get("acme") == ()
    with pytest.raises(NotFound):
        await experiments.compare(tenant_id="acme", experiment="x", since=NOON)


async def test_configured_experiments_are_checked_at_start_up() -> None:
    unknown = Experiment(name="x", champion_model="test/model", challenger_model="test/nowhere")
    with pytest.raises(ConfigurationError, match="test/nowhere"):
        build(InMemoryUsageLedger(), experiments=(unknown,))[1].check_configured()
    allowed = GatewayConfig(allowed_models=("test/model", "test/nowhere"), experiments=(unknown,))
    gateway = Gateway(
        llm=FunctionLLM(lambda r: "ok"), embeddings=HashEmbeddings(dimensions=8), config=allowed
    )
    Experiments(gateway).check_configured()  # an allowed model is a known one


async def test_a_prompt_experiment_is_defined_replaced_and_removed() -> None:
    ledger = InMemoryUsageLedger()
    gateway, experiments = build(ledger)
    experiments.prompts.register("triage", "Classify {{ ticket }}")
    experiments.prompts.register("triage", "Route {{ ticket }}")
    defined = experiments.set(
        "acme", Experiment(name="p", template="triage", champion_version=1, challenger_version=2, share=1.0)
    )
    await gateway.generate(ask("q"), tenant_id="acme", prompt=PromptRef("triage", {"ticket": "printer"}))
    report = await experiments.compare(tenant_id="acme", experiment="p", since=NOON - timedelta(hours=1))
    assert [(a.variant, a.calls) for a in report.arms] == [("triage@1", 0), ("triage@2", 1)]
    experiments.set("acme", defined.model_copy(update={"share": 0.0}))
    assert [e.share for e in experiments.get("acme")] == [0.0]
    assert experiments.assign("acme", "p", unit="anyone") == "champion"
    assert experiments.remove("acme", "p") is True and experiments.remove("acme", "p") is False
