"""Gateway configuration: defaults from the design document, overridable per tenant and per call."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from motadata_ai.domain.gateway.budgets import DEFAULT_THRESHOLDS, BudgetRule, Thresholds
from motadata_ai.domain.gateway.experiments import Experiment, check_unique_names
from motadata_ai.domain.values.usage import ModelPrice

ValidationLevel = Literal["strict", "medium", "loose"]
LimitsFailurePolicy = Literal["local", "allow", "deny"]


class TenantPolicy(BaseModel):
    """Per-tenant overrides; a field left ``None`` keeps the gateway-wide value."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enable_caching: bool | None = None
    cache_ttl: float | None = Field(None, gt=0, le=31_536_000)
    semantic_cache: bool | None = None
    requests_per_minute: int | None = Field(None, ge=0, le=10_000_000)
    burst_size: int | None = Field(None, ge=1, le=10_000_000)
    tokens_per_minute: int | None = Field(None, ge=0, le=10**12)
    model_requests_per_minute: int | None = Field(None, ge=0, le=10_000_000)
    model_burst_size: int | None = Field(None, ge=1, le=10_000_000)
    model_tokens_per_minute: int | None = Field(None, ge=0, le=10**12)
    embedding_texts_per_minute: int | None = Field(None, ge=0, le=10**9)
    rate_limit_wait: bool | None = None
    max_retries: int | None = Field(None, ge=0, le=20)
    fallback_models: tuple[str, ...] | None = None
    validation_level: ValidationLevel | None = None
    request_deduplication: bool | None = None
    daily_budget_usd: float | None = Field(None, ge=0, le=10**9, allow_inf_nan=False)
    monthly_budget_usd: float | None = Field(None, ge=0, le=10**9, allow_inf_nan=False)
    budget_alert_thresholds: Thresholds | None = None
    budgets: tuple[BudgetRule, ...] | None = Field(None, max_length=100)
    experiments: tuple[Experiment, ...] | None = Field(None, max_length=100)
    allowed_models: tuple[str, ...] | None = None

    _experiments = field_validator("experiments", mode="after")(
        lambda v: None if v is None else check_unique_names(v)
    )


