"""The adapters' defaults, in one place.

The adapters' constructors and the configuration model (:mod:`motadata_ai.settings`) both read
them, so a default changed here changes for an adapter built by hand and for one the container
builds. Nothing but constants: importing this module imports no driver.
"""

from __future__ import annotations

# PostgreSQL
POOL_MIN = 1
"""Connections the pool keeps open."""
POOL_MAX = 10
"""Connections the pool opens at most."""
MAX_REPLICA_LAG = 5.0
"""Seconds a streaming replica may lag before reads skip it."""

# pgvector
HNSW_M = 16
"""HNSW graph degree (pgvector's default)."""
HNSW_EF_CONSTRUCTION = 128
"""HNSW build breadth (twice pgvector's 64: on clustered data a build at 64 left searches that
found none of their neighbours, see ``docs/vector_store.md``)."""
HNSW_EF_SEARCH = 100
"""HNSW search breadth of a tenant's index before its recall check widens it."""
EXACT_SEARCH_BELOW = 10_000
"""Tenants with fewer rows are searched exactly; reaching it gives the tenant its own HNSW."""
RECALL_TARGET = 0.95
"""The share of the exact neighbours a tenant's index must find at its ``ef_search``."""
RECALL_PROBES = 50
"""Rows of the tenant searched for their neighbours (recall's standard error about 0.01 at 0.95)."""

# Redis / Valkey
REDIS_TIMEOUT = 0.25
"""Seconds a Redis command (and connecting) may take by default: short, because every caller of
the Redis adapters has a local answer when Redis is down (the cache is a miss, limits fall back),
so a frozen server should cost one short wait, after which the callers' circuit keeps them off
the socket."""

# The in-process cache (alone, or as the L1 in front of Redis)
CACHE_MAX_ENTRIES = 10_000
"""Entries the in-process LRU keeps."""
CACHE_MAX_BYTES = 64 * 1024 * 1024
"""Bytes (keys, values and a small per-entry overhead) the in-process LRU keeps."""
CACHE_L1_TTL = 5.0
"""Seconds an entry may live in the L1 in front of Redis (another instance's write is seen
within it even if its invalidation is lost)."""

# NATS JetStream
NATS_REPLICAS = 1
"""Replicas of the JetStream streams (1 on a single server; 3 on a cluster)."""
