"""One trace per request through the real container, recorded by the OpenTelemetry SDK's
in-memory exporters.

Each use-case (a RAG query, an ingest, an agent task, a unified query, an ML train and predict)
produces exactly one trace whose root span's trace id is the one in the result, with the
expected child spans. Both profiles run: ``local`` (in-process cache and bus; the database is the
session's real PostgreSQL server rather than a fresh embedded data directory, to keep the test
short) and ``services`` (real PostgreSQL, Valkey and NATS). Model calls go to scripted doubles.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from dependency_injector import providers
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.adapters.otel import OtelTelemetry
from motadata_ai.adapters.otel.conventions import DURATION_BOUNDARIES, TOKEN_BOUNDARIES
from motadata_ai.api import AI, connect
from motadata_ai.container import Container
from motadata_ai.domain.values.documents import Document
from motadata_ai.domain.values.llm import ChatRequest
from motadata_ai.domain.values.ml import Dataset, DatasetSchema
from motadata_ai.settings import Settings
from motadata_ai.testing.servers.postgres import isolated_database

CHAT = f"chat {Settings().gateway.default_model}"
EMBEDDINGS = f"embeddings {Settings().gateway.default_embedding_model}"

ARTICLES = [
    Document(
        id="kb-password",
        title="Password reset",
        text="To reset your password open the self-service portal and choose Forgot password.",
    ),
    Document(id="kb-vpn", title="VPN access", text="Install the VPN client and sign in with MFA."),
]


def _answer_from_context(request: ChatRequest) -> str:
    for message in request.messages:
        for line in (message.content or "").splitlines():
            if line.startswith("[1] "):
                return f"{line[4:]} [1]"
    return "I could not find the answer in the provided context."


class _NoPlugins:
    def tools(self) -> dict[str, Any]:
        return {}

    def install_providers(self) -> None:
        return None


class Recorder:
    """The telemetry of one app and what it recorded."""

    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        self.metrics = InMemoryMetricReader()
        self.telemetry = OtelTelemetry(
            service_name="motadata-tracing-test",
            span_processors=[SimpleSpanProcessor(self.spans)],
            metric_readers=[self.metrics],
        )

    def finished(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())

    def one_trace(self) -> tuple[ReadableSpan, dict[str, list[ReadableSpan]]]:
        """The one root span of everything recorded (asserting there is one trace) and the spans
        by name."""
        spans = self.finished()
        assert spans, "nothing was recorded"
        roots = [s for s in spans if s.parent is None]
        assert len(roots) == 1, [s.name for s in roots]
        (root,) = roots
        assert {s.context.trace_id for s in spans} == {root.context.trace_id}, [s.name for s in spans]
        by_name: dict[str, list[ReadableSpan]] = {}
        for span in spans:
            by_name.setdefault(span.name, []).append(span)
        return root, by_name

    def metric_points(self, name: str) -> list[Any]:
        data = self.metrics.get_metrics_data()
        assert data is not None
        return [
            point
            for rm in data.resource_metrics
            for sm in rm.scope_metrics
            for metric in sm.metrics
            if metric.name == name
            for point in metric.data.data_points
        ]


def trace_id(span: ReadableSpan) -> str:
    return format(span.context.trace_id, "032x")


def parents_of(name: str, spans: dict[str, list[ReadableSpan]]) -> set[str]:
    return {parent_of(span, spans) for span in spans[name]}


def parent_of(span: ReadableSpan, spans: dict[str, list[ReadableSpan]]) -> str:
    assert span.parent is not None
    for name, group in spans.items():
        if any(s.context.span_id == span.parent.span_id for s in group):
            return name
    raise AssertionError(f"the parent of {span.name} was not recorded")


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    recorded = Recorder()
    yield recorded
    recorded.telemetry.shutdown()


def _container(settings: Settings, recorder: Recorder) -> Container:
    container = Container(settings=settings)
    container.llm.override(providers.Object(FunctionLLM(_answer_from_context)))
    container.embeddings.override(providers.Object(HashEmbeddings(dimensions=settings.embedding_dimensions)))
    container.telemetry.override(providers.Object(recorder.telemetry))
    container.plugins.override(providers.Object(_NoPlugins()))
    return container


@pytest.fixture(params=["local", "services"])
async def app(
    request: pytest.FixtureRequest, tmp_path: Any, postgres_dsn: str, recorder: Recorder
) -> AsyncIterator[AI]:
    options: dict[str, Any] = {}
    if request.param == "services":
        options = {
            "postgres_dsn": postgres_dsn,
            "redis_url": request.getfixturevalue("redis_url"),
            "nats_url": request.getfixturevalue("nats_url"),
        }
    settings = Settings(profile=request.param, similarity_threshold=0.0, data_dir=tmp_path, **options)
    container = _container(settings, recorder)
    async with isolated_database(postgres_dsn) as database:
        database.instrument(recorder.telemetry)  # what the container does for its own database
        container.database.override(providers.Object(database))
        async with connect(container=container, warm_up=False) as ai:
            if request.param == "services":
                assert type(ai.port("bus")).__name__ == "NatsBus"
                assert type(ai.port("cache")).__name__ == "RedisCache"
            await ai.rag("acme").ingest(ARTICLES)
            recorder.spans.clear()
            yield ai


@pytest.mark.postgres
async def test_a_rag_query_is_one_trace_whose_id_the_response_carries(app: AI, recorder: Recorder) -> None:
    response = await app.rag("acme").query("How do I reset my password?", conversation_id="conv-1")
    root, spans = recorder.one_trace()
    assert root.name == "rag.query" and trace_id(root) == response.trace_id
    assert root.attributes is not None and root.attributes["motadata.tenant.id"] == "acme"
    assert root.attributes["gen_ai.conversation.id"] == "conv-1"
    gateway_spans = [*spans[CHAT], *spans[EMBEDDINGS]]
    assert {(s.attributes or {}).get("gen_ai.conversation.id") for s in gateway_spans} == {"conv-1"}
    assert not any("server.address" in (s.attributes or {}) for s in gateway_spans)  # in process
    expected_parents = {
        "rag.rewrite": "rag.query",
        "rag.retrieve": "rag.query",
        "rag.embed_query": "rag.retrieve",
        EMBEDDINGS: "rag.embed_query",
        "rag.dense_search": "rag.retrieve",
        "rag.keyword_search": "rag.retrieve",
        "rag.answer": "rag.query",
        CHAT: "rag.answer",
    }
    for name, parent in expected_parents.items():
        assert name in spans, sorted(spans)
        assert parent in parents_of(name, spans), name
    assert all(chat.kind == SpanKind.CLIENT for chat in spans[CHAT])
    assert spans[EMBEDDINGS][0].kind == SpanKind.CLIENT
    retrieve = spans["rag.retrieve"][0].attributes
    assert retrieve is not None and retrieve["rag.mode"] == "hybrid" and retrieve["rag.hits"] >= 1
    queries = [s for s in recorder.finished() if (s.attributes or {}).get("db.system.name") == "postgresql"]
    searches = {spans["rag.dense_search"][0].context.span_id, spans["rag.keyword_search"][0].context.span_id}
    searched = [q for q in queries if q.parent is not None and q.parent.span_id in searches]
    assert searched and all(q.kind == SpanKind.CLIENT for q in searched)
    operations = {(q.attributes or {})["db.operation.name"] for q in searched}
    assert operations & {"SELECT", "WITH"} and operations <= {"SELECT", "WITH", "SET"}  # SET LOCAL ef_search
    assert not any("db.query.text" in (q.attributes or {}) for q in queries)  # no statement text
    texts = " ".join(str(value) for span in recorder.finished() for value in (span.attributes or {}).values())
    assert "reset your password" not in texts and "How do I reset" not in texts  # no prompt text


@pytest.mark.postgres
async def test_an_ingest_is_one_trace_with_a_span_per_document_step(app: AI, recorder: Recorder) -> None:
    changed = [d.model_copy(update={"text": d.text + " Updated."}) for d in ARTICLES]
    report = await app.rag("acme").ingest(changed)
    assert report.updated == 2
    root, spans = recorder.one_trace()
    assert root.name == "rag.ingest"
    assert len(spans["rag.ingest.prepare"]) == 2 and len(spans["rag.ingest.write"]) == 2
    assert all(parent_of(s, spans) == "rag.ingest" for s in spans["rag.ingest.write"])
    assert parent_of(spans[EMBEDDINGS][0], spans) == "rag.ingest.embed_batch"


@pytest.mark.postgres
async def test_an_agent_task_is_one_trace(app: AI, recorder: Recorder) -> None:
    task = await app.agent("acme", knowledge=False).execute_task("Summarise the VPN guide")
    root, spans = recorder.one_trace()
    assert root.name.startswith("invoke_agent") and trace_id(root) == task.trace_id
    assert parent_of(spans[CHAT][0], spans) == root.name
    (tasks,) = recorder.metric_points("motadata.agent.tasks")
    assert tasks.value == 1 and tasks.attributes["motadata.agent.status"] == task.status
    assert "gen_ai.conversation.id" not in (spans[CHAT][0].attributes or {})


@pytest.mark.postgres
async def test_an_agent_conversation_names_its_session_on_every_model_call(
    app: AI, recorder: Recorder
) -> None:
    await app.agent("acme", knowledge=False).chat("Summarise the VPN guide", conversation_id="session-7")
    root, spans = recorder.one_trace()
    assert (root.attributes or {})["gen_ai.conversation.id"] == "session-7"
    assert {(s.attributes or {}).get("gen_ai.conversation.id") for s in spans[CHAT]} == {"session-7"}


@pytest.mark.postgres
@pytest.mark.parametrize("mode", ["rag", "agent"])
async def test_a_unified_query_is_one_trace_with_the_routed_subtree(
    app: AI, recorder: Recorder, mode: str
) -> None:
    response = await app.query("How do I reset my password?", tenant_id="acme", mode=mode)  # type: ignore[arg-type]
    root, spans = recorder.one_trace()
    assert root.name == "unified_query" and trace_id(root) == response.trace_id
    assert root.attributes is not None and root.attributes["motadata.query.mode"] == mode
    child = "rag.query" if mode == "rag" else "invoke_agent ITSM assistant"
    assert parent_of(spans[child][0], spans) == "unified_query"


@pytest.mark.postgres
async def test_ml_train_and_predict_are_one_trace_each(app: AI, recorder: Recorder) -> None:
    ml = app.ml("acme")
    schema = DatasetSchema.of("made_sla", category="categorical", reassignments="numeric")
    records = [
        {
            "category": ["network", "software"][i % 2],
            "reassignments": i % 4,
            "made_sla": "yes" if i % 4 < 2 else "no",
        }
        for i in range(40)
    ]
    run = await ml.train(Dataset.from_records(records, schema), model_name="sla")
    root, _ = recorder.one_trace()
    assert root.name == "ml.train" and trace_id(root) == run.trace_id
    stored = await ml.get_run(run.run_id)
    assert stored.trace_id == run.trace_id  # the registry keeps the trace of the training
    assert [r.run_id for r in await ml.list_runs(trace_id=run.trace_id)] == [run.run_id]
    assert run.version is not None
    await ml.promote("sla", run.version)
    recorder.spans.clear()
    prediction = await ml.predict("sla", {"category": "network", "reassignments": 1})
    root, _ = recorder.one_trace()
    assert root.name == "ml.predict" and trace_id(root) == prediction.trace_id
    (count,) = recorder.metric_points("motadata.ml.predictions")
    assert count.value == 1
    recorder.spans.clear()
    batch = await ml.predict_batch("sla", [{"category": "software", "reassignments": 3}] * 3)
    root, _ = recorder.one_trace()
    assert root.name == "ml.predict_batch" and {p.trace_id for p in batch} == {trace_id(root)}


@pytest.mark.postgres
async def test_an_application_span_is_the_parent_of_the_sdk_trace(app: AI, recorder: Recorder) -> None:
    with recorder.telemetry.span("handle POST /tickets") as outer:
        response = await app.rag("acme").query("How do I reset my password?")
    root, spans = recorder.one_trace()
    assert root.name == "handle POST /tickets" and response.trace_id == outer.trace_id
    assert parent_of(spans["rag.query"][0], spans) == "handle POST /tickets"


@pytest.mark.postgres
async def test_histograms_use_the_genai_bucket_boundaries(app: AI, recorder: Recorder) -> None:
    # a question no earlier test asked: the services profile's Redis cache outlives one test
    await app.rag("acme").query(f"How do I reset my password, case {uuid.uuid4().hex}?")
    durations = recorder.metric_points("gen_ai.client.operation.duration")
    assert durations and all(tuple(p.explicit_bounds) == DURATION_BOUNDARIES for p in durations)
    assert DURATION_BOUNDARIES[0] == 0.01 and DURATION_BOUNDARIES[-1] == 81.92
    tokens = recorder.metric_points("gen_ai.client.token.usage")
    assert tokens and all(tuple(p.explicit_bounds) == TOKEN_BOUNDARIES for p in tokens)
    assert TOKEN_BOUNDARIES[:3] == (1, 4, 16) and TOKEN_BOUNDARIES[-1] == 67_108_864
    (hits,) = recorder.metric_points("motadata.rag.hits")
    assert hits.count == 1 and hits.sum >= 1


@pytest.mark.postgres
async def test_the_http_answer_carries_the_trace_id_of_its_trace(app: AI, recorder: Recorder) -> None:
    import httpx

    from motadata_ai.http import create_app

    transport = httpx.ASGITransport(app=create_app(app))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        reply = await http.post("/query", json={"query": "How do I reset my password?", "tenant_id": "acme"})
    assert reply.status_code == 200, reply.text
    root, _ = recorder.one_trace()
    assert root.name == "unified_query" and reply.json()["trace_id"] == trace_id(root)
