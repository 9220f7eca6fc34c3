"""Query rewriting: a standalone search query from the question and the conversation so far.

Two rewriters with one interface:

* :class:`KeywordQueryRewriter` (deterministic, for the local extractive model): resolves
  follow-ups ("and on a Mac?", "how long does it take?") by carrying the previous question's
  keywords over, and builds the keyword query from the question's content words plus ITSM
  expansions (``mfa`` → ``multi-factor authentication``, ``wifi`` → ``wireless`` ...). The dense
  query stays the user's wording (plus carried keywords): MiniLM embeds questions well as they are.
* :class:`LLMQueryRewriter` (a generative model through the gateway): asks the model to rewrite
  the question into a standalone query; falls back to the deterministic rewrite if the call fails.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from motadata_ai.domain.retrieval.usage import NO_USAGE, ModelUsage
from motadata_ai.domain.values.llm import ChatRequest, ChatResponse, Message
from motadata_ai.domain.values.tenancy import TenantContext
from motadata_ai.domain.values.words import unicode_words
from motadata_ai.ports.llm import ProviderError

STOP_WORDS = frozenset(
    """a about above after again against all am an and any are aren't as at be because been before being
    below between both but by can can't cannot could couldn't did didn't do does doesn't doing don't down
    during each few for from further had hadn't has hasn't have haven't having he her here hers herself him
    himself his how i i'm if in into is isn't it it's its itself let's me more most my myself no nor not of
    off on once only or other ought our ours ourselves out over own same she should shouldn't so some such
    than that that's the their theirs them themselves then there there's these they this those through to
    too under until up very was wasn't we were weren't what what's when where which while who whom why with
    won't would wouldn't you your yours yourself yourselves please tell explain describe know need want get
    got also just like""".split()
)

ITSM_EXPANSIONS: Mapping[str, tuple[str, ...]] = {
    "mfa": ("multi-factor", "authentication", "two-factor"),
    "2fa": ("two-factor", "multi-factor", "authentication"),
    "otp": ("one-time", "code", "authenticator"),
    "vpn": ("remote", "access"),
    "wifi": ("wi-fi", "wireless", "network"),
    "wi-fi": ("wifi", "wireless", "network"),
    "pwd": ("password",),
    "passwd": ("password",),
    "passcode": ("password", "pin"),
    "login": ("sign-in", "account"),
    "log": ("sign",),
    "locked": ("lockout", "unlock"),
    "lockout": ("locked", "unlock"),
    "laptop": ("device", "computer"),
    "pc": ("computer", "laptop"),
    "email": ("mail", "outlook", "mailbox"),
    "e-mail": ("email", "mail", "mailbox"),
    "printer": ("print", "printing"),
    "sla": ("service", "level", "agreement"),
    "p1": ("priority", "critical"),
    "p2": ("priority", "high"),
    "outage": ("major", "incident"),
    "phishing": ("suspicious", "email", "report"),
    "spam": ("suspicious", "email"),
    "onboarding": ("new", "starter", "joiner"),
    "offboarding": ("leaver", "departure"),
    "phone": ("mobile", "device"),
    "mdm": ("mobile", "device", "enrolment"),
    "restore": ("backup", "recover"),
    "drive": ("share", "folder"),
}

_FOLLOW_UP = re.compile(
    r"^(and|but|also|what about|how about|then)\b|\b(it|its|that|this|those|these|they|them|there|one)\b",
    re.IGNORECASE,
)


def content_words(text: str) -> list[str]:
    """Lower-cased words of ``text`` (any script, see :func:`unicode_words`) without stop words,
    in order, without repeats."""
    words: list[str] = []
    for word in unicode_words(text.lower()):
        if word not in STOP_WORDS and word not in words:
            words.append(word)
    return words


@dataclass(frozen=True)
class RewrittenQuery:
    """What retrieval searches with: ``dense`` is embedded, ``keyword`` goes to full-text search.

    ``usage`` is what this rewrite's own model call spent (nothing for the deterministic rewrite).
    """

    original: str
    dense: str
    keyword: str
    expansions: tuple[str, ...] = field(default=())
    usage: ModelUsage = field(default=NO_USAGE, compare=False)

    @property
    def changed(self) -> bool:
        """Whether either query differs from the original question."""
        return self.dense != self.original or self.keyword != self.original


class KeywordQueryRewriter:
    """Deterministic rewrite: follow-up resolution and keyword expansion (see module doc)."""

    def __init__(
        self, *, expansions: Mapping[str, Sequence[str]] | None = None, max_follow_up_words: int = 12
    ) -> None:
        self.expansions = {k.lower(): tuple(v) for k, v in (expansions or ITSM_EXPANSIONS).items()}
        self.max_follow_up_words = max_follow_up_words

    def is_follow_up(self, question: str) -> bool:
        """A short question leaning on what was said before (pronoun, "and ...", "what about ...")."""
        return len(question.split()) <= self.max_follow_up_words and bool(_FOLLOW_UP.search(question))

    def rewrite_sync(self, question: str, history: Sequence[str] = ()) -> RewrittenQuery:
        """Rewrite ``question`` given earlier questions of the conversation (oldest first)."""
        words = content_words(question)
        carried: list[str] = []
        if history and self.is_follow_up(question):
            carried = [w for w in content_words(history[-1]) if w not in words]
        expansions: list[str] = []
        for word in [*words, *carried]:
            for extra in self.expansions.get(word, ()):
                if extra not in words and extra not in carried and extra not in expansions:
                    expansions.append(extra)
        dense = question if not carried else f"{question} ({' '.join(carried)})"
        keyword = " ".join([*words, *carried, *expansions]) or question
        return RewrittenQuery(original=question, dense=dense, keyword=keyword, expansions=tuple(expansions))

    async def rewrite(
        self, question: str, history: Sequence[str] = (), *, tenant: TenantContext | None = None
    ) -> RewrittenQuery:
        """Async form of :meth:`rewrite_sync` (the interface every rewriter shares)."""
        return self.rewrite_sync(question, history)


Generate = Callable[[ChatRequest], Awaitable[ChatResponse]]

REWRITE_PROMPT = (
    "Rewrite the user's last question as one standalone search query for a knowledge base of IT "
    "support articles. Resolve pronouns from the conversation, keep product names, add obvious "
    "synonyms. Reply with the query only, on one line."
)


@dataclass
class RewriteUsage:
    """Tokens and cost the model-driven rewrites spent (a running total over every call; a single
    rewrite reports its own in :attr:`RewrittenQuery.usage`)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0


