"""LLMPort: chat completion (with tool calls and streaming) and its error hierarchy."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from motadata_ai.domain.values.errors import ServiceError
from motadata_ai.domain.values.llm import ChatRequest, ChatResponse, ModelCapabilities, StreamChunk
from motadata_ai.ports.health import HealthProbe

_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class ServerAddress:
    """Where a model is served: the ``server.address`` and ``server.port`` of its call spans."""

    address: str
    port: int | None = None

    @classmethod
    def of_url(cls, url: str | None) -> ServerAddress | None:
        """The host and port of ``url`` (the scheme's default port when none is written; no
        credentials); ``None`` for no URL or one without a host."""
        if not url:
            return None
        try:
            parts = urlsplit(url if "//" in url else f"//{url}")
            port = parts.port
        except ValueError:
            return None
        if not parts.hostname:
            return None
        return cls(parts.hostname, port if port is not None else _DEFAULT_PORTS.get(parts.scheme))


class ProviderError(ServiceError):
    """A model provider failed; fields: ``model``, ``provider``, ``status_code``, ``address``."""

    model: str | None = None
    provider: str | None = None
    status_code: int | None = None
    address: str | None = None


class ProviderUnavailable(ProviderError):
    """The provider could not be reached (connection refused, DNS, 5xx)."""


class ProviderInvalidResponse(ProviderUnavailable):
    """The provider answered 2xx with no usable completion (no choices, a malformed body):
    retried, counted by the breaker and followed by fallbacks like a 5xx."""


class ProviderTimeout(ProviderError):
    """The provider did not answer within the timeout."""


class ProviderRateLimited(ProviderError):
    """The provider answered 429; ``retry_after`` (seconds) when it said so."""

    retry_after: float | None = None


class ProviderBadRequest(ProviderError):
    """The provider rejected the request (4xx other than 429).

    A runtime failure, not a :class:`~motadata_ai.domain.values.errors.ValidationError`: the SDK
    accepted the input and the provider refused it (its key, its model list, its context window);
    it is never retried, and it never counts toward the model's circuit.
    """


class ProviderAuthError(ProviderBadRequest):
    """The provider refused the credentials (401/403): fix the API key or its permissions."""


class UnknownModel(ProviderBadRequest):
    """No provider serves this model name; ``available`` lists what is configured."""

    available: list[str] | None = None


class ContextWindowExceeded(ProviderBadRequest):
    """The prompt does not fit the model's context window (``prompt_tokens`` of ``context_window``)."""

    context_window: int | None = None
    prompt_tokens: int | None = None


RETRYABLE_PROVIDER_ERRORS: tuple[type[ProviderError], ...] = (
    ProviderUnavailable,
    ProviderTimeout,
    ProviderRateLimited,
)


def qualified_model(model: str, provider: str = "") -> str:
    """The one name of ``model`` in the ledger and reports: provider-qualified.

    A name with a provider prefix (``openai/gpt-4o-mini``) stays as it is; a bare name gets its
    ``provider`` (``gpt-4o-mini`` of ``openai`` is ``openai/gpt-4o-mini``), so a model called
    both ways is counted as one. An unknown provider leaves the bare name.
    """
    if "/" in model or not provider or provider == "unknown":
        return model
    return f"{provider}/{model}"


class LLMPort(HealthProbe):
    """A chat-completion backend. Adapters translate vendor errors into :class:`ProviderError`.

    Its :meth:`health` probe is cheap: an in-process model reports whether it is loaded, a remote
    provider whether it is configured (no call to it unless a probe setting asks).
    """

    supports_streaming: bool = True
    supports_tools: bool = True

    @abstractmethod
    async def complete(self, request: ChatRequest, *, timeout: float | None = None) -> ChatResponse:
        """Run one completion and return the whole response."""

    @abstractmethod
    def stream(self, request: ChatRequest, *, timeout: float | None = None) -> AsyncIterator[StreamChunk]:
        """Yield the completion piece by piece; the last chunk carries finish reason and usage."""

    def capabilities(self, model: str) -> ModelCapabilities:
        """What ``model`` can do (default: a generative model with this port's tool and stream
        support); the use-cases decide from this, never from the model's name."""
        return ModelCapabilities(tool_calling=self.supports_tools, streaming=self.supports_streaming)

    def context_window(self, model: str) -> int | None:
        """The model's context window in tokens, when known."""
        return None

    def server_address(self, model: str) -> ServerAddress | None:
        """The server that answers ``model``'s calls, when known (``None``: in process, or the
        provider's own endpoint the adapter does not know)."""
        return None

    def count_tokens(self, model: str, text: str) -> int:
        """Estimate the tokens ``text`` takes for ``model`` (default: 4 characters a token)."""
        return max(1, len(text) // 4) if text else 0

    def cost_usd(self, model: str, input_tokens: int, output_tokens: int) -> float:
        """What a call with these token counts costs, when the price is known (else 0)."""
        return 0.0

    def canonical_model(self, model: str) -> str:
        """The canonical name of ``model`` (see :func:`qualified_model`): adapters that know
        which provider serves a bare name qualify it (default: the name as given)."""
        return model

    async def aclose(self) -> None:
        """Release clients and connections."""
