"""The function API's gateway: ``create_gateway(api_key=..., provider=..., default_model=...,
tenant_id=...)`` and the tenant-bound :class:`TenantGateway` with ``generate_async``,
``generate_embeddings`` and ``health_check``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from motadata_ai.domain.values.base import ValueModel
from motadata_ai.domain.values.errors import ConfigurationError, ValidationError
from motadata_ai.domain.values.llm import ChatRequest, ChatResponse, Message, Usage
from motadata_ai.functions._common import _settings_with, _tenant_of
from motadata_ai.settings import Settings

if TYPE_CHECKING:
    from motadata_ai.domain.gateway.service import Gateway

__all__ = ["GenerateResponse", "TenantGateway", "create_gateway"]


class GenerateResponse(ValueModel):
    """What ``gateway.generate_async(...)`` returns: the text, its tokens and cost, and metadata
    (model, provider, cached, latency, finish reason); ``response`` is the full
    :class:`~motadata_ai.domain.values.llm.ChatResponse`."""

    text: str
    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    tokens: int = 0
    cost_usd: float = 0.0
    cached: bool = False
    metadata: dict[str, Any] = Field(default_factory=dict)
    parsed: Any = Field(
        None, description="The text as the response_schema's pydantic model, when one was given"
    )
    response: ChatResponse

    @classmethod
    def of(cls, response: ChatResponse, *, tenant_id: str, schema: Any = None) -> GenerateResponse:
        """The function-API view of a gateway response (``parsed`` when ``schema`` is a pydantic
        model class)."""
        usage: Usage = response.usage
        parsed = (
            response.parse(schema) if isinstance(schema, type) and issubclass(schema, BaseModel) else None
        )
        return cls(
            parsed=parsed,
            text=response.text,
            model=response.model,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            tokens=usage.total_tokens,
            cost_usd=response.cost_usd,
            cached=response.cached,
            metadata={
                "tenant_id": tenant_id,
                "provider": response.provider,
                "finish_reason": response.finish_reason,
                "latency_ms": response.latency_ms,
                "id": response.id,
            },
            response=response,
        )


def _rate_limits(config: Any) -> dict[str, Any]:
    """``rate_limit_config`` (a mapping or an object with the same attributes) as settings."""
    if config is None:
        return {}
    names = ("requests_per_minute", "burst_size", "tokens_per_minute")
    if isinstance(config, Mapping):
        unknown = sorted(set(config) - set(names))
        if unknown:
            raise ValidationError(
                f"rate_limit_config has unknown keys {unknown} (keys: {', '.join(names)})",
                field="rate_limit_config",
            )
        return {name: config[name] for name in names if name in config}
    return {name: getattr(config, name) for name in names if getattr(config, name, None) is not None}


class TenantGateway:
    """A gateway bound to a tenant: the document's ``generate_async`` / ``generate_embeddings`` /
    ``health_check`` over the SDK's :class:`~motadata_ai.domain.gateway.service.Gateway` (every
    policy applies: cache, limits, breakers, retries, guardrails, ledger). Every other attribute is
    the gateway's own (``generate``, ``stream``, ``embed`` ...)."""

    def __init__(self, gateway: Gateway, *, tenant_id: str) -> None:
        self.core = gateway
        self.tenant_id = tenant_id

    def __getattr__(self, name: str) -> Any:
        return getattr(self.core, name)

    async def generate_async(
        self,
        prompt: str | None = None,
        *,
        model: str | None = None,
        tenant_id: str | None = None,
        messages: Sequence[Message | Mapping[str, Any]] | None = None,
        system_prompt: str | None = None,
        user_id: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        **options: Any,
    ) -> GenerateResponse:
        """One completion of ``prompt`` (or ``messages``, OpenAI-style dicts accepted) with
        ``model`` (default: the gateway's) for ``tenant_id`` (default: the bound tenant).
        ``options`` are the gateway's per-call options (``no_cache``, ``response_schema``,
        ``validation_level``, ``timeout`` ...); a pydantic model as ``response_schema`` comes back
        parsed as ``parsed``."""
        if (prompt is None) == (messages is None):
            raise ValidationError("give exactly one of prompt and messages", field="prompt")
        chosen: list[Message | Mapping[str, Any]] = []
        if system_prompt is not None:
            chosen.append(Message(role="system", content=system_prompt))
        chosen.extend(messages if messages is not None else [Message(role="user", content=prompt)])
        tenant = _tenant_of(tenant_id, self.tenant_id)
        request = ChatRequest(
            model=model or self.core.default_model,
            messages=tuple(Message.model_validate(m) if isinstance(m, Mapping) else m for m in chosen),
            temperature=temperature,
            max_tokens=max_tokens,
        )
        response = await self.core.generate(request, tenant_id=tenant, user_id=user_id, **options)
        return GenerateResponse.of(response, tenant_id=tenant, schema=options.get("response_schema"))

    async def generate_embeddings(
        self,
        text: str | Sequence[str],
        *,
        tenant_id: str | None = None,
        model: str | None = None,
        user_id: str | None = None,
    ) -> list[float] | list[list[float]]:
        """The embedding of ``text`` (one vector), or of each text of a list (a list of vectors)."""
        texts = [text] if isinstance(text, str) else text  # the gateway refuses what is not a sequence
        response = await self.core.embed(
            texts, tenant_id=_tenant_of(tenant_id, self.tenant_id), model=model, user_id=user_id
        )
        vectors = [list(vector) for vector in response.vectors]
        return vectors[0] if isinstance(text, str) else vectors

    async def health_check(self) -> dict[str, Any]:
        """The gateway's health: breakers, cache and ledger (``status`` ``ok`` or ``degraded``)."""
        import dataclasses

        return dataclasses.asdict(await self.core.health())

    async def aclose(self) -> None:
        """Flush the ledger and close the model adapters."""
        await self.core.aclose()


