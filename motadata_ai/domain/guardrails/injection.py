"""Prompt-injection screening: weighted phrase patterns that try to override the model's instructions.

A strong pattern ("ignore all previous instructions", "reveal your system prompt") scores 2, a
weak hint ("jailbreak", "developer mode", a chat-template marker) scores 1. The guardrail level
decides the score that blocks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_STRONG = [
    (
        "ignore_instructions",
        r"\b(?:ignore|disregard|forget|skip|override)\s+(?:all\s+|any\s+|the\s+|your\s+|my\s+)*"
        r"(?:previous|prior|above|earlier|preceding|original|system|initial)\s+(?:instructions?|prompts?|rules|"
        r"directions|guidelines|context)",
    ),
    (
        "forget_everything",
        r"\bforget\s+(?:everything|all)\s+(?:you\s+(?:were|have\s+been)\s+told|above|before)",
    ),
    (
        "reveal_prompt",
        r"\b(?:reveal|show|print|repeat|output|display|leak|tell\s+me)\s+(?:me\s+)?(?:your|the)\s+"
        r"(?:system\s+prompt|hidden\s+(?:prompt|instructions)|initial\s+(?:prompt|instructions)|"
        r"original\s+instructions|instructions\s+above)",
    ),
    (
        "persona_override",
        r"\byou\s+are\s+(?:now\s+)?(?:DAN|in\s+developer\s+mode|jailbroken|unrestricted|"
        r"unfiltered|no\s+longer\s+bound)",
    ),
    ("do_anything_now", r"\bdo\s+anything\s+now\b"),
    (
        "bypass_safety",
        r"\b(?:bypass|disable|override|turn\s+off)\s+(?:your|the|all)\s+(?:safety|content|"
        r"security)\s+(?:filters?|policies|guidelines|rules|restrictions)",
    ),
]
_WEAK = [
    ("mentions_system_prompt", r"\bsystem\s+prompt\b"),
    ("jailbreak", r"\bjail\s?break"),
    ("developer_mode", r"\bdeveloper\s+mode\b"),
    ("pretend", r"\bpretend\s+(?:you\s+are|to\s+be)\b"),
    ("new_instructions", r"\bnew\s+instructions\s*:"),
    (
        "template_marker",
        r"<\|(?:im_start|im_end|system|endoftext)\|>|\[/?INST\]|^\s*#{2,}\s*(?:system|instruction)",
    ),
    ("role_injection", r"^\s*(?:system|assistant)\s*:"),
]

_STRONG_RE = [(name, re.compile(p, re.IGNORECASE | re.MULTILINE)) for name, p in _STRONG]
_WEAK_RE = [(name, re.compile(p, re.IGNORECASE | re.MULTILINE)) for name, p in _WEAK]
_QUICK = re.compile(
    r"ignore|disregard|forget|skip|override|reveal|show|print|repeat|output|display|leak|tell|you\s+are|"
    r"anything|bypass|disable|turn\s+off|system|jail|developer|pretend|instructions|<\||INST|assistant\s*:",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class InjectionScreen:
    """The screening result: total ``score`` and the names of the patterns that matched."""

    score: int
    matches: tuple[str, ...]


def screen(text: str) -> InjectionScreen:
    """Score ``text`` for prompt-injection attempts (0: nothing suspicious)."""
    if not _QUICK.search(text):
        return InjectionScreen(0, ())
    matches = [name for name, pattern in _STRONG_RE if pattern.search(text)]
    score = 2 * len(matches)
    weak = [name for name, pattern in _WEAK_RE if pattern.search(text)]
    return InjectionScreen(score + len(weak), tuple(matches + weak))
