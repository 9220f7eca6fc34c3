"""Background ingestion: jobs on a work-queue stream, processed by any number of workers.

:class:`IngestJobQueue` (the caller's side) publishes an :class:`IngestJob` on
``ingest.{tenant}.{user}.job`` of a jobs bus (on NATS: a JetStream work-queue stream, so each job
goes to one worker and leaves the stream once acknowledged) and returns an :class:`IngestJobHandle`
that follows the job's progress and result events on ``events.{tenant}.ingest.{job}``.

:class:`IngestWorker` (``motadata-ai worker``) consumes the jobs through one durable consumer
that every worker shares, runs each with the tenant's ``RAGSystem.ingest`` (parse, embed, write)
and publishes progress (at most every ``progress_interval`` seconds) and the final
:class:`~motadata_ai.domain.values.documents.IngestReport`. A job is acknowledged only after
its result is published, so a worker killed mid-job loses nothing: the job is delivered again
(after the bus's ack wait) to another worker. It also writes nothing twice: each document version
is one transaction keyed by its content hash, so the documents the dead worker committed are
``unchanged`` on the second run and the one it was writing either committed whole or not at all.

Sources travel by name: a file or directory path that every worker can read (shared storage),
or a :class:`~motadata_ai.domain.values.documents.Document` carried in the job itself.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from motadata_ai.domain.bus.subjects import event_subject, tenant_token, user_token, validate_subject
from motadata_ai.domain.values.bus import Envelope
from motadata_ai.domain.values.documents import Document, IngestReport
from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.domain.values.tenancy import TenantContext, validate_tenant_id
from motadata_ai.ports.bus import BusPort, BusTimeout, Subscription

__all__ = [
    "INGEST_DURABLE",
    "JOBS_PATTERN",
    "IngestJob",
    "IngestJobEvent",
    "IngestJobHandle",
    "IngestJobQueue",
    "IngestWorker",
    "job_subject",
]

logger = logging.getLogger("motadata_ai.rag.jobs")

JOB_MESSAGE = "ingest.job"
EVENT_MESSAGE = "ingest.event"
INGEST_DURABLE = "ingest-workers"
"""The durable consumer every worker shares (one job goes to one worker)."""


JOBS_PATTERN = "ingest.*.*.job"
"""Every tenant's and user's jobs (what the workers consume)."""


def job_subject(tenant_id: str, user_id: str | None = None) -> str:
    """``ingest.{tenant}.{user}.job`` (``.`` in a tenant id written ``~``, as on every subject;
    the user token as :func:`~motadata_ai.domain.bus.subjects.user_token` makes it)."""
    tenant = tenant_token(validate_tenant_id(tenant_id))
    return validate_subject(f"ingest.{tenant}.{user_token(user_id)}.job")


def _events_subject(tenant_id: str, job_id: str) -> str:
    return event_subject(tenant_id, "ingest", job_id)


class IngestJob(BaseModel):
    """One background ingestion: what to ingest, for whom."""

    model_config = ConfigDict(frozen=True)

    job_id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    tenant_id: str
    paths: tuple[str, ...] = ()
    documents: tuple[Document, ...] = ()
    user_id: str | None = None
    metadata: dict[str, Any] | None = None


class IngestJobEvent(BaseModel):
    """Progress or the outcome of a job, as the worker reports it."""

    model_config = ConfigDict(frozen=True)

    job_id: str
    state: Literal["running", "done", "failed"]
    done: int = 0
    total: int = 0
    worker: str = ""
    report: IngestReport | None = None
    error: str | None = None


class IngestJobHandle:
    """The caller's view of one submitted job: latest progress and the final report."""

    def __init__(self, job: IngestJob, subscription: Subscription) -> None:
        self.job = job
        self._subscription = subscription
        self._finished: asyncio.Future[IngestJobEvent] = asyncio.get_running_loop().create_future()
        self.progress: IngestJobEvent | None = None
        """The latest event received (``None`` until the worker reports)."""

    @property
    def job_id(self) -> str:
        """The job's id."""
        return self.job.job_id

    def _receive(self, event: IngestJobEvent) -> None:
        self.progress = event
        if event.state != "running" and not self._finished.done():
            self._finished.set_result(event)

    async def result(self, *, timeout: float | None = None) -> IngestReport:
        """Wait for the worker's report; :class:`BusTimeout` after ``timeout`` seconds, the
        worker's error as :class:`ValidationError` when the job failed as a whole."""
        try:
            event = await asyncio.wait_for(asyncio.shield(self._finished), timeout)
        except TimeoutError as e:
            raise BusTimeout(
                f"ingest job {self.job_id} reported no result within {timeout} s",
                subject=job_subject(self.job.tenant_id, self.job.user_id), envelope_id=self.job_id,
                tenant_id=self.job.tenant_id, timeout=timeout,
            ) from e  # fmt: skip
        finally:
            if self._finished.done():
                await self._subscription.stop()
        if event.report is None:
            raise ValidationError(f"ingest job {self.job_id} failed: {event.error}", field="source")
        return event.report


