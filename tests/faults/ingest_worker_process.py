"""One ingestion worker process over PostgreSQL and NATS (for ``test_ingest_worker_kill.py``).

Run as ``python -m tests.faults.ingest_worker_process DSN SCHEMA NATS_URL NAME EMBED_DELAY``: it
builds the tenant RAG systems on the PostgreSQL stores (schema ``SCHEMA``) with hash embeddings
that take ``EMBED_DELAY`` seconds per call (so a job is still running when the parent kills the
process), starts an :class:`IngestWorker` on the job stream and runs until killed.
"""

from __future__ import annotations

import asyncio
import sys

from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.adapters.nats import NatsBus
from motadata_ai.adapters.nats.ingest_jobs import connect_jobs_bus
from motadata_ai.adapters.postgres.database import PostgresDatabase
from motadata_ai.adapters.postgres.documents import PostgresDocumentStore
from motadata_ai.adapters.postgres.vector_store import PgVectorStore
from motadata_ai.domain.gateway.config import GatewayConfig
from motadata_ai.domain.gateway.service import Gateway
from motadata_ai.domain.retrieval.config import RAGConfig
from motadata_ai.domain.retrieval.jobs import IngestWorker
from motadata_ai.domain.retrieval.system import RAGSystem
from motadata_ai.domain.values.llm import EmbeddingRequest, EmbeddingResponse

DIMENSIONS = 64
ACK_WAIT = 2.0


class SlowEmbeddings(HashEmbeddings):
    """Hash embeddings that take ``delay`` seconds per call."""

    def __init__(self, delay: float) -> None:
        super().__init__(dimensions=DIMENSIONS)
        self.delay = delay

    async def embed(self, request: EmbeddingRequest, *, timeout: float | None = None) -> EmbeddingResponse:
        await asyncio.sleep(self.delay)
        return await super().embed(request, timeout=timeout)


def rag_factory(database: PostgresDatabase, delay: float):  # type: ignore[no-untyped-def]
    vectors = PgVectorStore(database, dimensions=DIMENSIONS)
    documents = PostgresDocumentStore(database)
    gateway = Gateway(
        llm=FunctionLLM(lambda request: "ok"),
        embeddings=SlowEmbeddings(delay),
        config=GatewayConfig(default_model="m", default_embedding_model="hash", max_retries=0,
                             requests_per_minute=0, enable_caching=False, request_deduplication=False),
    )  # fmt: skip

    def rag_for(tenant: str) -> RAGSystem:
        return RAGSystem(
            gateway=gateway, vector_store=vectors, documents=documents, tenant=tenant,
            config=RAGConfig(chunk_size=40, chunk_overlap=0),
        )  # fmt: skip

    return rag_for


async def main(dsn: str, schema: str, nats_url: str, name: str, delay: float) -> None:
    database = await PostgresDatabase.connect(
        dsn, min_size=1, max_size=4, server_settings={"search_path": f"{schema},public"}
    )
    jobs = await connect_jobs_bus(nats_url, ack_wait=ACK_WAIT, poll_interval=0.2, drain_timeout=0.5)
    events = await NatsBus.connect(nats_url, poll_interval=0.2)
    await IngestWorker(jobs, rag_factory(database, delay), events=events, name=name).start(concurrency=2)
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])))
