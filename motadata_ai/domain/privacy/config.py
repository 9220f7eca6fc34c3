"""PrivacyConfig: the settings of the privacy use-case (``MOTADATA_PRIVACY__<FIELD>``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

__all__ = ["PrivacyConfig", "RetentionPolicy"]


class RetentionPolicy(BaseModel):
    """How many days each kind of data is kept (``None``: kept until erased)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    conversations_days: int | None = Field(
        None, ge=1, le=36_500, description="RAG turns and agent session messages"
    )
    memories_days: int | None = Field(None, ge=1, le=36_500, description="Agent memories of every kind")
    audit_days: int | None = Field(None, ge=1, le=36_500, description="Audit events")
    ledger_days: int | None = Field(None, ge=1, le=36_500, description="Usage records and their feedback")


class PrivacyConfig(BaseModel):
    """Audit trail, pseudonyms, consent and retention."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    audit: bool = Field(True, description="Write an audit event for every SDK operation")
    audit_max_pending: int = Field(
        1000, ge=1, le=1_000_000, description="Audit events buffered before a caller waits for a write"
    )
    pseudonym_key: SecretStr | None = Field(
        None,
        description="Key of the keyed pseudonyms erased users get on kept records (unset: a random "
        "key per process, so pseudonyms link nothing across processes)",
    )
    encryption_keys: dict[str, SecretStr] = Field(
        default_factory=dict,
        description='Wrapping keys by id, each the base64 of 32 random bytes: {"k1": "..."}; with a key '
        "set, memories, session messages, checkpoints and RAG turns are stored encrypted",
    )
    encryption_current_key: str | None = Field(
        None, description="Id of the key that wraps new data keys, and that rotation moves to (default: last)"
    )
    memory_requires_consent: bool = Field(
        False, description="Remember nothing about a user beyond the session without consent to 'memory'"
    )
    training_without_consent: Literal["drop", "refuse"] = Field(
        "drop",
        description="ML training on a dataset with a user column: drop the rows of users without "
        "consent to 'training', or refuse to train",
    )
    retention: RetentionPolicy = Field(default_factory=RetentionPolicy, description="Default retention")
    tenant_retention: dict[str, RetentionPolicy] = Field(
        default_factory=dict, description="Per-tenant retention, replacing the default for that tenant"
    )

    def retention_for(self, tenant_id: str) -> RetentionPolicy:
        """The tenant's retention periods."""
        return self.tenant_retention.get(tenant_id, self.retention)
