"""Public calls whose arguments are easy to swap take keywords only, and say so with an SDK error.

``memory.delete_user_data("bob", "acme")`` reads naturally in either order, so a call in the
wrong one would erase nothing and raise nothing. Methods decorated with :func:`keywords_only`
refuse positional arguments with :class:`KeywordArgumentsRequired` (a
:class:`~motadata_ai.domain.values.errors.ValidationError` and a ``TypeError``), naming the
keywords to use.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from motadata_ai.domain.values.errors import ValidationError

__all__ = ["KeywordArgumentsRequired", "keywords_only"]

P = ParamSpec("P")
R = TypeVar("R")


class KeywordArgumentsRequired(ValidationError, TypeError):
    """A call that takes keyword arguments only got positional ones (``call`` names it)."""

    call: str | None = None


def keywords_only(method: Callable[P, R]) -> Callable[P, R]:
    """Make every parameter of ``method`` but ``self`` keyword-only, refusing positional use with
    :class:`KeywordArgumentsRequired` before anything runs."""
    names = [p.name for p in inspect.signature(method).parameters.values() if p.name != "self"]
    example = ", ".join(f"{name}=..." for name in names)
    label = method.__qualname__

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if len(args) > 1:
            raise KeywordArgumentsRequired(
                f"{label}() takes keyword arguments only, so that they cannot be swapped: "
                f"call it as {method.__name__}({example})",
                field=names[0] if names else None,
                call=label,
            )
        return method(*args, **kwargs)

    return wrapper
