"""The ingestion job stream on NATS JetStream: a work-queue stream of its own.

``MOTADATA_INGEST`` captures ``ingest.>`` with work-queue retention (a job leaves the stream once
a worker acknowledged it), replicated ``replicas`` times; progress and results travel on the
main bus (``events.{tenant}.ingest.{job}``). ``ack_wait`` is how long a job may go without an
acknowledgement or a progress signal before it is delivered to another worker: a worker that
dies mid-job costs that long.
"""

from __future__ import annotations

from typing import Any

from motadata_ai.adapters.nats.bus import NatsBus

__all__ = ["INGEST_STREAM", "connect_jobs_bus"]

INGEST_STREAM = "MOTADATA_INGEST"


async def connect_jobs_bus(url: str, *, replicas: int = 1, ack_wait: float = 30.0, **options: Any) -> NatsBus:
    """A :class:`NatsBus` on the ingestion work-queue stream at ``url`` (list for a cluster)."""
    return await NatsBus.connect(
        url,
        stream=INGEST_STREAM,
        subjects=("ingest.>",),
        retention="workqueue",
        replicas=replicas,
        ack_wait=ack_wait,
        **options,
    )
