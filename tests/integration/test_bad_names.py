"""Every public entry point that takes a name refuses the same table of bad names, typed.

The table (``motadata_ai.testing.names``) starts with ``"acme\\n"``: patterns ending in ``$`` used
with ``re.match`` accepted it everywhere (a distinct tenant, an alias ``champion\\n``, a model name,
a subject token). Each entry point must raise the SDK's ``ValidationError`` (``InvalidTenant`` for
tenants, ``InvalidSubject`` for subjects, ``ArtifactKeyInvalid`` for artifact keys) before doing
any work; tool definitions raise ``ToolDefinitionError``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from dependency_injector import providers

from motadata_ai.adapters.filesystem.artifacts import FilesystemArtifactStore
from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.adapters.memory.telemetry import RecordingTelemetry
from motadata_ai.api import AI, connect
from motadata_ai.container import Container
from motadata_ai.domain.agents.tools import Tool
from motadata_ai.domain.bus.delivery import check_durable
from motadata_ai.domain.bus.subjects import InvalidSubject, agent_subject, event_subject, validate_subject
from motadata_ai.domain.memory.manager import MemoryManager
from motadata_ai.domain.values.agents import ToolDefinitionError
from motadata_ai.domain.values.bus import Envelope
from motadata_ai.domain.values.errors import InvalidTenant, ValidationError
from motadata_ai.domain.values.llm import ChatRequest, Message
from motadata_ai.domain.values.ml import Dataset, DatasetSchema
from motadata_ai.domain.values.tenancy import TenantContext, validate_tenant_id
from motadata_ai.ports.ml import ArtifactKeyInvalid
from motadata_ai.settings import Settings
from motadata_ai.testing.names import BAD_NAMES, BAD_TENANT_IDS, name_id

SCHEMA = DatasetSchema.of("made_sla", category="categorical", reassignments="numeric")
RECORD = {"category": "network", "reassignments": 1}


def _records(n: int) -> list[dict[str, Any]]:
    return [
        {
            "category": ("network", "software")[i % 2],
            "reassignments": i % 5,
            "made_sla": "yes" if i % 3 else "no",
        }
        for i in range(n)
    ]


class _NoPlugins:
    def tools(self) -> dict[str, Any]:
        return {}

    def install_providers(self) -> None:
        return None


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def app(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[AI]:
    """One app on the memory profile, with a trained and promoted model ``sla`` of tenant acme."""
    settings = Settings(profile="memory", data_dir=tmp_path_factory.mktemp("names"))
    container = Container(settings=settings)
    container.llm.override(providers.Object(FunctionLLM(lambda request: "ok")))
    container.embeddings.override(providers.Object(HashEmbeddings(dimensions=settings.embedding_dimensions)))
    container.telemetry.override(providers.Object(RecordingTelemetry()))
    container.plugins.override(providers.Object(_NoPlugins()))
    async with connect(container=container) as ai:
        ml = ai.ml("acme")
        run = await ml.train(Dataset.from_records(_records(40), SCHEMA), model_name="sla")
        assert run.version is not None
        await ml.promote("sla", run.version)
        yield ai


def _chat() -> ChatRequest:
    return ChatRequest(model="local/extractive", messages=(Message(role="user", content="hi"),))


def _tool(name: str) -> Any:
    def lookup(tag: str) -> str:
        """Look up an asset."""
        return tag

    lookup.__name__ = name  # the name the tool takes when none is given
    return Tool.from_function(lookup)


def _is_empty(folder: Path) -> bool:
    return not any(folder.iterdir())


async def _call(value: Any) -> Any:
    return await value if isinstance(value, Awaitable) else value


TenantEntry = Callable[[AI, str, Path], Any]

TENANT_ENTRY_POINTS: dict[str, TenantEntry] = {
    "validate_tenant_id": lambda ai, t, tmp: validate_tenant_id(t),
    "TenantContext.of": lambda ai, t, tmp: TenantContext.of(t),
    "connect().rag": lambda ai, t, tmp: ai.rag(t),
    "connect().agent": lambda ai, t, tmp: ai.agent(t),
    "connect().ml": lambda ai, t, tmp: ai.ml(t),
    "connect().query": lambda ai, t, tmp: ai.query("reset my password", tenant_id=t),
    "gateway.generate": lambda ai, t, tmp: ai.gateway.generate(_chat(), tenant_id=t),
    "gateway.embed": lambda ai, t, tmp: ai.gateway.embed(["vpn"], tenant_id=t),
    "gateway.invalidate": lambda ai, t, tmp: ai.gateway.invalidate(t),
    "memory.history": lambda ai, t, tmp: MemoryManager(
        store=ai.port("memory_store"), embedder=ai.gateway
    ).history(t, "c-1"),
    "bus agent_subject": lambda ai, t, tmp: agent_subject(t, "triage"),
    "bus event_subject": lambda ai, t, tmp: event_subject(t, "created"),
    "bus subject tenant token": lambda ai, t, tmp: validate_subject(f"agent.{t}.triage.task"),
    "artifact store put": lambda ai, t, tmp: FilesystemArtifactStore(tmp).put(t, "models/sla/1.skops", b"x"),
    "artifact store get": lambda ai, t, tmp: FilesystemArtifactStore(tmp).get(t, "models/x", sha256="0" * 64),
}


@pytest.mark.parametrize("entry", TENANT_ENTRY_POINTS, ids=str)
@pytest.mark.parametrize("tenant", BAD_TENANT_IDS, ids=name_id)
async def test_every_tenant_entry_point_refuses_bad_tenant_ids(
    app: AI, tmp_path: Path, entry: str, tenant: str
) -> None:
    expected = InvalidSubject if entry == "bus subject tenant token" else InvalidTenant
    with pytest.raises(expected):
        await _call(TENANT_ENTRY_POINTS[entry](app, tenant, tmp_path))
    assert _is_empty(tmp_path)


NameEntry = Callable[[AI, str, Path], Any]

NAME_ENTRY_POINTS: dict[str, NameEntry] = {
    "ml.train model_name": lambda ai, n, tmp: ai.ml("acme").train(
        Dataset.from_records(_records(40), SCHEMA), model_name=n
    ),
    "ml.promote model_name": lambda ai, n, tmp: ai.ml("acme").promote(n, 1),
    "ml.promote alias": lambda ai, n, tmp: ai.ml("acme").promote("sla", 1, alias=n),
    "ml.rollback alias": lambda ai, n, tmp: ai.ml("acme").rollback("sla", alias=n),
    "ml.predict model_name": lambda ai, n, tmp: ai.ml("acme").predict(n, RECORD),
    "ml.predict alias": lambda ai, n, tmp: ai.ml("acme").predict("sla", RECORD, alias=n),
    "ml.list_versions": lambda ai, n, tmp: ai.ml("acme").list_versions(n),
    "agent agent_id": lambda ai, n, tmp: ai.agent("acme", agent_id=n),
    "bus agent_subject agent": lambda ai, n, tmp: agent_subject("acme", n),
    "bus agent_subject kind": lambda ai, n, tmp: agent_subject("acme", "triage", n),
    "bus event_subject name": lambda ai, n, tmp: event_subject("acme", n),
    "bus subscribe durable": lambda ai, n, tmp: ai.port("bus").subscribe(
        "events.acme.>", lambda envelope: None, durable=n
    ),
    "bus durable": lambda ai, n, tmp: check_durable(n),
    "artifact key segment": lambda ai, n, tmp: FilesystemArtifactStore(tmp).put("acme", f"models/{n}", b"x"),
}


@pytest.mark.parametrize("entry", NAME_ENTRY_POINTS, ids=str)
@pytest.mark.parametrize("name", BAD_NAMES, ids=name_id)
async def test_every_named_entry_point_refuses_bad_names(
    app: AI, tmp_path: Path, entry: str, name: str
) -> None:
    expected = ArtifactKeyInvalid if entry == "artifact key segment" else ValidationError
    with pytest.raises(expected):
        await _call(NAME_ENTRY_POINTS[entry](app, name, tmp_path))
    assert _is_empty(tmp_path)


async def test_bad_names_create_nothing(app: AI) -> None:
    ml = app.ml("acme")
    for name in BAD_NAMES:
        with pytest.raises(ValidationError):
            await ml.promote("sla", 1, alias=name)
    models = await ml.list_models()
    assert [(m.model_name, set(m.aliases)) for m in models] == [("sla", {"champion"})]


@pytest.mark.parametrize("name", BAD_NAMES, ids=name_id)
def test_tool_names_are_validated_whole(name: str) -> None:
    with pytest.raises(ToolDefinitionError):
        _tool(name)


@pytest.mark.parametrize("name", BAD_NAMES, ids=name_id)
async def test_a_subject_token_with_a_bad_name_never_reaches_the_bus(app: AI, name: str) -> None:
    envelope = Envelope(tenant_id="acme", type="incident")
    with pytest.raises(InvalidSubject):
        await app.port("bus").publish(f"events.acme.{name}", envelope)
