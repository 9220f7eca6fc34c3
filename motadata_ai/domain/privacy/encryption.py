"""Envelope encryption of sensitive text at rest, and the store decorators that apply it.

Each tenant's data key is made on first use, wrapped by the key provider's current wrapping key
and kept only wrapped in a :class:`DataKeyStorePort`. A value is stored as
``enc:v1:<data key id>:<base64 of nonce || AES-GCM ciphertext>``, authenticated together with the
tenant and key id, so a value copied to another tenant does not open. :meth:`Envelope.rotate`
re-wraps every data key with the current wrapping key; no value is re-encrypted.

:class:`EncryptedMemoryStore` encrypts memory contents, session messages and checkpoint states;
:class:`EncryptedConversationStore` the question, answer and rewritten query of RAG turns.
Embeddings, ids, kinds, times and ``metadata`` stay in clear (vector search keeps working; the
text is decrypted after retrieval), so metadata must not hold personal data. Without a
configured key new values are stored in clear, and reading an encrypted value raises
:class:`EncryptionKeyError`: a missing or wrong key never yields garbage.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from motadata_ai.domain.values.documents import ConversationTurn
from motadata_ai.domain.values.health import ComponentHealth
from motadata_ai.domain.values.memory import (
    Checkpoint,
    CheckpointClaim,
    MemoryKind,
    MemoryMatch,
    MemoryRecord,
    SessionMessage,
)
from motadata_ai.domain.values.tenancy import TenantContext
from motadata_ai.ports.documents import ConversationStorePort
from motadata_ai.ports.encryption import (
    CipherPort,
    DataKeyStorePort,
    DecryptionFailed,
    EncryptionKeyError,
    KeyProviderPort,
    WrappedDataKey,
)
from motadata_ai.ports.memory import MemoryStorePort

__all__ = ["PREFIX", "EncryptedConversationStore", "EncryptedMemoryStore", "Envelope"]

PREFIX = "enc:v1:"
_STATE = "__encrypted__"


class Envelope:
    """Encrypts and decrypts one tenant's text with its data key."""

    def __init__(
        self, *, keys: KeyProviderPort, data_keys: DataKeyStorePort, cipher: CipherPort, enabled: bool = True
    ) -> None:
        self.keys = keys
        self.data_keys = data_keys
        self.cipher = cipher
        self.enabled = enabled
        self._open: dict[str, tuple[str, bytes]] = {}

    async def _unwrap(self, stored: WrappedDataKey) -> bytes:
        wrapping = await self.keys.key(stored.wrapping_key_id)
        try:
            return self.cipher.open(wrapping, stored.wrapped, aad=stored.tenant_id.encode())
        except DecryptionFailed as error:
            raise EncryptionKeyError(
                f"the data key of tenant {stored.tenant_id} does not open with encryption key "
                f"{stored.wrapping_key_id!r}: the configured key is wrong",
                key_id=stored.wrapping_key_id,
                tenant_id=stored.tenant_id,
            ) from error

    async def _data_key(self, tenant_id: str, *, create: bool) -> tuple[str, bytes]:
        if tenant_id in self._open:
            return self._open[tenant_id]
        stored = await self.data_keys.get(tenant_id)
        if stored is None:
            if not create:
                raise EncryptionKeyError(f"tenant {tenant_id} has no data key", tenant_id=tenant_id)
            wrapping_id, wrapping = await self.keys.current()
            data_key = self.cipher.new_key()
            stored = await self.data_keys.add(
                WrappedDataKey(
                    tenant_id=tenant_id,
                    key_id=uuid.uuid4().hex[:16],
                    wrapping_key_id=wrapping_id,
                    wrapped=self.cipher.seal(wrapping, data_key, aad=tenant_id.encode()),
                )
            )
        opened = (stored.key_id, await self._unwrap(stored))
        self._open[tenant_id] = opened
        return opened

    async def encrypt(self, tenant_id: str, text: str) -> str:
        """``text`` sealed with the tenant's data key (as it is when encryption is off)."""
        if not self.enabled:
            return text
        key_id, key = await self._data_key(tenant_id, create=True)
        sealed = self.cipher.seal(key, text.encode(), aad=f"{tenant_id}:{key_id}".encode())
        return f"{PREFIX}{key_id}:{base64.b64encode(sealed).decode()}"

    async def decrypt(self, tenant_id: str, value: str) -> str:
        """The text of a stored value (a value stored in clear comes back as it is)."""
        if not value.startswith(PREFIX):
            return value
        key_id, _, body = value[len(PREFIX) :].partition(":")
        own_id, key = await self._data_key(tenant_id, create=False)
        if key_id != own_id:
            raise DecryptionFailed(
                f"a value of tenant {tenant_id} names another data key", tenant_id=tenant_id
            )
        try:
            sealed = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as error:
            raise DecryptionFailed("an encrypted value is malformed", tenant_id=tenant_id) from error
        return self.cipher.open(key, sealed, aad=f"{tenant_id}:{key_id}".encode()).decode()

    async def rotate(self) -> int:
        """Re-wrap every tenant's data key with the current wrapping key; return how many changed."""
        wrapping_id, wrapping = await self.keys.current()
        changed = 0
        for stored in await self.data_keys.all():
            if stored.wrapping_key_id == wrapping_id:
                continue
            data_key = await self._unwrap(stored)
            await self.data_keys.rewrap(
                stored.model_copy(
                    update={
                        "wrapping_key_id": wrapping_id,
                        "wrapped": self.cipher.seal(wrapping, data_key, aad=stored.tenant_id.encode()),
                    }
                )
            )
            changed += 1
        self._open.clear()
        return changed


