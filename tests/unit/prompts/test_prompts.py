"""Prompt templates (versions, sandbox, missing variables), token-aware truncation, redaction."""

from __future__ import annotations

import pytest

from motadata_ai.domain.prompts import (
    ContextWindow,
    ContextWindowTooSmall,
    MissingTemplateVariable,
    PromptRegistry,
    TemplateError,
    TemplateNotFound,
    UnsafeTemplate,
    estimate_tokens,
    redact_sensitive,
    redactor,
)
from motadata_ai.domain.values.llm import Message, ToolCall


def test_templates_are_versioned() -> None:
    registry = PromptRegistry()
    registry.register("triage", "Triage {{ ticket }}.")
    registry.register("triage", "Triage {{ ticket }} for {{ team }}.")
    assert registry.versions("triage") == [1, 2]
    assert registry.render("triage", {"ticket": "INC-1", "team": "net"}) == "Triage INC-1 for net."
    assert registry.render("triage", {"ticket": "INC-1"}, version=1) == "Triage INC-1."
    assert registry.get("triage").variables == ("ticket", "team")
    with pytest.raises(TemplateNotFound):
        registry.get("triage", version=9)
    with pytest.raises(TemplateNotFound):
        registry.get("nope")
    with pytest.raises(TemplateError):
        registry.register("triage", "changed text", version=1)


def test_a_missing_variable_is_a_typed_error_naming_it() -> None:
    registry = PromptRegistry()
    registry.register("greet", "Hello {{ name }}, about {{ topic }}")
    with pytest.raises(MissingTemplateVariable) as caught:
        registry.render("greet", {"name": "Ann"})
    assert caught.value.missing == ["topic"] and caught.value.template == "greet"


@pytest.mark.parametrize(
    "text",
    [
        "{{ __import__('os') }}",
        "{{ user.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ items['__globals__'] }}",
        "{% for p in passages %}{{ p.__dict__ }}{% endfor %}",
        "{% include 'other' %}",
        "{% import 'macros' as m %}",
        "{% extends 'base' %}",
    ],
)
def test_the_sandbox_refuses_interpreter_internals_when_registered(text: str) -> None:
    with pytest.raises(UnsafeTemplate):
        PromptRegistry().register("bad", text)


def test_values_are_rendered_as_text_never_evaluated() -> None:
    registry = PromptRegistry()
    registry.register("t", "{{ x }} and {{{{ literal }}}}")
    assert registry.render("t", {"x": "{{ y }}"}) == "{{ y }} and {{ literal }}"


def test_fit_keeps_everything_when_it_fits() -> None:
    window = ContextWindow(max_tokens=1000)
    fitted = window.fit(
        system="sys",
        latest=Message(role="user", content="now"),
        memories=["m1"],
        history=[Message(role="user", content="before")],
    )
    assert [m.role for m in fitted.messages] == ["system", "user", "user"]
    assert "Relevant memories:\n<<<memories\n- m1\nmemories>>>" in (fitted.messages[0].content or "")
    assert fitted.tokens <= window.budget


def test_truncation_drops_by_priority_history_then_memories_then_tool_results() -> None:
    window = ContextWindow(max_tokens=120, counter=lambda text: len(text.split()))
    history = [Message(role="user", content=f"old turn {i} " + "w " * 10) for i in range(5)]
    memories = ["memory " + "w " * 10, "second memory " + "w " * 10]
    exchange = [
        Message(role="assistant", tool_calls=(ToolCall(id="1", name="f", arguments="{}"),)),
        Message(role="tool", tool_call_id="1", name="f", content="result " + "w " * 20),
    ]
    fitted = window.fit(
        system="system words",
        latest=Message(role="user", content="latest question"),
        tool_exchanges=[exchange],
        memories=memories,
        history=history,
    )
    contents = [m.content for m in fitted.messages]
    assert contents[0] is not None and contents[0].startswith("system words")
    assert "latest question" in contents
    assert any(c and c.startswith("result") for c in contents)  # tool result kept before memories
    assert fitted.dropped_history >= 3
    assert fitted.tokens <= window.budget
    kept_history = [m for m in fitted.messages[1:] if m.content and m.content.startswith("old turn")]
    assert kept_history == history[len(history) - len(kept_history) :]  # the newest history survives


def test_an_oversized_tool_result_is_shortened_not_dropped() -> None:
    window = ContextWindow(max_tokens=200)
    exchange = [
        Message(role="assistant", tool_calls=(ToolCall(id="1", name="f", arguments="{}"),)),
        Message(role="tool", tool_call_id="1", name="f", content="x" * 4000),
    ]
    fitted = window.fit(system="s", latest=Message(role="user", content="q"), tool_exchanges=[exchange])
    tool = fitted.messages[-1]
    assert tool.role == "tool" and (tool.content or "").endswith("[truncated]")
    assert "tool_results" in fitted.shortened
    assert fitted.tokens <= window.budget


def test_system_and_latest_are_shortened_when_they_alone_overflow() -> None:
    window = ContextWindow(max_tokens=100)
    fitted = window.fit(system="s" * 1000, latest=Message(role="user", content="q" * 1000))
    assert fitted.tokens <= window.budget
    assert set(fitted.shortened) == {"system", "latest"}
    with pytest.raises(ContextWindowTooSmall):
        ContextWindow(max_tokens=9).fit(system="s" * 100, latest=Message(role="user", content="q"))


def test_token_estimate_and_injected_counter() -> None:
    assert estimate_tokens("") == 0 and estimate_tokens("abcd") == 1 and estimate_tokens("abcde") == 2
    window = ContextWindow(max_tokens=50, counter=lambda text: len(text))
    assert window.message_tokens(Message(role="user", content="abc")) == 3 + 4


def test_redaction_masks_sensitive_patterns() -> None:
    text = "mail ann@corp.com, card 4111 1111 1111 1111, api_key=abcdef123456, host 10.1.2.3"
    redacted = redact_sensitive(text)
    for secret in ("ann@corp.com", "4111 1111 1111 1111", "abcdef123456", "10.1.2.3"):
        assert secret not in redacted
    only_email = redactor({"email"})(text)
    assert "ann@corp.com" not in only_email and "10.1.2.3" in only_email
