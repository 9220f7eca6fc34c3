"""Structured-output validation: every Draft 2020-12 keyword enforced, unknown ones refused at
configuration, pydantic model classes, and violations that name the JSON path."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import BaseModel, Field

from motadata_ai.domain.gateway import GuardrailViolation
from motadata_ai.domain.guardrails import (
    LEVELS,
    InvalidResponseSchema,
    check_output,
    compile_schema,
    validate,
)
from motadata_ai.domain.guardrails.schema import KNOWN_KEYWORDS
from motadata_ai.domain.values.errors import ConfigurationError
from motadata_ai.domain.values.llm import ChatRequest, Message

from .conftest import Rig, ask

RigFactory = Callable[..., Rig]

# (keyword, schema, a valid answer, an invalid answer, the path the violation must name)
KEYWORD_TABLE: list[tuple[str, dict[str, Any], Any, Any, str]] = [
    ("uniqueItems", {"type": "array", "uniqueItems": True}, [1, 2, 3], [1, 2, 1], "$"),
    ("multipleOf", {"properties": {"step": {"multipleOf": 5}}}, {"step": 15}, {"step": 7}, "$.step"),
    ("format date-time", {"format": "date-time"}, "2026-12-01T22:00:00Z", "yesterday at noon", "$"),
    ("format email", {"properties": {"to": {"format": "email"}}}, {"to": "a@b.io"}, {"to": "nobody"}, "$.to"),
    ("format uuid", {"format": "uuid"}, "12345678-1234-5678-1234-567812345678", "not-a-uuid", "$"),
    ("format uri", {"format": "uri"}, "https://desk.example.com/kb/1", "no scheme here", "$"),
    (
        "prefixItems",
        {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}], "items": False},
        ["INC-1", 3],
        ["INC-1", "three"],
        "$[1]",
    ),
    (
        "propertyNames",
        {"type": "object", "propertyNames": {"pattern": "^[a-z_]+$"}},
        {"ticket_id": 1},
        {"TicketId": 1},
        "$",
    ),
    (
        "dependentRequired",
        {"type": "object", "dependentRequired": {"assignee": ["team"]}},
        {"assignee": "ann", "team": "net"},
        {"assignee": "ann"},
        "$",
    ),
    (
        "if/then/else",
        {
            "type": "object",
            "if": {"properties": {"priority": {"const": "P1"}}},
            "then": {"required": ["escalation"]},
            "else": {"properties": {"escalation": False}},
        },
        {"priority": "P1", "escalation": "major-incident"},
        {"priority": "P1"},
        "$",
    ),
    (
        "else branch",
        {
            "type": "object",
            "if": {"properties": {"priority": {"const": "P1"}}},
            "then": {"required": ["escalation"]},
            "else": {"properties": {"escalation": False}},
        },
        {"priority": "P3"},
        {"priority": "P3", "escalation": "why"},
        "$.escalation",
    ),
    ("minProperties", {"type": "object", "minProperties": 2}, {"a": 1, "b": 2}, {"a": 1}, "$"),
    ("maxProperties", {"type": "object", "maxProperties": 1}, {"a": 1}, {"a": 1, "b": 2}, "$"),
    (
        "patternProperties",
        {"type": "object", "patternProperties": {"^cf_": {"type": "string"}}},
        {"cf_site": "paris", "other": 3},
        {"cf_site": 3},
        "$.cf_site",
    ),
    (
        "contains/maxContains",
        {"type": "array", "contains": {"const": "root-cause"}, "maxContains": 1},
        ["a", "root-cause"],
        ["root-cause", "root-cause"],
        "$",
    ),
    ("not", {"not": {"type": "null"}}, "x", None, "$"),
    (
        "unevaluatedProperties",
        {"allOf": [{"properties": {"id": {}}}], "unevaluatedProperties": False},
        {"id": 1},
        {"id": 1, "extra": 2},
        "$",
    ),
    (
        "dependentSchemas",
        {"type": "object", "dependentSchemas": {"sla": {"required": ["deadline"]}}},
        {"sla": "gold", "deadline": "2026-12-02"},
        {"sla": "gold"},
        "$",
    ),
    (
        "$ref to an $anchor",
        {
            "properties": {"owner": {"$ref": "#person"}},
            "$defs": {"p": {"$anchor": "person", "required": ["id"]}},
        },
        {"owner": {"id": 3}},
        {"owner": {}},
        "$.owner",
    ),
    (
        "nested array path",
        {
            "type": "object",
            "properties": {
                "items": {
                    "type": "array",
                    "items": {"type": "object", "properties": {"id": {"type": "integer"}}},
                }
            },
        },
        {"items": [{"id": 1}, {"id": 2}, {"id": 3}]},
        {"items": [{"id": 1}, {"id": 2}, {"id": "three"}]},
        "$.items[2].id",
    ),
]


@pytest.mark.parametrize(
    ("schema", "valid", "invalid", "path"),
    [row[1:] for row in KEYWORD_TABLE],
    ids=[row[0] for row in KEYWORD_TABLE],
)
def test_each_keyword_is_enforced_and_the_reason_names_the_path(
    schema: dict[str, Any], valid: Any, invalid: Any, path: str
) -> None:
    assert validate(valid, schema) == []
    problems = validate(invalid, schema)
    assert problems, f"{invalid!r} passed {schema!r}"
    assert any(problem.startswith(f"{path}: ") for problem in problems), problems


def test_check_output_reports_schema_violations_with_their_path() -> None:
    schema = {"type": "object", "properties": {"tags": {"type": "array", "uniqueItems": True}}}
    checked = check_output('{"tags": ["vpn", "vpn"]}', LEVELS["loose"], schema=schema)
    assert checked.violations == ["schema: $.tags: ['vpn', 'vpn'] has non-unique elements"]
    assert check_output('{"tags": ["vpn"]}', LEVELS["loose"], schema=schema).violations == []


@pytest.mark.parametrize(
    ("schema", "location", "keyword"),
    [
        ({"type": "object", "x-unknown": True}, '$["x-unknown"]', "x-unknown"),
        (
            {"properties": {"id": {"type": "integer", "nullable": True}}},
            "$.properties.id.nullable",
            "nullable",
        ),
        ({"items": {"discriminator": {"propertyName": "kind"}}}, "$.items.discriminator", "discriminator"),
        ({"type": "object", "dependencies": {"a": ["b"]}}, "$.dependencies", "dependencies"),
        ({"contentMediaType": "application/json"}, "$.contentMediaType", "contentMediaType"),
        ({"properties": {"blob": {"format": "binary"}}}, "$.properties.blob.format", "format"),
        ({"properties": {"o": {"$ref": "#/$defs/missing"}}}, "$.properties.o.$ref", "$ref"),
        ({"$ref": "https://example.com/schema.json"}, "$.$ref", "$ref"),
        ({"$schema": "http://json-schema.org/draft-07/schema#"}, "$.$schema", "$schema"),
        ({"type": "strnig"}, "$.type", "type"),
        ({"minItems": -1}, "$.minItems", "minItems"),
        ({"pattern": "(unclosed"}, "$.pattern", "pattern"),
    ],
)
def test_a_keyword_that_cannot_be_checked_is_refused_at_configuration(
    schema: dict[str, Any], location: str, keyword: str
) -> None:
    with pytest.raises(InvalidResponseSchema) as caught:
        compile_schema(schema)
    assert isinstance(caught.value, ConfigurationError)
    assert caught.value.location == location and caught.value.keyword == keyword
    assert caught.value.field == "response_schema"


def test_every_keyword_the_validator_enforces_is_accepted() -> None:
    assert set(Draft202012Validator.VALIDATORS) <= KNOWN_KEYWORDS
    annotated = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://desk.example.com/schemas/triage",
        "$comment": "annotations only",
        "title": "Triage",
        "description": "a triage answer",
        "type": "object",
        "properties": {"p": {"type": "string", "default": "P3", "examples": ["P1"], "deprecated": False}},
    }
    assert validate({"p": "P2"}, annotated) == []


@pytest.mark.parametrize(
    ("fmt", "valid", "invalid"),
    [
        ("date", "2026-12-01", "2026-13-01"),
        ("time", "22:00:00Z", "25:00"),
        ("duration", "P1DT2H", "two hours"),
        ("hostname", "desk.example.com", "-bad-.example"),
        ("ipv4", "10.0.0.1", "10.0.0.256"),
        ("ipv6", "2001:db8::1", "2001:db8:::1"),
        ("uri-reference", "/kb/1?x=1", "\\bad"),
        ("json-pointer", "/items/0", "items/0"),
        ("uri-template", "https://desk/{id}", "https://desk/{id"),
        ("regex", "^INC-[0-9]+$", "(unclosed"),
    ],
)
def test_the_declared_format_checkers_are_installed(fmt: str, valid: str, invalid: str) -> None:
    schema = {"type": "string", "format": fmt}
    assert validate(valid, schema) == []
    assert validate(invalid, schema) == [f"$: {invalid!r} is not a {fmt!r}"]


def test_a_schema_that_is_not_json_is_a_configuration_error() -> None:
    with pytest.raises(InvalidResponseSchema):
        compile_schema({"enum": [{1, 2}]})
    with pytest.raises(InvalidResponseSchema):
        compile_schema("a string is not a schema")  # type: ignore[arg-type]


class Ticket(BaseModel):
    """A triaged ticket."""

    priority: str = Field(pattern="^P[1-4]$")
    tags: list[str] = []
    owner_id: int


def test_a_pydantic_model_class_validates_and_gives_back_the_object() -> None:
    checked = check_output('```json\n{"priority": "P2", "owner_id": 7}\n```', LEVELS["loose"], schema=Ticket)
    assert checked.violations == []
    assert checked.parsed == Ticket(priority="P2", owner_id=7)
    bad = check_output('{"priority": "urgent", "tags": ["a", 3]}', LEVELS["loose"], schema=Ticket)
    assert bad.parsed is None
    assert sorted(bad.violations) == [
        "schema: $.owner_id: Field required",
        "schema: $.priority: String should match pattern '^P[1-4]$'",
        "schema: $.tags[1]: Input should be a valid string",
    ]
    assert check_output("not json", LEVELS["loose"], schema=Ticket).violations[0].startswith("invalid_json")
    assert validate({"priority": "P1", "owner_id": 1}, Ticket) == []


@pytest.mark.asyncio
async def test_the_gateway_refuses_an_uncheckable_schema_before_calling_the_model(
    make_rig: RigFactory,
) -> None:
    rig = make_rig(lambda r: '{"priority": "high"}')
    schema = {"type": "object", "properties": {"priority": {"type": "string", "x-enum-names": ["High"]}}}
    with pytest.raises(InvalidResponseSchema):
        await rig.gateway.generate(ask("classify"), tenant_id="acme", response_schema=schema)
    request = ChatRequest(
        model="test/model",
        messages=(Message(role="user", content="classify"),),
        response_format={"type": "json_schema", "json_schema": {"name": "t", "schema": schema}},
    )
    with pytest.raises(InvalidResponseSchema):
        await rig.gateway.generate(request, tenant_id="acme")
    with pytest.raises(InvalidResponseSchema):
        async for _ in rig.gateway.stream(request, tenant_id="acme"):
            pass
    assert rig.llm.calls == []


@pytest.mark.asyncio
async def test_the_gateway_enforces_new_keywords_and_pydantic_models(make_rig: RigFactory) -> None:
    answers = iter(
        ['{"tags": ["vpn", "vpn"]}', '{"priority": "P9", "owner_id": 1}', '{"priority": "P1", "owner_id": 1}']
    )
    rig = make_rig(lambda r: next(answers))
    with pytest.raises(GuardrailViolation) as caught:
        await rig.gateway.generate(
            ask("tags"), tenant_id="acme", response_schema={"properties": {"tags": {"uniqueItems": True}}}
        )
    assert caught.value.reasons == ["schema: $.tags: ['vpn', 'vpn'] has non-unique elements"]
    with pytest.raises(GuardrailViolation) as caught:
        await rig.gateway.generate(ask("triage"), tenant_id="acme", response_schema=Ticket)
    assert caught.value.reasons == ["schema: $.priority: String should match pattern '^P[1-4]$'"]
    response = await rig.gateway.generate(ask("triage"), tenant_id="acme", response_schema=Ticket)
    assert Ticket.model_validate_json(response.text).priority == "P1"
    # the model class keys the cache like a schema does: the same call is now a hit
    again = await rig.gateway.generate(ask("triage"), tenant_id="acme", response_schema=Ticket)
    assert again.cached and len(rig.llm.calls) == 3


def test_an_answer_nested_too_deeply_is_a_violation_not_a_crash() -> None:
    bomb = "[" * 100_000 + "]" * 100_000
    schema = {"type": "array", "items": {"$ref": "#"}}
    assert check_output(bomb, LEVELS["loose"], schema=schema).violations[0].startswith("invalid_json")
    assert check_output(bomb, LEVELS["loose"], json_required=True).violations[0].startswith("invalid_json")
    assert check_output(bomb, LEVELS["loose"], schema=Ticket).violations[0].startswith("invalid_json")
    deep: list[Any] = []
    for _ in range(600):
        deep = [deep]
    assert validate(deep, schema) == ["$: nested too deeply to validate"]


@pytest.mark.asyncio
async def test_a_pydantic_model_schema_gives_back_the_parsed_instance(make_rig: RigFactory) -> None:
    rig = make_rig(lambda r: '{"priority": "P2", "owner_id": 7}')
    response = await rig.gateway.generate(ask("triage"), tenant_id="acme", response_schema=Ticket)
    hit = await rig.gateway.generate(ask("triage"), tenant_id="acme", response_schema=Ticket)
    assert response.parsed == Ticket(priority="P2", owner_id=7) and isinstance(response.parsed, Ticket)
    assert hit.cached and hit.parsed == Ticket(priority="P2", owner_id=7)
    assert response.parse(Ticket) == response.parsed  # the explicit parse still works
    assert "parsed" not in response.model_dump()


@pytest.mark.asyncio
async def test_a_json_schema_dict_leaves_parsed_unset(make_rig: RigFactory) -> None:
    rig = make_rig(lambda r: '{"priority": "P2"}')
    schema = {"type": "object", "properties": {"priority": {"type": "string"}}, "required": ["priority"]}
    response = await rig.gateway.generate(ask("triage"), tenant_id="acme", response_schema=schema)
    plain = await rig.gateway.generate(ask("anything"), tenant_id="acme")
    assert response.parsed is None and response.text == '{"priority": "P2"}'
    assert plain.parsed is None