def _model_name(provider: str | None, default_model: str | None, configured: str) -> str | None:
    """The LiteLLM model name of ``provider`` and ``default_model`` (``openai``, ``gpt-4`` ->
    ``openai/gpt-4``); a provider alone keeps the configured model when it is that provider's."""
    if default_model is None:
        if provider is None or configured.startswith(f"{provider}/"):
            return None
        raise ConfigurationError(
            f"provider={provider!r} needs default_model= (e.g. default_model='gpt-4o-mini') or "
            f"MOTADATA_LLM_MODEL naming a {provider}/ model (it names {configured!r})",
            field="default_model",
        )
    if provider is None or default_model.startswith(f"{provider}/"):
        return default_model
    return f"{provider}/{default_model}"


def create_gateway(
    *,
    api_key: str | None = None,
    provider: str | None = None,
    default_model: str | None = None,
    tenant_id: str | None = None,
    cache: Any = None,
    enable_caching: bool | None = None,
    cache_ttl: float | None = None,
    rate_limit_config: Mapping[str, Any] | Any = None,
    enable_llmops: bool = True,
    validation_level: Literal["strict", "medium", "loose"] | None = None,
    api_base: str | None = None,
    embedding_model: str | None = None,
    max_retries: int | None = None,
    settings: Settings | None = None,
    **ports: Any,
) -> TenantGateway:
    """A gateway bound to ``tenant_id`` (default ``default``; each call may name another).

    ``provider`` and ``default_model`` name the LiteLLM model (``provider="openai",
    default_model="gpt-4"`` is ``openai/gpt-4``); ``api_key`` and ``api_base`` reach it;
    ``cache`` is a :func:`create_cache_mechanism` (default: in process); ``enable_caching``,
    ``cache_ttl``, ``rate_limit_config`` (``requests_per_minute``, ``burst_size``,
    ``tokens_per_minute``), ``validation_level`` and ``max_retries`` override the settings;
    ``enable_llmops`` keeps the usage and cost ledger (in process here; ``connect()`` keeps it in
    PostgreSQL). Anything left unset comes from ``MOTADATA_*`` variables.
    """
    from motadata_ai.api import create_gateway as build_gateway

    tenant = _tenant_of(tenant_id)
    base = settings if settings is not None else Settings()
    model = _model_name(provider, default_model, base.gateway.default_model)
    resolved = _settings_with(
        base,
        llm_model=model,
        llm_api_key=api_key,
        llm_api_base=api_base,
        embedding_model=embedding_model,
        enable_caching=enable_caching,
        cache_ttl=cache_ttl,
        validation_level=validation_level,
        max_retries=max_retries,
        **_rate_limits(rate_limit_config),
    )
    if cache is not None:
        ports["cache"] = cache
    if enable_llmops and "ledger" not in ports:
        from motadata_ai.adapters.memory.ledger import InMemoryUsageLedger

        ports["ledger"] = InMemoryUsageLedger()
    return TenantGateway(build_gateway(tenant_id=tenant, settings=resolved, **ports), tenant_id=tenant)


def _core_gateway(gateway: Any) -> Gateway:
    if gateway is None:
        raise ValidationError("gateway is required (create one with create_gateway(...))", field="gateway")
    return gateway.core if isinstance(gateway, TenantGateway) else gateway
