"""The local extractive generator: answers from the supplied context, never beyond it.

It cannot write new text: it picks the 1-3 sentences of the context passages that best support
the question (BM25 over sentences, stopwords removed, light stemming; optionally blended with an
embedding similarity), cites them as ``[n]``, and says plainly when the context lacks the answer.
Everything is deterministic: the same messages give the same answer.

Context passages and the question follow :mod:`motadata_ai.domain.values.passages`. With a
``knowledge_search`` tool offered and no tool result yet, it asks for the search instead of
answering (so an agent on the embedded default still completes a task).
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from motadata_ai.domain.values.passages import Passage, parse_passages, question_of

__all__ = [
    "EXTRACTIVE_MODEL",
    "KNOWLEDGE_SEARCH_TOOL",
    "NOT_FOUND",
    "ExtractiveAnswer",
    "ExtractiveGenerator",
    "ExtractiveReply",
    "stem",
    "terms",
]

NOT_FOUND = "I could not find the answer in the provided context."
NO_QUESTION = "I could not find a question to answer."
EXTRACTIVE_MODEL = "extractive"
KNOWLEDGE_SEARCH_TOOL = "knowledge_search"

_WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])|\s*\n+\s*|(?<=;)\s+")
_STOPWORDS = frozenset(
    """
    a about above after again against all am an and any are aren't as at be because been before being
    below between both but by can can't cannot could couldn't did didn't do does doesn't doing don't down
    during each few for from further had hadn't has hasn't have haven't having he he'd he'll he's her here
    here's hers herself him himself his how how's i i'd i'll i'm i've if in into is isn't it it's its
    itself let's me more most mustn't my myself no nor not of off on once only or other ought our ours
    ourselves out over own same shan't she she'd she'll she's should shouldn't so some such than that
    that's the their theirs them themselves then there there's these they they'd they'll they're they've
    this those through to too under until up very was wasn't we we'd we'll we're we've were weren't what
    what's when when's where where's which while who who's whom why why's will with won't would wouldn't
    you you'd you'll you're you've your yours yourself yourselves please tell know explain describe
    give show find get got also just use used using via may might must shall one s t often many much
    """.split()
)
_ES_AFTER = ("s", "x", "z", "ch", "sh")
_KEEP_DOUBLE = frozenset("lsz")


def stem(word: str) -> str:
    """A light suffix-stripping stem: plurals, -ing, -ed, -ly, and a trailing -e."""
    if len(word) <= 3 or word.isdigit():
        return word
    original = word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("es") and word[:-2].endswith(_ES_AFTER):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ingly", "edly", "ing", "ed", "ly"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            if len(word) > 3 and word[-1] == word[-2] and word[-1] not in _KEEP_DOUBLE and word[-1].isalpha():
                word = word[:-1]
            break
    if len(word) > 4 and word.endswith("e"):
        word = word[:-1]
    return word or original


def terms(text: str) -> list[str]:
    """Stemmed content words of ``text`` (stopwords removed), in order."""
    return [stem(w.replace("’", "'")) for w in _WORD.findall(text.lower()) if w not in _STOPWORDS]


def split_sentences(text: str) -> list[str]:
    """The sentences of a passage (on ., !, ? or ; followed by a capital, and on newlines)."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


@dataclass(frozen=True)
class ScoredSentence:
    """A candidate sentence with its passage and scores."""

    passage: int
    position: int
    text: str
    score: float
    coverage: float


@dataclass(frozen=True)
class ExtractiveAnswer:
    """An answer: the text (with ``[n]`` citations), the cited passages, and whether it was found."""

    text: str
    found: bool
    citations: tuple[int, ...] = ()
    sentences: tuple[ScoredSentence, ...] = ()


@dataclass(frozen=True)
class ExtractiveReply:
    """What the provider returns for a chat request: an answer, or a tool call to make first."""

    text: str | None = None
    tool_call: tuple[str, str] | None = None  # (tool name, JSON arguments)
    answer: ExtractiveAnswer | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


Similarity = Callable[[str, Sequence[str]], Sequence[float]]


