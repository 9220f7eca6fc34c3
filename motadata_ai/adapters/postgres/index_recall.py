"""The recall check of a tenant's HNSW index, run once the index is built.

An HNSW graph is approximate, and how well a build turned out varies: on the same million
vectors, built four times, the worst tenant's recall@10 at the same ``ef_search`` was 0.900,
0.790, 0.985 and 0.980 (``docs/vector_store.md``). :class:`RecallCheck` measures the built index
instead of trusting it: ``probes`` of the tenant's own rows (a fixed sample: the lowest
``hashtext(id)``) are each searched for their ``k`` nearest *other* rows, exactly (a scan of the
partition) and through the index, and ``ef_search`` is doubled from the size-based breadth until the
index finds ``target`` of the exact neighbours (at most 1,000, pgvector's limit). A hit counts
when its distance is within the exact ``k``-th distance, so rows at equal distances (duplicates,
ties) count as found whichever of them the index returns.

Both passes are one statement each over all the probes, on one read-only transaction whose
``SET LOCAL`` settings end with it. The cost is ``probes`` scans of the tenant's partition plus
the index searches: measured with 384-d vectors, 0.6 s for a tenant of 13,861 rows, 21 s for the
13 indexes (13,000 to 134,000 rows) of ``benchmarks/vector_search.py``'s 1M step, whose build
took 158-168 s with the checks.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from motadata_ai.adapters.defaults import RECALL_PROBES, RECALL_TARGET

__all__ = ["Calibration", "RecallCheck"]

MAX_EF_SEARCH = 1000  # pgvector's limit

logger = logging.getLogger("motadata_ai.postgres.index_recall")


@dataclass(frozen=True, slots=True)
class Calibration:
    """The ``ef_search`` chosen for one tenant's index and the recall@k measured at it."""

    ef_search: int
    recall: float


@dataclass(frozen=True, slots=True)
class RecallCheck:
    """Measures a built index's recall@``k`` on ``probes`` of its rows; widens ``ef_search`` to
    reach ``target`` (see the module doc)."""

    target: float = RECALL_TARGET
    probes: int = RECALL_PROBES
    k: int = 10

    async def calibrate(self, conn: Any, partition: str, *, start: int) -> Calibration:
        """The smallest of ``start``, ``2 * start`` ... 1,000 at which the index on ``partition``
        (a tenant's own table) reaches ``target``, and the recall there (``conn``: asyncpg)."""
        ef_search = max(1, min(start, MAX_EF_SEARCH))
        async with conn.transaction(readonly=True):
            # each statement planned for its own values (no generic plan of the prepared
            # statements), and the index pass through the index even where a scan looks cheaper
            await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
            exact = await self._neighbours(conn, partition, exact=True)
            if not exact:
                return Calibration(ef_search=ef_search, recall=1.0)
            await conn.execute("SET LOCAL enable_seqscan = off")
            while True:
                await conn.execute(f"SET LOCAL hnsw.ef_search = {int(ef_search)}")
                recall = self._recall(exact, await self._neighbours(conn, partition, exact=False))
                if recall >= self.target or ef_search >= MAX_EF_SEARCH:
                    if recall < self.target:
                        logger.warning(
                            "the HNSW index of %s finds %.3f of its rows' exact neighbours at "
                            "ef_search %d, below the target %.2f: rebuild it with a larger m or "
                            "ef_construction", partition, recall, ef_search, self.target,
                        )
                    return Calibration(ef_search=ef_search, recall=recall)
                ef_search = min(MAX_EF_SEARCH, ef_search * 2)

    async def _neighbours(self, conn: Any, partition: str, *, exact: bool) -> dict[str, list[float]]:
        """Each probe's distances to its ``k`` nearest other rows, nearest first: ``exact`` by a
        scan (ordered by an expression no index serves), else through the index."""
        distance = "n.embedding <=> p.embedding"
        order = f"({distance}) + 0" if exact else distance
        rows = await conn.fetch(
            f"WITH probes AS MATERIALIZED (SELECT id, embedding FROM {partition} "
            "ORDER BY hashtext(id), id LIMIT $1) "
            f"SELECT p.id, ARRAY(SELECT {distance} FROM {partition} n WHERE n.id <> p.id "
            f"ORDER BY {order} LIMIT $2) AS distances FROM probes p",
            self.probes,
            self.k,
        )
        # a zero vector's cosine distances are NaN: not neighbours of anything
        return {row["id"]: [d for d in row["distances"] if d == d] for row in rows}

    def _recall(self, exact: dict[str, list[float]], found: dict[str, list[float]]) -> float:
        """The share of the exact neighbours found, ties at the ``k``-th distance included."""
        wanted = hits = 0
        for probe, distances in exact.items():
            if not distances:
                continue
            limit = distances[-1] + 1e-6
            wanted += len(distances)
            hits += min(len(distances), sum(1 for d in found.get(probe, ()) if d <= limit))
        return hits / wanted if wanted else 1.0
