"""The EmbeddingPort contract: one suite every embedding adapter must pass.

- :class:`EmbeddingContract`: one vector per input in order, the advertised dimensions,
  determinism, distinct texts giving distinct vectors. Implement ``make_embeddings``.
- :class:`SemanticEmbeddingContract`: related texts are closer than unrelated ones (real models).
- :class:`EmbeddingErrorContract`: error translation for adapters behind a server: 429, 500, 400,
  timeout and an unreachable server (address masked), and a health probe that, when asked to reach
  the server, reports it. Implement ``script`` (in the loopback server's
  :class:`~motadata_ai.testing.openai_server.Reply` vocabulary), ``make_unreachable_embeddings``
  and ``make_probing_embeddings``.
"""

from __future__ import annotations

import math

import pytest

from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.domain.values.llm import EmbeddingRequest, EmbeddingResponse
from motadata_ai.ports.embedding import EmbeddingPort
from motadata_ai.ports.llm import (
    ProviderBadRequest,
    ProviderInvalidResponse,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
)
from motadata_ai.testing.contracts.health import assert_probe_answers, assert_probe_reports_down
from motadata_ai.testing.openai_server import Reply

__all__ = ["EmbeddingContract", "EmbeddingErrorContract", "Reply", "SemanticEmbeddingContract"]

SECRET = "s3cret"
TEXTS = (
    "The VPN client fails to connect after the password change.",
    "Printer on floor 3 is out of toner.",
    "Reset the VPN password from the self-service portal.",
)


def cosine(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Cosine similarity of two vectors."""
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    na = math.sqrt(sum(x * x for x in a)) or 1.0
    nb = math.sqrt(sum(y * y for y in b)) or 1.0
    return dot / (na * nb)


class EmbeddingContract:
    """What every EmbeddingPort adapter does."""

    model = "model"

    async def make_embeddings(self) -> EmbeddingPort:
        """A ready adapter serving ``self.model``."""
        raise NotImplementedError

    async def embed(
        self, port: EmbeddingPort, *texts: str, timeout: float | None = None
    ) -> EmbeddingResponse:
        """Embed ``texts`` with ``self.model``."""
        return await port.embed(EmbeddingRequest(model=self.model, inputs=texts), timeout=timeout)

    async def test_health_probe_answers(self) -> None:
        await assert_probe_answers(await self.make_embeddings())

    async def test_one_vector_per_input_in_order(self) -> None:
        port = await self.make_embeddings()
        response = await self.embed(port, *TEXTS)
        assert len(response.vectors) == len(TEXTS)
        singles = [(await self.embed(port, text)).vectors[0] for text in TEXTS]
        for batched, single in zip(response.vectors, singles, strict=True):
            assert cosine(batched, single) == pytest.approx(1.0, abs=1e-4)

    async def test_dimensions_match_vectors(self) -> None:
        port = await self.make_embeddings()
        response = await self.embed(port, TEXTS[0])
        size = port.dimensions(self.model)
        assert size is not None and size > 0
        assert all(len(v) == size for v in response.vectors)
        assert all(math.isfinite(x) for x in response.vectors[0])

    async def test_deterministic_and_distinct(self) -> None:
        port = await self.make_embeddings()
        first = await self.embed(port, TEXTS[0], TEXTS[1])
        again = await self.embed(port, TEXTS[0], TEXTS[1])
        assert cosine(first.vectors[0], again.vectors[0]) == pytest.approx(1.0, abs=1e-4)
        assert cosine(first.vectors[0], first.vectors[1]) < 0.99

    async def test_an_input_with_a_lone_surrogate_never_reaches_the_adapter(self) -> None:
        with pytest.raises(ValidationError) as caught:
            EmbeddingRequest(model=self.model, inputs=(TEXTS[0], "bad \ud800 text"))
        assert caught.value.field == "inputs.1"

    async def test_empty_batch(self) -> None:
        port = await self.make_embeddings()
        response = await port.embed(EmbeddingRequest(model=self.model, inputs=()))
        assert response.vectors == ()


class SemanticEmbeddingContract(EmbeddingContract):
    """Real embedding models place related texts closer together."""

    async def test_related_texts_are_closer(self) -> None:
        port = await self.make_embeddings()
        vpn_issue, printer, vpn_fix = (await self.embed(port, *TEXTS)).vectors
        assert cosine(vpn_issue, vpn_fix) > cosine(vpn_issue, printer)


class EmbeddingErrorContract(EmbeddingContract):
    """Error translation for embedding adapters behind a server."""

    def script(self, *replies: Reply) -> None:
        """Make the next calls answer as ``replies`` say."""
        raise NotImplementedError

    async def make_unreachable_embeddings(self) -> EmbeddingPort:
        """An adapter pointed at a closed port with the password ``s3cret`` in its address."""
        raise NotImplementedError

    async def make_probing_embeddings(self, *, reachable: bool) -> EmbeddingPort:
        """An adapter whose health probe asks its server: the working one, or (``reachable`` false)
        a closed port with the password ``s3cret`` in its address."""
        raise NotImplementedError

    async def test_a_probe_that_asks_the_server_reports_it(self) -> None:
        report = await assert_probe_answers(await self.make_probing_embeddings(reachable=True))
        assert report.latency_ms > 0
        await assert_probe_reports_down(await self.make_probing_embeddings(reachable=False), secret=SECRET)

    async def test_rate_limited(self) -> None:
        port = await self.make_embeddings()
        self.script(Reply(status=429, retry_after=4, path="/v1/embeddings"))
        with pytest.raises(ProviderRateLimited) as caught:
            await self.embed(port, TEXTS[0])
        assert caught.value.retry_after == pytest.approx(4.0)
        assert caught.value.model == self.model

    async def test_server_error(self) -> None:
        port = await self.make_embeddings()
        self.script(Reply(status=500, path="/v1/embeddings"))
        with pytest.raises(ProviderUnavailable):
            await self.embed(port, TEXTS[0])

    async def test_bad_request(self) -> None:
        port = await self.make_embeddings()
        self.script(Reply(status=400, path="/v1/embeddings"))
        with pytest.raises(ProviderBadRequest):
            await self.embed(port, TEXTS[0])

    async def test_an_answer_without_vectors_is_a_retryable_provider_error(self) -> None:
        port = await self.make_embeddings()
        self.script(Reply(empty_choices=True, path="/v1/embeddings"))
        with pytest.raises(ProviderInvalidResponse) as caught:
            await self.embed(port, TEXTS[0])
        assert isinstance(caught.value, ProviderUnavailable) and caught.value.model == self.model

    async def test_timeout(self) -> None:
        port = await self.make_embeddings()
        self.script(Reply(delay=2.0, path="/v1/embeddings"))
        with pytest.raises(ProviderTimeout):
            await self.embed(port, TEXTS[0], timeout=0.3)

    async def test_unreachable_server(self) -> None:
        port = await self.make_unreachable_embeddings()
        with pytest.raises(ProviderUnavailable) as caught:
            await self.embed(port, TEXTS[0], timeout=5)
        assert caught.value.address and "***" in caught.value.address
        assert SECRET not in str(caught.value)
