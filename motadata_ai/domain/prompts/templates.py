"""Named, versioned prompt templates: Jinja2 rendered in a sandbox.

Templates are Jinja2 (loops, conditions, filters: ``{% for p in passages %}{{ p.text }}{% endfor %}``)
compiled once per text and rendered in Jinja2's ``ImmutableSandboxedEnvironment`` (a
``SandboxedEnvironment`` that also refuses to mutate the values passed in) with
``StrictUndefined``: a variable the caller did not give is :class:`MissingTemplateVariable`,
never an empty string. A template may come from a database or a tenant, so it can never run
code or reach interpreter internals: dunder names and attributes (``{{ x.__class__ }}``) and
``include``/``import``/``extends`` are refused when the template is checked, and whatever the
sandbox refuses while rendering (``{{ x[key] }}`` with ``key="__class__"``, unsafe ``format``
strings) is :class:`UnsafeTemplate` too. Autoescaping is off (prompts are not HTML); values are
rendered with ``str``. ``{{{{`` and ``}}}}`` still write literal ``{{`` and ``}}`` as they did
before templates were Jinja2.

This is the only module of the SDK that imports ``jinja2``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from motadata_ai.domain.values.errors import NotFound, ValidationError

if TYPE_CHECKING:  # jinja2 is imported on first use: importing the agents package stays light
    import jinja2
    import jinja2.exceptions
    import jinja2.sandbox


class TemplateError(ValidationError):
    """A template is malformed or cannot be rendered (``template`` names it)."""


class UnsafeTemplate(TemplateError):
    """The template reaches for something the sandbox refuses; ``placeholder`` names it."""


class MissingTemplateVariable(TemplateError):
    """Rendering lacked variables; ``missing`` lists their names."""


class TemplateNotFound(NotFound):
    """No template with this name (and ``version``) is registered."""


# The earlier template language's escapes, translated where they are not inside a placeholder.
_LEGACY = re.compile(r"\{\{\{\{|\}\}\}\}|\{\{.*?\}\}", re.DOTALL)
_LEGACY_ESCAPES = {"{{{{": "{{ '{{' }}", "}}}}": "{{ '}}' }}"}


@dataclass(frozen=True, slots=True)
class _Compiled:
    template: jinja2.Template
    variables: tuple[str, ...]


class _Refused(Exception):
    def __init__(self, placeholder: str, why: str) -> None:
        super().__init__(why)
        self.placeholder = placeholder


def _translated(text: str) -> str:
    return _LEGACY.sub(lambda m: _LEGACY_ESCAPES.get(m.group(0), m.group(0)), text)


_MAX_PRODUCT = 100_000
"""The longest string or list ``*`` may build, and the largest ``**`` exponent, in a template."""


@functools.cache
def _environment() -> jinja2.sandbox.ImmutableSandboxedEnvironment:
    import jinja2.exceptions
    import jinja2.sandbox

    class PromptSandbox(jinja2.sandbox.ImmutableSandboxedEnvironment):
        """Jinja2's immutable sandbox that also refuses ``'x' * 10**9``-style memory bombs."""

        intercepted_binops = frozenset({"*", "**"})

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            sized = [side for side in (left, right) if isinstance(side, str | list | tuple)]
            counts = [side for side in (left, right) if isinstance(side, int)]
            if operator == "*" and sized and counts and len(sized[0]) * abs(counts[0]) > _MAX_PRODUCT:
                raise jinja2.exceptions.SecurityError(f"'*' would build more than {_MAX_PRODUCT} items")
            if operator == "**" and isinstance(right, int) and abs(right) > _MAX_PRODUCT:
                raise jinja2.exceptions.SecurityError(f"'**' exponents above {_MAX_PRODUCT} are refused")
            return super().call_binop(context, operator, left, right)

    return PromptSandbox(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True)


@functools.lru_cache(maxsize=1024)
def _compile(text: str) -> _Compiled:
    """Parse, check and compile ``text`` once (raises ``TemplateSyntaxError`` or ``_Refused``)."""
    from jinja2 import meta, nodes

    other_templates = (nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)
    tree = _environment().parse(_translated(text))
    for node in tree.find_all(other_templates):
        raise _Refused(type(node).__name__.lower(), "templates cannot include, import or extend others")
    for name in tree.find_all(nodes.Name):
        if name.name.startswith("__"):
            raise _Refused(name.name, f"the name {name.name!r} is reserved")
    for attribute in tree.find_all(nodes.Getattr):
        if attribute.attr.startswith("__"):
            raise _Refused(attribute.attr, f"attribute {attribute.attr!r} is not accessible")
    for item in tree.find_all(nodes.Getitem):
        key = item.arg
        if isinstance(key, nodes.Const) and isinstance(key.value, str) and key.value.startswith("__"):
            raise _Refused(key.value, f"item {key.value!r} is not accessible")
    undeclared = meta.find_undeclared_variables(tree)
    ordered = dict.fromkeys(n.name for n in tree.find_all(nodes.Name) if n.name in undeclared)
    return _Compiled(_environment().from_string(tree), tuple(ordered))


def _compiled(name: str, text: str) -> _Compiled:
    import jinja2

    try:
        return _compile(text)
    except _Refused as refused:
        raise UnsafeTemplate(
            f"template {name!r}: {refused} (the sandbox allows no interpreter internals)",
            template=name,
            placeholder=refused.placeholder,
        ) from None
    except jinja2.TemplateSyntaxError as error:
        raise TemplateError(
            f"template {name!r} is not valid Jinja2 (line {error.lineno}): {error.message}",
            template=name,
            line=error.lineno,
        ) from None


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
        """The variable names the template reads from the caller, in first-use order."""
        return _compiled(self.name, self.text).variables

    def render(self, variables: Mapping[str, Any] | None = None, /, **more: Any) -> str:
        """Render the template; a variable it needs and the caller lacks: :class:`MissingTemplateVariable`."""
        import jinja2

        values = {**(variables or {}), **more}
        compiled = _compiled(self.name, self.text)
        try:
            return compiled.template.render(values)
        except jinja2.exceptions.SecurityError as error:
            raise UnsafeTemplate(
                f"template {self.name!r} v{self.version}: the sandbox refused {error}",
                template=self.name,
                version=self.version,
                placeholder=None,
            ) from None
        except jinja2.UndefinedError as error:
            missing = sorted(v for v in compiled.variables if v not in values)
            raise MissingTemplateVariable(
                f"template {self.name!r} v{self.version} needs variables {', '.join(missing)}"
                if missing
                else f"template {self.name!r} v{self.version}: {error}",
                template=self.name,
                version=self.version,
                missing=missing,
            ) from None
        except Exception as error:  # a failing filter, a value whose str() raises, ...
            raise TemplateError(
                f"template {self.name!r} v{self.version} failed to render: {type(error).__name__}: {error}",
                template=self.name,
                version=self.version,
            ) from error


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
        _compiled(name, text)
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