class LLMQueryRewriter:
    """Rewrite through a generative model; the deterministic rewrite when the model fails."""

    def __init__(
        self,
        *,
        generate: Callable[[ChatRequest, TenantContext], Awaitable[ChatResponse]],
        model: str,
        fallback: KeywordQueryRewriter | None = None,
        max_query_chars: int = 500,
    ) -> None:
        self._generate = generate
        self.model = model
        self.fallback = fallback or KeywordQueryRewriter()
        self.max_query_chars = max_query_chars
        self.usage = RewriteUsage()

    async def rewrite(
        self, question: str, history: Sequence[str] = (), *, tenant: TenantContext | None = None
    ) -> RewrittenQuery:
        """Ask the model for a standalone query; keyword query = its content words plus expansions."""
        if tenant is None:
            return self.fallback.rewrite_sync(question, history)
        conversation = "\n".join(f"Earlier question: {h}" for h in history[-3:])
        user = f"{conversation}\nQuestion: {question}" if conversation else f"Question: {question}"
        request = ChatRequest(
            model=self.model,
            messages=(Message(role="system", content=REWRITE_PROMPT), Message(role="user", content=user)),
            temperature=0.0,
            max_tokens=96,
        )
        try:
            response = await self._generate(request, tenant)
        except ProviderError:
            return self.fallback.rewrite_sync(question, history)
        spent = ModelUsage.of_chat(response)
        self.usage.input_tokens += spent.input_tokens
        self.usage.output_tokens += spent.output_tokens
        self.usage.cost_usd += spent.cost_usd
        text = " ".join(response.text.strip().splitlines()[:1]).strip().strip('"')[: self.max_query_chars]
        if not text:
            return replace(self.fallback.rewrite_sync(question, history), usage=spent)
        base = self.fallback.rewrite_sync(text)
        return RewrittenQuery(
            original=question, dense=text, keyword=base.keyword, expansions=base.expansions, usage=spent
        )
