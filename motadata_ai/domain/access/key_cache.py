"""KeyCache: the virtual keys this process authenticated lately, so a request does not read the key
store (a PostgreSQL round trip on the ``local`` and ``services`` profiles) on every call.

An entry lives ``ttl`` seconds on the injected monotonic clock; at most ``max_entries`` are kept
(the oldest go first). Only keys found in the store are kept, never unknown ids, so random tokens
cannot fill it. The owner drops an entry when it revokes the key and updates its spend when it
charges it, so this process sees both at once; another process's revocation or spend shows within
``ttl``.
"""

from __future__ import annotations

from collections.abc import Callable

from motadata_ai.domain.values.api_keys import APIKey
from motadata_ai.domain.values.errors import ConfigurationError

__all__ = ["KeyCache"]


class KeyCache:
    """Authenticated keys by id, each for ``ttl`` seconds (see the module docstring)."""

    def __init__(self, *, ttl: float, clock: Callable[[], float], max_entries: int = 10_000) -> None:
        if not 0 <= ttl <= 300:
            raise ConfigurationError(
                f"the key cache's ttl must be within 0-300 seconds, got {ttl}", field="cache_seconds"
            )
        self._ttl = ttl
        self._clock = clock
        self._max = max_entries
        self._entries: dict[str, tuple[float, APIKey]] = {}

    def get(self, key_id: str) -> APIKey | None:
        """The key when it was stored less than ``ttl`` seconds ago, else ``None``."""
        entry = self._entries.get(key_id)
        if entry is None:
            return None
        if self._clock() - entry[0] >= self._ttl:
            del self._entries[key_id]
            return None
        return entry[1]

    def put(self, key: APIKey) -> None:
        """Keep ``key`` for ``ttl`` seconds from now."""
        if self._ttl <= 0:
            return
        self._entries.pop(key.id, None)
        if len(self._entries) >= self._max:
            del self._entries[next(iter(self._entries))]
        self._entries[key.id] = (self._clock(), key)

    def spent(self, key_id: str, total_usd: float) -> None:
        """Note the key's new spend (its entry keeps its age)."""
        entry = self._entries.get(key_id)
        if entry is not None:
            self._entries[key_id] = (entry[0], entry[1].model_copy(update={"spent_usd": total_usd}))

    def drop(self, key_id: str) -> None:
        """Forget the key (it was revoked)."""
        self._entries.pop(key_id, None)

    @property
    def size(self) -> int:
        """How many keys are kept."""
        return len(self._entries)
