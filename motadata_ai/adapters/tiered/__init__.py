"""The tiered cache: an in-process L1 in front of a shared L2, with invalidation broadcasts."""

from motadata_ai.adapters.tiered.cache import TieredCache, TierStats
from motadata_ai.adapters.tiered.invalidation import (
    Invalidation,
    InvalidationChannel,
    LocalInvalidations,
    RedisInvalidations,
)

__all__ = [
    "Invalidation",
    "InvalidationChannel",
    "LocalInvalidations",
    "RedisInvalidations",
    "TierStats",
    "TieredCache",
]
