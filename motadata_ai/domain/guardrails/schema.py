"""Structured-output validation: JSON Schema Draft 2020-12 (``jsonschema``) or a pydantic model.

A response schema is checked once, when it is configured (:func:`compile_schema`, cached): the
schema must pass the Draft 2020-12 meta-schema, every keyword in it must be one the validator
enforces (or a pure annotation such as ``title``), every ``format`` must have a checker and every
``$ref`` must resolve inside the schema. Anything else is :class:`InvalidResponseSchema`, never a
keyword silently ignored. A pydantic model class is validated with ``model_validate_json`` and
the parsed object is handed back. Violations name the JSON path of the offending value
(``$.items[2].id: ...``).

This is the only module of the SDK that imports ``jsonschema``.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

import pydantic

from motadata_ai.domain.guardrails.schema_keywords import KNOWN_KEYWORDS, false_as_never, keyword_problem
from motadata_ai.domain.values.errors import ConfigurationError

if TYPE_CHECKING:  # jsonschema is imported on first use: ``import motadata_ai`` stays light
    from jsonschema import Draft202012Validator, FormatChecker
    from jsonschema.exceptions import ValidationError as JSONSchemaViolation

__all__ = [
    "KNOWN_KEYWORDS",
    "InvalidResponseSchema",
    "OutputSchema",
    "ResponseSchema",
    "compile_schema",
    "parse_json_output",
    "schema_fingerprint",
    "validate",
]

_DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"

_IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_MAX_REASON = 300


class InvalidResponseSchema(ConfigurationError):
    """A response schema the SDK cannot enforce as written.

    ``location`` is the JSON path inside the schema, ``keyword`` the offending keyword (if one is).
    """

    field: str
    location: str
    keyword: str | int | None


def parse_json_output(text: str) -> Any:
    """Parse a model's JSON answer, tolerating a surrounding Markdown code fence.

    Raises ``ValueError`` when the text is not JSON (or is nested too deeply to parse).
    """
    try:
        return json.loads(_unfenced(text))
    except RecursionError as error:
        raise ValueError("JSON nested too deeply") from error


def _unfenced(text: str) -> str:
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped.split("\n", 1)[1] if "\n" in stripped else ""
        stripped = stripped.rsplit("```", 1)[0]
    return stripped


def json_path(parts: Iterator[str | int] | Any) -> str:
    """``$.items[2].id`` for the path parts ``("items", 2, "id")``."""
    out = "$"
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENTIFIER.fullmatch(part):
            out += f".{part}"
        else:
            out += f"[{json.dumps(part)}]"
    return out


def _shorten(text: str) -> str:
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 1] + "…"


@dataclass(frozen=True, slots=True)
class CheckedAnswer:
    """The parsed answer (a pydantic instance for a model class) and every violation found."""

    parsed: Any
    violations: list[str]


class OutputSchema:
    """A response schema checked at configuration time and ready to validate answers."""

    __slots__ = ("_model", "_validator", "fingerprint")

    def __init__(
        self,
        *,
        fingerprint: str,
        validator: Draft202012Validator | None = None,
        model: type[pydantic.BaseModel] | None = None,
    ) -> None:
        self.fingerprint = fingerprint
        self._validator = validator
        self._model = model

    @property
    def model(self) -> type[pydantic.BaseModel] | None:
        """The pydantic model class the schema was made from (``None`` for a JSON schema)."""
        return self._model

    def errors(self, value: Any) -> list[str]:
        """Every way the parsed JSON ``value`` breaks the schema, as ``"<path>: <problem>"`` strings."""
        if self._model is not None:
            return self.check(json.dumps(value)).violations
        assert self._validator is not None
        try:
            found = sorted(self._validator.iter_errors(value), key=_error_order)
        except RecursionError:
            return ["$: nested too deeply to validate"]
        return [_describe(error) for error in found]

    def check(self, text: str) -> CheckedAnswer:
        """Parse ``text`` (a model's answer, perhaps fenced) and validate it.

        Unparseable text gives one ``invalid_json: ...`` violation; schema violations are
        ``schema: <path>: <problem>``.
        """
        if self._model is not None:
            try:
                return CheckedAnswer(self._model.model_validate_json(_unfenced(text)), [])
            except pydantic.ValidationError as error:
                return CheckedAnswer(None, _pydantic_violations(error))
        try:
            parsed = parse_json_output(text)
        except ValueError as error:
            return CheckedAnswer(None, [f"invalid_json: {error}"])
        return CheckedAnswer(parsed, [f"schema: {problem}" for problem in self.errors(parsed)])


ResponseSchema: TypeAlias = Mapping[str, Any] | type[pydantic.BaseModel] | OutputSchema
"""What a caller may give as a response schema: a JSON schema, a pydantic model class, or one
already checked by :func:`compile_schema`."""


def _error_order(error: JSONSchemaViolation) -> tuple[str, str]:
    return (json_path(error.absolute_path), str(error.validator))


def _describe(error: JSONSchemaViolation) -> str:
    from jsonschema.exceptions import best_match

    reason = error.message
    if error.validator == "not" and error.validator_value == {}:
        reason = f"{error.instance!r} is not allowed here"
    if error.context:
        closest = best_match(error.context)
        reason += f" (closest: {json_path(closest.absolute_path)}: {closest.message})"
    return f"{json_path(error.absolute_path)}: {_shorten(reason)}"


def _pydantic_violations(error: pydantic.ValidationError) -> list[str]:
    out: list[str] = []
    for item in error.errors(include_url=False):
        if item["type"] == "json_invalid":
            out.append(f"invalid_json: {item['msg']}")
            continue
        path = json_path(part for part in item["loc"] if isinstance(part, str | int))
        out.append(f"schema: {path}: {_shorten(item['msg'])}")
    return out


def compile_schema(schema: ResponseSchema) -> OutputSchema:
    """Check ``schema`` once and return it ready to use; raise :class:`InvalidResponseSchema`.

    A JSON schema must be Draft 2020-12 with only enforced or annotation keywords, ``format``
    values that have a checker and local ``$ref`` targets that exist. A pydantic model class is
    used as is. Results are cached by the schema's canonical JSON (or the class).
    """
    if isinstance(schema, OutputSchema):
        return schema
    if isinstance(schema, type) and issubclass(schema, pydantic.BaseModel):
        return _compile_model(schema)
    if not isinstance(schema, Mapping):
        raise InvalidResponseSchema(
            "a response schema must be a JSON schema (a mapping) or a pydantic model class, "
            f"not {type(schema).__name__}",
            field="response_schema",
            location="$",
            keyword=None,
        )
    try:
        return _compile_json(_canonical(schema))
    except RecursionError as error:
        raise InvalidResponseSchema(
            "the response schema is nested too deeply", field="response_schema", location="$", keyword=None
        ) from error


def schema_fingerprint(schema: ResponseSchema) -> str:
    """A stable text that changes whenever the schema does (part of cache keys)."""
    return compile_schema(schema).fingerprint


def validate(value: Any, schema: ResponseSchema) -> list[str]:
    """Every way ``value`` breaks ``schema``, as ``"<path>: <problem>"`` strings (empty: valid)."""
    return compile_schema(schema).errors(value)


def _canonical(schema: Mapping[str, Any]) -> str:
    try:
        return json.dumps(schema, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise InvalidResponseSchema(
            f"the response schema is not JSON: {error}", field="response_schema", location="$", keyword=None
        ) from error


@functools.lru_cache(maxsize=256)
def _compile_model(model: type[pydantic.BaseModel]) -> OutputSchema:
    try:
        described = json.dumps(model.model_json_schema(), sort_keys=True)
    except pydantic.PydanticUserError:
        described = ""  # a model without a JSON schema still validates; its name keys the cache
    return OutputSchema(fingerprint=f"{model.__module__}.{model.__qualname__}:{described}", model=model)


@functools.cache
def _format_checker() -> FormatChecker:
    """The Draft 2020-12 format checkers installed here (the jsonschema format extras we declare)."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator.FORMAT_CHECKER


@functools.lru_cache(maxsize=256)
def _compile_json(canonical: str) -> OutputSchema:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    schema = json.loads(canonical)
    declared = schema.get("$schema") if isinstance(schema, dict) else None
    if declared is not None and str(declared).rstrip("#") != _DRAFT_2020_12:
        raise InvalidResponseSchema(
            f"only JSON Schema Draft 2020-12 is supported ($schema {declared!r}); "
            f"use {_DRAFT_2020_12!r} or leave $schema out",
            field="response_schema",
            location="$.$schema",
            keyword="$schema",
        )
    try:
        Draft202012Validator.check_schema(schema, format_checker=_format_checker())
    except SchemaError as error:
        raise InvalidResponseSchema(
            f"the response schema is not valid Draft 2020-12 at {json_path(error.absolute_path)}: "
            f"{_shorten(error.message)}",
            field="response_schema",
            location=json_path(error.absolute_path),
            keyword=error.absolute_path[-1] if error.absolute_path else None,
        ) from error
    problem = keyword_problem(schema, schema, (), formats=_format_checker().checkers)
    if problem is not None:
        raise _refuse(*problem)
    validator = Draft202012Validator(false_as_never(schema), format_checker=_format_checker())
    return OutputSchema(fingerprint=canonical, validator=validator)


def _refuse(path: tuple[str | int, ...], keyword: str, why: str) -> InvalidResponseSchema:
    location = json_path((*path, keyword))
    return InvalidResponseSchema(
        f"response schema keyword {keyword!r} at {location} {why}",
        field="response_schema",
        location=location,
        keyword=keyword,
    )
