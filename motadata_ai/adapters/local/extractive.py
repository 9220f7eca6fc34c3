"""The local extractive generator: answers from the supplied context, never beyond it.

It cannot write new text: it picks the sentences of the context passages that best support the
question, cites them as ``[n]``, and says plainly when the context lacks the answer. A passage
supports a question when it covers enough of the question's informative terms (IDF-weighted,
light stemming and synonyms); within the supporting passages the best sentence is chosen by BM25
with the title and the heading above each sentence as context (headings are never answers).
A how-to question gets the numbered steps of the matching section. ``strategy="sentence"`` keeps
the earlier scoring (one sentence must cover the question alone). Everything is deterministic:
the same messages give the same answer. ``docs/answer_quality.md`` has the details and figures.

Context passages and the question follow :mod:`motadata_ai.domain.values.passages`. With a tool
offered whose declared role is ``knowledge_search`` (:data:`~motadata_ai.domain.values.llm.ToolRole`,
the ``"role"`` key of an OpenAI-shaped tool) and no tool result yet, it asks for that search,
under the tool's own name, instead of answering (so an agent on the embedded default still
completes a task).
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from typing import Any

from motadata_ai.domain.values.llm import KNOWLEDGE_SEARCH_ROLE
from motadata_ai.domain.values.passages import NOT_ANSWERED, Passage, parse_passages, question_of

__all__ = [
    "EXTRACTIVE_MODEL",
    "NOT_FOUND",
    "TOOL_ROLE_KEY",
    "ExtractiveAnswer",
    "ExtractiveGenerator",
    "ExtractiveReply",
    "stem",
    "terms",
]

NOT_FOUND = NOT_ANSWERED  # the SDK's one wording of a refusal
NO_QUESTION = "I could not find a question to answer."
EXTRACTIVE_MODEL = "extractive"
TOOL_ROLE_KEY = "role"
"""The key of an OpenAI-shaped tool that carries its declared role (``ToolSpec.role``)."""
STRATEGIES = ("passage", "sentence")
DEFAULT_MIN_SUPPORT = {"passage": 0.65, "sentence": 0.6}

_WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])|\s*\n+\s*|(?<=;)\s+")
# Passage strategy: a sentence may open with Markdown emphasis (**Bold label**: ...); ";" does
# not end a sentence (it joins clauses and list items written as one sentence).
_SENTENCE_END_PROSE = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[*_]{0,3}[A-Z0-9])|\s*\n+\s*")
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
# Words that carry no topic in a question ("my VPN keeps dropping", "what now?").
_WEAK = frozenset(
    """
    keep keeps kept keeping need needs needed want wants wanted now still thing things something
    anything everything someone anyone actually really else getting gets
    """.split()
)
_SKIPPED = _STOPWORDS | _WEAK
# Very frequent English content words: within a few passages they look rare, but they carry less
# topic than their IDF there says ("my *work* email", "from *home*"); they count ``common_weight``.
_COMMON_WORDS = frozenset(
    """
    time year people way day man thing woman life child world school state family student group
    country problem hand part place case week company system program question work government number
    night point home water room mother area money story fact month lot right study book eye job word
    business issue side kind head house service friend father power hour game line end member law car
    city community name president team minute idea kid body information back parent face level office
    door health person art war history party result change morning reason research girl guy moment air
    force education say make go take come see look think want give find tell ask seem feel try leave
    call become put mean let begin help talk turn start show hear play run move like live believe hold
    bring happen write provide sit stand lose pay meet include continue set learn lead understand watch
    follow stop create speak read allow add spend grow open walk win offer remember love consider
    appear buy wait serve send expect build stay fall cut reach remain good new first last long great
    little old big high different small large next early young important public bad able late hard
    major better best free sure real full special easy clear recent certain personal whole low possible
    today
    """.split()
)
# Words that only say "I want instructions" (dropped from the question's terms).
_PROCEDURE_WORDS = frozenset(
    "step steps instruction instructions procedure procedures guide guidance way ways howto".split()
)
# Words that only say "I want a solution" ("how do I fix ...", "problem with ..."): answers name
# the remedy, rarely these words (dropped from the question's terms).
_TROUBLE_WORDS = frozenset(
    "fix fixes fixing solve solving repair repairing troubleshoot troubleshooting problem problems "
    "issue issues help".split()
)
_PROCEDURAL = re.compile(
    r"\bhow (?:do|can|should|would|must|could) (?:i|we|you|one|my|our|the)\b|\bhow to\b|\bsteps?\b"
    r"|\bset(?:ting)? ?up\b|\bsetup\b|\bconfigur|\binstall|\breset|\benrol|\binstructions?\b"
    r"|\bprocedure\b|\bwhat (?:do|should) (?:i|we) do\b"
)
_SIGN_IN = re.compile(r"\b(?:sign|signs|signing|signed|log|logs|logging|logged)[\s-]+(?:in|on)s?\b")
_PHRASES = (  # (a substring the text must hold, the pattern, its replacement)
    ("up", re.compile(r"\b(?:set|sets|setting)[\s-]+up\b"), "setup"),
    ("sign", _SIGN_IN, "signin"),
    ("log", _SIGN_IN, "signin"),
    ("-", re.compile(r"\b([a-z]{1,2})-([a-z]{2,})\b"), r"\1\2"),  # wi-fi -> wifi, e-mail -> email
)
# Light synonyms of help-desk wording; a synonym counts ``synonym_weight`` of an exact match.
_SYNONYM_GROUPS = (
    "setup configure configuration install installation enrol enroll enrolment enrollment register",
    "phone mobile smartphone cellphone",
    "laptop computer pc notebook",
    "mac macos macbook",
    "email mail",
    "wifi wireless wlan",
    "signin login logon",
    "disconnect drop dropping dropout",
    "lock lockout",
    "password passphrase",
    "delete remove erase",
    "restore recover recovery revert",
    "problem issue error fault trouble troubleshoot troubleshooting",
    "fix solve resolve repair",
    "request order",
    "meeting conference",
    "slow sluggish lag laggy",
    "start launch begin",
    "print printer",
    "connect connection connectivity",
    "lose lost stolen missing",
    "leave leaver departure offboarding",
    "home remote remotely",
    "app application software program",
    "access permission",
    "outage unavailable",
)
_IMPERATIVES = frozenset(
    """
    open choose select click tap press sign log enter type install uninstall connect disconnect restart
    reboot update upgrade use call contact follow confirm approve scan remove add check go navigate
    search request submit attach name pick explain register reset change set turn plug unplug leave
    forget report accept download upload run enable disable deny fill complete save copy move drag
    return send reply make create delete find visit ask provide lock unlock switch close do don't never
    always wait try verify review read look hold insert join share book print store log map right-click
    tell give bring keep clear allow avoid stop start launch let put note mark enrol enroll
    """.split()
)
_MIN_WORDS = 4  # shorter sentences ("Report quickly.") are never answers on their own
_STEP_COVERAGE_SLACK = 0.2  # steps elsewhere may cover this much less of the question
_STEPS_LOOKAHEAD = 3  # steps starting this many sentences after the best sentence follow it
_CONJUNCTIONS = frozenset("or and then also".split())
_LEADS = frozenset("on in for from then next finally first to if once after before when".split())
_HEADING_COLON = re.compile(r":(?:\s+|$)")
_LABEL = re.compile(r"^[A-Z][\w ()/&.\\-]{0,40}:\s")
_TABLE_ROW = re.compile(r",\s+[A-Z][\w ()/&.\\-]{0,40}:\s")
_DURATION_QUESTION = re.compile(
    r"\bhow (?:long|quickly|soon|fast|often)\b|\bwhen\b|\bwhat time\b|\bwhich days?\b|\bwithin\b"
)
_QUANTITY_QUESTION = re.compile(r"\bhow (?:many|much|big|large)\b|\bwhat (?:number|percentage|size)\b")
_NUMBER_WORDS = (
    r"\d+(?:[.,]\d+)?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty"
    r"|thirty|forty|fifty|sixty|ninety|hundred"
)
_TIME_EXPRESSION = re.compile(
    rf"\b(?:{_NUMBER_WORDS})[\s-]*(?:business |working |calendar )?"
    r"(?:seconds?|minutes?|hours?|days?|weeks?|months?|years?)\b|\b\d{1,2}:\d{2}\b|\b24/7\b"
    r"|\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|january|february|march|april"
    r"|may|june|july|august|september|october|november|december|daily|weekly|monthly|nightly|hourly"
    r"|quarterly|yearly|annually|immediately|at once)\b",
    re.IGNORECASE,
)
_REASON_QUESTION = re.compile(r"^\s*why\b|\bwhat (?:causes|is causing|makes)\b|\breason\b")
_REASON = re.compile(
    r"\b(?:because|since|due to|caused? by|causes?|comes? from|came from|results? (?:from|in)"
    r"|so that|otherwise|as a result|reasons?|in order to)\b",
    re.IGNORECASE,
)
_QUANTITY = re.compile(rf"\b(?:{_NUMBER_WORDS})\b|%", re.IGNORECASE)
# Words of a typed question ("how long does it take", "how many") that name the answer type only.
_TYPE_WORDS = frozenset("long quick soon fast many much big large take often time".split())
_ACTION = re.compile(
    r"\bhow (?:do|can|should|would|must|could) (?:i|we|you|one) (\w+(?:[\s-]+(?:up|in|on|back))?)"
    r"|\bhow to (\w+(?:[\s-]+(?:up|in|on|back))?)|\bsteps? (?:to|for) (\w+(?:[\s-]+(?:up|in|on))?)"
)
_ES_AFTER = ("s", "x", "z", "ch", "sh")
_KEEP_DOUBLE = frozenset("lsz")


@functools.lru_cache(maxsize=65536)
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


def content_terms(text: str) -> list[str]:
    """:func:`terms` after joining set phrases (``set up`` -> ``setup``, ``sign in`` -> ``signin``,
    ``wi-fi`` -> ``wifi``) and dropping topic-less words (``keeps``, ``need``, ``now``)."""
    lowered = text.lower().replace("’", "'")
    for cue, pattern, replacement in _PHRASES:
        if cue in lowered:
            lowered = pattern.sub(replacement, lowered)
    return [stem(w) for w in _WORD.findall(lowered) if w not in _SKIPPED]


def _synonyms() -> dict[str, str]:
    canonical: dict[str, str] = {}
    for group in _SYNONYM_GROUPS:
        words = [stem(w) for w in group.split()]
        for word in words:
            canonical.setdefault(word, words[0])
    return canonical


_CANONICAL = _synonyms()
_PROCEDURE_TERMS = frozenset(stem(w) for w in _PROCEDURE_WORDS)
_TROUBLE_TERMS = frozenset(stem(w) for w in _TROUBLE_WORDS)
_COMMON_TERMS = frozenset(stem(w) for w in _COMMON_WORDS)
_TYPE_TERMS = frozenset(stem(w) for w in _TYPE_WORDS)


def is_procedural(question: str) -> bool:
    """Whether ``question`` asks for instructions (how do I / how to / steps / set up / reset ...)."""
    return _PROCEDURAL.search(question.lower()) is not None


def split_sentences(text: str) -> list[str]:
    """The sentences of a passage (on ., !, ? or ; followed by a capital, and on newlines)."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


