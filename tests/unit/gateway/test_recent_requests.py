"""The record of recent cacheable requests (for cache warming): only stored answers are recorded,
hits are counted, the record is bounded, and warming reads back or asks again."""

from __future__ import annotations

from collections.abc import Callable

from motadata_ai.domain.gateway.recent import FLUSH_EVERY, recent_index, warm_recent

from .conftest import Rig, ask

RigFactory = Callable[..., Rig]


def rig_for_recent(make_rig: RigFactory, **config: object) -> Rig:
    return make_rig(burst_size=1000, requests_per_minute=60_000, **config)


async def test_stored_requests_are_ranked_by_how_often_they_are_asked(make_rig: RigFactory) -> None:
    rig = rig_for_recent(make_rig)
    for _ in range(3):
        await rig.gateway.generate(ask("popular"), tenant_id="acme")
    await rig.gateway.generate(ask("rare"), tenant_id="acme")
    for _ in range(FLUSH_EVERY):  # the in-process hit counts are written every FLUSH_EVERY hits
        await rig.gateway.generate(ask("popular"), tenant_id="acme")
    ranked = await rig.cache.rank_top(recent_index("acme"), 10)
    assert len(ranked) == 2
    assert ranked[0][1] > ranked[1][1]
    assert await rig.cache.rank_top(recent_index("globex"), 10) == []


async def test_answers_kept_out_of_the_cache_are_not_recorded(make_rig: RigFactory) -> None:
    rig = rig_for_recent(make_rig, validation_level="strict")
    await rig.gateway.generate(ask("my email is jane.doe@example.com, reset it"), tenant_id="acme")
    assert await rig.cache.rank_top(recent_index("acme"), 10) == []


async def test_the_record_is_bounded(make_rig: RigFactory) -> None:
    rig = rig_for_recent(make_rig, recent_requests_max=3)
    for n in range(6):
        await rig.gateway.generate(ask(f"question {n}"), tenant_id="acme")
    assert len(await rig.cache.rank_top(recent_index("acme"), 10)) == 3


async def test_recording_can_be_switched_off(make_rig: RigFactory) -> None:
    rig = rig_for_recent(make_rig, recent_requests_max=0)
    await rig.gateway.generate(ask("anything"), tenant_id="acme")
    assert await rig.cache.rank_top(recent_index("acme"), 10) == []


async def test_warming_reads_cached_answers_and_asks_expired_ones_again(make_rig: RigFactory) -> None:
    rig = rig_for_recent(make_rig, cache_ttl=60)
    await rig.gateway.generate(ask("kept"), tenant_id="acme")
    await rig.gateway.generate(ask("expired"), tenant_id="acme", ttl=1)
    rig.clock.advance(5)  # past the second answer's ttl
    counts = await warm_recent(rig.cache, rig.gateway.generate, tenant_id="acme", limit=10)
    assert (counts.cached, counts.refreshed, counts.missing, counts.failed) == (1, 1, 0, 0)
    assert len(rig.llm.calls) == 3
    assert (await rig.gateway.generate(ask("expired"), tenant_id="acme")).cached


async def test_a_known_users_request_text_is_not_kept_and_erasing_the_user_leaves_nothing(
    make_rig: RigFactory,
) -> None:
    from motadata_ai.domain.gateway.recent import body_key
    from motadata_ai.domain.privacy.cache_policy import user_index_key

    rig = rig_for_recent(make_rig)
    await rig.gateway.generate(ask("mine"), tenant_id="acme", user_id="u1")
    [(key, _)] = await rig.cache.rank_top(recent_index("acme"), 10)
    assert await rig.cache.get(body_key(key)) is None
    counts = await warm_recent(rig.cache, rig.gateway.generate, tenant_id="acme", limit=10)
    assert counts.cached == 1  # warmed while its answer is cached
    assert await rig.cache.delete_indexed(user_index_key("acme", "u1")) == 1  # the answer only
    counts = await warm_recent(rig.cache, rig.gateway.generate, tenant_id="acme", limit=10)
    assert (counts.cached, counts.refreshed, counts.missing) == (0, 0, 1)
    assert len(rig.llm.calls) == 1


async def test_a_call_inside_a_use_cases_request_keeps_no_body(make_rig: RigFactory) -> None:
    from motadata_ai.domain.gateway.recent import body_key

    rig = rig_for_recent(make_rig)
    async with rig.gateway.request("acme", operation="rag.query"):
        await rig.gateway.generate(ask("answer from these passages"), tenant_id="acme", purpose="answer")
    [(key, _)] = await rig.cache.rank_top(recent_index("acme"), 10)
    assert await rig.cache.get(body_key(key)) is None


async def test_a_cache_without_ranked_indexes_records_nothing_and_warms_nothing(make_rig: RigFactory) -> None:
    from motadata_ai.adapters.memory.cache import InMemoryCache
    from motadata_ai.domain.gateway import Gateway, GatewayConfig

    class PlainCache(InMemoryCache):
        @property
        def supports_ranking(self) -> bool:
            return False

    rig = rig_for_recent(make_rig)
    cache = PlainCache()
    gateway = Gateway(
        llm=rig.llm, embeddings=rig.embeddings, config=GatewayConfig(requests_per_minute=None), cache=cache
    )
    await gateway.generate(ask("question"), tenant_id="acme")
    assert len(cache) == 1  # the answer only
    counts = await warm_recent(cache, gateway.generate, tenant_id="acme", limit=10)
    assert (counts.cached, counts.refreshed, counts.missing) == (0, 0, 0)
