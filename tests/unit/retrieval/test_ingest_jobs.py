"""Background ingestion on the in-memory bus: a job submitted by ``rag.ingest(background=True)``
is processed by a worker, its progress and report reach the caller, and a redelivered job
writes nothing twice."""

from __future__ import annotations

from pathlib import Path

import pytest

from motadata_ai.adapters.memory.bus import InMemoryBus
from motadata_ai.adapters.memory.documents import InMemoryDocumentStore
from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.adapters.memory.vector_store import InMemoryVectorStore
from motadata_ai.adapters.parsers.files import FileDocumentParser
from motadata_ai.domain.gateway import Gateway, GatewayConfig
from motadata_ai.domain.retrieval.config import RAGConfig
from motadata_ai.domain.retrieval.jobs import IngestJobHandle, IngestJobQueue, IngestWorker, job_subject
from motadata_ai.domain.retrieval.system import RAGSystem
from motadata_ai.domain.values.bus import Envelope
from motadata_ai.domain.values.documents import Document
from motadata_ai.domain.values.errors import ConfigurationError, ValidationError
from motadata_ai.ports.bus import BusTimeout


class Stores:
    def __init__(self) -> None:
        self.vectors = InMemoryVectorStore(dimensions=64)
        self.documents = InMemoryDocumentStore()
        self.gateway = Gateway(
            llm=FunctionLLM(lambda request: "ok"),
            embeddings=HashEmbeddings(dimensions=64),
            config=GatewayConfig(default_model="m", default_embedding_model="hash", max_retries=0,
                                 requests_per_minute=0, enable_caching=False),
        )  # fmt: skip

    def rag(self, tenant: str, jobs: IngestJobQueue | None = None) -> RAGSystem:
        return RAGSystem(
            gateway=self.gateway, vector_store=self.vectors, documents=self.documents, tenant=tenant,
            config=RAGConfig(chunk_size=50, chunk_overlap=0, similarity_threshold=0.0),
            parser=FileDocumentParser(), jobs=jobs,
        )  # fmt: skip


def bus() -> InMemoryBus:
    return InMemoryBus(subjects=("ingest.>", "events.>"))


async def test_background_ingest_is_done_by_a_worker_and_reported_to_the_caller(tmp_path: Path) -> None:
    (tmp_path / "vpn.md").write_text("# VPN\nReconnect the VPN client, then sign in again.\n")
    (tmp_path / "mfa.md").write_text("# MFA\nReset MFA from the self-service portal.\n")
    stores, jobs_bus = Stores(), bus()
    worker = await IngestWorker(jobs_bus, stores.rag, progress_interval=0.0).start(concurrency=2)
    try:
        rag = stores.rag("acme", jobs=IngestJobQueue(jobs_bus))
        handle = await rag.ingest(tmp_path, background=True)
        assert isinstance(handle, IngestJobHandle)
        report = await handle.result(timeout=10)
        assert report.created == 2 and report.chunks > 0
        assert handle.progress is not None and handle.progress.state == "done"
        assert handle.progress.worker == worker.name and worker.completed == 1
        assert len(await stores.documents.list(rag.tenant)) == 2
        hits = await rag.retrieve("reset MFA")
        assert {h.document_id.rsplit("/", 1)[-1] for h in hits} == {"mfa.md", "vpn.md"}
    finally:
        await worker.stop()


async def test_a_redelivered_job_writes_nothing_twice() -> None:
    stores, jobs_bus = Stores(), bus()
    worker = await IngestWorker(jobs_bus, stores.rag).start()
    try:
        queue = IngestJobQueue(jobs_bus)
        document = Document(id="kb-1", title="Printer", text="Turn the printer off and on again.")
        first = await queue.submit("acme", document)
        assert (await first.result(timeout=10)).created == 1
        chunks = await stores.vectors.count(stores.rag("acme").tenant)
        # the same job delivered again (as after a worker died before its ack): a new message id
        again = await queue.submit("acme", document)
        second = await again.result(timeout=10)
        assert second.created == 0 and second.unchanged == 1
        versions = await stores.documents.versions(stores.rag("acme").tenant, "kb-1")
        assert len(versions) == 1
        assert await stores.vectors.count(stores.rag("acme").tenant) == chunks
    finally:
        await worker.stop()


async def test_without_a_queue_bad_sources_and_no_worker_are_clear_errors() -> None:
    stores, jobs_bus = Stores(), bus()
    with pytest.raises(ConfigurationError):
        await stores.rag("acme").ingest("kb", background=True)
    queue = IngestJobQueue(jobs_bus)
    for bad in ([], [42], 3.5):
        with pytest.raises(ValidationError):
            await queue.submit("acme", bad)  # type: ignore[arg-type]
    handle = await queue.submit("acme", Document(id="d", title="t", text="x"))
    with pytest.raises(BusTimeout):
        await handle.result(timeout=0.2)  # no worker runs


async def test_a_job_naming_another_tenant_than_its_envelope_is_dropped() -> None:
    stores, jobs_bus = Stores(), bus()
    worker = await IngestWorker(jobs_bus, stores.rag).start()
    try:
        forged = {
            "job_id": "j1",
            "tenant_id": "globex",
            "documents": [{"id": "x", "title": "t", "text": "x"}],
        }
        await jobs_bus.publish(
            job_subject("acme"), Envelope(tenant_id="acme", type="ingest.job", payload=forged)
        )
        proper = await IngestJobQueue(jobs_bus).submit("acme", Document(id="d", title="t", text="y"))
        await proper.result(timeout=10)
        assert await stores.documents.list(stores.rag("globex").tenant) == []
        assert worker.completed == 1
    finally:
        await worker.stop()


async def test_the_jobs_a_worker_runs_at_once_share_embedding_batches() -> None:
    stores, jobs_bus = Stores(), bus()
    embeddings = HashEmbeddings(dimensions=64)
    stores.gateway = Gateway(
        llm=FunctionLLM(lambda request: "ok"), embeddings=embeddings,
        config=GatewayConfig(default_model="m", default_embedding_model="hash", requests_per_minute=0,
                             enable_caching=False, ingestion_embedding_batch_window=0.2),
    )  # fmt: skip
    worker = await IngestWorker(jobs_bus, stores.rag).start(concurrency=4)
    try:
        queue = IngestJobQueue(jobs_bus)
        handles = [
            await queue.submit(
                "acme", Document(id=f"kb-{n}", title=f"Note {n}", text=f"Restart service {n}.")
            )
            for n in range(4)
        ]
        reports = [await h.result(timeout=10) for h in handles]
        assert [r.created for r in reports] == [1, 1, 1, 1]
        assert sum(len(c.inputs) for c in embeddings.calls) == 4
        assert len(embeddings.calls) < 4  # at least two jobs' chunks went in one provider call
    finally:
        await worker.stop()