def split_prose(text: str) -> list[str]:
    """The sentences of a passage for the passage strategy: on ., ! or ? followed by a capital
    (optionally after Markdown emphasis) and on newlines; never on ``;``."""
    return [s.strip() for s in _SENTENCE_END_PROSE.split(text) if s and s.strip()]


def _is_step(sentence: str) -> bool:
    """Whether ``sentence`` reads as an instruction (starts with an imperative verb, possibly after
    a short lead such as "On macOS," or "If it is missing,")."""
    words = _WORD.findall(sentence.lower().replace("*", ""))
    if not words:
        return False
    if words[0] in _CONJUNCTIONS:
        words = words[1:]  # "Or call the Service Desk", "Then restart"
    if words and words[0] in _IMPERATIVES:
        return True
    if words[0] in _LEADS:
        for mark in (",", ":"):
            _, found, rest = sentence.partition(mark)
            if found:
                after = _WORD.findall(rest.lower().replace("*", ""))
                if after and after[0] in _IMPERATIVES:
                    return True
    return False


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


@dataclass(frozen=True)
class _Sentence:
    """A sentence of a passage with the title and the heading it sits under (passage strategy)."""

    passage: int  # citation number
    rank: int  # 0 for the first passage given, 1 for the next ...
    position: int  # sentence number within the passage
    text: str
    terms: tuple[str, ...]
    step: bool  # reads as an instruction
    heading_terms: frozenset[str]
    title_terms: frozenset[str]


