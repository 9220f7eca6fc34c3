"""InMemoryBus: an in-process BusPort with the semantics of the NATS JetStream adapter.

* Published messages are encoded by the bus codec and kept in an in-process stream (bounded by
  ``max_messages``); a second publish of the same ``envelope.id`` within ``duplicate_window``
  seconds is dropped.
* Subjects use NATS wildcards (``*`` one token, ``>`` the rest) and carry the tenant as their
  second token; a message's envelope must belong to its subject's tenant.
* A durable consumer (``durable=`` name + subject) keeps its place while no subscription is
  attached; when first created it starts at the oldest retained message. Subscriptions sharing
  a durable consumer share its messages. A handler that raises gets the message again, up to
  ``max_deliver`` deliveries in all, after which it is dropped and recorded in ``rejections``.
* ``request`` publishes with ``reply_to`` set to a private inbox and awaits the handler's reply.

Messages that do not decode, or whose envelope tenant differs from the subject's tenant, are
acknowledged and dropped, recorded in ``rejections`` (and passed to ``on_rejected``), logged,
and never delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from motadata_ai.adapters.bus_tracing import consume_span, publish_span
from motadata_ai.adapters.memory._health import InProcessProbe
from motadata_ai.domain.bus.codec import (
    DEFAULT_MAX_BYTES,
    MalformedMessage,
    Rejection,
    check_route,
    decode,
    encode,
)
from motadata_ai.domain.bus.delivery import (
    DEFAULT_SUBJECTS,
    INBOX_PREFIX,
    check_durable,
    check_stream_subject,
    check_subscribe_options,
    handler_failed,
    record_rejection,
    remember_handled,
    reply_envelope,
)
from motadata_ai.domain.bus.subjects import subject_matches, validate_subject
from motadata_ai.domain.memory._telemetry import NoTelemetry
from motadata_ai.domain.values.bus import Envelope, RetainedMessage
from motadata_ai.ports.bus import (
    MAX_RETAINED_READ,
    BusPort,
    BusTimeout,
    BusUnavailable,
    Handler,
    Subscription,
    check_retained_limit,
)
from motadata_ai.ports.telemetry import TelemetryPort

logger = logging.getLogger("motadata_ai.bus")

@dataclass
class _Consumer:
    pattern: str
    next_seq: int
    max_deliver: int
    durable: str | None
    redeliver: deque[int] = field(default_factory=deque)
    deliveries: dict[int, int] = field(default_factory=dict)
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    handled: OrderedDict[str, Envelope | None] = field(default_factory=OrderedDict)


class _MemorySubscription(Subscription):
    def __init__(
        self, bus: InMemoryBus, consumer: _Consumer, handler: Handler, concurrency: int, drain_timeout: float
    ) -> None:
        self._bus = bus
        self._consumer = consumer
        self._handler = handler
        self._slots = asyncio.Semaphore(concurrency)
        self._drain_timeout = drain_timeout
        self._handling: set[asyncio.Task[None]] = set()
        self._stopped = False
        self._worker = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        consumer = self._consumer
        while True:
            await self._slots.acquire()
            seq = self._bus._take(consumer)
            if seq is None:
                self._slots.release()
                consumer.wakeup.clear()
                await consumer.wakeup.wait()
                continue
            task = asyncio.get_running_loop().create_task(self._handle(seq))
            self._handling.add(task)
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._handling.discard(task)
        self._slots.release()

    async def _handle(self, seq: int) -> None:
        bus, consumer = self._bus, self._consumer
        stored = bus._messages.get(seq)
        if stored is None:  # evicted from the stream meanwhile
            consumer.deliveries.pop(seq, None)
            return
        subject, data = stored
        attempt = consumer.deliveries.get(seq, 0) + 1
        consumer.deliveries[seq] = attempt
        try:
            envelope = decode(data, subject=subject, max_bytes=bus._max_bytes)
        except MalformedMessage as e:
            consumer.deliveries.pop(seq, None)
            bus._reject(Rejection.of(subject, e))
            return
        if envelope.id in consumer.handled:
            consumer.deliveries.pop(seq, None)
            logger.info("envelope %s was already handled by this consumer; skipping it", envelope.id)
            return
        try:
            with consume_span(bus.telemetry, subject, envelope, bus._trace_headers.get(seq), system="memory"):
                reply = await self._handler(envelope)
        except asyncio.CancelledError:
            consumer.redeliver.appendleft(seq)
            consumer.wakeup.set()
            raise
        except Exception as e:
            rejection = handler_failed(subject, envelope, attempt, consumer.max_deliver, e)
            if rejection is None:
                bus._redeliver_later(consumer, seq)
            else:
                consumer.deliveries.pop(seq, None)
                bus._reject(rejection)
            return
        consumer.deliveries.pop(seq, None)
        remember_handled(consumer.handled, envelope.id, bus._handled_memory)
        answer = reply_envelope(envelope, reply)
        if answer is not None and envelope.reply_to is not None:
            bus._deliver_reply(envelope.reply_to, answer)

    async def stop(self) -> None:
        """Stop receiving; in-flight handlers get ``drain_timeout`` seconds to finish."""
        if self._stopped:
            return
        self._stopped = True
        self._worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._worker
        if self._handling:
            _, pending = await asyncio.wait(set(self._handling), timeout=self._drain_timeout)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        self._bus._detach(self._consumer)


class InMemoryBus(InProcessProbe, BusPort):
    """An in-process message bus with durable consumers, redelivery, de-duplication and request/reply.

    ``subjects`` are the patterns the stream captures (publishing elsewhere is an error);
    ``duplicate_window`` (seconds, on ``clock``) is how long an envelope id is remembered;
    ``max_messages`` bounds the stream (oldest dropped first); ``redelivery_delay`` is the pause
    before a failed message is delivered again; each consumer remembers the last
    ``handled_memory`` envelope ids it handled and skips them if the stream holds them again;
    ``on_rejected`` is called with each
    :class:`~motadata_ai.domain.bus.codec.Rejection` (also kept in ``rejections``).
    """

    address = "memory://"

    def __init__(
        self,
        *,
        subjects: tuple[str, ...] = DEFAULT_SUBJECTS,
        duplicate_window: float = 120.0,
        max_messages: int = 100_000,
        max_bytes: int = DEFAULT_MAX_BYTES,
        redelivery_delay: float = 0.0,
        drain_timeout: float = 10.0,
        handled_memory: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
        on_rejected: Callable[[Rejection], None] | None = None,
        telemetry: TelemetryPort | None = None,
    ) -> None:
        self.telemetry: TelemetryPort = telemetry or NoTelemetry()
        """Messaging spans; trace context travels with each stored message."""
        self._trace_headers: dict[int, dict[str, str]] = {}
        self._subjects = tuple(validate_subject(s, allow_wildcards=True) for s in subjects)
        self._duplicate_window = duplicate_window
        self._max_messages = max_messages
        self._max_bytes = max_bytes
        self._redelivery_delay = redelivery_delay
        self._drain_timeout = drain_timeout
        self._handled_memory = handled_memory
        self._clock = clock
        self._on_rejected = on_rejected
        self._messages: OrderedDict[int, tuple[str, bytes]] = OrderedDict()
        self._seq = 0
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._durables: dict[tuple[str, str], _Consumer] = {}
        self._ephemeral: list[_Consumer] = []
        self._subscriptions: list[_MemorySubscription] = []
        self._inboxes: dict[str, asyncio.Future[Envelope]] = {}
        self._closed = False
        self.rejections: deque[Rejection] = deque(maxlen=1000)
        """The latest messages dropped without delivery (malformed, foreign tenant, max_deliver)."""

    # -- internals shared with subscriptions -------------------------------------------------

    def _take(self, consumer: _Consumer) -> int | None:
        while consumer.redeliver:
            seq = consumer.redeliver.popleft()
            if seq in self._messages:
                return seq
            consumer.deliveries.pop(seq, None)
        first = next(iter(self._messages), self._seq + 1)
        seq = max(consumer.next_seq, first)
        while seq <= self._seq:
            stored = self._messages.get(seq)
            if stored is not None and subject_matches(consumer.pattern, stored[0]):
                consumer.next_seq = seq + 1
                return seq
            seq += 1
        consumer.next_seq = self._seq + 1
        return None

    def _redeliver_later(self, consumer: _Consumer, seq: int) -> None:
        def requeue() -> None:
            consumer.redeliver.append(seq)
            consumer.wakeup.set()

        if self._redelivery_delay > 0:
            asyncio.get_running_loop().call_later(self._redelivery_delay, requeue)
        else:
            requeue()

    def _reject(self, rejection: Rejection) -> None:
        record_rejection(self.rejections, rejection, self._on_rejected)

    def _deliver_reply(self, inbox: str, reply: Envelope) -> None:
        future = self._inboxes.get(inbox)
        if future is None or future.done():
            logger.info("reply %s to %r has no waiting requester", reply.id, inbox)
            return
        try:
            future.set_result(decode(encode(reply, max_bytes=self._max_bytes), max_bytes=self._max_bytes))
        except MalformedMessage as e:
            future.set_exception(e)

    def _detach(self, consumer: _Consumer) -> None:
        if consumer.durable is None and consumer in self._ephemeral:
            self._ephemeral.remove(consumer)

    def _check_open(self) -> None:
        if self._closed:
            raise BusUnavailable("the in-memory bus is closed", address=self.address)

    def _append(self, subject: str, data: bytes, trace: dict[str, str] | None = None) -> None:
        self._seq += 1
        self._messages[self._seq] = (subject, data)
        if trace:
            self._trace_headers[self._seq] = trace
        while len(self._messages) > self._max_messages:
            dropped, _ = self._messages.popitem(last=False)
            self._trace_headers.pop(dropped, None)
        for consumer in [*self._durables.values(), *self._ephemeral]:
            if subject_matches(consumer.pattern, subject):
                consumer.wakeup.set()

    def _check_stream_subject(self, subject: str) -> None:
        check_stream_subject(subject, self._subjects, stream="the bus stream")

    supports_purge = True

    async def purge(self, subject: str) -> int:
        """Remove every retained message on ``subject`` (wildcards allowed); return how many."""
        self._check_open()
        validate_subject(subject, allow_wildcards=True)
        doomed = [seq for seq, (stored, _) in self._messages.items() if subject_matches(subject, stored)]
        for seq in doomed:
            del self._messages[seq]
            self._trace_headers.pop(seq, None)
        return len(doomed)

    async def retained(self, subject: str, *, limit: int = MAX_RETAINED_READ) -> list[RetainedMessage]:
        """The retained messages on ``subject`` (wildcards allowed), oldest first, at most ``limit``."""
        self._check_open()
        validate_subject(subject, allow_wildcards=True)
        check_retained_limit(limit)
        found: list[RetainedMessage] = []
        for seq, (stored, data) in list(self._messages.items()):
            if len(found) >= limit:
                break
            if not subject_matches(subject, stored):
                continue
            try:
                envelope = decode(data, max_bytes=self._max_bytes)
            except MalformedMessage:
                continue
            found.append(RetainedMessage(subject=stored, sequence=seq, envelope=envelope))
        return found

    # -- the port ------------------------------------------------------------------------------

    async def publish(self, subject: str, envelope: Envelope) -> None:
        """Store ``envelope`` on ``subject`` unless its id was published within the duplicate window.

        Raises :class:`InvalidSubject` for a malformed subject or one outside the stream, and
        :class:`MalformedMessage` when the envelope's tenant differs from the subject's.
        """
        self._check_open()
        validate_subject(subject)
        self._check_stream_subject(subject)
        check_route(subject, envelope)
        data = encode(envelope, max_bytes=self._max_bytes)
        now = self._clock()
        while self._seen:
            oldest_id, seen_at = next(iter(self._seen.items()))
            if now - seen_at < self._duplicate_window:
                break
            del self._seen[oldest_id]
        if envelope.id in self._seen:
            logger.debug("dropped duplicate envelope %s on %r", envelope.id, subject)
            return
        self._seen[envelope.id] = now
        with publish_span(self.telemetry, subject, envelope, system="memory") as trace:
            self._append(subject, data, trace)

    async def inject_raw(self, subject: str, data: bytes) -> None:
        """Put raw bytes on ``subject`` as a foreign publisher would (no codec, no checks but the
        stream's subjects): for tests of malformed and foreign-tenant messages."""
        self._check_open()
        self._check_stream_subject(subject)
        self._append(subject, bytes(data))

    async def subscribe(
        self,
        subject: str,
        handler: Handler,
        *,
        durable: str | None = None,
        max_deliver: int = 5,
        concurrency: int = 1,
    ) -> Subscription:
        """Deliver messages on ``subject`` to ``handler`` (see the module docstring)."""
        self._check_open()
        validate_subject(subject, allow_wildcards=True)
        check_durable(durable)
        check_subscribe_options(max_deliver, concurrency)
        if durable is None:
            consumer = _Consumer(
                pattern=subject, next_seq=self._seq + 1, max_deliver=max_deliver, durable=None
            )
            self._ephemeral.append(consumer)
        else:
            consumer = self._durables.get((durable, subject)) or _Consumer(
                pattern=subject, next_seq=1, max_deliver=max_deliver, durable=durable
            )
            consumer.max_deliver = max_deliver
            self._durables[(durable, subject)] = consumer
        consumer.wakeup.set()
        subscription = _MemorySubscription(self, consumer, handler, concurrency, self._drain_timeout)
        self._subscriptions.append(subscription)
        return subscription

    async def request(self, subject: str, envelope: Envelope, *, timeout: float = 10.0) -> Envelope:
        """Publish ``envelope`` with a private ``reply_to`` inbox and await the reply."""
        self._check_open()
        inbox = f"{INBOX_PREFIX}{uuid.uuid4().hex}"
        future: asyncio.Future[Envelope] = asyncio.get_running_loop().create_future()
        self._inboxes[inbox] = future
        try:
            await self.publish(subject, envelope.model_copy(update={"reply_to": inbox}))
            try:
                return await asyncio.wait_for(future, timeout)
            except TimeoutError:
                raise BusTimeout(
                    f"no reply to envelope {envelope.id} on {subject!r} within {timeout} s",
                    subject=subject,
                    envelope_id=envelope.id,
                    tenant_id=envelope.tenant_id,
                    timeout=timeout,
                    address=self.address,
                ) from None
        finally:
            self._inboxes.pop(inbox, None)

    async def aclose(self) -> None:
        """Stop every subscription and fail waiting requests."""
        if self._closed:
            return
        for subscription in self._subscriptions:
            await subscription.stop()
        self._subscriptions.clear()
        self._closed = True
        for future in self._inboxes.values():
            if not future.done():
                future.set_exception(BusUnavailable("the in-memory bus was closed", address=self.address))
