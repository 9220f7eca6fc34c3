"""BusPort: publish, durable subscriptions with ack, and request/reply over envelopes."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable

from motadata_ai.domain.values.bus import Envelope
from motadata_ai.domain.values.errors import ServiceError
from motadata_ai.ports.health import HealthProbe

Handler = Callable[[Envelope], Awaitable[Envelope | None]]
"""Handles one message. Returning acks it (a returned envelope is the reply for requests);
raising leaves it un-acked, so it is delivered again."""


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

    ``supports_purge`` advertises :meth:`purge` (a bus that retains messages for later delivery
    can remove them, as erasing a user needs); a bus without it raises :class:`BusError` there.
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

    async def aclose(self) -> None:
        """Drain and close connections."""
