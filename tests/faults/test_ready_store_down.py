"""``GET /ready`` follows the database: 200 while PostgreSQL answers, 503 with the report (naming
the stores that are down) while it is killed, and 200 again once it is back; ``GET /health``
(liveness) answers 200 throughout."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from dependency_injector import providers

from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.adapters.memory.telemetry import RecordingTelemetry
from motadata_ai.api import connect
from motadata_ai.container import Container
from motadata_ai.http import create_app
from motadata_ai.settings import Settings
from motadata_ai.testing.servers.postgres import PostgresServer

pytestmark = [pytest.mark.faults, pytest.mark.postgres]

POSTGRES_STORES = {
    "vector_store",
    "documents",
    "memory_store",
    "model_registry",
    "experiments",
    "prediction_log",
    "usage_ledger",
    "audit_log",
}


class _NoPlugins:
    def tools(self) -> dict[str, Any]:
        return {}

    def install_providers(self) -> None:
        return None


async def ready_until(http: httpx.AsyncClient, status: int, *, attempts: int = 60) -> httpx.Response:
    """``GET /ready`` until it answers ``status`` (a restarted server takes a moment to accept)."""
    for _ in range(attempts):
        reply = await http.get("/ready")
        if reply.status_code == status:
            return reply
        await asyncio.sleep(0.25)
    raise AssertionError(f"/ready never answered {status}: {reply.status_code} {reply.text[:500]}")


async def test_ready_is_503_while_postgres_is_down_and_200_after_it_returns(
    tmp_path: Any, postgres_server_factory: Callable[[], PostgresServer]
) -> None:
    server = postgres_server_factory()
    settings = Settings(profile="services", data_dir=tmp_path, postgres_dsn=server.url, postgres_pool_max=4)
    container = Container(settings=settings)
    container.llm.override(providers.Object(FunctionLLM(lambda request: "ok")))
    container.embeddings.override(providers.Object(HashEmbeddings(dimensions=settings.embedding_dimensions)))
    container.telemetry.override(providers.Object(RecordingTelemetry()))
    container.plugins.override(providers.Object(_NoPlugins()))
    async with connect(container=container, warm_up=False) as ai:
        transport = httpx.ASGITransport(app=create_app(ai))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            before = await http.get("/ready")
            assert before.status_code == 200, before.text
            server.kill()
            down = await ready_until(http, 503)
            assert (await http.get("/health")).status_code == 200  # alive, just not ready
            report = down.json()
            assert report["ready"] is False and report["status"] == "down"
            down_components = {name for name, c in report["components"].items() if c["status"] == "down"}
            assert down_components == POSTGRES_STORES
            assert report["components"]["cache"]["status"] == "ok"
            await asyncio.to_thread(server.start)
            back = await ready_until(http, 200)
            assert back.json()["ready"] is True
            statuses = {name: c["status"] for name, c in back.json()["components"].items()}
            assert "down" not in statuses.values(), statuses
            # a pooled connection of the killed server may fail one more call (the gateway's
            # ledger ping: "degraded"); the next probes find every component ok
            for _ in range(20):
                latest = (await http.get("/ready")).json()
                if latest["status"] == "ok":
                    break
            else:
                raise AssertionError(f"the components stayed degraded: {latest['components']}")