@dataclass
class _Section:
    """The sentences under one heading of a passage."""

    passage: int
    rank: int
    heading: str
    title_terms: frozenset[str]
    heading_terms: frozenset[str]
    sentences: list[_Sentence] = field(default_factory=list)

    @property
    def procedural(self) -> bool:
        """At least two instructions, making at least half of the sentences."""
        steps = sum(s.step for s in self.sentences)
        return steps >= 2 and 2 * steps >= len(self.sentences)


@dataclass(frozen=True)
class _Weights:
    """The query terms' IDF (for coverage) and their scoring weights (the task of a how-to
    question counts ``action_weight`` times)."""

    idf: dict[str, float]
    idf_total: float
    weights: dict[str, float]
    total: float


@dataclass(frozen=True)
class _Candidate:
    """A scored answer candidate: one sentence, or the steps of a section."""

    sentences: tuple[_Sentence, ...]
    score: float
    coverage: float
    section: _Section | None = None
    steps: bool = False


def _answer_type(question: str) -> str | None:
    """``"duration"`` (how long, when ...), ``"quantity"`` (how many ...), ``"reason"`` (why ...)
    or ``None``."""
    lowered = question.lower()
    if _QUANTITY_QUESTION.search(lowered):
        return "quantity"
    if _DURATION_QUESTION.search(lowered):
        return "duration"
    if _REASON_QUESTION.search(lowered):
        return "reason"
    return None


