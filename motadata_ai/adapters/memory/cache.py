"""InMemoryCache: an in-process CachePort, LRU-bounded by entry count and bytes, with TTL.

Single-process only (state lives in this object). Every operation completes without awaiting,
so ``incr`` is atomic with respect to other coroutines on the same event loop.
"""

from __future__ import annotations

import fnmatch
import time
from collections import OrderedDict
from collections.abc import Callable

from motadata_ai.adapters.defaults import CACHE_MAX_BYTES, CACHE_MAX_ENTRIES
from motadata_ai.adapters.memory._health import InProcessProbe
from motadata_ai.domain.values import keys
from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.ports.cache import CacheError, CachePort, check_key, check_ttl, check_value

_ENTRY_OVERHEAD = 64
"""Bytes charged per entry besides its key and value (rough bookkeeping cost)."""


class InMemoryCache(InProcessProbe, CachePort):
    """A bounded in-process cache.

    ``max_entries`` and ``max_bytes`` (keys + values + a small per-entry overhead) bound it; the
    least recently used entries are evicted first. ``clock`` (seconds, monotonic) drives TTLs, so
    tests can move time by hand. ``evictions`` counts LRU evictions.
    """

    def __init__(
        self,
        *,
        max_entries: int = CACHE_MAX_ENTRIES,
        max_bytes: int = CACHE_MAX_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 1:
            raise ValidationError("max_entries must be at least 1", field="max_entries")
        if max_bytes < 1:
            raise ValidationError("max_bytes must be at least 1", field="max_bytes")
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._clock = clock
        self._data: OrderedDict[str, tuple[bytes, float | None]] = OrderedDict()
        self._bytes = 0
        self.evictions = 0
        self._indexes: dict[str, set[str]] = {}

    @property
    def remote(self) -> bool:
        """``False``: the entries live in this process, which cannot be down while it runs."""
        return False

    @property
    def supports_ranking(self) -> bool:
        """Ranked indexes are kept as entries of their own (the port's JSON default)."""
        return True

    @property
    def size_bytes(self) -> int:
        """Bytes currently charged against ``max_bytes``."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._data)

    @staticmethod
    def _cost(key: str, value: bytes) -> int:
        return len(key.encode()) + len(value) + _ENTRY_OVERHEAD

    def _live(self, key: str) -> tuple[bytes, float | None] | None:
        entry = self._data.get(key)
        if entry is None:
            return None
        expires = entry[1]
        if expires is not None and self._clock() >= expires:
            self._remove(key)
            return None
        self._data.move_to_end(key)
        return entry

    def _remove(self, key: str) -> bool:
        entry = self._data.pop(key, None)
        if entry is None:
            return False
        self._bytes -= self._cost(key, entry[0])
        return True

    def _store(self, key: str, value: bytes, expires: float | None) -> None:
        cost = self._cost(key, value)
        if cost > self._max_bytes:
            raise ValidationError(
                f"cache entry {key!r:.80} takes {cost} bytes; the cache holds at most {self._max_bytes}",
                field="value",
            )
        self._remove(key)
        self._data[key] = (value, expires)
        self._bytes += cost
        self._evict()

    def _evict(self) -> None:
        now = self._clock()
        if len(self._data) > self._max_entries or self._bytes > self._max_bytes:
            for key in [k for k, (_, exp) in self._data.items() if exp is not None and now >= exp]:
                self._remove(key)
        while len(self._data) > self._max_entries or self._bytes > self._max_bytes:
            oldest = next(iter(self._data))
            self._remove(oldest)
            self.evictions += 1

    async def get(self, key: str) -> bytes | None:
        """The value, or ``None`` when absent or expired."""
        entry = self._live(check_key(key))
        return None if entry is None else entry[0]

    async def set(self, key: str, value: bytes, *, ttl: float | None = None) -> None:
        """Store ``value``; it expires after ``ttl`` seconds when given."""
        check_key(key)
        data = check_value(value)
        seconds = check_ttl(ttl)
        self._store(key, data, None if seconds is None else self._clock() + seconds)

    async def delete(self, key: str) -> bool:
        """Remove the key; ``True`` when it existed (and had not expired)."""
        return self._live(check_key(key)) is not None and self._remove(key)

    async def index_add(self, index: str, key: str, *, ttl: float | None = None) -> None:
        """Add to the index (indexes are kept apart from the entries: never evicted, no TTL; keys
        whose entries are gone are pruned as the index grows)."""
        members = self._indexes.setdefault(check_key(index), set())
        members.add(check_key(key))
        if len(members) > 64 and len(members) & (len(members) - 1) == 0:  # at each power of two
            members.intersection_update(self._data)

    async def index_members(self, index: str) -> list[str]:
        """The indexed keys, sorted."""
        return sorted(self._indexes.get(check_key(index), ()))

    async def delete_indexed(self, index: str) -> int:
        """Delete the indexed live entries and the index."""
        members = self._indexes.pop(check_key(index), set())
        return sum([await self.delete(member) for member in sorted(members)])

    async def delete_tenant(self, tenant_id: str, *, namespace: str | None = None) -> int:
        """Remove every live entry of ``tenant_id`` (of ``namespace`` only, when given); return how many."""
        prefix = keys.scope_prefix(tenant_id, namespace)
        for index in [k for k in self._indexes if k.startswith(prefix)]:
            del self._indexes[index]
        now = self._clock()
        removed = 0
        for key in [k for k in self._data if k.startswith(prefix)]:
            expires = self._data[key][1]
            self._remove(key)
            if expires is None or now < expires:
                removed += 1
        return removed

    async def delete_matching(self, tenant_id: str, pattern: str, *, namespace: str) -> int:
        """Remove the live entries of ``tenant_id`` in ``namespace`` whose key matches the glob
        ``pattern`` (:func:`keys.match_pattern`); return how many."""
        glob = keys.match_pattern(tenant_id, namespace, pattern)
        now = self._clock()
        removed = 0
        for key in [k for k in self._data if fnmatch.fnmatchcase(k, glob)]:
            expires = self._data[key][1]
            self._remove(key)
            if expires is None or now < expires:
                removed += 1
        return removed

    async def incr(self, key: str, *, amount: int = 1, ttl: float | None = None) -> int:
        """Atomically add ``amount`` (creating the key at 0, with ``ttl``) and return the new value."""
        check_key(key)
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise ValidationError(f"amount must be an integer, got {amount!r}", field="amount")
        seconds = check_ttl(ttl)
        entry = self._live(key)
        if entry is None:
            value, expires = 0, (None if seconds is None else self._clock() + seconds)
        else:
            try:
                value = int(entry[0])
            except ValueError:
                raise CacheError(
                    f"cache key {key!r:.80} holds a value that is not an integer", key=key, address="memory://"
                ) from None
            expires = entry[1]
        value += amount
        self._store(key, str(value).encode(), expires)
        return value

    async def ping(self) -> bool:
        """Always ``True``."""
        return True

    async def aclose(self) -> None:
        """Drop every entry."""
        self._data.clear()
        self._bytes = 0
