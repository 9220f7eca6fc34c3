"""An ephemeral subscription on a replicated stream starts after every acknowledged message.

On a 3-node cluster a consumer created with JetStream's "new messages" policy starts after the
last message of its own replica, which may not yet hold a message the stream's leader has
acknowledged (most often just after the stream was created): the contract test
``test_ephemeral_subscription_sees_only_new_messages`` then saw the earlier message, in about one
run of five. Invariant, over many fresh streams: a subscription made after a publish returned
never receives that message, and receives the next one.
"""

from __future__ import annotations

import nats
import nats.js.errors
import pytest

from motadata_ai.adapters.nats import NatsBus
from motadata_ai.testing.contracts.bus import Inbox, env

pytestmark = [pytest.mark.faults, pytest.mark.nats]

ROUNDS = 20


async def delete_stream(url: str, stream: str) -> None:
    nc = await nats.connect(url.split(","))
    try:
        await nc.jetstream().delete_stream(stream)
    except nats.js.errors.NotFoundError:
        pass
    finally:
        await nc.close()


@pytest.mark.asyncio(loop_scope="session")
async def test_an_ephemeral_subscription_never_sees_a_message_acknowledged_before_it(
    nats_cluster_url: str,
) -> None:
    for round_ in range(ROUNDS):
        stream = f"EPHEMERAL_START_{round_}"
        bus = await NatsBus.connect(
            nats_cluster_url, stream=stream, subjects=(f"start{round_}.>",), poll_interval=0.2, replicas=3
        )
        try:
            subject = f"start{round_}.acme.task"
            await bus.publish(subject, env("acme", "before"))
            inbox = Inbox()
            subscription = await bus.subscribe(f"start{round_}.acme.>", inbox)
            try:
                await bus.publish(subject, env("acme", "after"))
                await inbox.wait_for("after")
                assert inbox.types == ["after"], f"round {round_}: {inbox.types}"
            finally:
                await subscription.stop()
        finally:
            await bus.aclose()
            await delete_stream(nats_cluster_url, stream)
