"""Build a value from fields that are already valid, without validation and faster than pydantic's
``model_construct``.

The gateway's hot paths (a cache hit's response, the usage record of every call) build values
whose every field the SDK itself produced or already checked. ``model_construct`` spends about
three times as long as the object needs, walking every field for defaults and aliases; here the
defaults of each model are worked out once, and an instance is the given fields plus the missing
defaults. The result is the same as ``model_construct``'s (``model_fields_set`` is the given
names). Only for fields known to be valid: nothing is checked.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

__all__ = ["trusted"]

M = TypeVar("M", bound=BaseModel)

_Defaults = tuple[int, dict[str, Any], dict[str, Any]]
_DEFAULTS: dict[type[BaseModel], _Defaults | None] = {}


def _defaults(cls: type[BaseModel]) -> _Defaults | None:
    """The number of fields, and the plain defaults and default factories of ``cls``'s optional
    fields; ``None`` for a model this shortcut does not cover (private attributes, extra fields,
    a post-init hook, a factory that reads other fields): :func:`trusted` builds it with
    ``model_construct``."""
    if cls in _DEFAULTS:
        return _DEFAULTS[cls]
    plain: dict[str, Any] = {}
    factories: dict[str, Any] = {}
    fields = cls.model_fields
    known: _Defaults | None = (len(fields), plain, factories)
    for name, info in fields.items():
        if info.default_factory is not None:
            factories[name] = info.default_factory
            if info.default_factory_takes_validated_data:
                known = None
        elif not info.is_required():
            plain[name] = info.default
    if (
        cls.__private_attributes__
        or cls.model_config.get("extra") == "allow"
        or cls.model_post_init is not BaseModel.model_post_init
    ):
        known = None
    _DEFAULTS[cls] = known
    return known


def trusted(cls: type[M], **fields: Any) -> M:
    """An instance of ``cls`` holding ``fields`` (each already valid) and the defaults of the
    fields not given; a required field left out is missing, as with ``model_construct``."""
    defaults = _defaults(cls)
    if defaults is None:
        return cls.model_construct(**fields)
    count, plain, factories = defaults
    given = set(fields)
    if len(given) < count:
        for name, value in plain.items():
            fields.setdefault(name, value)
        for name, factory in factories.items():
            if name not in fields:
                fields[name] = factory()
    instance = cls.__new__(cls)
    setter = object.__setattr__
    setter(instance, "__dict__", fields)
    setter(instance, "__pydantic_fields_set__", given)
    setter(instance, "__pydantic_extra__", None)
    setter(instance, "__pydantic_private__", None)
    return instance
