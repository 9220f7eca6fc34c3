"""Checks of a public call's arguments by kind, each a :class:`ValidationError` on the argument.

A call whose argument is of the wrong kind must fail with the SDK's error naming it, not with the
``TypeError`` or ``AttributeError`` of whatever line first used it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from motadata_ai.domain.values.errors import ValidationError

__all__ = [
    "check_callable",
    "check_collection",
    "check_mapping",
    "check_number",
    "check_positive_int",
    "check_string",
]


def _refuse(name: str, kind: str, value: object) -> ValidationError:
    return ValidationError(f"{name} must be {kind}, got {type(value).__name__}", field=name)


def check_positive_int(name: str, value: object) -> int:
    """``value``, a positive integer (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(f"{name} must be a positive integer, got {value!r:.40}", field=name)
    return value


def check_number(name: str, value: object, *, low: float = -math.inf, high: float = math.inf) -> float:
    """``value``, a real number (not a bool) within ``low..high`` (a NaN never is)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ValidationError(f"{name} must be a number within {low}..{high}, got {value!r:.40}", field=name)
    return float(value)


def check_string(name: str, value: object) -> str:
    """``value``, a string."""
    if not isinstance(value, str):
        raise _refuse(name, "a string", value)
    return value


def check_mapping(name: str, value: object, *, optional: bool = True) -> Mapping[str, Any] | None:
    """``value``, a mapping (or ``None`` when ``optional``)."""
    if value is None and optional:
        return None
    if not isinstance(value, Mapping):
        raise _refuse(name, "a mapping", value)
    return value


def check_callable(name: str, value: object) -> None:
    """``value`` is ``None`` or callable."""
    if value is not None and not callable(value):
        raise _refuse(name, "callable", value)


def check_collection(name: str, value: object) -> list[Any]:
    """``value`` as a list: any iterable but a string, bytes or a mapping."""
    if isinstance(value, str | bytes | bytearray | Mapping) or not isinstance(value, Iterable):
        raise _refuse(name, "a list", value)
    return list(value)
