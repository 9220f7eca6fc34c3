"""``motadata-ai worker``: process background ingestion jobs until stopped (SIGINT/SIGTERM).

Run any number, on any machine that reaches the same NATS (``MOTADATA_NATS_URL``) and PostgreSQL
and reads the same paths: they share one durable consumer of the ``MOTADATA_INGEST`` work-queue
stream, so each job goes to one worker; a worker that dies mid-job loses nothing (the job is
delivered again after ``--ack-wait``) and writes nothing twice. A ``click.Command`` named
``worker``; the root command adds it.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal

import click

__all__ = ["worker"]


@click.command(name="worker")
@click.option("--concurrency", default=2, show_default=True, type=click.IntRange(1, 64), help="Jobs at once.")
@click.option("--name", default=None, help="Name reported with progress (default: worker-<random>).")
@click.option("--ack-wait", default=30.0, show_default=True, type=click.FloatRange(1, 3600),
              help="Seconds without progress before a job goes to another worker.")  # fmt: skip
def worker(concurrency: int, name: str | None, ack_wait: float) -> None:
    """Process background ingestion jobs (rag.ingest(..., background=True))."""
    asyncio.run(_run(concurrency=concurrency, name=name, ack_wait=ack_wait))


async def _run(*, concurrency: int, name: str | None, ack_wait: float) -> None:
    import motadata_ai
    from motadata_ai.adapters.nats.ingest_jobs import connect_jobs_bus
    from motadata_ai.domain.retrieval.jobs import IngestWorker
    from motadata_ai.domain.values.errors import ConfigurationError

    async with motadata_ai.connect() as ai:
        if ai.settings.nats_url is None:
            raise ConfigurationError("the worker needs MOTADATA_NATS_URL (the job stream)", field="nats_url")
        jobs = await connect_jobs_bus(
            ai.settings.nats_url.get_secret_value(), replicas=ai.settings.nats_replicas, ack_wait=ack_wait
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        running = await IngestWorker(jobs, ai.rag, events=ai.port("bus"), name=name).start(
            concurrency=concurrency
        )
        click.echo(f"{running.name}: waiting for ingestion jobs (concurrency {concurrency})", err=True)
        try:
            await stop.wait()
        finally:
            await running.stop()
            await jobs.aclose()
        click.echo(f"{running.name}: stopped after {running.completed} jobs", err=True)
