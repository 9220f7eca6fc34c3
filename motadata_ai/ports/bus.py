"""BusPort: publish, durable subscriptions with ack, and request/reply over envelopes."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable

from motadata_ai.domain.values.bus import Envelope, RetainedMessage
from motadata_ai.domain.values.errors import ServiceError, ValidationError
from motadata_ai.ports.health import HealthProbe

Handler = Callable[[Envelope], Awaitable[Envelope | None]]
"""Handles one message. Returning acks it (a returned envelope is the reply for requests);
raising leaves it un-acked, so it is delivered again."""


MAX_RETAINED_READ = 10_000
"""The most messages one :meth:`BusPort.retained` call returns."""


def check_retained_limit(limit: int) -> int:
    """``limit`` when it is an int from 1 to :data:`MAX_RETAINED_READ`, else :class:`ValidationError`."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_RETAINED_READ:
        raise ValidationError(
            f"limit must be an integer from 1 to {MAX_RETAINED_READ}, got {limit!r}", field="limit"
        )
    return limit


class BusError(ServiceError):
    """The bus failed."""


class BusUnavailable(BusError):
    """The bus server cannot be reached; ``address`` names it with credentials masked."""


class BusTimeout(BusError):
    """No reply came within the timeout."""


class Subscription(ABC):
    """A live subscription; stop it to stop receiving."""

    @abstractmethod
    async def stop(self) -> None:
        """Stop delivering messages to the handler (a durable consumer keeps its place)."""


class BusPort(HealthProbe):
    """A message bus. Subjects carry the tenant (``agent.{tenant}.{user}.{agent}.task``).

    ``supports_purge`` advertises :meth:`purge` and :meth:`retained` (a bus that retains messages
    for later delivery can read and remove them, as exporting and erasing a user need); a bus
    without it raises :class:`BusError` there.
    """

    supports_purge: bool = False

    @abstractmethod
    async def publish(self, subject: str, envelope: Envelope) -> None:
        """Publish durably; a second publish of the same ``envelope.id`` is dropped as a duplicate."""

    @abstractmethod
    async def subscribe(
        self,
        subject: str,
        handler: Handler,
        *,
        durable: str | None = None,
        max_deliver: int = 5,
        concurrency: int = 1,
    ) -> Subscription:
        """Deliver messages on ``subject`` (wildcards allowed) to ``handler``; ``durable`` names a
        consumer that survives restarts and resumes where it stopped.

        A durable consumer, when first created, starts at the oldest message the bus retains;
        subscriptions sharing one ``durable`` name and ``subject`` share its messages (work queue).
        Without ``durable`` the subscription receives messages published from now on. A message
        whose handler raises is delivered again, at most ``max_deliver`` times in all, then dropped
        and recorded. ``concurrency`` bounds how many messages one subscription handles at once.
        Messages that fail to decode, or whose envelope tenant differs from the subject's tenant,
        are acknowledged and dropped with a recorded reason, never delivered."""

    @abstractmethod
    async def request(self, subject: str, envelope: Envelope, *, timeout: float = 10.0) -> Envelope:
        """Publish and await the handler's reply, or raise :class:`BusTimeout`."""

    async def purge(self, subject: str) -> int:
        """Remove every message the bus retains on ``subject`` (wildcards allowed), delivered or
        not, and return how many were removed (0 when the subject is outside what it retains)."""
        raise BusError(f"{type(self).__name__} cannot purge retained messages", subject=subject)

    async def retained(self, subject: str, *, limit: int = MAX_RETAINED_READ) -> list[RetainedMessage]:
        """The messages the bus retains on ``subject`` (wildcards allowed), delivered or not, oldest
        first, at most ``limit`` (1 to :data:`MAX_RETAINED_READ`); reading consumes nothing. A message
        that does not decode is skipped; ``[]`` when the subject is outside what the bus retains."""
        raise BusError(f"{type(self).__name__} cannot read retained messages", subject=subject)

    async def aclose(self) -> None:
        """Drain and close connections."""
