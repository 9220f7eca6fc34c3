"""InMemoryVectorStore: the in-process VectorStorePort (exact cosine search, BM25 keyword search).

It is the reference behaviour the PostgreSQL store is contract-tested against, the store of the
``memory`` profile, and the exact-search baseline of ``benchmarks/vector_search.py``. The input
checks shared by every vector store adapter (:func:`check_records`, :func:`check_filters`,
:func:`check_query_vector`, :func:`check_top_k`) live here too, so all adapters refuse the same
bad input with the same errors.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from motadata_ai.adapters.memory._health import InProcessProbe
from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.domain.values.tenancy import TenantContext
from motadata_ai.domain.values.vectors import (
    MetadataFilter,
    SearchHit,
    VectorRecord,
    check_filters,
    check_query_floats,
)
from motadata_ai.domain.values.words import unicode_words
from motadata_ai.ports.vector_store import DimensionMismatch, VectorStorePort

__all__ = [
    "CJK_CHARACTERS",
    "MAX_TOP_K",
    "InMemoryVectorStore",
    "check_delete_criteria",
    "check_document_id",
    "check_filters",
    "check_ids",
    "check_query_vector",
    "check_records",
    "check_top_k",
    "cjk_bigrams",
    "keyword_terms",
    "matches_filters",
]

MAX_TOP_K = 1000
"""The largest ``top_k`` a search accepts."""

# A small English stop list and suffix stripper so keyword search behaves like PostgreSQL's
# 'english' text search configuration on the cases that matter (plurals, -ing, -ed, stop words).
_STOP_WORDS = frozenset(
    "a an and are as at be but by for from has have how i if in into is it its me my no not of on or our "
    "so that the their them then there these they this to was we were what when where which who why will "
    "with you your do does did can could should would".split()
)
_JOINER = re.compile(r"['\-]")


def _stem(word: str) -> str:
    for suffix, keep in (("ies", "y"), ("sses", "ss"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            if suffix == "s" and word.endswith("ss"):
                return word
            return word[: len(word) - len(suffix)] + keep
    return word


CJK_CHARACTERS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
"""Kana, CJK ideographs and Hangul syllables: scripts written without spaces between words, which
keyword search indexes as overlapping character bigrams (the PostgreSQL store does the same)."""
_CJK_RUN = re.compile(f"([{CJK_CHARACTERS}]+)")


def cjk_bigrams(run: str) -> list[str]:
    """Overlapping two-character terms of a CJK run ("東京都" → "東京", "京都"); a lone character stays."""
    if len(run) < 2:
        return [run]
    return [run[i : i + 2] for i in range(len(run) - 1)]


def keyword_terms(text: str) -> list[str]:
    """Lower-cased, stop-word-free, lightly stemmed terms of ``text`` (the in-memory analyser).

    Words are Unicode words of any script (:func:`unicode_words`), split at inner hyphens and
    apostrophes like PostgreSQL's parser does; CJK runs become character bigrams
    (:func:`cjk_bigrams`), so a word inside an unspaced sentence is found.
    """
    terms: list[str] = []
    for word in unicode_words(text.lower()):
        for piece in _CJK_RUN.split(word):
            if not piece:
                continue
            if _CJK_RUN.fullmatch(piece):
                terms.extend(cjk_bigrams(piece))
                continue
            terms.extend(_stem(part) for part in _JOINER.split(piece) if part and part not in _STOP_WORDS)
    return terms


def check_top_k(top_k: int) -> None:
    """Refuse a ``top_k`` outside ``1..MAX_TOP_K``."""
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= MAX_TOP_K:
        raise ValidationError(f"top_k must be an integer in 1..{MAX_TOP_K}, got {top_k!r}", field="top_k")


def check_query_vector(vector: Sequence[float], dimensions: int) -> list[float]:
    """The query vector as floats; refuse anything but finite numbers
    (:func:`~motadata_ai.domain.values.vectors.check_query_floats`), a wrong length or a zero
    vector."""
    values = check_query_floats(vector, field="vector")
    if len(values) != dimensions:
        raise DimensionMismatch(
            f"query vector has {len(values)} dimensions; the store holds {dimensions}",
            field="vector",
            expected=dimensions,
            actual=len(values),
        )
    if not any(values):
        raise ValidationError("query vector is all zeros; cosine similarity is undefined", field="vector")
    return values


def matches_filters(metadata: dict[str, Any], filters: MetadataFilter) -> bool:
    """Whether ``metadata`` satisfies every filter (equality; a list means any of)."""
    for key, wanted in filters.items():
        if key not in metadata:
            return False
        actual = metadata[key]
        options = list(wanted) if isinstance(wanted, list | tuple) else [wanted]
        if not any(_json_equal(actual, option) for option in options):
            return False
    return True


def _json_equal(a: Any, b: Any) -> bool:
    # JSON semantics: true != 1, 1 == 1.0
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return bool(a == b)


def check_records(
    tenant: TenantContext,
    records: Sequence[VectorRecord],
    dimensions: int,
    *,
    document_id: str | None = None,
) -> list[VectorRecord]:
    """Validate a write batch and return it with duplicate ids collapsed (the last one wins).

    Refuses: a record of another tenant, a wrong vector length, NaN/infinite values, text with NUL
    characters, non-JSON metadata, an empty id, and (with ``document_id``) a record of another
    document. Nothing is written when any record is refused.
    """
    if isinstance(records, VectorRecord) or not isinstance(records, Sequence):
        raise ValidationError("records must be a sequence of VectorRecord", field="records")
    by_id: dict[str, VectorRecord] = {}
    for position, record in enumerate(records):
        if not isinstance(record, VectorRecord):
            raise ValidationError(
                f"records[{position}] is a {type(record).__name__}, not a VectorRecord", field="records"
            )
        if record.tenant_id != tenant.tenant_id:
            raise ValidationError(
                f"record {record.id!r} belongs to tenant {record.tenant_id!r}, "
                f"not to the calling tenant {tenant.tenant_id!r}",
                field="tenant_id",
                tenant_id=tenant.tenant_id,
                record_id=record.id,
            )
        if not record.id:
            raise ValidationError(f"records[{position}] has an empty id", field="id")
        if document_id is not None and record.document_id != document_id:
            raise ValidationError(
                f"record {record.id!r} belongs to document {record.document_id!r}, "
                f"not to {document_id!r} being replaced",
                field="document_id",
                record_id=record.id,
            )
        if len(record.embedding) != dimensions:
            raise DimensionMismatch(
                f"record {record.id!r} has a {len(record.embedding)}-dimensional embedding; "
                f"the store holds {dimensions}",
                field="embedding",
                record_id=record.id,
                expected=dimensions,
                actual=len(record.embedding),
                tenant_id=tenant.tenant_id,
            )
        # one C-level sum is finite iff every value is (save overflow, which the full check settles)
        if not math.isfinite(sum(record.embedding)) and not all(math.isfinite(v) for v in record.embedding):
            raise ValidationError(
                f"record {record.id!r} embedding holds NaN or infinite values", field="embedding",
                record_id=record.id,
            )
        for name, value in (("id", record.id), ("document_id", record.document_id), ("text", record.text)):
            if "\x00" in value:
                raise ValidationError(
                    f"record {record.id!r} {name} holds a NUL character", field=name, record_id=record.id
                )
        _check_json(record.metadata, record.id)
        by_id[record.id] = record
    return list(by_id.values())


def _check_json(value: Any, record_id: str, path: str = "metadata") -> None:
    if value is None or isinstance(value, bool | int | str):
        if isinstance(value, str) and "\x00" in value:
            raise ValidationError(f"record {record_id!r} {path} holds a NUL character", field="metadata")
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValidationError(f"record {record_id!r} {path} is not a finite number", field="metadata")
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_json(item, record_id, f"{path}[{index}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) or "\x00" in key:
                raise ValidationError(
                    f"record {record_id!r} {path} has a non-string key or one with a NUL character",
                    field="metadata",
                )
            _check_json(item, record_id, f"{path}.{key}")
        return
    raise ValidationError(
        f"record {record_id!r} {path} holds a {type(value).__name__}, which is not JSON", field="metadata"
    )


class _TenantIndex:
    """One tenant's records plus lazily rebuilt search structures."""

    def __init__(self) -> None:
        self.records: dict[str, VectorRecord] = {}
        self._matrix: np.ndarray | None = None
        self._ids: list[str] = []
        self._terms: dict[str, Counter[str]] | None = None

    def changed(self) -> None:
        self._matrix = None
        self._terms = None

    def matrix(self) -> tuple[list[str], np.ndarray]:
        if self._matrix is None:
            self._ids = list(self.records)
            if self._ids:
                matrix = np.array([self.records[i].embedding for i in self._ids], dtype=np.float32)
                norms = np.linalg.norm(matrix, axis=1, keepdims=True)
                norms[norms == 0] = 1.0
                self._matrix = matrix / norms
            else:
                self._matrix = np.zeros((0, 0), dtype=np.float32)
        return self._ids, self._matrix

    def terms(self) -> dict[str, Counter[str]]:
        if self._terms is None:
            self._terms = {rid: Counter(keyword_terms(r.text)) for rid, r in self.records.items()}
        return self._terms


