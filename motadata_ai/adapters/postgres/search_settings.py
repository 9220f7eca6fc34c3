"""The session settings a vector search runs with, and the same as a pool's connection defaults.

Every dense or keyword search of :class:`~motadata_ai.adapters.postgres.vector_store.PgVectorStore`
needs ``plan_cache_mode = force_custom_plan`` (plan with the actual tenant id, so PostgreSQL prunes
to the tenant's partition and costs its own HNSW index), its ``hnsw.ef_search``, and
``hnsw.iterative_scan`` for filtered searches, and ``enable_indexscan`` on (an exact search does
not need it off: its statement orders by an expression no index serves). A pool opened with
:func:`search_session_settings` as its ``server_settings`` has them as every connection's session
defaults (the pool's ``RESET ALL`` on release restores exactly those), so a search whose settings
equal the defaults sends no ``SET`` first: one round trip less per search.
"""

from __future__ import annotations

__all__ = ["search_session_settings"]


def search_session_settings(*, ef_search: int, iterative: bool = False) -> dict[str, str]:
    """The settings of a search (``iterative``: metadata filters)."""
    return {
        "plan_cache_mode": "force_custom_plan",
        "hnsw.ef_search": str(int(ef_search)),
        "hnsw.iterative_scan": "relaxed_order" if iterative else "off",
        "enable_indexscan": "on",
    }