def _job(tenant_id: str, source: Any, *, user_id: str | None, metadata: dict[str, Any] | None) -> IngestJob:
    """The job for ``source``: paths made absolute (the workers resolve nothing against their own
    working directory), Documents carried whole."""
    items = list(source) if isinstance(source, list | tuple) else [source]
    paths = tuple(os.path.abspath(s) for s in items if isinstance(s, str | Path))
    documents = tuple(s for s in items if isinstance(s, Document))
    if len(paths) + len(documents) != len(items) or not items:
        raise ValidationError("a background ingest takes paths and Documents", field="source")
    return IngestJob(
        tenant_id=tenant_id, paths=paths, documents=documents, user_id=user_id, metadata=metadata
    )


class IngestJobQueue:
    """Submit ingestion jobs of any tenant to the workers."""

    def __init__(self, jobs: BusPort, events: BusPort | None = None) -> None:
        self._jobs = jobs
        self._events = events or jobs

    @property
    def jobs_bus(self) -> BusPort:
        """The bus the jobs wait on until a worker acknowledges them (erasure purges it too)."""
        return self._jobs

    async def submit(
        self,
        tenant: TenantContext | str,
        source: str | Path | Document | Sequence[str | Path | Document],
        *,
        user_id: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> IngestJobHandle:
        """Enqueue one job for ``source`` and return its handle (listening before it is sent)."""
        tenant_id = TenantContext.of(tenant).tenant_id
        job = _job(tenant_id, source, user_id=user_id, metadata=metadata)
        handle: list[IngestJobHandle] = []

        async def on_event(envelope: Envelope) -> None:
            event = IngestJobEvent.model_validate(envelope.payload)
            if handle and event.job_id == job.job_id:
                handle[0]._receive(event)

        subscription = await self._events.subscribe(_events_subject(tenant_id, job.job_id), on_event)
        handle.append(IngestJobHandle(job, subscription))
        await self._jobs.publish(
            job_subject(tenant_id, user_id),
            Envelope(
                id=job.job_id, tenant_id=tenant_id, type=JOB_MESSAGE, payload=job.model_dump(mode="json")
            ),
        )
        return handle[0]


class IngestWorker:
    """Run ingestion jobs from the jobs bus with ``rag_for(tenant_id)``'s ``ingest``."""

    def __init__(
        self,
        jobs: BusPort,
        rag_for: Callable[[str], Any],
        *,
        events: BusPort | None = None,
        name: str | None = None,
        progress_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._jobs = jobs
        self._events = events or jobs
        self._rag_for = rag_for
        self.name = name or f"worker-{uuid.uuid4().hex[:8]}"
        self._progress_interval = progress_interval
        self._clock = clock
        self._subscription: Subscription | None = None
        self.completed = 0
        """Jobs this worker finished (reported and acknowledged)."""

    async def start(self, *, concurrency: int = 1) -> IngestWorker:
        """Consume jobs of every tenant, ``concurrency`` at a time."""
        self._subscription = await self._jobs.subscribe(
            JOBS_PATTERN, self._handle, durable=INGEST_DURABLE, concurrency=concurrency, max_deliver=10
        )
        return self

    async def stop(self) -> None:
        """Stop taking jobs; running ones finish (or are delivered again after the bus's drain)."""
        if self._subscription is not None:
            await self._subscription.stop()
            self._subscription = None

    async def _report(self, job: IngestJob, event: IngestJobEvent) -> None:
        await self._events.publish(
            _events_subject(job.tenant_id, job.job_id),
            Envelope(tenant_id=job.tenant_id, type=EVENT_MESSAGE, payload=event.model_dump(mode="json")),
        )

    async def _handle(self, envelope: Envelope) -> None:
        job = IngestJob.model_validate(envelope.payload)
        if job.tenant_id != envelope.tenant_id:
            logger.warning("ingest job %s names tenant %s in an envelope of %s; dropped",
                           job.job_id, job.tenant_id, envelope.tenant_id)  # fmt: skip
            return
        rag = self._rag_for(job.tenant_id)
        last = [self._clock()]
        pending: set[asyncio.Task[None]] = set()

        def progress(done: int, total: int, source: str) -> None:
            now = self._clock()
            if now - last[0] >= self._progress_interval:
                last[0] = now
                event = IngestJobEvent(
                    job_id=job.job_id, state="running", done=done, total=total, worker=self.name
                )
                task = asyncio.get_running_loop().create_task(self._report(job, event))
                pending.add(task)
                task.add_done_callback(pending.discard)

        sources: list[str | Document] = [*job.paths, *job.documents]
        try:
            report = await rag.ingest(sources, user_id=job.user_id, metadata=job.metadata, progress=progress)
        except ValidationError as exc:  # the job as a whole is bad: report it, do not retry
            await self._report(
                job, IngestJobEvent(job_id=job.job_id, state="failed", worker=self.name, error=str(exc))
            )
            return
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        total = len(report.documents) + len(report.failures)
        await self._report(
            job,
            IngestJobEvent(
                job_id=job.job_id, state="done", done=total, total=total, worker=self.name, report=report
            ),
        )
        self.completed += 1