class InMemoryVectorStore(InProcessProbe, VectorStorePort):
    """Exact, tenant-partitioned vector store in process memory.

    Dense search is exact cosine similarity (score = 1 - cosine distance); keyword search is BM25
    (k1=1.2, b=0.75) over lower-cased, stop-word-free, lightly stemmed terms with OR semantics.
    Writes are validated first and applied whole, so a refused batch changes nothing.
    """

    def __init__(self, *, dimensions: int) -> None:
        if isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 1:
            raise ValidationError(
                f"dimensions must be a positive integer, got {dimensions!r}", field="dimensions"
            )
        self.dimensions = dimensions
        self._tenants: dict[str, _TenantIndex] = {}
        self._lock = asyncio.Lock()

    def _index(self, tenant: TenantContext) -> _TenantIndex:
        return self._tenants.setdefault(tenant.tenant_id, _TenantIndex())

    async def upsert(self, tenant: TenantContext, records: Sequence[VectorRecord]) -> int:
        """Insert or replace records by id; every record's ``tenant_id`` must be the tenant's."""
        tenant = TenantContext.of(tenant)
        batch = check_records(tenant, records, self.dimensions)
        async with self._lock:
            index = self._index(tenant)
            for record in batch:
                index.records[record.id] = record
            index.changed()
        return len(batch)

    def replace_document_now(
        self, tenant: TenantContext, document_id: str, batch: list[VectorRecord]
    ) -> None:
        """Swap every chunk of ``document_id`` for ``batch`` (already checked) with no await in between.

        For :meth:`InMemoryDocumentStore.write_version`, which calls it while holding :attr:`lock`
        and its own per-document lock, so the version and its chunks change as one step.
        """
        index = self._index(tenant)
        kept = {rid: r for rid, r in index.records.items() if r.document_id != document_id}
        for record in batch:
            kept[record.id] = record
        index.records = kept
        index.changed()

    def delete_document_now(self, tenant: TenantContext, document_id: str) -> int:
        """Remove every chunk of ``document_id`` with no await (caller holds :attr:`lock`); how many."""
        index = self._index(tenant)
        doomed = [rid for rid, record in index.records.items() if record.document_id == document_id]
        for rid in doomed:
            del index.records[rid]
        if doomed:
            index.changed()
        return len(doomed)

    @property
    def lock(self) -> asyncio.Lock:
        """The lock every write holds while it changes the records."""
        return self._lock

    async def delete(
        self,
        tenant: TenantContext,
        *,
        ids: Sequence[str] | None = None,
        document_id: str | None = None,
        filters: MetadataFilter | None = None,
    ) -> int:
        """Delete the tenant's records matching every given criterion; return how many."""
        tenant = TenantContext.of(tenant)
        check_delete_criteria(ids, document_id, filters)
        wanted = check_filters(filters)
        id_set = None if ids is None else set(ids)
        async with self._lock:
            index = self._index(tenant)
            doomed = [
                rid
                for rid, record in index.records.items()
                if (id_set is None or rid in id_set)
                and (document_id is None or record.document_id == document_id)
                and matches_filters(record.metadata, wanted)
            ]
            for rid in doomed:
                del index.records[rid]
            if doomed:
                index.changed()
        return len(doomed)

    async def dense_search(
        self,
        tenant: TenantContext,
        vector: Sequence[float],
        *,
        top_k: int = 5,
        filters: MetadataFilter | None = None,
        min_score: float | None = None,
    ) -> list[SearchHit]:
        """Nearest records by cosine similarity (score = 1 - cosine distance), best first."""
        tenant = TenantContext.of(tenant)
        check_top_k(top_k)
        query = check_query_vector(vector, self.dimensions)
        wanted = check_filters(filters)
        index = self._tenants.get(tenant.tenant_id)
        if index is None or not index.records:
            return []
        ids, matrix = index.matrix()
        q = np.asarray(query, dtype=np.float32)
        q /= np.linalg.norm(q)
        scores = matrix @ q
        if wanted:
            mask = np.array([matches_filters(index.records[i].metadata, wanted) for i in ids])
            scores = np.where(mask, scores, -np.inf)
        take = min(top_k, len(ids))
        best = np.argpartition(-scores, take - 1)[:take]
        order = sorted(best.tolist(), key=lambda i: (-float(scores[i]), ids[i]))
        hits = []
        for i in order:
            score = float(scores[i])
            if score == -np.inf or (min_score is not None and score < min_score):
                continue
            hits.append(SearchHit(record=index.records[ids[i]], score=score))
        return hits

    async def keyword_search(
        self, tenant: TenantContext, query: str, *, top_k: int = 5, filters: MetadataFilter | None = None
    ) -> list[SearchHit]:
        """Full-text matches ranked by BM25, best first; a query without terms returns nothing."""
        tenant = TenantContext.of(tenant)
        check_top_k(top_k)
        if not isinstance(query, str):
            raise ValidationError("query must be a string", field="query")
        wanted = check_filters(filters)
        query_terms = set(keyword_terms(query))
        index = self._tenants.get(tenant.tenant_id)
        if not query_terms or index is None or not index.records:
            return []
        docs = index.terms()
        n_docs = len(docs)
        avg_len = sum(sum(c.values()) for c in docs.values()) / n_docs or 1.0
        doc_freq = {t: sum(1 for c in docs.values() if t in c) for t in query_terms}
        scored: list[tuple[float, str]] = []
        for rid, counts in docs.items():
            if not query_terms.intersection(counts):
                continue
            if wanted and not matches_filters(index.records[rid].metadata, wanted):
                continue
            length = sum(counts.values())
            score = 0.0
            for term in query_terms:
                tf = counts.get(term, 0)
                if not tf:
                    continue
                idf = math.log(1 + (n_docs - doc_freq[term] + 0.5) / (doc_freq[term] + 0.5))
                score += idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * length / avg_len))
            scored.append((score, rid))
        scored.sort(key=lambda item: (-item[0], item[1]))
        return [SearchHit(record=index.records[rid], score=score) for score, rid in scored[:top_k]]

    async def count(self, tenant: TenantContext, *, filters: MetadataFilter | None = None) -> int:
        """How many records the tenant has (matching ``filters``)."""
        tenant = TenantContext.of(tenant)
        wanted = check_filters(filters)
        index = self._tenants.get(tenant.tenant_id)
        if index is None:
            return 0
        return sum(1 for r in index.records.values() if matches_filters(r.metadata, wanted))

    async def get(self, tenant: TenantContext, ids: Sequence[str]) -> list[VectorRecord]:
        """The tenant's records with these ids, in the order asked (missing ids are left out)."""
        tenant = TenantContext.of(tenant)
        check_ids(ids)
        index = self._tenants.get(tenant.tenant_id)
        if index is None:
            return []
        seen: set[str] = set()
        found = []
        for rid in ids:
            if rid in index.records and rid not in seen:
                seen.add(rid)
                found.append(index.records[rid])
        return found


def check_ids(ids: Sequence[str]) -> None:
    """Refuse an id list that is a bare string or holds non-strings."""
    if isinstance(ids, str) or not isinstance(ids, Sequence):
        raise ValidationError("ids must be a sequence of strings", field="ids")
    for rid in ids:
        if not isinstance(rid, str):
            raise ValidationError(f"id {rid!r} is not a string", field="ids")


def check_document_id(document_id: str) -> None:
    """Refuse an empty or non-string document id."""
    if not isinstance(document_id, str) or not document_id or "\x00" in document_id:
        raise ValidationError(
            f"document_id must be a non-empty string, got {document_id!r}", field="document_id"
        )


def check_delete_criteria(
    ids: Sequence[str] | None, document_id: str | None, filters: MetadataFilter | None
) -> None:
    """Refuse a delete without any criterion, and malformed ids or document id."""
    if ids is None and document_id is None and filters is None:
        raise ValidationError(
            "delete needs at least one of ids, document_id or filters (refusing to delete everything)",
            field="criteria",
        )
    if ids is not None:
        check_ids(ids)
    if document_id is not None:
        check_document_id(document_id)

