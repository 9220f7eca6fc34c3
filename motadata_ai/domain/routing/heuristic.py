"""The documented routing heuristic of the unified query: action requests go to an agent, knowledge
questions to RAG.

Rules, in order:

1. A request that starts with an action verb ("restart the VPN gateway"), or puts one after a
   polite opener ("please", "can you", "could you", "would you", "I need you to", "go ahead and"),
   is an **agent** request.
2. A ticket id (``INC-123``, ``CHG0001``, ``PRB-9``, ``REQ``, ``RITM``, ``TASK``, ``SR``) together
   with an action verb (or its inflection) anywhere, in a sentence that is not a question, is an
   **agent** request ("INC-42 needs to be escalated").
3. A question ("how", "what", "why", "when", "where", "which", "who", "is", "are", "does",
   "explain", "describe", "tell me about", a trailing "?") is a **RAG** request.
4. Anything else goes to **RAG** (answering from knowledge cannot change anything).

The decision carries a confidence (0.5-0.95) and the rule that fired, so callers can log it.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict

Route = Literal["agent", "rag"]

ACTION_VERBS: frozenset[str] = frozenset(
    """
    create open raise file log update modify edit close resolve reopen assign reassign escalate
    restart reboot reset restore provision deprovision deploy rollback roll delete remove approve
    reject schedule reschedule run execute cancel change set grant revoke disable enable install
    uninstall upgrade patch submit book order notify send email message merge link unlink add
    block unblock unlock lock suspend rotate renew extend triage prioritize prioritise categorize
    categorise acknowledge ack mute snooze start stop kill scale backup migrate configure
    """.split()
)

_OPENERS = re.compile(
    r"^(?:please|pls|kindly|can you|could you|would you|will you|can u|i need you to|i want you to|"
    r"go ahead and|let's|lets|help me)\s+(?:please\s+)?"
)
_TICKET = re.compile(r"\b(?:inc|chg|prb|req|ritm|task|sr)[-_ ]?\d{2,}\b", re.IGNORECASE)
_QUESTION_START = re.compile(
    r"^(?:how|what|what's|whats|why|when|where|which|who|whom|whose|is|are|was|were|does|do|did|"
    r"explain|describe|tell me|define|list the|show me how|should|can i|could i|may i)\b"
)
_WORD = re.compile(r"[a-z']+")


class RouteDecision(BaseModel):
    """Where a query goes, how sure the router is, and why."""

    model_config = ConfigDict(frozen=True)

    route: Route
    confidence: float
    reason: str


def _action_verb(word: str) -> bool:
    """``word`` is an action verb or an inflection of one (closed, escalating, resets)."""
    if word in ACTION_VERBS:
        return True
    for suffix in ("ed", "d", "ing", "es", "s"):
        if word.endswith(suffix) and word[: -len(suffix)] in ACTION_VERBS:
            return True
    return word.endswith("ing") and word[:-3] + "e" in ACTION_VERBS


def route_by_heuristic(query: str) -> RouteDecision:
    """Apply the module's rules to ``query``."""
    text = " ".join(query.lower().split())
    stripped = _OPENERS.sub("", text, count=1)
    opener = stripped != text
    words = _WORD.findall(stripped)
    first = words[0] if words else ""
    if first in ACTION_VERBS:
        return RouteDecision(
            route="agent",
            confidence=0.9 if opener or not text.endswith("?") else 0.8,
            reason=f"starts with the action verb {first!r}" + (" after a polite opener" if opener else ""),
        )
    question = bool(_QUESTION_START.match(text)) or text.endswith("?")
    verbs = sorted({w for w in _WORD.findall(text) if _action_verb(w)})
    if _TICKET.search(text) and verbs and not question:
        return RouteDecision(
            route="agent", confidence=0.75, reason=f"names a ticket and the action verb {verbs[0]!r}"
        )
    if question:
        return RouteDecision(route="rag", confidence=0.85, reason="is a knowledge question")
    return RouteDecision(route="rag", confidence=0.5, reason="no action found: answering from knowledge")
