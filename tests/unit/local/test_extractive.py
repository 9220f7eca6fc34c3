"""The extractive generator: answers from context with citations, or says the context lacks it."""

from __future__ import annotations

import json

import pytest

from motadata_ai.adapters.local.extractive import (
    NO_QUESTION,
    NOT_FOUND,
    TOOL_ROLE_KEY,
    ExtractiveGenerator,
    split_sentences,
    stem,
    terms,
)
from motadata_ai.domain.agents.knowledge import KNOWLEDGE_SEARCH
from motadata_ai.domain.values.llm import KNOWLEDGE_SEARCH_ROLE
from motadata_ai.domain.values.passages import Passage, format_passages

PASSAGES = [
    Passage(
        index=1,
        title="VPN troubleshooting",
        text="The VPN client is GlobalProtect. To reset your VPN password, open the self-service portal "
        "and choose Reset password. A new password works after five minutes.",
    ),
    Passage(
        index=2,
        title="Printer supplies",
        text="Printers on floor 3 use HP-300 toner cartridges. Order toner from the service catalog.",
    ),
    Passage(
        index=3,
        title="Laptop policy",
        text="Laptops are replaced every four years. "
        "Lost laptops must be reported to security within 24 hours.",
    ),
]
SEARCH_TOOL = {
    "type": "function",
    "function": {"name": KNOWLEDGE_SEARCH, "parameters": {}},
    TOOL_ROLE_KEY: KNOWLEDGE_SEARCH_ROLE,
}


@pytest.fixture
def generator() -> ExtractiveGenerator:
    return ExtractiveGenerator()


def test_answer_found_with_the_right_citation(generator: ExtractiveGenerator) -> None:
    answer = generator.answer("How do I reset my VPN password?", PASSAGES)
    assert answer.found
    assert answer.text.startswith("To reset your VPN password, open the self-service portal")
    assert answer.citations[0] == 1
    assert "[1]" in answer.text


@pytest.mark.parametrize(
    ("question", "passage", "phrase"),
    [
        ("Which toner do the printers on floor 3 use?", 2, "HP-300 toner"),
        ("How often are laptops replaced?", 3, "every four years"),
        ("Who must a lost laptop be reported to?", 3, "reported to security"),
        ("When does a new password start working?", 1, "five minutes"),
    ],
)
def test_citations_map_to_the_supporting_passage(
    generator: ExtractiveGenerator, question: str, passage: int, phrase: str
) -> None:
    answer = generator.answer(question, PASSAGES)
    assert answer.found, question
    assert answer.citations[0] == passage
    assert phrase in answer.sentences[0].text
    assert answer.text.split(" [")[1].startswith(f"{passage}]")


def test_answer_absent_says_so(generator: ExtractiveGenerator) -> None:
    for question in ("What is the capital of France?", "How do I configure the Kubernetes ingress?"):
        answer = generator.answer(question, PASSAGES)
        assert not answer.found
        assert answer.text == NOT_FOUND
        assert answer.citations == ()


def test_no_passages_or_no_question(generator: ExtractiveGenerator) -> None:
    assert generator.answer("How do I reset my VPN password?", []).text == NOT_FOUND
    assert generator.answer("   ", PASSAGES).text == NO_QUESTION
    assert not generator.answer("what is it?", PASSAGES).found  # only stopwords


def test_at_most_max_sentences_and_no_repeats() -> None:
    passages = [
        Passage(
            index=1,
            title="a",
            text="Reset the VPN password in the portal. Reset the VPN password in the portal.",
        ),
        Passage(index=2, title="b", text="The VPN password reset takes five minutes in the portal."),
        Passage(index=3, title="c", text="A VPN password reset needs the portal and MFA."),
    ]
    for strategy in ("passage", "sentence"):
        answer = ExtractiveGenerator(max_sentences=2, strategy=strategy).answer(
            "What about the VPN password in the portal?", passages
        )
        assert answer.found, strategy
        assert len(answer.sentences) == 2, strategy
        assert len({s.text for s in answer.sentences}) == 2, strategy


def test_deterministic(generator: ExtractiveGenerator) -> None:
    first = generator.answer("How do I reset my VPN password?", PASSAGES)
    for _ in range(3):
        assert generator.answer("How do I reset my VPN password?", PASSAGES) == first


def test_threshold_is_configurable() -> None:
    question = "Which GlobalProtect toner?"  # half the terms in one sentence, half in another
    assert not ExtractiveGenerator(min_support=0.9).answer(question, PASSAGES).found
    assert ExtractiveGenerator(min_support=0.3).answer(question, PASSAGES).found


def test_similarity_is_blended_in() -> None:
    calls: list[tuple[str, int]] = []

    def similarity(question: str, texts: list[str]) -> list[float]:
        calls.append((question, len(texts)))
        return [1.0 if "four years" in t else 0.0 for t in texts]

    generator = ExtractiveGenerator(similarity=similarity, similarity_weight=0.9, min_support=0.3)
    answer = generator.answer("How often are laptops replaced or reported?", PASSAGES)
    assert calls and calls[0][1] >= 2  # the sentences of the passages that support the question
    assert "every four years" in answer.sentences[0].text


