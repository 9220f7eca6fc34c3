"""Redis (or Valkey) adapters over ``redis.asyncio``."""

from motadata_ai.adapters.redis.cache import RedisCache

__all__ = ["RedisCache"]
