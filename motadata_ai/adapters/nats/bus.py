"""NatsBus: BusPort on NATS JetStream through ``nats-py``.

* **Stream.** :meth:`NatsBus.connect` creates (or updates) one JetStream stream (``MOTADATA`` by
  default, file storage) capturing ``subjects`` (``agent.>``, ``events.>``, ``workflow.>``).
* **Publish** goes through JetStream with the ``Nats-Msg-Id`` header set to ``envelope.id``, so the
  server drops a re-publish within ``duplicate_window``. A publish that fails for want of a
  connection (server restarting, reconnecting) is retried with the same id until
  ``publish_timeout``, which is safe because of that de-duplication; then :class:`BusUnavailable`.
* **Subscribe** creates a pull consumer with explicit ack: durable ones are named
  ``{durable}_{hash of subject}`` (see :func:`~motadata_ai.domain.bus.delivery.consumer_name`) and
  start at the oldest message in the stream when first created; ephemeral ones start at new
  messages and vanish after ``ephemeral_inactive`` seconds without a subscriber. A handler that
  returns acks the message; one that raises naks it (redelivered after ``redelivery_delay``)
  until ``max_deliver`` deliveries, after which it is terminated and recorded in ``rejections``.
  While a handler runs the adapter tells the server it is in progress, so a slow handler is
  not redelivered under it. Each consumer remembers the last ``handled_memory`` envelope ids it
  handled, so a message redelivered because its ack was lost (server restart) is acked again
  without calling the handler twice.
* **Request/reply** uses JetStream for the request (durable: it waits in the stream while the
  responder is down) and core NATS for the reply: the request carries ``reply_to`` = a fresh
  ``_INBOX.`` subject the requester listens on; the responder's adapter publishes the handler's
  returned envelope there. Replies never touch the stream.
  A requester whose connection reconnected while it waited sends the request again (same
  envelope id, fresh stream message id); the responder's consumer acks a copy whose first copy it
  is still handling, and answers a copy it already handled from its memory of replies, so a reply
  lost in the outage arrives and the handler still runs once.
* **Reconnect.** The client reconnects forever (``reconnect_time_wait`` apart); pull loops and
  publishes ride over outages; streams and durable consumers survive a server restart with its
  store. nats-py errors never escape: they become :class:`BusUnavailable`, :class:`BusTimeout` or
  :class:`BusError` naming the masked address.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)

from motadata_ai.adapters.bus_tracing import consume_span, publish_span
from motadata_ai.adapters.defaults import NATS_REPLICAS
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
    consumer_name,
    handler_failed,
    record_rejection,
    remember_handled,
    reply_envelope,
)
from motadata_ai.domain.bus.subjects import subjects_overlap, validate_subject
from motadata_ai.domain.memory._telemetry import NoTelemetry
from motadata_ai.domain.values.addresses import mask_url
from motadata_ai.domain.values.bus import Envelope, RetainedMessage
from motadata_ai.domain.values.errors import ConfigurationError, ValidationError
from motadata_ai.domain.values.health import ComponentHealth
from motadata_ai.ports.bus import (
    MAX_RETAINED_READ,
    BusError,
    BusPort,
    BusTimeout,
    BusUnavailable,
    Handler,
    Subscription,
    check_retained_limit,
)
from motadata_ai.ports.telemetry import TelemetryPort

logger = logging.getLogger("motadata_ai.bus")

_TRANSIENT: tuple[type[BaseException], ...] = (
    nats.errors.TimeoutError,
    nats.errors.NoRespondersError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.OutboundBufferLimitError,
    nats.errors.StaleConnectionError,
    nats.errors.FlushTimeoutError,
    nats.js.errors.NoStreamResponseError,
    nats.js.errors.ServiceUnavailableError,
    asyncio.TimeoutError,
    OSError,
)
"""Errors that mean "no server right now": retried where safe, else BusUnavailable."""

_ANY_NATS: tuple[type[BaseException], ...] = (*_TRANSIENT, nats.errors.Error)
_REPLY_POLL = 0.25  # seconds between checks for a reconnect while a request awaits its reply
"""Every error nats-py raises (plus the OS and timeout errors under it)."""

_UNAVAILABLE: tuple[type[BaseException], ...] = (*_TRANSIENT, nats.errors.ConnectionClosedError)


class _NatsSubscription(Subscription):
    def __init__(
        self,
        bus: NatsBus,
        subject: str,
        handler: Handler,
        *,
        durable: str | None,
        max_deliver: int,
        concurrency: int,
    ) -> None:
        self._bus = bus
        self._subject = subject
        self._handler = handler
        self._durable = durable
        self._max_deliver = max_deliver
        self._concurrency = concurrency
        self._name = consumer_name(durable, subject) if durable else None
        self._psub: JetStreamContext.PullSubscription | None = None
        self._handling: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._heartbeat_task: asyncio.Task[None] | None = None
        self._in_flight: dict[int, tuple[Msg, float]] = {}  # by id(msg): Msg is unhashable
        self._handled = bus._handled_ids(self._name) if self._name else OrderedDict()
        self._running: set[str] = set()  # envelope ids whose handler runs now

    async def _create(self) -> None:
        bus = self._bus
        # ``self._name`` is set for an ephemeral consumer too once it exists: whether the
        # consumer is durable comes from the subscription, not from that name
        durable = self._durable is not None
        name = self._name or bus._nc._nuid.next().decode()
        start: dict[str, Any] = {"deliver_policy": DeliverPolicy.ALL}
        if not durable:
            # "new messages" from the stream leader's last sequence: with DeliverPolicy.NEW a
            # clustered consumer starts after its own replica's last message, which may not yet
            # hold a message the leader has already acknowledged (it was then delivered)
            info = await bus._js.stream_info(bus._stream)
            start = {
                "deliver_policy": DeliverPolicy.BY_START_SEQUENCE,
                "opt_start_seq": info.state.last_seq + 1,
            }
        config = ConsumerConfig(
            name=name,
            durable_name=name if durable else None,
            filter_subject=self._subject,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=bus._ack_wait,
            max_deliver=self._max_deliver,
            max_ack_pending=max(1000, self._concurrency * 4),
            inactive_threshold=None if durable else bus._ephemeral_inactive,
            **start,
        )
        if durable or not await self._exists(name):
            # an existing ephemeral consumer is bound again as it is: its "new messages" start
            # was fixed when it was created (JetStream refuses to "update" a deliver policy)
            await bus._js.add_consumer(bus._stream, config=config)
        self._psub = await bus._js.pull_subscribe_bind(
            durable=name if durable else None, stream=bus._stream, name=None if durable else name
        )
        if not durable:
            self._name = name

    async def _exists(self, name: str) -> bool:
        if self._name is None:  # never created yet
            return False
        try:
            await self._bus._js.consumer_info(self._bus._stream, name)
        except nats.js.errors.NotFoundError:
            return False
        return True

    async def start(self) -> None:
        async with self._bus._translate("subscribe", subject=self._subject):
            await self._create()
        self._loop_task = asyncio.get_running_loop().create_task(self._run())
        self._heartbeat_task = asyncio.get_running_loop().create_task(self._heartbeat())

    async def _run(self) -> None:
        backoff = 0.05
        while not self._stopping.is_set():
            free = self._concurrency - len(self._handling)
            if free <= 0:
                await asyncio.wait(set(self._handling), return_when=asyncio.FIRST_COMPLETED)
                continue
            try:
                if self._psub is None:
                    await self._create()
                assert self._psub is not None
                messages = await self._psub.fetch(free, timeout=self._bus._poll_interval)
                backoff = 0.05
            except nats.errors.TimeoutError:
                continue
            except nats.js.errors.NotFoundError:
                logger.warning("consumer for %r vanished (server restarted?); re-creating it", self._subject)
                await self._drop_psub()
                await self._pause(backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            except _ANY_NATS as e:
                if self._bus._closed:
                    return
                logger.info("fetch on %r failed (%r); retrying in %.2f s", self._subject, e, backoff)
                if isinstance(e, nats.errors.BadSubscriptionError | nats.js.errors.APIError):
                    await self._drop_psub()
                await self._pause(backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            for msg in messages:
                if self._stopping.is_set():
                    await self._settle(msg.nak())
                    continue
                task = asyncio.get_running_loop().create_task(self._handle(msg))
                self._handling.add(task)
                task.add_done_callback(self._handling.discard)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _drop_psub(self) -> None:
        psub, self._psub = self._psub, None
        if psub is not None:
            with contextlib.suppress(Exception):
                await psub.unsubscribe()

    async def _settle(self, action: Any) -> None:
        """Await an ack/nak/term/in-progress; a lost connection only means the server redelivers."""
        try:
            await action
        except _ANY_NATS as e:
            logger.info("could not settle a message on %r: %r (it will be redelivered)", self._subject, e)

    async def _heartbeat(self) -> None:
        """Tell the server every message whose handler runs longer than a third of ``ack_wait``
        is still in progress, so a slow handler is not redelivered under it."""
        interval = max(self._bus._ack_wait / 3, 0.2)
        while not self._stopping.is_set():
            await self._pause(interval)
            due = time.monotonic() - interval
            for key, (msg, started) in list(self._in_flight.items()):
                if started <= due and key in self._in_flight:
                    self._in_flight[key] = (msg, time.monotonic())
                    await self._settle(msg.in_progress())

    async def _handle(self, msg: Msg) -> None:
        bus = self._bus
        subject = msg.subject
        try:
            attempt = msg.metadata.num_delivered or 1
        except nats.errors.Error:
            attempt = 1
        try:
            envelope = decode(msg.data, subject=subject, max_bytes=bus._max_bytes)
        except MalformedMessage as e:
            await self._settle(msg.term())
            bus._reject(Rejection.of(subject, e))
            return
        if envelope.id in self._handled:
            logger.info("envelope %s was already handled by this consumer; acking it again", envelope.id)
            await self._settle(msg.ack())
            remembered = self._handled[envelope.id]
            if remembered is not None and envelope.reply_to is not None:
                await bus._send_reply(envelope.reply_to, remembered)  # the first reply may be lost
            return
        if envelope.id in self._running:
            # A request re-sent after a reconnect while the first copy is still being handled:
            # the reply of that first copy goes to the same inbox.
            await self._settle(msg.ack())
            return
        self._in_flight[id(msg)] = (msg, time.monotonic())
        self._running.add(envelope.id)
        try:
            with consume_span(bus.telemetry, subject, envelope, msg.headers, bus._nc):
                reply = await self._handler(envelope)
        except asyncio.CancelledError:
            await self._settle(msg.nak())
            raise
        except Exception as e:
            rejection = handler_failed(subject, envelope, attempt, self._max_deliver, e)
            if rejection is None:
                await self._settle(msg.nak(delay=bus._redelivery_delay or None))
            else:
                await self._settle(msg.term())
                bus._reject(rejection)
            return
        finally:
            self._in_flight.pop(id(msg), None)
            self._running.discard(envelope.id)
        answer = reply_envelope(envelope, reply)
        remember_handled(self._handled, envelope.id, bus._handled_memory, answer)
        await self._settle(msg.ack())
        if answer is not None and envelope.reply_to is not None:
            await bus._send_reply(envelope.reply_to, answer)

    async def stop(self) -> None:
        """Stop fetching; in-flight handlers get ``drain_timeout`` seconds, then are cancelled (naked)."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        if self._loop_task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._loop_task), self._bus._poll_interval + 2.0)
            except TimeoutError:
                self._loop_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._loop_task
        if self._handling:
            _, pending = await asyncio.wait(set(self._handling), timeout=self._bus._drain_timeout)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        if self._heartbeat_task is not None:
            self._heartbeat_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat_task
        await self._drop_psub()
        if self._durable is None and self._name is not None and not self._bus._closed:
            with contextlib.suppress(Exception):
                await self._bus._js.delete_consumer(self._bus._stream, self._name)
        self._bus._subscriptions.discard(self)


