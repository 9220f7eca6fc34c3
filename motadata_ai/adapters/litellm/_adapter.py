"""What the LiteLLM chat and embedding adapters share: provider names, the model catalog (prices,
context windows, token counts) and the connection options, timeout guard and error translation
of a call."""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import math
import os
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from motadata_ai.adapters.litellm._runtime import (
    aload_litellm,
    custom_providers,
    load_litellm,
    loaded_litellm,
)
from motadata_ai.adapters.litellm.errors import translate_error
from motadata_ai.domain.values.addresses import mask_url
from motadata_ai.domain.values.errors import ConfigurationError
from motadata_ai.domain.values.health import ComponentHealth
from motadata_ai.ports.llm import ProviderError, ProviderTimeout, ServerAddress, qualified_model

HEALTH_PROBE_TIMEOUT = 2.0
"""Seconds the optional server probe waits for ``/models``."""

ALLOW_MODEL_REQUESTS_ENV = "MOTADATA_ALLOW_MODEL_REQUESTS"
"""Set to ``false`` (as the test suite does) to refuse any call that would leave this machine:
only in-process providers (``local/...`` and other plugin providers) and servers on a loopback
address stay allowed."""


def _loopback(api_base: str | None) -> bool:
    if not api_base:
        return False
    host = urlsplit(api_base).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@functools.cache
def _builtin_providers() -> frozenset[str]:
    """LiteLLM's own provider names (custom providers added at run time are not among them)."""
    return frozenset(provider.value for provider in load_litellm().LlmProviders)


def check_model_request_allowed(model: str, api_base: str | None) -> None:
    """Raise :class:`ConfigurationError` when real model requests are switched off and this one
    would reach a provider outside the process and off loopback."""
    if os.environ.get(ALLOW_MODEL_REQUESTS_ENV, "true").strip().lower() not in ("0", "false", "no", "off"):
        return
    prefix = model.split("/", 1)[0] if "/" in model else ""
    if prefix in custom_providers() or _loopback(api_base):
        return
    if prefix and prefix not in _builtin_providers():
        return  # no provider LiteLLM could reach: the call fails as an unknown model, offline
    raise ConfigurationError(
        f"model requests are switched off ({ALLOW_MODEL_REQUESTS_ENV}=false): {model!r} would reach "
        f"{api_base or 'its provider'}; use an in-process provider or a loopback server",
        model=model,
        field=ALLOW_MODEL_REQUESTS_ENV,
    )

TIMEOUT_MARGIN = 1.0  # the hard guard fires this long after LiteLLM's own timeout
_PER_MILLION = 1_000_000.0


def provider_of(model: str) -> str:
    """The provider prefix of a LiteLLM model name (``openai/gpt-4o`` -> ``openai``)."""
    if "/" in model:
        return model.split("/", 1)[0]
    return _guess_provider(model)


_provider_cache: dict[str, str] = {}


def _guess_provider(model: str) -> str:
    cached = _provider_cache.get(model)
    if cached is None:
        litellm = loaded_litellm()
        if litellm is None:  # not loaded yet: never import it on the caller's (event-loop) thread
            return "unknown"
        try:
            cached = str(litellm.get_llm_provider(model)[1])
        except Exception:
            cached = "unknown"
        _provider_cache[model] = cached
    return cached


