"""kill -9 of PostgreSQL (postmaster and backends) three times while RAG ingests documents.

Invariants checked after the server comes back, on the same ``RAGSystem`` (never rebuilt):

- nothing orphaned: every stored chunk belongs to the current version of its document, and a
  keyword search for the words of a write that did not land finds nothing;
- every document is whole: its current version's ``chunk_ids`` are exactly its stored chunks;
- every acknowledged ingest landed: its version is stored with its text, and no later state is
  older than it;
- no ingest that raised was committed. The one exception PostgreSQL itself cannot avoid is a
  connection lost while the ``COMMIT`` was in flight: the store says so (``commit_unknown``), and
  such a write may be there or not, but whole either way (checked with the others);
- every error an ingest raised is an SDK error, and the application serves again after restart.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest

from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.adapters.postgres.database import PostgresDatabase
from motadata_ai.adapters.postgres.documents import PostgresDocumentStore
from motadata_ai.adapters.postgres.vector_store import PgVectorStore
from motadata_ai.domain.gateway.config import GatewayConfig
from motadata_ai.domain.gateway.service import Gateway
from motadata_ai.domain.retrieval import RAGConfig, RAGSystem
from motadata_ai.domain.values.documents import Document
from motadata_ai.domain.values.errors import MotadataError, StoreUnavailable
from motadata_ai.domain.values.llm import EXTRACTIVE_CAPABILITIES
from motadata_ai.domain.values.tenancy import TenantContext
from motadata_ai.testing.servers.postgres import PostgresServer

pytestmark = [pytest.mark.faults, pytest.mark.postgres]

TENANT = "acme"
DOCUMENTS = [f"kb-{i}" for i in range(6)]
WORKERS = 4
KILLS = 3
ACKS_BETWEEN_KILLS = 4
T = TypeVar("T")


@dataclass
class Attempt:
    """One ingest call: which document, the word that marks its text, and how it ended."""

    number: int
    document_id: str
    version: int | None = None  # set when acknowledged
    error: BaseException | None = None

    @property
    def marker(self) -> str:
        return f"attempt{self.number}x"

    @property
    def commit_unknown(self) -> bool:
        fields = getattr(self.error, "fields", None) or {}
        return bool(fields.get("commit_unknown"))


def article(attempt: Attempt) -> str:
    steps = " ".join(
        f"Step {k} of {attempt.marker}: restart the {attempt.document_id} service and check the queue."
        for k in range(8)
    )
    return f"# {attempt.document_id}\n\n{steps}"


async def until_served(call: Callable[[], Awaitable[T]], *, attempts: int = 100) -> T:
    """``call()`` once the server serves again: a pooled connection of the killed server fails once."""
    for _ in range(attempts - 1):
        try:
            return await call()
        except StoreUnavailable:
            await asyncio.sleep(0.1)
    return await call()


def build(database: PostgresDatabase) -> tuple[RAGSystem, PgVectorStore, PostgresDocumentStore]:
    vectors = PgVectorStore(database, dimensions=32)
    documents = PostgresDocumentStore(database)
    gateway = Gateway(
        llm=FunctionLLM(lambda request: "See [1].", capabilities=EXTRACTIVE_CAPABILITIES),
        embeddings=HashEmbeddings(dimensions=32),
        config=GatewayConfig(
            default_model="local/extractive",
            default_embedding_model="hash",
            max_retries=0,
            requests_per_minute=0,
            enable_caching=False,
        ),
    )
    rag = RAGSystem(
        gateway=gateway,
        vector_store=vectors,
        documents=documents,
        tenant=TENANT,
        config=RAGConfig(
            chunk_size=40,
            chunk_overlap=5,
            similarity_threshold=0.0,
            enable_memory=False,
            enable_query_rewriting=False,
        ),
    )
    return rag, vectors, documents


async def test_ingestion_survives_three_kills_of_postgres(
    postgres_server_factory: Callable[[], PostgresServer],
) -> None:
    server = postgres_server_factory()
    database = await PostgresDatabase.connect(server.url, min_size=1, max_size=6, connect_timeout=3)
    try:
        rag, vectors, documents = build(database)
        await vectors.setup()
        await documents.setup()
        attempts: list[Attempt] = []
        acks: asyncio.Queue[Attempt] = asyncio.Queue()
        stop = asyncio.Event()
        chooser = random.Random(9)

        async def worker() -> None:
            while not stop.is_set():
                attempt = Attempt(number=len(attempts), document_id=chooser.choice(DOCUMENTS))
                attempts.append(attempt)
                try:
                    report = await rag.ingest(Document(id=attempt.document_id, text=article(attempt)))
                    attempt.version = report.documents[0].version
                    acks.put_nowait(attempt)
                except Exception as error:  # every one must be an SDK error: checked below
                    attempt.error = error
                    await asyncio.sleep(0.02)

        async def wait_for_acks(count: int) -> None:
            while not acks.empty():  # count the ones since the last restart only
                acks.get_nowait()
            for _ in range(count):
                await acks.get()

        workers = [asyncio.create_task(worker()) for _ in range(WORKERS)]
        try:
            for _ in range(KILLS):
                await asyncio.wait_for(wait_for_acks(ACKS_BETWEEN_KILLS), timeout=60)
                server.kill()
                await asyncio.sleep(0.2)  # callers meet a dead server for a while
                await asyncio.to_thread(server.start)
            await asyncio.wait_for(wait_for_acks(ACKS_BETWEEN_KILLS), timeout=60)
        finally:
            stop.set()
            await asyncio.gather(*workers)

        # -- the same RAGSystem serves again ------------------------------------------------------
        fresh = Attempt(number=len(attempts), document_id="after-restart")
        report = await until_served(lambda: rag.ingest(Document(id=fresh.document_id, text=article(fresh))))
        assert report.created == 1

        failed = [a for a in attempts if a.error is not None]
        landed = [a for a in attempts if a.version is not None]
        assert len(landed) >= (KILLS + 1) * ACKS_BETWEEN_KILLS
        assert failed, "no ingest was in flight when the server was killed"
        untyped = [repr(a.error) for a in failed if not isinstance(a.error, MotadataError)]
        assert untyped == []

        # -- the stored state, read directly ------------------------------------------------------
        state = await until_served(lambda: stored_state(database, vectors.table))
        current, version_rows, chunk_rows = state

        orphans = [
            (document_id, version, chunk)
            for document_id, version, chunk, _ in chunk_rows
            if document_id not in current
            or current[document_id][0] != version
            or chunk not in current[document_id][1]
        ]
        assert orphans == []
        for document_id, (version, chunk_ids, _) in current.items():
            stored = sorted(chunk for d, _, chunk, _ in chunk_rows if d == document_id)
            assert stored == sorted(chunk_ids), document_id
            assert sorted(v for d, v in version_rows if d == document_id) == list(range(1, version + 1))

        for attempt in landed:
            body = version_rows[(attempt.document_id, attempt.version)]
            assert attempt.marker in body, attempt
            assert current[attempt.document_id][0] >= attempt.version  # type: ignore[operator]

        definitely_failed = [a for a in failed if not a.commit_unknown]
        stored_text = " ".join([*version_rows.values(), *(text for *_, text in chunk_rows)])
        committed_but_raised = [a.marker for a in definitely_failed if a.marker in stored_text]
        assert committed_but_raised == []

        # -- nothing of a write that did not land is searchable -----------------------------------
        for attempt in definitely_failed:
            hits = await until_served(lambda a=attempt: rag.retrieve(a.marker, mode="keyword", top_k=5))
            assert [h.chunk_id for h in hits if attempt.marker in h.text] == []
            for hit in hits:
                assert current[hit.document_id][0] == hit.version
        for document_id, (version, _, body) in current.items():
            marker = next(word for word in body.split() if word.startswith("attempt"))
            hits = await until_served(lambda m=marker: rag.retrieve(m.rstrip(":"), mode="keyword", top_k=5))
            assert hits and {(h.document_id, h.version) for h in hits} == {(document_id, version)}
    finally:
        await database.close()


async def stored_state(
    database: PostgresDatabase, table: str
) -> tuple[dict[str, tuple[int, tuple[str, ...], str]], dict[tuple[str, int], str], list[tuple[Any, ...]]]:
    """(current version, chunk ids, text) per document; text per (document, version); chunk rows."""
    async with database.pool.acquire() as conn:
        documents = await conn.fetch(
            "SELECT d.document_id, d.current_version, v.chunk_ids, v.body FROM motadata_documents d "
            "JOIN motadata_document_versions v ON v.tenant_id = d.tenant_id "
            "AND v.document_id = d.document_id AND v.version = d.current_version WHERE d.tenant_id = $1",
            TENANT,
        )
        versions = await conn.fetch(
            "SELECT document_id, version, body FROM motadata_document_versions WHERE tenant_id = $1", TENANT
        )
        chunks = await conn.fetch(
            f"SELECT document_id, version, id, text FROM {table} WHERE tenant_id = $1", TENANT
        )
    current = {r["document_id"]: (r["current_version"], tuple(r["chunk_ids"]), r["body"]) for r in documents}
    bodies = {(r["document_id"], r["version"]): r["body"] for r in versions}
    rows = [(r["document_id"], r["version"], r["id"], r["text"]) for r in chunks]
    return current, bodies, rows


async def test_after_a_restart_one_failed_call_renews_the_whole_pool(
    postgres_server_factory: Callable[[], PostgresServer],
) -> None:
    """A killed server leaves every pooled connection dead; the first failure expires them all,
    so the calls after it reconnect instead of each dead connection failing once more."""
    server = postgres_server_factory()
    database = await PostgresDatabase.connect(server.url, min_size=4, max_size=4, connect_timeout=3)
    try:
        vectors = PgVectorStore(database, dimensions=32)
        await vectors.setup()
        tenant = TenantContext(tenant_id=TENANT)

        async def hold_one() -> None:  # four concurrent calls: four open pooled connections
            async with database.pool.acquire() as connection:
                await connection.execute("SELECT pg_sleep(0.05)")

        await asyncio.gather(*(hold_one() for _ in range(4)))
        server.kill()
        server.start()
        failures = 0
        for _ in range(4):
            try:
                assert await vectors.count(tenant) == 0
            except StoreUnavailable:
                failures += 1
        assert failures <= 1
    finally:
        await database.close()
        server.stop()
