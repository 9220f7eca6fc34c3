"""The LLMPort contract on LiteLLMChat, over real HTTP to the loopback OpenAI-protocol server."""

from __future__ import annotations

import pytest

from motadata_ai.adapters.litellm import LiteLLMChat
from motadata_ai.ports.llm import LLMPort, ProviderUnavailable, UnknownModel
from motadata_ai.testing.contracts.llm import SECRET, LLMServerContract, Reply
from motadata_ai.testing.openai_server import OpenAIServer
from motadata_ai.testing.servers.process import free_port


class TestLiteLLMChat(LLMServerContract):
    model = "openai/gpt-4o-mini"

    @pytest.fixture(autouse=True)
    def _server(self, fresh_openai_server: OpenAIServer) -> None:
        self.server = fresh_openai_server

    async def make_llm(self) -> LLMPort:
        return LiteLLMChat(api_base=self.server.base_url, api_key="sk-test", timeout=10)

    def script(self, *replies: Reply) -> None:
        self.server.queue(*replies)

    async def make_unreachable_llm(self) -> LLMPort:
        return LiteLLMChat(api_base=f"http://user:{SECRET}@127.0.0.1:{free_port()}/v1", api_key="sk-test")

    async def make_probing_llm(self, *, reachable: bool) -> LLMPort:
        if reachable:
            return LiteLLMChat(api_base=self.server.base_url, api_key="sk-test", probe_server=True)
        unreachable = f"http://user:{SECRET}@127.0.0.1:{free_port()}/v1"
        return LiteLLMChat(api_base=unreachable, api_key="sk-test", probe_server=True)

    async def test_the_configuration_probe_makes_no_request(self) -> None:
        report = await (await self.make_llm()).health()
        assert report.status == "ok" and report.details["probe"] == "configuration"
        assert report.details["address"] == self.server.base_url
        assert self.server.requests == []

    async def test_the_server_address_is_the_api_base_host_and_port(self) -> None:
        llm = await self.make_llm()
        server = llm.server_address(self.model)
        assert server is not None
        assert (server.address, server.port) == (self.server.host, self.server.port)
        assert LiteLLMChat().server_address(self.model) is None  # the provider's own endpoint: unknown

    async def test_request_on_the_wire(self) -> None:
        llm = await self.make_llm()
        await llm.complete(self.request(temperature=0.2, max_tokens=64, stop=("END",)))
        (sent,) = self.server.chat_requests()
        assert sent.json["model"] == "gpt-4o-mini"
        assert sent.json["messages"] == [{"role": "user", "content": self.prompt}]
        assert sent.json["temperature"] == 0.2
        assert sent.json["max_tokens"] == 64
        assert sent.json["stop"] == ["END"]
        assert sent.headers["authorization"] == "Bearer sk-test"

    async def test_one_call_is_one_request(self) -> None:
        llm = await self.make_llm()
        self.script(Reply(status=500))
        with pytest.raises(ProviderUnavailable):
            await llm.complete(self.request())
        assert len(self.server.chat_requests()) == 1, "LiteLLM must not retry behind the gateway's back"

    async def test_cost_from_the_cost_map_and_custom_prices(self) -> None:
        llm = LiteLLMChat(
            api_base=self.server.base_url, api_key="sk-test", model_prices={"openai/house-model": (2.0, 4.0)}
        )
        self.script(Reply(content="ok", usage={"prompt_tokens": 1000, "completion_tokens": 500}))
        known = await llm.complete(self.request())
        assert known.cost_usd > 0
        assert llm.cost_usd("openai/house-model", 1_000_000, 1_000_000) == pytest.approx(6.0)
        assert llm.cost_usd("openai/never-heard-of-it", 10, 10) == 0.0
        assert llm.context_window("openai/gpt-4o-mini") == 128000
        assert llm.context_window("openai/never-heard-of-it") is None

    async def test_unknown_provider_names_what_is_installed(self) -> None:
        llm = await self.make_llm()
        with pytest.raises(UnknownModel) as caught:
            await llm.complete(self.request().model_copy(update={"model": "nosuchprovider/model"}))
        assert "nosuchprovider/model" in str(caught.value)
        assert isinstance(caught.value.available, list)
