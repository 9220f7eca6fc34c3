"""``motadata-ai serve`` warms its application before it listens, without touching any tenant.

The warm-up builds what FastAPI and the SDK would otherwise build on the first request (the
middleware stack, the routes' request handling, the unified query endpoint); its one query is
refused at validation, so no model, store or tenant is reached.
"""

from __future__ import annotations

from typing import Any

import httpx
from dependency_injector import providers

from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.adapters.memory.telemetry import RecordingTelemetry
from motadata_ai.api import connect
from motadata_ai.cli._serve_warm_up import warm_up_app
from motadata_ai.container import Container
from motadata_ai.domain.values.documents import Document
from motadata_ai.http import create_app
from motadata_ai.settings import Settings


class _NoPlugins:
    def tools(self) -> dict[str, Any]:
        return {}

    def install_providers(self) -> None:
        return None


class _Counting:
    """The connected SDK, counting the queries that reach it."""

    def __init__(self, ai: Any) -> None:
        self.ai = ai
        self.queries = 0

    @property
    def ready(self) -> bool:
        return bool(self.ai.ready)

    @property
    def unified(self) -> Any:
        return self.ai.unified

    async def query(self, *args: Any, **kwargs: Any) -> Any:
        self.queries += 1
        return await self.ai.query(*args, **kwargs)


async def test_the_warm_up_builds_the_first_request_work_and_reaches_no_tenant(tmp_path: Any) -> None:
    settings = Settings(profile="memory", data_dir=tmp_path, similarity_threshold=0.0)
    container = Container(settings=settings)
    container.llm.override(providers.Object(FunctionLLM(lambda request: "Open the portal. [1]")))
    container.embeddings.override(providers.Object(HashEmbeddings(dimensions=settings.embedding_dimensions)))
    container.telemetry.override(providers.Object(RecordingTelemetry()))
    container.plugins.override(providers.Object(_NoPlugins()))
    async with connect(container=container) as ai:
        document = Document(id="kb", title="Password", text="Open the portal to reset it.")
        await ai.rag("acme").ingest([document])
        target = _Counting(ai)
        app = create_app(target)
        assert app.middleware_stack is None and ai.use_cases._unified is None  # built by the first request
        await warm_up_app(app, target)
        assert app.middleware_stack is not None and ai.use_cases._unified is not None
        assert target.queries == 0
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            body = {"query": "reset password", "tenant_id": "acme", "mode": "rag"}
            reply = await client.post("/query", json=body)
        assert reply.status_code == 200 and target.queries == 1
