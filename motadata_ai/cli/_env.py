"""The ``MOTADATA_*`` variables the SDK reads, derived from :class:`~motadata_ai.settings.Settings`,
and a warning for the ones it does not (a typo such as ``MOTADATA_TOPK`` is otherwise silently
ignored)."""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel

PREFIX = "MOTADATA_"
NESTED_DELIMITER = "__"

OTHER_VARIABLES = (
    "MOTADATA_ALLOW_MODEL_REQUESTS",
    "MOTADATA_ITSM_CSV",
)
"""Read outside the settings model: the switch that keeps model calls on the machine
(``adapters/litellm``) and the incident log the ITSM model test and benchmark read."""

OTHER_PREFIXES = ("MOTADATA_TEST_", "MOTADATA_BENCH_")
"""Variables of the test fixtures and the benchmarks (servers to use instead of starting them)."""


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in getattr(annotation, "__args__", ()) or ():
        found = _model_of(argument)
        if found is not None:
            return found
    return None


def _names(model: type[BaseModel], prefix: str) -> Iterable[str]:
    for name, field in model.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, str) and not prefix.endswith(NESTED_DELIMITER):
            yield alias.upper()
            continue
        variable = f"{prefix}{name}".upper()
        yield variable
        nested = _model_of(field.annotation)
        if nested is not None:
            yield from _names(nested, variable + NESTED_DELIMITER)


def known_variables() -> frozenset[str]:
    """Every ``MOTADATA_*`` variable the settings model reads (nested ones as ``A__B``), the flat
    aliases and :data:`OTHER_VARIABLES`."""
    from motadata_ai.settings import FLAT_ALIASES, Settings, env_name

    read = {n for n in _names(Settings, PREFIX) if n.startswith(PREFIX)}
    for flat, (section, name) in FLAT_ALIASES.items():
        read.add(env_name(flat))
        section_model = _model_of(Settings.model_fields[section].annotation)
        target = _model_of(section_model.model_fields[name].annotation) if section_model else None
        if target is not None:  # a flat alias of a nested model: MOTADATA_PARSING__TIMEOUT_SECONDS
            read.update(_names(target, env_name(flat) + NESTED_DELIMITER))
    return frozenset(read) | frozenset(OTHER_VARIABLES)


def unknown_variables(
    environ: Mapping[str, str] | None = None, *, also_known: Iterable[str] = ()
) -> list[tuple[str, str | None]]:
    """The ``MOTADATA_*`` variables of ``environ`` that nothing reads, each with the closest known
    name (or ``None``)."""
    environ = os.environ if environ is None else environ
    known = known_variables() | frozenset(also_known)
    found = []
    for name in sorted(environ):
        upper = name.upper()
        if not upper.startswith(PREFIX) or upper in known or upper.startswith(OTHER_PREFIXES):
            continue
        closest = difflib.get_close_matches(upper, sorted(known), n=1, cutoff=0.75)
        found.append((name, closest[0] if closest else None))
    return found
