"""Keyword and hybrid search find a document by its own words in any script, rewriting on.

The default (deterministic) query rewrite keeps Unicode words whole, and both vector stores index
accented Latin, Cyrillic, Arabic and Hebrew words as words and CJK runs as character bigrams.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from motadata_ai.adapters.memory.documents import InMemoryDocumentStore
from motadata_ai.adapters.memory.embedding import HashEmbeddings
from motadata_ai.adapters.memory.llm import FunctionLLM
from motadata_ai.adapters.memory.vector_store import InMemoryVectorStore
from motadata_ai.adapters.postgres.documents import PostgresDocumentStore
from motadata_ai.adapters.postgres.vector_store import PgVectorStore
from motadata_ai.domain.gateway.config import GatewayConfig
from motadata_ai.domain.gateway.service import Gateway
from motadata_ai.domain.retrieval import RAGSystem
from motadata_ai.domain.values.documents import Document
from motadata_ai.domain.values.llm import EXTRACTIVE_CAPABILITIES
from motadata_ai.testing.servers.postgres import isolated_database

ARTICLES = {
    "fr": "Le café de la cafétéria est fermé le lundi; la clé du bureau est à l'accueil.",
    "de": "Der Drucker im Büro in München druckt nicht: Papierfach prüfen und neu starten.",
    "ru": "Чтобы сбросить пароль, откройте портал самообслуживания.",
    "zh": "打印机卡纸时，请关闭电源并联系服务台。",
    "ja": "今日の東京の天気は晴れです。会議室の予約はポータルから。",
    "ko": "비밀번호를 재설정하려면 셀프서비스 포털을 여세요.",
    "ar": "لإعادة تعيين كلمة المرور افتح بوابة الخدمة الذاتية",
    "he": "כדי לאפס את הסיסמה פתחו את פורטל השירות העצמי",
}
QUERIES = [
    ("fr", "Le café est-il fermé ?"),
    ("fr", "où est la clé"),
    ("de", "Drucker in München"),
    ("de", "Büro"),
    ("ru", "пароль"),
    ("zh", "打印机"),
    ("zh", "服务台在哪里？"),
    ("ja", "東京の天気は？"),
    ("ja", "会議室"),
    ("ko", "비밀번호"),
    ("ar", "كلمة المرور"),
    ("he", "הסיסמה"),
]


@pytest_asyncio.fixture(
    params=["memory", pytest.param("postgres", marks=pytest.mark.postgres)], loop_scope="session"
)
async def rag(request: pytest.FixtureRequest) -> AsyncIterator[RAGSystem]:
    gateway = Gateway(
        llm=FunctionLLM(lambda request: "See [1].", capabilities=EXTRACTIVE_CAPABILITIES),
        embeddings=HashEmbeddings(dimensions=64),
        config=GatewayConfig(
            default_model="local/extractive",
            default_embedding_model="hash",
            max_retries=0,
            requests_per_minute=0,
            enable_caching=False,
        ),
    )

    async def ingested(system: RAGSystem) -> RAGSystem:
        report = await system.ingest([Document(id=lang, text=text) for lang, text in ARTICLES.items()])
        assert report.created == len(ARTICLES)
        return system

    if request.param == "memory":
        yield await ingested(
            RAGSystem(
                gateway=gateway,
                vector_store=InMemoryVectorStore(dimensions=64),
                documents=InMemoryDocumentStore(),
                tenant="acme",
            )
        )
        return
    async with isolated_database(request.getfixturevalue("postgres_dsn")) as database:
        vectors = PgVectorStore(database, dimensions=64)
        await vectors.setup()
        yield await ingested(
            RAGSystem(
                gateway=gateway,
                vector_store=vectors,
                documents=PostgresDocumentStore(database),
                tenant="acme",
            )
        )


@pytest.mark.parametrize("mode", ["keyword", "hybrid"])
async def test_a_document_is_found_by_its_own_words(rag: RAGSystem, mode: str) -> None:
    assert rag.enable_query_rewriting
    for language, question in QUERIES:
        hits = await rag.retrieve(question, mode=mode, top_k=3)
        assert [h.document_id for h in hits[:1]] == [language], (question, [h.document_id for h in hits])


async def test_keyword_search_does_not_match_a_word_the_document_lacks(rag: RAGSystem) -> None:
    for question in ("caf", "nchen", "东京", "パスワード"):
        assert await rag.retrieve(question, mode="keyword") == [], question