class ModelCatalog:
    """Prices, context windows and token counting from LiteLLM's model map, cached per model."""

    def __init__(self, model_prices: Mapping[str, tuple[float, float]] | None) -> None:
        self._prices: dict[str, tuple[float, float]] = {
            model: (input_price / _PER_MILLION, output_price / _PER_MILLION)
            for model, (input_price, output_price) in (model_prices or {}).items()
        }
        self._info: dict[str, dict[str, Any] | None] = {}

    def info(self, model: str) -> dict[str, Any] | None:
        """LiteLLM's model-map entry for ``model`` (or its name without the provider), if any."""
        if model in self._info:
            return self._info[model]
        litellm = loaded_litellm()
        if litellm is None:  # not loaded yet (the first call loads it off the loop): unknown for now
            return None
        found: dict[str, Any] | None = None
        for name in (model, model.split("/", 1)[-1]):
            entry = litellm.model_cost.get(name)
            if entry:
                found = dict(entry)
                break
        if found is None:
            try:
                found = dict(litellm.get_model_info(model))
            except Exception:
                found = None
        self._info[model] = found
        return found

    def per_token_prices(self, model: str) -> tuple[float, float]:
        """USD per input and per output token: ``model_prices`` first, else the model map."""
        if model in self._prices:
            return self._prices[model]
        info = self.info(model) or {}
        prices = (
            float(info.get("input_cost_per_token") or 0.0),
            float(info.get("output_cost_per_token") or 0.0),
        )
        self._prices[model] = prices
        return prices

    def cost(self, model: str, input_tokens: int, output_tokens: int) -> float:
        """USD for the tokens (0 when the model has no known price)."""
        input_price, output_price = self.per_token_prices(model)
        return input_tokens * input_price + output_tokens * output_price

    def context_window(self, model: str) -> int | None:
        """``max_input_tokens`` (or ``max_tokens``) from the model map; ``None`` when unknown."""
        info = self.info(model) or {}
        window = info.get("max_input_tokens") or info.get("max_tokens")
        return int(window) if window else None

    def count_tokens(self, model: str, text: str) -> int:
        """Tokens of ``text`` by ``litellm.token_counter``, else tiktoken's ``cl100k_base``."""
        if not text:
            return 0
        litellm = loaded_litellm()
        if litellm is None:  # not loaded yet: the rough estimate, never an import on the loop
            return max(1, len(text) // 4)
        try:
            return int(litellm.token_counter(model=model, text=text))
        except Exception:
            import tiktoken

            return len(tiktoken.get_encoding("cl100k_base").encode(text))


class LiteLLMAdapter:
    """Options every LiteLLM call of an adapter carries, and the translation of its failures.

    ``api_base``/``api_key`` point every call at one server; ``timeout`` is the default per
    call; ``model_prices`` maps a model to ``(input, output)`` USD per million tokens; ``extra``
    is passed to every LiteLLM call. The health probe checks the configuration only, unless
    ``probe_server`` asks for one ``GET {api_base}/models``.
    """

    def __init__(
        self,
        *,
        api_base: str | None = None,
        api_key: str | None = None,
        timeout: float = 60.0,
        model_prices: dict[str, tuple[float, float]] | None = None,
        extra: dict[str, Any] | None = None,
        probe_server: bool = False,
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self._api_base = api_base
        self._server = ServerAddress.of_url(api_base)
        self._probe_server = probe_server
        self._api_key = api_key
        self._timeout = timeout
        self._extra = dict(extra or {})
        self._catalog = ModelCatalog(model_prices)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(api_base={self._api_base!r}, timeout={self._timeout})"

    def _call_kwargs(self, model: str, timeout: float) -> dict[str, Any]:
        """Model, timeout, no LiteLLM retries (one port call is one request), server and key."""
        check_model_request_allowed(model, self._api_base)
        kwargs: dict[str, Any] = {"model": model, "timeout": timeout, "max_retries": 0}
        if self._api_base is not None:
            kwargs["api_base"] = self._api_base
        if self._api_key is not None:
            kwargs["api_key"] = self._api_key
        return kwargs

    def canonical_model(self, model: str) -> str:
        """``model`` qualified with the provider LiteLLM resolves it to (``gpt-4o-mini`` ->
        ``openai/gpt-4o-mini``; a bare name stays bare until LiteLLM is loaded)."""
        return qualified_model(model, provider_of(model))

    def warm_up(self) -> None:
        """Import and configure LiteLLM (blocking: ``connect()`` runs it on a worker thread)."""
        load_litellm()

    def server_address(self, model: str) -> ServerAddress | None:
        """The host and port of ``api_base`` for a model it serves (none for an in-process
        provider, or without ``api_base``)."""
        if self._server is None or provider_of(model) in custom_providers():
            return None
        return self._server

    async def health(self) -> ComponentHealth:
        """``ok`` when configured (no call; the address and whether LiteLLM is loaded); with
        ``probe_server``, one ``GET {api_base}/models``: any answer below 500 is ``ok``, no answer
        or a 5xx is ``down``."""
        details: dict[str, Any] = {"probe": "configuration", "litellm_loaded": loaded_litellm() is not None}
        if self._api_base:
            details["address"] = mask_url(self._api_base)
        if not (self._probe_server and self._api_base):
            return ComponentHealth(status="ok", details=details)
        details["probe"] = "request"
        return await _probe_models_endpoint(self._api_base, self._api_key, details)

    async def _prepare(self, limit: float) -> tuple[Any, float]:
        """LiteLLM, loaded off the event loop within the call's ``limit``, and the seconds left of
        it for the provider; :class:`TimeoutError` when loading alone takes the whole limit."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        async with asyncio.timeout_at(deadline):
            litellm = await aload_litellm()
        left = max(deadline - loop.time(), 0.001)
        # LiteLLM keys its cached HTTP clients by the timeout: a new float on every call would build
        # a client, and open a connection, per call. Whole tenths of a second keep one client.
        tenths = math.floor(left * 10) / 10
        return litellm, tenths if tenths > 0 else left

    def _failure(self, error: BaseException, model: str, limit: float, awaited: str) -> ProviderError:
        """The port error for a failed call: a timeout (the hard guard's) names ``awaited``
        (``"answer"``, ``"embeddings"``); anything else goes through :func:`translate_error`."""
        if isinstance(error, TimeoutError):
            return ProviderTimeout(
                f"{model}: no {awaited} within {limit:g} s",
                model=model,
                provider=provider_of(model),
                status_code=None,
                address=None,
            )
        return translate_error(
            error,
            model=model,
            provider=provider_of(model),
            api_base=self._api_base,
            available=custom_providers(),
        )


async def _probe_models_endpoint(
    api_base: str, api_key: str | None, details: dict[str, Any]
) -> ComponentHealth:
    """One timed ``GET {api_base}/models`` (2 s at most), as a health report."""
    import httpx

    url = api_base.rstrip("/") + "/models"
    headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
    started = time.perf_counter()
    try:
        async with httpx.AsyncClient(timeout=HEALTH_PROBE_TIMEOUT) as client:
            answer = await client.get(url, headers=headers)
    except Exception as error:  # any failure of the probe means the server does not answer
        latency_ms = (time.perf_counter() - started) * 1000
        return ComponentHealth(
            status="down", latency_ms=latency_ms, details=details, error=type(error).__name__
        )
    latency_ms = (time.perf_counter() - started) * 1000
    details["status_code"] = answer.status_code
    if answer.status_code >= 500:
        return ComponentHealth(
            status="down", latency_ms=latency_ms, details=details, error=f"HTTP {answer.status_code}"
        )
    return ComponentHealth(status="ok", latency_ms=latency_ms, details=details)
