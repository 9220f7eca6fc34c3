"""The EmbeddingPort contract on LiteLLMEmbeddings, over real HTTP to the loopback server."""

from __future__ import annotations

import pytest

from motadata_ai.adapters.litellm import LiteLLMEmbeddings
from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.ports.embedding import EmbeddingPort
from motadata_ai.testing.contracts.embedding import SECRET, EmbeddingErrorContract, Reply
from motadata_ai.testing.openai_server import OpenAIServer
from motadata_ai.testing.servers.process import free_port


class TestLiteLLMEmbeddings(EmbeddingErrorContract):
    model = "openai/text-embedding-3-small"

    @pytest.fixture(autouse=True)
    def _server(self, fresh_openai_server: OpenAIServer) -> None:
        self.server = fresh_openai_server

    async def make_embeddings(self) -> EmbeddingPort:
        return LiteLLMEmbeddings(api_base=self.server.base_url, api_key="sk-test", timeout=10)

    def script(self, *replies: Reply) -> None:
        self.server.queue(*replies)

    async def make_unreachable_embeddings(self) -> EmbeddingPort:
        return LiteLLMEmbeddings(api_base=f"http://user:{SECRET}@127.0.0.1:{free_port()}/v1", api_key="k")

    async def make_probing_embeddings(self, *, reachable: bool) -> EmbeddingPort:
        if reachable:
            return LiteLLMEmbeddings(api_base=self.server.base_url, api_key="sk-test", probe_server=True)
        unreachable = f"http://user:{SECRET}@127.0.0.1:{free_port()}/v1"
        return LiteLLMEmbeddings(api_base=unreachable, api_key="k", probe_server=True)

    async def test_the_configuration_probe_makes_no_request(self) -> None:
        report = await (await self.make_embeddings()).health()
        assert report.status == "ok" and report.details["probe"] == "configuration"
        assert self.server.requests == []

    async def test_request_on_the_wire(self) -> None:
        port = await self.make_embeddings()
        await self.embed(port, "a", "b")
        (sent,) = [r for r in self.server.requests if r.path.endswith("/embeddings")]
        assert sent.json["model"] == "text-embedding-3-small"
        assert sent.json["input"] == ["a", "b"]

    async def test_empty_text_is_refused_before_any_request(self) -> None:
        port = await self.make_embeddings()
        with pytest.raises(ValidationError) as caught:
            await self.embed(port, "fine", "")
        assert caught.value.field == "inputs"
        assert self.server.requests == []
