"""Prompt context: versioned sandboxed templates, token estimation, truncation and redaction."""

from motadata_ai.domain.prompts.context import (
    ContextWindow,
    ContextWindowTooSmall,
    FittedContext,
    TokenCounter,
    estimate_tokens,
)
from motadata_ai.domain.prompts.redaction import Redactor, redact_sensitive, redactor
from motadata_ai.domain.prompts.templates import (
    MissingTemplateVariable,
    PromptRegistry,
    PromptTemplate,
    TemplateError,
    TemplateNotFound,
    UnsafeTemplate,
)

__all__ = [
    "ContextWindow",
    "ContextWindowTooSmall",
    "FittedContext",
    "MissingTemplateVariable",
    "PromptRegistry",
    "PromptTemplate",
    "Redactor",
    "TemplateError",
    "TemplateNotFound",
    "TokenCounter",
    "UnsafeTemplate",
    "estimate_tokens",
    "redact_sensitive",
    "redactor",
]
