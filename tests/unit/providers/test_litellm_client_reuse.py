"""LiteLLM keys its cached HTTP clients by the call's timeout: the adapter must hand it the same
timeout on every call with the same limit, or every call builds a client and opens a connection."""

from __future__ import annotations

from motadata_ai.adapters.litellm import LiteLLMChat, LiteLLMEmbeddings


async def test_the_provider_timeout_is_the_same_on_every_call() -> None:
    for adapter in (LiteLLMChat(api_base="http://127.0.0.1:9/v1", api_key="k"), LiteLLMEmbeddings()):
        await adapter._prepare(60.0)  # the first call may import LiteLLM, which takes from the limit
        timeouts = {(await adapter._prepare(60.0))[1] for _ in range(50)}
        assert len(timeouts) == 1, timeouts
        (timeout,) = timeouts
        assert 59.0 <= timeout <= 60.0


async def test_a_limit_under_a_tenth_of_a_second_is_kept() -> None:
    _, timeout = await LiteLLMChat()._prepare(0.05)
    assert 0 < timeout <= 0.05
