"""Envelope encryption at rest: the cipher, the wrapping keys, and the store of wrapped data keys.

Each tenant has one data key (random, 256-bit) that encrypts its sensitive text; the data key is
stored only wrapped (encrypted) by a wrapping key that a :class:`KeyProviderPort` holds (from
settings, or a KMS adapter). Rotating the wrapping key re-wraps the data keys; the data itself is
not re-encrypted.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import UTC, datetime

from pydantic import ConfigDict, Field

from motadata_ai.domain.values.base import ValueModel
from motadata_ai.domain.values.errors import ConfigurationError, ServiceError, StoreUnavailable
from motadata_ai.domain.values.tenancy import TenantId


class EncryptionKeyError(ConfigurationError):
    """The wrapping key that data needs is missing or wrong (``key_id`` names it): fix the
    configured keys. Nothing is returned in its place."""

    key_id: str | None = None


class DecryptionFailed(EncryptionKeyError):
    """Encrypted data does not open with the key it names (a wrong key, or tampered data)."""


class DataKeyStoreError(ServiceError):
    """The data-key store failed."""


class DataKeyStoreUnavailable(DataKeyStoreError, StoreUnavailable):
    """The data-key store cannot be reached; ``address`` names it with credentials masked."""


class WrappedDataKey(ValueModel):
    """A tenant's data key, encrypted by the wrapping key ``wrapping_key_id``."""

    model_config = ConfigDict(frozen=True)

    tenant_id: TenantId
    key_id: str = Field(min_length=1, max_length=64)
    wrapping_key_id: str = Field(min_length=1, max_length=64)
    wrapped: bytes
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class CipherPort(ABC):
    """Authenticated encryption (AES-256-GCM): a sealed value opens only with its key and ``aad``."""

    @abstractmethod
    def new_key(self) -> bytes:
        """A fresh random key."""

    @abstractmethod
    def seal(self, key: bytes, plaintext: bytes, *, aad: bytes) -> bytes:
        """Encrypt and authenticate ``plaintext`` (a fresh nonce is part of the result)."""

    @abstractmethod
    def open(self, key: bytes, sealed: bytes, *, aad: bytes) -> bytes:
        """Decrypt ``sealed``; :class:`DecryptionFailed` when the key or ``aad`` is not the one
        it was sealed with, or it was altered."""


class KeyProviderPort(ABC):
    """The wrapping keys: the current one (new data keys are wrapped with it) and older ones."""

    @abstractmethod
    async def current(self) -> tuple[str, bytes]:
        """The id and bytes of the current wrapping key (:class:`EncryptionKeyError` if none)."""

    @abstractmethod
    async def key(self, key_id: str) -> bytes:
        """The wrapping key ``key_id`` (:class:`EncryptionKeyError` when it is not configured)."""


class DataKeyStorePort(ABC):
    """The wrapped data key of each tenant."""

    @abstractmethod
    async def get(self, tenant_id: str) -> WrappedDataKey | None:
        """The tenant's wrapped data key, or ``None``."""

    @abstractmethod
    async def add(self, key: WrappedDataKey) -> WrappedDataKey:
        """Store the tenant's first data key; when one exists already (a concurrent first write),
        keep it and return it."""

    @abstractmethod
    async def rewrap(self, key: WrappedDataKey) -> None:
        """Replace the wrapping of the tenant's data key (same ``key_id``)."""

    @abstractmethod
    async def all(self) -> list[WrappedDataKey]:
        """Every tenant's wrapped data key."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
