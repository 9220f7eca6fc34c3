"""Prompt templates are Jinja2 in a sandbox: loops, conditions, strict variables, no escapes."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from motadata_ai.domain.prompts import (
    MissingTemplateVariable,
    PromptRegistry,
    PromptTemplate,
    TemplateError,
    UnsafeTemplate,
)

PASSAGES = """Answer from these passages only.
{% for p in passages %}
[{{ loop.index }}] {{ p.title }}: {{ p.text }}
{% endfor %}
Question: {{ question }}"""


def test_a_loop_over_passages() -> None:
    registry = PromptRegistry()
    registry.register("rag", PASSAGES)
    rendered = registry.render(
        "rag",
        {
            "passages": [
                {"title": "VPN", "text": "Restart the client."},
                {"title": "Wi-Fi", "text": "Forget the network."},
            ],
            "question": "VPN drops?",
        },
    )
    assert rendered == (
        "Answer from these passages only.\n\n[1] VPN: Restart the client.\n\n"
        "[2] Wi-Fi: Forget the network.\n\nQuestion: VPN drops?"
    )
    assert registry.get("rag").variables == ("passages", "question")


@dataclass
class Passage:
    source: str
    text: str


def test_a_condition_and_a_few_shot_list_of_objects() -> None:
    template = PromptTemplate(
        name="triage",
        text=(
            "{% if urgent %}URGENT: {% endif %}Triage {{ ticket | upper }}."
            "{% for e in examples %} e.g. {{ e.source }} -> {{ e.text }}{% endfor %}"
            "{% if notes is defined %} Notes: {{ notes }}{% endif %}"
        ),
    )
    examples = [Passage("kb/1", "network"), Passage("kb/2", "identity")]
    assert template.render(urgent=True, ticket="inc-7", examples=examples) == (
        "URGENT: Triage INC-7. e.g. kb/1 -> network e.g. kb/2 -> identity"
    )
    assert template.render(urgent=False, ticket="inc-8", examples=[], notes="n") == "Triage INC-8. Notes: n"


def test_a_missing_variable_is_the_typed_error_even_in_a_condition() -> None:
    template = PromptTemplate(name="cond", text="{% if urgent %}now{% endif %} {{ ticket }}")
    with pytest.raises(MissingTemplateVariable) as caught:
        template.render(ticket="INC-1")
    assert caught.value.missing == ["urgent"] and caught.value.template == "cond"
    looped = PromptTemplate(name="loop", text="{% for p in passages %}{{ p.text }}{% endfor %}")
    with pytest.raises(MissingTemplateVariable) as caught:
        looped.render(passages=[{"title": "no text key"}])
    assert caught.value.missing == []  # every variable was given; an item lacked the attribute
    assert "text" in str(caught.value)


class Secretive:
    """An object whose internals a template must not reach."""

    _token = "s3cr3t"


@pytest.mark.parametrize(
    ("text", "variables"),
    [
        ("{{ x[key] }}", {"x": Secretive(), "key": "__class__"}),
        ("{{ '{0.__class__}'.format(x) }}", {"x": Secretive()}),
        ("{{ x._token }}", {"x": Secretive()}),
        ("{{ f.gi_frame }}", {"f": (i for i in range(1))}),
        ("{% set _ = items.append(3) %}{{ items }}", {"items": [1, 2]}),
    ],
)
def test_what_the_sandbox_refuses_while_rendering_is_unsafe_template(
    text: str, variables: dict[str, object]
) -> None:
    template = PromptRegistry().register("escape", text)
    with pytest.raises(UnsafeTemplate):
        template.render(variables)


def test_attribute_escapes_are_refused_before_rendering() -> None:
    with pytest.raises(UnsafeTemplate) as caught:
        PromptRegistry().register("x", "{{ x.__class__ }}")
    assert caught.value.placeholder == "__class__"


def test_existing_plain_templates_render_unchanged() -> None:
    registry = PromptRegistry()
    registry.register("plain", "Hello {{ name }},\n{{name}} {{ _private }} {{{{ literal }}}}\n")
    assert (
        registry.render("plain", {"name": "Ann", "_private": 3}) == "Hello Ann,\nAnn 3 {{ literal }}\n"
    )  # the trailing newline is kept and values are text, never HTML-escaped
    assert (
        registry.render("plain", {"name": "<b>&", "_private": None})
        == "Hello <b>&,\n<b>& None {{ literal }}\n"
    )


def test_a_malformed_template_is_a_template_error_naming_the_line() -> None:
    with pytest.raises(TemplateError) as caught:
        PromptRegistry().register("broken", "line one\n{% for p in passages %}{{ p }}")
    assert caught.value.template == "broken" and caught.value.line == 2
    assert not isinstance(caught.value, UnsafeTemplate)
    with pytest.raises(TemplateError):
        PromptRegistry().register("empty", "{{ }}")


def test_a_failing_expression_is_a_template_error() -> None:
    template = PromptTemplate(name="div", text="{{ a / b }}")
    with pytest.raises(TemplateError) as caught:
        template.render(a=1, b=0)
    assert "ZeroDivisionError" in str(caught.value)


def test_each_template_text_is_compiled_once() -> None:
    from motadata_ai.domain.prompts import templates

    text = "Compiled once for {{ team }} (" + test_each_template_text_is_compiled_once.__name__ + ")"
    before = templates._compile.cache_info()
    first = PromptTemplate(name="hot", text=text)
    assert [first.render(team=t) for t in ("net", "db")] == [
        f"Compiled once for {t} (test_each_template_text_is_compiled_once)" for t in ("net", "db")
    ]
    PromptTemplate(name="hot-copy", version=2, text=text).render(team="ops")
    after = templates._compile.cache_info()
    assert after.misses - before.misses == 1
    assert after.hits - before.hits == 2


@pytest.mark.parametrize("text", ["{{ 'x' * 10**9 }}", "{{ [0] * n }}", "{{ 10 ** 1000000 }}"])
def test_memory_bombs_are_refused_by_the_sandbox(text: str) -> None:
    template = PromptTemplate(name="bomb", text=text)
    with pytest.raises(UnsafeTemplate):
        template.render(n=10**9)
    assert PromptTemplate(name="fine", text="{{ '-' * 3 }}{{ 2 ** 3 }}").render() == "---8"
