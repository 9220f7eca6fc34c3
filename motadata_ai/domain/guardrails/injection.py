"""Prompt-injection screening: weighted phrase patterns that try to override the model's instructions.

A strong pattern ("ignore all previous instructions", "reveal your system prompt") scores 2, a
weak hint ("jailbreak", "developer mode", a chat-template marker) scores 1. The guardrail level
decides the score that blocks.

Each pattern names the words it cannot match without (every group: one of its words); a pattern
whose words are not all in the :func:`~.folding.folded` text is not run. Retrieved passages are
screened on every query, and most hold a word of one pattern or another ("show", "system"), but
seldom all the words of one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from motadata_ai.domain.guardrails.folding import folded

Needs = tuple[tuple[str, ...], ...]
"""Groups of words (folded): the text must hold one word of every group."""

_STRONG: list[tuple[str, str, Needs]] = [
    (
        "ignore_instructions",
        r"\b(?:ignore|disregard|forget|skip|override)\s+(?:all\s+|any\s+|the\s+|your\s+|my\s+)*"
        r"(?:previous|prior|above|earlier|preceding|original|system|initial)\s+(?:instructions?|prompts?|rules|"
        r"directions|guidelines|context)",
        (
            ("ignore", "disregard", "forget", "skip", "override"),
            ("instruction", "prompt", "rules", "directions", "guidelines", "context"),
        ),
    ),
    (
        "forget_everything",
        r"\bforget\s+(?:everything|all)\s+(?:you\s+(?:were|have\s+been)\s+told|above|before)",
        (("forget",),),
    ),
    (
        "reveal_prompt",
        r"\b(?:reveal|show|print|repeat|output|display|leak|tell\s+me)\s+(?:me\s+)?(?:your|the)\s+"
        r"(?:system\s+prompt|hidden\s+(?:prompt|instructions)|initial\s+(?:prompt|instructions)|"
        r"original\s+instructions|instructions\s+above)",
        (
            ("reveal", "show", "print", "repeat", "output", "display", "leak", "tell"),
            ("prompt", "instructions"),
        ),
    ),
    (
        "persona_override",
        r"\byou\s+are\s+(?:now\s+)?(?:DAN|in\s+developer\s+mode|jailbroken|unrestricted|"
        r"unfiltered|no\s+longer\s+bound)",
        (("you",), ("are",)),
    ),
    ("do_anything_now", r"\bdo\s+anything\s+now\b", (("anything",),)),
    (
        "bypass_safety",
        r"\b(?:bypass|disable|override|turn\s+off)\s+(?:your|the|all)\s+(?:safety|content|"
        r"security)\s+(?:filters?|policies|guidelines|rules|restrictions)",
        (("bypass", "disable", "override", "turn"), ("safety", "content", "security")),
    ),
]
_WEAK: list[tuple[str, str, Needs]] = [
    ("mentions_system_prompt", r"\bsystem\s+prompt\b", (("system",), ("prompt",))),
    ("jailbreak", r"\bjail\s?break", (("jail",),)),
    ("developer_mode", r"\bdeveloper\s+mode\b", (("developer",),)),
    ("pretend", r"\bpretend\s+(?:you\s+are|to\s+be)\b", (("pretend",),)),
    ("new_instructions", r"\bnew\s+instructions\s*:", (("instructions",),)),
    (
        "template_marker",
        r"<\|(?:im_start|im_end|system|endoftext)\|>|\[/?INST\]|^\s*#{2,}\s*(?:system|instruction)",
        (("<|", "inst]", "##"),),
    ),
    ("role_injection", r"^\s*(?:system|assistant)\s*:", (("system", "assistant"), (":",))),
]


def _compiled(patterns: list[tuple[str, str, Needs]]) -> list[tuple[str, re.Pattern[str], Needs]]:
    return [(name, re.compile(p, re.IGNORECASE | re.MULTILINE), needs) for name, p, needs in patterns]


_STRONG_RE = _compiled(_STRONG)
_WEAK_RE = _compiled(_WEAK)


def _holds(text: str, needs: Needs) -> bool:
    return all(any(word in text for word in group) for group in needs)


@dataclass(frozen=True, slots=True)
class InjectionScreen:
    """The screening result: total ``score`` and the names of the patterns that matched."""

    score: int
    matches: tuple[str, ...]


def screen(text: str) -> InjectionScreen:
    """Score ``text`` for prompt-injection attempts (0: nothing suspicious)."""
    words = folded(text)
    return _screen(text, lambda needs: _holds(words, needs))


def screen_every_pattern(text: str) -> InjectionScreen:
    """:func:`screen` without the word tests: every pattern run (tests compare the two)."""
    return _screen(text, lambda _needs: True)


def _screen(text: str, worth_running: Callable[[Needs], bool]) -> InjectionScreen:
    strong = [name for name, pattern, needs in _STRONG_RE if worth_running(needs) and pattern.search(text)]
    weak = [name for name, pattern, needs in _WEAK_RE if worth_running(needs) and pattern.search(text)]
    return InjectionScreen(2 * len(strong) + len(weak), tuple(strong + weak))