class EncryptedMemoryStore(MemoryStorePort):
    """A memory store whose contents, messages and checkpoint states are encrypted at rest."""

    def __init__(self, inner: MemoryStorePort, envelope: Envelope) -> None:
        self.inner = inner
        self.envelope = envelope

    @property
    def database(self) -> Any:
        """The inner store's database, when it has one (health probes it once per server)."""
        return getattr(self.inner, "database", None)

    async def health(self) -> ComponentHealth:
        """The inner store's health: encryption adds no server of its own."""
        return await self.inner.health()

    async def _record_in(self, record: MemoryRecord) -> MemoryRecord:
        return record.model_copy(
            update={"content": await self.envelope.encrypt(record.tenant_id, record.content)}
        )

    async def _record_out(self, record: MemoryRecord) -> MemoryRecord:
        return record.model_copy(
            update={"content": await self.envelope.decrypt(record.tenant_id, record.content)}
        )

    async def _message_out(self, message: SessionMessage) -> SessionMessage:
        if not message.content:
            return message
        return message.model_copy(
            update={"content": await self.envelope.decrypt(message.tenant_id, message.content)}
        )

    async def _checkpoint_out(self, checkpoint: Checkpoint | None) -> Checkpoint | None:
        if checkpoint is None or set(checkpoint.state) != {_STATE}:
            return checkpoint
        state = json.loads(await self.envelope.decrypt(checkpoint.tenant_id, checkpoint.state[_STATE]))
        return checkpoint.model_copy(update={"state": state})

    async def add(self, record: MemoryRecord) -> None:
        """Store with the content encrypted."""
        await self.inner.add(await self._record_in(record))

    async def list_records(
        self, tenant_id: str, *, user_id: str | None = None, kind: MemoryKind | None = None
    ) -> list[MemoryRecord]:
        """Decrypted."""
        return [
            await self._record_out(r)
            for r in await self.inner.list_records(tenant_id, user_id=user_id, kind=kind)
        ]

    async def search(
        self,
        tenant_id: str,
        embedding: Sequence[float],
        *,
        user_id: str,
        kinds: Sequence[MemoryKind] | None = None,
        limit: int = 10,
    ) -> list[MemoryMatch]:
        """Searched on the (clear) vectors, decrypted after retrieval."""
        found = await self.inner.search(tenant_id, embedding, user_id=user_id, kinds=kinds, limit=limit)
        return [m.model_copy(update={"record": await self._record_out(m.record)}) for m in found]

    async def delete(self, tenant_id: str, ids: Sequence[str]) -> int:
        """Passed through."""
        return await self.inner.delete(tenant_id, ids)

    async def delete_older_than(self, tenant_id: str, cutoff: datetime, *, user_id: str | None = None) -> int:
        """Passed through."""
        return await self.inner.delete_older_than(tenant_id, cutoff, user_id=user_id)

    async def append_messages(self, tenant_id: str, messages: Sequence[SessionMessage]) -> None:
        """Store with the contents encrypted."""
        sealed = [
            m.model_copy(update={"content": await self.envelope.encrypt(m.tenant_id, m.content)})
            if m.content
            else m
            for m in messages
        ]
        await self.inner.append_messages(tenant_id, sealed)

    async def load_messages(
        self, tenant_id: str, conversation_id: str, *, limit: int | None = None
    ) -> list[SessionMessage]:
        """Decrypted."""
        return [
            await self._message_out(m)
            for m in await self.inner.load_messages(tenant_id, conversation_id, limit=limit)
        ]

    async def user_messages(self, tenant_id: str, user_id: str) -> list[SessionMessage]:
        """Decrypted."""
        return [await self._message_out(m) for m in await self.inner.user_messages(tenant_id, user_id)]

    async def delete_conversation(self, tenant_id: str, conversation_id: str) -> int:
        """Passed through."""
        return await self.inner.delete_conversation(tenant_id, conversation_id)

    async def delete_messages_before(self, tenant_id: str, cutoff: datetime) -> int:
        """Passed through."""
        return await self.inner.delete_messages_before(tenant_id, cutoff)

    async def save_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Store with the state encrypted (as one JSON text)."""
        if self.envelope.enabled:
            sealed = await self.envelope.encrypt(
                checkpoint.tenant_id, json.dumps(checkpoint.state, default=str)
            )
            checkpoint = checkpoint.model_copy(update={"state": {_STATE: sealed}})
        await self.inner.save_checkpoint(checkpoint)

    async def load_checkpoint(self, tenant_id: str, checkpoint_id: str) -> Checkpoint | None:
        """Decrypted."""
        return await self._checkpoint_out(await self.inner.load_checkpoint(tenant_id, checkpoint_id))

    async def claim_checkpoint(self, tenant_id: str, checkpoint_id: str) -> CheckpointClaim:
        """Claimed by the inner store (atomic there), decrypted."""
        claim = await self.inner.claim_checkpoint(tenant_id, checkpoint_id)
        if claim.checkpoint is None:
            return claim
        return claim.model_copy(update={"checkpoint": await self._checkpoint_out(claim.checkpoint)})

    async def delete_checkpoint(self, tenant_id: str, checkpoint_id: str) -> bool:
        """Passed through."""
        return await self.inner.delete_checkpoint(tenant_id, checkpoint_id)

    async def user_checkpoints(self, tenant_id: str, user_id: str) -> list[Checkpoint]:
        """Decrypted."""
        found = await self.inner.user_checkpoints(tenant_id, user_id)
        return [c for c in [await self._checkpoint_out(c) for c in found] if c is not None]

    async def delete_user(self, tenant_id: str, user_id: str) -> int:
        """Passed through."""
        return await self.inner.delete_user(tenant_id, user_id)

    async def aclose(self) -> None:
        """Closed by the owner of the inner store."""


class EncryptedConversationStore(ConversationStorePort):
    """RAG conversation turns with question, answer and rewritten query encrypted at rest."""

    def __init__(self, inner: ConversationStorePort, envelope: Envelope) -> None:
        self.inner = inner
        self.envelope = envelope

    async def _out(self, turn: ConversationTurn) -> ConversationTurn:
        decrypt = self.envelope.decrypt
        update: dict[str, Any] = {
            "question": await decrypt(turn.tenant_id, turn.question),
            "answer": await decrypt(turn.tenant_id, turn.answer),
        }
        if turn.rewritten_query:
            update["rewritten_query"] = await decrypt(turn.tenant_id, turn.rewritten_query)
        return turn.model_copy(update=update)

    async def append(self, tenant: TenantContext, turn: ConversationTurn) -> None:
        """Store encrypted."""
        encrypt = self.envelope.encrypt
        update: dict[str, Any] = {
            "question": await encrypt(turn.tenant_id, turn.question),
            "answer": await encrypt(turn.tenant_id, turn.answer),
        }
        if turn.rewritten_query:
            update["rewritten_query"] = await encrypt(turn.tenant_id, turn.rewritten_query)
        await self.inner.append(tenant, turn.model_copy(update=update))

    async def history(
        self, tenant: TenantContext, conversation_id: str, *, limit: int = 10
    ) -> list[ConversationTurn]:
        """Decrypted."""
        return [await self._out(t) for t in await self.inner.history(tenant, conversation_id, limit=limit)]

    async def user_turns(self, tenant: TenantContext, user_id: str) -> list[ConversationTurn]:
        """Decrypted."""
        return [await self._out(t) for t in await self.inner.user_turns(tenant, user_id)]

    async def delete_conversation(self, tenant: TenantContext, conversation_id: str) -> int:
        """Passed through."""
        return await self.inner.delete_conversation(tenant, conversation_id)

    async def delete_user(self, tenant: TenantContext, user_id: str) -> int:
        """Passed through."""
        return await self.inner.delete_user(tenant, user_id)

    async def delete_turns_before(self, tenant: TenantContext, cutoff: datetime) -> int:
        """Passed through."""
        return await self.inner.delete_turns_before(tenant, cutoff)
