"""Start-up opens the pooled connections a request uses at once, so the first request after
``connect()`` pays no connection start (each with its pgvector type introspection)."""

from __future__ import annotations

from typing import Any

import pytest
from dependency_injector import providers

from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.api import WARM_CONNECTIONS, connect
from motadata_ai.container import Container
from motadata_ai.settings import Settings
from motadata_ai.testing.servers.postgres import isolated_database

pytestmark = pytest.mark.postgres


async def test_open_connections_fills_the_pool_up_to_its_maximum(postgres_dsn: str) -> None:
    async with isolated_database(postgres_dsn, max_size=4) as database:
        assert database.pool.get_size() == 1
        assert await database.open_connections(3) == 3
        assert database.pool.get_idle_size() == 3  # all released again
        assert await database.open_connections(10) == 4  # never beyond the maximum
        vectors = await database.pool.fetchval("SELECT '[1,2,3]'::vector")
        assert vectors.to_list() == [1.0, 2.0, 3.0]  # the opened connections carry the codecs


async def test_connect_opens_a_requests_connections_before_it_returns(
    tmp_path: Any, postgres_dsn: str
) -> None:
    settings = Settings(profile="services", data_dir=tmp_path, postgres_dsn=postgres_dsn)
    container = Container(settings=settings)
    container.llm.override(providers.Object(FunctionLLM(lambda request: "answer [1]")))
    container.embeddings.override(providers.Object(HashEmbeddings(dimensions=settings.embedding_dimensions)))
    async with isolated_database(postgres_dsn, max_size=10) as database:
        container.database.override(providers.Object(database))
        async with connect(container=container, warm_up=["embeddings"]) as ai:
            assert ai.ready
            assert database.pool.get_size() >= WARM_CONNECTIONS
