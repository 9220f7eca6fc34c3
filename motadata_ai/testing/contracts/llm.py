"""The LLMPort contract: one suite every chat-completion adapter must pass.

Two levels:

- :class:`LLMBasicContract` needs only :meth:`~LLMBasicContract.make_llm` and a ``model``: the
  shape of a completion, streaming that reassembles to the same answer, token counting. Models
  that cannot be scripted (the local extractive provider) run this one.
- :class:`LLMContract` adds scripted behaviour, in the vocabulary of the loopback server's
  :class:`~motadata_ai.testing.openai_server.Reply`: a fixed answer, tool calls (whole and
  streamed), 429 → ``ProviderRateLimited`` with ``retry_after``, 500 → ``ProviderUnavailable``,
  400 → ``ProviderBadRequest``, 401 → ``ProviderAuthError``, a slow answer → ``ProviderTimeout``,
  a 200 answer with no choices → ``ProviderInvalidResponse`` (retryable, like a 5xx).
  Implement :meth:`~LLMContract.script` to make the adapter's next calls behave as the replies say.
- :class:`LLMServerContract` adds an unreachable server → ``ProviderUnavailable`` naming the masked
  address, and a health probe that, when asked to reach the server, reports it ``ok`` or ``down``,
  for adapters behind a server (implement ``make_unreachable_llm``, ``make_probing_llm``)::

    class TestMyLLM(LLMServerContract):
        model = "openai/gpt-4o-mini"

        async def make_llm(self) -> LLMPort:
            return MyLLM(api_base=self.server.base_url)

        def script(self, *replies: Reply) -> None:
            self.server.queue(*replies)

No vendor exception may leave the port: every failure is a ``ProviderError``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from motadata_ai.domain.values.errors import ServiceError, ValidationError
from motadata_ai.domain.values.llm import ChatRequest, ChatResponse, Message, StreamChunk, ToolSpec
from motadata_ai.ports.llm import (
    LLMPort,
    ProviderAuthError,
    ProviderBadRequest,
    ProviderError,
    ProviderInvalidResponse,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
)
from motadata_ai.testing.contracts.health import assert_probe_answers, assert_probe_reports_down
from motadata_ai.testing.openai_server import Reply, ToolCallReply

__all__ = ["LLMBasicContract", "LLMContract", "LLMServerContract", "Reply", "ToolCallReply"]

SECRET = "s3cret"

LOOKUP_TOOL = ToolSpec(
    name="lookup_asset",
    description="Look an asset up by its tag.",
    parameters={
        "type": "object",
        "properties": {"asset_tag": {"type": "string"}},
        "required": ["asset_tag"],
    },
)
RESTART_TOOL = ToolSpec(
    name="restart_service",
    description="Restart a service on a host.",
    parameters={
        "type": "object",
        "properties": {"host": {"type": "string"}, "service": {"type": "string"}},
        "required": ["host", "service"],
    },
)


async def collect(stream: AsyncIterator[StreamChunk]) -> list[StreamChunk]:
    """Every chunk of a stream."""
    return [chunk async for chunk in stream]


class LLMBasicContract:
    """What every LLMPort adapter does, scripted or not."""

    model = "model"
    prompt = "Which port does the web server listen on?"

    async def make_llm(self) -> LLMPort:
        """A ready adapter that serves ``self.model``."""
        raise NotImplementedError

    def request(self, text: str | None = None, **options: object) -> ChatRequest:
        """A one-message request for ``self.model``."""
        messages = (Message(role="user", content=text or self.prompt),)
        return ChatRequest(model=self.model, messages=messages, **options)  # type: ignore[arg-type]

    async def test_health_probe_answers(self) -> None:
        await assert_probe_answers(await self.make_llm())

    async def test_complete_returns_an_assistant_message_with_usage(self) -> None:
        llm = await self.make_llm()
        response = await llm.complete(self.request())
        assert isinstance(response, ChatResponse)
        assert response.message.role == "assistant"
        assert response.text
        assert response.finish_reason == "stop"
        assert response.usage.input_tokens > 0
        assert response.usage.output_tokens > 0
        assert response.id
        assert response.provider
        assert response.cost_usd >= 0.0

    async def test_stream_reassembles_to_the_completion(self) -> None:
        llm = await self.make_llm()
        whole = await llm.complete(self.request())
        chunks = await collect(llm.stream(self.request()))
        assert chunks, "a stream yields at least its final chunk"
        assert "".join(c.delta for c in chunks) == whole.text
        last = chunks[-1]
        assert last.finish_reason == "stop"
        assert last.usage is not None and last.usage.output_tokens > 0
        assert all(c.finish_reason is None for c in chunks[:-1])

    async def test_a_prompt_with_a_lone_surrogate_never_reaches_the_adapter(self) -> None:
        with pytest.raises(ValidationError) as caught:
            self.request("bad \ud800 text")
        assert caught.value.field == "content"

    async def test_count_tokens(self) -> None:
        llm = await self.make_llm()
        assert llm.count_tokens(self.model, "") == 0
        short = llm.count_tokens(self.model, "hello")
        long = llm.count_tokens(self.model, "hello " * 50)
        assert 0 < short < long


class LLMContract(LLMBasicContract):
    """Scripted behaviour and error translation every remote-capable adapter shares."""

    def script(self, *replies: Reply) -> None:
        """Make the adapter's next calls answer as ``replies`` say, one reply per call."""
        raise NotImplementedError

    async def test_scripted_answer(self) -> None:
        llm = await self.make_llm()
        self.script(Reply(content="The web server listens on port 8080."))
        response = await llm.complete(self.request())
        assert response.text == "The web server listens on port 8080."
        assert response.message.tool_calls == ()

    async def test_tool_call(self) -> None:
        llm = await self.make_llm()
        self.script(Reply(tool_calls=[ToolCallReply("lookup_asset", {"asset_tag": "LAP-0042"})]))
        response = await llm.complete(self.request(tools=(LOOKUP_TOOL,)))
        assert response.finish_reason == "tool_calls"
        assert [c.name for c in response.message.tool_calls] == ["lookup_asset"]
        call = response.message.tool_calls[0]
        assert call.id
        assert json.loads(call.arguments) == {"asset_tag": "LAP-0042"}

    async def test_tool_result_round_trip(self) -> None:
        llm = await self.make_llm()
        self.script(Reply(tool_calls=[ToolCallReply("lookup_asset", {"asset_tag": "LAP-0042"})]))
        first = await llm.complete(self.request(tools=(LOOKUP_TOOL,)))
        call = first.message.tool_calls[0]
        self.script(Reply(content="LAP-0042 is assigned to Dana."))
        follow_up = ChatRequest(
            model=self.model,
            messages=(
                Message(role="user", content="Who has LAP-0042?"),
                first.message,
                Message(role="tool", tool_call_id=call.id, name=call.name, content='{"owner": "Dana"}'),
            ),
            tools=(LOOKUP_TOOL,),
        )
        answer = await llm.complete(follow_up)
        assert answer.text == "LAP-0042 is assigned to Dana."

    async def test_stream_text(self) -> None:
        llm = await self.make_llm()
        self.script(Reply(content="Port 8080, over plain HTTP."))
        chunks = await collect(llm.stream(self.request()))
        assert "".join(c.delta for c in chunks) == "Port 8080, over plain HTTP."
        assert len([c for c in chunks if c.delta]) > 1, "text arrives in pieces"
        assert chunks[-1].finish_reason == "stop"
        assert chunks[-1].usage is not None

    async def test_stream_reassembles_tool_calls(self) -> None:
        llm = await self.make_llm()
        self.script(
            Reply(
                tool_calls=[
                    ToolCallReply("lookup_asset", {"asset_tag": "LAP-0042"}),
                    ToolCallReply("restart_service", {"host": "web-01", "service": "nginx"}),
                ]
            )
        )
        chunks = await collect(llm.stream(self.request(tools=(LOOKUP_TOOL, RESTART_TOOL))))
        calls = [call for chunk in chunks for call in chunk.tool_calls]
        assert [c.name for c in calls] == ["lookup_asset", "restart_service"]
        assert json.loads(calls[0].arguments) == {"asset_tag": "LAP-0042"}
        assert json.loads(calls[1].arguments) == {"host": "web-01", "service": "nginx"}
        assert len({c.id for c in calls}) == 2
        assert chunks[-1].finish_reason == "tool_calls"

    async def test_rate_limited_carries_retry_after(self) -> None:
        llm = await self.make_llm()
        self.script(Reply(status=429, retry_after=7))
        with pytest.raises(ProviderRateLimited) as caught:
            await llm.complete(self.request())
        assert caught.value.retry_after == pytest.approx(7.0)
        assert caught.value.model == self.model
        assert caught.value.status_code == 429

    async def test_server_error_is_unavailable(self) -> None:
        llm = await self.make_llm()
        self.script(Reply(status=500))
        with pytest.raises(ProviderUnavailable) as caught:
            await llm.complete(self.request())
        assert caught.value.status_code == 500
        assert caught.value.model == self.model

    async def test_bad_request(self) -> None:
        llm = await self.make_llm()
        self.script(Reply(status=400, message="messages[0].content is invalid"))
        with pytest.raises(ProviderBadRequest) as caught:
            await llm.complete(self.request())
        assert isinstance(caught.value, ServiceError) and not isinstance(caught.value, ValidationError)
        assert caught.value.status_code == 400

    async def test_authentication_error(self) -> None:
        llm = await self.make_llm()
        self.script(Reply(status=401, message="invalid api key"))
        with pytest.raises(ProviderAuthError) as caught:
            await llm.complete(self.request())
        assert caught.value.status_code == 401

    async def test_timeout(self) -> None:
        llm = await self.make_llm()
        self.script(Reply(delay=2.0, content="too late"))
        with pytest.raises(ProviderTimeout) as caught:
            await llm.complete(self.request(), timeout=0.3)
        assert caught.value.model == self.model

    async def test_error_during_stream(self) -> None:
        llm = await self.make_llm()
        self.script(Reply(status=429, retry_after=3))
        with pytest.raises(ProviderRateLimited) as caught:
            await collect(llm.stream(self.request()))
        assert caught.value.retry_after == pytest.approx(3.0)

    async def test_an_answer_without_choices_is_a_retryable_provider_error(self) -> None:
        llm = await self.make_llm()
        self.script(Reply(empty_choices=True), Reply(content="fine now"))
        with pytest.raises(ProviderInvalidResponse) as caught:
            await llm.complete(self.request())
        assert isinstance(caught.value, ProviderUnavailable)
        assert caught.value.model == self.model
        assert (await llm.complete(self.request())).text == "fine now"
        self.script(Reply(empty_choices=True))
        with pytest.raises(ProviderUnavailable):  # a stream without choices: retryable too
            await collect(llm.stream(self.request()))

    async def test_recovers_after_an_error(self) -> None:
        llm = await self.make_llm()
        self.script(Reply(status=500), Reply(content="fine now"))
        with pytest.raises(ProviderUnavailable):
            await llm.complete(self.request())
        assert (await llm.complete(self.request())).text == "fine now"


