"""The three guardrail levels and the input/output checks they run (pure: no I/O).

=================  ==============================  ===============================  ==================
check              strict                          medium (default)                 loose
=================  ==============================  ===============================  ==================
input size         200,000 characters              1,000,000 characters             context window only
input PII          redact every kind               redact every kind but IPs        redact secrets, cards
injection          block at score >= 1             block at score >= 2              audit only
output PII         redact every kind               redact secrets, cards, SSNs      none
content filter     block                           block                            none
JSON schema        block on mismatch               block on mismatch                block on mismatch
=================  ==============================  ===============================  ==================
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from motadata_ai.domain.guardrails.content import flagged_categories
from motadata_ai.domain.guardrails.injection import screen
from motadata_ai.domain.guardrails.pii import ALL_KINDS, redact
from motadata_ai.domain.guardrails.schema import ResponseSchema, compile_schema, parse_json_output
from motadata_ai.domain.values.llm import Message


@dataclass(frozen=True, slots=True)
class LevelPolicy:
    """What one guardrail level checks and when it blocks."""

    name: str
    max_input_chars: int | None
    input_pii: frozenset[str]
    injection_block_score: int | None
    output_pii: frozenset[str]
    content_filter: bool


LEVELS: dict[str, LevelPolicy] = {
    "strict": LevelPolicy("strict", 200_000, ALL_KINDS, 1, ALL_KINDS, True),
    "medium": LevelPolicy(
        "medium", 1_000_000, ALL_KINDS - {"ip_address"}, 2, frozenset({"secret", "credit_card", "ssn"}), True
    ),
    "loose": LevelPolicy("loose", None, frozenset({"secret", "credit_card"}), None, frozenset(), False),
}

_REDACTED_ROLES = ("user", "tool", "assistant")
_SCREENED_ROLES = ("user", "tool")


@dataclass(slots=True)
class InputCheck:
    """The messages to send (redacted), what was redacted, and why the input is refused (if it is)."""

    messages: tuple[Message, ...]
    redacted: dict[str, int] = field(default_factory=dict)
    injection_score: int = 0
    injection_matches: tuple[str, ...] = ()
    violations: list[str] = field(default_factory=list)


@dataclass(slots=True)
class OutputCheck:
    """The text to return (redacted), what was redacted, and why the output is refused (if it is)."""

    text: str
    redacted: dict[str, int] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    parsed: Any = None


def check_input(
    messages: Sequence[Message], policy: LevelPolicy, *, max_input_chars: int | None = None
) -> InputCheck:
    """Run size, PII and injection checks over the messages."""
    limit = max_input_chars if max_input_chars is not None else policy.max_input_chars
    result = InputCheck(messages=tuple(messages))
    total = sum(len(m.content or "") for m in messages)
    if limit is not None and total > limit:
        result.violations.append(f"input_too_large: {total} characters, at most {limit} allowed")
        return result
    changed = False
    out: list[Message] = []
    for message in messages:
        content = message.content
        if content and message.role in _SCREENED_ROLES:
            verdict = screen(content)
            if verdict.score:
                result.injection_score += verdict.score
                result.injection_matches += verdict.matches
        if content and policy.input_pii and message.role in _REDACTED_ROLES:
            redaction = redact(content, policy.input_pii)
            if redaction.found:
                changed = True
                for kind, count in redaction.found.items():
                    result.redacted[kind] = result.redacted.get(kind, 0) + count
                message = message.model_copy(update={"content": redaction.text})
        out.append(message)
    if changed:
        result.messages = tuple(out)
    block = policy.injection_block_score
    if block is not None and result.injection_score >= block:
        result.violations.append("prompt_injection: " + ", ".join(result.injection_matches))
    return result


def check_output(
    text: str,
    policy: LevelPolicy,
    *,
    schema: ResponseSchema | None = None,
    json_required: bool = False,
    blocked_terms: Sequence[str] = (),
) -> OutputCheck:
    """Run the content filter, PII redaction and (when asked) JSON-schema validation on an answer.

    ``schema`` is a JSON schema or a pydantic model class (``parsed`` is then the model instance);
    a schema the validator cannot enforce raises :class:`InvalidResponseSchema`.
    """
    result = OutputCheck(text=text)
    if policy.content_filter or blocked_terms:
        categories = flagged_categories(text, blocked_terms)
        if not policy.content_filter:
            categories = [c for c in categories if c == "blocked_term"]
        result.violations += [f"content_filter: {c}" for c in categories]
    if policy.output_pii:
        redaction = redact(text, policy.output_pii)
        if redaction.found:
            result.text = redaction.text
            result.redacted = redaction.found
    if schema is not None:
        answer = compile_schema(schema).check(text)
        result.parsed = answer.parsed
        result.violations += answer.violations[:10]
    elif json_required:
        try:
            result.parsed = parse_json_output(text)
        except ValueError as error:
            result.violations.append(f"invalid_json: {error}")
    return result