class ExtractiveGenerator:
    """Picks the best-supported context sentences for a question.

    ``max_sentences`` caps the answer (1-3 typical); ``min_support`` is the share of the
    question's (IDF-weighted) terms the best sentence must contain, below which the answer is
    :data:`NOT_FOUND`; ``similarity`` (texts -> cosine per text), when given, is blended in with
    weight ``similarity_weight`` (e.g. MiniLM similarity of question and sentence).
    """

    def __init__(
        self,
        *,
        max_sentences: int = 3,
        min_support: float = 0.6,
        similarity: Similarity | None = None,
        similarity_weight: float = 0.3,
        k1: float = 1.2,
        b: float = 0.75,
    ) -> None:
        if not 1 <= max_sentences <= 10:
            raise ValueError("max_sentences must be between 1 and 10")
        if not 0.0 < min_support <= 1.0:
            raise ValueError("min_support must be in (0, 1]")
        self.max_sentences = max_sentences
        self.min_support = min_support
        self.similarity = similarity
        self.similarity_weight = similarity_weight
        self.k1 = k1
        self.b = b

    # --- answering -------------------------------------------------------------------------------
    def answer(self, question: str, passages: Sequence[Passage]) -> ExtractiveAnswer:
        """The best-supported sentences of ``passages`` for ``question``, or :data:`NOT_FOUND`."""
        query = list(dict.fromkeys(terms(question)))
        candidates = [
            (p.index, position, sentence)
            for p in passages
            for position, sentence in enumerate(split_sentences(p.text))
        ]
        if not query or not candidates:
            return ExtractiveAnswer(text=NOT_FOUND if question.strip() else NO_QUESTION, found=False)
        scored = self._score(query, question, candidates)
        ranked = sorted(scored, key=lambda s: (-s.score, s.passage, s.position))
        best = ranked[0]
        if best.coverage < self.min_support or best.score <= 0:
            return ExtractiveAnswer(text=NOT_FOUND, found=False, sentences=(best,))
        chosen = [best]
        seen = {_normalise(best.text)}
        for candidate in ranked[1:]:
            if len(chosen) >= self.max_sentences:
                break
            if candidate.score < 0.6 * best.score or candidate.coverage < self.min_support / 2:
                break
            key = _normalise(candidate.text)
            if key in seen:
                continue
            seen.add(key)
            chosen.append(candidate)
        text = " ".join(f"{_with_stop(s.text)} [{s.passage}]" for s in chosen)
        citations = tuple(dict.fromkeys(s.passage for s in chosen))
        return ExtractiveAnswer(text=text, found=True, citations=citations, sentences=tuple(chosen))

    def _score(
        self, query: list[str], question: str, candidates: list[tuple[int, int, str]]
    ) -> list[ScoredSentence]:
        documents = [terms(text) for _, _, text in candidates]
        count = len(documents)
        average = sum(len(d) for d in documents) / count or 1.0
        frequency: Counter[str] = Counter()
        for document in documents:
            frequency.update(set(document))
        idf = {t: math.log(1.0 + (count - frequency[t] + 0.5) / (frequency[t] + 0.5)) for t in query}
        total_idf = sum(idf.values()) or 1.0
        similarities: Sequence[float] = ()
        if self.similarity is not None:
            similarities = self.similarity(question, [text for _, _, text in candidates])
        scored = []
        for i, ((passage, position, text), document) in enumerate(zip(candidates, documents, strict=True)):
            counts = Counter(document)
            length = len(document) or 1
            bm25 = 0.0
            covered = 0.0
            for t in query:
                tf = counts.get(t, 0)
                if tf:
                    covered += idf[t]
                    bm25 += (
                        idf[t]
                        * tf
                        * (self.k1 + 1)
                        / (tf + self.k1 * (1 - self.b + self.b * length / average))
                    )
            coverage = covered / total_idf
            score = bm25 / total_idf
            if similarities:
                score = (1 - self.similarity_weight) * score + self.similarity_weight * max(
                    0.0, similarities[i]
                )
            scored.append(ScoredSentence(passage, position, text, round(score, 9), coverage))
        return scored

    # --- chat ------------------------------------------------------------------------------------
    def respond(
        self, messages: Sequence[Mapping[str, Any]], tools: Sequence[Mapping[str, Any]] = ()
    ) -> ExtractiveReply:
        """Answer an OpenAI-shaped conversation (dict messages and tools).

        The question is the last user message (after ``Question:`` when present); passages come
        from system, user and tool messages. With a ``knowledge_search`` tool offered and no tool
        message yet, the reply is that tool call with ``{"query": <question>}``.
        """
        question = ""
        for message in reversed(messages):
            if message.get("role") == "user":
                question = question_of(_text(message.get("content")))
                break
        has_tool_result = any(m.get("role") == "tool" for m in messages)
        offered = {_tool_name(t) for t in tools}
        metadata: dict[str, Any] = {"generator": "extractive", "model": EXTRACTIVE_MODEL}
        if KNOWLEDGE_SEARCH_TOOL in offered and not has_tool_result and question:
            arguments = json.dumps({"query": question}, ensure_ascii=False)
            return ExtractiveReply(tool_call=(KNOWLEDGE_SEARCH_TOOL, arguments), metadata=metadata)
        passages: dict[int, Passage] = {}
        for message in messages:
            if message.get("role") in ("system", "user", "tool"):
                for passage in parse_passages(_text(message.get("content"))):
                    passages.setdefault(passage.index, passage)
        if not question:
            answer = ExtractiveAnswer(text=NO_QUESTION, found=False)
        else:
            answer = self.answer(question, list(passages.values()))
        metadata.update({"found": answer.found, "citations": list(answer.citations)})
        return ExtractiveReply(text=answer.text, answer=answer, metadata=metadata)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def _tool_name(tool: Mapping[str, Any]) -> str:
    function = tool.get("function")
    if isinstance(function, Mapping):
        return str(function.get("name", ""))
    return str(tool.get("name", ""))


def _normalise(text: str) -> str:
    return " ".join(terms(text))


def _with_stop(sentence: str) -> str:
    sentence = sentence.strip()
    return sentence if sentence.endswith((".", "!", "?", ":", ";")) else sentence + "."
