"""Named, versioned prompt templates rendered in a sandbox.

The template language is deliberately tiny: ``{{ name }}`` substitutes a variable, ``{{{{`` and
``}}}}`` write literal braces. There are no expressions, attribute or item access, filters or
calls, so a template (which may come from a database or a tenant) can never run code or reach
into the objects passed as variables. Values are rendered with ``str``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from motadata_ai.domain.values.errors import NotFound, ValidationError


class TemplateError(ValidationError):
    """A template is malformed or cannot be rendered (``template`` names it)."""


class UnsafeTemplate(TemplateError):
    """A placeholder holds something other than a plain variable name (``placeholder``)."""


class MissingTemplateVariable(TemplateError):
    """Rendering lacked variables; ``missing`` lists their names."""


class TemplateNotFound(NotFound):
    """No template with this name (and ``version``) is registered."""


_PLACEHOLDER = re.compile(r"\{\{\{\{|\}\}\}\}|\{\{(.*?)\}\}", re.DOTALL)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _parse(name: str, text: str) -> list[str | tuple[str]]:
    """Split ``text`` into literal strings and ``(variable,)`` placeholders."""
    parts: list[str | tuple[str]] = []
    position = 0
    for match in _PLACEHOLDER.finditer(text):
        parts.append(text[position : match.start()])
        token = match.group(0)
        if token == "{{{{":
            parts.append("{{")
        elif token == "}}}}":
            parts.append("}}")
        else:
            variable = (match.group(1) or "").strip()
            if not _NAME.match(variable):
                raise UnsafeTemplate(
                    f"template {name!r}: placeholder {{{{ {variable} }}}} is not a plain variable name "
                    "(no attribute access, indexing, expressions or calls are allowed)",
                    template=name,
                    placeholder=variable,
                )
            parts.append((variable,))
        position = match.end()
    parts.append(text[position:])
    return parts


class PromptTemplate(BaseModel):
    """One version of a named template."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=1)
    version: int = Field(1, ge=1)
    text: str
    description: str = ""
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    @property
    def variables(self) -> tuple[str, ...]:
        """The variable names the template uses, in first-use order."""
        seen: dict[str, None] = {}
        for part in _parse(self.name, self.text):
            if isinstance(part, tuple):
                seen.setdefault(part[0], None)
        return tuple(seen)

    def render(self, variables: Mapping[str, Any] | None = None, /, **more: Any) -> str:
        """Substitute every placeholder; raise :class:`MissingTemplateVariable` if any is absent."""
        values = {**(variables or {}), **more}
        parts = _parse(self.name, self.text)
        missing = sorted({p[0] for p in parts if isinstance(p, tuple) and p[0] not in values})
        if missing:
            raise MissingTemplateVariable(
                f"template {self.name!r} v{self.version} needs variables {', '.join(missing)}",
                template=self.name,
                version=self.version,
                missing=missing,
            )
        return "".join(part if isinstance(part, str) else str(values[part[0]]) for part in parts)


class PromptRegistry:
    """Keeps every version of every template; ``get`` returns the latest unless asked otherwise."""

    def __init__(self) -> None:
        self._templates: dict[str, dict[int, PromptTemplate]] = {}

    def register(
        self, name: str, text: str, *, version: int | None = None, description: str = ""
    ) -> PromptTemplate:
        """Add a version of ``name`` (next number when ``version`` is None); the text is checked now."""
        versions = self._templates.setdefault(name, {})
        number = version if version is not None else max(versions, default=0) + 1
        if number in versions and versions[number].text != text:
            raise TemplateError(
                f"template {name!r} v{number} already exists with other text; register a new version",
                template=name,
                version=number,
            )
        template = PromptTemplate(name=name, version=number, text=text, description=description)
        _parse(name, text)
        versions[number] = template
        return template

    def get(self, name: str, version: int | None = None) -> PromptTemplate:
        """The template (latest version unless ``version`` is given)."""
        versions = self._templates.get(name)
        if not versions:
            raise TemplateNotFound(f"no prompt template named {name!r}", template=name, version=version)
        number = version if version is not None else max(versions)
        if number not in versions:
            raise TemplateNotFound(
                f"template {name!r} has no version {number} (versions: {sorted(versions)})",
                template=name,
                version=version,
            )
        return versions[number]

    def versions(self, name: str) -> list[int]:
        """The registered version numbers of ``name``."""
        return sorted(self._templates.get(name, {}))

    def names(self) -> list[str]:
        """The registered template names."""
        return sorted(self._templates)

    def render(
        self, name: str, variables: Mapping[str, Any] | None = None, *, version: int | None = None
    ) -> str:
        """Render a registered template."""
        return self.get(name, version).render(variables or {})