def _has_type(sentence: str, answer_type: str) -> bool:
    pattern = {"duration": _TIME_EXPRESSION, "quantity": _QUANTITY, "reason": _REASON}[answer_type]
    return pattern.search(sentence) is not None


def _action(question: str) -> str | None:
    """The task of a how-to question: the first content term after "how do I" / "how to"."""
    match = _ACTION.search(question.lower())
    if match is None:
        return None
    phrase = next(g for g in match.groups() if g)
    found = content_terms(phrase)
    return found[0] if found else None


def _title_free(sentence: str, title: str) -> str:
    """``sentence`` without a leading copy of the passage title (plain-text articles open with it)."""
    if len(title.split()) >= 2 and sentence.lower().startswith(title.lower()):
        rest = sentence[len(title) :].lstrip(" .:-–—")
        if not rest or rest[:1].isupper():
            return rest
    return sentence


def _heading(sentence: str) -> tuple[str, str] | None:
    """``(heading, body)`` when ``sentence`` is a heading leading into its text (``"Connect: Open
    the client."``, ``"Mapping the S: drive: Windows laptops..."``) or a bare heading
    (``"Password rules:"``); ``None`` for a labelled sentence (``"Phone: extension 4357"``,
    ``"**Slow**: restart"``) or a table row (``"Data: Email, Kept for: 1 year."``)."""
    if not (sentence[:1].isupper() or sentence[:1].isdigit()):
        return None
    for match in _HEADING_COLON.finditer(sentence):
        head, body = sentence[: match.start()].strip(), sentence[match.end() :].strip()
        if len(head.split()) > 8 or "*" in head or head.endswith((".", "!")):
            return None
        if not body:
            return head, ""
        if not (body[0].isupper() or body[0].isdigit() or body.startswith(("**", "__", '"'))):
            continue  # "Label: value" reads as one sentence; a later colon may end the heading
        words = body.split()
        if words[0].endswith(",") or (len(words) < 4 and not _is_step(body)):
            return None  # "Choose a gateway: Europe, Americas or Asia." lists, it does not head
        if _TABLE_ROW.search(body) and not _LABEL.match(body):
            return None  # "Column: value, Column: value." is a row, its first label no heading
        return head, body
    return None


_ParsedSection = tuple[str, frozenset[str], tuple[tuple[str, tuple[str, ...], bool], ...]]


