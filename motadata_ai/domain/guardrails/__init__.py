"""Guardrails: PII redaction, prompt-injection screening, content filter, size limits and
JSON-schema validation, at three levels (strict, medium, loose), for user input, model output and
untrusted quoted context (:mod:`.context`). Pure functions, no I/O."""

from motadata_ai.domain.guardrails.content import flagged_categories
from motadata_ai.domain.guardrails.context import ContextCheck, ContextGuard, GuardedText
from motadata_ai.domain.guardrails.injection import InjectionScreen, screen
from motadata_ai.domain.guardrails.pii import ALL_KINDS, Redaction, detect, luhn_valid, redact
from motadata_ai.domain.guardrails.policy import (
    LEVELS,
    InputCheck,
    LevelPolicy,
    OutputCheck,
    check_input,
    check_output,
)
from motadata_ai.domain.guardrails.schema import (
    InvalidResponseSchema,
    OutputSchema,
    ResponseSchema,
    compile_schema,
    parse_json_output,
    validate,
)

__all__ = [
    "ALL_KINDS",
    "LEVELS",
    "ContextCheck",
    "ContextGuard",
    "GuardedText",
    "InjectionScreen",
    "InputCheck",
    "InvalidResponseSchema",
    "LevelPolicy",
    "OutputCheck",
    "OutputSchema",
    "Redaction",
    "ResponseSchema",
    "check_input",
    "check_output",
    "compile_schema",
    "detect",
    "flagged_categories",
    "luhn_valid",
    "parse_json_output",
    "redact",
    "screen",
    "validate",
]