class NatsBus(BusPort):
    """A message bus on NATS JetStream. Build it with :meth:`connect`; close it with :meth:`aclose`.

    ``rejections`` keeps the latest messages dropped without delivery (malformed, foreign
    tenant, ``max_deliver`` exhausted); ``on_rejected`` is called with each.
    """

    def __init__(
        self,
        nc: Client,
        *,
        address: str,
        stream: str,
        subjects: tuple[str, ...],
        publish_timeout: float,
        request_timeout: float,
        ack_wait: float,
        poll_interval: float,
        redelivery_delay: float,
        drain_timeout: float,
        ephemeral_inactive: float,
        handled_memory: int,
        max_bytes: int,
        on_rejected: Callable[[Rejection], None] | None,
        telemetry: TelemetryPort | None = None,
    ) -> None:
        self.telemetry: TelemetryPort = telemetry or NoTelemetry()
        """Messaging spans; trace context travels in the message headers."""
        self._nc = nc
        self._js = nc.jetstream(timeout=request_timeout)
        self._address = address
        self._stream = stream
        self._subjects = subjects
        self._publish_timeout = publish_timeout
        self._request_timeout = request_timeout
        self._ack_wait = ack_wait
        self._poll_interval = poll_interval
        self._redelivery_delay = redelivery_delay
        self._drain_timeout = drain_timeout
        self._ephemeral_inactive = ephemeral_inactive
        self._handled_memory = handled_memory
        self._max_bytes = max_bytes
        self._on_rejected = on_rejected
        self._subscriptions: set[_NatsSubscription] = set()
        self._handled: dict[str, OrderedDict[str, Envelope | None]] = {}
        self._reconnects = 0
        self._closed = False
        self.rejections: deque[Rejection] = deque(maxlen=1000)
        """The latest messages dropped without delivery."""

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        stream: str = "MOTADATA",
        subjects: tuple[str, ...] = DEFAULT_SUBJECTS,
        duplicate_window: float = 120.0,
        max_age: float = 7 * 24 * 3600.0,
        max_messages: int = -1,
        storage: str = "file",
        replicas: int = NATS_REPLICAS,
        retention: str = "limits",
        connect_timeout: float = 2.0,
        connect_attempts: int = 2,
        reconnect_time_wait: float = 0.5,
        publish_timeout: float = 10.0,
        request_timeout: float = 2.0,
        ack_wait: float = 30.0,
        poll_interval: float = 1.0,
        redelivery_delay: float = 0.0,
        drain_timeout: float = 10.0,
        ephemeral_inactive: float = 60.0,
        handled_memory: int = 10_000,
        max_bytes: int = DEFAULT_MAX_BYTES,
        name: str = "motadata-ai",
        on_rejected: Callable[[Rejection], None] | None = None,
        telemetry: TelemetryPort | None = None,
    ) -> NatsBus:
        """Connect to ``url`` (``nats://[user:password@]host:port``, comma-separated for a cluster)
        and make sure the stream exists with these settings.

        ``replicas`` is the stream's replica count (1 on a single server, 3 on a cluster: the
        stream and its durable consumers then survive the loss of a node); ``retention`` is
        ``"limits"`` (kept by age and count, every consumer sees every message) or ``"workqueue"``
        (a message is removed once acknowledged: a job queue shared by workers).

        Raises :class:`BusUnavailable` (masked address) when no server answers within
        ``connect_attempts`` tries, :class:`ConfigurationError` when the stream cannot be created
        as asked (for example another stream already captures these subjects).
        """
        address = ", ".join(mask_url(part.strip()) for part in url.split(","))
        if storage not in ("file", "memory"):
            raise ConfigurationError(f"storage must be 'file' or 'memory', got {storage!r}", field="storage")
        if isinstance(replicas, bool) or not isinstance(replicas, int) or not 1 <= replicas <= 5:
            raise ConfigurationError(
                f"replicas must be an integer from 1 to 5, got {replicas!r}", field="replicas"
            )
        if retention not in ("limits", "workqueue"):
            raise ConfigurationError(
                f"retention must be 'limits' or 'workqueue', got {retention!r}", field="retention"
            )
        patterns = tuple(validate_subject(s, allow_wildcards=True) for s in subjects)
        if not patterns:
            raise ConfigurationError("the bus stream needs at least one subject", field="subjects")

        async def _log_error(e: Exception) -> None:
            logger.debug("nats client error on %s: %r", address, e)

        owner: list[NatsBus] = []

        async def _disconnected() -> None:
            if not (owner and owner[0]._closed):
                logger.warning("disconnected from NATS %s; reconnecting", address)

        async def _reconnected() -> None:
            logger.warning("reconnected to NATS %s", address)
            if owner:
                owner[0]._reconnects += 1

        try:
            nc = await nats.connect(
                [part.strip() for part in url.split(",")],
                name=name,
                connect_timeout=connect_timeout,
                reconnect_time_wait=reconnect_time_wait,
                max_reconnect_attempts=max(1, connect_attempts - 1),
                allow_reconnect=True,
                error_cb=_log_error,
                disconnected_cb=_disconnected,
                reconnected_cb=_reconnected,
            )
        except _ANY_NATS as e:
            raise BusUnavailable(
                f"cannot connect to the NATS server at {address}: {e!r}", address=address
            ) from e
        except ValueError as e:
            raise ConfigurationError(f"invalid NATS URL {address!r}: {e}", address=address) from e
        nc.options["max_reconnect_attempts"] = -1  # connected once: from now on reconnect forever
        bus = cls(
            nc,
            address=address,
            stream=stream,
            subjects=patterns,
            publish_timeout=publish_timeout,
            request_timeout=request_timeout,
            ack_wait=ack_wait,
            poll_interval=poll_interval,
            redelivery_delay=redelivery_delay,
            drain_timeout=drain_timeout,
            ephemeral_inactive=ephemeral_inactive,
            handled_memory=handled_memory,
            max_bytes=max_bytes,
            on_rejected=on_rejected,
            telemetry=telemetry,
        )
        owner.append(bus)
        config = StreamConfig(
            name=stream,
            subjects=list(patterns),
            retention=RetentionPolicy.LIMITS if retention == "limits" else RetentionPolicy.WORK_QUEUE,
            discard=DiscardPolicy.OLD,
            num_replicas=replicas,
            storage=StorageType.FILE if storage == "file" else StorageType.MEMORY,
            duplicate_window=duplicate_window,
            max_age=max_age,
            max_msgs=max_messages,
            max_msg_size=max_bytes,
        )
        try:
            try:
                await bus._js.stream_info(stream)
                await bus._js.update_stream(config)
            except nats.js.errors.NotFoundError:
                await bus._js.add_stream(config)
        except nats.js.errors.BadRequestError as e:
            await nc.close()
            raise ConfigurationError(
                f"cannot create or update the JetStream stream {stream!r} on {address}: {e.description}",
                address=address,
                stream=stream,
            ) from e
        except _ANY_NATS as e:
            with contextlib.suppress(Exception):
                await nc.close()
            raise BusUnavailable(
                f"JetStream on {address} did not answer while setting up stream {stream!r}: {e!r}",
                address=address,
            ) from e
        return bus

    # -- helpers -------------------------------------------------------------------------------

    @property
    def address(self) -> str:
        """The server URL(s) with passwords masked."""
        return self._address

    @property
    def stream(self) -> str:
        """The JetStream stream name."""
        return self._stream

    @property
    def client(self) -> Client:
        """The underlying ``nats.aio.client.Client`` (for tools; errors from it are untranslated)."""
        return self._nc

    @contextlib.asynccontextmanager
    async def _translate(self, operation: str, **fields: Any) -> Any:
        try:
            yield
        except (BusError, ValidationError):
            raise
        except _UNAVAILABLE as e:
            raise BusUnavailable(
                f"NATS {self._address} is unavailable during {operation}: {e!r}",
                address=self._address, operation=operation, **fields,
            ) from e
        except nats.errors.Error as e:
            raise BusError(
                f"NATS {operation} failed on {self._address}: {e!r}",
                address=self._address, operation=operation, **fields,
            ) from e

    def _handled_ids(self, name: str) -> OrderedDict[str, Envelope | None]:
        return self._handled.setdefault(name, OrderedDict())

    def _check_open(self) -> None:
        if self._closed or self._nc.is_closed:
            raise BusUnavailable(f"the bus connection to {self._address} is closed", address=self._address)

    def _check_stream_subject(self, subject: str) -> None:
        check_stream_subject(subject, self._subjects, stream=f"stream {self._stream!r}")

    def _reject(self, rejection: Rejection) -> None:
        record_rejection(self.rejections, rejection, self._on_rejected)

    async def _send_reply(self, inbox: str, reply: Envelope) -> None:
        try:
            data = encode(reply, max_bytes=self._max_bytes)
            await self._nc.publish(inbox, data)
        except MalformedMessage as e:
            logger.warning("reply %s cannot be encoded: %s", reply.id, e)
        except _ANY_NATS as e:
            logger.warning("reply %s to %r could not be sent: %r", reply.id, inbox, e)

    async def _publish_data(
        self, subject: str, data: bytes, msg_id: str | None, trace: dict[str, str] | None = None
    ) -> None:
        deadline = time.monotonic() + self._publish_timeout
        backoff = 0.05
        headers = {**(trace or {}), **({"Nats-Msg-Id": msg_id} if msg_id else {})} or None
        while True:
            self._check_open()
            remaining = deadline - time.monotonic()
            try:
                ack = await self._js.publish(
                    subject, data, timeout=max(0.05, min(self._request_timeout, remaining)), headers=headers
                )
                if ack.duplicate:
                    logger.debug("server dropped duplicate envelope %s on %r", msg_id, subject)
                return
            except _UNAVAILABLE as e:
                if self._closed or self._nc.is_closed or time.monotonic() + backoff >= deadline:
                    raise BusUnavailable(
                        f"could not publish to {subject!r} on NATS {self._address} within "
                        f"{self._publish_timeout} s: {e!r}",
                        address=self._address, subject=subject, envelope_id=msg_id,
                    ) from e
                logger.info("publish to %r failed (%r); retrying", subject, e)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 1.0)
            except nats.errors.Error as e:
                raise BusError(
                    f"publish to {subject!r} failed on NATS {self._address}: {e!r}",
                    address=self._address, subject=subject, envelope_id=msg_id,
                ) from e

    # -- the port ------------------------------------------------------------------------------

    async def publish(self, subject: str, envelope: Envelope) -> None:
        """Publish durably with ``Nats-Msg-Id = envelope.id`` (server-side de-duplication).

        Raises :class:`InvalidSubject` for a malformed subject or one outside the stream,
        :class:`MalformedMessage` when the envelope's tenant differs from the subject's, and
        :class:`BusUnavailable` when no server took it within ``publish_timeout``.
        """
        self._check_open()
        validate_subject(subject)
        self._check_stream_subject(subject)
        check_route(subject, envelope)
        data = encode(envelope, max_bytes=self._max_bytes)
        with publish_span(self.telemetry, subject, envelope, self._nc) as trace:
            await self._publish_data(subject, data, envelope.id, trace)

    async def inject_raw(self, subject: str, data: bytes, *, msg_id: str | None = None) -> None:
        """Put raw bytes on ``subject`` as a foreign publisher would (no codec, no tenant check):
        for tests of malformed and foreign-tenant messages."""
        self._check_open()
        self._check_stream_subject(subject)
        await self._publish_data(subject, bytes(data), msg_id)

    async def subscribe(
        self,
        subject: str,
        handler: Handler,
        *,
        durable: str | None = None,
        max_deliver: int = 5,
        concurrency: int = 1,
    ) -> Subscription:
        """Deliver messages on ``subject`` to ``handler`` through a pull consumer (module docstring)."""
        self._check_open()
        validate_subject(subject, allow_wildcards=True)
        check_durable(durable)
        check_subscribe_options(max_deliver, concurrency)
        subscription = _NatsSubscription(
            self, subject, handler, durable=durable, max_deliver=max_deliver, concurrency=concurrency
        )
        await subscription.start()
        self._subscriptions.add(subscription)
        return subscription

    async def request(self, subject: str, envelope: Envelope, *, timeout: float = 10.0) -> Envelope:
        """Publish ``envelope`` (durably) with ``reply_to`` = a fresh inbox; await the reply there."""
        self._check_open()
        inbox = self._nc.new_inbox()
        if not inbox.startswith(INBOX_PREFIX):  # a custom inbox_prefix: replies must still go to _INBOX.
            inbox = f"{INBOX_PREFIX}{inbox}"
        deadline = time.monotonic() + timeout
        async with self._translate("request", subject=subject):
            sub = await self._nc.subscribe(inbox)
        try:
            outgoing = envelope.model_copy(update={"reply_to": inbox})
            await self.publish(subject, outgoing)
            sent_at_reconnects, resends = self._reconnects, 0
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                if self._reconnects != sent_at_reconnects:
                    # The connection dropped while we waited: a reply published meanwhile on core
                    # NATS is lost. Send the request again under a fresh stream message id; the
                    # responder answers a request it already handled from its memory of replies.
                    sent_at_reconnects, resends = self._reconnects, resends + 1
                    await self._publish_data(
                        subject, encode(outgoing, max_bytes=self._max_bytes), f"{envelope.id}.resend{resends}"
                    )
                try:
                    msg = await sub.next_msg(timeout=min(remaining, _REPLY_POLL))
                except nats.errors.TimeoutError:
                    continue
                except _ANY_NATS as e:
                    raise BusUnavailable(
                        f"NATS {self._address} failed while awaiting a reply on {subject!r}: {e!r}",
                        address=self._address, subject=subject, envelope_id=envelope.id,
                    ) from e
                try:
                    reply = decode(msg.data, max_bytes=self._max_bytes)
                except MalformedMessage as e:
                    self._reject(Rejection.of(inbox, e))
                    continue
                if reply.tenant_id != envelope.tenant_id:
                    self._reject(
                        Rejection(
                            subject=inbox, reason="tenant_mismatch",
                            detail=f"reply of tenant {reply.tenant_id!r} to a request of tenant "
                            f"{envelope.tenant_id!r}",
                            envelope_id=reply.id, tenant_id=reply.tenant_id,
                        )
                    )
                    continue
                return reply
            raise BusTimeout(
                f"no reply to envelope {envelope.id} on {subject!r} within {timeout} s",
                subject=subject, envelope_id=envelope.id, tenant_id=envelope.tenant_id,
                timeout=timeout, address=self._address,
            )
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    supports_purge = True

    async def purge(self, subject: str) -> int:
        """Purge the stream's messages on ``subject`` (a JetStream purge with a subject filter;
        wildcards allowed) and return how many the server removed; 0 without asking when the
        stream captures no such subject."""
        self._check_open()
        validate_subject(subject, allow_wildcards=True)
        if not any(subjects_overlap(subject, captured) for captured in self._subjects):
            return 0
        request = json.dumps({"filter": subject}).encode()
        async with self._translate("purge", subject=subject):
            msg = await self._nc.request(
                f"$JS.API.STREAM.PURGE.{self._stream}", request, timeout=self._request_timeout
            )
        answer = json.loads(msg.data or b"{}")
        if "error" in answer or not answer.get("success"):
            raise BusError(
                f"NATS refused to purge {subject!r} from stream {self._stream!r}: {answer.get('error')}",
                address=self._address, operation="purge", subject=subject,
            )
        return int(answer.get("purged", 0))

    async def retained(self, subject: str, *, limit: int = MAX_RETAINED_READ) -> list[RetainedMessage]:
        """The stream's messages on ``subject`` (wildcards allowed), oldest first, at most ``limit``:
        JetStream message gets, each the next message after the last one read that matches the
        filter (no consumer is created, nothing is acknowledged); ``[]`` without asking when the
        stream captures no such subject."""
        self._check_open()
        validate_subject(subject, allow_wildcards=True)
        check_retained_limit(limit)
        if not any(subjects_overlap(subject, captured) for captured in self._subjects):
            return []
        found: list[RetainedMessage] = []
        sequence = 1
        async with self._translate("retained", subject=subject):
            while len(found) < limit:
                try:
                    raw = await self._js.get_msg(self._stream, seq=sequence, subject=subject, next=True)
                except nats.js.errors.NotFoundError:
                    break
                if raw.seq is None or raw.subject is None:
                    break
                sequence = raw.seq + 1
                try:
                    envelope = decode(raw.data or b"", max_bytes=self._max_bytes)
                except MalformedMessage:
                    continue
                found.append(RetainedMessage(subject=raw.subject, sequence=raw.seq, envelope=envelope))
        return found

    async def health(self, *, timeout: float = 2.0) -> ComponentHealth:
        """A round trip to the server (``flush``: PING/PONG) within ``timeout`` seconds, with the
        connection's reconnect count and subscriptions."""
        details = {
            "probe": "flush",
            "address": self._address,
            "stream": self._stream,
            "reconnects": self._reconnects,
            "subscriptions": len(self._subscriptions),
        }
        started = time.monotonic()
        if self._closed or not self._nc.is_connected:
            state = "closed" if self._closed else "not connected"
            return ComponentHealth(status="down", details=details, error=f"the NATS connection is {state}")
        try:
            await self._nc.flush(timeout=timeout)
        except _ANY_NATS as error:
            return ComponentHealth(
                status="down", latency_ms=(time.monotonic() - started) * 1000, details=details,
                error=type(error).__name__,
            )
        return ComponentHealth(status="ok", latency_ms=(time.monotonic() - started) * 1000, details=details)

    async def aclose(self) -> None:
        """Stop every subscription (draining in-flight handlers) and close the connection."""
        if self._closed:
            return
        for subscription in list(self._subscriptions):
            await subscription.stop()
        self._closed = True
        with contextlib.suppress(Exception):
            await self._nc.close()