@functools.lru_cache(maxsize=4096)
def _parse(title: str, text: str) -> tuple[frozenset[str], tuple[_ParsedSection, ...]]:
    """A passage's title terms and its heading sections: (heading, heading terms, sentences as
    (text, terms, reads as an instruction)). Cached: the same chunks come back question after
    question."""
    title_terms = frozenset(content_terms(title))
    normalised_title = _normalise(title)
    sections: list[tuple[str, frozenset[str], list[tuple[str, tuple[str, ...], bool]]]] = [
        ("", frozenset(), [])
    ]
    for raw in split_prose(text):
        sentence = _title_free(raw, title)
        if not sentence or (len(sentence) <= 2 * len(title) and _normalise(sentence) == normalised_title):
            continue  # the title again: context, not an answer
        split = _heading(sentence)
        if split is not None:
            head, sentence = split
            sections.append((head, frozenset(content_terms(head)), []))
            if not sentence:
                continue
        sections[-1][2].append((sentence, tuple(content_terms(sentence)), _is_step(sentence)))
    return title_terms, tuple((h, t, tuple(found)) for h, t, found in sections if found)


class ExtractiveGenerator:
    """Picks the best-supported context sentences for a question.

    ``strategy="passage"`` (the default) judges support at the passage level: a passage answers
    when it covers at least ``min_support`` of the question's informative (IDF-weighted) terms,
    counting its title and light synonyms; the answer is then the best sentence of the supporting
    passages (BM25 over sentences, with the title and the heading above a sentence as context,
    which must itself cover ``min_sentence_support``). Headings are context, never answer
    sentences. For a procedural question (how do I / how to / steps / set up / reset ...), a
    sentence among instructions comes with the instructions of its section, up to ``max_steps``.

    ``strategy="sentence"`` is the earlier scoring: one sentence must cover ``min_support`` of the
    question's terms on its own, headings count as sentences, and no step lists.

    ``max_sentences`` caps a sentence answer (1-3 typical); ``similarity`` (texts -> cosine per
    text), when given, is blended in with weight ``similarity_weight`` (e.g. MiniLM similarity of
    question and sentence).
    """

    def __init__(
        self,
        *,
        max_sentences: int = 3,
        min_support: float | None = None,
        min_sentence_support: float = 0.3,
        max_steps: int = 5,
        similarity: Similarity | None = None,
        similarity_weight: float = 0.3,
        k1: float = 1.2,
        b: float = 0.75,
        strategy: str = "passage",
        heading_weight: float = 0.6,
        synonym_weight: float = 0.8,
        rank_decay: float = 0.03,
        action_weight: float = 2.0,
        type_boost: float = 0.25,
        section_body_weight: float = 0.7,
        step_preference: float = 0.6,
        heading_bonus: float = 0.3,
        common_weight: float = 0.5,
    ) -> None:
        if not 1 <= max_sentences <= 10:
            raise ValueError("max_sentences must be between 1 and 10")
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, not {strategy!r}")
        if min_support is None:
            min_support = DEFAULT_MIN_SUPPORT[strategy]
        if not 0.0 < min_support <= 1.0:
            raise ValueError("min_support must be in (0, 1]")
        if not 0.0 <= min_sentence_support <= 1.0:
            raise ValueError("min_sentence_support must be in [0, 1]")
        if not 1 <= max_steps <= 20:
            raise ValueError("max_steps must be between 1 and 20")
        for name, value in (
            ("similarity_weight", similarity_weight),
            ("heading_weight", heading_weight),
            ("synonym_weight", synonym_weight),
            ("rank_decay", rank_decay),
            ("type_boost", type_boost),
            ("section_body_weight", section_body_weight),
            ("step_preference", step_preference),
            ("heading_bonus", heading_bonus),
            ("common_weight", common_weight),
        ):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1]")
        self.max_sentences = max_sentences
        self.min_support = min_support
        self.min_sentence_support = min_sentence_support
        self.max_steps = max_steps
        self.similarity = similarity
        self.similarity_weight = similarity_weight
        self.k1 = k1
        self.b = b
        self.strategy = strategy
        self.heading_weight = heading_weight
        self.synonym_weight = synonym_weight
        self.rank_decay = rank_decay
        if not 1.0 <= action_weight <= 5.0:
            raise ValueError("action_weight must be in [1, 5]")
        self.action_weight = action_weight
        self.type_boost = type_boost
        self.section_body_weight = section_body_weight
        self.step_preference = step_preference
        self.heading_bonus = heading_bonus
        self.common_weight = common_weight

    # --- answering -------------------------------------------------------------------------------
    def answer(self, question: str, passages: Sequence[Passage]) -> ExtractiveAnswer:
        """The best-supported sentences of ``passages`` for ``question``, or :data:`NOT_FOUND`."""
        if self.strategy == "sentence":
            return self._answer_by_sentence(question, passages)
        return self._answer_by_passage(question, passages)

    # --- passage strategy ------------------------------------------------------------------------
    def _answer_by_passage(self, question: str, passages: Sequence[Passage]) -> ExtractiveAnswer:
        procedural = is_procedural(question)
        answer_type = _answer_type(question)
        drop = (
            (_PROCEDURE_TERMS if procedural else frozenset())
            | (_TYPE_TERMS if answer_type else frozenset())
            | _TROUBLE_TERMS
        )
        asked = content_terms(question)
        query = list(dict.fromkeys(t for t in asked if t not in drop)) or list(dict.fromkeys(asked))
        sections = [s for rank, p in enumerate(passages) for s in self._sections(p, rank)]
        sentences = [s for section in sections for s in section.sentences]
        if not query or not sentences:
            return ExtractiveAnswer(text=NOT_FOUND if question.strip() else NO_QUESTION, found=False)
        count = len(sentences)
        average = sum(len(s.terms) for s in sentences) / count or 1.0
        frequency: Counter[str] = Counter()
        for sentence in sentences:
            frequency.update(set(sentence.terms) | {_CANONICAL.get(t, t) for t in sentence.terms})
        idf = {
            t: math.log(1.0 + (count - frequency[t] + 0.5) / (frequency[t] + 0.5))
            * (self.common_weight if t in _COMMON_TERMS else 1.0)
            for t in query
        }
        action = _action(question) if procedural else None
        weights = {t: w * (self.action_weight if t == action else 1.0) for t, w in idf.items()}
        query_weights = _Weights(idf, sum(idf.values()) or 1.0, weights, sum(weights.values()) or 1.0)
        vocabulary: dict[int, set[str]] = {}
        for section in sections:
            found = vocabulary.setdefault(section.passage, set(section.title_terms))
            found.update(section.heading_terms)
            for sentence in section.sentences:
                found.update(sentence.terms)
        supported = {
            index
            for index, found in vocabulary.items()
            if self._coverage(idf, query_weights.idf_total, found) >= self.min_support
        }
        similarities: dict[tuple[int, int], float] = {}
        if self.similarity is not None:
            compared = [s for s in sentences if s.passage in supported]
            if compared:
                values = self.similarity(question, [s.text for s in compared])
                similarities = {
                    (s.passage, s.position): float(v) for s, v in zip(compared, values, strict=True)
                }

        candidates: list[_Candidate] = []
        for section in sections:
            if section.passage not in supported:
                continue
            for sentence in section.sentences:
                if len(sentence.text.split()) < _MIN_WORDS:
                    continue  # "Report quickly." introduces the sentences after it
                score, coverage = self._score(query_weights, [sentence], average, section=False)
                if answer_type is not None and _has_type(sentence.text, answer_type):
                    score *= 1.0 + self.type_boost
                score = self._blend(score, [sentence], similarities)
                candidates.append(_Candidate((sentence,), score, coverage, section))
            if procedural and section.procedural:
                steps = section.sentences[: self.max_steps]
                score, coverage = self._score(query_weights, steps, average, section=True)
                score = self._blend(score, steps, similarities)
                candidates.append(_Candidate(tuple(steps), score, coverage, section, steps=True))
        ranked = sorted(
            (c for c in candidates if c.coverage >= self.min_sentence_support and c.score > 0),
            key=lambda c: (-c.score, c.sentences[0].rank, c.sentences[0].position, c.steps),
        )
        if not ranked:
            return ExtractiveAnswer(text=NOT_FOUND, found=False)
        best = next((c for c in ranked if not c.steps), ranked[0])
        if procedural:
            listed = next((c for c in ranked if c.steps), None)
            if (
                listed is not None
                and listed.score >= self.step_preference * best.score
                and listed.coverage >= best.coverage - _STEP_COVERAGE_SLACK
            ):
                return self._steps(listed, None)
            if best.section is not None and best.section.procedural:
                return self._steps(best, None)
            following = self._following_steps(best, ranked)
            if following is not None:
                return self._steps(best, following)
        chosen = [best]
        seen = {_normalise(best.sentences[0].text)}
        for candidate in ranked:
            if len(chosen) >= self.max_sentences or candidate.score < 0.75 * best.score:
                break
            key = _normalise(candidate.sentences[0].text)
            if candidate.steps or key in seen:
                continue
            seen.add(key)
            chosen.append(candidate)
        text = " ".join(f"{_with_stop(c.sentences[0].text)} [{c.sentences[0].passage}]" for c in chosen)
        citations = tuple(dict.fromkeys(c.sentences[0].passage for c in chosen))
        return ExtractiveAnswer(
            text=text,
            found=True,
            citations=citations,
            sentences=tuple(_scored(c.sentences[0], c) for c in chosen),
        )

    def _steps(self, best: _Candidate, following: _Section | None) -> ExtractiveAnswer:
        """A numbered list of instructions under their heading, up to ``max_steps``.

        With ``following`` the answer is the best sentence, then the steps of the procedural
        section after it; otherwise the steps of the best candidate's own section, from the
        section's start (or from the best sentence when that lies beyond ``max_steps``).
        """
        section = following or best.section
        assert section is not None
        lead: list[_Sentence] = []
        if following is not None:
            lead, start = [best.sentences[0]], 0
        else:
            start = section.sentences.index(best.sentences[0])
            if start < self.max_steps:
                start = 0
        steps: list[_Sentence] = []
        seen = {_normalise(s.text) for s in lead}
        for sentence in section.sentences[start:]:
            key = _normalise(sentence.text)
            if key not in seen:
                seen.add(key)
                steps.append(sentence)
            if len(steps) >= self.max_steps:
                break
        passage = section.passage
        if not lead and len(steps) == 1:
            text = f"{_with_stop(steps[0].text)} [{passage}]"
            return ExtractiveAnswer(text, True, (passage,), (_scored(steps[0], best),))
        lines = [f"{_with_stop(s.text)} [{passage}]" for s in lead]
        lines += [f"{section.heading}:"] if section.heading else []
        lines += [f"{i}. {_with_stop(s.text)}" for i, s in enumerate(steps, 1)]
        return ExtractiveAnswer(
            text="\n".join(lines) + f" [{passage}]",
            found=True,
            citations=(passage,),
            sentences=tuple(_scored(s, best) for s in (*lead, *steps)),
        )

    def _following_steps(self, best: _Candidate, candidates: Sequence[_Candidate]) -> _Section | None:
        """The procedural section right after the best sentence's section, starting within a few
        sentences of it and itself related to the question ("The VPN connects you from home. ...
        Connect: 1. Open the client...")."""
        sentence = best.sentences[0]
        for candidate in candidates:
            section = candidate.section
            if not candidate.steps or section is None or section.passage != sentence.passage:
                continue
            first = section.sentences[0].position
            if (
                0 < first - sentence.position <= _STEPS_LOOKAHEAD
                and best.section is not None
                and first == best.section.sentences[-1].position + 1
                and candidate.coverage >= self.min_sentence_support
            ):
                return section
        return None

    def _sections(self, passage: Passage, rank: int) -> list[_Section]:
        """The passage split into heading sections of sentences (headings become context)."""
        title_terms, parsed = _parse(passage.title, passage.text)
        sections: list[_Section] = []
        position = 0
        for heading, heading_terms, sentences in parsed:
            section = _Section(passage.index, rank, heading, title_terms, heading_terms)
            for text, terms_, step in sentences:
                section.sentences.append(
                    _Sentence(passage.index, rank, position, text, terms_, step, heading_terms, title_terms)
                )
                position += 1
            sections.append(section)
        return sections

    def _match(self, term: str, present: Set[str], canonical: Set[str]) -> float:
        if term in present:
            return 1.0
        if _CANONICAL.get(term, term) in canonical:
            return self.synonym_weight
        return 0.0

    def _coverage(self, weights: Mapping[str, float], total: float, document: Set[str]) -> float:
        """The weighted share of the query terms found in ``document`` (synonyms count partly)."""
        present = set(document)
        canonical = {_CANONICAL.get(t, t) for t in present}
        return sum(w * self._match(t, present, canonical) for t, w in weights.items()) / total

    def _score(
        self,
        query: _Weights,
        sentences: Sequence[_Sentence],
        average: float,
        *,
        section: bool,
    ) -> tuple[float, float]:
        """BM25 of the sentences' text with the title and heading as context, and the weighted
        share of the query covered.

        For one sentence a query term found only in the heading or the title counts
        ``heading_weight``. For the steps of a section (``section=True``) the heading names what
        they do: a heading match counts fully, the text ``section_body_weight``.
        """
        counts: Counter[str] = Counter()
        for sentence in sentences:
            counts.update(sentence.terms)
        length = sum(len(s.terms) for s in sentences) / len(sentences) or 1.0
        present = set(counts)
        canonical = {_CANONICAL.get(t, t) for t in present}
        by_canonical: Counter[str] = Counter()
        for term, n in counts.items():
            by_canonical[_CANONICAL.get(term, term)] += n
        first = sentences[0]
        heading, title = first.heading_terms, first.title_terms
        heading_canonical = {_CANONICAL.get(t, t) for t in heading}
        title_canonical = {_CANONICAL.get(t, t) for t in title}
        heading_factor = 1.0 if section else self.heading_weight
        body_factor = self.section_body_weight if section else 1.0
        score = covered = bonus = 0.0
        for term, weight in query.weights.items():
            match = self._match(term, present, canonical)
            body = 0.0
            if match:
                tf = counts.get(term, 0) or by_canonical.get(_CANONICAL.get(term, term), 0)
                norm = tf * (self.k1 + 1) / (tf + self.k1 * (1 - self.b + self.b * length / average))
                body = weight * match * norm * body_factor
            in_heading = heading_factor * self._match(term, heading, heading_canonical)
            in_title = self.heading_weight * self._match(term, title, title_canonical)
            score += max(body, weight * in_heading, weight * in_title)
            if not section:
                bonus += weight * in_heading  # the heading above says what the sentence is about
            covered += query.idf[term] * max(match, in_heading, in_title)
        score = (score + self.heading_bonus * bonus) / query.total
        rank_factor = max(0.0, 1.0 - self.rank_decay * first.rank)
        return round(score * rank_factor, 9), covered / query.idf_total

    def _blend(
        self, score: float, sentences: Sequence[_Sentence], similarities: Mapping[tuple[int, int], float]
    ) -> float:
        if not similarities:
            return score
        value = max(similarities.get((s.passage, s.position), 0.0) for s in sentences)
        return round((1 - self.similarity_weight) * score + self.similarity_weight * max(0.0, value), 9)

    # --- sentence strategy (the earlier scoring) --------------------------------------------------
    def _answer_by_sentence(self, question: str, passages: Sequence[Passage]) -> ExtractiveAnswer:
        query = list(dict.fromkeys(terms(question)))
        candidates = [
            (p.index, position, sentence)
            for p in passages
            for position, sentence in enumerate(split_sentences(p.text))
        ]
        if not query or not candidates:
            return ExtractiveAnswer(text=NOT_FOUND if question.strip() else NO_QUESTION, found=False)
        scored = self._score_sentences(query, question, candidates)
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

    def _score_sentences(
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
        from system, user and tool messages. With a tool of role ``knowledge_search`` offered and
        no tool message yet, the reply is a call of that tool with ``{"query": <question>}``.
        """
        question = ""
        for message in reversed(messages):
            if message.get("role") == "user":
                question = question_of(_text(message.get("content")))
                break
        has_tool_result = any(m.get("role") == "tool" for m in messages)
        search = next((_tool_name(t) for t in tools if t.get(TOOL_ROLE_KEY) == KNOWLEDGE_SEARCH_ROLE), None)
        metadata: dict[str, Any] = {"generator": "extractive", "model": EXTRACTIVE_MODEL}
        if search and not has_tool_result and question:
            arguments = json.dumps({"query": question}, ensure_ascii=False)
            return ExtractiveReply(tool_call=(search, arguments), metadata=metadata)
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


def _scored(sentence: _Sentence, candidate: _Candidate) -> ScoredSentence:
    return ScoredSentence(
        sentence.passage, sentence.position, sentence.text, candidate.score, candidate.coverage
    )


def _normalise(text: str) -> str:
    return " ".join(terms(text))


def _with_stop(sentence: str) -> str:
    sentence = sentence.strip()
    return sentence if sentence.endswith((".", "!", "?", ":", ";")) else sentence + "."
