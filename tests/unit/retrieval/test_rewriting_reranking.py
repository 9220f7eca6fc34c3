"""Query rewriting and re-ranking with scripted models."""

from __future__ import annotations

from motadata_ai.domain.retrieval.reranking import LLMReranker, ScoreFusionReranker, parse_grades
from motadata_ai.domain.retrieval.rewriting import KeywordQueryRewriter, LLMQueryRewriter
from motadata_ai.domain.values.documents import Source
from motadata_ai.domain.values.llm import ChatRequest, ChatResponse, Message, Usage
from motadata_ai.domain.values.tenancy import TenantContext
from motadata_ai.ports.llm import ProviderUnavailable

T = TenantContext(tenant_id="t1")


def reply(text: str) -> ChatResponse:
    return ChatResponse(
        id="r",
        model="m",
        message=Message(role="assistant", content=text),
        usage=Usage(input_tokens=5, output_tokens=2),
    )


def test_keyword_rewrite_drops_stop_words_and_expands_itsm_terms() -> None:
    rewritten = KeywordQueryRewriter().rewrite_sync("How do I set up MFA on my new phone?")
    assert rewritten.dense == "How do I set up MFA on my new phone?"
    assert rewritten.keyword.split()[:3] == ["set", "mfa", "new"]
    assert "multi-factor" in rewritten.expansions and "mobile" in rewritten.expansions


def test_follow_up_carries_the_previous_questions_keywords() -> None:
    rewriter = KeywordQueryRewriter()
    rewritten = rewriter.rewrite_sync("And how long does it take?", ["How do I request software?"])
    assert "software" in rewritten.keyword and "request" in rewritten.keyword
    assert "software" in rewritten.dense
    standalone = rewriter.rewrite_sync("How do I reset my password?", ["How do I request software?"])
    assert "software" not in standalone.keyword


def test_keyword_rewrite_keeps_words_of_every_script_whole() -> None:
    rewriter = KeywordQueryRewriter()
    assert rewriter.rewrite_sync("Is the café in München open?").keyword == "café münchen open"
    # a combining accent is the same word as the precomposed letter
    assert rewriter.rewrite_sync("cafe\u0301 hours").keyword == "café hours"
    assert rewriter.rewrite_sync("Как сбросить пароль?").keyword == "как сбросить пароль"
    assert rewriter.rewrite_sync("打印机卡纸怎么办？").keyword == "打印机卡纸怎么办"
    assert rewriter.rewrite_sync("كيف أعيد تعيين كلمة المرور؟").keyword == "كيف أعيد تعيين كلمة المرور"
    assert rewriter.rewrite_sync("אֵיךְ מְאַפְּסִים סִיסְמָה").keyword == "אֵיךְ מְאַפְּסִים סִיסְמָה"
    assert rewriter.rewrite_sync("हिन्दी में पासवर्ड").keyword == "हिन्दी में पासवर्ड"
    assert rewriter.rewrite_sync("I can’t join the wi-fi").keyword.split()[:2] == ["join", "wi-fi"]


async def test_llm_rewriter_uses_the_model_and_falls_back_on_failure() -> None:
    seen: list[ChatRequest] = []

    async def generate(request: ChatRequest, tenant: TenantContext) -> ChatResponse:
        seen.append(request)
        return reply("VPN client disconnects frequently on Windows\nextra line")

    rewriter = LLMQueryRewriter(generate=generate, model="gpt-x")
    rewritten = await rewriter.rewrite("why does it keep dropping?", ["VPN on Windows"], tenant=T)
    assert rewritten.dense == "VPN client disconnects frequently on Windows"
    assert "vpn" in rewritten.keyword
    assert "VPN on Windows" in (seen[0].messages[-1].content or "")
    assert rewriter.usage.input_tokens == 5

    async def failing(request: ChatRequest, tenant: TenantContext) -> ChatResponse:
        raise ProviderUnavailable("down", model="gpt-x")

    fallback = await LLMQueryRewriter(generate=failing, model="gpt-x").rewrite("reset password", tenant=T)
    assert fallback.dense == "reset password"


def candidates() -> list[Source]:
    return [
        Source(chunk_id="a", document_id="a", text="alpha", dense_score=0.30, keyword_score=9.0),
        Source(chunk_id="b", document_id="b", text="beta", dense_score=0.80, keyword_score=None),
        Source(chunk_id="c", document_id="c", text="gamma", dense_score=0.75, keyword_score=8.0),
        Source(chunk_id="d", document_id="d", text="delta", dense_score=0.10, keyword_score=1.0),
    ]


async def test_score_fusion_reranker_uses_both_scores() -> None:
    ranked = await ScoreFusionReranker(alpha=0.5).rerank("q", candidates(), tenant=T)
    assert [s.chunk_id for s in ranked] == ["c", "a", "b", "d"]
    dense_only = await ScoreFusionReranker(alpha=1.0).rerank("q", candidates(), tenant=T)
    assert [s.chunk_id for s in dense_only] == ["b", "c", "a", "d"]


async def test_llm_reranker_orders_by_grades_and_survives_garbage() -> None:
    async def generate(request: ChatRequest, tenant: TenantContext) -> ChatResponse:
        return reply('{"scores": [2, 9, 5, 1]}')

    ranked = await LLMReranker(generate=generate, model="m").rerank("q", candidates(), tenant=T)
    assert [s.chunk_id for s in ranked] == ["b", "c", "a", "d"]
    assert ranked[0].score > ranked[1].score

    async def garbage(request: ChatRequest, tenant: TenantContext) -> ChatResponse:
        return reply("I think the second one")

    kept = await LLMReranker(generate=garbage, model="m").rerank("q", candidates(), tenant=T)
    assert [s.chunk_id for s in kept] == ["a", "b", "c", "d"]
    assert parse_grades("[1, 2]", 2) == [1.0, 2.0] and parse_grades("{}", 2) is None
