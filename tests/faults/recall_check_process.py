"""One process that builds and checks a tenant's HNSW index (for ``test_recall_check_kill.py``).

Run as ``python -m tests.faults.recall_check_process DSN SCHEMA``: it opens the vector store in
schema ``SCHEMA`` with a slow recall check (1,000 probes) and runs :meth:`PgVectorStore.reorganize`,
which promotes the tenant, builds its index and checks it, until killed or done.
"""

from __future__ import annotations

import asyncio
import sys

from motadata_ai.adapters.postgres.database import PostgresDatabase
from motadata_ai.adapters.postgres.vector_store import PgVectorStore

DIMENSIONS = 64
THRESHOLD = 100
SLOW_PROBES = 1000


def store_for(database: PostgresDatabase, **options: object) -> PgVectorStore:
    """The store both processes open (the parent with ``auto_promote=False`` to load)."""
    return PgVectorStore(
        database, dimensions=DIMENSIONS, exact_search_below=THRESHOLD, **options  # type: ignore[arg-type]
    )


async def main(dsn: str, schema: str) -> None:
    database = await PostgresDatabase.connect(
        dsn, min_size=1, max_size=2, server_settings={"search_path": f"{schema},public"}
    )
    store = store_for(database, recall_probes=SLOW_PROBES)
    await store.setup()
    await store.reorganize()
    print("done", flush=True)
    await database.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