class GatewayConfig(BaseModel):
    """Every gateway knob with its default; ``tenants`` maps tenant ids to :class:`TenantPolicy`.

    A rate of ``0`` or ``None`` switches that limit off.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    default_model: str = "local/extractive"
    default_embedding_model: str = "local/all-minilm-l6-v2"
    fallback_models: tuple[str, ...] = ()
    allowed_models: tuple[str, ...] | None = Field(
        None, description="Models this gateway (or tenant) may call; None: any the provider knows"
    )
    request_timeout: float | None = Field(60.0, gt=0, le=86_400)

    # Cache
    enable_caching: bool = True
    cache_ttl: float = Field(3600.0, gt=0, le=31_536_000)
    cache_embeddings: bool = True
    semantic_cache: bool = False
    semantic_cache_threshold: float = Field(0.95, gt=0, le=1)
    semantic_cache_max_entries: int = Field(1000, ge=1, le=10_000_000, description="Per tenant")
    semantic_cache_model: str | None = Field(None, description="Embedding model (default_embedding_model)")
    recent_requests_max: int = Field(
        1000,
        ge=0,
        le=1_000_000,
        description="Per tenant: most frequent recent requests kept for warming (0: off)",
    )
    recent_requests_ttl: float = Field(
        86_400.0,
        gt=0,
        le=31_536_000,
        description="Seconds the record of recent requests lives after its last change",
    )

    # Rate limits (token buckets, per tenant and per tenant + model): requests_per_minute and
    # burst_size count the tenant's requests, not the internal calls made on their behalf
    requests_per_minute: int | None = Field(60, ge=0, le=10_000_000)
    burst_size: int = Field(10, ge=1, le=10_000_000)
    tokens_per_minute: int | None = Field(None, ge=0, le=10**12)
    model_requests_per_minute: int | None = Field(None, ge=0, le=10_000_000)
    model_burst_size: int | None = Field(None, ge=1, le=10_000_000)
    model_tokens_per_minute: int | None = Field(None, ge=0, le=10**12)
    embedding_texts_per_minute: int | None = Field(
        100_000, ge=0, le=10**9, description="Tenant bucket of embedded texts (its own, not the requests')"
    )
    rate_limit_wait: bool = Field(False, description="Queue a refused call instead of raising RateLimited")
    rate_limit_max_wait: float = Field(30.0, ge=0, le=3600)
    limits_failure_policy: LimitsFailurePolicy = Field(
        "local",
        description="When the shared limits store fails: local (in-process limits), allow, or deny",
    )

    # Retries, breaker, de-duplication
    max_retries: int = Field(3, ge=0, le=20)
    retry_backoff_base: float = Field(0.5, ge=0, le=3600)
    retry_backoff_max: float = Field(8.0, ge=0, le=3600)
    retry_jitter: float = Field(0.5, ge=0, le=1, description="Delay varies by ± this fraction")
    circuit_failure_threshold: int = Field(5, ge=1, le=10_000)
    circuit_recovery_timeout: float = Field(30.0, gt=0, le=86_400)
    circuit_half_open_max_calls: int = Field(1, ge=1, le=10_000)
    request_deduplication: bool = True
    dedup_lease_ttl: float = Field(
        5.0, gt=0, le=300, description="Seconds an instance's lease on a request lives without renewal"
    )
    dedup_poll_interval: float = Field(
        0.02, gt=0, le=5, description="Seconds between a waiting instance's looks for the leader's answer"
    )

    # Embedding batches: concurrent embedding calls of a tenant and model merged into one
    embedding_batch_window: float = Field(
        0.0, ge=0, le=1, description="Seconds a batch waits for more calls (0: those of one loop turn)"
    )
    ingestion_embedding_batch_window: float = Field(
        0.005, ge=0, le=1, description="The same for ingestion's calls (merged across jobs)"
    )
    embedding_batch_max_inputs: int = Field(256, ge=1, le=100_000, description="Texts per merged batch")

    # Guardrails
    validation_level: ValidationLevel = "medium"
    blocked_output_terms: tuple[str, ...] = ()
    max_input_chars: int | None = Field(None, ge=1, le=100_000_000, description="Default: by level")

    # Cost and budgets
    model_prices: dict[str, ModelPrice] = Field(default_factory=dict)
    daily_budget_usd: float | None = Field(None, ge=0, le=10**9, allow_inf_nan=False)
    monthly_budget_usd: float | None = Field(None, ge=0, le=10**9, allow_inf_nan=False)
    budget_refresh_seconds: float = Field(
        5.0, ge=0, le=3600, description="How stale a cached spend total may be"
    )
    budget_alert_thresholds: Thresholds = Field(
        DEFAULT_THRESHOLDS, description="Fractions of the daily and monthly budgets that raise an alert"
    )
    budgets: tuple[BudgetRule, ...] = Field(
        (), max_length=100, description="More budgets: per user or model, soft or hard"
    )

    # A/B experiments
    experiments: tuple[Experiment, ...] = Field(
        (), max_length=100, description="Champion/challenger splits of models or prompt versions"
    )

    _experiments = field_validator("experiments", mode="after")(check_unique_names)

    tenants: dict[str, TenantPolicy] = Field(default_factory=dict)

    def for_tenant(self, tenant_id: str) -> GatewayConfig:
        """This configuration with ``tenant_id``'s overrides applied."""
        policy = self.tenants.get(tenant_id)
        if policy is None:
            return self
        # the values themselves, not a dump: budgets and experiments stay models
        update: dict[str, Any] = {
            name: value for name in TenantPolicy.model_fields if (value := getattr(policy, name)) is not None
        }
        return self.model_copy(update=update)