class LLMServerContract(LLMContract):
    """The LLM contract plus error translation, for adapters behind a server."""

    async def make_unreachable_llm(self) -> LLMPort:
        """An adapter pointed at a server that does not answer, with the password ``s3cret`` in
        its address."""
        raise NotImplementedError

    async def make_probing_llm(self, *, reachable: bool) -> LLMPort:
        """An adapter whose health probe asks its server: the working one, or (``reachable`` false)
        one that does not answer, with the password ``s3cret`` in its address."""
        raise NotImplementedError

    async def test_a_probe_that_asks_the_server_reports_it(self) -> None:
        report = await assert_probe_answers(await self.make_probing_llm(reachable=True))
        assert report.latency_ms > 0
        await assert_probe_reports_down(await self.make_probing_llm(reachable=False), secret=SECRET)

    async def test_unreachable_server(self) -> None:
        llm = await self.make_unreachable_llm()
        with pytest.raises(ProviderUnavailable) as caught:
            await llm.complete(self.request(), timeout=5)
        error = caught.value
        assert isinstance(error, ProviderError)
        assert error.address and "***" in error.address
        assert SECRET not in str(error) and SECRET not in str(error.address)
        with pytest.raises(ProviderUnavailable):
            await collect(llm.stream(self.request(), timeout=5))