def test_bad_options() -> None:
    with pytest.raises(ValueError):
        ExtractiveGenerator(max_sentences=0)
    with pytest.raises(ValueError):
        ExtractiveGenerator(min_support=0)


# --- chat behaviour ----------------------------------------------------------------------------


def test_respond_reads_passages_from_the_system_message(generator: ExtractiveGenerator) -> None:
    messages = [
        {"role": "system", "content": "Answer from this context:\n" + format_passages(PASSAGES)},
        {"role": "user", "content": "How do I reset my VPN password?"},
    ]
    reply = generator.respond(messages)
    assert reply.tool_call is None
    assert reply.text is not None and "[1]" in reply.text
    assert reply.metadata["generator"] == "extractive"
    assert reply.metadata["found"] is True
    assert reply.metadata["citations"][0] == 1


def test_respond_reads_passages_and_question_marker_from_the_user_message(
    generator: ExtractiveGenerator,
) -> None:
    content = "Context:\n" + format_passages(PASSAGES) + "\nQuestion: Which toner do floor 3 printers use?"
    reply = generator.respond([{"role": "user", "content": content}])
    assert reply.text is not None and reply.text.endswith("[2]")


def test_respond_without_context_says_so(generator: ExtractiveGenerator) -> None:
    reply = generator.respond([{"role": "user", "content": "How do I reset my VPN password?"}])
    assert reply.text == NOT_FOUND
    assert reply.metadata["found"] is False


def test_knowledge_search_is_called_first(generator: ExtractiveGenerator) -> None:
    messages = [{"role": "user", "content": "How do I reset my VPN password?"}]
    reply = generator.respond(messages, [SEARCH_TOOL])
    assert reply.text is None
    assert reply.tool_call is not None
    name, arguments = reply.tool_call
    assert name == KNOWLEDGE_SEARCH
    assert json.loads(arguments) == {"query": "How do I reset my VPN password?"}


def test_the_search_tool_is_found_by_its_declared_role_under_any_name(generator: ExtractiveGenerator) -> None:
    renamed = {"type": "function", "function": {"name": "kb_lookup"}, TOOL_ROLE_KEY: KNOWLEDGE_SEARCH_ROLE}
    reply = generator.respond([{"role": "user", "content": "How do I reset my VPN password?"}], [renamed])
    assert reply.tool_call is not None
    assert reply.tool_call[0] == "kb_lookup"


def test_a_tool_named_like_the_search_without_the_role_is_not_called(generator: ExtractiveGenerator) -> None:
    unstated = {"type": "function", "function": {"name": KNOWLEDGE_SEARCH}}
    reply = generator.respond([{"role": "user", "content": "How do I reset my VPN password?"}], [unstated])
    assert reply.tool_call is None


def test_other_tools_are_not_called(generator: ExtractiveGenerator) -> None:
    other = {"type": "function", "function": {"name": "restart_service"}}
    reply = generator.respond([{"role": "user", "content": "Restart nginx"}], [other])
    assert reply.tool_call is None
    assert reply.text == NOT_FOUND


def test_answers_from_the_tool_result_once_present(generator: ExtractiveGenerator) -> None:
    messages = [
        {"role": "user", "content": "How do I reset my VPN password?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": KNOWLEDGE_SEARCH}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": format_passages(PASSAGES)},
    ]
    reply = generator.respond(messages, [SEARCH_TOOL])
    assert reply.tool_call is None
    assert reply.text is not None and "self-service portal" in reply.text and "[1]" in reply.text


def test_empty_tool_result_gives_not_found(generator: ExtractiveGenerator) -> None:
    messages = [
        {"role": "user", "content": "How do I reset my VPN password?"},
        {"role": "tool", "tool_call_id": "c1", "content": "No results."},
    ]
    assert generator.respond(messages, [SEARCH_TOOL]).text == NOT_FOUND


# --- text processing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("passwords", "password"),
        ("resetting", "reset"),
        ("configured", "configur"),
        ("configure", "configur"),
        ("policies", "policy"),
        ("boxes", "box"),
        ("files", "file"),
        ("running", "run"),
        ("status", "status"),
    ],
)
def test_stem(word: str, expected: str) -> None:
    assert stem(word) == expected


def test_terms_drop_stopwords() -> None:
    assert terms("How do I reset the VPN passwords?") == ["reset", "vpn", "password"]


def test_split_sentences() -> None:
    text = "First one. Second one! Third? 4 items remain.\nNew line here"
    assert split_sentences(text) == [
        "First one.",
        "Second one!",
        "Third?",
        "4 items remain.",
        "New line here",
    ]
    assert split_sentences("Version 2.5 is out. e.g. this stays") == ["Version 2.5 is out. e.g. this stays"]
