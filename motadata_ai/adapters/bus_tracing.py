"""Messaging spans for the bus adapters, and W3C trace context in the message headers.

A publish is a PRODUCER span ``publish {subject}`` whose context travels in the message's
``traceparent``/``tracestate`` headers; handling a delivered message is a CONSUMER span
``process {subject}`` continuing that trace, so a remote agent's work joins the caller's trace.
Attributes follow the messaging conventions (``messaging.system``: ``nats``, or ``memory`` for
the in-process bus;
``messaging.destination.name``, ``messaging.operation.type``, ``messaging.message.id``,
``server.address``/``server.port``) and carry the tenant.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from motadata_ai.domain.values.bus import Envelope
from motadata_ai.ports.telemetry import TENANT_ATTRIBUTE, AttributeValue, TelemetryPort

__all__ = ["consume_span", "publish_span"]


def _attributes(
    system: str, subject: str, envelope: Envelope, operation: str, nc: Any
) -> dict[str, AttributeValue]:
    attributes: dict[str, AttributeValue] = {
        "messaging.system": system,
        "messaging.destination.name": subject,
        "messaging.operation.type": operation,
        "messaging.operation.name": "publish" if operation == "send" else "process",
        "messaging.message.id": envelope.id,
        TENANT_ATTRIBUTE: envelope.tenant_id,
    }
    url = getattr(nc, "connected_url", None)
    if url is not None and getattr(url, "hostname", None):
        attributes["server.address"] = str(url.hostname)
        if url.port:
            attributes["server.port"] = int(url.port)
    return attributes


@contextmanager
def publish_span(
    telemetry: TelemetryPort, subject: str, envelope: Envelope, nc: Any = None, *, system: str = "nats"
) -> Iterator[dict[str, str]]:
    """A PRODUCER span around one publish; yields the trace headers the message must carry."""
    with telemetry.span(
        f"publish {subject}", kind="producer", attributes=_attributes(system, subject, envelope, "send", nc)
    ):
        headers: dict[str, str] = {}
        telemetry.inject(headers)
        yield headers


@contextmanager
def consume_span(
    telemetry: TelemetryPort,
    subject: str,
    envelope: Envelope,
    headers: Mapping[str, str] | None,
    nc: Any = None,
    *,
    system: str = "nats",
) -> Iterator[None]:
    """A CONSUMER span around handling one message, continuing the trace its headers name."""
    carrier = {k: v for k, v in (headers or {}).items() if k in ("traceparent", "tracestate")}
    with telemetry.span(
        f"process {subject}",
        kind="consumer",
        attributes=_attributes(system, subject, envelope, "process", nc),
        remote_parent=carrier or None,
    ):
        yield
