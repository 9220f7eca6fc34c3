"""Exit codes of the command line, and each failure reported in one line on standard error.

=====  ==========================================================================================
code   meaning
=====  ==========================================================================================
0      success
1      runtime failure: a provider, store or bus failed (``ServiceError``), or some files of an
       ingest failed (the others are ingested)
2      usage: a bad command line, or an input the SDK refuses (``ValidationError``, ``NotFound``)
3      configuration: a bad ``MOTADATA_*`` setting or ``ConfigurationError``
4      ``ask`` found no answer in the knowledge base (``"answered": false`` with ``--json``)
130    interrupted (Ctrl-C)
=====  ==========================================================================================
"""

from __future__ import annotations

from typing import Any

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_CONFIGURATION = 3
EXIT_NOT_ANSWERED = 4
EXIT_INTERRUPTED = 130


def _variable(location: tuple[Any, ...]) -> str:
    """``("parsing", "timeout_seconds")`` -> ``MOTADATA_PARSING__TIMEOUT_SECONDS``."""
    parts = [str(part) for part in location if not isinstance(part, int)]
    if parts and parts[0].isupper():  # a field read under its own name (OTEL_EXPORTER_OTLP_ENDPOINT)
        return "__".join(parts)
    return "MOTADATA_" + "__".join(parts).upper()


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _flattened(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Errors of a nested settings model that refused its value with the SDK's ValidationError
    (``parsing`` -> ``parsing.timeout_seconds``) as errors of the nested fields."""
    flat = []
    for item in items:
        inner = (item.get("ctx") or {}).get("error")
        nested = getattr(inner, "fields", {}).get("errors") if inner is not None else None
        given = item.get("input")
        if nested and isinstance(given, dict):
            for sub in nested:
                loc = (*item.get("loc", ()), *str(sub.get("loc", "")).split("."))
                value = given.get(loc[-1]) if len(loc) == len(item.get("loc", ())) + 1 else None
                flat.append({"loc": loc, "msg": sub.get("msg", ""), "input": value, "type": sub.get("type")})
        else:
            flat.append(item)
    return flat


def settings_error_line(error: Any) -> str:
    """One line for a pydantic ``ValidationError`` of the settings: each bad variable, its value
    and what it must be (``MOTADATA_PROFILE='servics': Input should be 'local', ...``)."""
    problems = []
    for item in _flattened(error.errors(include_url=False)):
        variable = _variable(tuple(item.get("loc", ())))
        message = str(item.get("msg", "invalid")).replace("\n", " ")
        if "input" in item and item.get("type") != "missing":
            problems.append(f"{variable}={_shown(item['input'])}: {message}")
        else:
            problems.append(f"{variable}: {message}")
    return "bad setting " + "; ".join(problems)


def is_settings_error(error: BaseException) -> bool:
    """Whether ``error`` is pydantic's (or pydantic-settings') refusal of the settings model."""
    import pydantic

    if isinstance(error, pydantic.ValidationError):
        return str(getattr(error, "title", "")).endswith("Settings")
    return type(error).__name__ == "SettingsError" and type(error).__module__.startswith("pydantic_settings")


def _unparsed_setting_line(error: BaseException) -> str:
    """pydantic-settings' refusal of a value it could not decode (a list or mapping setting is
    JSON): the variable, its value and what it must be."""
    import os
    import re

    found = re.search(r'field "([A-Za-z0-9_]+)"', str(error))
    if found is None:
        return "bad setting: " + one_line(str(error))
    variable = _variable((found.group(1),))
    value = next((v for k, v in os.environ.items() if k.upper() == variable), None)
    shown = f"={_shown(value)}" if value is not None else ""
    return f"bad setting {variable}{shown}: not valid JSON (lists and mappings are given as JSON)"


def one_line(text: str) -> str:
    """``text`` on one line (newlines folded)."""
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


def exit_code_of(error: BaseException) -> int:
    """The exit code for an SDK error or a settings error."""
    from motadata_ai.domain.values.errors import ConfigurationError, UsageError

    if is_settings_error(error) or isinstance(error, ConfigurationError):
        return EXIT_CONFIGURATION
    if isinstance(error, UsageError):
        return EXIT_USAGE
    return EXIT_FAILURE


def describe(error: BaseException) -> str:
    """The one line printed for ``error`` (after ``error: ``)."""
    if is_settings_error(error):
        if hasattr(error, "errors"):
            return settings_error_line(error)
        return _unparsed_setting_line(error)
    return one_line(str(error)) or type(error).__name__
