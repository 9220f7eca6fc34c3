"""ValueModel: the base of the SDK's public value types, so bad input raises the SDK's own errors.

Constructing a value type (``Document(...)``, ``Message(...)``, ``Model.model_validate(...)``)
with input its fields refuse raises :class:`~motadata_ai.domain.values.errors.ValidationError`
naming the field (a dotted path for nested input, ``"messages.0.content"``), never pydantic's
``ValidationError``; an SDK error raised inside a field validator (``InvalidTenant``) comes out as
itself. ``errors`` on the raised error lists every problem (location, message, type; never the
input value).

Text is refused, not repaired, when it holds a lone UTF-16 surrogate (``"\\ud800"``): such a
string has no UTF-8 form, so JSON, PostgreSQL and every provider would fail on it later, far from
the caller. Every string field of every value type (nested lists, tuples and dict keys and values
too) is checked.
"""

from __future__ import annotations

import re
from typing import Any, Self

import pydantic
from pydantic import BaseModel, ValidationInfo, field_validator

from motadata_ai.domain.values.errors import MotadataError, ValidationError

__all__ = [
    "ValueModel",
    "check_text",
    "has_lone_surrogate",
    "lone_surrogate_at",
    "translate_validation_error",
]

_SURROGATE = re.compile("[\ud800-\udfff]")


def lone_surrogate_at(value: object) -> str | None:
    """Where ``value`` (a string, or lists/tuples/dicts holding strings) holds a lone surrogate:
    ``""`` for the string itself, ``"2"`` or ``"key"`` (dotted when deeper) inside; ``None``: nowhere."""
    if isinstance(value, str):
        return "" if _SURROGATE.search(value) is not None else None
    if isinstance(value, tuple | list):
        if value and isinstance(value, tuple) and isinstance(value[0], int | float):
            return None  # a vector: numbers only
        for index, item in enumerate(value):
            if isinstance(item, str | tuple | list | dict) and (inner := lone_surrogate_at(item)) is not None:
                return ".".join(part for part in (str(index), inner) if part)
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            if lone_surrogate_at(key) is not None:
                return "(key)"
            if (inner := lone_surrogate_at(item)) is not None:
                return ".".join(part for part in (str(key), inner) if part)
    return None


def has_lone_surrogate(value: object) -> bool:
    """Whether ``value`` holds a lone surrogate anywhere (see :func:`lone_surrogate_at`)."""
    return lone_surrogate_at(value) is not None


def check_text(value: str, field: str) -> str:
    """``value`` when it is valid Unicode text, else :class:`ValidationError` naming ``field``."""
    if not isinstance(value, str):
        raise ValidationError(f"{field} must be a string, got {type(value).__name__}", field=field)
    if _SURROGATE.search(value) is not None:
        raise ValidationError(
            f"{field} holds a lone surrogate (not valid Unicode text): encode it properly", field=field
        )
    return value


def _location(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc)


def translate_validation_error(error: pydantic.ValidationError, value_type: str) -> MotadataError:
    """The SDK error for pydantic's ``error`` raised while building ``value_type``.

    A nested value type built from a dict raises its own (translated) error inside the outer
    one's validation; its problems are taken over with the outer location in front.
    """
    details: list[dict[str, str]] = []
    for problem in error.errors(include_url=False):
        loc = _location(tuple(problem["loc"]))
        raised = (problem.get("ctx") or {}).get("error")
        nested = raised.fields.get("errors") if isinstance(raised, ValidationError) else None
        if isinstance(nested, list) and "value_type" in raised.fields:  # type: ignore[union-attr]
            for inner in nested:
                inner_loc = ".".join(part for part in (loc, inner["loc"]) if part)
                details.append({**inner, "loc": inner_loc})
        elif isinstance(raised, MotadataError):
            return raised  # an SDK error of a field validator (InvalidTenant) comes out as itself
        else:
            details.append({"loc": loc, "msg": problem["msg"], "type": problem["type"]})
    summary = "; ".join(f"{d['loc'] or '(value)'}: {d['msg']}" for d in details[:5])
    more = f" (and {len(details) - 5} more)" if len(details) > 5 else ""
    return ValidationError(
        f"invalid {value_type}: {summary}{more}",
        field=details[0]["loc"] if details else None,
        errors=details,
        value_type=value_type,
    )


class ValueModel(BaseModel):
    """Base of the SDK's value types: refuses bad input with the SDK's :class:`ValidationError`."""

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except pydantic.ValidationError as error:
            raise translate_validation_error(error, type(self).__name__) from error

    @classmethod
    def model_validate(cls, *args: Any, **kwargs: Any) -> Self:
        """Validate ``obj`` into this type (the SDK's :class:`ValidationError` when it does not fit)."""
        try:
            return super().model_validate(*args, **kwargs)
        except pydantic.ValidationError as error:
            raise translate_validation_error(error, cls.__name__) from error

    @classmethod
    def model_validate_json(cls, *args: Any, **kwargs: Any) -> Self:
        """Validate JSON into this type (the SDK's :class:`ValidationError` when it does not fit)."""
        try:
            return super().model_validate_json(*args, **kwargs)
        except pydantic.ValidationError as error:
            raise translate_validation_error(error, cls.__name__) from error

    @field_validator("*", mode="after")
    @classmethod
    def _refuse_lone_surrogates(cls, value: Any, info: ValidationInfo) -> Any:
        where = lone_surrogate_at(value)
        if where is not None:
            message = "holds a lone surrogate (not valid Unicode text)"
            # relative to the field: translate_validation_error puts the field's location in front
            raise ValidationError(
                message,
                errors=[{"loc": where, "msg": message, "type": "lone_surrogate"}],
                value_type=cls.__name__,
            )
        return value
