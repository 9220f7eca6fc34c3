"""AesGcmCipher (AES-256-GCM from ``cryptography``) and SettingsKeyProvider (wrapping keys from
settings: ``MOTADATA_ENCRYPTION__KEYS`` as ``{"id": "<base64 of 32 bytes>"}``)."""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from motadata_ai.ports.encryption import CipherPort, DecryptionFailed, EncryptionKeyError, KeyProviderPort

__all__ = ["AesGcmCipher", "SettingsKeyProvider", "decode_key"]

_NONCE = 12


class AesGcmCipher(CipherPort):
    """``nonce (12 bytes) || ciphertext+tag``; keys are 32 bytes."""

    def new_key(self) -> bytes:
        """32 random bytes."""
        return AESGCM.generate_key(bit_length=256)

    def seal(self, key: bytes, plaintext: bytes, *, aad: bytes) -> bytes:
        """Encrypt with a fresh random nonce."""
        nonce = os.urandom(_NONCE)
        return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)

    def open(self, key: bytes, sealed: bytes, *, aad: bytes) -> bytes:
        """Decrypt, or :class:`DecryptionFailed`."""
        try:
            return AESGCM(key).decrypt(sealed[:_NONCE], sealed[_NONCE:], aad)
        except (InvalidTag, ValueError) as error:
            raise DecryptionFailed(
                "encrypted data does not open with its key (wrong key or altered data)"
            ) from error


def decode_key(key_id: str, text: str) -> bytes:
    """The 32 bytes of a base64 key, or :class:`EncryptionKeyError` naming ``key_id``."""
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as error:
        raise EncryptionKeyError(f"encryption key {key_id!r} is not base64", key_id=key_id) from error
    if len(key) != 32:
        raise EncryptionKeyError(
            f"encryption key {key_id!r} must be 32 bytes (base64 of 32 random bytes), got {len(key)}",
            key_id=key_id,
        )
    return key


class SettingsKeyProvider(KeyProviderPort):
    """Wrapping keys given in settings; ``current_id`` wraps new data keys (default: the last)."""

    def __init__(self, keys: Mapping[str, str], *, current_id: str | None = None) -> None:
        self._keys = {key_id: decode_key(key_id, text) for key_id, text in keys.items()}
        self._current = current_id or (list(self._keys)[-1] if self._keys else None)
        if self._current is not None and self._current not in self._keys:
            raise EncryptionKeyError(
                f"the current encryption key {self._current!r} is not configured", key_id=self._current
            )

    async def current(self) -> tuple[str, bytes]:
        """The current key."""
        if self._current is None:
            raise EncryptionKeyError("no encryption key is configured (MOTADATA_ENCRYPTION__KEYS)")
        return self._current, self._keys[self._current]

    async def key(self, key_id: str) -> bytes:
        """A configured key by id."""
        try:
            return self._keys[key_id]
        except KeyError:
            raise EncryptionKeyError(
                f"encrypted data needs the encryption key {key_id!r}, which is not configured", key_id=key_id
            ) from None
